"""Compiler failures, missing compilers, and the linker choice."""
import warnings

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.configuration import config
from kiln.linkers.c import scalar_c
from kiln.linkers.c.compiler import CompileError, have_compiler
from kiln.linkers.c.linker import CLinker
from kiln.linkers.cache import get_cache
from kiln.linkers.python import PythonLinker
from kiln.scalar import math as sm
from kiln.tensor.elemwise import Elemwise


class _Broken(sm.UnaryScalarOp):
    """A scalar op whose (deliberately wrong) C rule does not compile."""
    nfunc = staticmethod(np.negative)


@pytest.fixture
def broken_rule():
    scalar_c.SCALAR_C[_Broken] = lambda op, xs, ins, outs: [f"undefined_function_xyz({xs[0]})"]
    yield
    del scalar_c.SCALAR_C[_Broken]


@pytest.mark.skipif(not have_compiler(), reason="no C compiler")
@pytest.mark.parametrize("keep", [False, True])
def test_compile_error_shows_compiler_message_and_source(broken_rule, keep):
    x = kt.vector("x")
    with config.change_flags(cache_keep_failed="1" if keep else "0"):
        with pytest.raises(CompileError) as info:
            kiln.function([x], Elemwise(_Broken())(x), mode=kiln.Mode(linker="c"))
    msg = str(info.value)
    assert "undefined_function_xyz" in msg          # the compiler's complaint ...
    assert ">" in msg and "| " in msg               # ... and the generated lines around it
    failed = get_cache().root / "failed"
    kept = list(failed.glob("*/mod.c")) if failed.exists() else []
    if keep:
        assert "source kept in" in msg and any("undefined_function_xyz" in p.read_text() for p in kept)
    else:
        assert "cache_keep_failed=1" in msg


def test_missing_compiler_falls_back_to_python_with_one_warning():
    x = kt.vector("x")
    with config.change_flags(cc="no-such-compiler-xyz"):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            f = kiln.function([x], kt.exp(x), mode=kiln.Mode(linker="c"))
    assert len(w) == 1 and "no C compiler" in str(w[0].message) and "\n" not in str(w[0].message)
    np.testing.assert_allclose(f(np.zeros(3)), np.ones(3))


def test_linker_choice():
    assert isinstance(kiln.Mode(linker="py").make_linker(), PythonLinker)
    with config.change_flags(linker="py"):   # KILN_FLAGS=linker=py
        assert isinstance(kiln.Mode().make_linker(), PythonLinker)
    if have_compiler():
        assert isinstance(kiln.Mode(linker="c").make_linker(), CLinker)
    with pytest.raises(ValueError, match="unknown linker"):
        kiln.Mode(linker="fortran").make_linker()


@pytest.mark.skipif(not have_compiler(), reason="no C compiler")
def test_fused_graphs_run_in_c_and_match():
    """With the default rewrites, fusion makes Composite ops; they render to C too."""
    from kiln.linkers.c.lower import lower_node

    x, y = kt.vector("x"), kt.vector("y", dtype="float32")
    e = kt.exp(-x ** 2) * kt.sin(3 * x) + kt.log1p(x ** 2) / (1 + kt.tanh(x))
    outs = [e, (y * 2 + 1).sum(), kt.maximum(x, 0) * y, kt.switch(x > 0, x // 0.5, x % 1.5)]
    fc = kiln.function([x, y], outs, mode=kiln.Mode(linker="c"))
    fp = kiln.function([x, y], outs, mode=kiln.Mode(linker="py"))
    assert all(lower_node(n) is not None for n in fc.fgraph.toposort() if n.op.__class__.__name__ != "DimShuffle")
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.standard_normal(50) * 3, [np.nan, np.inf, -np.inf, 0.0, -0.0]])
    Y = rng.standard_normal(55).astype("float32")
    with np.errstate(all="ignore"):
        want = fp(X, Y)
    for g, w in zip(fc(X, Y), want):
        assert g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=2e-6, equal_nan=True)


@pytest.mark.skipif(not have_compiler(), reason="no C compiler")
def test_threads_share_one_compiled_function():
    from concurrent.futures import ThreadPoolExecutor

    x = kt.vector("x")
    f = kiln.function([x], (kt.sqrt(x) * 2).sum(), mode=kiln.Mode(linker="c"))
    arrays = [np.arange(float(k), float(k) + 1000) for k in range(16)]
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(f, arrays))
    np.testing.assert_allclose(got, [(np.sqrt(a) * 2).sum() for a in arrays], rtol=1e-12)


@pytest.mark.skipif(not have_compiler(), reason="no C compiler")
def test_ctypes_and_extension_runtimes_agree(monkeypatch):
    """Both ways of calling a module (Cython extension when built, ctypes) give the same results."""
    from kiln.linkers.c import runtime

    x, y = kt.matrix("x", dtype="float32"), kt.vector("y", dtype="int16")
    f = kiln.function([x, y], [x * y - 1, (x > 0).sum(axis=0)], mode=kiln.Mode(linker="c"))
    a = np.arange(12, dtype="float32").reshape(3, 4)[::-1, ::2] - 5
    b = np.array([3, -2], dtype="int16")
    want = [a * b - 1, (a > 0).sum(axis=0)]
    got = f(a, b)
    monkeypatch.setattr(runtime, "EXTENSION", None)   # force the ctypes path
    g = kiln.function([x, y], [x * y - 1, (x > 0).sum(axis=0)], mode=kiln.Mode(linker="c"))
    modules = [cell for cell in _modules_of(g)]
    assert modules and all(m._fast is None for m in modules)
    got_ctypes = g(a, b)
    for g, c, w in zip(got, got_ctypes, want):
        np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(c, w)


def _modules_of(f):
    for plan in f._runner.segments:
        yield plan.module
