"""kiln.rewrites: the rewrite engine, rule databases, the named pipeline, the standard rules.

>>> import numpy as np, kiln, kiln.tensor as kt
>>> from kiln.rewrites import explain
>>> x = kt.vector("x")
>>> f = kiln.function([x], kt.log(1 + x))
>>> ("stabilize", "log1p") in explain(f).fired()
True

User rules use the same API as the standard ones (see docs/rewrites.md):

>>> from kiln.rewrites import register, pattern_rule, unregister
>>> r = register(pattern_rule((kt.mul, "x", (kt.reciprocal, "x")), 1, name="doc_recip"),
...              phase="canonicalize", tags=["mine"])
>>> unregister("doc_recip")
"""
from __future__ import annotations

from typing import Any

from kiln.rewrites.db import GLOBAL_DB, GraphRewriter, RewriteDB, register, unregister
from kiln.rewrites.engine import NodeRewriter, RewriteError, node_rewriter, rewrite_graph
from kiln.rewrites.pattern import pattern_rule
from kiln.rewrites.pipeline import PIPELINE, RewriteReport, run_pipeline

__all__ = ["register", "unregister", "pattern_rule", "node_rewriter", "NodeRewriter", "GraphRewriter",
           "RewriteDB", "GLOBAL_DB", "RewriteError", "rewrite_graph", "run_pipeline", "PIPELINE",
           "RewriteReport", "explain"]


def explain(f: Any) -> RewriteReport:
    """The rewrite report of a compiled function: per phase, time, node counts, rules fired.

    `print(explain(f))` shows it as a table; `explain(f).fired()` is {(phase, rule): count}.
    """
    rep = getattr(f, "rewrite_report", None)
    if rep is None:
        return RewriteReport(getattr(getattr(f, "mode", None), "rewrites", "none"))
    return rep


def _register_standard() -> None:
    from kiln.rewrites import broadcast, canonicalize, specialize, stabilize
    from kiln.rewrites.fusion import fuse_elemwise
    from kiln.rewrites.inplace import inplace_elemwise
    from kiln.rewrites.merge import merge

    GLOBAL_DB.register(merge, phase="merge", tags=("fast_compile",))
    for rule, tags in canonicalize.RULES:
        GLOBAL_DB.register(rule, phase="canonicalize", tags=tags)
    for rule, tags in broadcast.RULES:
        GLOBAL_DB.register(rule, phase="canonicalize", tags=tags)
    for rule, tags in stabilize.RULES:
        GLOBAL_DB.register(rule, phase="stabilize", tags=tags)
    for rule, tags in specialize.RULES:
        GLOBAL_DB.register(rule, phase="specialize", tags=tags)
    for rule, tags in broadcast.SPECIALIZE_RULES:
        GLOBAL_DB.register(rule, phase="specialize", tags=tags)
    GLOBAL_DB.register(fuse_elemwise, phase="fusion")
    from kiln.rewrites.reduce_fusion import fuse_reductions

    # after elementwise fusion (graph rewriters run in registration order): see reduce_fusion.py
    GLOBAL_DB.register(fuse_reductions, phase="fusion", tags=("fusion",))
    from kiln.rewrites.matvec_pair import pair_matvecs

    # after reduction fusion, which folds some products (E @ b of a computed E) into its loops
    GLOBAL_DB.register(pair_matvecs, phase="fusion", tags=("fusion",))
    GLOBAL_DB.register(inplace_elemwise, phase="inplace")

    class _FinalMerge(type(merge)):
        name = "final_merge"
    GLOBAL_DB.register(_FinalMerge(), phase="final_merge", tags=("merge",))


_register_standard()
