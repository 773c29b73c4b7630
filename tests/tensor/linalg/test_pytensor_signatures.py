"""PyTensor's signatures and defaults for qr, cholesky, eigh and solve's structure names,
checked against SciPy."""
import numpy as np
import pytest
import scipy.linalg as sl

import kiln
import kiln.tensor as kt

la = kt.linalg
RNG = np.random.default_rng(5)
TALL = RNG.normal(size=(5, 3))


@pytest.mark.parametrize("mode,shapes", [("full", [(5, 5), (5, 3)]), ("complete", [(5, 5), (5, 3)]),
                                         ("economic", [(5, 3), (3, 3)]), ("reduced", [(5, 3), (3, 3)]),
                                         ("r", [(3, 3)])])
def test_qr_modes(mode, shapes):
    a = kt.dmatrix("a")
    out = la.qr(a, mode=mode)
    outs = list(out) if isinstance(out, tuple) else [out]
    vals = kiln.function([a], outs)(TALL)
    assert [v.shape for v in vals] == shapes
    if len(vals) == 2:
        np.testing.assert_allclose(vals[0] @ vals[1], TALL, atol=1e-12)
    np.testing.assert_allclose(np.abs(vals[-1]), np.abs(np.linalg.qr(TALL, mode="complete" if mode in ("full", "complete") else "reduced")[1]), atol=1e-12)


def test_qr_default_is_full_and_pivoting():
    a = kt.dmatrix("a")
    q, r = la.qr(a)
    assert kiln.function([a], q)(TALL).shape == (5, 5)
    q, r, p = la.qr(a, pivoting=True)
    qv, rv, pv = kiln.function([a], [q, r, p])(TALL)
    assert pv.dtype == np.int32
    np.testing.assert_allclose(qv @ rv, TALL[:, pv], atol=1e-12)
    _, _, p_ref = sl.qr(TALL, pivoting=True)
    np.testing.assert_array_equal(pv, p_ref)
    r_only, p_only = la.qr(a, mode="r", pivoting=True)
    rv2, pv2 = kiln.function([a], [r_only, p_only])(TALL)
    assert rv2.shape == (3, 3)
    np.testing.assert_array_equal(pv2, p_ref)
    with pytest.raises(ValueError, match="raw"):
        la.qr(a, mode="raw")


def test_cholesky_default_gives_nan_and_raise_on_request():
    a = kt.dmatrix("a")
    got = kiln.function([a], la.cholesky(a))(-np.eye(2))
    assert np.isnan(got).all()
    with pytest.raises(np.linalg.LinAlgError):
        kiln.function([a], la.cholesky(a, on_error="raise"))(-np.eye(2))


def test_eigh_generalized_and_lower():
    a, b = kt.dmatrix("a"), kt.dmatrix("b")
    A = RNG.normal(size=(3, 3)); A = A + A.T
    B = RNG.normal(size=(3, 3)); B = B @ B.T + 3 * np.eye(3)
    w, v = kiln.function([a, b], list(la.eigh(a, b)))(A, B)
    w_ref = sl.eigh(A, B, eigvals_only=True)
    np.testing.assert_allclose(w, w_ref, rtol=1e-10)
    np.testing.assert_allclose(A @ v, B @ v * w, atol=1e-10)
    U = np.triu(A) + np.triu(A, 1).T
    junk_lower = np.triu(A) + 7 * np.tril(np.ones((3, 3)), -1)      # lower=False reads the upper triangle
    w2, _ = kiln.function([a], list(la.eigh(a, lower=False)))(junk_lower)
    np.testing.assert_allclose(w2, np.linalg.eigvalsh(U), rtol=1e-10)


@pytest.mark.parametrize("kind", ["lower triangular", "upper triangular", "diagonal", "tridiagonal", "banded",
                                  "symmetric", "hermitian", "positive definite", "general", "GEN"])
@pytest.mark.parametrize("transposed", [False, True])
def test_solve_structure_names(kind, transposed):
    base = np.array([[2.0, 0, 0], [1, 3, 0], [4, 5, 6]])
    M = {"lower triangular": base, "upper triangular": base.T, "diagonal": np.diag([2.0, 3, 4]),
         "symmetric": base @ base.T, "hermitian": base @ base.T, "positive definite": base @ base.T}.get(
        kind, np.diag([2.0, 3, 4]) + np.diag([1.0, 1], 1) + np.diag([0.5, 1], -1))
    a, b, B = kt.dmatrix("a"), kt.dvector("b"), kt.dmatrix("B")
    bv, Bv = np.array([1.0, 2, 3]), np.arange(6.0).reshape(3, 2)
    x1, x2 = kiln.function([a, b, B], [la.solve(a, b, assume_a=kind, transposed=transposed),
                                       la.solve(a, B, assume_a=kind, transposed=transposed)])(M, bv, Bv)
    Mt = M.T if transposed else M
    np.testing.assert_allclose(Mt @ x1, bv, atol=1e-12)
    np.testing.assert_allclose(Mt @ x2, Bv, atol=1e-12)


def test_solve_bad_structure():
    with pytest.raises(ValueError, match="assume_a"):
        la.solve(kt.dmatrix("a"), kt.dvector("b"), assume_a="sparse")
