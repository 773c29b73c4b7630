"""Cloning graphs and substituting variables in them."""
from __future__ import annotations

from typing import Mapping, Sequence

from kiln.graph.basic import Variable, copy_tag
from kiln.graph.traversal import io_toposort, orphans

__all__ = ["clone_get_equiv", "clone", "clone_replace", "graph_replace"]


def clone_get_equiv(inputs: Sequence[Variable], outputs: Sequence[Variable],
                    copy_inputs: bool = True, copy_orphans: bool = True,
                    memo: dict | None = None) -> dict:
    """Copy the graph between inputs and outputs; return {old variable or Apply: new}.

    Nodes are rebuilt with `clone_with_new_inputs(strict=True)`, so op and types are kept.
    """
    memo = {} if memo is None else memo
    for v in inputs:
        if v not in memo:
            memo[v] = v.clone() if copy_inputs else v
    for v in orphans(inputs, outputs):
        if v not in memo:
            memo[v] = v.clone() if copy_orphans else v
    for node in io_toposort(inputs, outputs):
        if node in memo:
            continue
        new_inputs = [memo.get(i, i) for i in node.inputs]
        new_node = node.clone_with_new_inputs(new_inputs, strict=True)
        memo[node] = new_node
        for old, new in zip(node.outputs, new_node.outputs):
            new.name = old.name
            new.tag = copy_tag(old.tag)
            memo.setdefault(old, new)
    return memo


def clone(inputs: Sequence[Variable], outputs: Sequence[Variable],
          copy_inputs: bool = True) -> tuple[list[Variable], list[Variable]]:
    equiv = clone_get_equiv(inputs, outputs, copy_inputs=copy_inputs)
    return [equiv[i] for i in inputs], [equiv[o] for o in outputs]


def clone_replace(output, replace: Mapping[Variable, Variable] | Sequence | None = None):
    """Clone `output` (a variable or list) with each key of `replace` swapped for its value.

    >>> import kiln.tensor as kt
    >>> x, y = kt.scalar("x"), kt.scalar("y")
    >>> z = clone_replace(x * 2, {x: y})
    >>> y in [a for a in z.owner.inputs]
    True
    """
    pairs = list(replace.items()) if isinstance(replace, Mapping) else list(replace or [])
    single = isinstance(output, Variable)
    outputs = [output] if single else list(output)
    # Replacement values are frozen as they are; only the graph above the keys is rebuilt.
    memo = {old: _coerce_like(old, new) for old, new in pairs}
    new_outs = _rebuild(outputs, memo)
    return new_outs[0] if single else new_outs


def graph_replace(outputs, replace: Mapping[Variable, Variable] | Sequence, strict: bool = True):
    """Replace variables in a graph, rebuilding only the nodes that depend on them.

    Unlike `clone_replace`, untouched parts of the graph are shared, not copied.
    """
    pairs = list(replace.items()) if isinstance(replace, Mapping) else list(replace)
    single = isinstance(outputs, Variable)
    outs = [outputs] if single else list(outputs)
    memo = {}
    for old, new in pairs:
        new = _coerce_like(old, new)
        if strict and old.type != new.type and not old.type.is_super(new.type):
            raise TypeError(f"graph_replace: {new} of type {new.type} cannot replace {old} of type {old.type}")
        memo[old] = new
    res = _rebuild(outs, memo, share_untouched=True)
    return res[0] if single else res


def _coerce_like(old: Variable, new) -> Variable:
    if isinstance(new, Variable):
        return new
    conv = getattr(old.type, "convert_value_to_variable", None)
    if conv is not None:
        return conv(new)
    return old.type.make_constant(new)


def _rebuild(outputs: Sequence[Variable], memo: dict, share_untouched: bool = False) -> list[Variable]:
    """Rebuild the ancestry of outputs through memo.  Nodes none of whose inputs changed are
    shared when `share_untouched`, else cloned."""
    stop = list(memo)
    for node in io_toposort(stop, outputs):
        new_inputs = [memo.get(i, i) for i in node.inputs]
        if share_untouched and all(a is b for a, b in zip(new_inputs, node.inputs)):
            continue
        if all(a.type == b.type for a, b in zip(new_inputs, node.inputs)):
            new_node = node.clone_with_new_inputs(new_inputs, strict=True)
        else:
            new_node = node.op.make_node(*new_inputs)
        for old, new in zip(node.outputs, new_node.outputs):
            if new.name is None:
                new.name = old.name
            memo[old] = new
    return [memo.get(o, o) for o in outputs]
