"""Softmax / LogSoftmax / Argmax / Argmin C kernels (SliceKernel) against the python linker
and NumPy/SciPy: dtypes, axes, 0-d and empty inputs, non-contiguous and negative strides,
NaN and infinities."""
import numpy as np
import pytest
import scipy.special

import kiln
import kiln.tensor as kt
from kiln.linkers.c.compiler import have_compiler
from kiln.linkers.c.ir import SliceKernel
from kiln.linkers.c.lower import lower_node

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

C = kiln.Mode(linker="c", rewrites="none")
PY = kiln.Mode(linker="py", rewrites="none")


def _both(ins, outs):
    fc = kiln.function(ins, outs, mode=C)
    fp = kiln.function(ins, outs, mode=PY)
    kinds = [lower_node(n) for n in fc.fgraph.toposort()]
    assert sum(isinstance(k, SliceKernel) for k in kinds) == len(outs), "not all lowered to C"
    return fc, fp


def _layouts(a):
    """The array as given, reversed on every axis, transposed, and strided by 2 on axis 0."""
    yield a
    if a.ndim:
        yield a[(slice(None, None, -1),) * a.ndim]
        yield np.ascontiguousarray(a.T).T
        yield np.repeat(a, 2, axis=0)[::2]


def _close(got, want, dtype):
    tol = 2e-6 if dtype == "float32" else 1e-13
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "int16", "int64"])
@pytest.mark.parametrize("shape,axes", [((5, 7), (-1,)), ((5, 7), (0,)), ((3, 4, 5), (0, 2)),
                                        ((3, 4, 5), None), ((2, 3, 4), (1,)), ((6,), (0,))])
def test_softmax_log_softmax(dtype, shape, axes):
    x = kt.tensor("x", dtype=dtype, shape=(None,) * len(shape))
    ax = axes if axes is None or len(axes) > 1 else axes[0]
    fc, fp = _both([x], [kt.softmax(x, axis=ax), kt.log_softmax(x, axis=ax)])
    rng = np.random.default_rng(len(shape))
    a = (rng.standard_normal(shape) * 5).astype(dtype) if "float" in dtype else \
        rng.integers(0, 50, shape).astype(dtype)
    for v in _layouts(a):
        got, want = fc(v), fp(v)
        _close(got, want, got[0].dtype.name)
        if "float" in dtype:   # and against SciPy itself
            _close(got, [scipy.special.softmax(v, axis=axes).astype(dtype),
                         scipy.special.log_softmax(v, axis=axes).astype(dtype)], dtype)


def test_softmax_extremes_and_empty():
    x = kt.matrix("x")
    fc, fp = _both([x], [kt.softmax(x, axis=1), kt.log_softmax(x, axis=1)])
    a = np.array([[1000.0, 1000.0, -1000.0], [np.nan, 1.0, 2.0], [-np.inf, -np.inf, -np.inf],
                  [np.inf, 1.0, 0.0], [-np.inf, 0.0, 1.0]])
    for v in _layouts(a):
        _close(fc(v), fp(v), "float64")
    for shape in [(0, 3), (3, 0), (0, 0)]:
        _close(fc(np.zeros(shape)), fp(np.zeros(shape)), "float64")


def test_softmax_zero_dim():
    s = kt.scalar("s")
    fc, fp = _both([s], [kt.softmax(s), kt.log_softmax(s)])
    for v in [0.5, np.inf, np.nan, -3.0]:
        _close(fc(np.array(v)), fp(np.array(v)), "float64")


def test_float16_softmax_stays_on_perform():
    x = kt.tensor("x", dtype="float16", shape=(None,))
    fc = kiln.function([x], kt.softmax(x), mode=C)
    assert all(lower_node(n) is None for n in fc.fgraph.toposort())
    a = np.array([1, 2, 3], "float16")
    np.testing.assert_allclose(fc(a), scipy.special.softmax(a.astype("float32")).astype("float16"), rtol=1e-3)


@pytest.mark.parametrize("dtype", ["float64", "float32", "int8", "uint16", "int64", "bool"])
def test_argmax_argmin(dtype):
    x = kt.tensor("x", dtype=dtype, shape=(None, None, None))
    outs = [f(x, axis=a) for f in (kt.argmax, kt.argmin) for a in (0, 1, 2, None)]
    fc, fp = _both([x], outs)
    rng = np.random.default_rng(3)
    a = rng.integers(0, 4, (3, 4, 5)).astype(dtype)   # many ties: the first one must win
    for v in _layouts(a):
        got = fc(v)
        for g, w in zip(got, fp(v)):
            assert g.dtype == w.dtype == np.int64
            np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(got[0], np.argmax(v, axis=0))
        np.testing.assert_array_equal(got[7], np.argmin(v, axis=None))


def test_argmax_nan_first_wins_and_empty():
    x = kt.matrix("x")
    fc, fp = _both([x], [kt.argmax(x, axis=1), kt.argmin(x, axis=0), kt.argmax(x, axis=None)])
    a = np.array([[1.0, np.nan, 5.0, np.nan], [np.inf, -np.inf, 2.0, 3.0], [0.0, 0.0, np.nan, 9.0]])
    for v in _layouts(a):
        for g, w in zip(fc(v), fp(v)):
            np.testing.assert_array_equal(g, w)
    f1 = kiln.function([x], kt.argmax(x, axis=1), mode=C)
    np.testing.assert_array_equal(f1(np.zeros((0, 3))), np.zeros(0, "int64"))
    with pytest.raises(ValueError, match="empty sequence"):
        f1(np.zeros((3, 0)))
    with pytest.raises(ValueError, match="empty sequence"):
        fc(np.zeros((0, 0)))


def test_argmax_zero_dim():
    s = kt.scalar("s")
    fc, fp = _both([s], [kt.argmax(s), kt.argmin(s)])
    assert [int(g) for g in fc(np.array(2.0))] == [0, 0] == [int(w) for w in fp(np.array(2.0))]


@pytest.mark.parametrize("dtype", ["float64", "float32", "int8", "uint32", "bool"])
def test_join(dtype):
    from kiln.linkers.c.ir import JoinKernel

    x = kt.tensor("x", dtype=dtype, shape=(None, None, None))
    y = kt.tensor("y", dtype=dtype, shape=(None, None, None))
    outs = [kt.concatenate([x, y, x], axis=a) for a in range(3)] + [kt.join(0, x)]
    fc = kiln.function([x, y], outs, mode=C)
    fp = kiln.function([x, y], outs, mode=PY)
    assert sum(isinstance(lower_node(n), JoinKernel) for n in fc.fgraph.toposort()) >= 3
    rng = np.random.default_rng(5)
    a = rng.integers(0, 9, (2, 3, 4)).astype(dtype)
    for xa in _layouts(a):
        for ya in _layouts(np.flip(a, 2).copy()):
            got, want = fc(xa, ya), fp(xa, ya)
            for k, (g, w) in enumerate(zip(got, want)):
                assert g.dtype == w.dtype
                np.testing.assert_array_equal(g, w)
                if k < 3:
                    np.testing.assert_array_equal(g, np.concatenate([xa, ya, xa], axis=k))


def test_join_mixed_dtypes_empty_and_mismatch():
    x, i = kt.matrix("x"), kt.matrix("i", dtype="int32")
    f = kiln.function([x, i], [kt.concatenate([x, i], axis=0), kt.concatenate([i, x], axis=1)], mode=C)
    X, I = np.ones((2, 3)), np.arange(6, dtype="int32").reshape(2, 3)
    got = f(X, I)
    np.testing.assert_array_equal(got[0], np.concatenate([X, I], axis=0))
    np.testing.assert_array_equal(got[1], np.concatenate([I, X], axis=1))
    got = f(np.ones((0, 3)), np.zeros((0, 3), "int32"))
    assert got[0].shape == (0, 3) and got[1].shape == (0, 6)
    with pytest.raises(ValueError, match="must match exactly"):
        f(X, I[:, :2])


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "uint8", "bool", "int64"])
def test_cumsum_cumprod(dtype):
    x = kt.tensor("x", dtype=dtype, shape=(None, None, None))
    outs = [f(x, axis=a) for f in (kt.cumsum, kt.cumprod) for a in (0, 1, 2)]
    fc, fp = _both([x], outs)
    rng = np.random.default_rng(7)
    a = (rng.standard_normal((3, 4, 5)) * 2).astype(dtype) if "float" in dtype else \
        rng.integers(0, 4, (3, 4, 5)).astype(dtype)
    for v in _layouts(a):
        got, want = fc(v), fp(v)
        for k, (g, w) in enumerate(zip(got, want)):
            assert g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)   # the same sequential order as NumPy
            fn = np.cumsum if k < 3 else np.cumprod
            np.testing.assert_array_equal(g, fn(v, axis=k % 3, dtype=w.dtype))
    for shape in [(0, 2, 3), (2, 0, 3)]:
        for g, w in zip(fc(np.zeros(shape, dtype)), fp(np.zeros(shape, dtype))):
            assert g.shape == w.shape == shape


def test_cumsum_nan_inf_and_vector():
    v = kt.vector("v")
    fc, fp = _both([v], [kt.cumsum(v), kt.cumprod(v)])
    a = np.array([1.0, np.inf, -np.inf, 2.0, np.nan, 3.0])
    for x in _layouts(a):
        with np.errstate(invalid="ignore"):   # inf + -inf: NumPy warns in the python linker
            want = fp(x)
        for g, w in zip(fc(x), want):
            np.testing.assert_array_equal(g, w)


def test_subtensor_is_a_view_inside_segments():
    from kiln.linkers.c import linker as L

    x, i = kt.matrix("x"), kt.scalar("i", dtype="int64")
    outs = [kt.exp(x)[1:, ::-1] * 2, kt.exp(x)[i] + 1, (x * 2)[0, 1] + 1, kt.tanh(x)[:, i].sum(),
            kt.exp(x)[::-2, 1:] - x[i, 1:]]
    fc = kiln.function([x, i], outs, mode=C)
    fp = kiln.function([x, i], outs, mode=PY)
    groups = L._group(L.canonical_order(fc.fgraph))
    in_segments = [n for t, ns in groups if t == "s" for n in ns if isinstance(n.op, kt.Subtensor)]
    assert len(in_segments) >= 4   # all but the 0-d element of a pending buffer
    X = np.random.default_rng(0).standard_normal((4, 5))
    for v in _layouts(X):
        for k in (0, 2, -1, -4):
            for g, w in zip(fc(v, k), fp(v, k)):
                np.testing.assert_allclose(g, w, rtol=1e-13)   # exp/tanh: libmvec vs NumPy ulps
    for bad in (4, -5):
        with pytest.raises(IndexError):
            fc(X, bad)
