"""Scalar ops on their own: output dtypes equal NumPy's, `perform` on scalars equals NumPy,
ScalarType.filter, and the dtype helpers (NEP 50 upcast, defaults, normalize)."""
import itertools

import numpy as np
import pytest
import scipy.special as sps

import kiln
import kiln.scalar as ks
from kiln.scalar import dtypes
from kiln.scalar.basic import ScalarType, float_out_dtype, scalar_type

DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16",
          "uint32", "uint64", "bool"]

NUMPY_OPS = {
    ks.add: np.add, ks.mul: np.multiply, ks.sub: np.subtract, ks.true_div: np.true_divide,
    ks.int_div: np.floor_divide, ks.mod: np.remainder, ks.pow: np.power, ks.maximum: np.maximum,
    ks.minimum: np.minimum, ks.neg: np.negative, ks.abs_: np.absolute, ks.sign: np.sign,
    ks.sqr: np.square, ks.reciprocal: np.reciprocal, ks.identity: np.positive, ks.exp: np.exp,
    ks.exp2: np.exp2, ks.expm1: np.expm1, ks.log: np.log, ks.log2: np.log2, ks.log10: np.log10,
    ks.log1p: np.log1p, ks.sqrt: np.sqrt, ks.sin: np.sin, ks.cos: np.cos, ks.tan: np.tan,
    ks.arcsin: np.arcsin, ks.arccos: np.arccos, ks.arctan: np.arctan, ks.arctan2: np.arctan2,
    ks.sinh: np.sinh, ks.cosh: np.cosh, ks.tanh: np.tanh, ks.arcsinh: np.arcsinh,
    ks.arccosh: np.arccosh, ks.arctanh: np.arctanh, ks.floor: np.floor, ks.ceil: np.ceil,
    ks.trunc: np.trunc, ks.round_half_to_even: np.round, ks.isnan: np.isnan, ks.isinf: np.isinf,
    ks.isfinite: np.isfinite, ks.lt: np.less, ks.gt: np.greater, ks.le: np.less_equal,
    ks.ge: np.greater_equal, ks.eq: np.equal, ks.neq: np.not_equal,
    ks.logical_and: np.logical_and, ks.logical_or: np.logical_or, ks.logical_xor: np.logical_xor,
    ks.logical_not: np.logical_not, ks.bitwise_and: np.bitwise_and, ks.bitwise_or: np.bitwise_or,
    ks.bitwise_xor: np.bitwise_xor, ks.invert: np.invert,
    ks.clip: np.clip, ks.switch: lambda c, a, b: np.where(c, a, b),
}
SCIPY_OPS = {ks.sigmoid: sps.expit, ks.softplus: lambda v: np.logaddexp(0.0, v), ks.erf: sps.erf,
             ks.erfc: sps.erfc, ks.erfinv: sps.erfinv, ks.gamma: sps.gamma, ks.gammaln: sps.gammaln,
             ks.psi: sps.psi}


def _nin(op):
    return 2 if op.nin < 0 else op.nin


def _combos(n):
    if n == 1:
        return [(d,) for d in DTYPES]
    if n == 2:
        return list(itertools.product(DTYPES, DTYPES))
    return [(d, d, d) for d in DTYPES] + [("bool", "int8", "float32"), ("bool", "uint8", "int8")]


@pytest.mark.parametrize("op", list(NUMPY_OPS), ids=str)
def test_output_dtypes_equal_numpy(op):
    fn = NUMPY_OPS[op]
    for dts in _combos(_nin(op)):
        try:
            with np.errstate(all="ignore"):
                expected = fn(*[np.zeros(3, d) for d in dts]).dtype.name
        except TypeError:
            with pytest.raises(TypeError, match=str(op)):
                op.output_dtypes(dts)
            continue
        assert op.output_dtypes(dts) == (expected,), (op, dts)


@pytest.mark.parametrize("op", list(SCIPY_OPS), ids=str)
def test_special_function_dtypes_follow_their_library(op):
    """scipy.special ufuncs follow SciPy's rule (float32 stays float32, int8/float16/bool give
    float64); softplus is NumPy arithmetic and follows NumPy's (int8 -> float16)."""
    for d in DTYPES:
        with np.errstate(all="ignore"):
            ref = np.exp if op is ks.softplus else SCIPY_OPS[op]
            expected = ref(np.ones(1, d)).dtype.name
        assert op.output_dtypes((d,)) == (expected,)


def _value(d, k):
    if d == "bool":
        return np.bool_(k % 2)
    if d.startswith("float"):
        return np.dtype(d).type([0.3, -1.7, 2.5, 0.9][k % 4])
    if d.startswith("u"):
        return np.dtype(d).type([3, 1, 2, 5][k % 4])
    return np.dtype(d).type([3, -2, 1, -5][k % 4])


@pytest.mark.parametrize("op", list(NUMPY_OPS) + list(SCIPY_OPS), ids=str)
def test_perform_on_scalars(op):
    ref = NUMPY_OPS.get(op) or SCIPY_OPS[op]
    for dts in _combos(_nin(op))[::3]:
        try:
            out_dtype = op.output_dtypes(dts)[0]
        except TypeError:
            continue
        ins = [scalar_type(d)() for d in dts]
        node = op.make_node(*ins)
        assert node.outputs[0].type == ScalarType(out_dtype)
        vals = [_value(d, k) for k, d in enumerate(dts)]
        if op is ks.pow and any(d[0] in "iu" for d in dts):
            vals[1] = abs(vals[1]) if dts[1] != "bool" else vals[1]
        store = [[None]]
        op.perform(node, vals, store)
        with np.errstate(all="ignore"):
            expected = np.asarray(ref(*[np.asarray(v) for v in vals])).astype(out_dtype)
        got = store[0][0]
        assert np.asarray(got).dtype == out_dtype
        np.testing.assert_allclose(np.asarray(got, "float64"), np.asarray(expected, "float64"),
                                   rtol=2e-3 if out_dtype == "float16" else 1e-7, equal_nan=True)


def test_variadic_ops():
    xs = [scalar_type("int8")(), scalar_type("float32")(), scalar_type("int16")()]
    node = ks.add.make_node(*xs)
    assert node.outputs[0].type.dtype == "float32"
    store = [[None]]
    ks.add.perform(node, [np.int8(1), np.float32(2.5), np.int16(3)], store)
    assert store[0][0] == np.float32(6.5)
    ks.mul.perform(ks.mul.make_node(xs[0]), [np.int8(4)], store)
    assert store[0][0] == 4
    with pytest.raises(TypeError, match="add"):
        ks.add.output_dtypes(())
    with pytest.raises(TypeError, match="sub"):
        ks.sub.output_dtypes(("int8",))


def test_cast_op():
    c = ks.Cast("uint8")
    assert c == ks.Cast("uint8") and c != ks.Cast("int8") and hash(c) == hash(ks.Cast("uint8"))
    assert c.output_dtypes(("float64",)) == ("uint8",)
    store = [[None]]
    c.perform(c.make_node(scalar_type("float64")()), [np.float64(3.7)], store)
    assert store[0][0] == np.uint8(3) and np.asarray(store[0][0]).dtype == "uint8"
    assert str(c) == "cast{uint8}"


def test_scalar_type_filter():
    t = ScalarType("float32")
    assert t.filter(1.5).dtype == "float32"
    assert t.filter(np.float32(2)) == 2
    assert t == scalar_type("float32") and t != ScalarType("float64")
    with pytest.raises(TypeError):
        t.filter(np.ones(2))
    with pytest.raises(TypeError):
        t.filter(np.float64(1.1), strict=True)
    assert ScalarType("int8").filter(3) == 3
    with pytest.raises(TypeError):
        ScalarType("int8").filter(3.5)
    assert ScalarType("int8").filter(3.5, allow_downcast=True) == 3


def test_as_scalar_constants():
    c = ks.as_scalar(2.0)
    assert c.type == ScalarType(kiln.config.floatX)
    assert ks.as_scalar(3).type.dtype == "int64" and ks.as_scalar(True).type.dtype == "bool"
    assert ks.as_scalar(np.float32(1)).type.dtype == "float32"


def test_dtype_helpers():
    assert dtypes.upcast("int8", "uint8") == "int16"
    assert dtypes.upcast("float32", 2.0) == "float32"
    assert dtypes.upcast("int8", 1.5) == "float64"
    assert dtypes.upcast("int64", "float32") == "float64"
    assert dtypes.upcast("uint64", "int64") == "float64"
    assert dtypes.default_dtype_of(True) == "bool" and dtypes.default_dtype_of(3) == "int64"
    assert dtypes.default_dtype_of(2.0) == kiln.config.floatX
    assert dtypes.default_dtype_of(1j) == "complex128"
    assert dtypes.normalize(np.float32) == "float32" and dtypes.normalize("f8") == "float64"
    assert dtypes.normalize("floatX") == kiln.config.floatX
    with pytest.raises(TypeError):
        dtypes.normalize("float128x")
    with pytest.raises(TypeError):
        dtypes.normalize("datetime64")
    assert float_out_dtype("int8") == "float16" and float_out_dtype("int32") == "float64"
    assert dtypes.is_python_scalar(2.0) and not dtypes.is_python_scalar(np.float64(2.0))
    assert dtypes.is_float("float16") and dtypes.is_integer("uint8") and dtypes.is_discrete("bool")


def test_scipy_dtype_rule_matches_each_scipy_ufunc_without_calling_it():
    """out_rule "scipy" is decided from `scipy_first_loop`; check it against SciPy's own
    resolution for every scipy-backed scalar op and every real input dtype."""
    from kiln.scalar.basic import ScalarOp

    def subclasses(c):
        for s in c.__subclasses__():
            yield s
            yield from subclasses(s)

    ops = [c for c in set(subclasses(ScalarOp)) if c.__dict__.get("out_rule", None) == "scipy"
           or (getattr(c, "out_rule", None) == "scipy" and "nfunc" in c.__dict__)]
    checked = 0
    for cls in ops:
        fn = getattr(cls.nfunc, "__name__", None)
        ufunc = getattr(sps, fn, None) if fn else None
        if not isinstance(ufunc, np.ufunc):
            continue
        op = cls()
        for d in ["bool", "int8", "uint8", "int16", "int32", "int64", "float16", "float32", "float64"]:
            with np.errstate(all="ignore"):
                expected = ufunc(*[np.ones(1, d)] * ufunc.nin).dtype.name
            assert op.output_dtypes((d,) * ufunc.nin) == (expected,), (cls.__name__, d)
        checked += 1
    assert checked >= 20
