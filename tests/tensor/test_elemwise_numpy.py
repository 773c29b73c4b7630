"""Elementwise ops against NumPy/SciPy: every dtype, broadcasting, 0-d and empty arrays,
NaN/inf, integer division signs, rounding, comparisons, logic, bits, cast, clip, switch."""
import itertools

import numpy as np
import pytest
import scipy.special as sps

import kiln.tensor as kt

FLOATS = ["float16", "float32", "float64"]
INTS = ["int8", "int16", "int32", "int64"]
UINTS = ["uint8", "uint16", "uint32", "uint64"]
DTYPES = FLOATS + INTS + UINTS + ["bool"]
RNG = np.random.default_rng(20261122)


def data(dtype, domain="real", shape=(2, 3)):
    """Random values of `dtype` in `domain` (real, pos, unit, ge1, nonzero)."""
    if dtype == "bool":
        return RNG.random(shape) < 0.5 if domain != "nonzero" else np.ones(shape, bool)
    if dtype in FLOATS:
        lo, hi = {"real": (-3, 3), "pos": (0.1, 3), "unit": (-0.95, 0.95), "ge1": (1.05, 3),
                  "nonzero": (0.5, 3)}[domain]
        v = RNG.uniform(lo, hi, shape)
        if domain == "nonzero":
            v = v * RNG.choice([-1, 1], shape)
        return v.astype(dtype)
    signed = dtype in INTS
    lo, hi = {"real": (-3 if signed else 0, 4), "pos": (1, 4), "unit": (0, 1), "ge1": (1, 4),
              "nonzero": (1, 4)}[domain]
    v = RNG.integers(lo, hi, shape)
    if domain == "nonzero" and signed:
        v = v * RNG.choice([-1, 1], shape)
    return v.astype(dtype)


def sci(fn):
    """A SciPy oracle: computed in float64, result dtype by SciPy's own rule (float32 stays
    float32; int8, float16 and bool give float64)."""
    def oracle(x):
        return fn(np.asarray(x, dtype="float64")).astype(fn(np.zeros(1, x.dtype)).dtype)
    oracle.sci = True
    return oracle


UNARY = [
    ("neg", kt.neg, np.negative, "real"), ("abs", kt.abs, np.abs, "real"),
    ("sign", kt.sign, np.sign, "real"), ("sqr", kt.sqr, np.square, "real"),
    ("square", kt.square, np.square, "real"), ("reciprocal", kt.reciprocal, np.reciprocal, "nonzero"),
    ("exp", kt.exp, np.exp, "real"), ("exp2", kt.exp2, np.exp2, "real"),
    ("expm1", kt.expm1, np.expm1, "real"), ("log", kt.log, np.log, "pos"),
    ("log2", kt.log2, np.log2, "pos"), ("log10", kt.log10, np.log10, "pos"),
    ("log1p", kt.log1p, np.log1p, "pos"), ("sqrt", kt.sqrt, np.sqrt, "pos"),
    ("sin", kt.sin, np.sin, "real"), ("cos", kt.cos, np.cos, "real"), ("tan", kt.tan, np.tan, "unit"),
    ("arcsin", kt.arcsin, np.arcsin, "unit"), ("arccos", kt.arccos, np.arccos, "unit"),
    ("arctan", kt.arctan, np.arctan, "real"), ("sinh", kt.sinh, np.sinh, "real"),
    ("cosh", kt.cosh, np.cosh, "real"), ("tanh", kt.tanh, np.tanh, "real"),
    ("arcsinh", kt.arcsinh, np.arcsinh, "real"), ("arccosh", kt.arccosh, np.arccosh, "ge1"),
    ("arctanh", kt.arctanh, np.arctanh, "unit"),
    ("sigmoid", kt.sigmoid, sci(sps.expit), "real"),
    ("softplus", kt.softplus, sci(lambda v: np.log1p(np.exp(v))), "real"),
    ("erf", kt.erf, sci(sps.erf), "real"), ("erfc", kt.erfc, sci(sps.erfc), "real"),
    ("erfinv", kt.erfinv, sci(sps.erfinv), "unit"), ("gamma", kt.gamma, sci(sps.gamma), "pos"),
    ("gammaln", kt.gammaln, sci(sps.gammaln), "pos"), ("psi", kt.psi, sci(sps.psi), "pos"),
    ("floor", kt.floor, np.floor, "real"), ("ceil", kt.ceil, np.ceil, "real"),
    ("trunc", kt.trunc, np.trunc, "real"), ("round", kt.round, np.round, "real"),
    ("isnan", kt.isnan, np.isnan, "real"), ("isinf", kt.isinf, np.isinf, "real"),
    ("isfinite", kt.isfinite, np.isfinite, "real"),
    ("logical_not", kt.logical_not, np.logical_not, "real"), ("invert", kt.invert, np.invert, "real"),
]

BINARY = [
    ("add", kt.add, np.add, "real"), ("sub", kt.sub, np.subtract, "real"),
    ("mul", kt.mul, np.multiply, "real"), ("true_div", kt.true_div, np.true_divide, "nonzero"),
    ("int_div", kt.int_div, np.floor_divide, "nonzero"), ("mod", kt.mod, np.remainder, "nonzero"),
    ("pow", kt.pow, np.power, "pos"), ("maximum", kt.maximum, np.maximum, "real"),
    ("minimum", kt.minimum, np.minimum, "real"), ("arctan2", kt.arctan2, np.arctan2, "real"),
    ("lt", kt.lt, np.less, "real"), ("gt", kt.gt, np.greater, "real"),
    ("le", kt.le, np.less_equal, "real"), ("ge", kt.ge, np.greater_equal, "real"),
    ("eq", kt.eq, np.equal, "real"), ("neq", kt.neq, np.not_equal, "real"),
    ("logical_and", kt.logical_and, np.logical_and, "real"),
    ("logical_or", kt.logical_or, np.logical_or, "real"),
    ("logical_xor", kt.logical_xor, np.logical_xor, "real"),
    ("bitwise_and", kt.bitwise_and, np.bitwise_and, "real"),
    ("bitwise_or", kt.bitwise_or, np.bitwise_or, "real"),
    ("bitwise_xor", kt.bitwise_xor, np.bitwise_xor, "real"),
]

MIXED = [("int8", "uint8"), ("int8", "float16"), ("int16", "float16"), ("int32", "float32"),
         ("int64", "float32"), ("uint64", "int64"), ("uint32", "int32"), ("bool", "int8"),
         ("bool", "float32"), ("float16", "float64"), ("uint8", "float32"), ("int64", "uint8")]


def _numpy_or_error(fn, *args):
    try:
        with np.errstate(all="ignore"):
            return fn(*args), None
    except TypeError as e:
        return None, e


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kfn,nfn,domain", UNARY, ids=[r[0] for r in UNARY])
def test_unary_matches_numpy(name, kfn, nfn, domain, dtype, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None, None))
    v = data(dtype, domain)
    expected, err = _numpy_or_error(nfn, v)
    if err is not None:
        with pytest.raises(TypeError, match=name):
            kfn(x)
        return
    same(run([x], kfn(x), v), expected)


def _pairs():
    out = [(d, d) for d in DTYPES] + MIXED + [(b, a) for a, b in MIXED]
    return out


@pytest.mark.parametrize("da,db", _pairs(), ids=[f"{a}-{b}" for a, b in _pairs()])
@pytest.mark.parametrize("name,kfn,nfn,domain", BINARY, ids=[r[0] for r in BINARY])
def test_binary_matches_numpy(name, kfn, nfn, domain, da, db, run, same):
    x = kt.tensor("x", dtype=da, shape=(None, None))
    y = kt.tensor("y", dtype=db, shape=(None, None))
    a = data(da, "real" if domain == "nonzero" else domain)
    b = data(db, domain)
    if name == "pow" and (da in INTS or db in INTS):
        b = np.abs(b)
    expected, err = _numpy_or_error(nfn, a, b)
    if err is not None:
        with pytest.raises(TypeError, match=name):
            kfn(x, y)
        return
    same(run([x, y], kfn(x, y), a, b), expected)


BROADCAST_SHAPES = [
    ((3, 1), (1, 4)), ((2, 3), (3,)), ((), (2, 3)), ((0, 3), (1, 3)), ((0, 3), ()),
    ((2, 1, 4), (3, 1)), ((1,), (0,)), ((), ()), ((4, 1, 1), (1, 5, 1)),
]


@pytest.mark.parametrize("sa,sb", BROADCAST_SHAPES)
@pytest.mark.parametrize("static", [False, True])
def test_broadcasting_unknown_lengths_that_are_one(sa, sb, static, run, same):
    # static=False: every dimension unknown, so length 1 is only discovered at run time
    x = kt.tensor("x", dtype="float64", shape=sa if static else (None,) * len(sa))
    y = kt.tensor("y", dtype="float64", shape=sb if static else (None,) * len(sb))
    a, b = RNG.normal(size=sa), RNG.normal(size=sb)
    out = x * y + kt.exp(y)
    assert out.ndim == np.broadcast(a, b).ndim
    same(run([x, y], out, a, b), a * b + np.exp(b))
    if static:
        assert out.type.shape == np.broadcast_shapes(sa, sb)


def test_broadcasting_runtime_mismatch_raises(run):
    x, y = kt.vector("x"), kt.vector("y")
    with pytest.raises(ValueError):
        run([x, y], x + y, np.ones(3), np.ones(4))


@pytest.mark.parametrize("sa,sb", [((3,), (4,)), ((2, 3), (3, 2)), ((5, None), (4, 1))])
def test_static_shape_mismatch_raises_at_build_time(sa, sb):
    x = kt.tensor("x", dtype="float64", shape=sa)
    y = kt.tensor("y", dtype="float64", shape=sb)
    with pytest.raises(ValueError, match="add"):
        kt.add(x, y)


def test_ternary_and_variadic_broadcast(run, same):
    x, y, z = kt.matrix("x"), kt.vector("y"), kt.scalar("z")
    a, b, c = RNG.normal(size=(2, 3)), RNG.normal(size=3), np.array(0.5)
    same(run([x, y, z], kt.add(x, y, z), a, b, c), a + b + c)
    same(run([x, y, z], kt.mul(x, y, z, x), a, b, c), a * b * c * a)
    same(run([x, y, z], kt.switch(x > 0, y, z), a, b, c), np.where(a > 0, b, c))


SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e300, -1e-300])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name,kfn,nfn,domain", UNARY, ids=[r[0] for r in UNARY])
def test_unary_nan_inf(name, kfn, nfn, domain, dtype, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None,))
    with np.errstate(all="ignore"):
        v = SPECIAL.astype(dtype)
        expected, err = _numpy_or_error(nfn, v)
    if err is not None:
        pytest.raises(TypeError, kfn, x)
        return
    if getattr(nfn, "sci", False) and name == "softplus":
        with np.errstate(all="ignore"):
            expected = np.logaddexp(0.0, v.astype("float64")).astype(dtype)
    same(run([x], kfn(x), v), expected)


@pytest.mark.parametrize("name,kfn,nfn,domain", BINARY[:10], ids=[r[0] for r in BINARY[:10]])
def test_binary_nan_inf(name, kfn, nfn, domain, run, same):
    x, y = kt.vector("x"), kt.vector("y")
    a, b = np.array(list(itertools.product(SPECIAL, SPECIAL))).T
    with np.errstate(all="ignore"):
        expected = nfn(a, b)
    same(run([x, y], kfn(x, y), a, b), expected)


@pytest.mark.parametrize("dtype", INTS + FLOATS)
def test_integer_division_and_modulo_signs(dtype, run, same):
    a = np.array([-7, -6, -5, -1, 0, 1, 5, 6, 7] * 6).astype(dtype)
    b = np.repeat(np.array([-3, -2, -1, 1, 2, 3]), 9).astype(dtype)
    x = kt.tensor("x", dtype=dtype, shape=(None,))
    y = kt.tensor("y", dtype=dtype, shape=(None,))
    same(run([x, y], x // y, a, b), np.floor_divide(a, b))
    same(run([x, y], x % y, a, b), np.remainder(a, b))
    same(run([x, y], x / y, a, b), np.true_divide(a, b))
    # Python's rule: the remainder has the divisor's sign, and x == (x // y) * y + x % y
    q, r = run([x, y], [x // y, x % y], a, b)
    np.testing.assert_allclose(q * b + r, a)


@pytest.mark.parametrize("dtype", ["int8", "int64", "uint8", "float32", "float64"])
def test_division_by_zero_matches_numpy(dtype, run, same):
    a = np.array([-2, 0, 3]).astype(dtype) if dtype[0] != "u" else np.array([0, 2, 3], dtype)
    b = np.zeros(3, dtype)
    x = kt.tensor("x", dtype=dtype, shape=(None,))
    y = kt.tensor("y", dtype=dtype, shape=(None,))
    with np.errstate(all="ignore"):
        same(run([x, y], x // y, a, b), np.floor_divide(a, b))
        same(run([x, y], x % y, a, b), np.remainder(a, b))
        same(run([x, y], x / y, a, b), np.true_divide(a, b))


@pytest.mark.parametrize("dtype", FLOATS)
def test_round_half_to_even(dtype, run, same):
    v = np.array([0.5, 1.5, 2.5, 3.5, -0.5, -1.5, -2.5, 2.4999, -2.5001, 0.0, np.nan, np.inf], dtype)
    x = kt.tensor("x", dtype=dtype, shape=(None,))
    same(run([x], kt.round(x), v), np.round(v))
    same(run([x], kt.round_half_to_even(x), v), np.round(v))
    away = np.sign(v) * np.floor(np.abs(v) + 0.5)
    same(run([x], kt.round(x, mode="half_away_from_zero"), v), away.astype(dtype))
    with pytest.raises(ValueError, match="round"):
        kt.round(x, mode="banker")


@pytest.mark.parametrize("dtype", ["bool", "int8", "uint16", "int64"])
def test_bitwise_operators_on_ints_and_bools(dtype, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None,))
    y = kt.tensor("y", dtype=dtype, shape=(None,))
    a = (RNG.integers(0, 2, 8) if dtype == "bool" else RNG.integers(0, 100, 8)).astype(dtype)
    b = (RNG.integers(0, 2, 8) if dtype == "bool" else RNG.integers(0, 100, 8)).astype(dtype)
    outs = run([x, y], [x & y, x | y, x ^ y, ~x, kt.and_(x, y), kt.or_(x, y), kt.xor(x, y)], a, b)
    for got, exp in zip(outs, [a & b, a | b, a ^ b, ~a, a & b, a | b, a ^ b]):
        same(got, exp)


def test_bitwise_on_floats_is_a_build_error():
    x, y = kt.vector("x"), kt.vector("y")
    for fn in (kt.bitwise_and, kt.bitwise_or, kt.bitwise_xor):
        with pytest.raises(TypeError, match="bitwise"):
            fn(x, y)
    with pytest.raises(TypeError, match="invert"):
        ~x


@pytest.mark.parametrize("src,dst", list(itertools.product(DTYPES, DTYPES)))
def test_cast_all_pairs(src, dst, run, same):
    if src == "bool":
        v = np.array([True, False, True])
    elif src in FLOATS:
        v = np.array([0.0, 1.0, 2.5, 3.7, 100.25, 0.49], dtype=src)
    elif src in INTS:
        v = np.array([-1, 0, 1, 100, -100, 7], dtype=src)
    else:
        v = np.array([0, 1, 100, 200, 7], dtype=src)
    x = kt.tensor("x", dtype=src, shape=(None,))
    with np.errstate(all="ignore"):
        expected = v.astype(dst)
    out = kt.cast(x, dst)
    assert out.dtype == dst
    same(run([x], out, v), expected)
    same(run([x], x.astype(dst), v), expected)


def test_cast_same_dtype_is_identity_and_bad_dtype_raises():
    x = kt.vector("x")
    assert kt.cast(x, "float64") is x
    with pytest.raises(TypeError):
        kt.cast(x, "float128x")


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "uint8", "int64"])
def test_clip(dtype, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None, None))
    v = data(dtype, "real", (3, 4)) * (3 if dtype != "float16" else 1)
    out = kt.clip(x, 1, 2)
    assert out.dtype == dtype
    same(run([x], out, v), np.clip(v, 1, 2))
    same(run([x], x.clip(0, 5), v), np.clip(v, 0, 5))
    lo, hi = kt.tensor("lo", dtype=dtype, shape=(None,)), kt.scalar("hi", dtype=dtype)
    lv, hv = data(dtype, "real", (4,)), np.asarray(2, dtype=dtype)
    same(run([x, lo, hi], kt.clip(x, lo, hi), v, lv, hv), np.clip(v, lv, hv))


def test_clip_nan_propagates(run, same):
    x = kt.vector("x")
    v = np.array([np.nan, -5.0, 0.5, 5.0, np.inf])
    same(run([x], kt.clip(x, -1.0, 1.0), v), np.clip(v, -1.0, 1.0))


@pytest.mark.parametrize("cdtype,adtype,bdtype", [("bool", "float64", "float64"),
                                                  ("int8", "int8", "float32"),
                                                  ("bool", "uint8", "int8"),
                                                  ("float32", "float16", "int16")])
def test_switch_and_where(cdtype, adtype, bdtype, run, same):
    c = kt.tensor("c", dtype=cdtype, shape=(None, None))
    a = kt.tensor("a", dtype=adtype, shape=(None,))
    b = kt.tensor("b", dtype=bdtype, shape=())
    cv, av, bv = data(cdtype, "real", (3, 4)), data(adtype, "real", (4,)), data(bdtype, "real", ())
    expected = np.where(cv, av, bv)
    same(run([c, a, b], kt.switch(c, a, b), cv, av, bv), expected)
    same(run([c, a, b], kt.where(c, a, b), cv, av, bv), expected)


def test_where_with_python_scalars(run, same):
    x = kt.vector("x", dtype="float32")
    v = np.array([-1, 2, -3, 4], dtype="float32")
    out = kt.where(x > 0, x, 0.0)
    assert out.dtype == "float32"
    same(run([x], out, v), np.where(v > 0, v, np.float32(0)))


def test_elemwise_build_error_names_op_and_input():
    x = kt.tensor("my_bool_input", dtype="bool", shape=(None,))
    with pytest.raises(TypeError, match=r"neg.*my_bool_input|my_bool_input.*neg"):
        kt.neg(x)
    with pytest.raises(TypeError, match="add"):
        kt.add(kt.vector("v"), "a string")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (0,), (2, 0), (0, 0, 3)], ids=str)
def test_zero_dim_and_empty_inputs(shape, dtype, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None,) * len(shape))
    y = kt.tensor("y", dtype=dtype, shape=(None,) * len(shape))
    v, w = data(dtype, "real", shape), data(dtype, "real", shape)
    with np.errstate(all="ignore"):
        expected = [np.exp(v), np.add(v, w), np.sin(v) * w, np.maximum(v, w), np.less(v, w),
                    np.add(v, 1) if dtype != "bool" else np.add(v, True)]
    outs = [kt.exp(x), x + y, kt.sin(x) * y, kt.maximum(x, y), x < y, x + (1 if dtype != "bool" else True)]
    for got, exp in zip(run([x, y], outs, v, w), expected):
        same(got, exp)


@pytest.mark.parametrize("dtype", ["uint8", "int8", "uint64", "int16"])
@pytest.mark.parametrize("value", [-1, 300, -129, 2**40])
def test_comparisons_with_out_of_range_python_ints(dtype, value, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None,))
    a = np.array([0, 5, 100], dtype=dtype)
    for kfn, nfn in [(kt.lt, np.less), (kt.ge, np.greater_equal), (kt.eq, np.equal),
                     (kt.neq, np.not_equal)]:
        same(run([x], kfn(x, value), a), nfn(a, value))
        same(run([x], kfn(value, x), a), nfn(value, a))
    with pytest.raises(OverflowError):
        kt.add(x, 2**70)


@pytest.mark.parametrize("equal_nan", [False, True])
@pytest.mark.parametrize("da,db", [("float64", "float64"), ("float32", "float16"), ("int8", "int64"),
                                   ("int64", "float32")])
def test_isclose_allclose(da, db, equal_nan, run, same):
    x = kt.tensor("x", dtype=da, shape=(None,))
    y = kt.tensor("y", dtype=db, shape=(None,))
    if da.startswith("int"):
        a = np.array([1, 2, 127, -128, 0], dtype=da)
        b = np.array([1, 3, -128, 127, 0], dtype=db)
    else:
        a = np.array([1.0, 1.0 + 1e-7, np.inf, -np.inf, np.nan, np.nan, 1e-9, 2.0], dtype=da)
        b = np.array([1.0, 1.0, np.inf, np.inf, np.nan, 1.0, 0.0, 2.1], dtype=db)
    same(run([x, y], kt.isclose(x, y, equal_nan=equal_nan), a, b), np.isclose(a, b, equal_nan=equal_nan))
    same(run([x, y], kt.allclose(x, y, equal_nan=equal_nan), a, b),
         np.asarray(np.allclose(a, b, equal_nan=equal_nan)))
    same(run([x], kt.isclose(x, 1, rtol=0.1), a), np.isclose(a, 1, rtol=0.1))


def test_second_fill_and_broadcast_arrays(run, same):
    x, y = kt.matrix("x"), kt.vector("y", dtype="int8")
    a, b = np.ones((2, 3)), np.arange(3, dtype="int8")
    same(run([x, y], kt.second(x, y), a, b), np.broadcast_to(b, (2, 3)))
    same(run([x, y], kt.fill(x, y), a, b), np.broadcast_to(b, (2, 3)))
    outs = run([x, y], kt.broadcast_arrays(x, y), a[:, :1], b)
    for got, exp in zip(outs, np.broadcast_arrays(a[:, :1], b)):
        same(got, exp)
    with pytest.raises(ValueError, match="broadcast_arrays"):
        kt.broadcast_arrays(kt.tensor("p", dtype="float64", shape=(2,)),
                            kt.tensor("q", dtype="float64", shape=(3,)))
