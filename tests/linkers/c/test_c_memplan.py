"""Buffer reuse inside C segments (kiln.linkers.c.memplan): fewer distinct buffers for
intermediates whose lifetimes do not overlap, and results equal to the python linker on
graphs where reuse would be wrong if anything escaped (views, in-place ops, outputs)."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph.basic import Apply
from kiln.graph.fg import FunctionGraph
from kiln.graph.op import Op
from kiln.linkers.c.compiler import have_compiler
from kiln.linkers.c.linker import CLinker
from kiln.linkers.c.memplan import plan_pools
from kiln.linkers.python import PythonLinker
from kiln.tensor.blas import dot

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

C = kiln.Mode(linker="c")
PY = kiln.Mode(linker="py")


class _Twice(Op):
    """x * 2 through `perform` only (no C lowering): splits a graph into two segments."""

    def make_node(self, x):
        x = kt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] * 2


def _chain(x, w, n):
    out = x
    for _ in range(n):
        out = dot(out, w)
    return out


def test_plan_pools_shares_buffers_of_disjoint_lifetimes():
    x, w = kt.matrix("x"), kt.matrix("w")
    fg = FunctionGraph([x, w], [_chain(x, w, 5)])
    plan = plan_pools(fg.toposort(), set(fg.outputs), fg.clients)
    # a1..a4 are intermediates; a_k is read by the kernel that writes a_{k+1}, so two pools
    # alternate (a1, a3 in one; a2, a4 in the other)
    assert plan.summary() == {"intermediates": 4, "pools": 2}
    pools = [plan.pool_of[v] for v in plan.roots]
    assert pools == [0, 1, 0, 1]


def test_plan_pools_never_pools_what_escapes():
    x, w = kt.matrix("x"), kt.matrix("w")
    a = dot(x, w)
    b = dot(a, w)
    t = a.T                       # a view of a that is a function output: a escapes
    fg = FunctionGraph([x, w], [dot(b, w), t])
    nodes = fg.toposort()
    plan = plan_pools(nodes, set(fg.outputs), fg.clients)
    pooled = set(plan.pool_of)
    assert not any(v in pooled for v in fg.outputs)
    assert fg.outputs[1].owner.inputs[0] not in pooled   # the view's base
    assert len(pooled) == 1                              # only b


def test_plan_pools_keeps_a_pool_until_its_last_reader():
    x, w = kt.matrix("x"), kt.matrix("w")
    a = dot(x, w)
    b = dot(x, w.T)
    c = dot(a, b)                 # a and b are both live here: two pools
    fg = FunctionGraph([x, w], [dot(c, w)])
    plan = plan_pools(fg.toposort(), set(fg.outputs), fg.clients)
    c = fg.outputs[0].owner.inputs[0]   # the graph's own (cloned) variables
    assert plan.pool_of[c.owner.inputs[0]] != plan.pool_of[c.owner.inputs[1]]
    # c is written by the kernel that reads a and b: it may not take either pool
    assert plan.n_pools == 3


def test_linker_reports_the_plan_and_reuse_happens():
    x, w = kt.matrix("x"), kt.matrix("w")
    f = kiln.function([x, w], _chain(x, w, 6), mode=C)
    (seg,) = f._runner.info["segments"]
    assert seg["intermediates"] == 5 and seg["pools"] == 2
    rng = np.random.default_rng(0)
    xv, wv = rng.normal(size=(4, 4)) * 0.5, rng.normal(size=(4, 4)) * 0.5
    want = xv
    for _ in range(6):
        want = want @ wv
    np.testing.assert_allclose(f(xv, wv), want, rtol=1e-12)
    # other shapes on the same function: pools grow to what each call needs
    xv2 = rng.normal(size=(7, 4))
    want2 = xv2
    for _ in range(6):
        want2 = want2 @ wv
    np.testing.assert_allclose(f(xv2, wv), want2, rtol=1e-12)


def _both(inputs, outputs, values, mode_rewrites="fast_run"):
    fc = kiln.function(inputs, outputs, mode=kiln.Mode(linker="c", rewrites=mode_rewrites))
    fp = kiln.function(inputs, outputs, mode=kiln.Mode(linker="py", rewrites=mode_rewrites))
    return fc, fp


def _check_twice(fc, fp, values_a, values_b):
    """Two calls with different inputs: each equals the python linker, and the first call's
    results (still held) are not overwritten by the second (no reuse of live storage)."""
    got_a = fc(*values_a)
    keep = [np.array(g, copy=True) for g in (got_a if isinstance(got_a, list) else [got_a])]
    got_b = fc(*values_b)
    for got, vals in ((got_a, values_a), (got_b, values_b)):
        want = fp(*vals)
        got, want = (got, want) if isinstance(got, list) else ([got], [want])
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    for g, k in zip(got_a if isinstance(got_a, list) else [got_a], keep):
        np.testing.assert_array_equal(g, k)


def _vals(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=s) * 0.5 for s in shapes]


def test_views_of_intermediates():
    x, w = kt.matrix("x"), kt.matrix("w")
    a = dot(x, w)
    b = dot(a.T, w)               # a transposed view read by a kernel
    c = dot(b[1:, ::-1], w[:, :3])   # a sliced view
    fc, fp = _both([x, w], [c.sum(axis=0), kt.tanh(c)], None)
    _check_twice(fc, fp, _vals(1, (5, 5), (5, 5)), _vals(2, (5, 5), (5, 5)))


def test_in_place_ops_and_outputs_that_are_intermediates():
    x, w = kt.matrix("x"), kt.matrix("w")
    a = dot(x, w)
    h = kt.tanh(a) * 2 + 1        # in-place elementwise variants after fast_run
    b = dot(h, w)
    e = kt.exp(b) - 1
    out = dot(e, w)
    fc, fp = _both([x, w], [out, h, b], None)   # h and b are outputs and intermediates
    assert any(getattr(n.op, "destroy_map", None) for n in fc.fgraph.apply_nodes)
    _check_twice(fc, fp, _vals(3, (6, 6), (6, 6)), _vals(4, (6, 6), (6, 6)))


def test_multiple_outputs_and_an_output_that_is_an_input():
    x, w = kt.matrix("x"), kt.matrix("w")
    a = dot(x, w)
    b = dot(kt.exp(a), w)
    fc, fp = _both([x, w], [x, b, b.sum(), kt.log1p(kt.abs(b))], None)
    _check_twice(fc, fp, _vals(5, (3, 3), (3, 3)), _vals(6, (3, 3), (3, 3)))
    xv = np.ones((3, 3))
    got = fc(xv, np.eye(3))
    assert got[0] is not xv       # an output that is an input is still a copy
    np.testing.assert_array_equal(got[0], xv)


def test_segments_split_by_python_steps():
    x, w = kt.matrix("x"), kt.matrix("w")
    a = dot(dot(x, w), w)
    t = _Twice()(a)               # a python step between two segments
    out = dot(dot(t, w), w) + a   # a is live across the python step
    fc, fp = _both([x, w], [out], None)
    assert len(fc._runner.info["segments"]) == 2
    _check_twice(fc, fp, _vals(7, (4, 4), (4, 4)), _vals(8, (4, 4), (4, 4)))


def test_pools_on_the_python_run_loop(monkeypatch):
    """Without the Cython extension (ctypes calls, the Python run loop) the same plan runs."""
    from kiln.configuration import config
    from kiln.linkers.c import runtime

    monkeypatch.setattr(runtime, "EXTENSION", None)
    with config.change_flags(c_runtime="ctypes"):
        x, w = kt.matrix("x"), kt.matrix("w")
        a = dot(x, w)
        b = dot(kt.tanh(a).T, w)
        fc, fp = _both([x, w], [dot(b, w), b[0]], None)
        assert not hasattr(type(fc._runner), "release")       # the Python run loop
        assert fc._runner.info["segments"][0]["pools"] >= 1
        _check_twice(fc, fp, _vals(11, (4, 4), (4, 4)), _vals(12, (4, 4), (4, 4)))


def test_bad_shapes_after_reuse_still_raise_and_leave_function_usable():
    x, w = kt.matrix("x"), kt.matrix("w")
    f = kiln.function([x, w], _chain(x, w, 4), mode=C)
    good = _vals(9, (3, 3), (3, 3))
    want = good[0] @ good[1] @ good[1] @ good[1] @ good[1]
    np.testing.assert_allclose(f(*good), want, rtol=1e-12)
    with pytest.raises(ValueError, match="not aligned"):
        f(np.ones((3, 2)), np.ones((3, 3)))
    np.testing.assert_allclose(f(*good), want, rtol=1e-12)


def test_direct_runner_matches_python_linker():
    """The CLinker runner itself (no Function around it) on a graph with a reduction, a
    broadcast view and a dot: pools only for what stays inside the segment."""
    x, w = kt.matrix("x"), kt.matrix("w")
    a = dot(x, w)
    s = kt.exp(a).sum(axis=1)
    out = dot(a / s[:, None], w)
    fg = FunctionGraph([x, w], [out, s])
    run = CLinker().make_runner(fg)
    ref = PythonLinker().make_runner(FunctionGraph([x, w], [out, s]))
    vals = _vals(10, (4, 5), (5, 5))
    for g, r in zip(run(vals), ref(vals)):
        np.testing.assert_allclose(g, r, rtol=1e-12)
