"""Join: NumPy's concatenate along one axis (stack builds on it)."""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.scalar.dtypes import upcast
from kiln.tensor.basic import as_tensor_variable, describe
from kiln.tensor.type import TensorType

__all__ = ["Join", "join", "concatenate"]


class Join(Op):
    """Concatenate tensors of equal ndim along `axis` (dtypes promote as in NumPy)."""

    __props__ = ("axis",)

    def __init__(self, axis: int):
        self.axis = int(axis)

    def make_node(self, *tensors: Any) -> Apply:
        from kiln.tensor.math import cast

        ts = [as_tensor_variable(t) for t in tensors]
        if not ts:
            raise ValueError("join: need at least one tensor")
        ndim = ts[0].ndim
        if ndim == 0:
            raise ValueError("join: zero-dimensional tensors cannot be concatenated (use stack)")
        if any(t.ndim != ndim for t in ts):
            raise ValueError(f"join: all inputs must have the same ndim, got "
                             f"{', '.join(describe(t) for t in ts)}")
        if not 0 <= self.axis < ndim:
            raise ValueError(f"join: axis {self.axis} out of bounds for {ndim}-d inputs")
        dtype = upcast(*[t.dtype for t in ts])
        ts = [cast(t, dtype) for t in ts]
        shape = []
        for d in range(ndim):
            lens = [t.type.shape[d] for t in ts]
            if d == self.axis:
                shape.append(None if None in lens else sum(lens))
            else:
                known = {n for n in lens if n is not None}
                if len(known) > 1:
                    raise ValueError(f"join: input shapes differ in dimension {d}: "
                                     f"{', '.join(describe(t) for t in ts)}")
                shape.append(known.pop() if known else None)
        return Apply(self, ts, [TensorType(dtype, tuple(shape))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.concatenate(inputs, axis=self.axis).astype(node.outputs[0].type.dtype, copy=False)

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.math import add

        out = list(input_shapes[0])
        total = input_shapes[0][self.axis]
        for s in input_shapes[1:]:
            total = add(total, s[self.axis])
        out[self.axis] = total
        return [tuple(out)]


def join(axis: int, *tensors: Any):
    """PyTensor's join(axis, *tensors) (NumPy's concatenate)."""
    ts = [as_tensor_variable(t) for t in tensors]
    if len(ts) == 1:
        return ts[0]
    ndim = ts[0].ndim if ts else 0
    if ndim and isinstance(axis, (int, np.integer)):
        from kiln.tensor.reduction import normalize_one_axis

        axis = normalize_one_axis(axis, ndim, "join")
    return Join(axis)(*ts)


def concatenate(tensors, axis: int | None = 0):
    """NumPy's concatenate(tensors, axis); axis=None joins the flattened tensors.

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.concatenate([kt.constant(np.ones(2)), kt.constant(np.zeros(1))]).eval()
    array([1., 1., 0.])
    """
    if axis is None:
        from kiln.tensor.shape import flatten

        ts = [as_tensor_variable(t) for t in tensors]
        return join(0, *[t if t.ndim == 1 else flatten(t) for t in ts])
    return join(axis, *tensors)
