"""SumToShape and BroadcastLike: summing an array back to the shape it was broadcast from (the
transpose of broadcasting), and broadcasting to the shape of a reference array.

Reverse-mode gradients of broadcasting ops must reduce a cotangent to each input's
*run-time* shape: a dimension of unknown static length may be 1 at run time and have
been stretched, exactly as in NumPy.  Axes whose fate is known statically are summed
with an ordinary `Sum`; this op handles the axes that can only be decided at run time.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.tensor.basic import as_tensor_variable
from kiln.tensor.type import TensorType

__all__ = ["SumToShape", "BroadcastLike", "sum_to_shape"]


class SumToShape(Op):
    """sum_to_shape(x, shape): sum `x` over the candidate `axes` where `shape` has length 1
    and `x` does not (keeping those axes).  Other axes must already match.  With `by_ref`,
    the second input is an array whose shape is the target (no shape arithmetic in the graph).

    >>> import numpy as np, kiln.tensor as kt
    >>> x = kt.matrix("x")
    >>> y = SumToShape((0, 1))(x, [1, 3])
    >>> y.eval({x: np.ones((2, 3))})
    array([[2., 2., 2.]])
    """

    __props__ = ("axes", "by_ref")
    linear_inputs = (0,)
    #: when nothing needs summing the input itself is returned
    view_map = {0: [0]}

    def __init__(self, axes: Sequence[int], by_ref: bool = False):
        self.axes = tuple(sorted(int(a) for a in axes))
        self.by_ref = bool(by_ref)

    def make_node(self, x: Any, shp: Any) -> Apply:
        from kiln.tensor.shape import _static_entries, as_shape_vector

        x = as_tensor_variable(x)
        if self.by_ref:
            ref = as_tensor_variable(shp)
            if ref.ndim != x.ndim:
                raise ValueError(f"{self}: the reference has {ref.ndim} dims, x has {x.ndim}")
            out = tuple(r if r is not None else (x.type.shape[d] if d not in self.axes else None)
                        for d, r in enumerate(ref.type.shape))
            return Apply(self, [x, ref], [TensorType(x.dtype, out)()])
        shp = as_shape_vector(shp)
        if shp.type.shape[0] is not None and shp.type.shape[0] != x.ndim:
            raise ValueError(f"{self}: target shape has {shp.type.shape[0]} entries, x has {x.ndim} dims")
        static = _static_entries(shp) if shp.type.shape[0] is not None else [None] * x.ndim
        out = tuple(s if s is not None else (x.type.shape[d] if d not in self.axes else None)
                    for d, s in enumerate(static))
        return Apply(self, [x, shp], [TensorType(x.dtype, out)()])

    def perform(self, node, inputs, output_storage):
        x, shp = inputs
        shp = shp.shape if self.by_ref else tuple(int(s) for s in shp)
        red = tuple(a for a in self.axes if shp[a] == 1 and x.shape[a] != 1)
        res = np.sum(x, axis=red, keepdims=True, dtype=x.dtype) if red else x
        if res.shape != shp:
            raise ValueError(f"{self}: cannot sum an array of shape {x.shape} to shape {shp}")
        output_storage[0][0] = np.asarray(res)

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.subtensor import subtensor

        static = node.outputs[0].type.shape
        if self.by_ref:
            return [tuple(s if s is not None else input_shapes[1][d] for d, s in enumerate(static))]
        return [tuple(s if s is not None else subtensor(node.inputs[1], d) for d, s in enumerate(static))]


class BroadcastLike(Op):
    """broadcast_like(x, ref): `x` broadcast (NumPy rules, new axes on the left) to `ref`'s shape,
    as a read-only view.  Only `ref`'s shape is read.

    >>> import numpy as np, kiln.tensor as kt
    >>> x, r = kt.vector("x"), kt.matrix("r")
    >>> BroadcastLike()(x, r).eval({x: np.array([1.0, 2.0]), r: np.zeros((2, 2))})
    array([[1., 2.],
           [1., 2.]])
    """

    view_map = {0: [0]}
    linear_inputs = (0,)

    def make_node(self, x: Any, ref: Any) -> Apply:
        from kiln.tensor.elemwise import broadcast_static_shapes

        x, ref = as_tensor_variable(x), as_tensor_variable(ref)
        if x.ndim > ref.ndim:
            raise ValueError(f"BroadcastLike: x has {x.ndim} dims, more than the reference's {ref.ndim}")
        xs = (1,) * (ref.ndim - x.ndim) + x.type.shape
        out = tuple(r if r is not None else (a if a != 1 else None) for a, r in zip(xs, ref.type.shape))
        broadcast_static_shapes([xs, ref.type.shape], who="BroadcastLike")
        return Apply(self, [x, ref], [TensorType(x.dtype, out)()])

    def perform(self, node, inputs, output_storage):
        x, ref = inputs
        output_storage[0][0] = np.broadcast_to(x, ref.shape)

    def infer_shape(self, fgraph, node, input_shapes):
        static = node.outputs[0].type.shape
        return [tuple(s if s is not None else input_shapes[1][d] for d, s in enumerate(static))]


def sum_to_shape(x: Any, shape: Any, axes: Sequence[int] | None = None):
    """Sum `x` back to `shape` over `axes` (default: all) where `shape` is 1 at run time."""
    x = as_tensor_variable(x)
    return SumToShape(range(x.ndim) if axes is None else axes)(x, shape)
