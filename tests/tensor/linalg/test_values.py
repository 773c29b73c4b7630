"""kiln.tensor.linalg's ops against NumPy/SciPy themselves: same random inputs, several dtypes,
batched and edge-case shapes (empty, 1x1), and clear LinAlgErrors for singular or
non-positive-definite matrices."""
from __future__ import annotations

import re

import numpy as np
import pytest
import scipy.linalg as sla

import kiln
import kiln.tensor as kt
from kiln.tensor import linalg as la

PY = kiln.Mode(linker="py")
DTYPES = ["float64", "float32", "int64"]


def rnd(shape, dtype="float64", seed=0):
    rng = np.random.default_rng(seed + len(shape))
    if dtype.startswith("int"):
        return rng.integers(-4, 5, size=shape).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


def spd(shape, dtype="float64", seed=0):
    a = rnd(shape, "float64", seed)
    s = a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])
    return s.astype(dtype)


def well_conditioned(shape, dtype="float64", seed=0):
    a = rnd(shape, "float64", seed) + 3 * shape[-1] * np.eye(shape[-1])
    if dtype.startswith("int"):
        return np.round(a).astype(dtype)
    return a.astype(dtype)


def sym(x):
    return kt.tensor("x", dtype=x.dtype, shape=(None,) * x.ndim)


def run(fn, *vals):
    ins = [sym(v) for v in vals]
    out = fn(*ins)
    f = kiln.function(ins, list(out) if isinstance(out, (tuple, list)) else out, mode=PY)
    return f(*vals)


def close(got, exp, dtype):
    got, exp = np.asarray(got), np.asarray(exp)
    assert got.shape == exp.shape, (got.shape, exp.shape)
    assert got.dtype == exp.dtype, (got.dtype, exp.dtype)
    tol = 2e-4 if dtype == "float32" else 1e-9
    np.testing.assert_allclose(got, exp, rtol=tol, atol=tol)


SQUARE_SHAPES = [(3, 3), (2, 4, 4), (1, 1), (0, 0), (0, 2, 2)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SQUARE_SHAPES, ids=str)
@pytest.mark.parametrize("name", ["inv", "det", "slogdet"])
def test_square_functions(name, shape, dtype):
    a = well_conditioned(shape, dtype)
    got = run(getattr(la, name), a)
    exp = getattr(np.linalg, name)(a)
    if name == "slogdet":
        for g, e in zip(got, exp):
            close(g, e, dtype)
    else:
        close(got, exp, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (0, 0), (1, 1)], ids=str)
@pytest.mark.parametrize("lower", [True, False])
def test_cholesky(shape, dtype, lower):
    a = spd(shape, dtype)
    # scipy's reads only the returned triangle too: garbage in the other one must not matter
    junk = a.copy()
    if shape[-1] > 1:
        idx = np.triu_indices(shape[-1], 1) if lower else np.tril_indices(shape[-1], -1)
        junk[(...,) + idx] = 99
    got = run(lambda x: la.cholesky(x, lower=lower), junk)
    exp = np.linalg.cholesky(a, upper=not lower)
    if len(shape) == 2 and shape[0]:
        np.testing.assert_allclose(exp, sla.cholesky(a.astype("float64"), lower=lower), rtol=1e-4)
    close(got, exp, dtype)


def test_cholesky_default_is_lower():
    a = spd((3, 3))
    np.testing.assert_allclose(run(la.cholesky, a), np.linalg.cholesky(a))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 5, 3), (0, 3), (3, 0)], ids=str)
@pytest.mark.parametrize("mode", ["reduced", "complete", "r"])
def test_qr(shape, dtype, mode):
    a = rnd(shape, dtype)
    got = run(lambda x: la.qr(x, mode=mode), a)
    exp = np.linalg.qr(a, mode=mode)
    if mode == "r":
        close(got, exp, dtype)
    else:
        close(got[0], exp[0], dtype)
        close(got[1], exp[1], dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 5, 3), (0, 3)], ids=str)
@pytest.mark.parametrize("full_matrices", [True, False])
def test_svd(shape, dtype, full_matrices):
    a = rnd(shape, dtype)
    u, s, vh = run(lambda x: la.svd(x, full_matrices=full_matrices), a)
    eu, es, evh = np.linalg.svd(a, full_matrices=full_matrices)
    close(s, es, dtype)
    close(u, eu, dtype)
    close(vh, evh, dtype)
    close(run(lambda x: la.svd(x, compute_uv=False), a), np.linalg.svd(a, compute_uv=False), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (0, 0), (1, 1)], ids=str)
@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_and_eigvalsh(shape, dtype, uplo):
    a = rnd(shape, dtype)   # not symmetric: only the UPLO triangle is read, as in NumPy
    w, v = run(lambda x: la.eigh(x, UPLO=uplo), a)
    ew, ev = np.linalg.eigh(a, UPLO=uplo)
    close(w, ew, dtype)
    close(np.abs(v), np.abs(ev), dtype)    # eigenvector signs are LAPACK's; compare up to sign
    close(run(lambda x: la.eigvalsh(x, UPLO=uplo), a), np.linalg.eigvalsh(a, UPLO=uplo), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 4, 3), (0, 2)], ids=str)
@pytest.mark.parametrize("hermitian", [False, True])
def test_pinv(shape, dtype, hermitian):
    a = rnd(shape, dtype)
    def f(x):
        return la.pinv(x, hermitian=hermitian)

    if hermitian and shape[-1] != shape[-2] and a.size:
        with pytest.raises(np.linalg.LinAlgError):
            np.linalg.pinv(a, hermitian=True)
        with pytest.raises(np.linalg.LinAlgError, match="MatrixPinv"):
            run(f, a)
        return
    if hermitian and shape[-1] == shape[-2]:
        a = (a + np.swapaxes(a, -1, -2)).astype(dtype)
    exp = np.linalg.pinv(a, hermitian=hermitian)
    if a.size == 0 and dtype.startswith("int"):
        # NumPy returns an empty *int* array here (empty_like); kiln's static dtype is float64
        exp = exp.astype("float64")
    close(run(f, a), exp, dtype)


def test_pinv_rank_deficient_and_rcond():
    a = np.outer([1.0, 2.0, 3.0], [1.0, -1.0])
    close(run(la.pinv, a), np.linalg.pinv(a), "float64")
    close(run(lambda x: la.pinv(x, rcond=0.5), a + 0.01 * np.eye(3, 2)),
          np.linalg.pinv(a + 0.01 * np.eye(3, 2), rcond=0.5), "float64")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("ashape,bshape", [((5, 3), (5,)), ((5, 3), (5, 2)), ((3, 5), (3,)),
                                           ((4, 4), (4, 1)), ((0, 3), (0,))], ids=str)
def test_lstsq(ashape, bshape, dtype):
    a, b = rnd(ashape, dtype), rnd(bshape, dtype, seed=3)
    got = run(la.lstsq, a, b)
    exp = np.linalg.lstsq(a, b)
    for g, e, i in zip(got, exp, range(4)):
        if i == 2:
            assert int(g) == int(e)
        else:
            close(g, e, dtype)


def test_lstsq_rank_deficient():
    a = np.outer(np.arange(1.0, 6.0), [1.0, 2.0, 0.0])
    b = rnd((5, 2))
    got = run(la.lstsq, a, b)
    exp = np.linalg.lstsq(a, b)
    close(got[0], exp[0], "float64")
    assert got[1].shape == exp[1].shape == (0,)
    assert int(got[2]) == int(exp[2]) == 1


# -- errors -----------------------------------------------------------------------------------

SINGULAR = np.array([[1.0, 2.0], [2.0, 4.0]])


@pytest.mark.parametrize("name,fn", [
    ("MatrixInverse", lambda a: la.inv(a)),
    ("Solve{'gen'", lambda a: la.solve(a, np.ones(2))),
    ("SolveTriangular", lambda a: la.solve_triangular(a * [[1, 1], [1, 0]], np.ones(2), lower=False)),
    ("SolveTriangular", lambda a: la.cho_solve((a * [[1, 0], [1, 0]], True), np.ones(2))),
    ("Cholesky", lambda a: la.cholesky(a - 5 * np.eye(2), on_error="raise")),
    ("Solve{'pos'", lambda a: la.solve(a - 5 * np.eye(2), np.ones(2), assume_a="pos")),
    ("Solve{'sym'", lambda a: la.solve(a, np.ones(2), assume_a="sym")),
], ids=lambda v: v if isinstance(v, str) else "")
def test_singular_raises_linalgerror_naming_the_op(name, fn):
    a = kt.dmatrix("a")
    f = kiln.function([a], fn(a), mode=PY)
    with pytest.raises(np.linalg.LinAlgError, match=re.escape(name)):
        f(SINGULAR)


def test_error_message_names_op_and_reason():
    a = kt.dmatrix("a")
    f = kiln.function([a], la.cholesky(a, on_error="raise"), mode=PY)
    with pytest.raises(la.LinAlgError) as info:
        f(-np.eye(2))
    assert "Cholesky" in str(info.value) and "positive definite" in str(info.value)


def test_singular_det_is_zero_not_error():
    assert run(la.det, SINGULAR) == pytest.approx(0.0, abs=1e-12)
    sign, logdet = run(la.slogdet, SINGULAR)
    np.testing.assert_array_equal([sign, logdet], np.linalg.slogdet(SINGULAR))


@pytest.mark.parametrize("fn,arg,err,msg", [
    (la.inv, kt.dvector("v"), ValueError, "inv: expected an array of at least 2"),
    (la.det, kt.tensor("m", shape=(2, 3)), ValueError, "det: last 2 dimensions .* must be square"),
    (la.cholesky, kt.tensor("h", dtype="float16", shape=(None, None)), TypeError, "float16"),
    (la.inv, kt.tensor("c", dtype="complex128", shape=(None, None)), TypeError, "complex"),
    (lambda a: la.qr(a, mode="raw"), kt.dmatrix("a"), ValueError, "mode must be"),
    (lambda a: la.eigh(a, UPLO="X"), kt.dmatrix("a"), ValueError, "UPLO"),
    (lambda a: la.solve(a, kt.dscalar("s")), kt.dmatrix("a"), ValueError, "b must be at least 1-d"),
    (lambda a: la.solve(a, kt.tensor("b", shape=(3,))), kt.tensor("a", shape=(2, 2)), ValueError, "rows"),
    (lambda a: la.solve(a, np.ones(2), assume_a="sparse"), kt.dmatrix("a"), ValueError, "assume_a"),
    (lambda a: la.solve_triangular(a, np.ones(2), trans="X"), kt.dmatrix("a"), ValueError, "trans"),
    (lambda a: la.lstsq(a, kt.dtensor3("b")), kt.dmatrix("a"), ValueError, "lstsq"),
])
def test_bad_inputs_raise_clear_errors(fn, arg, err, msg):
    with pytest.raises(err, match=msg):
        fn(arg)


def test_int_and_float32_dtypes_follow_numpy():
    assert la.inv(kt.lmatrix("a")).dtype == "float64"
    assert la.inv(kt.fmatrix("a")).dtype == "float32"
    assert la.solve(kt.fmatrix("a"), kt.dvector("b")).dtype == "float64"
    assert la.det(kt.imatrix("a")).dtype == str(np.linalg.det(np.eye(2, dtype="int32")).dtype)


def test_static_shapes():
    a = kt.tensor("a", shape=(2, 5, 3))
    u, s, vh = la.svd(a, full_matrices=False)
    assert (u.type.shape, s.type.shape, vh.type.shape) == ((2, 5, 3), (2, 3), (2, 3, 3))
    q, r = la.qr(a, mode="complete")
    assert (q.type.shape, r.type.shape) == ((2, 5, 5), (2, 5, 3))
    assert la.pinv(a).type.shape == (2, 3, 5)
    assert la.solve(kt.tensor("m", shape=(4, 3, 3)), kt.tensor("b", shape=(1, 3, 2))).type.shape == (4, 3, 2)
    assert la.eigh(kt.tensor("m", shape=(3, 3)))[0].type.shape == (3,)


def test_cholesky_on_error_nan():
    a = np.stack([spd((3, 3)), -np.eye(3), spd((3, 3), seed=1)])
    got = run(lambda x: la.cholesky(x, on_error="nan"), a)
    np.testing.assert_allclose(got[0], np.linalg.cholesky(a[0]))
    np.testing.assert_allclose(got[2], np.linalg.cholesky(a[2]))
    assert np.isnan(got[1]).all()
    with pytest.raises(ValueError, match="on_error"):
        la.cholesky(kt.dmatrix("a"), on_error="warn")


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_generalized_eigvalsh_matches_scipy(lower, dtype):
    import scipy.linalg as sla

    rng = np.random.default_rng(3)
    a = rng.normal(size=(5, 5)).astype(dtype)
    m = rng.normal(size=(5, 5))
    b = (m @ m.T + 5 * np.eye(5)).astype(dtype)
    x, y = kt.matrix(dtype=dtype), kt.matrix(dtype=dtype)
    got = kiln.function([x, y], la.eigvalsh(x, y, lower=lower))(a, b)
    assert got.dtype == sla.eigvalsh(a, b, lower=lower).dtype
    np.testing.assert_allclose(got, sla.eigvalsh(a, b, lower=lower), rtol=1e-4 if dtype == "float32" else 1e-10)


def test_eigvalsh_numpy_positional_uplo_still_works():
    a = np.array([[2.0, 9.0], [1.0, 3.0]])
    x = kt.dmatrix()
    np.testing.assert_allclose(kiln.function([x], la.eigvalsh(x, "U"))(a), np.linalg.eigvalsh(a, "U"))


def test_generalized_eigvalsh_batched_and_gradient():
    import scipy.linalg as sla

    rng = np.random.default_rng(4)
    a = rng.normal(size=(3, 4, 4))
    a = a + np.swapaxes(a, -1, -2)
    m = rng.normal(size=(4, 4))
    b = m @ m.T + 4 * np.eye(4)
    x, y = kt.tensor3(), kt.dmatrix()
    got = kiln.function([x, y], la.eigvalsh(x, y))(a, b)
    np.testing.assert_allclose(got, np.stack([sla.eigvalsh(a1, b) for a1 in a]), rtol=1e-10)
    from kiln.gradient import verify_grad

    # symmetrized inside, so the finite differences see the same matrices the rule does
    verify_grad(lambda p, q: kt.sum(la.eigvalsh(p + kt.transpose(p), q + kt.transpose(q)) ** 2),
              [a[0], b / 2], rng=np.random.default_rng(5))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("trans", [0, 1])
@pytest.mark.parametrize("unit", [False, True])
def test_lapack_triangular_solve_matches_scipy(dtype, lower, trans, unit):
    from kiln.tensor.linalg._lapack import trtrs

    rng = np.random.default_rng(7)
    a = (rng.normal(size=(6, 6)) + 6 * np.eye(6)).astype(dtype)
    for b in (rng.normal(size=6).astype(dtype), rng.normal(size=(6, 3)).astype(dtype),
              np.asfortranarray(rng.normal(size=(6, 2))).astype(dtype)):
        for aa in (a, a.T, a[::-1, ::-1]):   # C, Fortran and negative-stride layouts
            got = trtrs(aa, b, lower, bool(trans), unit)
            exp = sla.solve_triangular(aa, b, lower=lower, trans=trans, unit_diagonal=unit)
            assert got.dtype == exp.dtype and got.shape == exp.shape
            np.testing.assert_allclose(got, exp, rtol=1e-4 if dtype == "float32" else 1e-12)


def test_lapack_triangular_solve_errors_and_empty_like_scipy():
    from kiln.tensor.linalg._lapack import trtrs

    a = np.array([[1.0, 0.0], [2.0, 0.0]])
    with pytest.raises(np.linalg.LinAlgError, match="singular matrix: resolution failed at diagonal 1"):
        trtrs(a, np.ones(2), True, False, False)
    with pytest.raises(ValueError, match="infs or NaNs"):
        trtrs(np.eye(2), np.array([1.0, np.nan]), True, False, False)
    assert trtrs(np.eye(2, dtype="complex128"), np.ones(2, "complex128"), True, False, False) is None
    assert trtrs(np.zeros((0, 0)), np.zeros((0, 3)), True, False, False).shape == (0, 3)


def test_solve_triangular_does_not_import_scipy_linalg():
    import subprocess
    import sys

    code = ("import sys, numpy as np, kiln, kiln.tensor as kt\n"
            "a, b = kt.dmatrix(), kt.dvector()\n"
            "f = kiln.function([a, b], kt.linalg.solve_triangular(a, b, lower=True))\n"
            "assert np.allclose(f(np.array([[2.0, 0], [1, 4]]), np.array([2.0, 9])), [1, 2])\n"
            "print('scipy.linalg' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
