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
    With `broadcast`, axes where the (summed) `x` has length 1 and the target does not are
    then broadcast (a read-only view): the op maps any array to the target shape by summing
    or stretching each axis, which lets one node replace a BroadcastTo followed by a
    SumToShape (see kiln/rewrites/broadcast.py).  That form is its own transpose.

    >>> import numpy as np, kiln.tensor as kt
    >>> x = kt.matrix("x")
    >>> y = SumToShape((0, 1))(x, [1, 3])
    >>> y.eval({x: np.ones((2, 3))})
    array([[2., 2., 2.]])
    >>> SumToShape((0, 1), broadcast=True)(x, [1, 3]).eval({x: np.ones((2, 1))})
    array([[2., 2., 2.]])
    """

    __props__ = ("axes", "by_ref", "broadcast")
    linear_inputs = (0,)
    #: when nothing needs summing the input itself is returned
    view_map = {0: [0]}

    def __init__(self, axes: Sequence[int], by_ref: bool = False, broadcast: bool = False):
        self.axes = tuple(sorted(int(a) for a in axes))
        self.by_ref = bool(by_ref)
        self.broadcast = bool(broadcast)

    def __str__(self) -> str:
        return f"SumToShape{{{self.axes}, {self.by_ref}{', broadcast' if self.broadcast else ''}}}"

    def _out_dim(self, d: int, target, xd):
        # the static output length: the target's where known; else x's when x is not summed
        # (and, with broadcast, not stretched either: only a known length other than 1 is sure)
        if target is not None:
            return target
        if d in self.axes or (self.broadcast and xd == 1):
            return None
        return xd

    def make_node(self, x: Any, shp: Any) -> Apply:
        from kiln.tensor.shape import _static_entries, as_shape_vector

        x = as_tensor_variable(x)
        if self.by_ref:
            ref = as_tensor_variable(shp)
            nd, static, target = ref.ndim, ref.type.shape, ref
        else:
            target = as_shape_vector(shp)
            nd = target.type.shape[0]
            if nd is None:
                nd = x.ndim
            static = _static_entries(target) if target.type.shape[0] is not None else [None] * nd
        # x may have extra leading axes (NumPy broadcasting adds axes on the left): they are
        # summed away, so one node is the whole transpose of a broadcast
        lead = x.ndim - nd
        if lead < 0 or (lead and self.broadcast):
            raise ValueError(f"{self}: the target has {nd} dims, x has {x.ndim}")
        if any(not 0 <= a < nd for a in self.axes):
            raise ValueError(f"{self}: axes {self.axes} out of range for a {nd}-d target")
        out = tuple(self._out_dim(d, t, x.type.shape[lead + d]) for d, t in enumerate(static))
        return Apply(self, [x, target], [TensorType(x.dtype, out)()])

    def perform(self, node, inputs, output_storage):
        x, shp = inputs
        shp = shp.shape if self.by_ref else tuple(int(s) for s in shp)
        lead = x.ndim - len(shp)
        if lead > 0:
            x = np.sum(x, axis=tuple(range(lead)), dtype=x.dtype)
        red = tuple(a for a in self.axes if shp[a] == 1 and x.shape[a] != 1)
        res = np.sum(x, axis=red, keepdims=True, dtype=x.dtype) if red else x
        if self.broadcast and res.shape != shp and res.ndim == len(shp):
            try:
                res = np.broadcast_to(res, shp)
            except ValueError:
                pass  # reported below
        if res.shape != shp:
            raise ValueError(f"{self}: cannot sum an array of shape {inputs[0].shape} to shape {shp}")
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
