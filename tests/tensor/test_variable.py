"""Variable operators and methods, constructors, constants, and NEP 50 promotion."""
import operator

import numpy as np
import pytest

import kiln
import kiln.tensor as kt

RNG = np.random.default_rng(23)


def vals(dtype, shape=(2, 3), positive=False):
    if dtype == "bool":
        return RNG.random(shape) < 0.5
    if dtype.startswith("float"):
        return (RNG.uniform(0.5, 2, shape) if positive else RNG.normal(size=shape)).astype(dtype)
    return RNG.integers(1, 5, shape).astype(dtype)


BINOPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.floordiv,
          operator.mod, operator.pow, operator.lt, operator.le, operator.gt, operator.ge]


@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "int64", "uint8"])
@pytest.mark.parametrize("op", BINOPS, ids=lambda o: o.__name__)
def test_binary_operators(op, dtype, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None, None))
    y = kt.tensor("y", dtype=dtype, shape=(None,))
    a, b = vals(dtype, positive=True), vals(dtype, (3,), positive=True)
    with np.errstate(all="ignore"):
        same(run([x, y], op(x, y), a, b), op(a, b))
        # reflected forms: a NumPy array or a Python number on the left
        same(run([y], op(a, y), b), op(a, b))
        same(run([x], op(2, x), a), op(np.asarray(2, dtype=dtype)[()] if dtype[0] == "u" else 2, a))
        same(run([x], op(x, 3), a), op(a, 3))


def test_matmul_operator(run, same):
    x, y = kt.matrix("x"), kt.matrix("y")
    a, b = vals("float64", (2, 3)), vals("float64", (3, 4))
    same(run([x, y], x @ y, a, b), a @ b)
    same(run([y], a @ y, b), a @ b)
    same(run([x], x @ b, a), a @ b)


@pytest.mark.parametrize("dtype", ["float32", "int16", "int64"])
def test_unary_operators(dtype, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None,))
    a = np.array([-2, 0, 3]).astype(dtype)
    outs = run([x], [-x, abs(x), +x, ~x if dtype[0] == "i" else -x], a)
    for got, exp in zip(outs, [-a, np.abs(a), +a, ~a if dtype[0] == "i" else -a]):
        same(got, exp)


def test_eq_stays_identity():
    x, y = kt.vector("x"), kt.vector("y")
    assert (x == x) is True and (x == y) is False and (x != y) is True
    assert len({x, y, x}) == 2
    with pytest.raises(TypeError):
        bool(x > y)
    with pytest.raises(TypeError):
        iter(x)
    with pytest.raises(TypeError):
        len(x)


def test_attributes(run, same):
    x = kt.tensor("x", dtype="float32", shape=(None, 3, None))
    v = vals("float32", (2, 3, 4))
    assert x.ndim == 3 and x.dtype == "float32" and x.type.shape == (None, 3, None)
    assert x.broadcastable == (False, False, False)
    same(run([x], x.shape, v), np.array(v.shape, dtype="int64"))
    same(run([x], x.shape[0], v), np.int64(2))
    same(run([x], x.size, v), np.int64(v.size))
    same(run([x], x.T, v), v.T)


METHODS = [
    ("sum", {}), ("sum", {"axis": 1}), ("mean", {"axis": (0, 2)}), ("max", {"axis": -1}),
    ("min", {}), ("prod", {"axis": 0, "keepdims": True}), ("std", {"axis": 1}),
    ("var", {"ddof": 1}), ("argmax", {"axis": 2}), ("argmin", {}), ("any", {"axis": 0}),
    ("all", {}), ("flatten", {}), ("squeeze", {}), ("transpose", {}), ("astype", {"dtype": "int32"}),
    ("clip", {"args": (-0.5, 0.5)}), ("reshape", {"args": ((6, 2),)}), ("reshape", {"args": (6, 2)}),
    ("copy", {}), ("swapaxes", {"args": (0, 2)}),
]


@pytest.mark.parametrize("name,kw", METHODS, ids=[f"{n}{kw}" for n, kw in METHODS])
def test_methods_against_ndarray_methods(name, kw, run, same):
    x = kt.tensor3("x")
    v = vals("float64", (2, 3, 2)) > 0 if name in ("any", "all") else vals("float64", (2, 3, 2))
    if name in ("any", "all"):
        x = kt.tensor3("x", dtype="bool")
    if name == "astype":
        same(run([x], x.astype(kw["dtype"]), v), v.astype(kw["dtype"]))
        return
    kw = dict(kw)
    args = kw.pop("args", ())
    same(run([x], getattr(x, name)(*args, **kw), v), getattr(v, name)(*args, **kw))


def test_dimshuffle_and_dot_methods(run, same):
    x, y = kt.matrix("x"), kt.vector("y")
    a, b = vals("float64", (2, 3)), vals("float64", (3,))
    same(run([x], x.dimshuffle(1, "x", 0), a), a.T[:, None, :])
    same(run([x, y], x.dot(y), a, b), a.dot(b))
    same(run([x], x.T.dot(x), a), a.T.dot(a))


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_nep50_python_floats_are_weak(dtype, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None,))
    a = vals(dtype, (3,))
    for out, exp in [(x * 2.0, a * 2.0), (2.0 * x, 2.0 * a), (x + 1, a + 1), (x / 3, a / 3),
                     (x ** 2, a ** 2), (kt.maximum(x, 0.5), np.maximum(a, 0.5))]:
        assert out.dtype == dtype
        same(run([x], out, a), exp)


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int32", "bool"])
def test_nep50_ints(dtype, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None,))
    a = vals(dtype, (3,))
    for make, ref in [(lambda t: t + 1.5, lambda n: n + 1.5), (lambda t: t * 2, lambda n: n * 2),
                      (lambda t: t / 2, lambda n: n / 2), (lambda t: t + True, lambda n: n + True)]:
        out = make(x)
        exp = ref(a)
        assert out.dtype == exp.dtype, (out.dtype, exp.dtype)
        same(run([x], out, a), exp)


def test_python_int_out_of_range_for_weak_promotion():
    x = kt.vector("x", dtype="int8")
    with pytest.raises(OverflowError):
        x + 300
    assert (x + 100).dtype == "int8"


def test_strong_constants_and_floatx(run, same):
    assert kt.constant(2.0).dtype == "float64"
    assert kt.constant(2).dtype == "int64"
    assert kt.constant(True).dtype == "bool"
    assert kt.constant(np.float32(2)).dtype == "float32"
    assert kt.constant([1, 2], dtype="int8").type == kt.TensorType("int8", (2,))
    x = kt.vector("x", dtype="float32")
    # a constant is a strong tensor: float32 * float64 constant -> float64
    assert (x * kt.constant(2.0)).dtype == "float64"
    old = kiln.config.floatX
    try:
        kiln.config.floatX = "float32"
        assert kt.constant(2.0).dtype == "float32"
        assert kt.vector("v").dtype == "float32"
        assert (x * kt.constant(2.0)).dtype == "float32"
    finally:
        kiln.config.floatX = old


def test_constructors():
    assert kt.scalar().type == kt.TensorType(kiln.config.floatX, ())
    assert kt.row("r").type.shape == (1, None)
    assert kt.col("c").type.shape == (None, 1)
    assert kt.tensor4().ndim == 4 and kt.tensor5().ndim == 5
    assert kt.fmatrix().dtype == "float32" and kt.dvector().dtype == "float64"
    assert kt.imatrix().dtype == "int32" and kt.lscalar().dtype == "int64"
    assert kt.bvector().dtype == "int8" and kt.wtensor3().dtype == "int16"
    assert kt.tensor("t", dtype="uint8", shape=(2, None)).type == kt.TensorType("uint8", (2, None))
    assert kt.tensor(dtype="float32", ndim=2).type.shape == (None, None)
    assert kt.vector("v", shape=(3,)).type.shape == (3,)
    with pytest.raises(TypeError):
        kt.tensor("t", dtype="float128x", ndim=1)
    with pytest.raises(ValueError):
        kt.TensorType("float64", (-1,))


def test_as_tensor_variable_of_lists(run, same):
    a, b = kt.dscalar("a"), kt.dscalar("b")
    same(run([a, b], kt.as_tensor_variable([a, b, 1.0]), 2.0, 3.0), np.array([2.0, 3.0, 1.0]))
    c = kt.as_tensor_variable([[1, 2], [3, 4]])
    assert c.type == kt.TensorType("int64", (2, 2))
    with pytest.raises(TypeError):
        kt.as_tensor_variable(object())


def test_exports():
    names = ["switch", "where", "square", "sqr", "erfinv", "psi", "gammaln", "isnan", "and_", "or_",
             "xor", "invert", "logical_and", "logical_or", "logical_xor", "logical_not",
             "bitwise_and", "bitwise_or", "bitwise_xor", "minimum", "maximum", "zeros_like",
             "ones_like", "full_like", "softmax", "log_softmax", "dot", "matmul", "tensordot", "outer",
             "reshape", "flatten", "dimshuffle", "transpose", "swapaxes", "squeeze", "expand_dims",
             "broadcast_to", "specify_shape", "alloc", "arange", "eye", "zeros", "ones", "full",
             "stack", "concatenate", "join", "logsumexp", "argmax", "argmin", "mean", "var", "std",
             "cast", "clip", "round", "sigmoid", "softplus", "exp2", "expm1", "log1p", "arctan2",
             "isinf", "isfinite", "sign", "reciprocal", "neg", "abs", "true_div", "int_div", "mod",
             "pow", "lt", "gt", "le", "ge", "eq", "neq", "newaxis", "shape", "TensorType",
             "as_tensor_variable", "constant", "tensor", "relu", "erf", "erfc", "gamma", "trunc"]
    missing = [n for n in names if not hasattr(kt, n)]
    assert not missing, missing
    import kiln.tensor.special as special

    assert special.softmax is kt.softmax and special.log_softmax is kt.log_softmax


def test_plural_constructors():
    a, b = kt.scalars("a", "b")
    assert (a.name, b.name) == ("a", "b") and a.type == kt.scalar().type
    x, y, z = kt.dvectors("x y, z")
    assert z.name == "z" and x.dtype == "float64"
    assert len(kt.matrices(3)) == 3
    assert kt.fmatrices("m").dtype == "float32"
    assert kt.vectors("u v", dtype="int8")[1].dtype == "int8"
    assert kt.ltensor3s("t", "s")[0].type == kt.TensorType("int64", (None,) * 3)


def test_namespace_has_no_stray_module_names():
    for stray in ("np", "ps", "dtypes", "Sequence", "annotations"):
        assert not hasattr(kt, stray), stray
    assert kt.Any is kt.reduction.Any and kt.All is kt.reduction.All


def test_as_tensor_variable_conversions(run, same):
    from kiln.graph.basic import Constant
    from kiln.scalar.basic import scalar_type

    x = kt.vector("x", dtype="int32")
    assert kt.as_tensor_variable(x) is x
    assert kt.as_tensor_variable(x, dtype="float32").dtype == "float32"
    with pytest.raises(ValueError):
        kt.as_tensor_variable(x, ndim=2)
    # a scalar-typed variable becomes a 0-d tensor
    s = scalar_type("float32")()
    t = kt.as_tensor_variable(s)
    assert t.type == kt.TensorType("float32", ())
    # a plain graph Constant of tensor type gets the tensor methods
    c = Constant(kt.TensorType("float64", (2,)), np.array([1.0, 2.0]))
    same(run([], kt.as_tensor_variable(c).sum()), np.float64(3.0))
    same(run([], kt.exp(c)), np.exp([1.0, 2.0]))


@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int16"])
def test_relu(alpha, dtype, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None,))
    v = np.array([-2, -0.5, 0, 0.5, 3]).astype(dtype)
    expected = np.maximum(v, 0) if alpha == 0 else np.where(v > 0, v, alpha * v)
    same(run([x], kt.relu(x, alpha), v), expected)


def test_join_errors():
    x, y = kt.matrix("x"), kt.vector("y")
    with pytest.raises(ValueError, match="join"):
        kt.join(0, x, y)
    with pytest.raises(ValueError, match="join"):
        kt.join(0, kt.scalar("a"), kt.scalar("b"))
    with pytest.raises(ValueError, match="join"):
        kt.join(0, kt.tensor("p", dtype="float64", shape=(2, 3)),
                kt.tensor("q", dtype="float64", shape=(2, 4)))
    assert kt.join(0, x) is x
    assert kt.join(1, kt.tensor("p", dtype="float64", shape=(2, 3)),
                   kt.tensor("q", dtype="float32", shape=(None, 4))).type == kt.TensorType("float64", (2, 7))


def test_build_errors_name_the_op_and_the_input():
    a = kt.tensor("alpha", dtype="float64", shape=(3,))
    b = kt.tensor("beta", dtype="float64", shape=(4,))
    m = kt.tensor("mat", dtype="float64", shape=(2, 3))
    cases = [
        (lambda: a + b, ValueError, ["add", "alpha", "beta"]),
        (lambda: kt.dot(m, b), ValueError, ["dot", "mat", "beta"]),
        (lambda: m @ kt.tensor("gamma", dtype="float64", shape=(2, 2)), ValueError, ["matmul", "mat", "gamma"]),
        (lambda: kt.reshape(m, (4, 2)), ValueError, ["reshape", "mat"]),
        (lambda: kt.join(0, m, a), ValueError, ["join", "mat", "alpha"]),
        (lambda: kt.join(0, m, kt.tensor("wide", dtype="float64", shape=(2, 4))), ValueError,
         ["join", "wide"]),
        (lambda: kt.broadcast_to(a, (2, 4)), ValueError, ["broadcast_to", "alpha"]),
        (lambda: kt.alloc(a, 2, 4), ValueError, ["alloc", "alpha"]),
        (lambda: m.dimshuffle(1), ValueError, ["DimShuffle", "mat"]),
        (lambda: kt.neg(kt.vector("flags", dtype="bool")), TypeError, ["neg", "flags"]),
        (lambda: kt.squeeze(m, 0), ValueError, ["squeeze", "mat"]),
    ]
    for make, exc, words in cases:
        with pytest.raises(exc) as info:
            make()
        for w in words:
            assert w in str(info.value), (w, str(info.value))
