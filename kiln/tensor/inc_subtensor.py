"""IncSubtensor: x with x[idx] incremented by (or set to) y, for basic indices.

It is the transpose of `Subtensor` (the gradient of indexing), and the user-facing
`set_subtensor`/`inc_subtensor`.  The result is a new array (no in-place update
here; the inplace rewrite phase may make it destructive).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.tensor.basic import as_tensor_variable
from kiln.tensor.subtensor import Subtensor
from kiln.tensor.type import TensorType

__all__ = ["IncSubtensor", "inc_subtensor", "set_subtensor"]


class IncSubtensor(Op):
    """inc_subtensor(x[idx], y): x + (y placed at idx); with `set_instead_of_inc`, x with
    x[idx] = y.  `idx_list` has Subtensor's format; index scalars are inputs after x and y."""

    __props__ = ("idx_list", "set_instead_of_inc")

    def __init__(self, idx_list: Sequence, set_instead_of_inc: bool = False):
        self.idx_list = Subtensor(idx_list).idx_list
        self.set_instead_of_inc = bool(set_instead_of_inc)

    def __str__(self) -> str:
        base = str(Subtensor(self.idx_list)).replace("Subtensor", "SetSubtensor" if self.set_instead_of_inc
                                                     else "IncSubtensor")
        return base

    def make_node(self, x: Any, y: Any, *idx: Any) -> Apply:
        from kiln.tensor.math import cast

        x = as_tensor_variable(x)
        y = as_tensor_variable(y)
        view = Subtensor(self.idx_list).make_node(x, *idx)
        target = view.outputs[0]
        if y.ndim > target.ndim:
            raise ValueError(f"{self}: y has {y.ndim} dimensions, more than x{list(self.idx_list)} "
                             f"({target.ndim})")
        ys = (1,) * (target.ndim - y.ndim) + y.type.shape
        for a, b in zip(ys, target.type.shape):
            if a is not None and b is not None and a not in (1, b):
                raise ValueError(f"{self}: y of shape {y.type.shape} cannot be broadcast to the "
                                 f"indexed region of shape {target.type.shape}")
        if y.dtype != x.dtype:
            y = cast(y, x.dtype)
        return Apply(self, [x, y, *view.inputs[1:]], [TensorType(x.dtype, x.type.shape)()])

    def perform(self, node, inputs, output_storage):
        x, y, *idx = inputs
        out = np.array(x, copy=True)
        key = Subtensor(self.idx_list)._index(idx)
        if self.set_instead_of_inc:
            out[key] = y
        else:
            out[key] += y
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]


def _split_index(x, idx):
    """(idx_list, index inputs) for x[idx], via `subtensor`'s own parsing."""
    from kiln.tensor.subtensor import subtensor

    view = subtensor(x, idx)
    if view is x:
        return (), []
    node = view.owner
    if not isinstance(node.op, Subtensor):
        raise NotImplementedError("inc_subtensor/set_subtensor: None (newaxis) in the index is not supported")
    return node.op.idx_list, node.inputs[1:]


def indexed_update(x: Any, y: Any, set_instead_of_inc: bool, update_ops: dict[type, type], example: str):
    """The update of the base of the indexing result `x` at its index: x = base[idx] must be
    the output of one of the indexing ops in `update_ops` (indexing op class -> update op
    class, built as UpdateOp(idx_list, set_instead_of_inc)(base, y, *index inputs)).

    >>> import numpy as np, kiln.tensor as kt
    >>> v = kt.vector("v")
    >>> indexed_update(v[1:], 5.0, True, {Subtensor: IncSubtensor}, "v[1:]").eval({v: np.zeros(3)})
    array([0., 5., 5.])
    """
    x = as_tensor_variable(x)
    op = x.owner.op if x.owner is not None else None
    update_op = next((u for indexing, u in update_ops.items() if isinstance(op, indexing)), None)
    if update_op is None:
        who = "set_subtensor" if set_instead_of_inc else "inc_subtensor"
        raise TypeError(f"{who}: the first argument must be an indexed tensor such as {example}, got {x}")
    base, *idx = x.owner.inputs
    return update_op(op.idx_list, set_instead_of_inc)(base, y, *idx)


def _incsub(x, y, set_instead_of_inc):
    """Common body: `x` must be a Subtensor or AdvancedSubtensor output (x_base[idx])."""
    from kiln.tensor.advanced import AdvancedIncSubtensor, AdvancedSubtensor  # advanced indices: their own op

    return indexed_update(x, y, set_instead_of_inc,
                          {AdvancedSubtensor: AdvancedIncSubtensor, Subtensor: IncSubtensor}, "x[1:3]")


def inc_subtensor(x: Any, y: Any):
    """PyTensor's inc_subtensor(x[idx], y): a copy of the base of x with y added at idx.

    >>> import numpy as np, kiln.tensor as kt
    >>> v = kt.vector("v")
    >>> inc_subtensor(v[1:], 10.0).eval({v: np.zeros(3)})
    array([ 0., 10., 10.])
    """
    return _incsub(x, y, False)


def set_subtensor(x: Any, y: Any):
    """PyTensor's set_subtensor(x[idx], y): a copy of the base of x with x[idx] = y.

    >>> import numpy as np, kiln.tensor as kt
    >>> v = kt.vector("v")
    >>> set_subtensor(v[0], 5.0).eval({v: np.zeros(2)})
    array([5., 0.])
    """
    return _incsub(x, y, True)
