"""Simplifications found by comparing kiln's and PyTensor's final graphs on bench/bench_rewrite.py's
generated 2,000-node graph: reductions over length-1 axes and the dimshuffles they leave."""
from collections import Counter

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph.fg import FunctionGraph
from kiln.rewrites import explain
from kiln.rewrites.pipeline import run_pipeline
from kiln.tensor.elemwise import DimShuffle
from kiln.tensor.reduction import Reduce

PY = kiln.Mode(linker="py")
REF = kiln.Mode(linker="py", rewrites="none")
rng = np.random.default_rng(0)


@pytest.mark.parametrize("reduce,rule", [(kt.sum, "sum_over_unit_axes"), (kt.prod, "prod_over_unit_axes"),
                                         (kt.max, "max_over_unit_axes"), (kt.min, "min_over_unit_axes")])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_over_unit_axes_is_dropped(reduce, rule, keepdims):
    r = kt.row("r")                     # static shape (1, None)
    out = kt.exp(reduce(r, axis=0, keepdims=keepdims))
    f = kiln.function([r], out, mode=PY)
    assert explain(f).count(rule) == 1
    assert not any(isinstance(n.op, Reduce) for n in f.fgraph.apply_nodes)
    if keepdims:   # drop the axis, put it back: nothing left to do but exp
        assert not any(isinstance(n.op, DimShuffle) for n in f.fgraph.apply_nodes)
    rv = np.array([[0.5, -np.inf, np.nan, 2.0]])
    want = np.exp(getattr(np, reduce.__name__ if reduce is not kt.sum else "sum")(rv, axis=0, keepdims=keepdims))
    np.testing.assert_array_equal(f(rv), want)


def test_reduction_over_a_unit_axis_keeps_the_reduction_dtype():
    r = kt.tensor("r", dtype="int8", shape=(1, None))
    f = kiln.function([r], kt.sum(r, axis=0), mode=PY)
    rv = np.array([[100, -7, 127]], dtype="int8")
    out = f(rv)
    assert out.dtype == np.sum(rv, axis=0).dtype
    np.testing.assert_array_equal(out, np.sum(rv, axis=0))


def test_reduction_over_other_axes_is_kept():
    x, r = kt.matrix("x"), kt.row("r")
    f = kiln.function([x, r], [kt.sum(x, axis=0), kt.sum(r, axis=1), kt.max(r)], mode=PY)
    assert sum(isinstance(n.op, Reduce) for n in f.fgraph.apply_nodes) >= 3
    xv, rv = rng.normal(size=(3, 4)), rng.normal(size=(1, 4))
    a, b, c = f(xv, rv)
    np.testing.assert_allclose(a, xv.sum(0))
    np.testing.assert_allclose(b, rv.sum(1))
    assert c == rv.max()


def test_useless_dimshuffle_drop_and_readd_of_a_unit_axis():
    r = kt.row("r")
    back = r.dimshuffle(1).dimshuffle("x", 0)         # (1, n) -> (n,) -> (1, n)
    f = kiln.function([r], kt.exp(back), mode=PY)
    assert not any(isinstance(n.op, DimShuffle) for n in f.fgraph.apply_nodes)
    rv = rng.normal(size=(1, 5))
    np.testing.assert_allclose(f(rv), np.exp(rv))
    # a matrix's axis 0 is not known to be 1: the same shuffle is a checked drop, kept
    x = kt.matrix("x")
    g = kiln.function([x], kt.exp(x.dimshuffle(1).dimshuffle("x", 0)), mode=PY)
    assert any(isinstance(n.op, DimShuffle) for n in g.fgraph.apply_nodes)
    np.testing.assert_allclose(g(rv), np.exp(rv))


def generated_graph(n_nodes: int, seed: int):
    """bench/bench_rewrite.py's recipe, smaller: unary/binary elementwise ops over a matrix, a
    row and a vector, small constants, and keepdims sums over axis 0."""
    r_ = np.random.default_rng(seed)
    x, r, v = kt.matrix("x"), kt.row("r"), kt.vector("v")
    pool = [x, r, v]
    unary = [kt.exp, kt.tanh, kt.sin, kt.sqr, kt.abs, kt.sigmoid, lambda a: -a,
             lambda a: kt.log(1 + a * a), lambda a: a * 1, lambda a: a + 0]
    binary = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b,
              lambda a, b: kt.maximum(a, b), lambda a, b: a / (1 + b * b)]
    outs = []
    for _ in range(n_nodes):
        k = r_.integers(0, 10)
        a = pool[int(r_.integers(max(0, len(pool) - 30), len(pool)))]
        if k < 5:
            new = unary[int(r_.integers(len(unary)))](a)
        elif k < 9:
            b = pool[int(r_.integers(max(0, len(pool) - 30), len(pool)))]
            new = binary[int(r_.integers(len(binary)))](a, b)
        else:
            new = kt.sum(a * 2.0, axis=0, keepdims=True) if a.ndim == 2 else a * 2.0
        pool.append(new)
        if r_.integers(0, 25) == 0:
            outs.append(new)
    outs.append(pool[-1])
    return [x, r, v], outs


def _counts(ins, outs, mode) -> Counter:
    fg = FunctionGraph(ins, outs, clone=True)
    run_pipeline(fg, mode)
    return Counter(type(n.op).__name__ for n in fg.apply_nodes)


@pytest.mark.parametrize("seed", [2, 4])
def test_generated_graph_values_and_smaller_graph(seed):
    ins, outs = generated_graph(250, seed)
    with_rules = _counts(ins, outs, PY)
    without = _counts(ins, outs, PY.excluding("sum_over_unit_axes", "prod_over_unit_axes",
                                              "max_over_unit_axes", "min_over_unit_axes"))
    assert sum(with_rules.values()) < sum(without.values())
    assert with_rules["Sum"] + with_rules.get("FusedReduce", 0) < without["Sum"] + without.get("FusedReduce", 0)
    f = kiln.function(ins, outs, mode=PY, on_unused_input="ignore")
    assert explain(f).count("sum_over_unit_axes") > 0
    # no reduction left over a length-1 axis, no dimshuffle that only re-adds a dropped unit axis
    for n in f.fgraph.apply_nodes:
        if isinstance(n.op, Reduce) and getattr(n.op, "axis", None):
            assert not all(n.inputs[0].type.shape[a] == 1 for a in n.op.axis)
    ref = kiln.function(ins, outs, mode=REF, on_unused_input="ignore")
    vals = (rng.uniform(-1, 1, size=(3, 4)), rng.uniform(-1, 1, size=(1, 4)), rng.uniform(-1, 1, size=4))
    with np.errstate(all="ignore"):
        got, want = f(*vals), ref(*vals)
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=True)


def test_node_feeding_several_kernels_joins_its_producers_kernel():
    """sin(k) with k computed by a fused kernel and sin(k) read by two other kernels: it
    becomes one more output of k's kernel instead of a kernel (a pass over memory) of its own."""
    from kiln.scalar.composite import Composite

    x, y, z = kt.matrix("x"), kt.matrix("y"), kt.matrix("z")
    k = kt.exp(x) * y + x
    s = kt.sin(k)
    outs = [k * z + 1, s * kt.tanh(z), s - kt.cos(z)]
    f = kiln.function([x, y, z], outs, mode=PY)
    elemwise = [n for n in f.fgraph.apply_nodes if hasattr(n.op, "scalar_op")]
    assert all(isinstance(n.op.scalar_op, Composite) for n in elemwise)
    owners = [n for n in elemwise if {"exp", "sin"} <= {type(m.op).__name__.lower()
                                                       for m in n.op.scalar_op.fgraph.apply_nodes}]
    assert len(owners) == 1 and len(owners[0].outputs) >= 2
    xv, yv, zv = (rng.normal(size=(3, 4)) for _ in range(3))
    kv = np.exp(xv) * yv + xv
    for got, want in zip(f(xv, yv, zv), [kv * zv + 1, np.sin(kv) * np.tanh(zv), np.sin(kv) - np.cos(zv)]):
        np.testing.assert_allclose(got, want, rtol=1e-13)

