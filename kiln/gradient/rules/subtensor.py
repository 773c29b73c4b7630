"""Indexing: Subtensor (linear in x) transposes to IncSubtensor into zeros; IncSubtensor is
linear in (x, y) jointly, and transposes to a masked copy of the cotangent and a slice."""
from __future__ import annotations

from kiln.gradient.registry import register_jvp, register_transpose
from kiln.gradient.rules.helpers import linear_jvp
from kiln.gradient.values import ZERO, is_zero
from kiln.tensor.inc_subtensor import IncSubtensor
from kiln.tensor.subtensor import Subtensor

linear_jvp(Subtensor, linear=(0,))


@register_transpose(Subtensor, linear=(0,))
def _subtensor_t(node, cts, mask, ctx):
    x, *idx = node.inputs
    return [IncSubtensor(node.op.idx_list)(ctx.zeros(x), cts[0], *idx)] + [None] * len(idx)


@register_jvp(IncSubtensor)
def _incsub_jvp(node, ts):
    x, y, *idx = node.inputs
    tx, ty = ts[:2]
    if is_zero(tx) and is_zero(ty):
        return [ZERO]
    from kiln.tensor.creation import zeros_like

    tx = zeros_like(x) if is_zero(tx) else tx
    ty = 0.0 if is_zero(ty) else ty
    return [node.op(tx, ty, *idx)]


@register_transpose(IncSubtensor, linear=(0, 1))
def _incsub_t(node, cts, mask, ctx):
    x, y, *idx = node.inputs
    (ct,) = cts
    out = [None] * len(node.inputs)
    if mask[0]:
        # set mode: the region was overwritten, so it receives no cotangent
        out[0] = IncSubtensor(node.op.idx_list, True)(ct, 0.0, *idx) if node.op.set_instead_of_inc else ct
    if mask[1]:
        region = Subtensor(node.op.idx_list)(ct, *idx)
        extra = region.ndim - y.type.ndim
        if extra:
            import kiln.tensor.math as km

            region = km.sum(region, axis=tuple(range(extra)))
        out[1] = ctx.sum_to(region, y)
    return out
