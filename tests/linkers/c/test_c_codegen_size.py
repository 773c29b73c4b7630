"""The size of generated modules (issue 6, cold compile) and the loop paths that keep it small.

An elementwise kernel is its scalar expression once (a row function over unit-stride
operands) plus calls of the module's one loop driver; kernels that differ only in their
buffers share one body (their buffer indices are data); reductions of one kind and dtypes
share one body (their axes are data).  Every path of the driver -- contiguous, streaming
(stream_min=1), general with unit rows, general with gathered/scattered strided rows,
threaded (threads=2, par_min=1) -- must give the python linker's results bit for bit for
IEEE-exact operations, NaN and infinities included, on odd lengths and on non-contiguous,
negative-stride and broadcast operands.
"""
import re
import tempfile

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.configuration import config
from kiln.linkers.c.compiler import _openmp, compile_source, compiler, have_compiler
from kiln.linkers.c.ir import LoopKernel, Operand, ReduceKernel, Segment
from kiln.linkers.c.render import render_segment
from kiln.linkers.c.runtime import CModule
from kiln.linkers.cache import ModuleCache

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

PY = kiln.Mode(linker="py", rewrites="none")
C = kiln.Mode(linker="c", rewrites="none")


def _same_bits(got, want):
    """Equal values and dtypes, NaN where NaN (payloads aside), signed zeros distinguished."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    if got.dtype.kind == "f":
        assert np.array_equal(np.isnan(got), np.isnan(want))
        ok = ~np.isnan(want)
        assert np.array_equal(np.signbit(got[ok]), np.signbit(want[ok]))
    np.testing.assert_array_equal(got, want)


# --- the module text ---------------------------------------------------------------------

def _loop(outs, ins, body, label="Composite{add,tanh}"):
    return LoopKernel(label, tuple(Operand(b, "float64") for b in outs),
                      tuple(Operand(b, "float64") for b in ins), 2, tuple(body))


def _two_layer_segment():
    body = ("const double t = x0 + x1;", "const double y0 = tanh(t);")
    k1 = _loop([2], [0, 1], body)              # h1 = tanh(a1 + b1)
    k2 = _loop([4], [2, 3], body)              # h2 = tanh(h1 + b2): same text, other buffers
    k3 = _loop([5], [4, 4], ("const double y0 = x0 * x1;",), "sqr")   # one buffer twice
    r0 = ReduceKernel("Sum{axis=(0,)}", Operand(5, "float64"), Operand(6, "float64"), 2, (0,), "sum")
    r1 = ReduceKernel("Sum{axis=(1,)}", Operand(5, "float64"), Operand(7, "float64"), 2, (1,), "sum")
    bufs = ((2, "float64"),) * 6 + ((1, "float64"),) * 2
    return Segment("two layers", bufs, (k1, k2, k3, r0, r1))


def test_kernels_differing_only_in_buffers_share_one_body():
    src = render_segment(_two_layer_segment())
    # two elementwise bodies (tanh(x0 + x1) and x0 * x1), one reduction body for both axes
    assert len(re.findall(r"static [^\n]*void kernel_\d+_row\(", src)) == 2
    assert src.count("tanh(t)") == 1
    # (in kiln's library: one pointer the runtime sets when it loads the module)
    assert src.count("static kiln_reduce_fn kiln_reduce_sum_float64_float64;") == 1
    # the loop driver is not in the module: a pointer the runtime sets when it loads it
    assert not re.findall(r"int kiln_elemwise\(", src) and src.count("void kiln_set_imports(") == 1
    # every kernel is still called, in order, with its own buffer table
    calls = re.findall(r"static const int ix\[\] = \{ ([\d, ]+) \};[^\n]*\n\s*if \(\(rc = (kernel_\d+)\(B, ix\)\) "
                       r"!= 0\) \{ \*failed = (\d+);", src)
    assert [(t, int(i)) for t, _, i in calls] == [("2, 0, 1", 0), ("4, 2, 3", 1), ("5, 4", 2), ("5, 6", 3),
                                                  ("5, 7", 4)]   # outputs first
    assert calls[0][1] == calls[1][1]   # the two layers: one kernel (the reductions: one body, two axes)


def test_shared_bodies_compute_each_kernel_on_its_own_buffers():
    _, so = compile_source(render_segment(_two_layer_segment()), ModuleCache(tempfile.mkdtemp()))
    rng = np.random.default_rng(0)
    a1, b1, b2 = rng.normal(size=(5, 7)), rng.normal(size=(1, 7)), rng.normal(size=(1, 7))
    h1, h2, sq, s0, s1 = np.empty((5, 7)), np.empty((5, 7)), np.empty((5, 7)), np.empty(7), np.empty(5)
    assert CModule(so)([a1, b1, h1, b2, h2, sq, s0, s1]) == (0, 0)
    np.testing.assert_allclose(h1, np.tanh(a1 + b1), rtol=1e-15, atol=0)
    np.testing.assert_allclose(h2, np.tanh(h1 + b2), rtol=1e-15, atol=0)
    _same_bits(sq, h2 * h2)
    np.testing.assert_allclose(s0, sq.sum(axis=0), rtol=1e-14)
    np.testing.assert_allclose(s1, sq.sum(axis=1), rtol=1e-14)


def test_two_identical_layers_end_to_end_match_python_linker():
    x, w1, w2 = kt.matrix("x"), kt.matrix("w1"), kt.matrix("w2")
    b1, b2 = kt.vector("b1"), kt.vector("b2")
    h1 = kt.tanh(kt.dot(x, w1) + b1)
    h2 = kt.tanh(kt.dot(h1, w2) + b2)
    outs = [h2, h2.sum(axis=0), h1.sum(axis=1)]
    rng = np.random.default_rng(1)
    args = [rng.normal(size=(9, 6)), rng.normal(size=(6, 5)), rng.normal(size=(5, 5)), rng.normal(size=5),
            rng.normal(size=5)]
    want = kiln.function([x, w1, w2, b1, b2], outs, mode=PY)(*args)
    got = kiln.function([x, w1, w2, b1, b2], outs)(*args)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-15)


# --- every loop path, bit for bit ----------------------------------------------------------

def _exact_graph():
    """IEEE-exact elementwise operations over float64, float32, int8, int16 and bool operands."""
    x, y = kt.matrix("x"), kt.matrix("y")
    c = kt.matrix("c")                          # (n, 1): broadcast along rows (stride 0 inner)
    f = kt.matrix("f", dtype="float32")
    i8, i16 = kt.matrix("i8", dtype="int8"), kt.matrix("i16", dtype="int16")
    outs = [x * y + 1.5, (x - y) / (y + 0.25), kt.maximum(x, y), kt.sqrt(kt.abs(x)),
            x * c - c,                          # broadcast column input
            kt.switch(kt.lt(x, y), x, y),       # a bool intermediate, NaN-aware select
            kt.lt(x, c),                        # a bool output (1-byte items)
            f * f - f,                          # 4-byte items
            i8 * i8 + i8 // 3, i16 % 7 - i16]   # 1- and 2-byte items, Python-sign // and %
    return [x, y, c, f, i8, i16], outs


def _exact_args(rng, shape):
    def floats(dtype):
        a = rng.normal(size=shape).astype(dtype)
        a.flat[::7] = np.nan
        a.flat[3::11] = np.inf
        a.flat[5::13] = -np.inf
        a.flat[2::17] = -0.0
        return a
    return [floats("float64"), floats("float64"), floats("float64")[:, :1].copy(), floats("float32"),
            rng.integers(-128, 128, size=shape).astype("int8"), rng.integers(-2000, 2000, size=shape).astype("int16")]


def _layouts(args):
    """The same values as contiguous, strided, negative-stride and transposed arrays."""
    yield "contiguous", args
    big = [np.repeat(np.repeat(a, 2, axis=0), 2, axis=1) for a in args]
    yield "strided", [b[::2, ::2] for b in big]
    yield "negative strides", [np.ascontiguousarray(a[::-1, ::-1])[::-1, ::-1] for a in args]
    yield "transposed", [np.ascontiguousarray(a.T).T for a in args]


FLAGS = {"default": {}, "streaming": {"stream_min": "1"}}


@pytest.fixture(scope="module")
def exact_functions():
    ins, outs = _exact_graph()
    fns = {"python": kiln.function(ins, outs, mode=PY)}
    for name, flags in FLAGS.items():
        with config.change_flags(**flags):
            fns[name] = kiln.function(ins, outs, mode=C)
    if _openmp(compiler()):
        with config.change_flags(threads="2", par_min="1"):
            fns["threads"] = kiln.function(ins, outs, mode=C)
        with config.change_flags(threads="2", par_min="1", stream_min="1"):
            fns["threads+streaming"] = kiln.function(ins, outs, mode=C)
    return fns


@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (1, 67), (5, 13), (33, 301)])
def test_every_path_matches_python_linker_bit_for_bit(exact_functions, shape):
    rng = np.random.default_rng(shape[0] * 1000 + shape[1])
    for layout, args in _layouts(_exact_args(rng, shape)):
        want = exact_functions["python"](*args)
        for name, f in exact_functions.items():
            if name == "python":
                continue
            for j, (g, w) in enumerate(zip(f(*args), want)):
                try:
                    _same_bits(g, w)
                except AssertionError as e:
                    raise AssertionError(f"{name}, {layout}, {shape}, output {j}") from e


def test_strided_outputs_are_scattered_from_the_block_buffer():
    """Outputs that are views (strided, reversed, transposed, or the input itself, as an
    in-place kernel writes) are computed into a stack block, then scattered."""
    k = LoopKernel("Composite{mul,add}", (Operand(0, "float64"), Operand(1, "float32")),
                   (Operand(2, "float64"), Operand(3, "float64")), 2,
                   ("const double y0 = x0 * x1 + x0;", "const float y1 = (float)(x0 - x1);"))
    bufs = ((2, "float64"), (2, "float32"), (2, "float64"), (2, "float64"))
    mod = CModule(compile_source(render_segment(Segment("views", bufs, (k,))), ModuleCache(tempfile.mkdtemp()))[1])
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(7, 601)), rng.normal(size=(7, 601))
    a[0, ::5] = np.nan
    views = (lambda dt: np.zeros((7, 1202), dt)[:, ::2],          # strided rows
             lambda dt: np.zeros((14, 1803), dt)[::-2, ::-3],     # reversed, strided
             lambda dt: np.zeros((601, 7), dt).T)                 # transposed
    for view in views:
        o0, o1 = view("float64"), view("float32")
        assert o0.shape == (7, 601) and not o0.flags.c_contiguous
        assert mod([o0, o1, a, b]) == (0, 0)
        _same_bits(o0, a * b + a)
        _same_bits(o1, (a - b).astype("float32"))
    x = a.copy()
    xv = x.T.copy().T   # in place through a transposed view: output 0 is input 0
    o1 = np.empty((7, 601), dtype="float32")
    assert mod([xv, o1, xv, b]) == (0, 0)
    _same_bits(xv, a * b + a)
    _same_bits(o1, (a - b).astype("float32"))   # from x0 as it was: each element is read first


def test_streaming_results_depend_on_neither_address_nor_thread_count():
    """Streamed blocks are computed whole by the vector loop (short ones padded), so a
    transcendental function gives the same bits for an element wherever the array lies."""
    x = kt.vector("x")
    outs = [kt.exp(x) * kt.tanh(x), kt.log1p(x * x)]
    with config.change_flags(stream_min="1"):
        f1 = kiln.function([x], outs, mode=C)
    fns = [f1]
    if _openmp(compiler()):
        with config.change_flags(stream_min="1", threads="2", par_min="1"):
            fns.append(kiln.function([x], outs, mode=C))
    rng = np.random.default_rng(4)
    base = rng.normal(size=5003)
    ref = f1(base[1:-1])
    np.testing.assert_allclose(ref[0], np.exp(base[1:-1]) * np.tanh(base[1:-1]), rtol=1e-14)
    for f in fns:
        for shift in range(1, 9):   # the same values at other offsets from a 64-byte boundary
            buf = np.empty(5001 + 16)
            v = buf[shift:shift + 5001]
            v[:] = base[1:-1]
            for g, w in zip(f(v), ref):
                _same_bits(g, w)
