"""InnerGraphOp: ops holding a frozen inner graph (equality by structure, perform, infer_shape)."""
import pickle

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph import FunctionGraph, InnerGraphOp, graph_signature
from kiln.tensor.shape import infer_graph_shapes


def make_op(const=2.0, name=None):
    x, y = kt.vector("x"), kt.vector("y")
    return InnerGraphOp([x, y], [kt.exp(x) * const + y], name=name)


def test_structurally_equal_graphs_give_equal_ops():
    a, b = make_op(), make_op()
    assert a is not b and a == b and hash(a) == hash(b)
    assert len({a, b}) == 1


def test_names_of_variables_do_not_matter():
    p, q = kt.vector("p"), kt.vector("q")
    c = InnerGraphOp([p, q], [kt.exp(p) * 2.0 + q])
    assert c == make_op()


def test_different_constants_make_ops_differ():
    assert make_op(2.0) != make_op(3.0)
    assert make_op(0.0) != make_op(-0.0)
    assert make_op(float("nan")) == make_op(float("nan"))


def test_different_structure_or_types_make_ops_differ():
    x, y = kt.vector("x"), kt.vector("y")
    swapped = InnerGraphOp([y, x], [kt.exp(x) * 2.0 + y])  # input order matters
    assert swapped != make_op()
    xf, yf = kt.fvector("x"), kt.fvector("y")
    assert InnerGraphOp([xf, yf], [kt.exp(xf) * 2.0 + yf]) != make_op()
    assert InnerGraphOp([x, y], [kt.sin(x) * 2.0 + y]) != make_op()


def test_graph_signature_ignores_identity_but_not_wiring():
    x, y = kt.vector("x"), kt.vector("y")
    s1 = graph_signature([x, y], [x - y])
    s2 = graph_signature([x, y], [y - x])
    assert s1 != s2
    u, v = kt.vector("u"), kt.vector("v")
    assert graph_signature([u, v], [u - v]) == s1
    with pytest.raises(ValueError, match="not reachable"):
        graph_signature([x], [x - y])


def test_inner_graph_is_frozen_copy():
    x, y = kt.vector("x"), kt.vector("y")
    out = kt.exp(x) + y
    op = InnerGraphOp([x, y], [out])
    assert op.inner_inputs[0] is not x and op.inner_outputs[0] is not out
    assert isinstance(op.fgraph, FunctionGraph)
    op.fgraph.check_integrity()


def test_missing_inner_input_is_reported():
    x, y = kt.vector("x"), kt.vector("hidden")
    with pytest.raises(kiln.graph.MissingInputError, match="hidden"):
        InnerGraphOp([x], [x + y])


def test_perform_evaluates_inner_graph():
    op = make_op()
    a, b = kt.vector("a"), kt.vector("b")
    out = op(a, b)
    av, bv = np.array([0.0, 1.0]), np.array([10.0, 20.0])
    np.testing.assert_allclose(out.eval({a: av, b: bv}), np.exp(av) * 2.0 + bv)
    f = kiln.function([a, b], out)
    np.testing.assert_allclose(f(av, bv), np.exp(av) * 2.0 + bv)


def test_multiple_outputs_and_output_that_is_an_input():
    x, y = kt.vector("x"), kt.vector("y")
    op = InnerGraphOp([x, y], [x + y, x])
    a, b = kt.vector("a"), kt.vector("b")
    s, same = op(a, b)
    av, bv = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    node = s.owner
    storage = [[None], [None]]
    op.perform(node, [av, bv], storage)
    np.testing.assert_allclose(storage[0][0], av + bv)
    np.testing.assert_allclose(storage[1][0], av)
    # no view_map is declared, so the output must not alias the input
    assert not np.shares_memory(storage[1][0], av)


def test_make_node_checks_inputs():
    op = make_op()
    with pytest.raises(TypeError, match="expected 2 inputs"):
        op(kt.vector("a"))
    with pytest.raises(TypeError, match="input 1"):
        op(kt.vector("a"), kt.matrix("m"))
    # a Python value becomes a constant of the inner input's type
    out = op(kt.vector("a"), np.array([1.0, 1.0]))
    assert out.owner.inputs[1].type == op.inner_inputs[1].type


def test_infer_shape_through_inner_graph():
    x = kt.matrix("x")
    op = InnerGraphOp([x], [kt.exp(x).sum(axis=1), x.T])
    m = kt.matrix("m")
    outs = op(m)
    node = outs[0].owner
    shapes = op.infer_shape(None, node, [(m.shape[0], m.shape[1])])
    mv = np.ones((3, 5))
    got = [tuple(int(kt.as_tensor_variable(d).eval({m: mv}) if not isinstance(d, int) else d) for d in s)
           for s in shapes]
    assert got == [(3,), (5, 3)]
    # infer_graph_shapes over an outer graph containing the op agrees
    whole = infer_graph_shapes([m], [outs[1]], [(m.shape[0], m.shape[1])])[0]
    assert tuple(int(kt.as_tensor_variable(d).eval({m: mv})) for d in whole) == (5, 3)


def test_inner_graph_op_pickles():
    op = make_op(name="fused")
    op2 = pickle.loads(pickle.dumps(op))
    assert op2 == op and hash(op2) == hash(op) and str(op2) == "fused"
    a, b = kt.vector("a"), kt.vector("b")
    av, bv = np.array([0.5]), np.array([1.0])
    np.testing.assert_allclose(op2(a, b).eval({a: av, b: bv}), np.exp(av) * 2 + bv)
