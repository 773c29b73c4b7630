"""Kernel IR of a fused reduction (a FusedReduce node): a tree of loop levels.

A *level* is a point in the loop nest where some loop axes are bound; it holds the values
computed there (`FValue`, `FReduce`) and optionally the next loop of its chain (`FLoop`).
The root chain loops over the output's axes; each reduction opens its own chain over the
axes it reduces, nested at the level where its result is needed.  A value is placed at the
outermost level where all the axes it varies along are bound (loop-invariant hoisting).

One loop axis, `vec_axis`, is *blocked*: it advances KILN_LANES elements at a time and the
values varying along it are lane arrays (`lane=True`) computed in fixed-length inner loops
the compiler vectorizes without reassociation flags.  A reduction over the blocked axis
keeps KILN_LANES partial results (`partial=True`) merged in lane order after its loops.

Expressions (`FValue.expr`) are C text over other values' names: a lane value `t3` is
referenced as `t3[u]`, a scalar one as `t3` (the same convention as LoopKernel's body).
"""
from __future__ import annotations

from dataclasses import dataclass

from kiln.linkers.c.ir import Operand

__all__ = ["FValue", "FReduce", "FLoop", "FLevel", "FusedReduceKernel"]


@dataclass(frozen=True)
class FValue:
    """`name` = input `input`'s element at this point (kind "load"), or `expr` after `stmts`."""

    name: str
    dtype: str
    lane: bool
    kind: str                      # "load" | "expr"
    input: int = -1
    stmts: tuple[str, ...] = ()
    expr: str = ""


@dataclass(frozen=True)
class FLoop:
    """A loop over loop axis `axis` (blocked by KILN_LANES when `blocked`) around `level`."""

    axis: int
    blocked: bool
    level: "FLevel"


@dataclass(frozen=True)
class FLevel:
    """Values computed at this point of the nest, then the chain's next loop (if any)."""

    items: tuple["FValue | FReduce", ...]
    loop: FLoop | None


@dataclass(frozen=True)
class FReduce:
    """`name` = reduction `kind` of value `arg` over the loops of `chain`.

    lane: one accumulator per lane (the blocked axis is bound outside this reduction);
    partial: the reduction's own chain holds the blocked loop: KILN_LANES partial results,
    merged in lane order into a scalar after the loops."""

    name: str
    dtype: str
    kind: str
    lane: bool
    partial: bool
    chain: FLevel
    arg: str
    arg_dtype: str
    arg_lane: bool


@dataclass(frozen=True)
class FusedReduceKernel:
    """A FusedReduce node: inputs' dims as loop axes (-1: broadcast), the output's, the root level."""

    label: str
    output: Operand
    inputs: tuple[Operand, ...]
    n_axes: int
    input_axes: tuple[tuple[int, ...], ...]
    output_axes: tuple[int, ...]
    vec_axis: int
    root: FLevel
    result: str
    result_lane: bool
