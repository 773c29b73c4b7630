"""Ops written for PyTensor: derivatives from their grad / L_op / R_op methods, and nodes
built from itypes/otypes. Checked against finite differences and closed forms."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.gradient import NullTypeGradError, disconnected_type, grad_undefined, verify_grad


class DoubleOp(Op):
    """PyTensor's documentation example: x * 2 with grad and R_op methods."""
    __props__ = ()

    def make_node(self, x):
        x = kt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] * 2

    def infer_shape(self, fgraph, node, i0_shapes):
        return i0_shapes

    def grad(self, inputs, output_grads):
        return [output_grads[0] * 2]

    def R_op(self, inputs, eval_points):
        return [eval_points[0] * 2]


class SinCos(Op):
    """Two outputs, derivative by L_op (which also receives the outputs)."""
    __props__ = ()
    itypes = [kt.dvector]
    otypes = [kt.dvector, kt.dvector]

    def perform(self, node, inputs, output_storage):
        output_storage[0][0], output_storage[1][0] = np.sin(inputs[0]), np.cos(inputs[0])

    def L_op(self, inputs, outputs, output_grads):
        s, c = outputs
        gs, gc = output_grads
        return [gs * c - gc * s]


class ScaleByInt(Op):
    """x * k with an integer k: the gradient for k is undefined, and a disconnected third input."""
    __props__ = ()

    def make_node(self, x, k, unused):
        x, k, unused = map(kt.as_tensor_variable, (x, k, unused))
        return Apply(self, [x, k, unused], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] * inputs[1]

    def grad(self, inputs, output_grads):
        x, k, unused = inputs
        return [output_grads[0] * k, grad_undefined(self, 1, k, "k is an integer count"),
                disconnected_type()]


class CubeROpOnly(Op):
    """Only forward mode given: reverse mode transposes R_op's graph."""
    __props__ = ()

    def make_node(self, x):
        x = kt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] ** 3

    def R_op(self, inputs, eval_points):
        return [3 * inputs[0] ** 2 * eval_points[0]]


MODES = {"py": kiln.Mode(linker="py"), "default": None}


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_doc_example_value_grad_and_rop(mode):
    x = kt.dmatrix("x")
    y = DoubleOp()(x)
    v = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(kiln.function([x], y, mode=mode)(v), v * 2)
    g = kiln.function([x], kiln.grad((y ** 2).sum(), x), mode=mode)
    np.testing.assert_allclose(g(v), 8 * v)          # d/dx (2x)^2 = 8x
    ev = kt.dmatrix("ev")
    r = kiln.function([x, ev], kiln.Rop(y, x, ev), mode=mode)
    np.testing.assert_allclose(r(v, np.ones((2, 3))), 2 * np.ones((2, 3)))
    verify_grad(lambda a: DoubleOp()(a).sum() * kt.tanh(a).sum(), [v * 0.1], rng=np.random.default_rng(0))


def test_second_derivative_through_a_grad_method():
    x = kt.dscalar("x")
    y = DoubleOp()(x ** 3)
    d2 = kiln.grad(kiln.grad(y, x), x)
    assert float(d2.eval({x: 2.0})) == pytest.approx(24.0)     # y = 2x^3, y'' = 12x


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_two_outputs_with_l_op_and_itypes_make_node(mode):
    x = kt.dvector("x")
    s, c = SinCos()(x)
    cost = (s * 3 + c ** 2).sum()
    g = kiln.function([x], kiln.grad(cost, x), mode=mode)
    v = np.array([0.1, 0.7, -1.3])
    np.testing.assert_allclose(g(v), 3 * np.cos(v) - 2 * np.cos(v) * np.sin(v), rtol=1e-12)
    # only one output used: the other's cotangent is zero
    g1 = kiln.function([x], kiln.grad(c.sum(), x), mode=mode)
    np.testing.assert_allclose(g1(v), -np.sin(v), rtol=1e-12)
    with pytest.raises(TypeError, match="expected"):
        SinCos()(kt.fvector("f"))


def test_undefined_and_disconnected_inputs():
    x, k, u = kt.dvector("x"), kt.dscalar("k"), kt.dscalar("u")
    y = ScaleByInt()(x, k, u).sum()
    gx = kiln.function([x, k, u], kiln.grad(y, x), on_unused_input="ignore")
    np.testing.assert_allclose(gx(np.ones(3), 4.0, 0.0), [4.0, 4.0, 4.0])
    with pytest.raises(NullTypeGradError, match="k is an integer count"):
        kiln.grad(y, k)
    gu = kiln.grad(y, u, disconnected_inputs="ignore")
    assert float(gu.eval({u: 1.0})) == 0.0


def test_rop_only_op_in_reverse_mode_and_missing_rop_is_reported():
    x = kt.dvector("x")
    g = kiln.function([x], kiln.grad(CubeROpOnly()(x).sum(), x))
    np.testing.assert_allclose(g(np.array([1.0, -2.0])), [3.0, 12.0])
    ev = kt.dvector("ev")
    f = kiln.function([x, ev], kiln.Rop(SinCos()(x)[0], x, ev))
    with pytest.raises(NotImplementedError, match="no R_op"):
        f(np.ones(2), np.ones(2))
