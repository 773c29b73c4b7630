"""Plain reductions come from kiln's library (kiln/c_templates/driver_lib.c, reduce.c): a module
with `x.sum(axis=0)` only declares a pointer that the runtime sets when it loads the module; a
combination the library does not list is compiled into the module from the same reduce.c.

Results are checked against NumPy (dtypes included) for every axis combination, 0-d, empty,
transposed, sliced and negative-stride inputs, NaN and infinities, with the setup.py build of
the library and with its cache build (KILN_FLAGS=c_driver=cache), and with two threads against
one (bit-identical wherever each output element is combined in the same order)."""
import itertools
import re

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.configuration import config
from kiln.linkers.c import driver
from kiln.linkers.c.compiler import _openmp, compile_source, compiler, have_compiler
from kiln.linkers.c.ir import Operand, ReduceKernel, Segment
from kiln.linkers.c.render import render_segment
from kiln.linkers.c.runtime import CModule
from kiln.linkers.cache import ModuleCache

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

C = kiln.Mode(linker="c", rewrites="none")   # every reduction stays a ReduceKernel
FN = {"sum": kt.sum, "prod": kt.prod, "max": kt.max, "min": kt.min, "any": kt.any, "all": kt.all}
NP = {"sum": np.sum, "prod": np.prod, "max": np.max, "min": np.min, "any": np.any, "all": np.all}
AXES = [None] + [c for r in (1, 2) for c in itertools.combinations(range(3), r)]   # of a 3-d input


def _kinds(dtype):
    return ("sum", "any", "all") if dtype == "bool" else ("sum", "prod", "max", "min")


def _function(dtype, kinds, axes=AXES):
    x = kt.tensor3("x", dtype=dtype)
    outs = [FN[k](x, axis=a) for k in kinds for a in axes]
    return kiln.function([x], outs, mode=C)


def _data(dtype, rng, shape=(5, 6, 70)):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    if dtype.startswith("float"):
        return (1 + 0.01 * rng.normal(size=shape)).astype(dtype)   # products stay finite
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -100), min(info.max, 100), size=shape, endpoint=True).astype(dtype)


def _layouts(a):
    """The same values in several memory layouts (transposes keep the logical shape by going
    through a copy in another order)."""
    t = np.ascontiguousarray(a.transpose(2, 0, 1)).transpose(1, 2, 0)   # strides not C order
    return {"contiguous": a, "transposed": t, "reversed": a[::-1, :, ::-1], "sliced": a[:, ::2, 1::3],
            "broadcast": np.broadcast_to(a[:, :1, :], a.shape)}


def _check(got, want, dtype):
    assert got.dtype == want.dtype and got.shape == want.shape
    if dtype == "float32":
        np.testing.assert_allclose(got, want, rtol=2e-5)
    elif dtype == "float64":
        np.testing.assert_allclose(got, want, rtol=1e-12)
    else:
        np.testing.assert_array_equal(got, want)


def _compare(f, a, dtype, kinds, axes=AXES):
    wants = [NP[k](a, axis=ax) for k in kinds for ax in axes]
    for got, want in zip(f(a), wants):
        _check(np.asarray(got), np.asarray(want), dtype)


def _module_source(tmp_path, monkeypatch, build):
    """The C source of the module(s) that `build()` compiles, in a fresh cache."""
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "cache"))
    build()
    return [(e.path / "mod.c").read_text() for e in ModuleCache(tmp_path / "cache").entries()]


def test_a_module_declares_the_library_body_instead_of_compiling_it(tmp_path, monkeypatch):
    x = kt.dmatrix("x")
    srcs = _module_source(tmp_path, monkeypatch,
                          lambda: kiln.function([x], [x.sum(axis=0), x.sum(axis=1)], mode=C)(np.ones((2, 3))))
    (src,) = srcs
    assert src.count("static kiln_reduce_fn kiln_reduce_sum_float64_float64;") == 1
    assert not re.search(r"^#define KILN_R\(X\) X\(", src, re.M) and "KILN_R(KILN_R_PART_)(" not in src  # no body
    assert 'const char *const kiln_imports[] = { "kiln_reduce_sum_float64_float64", 0 };' in src
    assert src.count("kiln_reduce_sum_float64_float64(&B[") == 2   # both axes call it


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32", "int16", "int8", "uint8", "bool"])
def test_library_reductions_match_numpy_on_every_axis_and_layout(dtype):
    kinds = _kinds(dtype)
    f = _function(dtype, kinds)
    a = _data(dtype, np.random.default_rng(len(dtype)))
    for name, v in _layouts(a).items():
        _compare(f, v, dtype, kinds)


def test_every_library_combination_is_what_kiln_produces():
    """The library's list holds only reductions kiln's ops make (NumPy 2's output dtypes)."""
    table = driver.library_reductions()
    assert ("sum", "float64", "float64") in table and ("sum", "int32", "int64") in table
    for kind, i, o in table:
        assert FN[kind](kt.matrix("x", dtype=i), axis=0).dtype == o == NP[kind](np.ones((2, 2), i), axis=0).dtype.name


def test_every_library_function_resolves():
    names = tuple(driver.reduction_name(*r) for r in sorted(driver.library_reductions())) + ("kiln_elemwise",)
    table = driver.resolve(names)
    assert len(table) == len(names) and all(table)
    assert driver.resolve(names) is table   # kept: a warm start resolves with one lookup


def test_zero_d_empty_and_size_one_inputs():
    s = kt.dscalar("s")
    f = kiln.function([s], [s.sum(), s.prod(), s.max(), s.min()], mode=C)
    assert [float(v) for v in f(-2.5)] == [-2.5, -2.5, -2.5, -2.5]
    for dtype in ("float64", "int32", "bool"):
        kinds = ("sum", "prod", "any", "all") if dtype != "bool" else ("sum", "any", "all")
        f = _function(dtype, kinds)
        for shape in [(0, 3, 4), (3, 0, 4), (2, 3, 0), (1, 1, 1), (1, 5, 1)]:
            _compare(f, _data(dtype, np.random.default_rng(1), shape), dtype, kinds)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_nan_and_infinities_in_max_min_and_sum(dtype):
    rng = np.random.default_rng(3)
    a = rng.normal(size=(6, 40, 70)).astype(dtype)
    a[1, 3, 5] = np.nan          # one NaN: it wins wherever it is reduced
    a[2, :, 7] = np.inf
    a[3, 9, :] = -np.inf
    a[4, 0, 0], a[4, 0, 1] = np.inf, -np.inf   # inf + -inf: NaN in sums
    f = _function(dtype, ("sum", "max", "min"))
    for v in (a, a[::-1, :, ::-1]):
        with np.errstate(invalid="ignore"):   # inf - inf
            wants = [NP[k](v, axis=ax) for k in ("sum", "max", "min") for ax in AXES]
        for got, want in zip(f(v), wants):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
            if dtype == "float32":   # sums of 70..2800 terms of about 1: absolute errors ~1e-5
                np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-3)
            else:
                np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_the_cache_build_of_the_library_gives_the_same_bits():
    """KILN_FLAGS=c_driver=cache: each function the modules call is compiled on first use into
    the module cache (a library of its own), used instead of setup.py's build."""
    rng = np.random.default_rng(5)
    args = {d: _data(d, rng) for d in ("float64", "int32", "bool")}
    installed = {d: _function(d, _kinds(d))(v) for d, v in args.items()}
    with config.change_flags(c_driver="cache"):
        name = driver.reduction_name("sum", "float64", "float64")
        cached_address = driver.resolve((name,))[0]
        fs = {d: _function(d, _kinds(d)) for d in args}   # loaded now: pointers into the cache build
        cached = {d: fs[d](v) for d, v in args.items()}
    assert cached_address == driver._built[name]
    prebuilt = driver._prebuilt()
    if prebuilt is not None and driver._installed_lib and driver._installed_lib[0] is not None:
        assert cached_address != driver._symbol(driver._installed_lib[0], name)   # really another build
    for d, v in args.items():
        _compare(fs[d], v, d, _kinds(d))
        for got, want in zip(cached[d], installed[d]):
            np.testing.assert_array_equal(got, want)


def test_a_build_older_than_the_list_compiles_what_it_lacks(monkeypatch):
    """A setup.py build that lacks a name (built before driver_lib.c listed it) is completed
    through the cache instead of failing."""
    class Stale:   # a loaded library without any of the functions
        pass

    monkeypatch.setattr(driver, "_installed_lib", [Stale()])
    monkeypatch.setattr(driver, "_tables", {})
    name = driver.reduction_name("max", "int32", "int32")
    (address,) = driver.resolve((name,))
    assert address == driver._built[name]
    x = kt.imatrix("x")
    f = kiln.function([x], x.max(axis=1), mode=C)
    v = np.random.default_rng(0).integers(-50, 50, size=(7, 9)).astype("int32")
    np.testing.assert_array_equal(f(v), v.max(axis=1))


def test_an_unknown_library_function_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(driver, "_tables", {})
    with pytest.raises(RuntimeError, match="kiln_no_such_function"):
        with config.change_flags(c_driver="cache"):
            driver.resolve(("kiln_no_such_function",))


INLINE = [("prod", "uint16"), ("max", "uint16"), ("sum", "uint32"), ("min", "int8"), ("any", "float64"),
          ("max", "bool")]


def test_combinations_outside_the_library_compile_into_the_module(tmp_path, monkeypatch):
    assert not {(k, d, FN[k](kt.vector(dtype=d)).dtype) for k, d in INLINE} & driver.library_reductions()
    xs = {d: kt.tensor3(f"x_{d}", dtype=d) for _, d in INLINE}
    ins = list(xs.values())
    outs = [FN[k](xs[d], axis=a) for k, d in INLINE for a in AXES]
    f = None

    def build():
        nonlocal f
        f = kiln.function(ins, outs, mode=C)

    (src,) = _module_source(tmp_path, monkeypatch, build)
    for k, d in INLINE:
        o = FN[k](xs[d]).dtype
        assert len(re.findall(rf"^#define KILN_R\(X\) X\({k}, {d}, {o}\)$", src, re.M)) == 1   # one body, all axes
        assert f"static kiln_reduce_fn {driver.reduction_name(k, d, o)};" not in src
    rng = np.random.default_rng(7)
    vals = {d: _data(d, rng) for d in xs}
    vals["float64"][0, 0, :] = 0.0   # a row with no true value for any
    for layout in ("contiguous", "reversed", "sliced"):
        args = [_layouts(vals[d])[layout] for d in xs]
        for got, ((k, d), ax) in zip(f(*args), itertools.product(INLINE, AXES)):
            v = _layouts(vals[d])[layout]
            _check(np.asarray(got), np.asarray(NP[k](v, axis=ax)), d)


def _threaded(nt, dtype, kinds, axes=AXES):
    with config.change_flags(threads=str(nt), par_min="1"):
        return _function(dtype, kinds, axes)


@pytest.mark.skipif(not _openmp(compiler()), reason="the C compiler has no OpenMP")
@pytest.mark.parametrize("dtype", ["float64", "int32", "bool"])
def test_two_threads_match_one_thread(dtype):
    kinds = _kinds(dtype)
    f1, f2 = _threaded(1, dtype, kinds), _threaded(2, dtype, kinds)
    a = _data(dtype, np.random.default_rng(11), (9, 13, 70))
    for v in (a, a[::-1, :, ::-1], np.asarray(a[:1])):
        one, two, again = f1(v), f2(v), f2(v)
        for (k, ax), o, t, u in zip(itertools.product(kinds, AXES), one, two, again):
            np.testing.assert_array_equal(t, u)   # the same count gives the same bits every time
            # an element of an inner-axis reduction is combined by one chunk, in row order; a
            # float sum or product over outer axes merges its chunks' partial results
            if dtype != "float64" or k in ("max", "min") or ax == (2,):
                np.testing.assert_array_equal(t, o)
            else:
                np.testing.assert_allclose(t, o, rtol=1e-12)
            _check(t, NP[k](v, axis=ax), dtype)


@pytest.mark.skipif(not _openmp(compiler()), reason="the C compiler has no OpenMP")
def test_threaded_inline_bodies_open_openmp_regions(tmp_path, monkeypatch):
    """A body compiled into a module threads there (the module is built with -fopenmp)."""
    (src,) = _module_source(tmp_path, monkeypatch, lambda: _threaded(2, "uint16", ("prod",), [(0,), (2,)]))
    assert re.search(r"^#define KILN_R\(X\) X\(prod, uint16, uint64\)$", src, re.M)
    (entry,) = ModuleCache(tmp_path / "cache").entries()
    assert b"GOMP_parallel" in (entry.path / "mod.so").read_bytes()
    f = _threaded(2, "uint16", ("prod",), [(0,), (2,)])
    v = _data("uint16", np.random.default_rng(2), (20, 3, 40)) % 3
    for got, ax in zip(f(v), [(0,), (2,)]):
        np.testing.assert_array_equal(got, np.prod(v, axis=ax))


def test_a_segment_with_a_library_reduction_runs_through_cmodule(tmp_path):
    """The module level: render, compile, load (imports resolved) and call."""
    k = ReduceKernel("Sum{axis=(0,)}", Operand(1, "float64"), Operand(0, "float64"), 2, (0,), "sum")
    src = render_segment(Segment("sum", ((1, "float64"), (2, "float64")), (k,)))
    _, so = compile_source(src, ModuleCache(tmp_path))
    x = np.random.default_rng(0).normal(size=(37, 11))[::-1]
    out = np.empty(11)
    assert CModule(so)([out, x]) == (0, 0)
    np.testing.assert_allclose(out, x.sum(axis=0), rtol=1e-12)
