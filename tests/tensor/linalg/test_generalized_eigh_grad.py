"""Derivatives of the generalized symmetric eigenproblem eigh(a, b) (op GeneralizedEigh):
a v = w b v with v^T b v = I.  Checked against finite differences (verify_grad on functions
that do not depend on the eigenvectors' signs, and a central difference of scipy.linalg.eigh
with the signs aligned), against the eigenvalues-only rule (GeneralizedEigvalsh), against the
standard Eigh rule at b = I, and against the closed form PyTensor's EigvalshGrad computes."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

import kiln
import kiln.tensor as kt
from kiln.gradient import Rop, verify_grad
from kiln.tensor import linalg as la

PY = kiln.Mode(linker="py")


def _problem(n: int, seed: int, junk: bool = True):
    """A symmetric `a` and an SPD `b` (n x n, distinct generalized eigenvalues); with `junk`
    the triangle neither routine reads is overwritten with noise (it must not matter)."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    a = a + a.T
    m = rng.normal(size=(n, n))
    b = m @ m.T + n * np.eye(n)
    if junk:
        a, b = a.copy(), b.copy()
        upper = np.triu_indices(n, 1)
        a[upper] = rng.normal(size=len(upper[0])) * 10   # junk above: read only with lower=True
        b[upper] = rng.normal(size=len(upper[0])) * 10
    return a, b


def _flip(x, lower: bool):
    """The same matrix with its read triangle moved to the other side (for lower=False)."""
    return x if lower else x.T.copy()


# scalar-valued (or array) functions of (w, V) that do not change when a column of V flips sign
def _weighted_values(w, v):
    return kt.sum(w * kt.arange(1.0, 6.0)[: w.shape[-1]])


def _squared_vectors(w, v):
    c = kt.constant(np.linspace(-1.0, 2.0, 5))
    return kt.matmul(v * v, c[: v.shape[-1]])


def _projector(w, v):
    # v_0 v_0^T: the first eigenvector alone, up to its sign
    return kt.outer(v[:, 0], v[:, 0])


def _reconstruction(w, v):
    # V W V^T = b^-1 a b^-1: every eigenpair at once
    return kt.matmul(v * kt.expand_dims(w, -2), kt.swapaxes(v, -1, -2))


FUNCTIONS = [_weighted_values, _squared_vectors, _projector, _reconstruction]


@pytest.mark.parametrize("n", [2, 3, 4, 5])
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.__name__.strip("_"))
def test_verify_grad(n, lower, fn):
    a, b = _problem(n, seed=n)
    verify_grad(lambda p, q: fn(*la.eigh(p, q, lower=lower)), [_flip(a, lower), _flip(b, lower)],
                n_tests=1, rng=np.random.default_rng(n + 10 * lower))


def test_verify_grad_batched_and_broadcast_b():
    """A stack of a's with one shared b: b's gradient sums over the stack."""
    rng = np.random.default_rng(7)
    a = rng.normal(size=(2, 3, 3))
    a = a + np.swapaxes(a, -1, -2)
    _, b = _problem(3, seed=8)
    verify_grad(lambda p, q: _reconstruction(*la.eigh(p, q)) + la.eigh(p, q)[1] ** 2,
                [a, b], rng=np.random.default_rng(9))


def test_verify_grad_float32():
    a, b = _problem(3, seed=11, junk=False)
    verify_grad(lambda p, q: la.eigh(p, q)[1] ** 2, [a.astype("float32"), b.astype("float32")],
                rng=np.random.default_rng(12))


def test_gradient_is_zero_on_the_unread_triangle():
    a, b = _problem(4, seed=13)
    x, y = kt.dmatrix("a"), kt.dmatrix("b")
    for lower in (True, False):
        w, v = la.eigh(x, y, lower=lower)
        cost = kt.sum(w ** 2) + kt.sum(kt.matmul(v * v, kt.arange(4.0)))
        ga, gb = kiln.function([x, y], kiln.grad(cost, [x, y]), mode=PY)(_flip(a, lower), _flip(b, lower))
        unread = np.triu_indices(4, 1) if lower else np.tril_indices(4, -1)
        assert np.all(ga[unread] == 0) and np.all(gb[unread] == 0)
        assert np.abs(ga).max() > 0.1 and np.abs(gb).max() > 0.01


def _aligned_eigh(a, b, lower, ref_v):
    """scipy.linalg.eigh(a, b) with each eigenvector's sign chosen to agree with ref_v."""
    w, v = sla.eigh(a, b, lower=lower)
    if ref_v is not None:
        v = v * np.sign(np.sum(v * ref_v, axis=0))
    return w, v


@pytest.mark.parametrize("lower", [True, False])
def test_rop_matches_central_difference(lower):
    """The jvp pass alone (Rop) on w and V, along non-symmetric tangents of a and b."""
    a, b = _problem(4, seed=21)
    a, b = _flip(a, lower), _flip(b, lower)
    rng = np.random.default_rng(22)
    da, db = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    x, y, tx, ty = kt.dmatrix("a"), kt.dmatrix("b"), kt.dmatrix("ta"), kt.dmatrix("tb")
    w, v = la.eigh(x, y, lower=lower)
    f = kiln.function([x, y, tx, ty], Rop([w, v], [x, y], [tx, ty]), mode=PY)
    got_w, got_v = f(a, b, da, db)
    w0, v0 = sla.eigh(a, b, lower=lower)
    eps = 1e-6
    wp, vp = _aligned_eigh(a + eps * da, b + eps * db, lower, v0)
    wm, vm = _aligned_eigh(a - eps * da, b - eps * db, lower, v0)
    np.testing.assert_allclose(got_w, (wp - wm) / (2 * eps), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got_v, (vp - vm) / (2 * eps), rtol=1e-6, atol=1e-7)
    # one tangent at a time (the rule's branches with a symbolic zero tangent)
    fa = kiln.function([x, y, tx], Rop([w, v], x, tx), mode=PY)
    fb = kiln.function([x, y, ty], Rop([w, v], y, ty), mode=PY)
    got_a, got_b = fa(a, b, da), fb(a, b, db)
    for k in range(2):
        np.testing.assert_allclose(got_a[k] + got_b[k], (got_w, got_v)[k], rtol=1e-10, atol=1e-12)


def test_eigenvalue_gradient_agrees_with_eigvalsh_and_closed_form():
    """grad of sum(c * w) through eigh(a, b) == through eigvalsh(a, b) == PyTensor's closed form
    (gA = V diag(c) V^T, gB = -V diag(c w) V^T, folded onto the read triangle)."""
    a, b = _problem(5, seed=31)
    c = np.linspace(0.5, 3.0, 5)
    x, y = kt.dmatrix("a"), kt.dmatrix("b")
    for lower in (True, False):
        aa, bb = _flip(a, lower), _flip(b, lower)
        via_eigh = kiln.grad(kt.sum(la.eigh(x, y, lower=lower)[0] * c), [x, y])
        via_vals = kiln.grad(kt.sum(la.eigvalsh(x, y, lower=lower) * c), [x, y])
        got = kiln.function([x, y], via_eigh + via_vals, mode=PY)(aa, bb)
        w, v = sla.eigh(aa, bb, lower=lower)
        tri0 = np.tril if lower else np.triu
        tri1 = (lambda m: np.triu(m, 1)) if lower else (lambda m: np.tril(m, -1))
        ga, gb = (v * c) @ v.T, -(v * (c * w)) @ v.T
        want = [tri0(g) + tri1(g).T for g in (ga, gb)]
        for k in range(2):
            np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(got[k + 2], want[k], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("degenerate", [False, True])
def test_identity_b_agrees_with_standard_eigh(degenerate):
    """With b = I the problem is eigh(a): the gradient with respect to a is Eigh's, including
    where repeated eigenvalues make the eigenvector derivative non-finite."""
    rng = np.random.default_rng(41)
    if degenerate:
        # diagonal, so both LAPACK routines return the repeated eigenvalue exactly twice
        a = np.diag([1.0, 2.0, 2.0, 5.0])
    else:
        q, _ = np.linalg.qr(rng.normal(size=(4, 4)))
        a = (q * np.array([1.0, 2.0, 3.5, 5.0])) @ q.T
        a = (a + a.T) / 2
    x, y = kt.dmatrix("a"), kt.dmatrix("b")
    c = kt.constant(np.arange(1.0, 5.0))
    costs = [lambda w, v: kt.sum(w * c), lambda w, v: kt.sum(kt.matmul(v * v, c))]
    for cost in costs:
        g_gen = kiln.grad(cost(*la.eigh(x, y)), x)
        g_std = kiln.grad(cost(*la.eigh(x)), x)
        got, want = kiln.function([x, y], [g_gen, g_std], mode=PY, on_unused_input="ignore")(a, np.eye(4))
        np.testing.assert_array_equal(np.isfinite(got), np.isfinite(want))
        fin = np.isfinite(want)
        np.testing.assert_allclose(got[fin], want[fin], rtol=1e-9, atol=1e-10)
    if degenerate:
        # eigenvalues stay differentiable (their rule divides by nothing); vectors do not
        assert np.isfinite(got).sum() < got.size


def test_second_order():
    """A gradient of a gradient: the jvp graph itself is differentiated (forward over reverse)."""
    a, b = _problem(3, seed=51, junk=False)
    verify_grad(lambda p, q: kiln.grad(kt.sum(la.eigh(p, q)[0] ** 3) + kt.sum(la.eigh(p, q)[1] ** 4), p),
                [a, b], n_tests=1, rng=np.random.default_rng(52))


def test_shapes_when_a_and_b_differ_in_batch_rank():
    """The gradient graph asks for the outputs' shapes: a stack of a's with one b (and static
    batch lengths from either side) must give NumPy's broadcast batch shape."""
    w, v = la.eigh(kt.tensor("a", shape=(1, 3, 3)), kt.tensor("b", shape=(4, 3, 3)))
    assert w.type.shape == (4, 3) and v.type.shape == (4, 3, 3)
    x, y = kt.tensor3("a"), kt.dmatrix("b")
    w, v = la.eigh(x, y)
    a = np.stack([np.diag([1.0, 2.0, 3.0])] * 2)
    shapes = kiln.function([x, y], [w.shape, v.shape])(a, np.eye(3))
    assert [tuple(s) for s in shapes] == [(2, 3), (2, 3, 3)]


def test_gradient_under_the_default_mode():
    """The same gradient through the default (rewritten, C-linked) pipeline as the python linker."""
    a, b = _problem(4, seed=61)
    x, y = kt.dmatrix("a"), kt.dmatrix("b")
    w, v = la.eigh(x, y)
    g = kiln.grad(kt.sum(w ** 2) + kt.sum(_reconstruction(w, v) ** 2), [x, y])
    got = kiln.function([x, y], g)(a, b)
    want = kiln.function([x, y], g, mode=PY)(a, b)
    for k in range(2):
        np.testing.assert_allclose(got[k], want[k], rtol=1e-10, atol=1e-12)
