"""The table-driven distributions (kiln.tensor.random.more): NumPy's numbers where NumPy has
the distribution, the right law (checked against scipy.stats moments) where it is built by a
transformation, shapes from size and parameter broadcasting, RandomStream updates."""
import numpy as np
import pytest
import scipy.stats as st

import kiln
import kiln.tensor as kt
from kiln.tensor import random as kr
from kiln.tensor.random.more import DISTRIBUTIONS

# parameters for each distribution and the NumPy call giving the same numbers (None: no
# NumPy method; then the law is checked against scipy.stats below)
CASES = {
    "standard_normal": ((), lambda r, s: r.standard_normal(size=s)),
    "exponential": ((2.0,), lambda r, s: r.exponential(2.0, size=s)),
    "lognormal": ((0.5, 0.3), lambda r, s: r.lognormal(0.5, 0.3, size=s)),
    "laplace": ((1.0, 2.0), lambda r, s: r.laplace(1.0, 2.0, size=s)),
    "gumbel": ((1.0, 2.0), lambda r, s: r.gumbel(1.0, 2.0, size=s)),
    "logistic": ((1.0, 2.0), lambda r, s: r.logistic(1.0, 2.0, size=s)),
    "chisquare": ((3.0,), lambda r, s: r.chisquare(3.0, size=s)),
    "vonmises": ((0.5, 2.0), lambda r, s: r.vonmises(0.5, 2.0, size=s)),
    "weibull": ((1.5,), lambda r, s: r.weibull(1.5, size=s)),
    "triangular": ((0.0, 1.0, 3.0), lambda r, s: r.triangular(0.0, 1.0, 3.0, size=s)),
    "wald": ((1.0, 2.0), lambda r, s: r.wald(1.0, 2.0, size=s)),
    "geometric": ((0.3,), lambda r, s: r.geometric(0.3, size=s)),
    "negative_binomial": ((5, 0.4), lambda r, s: r.negative_binomial(5, 0.4, size=s)),
    "hypergeometric": ((7, 5, 4), lambda r, s: r.hypergeometric(7, 5, 4, size=s)),
    "cauchy": ((1.0, 2.0), None),
    "halfcauchy": ((1.0, 2.0), None),
    "halfnormal": ((1.0, 2.0), None),
    "t": ((5.0, 1.0, 2.0), None),
    "pareto": ((4.0, 2.0), None),
    "invgamma": ((5.0, 2.0), None),
    "betabinom": ((10, 2.0, 3.0), None),
    "nbinom": ((5, 0.4), lambda r, s: r.negative_binomial(5, 0.4, size=s)),
    "gengamma": ((2.0, 1.5, 3.0), None),
    "truncexpon": ((2.0, 1.0, 3.0), None),
}
# scipy.stats laws of the transformed distributions (same parameters as CASES)
LAWS = {
    "cauchy": st.cauchy(1.0, 2.0), "halfcauchy": st.halfcauchy(1.0, 2.0), "halfnormal": st.halfnorm(1.0, 2.0),
    "t": st.t(5.0, 1.0, 2.0), "pareto": st.pareto(4.0, scale=2.0), "invgamma": st.invgamma(5.0, scale=2.0),
    "betabinom": st.betabinom(10, 2.0, 3.0),
    "gengamma": st.gengamma(2.0 / 1.5, 1.5, scale=3.0), "truncexpon": st.truncexpon(2.0, loc=1.0, scale=3.0),
}


def test_every_table_row_is_tested():
    assert {d.name for d in DISTRIBUTIONS} == set(CASES)


@pytest.mark.parametrize("name", [n for n, (_, ref) in CASES.items() if ref is not None])
def test_numbers_are_numpys(name):
    params, ref = CASES[name]
    got = getattr(kr, name)(*params, size=(3, 4), rng=np.random.default_rng(11)).eval()
    expected = ref(np.random.default_rng(11), (3, 4))
    assert got.shape == (3, 4)
    np.testing.assert_array_equal(got, np.asarray(expected).astype(got.dtype))


@pytest.mark.parametrize("name", sorted(LAWS))
def test_transformed_laws_match_scipy(name):
    params, _ = CASES[name]
    x = getattr(kr, name)(*params, size=(40000,), rng=np.random.default_rng(3)).eval()
    law = LAWS[name]
    # a Kolmogorov-Smirnov test against the law (discrete: compare the pmf of small counts)
    if name == "betabinom":
        freq = np.bincount(x, minlength=11)[:11] / x.size
        np.testing.assert_allclose(freq, law.pmf(np.arange(11)), atol=0.01)
    else:
        assert st.kstest(x, law.cdf).pvalue > 1e-3


@pytest.mark.parametrize("dist", DISTRIBUTIONS, ids=lambda d: d.name)
def test_dtype_and_broadcast_shape(dist):
    params, _ = CASES[dist.name]
    fn = getattr(kr, dist.name)
    if params:   # a vector first parameter broadcasts with the scalars
        vec = np.full(5, params[0], dtype=np.asarray(params[0]).dtype)
        x = fn(vec, *params[1:], rng=np.random.default_rng(0))
        assert x.eval().shape == (5,)
    x = fn(*params, size=(2, 3), rng=np.random.default_rng(0))
    val = x.eval()
    assert val.shape == (2, 3)
    assert val.dtype == ("int64" if dist.kind == "int" else kiln.config.floatX)
    if dist.kind == "float":
        assert fn(*params, size=2, rng=np.random.default_rng(0), dtype="float32").eval().dtype == np.float32


@pytest.mark.parametrize("name", ["exponential", "t", "geometric"])
def test_stream_methods_draw_anew_and_reproduce(name):
    params, _ = CASES[name]
    f = kiln.function([], getattr(kr.RandomStream(5), name)(*params, size=4))
    a, b = f(), f()
    assert not np.array_equal(a, b)
    g = kiln.function([], getattr(kr.RandomStream(5), name)(*params, size=4))
    np.testing.assert_array_equal(g(), a)


def test_missing_and_extra_parameters_are_clear_errors():
    with pytest.raises(TypeError, match="df"):
        kr.t(size=3)
    with pytest.raises(TypeError):
        kr.exponential(1.0, 2.0, 3.0)
    with pytest.raises(TypeError, match="float dtype"):
        kr.exponential(1.0, dtype="int32")


def test_symbolic_parameters():
    lam = kt.dscalar("scale")
    f = kiln.function([lam], kr.exponential(lam, size=3, rng=np.random.default_rng(2)))
    np.testing.assert_array_equal(f(4.0), np.random.default_rng(2).exponential(4.0, size=3))


def test_categorical_frequencies_and_batches():
    p = np.array([0.1, 0.6, 0.3])
    x = kr.categorical(p, size=30000, rng=np.random.default_rng(0)).eval()
    assert x.dtype == np.int64 and x.min() >= 0 and x.max() <= 2
    np.testing.assert_allclose(np.bincount(x, minlength=3) / x.size, p, atol=0.01)
    # batched p: each row its own distribution; a one-hot row always gives its index
    rows = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    y = kr.categorical(rows, size=(4, 2), rng=np.random.default_rng(1)).eval()
    assert y.shape == (4, 2)
    np.testing.assert_array_equal(y, np.tile([0, 2], (4, 1)))
    srng = kr.RandomStream(0)
    f = kiln.function([], srng.categorical(p, size=50))
    assert not np.array_equal(f(), f())


def test_multinomial_is_numpys():
    p = np.array([0.2, 0.3, 0.5])
    x = kr.multinomial(np.array([5, 10]), p, size=(3, 2), rng=np.random.default_rng(4))
    assert x.type.shape == (3, 2, 3)
    np.testing.assert_array_equal(x.eval(), np.random.default_rng(4).multinomial([5, 10], p, size=(3, 2)))
    v = x.eval()
    np.testing.assert_array_equal(v.sum(-1), np.broadcast_to([5, 10], (3, 2)))
    srng = kr.RandomStream(0)
    assert kiln.function([], srng.multinomial(4, p))().shape == (3,)
