"""Walking graphs: ancestors, graph inputs, topological orders.

All walks are iterative (deep graphs must not hit Python's recursion limit).
"""
from __future__ import annotations

from typing import Iterable, Iterator, Sequence

from kiln.graph.basic import Apply, Constant, Variable

__all__ = ["ancestors", "graph_inputs", "toposort", "io_toposort", "applys_between",
           "variables_between", "vars_between", "orphans"]


def ancestors(outputs: Iterable[Variable], blockers: Iterable[Variable] = ()) -> list[Variable]:
    """Every variable the outputs depend on (outputs included), not walking past blockers.

    >>> import kiln.tensor as kt
    >>> x = kt.scalar("x"); y = x + 1
    >>> x in ancestors([y])
    True
    """
    stop = set(blockers)
    seen: set[int] = set()
    order: list[Variable] = []
    stack = list(outputs)[::-1]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        order.append(v)
        if v.owner is not None and v not in stop:
            stack.extend(reversed(v.owner.inputs))
    return order


def graph_inputs(outputs: Iterable[Variable], blockers: Iterable[Variable] = ()) -> list[Variable]:
    """The ownerless variables (inputs and constants) the outputs depend on, plus blockers reached."""
    stop = set(blockers)
    return [v for v in ancestors(outputs, stop) if v.owner is None or v in stop]


def io_toposort(inputs: Sequence[Variable], outputs: Sequence[Variable]) -> list[Apply]:
    """Apply nodes between inputs and outputs, each after the nodes it depends on.

    `inputs` may be a set, which is then used as is (FunctionGraph passes its own).
    Raises ValueError when the graph has a cycle.

    >>> import kiln.tensor as kt
    >>> x = kt.vector("x"); a = kt.exp(x); b = kt.sin(a)
    >>> [str(n.op) for n in io_toposort([x], [b * a])]
    ['exp', 'sin', 'mul']
    """
    stop = inputs if isinstance(inputs, (set, frozenset)) else set(inputs)
    order: list[Apply] = []
    # Apply nodes hash by identity in C; a Variable subclass may hash in Python (slower),
    # so the `stop` lookup comes last.
    done: set[Apply] = set()
    onstack: set[Apply] = set()
    for out in outputs:
        root = out.owner
        if root is None or root in done or out in stop:
            continue
        # iterative post-order DFS: each frame is (node, index of the next input to visit)
        onstack.add(root)
        stack = [(root, 0)]
        while stack:
            node, i = stack[-1]
            ins = node.inputs
            if i < len(ins):
                stack[-1] = (node, i + 1)
                inp = ins[i]
                parent = inp.owner
                if parent is not None and parent not in done and inp not in stop:
                    if parent in onstack:
                        raise ValueError(f"graph has a cycle through {parent}")
                    onstack.add(parent)
                    stack.append((parent, 0))
            else:
                stack.pop()
                onstack.discard(node)
                done.add(node)
                order.append(node)
    return order


def toposort(outputs: Sequence[Variable], blockers: Sequence[Variable] = ()) -> list[Apply]:
    """Topological order of every Apply the outputs depend on."""
    return io_toposort(list(blockers), list(outputs))


def applys_between(inputs: Sequence[Variable], outputs: Sequence[Variable]) -> list[Apply]:
    return io_toposort(inputs, outputs)


def variables_between(inputs: Sequence[Variable], outputs: Sequence[Variable]) -> list[Variable]:
    """Variables on some path from inputs to outputs (inputs and outputs included)."""
    result: list[Variable] = []
    seen: set[int] = set()

    def add(v: Variable) -> None:
        if id(v) not in seen:
            seen.add(id(v))
            result.append(v)

    for v in list(inputs):
        add(v)
    for node in io_toposort(inputs, outputs):
        for v in node.inputs + node.outputs:
            add(v)
    for v in outputs:
        add(v)
    return result


vars_between = variables_between


def orphans(inputs: Sequence[Variable], outputs: Sequence[Variable]) -> list[Variable]:
    """Ownerless variables reached from outputs that are not among inputs (constants, missing inputs)."""
    stop = set(inputs)
    return [v for v in ancestors(outputs, stop) if v.owner is None and v not in stop]


def iter_nodes(outputs: Sequence[Variable]) -> Iterator[Apply]:
    yield from toposort(outputs)


def is_constant(v: Variable) -> bool:
    return isinstance(v, Constant)


def __getattr__(name: str):
    # PyTensor's other traversal names live in kiln.graph.walk (which imports this module)
    if name.startswith("__"):   # import machinery probes (__path__, ...): not graph walks
        raise AttributeError(name)
    from kiln.graph import walk

    if name in walk.__all__:
        return getattr(walk, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
