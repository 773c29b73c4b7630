"""More graph walks, under PyTensor's names (pytensor.graph.traversal / graph.basic):
explicit_graph_inputs, variable/apply_depends_on, walk, general_toposort, apply/variable_ancestors,
orphans_between, truncated_graph_inputs, get_var_by_name, equal_computations.

All are iterative, as in kiln.graph.traversal.

>>> import kiln.tensor as kt
>>> x, y = kt.dscalar("x"), kt.dscalar("y")
>>> z = x * 2 + kt.constant(1.0)
>>> [v.name for v in explicit_graph_inputs(z)]
['x']
>>> variable_depends_on(z, [x]), variable_depends_on(z, [y])
(True, False)
>>> equal_computations([x * 2 + 1.0], [z]), equal_computations([y * 2 + 1.0], [z])
(True, False)
"""
from __future__ import annotations

from collections import deque
from typing import Any, Callable, Hashable, Iterable, Iterator, Sequence, TypeVar

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.traversal import ancestors

__all__ = ["explicit_graph_inputs", "variable_depends_on", "apply_depends_on", "walk",
           "general_toposort", "apply_ancestors", "variable_ancestors", "orphans_between",
           "truncated_graph_inputs", "get_var_by_name", "equal_computations"]

T = TypeVar("T")


def _as_list(graph: Variable | Iterable[Variable]) -> list[Variable]:
    return [graph] if isinstance(graph, Variable) else list(graph)


def explicit_graph_inputs(graph: Variable | Iterable[Variable]) -> Iterator[Variable]:
    """The root variables a function computing `graph` must be given: ownerless variables
    that are neither constants nor shared variables."""
    from kiln.compile.sharedvalue import SharedVariable

    for v in ancestors(_as_list(graph)):
        if v.owner is None and not isinstance(v, (Constant, SharedVariable)):
            yield v


def variable_depends_on(variable: Variable, depends_on: Variable | Iterable[Variable]) -> bool:
    """Whether any of `depends_on` is among `variable`'s ancestors (itself included)."""
    return _depends_on_any([variable], set(_as_list(depends_on)))


def apply_depends_on(apply: Apply, depends_on: Apply | Iterable[Apply]) -> bool:
    """Whether any of the Apply nodes `depends_on` is `apply` or one of its ancestors."""
    targets = {id(a) for a in ([depends_on] if isinstance(depends_on, Apply) else depends_on)}
    return any(id(n) in targets for n in apply_ancestors(apply.outputs[:1]))


def walk(nodes: Iterable[T], expand: Callable[[T], Iterable[T] | None], bfs: bool = True,
         return_children: bool = False, hash_fn: Callable[[T], Hashable] = id) -> Iterator[Any]:
    """Visit each node reachable from `nodes` through `expand` once, breadth-first (or
    depth-first); with return_children, yield (node, expand(node)) pairs."""
    todo = deque(nodes)
    seen: set = set()
    pop = todo.popleft if bfs else todo.pop
    while todo:
        n = pop()
        key = hash_fn(n)
        if key in seen:
            continue
        seen.add(key)
        kids = expand(n)
        yield (n, kids) if return_children else n
        if kids:
            todo.extend(kids if bfs else list(kids)[::-1])


def general_toposort(outputs: Iterable[T], deps: Callable[[T], Iterable[T] | None], **_: Any) -> list[T]:
    """Every node reachable from `outputs` through `deps`, each after its dependencies."""
    order: list[T] = []
    done: set[int] = set()
    on_stack: set[int] = set()
    for root in outputs:
        stack = [(root, False)]
        while stack:
            n, expanded = stack.pop()
            if id(n) in done:
                continue
            if expanded:
                on_stack.discard(id(n))
                done.add(id(n))
                order.append(n)
                continue
            if id(n) in on_stack:
                raise ValueError("general_toposort: the graph has a cycle")
            on_stack.add(id(n))
            stack.append((n, True))
            for d in reversed(list(deps(n) or ())):
                if id(d) not in done:
                    stack.append((d, False))
    return order


def variable_ancestors(graphs: Iterable[Variable], blockers: Iterable[Variable] | None = None) -> Iterator[Variable]:
    """The variables that contribute to `graphs` (included), not walking past blockers."""
    yield from ancestors(list(graphs), blockers or ())


def apply_ancestors(graphs: Iterable[Variable], blockers: Iterable[Variable] | None = None) -> Iterator[Apply]:
    """The Apply nodes that contribute to `graphs`, each once."""
    stop = set(blockers or ())
    seen: set[int] = set()
    for v in ancestors(list(graphs), stop):
        if v.owner is not None and v not in stop and id(v.owner) not in seen:
            seen.add(id(v.owner))
            yield v.owner


def orphans_between(ins: Iterable[Variable], outs: Iterable[Variable]) -> Iterator[Variable]:
    """Root variables of the graph of `outs` that are not among `ins` (constants, missing inputs)."""
    stop = set(ins)
    for v in ancestors(list(outs), stop):
        if v.owner is None and v not in stop:
            yield v


def truncated_graph_inputs(outputs: Sequence[Variable],
                           ancestors_to_include: Iterable[Variable] | None = None) -> list[Variable]:
    """The variables closest to `outputs` that do not depend on `ancestors_to_include`, plus the
    included ancestors the outputs reach: together they suffice to compute the outputs.  With
    no ancestors to include, the outputs themselves.  An included ancestor computed from other
    included ones is returned and walked past, so those are returned too."""
    include = set(ancestors_to_include or ())
    result: list[Variable] = []
    seen: set[Variable] = set()
    if not include:
        for v in outputs:
            if v not in seen:
                seen.add(v)
                result.append(v)
        return result
    todo = list(outputs)
    while todo:
        v = todo.pop()
        if v in seen:
            continue
        seen.add(v)
        if v in include:
            result.append(v)
            if v.owner is not None and _depends_on_any(v.owner.inputs, include):
                todo.extend(i for i in v.owner.inputs if i not in seen)
        elif v.owner is not None and _depends_on_any([v], include):
            todo.extend(v.owner.inputs)
        else:
            result.append(v)   # independent of every included ancestor: an input here
    return result


def _depends_on_any(vars_: Iterable[Variable], targets: set) -> bool:
    """Whether any of `targets` is among the ancestors of `vars_` (themselves included)."""
    return any(a in targets for a in ancestors(list(vars_)))


def get_var_by_name(graphs: Iterable[Variable], target_var_id: str) -> tuple[Variable, ...]:
    """The variables of the graphs whose name (or auto name) is `target_var_id`."""
    return tuple(v for v in ancestors(list(graphs))
                 if v.name == target_var_id or getattr(v, "auto_name", None) == target_var_id)


def equal_computations(xs: Sequence[Any], ys: Sequence[Any], in_xs: Sequence[Variable] | None = None,
                       in_ys: Sequence[Variable] | None = None, strict_dtype: bool = True) -> bool:
    """Whether the graphs `xs` and `ys` compute the same thing: same ops with equal props on
    equal constants and the same root variables (or the pairs given by in_xs/in_ys)."""
    if len(xs) != len(ys):
        raise ValueError("equal_computations: xs and ys must have the same length")
    pairs: dict[int, int] = {}
    for a, b in zip(in_xs or (), in_ys or ()):
        if a.type != b.type:
            return False
        pairs[id(a)] = id(b)

    def same_value(a: Any, b: Any) -> bool:
        a_arr, b_arr = isinstance(a, np.ndarray), isinstance(b, np.ndarray)
        if a_arr or b_arr:
            return a_arr and b_arr and a.dtype == b.dtype and a.shape == b.shape and \
                bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
        return None   # not values: compare as variables

    memo: dict[tuple[int, int], bool] = {}

    def same(a: Any, b: Any) -> bool:
        v = same_value(a, b)
        if v is not None:
            return v
        key = (id(a), id(b))
        if key in memo:
            return memo[key]
        stack = [(a, b)]
        ok = True
        while stack and ok:
            x, y = stack.pop()
            k = (id(x), id(y))
            if k in memo or x is y:
                continue
            memo[k] = True
            if id(x) in pairs or id(y) in pairs.values():
                ok = pairs.get(id(x)) == id(y)
            elif strict_dtype and x.type != y.type:
                ok = False
            elif isinstance(x, Constant) or isinstance(y, Constant):
                ok = isinstance(x, Constant) and isinstance(y, Constant) and x.equals(y)
            elif x.owner is None or y.owner is None:
                ok = False        # distinct root variables
            elif x.owner.op != y.owner.op or x.index != y.index or len(x.owner.inputs) != len(y.owner.inputs):
                ok = False
            else:
                stack.extend(zip(x.owner.inputs, y.owner.inputs))
            memo[k] = ok
        memo[key] = ok
        return ok

    return all(same(a, b) for a, b in zip(xs, ys))
