"""Derivatives of kiln.tensor.linalg: every differentiable op passes verify_grad (finite
differences along random directions), and every op linear in an input passes the dot-product
test <ct, L t> = <L^T ct, t> with L^T from kiln's transposer."""
from __future__ import annotations

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.gradient import Rop, verify_grad
from kiln.tensor import linalg as la
from tests.helpers import dot_product_test

PY = kiln.Mode(linker="py")
RNG = np.random.default_rng(42)
A = RNG.normal(size=(4, 4))
S = A @ A.T + 4 * np.eye(4)               # symmetric positive definite, distinct eigenvalues
TALL = RNG.normal(size=(5, 3))
B2 = RNG.normal(size=(4, 2))
B1 = RNG.normal(size=4)
BATCH = RNG.normal(size=(2, 3, 3)) + 3 * np.eye(3)
SBATCH = np.stack([S[:3, :3], 2 * S[1:, 1:]])
L = np.linalg.cholesky(S)


def _uv(fn):
    """A sign-invariant function of an SVD (U, Vh columns/rows are unique up to sign)."""
    return lambda a: fn(*la.svd(a, full_matrices=False))


def _full(fn):
    """A function of a full SVD (full_matrices=True)."""
    return lambda a: fn(*la.svd(a))


GRAD_CASES = [
    ("inv", la.inv, [A]),
    ("inv_batched", la.inv, [BATCH]),
    ("det", la.det, [A]),
    ("det_batched", la.det, [BATCH]),
    ("slogdet", lambda a: la.slogdet(a)[1], [A]),
    ("slogdet_batched", lambda a: la.slogdet(a)[1], [BATCH]),
    ("solve_mat", la.solve, [A, B2]),
    ("solve_vec", la.solve, [A, B1]),
    ("solve_sym", lambda a, b: la.solve(a, b, assume_a="sym"), [S, B2]),
    ("solve_pos_lower", lambda a, b: la.solve(a, b, assume_a="pos", lower=True), [S, B1]),
    ("solve_batched_vec", la.solve, [BATCH, B1[:3]]),
    ("solve_batched_bcast", la.solve, [BATCH, RNG.normal(size=(1, 3, 2))]),
    ("solve_triangular_lower", lambda a, b: la.solve_triangular(a, b, lower=True), [S, B2]),
    ("solve_triangular_upper_T", lambda a, b: la.solve_triangular(a, b, trans="T"), [S, B1]),
    ("solve_triangular_unit", lambda a, b: la.solve_triangular(a, b, lower=True, unit_diagonal=True), [S, B2]),
    ("solve_triangular_batched", lambda a, b: la.solve_triangular(a, b, lower=True), [BATCH, B1[:3]]),
    ("cholesky_lower", la.cholesky, [S]),
    ("cholesky_upper", lambda a: la.cholesky(a, lower=False), [S]),
    ("cholesky_batched", la.cholesky, [SBATCH]),
    ("cho_solve", lambda c, b: la.cho_solve((c, True), b), [L, B2]),
    ("cho_solve_upper", lambda c, b: la.cho_solve((c, False), b), [L.T.copy(), B1]),
    ("eigh_values", lambda a: la.eigh(a)[0], [S]),
    ("eigh_vectors", lambda a: la.eigh(a)[1] ** 2, [S]),
    ("eigh_upper_batched", lambda a: la.eigh(a, UPLO="U")[1] ** 2, [SBATCH]),
    ("eigvalsh", la.eigvalsh, [S]),
    ("eigvalsh_upper", lambda a: la.eigvalsh(a, UPLO="U"), [SBATCH]),
    ("svd_s", lambda a: la.svd(a, compute_uv=False), [TALL]),
    ("svd_s_wide_batched", lambda a: la.svd(a, compute_uv=False), [RNG.normal(size=(2, 3, 5))]),
    ("svd_u_tall", _uv(lambda u, s, vh: u ** 2), [TALL]),
    ("svd_vh_wide", _uv(lambda u, s, vh: vh ** 2), [TALL.T.copy()]),
    ("svd_polar_tall", _uv(lambda u, s, vh: kt.matmul(u, vh)), [TALL]),
    ("svd_full_square", _full(lambda u, s, vh: kt.matmul(u * s, vh) + u ** 2), [A]),
    ("svd_full_tall_s_and_vh", _full(lambda u, s, vh: s.sum() + (vh ** 2).sum()), [TALL]),
    ("qr_q", lambda a: la.qr(a, mode="economic")[0], [TALL]),
    ("qr_r", lambda a: la.qr(a, mode="reduced")[1], [TALL]),
    ("qr_r_mode", lambda a: la.qr(a, mode="r"), [TALL]),
    ("qr_complete_square", lambda a: la.qr(a, mode="complete")[0], [A]),
    ("qr_batched", lambda a: la.qr(a, mode="economic")[0], [RNG.normal(size=(2, 4, 3))]),
    ("pinv_tall", la.pinv, [TALL]),
    ("pinv_wide", la.pinv, [TALL.T.copy()]),
    ("lstsq_x", lambda a, b: la.lstsq(a, b)[0], [TALL, RNG.normal(size=(5, 2))]),
    ("lstsq_x_vec", lambda a, b: la.lstsq(a, b)[0], [TALL, RNG.normal(size=5)]),
    ("lstsq_residuals", lambda a, b: la.lstsq(a, b)[1], [TALL, RNG.normal(size=(5, 2))]),
    ("lstsq_residuals_vec", lambda a, b: la.lstsq(a, b)[1], [TALL, RNG.normal(size=5)]),
    ("lstsq_s", lambda a, b: la.lstsq(a, b)[3], [TALL, RNG.normal(size=5)]),
    ("norm_default", la.norm, [A]),
    ("norm_vec_axis", lambda a: la.norm(a, axis=1, keepdims=True), [A]),
    ("norm_vec_p3", lambda a: la.norm(a, 3, axis=0), [A]),
    ("norm_vec_1", lambda a: la.norm(a, 1, axis=0), [A]),
    ("norm_nuc", lambda a: la.norm(a, "nuc"), [TALL]),
    ("norm_2", lambda a: la.norm(a, 2), [TALL]),
    ("norm_minus2", lambda a: la.norm(a, -2), [TALL]),
    ("norm_1", lambda a: la.norm(a, 1), [TALL]),
    ("norm_inf_batched", lambda a: la.norm(a, INF, axis=(1, 2)), [BATCH]),
    ("matrix_power_3", lambda a: la.matrix_power(a, 3), [A]),
    ("matrix_power_5_batched", lambda a: la.matrix_power(a, 5), [BATCH / 3]),
    ("matrix_power_neg", lambda a: la.matrix_power(a, -2), [BATCH]),
    ("kron", la.kron, [TALL, A]),
    ("kron_mixed_rank", la.kron, [B1, BATCH]),
    ("einsum_matmul", lambda a, b: la.einsum("ij,jk->ik", a, b), [A, B2]),
    ("einsum_batched", lambda a, b: la.einsum("bij,bjk->bik", a, b), [BATCH, BATCH]),
    ("einsum_trace", lambda a: la.einsum("ii", a), [A]),
    ("einsum_diag_outer", lambda a, b: la.einsum("ii,j->ij", a, b), [A, B1]),
    ("einsum_three", lambda a, b, c: la.einsum("ij,jk,kl->il", a, b, c), [A, B2, B2.T.copy()]),
]
INF = np.inf


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_verify_grad(case):
    name, fn, pt = case
    verify_grad(fn, [np.array(p) for p in pt], n_tests=2, rng=np.random.default_rng(len(name)))


@pytest.mark.parametrize("name,fn,pt", [
    ("inv", la.inv, [A.astype("float32")]),
    ("cholesky", la.cholesky, [S.astype("float32")]),
    ("solve", la.solve, [A.astype("float32"), B2.astype("float32")]),
])
def test_verify_grad_float32(name, fn, pt):
    verify_grad(fn, pt, rng=np.random.default_rng(3))


def test_forward_mode_matches_finite_differences():
    """Rop (the jvp pass alone) on cholesky and eigh, against a central difference."""
    a, t = kt.dmatrix("a"), kt.dmatrix("t")
    outs = [la.cholesky(a), la.eigh(a)[0], la.det(a)]
    f = kiln.function([a, t], [Rop(o, a, t) for o in outs], mode=PY)
    g = kiln.function([a], outs, mode=PY)
    tv = RNG.normal(size=(4, 4))
    eps = 1e-6
    hi, lo = g(S + eps * tv), g(S - eps * tv)
    for got, h, lw in zip(f(S, tv), hi, lo):
        np.testing.assert_allclose(got, (h - lw) / (2 * eps), rtol=1e-5, atol=1e-6)


def test_cholesky_gradient_of_symmetric_input_graph():
    """Through a symmetric construction a = x x^T + I the gradient matches finite differences
    of the whole function (the usual covariance use)."""
    def f(x):
        c = la.cholesky(kt.matmul(x, x.T) + kt.eye(3))
        return kt.sum(kt.log(la.einsum("ii->i", c)))
    verify_grad(f, [RNG.normal(size=(3, 3))], rng=np.random.default_rng(5))


# -- dot-product tests for the linear maps ------------------------------------------------------

def C(*shape):
    """A random constant of `shape` (seeded by the shape)."""
    return kt.constant(np.random.default_rng(sum(shape) + 3).normal(size=shape))

CS = kt.constant(S)
CB = kt.constant(BATCH)

LINEAR = [
    ("solve_b_mat", lambda t: la.solve(kt.constant(A), t), [(4, 2)]),
    ("solve_b_vec", lambda t: la.solve(kt.constant(A), t), [(4,)]),
    ("solve_b_pos", lambda t: la.solve(CS, t, assume_a="pos"), [(4, 3)]),
    ("solve_b_sym_lower", lambda t: la.solve(CS, t, assume_a="sym", lower=True), [(4,)]),
    ("solve_b_batched_vec", lambda t: la.solve(CB, t), [(3,)]),
    ("solve_b_batched_bcast", lambda t: la.solve(CB, t), [(1, 3, 2)]),
    ("solve_triangular_b", lambda t: la.solve_triangular(CS, t, lower=True), [(4, 2)]),
    ("solve_triangular_b_T_unit", lambda t: la.solve_triangular(CS, t, trans=1, unit_diagonal=True), [(4,)]),
    ("solve_triangular_b_batched", lambda t: la.solve_triangular(CB, t), [(3, 2)]),
    ("cho_solve_b", lambda t: la.cho_solve((kt.constant(L), True), t), [(4, 2)]),
    ("kron_left", lambda t: la.kron(t, C(2, 3)), [(3, 2)]),
    ("kron_right", lambda t: la.kron(C(3,), t), [(2, 2)]),
    ("einsum_left", lambda t: la.einsum("bij,bjk->bik", t, C(2, 4, 5)), [(2, 3, 4)]),
    ("einsum_right", lambda t: la.einsum("ij,jk->ki", C(3, 4), t), [(4, 2)]),
    ("einsum_trace_diag", lambda t: la.einsum("iij->j", t), [(3, 3, 2)]),
    ("einsum_three", lambda t: la.einsum("ij,jk,kl->il", C(2, 3), t, C(4, 2)), [(3, 4)]),
    ("matrix_power_0", lambda t: la.matrix_power(t, 1) * 2.0, [(3, 3)]),
    ("inv_jvp_form", lambda t: -kt.matmul(kt.matmul(la.inv(CS), t), la.inv(CS)), [(4, 4)]),
]


@pytest.mark.parametrize("case", LINEAR, ids=[c[0] for c in LINEAR])
def test_dot_product(case):
    name, fn, shapes = case
    dot_product_test(fn, shapes, seed=len(name) + 1, tol=1e-9, mode=PY)


def test_solve_is_registered_linear_in_b_only():
    from kiln.gradient.registry import linear_ok

    node = la.solve(kt.dmatrix("a"), kt.dvector("b")).owner
    assert linear_ok(node, [False, True])
    assert not linear_ok(node, [True, False])


@pytest.mark.parametrize("name,fn,pt", [
    ("slogdet", lambda a: kiln.grad(la.slogdet(a)[1], a), [A]),
    ("cholesky_logdet", lambda a: kiln.grad(kt.sum(kt.log(la.einsum("ii->i", la.cholesky(a)))), a), [S]),
    ("solve", lambda a, b: kiln.grad(kt.sum(la.solve(a, b) ** 2), [a, b])[0], [A, B2]),
    ("eigvalsh", lambda a: kiln.grad(kt.sum(la.eigvalsh(a) ** 3), a), [S]),
    ("nuclear_norm", lambda a: kiln.grad(la.norm(a, "nuc"), a), [TALL]),
    ("qr", lambda a: kiln.grad(kt.sum(la.qr(a, mode="economic")[1] ** 2), a), [TALL]),
])
def test_second_order(name, fn, pt):
    """Gradients of gradients: the reverse graphs are made of ops that have jvp rules too."""
    verify_grad(fn, pt, rng=np.random.default_rng(7))


def test_logdet_hessian_matches_closed_form():
    """d^2 log|det A| [E, F] = -tr(A^-1 E A^-1 F): the Hessian-vector product against it."""
    from kiln.gradient import hessian_vector_product

    a, v = kt.dmatrix("a"), kt.dmatrix("v")
    hv = hessian_vector_product(la.slogdet(a)[1], a, v)
    E = RNG.normal(size=(4, 4))
    got = kiln.function([a, v], hv, mode=PY)(A, E)
    Ai = np.linalg.inv(A)
    np.testing.assert_allclose(got, -(Ai @ E @ Ai).T, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name,fn,pt", [
    ("solve_b_ndim_1", lambda a, b: la.solve(a, b, b_ndim=1), [BATCH, RNG.normal(size=(2, 3))]),
    ("solve_b_ndim_1_bcast", lambda a, b: la.solve(a, b, assume_a="pos", b_ndim=1), [SBATCH, RNG.normal(size=3)]),
    ("solve_triangular_b_ndim_1", lambda a, b: la.solve_triangular(a, b, lower=True, b_ndim=1),
     [A + 4 * np.eye(4), RNG.normal(size=(3, 4))]),
    ("solve_transposed", lambda a, b: la.solve(a, b, transposed=True), [A, B2]),
])
def test_verify_grad_b_ndim(name, fn, pt):
    verify_grad(fn, pt, rng=np.random.default_rng(11))


@pytest.mark.parametrize("name,fn,shape", [
    ("solve_b_ndim_1", lambda t: la.solve(CB, t, b_ndim=1), (2, 3)),
    ("solve_b_ndim_1_bcast", lambda t: la.solve(CB, t, b_ndim=1), (1, 3)),
    ("solve_triangular_b_ndim_1", lambda t: la.solve_triangular(CS, t, b_ndim=1), (5, 4)),
])
def test_dot_product_b_ndim(name, fn, shape):
    test_dot_product((name, fn, [shape]))
