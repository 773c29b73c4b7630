"""The C linker's call path: the Cython `Program`/`CallPath` (kiln/linkers/c/_runtime.pyx),
its pure-Python fallback, output-storage reuse between calls, and thread safety."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.configuration import config
from kiln.linkers.c import runtime
from kiln.linkers.c.compiler import have_compiler
from kiln.tensor.blas import dot
from tests.helpers import run_in_threads

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

C = kiln.Mode(linker="c")
ROOT = Path(__file__).resolve().parents[3]
needs_ext = pytest.mark.skipif(runtime.EXTENSION is None or not hasattr(runtime.EXTENSION, "Program"),
                               reason="the Cython runtime extension is not built")


@pytest.fixture
def ctypes_runtime(monkeypatch):
    """Functions compiled inside use the pure-Python run loop and ctypes calls."""
    monkeypatch.setattr(runtime, "EXTENSION", None)
    with config.change_flags(c_runtime="ctypes"):
        yield


def _mlp_like():
    x, w = kt.matrix("x"), kt.matrix("w")
    h = kt.tanh(dot(x, w) + 1)
    out = dot(h, w.T)
    return [x, w], [out, h.sum(axis=0)]


@needs_ext
def test_default_runner_is_the_cython_program():
    ins, outs = _mlp_like()
    f = kiln.function(ins, outs, mode=C)
    assert type(f._runner) is runtime.EXTENSION.Program
    assert f._fast_call is not None
    assert f._runner.segments and all(s.module is not None for s in f._runner.segments)


def test_ctypes_fallback_gives_the_same_results(ctypes_runtime):
    ins, outs = _mlp_like()
    f = kiln.function(ins, outs, mode=C)
    assert not isinstance(f._runner, getattr(runtime.EXTENSION, "Program", ()) or ())
    assert all(s.module._fast is None for s in f._runner.segments)
    assert f._fast_call is None
    rng = np.random.default_rng(0)
    xv, wv = rng.normal(size=(5, 4)), rng.normal(size=(4, 4))
    h = np.tanh(xv @ wv + 1)
    got = f(xv, wv)
    np.testing.assert_allclose(got[0], h @ wv.T, rtol=1e-12)
    np.testing.assert_allclose(got[1], h.sum(axis=0), rtol=1e-12)


def test_ctypes_fallback_through_kiln_flags():
    """KILN_FLAGS=c_runtime=ctypes in a fresh process: the extension is not used at all."""
    code = textwrap.dedent("""
        import numpy as np, kiln, kiln.tensor as kt
        from kiln.linkers.c import runtime
        assert runtime.EXTENSION is None
        x = kt.vector("x")
        f = kiln.function([x], [kt.exp(x) + 1, (x * 2).sum()], mode=kiln.Mode(linker="c"))
        a = np.linspace(-1, 1, 7)
        r = f(a)
        assert np.allclose(r[0], np.exp(a) + 1) and np.isclose(r[1], (a * 2).sum())
        try:
            f(np.zeros((2, 2)))
        except TypeError as e:
            assert "input 0" in str(e), e
        else:
            raise AssertionError("no error")
        print("ok")
    """)
    env = dict(os.environ, KILN_FLAGS="c_runtime=ctypes", PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.parametrize("runtime_kind", ["extension", "ctypes"])
def test_eight_threads_on_one_function(runtime_kind, request):
    if runtime_kind == "ctypes":
        request.getfixturevalue("ctypes_runtime")
    elif runtime.EXTENSION is None:
        pytest.skip("the Cython runtime extension is not built")
    x, w = kt.matrix("x"), kt.matrix("w")
    a = dot(x, w)
    b = kt.exp(-dot(a, w) ** 2)         # intermediates in pools
    f = kiln.function([x, w], [dot(b, w) + x, b.sum()], mode=C)
    rng = np.random.default_rng(1)
    wv = rng.normal(size=(6, 6)) * 0.3
    inputs = [rng.normal(size=(n, 6)) for n in (3, 4, 5, 6, 7, 8, 9, 10)]
    results: dict[int, list] = {}

    def work(k: int) -> None:
        got = []
        for _ in range(30):
            got.append(f(inputs[k], wv))   # every result is kept: reuse must not clobber them
        results[k] = got

    run_in_threads(work, 8)
    for k, xv in enumerate(inputs):
        bb = np.exp(-((xv @ wv) @ wv) ** 2)
        for r in results[k]:
            np.testing.assert_allclose(r[0], bb @ wv + xv, rtol=1e-12)
            np.testing.assert_allclose(r[1], bb.sum(), rtol=1e-12)


@needs_ext
def test_output_storage_is_reused_only_when_nobody_holds_it():
    x = kt.vector("x")
    f = kiln.function([x], (x * 0.5 + 1.5) * x, mode=C)
    a, b = np.arange(1000.0), np.ones(1000)
    r1 = f(a)
    r2 = f(b)                     # r1 is held: new storage
    assert not np.shares_memory(r1, r2)
    np.testing.assert_array_equal(r1, (a * 0.5 + 1.5) * a)
    np.testing.assert_array_equal(r2, (b * 0.5 + 1.5) * b)
    p1 = r1.ctypes.data
    del r1                        # nobody holds it: the next call writes there
    r3 = f(a)
    assert r3.ctypes.data == p1
    np.testing.assert_array_equal(r3, (a * 0.5 + 1.5) * a)
    view = r3[::2]                # a view keeps its base alive: no reuse
    del r3
    r4 = f(b)
    assert not np.shares_memory(view, r4)
    np.testing.assert_array_equal(view, ((a * 0.5 + 1.5) * a)[::2])
    np.testing.assert_array_equal(r4, (b * 0.5 + 1.5) * b)
    r5 = f(np.arange(3.0))        # another shape: fresh storage, right result
    np.testing.assert_array_equal(r5, (np.arange(3.0) * 0.5 + 1.5) * np.arange(3.0))
    f._runner.release()
    np.testing.assert_array_equal(f(a), (a * 0.5 + 1.5) * a)


def test_output_fed_back_as_input_and_updates():
    """x = f(x) loops and shared-variable updates: reused storage never aliases a live value."""
    x = kt.vector("x")
    f = kiln.function([x], kt.tanh(x) * 0.9 + 0.1, mode=C)
    v = np.linspace(-2, 2, 50)
    want = v.copy()
    for _ in range(10):
        v = f(v)
        want = np.tanh(want) * 0.9 + 0.1
    np.testing.assert_allclose(v, want, rtol=1e-14)

    w = kiln.shared(np.zeros(4))
    g = kiln.function([x], [w * 2], updates=[(w, w + x)], mode=C)
    step = np.arange(4.0)
    outs, acc = [], np.zeros(4)
    for _ in range(6):
        outs.append((g(step)[0], acc * 2))
        acc = acc + step
    for got, want in outs:
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(w.get_value(), acc)


def test_call_path_validation_and_errors_are_unchanged():
    x, y = kt.matrix("x"), kt.matrix("y")
    f = kiln.function([x, y], x + y, mode=C)
    # broadcasting (not the elementwise fast path) and lists converted by the slow path
    np.testing.assert_array_equal(f(np.ones((3, 1)), np.arange(4.0)[None, :]), 1 + np.arange(4.0)[None, :] + np.zeros((3, 1)))
    np.testing.assert_array_equal(f([[1.0, 2.0]], [[3.0, 4.0]]), [[4.0, 6.0]])
    np.testing.assert_array_equal(f(y=np.ones((1, 2)), x=np.ones((1, 2))), [[2.0, 2.0]])
    with pytest.raises(ValueError) as info:
        f(np.ones((2, 3)), np.ones((4, 3)))
    assert "(2, 3)" in str(info.value) and "(4, 3)" in str(info.value)
    assert any("while computing" in n for n in getattr(info.value, "__notes__", []))
    with pytest.raises(TypeError, match="input 0"):
        f(np.ones(3), np.ones((1, 3)))            # wrong ndim names the input
    with pytest.raises(TypeError):
        f(np.ones((1, 1)))                        # missing argument
    f.trust_input = True
    np.testing.assert_array_equal(f(np.ones((1, 2)), np.ones((1, 2))), [[2.0, 2.0]])


def test_read_only_and_aliased_outputs_are_protected():
    x = kt.vector("x")
    c = kt.constant(np.arange(3.0))
    f = kiln.function([x], [x, c + 0 * x[:1], x.T], mode=C)
    a = np.ones(3)
    got = f(a)
    assert not np.shares_memory(got[0], a) and not np.shares_memory(got[2], a)
    for g in got:
        assert g.flags.writeable


def test_index_errors_map_through_runtime_errors():
    assert runtime.ERRORS[6][0] is IndexError
    x = kt.vector("x")
    i = kt.lscalar("i")
    f = kiln.function([x, i], x[i] * 2, mode=C)
    assert f(np.arange(4.0), 2) == 4.0
    with pytest.raises(IndexError):
        f(np.arange(4.0), 9)
