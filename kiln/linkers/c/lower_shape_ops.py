"""C lowerings, run-time shape rules and segment views of the shape-valued ops.

These ops take their output shape from an input's *value* (a shape vector: `Alloc`,
`BroadcastTo`, `SumToShape`) or from another array's shape (`SumToShape(by_ref=True)`,
`BroadcastLike`, `Diagonal`), from scalar values (`Eye`), or are scans (`LinearRecurrence`);
`DiagonalEmbed` takes both a shape vector and data.  Registered into the shared tables:
`LOWERINGS` (kernel IR), `SHAPE_RULES` (the output shape before the native call, raising the
same errors as `perform`) and `VALUE_INPUTS` (inputs whose values a shape rule reads, so the
linker computes them before the segment starts).  Shape-vector operands never reach the
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
from kiln.linkers.c.shapes import SHAPE_RULES, VALUE_INPUTS
from kiln.tensor.creation import Alloc, Eye
from kiln.tensor.diag_ops import Diagonal, DiagonalEmbed, _diag_len
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


def _shapes_sum_to_shape(node: Apply, shapes: list[tuple], args: list) -> tuple:
    """The target shape; the same check and ValueError as SumToShape.perform."""
    op, xs = node.op, tuple(shapes[0])
    shp = tuple(shapes[1]) if op.by_ref else tuple(int(s) for s in args[1])
    lead = len(xs) - len(shp)
    ok = lead >= 0 and not (lead and op.broadcast) and all(
        s == t or (t == 1 and d in op.axes) or (op.broadcast and s == 1 and t >= 0)
        for d, (s, t) in enumerate(zip(xs[lead:], shp)))
    if not ok:
        raise ValueError(f"{op}: cannot sum an array of shape {xs} to shape {shp}")
    return shp


# -- Alloc --------------------------------------------------------------------------------
def _lower_alloc(node: Apply, buf: Buf) -> FillKernel | None:
    v, out = node.inputs[0], node.outputs[0]
    if not (_tensor_ok(v) and _tensor_ok(out)) or v.type.dtype != out.type.dtype:
        return None
    dt = out.type.dtype
    return FillKernel(str(node.op), Operand(buf(out), dt), Operand(buf(v), dt), out.type.ndim, v.type.ndim)


def _shapes_alloc(node: Apply, shapes: list[tuple], args: list) -> tuple:
    """The shape vector's value; Alloc.perform's errors (negative lengths, a value that does
    not broadcast: NumPy's message)."""
    shp = tuple(int(s) for s in args[1])
    if any(s < 0 for s in shp):
        raise ValueError(f"alloc: negative dimensions are not allowed: {shp}")
    vs = tuple(shapes[0])
    lead = len(shp) - len(vs)
    if lead < 0 or any(a not in (1, b) for a, b in zip(vs, shp[lead:])):
        raise ValueError(f"could not broadcast input array from shape {vs} into shape {shp}")
    return shp


# -- LinearRecurrence ---------------------------------------------------------------------
def _lower_recurrence(node: Apply, buf: Buf) -> RecurrenceKernel | None:
    (x, b), out = node.inputs, node.outputs[0]
    if not all(_tensor_ok(v) for v in (x, b, out)):
        return None
    return RecurrenceKernel(str(node.op), Operand(buf(out), out.type.dtype), Operand(buf(x), x.type.dtype),
                            Operand(buf(b), b.type.dtype), out.type.ndim, node.op.axis)


def _shapes_recurrence(node: Apply, shapes: list[tuple], args: list) -> tuple:
    xs, bs = (tuple(s) for s in shapes)
    if xs != bs:
        raise ValueError(f"{node.op}: x of shape {xs} and b of shape {bs} differ")
    return bs


# -- Diagonal, DiagonalEmbed, Eye ----------------------------------------------------------
def _lower_diagonal(node: Apply, buf: Buf) -> DiagonalKernel | None:
    x, out = node.inputs[0], node.outputs[0]
    if not (_tensor_ok(x) and _tensor_ok(out)) or x.type.dtype != out.type.dtype:
        return None
    op, dt = node.op, out.type.dtype
    return DiagonalKernel(str(op), Operand(buf(x), dt), Operand(buf(out), dt), x.type.ndim, op.offset,
                          op.axis1, op.axis2, False)


def _shapes_diagonal(node: Apply, shapes: list[tuple], args: list) -> tuple:
    op, s = node.op, tuple(shapes[0])
    rest = tuple(n for d, n in enumerate(s) if d not in (op.axis1, op.axis2))
    return rest + (_diag_len(s[op.axis1], s[op.axis2], op.offset),)


def _lower_diagonal_embed(node: Apply, buf: Buf) -> DiagonalKernel | None:
    d, out = node.inputs[0], node.outputs[0]
    if not (_tensor_ok(d) and _tensor_ok(out)) or d.type.dtype != out.type.dtype:
        return None
    op, dt = node.op, out.type.dtype
    return DiagonalKernel(str(op), Operand(buf(out), dt), Operand(buf(d), dt), out.type.ndim, op.offset,
                          op.axis1, op.axis2, True)


def _shapes_diagonal_embed(node: Apply, shapes: list[tuple], args: list) -> tuple:
    """The shape vector's value; DiagonalEmbed.perform's errors."""
    op, ds = node.op, tuple(shapes[0])
    shp = tuple(int(s) for s in args[1])
    if any(s < 0 for s in shp):
        raise ValueError(f"negative dimensions are not allowed: {shp}")
    rest = tuple(n for k, n in enumerate(shp) if k not in (op.axis1, op.axis2))
    want = rest + (_diag_len(shp[op.axis1], shp[op.axis2], op.offset),)
    if ds != want:
        raise ValueError(f"{op}: diagonal values of shape {ds} do not fit the diagonal "
                         f"(offset {op.offset}) of shape {want}")
    return shp


def _lower_eye(node: Apply, buf: Buf) -> EyeKernel | None:
    k, out = node.inputs[2], node.outputs[0]
    if not (_tensor_ok(k) and _tensor_ok(out)) or k.type.dtype == "uint64":
        return None   # (a uint64 offset does not fit the kernel's int64)
    return EyeKernel(str(node.op), Operand(buf(out), out.type.dtype), Operand(buf(k), k.type.dtype))


def _shapes_eye(node: Apply, shapes: list[tuple], args: list) -> tuple:
    n, m = int(args[0]), int(args[1])
    if n < 0 or m < 0:
        raise ValueError(f"negative dimensions are not allowed: {(n, m)}")
    return (n, m)


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
SHAPE_RULES.update({SumToShape: _shapes_sum_to_shape, Alloc: _shapes_alloc, LinearRecurrence: _shapes_recurrence,
                    Diagonal: _shapes_diagonal, DiagonalEmbed: _shapes_diagonal_embed, Eye: _shapes_eye})
VALUE_INPUTS.update({SumToShape: lambda node: () if node.op.by_ref else (1,), Alloc: lambda node: (1,),
                     DiagonalEmbed: lambda node: (1,), Eye: lambda node: (0, 1)})
