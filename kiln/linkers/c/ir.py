"""The kernel IR: what the C (and later CUDA) renderers draw from, independent of graph ops.

A `Segment` is one compiled module: a list of buffers (every array the module touches,
identified by position in the descriptor array passed to the entry point) and a list
of kernels run in order.  Views (DimShuffle) are not kernels: the runtime builds their
descriptors from the viewed buffer (shape/stride metadata only), so a kernel reading a
transposed or broadcast input just sees other strides.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Operand", "LoopKernel", "ReduceKernel", "MatMulKernel", "MatVecPairKernel", "SliceKernel", "JoinKernel",
           "Segment"]


@dataclass(frozen=True)
class Operand:
    """One buffer as seen by a kernel: its index in the descriptor array and its dtype."""

    buf: int
    dtype: str


@dataclass(frozen=True)
class LoopKernel:
    """An elementwise loop nest over `ndim` axes: outputs y0.. computed from inputs x0..
    by `body` (C statements declaring `y<k>`); inputs broadcast along length-1 axes."""

    label: str
    outputs: tuple[Operand, ...]
    inputs: tuple[Operand, ...]
    ndim: int
    body: tuple[str, ...]
    #: per input, whether its last axis has static length 1 (broadcast along the inner loop:
    #: the value is loaded once per row)
    inner_bcast: tuple[bool, ...] = ()


@dataclass(frozen=True)
class ReduceKernel:
    """Reduce an `ndim`-d input over `axes` with `kind` (sum, prod, max, min, any, all)."""

    label: str
    input: Operand
    output: Operand
    ndim: int
    axes: tuple[int, ...]
    kind: str


@dataclass(frozen=True)
class Segment:
    """One module: buffer (ndim, dtype) list and kernels in execution order."""

    label: str
    buffers: tuple[tuple[int, str], ...]
    kernels: tuple["LoopKernel | ReduceKernel | MatMulKernel | SliceKernel | JoinKernel", ...]


@dataclass(frozen=True)
class MatMulKernel:
    """out = x @ y with NumPy's matmul semantics over float32/float64 (1-d operands get a
    unit axis, leading axes broadcast), through BLAS; with `c`, `alpha`, `beta` (Gemm/Gemv)
    out = beta * c + alpha * (x @ y), c broadcasting to the product's shape."""

    label: str
    output: Operand
    x: Operand
    y: Operand
    x_ndim: int
    y_ndim: int
    out_ndim: int
    c: Operand | None = None
    alpha: Operand | None = None
    beta: Operand | None = None


@dataclass(frozen=True)
class MatVecPairKernel:
    """out1 = a @ x1 and out2 = a @ x2 (MatVecPair): a matrix and two vectors of one float
    dtype, in one pass over the matrix."""

    label: str
    out1: Operand
    out2: Operand
    a: Operand
    x1: Operand
    x2: Operand


@dataclass(frozen=True)
class SliceKernel:
    """A per-slice computation over the `axes` of an `ndim`-d input, for every position of
    the other axes: `kind` is softmax / log_softmax / cumsum / cumprod (output: the input's
    shape) or argmax / argmin (output: the other axes, int64; all axes = the flattened
    input, C order)."""

    label: str
    kind: str
    input: Operand
    output: Operand
    ndim: int
    axes: tuple[int, ...]


@dataclass(frozen=True)
class JoinKernel:
    """Concatenate same-dtype `ndim`-d inputs along `axis` into `output` (any input strides)."""

    label: str
    output: Operand
    inputs: tuple[Operand, ...]
    ndim: int
    axis: int
