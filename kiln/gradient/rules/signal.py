"""Convolve (kiln/tensor/signal.py): bilinear in (in1, in2); the window inputs are integers.

With y = full(a, b)[s : s + L] (per core axis, a of length N, b of length M):
    a's cotangent = full(ct, flip(b))[M - 1 - s : M - 1 - s + N]
    b's cotangent = full(ct, flip(a))[N - 1 - s : N - 1 - s + M]
both again Convolve nodes, so higher orders follow.  Broadcast batch axes are summed back.
"""
from __future__ import annotations

from kiln.gradient.registry import register_jvp, register_transpose
from kiln.gradient.rules.helpers import mark_full, same_shape
from kiln.gradient.values import ZERO, is_zero
from kiln.tensor.signal import Convolve


def _core(v, node):
    """(lengths of v's core axes as an int64 vector, the flip of v over them)."""
    import kiln.tensor as kt

    nd = node.op.ndim
    lengths = kt.shape(v)[v.ndim - nd:]
    flipped = v[(slice(None),) * (v.ndim - nd) + (slice(None, None, -1),) * nd]
    return lengths, flipped


def _transpose(node, ct, ctx, which: int):
    a, b, start, _ = node.inputs
    mine, other = (a, b) if which == 0 else (b, a)
    n_mine, _ = _core(mine, node)
    n_other, flipped = _core(other, node)
    res = Convolve(node.op.ndim)(ct, flipped, n_other - 1 - start, n_mine)
    # broadcast batch axes sum back; core axes have mine's lengths already
    return ctx.sum_to(res, mine, runtime_axes=range(mine.ndim - node.op.ndim))


@register_jvp(Convolve)
def _convolve_jvp(node, tangents):
    a, b, start, length = node.inputs
    ta, tb = tangents[:2]
    terms = [same_shape(node.op(ta, b, start, length), node.outputs[0])] if not is_zero(ta) else []
    if not is_zero(tb):
        terms.append(same_shape(node.op(a, tb, start, length), node.outputs[0]))
    if not terms:
        return [ZERO]
    # both terms have the output's shape: their sum broadcasts nothing
    return [terms[0] if len(terms) == 1 else mark_full(terms[0] + terms[1], 0, 1)]


@register_transpose(Convolve, linear=lambda node, mask: sum(mask[:2]) == 1 and not any(mask[2:]))
def _convolve_t(node, cts, mask, ctx):
    (ct,) = cts
    return [_transpose(node, ct, ctx, 0) if mask[0] else None,
            _transpose(node, ct, ctx, 1) if mask[1] else None, None, None]
