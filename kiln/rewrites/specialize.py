"""Specialize: faster equivalents once the graph is canonical and stable.

pow(x, c) for c in {0, 0.5, -0.5, 1, 2, 3, 4, -1, -2} -> 1 / sqrt / reciprocal / sqr / products
x * x -> sqr(x)                          (so sum(x * x) is a sum of squares)
-(c * x) -> (-c) * x, (-c) a folded constant  (neg into constants)
beta * C + alpha * dot(A, B) -> Gemm / Gemv (scale and add absorbed)
"""
from __future__ import annotations

import numpy as np

import kiln.tensor as kt
from kiln.rewrites.blas_ops import Gemm, Gemv
from kiln.rewrites.engine import node_rewriter
from kiln.rewrites.pattern import pattern_rule
from kiln.rewrites.utils import constant_value, fit_to
from kiln.tensor.blas import Dot
from kiln.tensor.elemwise import DimShuffle

_FLOATS = ("float16", "float32", "float64")


@node_rewriter([kt.pow])
def pow_specialize(fgraph, node):
    """x ** c for a small constant c -> sqr/sqrt/reciprocal/mul (float x only: integer powers
    by negative exponents are errors in NumPy, and int overflow must stay as it is)."""
    x, e = node.inputs
    data = constant_value(e)
    out = node.outputs[0]
    if data is None or data.size != 1 or x.type.dtype not in _FLOATS or x.type.dtype != out.type.dtype:
        return None
    c = float(data.reshape(()))
    table = {
        # x ** 0 is 1 for every x, NaN and inf included (C99 pow, NumPy): a gradient of
        # x ** 2 taken twice leaves one
        0.0: lambda: kt.second(x, kt.constant(np.ones((), dtype=x.type.dtype))),
        0.5: lambda: kt.sqrt(x),
        -0.5: lambda: kt.reciprocal(kt.sqrt(x)),
        1.0: lambda: x,
        2.0: lambda: kt.sqr(x),
        3.0: lambda: kt.mul(x, kt.sqr(x)),
        4.0: lambda: kt.sqr(kt.sqr(x)),
        -1.0: lambda: kt.reciprocal(x),
        -2.0: lambda: kt.reciprocal(kt.sqr(x)),
    }
    make = table.get(c)
    if make is None:
        return None
    return [fit_to(make(), out, node)]


mul_self = pattern_rule((kt.mul, "x", "x"), (kt.sqr, "x"), name="mul_self_to_sqr",
                        guard=lambda env: True)


def _neg_const(env):
    c = env["c"]
    data = constant_value(c)
    if data is None or data.size != 1 or c.type.dtype not in _FLOATS:
        return None
    return kt.mul(kt.constant(np.asarray(-data.reshape(()), dtype=c.type.dtype)), env["x"])


neg_into_constant = pattern_rule(
    (kt.neg, (kt.mul, "c", "x")), _neg_const, name="neg_into_constant",
    guard=lambda env: (d := constant_value(env["c"])) is not None and d.size == 1
    and env["c"].type.dtype in _FLOATS)


def _scalar_of(v, dtype):
    """v as a 0-d tensor of dtype when v is a single value broadcast (constant or dimshuffled 0-d)."""
    data = constant_value(v)
    if data is not None:
        if data.size != 1:
            return None
        return kt.constant(np.asarray(data.reshape(()), dtype=dtype))
    if v.type.ndim == 0:
        return v if v.type.dtype == dtype else None
    if v.owner is not None and isinstance(v.owner.op, DimShuffle) and v.owner.inputs[0].type.ndim == 0:
        base = v.owner.inputs[0]
        return base if base.type.dtype == dtype else None
    return None


def _scaled(fgraph, v, dtype):
    """(scale, term): v = scale * term with a single-value scale (scale None = 1)."""
    if v.owner is not None and v.owner.op == kt.mul and len(v.owner.inputs) == 2:
        a, b = v.owner.inputs
        for s, t in ((a, b), (b, a)):
            sc = _scalar_of(s, dtype)
            if sc is not None and t.type.ndim == v.type.ndim and t.type.dtype == dtype:
                return sc, t
    return None, v


def _dot_of(fgraph, v):
    if v.owner is not None and isinstance(v.owner.op, Dot) and len(fgraph.clients.get(v, ())) == 1:
        a, b = v.owner.inputs
        if a.type.ndim == 2 and b.type.ndim == 2:
            return Gemm(), a, b
        if a.type.ndim == 2 and b.type.ndim == 1:
            return Gemv(), a, b
    return None


def _broadcast_term(c, out) -> bool:
    """True when the added term is known to broadcast (a bias row `dot(x, W) + b`): as in
    PyTensor, the product stays a Dot and the add fuses with its elementwise consumers
    (one pass for tanh(x @ W + b)) instead of Gemm first copying the broadcast rows."""
    return any(cs == 1 and os != 1 for cs, os in zip(c.type.shape, out.type.shape))


@node_rewriter([kt.add, kt.sub])
def dot_to_gemm(fgraph, node):
    """beta * C + alpha * dot(A, B) (or C - dot(A, B), ...) -> Gemm/Gemv(C, alpha, A, B, beta)."""
    out = node.outputs[0]
    dtype = out.type.dtype
    if len(node.inputs) != 2 or dtype not in ("float32", "float64"):
        return None
    one = kt.constant(np.asarray(1, dtype=dtype))
    for k in (0, 1):
        if node.op == kt.sub and k == 0:
            continue  # C - dot only: dot - C would need beta = -1 and alpha = 1, also fine below
        p, c = node.inputs[k], node.inputs[1 - k]
        alpha, term = _scaled(fgraph, p, dtype)
        if term is not p and len(fgraph.clients.get(p, ())) != 1:
            continue
        found = _dot_of(fgraph, term)
        if found is None or term.type.dtype != dtype:
            continue
        op, a, b = found
        if a.type.dtype != dtype or b.type.dtype != dtype:
            continue
        beta, cterm = _scaled(fgraph, c, dtype)
        if cterm.type.ndim != out.type.ndim or cterm.type.dtype != dtype or _broadcast_term(cterm, out):
            continue
        alpha = alpha if alpha is not None else one
        beta = beta if beta is not None else one
        if node.op == kt.sub:
            alpha = kt.neg(alpha)
        try:
            res = op(cterm, alpha, a, b, beta)
        except (TypeError, ValueError):
            continue
        return [fit_to(res, out, node)]
    if node.op == kt.sub:
        p, c = node.inputs
        found = _dot_of(fgraph, p)
        if found is not None and c.type.ndim == out.type.ndim and not _broadcast_term(c, out) and \
                c.type.dtype == dtype and p.type.dtype == dtype and found[1].type.dtype == dtype and \
                found[2].type.dtype == dtype:
            op, a, b = found
            try:
                return [fit_to(op(c, one, a, b, kt.constant(np.asarray(-1, dtype=dtype))), out, node)]
            except (TypeError, ValueError):
                return None
    return None


RULES = [(pow_specialize, ()), (mul_self, ()), (neg_into_constant, ()), (dot_to_gemm, ("blas", "gemm"))]
