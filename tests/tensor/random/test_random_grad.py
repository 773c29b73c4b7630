"""Gradients through random draws: exact reparameterization derivatives for normal and
uniform (against the explicit `loc + scale * z` formula, finite differences at a fixed
generator state, and forward mode); Null with a reason for the other distributions."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.gradient import NullTypeGradError, Rop, verify_grad
from kiln.tensor import random as kr

PY = kiln.Mode(linker="py")


def fixed(seed=3):
    """A shared generator with no default update: every call sees the same state."""
    return kiln.shared(np.random.default_rng(seed))


def test_normal_grad_is_the_reparameterization():
    mu, sigma = kt.vector("mu"), kt.scalar("sigma")
    w = kt.matrix("w")
    x = kr.normal(mu, sigma, size=(4, 3), rng=fixed())
    cost = (w * x).sum() + (x ** 2).sum()
    g_mu, g_sigma = kiln.grad(cost, [mu, sigma])
    f = kiln.function([mu, sigma, w], [x, g_mu, g_sigma], mode=PY)
    m, s = np.array([0.5, -1.0, 2.0]), 1.7
    wv = np.random.default_rng(0).normal(size=(4, 3))
    xv, gm, gs = f(m, s, wv)
    z = np.random.default_rng(3).normal(size=(4, 3))
    np.testing.assert_allclose(xv, m + s * z)
    dcost_dx = wv + 2 * xv
    np.testing.assert_allclose(gm, dcost_dx.sum(0))
    np.testing.assert_allclose(gs, (dcost_dx * z).sum())


def test_uniform_grad_is_the_reparameterization():
    lo, hi = kt.scalar("lo"), kt.vector("hi")
    x = kr.uniform(lo, hi, size=(5, 2), rng=fixed(4))
    g_lo, g_hi = kiln.grad((x ** 3).sum(), [lo, hi])
    f = kiln.function([lo, hi], [x, g_lo, g_hi], mode=PY)
    lv, hv = -1.0, np.array([2.0, 5.0])
    xv, gl, gh = f(lv, hv)
    u = np.random.default_rng(4).uniform(size=(5, 2))
    np.testing.assert_allclose(xv, lv + (hv - lv) * u)
    d = 3 * xv ** 2
    np.testing.assert_allclose(gl, (d * (1 - u)).sum())
    np.testing.assert_allclose(gh, (d * u).sum(0))


@pytest.mark.parametrize("size", [None, (2, 3), (4, 1, 3)], ids=str)
def test_verify_grad_normal(size):
    r = fixed(5)
    pt = [np.array([0.3, -0.7, 1.1]), np.array([[0.5], [2.0]]) if size != (4, 1, 3) else np.array(0.8)]
    if size is None:
        pt[1] = np.array([0.5, 1.0, 2.0])
    verify_grad(lambda m, s: kr.normal(m, s, size=size, rng=r), pt, rng=np.random.default_rng(0))
    verify_grad(lambda m: kr.normal(m, 2.0, size=size, rng=r), pt[:1], rng=np.random.default_rng(1))
    verify_grad(lambda s: kr.normal(1.0, s, size=size, rng=r), pt[1:], rng=np.random.default_rng(2))


@pytest.mark.parametrize("size", [None, (3, 2)], ids=str)
def test_verify_grad_uniform(size):
    r = fixed(6)
    lo, hi = np.array([-1.0, 0.5]), np.array([2.0, 4.0])
    verify_grad(lambda a, b: kr.uniform(a, b, size=size, rng=r), [lo, hi], rng=np.random.default_rng(0))
    verify_grad(lambda a: kr.uniform(a, 5.0, size=size, rng=r), [lo], rng=np.random.default_rng(1))
    verify_grad(lambda b: kr.uniform(-3.0, b, size=size, rng=r), [hi], rng=np.random.default_rng(2))


def test_verify_grad_float32_and_composite_model():
    r = fixed(7)
    verify_grad(lambda m, s: kt.tanh(kr.normal(m, s, size=(3, 2), rng=r, dtype="float32")),
                [np.array([0.1, 0.2], dtype="float32"), np.array(0.9, dtype="float32")],
                rng=np.random.default_rng(0))
    # a tiny VAE-style sample: mu + exp(log_sigma) * eps, pushed through a nonlinearity
    verify_grad(lambda m, ls: kt.sigmoid(kr.normal(m, kt.exp(ls), rng=r)) * m,
                [np.array([0.2, -0.4, 1.0]), np.array([-0.5, 0.1, 0.3])], rng=np.random.default_rng(3))


def test_forward_mode_matches_reverse_mode():
    r = fixed(8)
    mu, sigma = kt.vector("mu"), kt.scalar("sigma")
    x = kr.normal(mu, sigma, size=(2, 3), rng=r)
    tm, ts = kt.vector("tm"), kt.scalar("ts")
    jv = Rop(x, [mu, sigma], [tm, ts])
    f = kiln.function([mu, sigma, tm, ts], [x, jv], mode=PY)
    m, s = np.array([1.0, 2.0, 3.0]), 0.5
    tmv, tsv = np.array([0.1, -0.2, 0.3]), 0.7
    xv, jvv = f(m, s, tmv, tsv)
    z = (xv - m) / s
    np.testing.assert_allclose(jvv, tmv + tsv * z)
    np.testing.assert_allclose(z, np.random.default_rng(8).normal(size=(2, 3)))


def test_stream_draw_gradient_with_updates():
    # inside a training-style function the draw changes every call and the gradient follows it
    s = kr.RandomStream(0)
    mu = kiln.shared(np.zeros(3), name="mu")
    eps_draw = s.normal(mu, 1.0)
    cost = ((eps_draw - 1.0) ** 2).sum()
    g = kiln.grad(cost, mu)
    f = kiln.function([], [eps_draw, g], mode=PY)
    (x1, g1), (x2, g2) = f(), f()
    assert not np.array_equal(x1, x2)
    np.testing.assert_allclose(g1, 2 * (x1 - 1.0))
    np.testing.assert_allclose(g2, 2 * (x2 - 1.0))


@pytest.mark.parametrize("make", [
    lambda p: kr.gamma(p, 1.0, size=3, rng=fixed()),
    lambda p: kr.beta(p, 2.0, size=3, rng=fixed()),
    lambda p: kr.dirichlet(kt.stack([p, p]), size=3, rng=fixed()),
    lambda p: kr.multivariate_normal(kt.stack([p, p]), np.eye(2), rng=fixed()),
], ids=["gamma", "beta", "dirichlet", "multivariate_normal"])
def test_other_distributions_have_null_gradients(make):
    p = kt.scalar("p")
    x = make(p)
    with pytest.raises(NullTypeGradError, match="not differentiable w.r.t. their parameters"):
        kiln.grad(x.sum(), p)
    # null_gradients='return' hands back the Null with its reason
    from kiln.gradient import Null

    got = kiln.grad(x.sum(), p, null_gradients="return")
    assert isinstance(got, Null) and "reparameterized" in got.reason


def test_integer_draws_carry_no_tangent():
    # a discrete draw is piecewise constant in its parameters: no tangent flows through it
    p = kt.scalar("p")
    y = kt.cast(kr.binomial(5, p, size=4, rng=fixed()), "float64")
    g = kiln.grad(y.sum() + p, p, disconnected_inputs="ignore")
    assert float(kiln.function([p], g, mode=PY, on_unused_input="ignore")(0.3)) == 1.0
