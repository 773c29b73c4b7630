"""The C linker against the python linker (the reference) over ops, dtypes and layouts.

To keep compile time low, every op applicable to a dtype goes into one function (one
module); layouts (non-contiguous, negative strides, transposed, broadcast, empty) are
run-time properties, so the same compiled function is called with each of them.
"""
import functools

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.linkers.c.compiler import have_compiler
from kiln.linkers.c.lower import lower_node
from kiln.scalar import math as sm
from kiln.tensor.elemwise import Elemwise

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

C, PY = kiln.Mode(linker="c", rewrites="none"), kiln.Mode(linker="py", rewrites="none")
DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32", "float64"]
UNARY = [sm.neg, sm.abs_, sm.sign, sm.sqr, sm.reciprocal, sm.identity, sm.exp, sm.exp2, sm.expm1, sm.log,
         sm.log2, sm.log10, sm.log1p, sm.sqrt, sm.sin, sm.cos, sm.tan, sm.arcsin, sm.arccos, sm.arctan,
         sm.sinh, sm.cosh, sm.tanh, sm.arcsinh, sm.arccosh, sm.arctanh, sm.sigmoid, sm.softplus, sm.erf,
         sm.erfc, sm.gammaln, sm.floor, sm.ceil, sm.trunc, sm.round_half_to_even, sm.isnan, sm.isinf,
         sm.isfinite, sm.logical_not, sm.invert]
BINARY = [sm.add, sm.mul, sm.sub, sm.true_div, sm.int_div, sm.mod, sm.pow, sm.maximum, sm.minimum,
          sm.arctan2, sm.lt, sm.gt, sm.le, sm.ge, sm.eq, sm.neq, sm.logical_and, sm.logical_or,
          sm.logical_xor, sm.bitwise_and, sm.bitwise_or, sm.bitwise_xor]
TERNARY = [sm.clip, sm.switch]


def _outputs(ops, args):
    outs, names = [], []
    for op in ops:
        try:
            out = Elemwise(op)(*args)
        except TypeError:
            continue  # the op is not defined for these dtypes (NumPy refuses too)
        outs.append(out)
        names.append(str(op))
    return outs, names


@functools.lru_cache(maxsize=None)
def _functions(dtype_a, dtype_b):
    x, y, z = kt.matrix("x", dtype=dtype_a), kt.matrix("y", dtype=dtype_b), kt.matrix("z", dtype=dtype_a)
    outs, names = _outputs(UNARY, [x]) if dtype_a == dtype_b else ([], [])
    ints = any(np.dtype(d).kind in "iub" for d in (dtype_a, dtype_b))
    # NumPy raises for negative integer exponents; integer pow is covered by the fallback test
    o2, n2 = _outputs([op for op in BINARY if not (ints and op is sm.pow)], [x, y])
    o3, n3 = _outputs(TERNARY, [x, y, z]) if dtype_a == dtype_b else ([], [])
    outs, names = outs + o2 + o3, names + n2 + n3
    fc = kiln.function([x, y, z], outs, mode=C, on_unused_input="ignore")
    fp = kiln.function([x, y, z], outs, mode=PY, on_unused_input="ignore")
    return fc, fp, names


def _values(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if dtype == "bool":
        v = rng.integers(0, 2, n).astype(bool)
    elif dtype.startswith("float"):
        special = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, np.nan, np.inf, -np.inf, 3.0, 1e-3, 40.0])
        v = np.concatenate([special, rng.standard_normal(max(n - special.size, 0)) * 3])[:n]
        rng.shuffle(v)
        v = v.astype(dtype)
    else:
        info = np.iinfo(dtype)
        special = [k for k in (0, 1, -1, 2, -7, 7, int(info.min), int(info.max), 3, -3) if info.min <= k <= info.max]
        special = np.array(special, dtype=dtype)
        rest = rng.integers(max(info.min, -50), min(info.max, 50), n, endpoint=True).astype(dtype)
        v = np.concatenate([special, rest])[:n]
        rng.shuffle(v)
    return v.reshape(shape)


def _layout(a, layout):
    """The same values seen through another memory layout."""
    if layout == "contiguous":
        return np.ascontiguousarray(a)
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "negative":
        big = np.ascontiguousarray(a[::-1, ::-1])
        return big[::-1, ::-1]
    if layout == "strided":
        big = np.zeros((a.shape[0] * 2, a.shape[1] * 3), dtype=a.dtype)
        big[::2, ::3] = a
        return big[::2, ::3]
    raise ValueError(layout)


def _check(names, got, want):
    for name, g, w in zip(names, got, want):
        assert g.dtype == w.dtype and g.shape == w.shape, (name, g.dtype, w.dtype, g.shape, w.shape)
        if g.dtype.kind == "f":
            # libm vs NumPy's own vectorized math: a few ulp apart at most
            rtol = 2e-6 if g.dtype == np.float32 else 1e-13
            np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * 1e-3, equal_nan=True, err_msg=name)
            assert np.array_equal(np.signbit(g[g == 0]), np.signbit(w[w == 0])), f"{name}: signed zeros differ"
        else:
            np.testing.assert_array_equal(g, w, err_msg=name)


def _run_both(dtype_a, dtype_b, shapes, layout, seed=0):
    fc, fp, names = _functions(dtype_a, dtype_b)
    vals = [_values(d, s, seed + k) for k, (d, s) in enumerate(zip((dtype_a, dtype_b, dtype_a), shapes))]
    vals = [_layout(v, layout) for v in vals]
    with np.errstate(all="ignore"):
        want = fp(*vals)
    got = fc(*vals)
    _check(names, got, want)
    return names


@pytest.mark.parametrize("layout", ["contiguous", "fortran", "negative", "strided"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_every_op_every_dtype(dtype, layout):
    names = _run_both(dtype, dtype, [(4, 5)] * 3, layout)
    assert len(names) >= 20


@pytest.mark.parametrize("dtype", ["int32", "float32", "float64", "uint8"])
@pytest.mark.parametrize("shapes", [[(1, 5), (4, 1), (4, 5)], [(4, 5), (1, 1), (1, 5)], [(0, 5), (0, 1), (1, 5)],
                                    [(3, 0), (1, 0), (3, 0)]])
def test_broadcasting_and_empty(dtype, shapes):
    _run_both(dtype, dtype, shapes, "contiguous", seed=3)


@pytest.mark.parametrize("pair", [("int32", "float32"), ("uint8", "int8"), ("int64", "float64"),
                                  ("bool", "int16"), ("float32", "float64"), ("uint32", "int32")])
def test_mixed_dtypes(pair):
    _run_both(*pair, [(3, 4)] * 3, "negative", seed=5)


def test_most_ops_really_run_in_c():
    """Guard against silently falling back to perform for everything."""
    fc, _, names = _functions("float64", "float64")
    in_c = [n for n in fc.fgraph.toposort() if lower_node(n) is not None]
    assert len(in_c) == len(names)  # every float64 op of the lists has a C form


def test_zero_dim_inputs():
    x, y = kt.scalar("x"), kt.scalar("y", dtype="int32")
    outs = [x * y + 1, kt.exp(x) // y, kt.maximum(x, y), kt.switch(x > 0, x, -x)]
    fc = kiln.function([x, y], outs, mode=C)
    fp = kiln.function([x, y], outs, mode=PY)
    for a, b in [(2.5, 3), (-1.0, -2), (np.nan, 1), (0.0, 0)]:
        with np.errstate(all="ignore"):
            want = fp(a, b)
        _check(["o"] * 4, fc(a, b), want)


REDUCTIONS = [kt.sum, kt.prod, kt.max, kt.min, kt.any, kt.all]
AXES = [None, 0, 1, 2, (0, 2), (1, 2), ()]


@functools.lru_cache(maxsize=None)
def _reduce_functions(dtype):
    x = kt.tensor3("x", dtype=dtype)
    outs, names = [], []
    for fn in REDUCTIONS:
        for ax in AXES:
            outs.append(fn(x, axis=ax))
            names.append(f"{fn.__name__}{ax}")
    return kiln.function([x], outs, mode=C), kiln.function([x], outs, mode=PY), names


@pytest.mark.parametrize("layout", ["contiguous", "negative"])
@pytest.mark.parametrize("dtype", ["bool", "int8", "int32", "uint16", "int64", "float32", "float64"])
def test_reductions(dtype, layout):
    fc, fp, names = _reduce_functions(dtype)
    a = _values(dtype, (3, 4, 5), 7)
    if dtype.startswith("float"):
        a = np.where(np.isfinite(a), a, 0.5).astype(dtype)   # NaN handled in its own test
    if layout == "negative":
        a = np.ascontiguousarray(a[::-1, :, ::-1])[::-1, :, ::-1]
    with np.errstate(all="ignore"):
        want = fp(a)
    _check(names, fc(a), want)


def test_reduction_nan_propagation_and_transposed_input():
    x = kt.matrix("x")
    outs = [kt.max(x, axis=0), kt.min(x, axis=1), kt.sum(x.T, axis=0), kt.max(x)]
    fc, fp = kiln.function([x], outs, mode=C), kiln.function([x], outs, mode=PY)
    a = np.arange(12.0).reshape(3, 4)
    a[1, 2] = np.nan
    _check(["max0", "min1", "sumT", "max"], fc(a), fp(a))


def test_empty_max_raises_like_numpy():
    x = kt.matrix("x")
    f = kiln.function([x], [kt.max(x, axis=0), kt.sum(x, axis=0)], mode=C)
    with pytest.raises(ValueError, match="zero-size array"):
        f(np.zeros((0, 3)))
    # a zero-length axis that is kept is fine
    got = f(np.zeros((3, 0)))
    assert got[0].shape == (0,) and got[1].shape == (0,)


def test_python_fallback_between_c_segments():
    """Nodes without a C form (integer pow, dot) run through perform between compiled segments."""
    x, w = kt.matrix("x"), kt.matrix("w")
    n = kt.vector("n", dtype="int32")
    h = kt.tanh(kt.dot(kt.exp(x) * 2, w)) + (n ** 2)
    out = [h.sum(axis=1), h]
    fc, fp = kiln.function([x, w, n], out, mode=C), kiln.function([x, w, n], out, mode=PY)
    rng = np.random.default_rng(0)
    args = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), np.arange(5, dtype="int32")
    _check(["sum", "h"], fc(*args), fp(*args))


def test_shape_mismatch_at_run_time_is_a_value_error():
    x, y = kt.matrix("x"), kt.vector("y")
    f = kiln.function([x, y], x + y, mode=C)
    with pytest.raises(ValueError, match="add"):
        f(np.zeros((3, 4)), np.zeros(5))


def test_integer_division_signs():
    x, y = kt.vector("x", dtype="int64"), kt.vector("y", dtype="int64")
    f = kiln.function([x, y], [x // y, x % y], mode=C)
    a = np.array([7, -7, 7, -7, 0, np.iinfo(np.int64).min, 5])
    b = np.array([2, 2, -2, -2, 3, -1, 0])
    q, r = f(a, b)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(q, np.floor_divide(a, b))
        np.testing.assert_array_equal(r, np.remainder(a, b))


@pytest.mark.parametrize("layout", ["contiguous", "negative", "strided"])
def test_static_broadcast_columns_and_rows(layout):
    """A column (static inner length 1) is loaded once per row; a row runs the unit-stride loop."""
    x, c, r = kt.matrix("x"), kt.col("c"), kt.row("r")
    outs = [kt.exp(x - c) * r, kt.maximum(c, r), (x / c).sum(axis=1)]
    fc, fp = kiln.function([x, c, r], outs, mode=C), kiln.function([x, c, r], outs, mode=PY)
    rng = np.random.default_rng(4)
    X, Cv, R = rng.standard_normal((5, 7)), rng.standard_normal((5, 1)), rng.standard_normal((1, 7))
    args = [_layout(a, layout) for a in (X, Cv, R)]
    _check(["exp", "max", "sum"], fc(*args), fp(*args))
