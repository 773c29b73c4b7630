"""RandomStream: reproducible, independent draws; generator-state updates through
function()'s default updates; reseeding; pickling; and the generator type itself."""
import copy
import pickle

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.tensor.random import (RandomGeneratorSharedVariable, RandomGeneratorType, RandomStream,
                                copy_generator, random_generator_type)

PY = kiln.Mode(linker="py")


def child_rng(seed, k):
    """The generator RandomStream(seed) gives its k-th draw (documented seeding scheme)."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(k + 1)[k])


def test_kt_random_is_the_package():
    import kiln.tensor.random as kr

    assert kt.random is kr
    assert kt.random.RandomStream is RandomStream


def test_draws_match_numpy_with_the_seeding_scheme():
    s = RandomStream(2024)
    x = s.normal(1.0, 2.0, size=(2, 3))
    u = s.uniform(size=4)
    k = s.integers(0, 100, size=5)
    f = kiln.function([], [x, u, k], mode=PY)
    g0, g1, g2 = child_rng(2024, 0), child_rng(2024, 1), child_rng(2024, 2)
    for _ in range(3):  # each call continues the same generators, as NumPy's would
        a, b, c = f()
        np.testing.assert_array_equal(a, g0.normal(1.0, 2.0, size=(2, 3)))
        np.testing.assert_array_equal(b, g1.uniform(size=4))
        np.testing.assert_array_equal(c, g2.integers(0, 100, size=5))


def test_each_call_draws_anew_and_two_draws_differ():
    s = RandomStream(1)
    x = s.normal(size=5)
    y = s.normal(size=5)
    f = kiln.function([], [x, y], mode=PY)
    a1, b1 = f()
    a2, b2 = f()
    assert not np.array_equal(a1, a2) and not np.array_equal(b1, b2)
    assert not np.array_equal(a1, b1)
    # the two draws are not merged as a common subexpression (they read different generators)
    from kiln.tensor.random import NormalRV

    assert sum(isinstance(n.op, NormalRV) for n in f.fgraph.apply_nodes) == 2


def test_same_draw_used_twice_is_one_value():
    s = RandomStream(1)
    x = s.uniform(size=3)
    f = kiln.function([], [x, x + x - 2 * x], mode=PY)
    _, zero = f()
    np.testing.assert_allclose(zero, 0.0, atol=1e-15)


def test_same_seed_reproduces_and_reseeding():
    def build(seed):
        s = RandomStream(seed)
        return s, kiln.function([], [s.normal(size=3), s.poisson(4.0, size=3)], mode=PY)

    s1, f1 = build(77)
    _, f2 = build(77)
    first = [f1() for _ in range(3)]
    for r in first:
        for a, b in zip(r, f2()):
            np.testing.assert_array_equal(a, b)
    s1.seed(77)                      # back to the start
    for r in first:
        for a, b in zip(r, f1()):
            np.testing.assert_array_equal(a, b)
    f1()
    s1.seed()                        # no seed: the stream's own seed again
    for a, b in zip(first[0], f1()):
        np.testing.assert_array_equal(a, b)
    s1.seed(5)                       # a new seed: the draws of RandomStream(5)
    _, f3 = build(5)
    for a, b in zip(f1(), f3()):
        np.testing.assert_array_equal(a, b)
    _, f4 = build(78)
    assert not np.array_equal(f4()[0], first[0][0])


def test_default_updates_switches():
    s = RandomStream(3)
    x = s.normal(size=4)
    frozen = kiln.function([], x, mode=PY, no_default_updates=True)
    np.testing.assert_array_equal(frozen(), frozen())
    ((rng, _),) = s.state_updates
    listed = kiln.function([], x, mode=PY, no_default_updates=[rng])
    np.testing.assert_array_equal(listed(), listed())
    # an explicit update wins over the default one: here, reset to a fixed generator
    fixed = np.random.default_rng(0)
    f = kiln.function([], x, mode=PY, updates=[(rng, kiln.tensor.random.random_generator_type.make_constant(fixed))])
    f()
    np.testing.assert_array_equal(f(), np.random.default_rng(0).normal(size=4))
    # the default update advances the shared state by exactly one draw per call
    g = kiln.function([], x, mode=PY)
    ref = rng.get_value()
    g()
    ref.normal(size=4)
    np.testing.assert_array_equal(g(), ref.normal(size=4))


def test_update_only_function_and_input_dependent_draw():
    s = RandomStream(9)
    mu = kt.vector("mu")
    x = s.normal(mu, 0.5)
    f = kiln.function([mu], x, mode=PY)
    ref = child_rng(9, 0)
    for _ in range(2):
        m = np.array([0.0, 10.0, 100.0])
        np.testing.assert_array_equal(f(m), ref.normal(m, 0.5))
    # a function that does not read the draw does not advance its generator
    h = kiln.function([mu], mu * 2, mode=PY)
    state = s.state_updates[0][0].get_value().bit_generator.state
    h(np.ones(2))
    assert s.state_updates[0][0].get_value().bit_generator.state == state


def test_givens_keep_the_default_update():
    s = RandomStream(4)
    loc = kt.scalar("loc")
    x = s.normal(loc, 1.0, size=3)
    y = kt.scalar("y")
    f = kiln.function([y], x, givens={loc: y * 10}, mode=PY)
    ref = child_rng(4, 0)
    np.testing.assert_array_equal(f(1.0), ref.normal(10.0, 1.0, size=3))
    np.testing.assert_array_equal(f(2.0), ref.normal(20.0, 1.0, size=3))


def test_eval_draws_anew():
    s = RandomStream(8)
    x = s.uniform(size=3)
    assert not np.array_equal(x.eval(), x.eval())


def test_default_linker_matches_python_linker():
    s1, s2 = RandomStream(10), RandomStream(10)
    f1 = kiln.function([], s1.normal(size=5) * 2 + s1.uniform(size=5), mode=PY)
    f2 = kiln.function([], s2.normal(size=5) * 2 + s2.uniform(size=5))
    for _ in range(2):
        np.testing.assert_allclose(f1(), f2(), rtol=1e-12)


def test_pickling_a_function_with_a_draw():
    s = RandomStream(11)
    x = kt.vector("x")
    f = kiln.function([x], x + s.normal(size=3), mode=PY)
    f(np.zeros(3))
    g = pickle.loads(pickle.dumps(f))
    # the copy starts from the state at pickling time and then goes its own way
    a, b = f(np.zeros(3)), g(np.zeros(3))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(f(np.zeros(3)), g(np.zeros(3)))
    ref = child_rng(11, 0)
    for _ in range(3):  # f's first call, then the two calls each of f and g made
        ref.normal(size=3)
    np.testing.assert_array_equal(ref.normal(size=3), g(np.zeros(3)))


def test_perform_never_mutates_the_input_generator():
    gen = np.random.default_rng(0)
    r = kiln.shared(gen, borrow=True)
    x = kt.random.normal(size=3, rng=r)
    f = kiln.function([], [x, x.owner.outputs[0]], mode=PY)
    a, new_state = f()
    b, _ = f()
    np.testing.assert_array_equal(a, b)  # no update: the same state, the same draw
    assert gen.bit_generator.state == np.random.default_rng(0).bit_generator.state
    assert new_state is not gen
    ref = np.random.default_rng(0)
    ref.normal(size=3)
    np.testing.assert_array_equal(new_state.normal(size=2), ref.normal(size=2))


def test_generator_constant_rng_is_not_folded():
    x = kt.random.normal(size=2, rng=np.random.default_rng(3))
    f = kiln.function([], [x, x * 2], mode=PY)
    a, b = f()
    np.testing.assert_array_equal(a, np.random.default_rng(3).normal(size=2))
    np.testing.assert_array_equal(b, 2 * a)
    from kiln.tensor.random import NormalRV

    assert any(isinstance(n.op, NormalRV) for n in f.fgraph.apply_nodes)


def test_shared_generator_variable():
    gen = np.random.default_rng(5)
    r = kiln.shared(gen, name="r")
    assert isinstance(r, RandomGeneratorSharedVariable) and r.type == random_generator_type
    gen.normal()  # the shared variable copied it
    assert r.get_value().normal() == np.random.default_rng(5).normal()
    v = r.get_value(borrow=True)
    assert r.get_value() is not v and r.get_value(borrow=True) is v
    r.set_value(np.random.default_rng(6))
    assert r.get_value().normal() == np.random.default_rng(6).normal()
    with pytest.raises(TypeError, match="Generator"):
        r.set_value(np.zeros(2))
    with pytest.raises(TypeError, match="Generator"):
        random_generator_type.filter(np.random.RandomState(0))
    assert random_generator_type.values_eq(np.random.default_rng(1), np.random.default_rng(1))
    assert not random_generator_type.values_eq(np.random.default_rng(1), np.random.default_rng(2))
    assert RandomGeneratorType() == random_generator_type and hash(RandomGeneratorType()) == hash(random_generator_type)
    c = copy_generator(gen)
    assert c is not gen and c.normal() == copy.deepcopy(gen).normal()
    assert pickle.loads(pickle.dumps(r)).get_value().normal() == np.random.default_rng(6).normal()


def test_generator_as_function_input():
    rv = random_generator_type("rv")
    x = kt.random.uniform(size=2, rng=rv)
    f = kiln.function([rv], [x, x.owner.outputs[0]], mode=PY)
    a, nxt = f(np.random.default_rng(1))
    np.testing.assert_array_equal(a, np.random.default_rng(1).uniform(size=2))
    b, _ = f(nxt)
    g = np.random.default_rng(1)
    g.uniform(size=2)
    np.testing.assert_array_equal(b, g.uniform(size=2))
    with pytest.raises(TypeError, match="Generator"):
        f(np.zeros(2))


def test_stream_refuses_rng_and_records_updates():
    s = RandomStream(0)
    with pytest.raises(ValueError, match="rng"):
        s.gen(kt.random.normal, rng=np.random.default_rng())
    x = s.beta(2.0, 3.0, size=2)
    (r, nxt), = s.updates()
    assert r.default_update is nxt and x.owner.outputs[0] is nxt


@pytest.mark.parametrize("method,args", [
    ("normal", (0.0, 1.0)), ("uniform", (0.0, 1.0)), ("integers", (0, 5)), ("bernoulli", (0.5,)),
    ("binomial", (5, 0.5)), ("poisson", (2.0,)), ("gamma", (2.0, 1.0)), ("beta", (2.0, 2.0)),
    ("choice", (np.array([1.0, 2.0, 3.0]),)),
])
def test_every_stream_method_matches_numpy(method, args):
    s = RandomStream(31)
    x = getattr(s, method)(*args, size=(2, 3))
    f = kiln.function([], x, mode=PY)
    g = child_rng(31, 0)
    npm = {"bernoulli": lambda *a, size: g.binomial(1, *a, size=size)}.get(method, getattr(g, method, None))
    for _ in range(2):
        np.testing.assert_array_equal(f(), npm(*args, size=(2, 3)))


def test_stream_multivariate_methods_match_numpy():
    s = RandomStream(32)
    d = s.dirichlet(np.array([1.0, 2.0]), size=3)
    m = s.multivariate_normal(np.zeros(2), np.eye(2), size=3)
    p = s.permutation(6)
    f = kiln.function([], [d, m, p], mode=PY)
    g = [child_rng(32, k) for k in range(3)]
    for _ in range(2):
        a, b, c = f()
        np.testing.assert_array_equal(a, g[0].dirichlet([1.0, 2.0], size=3))
        np.testing.assert_array_equal(b, g[1].multivariate_normal(np.zeros(2), np.eye(2), size=3))
        np.testing.assert_array_equal(c, g[2].permutation(6))


def test_c_linker_runs_draws_through_perform():
    from kiln.linkers.c.compiler import have_compiler

    if not have_compiler():
        pytest.skip("no C compiler on this machine")
    s1, s2 = RandomStream(12), RandomStream(12)
    x = kt.vector("x")
    f_py = kiln.function([x], kt.exp(s1.normal(x, 0.1)) + s1.integers(0, 3, size=3), mode=PY)
    f_c = kiln.function([x], kt.exp(s2.normal(x, 0.1)) + s2.integers(0, 3, size=3), mode=kiln.Mode(linker="c"))
    for _ in range(3):
        v = np.array([0.0, 1.0, -1.0])
        np.testing.assert_allclose(f_c(v), f_py(v), rtol=1e-12)


@pytest.mark.parametrize("bitgen", [np.random.PCG64, np.random.PCG64DXSM, np.random.Philox, np.random.SFC64,
                                    np.random.MT19937])
def test_other_bit_generators(bitgen):
    gen = np.random.Generator(bitgen(5))
    gen.normal()
    c = copy_generator(gen)
    assert type(c.bit_generator) is bitgen
    np.testing.assert_array_equal(c.normal(size=4), gen.normal(size=4))
    s = RandomStream(3, rng_ctor=lambda seed: np.random.Generator(bitgen(seed)))
    f = kiln.function([], s.uniform(size=3), mode=PY)
    ref = np.random.Generator(bitgen(np.random.SeedSequence(3).spawn(1)[0]))
    for _ in range(2):
        np.testing.assert_array_equal(f(), ref.uniform(size=3))


def test_pickling_a_stream_and_its_draws():
    s = RandomStream(13)
    x = s.normal(size=2)
    s2, x2 = pickle.loads(pickle.dumps((s, x)))
    f = kiln.function([], x2, mode=PY)
    a, b = f(), f()
    assert not np.array_equal(a, b)            # the unpickled draw still advances its generator
    ref = child_rng(13, 0)
    np.testing.assert_array_equal(a, ref.normal(size=2))
    np.testing.assert_array_equal(b, ref.normal(size=2))
    s2.seed(13)
    np.testing.assert_array_equal(f(), child_rng(13, 0).normal(size=2))
