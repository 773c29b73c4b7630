"""Reduction fusion (kiln/rewrites/reduce_fusion.py) and the FusedReduce op's own semantics
(kiln/tensor/fused_reduce.py) on the python linker: which groups fuse, values against the
unrewritten graph and NumPy, chunked perform, bounded memory, shapes, pickling."""
import pickle
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import kiln
import kiln.tensor as kt
import kiln.tensor.fused_reduce as fr
from kiln.rewrites import explain
from kiln.tensor.fused_reduce import FusedReduce, FusionError, axis_plan, op_eval

PYFAST = kiln.Mode(linker="py")
NONE = kiln.Mode(linker="py", rewrites="none")


def _fused(f) -> list:
    return [n for n in f.fgraph.apply_nodes if isinstance(n.op, FusedReduce)]


def _keops(x, y, b):
    return kt.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) @ b


def _keops_np(x, y, b):
    return np.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) @ b


def test_reduction_with_elementwise_prologue_fuses_and_keeps_values():
    x, m = kt.dmatrix("x"), kt.dcol("m")
    outs = [kt.sum(kt.exp(x - m), axis=1), kt.mean(kt.sqr(x + 1)), kt.max(kt.abs(x * 3), axis=0)]
    f = kiln.function([x, m], outs, mode=PYFAST)
    assert len(_fused(f)) == 3 and explain(f).count("reduce_fusion") == 3
    xv, mv = np.random.default_rng(0).normal(size=(5, 7)), np.random.default_rng(1).normal(size=(5, 1))
    want = [np.exp(xv - mv).sum(axis=1), ((xv + 1) ** 2).mean(), np.abs(xv * 3).max(axis=0)]
    for g, w in zip(f(xv, mv), want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_logsumexp_is_max_then_one_fused_exp_sum_pass():
    x = kt.dmatrix("x")
    f = kiln.function([x], kt.logsumexp(x, axis=1), mode=PYFAST)
    (node,) = _fused(f)
    inner = [type(n.op).__name__ for n in node.op.fgraph.toposort()]
    assert inner == ["Elemwise", "Sum"]                      # exp(x - m), summed in the same loop
    assert sum(type(n.op).__name__ == "Max" for n in f.fgraph.apply_nodes) == 1
    v = np.random.default_rng(2).normal(size=(6, 9)) * 50
    m = v.max(axis=1, keepdims=True)
    np.testing.assert_allclose(f(v), (m + np.log(np.exp(v - m).sum(axis=1, keepdims=True)))[:, 0], rtol=1e-12)


def test_values_used_elsewhere_and_plain_reductions_are_not_fused():
    x = kt.dmatrix("x")
    e = kt.exp(x)
    f = kiln.function([x], [kt.sum(e, axis=1), e], mode=PYFAST)
    assert not _fused(f)
    g = kiln.function([x], [kt.sum(x, axis=1), kt.max(x)], mode=PYFAST)
    assert not _fused(g)                                       # the reduction kernel does those


def test_keops_expression_is_one_node_with_nested_sums():
    x, y, b = kt.dmatrix("x"), kt.dmatrix("y"), kt.dvector("b")
    f = kiln.function([x, y, b], _keops(x, y, b), mode=PYFAST)
    (node,) = _fused(f)
    assert [type(n.op).__name__ for n in node.op.reductions()] == ["Sum", "Sum"]
    assert all(n is node or type(n.op).__name__ == "DimShuffle" for n in f.fgraph.apply_nodes)
    rng = np.random.default_rng(3)
    xv, yv, bv = rng.normal(size=(11, 3)), rng.normal(size=(13, 3)), rng.normal(size=13)
    np.testing.assert_allclose(f(xv, yv, bv), _keops_np(xv, yv, bv), rtol=1e-12)


def test_matmul_with_wide_operand_or_unfusible_factor_stays_blas():
    x, w, v = kt.dmatrix("x"), kt.dmatrix("w"), kt.dvector("v")
    f = kiln.function([x, w, v], [kt.exp(x) @ w, x @ v, kt.dot(kt.exp(-x), v)], mode=PYFAST)
    assert len(_fused(f)) == 1                                 # only exp(-x) . v
    rng = np.random.default_rng(4)
    xv, wv, vv = rng.normal(size=(4, 5)), rng.normal(size=(5, 3)), rng.normal(size=5)
    for g, want in zip(f(xv, wv, vv), [np.exp(xv) @ wv, xv @ vv, np.exp(-xv) @ vv]):
        np.testing.assert_allclose(g, want, rtol=1e-12)


def test_chunked_perform_equals_one_shot(monkeypatch):
    x, y, b = kt.dmatrix("x"), kt.dmatrix("y"), kt.dvector("b")
    f = kiln.function([x, y, b], [_keops(x, y, b), kt.sum(kt.exp(x[:, :, None] * y.T[None]), axis=(1,)),
                                  kt.max(kt.cos(x[:, None, :] * y[None, :, :])), kt.sum(kt.exp(x[:, None, :] - y))],
                      mode=PYFAST)
    rng = np.random.default_rng(5)
    xv, yv, bv = rng.normal(size=(9, 3)), rng.normal(size=(10, 3)), rng.normal(size=10)
    whole = f(xv, yv, bv)
    monkeypatch.setattr(fr, "CHUNK_ELEMS", 7)                  # one row (or less) per chunk
    parts = f(xv, yv, bv)
    for a, c in zip(whole, parts):
        np.testing.assert_allclose(a, c, rtol=1e-13)
    np.testing.assert_allclose(parts[0], _keops_np(xv, yv, bv), rtol=1e-12)
    np.testing.assert_allclose(parts[1], np.exp(xv[:, :, None] * yv.T[None]).sum(axis=1), rtol=1e-12)
    # 0-d outputs: chunks of a reduced axis, partial results combined by the same reducer
    np.testing.assert_allclose(parts[2], np.cos(xv[:, None, :] * yv[None, :, :]).max(), rtol=1e-13)
    np.testing.assert_allclose(parts[3], np.exp(xv[:, None, :] - yv).sum(), rtol=1e-12)


def test_python_linker_runs_keops_in_bounded_memory():
    n = m = 3000
    x, y, b = kt.dmatrix("x"), kt.dmatrix("y"), kt.dvector("b")
    f = kiln.function([x, y, b], _keops(x, y, b), mode=PYFAST)
    rng = np.random.default_rng(6)
    xv, yv, bv = rng.normal(size=(n, 3)), rng.normal(size=(m, 3)), rng.normal(size=m)
    tracemalloc.start()
    got = f(xv, yv, bv)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    broadcast_bytes = n * m * 3 * 8
    assert peak < broadcast_bytes / 4, (peak, broadcast_bytes)   # chunks of ~CHUNK_ELEMS elements
    rows = slice(0, 100)
    np.testing.assert_allclose(got[rows], _keops_np(xv[rows], yv, bv), rtol=1e-12)


def test_axis_plan_rejects_what_is_not_one_loop_nest():
    x = kt.dmatrix("x")
    with pytest.raises(FusionError):                           # x[i, j] * x[j, i]: a diagonal
        FusedReduce([x], [kt.sum(x * x.T, axis=1)])
    e = kt.exp(x)
    with pytest.raises(FusionError):                           # one axis reduced twice
        FusedReduce([x], [kt.sum(e - kt.max(e, axis=1, keepdims=True), axis=1)])
    with pytest.raises(FusionError):                           # a constant inside
        FusedReduce([x], [kt.sum(x ** 2, axis=1)])
    s = kt.sum(e, axis=0)
    plan = axis_plan([x], [s], [e.owner, s.owner])
    assert plan.n_axes == 2 and plan.output_axes == (1,) and plan.reduced[s.owner] == {0}
    assert plan.dom(e) == {0, 1} and plan.dom(s) == {1}


def test_op_shape_str_equality_and_pickle():
    x, r = kt.dmatrix("x"), kt.drow("r")
    op = FusedReduce([x, r], [kt.sum(kt.exp(x) * r, axis=0)])
    op2 = FusedReduce([x, r], [kt.sum(kt.exp(x) * r, axis=0)])
    assert op == op2 and hash(op) == hash(op2) and str(op) == "FusedReduce{Sum}"
    back = pickle.loads(pickle.dumps(op))
    assert back == op
    a, c = kt.dmatrix("a"), kt.drow("c")
    out = op(a, c)
    shp = kiln.function([a, c], out.shape, mode=PYFAST)
    assert tuple(shp(np.zeros((3, 4)), np.zeros((1, 4)))) == (4,)
    v, w = np.random.default_rng(7).normal(size=(3, 4)), np.random.default_rng(8).normal(size=(1, 4))
    np.testing.assert_allclose(op_eval(back, [v, w]), (np.exp(v) * w).sum(axis=0), rtol=1e-12)
    with pytest.raises(ValueError, match="broadcast"):
        op_eval(op, [v, np.zeros((1, 5))])


UNARY = [kt.exp, kt.sin, kt.tanh, kt.sqr, kt.abs, lambda t: t * 2 - 1, kt.sigmoid]
REDUCERS = [kt.sum, kt.max, kt.min, kt.prod, kt.mean]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(range(len(UNARY))), min_size=1, max_size=3),
       st.sampled_from(range(len(REDUCERS))), st.sampled_from([0, 1, 2, (0, 2), (1, 2), None]),
       st.booleans())
def test_property_fused_equals_unfused(chain, red, axis, keep):
    x, r = kt.dtensor3("x"), kt.dtensor3("r")
    out = x * r
    for k in chain:
        out = UNARY[k](out)
    out = REDUCERS[red](out, axis=axis, keepdims=keep)
    rng = np.random.default_rng(len(chain) * 7 + red)
    xv, rv = rng.normal(size=(2, 3, 4)) * 0.5, rng.normal(size=(1, 3, 1)) * 0.5
    fast = kiln.function([x, r], out, mode=PYFAST)
    want = kiln.function([x, r], out, mode=NONE)(xv, rv)
    got = fast(xv, rv)
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_hand_built_op_differentiates_through_its_inner_graph():
    from kiln.gradient.verify import verify_grad

    a, r, c = kt.dmatrix("a"), kt.drow("r"), kt.dmatrix("c")
    op = FusedReduce([a, r, c], [kt.sum(kt.exp(kt.sum(kt.sin(a) * r, axis=1, keepdims=True) * c), axis=1)])
    rng = np.random.default_rng(9)
    pts = [rng.normal(size=(3, 4)), rng.normal(size=(1, 4)), rng.normal(size=(3, 5))]
    verify_grad(lambda x, y, z: op(x, y, z), pts, rng=rng)      # reverse mode vs finite differences
    x, y, z = kt.dmatrix("x"), kt.drow("y"), kt.dmatrix("z")
    t = kiln.gradient.Rop(op(x, y, z), x, kt.ones_like(x))      # forward mode vs the unfused graph
    plain = kt.sum(kt.exp(kt.sum(kt.sin(x) * y, axis=1, keepdims=True) * z), axis=1)
    want = kiln.gradient.Rop(plain, x, kt.ones_like(x))
    np.testing.assert_allclose(kiln.function([x, y, z], t, mode=PYFAST)(*pts),
                               kiln.function([x, y, z], want, mode=NONE)(*pts), rtol=1e-12)
