"""FusedReduce on the C linker against the python linker and NumPy: dtypes, axes, layouts,
broadcasting, empty and 0-d inputs, NaN/inf, the KeOps kernel, and memory use.

Several expressions share one compiled function (one module) to keep compile time low;
layouts are run-time properties, so one function is called with each of them.
"""
import tracemalloc

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.linkers.c.compiler import have_compiler
from kiln.tensor.fused_reduce import FusedReduce

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

C = kiln.Mode(linker="c")
PY = kiln.Mode(linker="py", rewrites="none")


def _fused_count(f) -> int:
    return sum(isinstance(n.op, FusedReduce) for n in f.fgraph.apply_nodes)


def _check(outs, want, dtype):
    for g, w in zip(outs, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        if np.dtype(dtype).kind == "f" or g.dtype.kind == "f":
            tol = 2e-5 if "float32" in (dtype, g.dtype.name) else 1e-12
            np.testing.assert_allclose(g, w, rtol=tol, atol=tol, equal_nan=True)
        else:
            np.testing.assert_array_equal(g, w)


def _layouts(shape, dtype, rng):
    """The same logical array as contiguous, strided, negative-stride and Fortran-order views."""
    def gen(s):
        if np.dtype(dtype).kind == "f":
            return rng.normal(size=s).astype(dtype)
        return rng.integers(-5, 6, size=s).astype(dtype)
    base = gen(shape)
    big = gen((shape[0], shape[1] * 2, shape[2]))
    big[:, ::2] = base
    flipped = np.ascontiguousarray(base[::-1])[::-1]
    return [base, big[:, ::2], flipped, np.asfortranarray(base)]


def _exprs(x, r, dtype):
    float_ = np.dtype(dtype).kind == "f"

    def e(k):   # a distinct expression per reduction: a shared one would stay unfused
        return kt.exp(x) * r + k if float_ else x * r + k

    outs = [kt.sum(e(1), axis=0), kt.sum(e(2), axis=1), kt.sum(e(3), axis=2), kt.sum(e(4), axis=(0, 2)),
            kt.sum(e(5)), kt.sum(e(6), axis=1, keepdims=True), kt.max(x - r, axis=2), kt.min(x * r, axis=(0, 1)),
            kt.max(x + r), kt.prod(x * 0 + r, axis=1), kt.any(kt.gt(x, r), axis=2), kt.all(kt.gt(x + 10, r), axis=0)]
    if float_:
        outs += [kt.mean(kt.sqr(x - r), axis=1), kt.logsumexp(x * r, axis=2)]
    return outs


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32", "uint8"])
def test_fused_reductions_match_python_and_numpy(dtype):
    rng = np.random.default_rng(1)
    x = kt.tensor(dtype=dtype, shape=(None, None, None), name="x")
    r = kt.tensor(dtype=dtype, shape=(1, None, 1), name="r")
    outs = _exprs(x, r, dtype)
    f = kiln.function([x, r], outs, mode=C)
    ref = kiln.function([x, r], outs, mode=PY)
    assert _fused_count(f) >= 10
    for xv in _layouts((5, 6, 37), dtype, rng):   # 37: full 16-lane blocks plus a tail
        for rv in [_layouts((1, 6, 1), dtype, rng)[0], np.ones((1, 6, 1), dtype)]:
            with np.errstate(all="ignore"):
                _check(f(xv, rv), ref(xv, rv), dtype)
    # NumPy directly for a few of them
    xv, rv = _layouts((5, 6, 37), dtype, rng)[1], _layouts((1, 6, 1), dtype, rng)[0]
    got = f(xv, rv)
    if np.dtype(dtype).kind == "f":
        e = np.exp(xv) * rv
        _check([got[1], got[3]], [(e + 2).sum(axis=1), (e + 4).sum(axis=(0, 2))], dtype)
    _check([got[6], got[7]], [(xv - rv).max(axis=2), (xv * rv).min(axis=(0, 1))], dtype)


def test_broadcast_inputs_and_runtime_length_one_dims():
    x, y = kt.dmatrix("x"), kt.dmatrix("y")
    out = kt.sum(kt.exp(x - y), axis=1)
    f = kiln.function([x, y], out, mode=C)
    assert _fused_count(f) == 1
    rng = np.random.default_rng(2)
    for xs, ys in [((4, 40), (4, 40)), ((4, 40), (1, 40)), ((4, 1), (4, 40)), ((1, 1), (3, 17)), ((4, 40), (4, 1))]:
        xv, yv = rng.normal(size=xs), rng.normal(size=ys)
        np.testing.assert_allclose(f(xv, yv), np.exp(xv - yv).sum(axis=1), rtol=1e-12)
    with pytest.raises(ValueError):
        f(rng.normal(size=(4, 5)), rng.normal(size=(4, 6)))


def test_empty_and_zero_d():
    x, s = kt.dmatrix("x"), kt.dscalar("s")
    outs = [kt.sum(kt.exp(x), axis=1), kt.sum(kt.exp(x), axis=0), kt.prod(x + 1, axis=0), kt.sum(kt.sqr(x)),
            kt.sum(kt.exp(s) + x, axis=1)]
    f = kiln.function([x, s], outs, mode=C)
    ref = kiln.function([x, s], outs, mode=PY)
    for shape in [(0, 5), (3, 0), (0, 0), (2, 33)]:
        xv = np.random.default_rng(3).normal(size=shape)
        _check(f(xv, 0.5), ref(xv, 0.5), "float64")
    mx = kiln.function([x], kt.max(kt.exp(x), axis=1), mode=C)
    with pytest.raises(ValueError):
        mx(np.zeros((3, 0)))
    np.testing.assert_array_equal(mx(np.zeros((0, 3))), np.zeros(0))
    z = kiln.function([s], kt.sum(kt.exp(s) * 2), mode=C)
    np.testing.assert_allclose(z(0.25), np.exp(0.25) * 2)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_nan_and_inf_propagate_through_max_and_min(dtype):
    x = kt.tensor(dtype=dtype, shape=(None, None), name="x")
    outs = [kt.max(kt.abs(x), axis=1), kt.min(-x, axis=1), kt.max(x * 2, axis=0), kt.sum(kt.exp(x), axis=1)]
    f = kiln.function([x], outs, mode=C)
    ref = kiln.function([x], outs, mode=PY)
    v = np.random.default_rng(4).normal(size=(6, 45)).astype(dtype)
    v[0, 3] = np.nan      # in a full 16-lane block
    v[1, 44] = np.nan     # in the tail
    v[2, 10] = np.inf
    v[3, :] = -np.inf
    v[4, 0] = np.nan
    v[4, 1] = np.inf
    with np.errstate(all="ignore"):
        want = ref(v)
        _check(f(v), want, dtype)
    assert np.isnan(want[0][0]) and np.isnan(want[0][1]) and np.isnan(want[1][4])


def _keops(x, y, b):
    return kt.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) @ b


def _keops_np(x, y, b):
    return np.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) @ b


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_keops_kernel_matches_numpy(dtype):
    x, y = kt.tensor(dtype=dtype, shape=(None, None), name="x"), kt.tensor(dtype=dtype, shape=(None, None), name="y")
    b, bc = kt.tensor(dtype=dtype, shape=(None,), name="b"), kt.tensor(dtype=dtype, shape=(None, 1), name="bc")
    y2 = kt.tensor(dtype=dtype, shape=(None, None), name="y2")   # a shared kernel matrix would stay unfused
    f = kiln.function([x, y, b, y2, bc], [_keops(x, y, b), _keops(x, y2, bc)], mode=C)
    # one FusedReduce per output and no other kernel: the N x M matrix never exists
    assert _fused_count(f) == 2
    assert all(isinstance(n.op, FusedReduce) or type(n.op).__name__ == "DimShuffle" for n in f.fgraph.apply_nodes)
    rng = np.random.default_rng(5)
    for n, m in [(37, 53), (16, 32), (1, 1), (5, 0)]:
        xv, yv = rng.normal(size=(n, 3)).astype(dtype), rng.normal(size=(m, 3)).astype(dtype)
        bv = rng.normal(size=m).astype(dtype)
        got = f(xv, yv, bv, yv, bv[:, None])
        tol = 1e-4 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(got[0], _keops_np(xv, yv, bv), rtol=tol, atol=tol)
        np.testing.assert_allclose(got[1], _keops_np(xv, yv, bv[:, None]), rtol=tol, atol=tol)
        assert got[0].dtype == dtype and got[1].shape == (n, 1)


def test_keops_c_kernel_allocates_no_n_by_m_buffer():
    n = m = 3000
    x, y, b = kt.dmatrix("x"), kt.dmatrix("y"), kt.dvector("b")
    f = kiln.function([x, y, b], _keops(x, y, b), mode=C)
    # no variable of the compiled graph is N x M (or N x M x 3): only inputs, views, the output
    for node in f.fgraph.apply_nodes:
        if not isinstance(node.op, FusedReduce):
            assert type(node.op).__name__ == "DimShuffle" and node.inputs[0] in f.fgraph.inputs
    rng = np.random.default_rng(6)
    xv, yv, bv = rng.normal(size=(n, 3)), rng.normal(size=(m, 3)), rng.normal(size=m)
    f(xv[:5], yv[:7], bv[:7])   # warm up (allocations of the first call are not the kernel's)
    tracemalloc.start()
    got = f(xv, yv, bv)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1 << 20, peak           # the N-vector output and bookkeeping only
    rows = slice(0, 200)
    np.testing.assert_allclose(got[rows], _keops_np(xv[rows], yv, bv), rtol=1e-11)


def test_wide_matmul_and_shared_values_stay_unfused():
    x, b2 = kt.dmatrix("x"), kt.dmatrix("b2")
    e = kt.exp(x)
    f = kiln.function([x, b2], [e @ b2, kt.sum(e, axis=0) + 0], mode=C)
    assert _fused_count(f) == 0   # e has two clients; b2 is wider than one column
    xv, bv = np.random.default_rng(7).normal(size=(4, 5)), np.random.default_rng(8).normal(size=(5, 3))
    got = f(xv, bv)
    np.testing.assert_allclose(got[0], np.exp(xv) @ bv, rtol=1e-12)
    np.testing.assert_allclose(got[1], np.exp(xv).sum(axis=0), rtol=1e-12)


def test_transposed_input_and_max_then_sum_fall_back_correctly():
    x = kt.dmatrix("x")
    outs = [kt.sum(kt.exp(x * x.T), axis=1), kt.logsumexp(x, axis=0),
            kt.sum(kt.exp(x - kt.max(x, axis=1, keepdims=True)), axis=1)]
    f = kiln.function([x], outs, mode=C)
    v = np.random.default_rng(9).normal(size=(21, 21))
    np.testing.assert_allclose(f(v)[0], np.exp(v * v.T).sum(axis=1), rtol=1e-12)
    m = v.max(axis=0)
    np.testing.assert_allclose(f(v)[1], m + np.log(np.exp(v - m).sum(axis=0)), rtol=1e-12)
    np.testing.assert_allclose(f(v)[2], np.exp(v - v.max(axis=1, keepdims=True)).sum(axis=1), rtol=1e-12)


def test_threads_give_the_same_result():
    from kiln.configuration import config
    from kiln.linkers.c.compiler import _openmp, compiler

    if not _openmp(compiler()):
        pytest.skip("the C compiler has no OpenMP")
    x, y = kt.dmatrix("x"), kt.dmatrix("y")
    # threads split rows (axis 1 reductions) or 16-column blocks (the axis-0 reduction)
    outs = [kt.sum(kt.exp(x - y), axis=1), kt.max(kt.abs(x * y), axis=1), kt.sum(kt.exp(x * 0.5 + y), axis=0)]
    v, w = np.random.default_rng(10).normal(size=(300, 70)), np.random.default_rng(11).normal(size=(1, 70))
    one = kiln.function([x, y], outs, mode=C)(v, w)
    with config.change_flags(threads="2", par_min="1"):
        f2 = kiln.function([x, y], outs, mode=C)
    assert _fused_count(f2) == 3
    ref = kiln.function([x, y], outs, mode=PY)(v, w)
    for a, b, c in zip(one, f2(v, w), ref):
        np.testing.assert_allclose(b, c, rtol=1e-12)
        np.testing.assert_array_equal(a, b)   # rows are independent: the same order per row
