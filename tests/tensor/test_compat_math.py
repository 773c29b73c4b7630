"""PyTensor-compatible math names (kiln.tensor.compat_math) against NumPy/SciPy and PyTensor."""
import math

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.gradient import verify_grad

from .conftest import PY, _run, _same

RNG = np.random.default_rng(1234)


def _csame(got, expected, rtol=None):
    """_same that also compares imaginary parts (conftest's _same compares complex as real)."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    _same(np.real(got), np.real(expected), rtol=rtol)
    _same(np.imag(got), np.imag(expected), rtol=rtol)


def _vals(dtype, shape):
    if np.dtype(dtype).kind == "c":
        return (RNG.normal(size=shape) + 1j * RNG.normal(size=shape)).astype(dtype)
    if np.dtype(dtype).kind in "iu":
        return RNG.integers(-5, 6, size=shape).astype(dtype)
    return RNG.normal(size=shape).astype(dtype)


UNARY = {
    "real": np.real, "imag": np.imag, "angle": np.angle, "conj": np.conjugate, "conjugate": np.conjugate,
    "deg2rad": np.deg2rad, "rad2deg": np.rad2deg, "isneginf": None, "isposinf": None, "sgn": np.sign,
    "identity": np.copy, "expit": None, "log1pexp": None,
}


@pytest.mark.parametrize("name", ["real", "imag", "angle", "conj", "conjugate"])
@pytest.mark.parametrize("dtype", ["complex64", "complex128", "float32", "float64", "int16"])
@pytest.mark.parametrize("shape", [(), (0,), (2, 3)])
def test_complex_parts(name, dtype, shape):
    x = kt.tensor("x", dtype=dtype, shape=(None,) * len(shape))
    v = _vals(dtype, shape)
    _csame(_run([x], getattr(kt, name)(x), v), UNARY[name](v))


@pytest.mark.parametrize("dt", ["float32", "float64", "int32"])
def test_complex_and_polar(dt):
    a, b = kt.vector("a", dtype=dt), kt.vector("b", dtype=dt)
    va, vb = _vals(dt, (4,)), _vals(dt, (4,))
    expected = va + 1j * vb.astype("float64" if dt != "float32" else dt)
    got = _run([a, b], kt.complex(a, b), va, vb)
    _csame(got, expected.astype(np.result_type(va, vb, np.complex64)))
    # an infinite imaginary part stays a clean (0, inf)
    if dt != "int32":
        inf = _run([a, b], kt.complex(a, b), np.zeros(1, dt), np.full(1, np.inf, dt))
        assert inf.real[0] == 0 and inf.imag[0] == np.inf
    r, t = np.abs(va).astype("float64") + 1, vb.astype("float64")
    fr, ft = kt.dvector("r"), kt.dvector("t")
    _csame(_run([fr, ft], kt.complex_from_polar(fr, ft), r, t), r * np.exp(1j * t), rtol=1e-12)
    with pytest.raises(TypeError, match="must be real"):
        kt.complex(kt.zvector(), kt.dvector())


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int64", "uint8"])
@pytest.mark.parametrize("shape", [(), (0,), (3, 2)])
def test_elementwise_vs_numpy(dtype, shape):
    x = kt.tensor("x", dtype=dtype, shape=(None,) * len(shape))
    v = _vals(dtype, shape)
    if np.dtype(dtype).kind == "f" and v.size:
        v.reshape(-1)[0] = np.inf
        if v.size > 1:
            v.reshape(-1)[1] = -np.inf
    fns = [kt.deg2rad(x), kt.rad2deg(x), kt.isneginf(x), kt.isposinf(x), kt.sgn(x), kt.identity(x),
           kt.round_half_away_from_zero(x), kt.nan_to_num(x)]
    got = _run([x], fns, v)
    with np.errstate(all="ignore"):
        expected = [np.deg2rad(v), np.rad2deg(v), np.isneginf(v), np.isposinf(v), np.sign(v), v.copy(),
                    _round_away(v), np.nan_to_num(v)]
    for g, e in zip(got, expected):
        _same(g, e)


def _round_away(v):
    if v.dtype.kind != "f":
        return v.copy()
    return (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(v.dtype)


def test_round_half_away_from_zero_ties_and_edge():
    x = kt.dvector("x")
    v = np.array([0.5, -0.5, 1.5, 2.5, -2.5, 0.49999999999999994, -0.49999999999999994, 3.0, np.nan])
    got = _run([x], kt.round_half_away_from_zero(x), v)
    _same(got, np.array([1.0, -1.0, 2.0, 3.0, -3.0, 0.0, -0.0, 3.0, np.nan]))
    _same(_run([x], kt.iround(x, "half_away_from_zero"), v[:8]), np.array([1, -1, 2, 3, -3, 0, 0, 3]))
    _same(_run([x], kt.iround(x), v[:8]), np.round(v[:8]).astype("int64"))
    with pytest.raises(ValueError, match="unknown mode"):
        kt.iround(x, "up")


def test_nan_to_num_options_and_complex():
    x = kt.fvector("x")
    v = np.array([np.nan, np.inf, -np.inf, 2.0], dtype="float32")
    _same(_run([x], kt.nan_to_num(x, nan=-1.0, posinf=7.0, neginf=-7.0), v),
          np.nan_to_num(v, nan=-1.0, posinf=7.0, neginf=-7.0))
    z = kt.zvector("z")
    vz = np.array([complex(np.nan, np.inf), complex(-np.inf, 1.0)])
    _csame(_run([z], kt.nan_to_num(z), vz), np.nan_to_num(vz))


@pytest.mark.parametrize("dt", ["int8", "int32", "int64", "uint16", "float64"])
def test_divmod_and_ceil_intdiv(dt):
    a, b = kt.vector("a", dtype=dt), kt.vector("b", dtype=dt)
    va = np.array([7, -7, 6, 0, 5], dtype=dt) if dt[0] != "u" else np.array([7, 8, 6, 0, 5], dtype=dt)
    vb = np.array([2, 2, -3, 3, 5], dtype=dt) if dt[0] != "u" else np.array([2, 3, 3, 3, 5], dtype=dt)
    q, r = kt.divmod(a, b)
    got = _run([a, b], [q, r], va, vb)
    eq, er = np.divmod(va, vb)
    _same(got[0], eq)
    _same(got[1], er)
    if dt != "float64":
        _same(_run([a, b], kt.ceil_intdiv(a, b), va, vb), np.ceil(va / vb).astype(dt))


def test_logaddexp_values_dtypes_and_grad():
    for dt in ["float32", "float64", "int16"]:
        a, b = kt.vector("a", dtype=dt), kt.vector("b", dtype=dt)
        va, vb = _vals(dt, (5,)), _vals(dt, (5,))
        _same(_run([a, b], kt.logaddexp(a, b), va, vb), np.logaddexp(va, vb))
    x = kt.dvector("x")
    big = np.array([1000.0, -np.inf, -1000.0])
    _same(_run([x], kt.logaddexp(x, x), big), np.logaddexp(big, big))
    _same(_run([x], kt.logaddexp(x, 0.0), np.zeros((0,))), np.zeros((0,)))
    verify_grad(kt.logaddexp, [RNG.normal(size=4), RNG.normal(size=4)], rng=RNG)


def test_expit_log1pexp_are_sigmoid_softplus():
    x = kt.dvector("x")
    v = RNG.normal(size=6) * 10
    got = _run([x], [kt.expit(x), kt.log1pexp(x)], v)
    _same(got[0], 1 / (1 + np.exp(-v)), rtol=1e-12)
    _same(got[1], np.logaddexp(0, v), rtol=1e-12)


def test_constants():
    assert kt.e == math.e and kt.pi == math.pi and kt.inf == np.inf and math.isnan(kt.nan)
    assert kt.euler_gamma == np.euler_gamma
    x = kt.fvector("x")
    assert (x * kt.pi).dtype == "float32"   # Python floats stay weak


@pytest.mark.parametrize("shape,axis", [((5,), None), ((4, 3), 0), ((4, 3), 1), ((2, 3, 4), (0, 2)),
                                        ((2, 3, 4), -1), ((), None), ((1,), None)])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_median_ptp(shape, axis, dtype):
    x = kt.tensor("x", dtype=dtype, shape=(None,) * len(shape))
    v = _vals(dtype, shape)
    got = _run([x], [kt.median(x, axis=axis), kt.ptp(x, axis=axis)], v)
    _same(got[0], np.median(v, axis=axis), rtol=1e-6)
    _same(got[1], np.ptp(v, axis=axis))


def test_ptp_keepdims_and_largest_smallest():
    x, y, z = kt.dvectors("x y z")
    vs = [RNG.normal(size=4) for _ in range(3)]
    got = _run([x, y, z], [kt.largest(x, y, z), kt.smallest(x, y, z), kt.largest(x, y), kt.largest(x)], *vs)
    _same(got[0], np.maximum.reduce(vs))
    _same(got[1], np.minimum.reduce(vs))
    _same(got[2], np.maximum(vs[0], vs[1]))
    _same(got[3], vs[0])
    m = kt.dmatrix("m")
    vm = RNG.normal(size=(3, 4))
    _same(_run([m], kt.ptp(m, axis=1, keepdims=True), vm), np.ptp(vm, axis=1, keepdims=True))
    with pytest.raises(TypeError):
        kt.largest()


@pytest.mark.parametrize("kw", [{}, {"rowvar": False}, {"bias": True}, {"ddof": 0}, {"ddof": 2}])
def test_cov(kw):
    m = kt.dmatrix("m")
    v = RNG.normal(size=(3, 6)) if kw.get("rowvar", True) else RNG.normal(size=(6, 3))
    _same(_run([m], kt.cov(m, **kw), v), np.cov(v, **kw))


def test_cov_weights_vector_and_y():
    m, y = kt.dmatrix("m"), kt.dmatrix("y")
    v, vy = RNG.normal(size=(2, 5)), RNG.normal(size=(1, 5))
    fw, aw = np.array([1, 2, 1, 3, 1]), RNG.uniform(0.5, 1.5, size=5)
    for kw in [{"fweights": fw}, {"aweights": aw}, {"fweights": fw, "aweights": aw},
               {"fweights": fw, "aweights": aw, "ddof": 0}]:
        _same(_run([m], kt.cov(m, **kw), v), np.cov(v, **kw))
    _same(_run([m, y], kt.cov(m, y), v, vy), np.cov(v, vy))
    vec = kt.dvector("v")
    _same(_run([vec], kt.cov(vec), v[0]), np.cov(v[0]))
    fm = kt.fmatrix("fm")
    assert _run([fm], kt.cov(fm), v.astype("float32")).dtype == np.cov(v.astype("float32")).dtype


@pytest.mark.parametrize("left,right", [(None, None), (-1.0, 99.0)])
def test_interp(left, right):
    x, xp, fp = kt.dvector("x"), kt.dvector("xp"), kt.dvector("fp")
    vxp = np.array([0.0, 1.0, 1.5, 4.0])
    vfp = np.array([1.0, -2.0, 3.0, 0.5])
    vx = np.array([-1.0, 0.0, 0.3, 1.0, 1.2, 4.0, 5.0, 2.7])
    got = _run([x, xp, fp], kt.interp(x, xp, fp, left=left, right=right), vx, vxp, vfp)
    _same(got, np.interp(vx, vxp, vfp, left=left, right=right), rtol=1e-12)
    _same(_run([x, xp, fp], kt.interp(x, xp, fp), np.zeros(0), vxp, vfp), np.zeros(0))
    with pytest.raises(NotImplementedError):
        kt.interp(x, xp, fp, period=1.0)
    verify_grad(lambda a: kt.interp(a, kt.constant(vxp), kt.constant(vfp)), [np.array([0.3, 1.2, 2.7])], rng=RNG)


def test_grads_of_compositions():
    verify_grad(lambda a: kt.deg2rad(a) + kt.rad2deg(a) + kt.nan_to_num(a), [RNG.normal(size=3)], rng=RNG)
    verify_grad(lambda a: kt.median(a), [np.array([0.3, 2.0, -1.0, 0.7])], rng=RNG)
    verify_grad(lambda a: kt.ptp(a, axis=0), [RNG.normal(size=(3, 2))], rng=RNG)
    verify_grad(lambda a: kt.cov(a), [RNG.normal(size=(2, 4))], rng=RNG)
    verify_grad(lambda a, b: kt.largest(a, b, a * b), [RNG.normal(size=3), RNG.normal(size=3)], rng=RNG)


def test_same_as_pytensor():
    pytensor = pytest.importorskip("pytensor")
    import pytensor.tensor as pt

    v = RNG.normal(size=(3, 4))
    w = RNG.normal(size=(3, 4))
    names = [("deg2rad", 1), ("rad2deg", 1), ("logaddexp", 2), ("expit", 1), ("log1pexp", 1), ("isposinf", 1),
             ("round_half_away_from_zero", 1), ("largest", 2), ("smallest", 2), ("ptp", 1), ("median", 1),
             ("nan_to_num", 1), ("cov", 1)]
    px, py = pt.dmatrix("x"), pt.dmatrix("y")
    kx, ky = kt.dmatrix("x"), kt.dmatrix("y")
    p_out = [getattr(pt, n)(px, py) if k == 2 else getattr(pt, n)(px) for n, k in names]
    k_out = [getattr(kt, n)(kx, ky) if k == 2 else getattr(kt, n)(kx) for n, k in names]
    want = pytensor.function([px, py], p_out, mode="FAST_COMPILE", on_unused_input="ignore")(v, w)
    got = kiln.function([kx, ky], k_out, mode=PY, on_unused_input="ignore")(v, w)
    for g, e in zip(got, want):
        _same(g, e, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("method", ["linear", "nearest", "first", "last", "mean"])
def test_interpolate1d_vs_pytensor(method):
    pytensor = pytest.importorskip("pytensor")
    import pytensor.tensor as pt

    xs, ys = np.array([2.0, 0.0, 1.0, 3.5]), np.array([1.0, -1.0, 4.0, 0.0])
    q = np.array([[-1.0, 0.0, 0.2, 0.5], [1.0, 1.7, 3.5, 4.0]])
    px, kx = pt.dmatrix("q"), kt.dmatrix("q")
    p_out, k_out = [], []
    for extrapolate in (True, False):
        for lp in (None, -9.0):
            p_out.append(pt.interpolate1d(pt.constant(xs), pt.constant(ys), method, lp, None, extrapolate)(px))
            k_out.append(kt.interpolate1d(kt.constant(xs), kt.constant(ys), method, lp, None, extrapolate)(kx))
    want = pytensor.function([px], p_out, mode="FAST_COMPILE")(q)
    got = kiln.function([kx], k_out, mode=PY)(q)
    for g, e in zip(got, want):
        _same(g, e.reshape(g.shape), rtol=1e-12)
    if method == "linear":
        verify_grad(lambda yy: kt.interpolate1d(kt.constant(xs), yy)(kt.constant(q)), [ys], rng=RNG)
    with pytest.raises(NotImplementedError, match="unknown method"):
        kt.interpolate1d(xs, ys, "cubic")


def test_round_mode_half_away_from_zero_is_exact_near_one_half():
    x = np.array([0.49999999999999994, -0.49999999999999994, 0.5, -2.5, 4503599627370497.0])
    got = kt.round(kt.constant(x), mode="half_away_from_zero").eval()
    np.testing.assert_array_equal(got, [0.0, -0.0, 1.0, -3.0, 4503599627370497.0])


@pytest.mark.parametrize("a, axis", [
    (np.array([1.0, np.nan, 2.0]), None), (np.zeros((2, 0)), 1), (np.zeros(0), None),
    (np.array([[3.0, 1, 2, 5], [1, np.nan, 0, 0]]), 1), (np.arange(12).reshape(3, 4), (0, 1)),
])
def test_median_nan_and_empty_like_numpy(a, axis):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # NumPy warns on empty slices
        expected = np.median(a, axis=axis)
    got = kt.median(kt.constant(a), axis=axis).eval()
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
