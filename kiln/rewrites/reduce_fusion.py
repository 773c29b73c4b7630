"""Fusing an elementwise producer into its reduction consumer (opt-in).

`ElemwiseReduce(reduce_op, scalar_op)(*inputs)` computes `reduce_op(Elemwise(scalar_op)(*inputs))`
as one node, so a backend can produce each element and accumulate it at once instead of storing
the intermediate array.  The python linker gains nothing from it (NumPy still materializes the
elementwise result) and a backend without an implementation would run it through `perform`, so the
rule is registered with `default=False`: enable it with `mode.including("reduce_fusion")`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln.graph.basic import Apply
from kiln.graph.fg import OUTPUT
from kiln.graph.op import Op
from kiln.rewrites.engine import node_rewriter
from kiln.tensor.elemwise import Elemwise
from kiln.tensor.reduction import Reduce

__all__ = ["ElemwiseReduce", "fuse_reduce"]


class ElemwiseReduce(Op):
    """reduce_op applied to Elemwise(scalar_op) of the inputs, as one op."""

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


@node_rewriter([Reduce], name="reduce_fusion", phase="fusion")
def fuse_reduce(fgraph, node):
    """reduce(Elemwise(...)) -> ElemwiseReduce when the elementwise result has no other use."""
    x = node.inputs[0]
    e = x.owner
    if e is None or not isinstance(e.op, Elemwise) or e.op.inplace_pattern or e.op.nout != 1:
        return None
    if any(c == OUTPUT or c is not node for c, _ in fgraph.clients.get(x, ())):
        return None
    return [ElemwiseReduce(node.op, e.op.scalar_op)(*e.inputs)]
