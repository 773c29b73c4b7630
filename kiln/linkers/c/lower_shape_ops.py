"""C lowerings, run-time shape rules and segment views of the shape-valued ops.

These ops take their output shape from an input's *value* (a shape vector: `Alloc`,
`BroadcastTo`, `SumToShape`) or from another array's shape (`SumToShape(by_ref=True)`,
`BroadcastLike`, `Diagonal`), from scalar values (`Eye`), or are scans (`LinearRecurrence`);
`DiagonalEmbed` takes both a shape vector and data.  Registered into the shared tables:
`LOWERINGS` (kernel IR); their `SHAPE_RULES` (the output shape before the native call, raising
the same errors as `perform`) and `VALUE_INPUTS` (inputs whose values a shape rule reads, so
the linker computes them before the segment starts) are in kiln.linkers.c.shapes_ops, which a
warm start imports without this module and the kernel IR.  Shape-vector operands never reach the
kernels: the kernels read the output descriptor's shape.

`BroadcastTo`/`BroadcastLike` are NumPy views (read-only, stride 0) and `Shape`/`Shape_i`
read only metadata: they are views inside segments (`segment_view`), built before the
native call like a DimShuffle.
"""
from __future__ import annotations

from typing import Callable

from kiln.graph.basic import Apply, Variable
from kiln.linkers.c.ir import Operand
from kiln.linkers.c.ir_shape_ops import DiagonalKernel, EyeKernel, FillKernel, RecurrenceKernel, SumToShapeKernel
from kiln.linkers.c.lower import LOWERINGS, _tensor_ok
import kiln.linkers.c.shapes_ops  # noqa: F401  (these ops' SHAPE_RULES and VALUE_INPUTS)
from kiln.tensor.creation import Alloc, Eye
from kiln.tensor.diag_ops import Diagonal, DiagonalEmbed
from kiln.tensor.extra_ops import LinearRecurrence
from kiln.tensor.shape import BroadcastTo, Shape, Shape_i
from kiln.tensor.unbroadcast import BroadcastLike, SumToShape

__all__ = ["segment_view"]

Buf = Callable[[Variable], int]


# -- SumToShape ---------------------------------------------------------------------------
def _lower_sum_to_shape(node: Apply, buf: Buf) -> SumToShapeKernel | None:
    """The summed array only; the target (a shape vector or a reference array) is read from
    the output descriptor's shape."""
    x, out = node.inputs[0], node.outputs[0]
    if not (_tensor_ok(x) and _tensor_ok(out)) or x.type.dtype != out.type.dtype:
        return None
    dt = out.type.dtype
    return SumToShapeKernel(str(node.op), Operand(buf(out), dt), Operand(buf(x), dt), x.type.ndim,
                            out.type.ndim, tuple(node.op.axes), bool(node.op.broadcast))


# -- Alloc --------------------------------------------------------------------------------
def _lower_alloc(node: Apply, buf: Buf) -> FillKernel | None:
    v, out = node.inputs[0], node.outputs[0]
    if not (_tensor_ok(v) and _tensor_ok(out)) or v.type.dtype != out.type.dtype:
        return None
    dt = out.type.dtype
    return FillKernel(str(node.op), Operand(buf(out), dt), Operand(buf(v), dt), out.type.ndim, v.type.ndim)


# -- LinearRecurrence ---------------------------------------------------------------------
def _lower_recurrence(node: Apply, buf: Buf) -> RecurrenceKernel | None:
    (x, b), out = node.inputs, node.outputs[0]
    if not all(_tensor_ok(v) for v in (x, b, out)):
        return None
    return RecurrenceKernel(str(node.op), Operand(buf(out), out.type.dtype), Operand(buf(x), x.type.dtype),
                            Operand(buf(b), b.type.dtype), out.type.ndim, node.op.axis)


# -- Diagonal, DiagonalEmbed, Eye ----------------------------------------------------------
def _lower_diagonal(node: Apply, buf: Buf) -> DiagonalKernel | None:
    x, out = node.inputs[0], node.outputs[0]
    if not (_tensor_ok(x) and _tensor_ok(out)) or x.type.dtype != out.type.dtype:
        return None
    op, dt = node.op, out.type.dtype
    return DiagonalKernel(str(op), Operand(buf(x), dt), Operand(buf(out), dt), x.type.ndim, op.offset,
                          op.axis1, op.axis2, False)


def _lower_diagonal_embed(node: Apply, buf: Buf) -> DiagonalKernel | None:
    d, out = node.inputs[0], node.outputs[0]
    if not (_tensor_ok(d) and _tensor_ok(out)) or d.type.dtype != out.type.dtype:
        return None
    op, dt = node.op, out.type.dtype
    return DiagonalKernel(str(op), Operand(buf(out), dt), Operand(buf(d), dt), out.type.ndim, op.offset,
                          op.axis1, op.axis2, True)


def _lower_eye(node: Apply, buf: Buf) -> EyeKernel | None:
    k, out = node.inputs[2], node.outputs[0]
    if not (_tensor_ok(k) and _tensor_ok(out)) or k.type.dtype == "uint64":
        return None   # (a uint64 offset does not fit the kernel's int64)
    return EyeKernel(str(node.op), Operand(buf(out), out.type.dtype), Operand(buf(k), k.type.dtype))


# -- views inside segments ----------------------------------------------------------------
def segment_view(node: Apply, pending) -> bool:
    """Whether `node` is a view the C linker builds inside a segment before the native call
    (its `perform` only makes a NumPy view): BroadcastTo when its shape vector is known before
    the segment (not computed in it), BroadcastLike always (it reads only the reference's
    shape, which a pending buffer already has), and Shape/Shape_i (a new int64 array of the
    input's shape, also known before the call): so `x.shape[0]` in a gradient does not split
    the segment it sits in."""
    if isinstance(node.op, BroadcastTo):
        return node.inputs[1] not in pending
    return isinstance(node.op, (BroadcastLike, Shape, Shape_i))


LOWERINGS.update({SumToShape: _lower_sum_to_shape, Alloc: _lower_alloc, LinearRecurrence: _lower_recurrence,
                  Diagonal: _lower_diagonal, DiagonalEmbed: _lower_diagonal_embed, Eye: _lower_eye})
