"""Property test: random index tuples (ints, slices, integer arrays, boolean masks, None,
Ellipsis, out-of-bounds values included) give exactly NumPy's result, or an IndexError where
NumPy raises one, for x[idx], inc_subtensor (np.add.at) and set_subtensor."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kiln
import kiln.tensor as kt

PY = kiln.Mode(linker="py")


@st.composite
def indexed(draw):
    shape = tuple(draw(st.lists(st.integers(0, 4), min_size=1, max_size=3)))
    seed = draw(st.integers(0, 2 ** 31))
    rng = np.random.default_rng(seed)
    n_items = draw(st.integers(1, len(shape) + 1))
    items, axis, used_ellipsis = [], 0, False
    for _ in range(n_items):
        n = shape[axis] if axis < len(shape) else 3
        kind = draw(st.sampled_from(["int", "slice", "array", "array", "mask", "none", "ellipsis"]))
        if kind == "int":
            items.append(int(rng.integers(-n - 1, n + 1)))
            axis += 1
        elif kind == "slice":
            bound = st.one_of(st.none(), st.integers(-n - 2, n + 2))
            step = st.one_of(st.none(), st.sampled_from([-2, -1, 1, 2, 3]))
            items.append(slice(draw(bound), draw(bound), draw(step)))
            axis += 1
        elif kind == "array":
            ashape = tuple(draw(st.lists(st.integers(0, 3), min_size=0, max_size=2)))
            hi = n + 1 if draw(st.booleans()) and draw(st.booleans()) else n  # sometimes out of bounds
            lo = -n - 1 if hi > n else -n
            items.append(rng.integers(lo, max(hi, lo + 1), size=ashape) if n or hi > n else
                         np.zeros(ashape, dtype=np.int64))
            axis += 1
        elif kind == "mask":
            k = draw(st.integers(0, 2))
            mshape = shape[axis:axis + k]
            if draw(st.integers(0, 9)) == 0:
                mshape = tuple(s + 1 for s in mshape)  # a mismatched mask
            items.append(rng.random(mshape) > 0.5 if mshape else np.bool_(draw(st.booleans())))
            axis += len(mshape)
        elif kind == "none":
            items.append(None)
        elif not used_ellipsis:
            items.append(Ellipsis)
            used_ellipsis = True
    x = np.asarray(rng.normal(size=shape))
    return x, tuple(items), rng


def _numpy(fn):
    try:
        return fn(), None
    except IndexError as e:
        return None, e


def _kiln(build, values):
    try:
        ins, out = build()
        return kiln.function(ins, out, mode=PY)(*values), None
    except IndexError as e:
        return None, e


def _symbolic_items(items):
    sym, ins, vals = [], [], []
    for k, i in enumerate(items):
        if isinstance(i, np.ndarray):
            v = kt.tensor(f"i{k}", dtype=i.dtype, shape=(None,) * i.ndim)
            sym.append(v)
            ins.append(v)
            vals.append(i)
        else:
            sym.append(i)
    return tuple(sym), ins, vals


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(indexed(), st.booleans())
def test_random_indices_match_numpy(case, symbolic):
    xv, items, rng = case
    if symbolic:
        x = kt.tensor("x", shape=(None,) * xv.ndim)
        sitems, ins, vals = _symbolic_items(items)
    else:
        x = kt.tensor("x", shape=xv.shape)  # static shape: some errors are found when building
        sitems, ins, vals = items, [], []

    expected, err = _numpy(lambda: xv[items])
    got, kerr = _kiln(lambda: ([x, *ins], x[sitems]), [xv, *vals])
    if err is not None:
        assert kerr is not None, f"NumPy raised {err!r}, kiln returned {got!r}"
        return
    assert kerr is None, f"kiln raised {kerr!r}, NumPy gave shape {expected.shape}"
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    if not any(isinstance(i, np.bool_) or (isinstance(i, np.ndarray) and (i.ndim or i.dtype == bool))
               for i in items):
        return  # basic indices only: inc/set are IncSubtensor's (tested in test_subtensor.py)

    yv = rng.normal(size=expected.shape)
    y = kt.tensor("y", shape=(None,) * yv.ndim)
    inc = xv.copy()
    np.add.at(inc, items, yv)
    got, kerr = _kiln(lambda: ([x, y, *ins], kt.inc_subtensor(x[sitems], y)), [xv, yv, *vals])
    assert kerr is None
    np.testing.assert_allclose(got, inc, rtol=1e-12, atol=1e-12)
    st_ = xv.copy()
    st_[items] = yv
    got, kerr = _kiln(lambda: ([x, y, *ins], kt.set_subtensor(x[sitems], y)), [xv, yv, *vals])
    assert kerr is None
    np.testing.assert_array_equal(got, st_)


@pytest.mark.parametrize("items", [
    (np.array([0, 0, 1]), None, slice(None)),
    (None, np.bool_(True), Ellipsis, np.array([[1], [0]])),
])
def test_newaxis_in_inc_and_set(items):
    xv = np.arange(6.0).reshape(2, 3)
    x = kt.matrix("x")
    yv = np.ones(xv[items].shape)
    inc = xv.copy()
    np.add.at(inc, items, yv)
    np.testing.assert_array_equal(kiln.function([x], kt.inc_subtensor(x[items], yv), mode=PY)(xv), inc)
