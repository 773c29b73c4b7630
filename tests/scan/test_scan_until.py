"""scan with `until` (PyTensor's while loops): values against NumPy loops, on both linkers;
shared updates, taps, sequences, bounds, return forms, errors, and derivatives."""
import pickle

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.gradient import verify_grad
from kiln.scan import Scan, scan
from kiln.scan.utils import until

MODES = [kiln.Mode(linker="py"), kiln.Mode()]
IDS = ["py", "auto"]


def np_powers(max_value, n_steps):
    out, p = [], 1.0
    for _ in range(n_steps):
        p = p * 2
        out.append(p)
        if p > max_value:
            break
    return np.array(out)


@pytest.mark.parametrize("mode", MODES, ids=IDS)
@pytest.mark.parametrize("max_value", [45.0, 0.5, 1e300, np.inf])
def test_while_loop_powers_of_two(mode, max_value):
    """The docs' example: stop after the first power above max_value (true at step 1 for 0.5;
    1e300 needs ~1000 steps, past the initial buffer; inf never stops before n_steps)."""
    m = kt.dscalar("m")
    values, upd = scan(lambda p, m: (p * 2, until(p * 2 > m)), outputs_info=kt.constant(1.0),
                       non_sequences=m, n_steps=1024)
    assert upd == {}
    f = kiln.function([m], [values, values.shape[0]], mode=mode)
    got, n = f(max_value)
    want = np_powers(max_value, 1024)
    np.testing.assert_array_equal(got, want)
    assert n == len(want)


@pytest.mark.parametrize("mode", MODES, ids=IDS)
def test_until_with_sequences_stops_early_or_at_their_end(mode):
    x, lim = kt.dvector("x"), kt.dscalar("lim")
    (acc, sq), _ = scan(lambda xt, a, lim: ([a + xt, xt ** 2], until(a + xt > lim)), sequences=x,
                        outputs_info=[kt.constant(0.0), None], non_sequences=lim)
    f = kiln.function([x, lim], [acc, sq], mode=mode)
    xv = np.array([1.0, 2.0, 0.5, 3.0, 1.0, 4.0])
    for lv in (2.5, 0.0, 100.0):
        cs = np.cumsum(xv)
        stop = int(np.argmax(cs > lv)) + 1 if (cs > lv).any() else len(xv)
        a, s = f(xv, lv)
        np.testing.assert_allclose(a, cs[:stop])
        np.testing.assert_allclose(s, xv[:stop] ** 2)


@pytest.mark.parametrize("mode", MODES, ids=IDS)
def test_symbolic_n_steps_is_a_maximum(mode):
    k = kt.lscalar("k")
    v, _ = scan(lambda p: (p + 1, until(kt.ge(p + 1, 10))), outputs_info=kt.constant(np.int64(0)), n_steps=k)
    f = kiln.function([k], v, mode=mode)
    np.testing.assert_array_equal(f(3), [1, 2, 3])          # the bound is reached first
    np.testing.assert_array_equal(f(100), np.arange(1, 11))  # the condition is
    assert f(0).shape == (0,)


def test_unbounded_while_loop_without_n_steps():
    """Collatz: neither sequences nor n_steps; the loop runs until its condition."""
    n0 = kt.lscalar("n0")
    step = lambda c: (kt.switch(kt.eq(c % 2, 0), c // 2, 3 * c + 1), until(kt.eq(kt.switch(kt.eq(c % 2, 0),
                                                                                           c // 2, 3 * c + 1), 1)))
    traj, _ = scan(step, outputs_info=n0)
    f = kiln.function([n0], traj)
    want, c = [], 27
    while c != 1:
        c = c // 2 if c % 2 == 0 else 3 * c + 1
        want.append(c)
    np.testing.assert_array_equal(f(27), want)


@pytest.mark.parametrize("mode", MODES, ids=IDS)
def test_taps_fibonacci_until(mode):
    init, lim = kt.lvector("init"), kt.lscalar("lim")
    fib, _ = scan(lambda a, b, lim: (a + b, until(a + b > lim)), outputs_info={"initial": init, "taps": [-2, -1]},
                  non_sequences=lim, n_steps=200)
    f = kiln.function([init, lim], fib, mode=mode)
    want, a, b = [], 0, 1
    while True:
        a, b = b, a + b
        want.append(b)
        if b > 1000:
            break
    np.testing.assert_array_equal(f(np.array([0, 1]), 1000), want)


@pytest.mark.parametrize("mode", MODES, ids=IDS)
def test_shared_updates_take_the_last_step_run(mode):
    count = kiln.shared(np.int64(0), name="count")
    total = kiln.shared(np.float64(0.0), name="total")
    x = kt.dvector("x")

    def step(xt):
        new = total + xt
        return {count: count + 1, total: new}, until(new > 5)

    out, upd = scan(step, sequences=x)
    assert out == [] and set(upd) == {count, total}
    f = kiln.function([x], [], updates=upd, mode=mode)
    xv = np.array([1.0, 2.0, 3.0, 4.0])
    f(xv)                      # 1, 3, 6 -> stops at step 3
    assert count.get_value() == 3 and total.get_value() == 6.0
    f(xv)                      # starts at 6: 7 > 5 at step 1
    assert count.get_value() == 4 and total.get_value() == 7.0


@pytest.mark.parametrize("mode", MODES, ids=IDS)
def test_outputs_updates_and_until_together(mode):
    w = kiln.shared(np.float64(1.0), name="w")
    v, upd = scan(lambda p: (p * 3, {w: w * 2}, until(p * 3 > 50)), outputs_info=kt.constant(1.0), n_steps=10)
    f = kiln.function([], v, updates=upd, mode=mode)
    np.testing.assert_array_equal(f(), [3.0, 9.0, 27.0, 81.0])
    assert w.get_value() == 16.0


def test_return_forms_and_imports():
    import kiln.scan.utils

    assert kiln.scan.until is until and kiln.scan.utils.until is until
    from kiln.scan import until as u2
    assert u2 is until
    k = kt.lscalar("k")
    # until in the middle of the tuple, and only an until after the outputs
    a, _ = scan(lambda p: (p + 1, until(kt.ge(p, 2)), ), outputs_info=kt.constant(np.int64(0)), n_steps=k)
    b, _ = scan(lambda p: [p + 1, until(kt.ge(p, 2))], outputs_info=kt.constant(np.int64(0)), n_steps=k)
    c, _ = scan(lambda p: ([p + 1, p * 2], until(kt.ge(p, 2))), outputs_info=[kt.constant(np.int64(0)), None],
                n_steps=k)
    f = kiln.function([k], [a, b, *c])
    ra, rb, rc0, rc1 = f(10)
    np.testing.assert_array_equal(ra, [1, 2, 3])
    np.testing.assert_array_equal(rb, [1, 2, 3])
    np.testing.assert_array_equal(rc0, [1, 2, 3])
    np.testing.assert_array_equal(rc1, [0, 2, 4])
    node = a.owner.inputs[0].owner
    assert isinstance(node.op, Scan) and node.op.until


def test_return_updates_false():
    v = scan(lambda p: (p * 2, until(p > 4)), outputs_info=kt.constant(1.0), n_steps=10, return_updates=False)
    np.testing.assert_array_equal(kiln.function([], v)(), [2.0, 4.0, 8.0, 16.0])  # stops once p = 8 > 4
    s = kiln.shared(0.0)
    with pytest.raises(ValueError, match="return_updates=False"):
        scan(lambda p: (p * 2, {s: s + 1}), outputs_info=kt.constant(1.0), n_steps=3, return_updates=False)


def test_errors():
    with pytest.raises(TypeError, match="scalar"):
        until(kt.dvector())
    with pytest.raises(ValueError, match="at most one"):
        scan(lambda p: (p, until(kt.gt(p, 1)), until(kt.gt(p, 2))), outputs_info=kt.constant(1.0), n_steps=3)
    with pytest.raises(ValueError, match="n_steps is required"):
        scan(lambda p: p * 2, outputs_info=kt.constant(1.0))   # no until: a bound is needed


def test_pickled_function_keeps_the_condition():
    m = kt.dscalar("m")
    values, _ = scan(lambda p, m: (p * 2, until(p * 2 > m)), outputs_info=kt.constant(1.0), non_sequences=m,
                     n_steps=100)
    f = pickle.loads(pickle.dumps(kiln.function([m], values)))
    np.testing.assert_array_equal(f(20.0), [2.0, 4.0, 8.0, 16.0, 32.0])


# -- derivatives ---------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES, ids=IDS)
def test_grad_through_a_while_loop_matches_numpy(mode):
    """q_t = q_(t-1) * a until q > 100: with a = 3 it runs 5 steps, sum = a + ... + a^5."""
    a = kt.dscalar("a")
    q, _ = scan(lambda q, a: (q * a, until(q * a > 100)), outputs_info=kt.constant(1.0), non_sequences=a,
                n_steps=50)
    ga = kiln.grad(q.sum(), a)
    f = kiln.function([a], [q, ga], mode=mode)
    for av in (3.0, 1.5, 200.0):
        qs, g = f(av)
        k = len(qs)
        np.testing.assert_allclose(qs, av ** np.arange(1, k + 1))
        np.testing.assert_allclose(g, sum(i * av ** (i - 1) for i in range(1, k + 1)))


def test_verify_grad_with_sequences_and_until():
    """Finite differences through the executed steps (the stopping step does not move under
    small perturbations: the condition is on the step index here)."""
    rng = np.random.default_rng(0)

    def f(x, w):
        def step(xt, i, h, w):
            h2 = kt.tanh(h * w + xt)
            return [h2, i + 1], until(kt.ge(i + 1, 3))
        (h, _), _ = scan(lambda xt, h, i, w: step(xt, i, h, w), sequences=x,
                         outputs_info=[kt.constant(0.0), kt.constant(np.int64(0))], non_sequences=w)
        return h.sum() + h[-1] * 2

    verify_grad(f, [rng.normal(size=6), np.float64(0.7)], rng=rng)


def test_rop_through_until():
    x = kt.dvector("x")
    acc, _ = scan(lambda xt, a: (a + xt ** 2, until(a + xt ** 2 > 4)), sequences=x, outputs_info=kt.constant(0.0))
    v = kt.dvector("v")
    r = kiln.function([x, v], [acc, kiln.Rop(acc, x, v)])
    xv, vv = np.array([1.0, 1.5, 0.5, 2.0, 1.0]), np.array([0.3, -1.0, 2.0, 0.5, 1.0])
    a, jv = r(xv, vv)
    k = len(a)
    assert k == 4   # running sums 1, 3.25, 3.5, 7.5 > 4
    np.testing.assert_allclose(jv, np.cumsum(2 * xv[:k] * vv[:k]))
