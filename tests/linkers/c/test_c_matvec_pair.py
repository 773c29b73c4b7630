"""MatVecPair on the C linker: one pass over the matrix in kiln's library (matvec_lib.c) for
row-contiguous matrices and contiguous vectors, two BLAS products otherwise; both against the
python linker and NumPy, over dtypes, layouts, tails, empty shapes and two threads."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.configuration import config
from kiln.linkers.c.compiler import have_compiler
from kiln.linkers.cache import ModuleCache
from kiln.rewrites.blas_ops import matvec_pair

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

C = kiln.Mode(linker="c", rewrites="none")
PY = kiln.Mode(linker="py", rewrites="none")
TOL = {"float64": dict(rtol=1e-12, atol=1e-12), "float32": dict(rtol=2e-5, atol=2e-5)}


def _fns(dtype):
    A, x, y = kt.matrix("A", dtype=dtype), kt.vector("x", dtype=dtype), kt.vector("y", dtype=dtype)
    outs = list(matvec_pair(A, x, y))
    return kiln.function([A, x, y], outs, mode=C), kiln.function([A, x, y], outs, mode=PY)


def _check(f, g, a, xv, yv, dtype):
    got, ref = f(a, xv, yv), g(a, xv, yv)
    for o, r, v in zip(got, ref, (xv, yv)):
        assert o.dtype == dtype and o.shape == (a.shape[0],)
        np.testing.assert_allclose(o, r, **TOL[dtype])
        np.testing.assert_allclose(o, a.astype("float64") @ v.astype("float64"), **TOL[dtype])


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_contiguous_operands_match_numpy_over_row_and_column_tails(dtype):
    f, g = _fns(dtype)
    rng = np.random.default_rng(0)
    # odd row counts leave a row after the pairs; columns below and around the vector width
    for m, n in [(1, 1), (2, 3), (3, 8), (5, 16), (7, 17), (64, 33), (101, 250), (0, 5), (4, 0), (0, 0)]:
        a = rng.normal(size=(m, n)).astype(dtype)
        _check(f, g, a, rng.normal(size=n).astype(dtype), rng.normal(size=n).astype(dtype), dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_strided_transposed_and_reversed_operands_go_through_blas_with_the_same_values(dtype):
    f, g = _fns(dtype)
    rng = np.random.default_rng(1)
    big = rng.normal(size=(40, 60)).astype(dtype)
    v = rng.normal(size=400).astype(dtype)
    for a in (big[:, ::2], big.T[:30], big[::-1, ::-1][:, :30], big[::3, :30]):   # the last: row-contiguous, lda 60
        n = a.shape[1]
        for xv, yv in ((v[:n], v[n:2 * n]), (v[::2][:n], v[::-1][:n]), (v[:n], v[::4][:n])):
            _check(f, g, a, xv, yv, dtype)


def test_two_threads_give_the_same_values():
    with config.change_flags(threads="2", par_min="1"):
        f, g = _fns("float64")
        rng = np.random.default_rng(2)
        for m in (1, 3, 4, 9, 200):
            a = rng.normal(size=(m, 37))
            _check(f, g, a, rng.normal(size=37), rng.normal(size=37), "float64")


def test_a_shape_mismatch_is_a_value_error():
    f, _ = _fns("float64")
    with pytest.raises(ValueError, match="not aligned"):
        f(np.ones((2, 3)), np.ones(3), np.ones(4))


def test_the_module_calls_the_library_function_and_the_hvp_uses_it(tmp_path, monkeypatch):
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "cache"))
    A, x, v = kt.dmatrix("A"), kt.dvector("x"), kt.dvector("v")
    g = kiln.grad(kt.sum(kt.tanh(kt.dot(A, x)) ** 2), x)
    f = kiln.function([A, x, v], kiln.grad(kt.sum(g * v), x), mode=kiln.Mode(linker="c"))
    rng = np.random.default_rng(3)
    a, xv, vv = rng.normal(size=(30, 20)) / 5, rng.normal(size=20), rng.normal(size=20)
    t = np.tanh(a @ xv)
    np.testing.assert_allclose(f(a, xv, vv), a.T @ ((2 - 6 * t ** 2) * (1 - t ** 2) * (a @ vv)), rtol=1e-12, atol=1e-13)
    srcs = [(e.path / "mod.c").read_text() for e in ModuleCache(tmp_path / "cache").entries()
            if (e.path / "mod.c").exists()]
    assert any("static kiln_matvec2_fn kiln_matvec2_float64;" in s and "kiln_matvec2_float64(m, n," in s for s in srcs)
