"""Shared helpers for the rewrite tests: rewrite a graph, list its ops, compare values."""
from __future__ import annotations

import numpy as np

import kiln
from kiln.graph.fg import FunctionGraph
from kiln.linkers.python import PythonLinker
from kiln.rewrites.engine import rewrite_graph


def rewritten(inputs, outputs, rules):
    """A FunctionGraph of outputs with only `rules` applied (to equilibrium)."""
    fg = FunctionGraph(inputs, outputs if isinstance(outputs, list) else [outputs])
    rewrite_graph(fg, rules)
    fg.check_integrity()
    return fg


def run(fg, *values):
    return PythonLinker(check_outputs=True).make_runner(fg)(list(values))


def reference(inputs, outputs, *values):
    """Values of outputs computed by the unrewritten graph."""
    outs = outputs if isinstance(outputs, list) else [outputs]
    fg = FunctionGraph(inputs, outs)
    return run(fg, *values)


def ops(fg):
    return [n.op for n in fg.toposort()]


def has_op(fg, op) -> bool:
    if isinstance(op, type):
        return any(isinstance(o, op) for o in ops(fg))
    return any(o == op for o in ops(fg))


def assert_same(got, want, rtol=1e-7, atol=1e-12):
    for g, w in zip(got, want):
        g, w = np.asarray(g), np.asarray(w)
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        assert g.shape == w.shape, (g.shape, w.shape)
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True)


NO_REWRITES = kiln.Mode(linker="py", rewrites="none")
FAST_RUN = kiln.Mode(linker="py")
