"""nonzero, flatnonzero, argwhere, one-argument where, nonzero_values, take, take_along_axis and
put_along_axis against NumPy itself (several dtypes and shapes, empty, 0-d, repeated and negative
indices, out-of-bounds errors), with their inferred shapes."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph.basic import Variable
from kiln.tensor.shape import infer_graph_shapes

PY = kiln.Mode(linker="py")
RNG = np.random.default_rng(23)


def _value(shape, dtype):
    v = RNG.integers(-1, 2, size=shape)
    if dtype == "bool":
        return np.asarray(v > 0)
    v = np.asarray(v).astype(dtype)
    if dtype.startswith("float") and v.size:
        v.reshape(-1)[0] = np.nan  # NaN is nonzero
    return v


def _sym(v):
    return kt.tensor("x", dtype=str(v.dtype), shape=(None,) * v.ndim)


def _inferred(ins, out, vals):
    (shp,) = infer_graph_shapes(ins, [out], [tuple(kt.shape_i(i, d) for d in range(i.ndim)) for i in ins])
    sym = [s for s in shp if isinstance(s, Variable)]
    got = iter(kiln.function(ins, sym, mode=PY, on_unused_input="ignore")(*vals)) if sym else iter(())
    return tuple(int(next(got)) if isinstance(s, Variable) else int(s) for s in shp)


SHAPES = [(7,), (3, 4), (2, 3, 4), (0,), (0, 3), (1, 1)]
DTYPES = ["float64", "float32", "int64", "int8", "uint16", "bool"]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_nonzero_family_matches_numpy(shape, dtype):
    v = _value(shape, dtype)
    x = _sym(v)
    nz = kt.nonzero(x)
    outs = [*nz, kt.flatnonzero(x), kt.argwhere(x), *kt.where(x)]
    got = kiln.function([x], outs, mode=PY)(v)
    expected = [*np.nonzero(v), np.flatnonzero(v), np.argwhere(v), *np.where(v)]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_array_equal(g, e)
    for o, e in zip(nz, np.nonzero(v)):
        assert _inferred([x], o, [v]) == e.shape
    if dtype != "bool":
        vals = kiln.function([x], kt.nonzero_values(x), mode=PY)(v)
        np.testing.assert_array_equal(vals, v.reshape(-1)[np.flatnonzero(v)])


def test_all_zero_and_constant_inputs():
    x = kt.matrix("x")
    got = kiln.function([x], list(kt.nonzero(x)), mode=PY)(np.zeros((2, 3)))
    assert [g.shape for g in got] == [(0,), (0,)]
    c = kt.constant(np.array([[0, 5], [7, 0]]))
    rows, _ = kt.nonzero(c)
    assert rows.type.shape == (2,)  # the count of a constant is known statically
    np.testing.assert_array_equal(rows.eval(), [0, 1])
    r = kt.nonzero(c, return_matrix=True)
    np.testing.assert_array_equal(r.eval(), np.array(np.nonzero(c.data)))


def test_zero_d():
    s = kt.scalar("s")
    with pytest.raises(ValueError, match="0-d"):
        kt.nonzero(s)
    with pytest.raises(ValueError, match="0-d"):
        kt.where(s)
    f = kiln.function([s], [kt.flatnonzero(s), kt.argwhere(s)], mode=PY)
    for val in (0.0, 2.5):
        a, b = f(np.array(val))
        np.testing.assert_array_equal(a, np.flatnonzero(np.array(val)))
        assert b.shape == np.argwhere(np.array(val)).shape and b.dtype == np.argwhere(np.array(val)).dtype


def test_where_forms():
    c, a, b = kt.vector("c"), kt.vector("a"), kt.vector("b")
    cv, av, bv = np.array([1.0, 0.0, 2.0]), np.arange(3.0), -np.arange(3.0)
    np.testing.assert_array_equal(kiln.function([c, a, b], kt.where(c, a, b), mode=PY)(cv, av, bv),
                                  np.where(cv, av, bv))
    with pytest.raises(ValueError, match="both or neither"):
        kt.advanced_nonzero.where(c, a)
    with pytest.raises(TypeError, match="complex"):
        kt.nonzero(kt.tensor("z", dtype="complex128", shape=(None,)))


# -- take ------------------------------------------------------------------------------------

TAKE = [
    ((4, 5), [0, -1, 2, 2], None),
    ((4, 5), [[3, 0], [0, 3]], 0),
    ((4, 5), [4, -5], 1),
    ((2, 3, 4), [[1], [0]], -1),
    ((2, 3, 4), 2, 1),
    ((2, 3, 4), np.array(-1), None),
    ((4, 5), np.array([], dtype=np.int64), 0),
    ((0, 3), [1, 1], 1),
    ((4,), np.array([1, 2], dtype=np.uint8), 0),
]


@pytest.mark.parametrize("dtype", ["float64", "int32"])
@pytest.mark.parametrize("case", TAKE, ids=str)
def test_take_matches_numpy(case, dtype):
    shape, ind, axis = case
    v = RNG.normal(size=shape).astype(dtype) if dtype.startswith("float") else RNG.integers(-9, 9, shape).astype(dtype)
    x = _sym(v)
    iv = np.asarray(ind)
    i = kt.tensor("i", dtype=str(iv.dtype), shape=(None,) * iv.ndim)
    for idx, ins, vals in ((ind, [x], [v]), (i, [x, i], [v, iv])):
        out = kt.take(x, idx, axis=axis)
        got = kiln.function(ins, out, mode=PY)(*vals)
        e = np.take(v, iv, axis=axis)
        assert got.dtype == e.dtype and got.shape == e.shape
        np.testing.assert_array_equal(got, e)
        assert _inferred(ins, out, vals) == e.shape


def test_take_errors():
    x, i = kt.matrix("x"), kt.lvector("i")
    f = kiln.function([x, i], kt.take(x, i, axis=1), mode=PY)
    with pytest.raises(IndexError, match="out of bounds"):
        f(np.zeros((2, 3)), np.array([3]))
    with pytest.raises(IndexError, match="out of bounds"):
        f(np.zeros((2, 3)), np.array([-4]))
    with pytest.raises(ValueError, match="out of bounds for a tensor of dimension 2"):
        kt.take(x, i, axis=2)
    with pytest.raises(IndexError, match="integer"):
        kt.take(x, kt.vector("f"))
    with pytest.raises(IndexError, match="integer"):
        kt.take(x, np.array([True, False]))


# -- take_along_axis / put_along_axis ----------------------------------------------------------

ALONG = [
    ((3, 4), np.array([[0, 3], [1, 1], [-1, 2]]), 1),
    ((3, 4), np.array([[2, 0, 0, 1]]), 0),           # broadcasts over axis 0 of the indices
    ((2, 3, 4), np.array([[[1]], [[0]]]), 2),       # broadcasts over axis 1
    ((2, 3, 4), np.zeros((2, 0, 4), dtype=np.int64), 1),
    ((3, 4), np.array([11, 0, -12]), None),
    ((5,), np.array([4, 4, 0]), -1),
]


@pytest.mark.parametrize("case", ALONG, ids=str)
def test_take_along_axis_matches_numpy(case):
    shape, iv, axis = case
    v = RNG.normal(size=shape)
    x = _sym(v)
    i = kt.tensor("i", dtype="int64", shape=(None,) * iv.ndim)
    out = kt.take_along_axis(x, i, axis=axis)
    got = kiln.function([x, i], out, mode=PY)(v, iv)
    e = np.take_along_axis(v, iv, axis=axis)
    assert got.shape == e.shape
    np.testing.assert_array_equal(got, e)
    assert _inferred([x, i], out, [v, iv]) == e.shape


def test_take_along_axis_with_argsort_result():
    x = kt.matrix("x")
    v = RNG.normal(size=(4, 6))
    order = np.argsort(v, axis=1)
    i = kt.lmatrix("i")
    got = kiln.function([x, i], kt.take_along_axis(x, i, axis=1), mode=PY)(v, order)
    np.testing.assert_array_equal(got, np.sort(v, axis=1))


@pytest.mark.parametrize("case", ALONG, ids=str)
def test_put_along_axis_matches_numpy(case):
    shape, iv, axis = case
    v = RNG.normal(size=shape)
    region = np.take_along_axis(v, iv, axis=axis).shape
    vals = RNG.normal(size=region)
    x = _sym(v)
    i = kt.tensor("i", dtype="int64", shape=(None,) * iv.ndim)
    w = kt.tensor("w", shape=(None,) * len(region))
    got = kiln.function([x, i, w], kt.put_along_axis(x, i, w, axis=axis), mode=PY)(v, iv, vals)
    e = v.copy()
    np.put_along_axis(e, iv, vals, axis=axis)
    np.testing.assert_array_equal(got, e)
    assert np.all(v == np.asarray(v))  # the input is not modified (functional update)
    # inc=True accumulates over repeated indices
    got = kiln.function([x, i, w], kt.put_along_axis(x, i, w, axis=axis, inc=True), mode=PY)(v, iv, vals)
    flat_v = v.reshape(-1) if axis is None else v
    e = flat_v.copy()
    if axis is None:
        np.add.at(e, iv, vals)
        e = e.reshape(v.shape)
    else:
        ax = axis % v.ndim
        full = tuple(iv if d == ax else np.arange(v.shape[d]).reshape([-1 if k == d else 1 for k in range(v.ndim)])
                     for d in range(v.ndim))
        np.add.at(e, full, vals)
    np.testing.assert_allclose(got, e, rtol=1e-12)


def test_along_axis_errors():
    x = kt.matrix("x")
    with pytest.raises(ValueError, match="same number of dimensions"):
        kt.take_along_axis(x, kt.lvector("i"), axis=1)
    with pytest.raises(ValueError, match="single dimension"):
        kt.take_along_axis(x, kt.lmatrix("i"), axis=None)
    with pytest.raises(ValueError, match="out of bounds"):
        kt.put_along_axis(x, kt.lmatrix("i"), 1.0, axis=-3)
    i = kt.lmatrix("i")
    f = kiln.function([x, i], kt.take_along_axis(x, i, axis=0), mode=PY)
    with pytest.raises(IndexError, match="out of bounds"):
        f(np.zeros((2, 2)), np.array([[0, 2]]))
    g = kiln.function([x, i], kt.put_along_axis(x, i, 1.0, axis=1), mode=PY)
    with pytest.raises(IndexError, match="out of bounds"):
        g(np.zeros((2, 2)), np.array([[0], [-3]]))
