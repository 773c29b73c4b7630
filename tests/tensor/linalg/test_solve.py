"""solve / solve_triangular / cho_solve against scipy.linalg (and numpy.linalg.solve for the
batched, broadcasting cases)."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

import kiln
import kiln.tensor as kt
from kiln.tensor import linalg as la

PY = kiln.Mode(linker="py")


def rnd(shape, dtype="float64", seed=0):
    return np.random.default_rng(seed + 7 * len(shape)).normal(size=shape).astype(dtype)


def spd(n, dtype="float64", batch=()):
    a = rnd(batch + (n, n))
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dtype)


def run(fn, *vals):
    ins = [kt.tensor(f"x{i}", dtype=v.dtype, shape=(None,) * v.ndim) for i, v in enumerate(vals)]
    return kiln.function(ins, fn(*ins), mode=PY)(*vals)


def close(got, exp, dtype):
    got, exp = np.asarray(got), np.asarray(exp)
    assert got.shape == exp.shape and got.dtype == exp.dtype, (got.shape, exp.shape, got.dtype, exp.dtype)
    tol = 1e-4 if dtype == "float32" else 1e-9
    np.testing.assert_allclose(got, exp, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("assume_a", ["gen", "sym", "pos"])
@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("bshape", [(4,), (4, 3), (4, 0)], ids=str)
def test_solve_matches_scipy(assume_a, lower, bshape, dtype):
    a = spd(4, dtype)
    if assume_a != "gen":   # scipy reads one triangle: spoil the other
        junk = np.tril(np.full((4, 4), 7.0), -1) if not lower else np.triu(np.full((4, 4), 7.0), 1)
        a = (a + junk).astype(dtype)
    b = rnd(bshape, dtype, seed=1)
    got = run(lambda x, y: la.solve(x, y, assume_a=assume_a, lower=lower), a, b)
    close(got, sla.solve(a, b, assume_a=assume_a, lower=lower), dtype)


@pytest.mark.parametrize("ashape,bshape", [((2, 3, 3), (3,)), ((2, 3, 3), (2, 3, 4)), ((2, 3, 3), (1, 3, 2)),
                                           ((3, 3), (5, 3, 2)), ((0, 3, 3), (3, 1)), ((0, 0), (0,))], ids=str)
@pytest.mark.parametrize("assume_a", ["gen", "pos"])
def test_solve_batched_like_numpy(ashape, bshape, assume_a):
    a = spd(ashape[-1], batch=ashape[:-2])
    b = rnd(bshape, seed=2)
    close(run(lambda x, y: la.solve(x, y, assume_a=assume_a), a, b), np.linalg.solve(a, b), "float64")


def test_solve_int_inputs_give_float64():
    a = np.array([[2, 1], [1, 3]], dtype="int64")
    b = np.array([1, 2], dtype="int32")
    close(run(la.solve, a, b), sla.solve(a, b), "float64")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("trans", [0, 1, "T", "C", "N"])
@pytest.mark.parametrize("unit_diagonal", [False, True])
@pytest.mark.parametrize("bshape", [(4,), (4, 2)], ids=str)
def test_solve_triangular_matches_scipy(lower, trans, unit_diagonal, bshape, dtype):
    a = (rnd((4, 4), seed=3) + 4 * np.eye(4)).astype(dtype)   # both triangles full: only one is read
    b = rnd(bshape, dtype, seed=4)
    got = run(lambda x, y: la.solve_triangular(x, y, trans=trans, lower=lower, unit_diagonal=unit_diagonal), a, b)
    exp = sla.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit_diagonal)
    close(got, exp.astype(dtype), dtype)


def test_solve_triangular_batched_loops_like_scipy():
    a = rnd((3, 4, 4), seed=5) + 4 * np.eye(4)
    b = rnd((3, 4, 2), seed=6)
    exp = np.stack([sla.solve_triangular(a[i], b[i], lower=True) for i in range(3)])
    close(run(lambda x, y: la.solve_triangular(x, y, lower=True), a, b), exp, "float64")


@pytest.mark.parametrize("lower", [True, False])
@pytest.mark.parametrize("bshape", [(5,), (5, 3)], ids=str)
def test_cho_solve_matches_scipy(lower, bshape):
    a = spd(5)
    c = sla.cholesky(a, lower=lower)
    b = rnd(bshape, seed=8)
    got = run(lambda x, y: la.cho_solve((x, lower), y), c, b)
    close(got, sla.cho_solve((c, lower), b), "float64")
    np.testing.assert_allclose(a @ got, b, atol=1e-9)


def test_cho_solve_with_kiln_cholesky():
    a, b = spd(4), rnd((4,), seed=9)
    got = run(lambda x, y: la.cho_solve((la.cholesky(x), True), y), a, b)
    close(got, np.linalg.solve(a, b), "float64")


def test_cho_solve_needs_a_pair():
    with pytest.raises(TypeError, match="cho_solve"):
        la.cho_solve(kt.dmatrix("c"), kt.dvector("b"))


@pytest.mark.parametrize("assume_a", ["gen", "sym", "pos"])
@pytest.mark.parametrize("ashape,bshape", [((2, 3, 3), (2, 3)), ((3, 3), (4, 3)), ((2, 1, 3, 3), (5, 3))], ids=str)
def test_solve_b_ndim_1_is_a_stack_of_vectors(assume_a, ashape, bshape):
    a = spd(3, batch=ashape[:-2])
    b = rnd(bshape, seed=10)
    got = run(lambda x, y: la.solve(x, y, assume_a=assume_a, b_ndim=1), a, b)
    exp = np.linalg.solve(a, b[..., None])[..., 0]
    close(got, exp, "float64")


def test_solve_triangular_b_ndim_1():
    a = np.tril(rnd((3, 3), seed=11)) + 3 * np.eye(3)
    b = rnd((4, 3), seed=12)
    got = run(lambda x, y: la.solve_triangular(x, y, lower=True, b_ndim=1), a, b)
    close(got, sla.solve_triangular(a, b.T, lower=True).T.copy(), "float64")


def test_b_ndim_checks():
    with pytest.raises(ValueError, match="b_ndim"):
        la.solve(kt.dmatrix("a"), kt.dvector("b"), b_ndim=2)
    with pytest.raises(ValueError, match="b_ndim"):
        la.solve(kt.dmatrix("a"), kt.dvector("b"), b_ndim=3)


def test_solve_transposed_matches_scipy():
    a, b = rnd((4, 4), seed=13) + 4 * np.eye(4), rnd((4, 2), seed=14)
    close(run(lambda x, y: la.solve(x, y, transposed=True), a, b), sla.solve(a, b, transposed=True), "float64")


def test_scipy_positional_order():
    """solve(a, b, lower) and solve_triangular(a, b, trans, lower) as in SciPy."""
    a, b = spd(3), rnd((3,), seed=15)
    junk = a + np.triu(np.full((3, 3), 5.0), 1)
    close(run(lambda x, y: la.solve(x, y, True, assume_a="pos"), junk, b),
          sla.solve(junk, b, True, assume_a="pos"), "float64")
    close(run(lambda x, y: la.solve_triangular(x, y, 1, True), junk, b),
          sla.solve_triangular(junk, b, 1, True), "float64")
