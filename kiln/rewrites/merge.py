"""Merge: common-subexpression elimination, including equal constants.

One pass in topological order suffices: when a node is visited its inputs are
already canonical, so two nodes with the same op and the same inputs are the
same computation.  Nodes that destroy an input are never merged (each consumer
needs its own copy).
"""
from __future__ import annotations

from kiln.graph.basic import Constant
from kiln.graph.fg import FunctionGraph, InconsistencyError
from kiln.rewrites.db import GraphRewriter

__all__ = ["MergeRewriter", "merge"]


class MergeRewriter(GraphRewriter):
    """Make equal constants one variable and equal (op, inputs) nodes one node.

    >>> import kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> fg = FunctionGraph([x], [kt.exp(x) + kt.exp(x)])
    >>> MergeRewriter().apply(fg)
    1
    >>> len(fg.apply_nodes)
    2
    """

    name = "merge"

    def apply(self, fgraph: FunctionGraph) -> int:
        changes = 0
        # constants first, so nodes reading equal constants see one variable
        canon: dict = {}
        pairs = []
        for v in list(fgraph.variables):
            if isinstance(v, Constant) and v.owner is None:
                try:
                    key = v.signature()
                    hash(key)
                except TypeError:
                    continue
                first = canon.setdefault(key, v)
                if first is not v:
                    pairs.append((v, first))
        for old, new in pairs:
            if old in fgraph.variables:
                fgraph.replace(old, new, reason="merge", validate=False)
                changes += 1
        seen: dict = {}
        for node in fgraph.toposort():
            if node not in fgraph.apply_nodes or node.op.destroy_map:
                continue
            try:
                key = (node.op, tuple(id(i) for i in node.inputs))
                hash(key)
            except TypeError:
                continue
            other = seen.get(key)
            if other is None or other not in fgraph.apply_nodes:
                seen[key] = node
                continue
            if [o.type for o in other.outputs] != [o.type for o in node.outputs]:
                continue
            try:
                fgraph.replace_all(list(zip(node.outputs, other.outputs)), reason="merge")
                changes += 1
            except InconsistencyError:
                pass
        return changes


merge = MergeRewriter()
