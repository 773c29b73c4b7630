"""Where a tensor is nonzero: `nonzero` (the op), and `flatnonzero`, `argwhere`, one-argument
`where`, `nonzero_values` built on it.  The number of results depends on the data, so the output
lengths are symbolic (the count of nonzero entries) unless the input is a constant.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln.graph.basic import Apply, Constant
from kiln.graph.op import Op
from kiln.tensor.basic import as_tensor_variable
from kiln.tensor.type import TensorType

__all__ = ["Nonzero", "argwhere", "flatnonzero", "nonzero", "nonzero_values", "where"]


class Nonzero(Op):
    """The indices of the nonzero entries of x, one int64 vector per axis (np.nonzero), in
    C (row-major) order.  A 0-d input is refused, as in NumPy 2.  Not differentiable (indices).
    C: not yet (perform).

    >>> import numpy as np, kiln.tensor as kt
    >>> m = kt.matrix("m")
    >>> rows, cols = Nonzero()(m)
    >>> cols.eval({m: np.array([[0., 2.], [3., 0.]])})
    array([1, 0])
    """

    __props__ = ()

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim == 0:
            raise ValueError(f"nonzero: calling nonzero on a 0-d tensor ({x}) is not allowed; "
                             f"use flatnonzero or nonzero(atleast_1d(x)) instead")
        if x.dtype.startswith("complex"):
            raise TypeError(f"nonzero: complex input {x} ({x.type}) is not supported")
        n = int(np.count_nonzero(x.data)) if isinstance(x, Constant) else None
        if any(s == 0 for s in x.type.shape):
            n = 0
        return Apply(self, [x], [TensorType("int64", (n,))() for _ in range(x.ndim)])

    def perform(self, node, inputs, output_storage):
        for k, v in enumerate(np.nonzero(inputs[0])):
            output_storage[k][0] = v.astype("int64", copy=False)

    def infer_shape(self, fgraph, node, input_shapes):
        import kiln.tensor.math as km

        x = node.inputs[0]
        n = node.outputs[0].type.shape[0]
        if n is None:
            n = km.sum(km.cast(km.neq(x, 0), "int64"))
        return [(n,)] * len(node.outputs)


def nonzero(x: Any, return_matrix: bool = False):
    """np.nonzero(x): a tuple of int64 index vectors, one per axis of x; with
    `return_matrix` (PyTensor's option) an (ndim, count) matrix instead.

    >>> import numpy as np, kiln.tensor as kt
    >>> m = kt.matrix("m")
    >>> i, j = nonzero(m)
    >>> kt.stack([i, j]).eval({m: np.array([[0., 2.], [3., 0.]])})
    array([[0, 1],
           [1, 0]])
    """
    from kiln.tensor.shape import stack

    outs = Nonzero().make_node(x).outputs
    if return_matrix:
        return stack(outs, axis=0)
    return tuple(outs)


def flatnonzero(x: Any):
    """np.flatnonzero(x): indices of the nonzero entries of x flattened (any ndim, 0-d too).

    >>> import numpy as np, kiln.tensor as kt
    >>> v = kt.vector("v")
    >>> flatnonzero(v).eval({v: np.array([0., 1., 0., 5.])})
    array([1, 3])
    """
    from kiln.tensor.shape import flatten

    return nonzero(flatten(as_tensor_variable(x)))[0]


def argwhere(x: Any):
    """np.argwhere(x): a (count, ndim) int64 matrix of the indices of nonzero entries.

    >>> import numpy as np, kiln.tensor as kt
    >>> v = kt.vector("v")
    >>> argwhere(v).eval({v: np.array([0., 1., 2.])})
    array([[1],
           [2]])
    """
    from kiln.tensor.creation import zeros
    from kiln.tensor.shape import stack

    x = as_tensor_variable(x)
    if x.ndim == 0:
        # NumPy: a 0-d input gives shape (1, 0) when it is nonzero, (0, 0) otherwise
        return zeros((flatnonzero(x).shape[0], 0), dtype="int64")
    return stack(list(nonzero(x)), axis=1)


def where(condition: Any, x: Any = None, y: Any = None):
    """np.where: with one argument, `nonzero(condition)`; with three, the elementwise choice.

    >>> import numpy as np, kiln.tensor as kt
    >>> v = kt.vector("v")
    >>> where(v > 0)[0].eval({v: np.array([-1., 2., 3.])})
    array([1, 2])
    """
    if x is None and y is None:
        c = as_tensor_variable(condition)
        return nonzero(c)
    if x is None or y is None:
        raise ValueError("where: either both or neither of x and y should be given")
    from kiln.tensor.math import switch

    return switch(condition, x, y)


def nonzero_values(x: Any):
    """The nonzero entries of x, flattened in C order (PyTensor's nonzero_values); differentiable
    in x (the gradient flows to the selected entries).

    >>> import numpy as np, kiln.tensor as kt
    >>> m = kt.matrix("m")
    >>> nonzero_values(m).eval({m: np.array([[0., 2.], [3., 0.]])})
    array([2., 3.])
    """
    from kiln.tensor.shape import flatten

    flat = flatten(as_tensor_variable(x))
    return flat[flatnonzero(flat)]
