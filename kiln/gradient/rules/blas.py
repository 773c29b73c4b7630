"""Products: Dot and MatMul are bilinear; each side's transpose is another product."""
from __future__ import annotations

import kiln.tensor.math as km
from kiln.gradient.rules.helpers import defbilinear
from kiln.tensor.blas import Dot, MatMul, dot, matmul
from kiln.tensor.shape import expand_dims, swapaxes


def _dot_tx(node, ct, ctx):
    x, y = node.inputs
    if x.ndim == 2 and y.ndim == 2:
        return dot(ct, y.T)
    if x.ndim == 2:                       # (m,k).(k,) -> (m,)
        return km.mul(ct.dimshuffle(0, "x"), y.dimshuffle("x", 0))
    if y.ndim == 2:                       # (k,).(k,n) -> (n,)
        return dot(y, ct)
    return km.mul(ct, y)                  # (k,).(k,) -> ()


def _dot_ty(node, ct, ctx):
    x, y = node.inputs
    if x.ndim == 2 and y.ndim == 2:
        return dot(x.T, ct)
    if x.ndim == 2:
        return dot(x.T, ct)
    if y.ndim == 2:
        return km.mul(x.dimshuffle(0, "x"), ct.dimshuffle("x", 0))
    return km.mul(ct, x)


defbilinear(Dot, _dot_tx, _dot_ty)


def _mm_ct(node, ct):
    """ct reshaped to the 2-d-trailing form of the product x2 @ y2."""
    x, y = node.inputs
    if x.ndim == 1 and y.ndim == 1:
        return ct.dimshuffle("x", "x")
    if x.ndim == 1:
        return expand_dims(ct, ct.ndim - 1)        # (..., n) -> (..., 1, n)
    if y.ndim == 1:
        return expand_dims(ct, ct.ndim)            # (..., m) -> (..., m, 1)
    return ct


def _mm_tx(node, ct, ctx):
    x, y = node.inputs
    ct2 = _mm_ct(node, ct)
    y2 = y.dimshuffle(0, "x") if y.ndim == 1 else y
    g = matmul(ct2, swapaxes(y2, -1, -2))              # (..., m, k)
    if x.ndim == 1:
        g = km.sum(g, axis=tuple(range(g.ndim - 2)) + (g.ndim - 2,)) if g.ndim > 2 else g[0]
        return g
    return ctx.sum_to(g, x, range(x.ndim - 2))


def _mm_ty(node, ct, ctx):
    x, y = node.inputs
    ct2 = _mm_ct(node, ct)
    x2 = x.dimshuffle("x", 0) if x.ndim == 1 else x
    g = matmul(swapaxes(x2, -1, -2), ct2)              # (..., k, n)
    if y.ndim == 1:
        g = km.sum(g, axis=tuple(range(g.ndim - 2)) + (g.ndim - 1,)) if g.ndim > 2 else g[:, 0]
        return g
    return ctx.sum_to(g, y, range(y.ndim - 2))


defbilinear(MatMul, _mm_tx, _mm_ty)
