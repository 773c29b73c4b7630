"""The segments of one function share as few modules as there are compilers to run at once
(`render_modules`, KILN_FLAGS=compile_jobs=N): each segment keeps its own entry point, bodies
shared between segments are compiled once, and results match the python linker."""
import re
import tempfile

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.configuration import config
from kiln.linkers.c.compiler import compile_jobs, compile_source, have_compiler
from kiln.linkers.c.ir import LoopKernel, Operand, ReduceKernel, Segment
from kiln.linkers.c.render import render_modules
from kiln.linkers.c.runtime import CModule, entry_name
from kiln.linkers.cache import ModuleCache, get_cache

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

PY = kiln.Mode(linker="py", rewrites="none")
C = kiln.Mode(linker="c", rewrites="none")


def _segments():
    # LoopKernel(label, outputs, inputs, ...)
    tanh = LoopKernel("tanh", (Operand(0, "float64"),), (Operand(1, "float64"),), 2,
                      ("const double y0 = tanh(x0);",))
    total = ReduceKernel("Sum", Operand(1, "float64"), Operand(2, "float64"), 2, (0,), "sum")
    bufs = ((2, "float64"), (2, "float64"), (1, "float64"))
    # the same loop body on other buffers in the second segment
    tanh2 = LoopKernel("tanh", (Operand(1, "float64"),), (Operand(0, "float64"),), 2,
                       ("const double y0 = tanh(x0);",))
    neg = LoopKernel("neg", (Operand(0, "float64"),), (Operand(1, "float64"),), 1, ("const double y0 = -x0;",))
    return [Segment("a", bufs, (tanh, total)), Segment("b", bufs, (tanh2,)),
            Segment("c", ((1, "float64"),) * 2, (neg,))]


def test_one_module_holds_every_segment_and_shares_bodies():
    (src, held), = render_modules(_segments(), 1)
    assert held == [0, 1, 2]
    assert [int(k) for k in re.findall(r"^int kiln_entry_(\d+)\(", src, re.M)] == [0, 1, 2]
    assert src.count("tanh(x0)") == 1    # segments a and b call one row body
    assert src.count("static kiln_reduce_fn kiln_reduce_sum_float64_float64;") == 1   # kiln's library
    assert src.count("void kiln_set_imports(") == 1 and src.count("int64_t kiln_desc_size(") == 1


def test_modules_are_balanced_and_cover_every_segment_once():
    out = render_modules(_segments(), 2)
    assert len(out) == 2 and sorted(k for _, held in out for k in held) == [0, 1, 2]
    for src, held in out:
        assert sorted(int(k) for k in re.findall(r"^int kiln_entry_(\d+)\(", src, re.M)) == held
    assert len(render_modules(_segments(), 8)) == 3   # never more modules than segments
    assert render_modules([], 4) == []


def test_each_entry_of_a_packed_module_runs_its_own_segment():
    (src, _), = render_modules(_segments(), 1)
    _, so = compile_source(src, ModuleCache(tempfile.mkdtemp()))
    x = np.random.default_rng(0).normal(size=(4, 5))
    x0 = x.copy()
    t, s = np.empty((4, 5)), np.empty(5)
    assert CModule(so, entry_name(0))([t, x, s]) == (0, 0)
    np.testing.assert_allclose(t, np.tanh(x), rtol=1e-15)
    np.testing.assert_allclose(s, x.sum(axis=0), rtol=1e-14)
    np.testing.assert_array_equal(x, x0)   # inputs are never written
    u = np.empty((4, 5))
    assert CModule(so, entry_name(1))([x, u, s]) == (0, 0)
    np.testing.assert_allclose(u, np.tanh(x), rtol=1e-15)
    v, w = np.arange(3.0), np.empty(3)
    assert CModule(so, entry_name(2))([w, v]) == (0, 0)
    np.testing.assert_array_equal(w, -np.arange(3.0))
    # an entry checks its own segment's buffers: segment c takes two vectors
    assert CModule(so, entry_name(2))([t, x])[0] != 0


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_function_of_several_segments_compiles_one_module_per_job(jobs):
    x = kt.matrix("x")
    y = kt.exp(x * (0.25 + jobs))
    d = kt.linalg.det(y)                 # no C kernel: a python step between two segments
    z = kt.tanh(y) * d + y.sum(axis=0)
    w = kt.log1p(z * z).sum(axis=1) / d   # the same reduction body as y.sum, on other axes
    arg = np.random.default_rng(jobs).normal(size=(4, 4)) * 0.1 + np.eye(4)
    before = get_cache().stats()
    with config.change_flags(compile_jobs=str(jobs)):
        assert compile_jobs() == jobs
        f = kiln.function([x], [z, w], mode=C)
    after = get_cache().stats()
    assert after.compiles - before.compiles == jobs   # jobs=2: two modules, so two segments at least
    for got, want in zip(f(arg), kiln.function([x], [z, w], mode=PY)(arg)):
        np.testing.assert_allclose(got, want, rtol=1e-13)
    # a second function of the same graph finds the modules and entry points in the cache
    mid = get_cache().stats()
    with config.change_flags(compile_jobs=str(jobs)):
        g = kiln.function([x], [z, w], mode=C)
    for got, want in zip(g(arg), f(arg)):
        np.testing.assert_array_equal(got, want)
    assert get_cache().stats().compiles == mid.compiles
