"""A graph's C layout as plain data: which nodes form which segment, and for every kernel
the order of its operands in the module's descriptor array.

The C linker finds both by lowering every node (kiln.linkers.c.lower: the lowering
tables and the kernel IR they build, ~8 ms to import).  A warm start needs neither the
kernel IR nor the C text, only the run-time plan, so the cold start records the layout
while lowering (`Recorder`) and the warm entry (kiln.linkers.cache.warm) stores it with
the rewritten graph; the warm start replays it (`Layout`) to rebuild the same plan.

The data (`Layout.data`, builtins only) is, for the nodes of the graph in
`canonical_order`:

- `ops`: each node's op class (module and qualified name), checked on replay so that a
  layout never drives a graph it was not recorded on;
- `groups`: ("s", positions) for a C segment, ("p", positions) for python steps (nodes
  absent from every group are views of constants, computed once when the runner is made);
- `kernels`: {position: operand refs} for the kernel nodes, a ref being k for the node's
  input k and -1 - k for its output k, in the order the lowering asked for descriptors.

A layout is exact for the graph it was recorded on under the same lowering tables; the
warm signature covers both (kiln's source fingerprint and user-added table entries).

>>> import kiln.tensor as kt
>>> from kiln.graph.fg import FunctionGraph
>>> from kiln.linkers.c.linker import canonical_order
>>> x = kt.vector("x")
>>> fg = FunctionGraph([x], [kt.exp(x) * x])
>>> order = canonical_order(fg)
>>> rec = Recorder(order)
>>> kernels = [rec(n, lambda v: 0) for n in order]
>>> data = rec.data([("s", order)])
>>> data["groups"], data["kernels"]
((('s', (0, 1)),), {0: (-1, 0), 1: (-1, 0, 1)})
>>> Layout.replayable(data, order).is_kernel(order[1])
True
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

__all__ = ["Layout", "Recorder"]


def _op_name(node: Any) -> str:
    t = type(node.op)
    return f"{t.__module__}.{t.__qualname__}"


def _operand(node: Any, ref: int) -> Any:
    return node.inputs[ref] if ref >= 0 else node.outputs[-1 - ref]


class Layout:
    """A stored layout bound to the nodes of one graph (in canonical order), replayed as
    the lowering: `layout(node, buf)` asks `buf` for the node's operands in the recorded
    order and returns True for a kernel, None for a view."""

    __slots__ = ("data", "_pos", "_kernels")

    def __init__(self, data: dict, order: Sequence[Any]):
        self.data = data
        self._pos = {n: k for k, n in enumerate(order)}
        self._kernels = data["kernels"]

    @classmethod
    def replayable(cls, data: Any, order: Sequence[Any]) -> "Layout | None":
        """The layout `data` bound to `order`, or None when it does not fit these nodes
        exactly (another graph, a malformed entry): the linker then lowers as usual."""
        if data is None:
            return None
        try:
            ops, groups, kernels = data["ops"], data["groups"], data["kernels"]
            if len(ops) != len(order) or any(name != _op_name(n) for name, n in zip(ops, order)):
                return None
            seen: set[int] = set()
            for tag, positions in groups:
                if tag not in ("s", "p"):
                    return None
                for k in positions:
                    if type(k) is not int or not 0 <= k < len(order) or k in seen:
                        return None
                    seen.add(k)
            for k, refs in kernels.items():
                node = order[k] if type(k) is int and 0 <= k < len(order) else None
                if node is None:
                    return None
                if k not in seen or not all(type(r) is int and -len(node.outputs) <= r < len(node.inputs)
                                            for r in refs):
                    return None
        except (TypeError, KeyError, ValueError, AttributeError, IndexError):
            return None
        return cls(data, order)

    def node_groups(self, order: Sequence[Any]) -> list[tuple[str, list[Any]]]:
        """The recorded groups as (tag, nodes) of `order`."""
        return [(tag, [order[k] for k in positions]) for tag, positions in self.data["groups"]]

    def is_kernel(self, node: Any) -> bool:
        return self._pos[node] in self._kernels

    def __call__(self, node: Any, buf: Callable[[Any], int]) -> bool | None:
        refs = self._kernels.get(self._pos[node])
        if refs is None:
            return None
        for r in refs:
            buf(_operand(node, r))
        return True


class Recorder:
    """Lowers nodes with kiln's lowering tables (`recorder(node, buf)` returns the kernel,
    as `lower_node` does) and records what a `Layout` needs to replay it."""

    def __init__(self, order: Sequence[Any]):
        from kiln.linkers.c.lower import lower_node

        self._lower = lower_node
        self._order = order
        self._pos = {n: k for k, n in enumerate(order)}
        self._kernels: dict[int, tuple[int, ...]] = {}
        self._ok = True

    def is_kernel(self, node: Any) -> bool:
        return self._lower(node) is not None

    def __call__(self, node: Any, buf: Callable[[Any], int]) -> Any:
        asked: list[Any] = []

        def record(v: Any) -> int:
            asked.append(v)
            return buf(v)

        kernel = self._lower(node, record)
        if kernel is not None:
            refs = []
            for v in asked:
                r = next((-1 - k for k, o in enumerate(node.outputs) if o is v), None)
                if r is None:
                    r = next((k for k, i in enumerate(node.inputs) if i is v), None)
                if r is None:   # a lowering that asks for a variable of another node: not replayable
                    self._ok = False
                    break
                refs.append(r)
            self._kernels[self._pos[node]] = tuple(refs)
        return kernel

    def data(self, groups: Sequence[tuple[str, Sequence[Any]]]) -> dict | None:
        """The layout of `groups` (tag, nodes) as plain data, or None when some lowering
        cannot be replayed."""
        if not self._ok:
            return None
        return {"ops": tuple(_op_name(n) for n in self._order),
                "groups": tuple((tag, tuple(self._pos[n] for n in nodes)) for tag, nodes in groups),
                "kernels": dict(self._kernels)}
