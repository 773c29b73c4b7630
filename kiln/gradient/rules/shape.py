"""Shape and structure ops: all linear in their data input.

DimShuffle <-> inverse DimShuffle, Reshape <-> Reshape back, BroadcastTo/Alloc <->
sum back to the input's run-time shape (SumToShape), Join <-> slices, MakeVector <->
indexing, SpecifyShape <-> itself.  Shape and Shape_i have zero derivative and are
'structural': applied to a tangent they give a primal quantity.
"""
from __future__ import annotations


import kiln.tensor.math as km
from kiln.gradient.registry import STRUCTURAL_OPS, register_jvp, register_transpose
from kiln.gradient.rules.helpers import instantiate, linear_jvp, zero_derivative
from kiln.gradient.values import ZERO, is_zero
from kiln.tensor.creation import Alloc, ARange, Eye
from kiln.tensor.elemwise import DimShuffle
from kiln.tensor.join import Join
from kiln.tensor.shape import (BroadcastTo, MakeVector, Reshape, Shape, Shape_i, SpecifyShape)
from kiln.tensor.unbroadcast import BroadcastLike, SumToShape

zero_derivative(Shape, Shape_i, Eye)
STRUCTURAL_OPS.update({Shape, Shape_i})

linear_jvp(DimShuffle, SpecifyShape)
linear_jvp(Reshape, BroadcastTo, Alloc, SumToShape, BroadcastLike, linear=(0,))


@register_transpose(DimShuffle, linear=(0,))
def _dimshuffle_t(node, cts, mask, ctx):
    op = node.op
    (ct,) = cts
    # drop the inserted axes, then undo the permutation, then re-insert the dropped ones
    kept = [d for d, o in enumerate(op.new_order) if o != "x"]
    if op.augment:
        ct = km.sum(ct, axis=op.augment) if any(ct.type.shape[d] != 1 for d in op.augment) else \
            DimShuffle(ct.ndim, kept)(ct)
    # now ct's axes are op.shuffle (input axes in output order)
    order = []
    for d in range(op.input_ndim):
        order.append("x" if d in op.drop else op.shuffle.index(d))
    if tuple(order) != tuple(range(ct.ndim)):
        ct = DimShuffle(ct.ndim, order)(ct)
    return [ct]


@register_transpose(SpecifyShape, linear=(0,))
def _specify_t(node, cts, mask, ctx):
    return [node.op(cts[0])]


@register_transpose(Reshape, linear=(0,))
def _reshape_t(node, cts, mask, ctx):
    x = node.inputs[0]
    return [Reshape(x.type.ndim)(cts[0], ctx.shape_vec(x)), None]


@register_transpose(BroadcastTo, Alloc, BroadcastLike, linear=(0,))
def _broadcast_t(node, cts, mask, ctx):
    x = node.inputs[0]
    (ct,) = cts
    extra = ct.ndim - x.type.ndim
    if extra:
        ct = km.sum(ct, axis=tuple(range(extra)))
    return [ctx.sum_to(ct, x), None]


@register_transpose(SumToShape, linear=(0,))
def _sum_to_shape_t(node, cts, mask, ctx):
    x = node.inputs[0]
    if node.op.broadcast:
        # sums where x was stretched, stretches where x was summed: the same op, back to x's shape
        p = ctx.shape_ref(x)
        if p is not None:
            return [SumToShape(range(x.type.ndim), by_ref=True, broadcast=True)(cts[0], p), None]
        return [SumToShape(range(x.type.ndim), broadcast=True)(cts[0], ctx.shape_vec(x)), None]
    return [ctx.broadcast_to(cts[0], x), None]


@register_jvp(MakeVector)
def _make_vector_jvp(node, ts):
    if all(is_zero(t) for t in ts):
        return [ZERO]
    return [MakeVector(node.op.dtype)(*[0.0 if is_zero(t) else t for t in ts])]


@register_transpose(MakeVector, linear=lambda node, mask: True)
def _make_vector_t(node, cts, mask, ctx):
    from kiln.tensor.subtensor import subtensor

    return [subtensor(cts[0], i) if m else None for i, m in enumerate(mask)]


@register_jvp(Join)
def _join_jvp(node, ts):
    if all(is_zero(t) for t in ts):
        return [ZERO]
    return [node.op(*[instantiate(t, x) for t, x in zip(ts, node.inputs)])]


@register_transpose(Join, linear=lambda node, mask: True)
def _join_t(node, cts, mask, ctx):
    from kiln.tensor.subtensor import subtensor

    (ct,) = cts
    ax = node.op.axis
    out, start = [], 0
    for x, m in zip(node.inputs, mask):
        n = ctx.shape(x)[ax]
        stop = start + n if isinstance(start, int) and isinstance(n, int) else km.add(start, n)
        if m:
            idx = (slice(None),) * ax + (slice(start, stop),)
            out.append(subtensor(ct, idx))
        else:
            out.append(None)
        start = stop
    return out


@register_jvp(ARange)
def _arange_jvp(node, ts):
    """arange(start, stop, step)[i] = start + i * step; stop only sets the length."""
    tstart, _, tstep = ts
    (z,) = node.outputs
    if is_zero(tstart) and is_zero(tstep):
        return [ZERO]
    from kiln.tensor.creation import zeros_like

    base = zeros_like(z)
    if not is_zero(tstart):
        base = base + tstart
    if not is_zero(tstep):
        from kiln.tensor.creation import arange
        from kiln.tensor.shape import shape_i

        base = base + km.cast(arange(shape_i(z, 0)), z.dtype) * tstep
    return [base]
