"""Advanced indexing: AdvancedSubtensor (linear in x) transposes to an accumulating
AdvancedIncSubtensor into zeros (repeated indices gather several cotangents: np.add.at);
AdvancedIncSubtensor is linear in (x, y) jointly and transposes to a masked copy of the
cotangent (set mode) or the cotangent itself (inc mode), and a gather of it for y.

Set mode with repeated indices: only the write that survives (NumPy: the last) reaches the
output, so only that copy of y gets a cotangent.  The transpose finds the survivors by running
the same assignment on entry numbers (so it agrees with whatever NumPy does), unless the index
is known to hold no repeats (no integer arrays, or constant indices checked when the rule runs).

Nonzero has a zero derivative (its outputs are indices).
"""
from __future__ import annotations

import numpy as np

from kiln.gradient.registry import register_jvp, register_transpose
from kiln.gradient.rules.helpers import linear_jvp, zero_derivative
from kiln.gradient.values import ZERO, is_zero
from kiln.graph.basic import Constant
from kiln.tensor.advanced import ADV, AdvancedIncSubtensor, AdvancedSubtensor
from kiln.tensor.advanced_nonzero import Nonzero

linear_jvp(AdvancedSubtensor, linear=(0,))
zero_derivative(Nonzero)


@register_transpose(AdvancedSubtensor, linear=(0,))
def _advsub_t(node, cts, mask, ctx):
    x, *idx = node.inputs
    (ct,) = cts
    if is_zero(ct):
        return [None] * len(node.inputs)
    return [AdvancedIncSubtensor(node.op.idx_list)(ctx.zeros(x), ct, *idx)] + [None] * len(idx)


@register_jvp(AdvancedIncSubtensor)
def _advinc_jvp(node, ts):
    x, y, *idx = node.inputs
    tx, ty = ts[:2]
    for i, t in enumerate(ts[2:]):
        if not is_zero(t):
            raise TypeError(f"{node.op}: index input {i} is not differentiable")
    if is_zero(tx) and is_zero(ty):
        return [ZERO]
    from kiln.tensor.creation import zeros_like

    tx = zeros_like(x) if is_zero(tx) else tx
    ty = zeros_like(y) if is_zero(ty) else ty
    return [node.op(tx, ty, *idx)]


def _may_repeat(node) -> bool:
    """Whether two entries of the indexed region can name the same element of x."""
    op = node.op
    if ADV not in op.idx_list:
        return False  # slices, None and boolean masks never repeat an element
    x, _, *idx = node.inputs
    if not all(isinstance(i, Constant) for i in idx) or None in x.type.shape:
        return True
    # constant indices and a static shape: ask NumPy which writes survive
    key = AdvancedSubtensor(op.idx_list)._key([i.data for i in idx])
    slots = np.full(x.type.shape, -1, dtype=np.int64)
    region_shape = slots[key].shape
    ids = np.arange(int(np.prod(region_shape)), dtype=np.int64).reshape(region_shape)
    slots[key] = ids
    return not bool(np.all(slots[key] == ids))


def _survivors(node, ct):
    """A boolean tensor, shaped like the indexed region: which entries of y survive a set."""
    import kiln.tensor.math as km
    from kiln.tensor.creation import arange, full_like
    from kiln.tensor.shape import reshape, shape

    idx = node.inputs[2:]
    probe = AdvancedSubtensor(node.op.idx_list)(full_like(ct, -1, dtype="int64"), *idx)
    rshape = shape(probe)
    ids = reshape(arange(km.prod(rshape), dtype="int64"), rshape, ndim=probe.ndim)
    slots = AdvancedIncSubtensor(node.op.idx_list, True)(full_like(ct, -1, dtype="int64"), ids, *idx)
    return km.eq(AdvancedSubtensor(node.op.idx_list)(slots, *idx), ids)


@register_transpose(AdvancedIncSubtensor, linear=(0, 1))
def _advinc_t(node, cts, mask, ctx):
    import kiln.tensor.math as km

    y, *idx = node.inputs[1:]
    (ct,) = cts
    out = [None] * len(node.inputs)
    if is_zero(ct):
        return out
    if mask[0]:
        # set mode: the overwritten region receives no cotangent
        out[0] = AdvancedIncSubtensor(node.op.idx_list, True)(ct, 0.0, *idx) if node.op.set_instead_of_inc else ct
    if mask[1]:
        region = AdvancedSubtensor(node.op.idx_list)(ct, *idx)
        if node.op.set_instead_of_inc and _may_repeat(node):
            region = km.switch(_survivors(node, ct), region, 0.0)
        extra = region.ndim - y.type.ndim
        if extra:
            region = km.sum(region, axis=tuple(range(extra)))
        out[1] = ctx.sum_to(region, y)
    return out
