"""The hard cases of issue 3: higher order, perturbation confusion, the softmax
cross-entropy Hessian three ways, broadcasting, disconnected inputs, known_grads,
consider_constant."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.gradient import DisconnectedInputError, grad, hessian, hessian_vector_product, jacobian

MODE = kiln.Mode(linker="py")


def run(ins, outs, *vals):
    return kiln.function(ins, outs, mode=MODE, on_unused_input="ignore")(*vals)


def test_grad_of_grad():
    x = kt.scalar("x")
    assert float(run([x], grad(grad(x ** 3, x), x), 2.0)) == pytest.approx(12.0)
    assert float(run([x], grad(grad(grad(x ** 3, x), x), x), 2.0)) == pytest.approx(6.0)


def test_perturbation_confusion():
    x, y = kt.scalar("x"), kt.scalar("y")
    inner = grad(x + y, y)                       # = 1, must not capture x's perturbation
    assert float(run([x, y], grad(x * inner, x), 3.0, 5.0)) == pytest.approx(1.0)


def _xent(z, onehot):
    return -(kt.log_softmax(z) * onehot).sum()


def test_softmax_cross_entropy_hessian_three_ways():
    rng = np.random.default_rng(0)
    z, y = kt.vector("z"), kt.vector("y")
    Z = rng.normal(size=5)
    Y = np.eye(5)[2]
    cost = _xent(z, y)
    p = np.exp(Z - Z.max()); p /= p.sum()
    want = np.diag(p) - np.outer(p, p)
    h_fwd_rev = run([z, y], hessian(cost, z), Z, Y)                 # forward-over-reverse
    h_rev_rev = run([z, y], jacobian(grad(cost, z), z), Z, Y)       # reverse-over-reverse
    g = kiln.function([z, y], grad(cost, z), mode=MODE)
    h_fd = np.array([(g(Z + 1e-6 * e, Y) - g(Z - 1e-6 * e, Y)) / 2e-6 for e in np.eye(5)])
    for h in (h_fwd_rev, h_rev_rev):
        np.testing.assert_allclose(h, want, atol=1e-10)
        np.testing.assert_allclose(h, h.T, atol=1e-12)
    np.testing.assert_allclose(h_fd, want, atol=1e-6)
    v = rng.normal(size=5)
    np.testing.assert_allclose(run([z, y], hessian_vector_product(cost, z, kt.constant(v)), Z, Y), want @ v,
                               atol=1e-10)


def test_broadcasting_3x1_plus_1x4():
    a, b = kt.tensor("a", shape=(3, 1)), kt.tensor("b", shape=(1, 4))
    ga, gb = grad(((a + b) ** 2).sum(), [a, b])
    A, B = np.arange(3.0).reshape(3, 1), np.arange(4.0).reshape(1, 4)
    va, vb = run([a, b], [ga, gb], A, B)
    assert va.shape == (3, 1) and vb.shape == (1, 4)
    np.testing.assert_allclose(va, (2 * (A + B)).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(vb, (2 * (A + B)).sum(axis=0, keepdims=True))


def test_runtime_broadcasting_of_unknown_lengths():
    # static shapes unknown, but at run time one length is 1: NumPy broadcasts, and the
    # gradient must be summed back to the run-time shape
    a, b = kt.matrix("a"), kt.matrix("b")
    ga, gb = grad((a * b).sum(), [a, b])
    A, B = np.arange(3.0).reshape(3, 1), np.arange(4.0).reshape(1, 4) + 1
    va, vb = run([a, b], [ga, gb], A, B)
    np.testing.assert_allclose(va, np.broadcast_to(B, (3, 4)).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(vb, np.broadcast_to(A, (3, 4)).sum(axis=0, keepdims=True))
    # and the same graph without broadcasting
    va, vb = run([a, b], [ga, gb], np.ones((2, 2)), np.full((2, 2), 3.0))
    np.testing.assert_allclose(va, np.full((2, 2), 3.0))


def test_unused_wrt_raises_and_ignore_returns_zeros():
    x, w = kt.vector("x"), kt.vector("w")
    cost = (x ** 2).sum()
    with pytest.raises(DisconnectedInputError, match="w"):
        grad(cost, [x, w])
    gx, gw = grad(cost, [x, w], disconnected_inputs="ignore")
    np.testing.assert_array_equal(run([x, w], gw, np.ones(2), np.ones(3)), np.zeros(3))
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        grad(cost, [x, w], disconnected_inputs="warn")
    assert any("disconnected" in str(r.message) for r in rec)
    assert grad(cost, [x, w], disconnected_inputs="ignore", return_disconnected="None")[1] is None
    marker = grad(cost, [x, w], disconnected_inputs="ignore", return_disconnected="Disconnected")[1]
    assert type(marker.type).__name__ == "DisconnectedType"


def test_known_grads_replaces_a_cotangent():
    x = kt.vector("x")
    h = kt.exp(x)
    cost = (h * 3.0).sum()
    g_known = kt.constant(np.array([1.0, 10.0]))
    g = grad(cost, x, known_grads={h: g_known})
    X = np.array([0.0, 1.0])
    np.testing.assert_allclose(run([x], g, X), np.exp(X) * [1.0, 10.0])
    # cost=None: only the known gradient drives the result
    g2 = grad(None, x, known_grads={h: g_known})
    np.testing.assert_allclose(run([x], g2, X), np.exp(X) * [1.0, 10.0])


def test_consider_constant_on_a_variable_used_twice():
    x = kt.scalar("x")
    y = x ** 2
    cost = y * y + y * x          # y used twice (and more)
    g = grad(cost, x, consider_constant=[y])
    # with y constant: d/dx (y*y + y*x) = y
    assert float(run([x], g, 3.0)) == pytest.approx(9.0)
    assert float(run([x], grad(cost, x), 3.0)) == pytest.approx(4 * 27 + 3 * 9)


def test_stable_rules_exp_and_sigmoid_use_their_output():
    x = kt.vector("x")
    g = run([x], grad(kt.sigmoid(x).sum() + kt.softplus(x).sum(), x), np.array([-800.0, 0.0, 800.0]))
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, [0.0, 0.25 + 0.5, 1.0])


def test_log_sigmoid_and_log_softmax_gradients_are_finite_at_800():
    x = kt.vector("x")
    X = np.array([-800.0, 0.0, 800.0])
    g1 = run([x], grad(kt.log(kt.sigmoid(x)).sum(), x), X)
    g2 = run([x], grad(kt.log(1 - kt.sigmoid(x)).sum(), x), X)
    g3 = run([x], grad(kt.log(kt.softmax(x))[0], x), X)
    np.testing.assert_allclose(g1, [1.0, 0.5, 0.0])
    np.testing.assert_allclose(g2, [0.0, -0.5, -1.0])
    np.testing.assert_allclose(g3, [1.0, 0.0, -1.0])
    # the chain rule is bypassed only when the intermediate is not itself differentiated
    s = kt.sigmoid(x)
    gx, gs = grad(kt.log(s).sum(), [x, s])
    np.testing.assert_allclose(run([x], gs, np.zeros(3)), [2.0, 2.0, 2.0])
    np.testing.assert_allclose(run([x], gx, np.zeros(3)), [0.5, 0.5, 0.5])
