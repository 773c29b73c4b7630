"""Derivative rules for kiln.tensor.linalg's PyTensor-compatibility ops (decomp_more.py,
equations.py, functions_more.py).

Tangents are written as primal coefficients x tangent (triangular solves, matmuls and masks),
so reverse mode transposes them with existing rules; the new linear maps (ExpmFrechet in its
direction, the Sylvester and discrete Lyapunov solvers in their right-hand side, BlockDiagonal)
get transpose rules here.

- lu / lu_factor (square inputs): with P^T a = L U, F = L^-1 P^T da U^-1 gives
  dL = L tril(F, -1) and dU = triu(F) U (de Hoog, Anderssen & Lukas).
- expm: d expm(a)[e] = ExpmFrechet(a, e), whose transpose is ExpmFrechet(a^T, .) (Mathias 1996).
- solve_sylvester a x + x b = q: dx = sylv(a, b, dq - da x - x db).
- solve_discrete_lyapunov x = a x a^T + q: dx = dlyap(a, dq + da x a^T + a x da^T).
- solve_discrete_are (real; q and r taken as symmetric): with K = (r + b^T x b)^-1 b^T x a and
  Ac = a - b K, dx = dlyap(Ac^T, dAc^T x Ac + Ac^T x dAc + K^T dr K + dq), dAc = da - db K
  (the derivative through K vanishes at the optimum).
- schur, qz, eig, the tridiagonal LU pair: no derivative, as in PyTensor (a Null naming the op).
"""
from __future__ import annotations

import numpy as np

from kiln.gradient.registry import register_jvp, register_transpose
from kiln.gradient.rules.helpers import instantiate
from kiln.gradient.values import ZERO, Null, is_zero
from kiln.tensor.blas import matmul
from kiln.tensor.linalg._util import eye_mask, mT, tri_mask
from kiln.tensor.linalg.decomp_more import LU, QZ, Eig, Expm, ExpmFrechet, LUFactor, Schur
from kiln.tensor.linalg.equations import (LUFactorTridiagonal, LUSolve, SolveDiscreteARE, SolveDiscreteLyapunov,
                                          SolveLUFactorTridiagonal, SolveSylvester)
from kiln.tensor.linalg.functions_more import BlockDiagonal, one_hot_rows
from kiln.tensor.linalg.solve import Solve, SolveTriangular


def _real_only(node, who: str):
    """A Null for complex ops (kiln differentiates real linear algebra only), else None."""
    if any(np.dtype(o.type.dtype).kind == "c" for o in node.outputs if hasattr(o.type, "dtype")):
        return Null(f"{who}: complex linear algebra has no derivative rule in kiln")
    return None


def _square_only(node, who: str):
    m, n = node.inputs[0].type.shape[-2:]
    if m is not None and n is not None and m != n:
        return Null(f"{who}: the derivative is defined for square matrices only, got {m}x{n}")
    return None


def _lu_tangents(l_or_lu, u_or_lu, pta, packed: bool):
    """(dL, dU) from P^T da: F = L^-1 (P^T da) U^-1; dL = L tril(F, -1), dU = triu(F) U.
    With `packed`, L (unit diagonal) and U are read from one LU matrix."""
    f = SolveTriangular(lower=True, unit_diagonal=packed, b_ndim=2)(l_or_lu, pta)
    f = mT(SolveTriangular(lower=False, trans=1, b_ndim=2)(u_or_lu, mT(f)))
    lower = f * tri_mask(f, -1, True)
    upper = f * tri_mask(f, 0, False)
    if packed:
        l_ = l_or_lu * tri_mask(l_or_lu, -1, True) + eye_mask(l_or_lu)
        u_ = u_or_lu * tri_mask(u_or_lu, 0, False)
    else:
        l_, u_ = l_or_lu, u_or_lu
    return matmul(l_, lower), matmul(upper, u_)


@register_jvp(LU)
def _lu_jvp(node, tangents):
    (t,) = tangents
    bad = _real_only(node, "lu") or _square_only(node, "lu")
    if bad is not None:
        return [bad if o.type.dtype != "int32" else ZERO for o in node.outputs]
    a = node.inputs[0]
    op = node.op
    if op.permute_l:
        p, l_, u = LU()(a)
    elif op.p_indices:
        idx, l_, u = node.outputs
        p = one_hot_rows(idx, a.dtype if a.dtype.startswith("float") else l_.dtype)   # a = P L U, P = I[p]
    else:
        p, l_, u = node.outputs
    dl, du = _lu_tangents(l_, u, matmul(mT(p), t), packed=False)
    if op.permute_l:
        return [matmul(p, dl), du]
    return [ZERO, dl, du]


@register_jvp(LUFactor)
def _lu_factor_jvp(node, tangents):
    from kiln.tensor.linalg.decomp_more import PivotToPermutations

    (t,) = tangents
    bad = _real_only(node, "lu_factor") or _square_only(node, "lu_factor")
    if bad is not None:
        return [bad, ZERO]
    lu_, piv = node.outputs
    # a[p_inv] = L U: the rows of da in the factored order
    pt = one_hot_rows(PivotToPermutations(inverse=True)(piv), lu_.dtype)
    dl, du = _lu_tangents(lu_, lu_, matmul(pt, t), packed=True)
    return [dl + du, ZERO]


def _no_derivative(who: str):
    def rule(node, tangents):
        return [Null(f"{who} ({node.op}) has no gradient (PyTensor defines none either)")] * len(node.outputs)
    return rule


register_jvp(Schur)(_no_derivative("schur"))
register_jvp(QZ)(_no_derivative("qz"))
register_jvp(Eig)(_no_derivative("eig"))
register_jvp(LUFactorTridiagonal)(_no_derivative("tridiagonal_lu_factor"))
register_jvp(SolveLUFactorTridiagonal)(_no_derivative("tridiagonal_lu_solve"))
register_jvp(LUSolve)(_no_derivative("lu_solve of complex systems"))


@register_jvp(Expm)
def _expm_jvp(node, tangents):
    (t,) = tangents
    bad = _real_only(node, "expm")
    if bad is not None:
        return [bad]
    return [ExpmFrechet()(node.inputs[0], t)]


def _block_upper(a, e, zero_e: bool = False):
    """[[a, e], [0, a]] over the last two axes (e=zeros with zero_e)."""
    from kiln.tensor.creation import zeros_like
    from kiln.tensor.join import join

    z = zeros_like(a)
    top = join(-1, a, z if zero_e else e)
    return join(-2, top, join(-1, z, a))


@register_jvp(ExpmFrechet)
def _expm_frechet_jvp(node, tangents):
    a, e = node.inputs
    ta, te = tangents
    bad = _real_only(node, "expm_frechet")
    if bad is not None:
        return [bad]
    out = ZERO if is_zero(te) else ExpmFrechet()(a, te)
    if not is_zero(ta):
        # L_a(e) is the top-right block of expm([[a, e], [0, a]]): differentiate that in a
        from kiln.tensor.shape import shape_i

        n = shape_i(a, -1)
        big = ExpmFrechet()(_block_upper(a, e), _block_upper(ta, None, zero_e=True))
        term = big[..., :n, n:]
        out = term if is_zero(out) else out + term
    return [out]


@register_transpose(ExpmFrechet, linear=(1,))
def _expm_frechet_t(node, cts, mask, ctx):
    a, e = node.inputs
    g = ExpmFrechet()(mT(a), cts[0])
    return [None, ctx.sum_to(g, e, range(e.ndim - 2))]


@register_jvp(SolveSylvester)
def _sylvester_jvp(node, tangents):
    a, b, q = node.inputs
    ta, tb, tq = tangents
    bad = _real_only(node, "solve_sylvester")
    if bad is not None:
        return [bad]
    x = node.outputs[0]
    rhs = ZERO if is_zero(tq) else tq
    for term in ([] if is_zero(ta) else [matmul(ta, x)]) + ([] if is_zero(tb) else [matmul(x, tb)]):
        rhs = -term if is_zero(rhs) else rhs - term
    if is_zero(rhs):
        return [ZERO]
    return [SolveSylvester()(a, b, rhs)]


@register_transpose(SolveSylvester, linear=(2,))
def _sylvester_t(node, cts, mask, ctx):
    a, b, q = node.inputs
    # the adjoint of x -> a x + x b is y -> a^T y + y b^T, so (L^-1)^T = (L^T)^-1
    g = SolveSylvester()(mT(a), mT(b), cts[0])
    return [None, None, ctx.sum_to(g, q, range(q.ndim - 2))]


@register_jvp(SolveDiscreteLyapunov)
def _dlyap_jvp(node, tangents):
    a, q = node.inputs
    ta, tq = tangents
    bad = _real_only(node, "solve_discrete_lyapunov")
    if bad is not None:
        return [bad]
    x = node.outputs[0]
    rhs = ZERO if is_zero(tq) else tq
    if not is_zero(ta):
        term = matmul(matmul(ta, x), mT(a)) + matmul(matmul(a, x), mT(ta))
        rhs = term if is_zero(rhs) else rhs + term
    if is_zero(rhs):
        return [ZERO]
    return [node.op(a, rhs)]


@register_transpose(SolveDiscreteLyapunov, linear=(1,))
def _dlyap_t(node, cts, mask, ctx):
    a, q = node.inputs
    # x - a x a^T = q has the adjoint y - a^T y a
    g = node.op(mT(a), cts[0])
    return [None, ctx.sum_to(g, q, range(q.ndim - 2))]


def _sym(t):
    return 0.5 * (t + mT(t))


@register_jvp(SolveDiscreteARE)
def _dare_jvp(node, tangents):
    a, b, q, r = node.inputs
    ta, tb, tq, tr = tangents
    bad = _real_only(node, "solve_discrete_are")
    if bad is not None:
        return [bad]
    x = node.outputs[0]
    bt = mT(b)
    g = r + matmul(matmul(bt, x), b)
    k = Solve(b_ndim=2)(g, matmul(matmul(bt, x), a))
    ac = a - matmul(b, k)
    m = ZERO
    dac = ZERO
    if not is_zero(ta):
        dac = ta
    if not is_zero(tb):
        term = matmul(tb, k)
        dac = -term if is_zero(dac) else dac - term
    if not is_zero(dac):
        half = matmul(matmul(mT(dac), x), ac)
        m = half + mT(half)
    if not is_zero(tr):
        term = matmul(matmul(mT(k), _sym(tr)), k)
        m = term if is_zero(m) else m + term
    if not is_zero(tq):
        m = _sym(tq) if is_zero(m) else m + _sym(tq)
    if is_zero(m):
        return [ZERO]
    return [SolveDiscreteLyapunov()(mT(ac), m)]


@register_jvp(BlockDiagonal)
def _block_diag_jvp(node, tangents):
    if all(is_zero(t) for t in tangents):
        return [ZERO]
    ins = [instantiate(t, x) for t, x in zip(tangents, node.inputs)]
    return [node.op(*ins)]


@register_transpose(BlockDiagonal, linear=lambda node, mask: True)
def _block_diag_t(node, cts, mask, ctx):
    from kiln.tensor.shape import shape_i

    (ct,) = cts
    out = []
    r = c = 0
    for x, m in zip(node.inputs, mask):
        rows = x.type.shape[-2] if x.type.shape[-2] is not None else shape_i(x, -2)
        cols = x.type.shape[-1] if x.type.shape[-1] is not None else shape_i(x, -1)
        r1, c1 = r + rows, c + cols
        if m:
            out.append(ctx.sum_to(ct[..., r:r1, c:c1], x, range(x.ndim - 2)))
        else:
            out.append(None)
        r, c = r1, c1
    return out
