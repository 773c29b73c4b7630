"""FusedReduce: a small tree of elementwise ops and reductions evaluated as one loop nest.

The op holds an inner graph of `Elemwise` (any scalar op, Composites included), `DimShuffle`
and `Reduce` (Sum/Prod/Max/Min/Any/All) nodes with one output.  Reductions may nest: the
KeOps kernel ``sum_j exp(-sum_k (x[i,k] - y[j,k])**2) * b[j]`` is one FusedReduce whose
inner graph is Sum{1}(exp(-Sum{2}(sqr(x' - y'))) * b').

All axes of the inner graph live in one broadcast iteration space: `axis_plan` unifies the
dimensions of the inner variables (an Elemwise ties its inputs' and output's dims together,
a DimShuffle maps dims, a Reduce drops the dims it reduces) into global *loop axes*.  Every
inner variable then varies along a set of loop axes (its domain); a dim whose static length
is 1 is a broadcast and belongs to no axis.  A backend evaluates the output at each point of
its axes with scalar accumulators for the reductions, so no intermediate array exists.

`perform` (the reference semantics) runs the inner graph with NumPy on chunks of the first
output axis (or, for a 0-d output, of an axis of the outermost reduction, combining partial
results), so memory stays bounded by about `CHUNK_ELEMS` elements per intermediate instead
of the full broadcast size (the KeOps case needs O(N + M) memory, not O(N M)).

The op is created by the fusion phase (kiln/rewrites/reduce_fusion.py), which runs after
gradients are taken, so compiled graphs never differentiate it; for a FusedReduce built by
hand, `jvp` inlines the inner graph (reverse mode then transposes the standard ops).
`infer_shape` comes from the inner graph.

>>> import numpy as np, kiln.tensor as kt
>>> x = kt.dmatrix("x")
>>> op = FusedReduce([x], [kt.sum(kt.exp(x), axis=1)])
>>> v = np.arange(6.0).reshape(2, 3)
>>> np.allclose(op_eval(op, [v]), np.exp(v).sum(1))
True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.inner import InnerGraphOp
from kiln.tensor.elemwise import DimShuffle, Elemwise
from kiln.tensor.reduction import Reduce
from kiln.tensor.type import TensorType

__all__ = ["FusedReduce", "AxisPlan", "axis_plan", "FusionError", "CHUNK_ELEMS", "op_eval"]

#: perform evaluates the inner graph on chunks whose broadcast size is about this many elements
CHUNK_ELEMS = 1 << 20
#: how partial results of the outermost reduction combine when perform splits a reduced axis
_COMBINE = {"Sum": np.add, "Prod": np.multiply, "Max": np.maximum, "Min": np.minimum, "Any": np.logical_or,
            "All": np.logical_and}


class FusionError(ValueError):
    """The graph cannot be evaluated as one loop nest (the rewrite then leaves it alone)."""


@dataclass(frozen=True)
class AxisPlan:
    """The loop axes of a FusedReduce inner graph.

    n_axes: number of loop axes (numbered 0.. in order of first appearance in the inputs);
    dims: per inner variable, the loop axis of each dim (None = static length 1, a broadcast);
    reduced: per Reduce node, the loop axes it reduces (disjoint between reductions);
    output_axes: the output's dims as loop axes (None for static length-1 dims);
    input_axes: per inner input, its dims as loop axes.
    """

    n_axes: int
    dims: dict
    reduced: dict
    output_axes: tuple
    input_axes: tuple

    def dom(self, v: Variable) -> frozenset:
        """The loop axes `v` varies along."""
        return frozenset(a for a in self.dims[v] if a is not None)

    def axis_sizes(self, shapes: Sequence[tuple], who: str = "FusedReduce") -> list[int]:
        """Run-time length of every loop axis from the inputs' shapes (broadcasting 1s).

        Raises ValueError (NumPy's broadcast error, naming the op) when lengths disagree."""
        sizes = [1] * self.n_axes
        seen = [False] * self.n_axes
        for shp, axes in zip(shapes, self.input_axes):
            for n, a in zip(shp, axes):
                if a is None or n == 1:
                    continue
                if seen[a] and sizes[a] != n:
                    raise ValueError(f"{who}: operands could not be broadcast together with shapes "
                                     f"{' '.join(map(str, shapes))}")
                sizes[a], seen[a] = int(n), True
        return sizes


def _find(parent: dict, k):
    while parent[k] != k:
        parent[k] = parent[parent[k]]
        k = parent[k]
    return k


def axis_plan(inputs: Sequence[Variable], outputs: Sequence[Variable], nodes: Sequence[Apply]) -> AxisPlan:
    """Unify the dims of an inner graph into loop axes; FusionError if it is not one loop nest.

    `nodes` are the inner graph's nodes in topological order.
    """
    if len(outputs) != 1:
        raise FusionError("one output expected")
    parent: dict = {}

    def key(v, d):
        k = (v, d)
        parent.setdefault(k, k)
        return k

    def bcast(v, d) -> bool:
        return v.type.shape[d] == 1

    def union(a, b):
        ra, rb = _find(parent, a), _find(parent, b)
        if ra != rb:
            parent[rb] = ra

    variables = list(inputs)
    red_dims: dict = {}
    for node in nodes:
        op = node.op
        if any(not isinstance(v.type, TensorType) for v in (*node.inputs, *node.outputs)):
            raise FusionError(f"{op}: not a tensor node")
        if len(node.outputs) != 1:
            raise FusionError(f"{op}: one output expected")
        if any(isinstance(i, Constant) for i in node.inputs):
            raise FusionError(f"{op}: constants must be inputs of the fused graph")
        out = node.outputs[0]
        variables.append(out)
        for d in range(out.type.ndim):
            if not bcast(out, d):
                key(out, d)
        if isinstance(op, Elemwise):
            if op.inplace_pattern:
                raise FusionError(f"{op}: in-place")
            for i in node.inputs:
                if i.type.ndim != out.type.ndim:
                    raise FusionError(f"{op}: inputs of another rank")
                for d in range(out.type.ndim):
                    if not bcast(i, d) and not bcast(out, d):
                        union(key(out, d), key(i, d))
        elif isinstance(op, DimShuffle):
            (i,) = node.inputs
            for k, o in enumerate(op.new_order):
                if o != "x" and not bcast(out, k) and not bcast(i, o):
                    union(key(out, k), key(i, o))
        elif isinstance(op, Reduce):
            (i,) = node.inputs
            kept = [d for d in range(i.type.ndim) if d not in op.axis]
            for k, d in enumerate(kept):
                if not bcast(out, k) and not bcast(i, d):
                    union(key(out, k), key(i, d))
            red_dims[node] = [key(i, d) for d in op.axis if not bcast(i, d)]
        else:
            raise FusionError(f"{op}: not fusible")
    # number loop axes by first appearance (inputs first: their dim order is memory order)
    number: dict = {}
    dims: dict = {}
    for v in variables:
        row = []
        for d in range(v.type.ndim):
            if (v, d) not in parent:
                row.append(None)
                continue
            r = _find(parent, (v, d))
            row.append(number.setdefault(r, len(number)))
        if len([a for a in row if a is not None]) != len({a for a in row if a is not None}):
            raise FusionError(f"{v}: two of its dims are the same loop axis (a diagonal)")
        dims[v] = tuple(row)
    reduced = {n: frozenset(number[_find(parent, k)] for k in ks) for n, ks in red_dims.items()}
    out_axes = dims[outputs[0]]
    owner: dict = {}
    for n, axes in reduced.items():
        for a in axes:
            if a in owner or a in out_axes:
                raise FusionError("a loop axis is reduced twice or also an output axis")
            owner[a] = n
    # a variable varying along an axis reduced by r must be computed inside r's loop: it must
    # be an ancestor of r's input within the inner graph
    anc: dict = {}

    def ancestors(v) -> frozenset:
        if v not in anc:
            o = v.owner
            anc[v] = frozenset([v]).union(*(ancestors(i) for i in o.inputs)) if o is not None and v not in inputs \
                else frozenset([v])
        return anc[v]

    for v in variables:
        for a in dims[v]:
            if a is not None and a in owner and v not in ancestors(owner[a].inputs[0]):
                raise FusionError(f"{v} varies along an axis reduced elsewhere")
    return AxisPlan(len(number), dims, reduced, out_axes, tuple(dims[v] for v in inputs))


class FusedReduce(InnerGraphOp):
    """Elementwise ops and (nested) reductions over one broadcast iteration space, one output.

    Built by the fusion phase; see the module docstring.  Inputs must be used by the inner
    graph at their own rank (DimShuffles of inputs stay outside, as free views).
    """

    _derived_attrs = ("_runner", "_plan")

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable], name: str | None = None):
        super().__init__(inputs, outputs, name)
        self.plan  # validate now: a bad graph fails at construction, naming the reason

    def __str__(self) -> str:
        if self.name:
            return self.name
        red = [type(n.op).__name__ for n in self.fgraph.toposort() if isinstance(n.op, Reduce)]
        return f"FusedReduce{{{','.join(red)}}}"

    @property
    def plan(self) -> AxisPlan:
        """The loop-axis plan of the inner graph (computed once)."""
        if getattr(self, "_plan", None) is None:
            self._plan = axis_plan(self.inner_inputs, self.inner_outputs, self.fgraph.toposort())
        return self._plan

    def reductions(self) -> list[Apply]:
        """The inner Reduce nodes, in topological order."""
        return [n for n in self.fgraph.toposort() if isinstance(n.op, Reduce)]

    def output_shape(self, shapes: Sequence[tuple]) -> tuple:
        """The output's shape for input shapes `shapes` (NumPy's errors for bad shapes)."""
        plan = self.plan
        sizes = plan.axis_sizes(shapes, str(self))
        for n in self.reductions():
            if type(n.op).__name__ in ("Max", "Min") and any(sizes[a] == 0 for a in plan.reduced[n]):
                raise ValueError(f"zero-size array to reduction operation {type(n.op).__name__.lower()}imum "
                                 f"which has no identity (in {self})")
        return tuple(1 if a is None else sizes[a] for a in plan.output_axes)

    def jvp(self, node: Apply, tangents: Sequence[Any]) -> list[Any]:
        """The jvp of the inner graph inlined on the node's inputs (fusion runs after gradients
        are taken, so this is only for FusedReduce nodes built by hand); the tangent graph
        uses the standard ops, so reverse mode transposes it as usual."""
        from kiln.gradient.api import Rop
        from kiln.gradient.values import is_zero
        from kiln.graph.replace import clone_replace

        (out,) = clone_replace(self.inner_outputs, dict(zip(self.inner_inputs, node.inputs)))
        pairs = [(i, t) for i, t in zip(node.inputs, tangents) if not is_zero(t)]
        if not pairs:
            return [None]
        (t,) = Rop([out], [i for i, _ in pairs], [t for _, t in pairs], disconnected_outputs="ignore")
        return [t]

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list]) -> None:
        plan = self.plan
        shapes = [np.shape(x) for x in inputs]
        out_shape = self.output_shape(shapes)
        sizes = plan.axis_sizes(shapes, str(self))
        total = int(np.prod(sizes, dtype=np.float64)) if sizes else 1
        if total <= CHUNK_ELEMS:
            return super().perform(node, inputs, output_storage)
        split = next((d for d, a in enumerate(plan.output_axes) if a is not None and sizes[a] > 1), None)
        top = self.inner_outputs[0].owner
        if split is not None:
            a = plan.output_axes[split]
        elif top is not None and type(top.op).__name__ in _COMBINE and any(sizes[b] > 1 for b in plan.reduced[top]):
            # no output axis to split: split an axis of the outermost reduction and combine
            # the partial results with the same reducer (another summation order, same value
            # within rounding)
            a = max(plan.reduced[top], key=lambda b: sizes[b])
        else:
            return super().perform(node, inputs, output_storage)
        step = max(1, int(CHUNK_ELEMS * sizes[a] // max(total, 1)))
        dtype = node.outputs[0].type.dtype
        out = np.empty(out_shape, dtype=dtype) if split is not None else None
        cells = [[None]]
        for lo in range(0, sizes[a], step):
            hi = min(lo + step, sizes[a])
            part = []
            for x, axes in zip(inputs, plan.input_axes):
                x = np.asarray(x)
                if a in axes and x.shape[axes.index(a)] != 1:
                    idx = [slice(None)] * x.ndim
                    idx[axes.index(a)] = slice(lo, hi)
                    x = x[tuple(idx)]
                part.append(x)
            super().perform(node, part, cells)
            if split is None:
                out = cells[0][0] if out is None else np.asarray(
                    _COMBINE[type(top.op).__name__](out, cells[0][0]), dtype=dtype)
                continue
            idx = [slice(None)] * len(out_shape)
            idx[split] = slice(lo, hi)
            out[tuple(idx)] = cells[0][0]
        output_storage[0][0] = out


def op_eval(op: FusedReduce, values: Sequence[Any]):
    """Evaluate `op` on NumPy values with its `perform` (for tests and examples)."""
    from kiln.tensor.basic import constant

    node = op.make_node(*[constant(np.asarray(v)) for v in values])
    cells = [[None]]
    op.perform(node, [np.asarray(v) for v in values], cells)
    return cells[0][0]
