"""Fusion into Elemwise(Composite) and the inplace phase's aliasing guarantees."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph.fg import FunctionGraph, InconsistencyError
from kiln.rewrites import explain
from kiln.rewrites.fusion import fuse_elemwise
from kiln.rewrites.inplace import DestroyHandler, inplace_elemwise
from kiln.scalar.composite import Composite
from kiln.scalar import math as ps
from kiln.tensor.elemwise import Elemwise

from .helpers import FAST_RUN, NO_REWRITES, assert_same, run


def composites(fg):
    return [n for n in fg.apply_nodes if isinstance(n.op, Elemwise) and isinstance(n.op.scalar_op, Composite)]


def elemwise_count(fg):
    return sum(1 for n in fg.apply_nodes if isinstance(n.op, Elemwise))


def test_chain_fuses_to_one_kernel():
    x, y = kt.matrix("x"), kt.matrix("y")
    out = kt.tanh(kt.exp(x) * y + 2.0) - kt.sin(x)
    fg = FunctionGraph([x, y], [out])
    assert fuse_elemwise.apply(fg) == 1
    assert elemwise_count(fg) == 1 and len(composites(fg)) == 1
    xv, yv = np.random.default_rng(1).normal(size=(2, 3, 4))
    assert_same(run(fg, xv, yv), [np.tanh(np.exp(xv) * yv + 2.0) - np.sin(xv)])


def test_fusion_with_broadcasting_inputs():
    x, b = kt.matrix("x"), kt.vector("b")
    out = kt.exp(x + b) * 2 - b          # b is dimshuffled (row) into the kernel
    f = kiln.function([x, b], out, mode=FAST_RUN)
    assert len(composites(f.fgraph)) == 1
    xv, bv = np.ones((3, 4)), np.arange(4.0)
    np.testing.assert_allclose(f(xv, bv), np.exp(xv + bv) * 2 - bv)


def test_multiple_outputs_share_a_kernel():
    x, y = kt.vector("x"), kt.vector("y")
    e = kt.exp(x + y)
    f = kiln.function([x, y], [e, e * 3 + 1], mode=FAST_RUN)
    assert elemwise_count(f.fgraph) == 1
    node, = composites(f.fgraph)
    assert len(node.outputs) == 2
    xv, yv = np.array([0.0, 1.0]), np.array([1.0, -1.0])
    a, b = f(xv, yv)
    np.testing.assert_allclose(a, np.exp(xv + yv))
    np.testing.assert_allclose(b, np.exp(xv + yv) * 3 + 1)


def test_shared_value_with_smaller_inputs_not_exported():
    # exp(x) is used outside and does not depend on y: exporting it from a kernel over x and y
    # would give it y's shape when x broadcasts at run time, so it stays separate
    x, y = kt.vector("x"), kt.vector("y")
    e = kt.exp(x)
    f = kiln.function([x, y], [e, (e + y) * 2], mode=FAST_RUN)
    a, b = f(np.array([1.0]), np.array([1.0, 2.0, 3.0]))
    assert a.shape == (1,) and b.shape == (3,)
    np.testing.assert_allclose(b, (np.e + np.array([1.0, 2.0, 3.0])) * 2)


def test_no_cycle_through_non_elemwise():
    x = kt.matrix("x")
    a = kt.exp(x)
    s = kt.sum(a, axis=1, keepdims=True)     # leaves the elemwise world and comes back
    out = a / s + a
    f = kiln.function([x], out, mode=FAST_RUN)
    f.fgraph.check_integrity()
    xv = np.random.default_rng(2).normal(size=(3, 4))
    e = np.exp(xv)
    np.testing.assert_allclose(f(xv), e / e.sum(1, keepdims=True) + e)


def test_composite_equality_and_nested_inlining():
    from kiln.scalar.basic import scalar_type

    a, b = scalar_type("float64")(), scalar_type("float64")()
    c1 = Composite([a, b], [ps.add(ps.exp(a), b)])
    a2, b2 = a.type(), b.type()
    c2 = Composite([a2, b2], [ps.add(ps.exp(a2), b2)])
    assert c1 == c2 and hash(c1) == hash(c2)
    x, y = kt.vector("x"), kt.vector("y")
    inner = Elemwise(c1)(x, y)
    fg = FunctionGraph([x, y], [kt.log(inner) * 2])
    fuse_elemwise.apply(fg)
    node, = composites(fg)
    assert not any(isinstance(n.op, Composite) for n in node.op.scalar_op.fgraph.apply_nodes)
    assert_same(run(fg, np.array([0.0, 1.0]), np.array([1.0, 2.0])),
                [np.log(np.exp([0.0, 1.0]) + [1.0, 2.0]) * 2])


def test_inplace_never_touches_caller_buffer():
    x = kt.vector("x")
    f = kiln.function([x], kt.exp(x) + 1, mode=FAST_RUN)
    xv = np.array([0.0, 1.0, 2.0])
    keep = xv.copy()
    f(xv)
    np.testing.assert_array_equal(xv, keep)
    g = kiln.function([x], x + 1, mode=FAST_RUN)   # the only input is the caller's array
    assert not any(n.op.destroy_map for n in g.fgraph.apply_nodes)
    g(xv)
    np.testing.assert_array_equal(xv, keep)


def test_inplace_used_for_intermediates():
    x, y = kt.vector("x"), kt.vector("y")
    a = kt.exp(x)
    out = kt.sum(a) * (a + y)   # a is read by sum and by the add: nobody may overwrite a
    f = kiln.function([x, y], [out, kt.log(kt.sum(x * y)) + y], mode=FAST_RUN.excluding("fusion"))
    xv, yv = np.array([0.0, 1.0]), np.array([1.0, 2.0])
    o1, o2 = f(xv, yv)
    np.testing.assert_allclose(o1, np.exp(xv).sum() * (np.exp(xv) + yv))
    np.testing.assert_allclose(o2, np.log((xv * yv).sum()) + yv)
    assert explain(f).count("inplace_elemwise") >= 1


def test_value_used_by_two_consumers_not_overwritten_by_first():
    x = kt.vector("x")
    a = kt.exp(x)
    b = a * 2          # first consumer: must not write into a
    c = a + 1          # second consumer reads a after b ran
    fg = FunctionGraph([x], [b + c])
    fg.attach_feature(DestroyHandler())
    ip = Elemwise(ps.mul, inplace_pattern=((0, 0),))
    with pytest.raises(InconsistencyError, match="also reads"):
        fg.replace(fg.outputs[0].owner.inputs[0], ip(fg.outputs[0].owner.inputs[0].owner.inputs[0], 2.0))
    fg.check_integrity()
    inplace_elemwise.apply(fg)
    xv = np.array([0.0, 1.0])
    assert_same(run(fg, xv), [np.exp(xv) * 2 + np.exp(xv) + 1])


def test_destroy_handler_refuses_inputs_constants_outputs_and_views():
    x = kt.vector("x")
    ip = Elemwise(ps.add, inplace_pattern=((0, 0),))
    fg = FunctionGraph([x], [x * 1.5])
    fg.attach_feature(DestroyHandler())
    with pytest.raises(InconsistencyError, match="function input"):
        fg.replace(fg.outputs[0], ip(fg.inputs[0], 1.0))
    fg2 = FunctionGraph([x], [kt.exp(x)])
    fg2.attach_feature(DestroyHandler())
    c = kt.constant(np.ones(3))
    with pytest.raises(InconsistencyError, match="constant"):
        fg2.replace(fg2.outputs[0], ip(c, fg2.inputs[0]))
    # a graph output may not be destroyed by another node
    m = kt.matrix("m")
    e = kt.exp(m)
    fg3 = FunctionGraph([m], [e, e + 1], clone=False)
    fg3.attach_feature(DestroyHandler())
    with pytest.raises(InconsistencyError, match="output"):
        fg3.replace(fg3.outputs[1], ip(e, 1.0))
    # a view of an input is still the input
    fg4 = FunctionGraph([m], [m.T * 2.0])
    fg4.attach_feature(DestroyHandler())
    with pytest.raises(InconsistencyError, match="function input"):
        fg4.replace(fg4.outputs[0], ip(fg4.outputs[0].owner.inputs[0], 1.0))


def test_shared_storage_never_destroyed():
    w = kiln.shared(np.arange(3.0), name="w")
    x = kt.vector("x")
    f = kiln.function([x], kt.exp(w) + x, updates=[(w, w + 1)], mode=FAST_RUN)
    before = w.get_value().copy()
    r = f(np.zeros(3))
    np.testing.assert_allclose(r, np.exp(before))
    np.testing.assert_allclose(w.get_value(), before + 1)


def test_inplace_runtime_broadcast_falls_back_to_copy():
    x, y = kt.vector("x"), kt.vector("y")
    f = kiln.function([x, y], kt.exp(x) + kt.exp(y), mode=FAST_RUN.excluding("fusion"))
    # exp(x) has one element at run time, the sum three: no in-place write into exp(x)
    np.testing.assert_allclose(f(np.array([0.0]), np.zeros(3)), [2.0, 2.0, 2.0])


def test_gemm_inplace_on_intermediate():
    a, b = kt.matrix("a"), kt.matrix("b")
    c = kt.exp(a)                         # an intermediate: gemm may overwrite it
    out = kt.dot(a, b) + c * 2.0
    f = kiln.function([a, b], out, mode=FAST_RUN)
    assert explain(f).count("dot_to_gemm") == 1
    av = np.random.default_rng(3).normal(size=(3, 3))
    bv = np.random.default_rng(4).normal(size=(3, 3))
    np.testing.assert_allclose(f(av, bv), av @ bv + np.exp(av) * 2)


def test_inc_subtensor_inplace_on_intermediate_only():
    from kiln.rewrites.inplace import IncSubtensorInplace

    x, y = kt.vector("x"), kt.vector("y")
    e = kt.exp(x)
    f = kiln.function([x, y], [kt.set_subtensor(e[1:3], y), kt.inc_subtensor(x[:2], y[:2])], mode=FAST_RUN)
    kinds = [type(n.op) for n in f.fgraph.apply_nodes]
    assert kinds.count(IncSubtensorInplace) == 1          # only the one on exp(x), not on input x
    xv, yv = np.array([0.0, 1.0, 2.0, 3.0]), np.array([10.0, 20.0])
    keep = xv.copy()
    a, b = f(xv, yv)
    want_a = np.exp(keep)
    want_a[1:3] = yv
    want_b = keep.copy()
    want_b[:2] += yv
    np.testing.assert_allclose(a, want_a)
    np.testing.assert_allclose(b, want_b)
    np.testing.assert_array_equal(xv, keep)
    a2, _ = f(xv, yv)                                      # no state carried between calls
    np.testing.assert_allclose(a2, want_a)


def test_reduce_fusion_is_on_by_default_and_preserves_values():
    # reduction fusion (FusedReduce, kiln/rewrites/reduce_fusion.py) replaced the opt-in ElemwiseReduce
    from kiln.tensor.fused_reduce import FusedReduce

    x, r = kt.matrix("x"), kt.row("r")
    out = [kt.sum(kt.exp(x) * r + 1, axis=1), kt.max(kt.sqr(x - r), axis=0), kt.sum(x * 2)]
    ref = kiln.function([x, r], out, mode=NO_REWRITES)
    plain = kiln.function([x, r], out, mode=FAST_RUN.excluding("reduce_fusion"))
    assert not any(isinstance(n.op, FusedReduce) for n in plain.fgraph.apply_nodes)
    fused = kiln.function([x, r], out, mode=FAST_RUN)
    assert sum(isinstance(n.op, FusedReduce) for n in fused.fgraph.apply_nodes) == 3
    assert explain(fused).count("reduce_fusion") == 3
    xv = np.random.default_rng(5).normal(size=(3, 4))
    rv = np.random.default_rng(6).normal(size=(1, 4))
    for g, w in zip(fused(xv, rv), ref(xv, rv)):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-12)
    # an elementwise value also used elsewhere is not folded into the reduction
    e = kt.exp(x)
    both = kiln.function([x], [e, kt.sum(e)], mode=FAST_RUN)
    assert not any(isinstance(n.op, FusedReduce) for n in both.fgraph.apply_nodes)
