"""The function-level index: a graph compiled before loads its modules without codegen."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.linkers.c import render
from kiln.linkers.c.compiler import have_compiler
from kiln.linkers.c.scalar_c import SCALAR_C, register_scalar_c
from kiln.linkers.cache import get_cache
from kiln.scalar import math as sm

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")


def _graph():
    x = kt.vector("x")
    return [x], [kt.exp(x) * 3 + kt.sum(x), (x * 2) ** 2]


# rewrites="none": the fusion rewrite currently orders a Composite's inputs differently from
# one run to the next (reported to its owner), which makes equal programs different graphs
MODE = kiln.Mode(linker="c", rewrites="none")


def test_warm_start_skips_codegen(monkeypatch):
    ins, outs = _graph()
    f1 = kiln.function(ins, outs, mode=MODE)
    want = f1(np.arange(3.0))

    def no_codegen(*args):
        raise AssertionError("rendered C although the index knows this graph")

    monkeypatch.setattr(render, "render_modules", no_codegen)
    before = get_cache().stats()
    ins, outs = _graph()                       # an equal graph built from scratch
    f2 = kiln.function(ins, outs, mode=MODE)
    for g, w in zip(f2(np.arange(3.0)), want):
        np.testing.assert_array_equal(g, w)
    after = get_cache().stats()
    assert after.compiles == before.compiles and after.hits > before.hits


def test_canonical_order_ignores_construction_order():
    from kiln.graph.fg import FunctionGraph
    from kiln.linkers.c.linker import canonical_order, graph_key

    keys = set()
    for flip in (False, True):
        x = kt.vector("x")
        a, b = (kt.exp(x), kt.sin(x)) if not flip else (None, kt.sin(x))
        if flip:
            a = kt.exp(x)
        fg = FunctionGraph([x], [a + b])
        keys.add(graph_key(fg, canonical_order(fg)))
    assert len(keys) == 1


def test_a_new_rule_changes_the_index_key():
    """Registering a different C rule at run time must not reuse modules built with the old one."""
    x = kt.vector("x")
    f1 = kiln.function([x], kt.sqr(x) + 1, mode=kiln.Mode(linker="c"))
    old = SCALAR_C[sm.Sqr]
    try:
        # a (deliberately wrong) rule: cubes instead of squaring, so reuse would show
        register_scalar_c(sm.Sqr)(lambda op, xs, ins, outs: [f"({xs[0]} * {xs[0]} * {xs[0]})"])
        x = kt.vector("x")
        f2 = kiln.function([x], kt.sqr(x) + 1, mode=kiln.Mode(linker="c"))
        np.testing.assert_array_equal(f2(np.array([2.0])), [9.0])
    finally:
        SCALAR_C[sm.Sqr] = old
    np.testing.assert_array_equal(f1(np.array([2.0])), [5.0])
