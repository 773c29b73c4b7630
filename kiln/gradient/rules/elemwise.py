"""Elemwise rules: the linear scalar ops (add, sub, neg, mul, true_div, identity, cast,
switch) with jvp and transpose, and the elementwise-with-derivative helper `defderiv`
used by every other scalar op (its formulas live in scalar_derivatives.py).

Broadcasting: a tangent must have its primal's shape, and a cotangent must be summed
back to each input's *run-time* shape.  `_uncovered` says, per axis, whether an input
provably has the output's length there; where it cannot be proven statically, the
transpose sums at run time (SumToShape), as NumPy broadcasting demands.
"""
from __future__ import annotations

from typing import Callable

import kiln.scalar.math as ps
from kiln.gradient.registry import (ELEMWISE_JVP, register_elemwise_jvp, register_elemwise_transpose)
from kiln.gradient.rules.helpers import mark_full, same_shape
from kiln.gradient.values import ZERO, is_zero

__all__ = ["defderiv", "DERIVATIVES", "ensure_out_shape"]

#: scalar op class -> fn(inputs, outputs) -> per-input coefficient (tensor, or None = zero)
DERIVATIVES: dict[type, Callable] = {}


def _covers(node, ks, d) -> bool:
    """Whether the inputs `ks` together fix the output's length on axis d."""
    out = node.outputs[0].type.shape[d]
    if out == 1:
        return True
    for k in ks:
        s = node.inputs[k].type.shape[d]
        if s is not None and s != 1:
            return True
    return all(node.inputs[j].type.shape[d] == 1 for j in range(len(node.inputs)) if j not in ks)


def _full(node, k) -> bool:
    """Whether primal input k provably takes part in `node` without run-time broadcasting."""
    v = node.inputs[k]
    return all(v.type.shape[d] is not None or _covers(node, [k], d) for d in range(v.type.ndim))


def _mark_from_primal(term, node, positions):
    """Mark inputs of the linear node `term` (at `positions`, tangents of primal inputs
    `ks` of `node`) as not broadcast at run time when their primal inputs are not."""
    full = [pos for pos, k in positions if _full(node, k)]
    return mark_full(term, *full) if full else term


def ensure_out_shape(t, node, ks):
    """Broadcast tangent `t` (built from the inputs `ks`) to the output's shape when needed."""
    o = node.outputs[0]
    if all(_covers(node, ks, d) for d in range(o.type.ndim)):
        return t
    from kiln.tensor.shape import BroadcastTo, shape

    return BroadcastTo(o.type.ndim)(t, shape(o))


def unbroadcast(ctx, node, k, ct):
    """ct (output-shaped) summed back to input k's shape."""
    v = node.inputs[k]
    if k in node.outputs[0].tag.get("full_inputs", ()):
        runtime = []
    else:
        runtime = [d for d in range(v.type.ndim) if v.type.shape[d] is None and not _covers(node, [k], d)]
    return ctx.sum_to(ct, v, runtime)


def _sum_terms(terms):
    from kiln.tensor.math import add

    if not terms:
        return ZERO
    return terms[0] if len(terms) == 1 else add(*terms)


# -- linear ops --------------------------------------------------------------------------
@register_elemwise_jvp(ps.Add)
def _add_jvp(node, ts):
    ks = [k for k, t in enumerate(ts) if not is_zero(t)]
    out = _sum_terms([ts[k] for k in ks])
    if len(ks) > 1:
        out = _mark_from_primal(out, node, list(enumerate(ks)))
    return [ensure_out_shape(out, node, ks)]


@register_elemwise_transpose(ps.Add, linear=lambda node, mask: True)
def _add_t(node, cts, mask, ctx):
    return [unbroadcast(ctx, node, k, cts[0]) if m else None for k, m in enumerate(mask)]


@register_elemwise_jvp(ps.Sub)
def _sub_jvp(node, ts):
    tx, ty = ts
    from kiln.tensor.math import neg, sub

    if is_zero(ty):
        return [ensure_out_shape(tx, node, [0])]
    if is_zero(tx):
        return [ensure_out_shape(neg(ty), node, [1])]
    return [_mark_from_primal(sub(tx, ty), node, [(0, 0), (1, 1)])]


@register_elemwise_transpose(ps.Sub, linear=lambda node, mask: True)
def _sub_t(node, cts, mask, ctx):
    from kiln.tensor.math import neg

    (ct,) = cts
    return [unbroadcast(ctx, node, 0, ct) if mask[0] else None,
            unbroadcast(ctx, node, 1, neg(ct)) if mask[1] else None]


@register_elemwise_jvp(ps.Neg, ps.Identity)
def _unary_linear_jvp(node, ts):
    return [node.op(ts[0])]


@register_elemwise_transpose(ps.Neg, ps.Identity, linear=(0,))
def _unary_linear_t(node, cts, mask, ctx):
    return [node.op(cts[0])]


@register_elemwise_jvp(ps.Cast)
def _cast_jvp(node, ts):
    from kiln.scalar import dtypes

    if not dtypes.is_continuous(node.outputs[0].type.dtype):
        return [ZERO]
    return [node.op(ts[0])]


@register_elemwise_transpose(ps.Cast, linear=(0,))
def _cast_t(node, cts, mask, ctx):
    from kiln.tensor.math import cast

    return [cast(cts[0], node.inputs[0].type.dtype)]


def _mul_linear(node, mask) -> bool:
    return sum(mask) == 1


@register_elemwise_jvp(ps.Mul)
def _mul_jvp(node, ts):
    from kiln.tensor.math import mul

    ins = node.inputs
    if len(ins) == 1:
        return [ts[0]]
    o = node.outputs[0]
    terms = [_mark_from_primal(same_shape(mul(t, *[x for j, x in enumerate(ins) if j != k]), o), node, [(0, k)])
             for k, t in enumerate(ts) if not is_zero(t)]
    return [_sum_terms(terms)]


@register_elemwise_transpose(ps.Mul, linear=_mul_linear)
def _mul_t(node, cts, mask, ctx):
    from kiln.tensor.math import mul

    k = mask.index(True)
    others = [x for j, x in enumerate(node.inputs) if j != k]
    ct = mul(cts[0], *others) if others else cts[0]
    out = [None] * len(mask)
    out[k] = unbroadcast(ctx, node, k, ct)
    return out


@register_elemwise_jvp(ps.TrueDiv)
def _div_jvp(node, ts):
    from kiln.tensor.math import mul, neg, true_div

    x, y = node.inputs
    (z,) = node.outputs
    terms = []
    if not is_zero(ts[0]):
        terms.append(_mark_from_primal(same_shape(true_div(ts[0], y), z), node, [(0, 0)]))
    if not is_zero(ts[1]):
        terms.append(_mark_from_primal(mark_full(same_shape(mul(ts[1], neg(true_div(z, y))), z), 1), node, [(0, 1)]))
    return [_sum_terms(terms)]


@register_elemwise_transpose(ps.TrueDiv, linear=(0,))
def _div_t(node, cts, mask, ctx):
    from kiln.tensor.math import true_div

    return [unbroadcast(ctx, node, 0, true_div(cts[0], node.inputs[1])), None]


@register_elemwise_jvp(ps.Switch)
def _switch_jvp(node, ts):
    from kiln.tensor.math import switch

    c, a, b = node.inputs
    if is_zero(ts[1]) and is_zero(ts[2]):
        return [ZERO]
    ta = 0 if is_zero(ts[1]) else ts[1]
    tb = 0 if is_zero(ts[2]) else ts[2]
    ks = [0] + [k for k in (1, 2) if not is_zero(ts[k])]
    out = _mark_from_primal(switch(c, ta, tb), node, [(k, k) for k in (1, 2) if not is_zero(ts[k])])
    return [ensure_out_shape(out, node, ks)]


@register_elemwise_transpose(ps.Switch, linear=(1, 2))
def _switch_t(node, cts, mask, ctx):
    from kiln.tensor.math import switch

    c = node.inputs[0]
    (ct,) = cts
    return [None,
            unbroadcast(ctx, node, 1, switch(c, ct, 0)) if mask[1] else None,
            unbroadcast(ctx, node, 2, switch(c, 0, ct)) if mask[2] else None]


# -- elementwise-with-derivative ----------------------------------------------------------
def defderiv(*scalar_classes: type) -> Callable:
    """Decorator: ``fn(inputs, outputs) -> [coefficient or None per input]`` gives the partial
    derivatives of an elementwise op; its jvp is sum_k coefficient_k * tangent_k.

    Coefficients must have the output's shape (build them from the output or from all
    inputs), or be None for a zero derivative; use the output where it avoids overflow.
    """

    def deco(fn: Callable) -> Callable:
        for c in scalar_classes:
            DERIVATIVES[c] = fn
            ELEMWISE_JVP[c] = _deriv_jvp
        return fn
    return deco


def _deriv_jvp(node, ts):
    from kiln.tensor.math import mul

    coefs = DERIVATIVES[type(node.op.scalar_op)](node.inputs, node.outputs)
    terms, ks = [], []
    for k, (t, c) in enumerate(zip(ts, coefs)):
        if is_zero(t) or c is None:
            continue
        if isinstance(c, int) and c == 1:
            ks.append(k)
        if isinstance(c, int) and c == 1:
            terms.append(t)
            continue
        # coefficients have the output's shape; a unary op's input has it too
        term = mark_full(same_shape(mul(t, c), node.outputs[0]), 1)
        terms.append(mark_full(term, 0) if len(node.inputs) == 1 else _mark_from_primal(term, node, [(0, k)]))
        ks.append(-1)
    if not terms:
        return [ZERO] * len(node.outputs)
    out = _sum_terms(terms)
    if -1 not in ks and len(node.inputs) > 1:
        out = ensure_out_shape(out, node, ks)
    return [out]
