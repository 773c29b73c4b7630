"""Map (kiln.gradient.jacobian): several sequences, infer_shape, empty sequences, and its
derivatives (jvp rule, transpose of the tangent map) against finite differences, SymPy and
the dot-product identity."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import sympy

import kiln
import kiln.tensor as kt
from kiln.gradient import Lop, Rop, grad, hessian, jacobian, verify_grad
from kiln.gradient.jacobian import Map
from kiln.graph.traversal import toposort
from kiln.tensor.shape import infer_graph_shapes
from tests.helpers import PY, dot_product_test

MODES = [PY, None]          # the python linker (reference) and the default (C) linker


def _maps(outputs) -> list:
    return [n.op for n in toposort(outputs if isinstance(outputs, list) else [outputs]) if isinstance(n.op, Map)]


def _row_map():
    """Map over the rows r of a matrix with a shared vector c: (tanh(r) * c, sum(r ** 2))."""
    r, c = kt.vector("r"), kt.vector("c")
    return Map([r, c], [kt.tanh(r) * c, (r ** 2).sum()], name="rows")


def _row_map_numpy(X, c):
    return [np.tanh(X) * c, (X ** 2).sum(axis=1)]


# -- running --------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_map_matches_numpy(mode):
    X, c = kt.matrix("X"), kt.vector("c")
    outs = _row_map()(X, c)
    Xv, cv = np.arange(6.0).reshape(3, 2) / 7, np.array([0.5, -2.0])
    for g, w in zip(kiln.function([X, c], outs, mode=mode)(Xv, cv), _row_map_numpy(Xv, cv)):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_map_two_sequences_walk_together():
    a, b, s = kt.vector("a"), kt.vector("b"), kt.scalar("s")
    op = Map([a, b, s], [kt.dot(a, b) * s], n_seqs=2)
    A, B = kt.matrix("A"), kt.matrix("B")
    f = kiln.function([A, B, s], op(A, B, s), mode=PY)
    Av, Bv = np.arange(6.0).reshape(3, 2), np.arange(6.0, 12.0).reshape(3, 2)
    np.testing.assert_allclose(f(Av, Bv, 2.0), 2.0 * (Av * Bv).sum(axis=1))
    with pytest.raises(ValueError, match="sequence 1 has 2 entries, sequence 0 has 3"):
        f(Av, Bv[:2], 2.0)


def test_map_errors_name_the_op():
    r = kt.vector("r")
    op = Map([r], [r * 2.0], name="twice")
    with pytest.raises(TypeError, match="twice: sequence 0 must have 2 dims, got 1"):
        op(kt.vector("v"))
    with pytest.raises(ValueError, match="n_seqs=2"):
        Map([r], [r], n_seqs=2)
    # entries of different shapes cannot be stacked
    x = kt.lvector("x")
    k = kt.lscalar("k")
    rag = Map([k], [kt.arange(k)], name="ragged")
    with pytest.raises(ValueError, match="ragged: output 0 has shape"):
        kiln.function([x], rag(x), mode=PY)(np.array([2, 3]))


def test_map_pickles_with_its_props():
    r, c = kt.vector("r"), kt.scalar("c")
    op = Map([r, c], [r * c], name="m", n_seqs=1, linear=(1,), tangent_of=((1, 0),))
    back = pickle.loads(pickle.dumps(op))
    assert back == op and back.n_seqs == 1 and back.linear == (1,) and back.tangent_of == ((1, 0),)
    assert Map([r, c], [r * c]) != op
    # a compiled gradient through a jacobian (tangent map transposed) pickles and runs
    x = kt.vector("x")
    f = kiln.function([x], grad(jacobian(kt.sin(x) * x.sum(), x).sum(), x), mode=PY)
    xv = np.array([1.0, 2.0])
    np.testing.assert_allclose(pickle.loads(pickle.dumps(f))(xv), f(xv), rtol=0)


# -- infer_shape ----------------------------------------------------------------------------

def _shape_values(ins, out, vals):
    (shp,) = infer_graph_shapes(ins, [out], [tuple(kt.shape_i(i, d) for d in range(i.ndim)) for i in ins])
    syms = [kt.as_tensor_variable(d) for d in shp]
    return [int(v) for v in kiln.function(ins, syms, mode=PY, on_unused_input="ignore")(*vals)]


def test_infer_shape_from_entry_and_other_shapes():
    r, m = kt.vector("r"), kt.matrix("m")
    op = Map([r, m], [kt.outer(r, m[0]), kt.concatenate([r, m[:, 0]])])
    X = kt.matrix("X")
    o1, o2 = op(X, m)
    node = o1.owner
    shapes = node.op.infer_shape(None, node, [(kt.shape_i(X, 0), kt.shape_i(X, 1)),
                                              (kt.shape_i(m, 0), kt.shape_i(m, 1))])
    assert len(shapes) == 2 and all(len(s) == 3 - k for k, s in enumerate(shapes))
    Xv, mv = np.ones((4, 3)), np.ones((5, 2))
    for o in (o1, o2):
        want = kiln.function([X, m], o, mode=PY)(Xv, mv).shape
        assert _shape_values([X, m], o, [Xv, mv]) == list(want)
    # the rewritten graph computes the output's shape without running the Map
    f = kiln.function([X, m], o1.shape, mode=PY)
    assert not _maps(f.fgraph.outputs)
    assert list(f(Xv, mv)) == [4, 3, 2]


def test_infer_shape_from_other_values():
    # the entry's length is a value of another input: the shape moves onto the outer input
    r, k = kt.vector("r"), kt.lscalar("k")
    op = Map([r, k], [kt.zeros((k,)) + r.sum()])
    X = kt.matrix("X")
    out = op(X, k)
    assert _shape_values([X, k], out, [np.ones((3, 2)), 4]) == [3, 4]
    np.testing.assert_allclose(kiln.function([X, k], out, mode=PY)(np.ones((3, 2)), 4), np.full((3, 4), 2.0))


def test_infer_shape_falls_back_when_an_entry_value_decides():
    k = kt.lscalar("k")
    op = Map([k], [kt.arange(k) * 1.0])
    x = kt.lvector("x")
    out = op(x)
    with pytest.raises(NotImplementedError, match="values of a sequence entry"):
        out.owner.op.infer_shape(None, out.owner, [(kt.shape_i(x, 0),)])
    f = kiln.function([x], out.shape, mode=PY)      # callers fall back to the output's own shape
    assert list(f(np.array([3, 3]))) == [2, 3]


# -- empty sequences ------------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
def test_empty_sequence_gives_empty_outputs(mode):
    X, c = kt.matrix("X"), kt.vector("c")
    outs = kiln.function([X, c], _row_map()(X, c), mode=mode)(np.zeros((0, 2)), np.ones(2))
    assert [o.shape for o in outs] == [(0, 2), (0,)]
    assert [o.dtype for o in outs] == [np.float64, np.float64]
    # an entry's shape computed from another input's value
    r, k = kt.vector("r"), kt.lscalar("k")
    out = Map([r, k], [kt.zeros((k, 2)) + r.sum()])(X, k)
    assert kiln.function([X, k], out, mode=mode)(np.zeros((0, 3)), 5).shape == (0, 5, 2)


def test_empty_sequence_with_unknowable_entry_shape_is_a_clear_error():
    k = kt.lscalar("k")
    out = Map([k], [kt.arange(k) * 1.0], name="ranges")(kt.lvector("x"))
    x = out.owner.inputs[0]
    with pytest.raises(ValueError, match="ranges: the sequence is empty and the shape of an entry"):
        kiln.function([x], out, mode=PY)(np.zeros(0, dtype="int64"))


@pytest.mark.parametrize("mode", MODES)
def test_jacobian_of_empty_expressions_has_numpys_shape(mode):
    x = kt.vector("x")
    cases = [(kt.sin(x)[:0], np.ones(3), (0, 3)),                # f: R^3 -> R^0
             (x.sum() * kt.ones(2), np.zeros(0), (2, 0)),       # f: R^0 -> R^2
             (kt.sin(x), np.zeros(0), (0, 0))]
    for expr, xv, want in cases:
        got = kiln.function([x], jacobian(expr, x), mode=mode)(xv)
        np.testing.assert_array_equal(got, np.zeros(want))
    assert kiln.function([x], hessian((x ** 3).sum(), x), mode=mode)(np.zeros(0)).shape == (0, 0)


# -- derivatives ----------------------------------------------------------------------------

def _f(x):
    return kt.sin(x) * x.sum() + x[0] * kt.exp(x)


def test_verify_grad_through_a_jacobian_map():
    rng = np.random.default_rng(0)
    verify_grad(lambda x: jacobian(_f(x), x), [rng.normal(size=3)], rng=rng)
    verify_grad(lambda x: kt.tanh(jacobian(_f(x), x)).sum(axis=0), [rng.normal(size=2)], rng=rng)


def test_verify_grad_through_sequences_and_shared_inputs():
    # tangents on the sequence (one cotangent row per entry) and on the shared input (summed)
    rng = np.random.default_rng(1)
    op = _row_map()
    verify_grad(lambda X, c: op(X, c)[0] * 2.0 + op(X, c)[1].sum(), [rng.normal(size=(3, 2)), rng.normal(size=2)],
                rng=rng)


def test_transpose_dot_product_identity():
    # a map linear in its sequence and its shared input jointly
    r, c = kt.vector("r"), kt.vector("c")
    op = Map([r, c], [r * 3.0 - c, kt.dot(r, kt.constant(np.array([1.0, -2.0])))])
    dot_product_test(lambda X, c: op(X, c), [(4, 2), (2,)])
    # and a tangent map built by the jvp rule: Rop is linear in its eval point v
    x, v, ct = kt.vector("x"), kt.vector("v"), kt.matrix("ct")
    Lv = Rop(jacobian(_f(x), x), x, v)
    assert any(m.linear for m in _maps(Lv))
    back = Lop(Lv, v, ct)
    rng = np.random.default_rng(3)
    xv, vv, cv = rng.normal(size=3), rng.normal(size=3), rng.normal(size=(3, 3))
    lv, bv = kiln.function([x, v, ct], [Lv, back], mode=PY)(xv, vv, cv)
    assert float(np.sum(cv * lv)) == pytest.approx(float(np.sum(bv * vv)), rel=1e-10)


@pytest.mark.parametrize("mode", MODES)
def test_rop_of_a_jacobian_matches_finite_differences(mode):
    x, v = kt.vector("x"), kt.vector("v")
    J = jacobian(_f(x), x)
    assert _maps(J)
    f_j = kiln.function([x], J, mode=PY)
    got = kiln.function([x, v], Rop(J, x, v), mode=mode)
    rng = np.random.default_rng(2)
    xv, vv = rng.normal(size=3), rng.normal(size=3)
    eps = 1e-6
    fd = (f_j(xv + eps * vv) - f_j(xv - eps * vv)) / (2 * eps)
    np.testing.assert_allclose(got(xv, vv), fd, rtol=1e-6, atol=1e-7)


def _sympy_f():
    s = sympy.symbols("x0 x1")
    return s, s[0] ** 3 * s[1] + sympy.sin(s[0]) * s[1] ** 2


def _kiln_f(x):
    return x[0] ** 3 * x[1] + kt.sin(x[0]) * x[1] ** 2


@pytest.mark.parametrize("mode", MODES)
def test_third_derivatives_against_sympy(mode):
    s, fs = _sympy_f()
    pt = {s[0]: 0.7, s[1]: -1.3}
    xv = np.array([0.7, -1.3])
    want = np.array([[[float(sympy.diff(fs, a, b, c).subs(pt)) for c in s] for b in s] for a in s])
    x = kt.vector("x")
    T = jacobian(hessian(_kiln_f(x), x), x)         # reverse mode through hessian's Map
    got = kiln.function([x], T, mode=mode)(xv)
    np.testing.assert_allclose(got, want, rtol=1e-10)
    # hessian (forward over reverse) of the sum of a jacobian: d^3 f summed over the first axis
    H = hessian(jacobian(_kiln_f(x), x, vectorize=False).sum(), x)
    np.testing.assert_allclose(kiln.function([x], H, mode=PY)(xv), want.sum(axis=0), rtol=1e-10)


def test_grad_of_rop_of_a_jacobian():
    # reverse mode through a tangent map (the jvp of the tangent map, then its transpose)
    s, fs = _sympy_f()
    pt = {s[0]: 0.4, s[1]: 0.9}
    xv, vv = np.array([0.4, 0.9]), np.array([1.5, -0.5])
    x, v = kt.vector("x"), kt.vector("v")
    cost = Rop(jacobian(_kiln_f(x).reshape((1,)) * x, x), x, v).sum()
    want_sym = sum(sympy.diff(fs * s[i], s[j], s[k]) * vv[k] for i in range(2) for j in range(2) for k in range(2))
    want = [float(sympy.diff(want_sym, a).subs(pt)) for a in s]
    np.testing.assert_allclose(kiln.function([x, v], grad(cost, x), mode=PY)(xv, vv), want, rtol=1e-10)


def test_jvp_reads_the_primal_maps_outputs():
    # tanh's tangent uses tanh's output: the tangent map reads the primal map's stacked output
    X, r = kt.matrix("X"), kt.vector("r")
    op = Map([r], [kt.tanh(r)], name="th")
    out = op(X)
    t = Rop(out, X, kt.matrix("V"))
    (tm,) = [m for m in _maps(t) if m.name == "th_jvp"]
    assert tm.n_seqs == 3 and tm.linear == (2,)
    node = next(n for n in toposort([t]) if n.op is tm)
    assert node.inputs[1] is out
    Xv, Vv = np.array([[0.1, 2.0], [-1.0, 0.5]]), np.array([[1.0, 2.0], [3.0, 4.0]])
    got = kiln.function([X, node.inputs[2]], t, mode=PY)(Xv, Vv)
    np.testing.assert_allclose(got, (1 - np.tanh(Xv) ** 2) * Vv, rtol=1e-12)


def test_an_inner_op_without_a_derivative_gives_an_undefined_gradient():
    from kiln.graph.basic import Apply
    from kiln.graph.op import Op
    from kiln.gradient.values import NullTypeGradError

    class Opaque(Op):
        def make_node(self, x):
            return Apply(self, [x], [x.type()])

        def perform(self, node, inputs, output_storage):
            output_storage[0][0] = inputs[0] * 2.0

    r, c = kt.vector("r"), kt.scalar("c")
    op = Map([r, c], [Opaque()(r) * c, r * c], name="opaque_map")
    X = kt.matrix("X")
    a, b = op(X, c)
    with pytest.raises(NullTypeGradError, match="opaque_map: .*Opaque"):
        grad(a.sum(), X)
    # the other output's derivative is still defined
    np.testing.assert_allclose(kiln.function([X, c], grad(b.sum(), c), mode=PY)(np.ones((2, 3)), 2.0), 6.0)


def test_module_examples():
    import doctest
    import importlib

    mod = importlib.import_module("kiln.gradient.jacobian")   # (kiln.gradient.jacobian is also a function)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 5 and res.failed == 0


def test_a_compiled_jacobian_maps_only_the_row_dependent_part_in_the_functions_mode():
    # compile_maps gives the Map the function's mode (its inner graph rewritten and linked like
    # the function); the forward pass tanh(W x), the same for every row, is computed once outside
    from kiln.compile.mode import Mode

    def tanh_nodes(nodes):
        return [n for n in nodes if "tanh" in str(n.op)]

    W = np.random.default_rng(5).normal(size=(4, 3))
    x = kt.dvector("x")
    J = jacobian(kt.tanh(kt.dot(kt.constant(W), x)) ** 2, x)
    (op,) = _maps([J])
    assert not tanh_nodes(op.fgraph.apply_nodes) and tanh_nodes(toposort([J]))
    xv = np.array([0.3, -0.2, 0.5])
    t = np.tanh(W @ xv)
    want = (2 * t * (1 - t ** 2))[:, None] * W
    for mode in (Mode(linker="py"), Mode(linker="c"), Mode(linker="py", rewrites="none")):
        f = kiln.function([x], J, mode=mode)
        (node,) = [n for n in f.fgraph.apply_nodes if isinstance(n.op, Map)]
        assert node.op.mode == (None if mode.rewrites == "none" else mode)
        np.testing.assert_allclose(f(xv), want, rtol=1e-12)
