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


def test_deep_inner_graph_pickles_without_recursion():
    # the inner graph travels flat: a chain far deeper than the recursion limit still pickles
    import sys

    x = kt.vector("x")
    y = x
    for _ in range(sys.getrecursionlimit()):
        y = kt.exp(y) * 0.5
    op = InnerGraphOp([x], [y])
    op2 = pickle.loads(pickle.dumps(op))
    assert op2 == op and hash(op2) == hash(op)
    a = kt.vector("a")
    av = np.array([0.1, -0.3])
    mode = kiln.Mode(linker="py", rewrites=None)
    np.testing.assert_allclose(kiln.function([a], op2(a), mode=mode)(av), kiln.function([a], op(a), mode=mode)(av))


def test_composite_pickles_flat_and_keeps_identity():
    from kiln.scalar import math as ps
    from kiln.scalar.basic import scalar_type
    from kiln.scalar.composite import Composite

    a = scalar_type("float64")()
    out = a
    for _ in range(2000):
        out = ps.mul(ps.sin(out), ps.add(out, 1.0))
    c = Composite([a], [out])
    c2 = pickle.loads(pickle.dumps(c))
    assert c2 == c and hash(c2) == hash(c)
    xs = np.linspace(-1, 1, 5)
    np.testing.assert_array_equal(c2.impl(xs), c.impl(xs))


class _NoShapeOp(kiln.graph.Op):
    """Doubles its input; declares no infer_shape (Op's default raises NotImplementedError)."""

    def make_node(self, x):
        x = kt.as_tensor_variable(x)
        return kiln.graph.Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] * 2


def test_infer_shape_does_not_leak_inner_variables():
    from kiln.graph.traversal import ancestors

    x = kt.matrix("x")
    op = InnerGraphOp([x], [_NoShapeOp()(x).sum(axis=0)])
    with pytest.raises(NotImplementedError, match="no infer_shape"):
        op.infer_shape(None, op(kt.matrix("m")).owner, [(2, 3)])
    m = kt.matrix("m")
    out = op(m)
    (shp,) = infer_graph_shapes([m], [out], [(m.shape[0], m.shape[1])])
    leaked = set(op.fgraph.variables) & set(ancestors(list(shp)))
    assert not leaked
    mv = np.ones((4, 3))
    assert int(kt.as_tensor_variable(shp[0]).eval({m: mv})) == (mv * 2).sum(axis=0).shape[0]


def test_infer_shape_of_inner_graph_uses_fully_static_shapes():
    x = kt.TensorType("float64", (2, 3))("x")
    op = InnerGraphOp([x], [_NoShapeOp()(x)])
    node = op(kt.TensorType("float64", (2, 3))("m")).owner
    assert [tuple(s) for s in op.infer_shape(None, node, [(2, 3)])] == [(2, 3)]


def test_an_inner_shape_computed_from_an_input_value_is_moved_onto_the_outer_input():
    # the outputs' lengths are computed from inner *values* (n itself; arange's stop, a value
    # read off x's shape): the outer graph's shape must read the node's own inputs there, never
    # the inner variables (the shape rewrites ask for it: an inner variable leaked before)
    import kiln
    from kiln.compile.builders import OpFromGraph

    x, n = kt.dvector("x"), kt.lscalar("n")
    op = OpFromGraph([x, n], [kt.zeros((n,)) + x.sum(), kt.arange(x.shape[0]) * 1.0])
    a, m = kt.dvector("a"), kt.lscalar("m")
    out, ramp = op(a, m * 2)
    for mode in (kiln.Mode(linker="py"), kiln.Mode(linker="py", rewrites="none")):
        f = kiln.function([a, m], [out.shape[0], out, ramp.shape[0] + 1], mode=mode)
        length, value, ramp_len = f(np.arange(3.0), 2)
        assert int(length) == 4 and value.tolist() == [3.0] * 4 and int(ramp_len) == 4
