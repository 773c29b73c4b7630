"""Run-time shape rules of the shape-valued ops (kiln.linkers.c.lower_shape_ops has their
C lowerings) and of FusedReduce (kiln.linkers.c.lower_fused): entries of `SHAPE_RULES` and
`VALUE_INPUTS`, registered on import.

They live apart from the lowerings because they are needed at run time, also on a warm
start, which replays a stored layout and never imports the lowerings and the kernel IR
(kiln.linkers.c.layout).  Each rule raises the same errors as the op's `perform`.
"""
from __future__ import annotations

from kiln.graph.basic import Apply
from kiln.linkers.c.shapes import SHAPE_RULES, VALUE_INPUTS
from kiln.tensor.creation import Alloc, Eye
from kiln.tensor.diag_ops import Diagonal, DiagonalEmbed, _diag_len
from kiln.tensor.extra_ops import LinearRecurrence
from kiln.tensor.fused_reduce import FusedReduce
from kiln.tensor.unbroadcast import SumToShape

__all__: list[str] = []


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


def _shapes_recurrence(node: Apply, shapes: list[tuple], args: list) -> tuple:
    xs, bs = (tuple(s) for s in shapes)
    if xs != bs:
        raise ValueError(f"{node.op}: x of shape {xs} and b of shape {bs} differ")
    return bs


def _shapes_diagonal(node: Apply, shapes: list[tuple], args: list) -> tuple:
    op, s = node.op, tuple(shapes[0])
    rest = tuple(n for d, n in enumerate(s) if d not in (op.axis1, op.axis2))
    return rest + (_diag_len(s[op.axis1], s[op.axis2], op.offset),)


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


def _shapes_eye(node: Apply, shapes: list[tuple], args: list) -> tuple:
    n, m = int(args[0]), int(args[1])
    if n < 0 or m < 0:
        raise ValueError(f"negative dimensions are not allowed: {(n, m)}")
    return (n, m)


def _shapes_fused_reduce(node: Apply, shapes: list[tuple], args: list) -> tuple:
    return node.op.output_shape(shapes)


SHAPE_RULES.update({SumToShape: _shapes_sum_to_shape, Alloc: _shapes_alloc, LinearRecurrence: _shapes_recurrence,
                    Diagonal: _shapes_diagonal, DiagonalEmbed: _shapes_diagonal_embed, Eye: _shapes_eye,
                    FusedReduce: _shapes_fused_reduce})
VALUE_INPUTS.update({SumToShape: lambda node: () if node.op.by_ref else (1,), Alloc: lambda node: (1,),
                     DiagonalEmbed: lambda node: (1,), Eye: lambda node: (0, 1)})
