"""Cloning graphs and substituting variables in them."""
from __future__ import annotations

from typing import Mapping, Sequence

from kiln.graph.basic import Variable, copy_tag
from kiln.graph.traversal import io_toposort, orphans

__all__ = ["clone_get_equiv", "clone", "clone_replace", "graph_replace", "vectorize_graph"]


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


def vectorize_graph(outputs, replace: Mapping[Variable, Variable]):
    """Batch a graph (PyTensor's `vectorize_graph`): `replace` maps variables of the graph of
    `outputs` to versions with extra batch axes on the left; the result computes `outputs` for
    every batch entry, with the batch axes in front (batch axes of several replacements
    broadcast together).  Variables not in `replace` stay unbatched.  A single output gives a
    single variable, a list gives a list.

    >>> import numpy as np, kiln.tensor as kt
    >>> x = kt.dvector("x")
    >>> y = x / x.sum()
    >>> xb = kt.dmatrix("xb")
    >>> yb = vectorize_graph(y, {x: xb})
    >>> yb.eval({xb: np.array([[1.0, 3.0], [2.0, 2.0]])}).tolist()
    [[0.25, 0.75], [0.5, 0.5]]
    """
    from kiln.tensor.compat_extra import vectorize   # the tensor layer builds the batched graph

    single = isinstance(outputs, Variable)
    outs = [outputs] if single else list(outputs)
    pairs = list(replace.items()) if isinstance(replace, Mapping) else list(replace)
    old = [o for o, _ in pairs]
    for o, n in pairs:
        if getattr(n, "ndim", None) is None or n.ndim < o.ndim:
            raise ValueError(f"vectorize_graph: {n} cannot batch {o}: it has fewer dimensions")
        if n.type.dtype != o.type.dtype:
            raise TypeError(f"vectorize_graph: {n} ({n.type.dtype}) cannot replace {o} ({o.type.dtype})")

    # unique core-dimension names: the graph itself already checks which lengths must agree
    sig = ",".join(f"({','.join(f'i{k}_{d}' for d in range(o.ndim))})" for k, o in enumerate(old))
    sig += "->" + ",".join(f"({','.join(f'o{k}_{d}' for d in range(o.ndim))})" for k, o in enumerate(outs))
    batched = vectorize(lambda *core_vars: graph_replace(outs, dict(zip(old, core_vars))), signature=sig)
    res = batched(*[n for _, n in pairs])
    res = res if isinstance(res, list) else [res]
    return res[0] if single else res
