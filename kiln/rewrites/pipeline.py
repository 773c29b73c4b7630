"""The rewrite pipeline, readable top to bottom: named phases run in this order.

    merge         common subexpressions and equal constants become one
    canonicalize  algebraic normal forms, constant folding, shape simplification
    stabilize     numerically safer forms (log1p, expm1, softplus, log_softmax, ...)
    specialize    faster forms (pow -> sqr/sqrt, dot + scale/add -> gemm/gemv, ...)
    fusion        elementwise chains and trees become one Composite kernel
    inplace       elementwise ops overwrite an input buffer nobody else needs
    final_merge   merge again (earlier phases may have built equal nodes)

Each compile hands its Mode here: `Mode.rewrites` picks a level ("fast_run": every phase;
"fast_compile": merge, constant folding, stabilize; "none"), and `Mode.include` /
`Mode.exclude` select rules or whole phases by name or tag.  Rule objects placed in
`Mode.include` (`mode.including(my_rule)`) run for that mode only, in their `phase`
(default canonicalize).
"""
from __future__ import annotations

import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from kiln.graph.fg import FunctionGraph
from kiln.rewrites.db import GLOBAL_DB, GraphRewriter, RewriteDB
from kiln.rewrites.engine import NodeRewriter, RuleIndex, Stats, rewrite_graph

__all__ = ["Phase", "PIPELINE", "LEVELS", "run_pipeline", "RewriteReport", "PhaseReport", "CURRENT_MODE"]

#: the Mode whose pipeline is running (None outside one): rules that build inner graphs
#: (kiln.ifelse's lazy_ifelse) compile those with the same mode
CURRENT_MODE: ContextVar = ContextVar("kiln_rewrite_mode", default=None)


@dataclass(frozen=True)
class Phase:
    """One named step: graph rewriters of the phase, then its node rules to equilibrium."""

    name: str
    order: str = "in_to_out"
    equilibrium: bool = True
    merge_first: bool = False


PIPELINE: tuple[Phase, ...] = (
    Phase("merge"),
    Phase("canonicalize", merge_first=False),
    Phase("stabilize", merge_first=True),
    Phase("specialize", merge_first=True),
    Phase("fusion"),
    Phase("inplace"),
    Phase("final_merge"),
)

#: per level: phase name -> None (all selected rules) or the tags a rule needs to run there
LEVELS: dict[str, dict[str, frozenset | None]] = {
    "fast_run": {p.name: None for p in PIPELINE},
    "fast_compile": {"merge": None, "canonicalize": frozenset({"fast_compile"}), "stabilize": None,
                     "final_merge": None},
    "none": {},
}


@dataclass
class PhaseReport:
    name: str
    seconds: float
    nodes_before: int
    nodes_after: int
    fired: dict[str, int] = field(default_factory=dict)


@dataclass
class RewriteReport:
    """What the pipeline did to one graph: per phase, time, node counts, and rules fired."""

    level: str
    phases: list[PhaseReport] = field(default_factory=list)

    def fired(self) -> dict[tuple[str, str], int]:
        """{(phase, rule name): times fired}."""
        return {(p.name, r): n for p in self.phases for r, n in p.fired.items()}

    def count(self, rule: str) -> int:
        """How many times rule `rule` fired, over all phases."""
        return sum(n for (ph, r), n in self.fired().items() if r == rule)

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.phases)

    def __str__(self) -> str:
        lines = [f"rewrite pipeline {self.level!r}: {self.seconds * 1e3:.1f} ms"]
        for p in self.phases:
            lines.append(f"  {p.name:<13} {p.seconds * 1e3:8.2f} ms  nodes {p.nodes_before} -> {p.nodes_after}")
            for r, n in sorted(p.fired.items(), key=lambda kv: (-kv[1], kv[0])):
                lines.append(f"      {n:5d}  {r}")
        return "\n".join(lines)

    __repr__ = __str__


def _split_include(include: tuple) -> tuple[list[str], list[NodeRewriter | GraphRewriter]]:
    names, rules = [], []
    for item in include:
        (names if isinstance(item, str) else rules).append(item)
    return names, rules


def run_pipeline(fgraph: FunctionGraph, mode: Any, db: RewriteDB | None = None) -> RewriteReport:
    """Rewrite fgraph in place following `mode` (a kiln.Mode); returns the report.

    >>> import kiln, kiln.tensor as kt
    >>> from kiln.graph.fg import FunctionGraph
    >>> x = kt.vector("x")
    >>> fg = FunctionGraph([x], [kt.log(1 + x)])
    >>> rep = run_pipeline(fg, kiln.Mode(rewrites="fast_run"))
    >>> rep.count("log1p") >= 1
    True
    """
    import kiln.rewrites  # noqa: F401  (registers the standard rule sets)

    db = db or GLOBAL_DB
    level = getattr(mode, "rewrites", "fast_run") or "none"
    if level not in LEVELS:
        raise ValueError(f"unknown rewrite level {level!r} (known: {', '.join(LEVELS)})")
    include, extra = _split_include(tuple(getattr(mode, "include", ())))
    exclude = [e for e in getattr(mode, "exclude", ()) if isinstance(e, str)]
    plan = LEVELS[level]
    report = RewriteReport(level)
    token = CURRENT_MODE.set(mode)
    try:
        for phase in PIPELINE:
            if phase.name not in plan or phase.name in exclude:
                continue
            entries = db.entries_for(phase.name, include, exclude, plan[phase.name])
            rules = [e.rule for e in entries] + [r for r in extra if (r.phase or "canonicalize") == phase.name]
            if not rules:
                continue
            graph_rules = [r for r in rules if isinstance(r, GraphRewriter)]
            node_rules = [r for r in rules if isinstance(r, NodeRewriter)]
            stats = Stats()
            t0 = time.perf_counter()
            before = len(fgraph.apply_nodes)
            if phase.merge_first and "merge" in db and db["merge"].selected(include, exclude):
                n = db["merge"].rule.apply(fgraph)
                if n:
                    stats.record(phase.name, "merge", n)
            for g in graph_rules:
                n = g.apply(fgraph)
                if n:
                    stats.record(phase.name, g.name, n)
            if node_rules:
                rewrite_graph(fgraph, RuleIndex(node_rules), order=phase.order, equilibrium=phase.equilibrium,
                              phase=phase.name, stats=stats)
            report.phases.append(PhaseReport(phase.name, time.perf_counter() - t0, before,
                                             len(fgraph.apply_nodes),
                                             {r: n for (_, r), n in stats.counts.items()}))
    finally:
        CURRENT_MODE.reset(token)
    return report
