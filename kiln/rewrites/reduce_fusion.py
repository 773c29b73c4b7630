"""Reduction fusion: a reduction and the elementwise (and reduction) nodes feeding it become
one `FusedReduce` node, evaluated as one loop nest with scalar accumulators.

`fuse_reductions` (rule name "reduce_fusion", fusion phase, on by default, after elementwise
fusion) grows a group from each reduction (latest first) towards its producers: Elemwise,
DimShuffle and Reduce nodes whose outputs are used only inside the group (a value needed
elsewhere is computed once, as before, and never folded in).  DimShuffles of values from
outside the group stay outside (free views).  When the group is not one loop nest (the same
axis reduced twice, as in max and sum over one row), it is retried without the producer
reductions.  A lone reduction of an input is left to the plain reduction kernel.

`Dot`/`MatMul` of a matrix E computed by such a group with a vector b (or a one-column
matrix) is the reduction sum_j E[i, j] * b[j]: it is rewritten into a FusedReduce too, so E
(the N x M kernel matrix of the KeOps example) is never stored.  A wider b stays on BLAS.

Fusion runs after gradients are taken, so FusedReduce needs no derivative rules.

`ElemwiseReduce` (reduce of one Elemwise, no C lowering) is kept for compatibility; no rule
creates it any more.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln.graph.basic import Apply, Variable
from kiln.graph.fg import OUTPUT, FunctionGraph, InconsistencyError
from kiln.graph.op import Op
from kiln.rewrites.db import GraphRewriter
from kiln.tensor.blas import Dot, MatMul
from kiln.tensor.elemwise import DimShuffle, Elemwise
from kiln.tensor.fused_reduce import FusedReduce, FusionError
from kiln.tensor.reduction import All, Any as AnyOp, Max, Min, Prod, Reduce, Sum
from kiln.tensor.type import TensorType

__all__ = ["ElemwiseReduce", "ReductionFusion", "fuse_reductions"]

_REDUCERS = (Sum, Prod, Max, Min, AnyOp, All)


class ElemwiseReduce(Op):
    """reduce_op applied to Elemwise(scalar_op) of the inputs, as one op (legacy, see module doc)."""

    __props__ = ("reduce_op", "scalar_op")

    def __init__(self, reduce_op: Reduce, scalar_op: Any):
        if getattr(scalar_op, "nout", 1) != 1:
            raise ValueError("ElemwiseReduce: the scalar op must have one output")
        self.reduce_op = reduce_op
        self.scalar_op = scalar_op

    def __str__(self) -> str:
        return f"{self.reduce_op}[{self.scalar_op}]"

    def make_node(self, *inputs: Any) -> Apply:
        inner = Elemwise(self.scalar_op).make_node(*inputs)
        red = self.reduce_op.make_node(inner.outputs[0])
        return Apply(self, inner.inputs, [red.outputs[0].type()])

    def perform(self, node, inputs, output_storage):
        dtype = self.scalar_op.output_dtypes([i.type.dtype for i in node.inputs])[0]
        with np.errstate(all="ignore"):
            tmp = np.asarray(self.scalar_op.impl(*inputs), dtype=dtype)
            tmp = np.broadcast_to(tmp, np.broadcast_shapes(*[np.shape(i) for i in inputs]))
        self.reduce_op.perform(node, [tmp], output_storage)

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.shape import broadcast_shape_symbolic

        full = broadcast_shape_symbolic(input_shapes, [i.type.shape for i in node.inputs])
        return [tuple(s for d, s in enumerate(full) if d not in self.reduce_op.axis)]


def _tensor_node(node: Apply) -> bool:
    return len(node.outputs) == 1 and all(isinstance(v.type, TensorType) for v in (*node.inputs, *node.outputs))


def _joinable(node: Apply, with_reductions: bool) -> bool:
    op = node.op
    if not _tensor_node(node):
        return False
    if isinstance(op, Elemwise):
        return not op.inplace_pattern
    if isinstance(op, DimShuffle):
        return True
    return with_reductions and type(op) in _REDUCERS


class ReductionFusion(GraphRewriter):
    """Fold reductions and their elementwise producers into FusedReduce nodes (see module doc)."""

    name = "reduce_fusion"

    def apply(self, fgraph: FunctionGraph) -> int:
        made = 0
        done: set = set()
        for node in reversed(fgraph.toposort()):
            if node in done or node not in fgraph.apply_nodes:
                continue
            if type(node.op) in _REDUCERS and _tensor_node(node):
                sink_var, extra = node.outputs[0], None
                members = self._grow(fgraph, node, True)
            elif isinstance(node.op, (Dot, MatMul)):
                extra = self._dot_operand(fgraph, node)
                if extra is None:
                    continue
                sink_var = node.outputs[0]
                members = self._grow(fgraph, node, True, start=[node.inputs[0].owner])
            else:
                continue
            for with_red in (True, False):
                if not with_red:
                    members = self._grow(fgraph, node, False,
                                         start=None if extra is None else [node.inputs[0].owner])
                if not any(isinstance(m.op, Elemwise) for m in members):
                    break   # a plain reduction: the reduction kernel does it
                if self._replace(fgraph, node, members, sink_var, extra):
                    done.update(members)
                    made += 1
                    break
        return made

    @staticmethod
    def _dot_operand(fgraph, node):
        """For Dot/MatMul(E, b) with E fusible: b (a vector or a one-column matrix), else None."""
        e, b = node.inputs
        out = node.outputs[0]
        if e.type.ndim != 2 or b.type.ndim not in (1, 2) or (b.type.ndim == 2 and b.type.shape[1] != 1):
            return None
        if not (e.type.dtype == b.type.dtype == out.type.dtype and out.type.dtype in ("float32", "float64")):
            return None
        p = e.owner
        if p is None or not _joinable(p, True) or isinstance(p.op, DimShuffle):
            return None
        if any(c == OUTPUT or c is not node for c, _ in fgraph.clients.get(e, ())):
            return None
        return b

    @staticmethod
    def _grow(fgraph, sink: Apply, with_reductions: bool, start=None) -> list[Apply]:
        group = {sink} if start is None else {sink, *start}
        # for E @ b only E's producers may join (b is loaded once per element, not recomputed)
        stack = [i.owner for n in ([sink] if start is None else start) for i in n.inputs if i.owner is not None]
        while stack:
            p = stack.pop()
            if p in group or not _joinable(p, with_reductions):
                continue
            if any(c == OUTPUT or c not in group for c, _ in fgraph.clients.get(p.outputs[0], ())):
                continue
            group.add(p)
            stack.extend(i.owner for i in p.inputs if i.owner is not None)
        # DimShuffles of values computed outside stay outside: they are free views, and
        # inside they could tie two dims of one input together (x * x.T)
        changed = True
        while changed:
            changed = False
            for n in list(group):
                if isinstance(n.op, DimShuffle) and n.inputs[0].owner not in group and n is not sink:
                    group.discard(n)
                    changed = True
        order = fgraph.toposort()
        return [n for n in order if n in group]

    @staticmethod
    def _replace(fgraph, node, members, sink_var, extra) -> bool:
        mset = set(members)
        produced = {o for n in members for o in n.outputs}
        ext: list[Variable] = []
        for n in members:
            if extra is not None and n is node:
                continue
            for i in n.inputs:
                if i not in produced and i not in ext:
                    ext.append(i)
        if extra is not None:
            ext.append(extra)
        inner = {v: v.type() for v in ext}
        try:
            for n in members:
                if extra is not None and n is node:
                    continue
                new = n.op.make_node(*[inner[i] for i in n.inputs])
                inner[n.outputs[0]] = new.outputs[0]
            if extra is None:
                out = inner[sink_var]
            else:   # E @ b = sum_j E[:, j] * b[j] (a one-column b keeps its column)
                e, b = inner[node.inputs[0]], inner[extra]
                if b.type.ndim == 1:
                    prod = Elemwise(_mul())(e, DimShuffle(1, ("x", 0))(b))
                else:
                    prod = Elemwise(_mul())(DimShuffle(2, (0, 1, "x"))(e), DimShuffle(2, ("x", 0, 1))(b))
                out = Sum(axis=(1,))(prod)
            op = FusedReduce([inner[v] for v in ext], [out])
            new_out = op(*ext)
        except (FusionError, TypeError, ValueError, NotImplementedError):
            return False
        if new_out.type != sink_var.type:
            return False
        try:
            fgraph.replace(sink_var, new_out, reason="reduce_fusion")
        except (InconsistencyError, TypeError):
            return False
        return bool(mset)


def _mul():
    from kiln.scalar.math import mul

    return mul


fuse_reductions = ReductionFusion()
