"""Rule databases: rules stored under names, each with a phase and tags.

The standard rule sets register themselves in `GLOBAL_DB` when kiln.rewrites is
imported; users add theirs with `register`.  A Mode selects rules by tag or name
(`including`/`excluding`), and the pipeline asks the database for the rules of
each phase.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from kiln.rewrites.engine import NodeRewriter

__all__ = ["GraphRewriter", "Entry", "RewriteDB", "GLOBAL_DB", "register", "unregister", "PHASE_NAMES"]

#: the phases a rule may be registered in (the order is the pipeline's, see pipeline.py)
PHASE_NAMES = ("merge", "canonicalize", "stabilize", "specialize", "fusion", "inplace", "final_merge")


class GraphRewriter:
    """A rule over the whole graph (merge, fusion, inplace): `apply(fgraph) -> number of changes`."""

    name = "graph_rewriter"
    phase: str | None = None

    def apply(self, fgraph) -> int:
        raise NotImplementedError


@dataclass(frozen=True)
class Entry:
    """One registered rule: where it runs and how it is selected."""

    rule: Any
    phase: str
    tags: frozenset
    default: bool = True

    @property
    def name(self) -> str:
        return self.rule.name

    def selected(self, include: Iterable[str], exclude: Iterable[str]) -> bool:
        """Excluded by name or any tag wins; otherwise on by default or when included."""
        keys = {self.name, *self.tags}
        if keys & set(exclude):
            return False
        return self.default or bool(keys & set(include))


class RewriteDB:
    """An ordered collection of rules keyed by name.

    >>> import kiln.tensor as kt
    >>> from kiln.rewrites.pattern import pattern_rule
    >>> db = RewriteDB()
    >>> db.register(pattern_rule((kt.neg, (kt.neg, "x")), "x", name="nn"), phase="canonicalize")
    >>> [e.name for e in db.entries_for("canonicalize")]
    ['nn']
    """

    def __init__(self):
        self._entries: dict[str, Entry] = {}

    def register(self, rule: Any, phase: str = "canonicalize", tags: Sequence[str] = (),
                 default: bool = True) -> None:
        """Add (or replace, by name) a rule in `phase`, selectable by its name and `tags`."""
        if phase not in PHASE_NAMES:
            raise ValueError(f"register: unknown phase {phase!r} (phases: {', '.join(PHASE_NAMES)})")
        if not isinstance(rule, (NodeRewriter, GraphRewriter)):
            raise TypeError(f"register: {rule!r} is not a rule; make one with @node_rewriter or pattern_rule")
        if isinstance(tags, str):
            tags = (tags,)
        self._entries[rule.name] = Entry(rule, phase, frozenset(tags) | {phase}, default)

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __getitem__(self, name: str) -> Entry:
        return self._entries[name]

    def entries_for(self, phase: str, include: Iterable[str] = (), exclude: Iterable[str] = (),
                    only_tags: frozenset | None = None) -> list[Entry]:
        """The selected entries of `phase`, in registration order."""
        out = []
        for e in self._entries.values():
            if e.phase != phase or not e.selected(include, exclude):
                continue
            if only_tags is not None and not ({e.name, *e.tags} & only_tags):
                continue
            out.append(e)
        return out

    def names(self) -> list[str]:
        return list(self._entries)


GLOBAL_DB = RewriteDB()


def register(rule: Any, phase: str = "canonicalize", tags: Sequence[str] = (), default: bool = True,
             db: RewriteDB | None = None) -> Any:
    """Register a rule for every later compile (returns the rule, so it also works as a decorator
    argument chain).  With `default=False` the rule only runs in modes that include one of its
    tags or its name.

    >>> import kiln.tensor as kt
    >>> from kiln.rewrites import pattern_rule
    >>> r = register(pattern_rule((kt.mul, "x", (kt.reciprocal, "x")), 1, name="doc_mul_recip"),
    ...              phase="canonicalize", tags=["mine"], default=False)
    >>> unregister("doc_mul_recip")
    """
    (db or GLOBAL_DB).register(rule, phase=phase, tags=tags, default=default)
    return rule


def unregister(name: str, db: RewriteDB | None = None) -> None:
    """Remove a registered rule by name (no error when absent)."""
    (db or GLOBAL_DB).unregister(name)
