"""Ops that hold a frozen inner graph (fused kernels, OpFromGraph, scan bodies).

The inner graph is a FunctionGraph owned by the op.  Two such ops are equal when
their inner graphs are structurally equal (same ops, same wiring, same input
types, equal constants), which `graph_signature` summarizes as a hashable value.
"""
from __future__ import annotations

from typing import Any, Hashable, Sequence

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.fg import FunctionGraph
from kiln.graph.flat import freeze_graph, thaw_graph
from kiln.graph.op import Op

__all__ = ["InnerGraphMixin", "InnerGraphOp", "graph_signature"]


def graph_signature(inputs: Sequence[Variable], outputs: Sequence[Variable]) -> Hashable:
    """A hashable structural summary of the graph from inputs to outputs.

    Variables are numbered in topological order, so the summary does not depend on
    names or object identities.
    """
    from kiln.graph.traversal import io_toposort

    index: dict[Variable, int] = {}
    parts: list[Any] = []
    for v in inputs:
        index[v] = len(index)
        parts.append(("in", v.type))

    def ref(v: Variable) -> Hashable:
        if v in index:
            return index[v]
        if isinstance(v, Constant):
            return ("const", v.signature())
        raise ValueError(f"graph_signature: {v} is not reachable from the inputs")

    for node in io_toposort(inputs, outputs):
        parts.append((node.op, tuple(ref(i) for i in node.inputs)))
        for o in node.outputs:
            index[o] = len(index)
    parts.append(("out", tuple(ref(o) for o in outputs)))
    return tuple(parts)


class InnerGraphMixin:
    """What every op holding a frozen inner graph shares: the graph, its structural
    signature (the op's identity), a cached hash, and flat pickling.

    Used by `InnerGraphOp` (tensor-level) and `kiln.scalar.composite.Composite` (scalar
    level).  `_derived_attrs` names per-instance caches that are reset when pickling.
    """

    _derived_attrs: tuple[str, ...] = ()

    def _set_inner_graph(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                         name: str | None) -> None:
        self.fgraph = FunctionGraph(inputs, outputs, clone=True)
        self.signature = graph_signature(self.fgraph.inputs, self.fgraph.outputs)
        self.name = name
        for attr in self._derived_attrs:
            setattr(self, attr, None)

    @property
    def inner_inputs(self) -> list[Variable]:
        return self.fgraph.inputs

    @property
    def inner_outputs(self) -> list[Variable]:
        return self.fgraph.outputs

    def __hash__(self) -> int:
        # The signature can be large (a fused kernel, a scan body) and merge hashes ops
        # often; the op is immutable, so compute the hash once.
        h = self.__dict__.get("_hash")
        if h is None:
            h = self.__dict__["_hash"] = super().__hash__()
        return h

    def __eq__(self, other: Any) -> bool:
        return self is other or (type(self) is type(other) and hash(self) == hash(other)
                                 and super().__eq__(other))

    def __getstate__(self) -> dict:
        # the inner graph travels flat (see kiln.graph.flat): deep inner graphs would
        # otherwise hit the recursion limit; the signature is rebuilt from it on arrival
        d = super().__getstate__()
        d.pop("_hash", None)  # str hashes differ between processes
        d.pop("signature", None)
        for attr in self._derived_attrs:
            d[attr] = None
        d["fgraph"] = freeze_graph(self.fgraph)
        return d

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.fgraph = thaw_graph(state["fgraph"])
        self.signature = graph_signature(self.fgraph.inputs, self.fgraph.outputs)


class InnerGraphOp(InnerGraphMixin, Op):
    """Base for ops defined by an inner graph; `perform` interprets the inner graph.

    Subclasses may add parameters (list them in `__props__` after `signature`).
    """

    __props__ = ("signature",)
    _derived_attrs = ("_runner",)

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable], name: str | None = None):
        self._set_inner_graph(inputs, outputs, name)

    def __str__(self) -> str:
        return self.name or type(self).__name__

    def make_node(self, *inputs: Any) -> Apply:

        if len(inputs) != len(self.inner_inputs):
            raise TypeError(f"{self}: expected {len(self.inner_inputs)} inputs, got {len(inputs)}")
        ins = []
        for i, (x, inner) in enumerate(zip(inputs, self.inner_inputs)):
            x = x if isinstance(x, Variable) else inner.type.make_constant(x)
            if not inner.type.is_super(x.type):
                conv = inner.type.convert_variable(x)
                if conv is None:
                    raise TypeError(f"{self}: input {i} has type {x.type}, expected {inner.type}")
                x = conv
            ins.append(x)
        return Apply(self, ins, [o.type() for o in self.inner_outputs])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list]) -> None:
        if self._runner is None:
            from kiln.linkers.python import PythonLinker

            self._runner = PythonLinker().make_runner(self.fgraph)
        outs = self._runner(list(inputs))
        arrays = [x for x in inputs if isinstance(x, np.ndarray)]
        for store, val in zip(output_storage, outs):
            # The op declares no view_map, so an output must not alias an input (an inner
            # output may simply be an inner input, or a view of one).
            if isinstance(val, np.ndarray) and any(np.may_share_memory(val, x) for x in arrays):
                val = val.copy()
            store[0] = val

    def infer_shape(self, fgraph, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        return self.outer_shapes(node, input_shapes)

    def outer_shapes(self, node: Apply, input_shapes: list[tuple], bound: int = 0) -> list[tuple]:
        """The inner outputs' shapes for inner inputs of `input_shapes`, in outer variables.

        An inner shape may be computed from an inner input's *value* (a reshape to a computed
        shape): it is moved onto the node's input in that position, except for the first
        `bound` inputs (a Map's sequence entries, which have no outer name: NotImplementedError).
        inner=True: an inner node without infer_shape raises NotImplementedError rather than
        leaking inner variables into the outer graph; the caller then uses the outer output."""
        from kiln.graph.replace import graph_replace
        from kiln.graph.traversal import graph_inputs
        from kiln.tensor.shape import infer_graph_shapes

        shapes = infer_graph_shapes(self.inner_inputs, self.inner_outputs, input_shapes, inner=True)
        syms = [d for s in shapes for d in s if isinstance(d, Variable)]
        pos = {v: i for i, v in enumerate(self.inner_inputs)}
        roots = [v for v in graph_inputs(syms) if v in pos]
        if any(pos[v] < bound for v in roots):
            raise NotImplementedError(f"{self}: an output's shape depends on the values of a sequence entry")
        if roots:
            moved = iter(graph_replace(syms, {v: node.inputs[pos[v]] for v in roots}, strict=False))
            shapes = [tuple(next(moved) if isinstance(d, Variable) else d for d in s) for s in shapes]
        return [tuple(s) for s in shapes]
