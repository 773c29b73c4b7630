"""Special functions (kiln.scalar.special lifted in kiln.tensor.nnet) and NN helpers against
SciPy/NumPy, their derivatives against SymPy's `diff`, and verify_grad."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sps
import sympy as sp

import kiln
import kiln.scalar.special as pss
import kiln.tensor as kt
from kiln.gradient import grad, verify_grad
from kiln.gradient.rules.extra import SPECIAL_DERIVATIVES

from tests.helpers import hessian_matches_finite_differences

MODE = kiln.Mode(linker="py")
X, Y = sp.symbols("x y", real=True)
def U(lo, hi):
    """A sampler of n uniform values in [lo, hi)."""
    return lambda rng, n: rng.uniform(lo, hi, n)


# scalar op class -> (kiln builder, scipy reference, sympy expression, samplers per input)
CASES = {
    pss.Log1mexp: (kt.log1mexp, lambda x: np.log(-np.expm1(x)), sp.log(1 - sp.exp(X)), [U(-5, -0.05)]),
    pss.XLogY: (kt.xlogy, sps.xlogy, X * sp.log(Y), [U(-2, 2), U(0.2, 3)]),
    pss.XLog1py: (kt.xlog1py, sps.xlog1py, X * sp.log(1 + Y), [U(-2, 2), U(-0.5, 3)]),
    pss.BetaLn: (kt.betaln, sps.betaln, sp.log(sp.gamma(X)) + sp.log(sp.gamma(Y)) - sp.log(sp.gamma(X + Y)),
                 [U(0.3, 4), U(0.3, 4)]),
    pss.Beta: (kt.beta, sps.beta, sp.gamma(X) * sp.gamma(Y) / sp.gamma(X + Y), [U(0.3, 4), U(0.3, 4)]),
    pss.GammaInc: (kt.gammainc, sps.gammainc, sp.lowergamma(X, Y) / sp.gamma(X), [U(0.5, 4), U(0.1, 5)]),
    pss.GammaIncC: (kt.gammaincc, sps.gammaincc, sp.uppergamma(X, Y) / sp.gamma(X), [U(0.5, 4), U(0.1, 5)]),
    pss.Erfcx: (kt.erfcx, sps.erfcx, sp.exp(X ** 2) * sp.erfc(X), [U(-2, 3)]),
    pss.I0: (kt.i0, sps.i0, sp.besseli(0, X), [U(-3, 3)]),
    pss.I1: (kt.i1, sps.i1, sp.besseli(1, X), [U(-3, 3)]),
    pss.Polygamma: (kt.polygamma, sps.polygamma, sp.polygamma(X, Y), [lambda r, n: r.integers(0, 4, n), U(0.3, 4)]),
}
# polygamma has no derivative in its integer order n
NO_DERIV = {pss.Polygamma: {0}}


def _ins(pts):
    return [kt.vector(f"in{i}", dtype=str(p.dtype)) for i, p in enumerate(pts)]


def test_every_special_derivative_is_checked():
    assert set(SPECIAL_DERIVATIVES) == set(CASES)


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_values_match_scipy(cls, dtype):
    build, ref, _, samplers = CASES[cls]
    rng = np.random.default_rng(3)
    pts = [s(rng, 7) for s in samplers]
    pts = [p.astype(dtype) if p.dtype.kind == "f" else p for p in pts]
    ins = _ins(pts)
    got = kiln.function(ins, build(*ins), mode=MODE)(*pts)
    want = np.asarray(ref(*pts))
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
def test_shapes_empty_0d_and_int_inputs(cls):
    build, ref, _, samplers = CASES[cls]
    rng = np.random.default_rng(5)
    # 0-d and broadcasting of a (2, 1) against a (3,) input, and empty arrays
    for shapes in ([()] * len(samplers), [(2, 1), (3,)][:len(samplers)], [(0,)] * len(samplers)):
        pts = [np.asarray(s(rng, int(np.prod(sh))).reshape(sh)) for s, sh in zip(samplers, shapes)]
        ins = [kt.tensor(f"i{k}", dtype=str(p.dtype), shape=(None,) * p.ndim) for k, p in enumerate(pts)]
        got = kiln.function(ins, build(*ins), mode=MODE)(*pts)
        want = np.asarray(ref(*pts))
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # integer inputs promote like NumPy's transcendental functions (int64 -> float64)
    if cls not in (pss.Polygamma, pss.Log1mexp):
        ivals = [np.arange(1, 4, dtype="int64")] * len(samplers)
        ins = [kt.vector(f"j{k}", dtype="int64") for k in range(len(samplers))]
        got = kiln.function(ins, build(*ins), mode=MODE)(*ivals)
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, ref(*ivals), rtol=1e-12)


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
def test_derivative_matches_sympy(cls):
    build, _, expr, samplers = CASES[cls]
    rng = np.random.default_rng(11)
    pts = [s(rng, 5) for s in samplers]
    ins = _ins(pts)
    skip = NO_DERIV.get(cls, set())
    wrt = [v for k, v in enumerate(ins) if k not in skip]
    gs = kiln.function(ins, grad(build(*ins).sum(), wrt), mode=MODE)(*pts)
    syms = [X, Y][:len(samplers)]
    for g, sym in zip(gs, [s for k, s in enumerate(syms) if k not in skip]):
        d = sp.diff(expr, sym)
        if cls is pss.Polygamma:  # SymPy's lambdify cannot vectorize polygamma over the order
            want = [float(d.subs({X: int(n), Y: float(v)}).evalf()) for n, v in zip(*pts)]
        elif cls in (pss.GammaInc, pss.GammaIncC) and sym is X:
            # SymPy's derivative in the shape parameter is a Meijer G function: ask mpmath (which
            # SymPy evaluates with) to differentiate the regularized incomplete gamma directly
            import mpmath

            sign = 1 if cls is pss.GammaInc else -1
            want = [sign * float(mpmath.diff(lambda s, x=x: mpmath.gammainc(s, 0, float(x), regularized=True),
                                             float(a)))
                    for a, x in zip(*pts)]
        else:
            want = [float(d.subs({s: float(p[j]) for s, p in zip(syms, pts)}).evalf(30)) for j in range(5)]
        np.testing.assert_allclose(g, want, rtol=1e-7, atol=1e-10, err_msg=f"{cls.__name__} d/d{sym}")


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
def test_verify_grad(cls):
    build, _, _, samplers = CASES[cls]
    rng = np.random.default_rng(2)
    pts = [s(rng, 4) for s in samplers]
    if cls in NO_DERIV:
        k = 1 - min(NO_DERIV[cls])
        fixed = kt.constant(pts[1 - k])
        verify_grad(lambda v: build(fixed, v) if k == 1 else build(v, fixed), [pts[k]], rng=rng, mode=MODE)
    else:
        verify_grad(build, pts, rng=rng, mode=MODE)


def test_derivative_limits_at_special_points():
    x, y = kt.vector("x"), kt.vector("y")
    gx, gy = grad((kt.xlogy(x, y) + kt.xlog1py(x, y - 1.0)).sum(), [x, y])
    vx, vy = kiln.function([x, y], [gx, gy], mode=MODE)(np.array([0.0, 1.0]), np.array([0.0, 2.0]))
    # xlogy(0, y) is identically 0: its y-derivative is 0 (not 0/0) even at y = 0
    assert vy[0] == 0.0 and np.isfinite(vy).all()
    g1 = kiln.function([x], grad(kt.i1(x).sum(), x), mode=MODE)(np.array([0.0]))
    g0 = kiln.function([x], grad(kt.i0(x).sum(), x), mode=MODE)(np.array([0.0]))
    np.testing.assert_allclose([g1[0], g0[0]], [0.5, 0.0])
    # log1mexp stays accurate where log(1 - exp(x)) would round to log(0) or lose digits
    v = kt.log1mexp(kt.constant(np.array([-1e-20, -50.0]))).eval()
    np.testing.assert_allclose(v, [np.log(1e-20), -np.exp(-50.0)], rtol=1e-12)


@pytest.mark.parametrize("a,x", [(0.3, 0.2), (0.1, 1.11), (2.5, 2.0), (10.0, 30.0), (100.0, 110.9),
                                 (100.0, 111.1), (100.0, 300.0), (1e4, 1e4 + 1), (1e4, 1e4 + 300), (1e4, 9700.0),
                                 (2.0, 1e-8)])
def test_gammainc_shape_derivative_in_every_regime(a, x):
    """The series (x < a + 1 + sqrt(a)) and the quadrature (beyond) against mpmath, including
    both sides of the switch and far tails."""
    import mpmath

    mpmath.mp.dps = 30
    got = kt.gammainc_da(kt.constant(np.array([a])), kt.constant(np.array([x]))).eval()[0]
    want = float(mpmath.diff(lambda s: mpmath.gammainc(s, 0, x, regularized=True), a))
    mpmath.mp.dps = 15
    assert got == pytest.approx(want, rel=1e-9)
    edge = kt.gammainc_da(kt.constant(np.array([1.0, -1.0, 2.0])), kt.constant(np.array([0.0, 1.0, -1.0]))).eval()
    assert edge[0] == 0.0 and np.isnan(edge[1:]).all()


def test_clear_errors():
    a, x = kt.vector("a"), kt.vector("x")
    from kiln.gradient import NullTypeGradError

    # the second derivative in the shape parameter has no rule, and says so
    with pytest.raises(NullTypeGradError, match="gammainc_da"):
        grad(grad(kt.gammainc(a, x).sum(), a).sum(), a)
    with pytest.raises(TypeError, match="polygamma: the order n must be an integer"):
        kt.polygamma(kt.vector("n"), x)
    n = kt.vector("n", dtype="int64")
    f = kiln.function([n, x], kt.polygamma(n, x), mode=MODE)
    with pytest.raises(ValueError, match="order n must be >= 0"):
        f(np.array([-1]), np.array([1.0]))


# -- NN helpers ------------------------------------------------------------------------
SELU_A, SELU_S = 1.6732632423543772848170429916717, 1.0507009873554804934193349852946
NN = {
    "gelu": (kt.gelu, lambda x: 0.5 * x * (1 + sps.erf(x / np.sqrt(2))), X * (1 + sp.erf(X / sp.sqrt(2))) / 2),
    "gelu_tanh": (lambda x: kt.gelu(x, approximate="tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))),
                  X * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (X + sp.Rational(44715, 1000000) * X ** 3))) / 2),
    "elu": (lambda x: kt.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(np.minimum(x, 0))),
            sp.Piecewise((X, X > 0), (0.7 * (sp.exp(X) - 1), True))),
    "selu": (kt.selu, lambda x: SELU_S * np.where(x > 0, x, SELU_A * np.expm1(np.minimum(x, 0))),
             SELU_S * sp.Piecewise((X, X > 0), (SELU_A * (sp.exp(X) - 1), True))),
    "softsign": (kt.softsign, lambda x: x / (1 + np.abs(x)), X / (1 + sp.Abs(X))),
}


@pytest.mark.parametrize("name", list(NN))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_nn_helpers_values_and_sympy(name, dtype):
    build, ref, expr = NN[name]
    rng = np.random.default_rng(4)
    pts = (rng.choice([-1, 1], 9) * rng.uniform(0.1, 3, 9)).astype(dtype)
    x = kt.vector("x", dtype=dtype)
    val, g = kiln.function([x], [build(x), grad(build(x).sum(), x)], mode=MODE)(pts)
    assert val.dtype == dtype
    np.testing.assert_allclose(val, ref(pts.astype("float64")), rtol=1e-5 if dtype == "float32" else 1e-12)
    d = sp.lambdify([X], sp.diff(expr, X), modules=["scipy", "numpy"])
    np.testing.assert_allclose(g, [float(d(float(p))) for p in pts], rtol=1e-4 if dtype == "float32" else 1e-9)
    verify_grad(build, [pts.astype("float64")], rng=rng, mode=MODE)
    # 0-d and empty
    assert build(kt.constant(np.float64(0.5))).eval().shape == ()
    assert build(kt.constant(np.zeros((0, 2)))).eval().shape == (0, 2)


def test_elu_does_not_overflow_for_large_inputs():
    v = kt.elu(kt.constant(np.array([1000.0, -1000.0]))).eval()
    np.testing.assert_array_equal(v, [1000.0, -1.0])
    g = kiln.function([x := kt.vector("x")], grad(kt.elu(x).sum(), x), mode=MODE)(np.array([1000.0, -1000.0]))
    assert np.isfinite(g).all()


def test_binary_crossentropy():
    rng = np.random.default_rng(6)
    p, t = rng.uniform(0.05, 0.95, (3, 4)), rng.integers(0, 2, (3, 4)).astype("float64")
    o, y = kt.matrix("o"), kt.matrix("y")
    got = kiln.function([o, y], kt.binary_crossentropy(o, y), mode=MODE)(p, t)
    np.testing.assert_allclose(got, -(t * np.log(p) + (1 - t) * np.log(1 - p)), rtol=1e-12)
    verify_grad(lambda o: kt.binary_crossentropy(o, kt.constant(t)), [p], rng=rng, mode=MODE)
    # a certain, correct prediction costs 0 (not 0 * log 0 = nan)
    edge = kt.binary_crossentropy(kt.constant([1.0, 0.0]), kt.constant([1.0, 0.0])).eval()
    np.testing.assert_array_equal(edge, [0.0, 0.0])


@pytest.mark.parametrize("label_dtype", ["int64", "int32"])
def test_categorical_crossentropy_labels_and_onehot(label_dtype):
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(5, 4))
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([0, 3, 3, 1, 2], dtype=label_dtype)
    onehot = np.eye(4)[labels]
    want = -np.log(p[np.arange(5), labels])
    P = kt.matrix("p")
    L = kt.vector("l", dtype=label_dtype)
    got_l = kiln.function([P, L], kt.categorical_crossentropy(P, L), mode=MODE)(p, labels)
    got_o = kiln.function([P], kt.categorical_crossentropy(P, kt.constant(onehot)), mode=MODE)(p)
    np.testing.assert_allclose(got_l, want, rtol=1e-12)
    np.testing.assert_allclose(got_o, want, rtol=1e-12)
    verify_grad(lambda q: kt.categorical_crossentropy(q, kt.constant(labels)), [p], rng=rng, mode=MODE)
    verify_grad(lambda q: kt.categorical_crossentropy(kt.softmax(q, axis=-1), kt.constant(onehot * 0.7 + 0.075)),
                [logits], rng=rng, mode=MODE)
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        kt.categorical_crossentropy(P, kt.tensor3("t"))
    with pytest.raises(IndexError):
        kiln.function([P, L], kt.categorical_crossentropy(P, L), mode=MODE)(p, labels + 1)
    # one distribution and one 0-d label
    one = kt.categorical_crossentropy(kt.constant(p[0]), kt.constant(np.int64(2))).eval()
    assert one.shape == () and one == pytest.approx(-np.log(p[0, 2]))


SECOND_ORDER = [
    ("betaln", lambda x: kt.sum(kt.betaln(x, 2.0)), np.array([1.3, 0.4, 2.0])),
    ("beta", lambda x: kt.sum(kt.beta(2.0, x)), np.array([1.3, 0.4, 2.0])),
    ("polygamma", lambda x: kt.sum(kt.polygamma(1, x)), np.array([1.3, 0.4, 2.0])),
    ("gammainc_x", lambda x: kt.sum(kt.gammainc(2.0, x)), np.array([1.3, 0.4, 2.0])),
    ("xlogy_i1_erfcx", lambda x: kt.sum(kt.xlogy(x, x + 1.0) + kt.i1(x) * x + kt.erfcx(x)), np.array([1.3, 0.4, 2.0])),
    ("gelu_selu_softsign", lambda x: kt.sum(kt.gelu(x) + kt.selu(x - 1.0) + kt.softsign(x - 1.0)),
     np.array([1.3, 0.4, 2.2])),
]


@pytest.mark.parametrize("case", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_hessian_matches_finite_differences_of_the_gradient(case):
    _, fn, v = case
    hessian_matches_finite_differences(fn, v, mode=MODE)
