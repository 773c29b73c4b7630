"""Linearize and transpose: reverse mode from the jvp pass.

The tangent graph built by the jvp pass mixes two kinds of nodes: those that depend
only on primals (the primal part and the *residuals*, e.g. ``cos(x)`` in the rule of
``sin``) and those that depend on the tangent inputs (the *linear part*).  `linearize`
finds the linear part and checks each of its nodes is linear only in inputs its op
declares linear (a wrong jvp rule is caught here, not by a wrong number later).
`transpose` walks the linear part backwards from cotangent seeds, calling each op's
transpose rule; contributions to one variable are summed once, by one n-ary add.
The residuals are shared, untouched, by the transposed graph.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from kiln.graph.basic import Variable
from kiln.graph.traversal import io_toposort
from kiln.gradient.registry import STRUCTURAL_OPS, get_transpose_rule, linear_ok
from kiln.gradient.values import ZERO, is_zero

__all__ = ["LinearityError", "LinearGraph", "linearize_graph", "transpose_graph", "TransposeContext"]


class LinearityError(TypeError):
    """A jvp rule produced a tangent graph that is not linear in the tangents."""


@dataclass
class LinearGraph:
    """The linear part of a tangent graph: its nodes in order, each with its linear-input mask."""

    tangent_inputs: list
    outputs: list
    nodes: list          # [(node, mask)]
    linear: set          # linear variables


def linearize_graph(tangent_inputs: Sequence[Variable], tangent_outputs: Sequence[Variable]) -> LinearGraph:
    """Split off the linear part between tangent inputs and outputs, checking linearity."""
    outs = [t for t in tangent_outputs if not is_zero(t)]
    linear = set(tangent_inputs)
    nodes = []
    for node in io_toposort(list(tangent_inputs), outs):
        mask = [i in linear for i in node.inputs]
        if not any(mask) or type(node.op) in STRUCTURAL_OPS:
            continue
        if not linear_ok(node, mask):
            which = [i for i, m in enumerate(mask) if m]
            raise LinearityError(
                f"the tangent reaches input(s) {which} of {node.op}, which is not linear in them: "
                f"a jvp rule multiplies tangents together or feeds one to a nonlinear op")
        linear.update(node.outputs)
        nodes.append((node, mask))
    return LinearGraph(list(tangent_inputs), outs, nodes, linear)


def transpose_graph(lin: LinearGraph, seeds: Sequence[tuple], like: dict) -> list:
    """Cotangents of the tangent inputs, given (linear output, cotangent) seeds."""
    from collections import defaultdict

    residuals = [i for node, mask in lin.nodes for i, m in zip(node.inputs, mask) if not m]
    ctx = TransposeContext(lin.linear, like, _value_ancestors(residuals))
    cts: dict = defaultdict(list)
    for t, ct in seeds:
        if not is_zero(ct) and t in lin.linear:
            cts[t].append(_coerce(ct, t))
    for node, mask in reversed(lin.nodes):
        out_cts = [ctx.total(cts.pop(o, []), o) for o in node.outputs]
        if all(is_zero(c) for c in out_cts):
            continue
        rule = get_transpose_rule(node.op)
        if rule is None:
            raise LinearityError(f"{node.op} is used linearly by a jvp rule but has no transpose rule")
        in_cts = rule(node, out_cts, mask, ctx)
        for i, (m, c) in enumerate(zip(mask, in_cts)):
            if m and not is_zero(c):
                cts[node.inputs[i]].append(_coerce(c, node.inputs[i]))
    return [ctx.total(cts.get(t, []), t) for t in lin.tangent_inputs]


def _same_shape_input(node, k: int) -> bool:
    """Whether input k of an Elemwise node provably has the output's shape."""
    from kiln.gradient.rules.elemwise import _covers

    v, o = node.inputs[k], node.outputs[0]
    for d, (a, b) in enumerate(zip(v.type.shape, o.type.shape)):
        if a is None:
            if not _covers(node, [k], d):
                return False
        elif a == 1:
            if b != 1:
                return False
        elif b is not None and b != a:
            return False
    return True


def _value_ancestors(outputs) -> set:
    """Variables whose *values* computing `outputs` needs (a Shape/Shape_i reads only a shape,
    which the rewriter can infer without computing its input)."""
    seen: set = set()
    stack = list(outputs)
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        if v.owner is not None and type(v.owner.op) not in STRUCTURAL_OPS:
            stack.extend(v.owner.inputs)
    return seen


def _pads(p: Variable, axes) -> bool:
    """Whether p is a DimShuffle that only inserts broadcastable axes, exactly at `axes`."""
    from kiln.tensor.elemwise import DimShuffle

    n = p.owner
    if n is None or not isinstance(n.op, DimShuffle) or n.op.drop:
        return False
    if n.op.shuffle != tuple(range(n.op.input_ndim)):
        return False
    return tuple(n.op.augment) == tuple(axes)


def _coerce(ct: Any, v: Variable):
    from kiln.tensor.basic import as_tensor_variable
    from kiln.tensor.math import cast
    from kiln.tensor.type import TensorType

    if not isinstance(v.type, TensorType):   # scalar-typed values (inside fused kernels)
        return ct
    ct = as_tensor_variable(ct)
    if ct.ndim != v.type.ndim:
        raise ValueError(f"a transpose rule gave a {ct.ndim}-d cotangent for the {v.type.ndim}-d {v}")
    return cast(ct, v.type.dtype) if ct.dtype != v.type.dtype else ct


class TransposeContext:
    """Shape services for transpose rules.  A linear variable's shape is read from a primal
    variable of the same shape (the primal it is the tangent of), so the transposed graph
    never depends on the (discarded) tangent inputs."""

    def __init__(self, linear: set, like: dict, free: set | None = None):
        self.linear = linear
        self.like = like
        #: primal variables the transposed graph computes anyway (residuals and their ancestors)
        self.free = free if free is not None else set()
        self._shapes: dict = {}

    def shape_ref(self, v: Variable) -> Variable | None:
        """A primal variable with `v`'s run-time shape that costs nothing to keep: a graph
        input, a constant, a residual or an ancestor of one.  Referencing another primal would
        keep its computation in the gradient graph only for its shape."""
        from kiln.tensor.elemwise import Elemwise

        p = self.primal_like(v)
        for _ in range(64):
            if p is None or p.owner is None or p in self.free:
                return p
            n = p.owner
            if not isinstance(n.op, Elemwise):
                return None
            nxt = next((n.inputs[k] for k in range(len(n.inputs)) if _same_shape_input(n, k)), None)
            if nxt is None:
                return None
            p = nxt
        return None

    def primal_like(self, v: Variable) -> Variable | None:
        seen = 0
        while v in self.linear:
            nxt = self.like.get(v)
            if nxt is None:
                nxt = v.tag.get("shape_like")
            if nxt is None or seen > 1000:
                return None
            v, seen = nxt, seen + 1
        return v

    def shape(self, v: Variable) -> tuple:
        """Symbolic shape of `v`: ints where static, 0-d int64 variables elsewhere."""
        from kiln.tensor.shape import shape_i

        if v in self._shapes:
            return self._shapes[v]
        p = self.primal_like(v)
        if p is not None:
            res = tuple(p.type.shape[d] if p.type.shape[d] is not None else shape_i(p, d)
                        for d in range(p.type.ndim))
        elif v.owner is not None:
            node = v.owner
            try:
                res = tuple(node.op.infer_shape(None, node, [self.shape(i) for i in node.inputs])[v.index])
            except NotImplementedError:
                res = tuple(shape_i(v, d) for d in range(v.type.ndim))
            res = tuple(s if s is not None else shape_i(v, d) for d, s in enumerate(res))
            res = tuple(v.type.shape[d] if v.type.shape[d] is not None else s for d, s in enumerate(res))
        else:
            res = tuple(shape_i(v, d) for d in range(v.type.ndim))
        self._shapes[v] = res
        return res

    def shape_vec(self, v: Variable):
        """The shape of `v` as an int64 vector (a constant when fully static)."""
        from kiln.tensor.basic import constant
        from kiln.tensor.shape import as_shape_vector, shape

        if None not in v.type.shape:
            return constant(__import__("numpy").array(v.type.shape, dtype="int64").reshape(v.type.ndim))
        p = self.primal_like(v)
        if p is not None:
            return shape(p)
        return as_shape_vector(list(self.shape(v)))

    def broadcast_to(self, ct, v: Variable):
        """`ct` broadcast to `v`'s shape (read from a primal of that shape where there is one)."""
        from kiln.tensor.shape import BroadcastTo
        from kiln.tensor.unbroadcast import BroadcastLike

        if ct.type.shape == v.type.shape and None not in v.type.shape:
            return ct
        p = self.shape_ref(v)
        if p is not None:
            return BroadcastLike()(ct, p)
        return BroadcastTo(v.type.ndim)(ct, self.shape_vec(v))

    def zeros(self, v: Variable):
        """Zeros with the shape and dtype of `v`."""
        from kiln.tensor.creation import Alloc
        from kiln.tensor.basic import constant

        return Alloc(v.type.ndim)(constant(0, dtype=v.type.dtype), self.shape_vec(v))

    def sum_to(self, ct, v: Variable, runtime_axes: Sequence[int] | None = None):
        """Sum `ct` (broadcast from `v`'s shape) back to `v`'s shape.

        Leading extra axes are summed away; axes where `v` is statically 1 are summed with
        keepdims; `runtime_axes` (default: every axis of unknown length in `v`) are summed
        at run time where `v` turns out to have length 1.
        """
        import kiln.tensor.math as km
        from kiln.tensor.unbroadcast import SumToShape

        from kiln.tensor.elemwise import DimShuffle

        extra = ct.ndim - v.type.ndim
        if extra > 0:
            ct = km.sum(ct, axis=tuple(range(extra)))
        static = [d for d in range(v.type.ndim) if v.type.shape[d] == 1 and ct.type.shape[d] != 1]
        if runtime_axes is None:
            runtime_axes = [d for d in range(v.type.ndim) if v.type.shape[d] is None]
        runtime_axes = [d for d in runtime_axes if v.type.shape[d] is None and ct.type.shape[d] != 1]
        p = self.shape_ref(v)
        if static and runtime_axes and p is not None and _pads(p, static):
            # v = pad(u) (a DimShuffle inserting the static axes): sum those away, reduce to u's
            # run-time shape, then pad back; the pad meets the DimShuffle's own transpose
            # (a drop), which the rewriter cancels
            u = p.owner.inputs[0]
            kept = [d for d in range(v.type.ndim) if d not in static]
            ct = km.sum(ct, axis=tuple(static))
            ct = SumToShape([kept.index(d) for d in runtime_axes], by_ref=True)(ct, u)
            return DimShuffle(ct.ndim, p.owner.op.new_order)(ct)
        if static:
            ct = km.sum(ct, axis=tuple(static), keepdims=True)
        if runtime_axes:
            if p is not None:
                ct = SumToShape(runtime_axes, by_ref=True)(ct, p)
            else:
                ct = SumToShape(runtime_axes)(ct, self.shape_vec(v))
        return ct

    def total(self, contributions: list, v: Variable):
        """Sum the cotangent contributions to one variable with a single n-ary add."""
        from kiln.tensor.math import add

        if not contributions:
            return ZERO
        if len(contributions) == 1:
            return contributions[0]
        from kiln.tensor.type import TensorType

        if not isinstance(v.type, TensorType):   # non-tensor cotangents (kiln.sparse): their own +
            out = contributions[0]
            for c in contributions[1:]:
                out = out + c
            return out
        out = add(*contributions)
        return out
