"""Property test: random basic indices (constant and symbolic) against NumPy, with the
static shape and the inferred shape checked too."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import kiln
import kiln.tensor as kt
from kiln.graph.basic import Variable
from kiln.tensor.shape import infer_graph_shapes
from tests.helpers import symbolic_index

PY = kiln.Mode(linker="py")
bound = st.one_of(st.none(), st.integers(-8, 8))
step = st.one_of(st.none(), st.integers(-3, 3).filter(lambda s: s != 0))


@st.composite
def array_and_index(draw):
    shape = tuple(draw(st.lists(st.integers(0, 5), min_size=0, max_size=3)))
    items, dim = [], 0
    n_items = draw(st.integers(0, len(shape) + 1))
    for _ in range(n_items):
        kind = draw(st.sampled_from(["int", "slice", "none"]))
        if kind == "none":
            items.append(None)
        elif dim < len(shape) and kind == "int" and shape[dim] > 0:
            items.append(draw(st.integers(-shape[dim], shape[dim] - 1)))
            dim += 1
        elif dim < len(shape):
            items.append(slice(draw(bound), draw(bound), draw(step)))
            dim += 1
    if draw(st.booleans()):
        items.insert(draw(st.integers(0, len(items))), Ellipsis)
    return shape, tuple(items)


@settings(max_examples=150, deadline=None, database=None)
@given(array_and_index(), st.booleans())
def test_random_basic_indices(case, static):
    shape, idx = case
    v = np.arange(int(np.prod(shape)), dtype="float64").reshape(shape)
    x = kt.tensor("x", dtype="float64", shape=shape if static else (None,) * len(shape))
    try:
        expected = v[idx]
    except IndexError:
        # (an Ellipsis moved an int onto a shorter axis) kiln must refuse it too: when the
        # graph is built if the length is static, else when it runs
        with pytest.raises(IndexError):
            kiln.function([x], x[idx], mode=PY)(v)
        return
    out = x[idx]
    if static:
        assert out.type.shape == expected.shape
    got = kiln.function([x], out, mode=PY)(v)
    np.testing.assert_array_equal(got, expected)
    assert got.shape == expected.shape

    sidx, syms, vals = symbolic_index(idx)
    sout = x[sidx]
    ins = [x, *syms]
    got = kiln.function(ins, sout, mode=PY, on_unused_input="ignore")(v, *vals)
    np.testing.assert_array_equal(got, expected)
    (shp,) = infer_graph_shapes(ins, [sout], [tuple(kt.shape_i(i, d) for d in range(i.ndim)) for i in ins])
    entries = [s for s in shp if isinstance(s, Variable)]
    vals_e = iter(kiln.function(ins, entries, mode=PY, on_unused_input="ignore")(v, *vals)) if entries else iter(())
    inferred = tuple(int(next(vals_e)) if isinstance(s, Variable) else int(s) for s in shp)
    assert inferred == expected.shape
