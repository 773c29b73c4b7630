"""Derivatives through kiln.scan: reverse mode (BPTT) and forward mode against finite
differences, NumPy references, and each other."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.gradient import Rop, verify_grad
from kiln.scan import scan

RNG = np.random.default_rng(42)


@pytest.fixture(autouse=True)
def _py_linker():
    """Run these through the python linker: each new inner graph would otherwise be compiled
    to C (every test session starts with an empty module cache)
    the C path of scan and its
    gradient is covered by test_scan_grad_c.py."""
    with kiln.config.change_flags(linker="py"):
        yield


def rnn_loss(x, h0, W, U, b):
    def step(xt, h, W, U, b):
        return kt.tanh(kt.dot(xt, W) + kt.dot(h, U) + b)

    h, _ = scan(step, sequences=x, outputs_info=h0, non_sequences=[W, U, b])
    return (h ** 2).sum() + h[-1].sum()


def test_rnn_grad_against_finite_differences():
    pt = [RNG.normal(size=(5, 3)), RNG.normal(size=4) * 0.5, RNG.normal(size=(3, 4)) * 0.5,
          RNG.normal(size=(4, 4)) * 0.5, RNG.normal(size=4) * 0.1]
    verify_grad(rnn_loss, pt, rng=np.random.default_rng(0))


def test_cumprod_grad_matches_numpy():
    x = kt.dvector("x")
    p, _ = scan(lambda xt, acc: acc * xt, sequences=x, outputs_info=kt.constant(1.0))
    w = np.arange(1.0, 6.0)
    g = kiln.function([x], kiln.grad((p * w).sum(), x))
    v = RNG.uniform(0.5, 2.0, size=5)
    ref = np.array([sum(w[j] * np.prod(v[:j + 1]) / v[i] for j in range(i, 5)) for i in range(5)])
    np.testing.assert_allclose(g(v), ref)


def test_fibonacci_taps_grad_wrt_initial():
    init = kt.dvector("init")
    fib, _ = scan(lambda a, b: a * 0.5 + b, outputs_info={"initial": init, "taps": [-2, -1]}, n_steps=6)
    verify_grad(lambda i: (fib_of(i) ** 2).sum(), [np.array([0.3, -0.7])], rng=np.random.default_rng(1))
    # linear recurrence: the gradient of the last value is constant
    g = kiln.function([init], kiln.grad(fib[-1], init))(np.zeros(2))
    a = np.array([0.0, 1.0])
    b = np.array([1.0, 0.0])   # d(value)/d(init) for rows -2, -1
    rows = [b, a]
    for _ in range(6):
        rows.append(rows[-2] * 0.5 + rows[-1])
    np.testing.assert_allclose(g, rows[-1])


def fib_of(i):
    return scan(lambda a, b: a * 0.5 + kt.sin(b), outputs_info={"initial": i, "taps": [-2, -1]}, n_steps=5)[0]


def test_sequence_taps_and_go_backwards_grad():
    def cost(x, w):
        o, _ = scan(lambda a, b, c, s, w: kt.tanh(a * w + b * c + s), sequences={"input": x, "taps": [-2, 0, 1]},
                    outputs_info=kt.constant(0.1), non_sequences=w, go_backwards=True)
        return (o ** 2).sum()

    verify_grad(cost, [RNG.normal(size=7), np.array(0.8)], rng=np.random.default_rng(2))


def test_several_outputs_some_not_fed_back_grad():
    def cost(x, s0):
        (s, d), _ = scan(lambda xt, s: (s * kt.cos(xt) + xt, kt.exp(xt) * s), sequences=x,
                         outputs_info=[s0, None])
        return s.sum() + (d ** 2).sum()

    verify_grad(cost, [RNG.normal(size=(4, 2)), RNG.normal(size=2)], rng=np.random.default_rng(3))


def test_shared_weight_grad_and_symbolic_n_steps():
    W = kiln.shared(RNG.normal(size=(3, 3)) * 0.4, name="W")
    h0 = kt.dvector("h0")
    n = kt.lscalar("n")
    h, _ = scan(lambda h: kt.tanh(kt.dot(W, h)), outputs_info=h0, n_steps=n)
    cost = h[-1].sum()
    gW = kiln.grad(cost, W)
    fn = kiln.function([h0, n], [cost, gW])
    h0v = RNG.normal(size=3)
    c, g = fn(h0v, 4)
    eps, num = 1e-6, np.zeros((3, 3))
    Wv = W.get_value()
    for i in range(3):
        for j in range(3):
            for sgn in (1, -1):
                Wp = Wv.copy()
                Wp[i, j] += sgn * eps
                hh = h0v
                for _ in range(4):
                    hh = np.tanh(Wp @ hh)
                num[i, j] += sgn * hh.sum() / (2 * eps)
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-8)


def test_truncate_gradient():
    x = kt.dvector("x")
    s, _ = scan(lambda xt, acc: acc * 0.5 + xt, sequences=x, outputs_info=kt.constant(0.0),
                truncate_gradient=2)
    g = kiln.function([x], kiln.grad(s[-1], x))(np.ones(5))
    # only the last two steps are backpropagated through
    np.testing.assert_allclose(g, [0.0, 0.0, 0.0, 0.5, 1.0])
    full, _ = scan(lambda xt, acc: acc * 0.5 + xt, sequences=x, outputs_info=kt.constant(0.0))
    g = kiln.function([x], kiln.grad(full[-1], x))(np.ones(5))
    np.testing.assert_allclose(g, 0.5 ** np.arange(4, -1, -1))


def test_forward_mode_rop_matches_reverse():
    x, h0 = kt.dmatrix("x"), kt.dvector("h0")
    W = kt.dmatrix("W")
    h, _ = scan(lambda xt, h, W: kt.tanh(kt.dot(h, W) + xt), sequences=x, outputs_info=h0, non_sequences=W)
    vx, vh, vW = kt.dmatrix("vx"), kt.dvector("vh"), kt.dmatrix("vW")
    jv = Rop(h, [x, h0, W], [vx, vh, vW])
    u = kt.dmatrix("u")
    gs = kiln.grad((h * u).sum(), [x, h0, W])
    vals = [RNG.normal(size=(4, 3)), RNG.normal(size=3), RNG.normal(size=(3, 3)) * 0.5]
    tans = [RNG.normal(size=(4, 3)), RNG.normal(size=3), RNG.normal(size=(3, 3))]
    uv = RNG.normal(size=(4, 3))
    jvv = kiln.function([x, h0, W, vx, vh, vW], jv)(*vals, *tans)
    gv = kiln.function([x, h0, W, u], gs)(*vals, uv)
    # <u, J v> == <J^T u, v>
    np.testing.assert_allclose((uv * jvv).sum(), sum((a * b).sum() for a, b in zip(gv, tans)))


def test_grad_through_zero_steps_and_integer_state():
    x = kt.dvector("x")
    n = kt.lscalar("n")

    def step(xt, k, s):
        return k + 1, s + xt * kt.cast(k, "float64")

    (k, s), _ = scan(step, sequences=x, outputs_info=[kt.constant(np.int64(0)), kt.constant(0.0)], n_steps=n)
    g = kiln.function([x, n], kiln.grad(s.sum() if False else s[-1], x))
    np.testing.assert_allclose(g(np.ones(4), 4), [0.0, 1.0, 2.0, 3.0])
    gz = kiln.function([x, n], kiln.grad((s ** 2).sum(), x))
    np.testing.assert_allclose(gz(np.ones(4), 0), np.zeros(4))


def test_second_order_through_scan():
    x = kt.dvector("x")
    a = kt.dscalar("a")
    s, _ = scan(lambda xt, acc, a: acc * a + xt, sequences=x, outputs_info=kt.constant(0.0), non_sequences=a)
    ga = kiln.grad(s[-1], a)
    gaa = kiln.grad(ga, a)
    v = np.array([1.0, 2.0, 3.0])
    # s[-1] = x0 a^2 + x1 a + x2
    fn = kiln.function([x, a], [ga, gaa])
    r = fn(v, 0.7)
    np.testing.assert_allclose(r, [2 * 1.0 * 0.7 + 2.0, 2.0])


def test_truncate_gradient_of_a_sum_like_pytensor():
    x = kt.dvector("x")
    s, _ = scan(lambda xt, acc: acc * 0.5 + xt, sequences=x, outputs_info=kt.constant(0.0),
                truncate_gradient=2)
    # PyTensor 2.x gives the same for this graph
    np.testing.assert_allclose(kiln.function([x], kiln.grad(s.sum(), x))(np.ones(5)), [0, 0, 0, 1.5, 1])


def test_grad_through_random_draws_in_the_step():
    from kiln.tensor.random.stream import RandomStream

    srng = RandomStream(seed=3)
    x = kt.dvector("x")
    w = kt.dscalar("w")
    noise = []

    def step(xt, h, w):
        z = srng.normal(size=())
        noise.append(z)
        return kt.tanh(h * w + xt + 0.3 * z)

    h, upd = scan(step, sequences=x, outputs_info=kt.constant(0.0), non_sequences=w)
    gw = kiln.grad(h.sum(), w)
    (rng,) = list(upd)
    start = rng.get_value()
    fn = kiln.function([x, w], [h, gw], no_default_updates=True)
    xv = RNG.normal(size=5)
    hv, gv = fn(xv, 0.6)
    # replay the same draws in NumPy: the generator advances once per step
    g = start
    zs = []
    for _ in range(5):
        zs.append(g.normal(size=()))
    hh, dh, ref_h = 0.0, 0.0, []
    total = 0.0
    for xt, z in zip(xv, zs):
        new = np.tanh(hh * 0.6 + xt + 0.3 * z)
        dh = (1 - new ** 2) * (hh + 0.6 * dh)
        hh = new
        ref_h.append(hh)
        total += dh
    np.testing.assert_allclose(hv, ref_h)
    np.testing.assert_allclose(gv, total)


def _fd_rows(fn, v, eps=1e-6):
    return np.array([(fn(v + eps * e) - fn(v - eps * e)) / (2 * eps) for e in np.eye(len(v))])


def test_hessian_and_jacobian_through_scan():
    from kiln.gradient import hessian, jacobian

    x, a = kt.dvector("x"), kt.dscalar("a")
    s, _ = scan(lambda xt, acc, a: kt.tanh(acc * a + xt), sequences=x, outputs_info=kt.constant(0.3),
                non_sequences=a)
    cost = (s ** 2).sum()
    v = np.array([0.1, -0.4, 0.7, 0.2])
    H = kiln.function([x, a], hessian(cost, x))(v, 0.8)
    g = kiln.function([x, a], kiln.grad(cost, x))
    np.testing.assert_allclose(H, _fd_rows(lambda u: g(u, 0.8), v), atol=1e-7)
    J = kiln.function([x, a], jacobian(s, x))(v, 0.8)
    f = kiln.function([x, a], s)
    np.testing.assert_allclose(J, _fd_rows(lambda u: f(u, 0.8), v).T, atol=1e-7)


def test_grad_through_a_shared_variable_updated_in_the_loop():
    total = kiln.shared(0.5, name="total")
    x = kt.dvector("x")
    y, upd = scan(lambda xt: (xt * total, {total: total + xt ** 2}), sequences=x)
    cost = y.sum() + 3 * upd[total]
    g = kiln.function([x], kiln.grad(cost, x), no_default_updates=True)
    f = kiln.function([x], cost, no_default_updates=True)
    v = np.array([0.3, -0.2, 0.9])
    np.testing.assert_allclose(g(v), _fd_rows(f, v), rtol=1e-7)
    assert total.get_value() == 0.5


def test_nested_scan_value_and_grad():
    def cost(m, a):
        def outer_step(row, acc, a):
            inner, _ = scan(lambda v, s, a: kt.sin(s * a + v), sequences=row, outputs_info=acc, non_sequences=a)
            return inner[-1]

        o, _ = scan(outer_step, sequences=m, outputs_info=kt.constant(0.1), non_sequences=a)
        return (o ** 2).sum()

    mv = RNG.normal(size=(3, 4))
    m, a = kt.dmatrix("m"), kt.dscalar("a")
    acc, total = 0.1, 0.0
    for row in mv:
        for v in row:
            acc = np.sin(acc * 0.7 + v)
        total += acc ** 2
    np.testing.assert_allclose(kiln.function([m, a], cost(m, a))(mv, 0.7), total)
    verify_grad(cost, [mv, np.array(0.7)], rng=np.random.default_rng(4))


def test_gradient_function_pickles():
    import pickle

    x, w = kt.dvector("x"), kt.dscalar("w")
    s, _ = scan(lambda xt, h, w: kt.tanh(h * w + xt), sequences=x, outputs_info=kt.constant(0.0), non_sequences=w)
    fn = kiln.function([x, w], kiln.grad(s.sum(), [x, w]))
    again = pickle.loads(pickle.dumps(fn))
    v = RNG.normal(size=5)
    for a, b in zip(fn(v, 0.5), again(v, 0.5)):
        np.testing.assert_allclose(a, b)


def test_grad_of_draw_parameters_inside_the_loop():
    from kiln.tensor.random.stream import RandomStream

    srng = RandomStream(seed=3)
    mu = kt.dscalar("mu")
    h, _ = scan(lambda h, mu: h * 0.5 + srng.normal(mu, 1.0, size=()), outputs_info=kt.constant(0.0),
                non_sequences=mu, n_steps=4)
    g = kiln.function([mu], kiln.grad(h.sum(), mu), no_default_updates=True)(0.3)
    # h_t = sum_{s<=t} 0.5^(t-s) (mu + z_s): d(sum_t h_t)/d(mu) does not depend on the draws
    np.testing.assert_allclose(g, sum(sum(0.5 ** k for k in range(t + 1)) for t in range(4)))
