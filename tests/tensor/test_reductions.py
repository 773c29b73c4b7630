"""Reductions against NumPy: values and output dtypes over axis int/tuple/None/negative and
keepdims, ddof for var/std, empty and 0-d inputs, logsumexp against SciPy."""
import numpy as np
import pytest
import scipy.special as sps

import kiln.tensor as kt

RNG = np.random.default_rng(7)
# NumPy warns about empty slices and ddof >= n; the values (nan/inf) are what we compare
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
DTYPES = ["float16", "float32", "float64", "int8", "int16", "int32", "int64",
          "uint8", "uint16", "uint32", "uint64", "bool"]
AXES = [None, 0, 1, -1, 2, (0, 2), (-1, 0), (), (0, 1, 2)]


def data(dtype, shape=(2, 3, 4)):
    if dtype == "bool":
        return RNG.random(shape) < 0.5
    if dtype.startswith("float"):
        return RNG.uniform(-2, 2, shape).astype(dtype)
    lo = 0 if dtype.startswith("u") else -3
    return RNG.integers(lo, 4, shape).astype(dtype)


REDUCTIONS = [
    ("sum", kt.sum, np.sum), ("prod", kt.prod, np.prod), ("max", kt.max, np.max),
    ("min", kt.min, np.min), ("any", kt.any, np.any), ("all", kt.all, np.all),
    ("mean", kt.mean, np.mean), ("var", kt.var, np.var), ("std", kt.std, np.std),
]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kfn,nfn", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
def test_reduction_matches_numpy(name, kfn, nfn, dtype, axis, keepdims, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None, None, None))
    v = data(dtype)
    with np.errstate(all="ignore"):
        expected = np.asarray(nfn(v, axis=axis, keepdims=keepdims))
    out = kfn(x, axis=axis, keepdims=keepdims)
    assert out.dtype == expected.dtype
    assert out.ndim == expected.ndim
    rtol = 1e-2 if expected.dtype == "float16" else None
    same(run([x], out, v), expected, rtol=rtol)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "prod", "std", "var", "any", "all",
                                  "argmax", "argmin"])
@pytest.mark.parametrize("axis", [None, 1, (0, 1)], ids=str)
def test_methods_match_functions(name, axis, run, same):
    x = kt.matrix("x")
    v = RNG.normal(size=(3, 4))
    if name.startswith("arg") and isinstance(axis, tuple):
        return
    got = run([x], getattr(x, name)(axis=axis), v)
    same(got, getattr(np, name)(v, axis=axis))


@pytest.mark.parametrize("ddof", [0, 1, 2])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32", "bool"])
@pytest.mark.parametrize("axis", [None, 0, (1, 2), -1], ids=str)
def test_var_std_ddof(ddof, dtype, axis, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None, None, None))
    v = data(dtype)
    rtol = 1e-2 if dtype == "float16" else None
    for kfn, nfn in [(kt.var, np.var), (kt.std, np.std)]:
        same(run([x], kfn(x, axis=axis, ddof=ddof), v), nfn(v, axis=axis, ddof=ddof), rtol=rtol)
    same(run([x], x.var(axis=axis, ddof=ddof), v), np.var(v, axis=axis, ddof=ddof), rtol=rtol)
    same(run([x], kt.var(x, axis=axis, corrected=True), v), np.var(v, axis=axis, ddof=1), rtol=rtol)


def test_mean_dtype_argument(run, same):
    x = kt.vector("x", dtype="int32")
    v = np.array([1, 2, 4], dtype="int32")
    same(run([x], kt.mean(x, dtype="float32"), v), np.mean(v, dtype="float32"))
    same(run([x], kt.sum(x, dtype="int8"), v), np.sum(v, dtype="int8"))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, -3], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "uint16", "bool"])
@pytest.mark.parametrize("name", ["argmax", "argmin"])
def test_argmax_argmin(name, dtype, axis, keepdims, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None, None, None))
    v = data(dtype)
    expected = getattr(np, name)(v, axis=axis, keepdims=keepdims)
    same(run([x], getattr(kt, name)(x, axis=axis, keepdims=keepdims), v), expected)


def test_argmax_nan_and_ties(run, same):
    x = kt.vector("x")
    for v in [np.array([1.0, np.nan, 3.0]), np.array([3.0, 1.0, 3.0]), np.array([-np.inf, -np.inf])]:
        same(run([x], [kt.argmax(x), kt.argmin(x)], v), [np.argmax(v), np.argmin(v)])


def test_argmax_tuple_axis_rejected():
    with pytest.raises(ValueError, match="argmax"):
        kt.argmax(kt.tensor3("x"), axis=(0, 1))


@pytest.mark.parametrize("axis", [None, 0, 1, (0, 1), -1], ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_logsumexp(axis, keepdims, dtype, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None, None))
    v = (RNG.normal(size=(3, 4)) * 3).astype(dtype)
    expected = sps.logsumexp(v.astype("float64"), axis=axis, keepdims=keepdims).astype(dtype)
    same(run([x], kt.logsumexp(x, axis=axis, keepdims=keepdims), v), expected,
         rtol=1e-2 if dtype == "float16" else 1e-5)


def test_logsumexp_is_stable(run, same):
    x = kt.matrix("x")
    v = np.array([[1000.0, 1000.0], [-1000.0, -1001.0], [-np.inf, -np.inf], [np.inf, 1.0]])
    with np.errstate(all="ignore"):
        expected = sps.logsumexp(v, axis=1)
    same(run([x], kt.logsumexp(x, axis=1), v), expected)


@pytest.mark.parametrize("name,kfn,nfn", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@pytest.mark.parametrize("axis", [None, 0, 1], ids=str)
def test_empty_inputs(name, kfn, nfn, axis, run, same):
    x = kt.matrix("x")
    v = np.zeros((0, 3))
    with np.errstate(all="ignore"):
        try:
            expected = nfn(v, axis=axis)
        except ValueError:
            with pytest.raises(ValueError):
                run([x], kfn(x, axis=axis), v)
            return
    with np.errstate(all="ignore"):
        same(run([x], kfn(x, axis=axis), v), expected)


@pytest.mark.parametrize("name,kfn,nfn", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@pytest.mark.parametrize("axis", [None, 0, -1, ()], ids=str)
def test_zero_dim_inputs(name, kfn, nfn, axis, run, same):
    x = kt.scalar("x")
    v = np.array(1.5)
    try:
        expected = nfn(v, axis=axis)
    except np.exceptions.AxisError:
        # np.mean/var/std reject axis=0 on 0-d while np.sum & co. accept it; kiln accepts it
        # for all reductions (reducing a 0-d tensor over "its" axis is the identity reduction)
        expected = nfn(v, axis=None)
    same(run([x], kfn(x, axis=axis), v), expected)


@pytest.mark.parametrize("axis", [3, -4, (0, 0), (1, -2), 1.5])
def test_bad_axis_raises(axis):
    x = kt.tensor3("x")
    with pytest.raises((ValueError, TypeError), match="sum"):
        kt.sum(x, axis=axis)


def test_static_shape_of_reductions():
    x = kt.tensor("x", dtype="float64", shape=(2, None, 4))
    assert kt.sum(x, axis=1).type.shape == (2, 4)
    assert kt.max(x, axis=(0, 2), keepdims=True).type.shape == (1, None, 1)
    assert kt.mean(x, axis=-1).type.shape == (2, None)
    assert kt.argmax(x, axis=0).type.shape == (None, 4)
