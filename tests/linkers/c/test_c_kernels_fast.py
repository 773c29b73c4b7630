"""The fast paths of the elementwise and reduction kernels (kiln/c_templates/elemwise.c, reduce.c).

- Elementwise loops whose outputs are large stream them out with non-temporal stores, a block
  at a time (`KILN_STREAM_MIN`; `KILN_FLAGS=stream_min=1` streams every loop here, so small
  arrays cover every edge): lengths around the vector width and the block size, outputs at every
  alignment, several outputs of different dtypes, in-place (output = input), NaN and inf.
- Reductions over an outer axis of contiguous data read several input rows per pass over the
  output row; the result must stay that of a row at a time (bitwise equal to NumPy's row-order
  sum), on odd row counts, 3-d inputs, negative strides and every reduction kind.
- Inner-axis sums use KILN_LANES partial sums per block and merge block totals pairwise: within
  tolerance of NumPy, and at least as accurate as a naive left-to-right loop on ill-conditioned
  data (errors measured against math.fsum).
- Two threads give the same elementwise results as one, and deterministic reductions.
"""
import math

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.configuration import config
from kiln.linkers.c.compiler import _openmp, compile_source, compiler, have_compiler
from kiln.linkers.c.ir import LoopKernel, Operand, Segment
from kiln.linkers.c.render import render_segment
from kiln.linkers.c.runtime import CModule

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

PY = kiln.Mode(linker="py", rewrites="none")
C = kiln.Mode(linker="c", rewrites="none")
#: lengths around vector widths (8/16 lanes), the stream block (32) and its multiples
LENGTHS = [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 129, 1031]
CT = {"float64": "double", "float32": "float", "int32": "int32_t", "int64": "int64_t"}


def _module(kernels, buffers, **flags):
    with config.change_flags(**flags):
        _, so = compile_source(render_segment(Segment("test", tuple(buffers), tuple(kernels))))
    return CModule(so)


def _view(n, dtype, offset_bytes, rng=None):
    """A 1-d array of n elements whose data starts `offset_bytes` past a 64-byte boundary."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.empty((n + 64) * itemsize + 128, dtype=np.uint8)
    start = (-raw.ctypes.data) % 64 + offset_bytes
    a = raw[start:start + n * itemsize].view(dtype)
    if rng is not None:
        a[...] = rng.normal(size=n) * 10
    return a


# -- elementwise: the streaming path ------------------------------------------------------------

@pytest.fixture(scope="module")
def two_outputs():
    """y0 = x0 * 2 + 1 (float64), y1 = (float)(x0 - 3) (float32): two outputs of two dtypes."""
    body = ("const double y0 = x0 * 2.0 + 1.0;", "const float y1 = (float)(x0 - 3.0);")
    k = LoopKernel("two", (Operand(0, "float64"), Operand(1, "float32")), (Operand(2, "float64"),), 1, body)
    bufs = [(1, "float64"), (1, "float32"), (1, "float64")]
    return _module([k], bufs, stream_min="1"), _module([k], bufs, stream_min="1000000000")


@pytest.mark.parametrize("n", LENGTHS)
def test_streamed_outputs_every_length_and_alignment(two_outputs, n):
    streamed, plain = two_outputs
    rng = np.random.default_rng(n)
    x = rng.normal(size=n)
    for off0, off1 in [(0, 0), (8, 4), (24, 60), (56, 12)]:
        outs = []
        for mod in (streamed, plain):
            y0, y1 = _view(n + 2, "float64", off0), _view(n + 2, "float32", off1)
            y0[...], y1[...] = -7.0, -7.0
            assert mod([y0[1:n + 1], y1[1:n + 1], x]) == (0, 0)
            # the elements on both sides of the output are untouched (no store past the ends)
            assert y0[0] == y0[-1] == -7.0 and y1[0] == y1[-1] == -7.0
            outs.append((y0[1:n + 1].copy(), y1[1:n + 1].copy()))
        np.testing.assert_array_equal(outs[0][0], x * 2.0 + 1.0)
        np.testing.assert_array_equal(outs[0][1], (x - 3.0).astype("float32"))
        for a, b in zip(*outs):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_streamed_transcendentals_do_not_depend_on_the_output_address(dtype):
    """Short blocks run the vector loop on padded inputs, so no element takes a scalar (libm)
    tail: the bits are the same at every output alignment (and so every block split)."""
    ct = CT[dtype]
    f = "expf" if dtype == "float32" else "exp"
    body = (f"const {ct} y0 = {f}(x0) * ({ct})0.5 - x0;",)
    k = LoopKernel("expchain", (Operand(0, dtype),), (Operand(1, dtype),), 1, body)
    mod = _module([k], [(1, dtype), (1, dtype)], stream_min="1")
    x = (np.random.default_rng(2).normal(size=1000) * 20).astype(dtype)
    x[[3, 500]] = [np.nan, np.inf]
    got = []
    for off in range(0, 64, np.dtype(dtype).itemsize):
        y = _view(len(x), dtype, off)
        assert mod([y, x]) == (0, 0)
        got.append(y.copy())
    for g in got[1:]:
        np.testing.assert_array_equal(g, got[0])
    with np.errstate(all="ignore"):
        want = np.exp(x) * np.asarray(0.5, dtype) - x
    np.testing.assert_allclose(got[0], want, rtol=1e-5 if dtype == "float32" else 1e-13)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_streamed_chain_matches_python_linker(dtype):
    """A fused chain (the default rewrites) with streaming forced on, incl. NaN and inf."""
    x = kt.vector("x", dtype=dtype)
    y = ((x * 3 + 1) * x - 2) * x + 5 if dtype == "int32" else ((x * 0.5 + 1.5) * x - 2.0) * x + 0.25
    with config.change_flags(stream_min="1"):
        fc = kiln.function([x], y, mode=kiln.Mode(linker="c"))
    fp = kiln.function([x], y, mode=PY)
    rng = np.random.default_rng(3)
    for n in (0, 5, 33, 1000, 4099):
        v = (rng.normal(size=n) * 100).astype(dtype)
        if dtype != "int32" and n > 10:
            v[[1, 4, 7]] = [np.nan, np.inf, -np.inf]
        for a in (v, v[::-1], v[::2]):
            got, want = fc(a), fp(a)
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)


def test_streamed_in_place_output():
    """An output that is its own input (in-place ops): the block is read before it is written."""
    body = ("const double y0 = x0 * x0 - 1.0;",)
    k = LoopKernel("sq", (Operand(0, "float64"),), (Operand(0, "float64"),), 1, body)
    mod = _module([k], [(1, "float64")], stream_min="1")
    for n in (1, 31, 32, 33, 1000):
        a = _view(n, "float64", 8, np.random.default_rng(n))
        want = a * a - 1.0
        assert mod([a]) == (0, 0)
        np.testing.assert_array_equal(a, want)


@pytest.mark.parametrize("stream_min", ["1", "1000000000"])
def test_strided_broadcast_and_zero_d(stream_min):
    """The general paths next to a streamed contiguous one: strides, broadcasting, 0-d, empty."""
    x, r, s = kt.matrix("x"), kt.vector("r"), kt.scalar("s")
    outs = [kt.exp(x) * 2 + r, x.T * s - 1, s * 3 + 1, (x + 1) * (x - 1)]
    with config.change_flags(stream_min=stream_min):
        fc = kiln.function([x, r, s], outs, mode=kiln.Mode(linker="c"))
    fp = kiln.function([x, r, s], outs, mode=PY)
    rng = np.random.default_rng(5)
    for shape in [(0, 3), (3, 0), (1, 1), (5, 33), (17, 64)]:
        xv, rv = rng.normal(size=shape), rng.normal(size=shape[1])
        for a in ([xv, rv, 2.5], [xv[::-1, ::-1], rv[::-1], -1.0], [np.asfortranarray(xv), rv, 0.0]):
            for got, want in zip(fc(*a), fp(*a)):
                assert got.shape == want.shape
                np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-15)   # exp: libmvec


# -- reductions over an outer axis: several rows per pass ----------------------------------------

def _row_order_sum(a, axis):
    """out = ((0 + x[0]) + x[1]) + ... along `axis`: the order of a row-at-a-time reduction."""
    a = np.moveaxis(a, axis, 0)
    acc = np.zeros(a.shape[1:], dtype=a.dtype)
    for row in a:
        acc = acc + row
    return acc


@pytest.mark.parametrize("rows", [1, 2, 3, 4, 5, 7, 8, 9, 13])
def test_sum_axis0_is_exactly_row_order(rows):
    x = kt.matrix("x")
    f = kiln.function([x], [x.sum(axis=0), x.max(axis=0), x.prod(axis=0)], mode=C)
    a = np.random.default_rng(rows).normal(size=(rows, 37))
    s, m, p = f(a)
    np.testing.assert_array_equal(s, _row_order_sum(a, 0))
    np.testing.assert_array_equal(m, a.max(axis=0))
    np.testing.assert_allclose(p, a.prod(axis=0), rtol=1e-14)
    s2, _, _ = f(a[::-1])   # negative row stride: rows are still combined in index order
    np.testing.assert_array_equal(s2, _row_order_sum(a[::-1], 0))


def test_outer_axis_reductions_3d_nan_and_integers():
    t, n = kt.tensor3("t"), kt.tensor3("n", dtype="int32")
    outs = [t.sum(axis=1), t.sum(axis=(0, 1)), t.max(axis=1), t.min(axis=(0, 1)),
            n.sum(axis=1), n.max(axis=(0, 1)), (t > 0).any(axis=1), (t > -3).all(axis=1)]
    fc, fp = kiln.function([t, n], outs, mode=C), kiln.function([t, n], outs, mode=PY)
    rng = np.random.default_rng(7)
    for shape in [(2, 5, 9), (3, 4, 16), (1, 11, 3), (4, 1, 5), (2, 3, 0)]:
        tv = rng.normal(size=shape)
        nv = rng.integers(-2**31, 2**31 - 1, size=shape).astype("int32")   # int64 sums, exact
        if tv.size:
            tv[0, -1, 1] = np.nan
        for args in ([tv, nv], [tv[:, ::-1], nv[::-1, ::-1]]):
            for got, want in zip(fc(*args), fp(*args)):
                assert got.dtype == want.dtype and got.shape == want.shape
                if got.dtype.kind == "f":
                    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)
                else:
                    np.testing.assert_array_equal(got, want)
    # float sums over the outer axes are the row-order sums, bit for bit
    tv = rng.normal(size=(3, 9, 20))
    np.testing.assert_array_equal(fc(tv, np.zeros((3, 9, 20), "int32"))[0], _row_order_sum(tv, 1))


# -- reductions over the inner axis: lanes of partial sums --------------------------------------

def test_inner_sum_accuracy_on_ill_conditioned_data():
    """Lanes in blocks, block totals merged pairwise: at least as accurate as a naive loop on
    sums that cancel (magnitudes over 17 decades, row means removed), close to NumPy's."""
    x = kt.matrix("x")
    f = kiln.function([x], x.sum(axis=1), mode=C)
    rng = np.random.default_rng(11)
    rows, n = 24, 20011
    a = rng.normal(size=(rows, n)) * np.exp(rng.uniform(-20, 20, size=(rows, n)))
    a -= a.mean(axis=1, keepdims=True)
    got = f(a)
    exact = np.array([math.fsum(r) for r in a])
    naive = np.array([float(np.add.accumulate(r)[-1]) for r in a])   # strictly left to right
    err, naive_err, numpy_err = (float(np.sum(np.abs(v - exact))) for v in (got, naive, a.sum(axis=1)))
    assert err <= naive_err
    assert err <= 10 * numpy_err
    np.testing.assert_allclose(got, a.sum(axis=1), rtol=0, atol=1e-12 * np.abs(a).sum(axis=1).max())


@pytest.mark.parametrize("n", [1, 15, 16, 31, 32, 33, 47, 1000])
def test_inner_sums_odd_lengths_and_integers(n):
    x, i = kt.matrix("x", dtype="float32"), kt.matrix("i", dtype="int64")
    f = kiln.function([x, i], [x.sum(axis=1), i.sum(axis=1), x.max(axis=1)], mode=C)
    rng = np.random.default_rng(n)
    xv = rng.normal(size=(3, n)).astype("float32")
    iv = rng.integers(-2**62, 2**62, size=(3, n))    # wraps like NumPy
    s, si, m = f(xv, iv)
    np.testing.assert_allclose(s, xv.sum(axis=1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(si, iv.sum(axis=1))
    np.testing.assert_array_equal(m, xv.max(axis=1))


# -- two threads ----------------------------------------------------------------------------------

@pytest.mark.skipif(not _openmp(compiler()), reason="the C compiler has no OpenMP")
def test_two_threads_streaming_and_row_groups():
    """Streamed elementwise loops are identical with 1 and 2 threads; reductions agree to
    rounding and are deterministic for a thread count."""
    x = kt.matrix("x")
    outs = [((x * 0.5 + 1.5) * x - 2.0) * x + 0.25, kt.exp(x) - x, x.sum(axis=0), x.sum(axis=1), x.sum()]
    fns = {}
    for nt in ("1", "2"):
        with config.change_flags(threads=nt, par_min="1", stream_min="1"):
            fns[nt] = kiln.function([x], outs, mode=kiln.Mode(linker="c"))
    rng = np.random.default_rng(13)
    for shape in [(1, 1), (3, 5), (9, 130), (67, 33)]:
        a = rng.normal(size=shape)
        one, two, again = fns["1"](a), fns["2"](a), fns["2"](a)
        for k, (o, t, t2) in enumerate(zip(one, two, again)):
            np.testing.assert_array_equal(t, t2)
            if k < 2:
                np.testing.assert_array_equal(t, o)
            else:
                np.testing.assert_allclose(t, o, rtol=1e-13, atol=1e-13)
        np.testing.assert_array_equal(one[2], _row_order_sum(a, 0))
