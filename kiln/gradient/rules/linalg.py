"""Linear algebra: jvp rules for kiln.tensor.linalg's ops, and transposes for the solves (linear
in b).

Every tangent is written as primal coefficients x tangent (matmuls with primal factors,
elementwise products with primal masks), so reverse mode transposes it with the matmul, mul,
sum and dimshuffle rules.  Routines that read one triangle of a symmetric input (cholesky,
eigh, solve with assume_a "sym"/"pos") see the symmetric matrix built from that triangle, so
their tangent is taken along that matrix's direction: finite differences with any (even
non-symmetric) perturbation agree.

Conditions (where the math stops defining a derivative): det/inv/solve need a nonsingular
matrix; eigh/eigvalsh distinct eigenvalues; svd distinct nonzero singular values, with U/Vh
differentiable for full_matrices=False or square inputs; qr m >= n and full column rank (and
m == n for mode "complete"); pinv/lstsq a rank that is constant near the point (full rank).
"""
from __future__ import annotations

import kiln.tensor.math as km
from kiln.gradient.registry import register_jvp, register_transpose
from kiln.gradient.rules.helpers import instantiate
from kiln.gradient.values import ZERO, is_zero
from kiln.tensor.blas import matmul
from kiln.tensor.linalg._util import diagonal, eye_mask, mT, sym_from_triangle, tri_mask
from kiln.tensor.linalg.decomp import (
    QR,
    SVD,
    Cholesky,
    Det,
    Eigh,
    Eigvalsh,
    GeneralizedEigh,
    GeneralizedEigvalsh,
    Lstsq,
    MatrixInverse,
    MatrixPinv,
    SLogDet,
)
from kiln.tensor.linalg.solve import Solve, SolveTriangular
from kiln.tensor.shape import expand_dims


def _col(v):
    """(..., n) -> (..., 1, n): a row vector broadcasting over rows."""
    return expand_dims(v, v.ndim - 1)


def _row(v):
    """(..., n) -> (..., n, 1)."""
    return expand_dims(v, v.ndim)


@register_jvp(MatrixInverse)
def _inv_jvp(node, tangents):
    (t,) = tangents
    x = node.outputs[0]
    return [-matmul(matmul(x, t), x)]


@register_jvp(Det)
def _det_jvp(node, tangents):
    (t,) = tangents
    a = node.inputs[0]
    # d det = det * tr(A^-1 dA) = det * sum(A^-T * dA)
    coef = mT(MatrixInverse()(a))
    return [node.outputs[0] * km.sum(coef * t, axis=(-2, -1))]


@register_jvp(SLogDet)
def _slogdet_jvp(node, tangents):
    (t,) = tangents
    coef = mT(MatrixInverse()(node.inputs[0]))
    return [ZERO, km.sum(coef * t, axis=(-2, -1))]


def _matvec(m, x, vector: bool):
    return matmul(m, x) if not vector else km.sum(m * _col(x), axis=-1)


def _vector_rhs(node) -> bool:
    """Whether the solve at `node` reads b as (a stack of) vectors."""
    b_ndim = node.op.b_ndim
    return b_ndim == 1 or (b_ndim is None and node.inputs[1].ndim == 1)


def _with_core(op, vector: bool):
    """The same solve with b's core rank fixed (a tangent of a vector b may gain batch axes)."""
    props = {p: getattr(op, p) for p in op.__props__}
    props["b_ndim"] = 1 if vector else 2
    return type(op)(**props)


@register_jvp(Solve)
def _solve_jvp(node, tangents):
    a, b = node.inputs
    ta, tb = tangents
    x = node.outputs[0]
    vector = _vector_rhs(node)
    rhs = instantiate(tb, b) if is_zero(ta) else None
    if not is_zero(ta):
        if node.op.assume_a != "gen":
            ta = sym_from_triangle(ta, node.op.lower)
        ax = _matvec(ta, x, vector)
        rhs = -ax if is_zero(tb) else tb - ax
    return [_with_core(node.op, vector)(a, rhs)]


@register_transpose(Solve, linear=(1,))
def _solve_t(node, cts, mask, ctx):
    a, b = node.inputs
    (ct,) = cts
    op = node.op
    # (A^-1)^T = (A^T)^-1; for sym/pos the solved matrix is symmetric already
    vector = _vector_rhs(node)
    g = _with_core(op, vector)(mT(a) if op.assume_a == "gen" else a, ct)
    return [None, _sum_batch(g, b, ctx, 1 if vector else 2)]


def _sum_batch(g, b, ctx, core: int):
    """Sum a cotangent over the batch axes that b was broadcast along."""
    return ctx.sum_to(g, b, range(b.ndim - core))


def _tri_part(t, op):
    """The part of a tangent that solve_triangular reads."""
    k = 0 if not op.unit_diagonal else (-1 if op.lower else 1)
    return t * tri_mask(t, k, op.lower)


@register_jvp(SolveTriangular)
def _solve_tri_jvp(node, tangents):
    a, b = node.inputs
    ta, tb = tangents
    op = node.op
    x = node.outputs[0]
    rhs = instantiate(tb, b)
    if not is_zero(ta):
        ta = _tri_part(ta, op)
        ax = _matvec(mT(ta) if op.trans else ta, x, _vector_rhs(node))
        rhs = -ax if is_zero(tb) else tb - ax
    return [_with_core(op, _vector_rhs(node))(a, rhs)]


@register_transpose(SolveTriangular, linear=(1,))
def _solve_tri_t(node, cts, mask, ctx):
    a, b = node.inputs
    op = node.op
    vector = _vector_rhs(node)
    g = SolveTriangular(op.lower, 1 - op.trans, op.unit_diagonal, 1 if vector else 2)(a, cts[0])
    return [None, _sum_batch(g, b, ctx, 1 if vector else 2)]


def _phi(x):
    """Lower triangle with half the diagonal (the Cholesky tangent's shape)."""
    return x * (tri_mask(x, -1, True) + 0.5 * eye_mask(x))


@register_jvp(Cholesky)
def _cholesky_jvp(node, tangents):
    (t,) = tangents
    lower = node.op.lower
    c = node.outputs[0]
    L = c if lower else mT(c)
    t = sym_from_triangle(t, lower)
    # L^-1 t L^-T as two triangular solves (cheaper and more accurate than forming L^-1)
    solve_l = SolveTriangular(lower=True, b_ndim=2)
    y = solve_l(L, t)
    x = mT(solve_l(L, mT(y)))
    dl = matmul(L, _phi(x))
    return [dl if lower else mT(dl)]


@register_jvp(Eigh)
def _eigh_jvp(node, tangents):
    (t,) = tangents
    w, v = node.outputs
    t = sym_from_triangle(t, node.op.UPLO == "L")
    p = matmul(matmul(mT(v), t), v)
    i = eye_mask(p)
    # F[i, j] = 1 / (w_j - w_i) off the diagonal, 0 on it (no division by zero)
    f = (1.0 - i) / (_col(w) - _row(w) + i)
    return [diagonal(p), matmul(v, f * p)]


@register_jvp(Eigvalsh)
def _eigvalsh_jvp(node, tangents):
    (t,) = tangents
    _, v = Eigh(node.op.UPLO)(node.inputs[0])
    t = sym_from_triangle(t, node.op.UPLO == "L")
    return [km.sum(v * matmul(t, v), axis=-2)]


@register_jvp(GeneralizedEigvalsh)
def _generalized_eigvalsh_jvp(node, tangents):
    # a v = w b v with v^T b v = I: dw_i = v_i^T (da - w_i db) v_i
    ta, tb = tangents
    a, b = node.inputs
    w, v = GeneralizedEigh(node.op.lower)(a, b)
    out = ZERO
    if not is_zero(ta):
        out = km.sum(v * matmul(sym_from_triangle(ta, node.op.lower), v), axis=-2)
    if not is_zero(tb):
        db = -w * km.sum(v * matmul(sym_from_triangle(tb, node.op.lower), v), axis=-2)
        out = db if is_zero(out) else out + db
    return [out]


@register_jvp(SVD)
def _svd_jvp(node, tangents):
    (t,) = tangents
    a = node.inputs[0]
    op = node.op
    if not op.compute_uv:
        u, s, vh = SVD(False, True)(a)
        return [km.sum(u * matmul(t, mT(vh)), axis=-2)]
    u, s, vh = SVD(False, True)(a) if op.full_matrices else node.outputs
    v = mT(vh)
    ds_mat = matmul(matmul(mT(u), t), v)          # (..., k, k)
    ds = diagonal(ds_mat)
    i = eye_mask(ds_mat)
    sr, sc = _col(s), _row(s)                      # s_j across columns, s_i down rows
    f = (1.0 - i) / ((sr + sc) * (sr - sc) + i)    # 1 / (s_j^2 - s_i^2) off the diagonal
    dss = ds_mat * sr
    sds = sc * ds_mat
    du = matmul(u, f * (dss + mT(dss)))
    dv = matmul(v, f * (sds + mT(sds)))
    # components outside the span of U (tall inputs) or of V (wide inputs)
    dav = matmul(t, v)
    du = du + (dav - matmul(u, matmul(mT(u), dav))) / sr
    dau = matmul(mT(t), u)
    dv = dv + (dau - matmul(v, matmul(vh, dau))) / sr
    if op.full_matrices:
        # the first k columns of a full U (V) are the reduced ones; the others span the
        # complement and are not unique: their tangent is taken as zero (documented)
        from kiln.tensor.creation import eye
        from kiln.tensor.shape import shape_i

        uo, _, vho = node.outputs
        k = shape_i(s, -1)
        du = matmul(du, eye(k, shape_i(uo, -1), dtype=uo.dtype))
        dv = matmul(dv, eye(k, shape_i(vho, -1), dtype=vho.dtype))
    return [du, ds, mT(dv)]


@register_jvp(QR)
def _qr_jvp(node, tangents):
    (t,) = tangents
    a = node.inputs[0]
    if node.op.mode == "r":
        q, r = QR("reduced")(a)
    else:
        q, r = node.outputs
    dx_rinv = matmul(t, MatrixInverse()(r))
    qt = matmul(mT(q), dx_rinv)
    low = qt * tri_mask(qt, -1, True)
    do = low - mT(low)
    dq = matmul(q, do - qt) + dx_rinv
    dr = matmul(qt - do, r)
    return [dr] if node.op.mode == "r" else [dq, dr]


def _pinv_tangent(a, p, t):
    """d pinv(A) along t, for a constant rank: -P t P + P P^T t^T (I - A P) + (I - P A) t^T P^T P."""
    ap = matmul(a, p)
    pa = matmul(p, a)
    i_ap = eye_mask(ap) - ap
    i_pa = eye_mask(pa) - pa
    tT = mT(t)
    return (-matmul(matmul(p, t), p) + matmul(matmul(matmul(p, mT(p)), tT), i_ap)
            + matmul(matmul(i_pa, tT), matmul(mT(p), p)))


@register_jvp(MatrixPinv)
def _pinv_jvp(node, tangents):
    (t,) = tangents
    return [_pinv_tangent(node.inputs[0], node.outputs[0], t)]


@register_jvp(Lstsq)
def _lstsq_jvp(node, tangents):
    a, b = node.inputs
    ta, tb = tangents
    x, res = node.outputs[:2]
    p = MatrixPinv(node.op.rcond)(a)   # the same cut-off of small singular values
    vector = b.ndim == 1
    dx = None
    if not is_zero(ta):
        dp = _pinv_tangent(a, p, ta)
        dx = _matvec(dp, b, vector)
    if not is_zero(tb):
        term = _matvec(p, tb, vector)
        dx = term if dx is None else dx + term
    # residuals = sum((b - a x)^2, axis=0); with a^T r = 0 at the optimum the x tangent drops out
    r = b - _matvec(a, x, vector)
    dr = instantiate(tb, b)
    if not is_zero(ta):
        dr = dr - _matvec(ta, x, vector)
    dres = 2.0 * km.sum(r * dr, axis=0)
    if vector:
        dres = dres.dimshuffle("x")
    from kiln.tensor.shape import shape_i
    dres = dres[:shape_i(res, 0)]        # empty where NumPy gives no residuals
    # singular values of a
    ds = ZERO
    if not is_zero(ta):
        u, _, vh = SVD(False, True)(a)
        ds = km.sum(u * matmul(ta, mT(vh)), axis=-2)
    return [dx, dres, ZERO, ds]


# -- generalized symmetric eigenproblem: eigh(a, b) ---------------------------------------------
# a V = b V W with V^T b V = I.  Writing dV = V C and P_a = V^T da V, P_b = V^T db V:
#   W C - C W = P_b W - P_a + dW         (V^T of the differentiated equation; V^T a V = W)
#   C + C^T = -P_b                       (the differentiated normalization)
# so with Q = P_a - P_b W (Q_ij = P_a_ij - w_j P_b_ij):
#   dw_i = Q_ii,   C_ij = Q_ij / (w_j - w_i) (i != j),   C_ii = -P_b_ii / 2.
# As for Eigh, equal eigenvalues give an infinite F entry (the derivative does not exist there).

@register_jvp(GeneralizedEigh)
def _generalized_eigh_jvp(node, tangents):
    ta, tb = tangents
    w, v = node.outputs
    lower = node.op.lower
    vT = mT(v)
    q = pb = None
    if not is_zero(ta):
        q = matmul(matmul(vT, sym_from_triangle(ta, lower)), v)
    if not is_zero(tb):
        pb = matmul(matmul(vT, sym_from_triangle(tb, lower)), v)
        q = -pb * _col(w) if q is None else q - pb * _col(w)
    i = eye_mask(q)
    f = (1.0 - i) / (_col(w) - _row(w) + i)   # F[i, j] = 1 / (w_j - w_i), 0 on the diagonal
    c = f * q if pb is None else f * q - 0.5 * (i * pb)
    return [diagonal(q), matmul(v, c)]
# -- end of generalized eigh ---------------------------------------------------------------------
