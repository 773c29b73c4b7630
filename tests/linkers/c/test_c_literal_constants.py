"""A one-element constant input of an elementwise op (x + 1's 1) is a literal of the loop body,
not an operand, so the loop runs over contiguous operands; results are those of the python
linker bit for bit, in every dtype, NaN and infinities included."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.linkers.c.compiler import have_compiler
from kiln.linkers.c.lower import lower_node
from kiln.tensor.elemwise import Elemwise

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

PY = kiln.Mode(linker="py", rewrites="none")
C = kiln.Mode(linker="c", rewrites="none")


def _same(got, want):
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got.view(np.uint8) if got.dtype != bool else got,
                                  want.view(np.uint8) if want.dtype != bool else want)


CASES = {
    "add_one": ("float64", lambda x: x + 1),
    "scale_f32": ("float32", lambda x: x * np.float32(0.1)),
    "inf": ("float64", lambda x: x + np.inf),
    "nan_max": ("float64", lambda x: kt.maximum(x, np.nan)),
    "neg_inf_min": ("float32", lambda x: kt.minimum(x, np.float32(-np.inf))),
    "int8_wrap": ("int8", lambda x: x + np.int8(-128)),
    "uint64_big": ("uint64", lambda x: x + np.uint64(2 ** 63)),
    "int_div": ("int64", lambda x: x // -3),
    "int_mod": ("int32", lambda x: x % np.int32(-7)),
    "bool_and": ("bool", lambda x: kt.and_(x, np.True_)),
    "const_first": ("float64", lambda x: 2.5 - x),
    "two_constants": ("float64", lambda x: kt.switch(x > 0, 1.5, -0.25)),
}


def _values(dtype):
    if dtype == "bool":
        return np.array([True, False, True, True, False])
    if dtype.startswith("float"):
        return np.array([0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, 1e-300], dtype=dtype)
    info = np.iinfo(dtype)
    return np.array([0, 1, -1 if info.min < 0 else 2, info.min, info.max, 7, 100], dtype=dtype)


@pytest.mark.parametrize("name", sorted(CASES))
def test_literal_constants_match_the_python_linker(name):
    dtype, build = CASES[name]
    x = kt.vector("x", dtype=dtype)
    y = build(x)
    v = _values(dtype)
    with np.errstate(all="ignore"):
        want = kiln.function([x], y, mode=PY)(v)
        _same(kiln.function([x], y, mode=C)(v), want)
        # non-contiguous and 2-d inputs broadcast against the literal alike
        m = kt.matrix("m", dtype=dtype)
        ym = build(m)
        vm = np.stack([v, v[::-1]])[:, ::-1]
        _same(kiln.function([m], ym, mode=C)(vm), kiln.function([m], ym, mode=PY)(vm))


def test_a_one_element_constant_is_not_an_operand():
    x = kt.dvector("x")
    f = kiln.function([x], x + 1, mode=C)
    (node,) = [n for n in f.fgraph.apply_nodes if isinstance(n.op, Elemwise)]
    k = lower_node(node)
    assert len(k.inputs) == 1 and any("0x1.0000000000000p+0" in s for s in k.body)


def test_an_op_of_constants_only_keeps_one_operand():
    # the graph is not rewritten (rewrites="none"): add(1, 2) broadcast to x's shape by second
    x = kt.dvector("x")
    y = kt.second(x, kt.add(kt.constant(1.0), kt.constant(2.0)))
    v = np.arange(3.0)
    _same(kiln.function([x], y, mode=C)(v), kiln.function([x], y, mode=PY)(v))
    node = next(n for n in kiln.function([x], y, mode=C).fgraph.apply_nodes
                if isinstance(n.op, Elemwise) and n.outputs[0].type.ndim == 0)
    assert len(lower_node(node).inputs) == 1
