"""Every distribution against NumPy's Generator: values for the same state, shapes and
dtypes for several sizes, moments on 1e5 draws, and clear errors for bad input."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.tensor import random as kr

PY = kiln.Mode(linker="py")
N = 100_000


def run(draw, inputs=(), values=()):
    """Compile the draw (no state update: a plain shared generator has no default update)."""
    return kiln.function(list(inputs), draw, mode=PY)(*values)


def rng(seed=7):
    return kiln.shared(np.random.default_rng(seed))


# (name, kiln draw(rng, size), numpy draw(gen, size), dtype)
CASES = [
    ("normal", lambda r, s: kr.normal(1.5, 2.0, size=s, rng=r),
     lambda g, s: g.normal(1.5, 2.0, size=s), "float64"),
    ("uniform", lambda r, s: kr.uniform(-1.0, 3.0, size=s, rng=r),
     lambda g, s: g.uniform(-1.0, 3.0, size=s), "float64"),
    ("integers", lambda r, s: kr.integers(2, 10, size=s, rng=r),
     lambda g, s: g.integers(2, 10, size=s), "int64"),
    ("integers_one_arg", lambda r, s: kr.integers(10, size=s, rng=r, dtype="int32"),
     lambda g, s: g.integers(10, size=s, dtype="int32"), "int32"),
    ("bernoulli", lambda r, s: kr.bernoulli(0.3, size=s, rng=r),
     lambda g, s: g.binomial(1, 0.3, size=s), "int64"),
    ("binomial", lambda r, s: kr.binomial(10, 0.4, size=s, rng=r),
     lambda g, s: g.binomial(10, 0.4, size=s), "int64"),
    ("poisson", lambda r, s: kr.poisson(3.5, size=s, rng=r),
     lambda g, s: g.poisson(3.5, size=s), "int64"),
    ("gamma", lambda r, s: kr.gamma(2.0, 3.0, size=s, rng=r),
     lambda g, s: g.gamma(2.0, 3.0, size=s), "float64"),
    ("gamma_rate", lambda r, s: kr.gamma(2.0, rate=0.5, size=s, rng=r),
     lambda g, s: g.gamma(2.0, 2.0, size=s), "float64"),
    ("beta", lambda r, s: kr.beta(2.0, 5.0, size=s, rng=r),
     lambda g, s: g.beta(2.0, 5.0, size=s), "float64"),
    ("choice", lambda r, s: kr.choice(7, size=s, rng=r),
     lambda g, s: g.choice(7, size=s), "int64"),
    ("choice_p", lambda r, s: kr.choice(np.array([3.0, 4.0, 5.0]), size=s, p=np.array([0.2, 0.5, 0.3]), rng=r),
     lambda g, s: g.choice(np.array([3.0, 4.0, 5.0]), size=s, p=np.array([0.2, 0.5, 0.3])), "float64"),
]
SIZES = [None, 5, (2, 3), (0,), (), (4, 1, 2)]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("size", SIZES, ids=str)
def test_values_shapes_dtypes_match_numpy(case, size):
    _, kdraw, ndraw, dtype = case
    x = kdraw(rng(11), size)
    got = run(x)
    want = np.asarray(ndraw(np.random.default_rng(11), size))
    assert got.dtype == dtype
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    # the static shape agrees with the run-time one where known
    assert all(s is None or s == g for s, g in zip(x.type.shape, got.shape))
    assert x.type.ndim == got.ndim


def test_symbolic_size():
    n, m = kt.iscalar("n"), kt.lscalar("m")
    x = kr.normal(0.0, 1.0, size=(n, m, 2), rng=rng(3))
    assert x.type.shape == (None, None, 2)
    got = run(x, [n, m], [3, 4])
    np.testing.assert_array_equal(got, np.random.default_rng(3).normal(size=(3, 4, 2)))
    # a size vector of known length works too
    v = kt.lvector("v")
    y = kr.uniform(size=kt.specify_shape(v, (2,)), rng=rng(3))
    np.testing.assert_array_equal(run(y, [v], [np.array([2, 5])]), np.random.default_rng(3).uniform(size=(2, 5)))


def test_size_none_broadcasts_parameters():
    loc = np.arange(3.0)
    scale = np.array([[1.0], [2.0]])
    x = kr.normal(loc, scale, rng=rng(5))
    assert x.type.shape == (2, 3)
    np.testing.assert_array_equal(run(x), np.random.default_rng(5).normal(loc, scale))
    # unknown parameter shapes: the broadcast happens at run time
    a, b = kt.vector("a"), kt.matrix("b")
    y = kr.uniform(a, b, rng=rng(5))
    av, bv = np.zeros(4), np.ones((3, 1)) * 2
    np.testing.assert_array_equal(run(y, [a, b], [av, bv]), np.random.default_rng(5).uniform(av, bv))
    # and with a length-1 side known statically
    c = kt.tensor("c", dtype="float64", shape=(1, None))
    z = kr.normal(c, 1.0, rng=rng(5))
    np.testing.assert_array_equal(run(z, [c], [np.zeros((1, 3))]), np.random.default_rng(5).normal(np.zeros((1, 3))))


def test_parameters_broadcast_with_size():
    loc = np.array([0.0, 10.0, 20.0])
    x = kr.normal(loc, 1.0, size=(4, 3), rng=rng(2))
    np.testing.assert_array_equal(run(x), np.random.default_rng(2).normal(loc, 1.0, size=(4, 3)))
    lam = np.array([1.0, 50.0])
    y = kr.poisson(lam, size=(5, 2), rng=rng(2))
    np.testing.assert_array_equal(run(y), np.random.default_rng(2).poisson(lam, size=(5, 2)))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_dtypes(dtype):
    for draw, ref in [(kr.normal, "normal"), (kr.uniform, "uniform")]:
        x = draw(size=(3, 2), rng=rng(9), dtype=dtype)
        got = run(x)
        assert got.dtype == dtype
        want = getattr(np.random.default_rng(9), ref)(size=(3, 2)).astype(dtype)
        np.testing.assert_array_equal(got, want)
    with kiln.config.change_flags(floatX=dtype):
        assert kr.beta(1.0, 1.0, rng=rng()).dtype == dtype
        assert kr.gamma(1.0, rng=rng()).dtype == dtype
    with pytest.raises(TypeError, match="float dtype"):
        kr.normal(dtype="int64", rng=rng())


def test_integers_dtypes_and_bounds():
    for dt in ["int8", "uint16", "int32", "int64"]:
        got = run(kr.integers(-3 if dt[0] == "i" else 0, 4, size=1000, rng=rng(1), dtype=dt))
        assert got.dtype == dt
        want = np.random.default_rng(1).integers(-3 if dt[0] == "i" else 0, 4, size=1000, dtype=dt)
        np.testing.assert_array_equal(got, want)
    lo, hi = kt.lvector("lo"), kt.lvector("hi")
    got = run(kr.integers(lo, hi, rng=rng(1)), [lo, hi], [np.array([0, 10]), np.array([5, 20])])
    np.testing.assert_array_equal(got, np.random.default_rng(1).integers([0, 10], [5, 20]))


def test_choice_variants():
    a = np.arange(12.0).reshape(4, 3)
    # rows of a 2-d population; without replacement; with probabilities
    x = kr.choice(a, size=(2,), replace=False, rng=rng(4))
    assert x.type.shape == (2, 3)
    np.testing.assert_array_equal(run(x), np.random.default_rng(4).choice(a, size=(2,), replace=False))
    p = np.array([0.1, 0.2, 0.3, 0.4])
    y = kr.choice(4, size=(3, 2), p=p, rng=rng(4))
    np.testing.assert_array_equal(run(y), np.random.default_rng(4).choice(4, size=(3, 2), p=p))
    z = kr.choice(5, size=5, replace=False, rng=rng(4))
    assert sorted(run(z).tolist()) == [0, 1, 2, 3, 4]
    # symbolic population and probabilities
    av, pv = kt.vector("av"), kt.vector("pv")
    w = kr.choice(av, size=6, p=pv, rng=rng(4))
    got = run(w, [av, pv], [np.array([1.0, 2.0]), np.array([0.5, 0.5])])
    np.testing.assert_array_equal(got, np.random.default_rng(4).choice([1.0, 2.0], size=6, p=[0.5, 0.5]))
    # size=None: one draw
    assert run(kr.choice(a, rng=rng(4))).shape == (3,)


def test_permutation():
    x = kr.permutation(10, rng=rng(6))
    assert x.type.shape == (10,)
    np.testing.assert_array_equal(run(x), np.random.default_rng(6).permutation(10))
    a = np.arange(15).reshape(5, 3).astype("float32")
    y = kr.permutation(a, rng=rng(6))
    got = run(y)
    assert got.dtype == "float32"
    np.testing.assert_array_equal(got, np.random.default_rng(6).permutation(a))
    n = kt.lscalar("n")
    z = kr.permutation(n, rng=rng(6))
    np.testing.assert_array_equal(run(z, [n], [7]), np.random.default_rng(6).permutation(7))
    assert run(kr.permutation(0, rng=rng(6))).shape == (0,)
    assert run(kr.permutation(np.zeros((0, 2)), rng=rng(6))).shape == (0, 2)


def test_dirichlet_values_and_batches():
    alphas = np.array([1.0, 2.0, 3.0])
    for size in [None, 4, (2, 3)]:
        x = kr.dirichlet(alphas, size=size, rng=rng(8))
        want = np.random.default_rng(8).dirichlet(alphas, size=size)
        got = run(x)
        assert got.shape == want.shape == x.type.shape
        np.testing.assert_array_equal(got, want)
    # a batch of alphas (NumPy's dirichlet takes one alpha vector): one draw per row, in order
    ab = np.array([[1.0, 1.0], [5.0, 0.5], [0.3, 2.0]])
    got = run(kr.dirichlet(ab, rng=rng(8)))
    g = np.random.default_rng(8)
    want = np.array([g.dirichlet(row) for row in ab])
    np.testing.assert_array_equal(got, want)
    got2 = run(kr.dirichlet(ab, size=(2, 3), rng=rng(8)))
    assert got2.shape == (2, 3, 2)
    np.testing.assert_allclose(got2.sum(-1), 1.0)
    av = kt.matrix("av")
    x = kr.dirichlet(av, rng=rng(8))
    assert x.type.shape == (None, None)
    assert run(x, [av], [ab]).shape == (3, 2)


@pytest.mark.parametrize("method", ["svd", "eigh", "cholesky"])
def test_multivariate_normal_values(method):
    mean = np.array([1.0, -2.0, 0.5])
    cov = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.5]])
    for size in [None, 4, (2, 2)]:
        x = kr.multivariate_normal(mean, cov, size=size, rng=rng(12), method=method)
        want = np.random.default_rng(12).multivariate_normal(mean, cov, size=size, method=method)
        got = run(x)
        assert got.shape == want.shape == x.type.shape
        np.testing.assert_array_equal(got, want)
    # batched means (NumPy takes one): one draw per batch entry, in order
    means = np.stack([mean, mean + 10])
    got = run(kr.multivariate_normal(means, cov, rng=rng(12), method=method))
    g = np.random.default_rng(12)
    np.testing.assert_array_equal(got, np.array([g.multivariate_normal(m, cov, method=method) for m in means]))


def test_mvn_singular_covariance():
    mean, cov = np.zeros(2), np.array([[1.0, 1.0], [1.0, 1.0]])
    # a PSD-singular covariance is fine for svd (NumPy's default) ...
    got = run(kr.multivariate_normal(mean, cov, size=3, rng=rng(1)))
    np.testing.assert_allclose(got[:, 0], got[:, 1])
    # ... and cholesky refuses it with an error naming the op
    with pytest.raises(np.linalg.LinAlgError, match="multivariate_normal"):
        run(kr.multivariate_normal(mean, cov - np.eye(2) * 1e-3, size=3, rng=rng(1), method="cholesky"))


# -- moments on 1e5 draws ---------------------------------------------------------------
def _check_moments(x, mean, var, rtol_var=0.03):
    x = np.asarray(x, dtype="float64")
    n = x.shape[0]
    se = np.sqrt(np.asarray(var) / n)
    assert np.all(np.abs(x.mean(0) - mean) < 5 * se + 1e-12), (x.mean(0), mean)
    np.testing.assert_allclose(x.var(0), var, rtol=rtol_var)


STATS = [
    ("normal", lambda r: kr.normal(1.5, 2.0, size=N, rng=r), 1.5, 4.0),
    ("uniform", lambda r: kr.uniform(-1.0, 3.0, size=N, rng=r), 1.0, 16 / 12),
    ("integers", lambda r: kr.integers(0, 10, size=N, rng=r), 4.5, 99 / 12),
    ("bernoulli", lambda r: kr.bernoulli(0.3, size=N, rng=r), 0.3, 0.21),
    ("binomial", lambda r: kr.binomial(10, 0.4, size=N, rng=r), 4.0, 2.4),
    ("poisson", lambda r: kr.poisson(3.5, size=N, rng=r), 3.5, 3.5),
    ("gamma", lambda r: kr.gamma(2.0, 3.0, size=N, rng=r), 6.0, 18.0),
    ("beta", lambda r: kr.beta(2.0, 5.0, size=N, rng=r), 2 / 7, 10 / (49 * 8)),
    ("choice", lambda r: kr.choice(4, size=N, p=np.array([0.1, 0.2, 0.3, 0.4]), rng=r), 2.0, 1.0),
]


@pytest.mark.parametrize("case", STATS, ids=[c[0] for c in STATS])
def test_moments(case):
    _, draw, mean, var = case
    _check_moments(run(draw(rng(123))), mean, var)


def test_moments_dirichlet():
    a = np.array([1.0, 2.0, 3.0])
    a0 = a.sum()
    x = run(kr.dirichlet(a, size=N, rng=rng(5)))
    np.testing.assert_allclose(x.sum(1), 1.0)
    _check_moments(x, a / a0, a * (a0 - a) / (a0 ** 2 * (a0 + 1)))


def test_moments_multivariate_normal():
    mean = np.array([1.0, -2.0])
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    x = run(kr.multivariate_normal(mean, cov, size=N, rng=rng(5)))
    _check_moments(x, mean, np.diag(cov))
    np.testing.assert_allclose(np.cov(x.T), cov, atol=0.05)


def test_permutation_is_uniform():
    n = N
    p = run(kr.permutation(n, rng=rng(5)))
    assert np.array_equal(np.sort(p), np.arange(n))
    # a uniform permutation: position and value are uncorrelated, every half mixes
    assert abs(np.corrcoef(np.arange(n), p)[0, 1]) < 5 / np.sqrt(n)
    _check_moments(p[: n // 2][:, None], (n - 1) / 2, (n ** 2 - 1) / 12)


def test_choice_without_replacement_is_uniform():
    # 2000 rows of 3 distinct draws out of 10, each value appearing with frequency 3/10
    draws = run(kr.choice(10, size=3, replace=False, rng=rng(0)), [], [])
    assert len(set(draws.tolist())) == 3
    s = kr.RandomStream(0)
    f = kiln.function([], s.choice(10, size=3, replace=False), mode=PY)
    counts = np.bincount(np.concatenate([f() for _ in range(2000)]), minlength=10)
    assert np.all(np.abs(counts / 6000 - 0.1) < 5 * np.sqrt(0.09 / 6000))


# -- errors ----------------------------------------------------------------------------
def test_run_time_parameter_errors_name_the_op():
    s = kt.scalar("s")
    f = kiln.function([s], kr.normal(0.0, s, size=3, rng=rng()), mode=PY)
    with pytest.raises(ValueError, match="normal: .*scale"):
        f(-1.0)
    with pytest.raises(ValueError, match="integers"):
        run(kr.integers(5, 5, rng=rng()))
    with pytest.raises(ValueError, match="choice"):
        run(kr.choice(3, size=2, p=np.array([0.5, 0.6, 0.1]), rng=rng()))
    n = kt.lscalar("n")
    with pytest.raises(ValueError, match="choice"):
        run(kr.choice(n, size=5, replace=False, rng=rng()), [n], [3])
    p = kt.scalar("p")
    with pytest.raises(ValueError, match="binomial"):
        run(kr.binomial(3, p, rng=rng()), [p], [1.5])
    v = kt.vector("v")
    with pytest.raises(ValueError, match="normal"):   # parameters do not broadcast to size
        run(kr.normal(v, 1.0, size=(2, 3), rng=rng()), [v], [np.zeros(4)])


def test_build_time_errors():
    with pytest.raises(TypeError, match="rng"):
        kr.normal(rng=kt.vector("x"))
    with pytest.raises(TypeError, match="rng"):
        kr.normal(rng=np.random.RandomState(0))
    with pytest.raises(ValueError, match="does not broadcast to size"):
        kr.normal(np.zeros(3), 1.0, size=(2, 4), rng=rng())
    with pytest.raises(ValueError, match="negative"):
        kr.normal(size=(2, -1), rng=rng())
    with pytest.raises(TypeError, match="known length"):
        kr.normal(size=kt.lvector("v"), rng=rng())
    with pytest.raises(TypeError, match="integers: low must be integers"):
        kr.integers(1.5, 3, rng=rng())
    with pytest.raises(TypeError, match="integer"):
        kr.integers(0, 3, dtype="float64", rng=rng())
    with pytest.raises(TypeError, match="real numbers"):
        kr.normal(np.array([1 + 2j]), rng=rng())
    with pytest.raises(ValueError, match="at least 1 dimension"):
        kr.dirichlet(1.0, rng=rng())
    with pytest.raises(ValueError, match="different dimensions"):
        kr.multivariate_normal(np.zeros(3), np.eye(2), rng=rng())
    with pytest.raises(ValueError, match="without replacement"):
        kr.choice(3, size=4, replace=False, rng=rng())
    with pytest.raises(TypeError, match="population size"):
        kr.choice(2.5, rng=rng())
    with pytest.raises(TypeError, match="1-d float"):
        kr.choice(3, p=np.array([[0.5, 0.5]]), rng=rng())
    with pytest.raises(ValueError, match="method"):
        kr.multivariate_normal(np.zeros(2), np.eye(2), method="qr", rng=rng())
    with pytest.raises(ValueError, match="scale or rate"):
        kr.gamma(1.0, 2.0, rate=3.0, rng=rng())
    with pytest.raises(TypeError, match="a 0-d x is a length"):
        kr.permutation(2.5, rng=rng())
