"""Reductions: Sum (linear), Prod (zeros handled), Max/Min (ties split evenly),
and the integer/boolean-valued ones (Any, All, Argmax, Argmin) with zero derivative."""
from __future__ import annotations

import kiln.tensor.math as km
from kiln.gradient.registry import register_jvp, register_transpose
from kiln.gradient.rules.helpers import zero_derivative
from kiln.gradient.values import ZERO, is_zero
from kiln.tensor.reduction import All, Any, Argmax, Argmin, Max, Min, Prod, Sum, _keep

zero_derivative(Any, All, Argmax, Argmin)


@register_jvp(Sum)
def _sum_jvp(node, ts):
    return [node.op(ts[0])]


@register_transpose(Sum, linear=(0,))
def _sum_t(node, cts, mask, ctx):
    x = node.inputs[0]
    ct = _keep(cts[0], x.type.ndim, node.op.axis) if node.op.axis else cts[0]
    return [ctx.broadcast_to(ct, x)]


def _weighted_sum(node, coef, t):
    """Sum over the reduced axes of coef * t (coef has the input's shape)."""
    return Sum(node.op.axis, node.op.dtype)(km.mul(t, coef))


@register_jvp(Prod)
def _prod_jvp(node, ts):
    """d prod / d x_i = product of the other entries, computed without dividing by zero:
    no zero in the slice -> z / x_i; exactly one zero -> the product of the non-zeros at
    the zero's position and 0 elsewhere; two or more zeros -> 0."""
    (t,) = ts
    x = node.inputs[0]
    (z,) = node.outputs
    ax = node.op.axis
    if is_zero(t):
        return [ZERO]
    nd = x.type.ndim
    is0 = km.eq(x, 0)
    n0 = _keep(km.sum(km.cast(is0, "int64"), axis=ax), nd, ax) if ax else km.cast(is0, "int64")
    zk = _keep(z, nd, ax) if ax else z
    prod_nz = _keep(Prod(ax, node.op.dtype)(km.switch(is0, 1, x)), nd, ax) if ax else km.switch(is0, 1, x)
    coef = km.switch(km.eq(n0, 0), zk / km.switch(is0, 1, x),
                     km.switch(km.logical_and(km.eq(n0, 1), is0), prod_nz, 0))
    if coef.dtype != z.dtype:
        coef = km.cast(coef, z.dtype)
    return [_weighted_sum(node, coef, t)]


@register_jvp(Max, Min)
def _maxmin_jvp(node, ts):
    """Ties split evenly: every maximal entry gets 1/(number of maximal entries)."""
    (t,) = ts
    x = node.inputs[0]
    (z,) = node.outputs
    ax = node.op.axis
    if is_zero(t):
        return [ZERO]
    nd = x.type.ndim
    zk = _keep(z, nd, ax) if ax else z
    hit = km.cast(km.eq(x, zk), x.dtype)
    cnt = _keep(km.sum(hit, axis=ax), nd, ax) if ax else hit
    return [Sum(ax)(km.mul(t, hit / cnt))]
