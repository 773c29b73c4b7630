"""The one rewrite engine: node rewriters, the worklist traversal, and statistics.

A rule is a `NodeRewriter`: it names the ops it tracks (op classes or op instances,
or None for every node) and a function `fn(fgraph, node)` that returns None/False
(no change), a list of replacements for `node.outputs`, or a dict {old: new}.

`rewrite_graph` applies a set of rules to a FunctionGraph.  Every change goes
through `FunctionGraph.replace_all` (type checks, feature validation, rollback);
a rule whose replacement a feature refuses is simply skipped for that node.
The traversal is a worklist seeded in topological order ("in_to_out") or reverse
("out_to_in"); nodes created by a rewrite are queued too, and with `equilibrium`
the clients of every changed variable are re-queued until nothing fires.
"""
from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence

from kiln.graph.basic import Apply, Variable
from kiln.graph.fg import Feature, FunctionGraph, InconsistencyError, OUTPUT

__all__ = ["NodeRewriter", "node_rewriter", "RewriteError", "rewrite_graph", "RuleIndex", "Stats"]


class RewriteError(TypeError):
    """A rule returned something that cannot replace the node's outputs."""


class NodeRewriter:
    """A named rule over single nodes; see the module docstring for the protocol.

    >>> import kiln.tensor as kt
    >>> @node_rewriter([kt.neg])
    ... def neg_neg(fgraph, node):
    ...     x = node.inputs[0]
    ...     if x.owner is not None and x.owner.op == kt.neg:
    ...         return [x.owner.inputs[0]]
    >>> neg_neg.name
    'neg_neg'
    """

    def __init__(self, fn: Callable, tracks: Sequence[Any] | None, name: str | None = None,
                 phase: str | None = None, strict_types: bool = True):
        self.fn = fn
        self.tracks = None if tracks is None else tuple(tracks)
        self.name = name or getattr(fn, "__name__", "rule")
        self.phase = phase
        # pattern rules fit their results to the matched type (casts/broadcasts); hand-written
        # rules must return the right type, else the engine names the rule in an error
        self.strict_types = strict_types
        self.__doc__ = getattr(fn, "__doc__", None)

    def transform(self, fgraph: FunctionGraph, node: Apply) -> Any:
        return self.fn(fgraph, node)

    def __repr__(self) -> str:
        return f"<rule {self.name}>"


def node_rewriter(tracks: Sequence[Any] | None, name: str | None = None,
                  phase: str | None = None) -> Callable[[Callable], NodeRewriter]:
    """Decorator making `fn(fgraph, node)` a NodeRewriter tracking `tracks` (ops or op classes).

    >>> import kiln.tensor as kt
    >>> @node_rewriter([kt.exp])
    ... def exp_of_log(fgraph, node):
    ...     x = node.inputs[0]
    ...     if x.owner is not None and x.owner.op == kt.log:
    ...         return [x.owner.inputs[0]]
    >>> exp_of_log.tracks == (kt.exp,)
    True
    """
    def deco(fn: Callable) -> NodeRewriter:
        return NodeRewriter(fn, tracks, name=name, phase=phase)
    return deco


class RuleIndex:
    """Rules indexed by what they track, so a node only meets rules that may apply."""

    def __init__(self, rules: Iterable[NodeRewriter]):
        self.by_op: dict[Any, list[NodeRewriter]] = collections.defaultdict(list)
        self.by_class: dict[type, list[NodeRewriter]] = collections.defaultdict(list)
        self.anywhere: list[NodeRewriter] = []
        self.rules = list(rules)
        for r in self.rules:
            if r.tracks is None:
                self.anywhere.append(r)
                continue
            for t in r.tracks:
                if isinstance(t, type):
                    self.by_class[t].append(r)
                else:
                    self.by_op[t].append(r)
        self._cache: dict[Any, list[NodeRewriter]] = {}

    def for_op(self, op: Any) -> list[NodeRewriter]:
        try:
            return self._cache[op]
        except (KeyError, TypeError):
            pass
        found: list[NodeRewriter] = []
        try:
            found.extend(self.by_op.get(op, ()))
        except TypeError:
            pass
        for cls in type(op).__mro__:
            found.extend(self.by_class.get(cls, ()))
        found.extend(self.anywhere)
        order = {id(r): k for k, r in enumerate(self.rules)}
        seen: dict[int, NodeRewriter] = {}
        for r in found:
            seen.setdefault(id(r), r)
        out = sorted(seen.values(), key=lambda r: order[id(r)])
        try:
            self._cache[op] = out
        except TypeError:
            pass
        return out


@dataclass
class Stats:
    """How often each rule fired, per phase (the data behind `explain`)."""

    counts: dict[tuple[str, str], int] = field(default_factory=collections.Counter)

    def record(self, phase: str, rule: str, n: int = 1) -> None:
        self.counts[(phase, rule)] += n


class _Tracker(Feature):
    """Queues nodes imported by rewrites and the clients of changed variables."""

    def __init__(self, queue: collections.deque, equilibrium: bool):
        self.queue = queue
        self.equilibrium = equilibrium

    def on_import(self, fgraph, node, reason):
        self.queue.append(node)

    def on_change_input(self, fgraph, node, i, old, new, reason):
        if self.equilibrium and node != OUTPUT:
            self.queue.append(node)

    def on_prune(self, fgraph, node, reason):
        # guards such as "x has no other client" (dot -> gemm, fusion of a single consumer)
        # may hold now: look again at a variable's last remaining client
        if self.equilibrium:
            for v in node.inputs:
                # called before `node` leaves its inputs' client lists
                cl = [c for c, _ in fgraph.clients.get(v, ()) if c is not node]
                if len(cl) == 1 and cl[0] != OUTPUT:
                    self.queue.append(cl[0])


def _check_and_fit(rule: NodeRewriter, node: Apply, old: Variable, new: Any, fgraph=None) -> Variable:
    if not isinstance(new, Variable):
        raise RewriteError(f"rewrite rule {rule.name!r} returned {new!r} for output {old.index} of "
                           f"{node.op}; expected a symbolic Variable")
    ot, nt = old.type, new.type
    if ot == nt or ot.is_super(nt):
        return new
    if not rule.strict_types:
        from kiln.rewrites.utils import fit_to

        try:
            return fit_to(new, old, node, fgraph)
        except (TypeError, ValueError) as e:
            raise RewriteError(f"rewrite rule {rule.name!r}: its replacement {new} (type {nt}) cannot "
                               f"stand for {old} (type {ot}), an output of {node.op}: {e}") from None
    same_kind = type(ot) is type(nt) and getattr(ot, "dtype", None) == getattr(nt, "dtype", None) and \
        getattr(ot, "ndim", None) == getattr(nt, "ndim", None)
    if same_kind:
        conv = ot.convert_variable(new)
        if conv is not None:
            return conv
    raise RewriteError(f"rewrite rule {rule.name!r} replaced {old} of type {ot} (an output of {node.op}) "
                       f"with {new} of type {nt}; a replacement must have the same type "
                       f"(dtype and number of dimensions)")


def apply_rule(fgraph: FunctionGraph, node: Apply, rule: NodeRewriter) -> bool | None:
    """Try one rule on one node; True when the graph changed, None when a feature refused."""
    try:
        result = rule.transform(fgraph, node)
    except RewriteError:
        raise
    except Exception as e:
        e.add_note(f"kiln: raised by rewrite rule {rule.name!r} on node {node}")
        raise
    if result is None or result is False:
        return False
    if isinstance(result, dict):
        pairs = list(result.items())
    else:
        result = list(result)
        if len(result) != len(node.outputs):
            raise RewriteError(f"rewrite rule {rule.name!r} returned {len(result)} replacement(s) for "
                               f"{node.op}, which has {len(node.outputs)} output(s)")
        pairs = list(zip(node.outputs, result))
    pairs = [(o, _check_and_fit(rule, node, o, n, fgraph)) for o, n in pairs if n is not None and n is not o]
    if not pairs:
        return False
    try:
        fgraph.replace_all(pairs, reason=rule.name)
    except InconsistencyError:
        return None  # refused by a feature (and rolled back)
    return True


def rewrite_graph(fgraph: FunctionGraph, rules: Sequence[NodeRewriter] | RuleIndex,
                  order: str = "in_to_out", equilibrium: bool = True, phase: str = "",
                  stats: Stats | None = None, max_steps: int | None = None) -> int:
    """Apply `rules` to fgraph until none fires (or one pass without equilibrium).

    Returns the number of successful rewrites.  `max_steps` (default 20 x nodes + 1000)
    stops rule sets that would cycle forever, with a RuntimeError naming the last rules.

    >>> import kiln.tensor as kt
    >>> from kiln.graph.fg import FunctionGraph
    >>> x = kt.vector("x")
    >>> fg = FunctionGraph([x], [-(-x)])
    >>> from kiln.rewrites.canonicalize import neg_neg
    >>> rewrite_graph(fg, [neg_neg])
    1
    >>> fg.outputs[0] is fg.inputs[0]
    True
    """
    index = rules if isinstance(rules, RuleIndex) else RuleIndex(rules)
    if not index.rules:
        return 0
    nodes = fgraph.toposort()
    if order == "out_to_in":
        nodes.reverse()
    elif order != "in_to_out":
        raise ValueError(f"unknown traversal order {order!r} (use 'in_to_out' or 'out_to_in')")
    queue = collections.deque(nodes)
    tracker = _Tracker(queue, equilibrium)
    fgraph.attach_feature(tracker)
    limit = max_steps if max_steps is not None else 20 * len(nodes) + 1000
    done = 0
    recent: collections.deque = collections.deque(maxlen=5)
    refused: set = set()
    try:
        while queue:
            node = queue.popleft()
            if node not in fgraph.apply_nodes:
                continue
            for rule in index.for_op(node.op):
                if (node, rule) in refused:
                    continue
                ok = apply_rule(fgraph, node, rule)
                if ok is None:
                    # the rollback re-imports the node; do not try the same change again
                    refused.add((node, rule))
                    continue
                if ok:
                    done += 1
                    recent.append(rule.name)
                    if stats is not None:
                        stats.record(phase, rule.name)
                    if done > limit:
                        raise RuntimeError(f"rewriting did not converge after {done} rewrites in phase "
                                           f"{phase!r}; last rules: {list(recent)}")
                    break
                if node not in fgraph.apply_nodes:
                    break
    finally:
        fgraph.remove_feature(tracker)
    return done
