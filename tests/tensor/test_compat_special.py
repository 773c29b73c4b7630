"""Special functions added for PyTensor compatibility (kiln.scalar.special_more and the
compositions in kiln.tensor.compat_math): values and dtypes against SciPy, derivatives against
finite differences (verify_grad) and SymPy, undefined derivatives as clear errors."""
import pickle

import numpy as np
import pytest
import scipy.special as sp

import kiln
import kiln.tensor as kt
from kiln.gradient import verify_grad
from kiln.gradient.rules.special_more import MORE_DERIVATIVES
from kiln.gradient.values import NullTypeGradError

from .conftest import PY, _run, _same

RNG = np.random.default_rng(7)

# name -> (scipy function, sampler of valid arguments)
CASES = {
    "erfcinv": (sp.erfcinv, lambda n: [RNG.uniform(0.05, 1.95, n)]),
    "gammaincinv": (sp.gammaincinv, lambda n: [RNG.uniform(0.5, 5, n), RNG.uniform(0.05, 0.95, n)]),
    "gammainccinv": (sp.gammainccinv, lambda n: [RNG.uniform(0.5, 5, n), RNG.uniform(0.05, 0.95, n)]),
    "iv": (sp.iv, lambda n: [RNG.uniform(-1, 3, n), RNG.uniform(0.1, 4, n)]),
    "ive": (sp.ive, lambda n: [RNG.integers(0, 3, n).astype("float64"), RNG.uniform(-4, 4, n)]),
    "jv": (sp.jv, lambda n: [RNG.uniform(0, 3, n), RNG.uniform(0.1, 6, n)]),
    "j0": (sp.j0, lambda n: [RNG.uniform(-6, 6, n)]),
    "j1": (sp.j1, lambda n: [RNG.uniform(-6, 6, n)]),
    "kv": (sp.kv, lambda n: [RNG.uniform(0, 3, n), RNG.uniform(0.2, 4, n)]),
    "kve": (sp.kve, lambda n: [RNG.uniform(0, 3, n), RNG.uniform(0.2, 4, n)]),
    "hyp2f1": (sp.hyp2f1, lambda n: [RNG.uniform(0.2, 2, n), RNG.uniform(0.2, 2, n), RNG.uniform(2.5, 4, n),
                                     RNG.uniform(-0.8, 0.8, n)]),
    "betainc": (sp.betainc, lambda n: [RNG.uniform(0.5, 4, n), RNG.uniform(0.5, 4, n), RNG.uniform(0.05, 0.95, n)]),
    "betaincinv": (sp.betaincinv, lambda n: [RNG.uniform(0.5, 4, n), RNG.uniform(0.5, 4, n),
                                             RNG.uniform(0.05, 0.95, n)]),
    "owens_t": (sp.owens_t, lambda n: [RNG.normal(size=n), RNG.normal(size=n)]),
    "kn": (sp.kn, lambda n: [RNG.integers(0, 4, n), RNG.uniform(0.2, 4, n)]),
    "gammal": (lambda k, x: sp.gammainc(k, x) * sp.gamma(k),
               lambda n: [RNG.uniform(0.5, 4, n), RNG.uniform(0.1, 5, n)]),
    "gammau": (lambda k, x: sp.gammaincc(k, x) * sp.gamma(k),
               lambda n: [RNG.uniform(0.5, 4, n), RNG.uniform(0.1, 5, n)]),
    "chi2sf": (lambda x, k: sp.gammaincc(k / 2, x / 2), lambda n: [RNG.uniform(0.1, 6, n), RNG.uniform(1, 6, n)]),
    "tri_gamma": (lambda x: sp.polygamma(1, x), lambda n: [RNG.uniform(0.2, 5, n)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_and_dtypes_vs_scipy(name, dtype):
    fn, sample = CASES[name]
    args = [a.astype(dtype) if a.dtype.kind == "f" else a for a in sample(6)]
    xs = [kt.vector(f"a{i}", dtype=str(a.dtype)) for i, a in enumerate(args)]
    got = _run(xs, getattr(kt, name)(*xs), *args)
    _same(got, fn(*args), rtol=1e-5 if got.dtype == np.float32 else 1e-10, atol=1e-6)


@pytest.mark.parametrize("name", ["erfcinv", "iv", "jv", "j0", "hyp2f1", "betainc", "owens_t"])
def test_broadcasting_empty_and_0d(name):
    fn, sample = CASES[name]
    args = sample(3)
    # first argument 0-d, the last a (2, 3) matrix: the result broadcasts as in SciPy
    vals = [np.float64(args[0][0])] + [a[:, None].T.repeat(2, axis=0) if i == len(args) - 1 else a
                                       for i, a in enumerate(args[1:], 1)]
    xs = [kt.tensor(f"a{i}", dtype="float64", shape=(None,) * np.ndim(v)) for i, v in enumerate(vals)]
    _same(_run(xs, getattr(kt, name)(*xs), *vals), fn(*vals))
    empty = [np.zeros((0,)) for _ in args]
    ys = [kt.dvector(f"e{i}") for i in range(len(args))]
    _same(_run(ys, getattr(kt, name)(*ys), *empty), fn(*empty))


@pytest.mark.parametrize("dtype", ["int8", "int32", "int64", "float16"])
def test_integer_and_half_inputs_follow_scipy(dtype):
    x = kt.vector("x", dtype=dtype)
    v = np.array([1, 2, 3], dtype=dtype)
    for name in ["j0", "j1", "erfcinv"]:
        _same(_run([x], getattr(kt, name)(x), v), CASES[name][0](v))
    _same(_run([x], kt.jv(x, x), v, ), sp.jv(v, v))


def test_ops_pickle_and_compile_with_default_linker():
    import kiln.scalar.special_more as psm

    for op in [psm.hyp2f1, psm.betainc, psm.owens_t, psm.iv, psm.complex_, psm.logaddexp, psm.gammaincinv]:
        assert pickle.loads(pickle.dumps(op)) == op
    x = kt.dvector("x")
    f = kiln.function([x], [kt.hyp2f1(1.0, 2.0, 3.0, x), kt.jv(1.5, x) * 2.0])
    v = np.array([0.1, 0.5])
    got = f(v)
    _same(got[0], sp.hyp2f1(1.0, 2.0, 3.0, v))
    _same(got[1], sp.jv(1.5, v) * 2.0)


GRAD_POINTS = {
    "erfcinv": lambda: (lambda y: kt.erfcinv(y), [np.array([0.3, 1.0, 1.6])]),
    "gammaincinv": lambda: (kt.gammaincinv, [np.array([0.7, 2.0, 4.5]), np.array([0.2, 0.5, 0.85])]),
    "gammainccinv": lambda: (kt.gammainccinv, [np.array([0.7, 2.0, 4.5]), np.array([0.2, 0.5, 0.85])]),
    "iv": lambda: (lambda x: kt.iv(1.5, x) + kt.iv(-0.5, x), [np.array([0.4, 1.3, 2.7])]),
    "ive": lambda: (lambda x: kt.ive(1.0, x) + kt.ive(2.0, x) + kt.ive(0.5, kt.abs(x)),
                              [np.array([-1.4, 0.6, 2.7])]),
    "jv": lambda: (lambda x: kt.jv(2.0, x) + kt.jv(0.3, x), [np.array([0.5, 1.3, 4.7])]),
    "j0j1": lambda: (lambda x: kt.j0(x) * kt.j1(x), [np.array([-2.0, 0.5, 3.3])]),
    "kv": lambda: (lambda x: kt.kv(1.0, x) + kt.kve(2.5, x) + kt.kn(2, x), [np.array([0.5, 1.3, 2.7])]),
    "hyp2f1": lambda: (lambda z: kt.hyp2f1(0.5, 1.5, 2.5, z), [np.array([-0.5, 0.2, 0.7])]),
    "betainc": lambda: (lambda x: kt.betainc(2.0, 3.5, x), [np.array([0.2, 0.5, 0.8])]),
    "betaincinv": lambda: (lambda y: kt.betaincinv(2.0, 3.5, y), [np.array([0.2, 0.5, 0.8])]),
    "owens_t": lambda: (kt.owens_t, [np.array([-1.0, 0.3, 2.0]), np.array([0.5, -1.2, 3.0])]),
    "compositions": lambda: (lambda x, k: kt.chi2sf(x, k) + kt.gammal(k, x) + kt.gammau(k, x) + kt.tri_gamma(x),
                             [np.array([0.5, 2.0, 3.0]), np.array([1.0, 2.0, 4.0])]),
}


@pytest.mark.parametrize("name", sorted(GRAD_POINTS))
def test_gradients_finite_differences(name):
    fn, pt = GRAD_POINTS[name]()
    verify_grad(fn, pt, rng=np.random.default_rng(0))


def test_second_derivatives():
    # derivative rules are built from differentiable graphs: second order works too
    verify_grad(lambda x: kiln.grad(kt.sum(kt.jv(1.0, x) + kt.owens_t(x, 0.7)), x), [np.array([0.5, 1.5])],
                rng=np.random.default_rng(1))


def test_sympy_oracle():
    sympy = pytest.importorskip("sympy")
    v, x, a, b, c = sympy.symbols("v x a b c")
    cases = [
        (kt.jv, sympy.besselj(v, x), (1.3, 2.1)),
        (kt.iv, sympy.besseli(v, x), (0.7, 1.4)),
        (kt.kv, sympy.besselk(v, x), (1.5, 0.9)),
        (lambda _, z: kt.hyp2f1(0.5, 1.25, 2.5, z), sympy.hyper([sympy.Rational(1, 2), sympy.Rational(5, 4)],
                                                            [sympy.Rational(5, 2)], x), (0.0, 0.35)),
        (lambda _, z: kt.betainc(2.5, 1.5, z), sympy.betainc_regularized(sympy.Rational(5, 2), sympy.Rational(3, 2),
                                                                         0, x), (0.0, 0.4)),
    ]
    xv = kt.dscalar("x")
    for fn, expr, (vv, xx) in cases:
        want = float(sympy.diff(expr, x).subs({v: vv, x: xx}).evalf(30))
        got = float(kiln.function([xv], kiln.grad(fn(vv, xv), xv), mode=PY)(xx))
        assert abs(got - want) <= 1e-8 * max(1.0, abs(want)), (expr, got, want)


@pytest.mark.parametrize("build,param", [
    (lambda p, x: kt.iv(p, x), "the order v"), (lambda p, x: kt.jv(p, x), "the order v"),
    (lambda p, x: kt.kve(p, x), "the order v"), (lambda p, x: kt.hyp2f1(p, 1.0, 3.0, x), "parameters"),
    (lambda p, x: kt.betainc(p, 2.0, x), "shape parameters"), (lambda p, x: kt.betaincinv(2.0, p, x), "shape"),
])
def test_not_differentiable_in_parameters(build, param):
    p, x = kt.dscalar("p"), kt.dscalar("x")
    out = build(p, x)
    with pytest.raises(NullTypeGradError, match=f"not differentiable w.r.t. .*{param}"):
        kiln.grad(out, p)
    # the other argument still differentiates
    assert kiln.grad(out, x) is not None


def test_every_rule_is_exercised():
    import kiln.scalar.special_more as psm

    tested = {psm.LogAddExp, psm.Erfcinv, psm.GammaIncInv, psm.GammaIncCInv, psm.Iv, psm.Ive, psm.Jv, psm.J0,
              psm.J1, psm.Kv, psm.Kve, psm.Hyp2F1, psm.BetaInc, psm.BetaIncInv, psm.OwensT}
    assert set(MORE_DERIVATIVES) == tested


@pytest.mark.filterwarnings("ignore:chi2sf is deprecated")
def test_same_as_pytensor():
    pytensor = pytest.importorskip("pytensor")
    import pytensor.tensor as pt

    names = ["j0", "j1", "erfcinv", "tri_gamma"]
    two = ["jv", "iv", "ive", "kv", "kve", "owens_t", "gammaincinv", "gammainccinv", "chi2sf", "gammal", "gammau"]
    v = np.array([0.3, 0.6, 0.9])
    w = np.array([1.5, 2.5, 3.0])
    px, py = pt.dvector("x"), pt.dvector("y")
    kx, ky = kt.dvector("x"), kt.dvector("y")
    p_out = [getattr(pt, n)(px) for n in names] + [getattr(pt, n)(py, px) for n in two]
    k_out = [getattr(kt, n)(kx) for n in names] + [getattr(kt, n)(ky, kx) for n in two]
    p_out += [pt.betainc(py, py, px), pt.betaincinv(py, py, px), pt.hyp2f1(px, py, py + 1, px)]
    k_out += [kt.betainc(ky, ky, kx), kt.betaincinv(ky, ky, kx), kt.hyp2f1(kx, ky, ky + 1, kx)]
    want = pytensor.function([px, py], p_out, mode="FAST_COMPILE")(v, w)
    got = kiln.function([kx, ky], k_out, mode=PY)(v, w)
    for g, e in zip(got, want):
        _same(g, e, rtol=1e-8, atol=1e-10)
    # gradients in x agree as well
    pg = pytensor.function([px, py], [pytensor.grad(o.sum(), px) for o in p_out[:4]], mode="FAST_COMPILE",
                            on_unused_input="ignore")(v, w)
    kg = kiln.function([kx, ky], [kiln.grad(o.sum(), kx) for o in k_out[:4]], mode=PY, on_unused_input="ignore")(v, w)
    for g, e in zip(kg, pg):
        _same(g, e, rtol=1e-7, atol=1e-9)
