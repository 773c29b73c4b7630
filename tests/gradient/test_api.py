"""The public API: options of grad, Lop/Rop, jacobian/hessian, gradient-control ops,
verify_grad, OpFromGraph overrides, dtype conventions."""
from __future__ import annotations

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.compile.builders import OpFromGraph
from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.gradient import (GradientError, Lop, NullTypeGradError, Rop, disconnected_grad, grad, grad_scale,
                           hessian, jacobian, jvp, numeric_grad, pullback, pushforward, stop_gradient,
                           verify_grad, vjp, zero_grad)

MODE = kiln.Mode(linker="py")


def run(ins, outs, *vals):
    return kiln.function(ins, outs, mode=MODE, on_unused_input="ignore")(*vals)


def test_grad_structure_mirrors_wrt_and_exports():
    x, y = kt.scalar("x"), kt.scalar("y")
    c = x * y
    assert isinstance(grad(c, [x, y]), list)
    assert isinstance(grad(c, (x, y)), tuple)
    assert kiln.grad is grad and kiln.gradient.grad is grad
    assert grad(c, x).name == "(dcost/dx)"


def test_cost_must_be_scalar():
    x = kt.vector("x")
    with pytest.raises(TypeError, match="scalar"):
        grad(x ** 2, x)


def test_float32_graph_gives_float32_gradient_and_int_paths_give_float_zeros():
    x = kt.fvector("x")
    g = grad((kt.exp(x) * 2.0).sum(), x)
    assert g.dtype == "float32"
    np.testing.assert_allclose(run([x], g, np.zeros(2, dtype="float32")), [2.0, 2.0])
    i = kt.lvector("i")
    gi = grad((i * 2).sum() + kt.cast(i, "float64").sum(), i)
    assert gi.dtype == kiln.config.floatX and gi.dtype.startswith("float")
    np.testing.assert_array_equal(run([i], gi, np.array([1, 2])), [0.0, 0.0])
    # through argmax (int output): connected, zero
    gx = grad(kt.cast(kt.argmax(x), "float32") + x.sum(), x)
    np.testing.assert_array_equal(run([x], gx, np.array([1.0, 3.0], dtype="float32")), [1.0, 1.0])


def test_lop_and_rop_on_lists():
    x, y = kt.vector("x"), kt.vector("y")
    f1, f2 = x * y, kt.sin(x)
    v1, v2 = kt.vector("v1"), kt.vector("v2")
    gx, gy = Lop([f1, f2], [x, y], [v1, v2])
    X, Y, V1, V2 = (np.array([0.5, 1.0]), np.array([2.0, -1.0]), np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    np.testing.assert_allclose(run([x, y, v1, v2], gx, X, Y, V1, V2), V1 * Y + V2 * np.cos(X))
    np.testing.assert_allclose(run([x, y, v1, v2], gy, X, Y, V1, V2), V1 * X)
    r1, r2 = Rop([f1, f2], [x, y], [v1, v2])
    np.testing.assert_allclose(run([x, y, v1, v2], r1, X, Y, V1, V2), V1 * Y + X * V2)
    np.testing.assert_allclose(run([x, y, v1, v2], r2, X, Y, V1, V2), np.cos(X) * V1)
    np.testing.assert_allclose(run([x, y, v1, v2], pushforward(f2, x, v1), X, Y, V1, V2), np.cos(X) * V1)
    np.testing.assert_allclose(run([x, y, v1, v2], pullback(f2, x, v2), X, Y, V1, V2), np.cos(X) * V2)
    np.testing.assert_allclose(run([x, v1], jvp(kt.exp(x), x, v1), X, V1), np.exp(X) * V1)
    np.testing.assert_allclose(run([x, v1], vjp(kt.exp(x), x, v1), X, V1), np.exp(X) * V1)


def test_rop_of_disconnected_output():
    x, y = kt.vector("x"), kt.vector("y")
    with pytest.raises(kiln.gradient.DisconnectedInputError):
        Rop(y * 2.0, x, kt.vector("v"))
    z = Rop(y * 2.0, x, kt.vector("v"), disconnected_outputs="ignore")
    np.testing.assert_array_equal(run([y], z, np.ones(3)), np.zeros(3))


def test_jacobian_rows_vectorized_and_mapped_agree():
    x = kt.vector("x")
    e = kt.stack([x[0] * x[1], kt.sin(x[1]), x.sum()]).reshape((3, 1))
    X = np.array([0.3, -1.2])
    want = np.array([[X[1], X[0]], [0.0, np.cos(X[1])], [1.0, 1.0]]).reshape(3, 1, 2)
    for vec in (False, True):
        np.testing.assert_allclose(run([x], jacobian(e, x, vectorize=vec), X), want)
    a, b = kt.vector("a"), kt.matrix("b")
    ja, jb = jacobian(kt.dot(b, a), [a, b])
    A, B = np.array([1.0, 2.0]), np.arange(6.0).reshape(3, 2)
    va, vb = run([a, b], [ja, jb], A, B)
    np.testing.assert_allclose(va, B)
    assert vb.shape == (3, 3, 2)
    np.testing.assert_allclose(vb[1, 1], A)


def test_hessian_of_matrix_input():
    w = kt.matrix("w")
    H = hessian((w ** 3).sum(), w)
    W = np.arange(4.0).reshape(2, 2)
    h = run([w], H, W)
    assert h.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(h.reshape(4, 4), np.diag(6 * W.reshape(-1)))


def test_gradient_control_ops():
    x = kt.scalar("x")
    assert float(run([x], grad(x * zero_grad(x), x), 3.0)) == 3.0
    assert float(run([x], grad(x * stop_gradient(x ** 2), x), 3.0)) == 9.0
    assert float(run([x], grad(grad_scale(x ** 2, 0.5), x), 3.0)) == 3.0
    # disconnected_grad disconnects: only path to x is through it
    with pytest.raises(kiln.gradient.DisconnectedInputError):
        grad(disconnected_grad(x) * 2.0, x)
    g = grad(disconnected_grad(x) * 2.0, x, disconnected_inputs="ignore")
    assert float(run([x], g, 1.0)) == 0.0
    # forward values untouched
    assert float(run([x], zero_grad(x) + grad_scale(x, 9.0) + disconnected_grad(x), 2.0)) == 6.0


def test_null_gradient_reason_and_return():
    x = kt.vector("x")
    with pytest.raises(NullTypeGradError, match="no derivative rule"):
        grad(kt.psi(x).sum() + x.sum(), x)
    # the undefined part is not needed for another wrt
    y = kt.vector("y")
    gy = grad(kt.psi(x).sum() + (y ** 2).sum(), y)
    np.testing.assert_allclose(run([x, y], gy, np.ones(2), np.array([1.0, 2.0])), [2.0, 4.0])


class _BadSin(Op):
    """sin with a deliberately wrong derivative (2 cos)."""

    def make_node(self, x):
        x = kt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.sin(inputs[0])

    def jvp(self, node, tangents):
        return [tangents[0] * (2.0 * kt.cos(node.inputs[0]))]


def test_verify_grad_passes_and_fails_clearly():
    rng = np.random.default_rng(0)
    verify_grad(lambda a, b: kt.tanh(a) @ b, [rng.normal(size=(2, 3)), rng.normal(size=(3,))], rng=rng)
    with pytest.raises(GradientError, match="finite differences"):
        verify_grad(lambda a: _BadSin()(a), [rng.normal(size=4)], rng=rng)


def test_numeric_grad_helper():
    (g,) = numeric_grad(lambda a: np.sum(a ** 3), [np.array([1.0, 2.0])])
    np.testing.assert_allclose(g, [3.0, 12.0], rtol=1e-6)


def test_user_op_jvp_method_gives_reverse_mode_too():
    class _Sin(_BadSin):
        def jvp(self, node, tangents):
            return [tangents[0] * kt.cos(node.inputs[0])]

    x = kt.vector("x")
    X = np.array([0.1, 2.0])
    np.testing.assert_allclose(run([x], grad(_Sin()(x).sum(), x), X), np.cos(X))


def test_op_from_graph_default_jvp_and_overrides():
    a, b = kt.vector("a"), kt.vector("b")
    x, y = kt.vector("x"), kt.vector("y")
    X, Y = np.array([0.5, 1.5]), np.array([2.0, -1.0])
    plain = OpFromGraph([a, b], [a * b + kt.exp(a)])
    gx, gy = grad(plain(x, y).sum(), [x, y])
    np.testing.assert_allclose(run([x, y], gx, X, Y), Y + np.exp(X))
    np.testing.assert_allclose(run([x, y], gy, X, Y), X)
    # a jvp override (here a deliberately scaled one, to see it is used) drives both modes
    over = OpFromGraph([a, b], [a * b], jvp=lambda ins, ts: [3.0 * (ts[0] * ins[1] + ins[0] * ts[1])])
    np.testing.assert_allclose(run([x, y], grad(over(x, y).sum(), x), X, Y), 3.0 * Y)
    v = kt.vector("v")
    np.testing.assert_allclose(run([x, y, v], Rop(over(x, y), x, v), X, Y, np.ones(2)), 3.0 * Y)
    # a pullback override drives reverse mode; forward mode differentiates the inner graph
    # (PyTensor's OpFromGraph with only lop_overrides)
    pb = OpFromGraph([a, b], [a * b], pullback=lambda ins, outs, cts: [cts[0] * 7.0, cts[0] * 0.0])
    np.testing.assert_allclose(run([x, y], grad(pb(x, y).sum(), x), X, Y), [7.0, 7.0])
    np.testing.assert_allclose(run([x, y], grad(pb(x, x).sum(), x), X, Y), [7.0, 7.0])
    V = np.array([0.25, -2.0])
    np.testing.assert_allclose(run([x, y, v], Rop(pb(x, y), x, v), X, Y, V), V * Y)
    np.testing.assert_allclose(run([x, y, v], Rop(pb(x, y), [x, y], [v, v]), X, Y, V), V * Y + X * V)
    np.testing.assert_allclose(run([x, v], Rop(pb(x, x), x, v), X, V), 2 * X * V)
    assert kiln.OpFromGraph is OpFromGraph


def test_op_from_graph_shared_input_counts_once_and_inline():
    a, b = kt.scalar("a"), kt.scalar("b")
    f = OpFromGraph([a, b], [a * b + 1.0])
    s = kt.scalar("s")
    assert float(run([s], grad(f(s, s), s), 3.0)) == pytest.approx(6.0)
    g = OpFromGraph([a, b], [a * b], inline=True)
    out = g(s, s)
    assert not isinstance(out.owner.op, OpFromGraph)
    assert float(run([s], grad(out, s), 3.0)) == pytest.approx(6.0)


def test_grad_wrt_intermediate_and_input_together():
    x = kt.scalar("x")
    h = kt.sin(x)
    cost = h * x
    gx, gh = grad(cost, [x, h])
    X = 0.7
    assert float(run([x], gh, X)) == pytest.approx(X)
    assert float(run([x], gx, X)) == pytest.approx(np.sin(X) + X * np.cos(X))


def test_grad_through_shared_variable_updates():
    w = kiln.shared(np.array([1.0, -2.0]), name="w")
    x = kt.vector("x")
    cost = ((x * w).sum() - 1.0) ** 2
    gw = grad(cost, w)
    step = kiln.function([x], cost, updates=[(w, w - 0.1 * gw)], mode=MODE)
    X = np.array([1.0, 0.5])
    losses = [float(step(X)) for _ in range(20)]
    assert losses[-1] < losses[0] * 1e-3


def test_pytensor_spellings_and_scalar_wrt():
    x, w, s = kt.vector("x"), kt.vector("w"), kt.scalar("s")
    cost = (x ** 2).sum()
    assert grad(cost, [x, w], disconnected_inputs="ignore", return_disconnected="none")[1] is None
    assert type(grad(cost, [x, w], disconnected_inputs="ignore",
                     return_disconnected="disconnected")[1].type).__name__ == "DisconnectedType"
    assert float(run([s], hessian(s ** 3, s), 2.0)) == pytest.approx(12.0)
    np.testing.assert_allclose(run([x, s], jacobian(x * s, s), np.array([1.0, 2.0]), 2.0), [1.0, 2.0])
    f = kt.fvector("f")
    assert hessian((f ** 3).sum(), f).dtype == "float32"
    with pytest.raises(ValueError, match="return_disconnected"):
        grad(cost, x, return_disconnected="maybe")
