"""`take`, `take_along_axis` and the functional `put_along_axis`, built on advanced indexing
(so their gradients are those of AdvancedSubtensor / AdvancedIncSubtensor).
"""
from __future__ import annotations

from typing import Any

from kiln.scalar import dtypes
from kiln.tensor.basic import as_tensor_variable

__all__ = ["put_along_axis", "take", "take_along_axis"]


def _norm_axis(axis: int, ndim: int, who: str) -> int:
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise TypeError(f"{who}: axis must be an int or None, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{who}: axis {axis} is out of bounds for a tensor of dimension {ndim}")
    return axis % ndim


def _int_indices(indices: Any, who: str):
    from kiln.tensor.advanced import _as_index_input

    ind = _as_index_input(indices, who)
    if not dtypes.is_integer(ind.dtype):
        raise IndexError(f"{who}: indices must be integers, got {ind} of type {ind.type}")
    return ind


def take(a: Any, indices: Any, axis: int | None = None):
    """np.take(a, indices, axis) (mode "raise": out-of-bounds indices raise IndexError at run
    time; negative indices count from the end).  With axis=None, a is flattened first.

    >>> import numpy as np, kiln.tensor as kt
    >>> m = kt.matrix("m")
    >>> take(m, [[2, 0]], axis=1).eval({m: np.arange(6.).reshape(2, 3)})
    array([[[2., 0.]],
    <BLANKLINE>
           [[5., 3.]]])
    """
    from kiln.tensor.shape import flatten

    a = as_tensor_variable(a)
    ind = _int_indices(indices, "take")
    if axis is None:
        a, axis = flatten(a), 0
    if a.ndim == 0:
        raise ValueError("take: cannot index a 0-d tensor along an axis")
    axis = _norm_axis(axis, a.ndim, "take")
    return a[(slice(None),) * axis + (ind,)]


def _along_axis_index(arr, ind, axis: int, who: str) -> tuple:
    """The fancy index that makes arr[index] == np.take_along_axis(arr, ind, axis)."""
    from kiln.tensor.creation import arange
    from kiln.tensor.shape import shape_i

    if ind.ndim != arr.ndim:
        raise ValueError(f"{who}: indices ({ind.type}) and arr ({arr.type}) must have the same number "
                         f"of dimensions")
    idx = []
    for d in range(arr.ndim):
        if d == axis:
            idx.append(ind)
            continue
        n = arr.type.shape[d]
        r = arange(n if n is not None else shape_i(arr, d), dtype="int64")
        idx.append(r.dimshuffle(*["x" if k != d else 0 for k in range(arr.ndim)]))
    return tuple(idx)


def take_along_axis(arr: Any, indices: Any, axis: int | None = -1):
    """np.take_along_axis: pick values along `axis` by matching 1-d slices of `indices`
    (same ndim as arr; other axes broadcast).  axis=None works on the flattened arr (indices
    must then be 1-d).

    >>> import numpy as np, kiln.tensor as kt
    >>> m = kt.matrix("m")
    >>> take_along_axis(m, [[1], [0]], axis=1).eval({m: np.array([[3., 1.], [0., 2.]])})
    array([[1.],
           [0.]])
    """
    from kiln.tensor.shape import flatten

    arr = as_tensor_variable(arr)
    ind = _int_indices(indices, "take_along_axis")
    if axis is None:
        if ind.ndim != 1:
            raise ValueError("take_along_axis: when axis=None, indices must have a single dimension")
        arr, axis = flatten(arr), 0
    if arr.ndim == 0:
        raise ValueError("take_along_axis: arr must have at least one dimension")
    axis = _norm_axis(axis, arr.ndim, "take_along_axis")
    return arr[_along_axis_index(arr, ind, axis, "take_along_axis")]


def put_along_axis(arr: Any, indices: Any, values: Any, axis: int | None, inc: bool = False):
    """Functional np.put_along_axis: a copy of arr with values written at the positions
    take_along_axis(arr, indices, axis) reads (values broadcast to that shape).  With
    `inc=True` the values are added instead, accumulating over repeated indices.  For
    repeated indices without `inc`, the last write wins (as NumPy).

    >>> import numpy as np, kiln.tensor as kt
    >>> m = kt.matrix("m")
    >>> put_along_axis(m, [[1], [0]], 9.0, axis=1).eval({m: np.zeros((2, 2))})
    array([[0., 9.],
           [9., 0.]])
    """
    from kiln.tensor.inc_subtensor import inc_subtensor, set_subtensor
    from kiln.tensor.shape import reshape

    arr = as_tensor_variable(arr)
    ind = _int_indices(indices, "put_along_axis")
    if axis is None:
        if ind.ndim != 1:
            raise ValueError("put_along_axis: when axis=None, indices must have a single dimension")
        flat = arr.flatten()
        view = flat[_along_axis_index(flat, ind, 0, "put_along_axis")]
        new = (inc_subtensor if inc else set_subtensor)(view, values)
        return reshape(new, arr.shape, ndim=arr.ndim)
    if arr.ndim == 0:
        raise ValueError("put_along_axis: arr must have at least one dimension")
    axis = _norm_axis(axis, arr.ndim, "put_along_axis")
    view = arr[_along_axis_index(arr, ind, axis, "put_along_axis")]
    return (inc_subtensor if inc else set_subtensor)(view, values)
