"""The broadcast rules (kiln/rewrites/broadcast.py) and the SumToShape forms they produce.

Every rule: fires on its pattern, does not fire where its proof fails, and preserves values
(against the unrewritten graph on the python linker), including run-time broadcasting of
dimensions whose static length is unknown.  A Hypothesis property test differentiates random
broadcasting graphs and compares FAST_RUN with no rewriting.
"""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import kiln
import kiln.tensor as kt
from kiln.rewrites import explain
from kiln.rewrites.broadcast import bcast_keys, dim_key
from kiln.tensor.shape import BroadcastTo
from kiln.tensor.unbroadcast import BroadcastLike, SumToShape

from .helpers import FAST_RUN, NO_REWRITES, assert_same

rng = np.random.default_rng(3)
M = rng.uniform(-1.0, 1.0, (3, 4))
ROW = rng.uniform(-1.0, 1.0, (1, 4))
COL = rng.uniform(-1.0, 1.0, (3, 1))
V = rng.uniform(-1.0, 1.0, 4)


def mat(name):
    return kt.matrix(name)


def n_(name="n"):
    return kt.scalar(name, dtype="int64")


def _ones11():
    return kt.constant(np.ones((1, 1)))


# (rule name, fires?, builder -> (inputs, output, input values))
CASES = [
    # useless_broadcast
    ("useless_broadcast", True, lambda: (((m := mat("m")),), kt.broadcast_to(kt.exp(m), kt.shape(m)) + 1, (M,))),
    ("useless_broadcast", True, lambda: (((m := mat("m")),), SumToShape((0, 1), by_ref=True)(kt.exp(m) * 2, m), (M,))),
    # the target is statically (1, 4): axis 1 never sums, axis 0 always does (a plain Sum)
    ("useless_broadcast", True, lambda: (((m := kt.tensor("m", dtype="float64", shape=(None, 4))),),
                                         SumToShape((0, 1))(m * 2, [1, 4]), (M,))),
    # r may be broadcast against m at run time: the sum stays (and sums the rows here)
    ("useless_broadcast", False, lambda: (((m := mat("m")), (r := mat("r"))),
                                          SumToShape((0, 1), by_ref=True)(m * 2, r), (M, ROW))),
    # broadcast_of_broadcast
    ("broadcast_of_broadcast", True, lambda: (((v := kt.vector("v")), (n := n_())),
                                              kt.broadcast_to(kt.broadcast_to(v, (n, 4)).dimshuffle("x", 0, 1), (2, n, 4)),
                                              (V, np.array(3)))),
    # the outer length m differs from the inner n (n = 1 is stretched again): no proof
    ("broadcast_of_broadcast", False, lambda: (((v := kt.vector("v")), (n := n_()), (k := n_("k"))),
                                               kt.broadcast_to(kt.broadcast_to(v, (n, 4)).dimshuffle("x", 0, 1), (2, k, 4)),
                                               (V, np.array(1), np.array(3)))),
    # elemwise_of_broadcast: the multiplication by m broadcasts v to m's shape anyway
    ("elemwise_of_broadcast", True, lambda: (((v := kt.vector("v")), (m := mat("m"))),
                                             kt.broadcast_to(v, kt.shape(m)) * m, (V, M))),
    ("elemwise_of_broadcast", True, lambda: (((v := kt.vector("v")), (m := mat("m"))),
                                             BroadcastLike()(v, m) - kt.exp(m), (V, M))),
    # ... but not when the broadcast adds rows the other operand does not have
    ("elemwise_of_broadcast", False, lambda: (((v := kt.vector("v")), (w := kt.vector("w")), (n := n_())),
                                              kt.broadcast_to(v, (n, 4)) * w, (V, V[::-1], np.array(3)))),
    # mul by a broadcast one -> the other operand broadcast (c's lengths are part of the target's)
    ("elemwise_of_broadcast", True, lambda: (((a := mat("a")), (c := mat("c"))),
                                             kt.broadcast_to(_ones11(), kt.shape(a * c)) * c, (M, ROW))),
    ("elemwise_of_broadcast", False, lambda: (((c := mat("c")), (n := n_()), (k := n_("k"))),
                                              kt.broadcast_to(_ones11(), (n, k)) * c, (ROW, np.array(3), np.array(4)))),
    # sum_to_shape_of_broadcast: the gradient pattern sum_to(broadcast(ct, shape(a*b)) * b, a)
    ("sum_to_shape_of_broadcast", True, lambda: (((a := mat("a")), (b := mat("b")), (s := kt.scalar("s"))),
                                                 SumToShape((0, 1), by_ref=True)(
                                                     kt.broadcast_to(s.dimshuffle("x", "x"), kt.shape(a * b)) * b, a),
                                                 (ROW, COL, np.array(2.5)))),
    ("sum_to_shape_of_broadcast", True, lambda: (((a := mat("a")), (b := mat("b")), (s := kt.scalar("s"))),
                                                 SumToShape((0, 1), by_ref=True)(
                                                     kt.broadcast_to(s.dimshuffle("x", "x"), kt.shape(a * b)) * b, a),
                                                 (M, ROW, np.array(-1.5)))),
    # a broadcast to lengths unrelated to the target: no proof
    ("sum_to_shape_of_broadcast", False, lambda: (((a := mat("a")), (b := mat("b")), (n := n_()), (k := n_("k"))),
                                                  SumToShape((0, 1), by_ref=True)(
                                                      kt.broadcast_to(kt.constant(np.full((1, 1), 2.0)), (n, k)) * b, a),
                                                  (ROW, ROW, np.array(3), np.array(4)))),
    # sum_into_sum_to_shape: a bias gradient, b of run-time length 1 and 4
    ("sum_into_sum_to_shape", True, lambda: (((m := mat("m")), (b := kt.vector("b"))),
                                             SumToShape((0,), by_ref=True)(kt.sum(kt.exp(m), axis=0), b),
                                             (M, np.zeros(1)))),
    ("sum_into_sum_to_shape", True, lambda: (((m := mat("m")), (b := kt.vector("b"))),
                                             SumToShape((0,), by_ref=True)(kt.sum(kt.exp(m), axis=0), b),
                                             (M, np.zeros(4)))),
    ("sum_into_sum_to_shape", False, lambda: (((m := mat("m")), (b := kt.vector("b"))),
                                              SumToShape((0,), by_ref=True)(kt.sum(kt.exp(m), axis=1), b),
                                              (M, np.zeros(3)))),
    # shape_ref_off_dot: the gradient reads dot(X, W)'s shape; C may be a broadcast row
    ("shape_ref_off_dot", True, lambda: (((X := mat("X")), (W := mat("W")), (C := mat("C"))),
                                         kiln.grad(((kt.dot(X, W) + C) ** 2).sum(), W),
                                         (M, M.T[:, :2].copy(), M[:, :2].copy()))),
    ("shape_ref_off_dot", True, lambda: (((X := mat("X")), (W := mat("W")), (C := mat("C"))),
                                         kiln.grad(((kt.dot(X, W) + C) ** 2).sum(), W),
                                         (M, M.T[:, :2].copy(), ROW[:, :2].copy()))),
    # a bias row (statically broadcast) is better fused into the add's consumers than into Gemm
    ("shape_ref_off_dot", False, lambda: (((X := mat("X")), (W := mat("W")), (b := kt.vector("b"))),
                                          kiln.grad(kt.tanh(kt.dot(X, W) + b).sum(), W),
                                          (M, M.T[:, :2].copy(), V[:2].copy()))),
    # a 2-d matmul becomes a dot (matmul_to_dot), so its shape reference goes too
    ("shape_ref_off_dot", True, lambda: (((X := mat("X")), (W := mat("W")), (C := mat("C"))),
                                         kiln.grad(((X @ W + C) ** 2).sum(), W),
                                         (M, M.T[:, :2].copy(), M[:, :2].copy()))),
    # neg_out_of_sum / lift_neg_through_dimshuffle
    ("neg_out_of_sum", True, lambda: (((m := mat("m")),), kt.sum(-kt.exp(m), axis=1) * 2.0, (M,))),
    ("neg_out_of_sum", False, lambda: (((m := mat("m")),), kt.sum(-m, axis=1).sum() + kt.exp(-m).sum(), (M,))),
    ("lift_neg_through_dimshuffle", True, lambda: (((v := kt.vector("v")), (m := mat("m"))),
                                                   (-kt.exp(v)).dimshuffle("x", 0) * m, (V, M))),
    ("lift_neg_through_dimshuffle", False, lambda: (((v := kt.vector("v")), (m := mat("m"))),
                                                    (-v).dimshuffle("x", 0) * m + (-v).sum(), (V, M))),
]


@pytest.mark.parametrize("rule,fires,build", [c[:3] for c in CASES],
                         ids=[f"{c[0]}-{'fires' if c[1] else 'not'}-{k}" for k, c in enumerate(CASES)])
def test_rule(rule, fires, build):
    inputs, out, values = build()
    f = kiln.function(list(inputs), out, mode=FAST_RUN)
    ref = kiln.function(list(inputs), out, mode=NO_REWRITES)
    assert (explain(f).count(rule) > 0) == fires, (rule, str(explain(f)))
    assert_same([f(*values)], [ref(*values)], rtol=1e-12)
    f.fgraph.check_integrity()


def test_rules_remove_the_nodes_they_claim():
    a, b, s = mat("a"), mat("b"), kt.scalar("s")
    out = SumToShape((0, 1), by_ref=True)(kt.broadcast_to(s.dimshuffle("x", "x"), kt.shape(a * b)) * b, a)
    f = kiln.function([a, b, s], out, mode=FAST_RUN)
    kinds = [type(n.op) for n in f.fgraph.apply_nodes]
    assert BroadcastTo not in kinds and kinds.count(SumToShape) == 1
    assert [n.op.broadcast for n in f.fgraph.apply_nodes if isinstance(n.op, SumToShape)] == [True]
    m, bb = mat("m"), kt.vector("b")
    g = kiln.function([m, bb], SumToShape((0,), by_ref=True)(kt.sum(m, axis=0), bb), mode=FAST_RUN)
    assert [type(n.op) for n in g.fgraph.apply_nodes] == [SumToShape]


# -- the SumToShape forms -------------------------------------------------------------------
@pytest.mark.parametrize("xs,ts", [((3, 4), (1, 4)), ((1, 4), (3, 4)), ((3, 1), (1, 4)), ((1, 1), (3, 4)),
                                   ((3, 4), (3, 4)), ((3, 4), (1, 1))])
def test_sum_to_shape_broadcast_form_against_numpy(xs, ts):
    x, r = mat("x"), mat("r")
    X = rng.normal(size=xs)
    want = np.broadcast_to(X.sum(axis=tuple(d for d in range(2) if ts[d] == 1 and xs[d] != 1), keepdims=True), ts)
    for y in (SumToShape((0, 1), by_ref=True, broadcast=True)(x, r), SumToShape((0, 1), broadcast=True)(x, list(ts))):
        got = kiln.function([x, r], y, mode=NO_REWRITES, on_unused_input="ignore")(X, np.zeros(ts))
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_sum_to_shape_leading_axes_and_errors():
    x, b = kt.tensor3("x"), kt.vector("b")
    X = rng.normal(size=(2, 3, 4))
    f = kiln.function([x, b], SumToShape((0,), by_ref=True)(x, b), mode=NO_REWRITES)
    np.testing.assert_allclose(f(X, np.zeros(1)), X.sum(axis=(0, 1)).sum(keepdims=True).reshape(1))
    np.testing.assert_allclose(f(X, np.zeros(4)), X.sum(axis=(0, 1)))
    with pytest.raises(ValueError, match="SumToShape"):
        f(X, np.zeros(3))
    with pytest.raises(ValueError, match="target has 3 dims"):
        SumToShape((0,), by_ref=True)(b, x)
    with pytest.raises(ValueError, match="target has 1 dims"):
        SumToShape((0,), by_ref=True, broadcast=True)(x, b)


@pytest.mark.parametrize("form", ["broadcast", "leading"])
def test_sum_to_shape_forms_transpose_by_dot_product(form):
    """<ct, L t> == <L^T ct, t> for the new SumToShape forms (L^T from kiln's transpose rules)."""
    from kiln.gradient import Lop

    if form == "broadcast":
        t, r = mat("t"), mat("r")
        T, R = rng.normal(size=(1, 4)), np.zeros((3, 1))
        L = SumToShape((0, 1), by_ref=True, broadcast=True)(t, r)
        CT = rng.normal(size=(3, 1))
    else:
        t, r = kt.tensor3("t"), kt.vector("r")
        T, R = rng.normal(size=(2, 3, 4)), np.zeros(1)
        L = SumToShape((0,), by_ref=True)(t, r)
        CT = rng.normal(size=(1,))
    ct = kt.tensor("ct", dtype="float64", shape=(None,) * L.ndim)
    lt = Lop(L, t, ct)
    f = kiln.function([t, r, ct], [L, lt], mode=NO_REWRITES)
    fwd, back = f(T, R, CT)
    assert back.shape == T.shape
    np.testing.assert_allclose(np.sum(CT * fwd), np.sum(back * T), rtol=1e-10)


def test_shape_ref_off_dot_lets_the_dot_become_gemm():
    from kiln.rewrites.blas_ops import Gemm
    from kiln.tensor.blas import Dot

    X, W, C = mat("X"), mat("W"), mat("C")
    f = kiln.function([X, W, C], kiln.grad(((kt.dot(X, W) + C) ** 2).sum(), W), mode=FAST_RUN)
    kinds = [type(n.op) for n in f.fgraph.apply_nodes]
    assert Gemm in kinds and kinds.count(Dot) == 1  # the forward dot is in Gemm; one dot for dW


def test_dim_keys():
    x, y = mat("x"), mat("y")
    s = kt.tensor("s", dtype="float64", shape=(None, 4))
    assert dim_key(kt.exp(x) + y, 0) == bcast_keys([dim_key(x, 0), dim_key(y, 0)])
    assert dim_key(kt.exp(x) + y, 0) != dim_key(x, 0)
    assert dim_key(x + s, 1) == 4 and dim_key(x.dimshuffle("x", 0, 1), 0) == 1
    assert dim_key(kt.dot(x, y), 1) == dim_key(y, 1)
    v = kt.vector("v")
    assert dim_key(kt.dot(x, v), 0) == dim_key(x, 0) and dim_key(kt.dot(v, y), 0) == dim_key(y, 1)
    from kiln.rewrites.blas_ops import matvec_pair
    assert all(dim_key(o, 0) == dim_key(x, 0) for o in matvec_pair(x, v, v))
    t3 = kt.tensor3("t")
    assert dim_key(kt.sum(t3, axis=1), 1) == dim_key(t3, 2)
    assert dim_key(kt.max(t3, axis=(0, 2), keepdims=True), 1) == dim_key(t3, 1)
    assert dim_key(kt.broadcast_to(x, kt.shape(y)), 0) == dim_key(y, 0)
    assert bcast_keys([1, 1]) == 1 and bcast_keys([dim_key(x, 0), 1]) == dim_key(x, 0)
    from kiln.rewrites.blas_ops import Gemm

    c, one = mat("c"), kt.constant(1.0)
    g = Gemm()(c, one, x, y, one)  # beta * c + alpha * x @ y broadcasts c against the product
    assert dim_key(g, 0) == bcast_keys([dim_key(c, 0), dim_key(x, 0)])
    assert dim_key(g, 1) == bcast_keys([dim_key(c, 1), dim_key(y, 1)])


# -- property test: gradients of random broadcasting graphs -----------------------------------
SHAPES = [(1, 1), (1, 4), (3, 1), (3, 4)]
UNARY = [kt.tanh, kt.exp, kt.sin, lambda a: -a, lambda a: a * 2.0]
BINARY = [kt.add, kt.mul, kt.sub, lambda a, b: a * kt.tanh(b)]
ENDS = [lambda a: a.sum(), lambda a: a.mean(), lambda a: kt.sum(a, axis=0).mean(), lambda a: (a ** 2).sum(axis=1).mean()]


@st.composite
def grad_graphs(draw):
    shapes = [draw(st.sampled_from(SHAPES)) for _ in range(3)]
    # inputs of unknown static shape (a 1 may be broadcast at run time) or with their shape static
    static = [draw(st.booleans()) for _ in range(3)]
    ins = [kt.tensor(f"i{k}", dtype="float64", shape=s if st_ else (None, None))
           for k, (s, st_) in enumerate(zip(shapes, static))]
    pool = list(ins)
    for _ in range(draw(st.integers(1, 6))):
        if draw(st.booleans()):
            pool.append(draw(st.sampled_from(UNARY))(draw(st.sampled_from(pool))))
        else:
            pool.append(draw(st.sampled_from(BINARY))(draw(st.sampled_from(pool)), draw(st.sampled_from(pool))))
    out = pool[-1]
    for v in ins:  # every input takes part, so every gradient is connected
        out = out + v * 0.5
    cost = draw(st.sampled_from(ENDS))(out)
    return ins, shapes, [cost] + list(kiln.grad(cost, ins))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(grad_graphs(), st.integers(0, 2**32 - 1))
def test_fast_run_gradients_of_broadcasting_graphs(graph, seed):
    ins, shapes, outs = graph
    r = np.random.default_rng(seed)
    vals = [r.uniform(-1.0, 1.0, s) for s in shapes]
    fast = kiln.function(ins, outs, mode=FAST_RUN)
    ref = kiln.function(ins, outs, mode=NO_REWRITES)
    got, want = fast(*vals), ref(*vals)
    for g, w, v in zip(got[1:], want[1:], vals):
        assert np.shape(g) == v.shape
    assert_same(got, want, rtol=1e-9, atol=1e-12)
    fast.fgraph.check_integrity()


# -- the MLP gradient: issue 3's node-count goal -------------------------------------------------
def _mlp(static: bool):
    sizes = (6, 5, 5, 3)
    r = np.random.default_rng(0)
    x, y = kt.matrix("x"), kt.lvector("y")
    params, h = [], x
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        kw = (lambda s: {"shape": s}) if static else (lambda s: {})
        W = kiln.shared(r.normal(size=(a, b)), name=f"W{i}", **kw((a, b)))
        c = kiln.shared(r.normal(size=b), name=f"b{i}", **kw((b,)))
        params += [W, c]
        h = h @ W + c
        if i < len(sizes) - 2:
            h = kt.tanh(h)
    onehot = kt.eq(y.dimshuffle(0, "x"), kt.arange(sizes[-1]).dimshuffle("x", 0))
    cost = -(kt.log_softmax(h, axis=1) * onehot).sum(axis=1).mean()
    return [x, y], params, kiln.grad(cost, params)


@pytest.mark.parametrize("static", [False, True])
def test_mlp_gradient_is_lean_and_right(static):
    inputs, params, grads = _mlp(static)
    f = kiln.function(inputs, grads, mode=FAST_RUN)
    ref = kiln.function(inputs, grads, mode=NO_REWRITES)
    kinds = [type(n.op).__name__ for n in f.fgraph.apply_nodes]
    # no materialized broadcasts are left, and a bias gradient is one summing node
    assert not {"BroadcastTo", "BroadcastLike", "Alloc", "MakeVector"} & set(kinds), kinds
    for n in f.fgraph.apply_nodes:
        if isinstance(n.op, SumToShape):
            src = n.inputs[0].owner
            assert src is None or type(src.op).__name__ != "Sum"
    # static weights: only the batch length (of x versus y) is unknown, so one SumToShape
    assert kinds.count("SumToShape") == (1 if static else 7)
    r = np.random.default_rng(1)
    for batch_x, batch_y in [(4, 4), (1, 4), (4, 1)]:  # NumPy broadcasting of the batch, too
        X, Y = r.normal(size=(batch_x, 6)), r.integers(0, 3, size=batch_y)
        assert_same(f(X, Y), ref(X, Y), rtol=1e-9, atol=1e-12)


def test_mlp_gradient_has_no_more_nodes_than_pytensor():
    """Issue 3's goal, checked against PyTensor itself where it is installed (bench/ reports it
    for the full-size model)."""
    pytensor = pytest.importorskip("pytensor")
    import pytensor.tensor as pt
    from pytensor.tensor.special import log_softmax

    sizes = (6, 5, 5, 3)
    r = np.random.default_rng(0)
    x, y = pt.matrix("x", dtype="float64"), pt.lvector("y")
    params, h = [], x
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        W, c = pytensor.shared(r.normal(size=(a, b))), pytensor.shared(r.normal(size=b))
        params += [W, c]
        h = h @ W + c
        if i < len(sizes) - 2:
            h = pt.tanh(h)
    onehot = pt.eq(y.dimshuffle(0, "x"), pt.arange(sizes[-1]).dimshuffle("x", 0))
    cost = -(log_softmax(h, axis=1) * onehot).sum(axis=1).mean()
    theirs = len(pytensor.function([x, y], pytensor.grad(cost, params), mode="FAST_RUN").maker.fgraph.apply_nodes)
    for static in (False, True):
        inputs, _, grads = _mlp(static)
        ours = len(kiln.function(inputs, grads, mode=FAST_RUN).fgraph.apply_nodes)
        assert ours <= theirs, (static, ours, theirs)
