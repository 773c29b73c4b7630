"""KILN_FLAGS=threads=N: large elementwise loops and reductions split over OpenMP threads.

Correctness with two threads against the python linker (and against one thread) on
sizes above the threading threshold, contiguous, strided, transposed and broadcast
layouts, reductions over inner, outer and all axes; the count is part of the cache key.
"""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.configuration import config
from kiln.linkers.c.compiler import _openmp, build_flags, compiler, have_compiler, threads
from kiln.linkers.cache import ModuleCache, module_key

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

PY = kiln.Mode(linker="py", rewrites="none")


def _graph():
    x, y = kt.matrix("x"), kt.matrix("y")
    r = kt.vector("r")
    t3 = kt.tensor3("t3")
    n = kt.matrix("n", dtype="int32")
    outs = [kt.exp(x) * y + 1,                 # contiguous fast path
            x + r,                             # broadcast row: the general (odometer) path
            kt.sin(x.T) - y.T,                 # transposed operands
            x.sum(axis=0), x.sum(axis=1), x.sum(), x.max(axis=0), x.min(axis=1),
            t3.sum(axis=(0, 2)), t3.prod(axis=1), (x > 0).any(axis=0), n.sum(axis=0)]
    return [x, y, r, t3, n], outs


def _args(rng):
    x = rng.normal(size=(400, 300))
    y = rng.normal(size=(400, 300))
    r = rng.normal(size=300)
    t3 = 1 + 0.01 * rng.normal(size=(30, 40, 50))
    n = rng.integers(-1000, 1000, size=(400, 300)).astype("int32")
    return [x, y, r, t3, n]


def _compile(nthreads):
    ins, outs = _graph()
    with config.change_flags(threads=str(nthreads)):
        return kiln.function(ins, outs, mode=kiln.Mode(linker="c", rewrites="none"))


@pytest.mark.skipif(not _openmp(compiler()), reason="the C compiler has no OpenMP")
def test_two_threads_match_python_linker_and_one_thread():
    ins, outs = _graph()
    fp = kiln.function(ins, outs, mode=PY)
    f1, f2 = _compile(1), _compile(2)
    rng = np.random.default_rng(0)
    args = _args(rng)
    # strided and negative-stride inputs take the general path on both sides
    layouts = [args, [args[0][::-1], args[1][:, ::-1], args[2][::-1], args[3][:, ::-1], args[4][::-1]]]
    for a in layouts:
        want, one, two = fp(*a), f1(*a), f2(*a)
        for w, o, t in zip(want, one, two):
            assert t.shape == w.shape and t.dtype == w.dtype
            if w.dtype.kind in "iub":
                np.testing.assert_array_equal(t, w)
            else:
                np.testing.assert_allclose(t, w, rtol=1e-12, atol=1e-9)
                np.testing.assert_allclose(t, o, rtol=1e-12, atol=1e-9)
    # the same thread count gives the same bits every time (chunks depend on sizes only)
    again = f2(*args)
    for t, u in zip(f2(*args), again):
        np.testing.assert_array_equal(t, u)


@pytest.mark.skipif(not _openmp(compiler()), reason="the C compiler has no OpenMP")
def test_nan_propagates_in_threaded_reductions():
    x = kt.matrix("x")
    outs = [x.max(axis=0), x.max(axis=1), x.sum()]
    with config.change_flags(threads="2"):
        f = kiln.function([x], outs, mode=kiln.Mode(linker="c", rewrites="none"))
    a = np.random.default_rng(1).normal(size=(500, 200))
    a[470, 3] = np.nan
    for got, want in zip(f(a), kiln.function([x], outs, mode=PY)(a)):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_allclose(got[~np.isnan(want)], want[~np.isnan(want)], rtol=1e-12)


def test_thread_count_is_part_of_the_cache_key(tmp_path):
    cc = compiler()
    with config.change_flags(threads="1"):
        f1 = build_flags(cc)
    with config.change_flags(threads="3"):
        f3 = build_flags(cc)
        assert threads() == 3
    if _openmp(cc):
        assert "-DKILN_NT=3" in f3[0] and "-fopenmp" in f3[0] and "-fopenmp" not in f1[0]
        assert module_key("int x;", cc, f1[0] + f1[1]) != module_key("int x;", cc, f3[0] + f3[1])
    else:
        assert f1 == f3


@pytest.mark.skipif(not _openmp(compiler()), reason="the C compiler has no OpenMP")
def test_threaded_modules_use_openmp(tmp_path):
    import os

    old = os.environ.get("KILN_CACHE_DIR")
    os.environ["KILN_CACHE_DIR"] = str(tmp_path / "cache")
    try:
        f = _compile(2)
        f(*_args(np.random.default_rng(2)))
    finally:
        if old is None:
            os.environ.pop("KILN_CACHE_DIR")
        else:
            os.environ["KILN_CACHE_DIR"] = old
    entries = list(ModuleCache(tmp_path / "cache").entries())
    # the loops run in the module or in kiln's library (the elementwise driver, the common
    # reductions: kiln/linkers/c/driver.py), which then opens the OpenMP regions for it
    from kiln.linkers.c import driver

    assert entries and all(b"GOMP_parallel" in (e.path / "mod.so").read_bytes()
                           or b"kiln_set_imports" in (e.path / "mod.so").read_bytes() for e in entries)
    assert any(b"GOMP_parallel" in open(lib._name, "rb").read() for lib in driver._libs)


@pytest.mark.parametrize("bad", ["0", "two"])
def test_bad_thread_counts_are_refused(bad):
    with config.change_flags(threads=bad):
        with pytest.raises(ValueError, match="threads"):
            threads()


@pytest.mark.skipif(not _openmp(compiler()), reason="the C compiler has no OpenMP")
@pytest.mark.parametrize("shape", [(1, 1), (3, 2), (7, 5), (2, 129)])
def test_every_loop_threaded_on_small_odd_shapes(shape):
    """par_min=1 threads every loop, so chunk edges fall everywhere (rows fewer than threads too)."""
    ins, outs = _graph()
    fp = kiln.function(ins, outs, mode=PY)
    with config.change_flags(threads="3", par_min="1"):
        fc = kiln.function(ins, outs, mode=kiln.Mode(linker="c", rewrites="none"))
    rng = np.random.default_rng(sum(shape))
    x, y = rng.normal(size=shape), rng.normal(size=shape)
    r = rng.normal(size=shape[1])
    t3 = 1 + 0.01 * rng.normal(size=(shape[0], 3, shape[1]))
    n = rng.integers(-9, 9, size=shape).astype("int32")
    for a in ([x, y, r, t3, n], [x[::-1], y[:, ::-1], r[::-1], t3[:, ::-1], n[::-1]]):
        for got, want in zip(fc(*a), fp(*a)):
            assert got.shape == want.shape and got.dtype == want.dtype
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
