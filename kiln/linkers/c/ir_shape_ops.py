"""Kernel IR of the shape-valued ops (SumToShape, Alloc, Eye, LinearRecurrence, Diagonal,
DiagonalEmbed): kernels whose
work (which axes are summed, which are stretched) is decided from descriptor shapes at
run time, so one module serves every run-time shape of the node."""
from __future__ import annotations

from dataclasses import dataclass

from kiln.linkers.c.ir import Operand

__all__ = ["SumToShapeKernel", "FillKernel", "RecurrenceKernel", "DiagonalKernel", "EyeKernel"]


@dataclass(frozen=True)
class SumToShapeKernel:
    """Sum an `in_ndim`-d input to the `out_ndim`-d output's (run-time) shape: the leading
    `in_ndim - out_ndim` axes are summed away; an axis in `axes` whose output length is 1
    while the input's is not is summed (kept); with `broadcast`, an input axis of length 1
    is stretched to the output's length. Any other mismatch is KILN_ESHAPE. When the output
    is the input itself (the linker aliases them when the shapes are equal) nothing runs."""

    label: str
    output: Operand
    input: Operand
    in_ndim: int
    out_ndim: int
    axes: tuple[int, ...]
    broadcast: bool


@dataclass(frozen=True)
class FillKernel:
    """Copy an `in_ndim`-d input into the `out_ndim`-d output, broadcasting it (NumPy's
    rules: new axes on the left, length-1 axes stretched): Alloc."""

    label: str
    output: Operand
    input: Operand
    out_ndim: int
    in_ndim: int


@dataclass(frozen=True)
class RecurrenceKernel:
    """e_i = x_i * e_(i-1) + b_i along `axis` of `ndim`-d operands (e_(-1) = 0), computed
    in the output dtype: LinearRecurrence."""

    label: str
    output: Operand
    x: Operand
    b: Operand
    ndim: int
    axis: int


@dataclass(frozen=True)
class DiagonalKernel:
    """The `offset` diagonal of axes (`axis1`, `axis2`) of an `ndim`-d array, as a strided
    view computed in C: `embed` False copies it out of `big` into `small` (Diagonal: the
    other axes in order, then the diagonal); `embed` True zeroes `big` and writes `small`
    onto it (DiagonalEmbed)."""

    label: str
    big: Operand
    small: Operand
    ndim: int
    offset: int
    axis1: int
    axis2: int
    embed: bool


@dataclass(frozen=True)
class EyeKernel:
    """Zeros with ones on the diagonal `k` (a 0-d integer operand) of the 2-d output: Eye."""

    label: str
    output: Operand
    k: Operand
