"""The contiguous elementwise path starts its vector loop on a 64-byte boundary of the output
when the row's results cannot depend on where the loop is split (no vectorized libm call):
results stay the python linker's bit for bit at every alignment, and a transcendental row,
which is never split by address, gives the same bits at every alignment."""
import re

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.linkers.c.compiler import have_compiler
from kiln.linkers.c.ir import LoopKernel, Operand
from kiln.linkers.c.render import _render_loop

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

PY = kiln.Mode(linker="py", rewrites="none")
C = kiln.Mode(linker="c")


def _exact_flag(body):
    k = LoopKernel("k", (Operand(0, "float64"),), (Operand(1, "float64"),), 1, body)
    return int(re.search(r"kernel_0_row, (\d), \d+ULL,", _render_loop(k, "kernel_0")).group(1))


def test_only_rows_without_vector_math_may_be_split_by_address():
    assert _exact_flag(("const double y0 = x0 * 0.5 + 1.5;",)) == 1
    assert _exact_flag(("const double y0 = sqrt(fabs(x0));",)) == 1      # correctly rounded
    assert _exact_flag(("const double y0 = exp(-x0);",)) == 0
    assert _exact_flag(("const double t0 = log1pf(x0);", "const double y0 = t0;")) == 0
    assert _exact_flag(("const double y0 = pow(x0, 2.5);",)) == 0


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "int8"])
def test_arithmetic_at_every_alignment_matches_the_python_linker(dtype):
    x = kt.vector("x", dtype=dtype)
    y = (x * 3 + 7) * x - 5
    f, g = kiln.function([x], y, mode=C), kiln.function([x], y, mode=PY)
    base = (np.random.default_rng(0).normal(size=3000) * 50).astype(dtype)
    for off in range(9):   # the input (and so the output) at every offset within a cache line
        v = base[off:off + 2500 - off]
        got, want = f(v), g(v)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_a_transcendental_row_gives_the_same_bits_at_every_alignment():
    x = kt.dvector("x")
    f = kiln.function([x], kt.exp(-x ** 2) * kt.sin(3 * x) + kt.log1p(x ** 2) / (1 + kt.tanh(x)), mode=C)
    base = np.random.default_rng(1).normal(size=2100)
    ref = f(base[:2048].copy())
    for off in range(1, 9):
        buf = np.empty(2048 + off)
        buf[off:] = base[:2048]
        np.testing.assert_array_equal(f(buf[off:]), ref)


def _col(dtype="float64"):
    return kt.tensor("c", dtype=dtype, shape=(None, 1))


@pytest.mark.parametrize("flags", [{}, {"threads": "2", "par_min": "1"}])
def test_a_column_broadcast_along_the_rows_is_read_once_per_row(flags):
    from kiln.configuration import config

    x, c = kt.dmatrix("x"), _col()
    y = x * c + c * c - 0.5     # c: last axis of static length 1, x's is not (exact ops: equal bits)
    rng = np.random.default_rng(2)
    with config.change_flags(**flags):
        f, g = kiln.function([x, c], y, mode=C), kiln.function([x, c], y, mode=PY)
        for rows, cols in [(5, 7), (3, 1), (1, 1), (4, 0), (0, 3), (257, 33)]:
            # cols == 1: every operand's last axis has length 1 (a contiguous loop would read c once)
            xv, cv = rng.normal(size=(rows, cols)), rng.normal(size=(rows, 1))
            np.testing.assert_array_equal(f(xv, cv), g(xv, cv))
            np.testing.assert_array_equal(f(xv[::-1], cv[::-1]), g(xv[::-1], cv[::-1]))
            if cols > 1:   # a transposed x: strided rows, gathered by blocks
                xt = np.ascontiguousarray(xv.T).T
                np.testing.assert_array_equal(f(xt, cv), g(xt, cv))


def test_the_row_function_loads_a_column_input_once():
    x, c = kt.dmatrix("x"), _col()
    f = kiln.function([x, c], x * c, mode=C)
    from kiln.linkers.c.lower import lower_node
    from kiln.tensor.elemwise import Elemwise

    (node,) = [n for n in f.fgraph.apply_nodes if isinstance(n.op, Elemwise)]
    k = lower_node(node)
    src = _render_loop(k, "kernel_0")
    col = [j for j, b in enumerate(k.inner_bcast) if b]
    assert len(col) == 1
    assert f"const double x{col[0]} = *(const double *)q[{1 + col[0]}];" in src
    assert re.search(r"kernel_0_row, \d, %dULL," % (1 << (1 + col[0])), src)
