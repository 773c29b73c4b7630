"""Reductions: sum, prod, max, min, any, all over a set of axes, and argmax/argmin.

Reductions drop the reduced axes; `keepdims` is a DimShuffle after them, so rewrites
and code generation see one form.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.scalar import dtypes
from kiln.tensor.basic import as_tensor_variable
from kiln.tensor.type import TensorType

__all__ = ["Reduce", "Sum", "Prod", "Max", "Min", "Any", "All", "Argmax", "Argmin", "normalize_axis",
           "normalize_one_axis"]


def normalize_axis(axis: object, ndim: int, who: str = "reduction") -> tuple[int, ...]:
    """Axis argument (None, int or sequence; negatives allowed) as a sorted tuple of axes."""
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, (bool, np.bool_)):
        axes = [axis]
    elif isinstance(axis, (tuple, list)):
        axes = list(axis)
    else:
        raise TypeError(f"{who}: axis must be None, an int or a tuple of ints, got {axis!r}")
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or isinstance(a, (bool, np.bool_)):
            raise TypeError(f"{who}: axis must be an int or a tuple of ints, got {a!r}")
        a = int(a)
        # a 0-d input accepts axis 0 / -1 as NumPy's ufunc reductions do (np.sum(x0d, axis=0))
        if (ndim == 0 and a not in (0, -1)) or (ndim > 0 and not -ndim <= a < ndim):
            raise ValueError(f"{who}: axis {a} is out of bounds for a {ndim}-d tensor")
        a = a % ndim if ndim else 0
        if a in out:
            raise ValueError(f"{who}: repeated axis {a}")
        out.append(a)
    if ndim == 0:
        return ()
    return tuple(sorted(out))


def normalize_one_axis(axis: object, ndim: int, who: str) -> int:
    """One axis (negative allowed) as a non-negative int, with a clear error when out of range.

    >>> normalize_one_axis(-1, 3, "swapaxes")
    2
    """
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, (bool, np.bool_)):
        raise TypeError(f"{who}: axis must be an int, got {axis!r}")
    if not -ndim <= int(axis) < ndim:
        raise ValueError(f"{who}: axis {axis} is out of bounds for a {ndim}-d tensor")
    return int(axis) % ndim


def _keep(out, ndim: int, axes: Sequence[int]):
    """Re-insert reduced axes as length-1 axes (keepdims)."""
    from kiln.tensor.elemwise import DimShuffle

    order, k = [], 0
    for d in range(ndim):
        if d in axes:
            order.append("x")
        else:
            order.append(k)
            k += 1
    return DimShuffle(out.ndim, order)(out)


class Reduce(Op):
    """Reduce the input over `axis` (a sorted tuple) with a NumPy reducer."""

    __props__ = ("axis", "dtype")
    reducer = None  # np.sum, np.max, ...

    def __init__(self, axis: Sequence[int], dtype: object = None):
        axis = tuple(int(a) for a in axis)
        # the op's identity (and rewrites matching on it) relies on one spelling per axis set
        if any(a < 0 for a in axis) or len(set(axis)) != len(axis):
            raise ValueError(f"{type(self).__name__}: axis must be distinct non-negative ints "
                             f"(use normalize_axis), got {axis}")
        self.axis = tuple(sorted(axis))
        self.dtype = None if dtype is None else dtypes.normalize(dtype)

    def __str__(self) -> str:
        name = type(self).__name__
        extra = f", dtype={self.dtype}" if self.dtype else ""
        return f"{name}{{axis={self.axis}{extra}}}"

    def out_dtype(self, in_dtype: str) -> str:
        if self.dtype is not None:
            return self.dtype
        return str(type(self).reducer(np.zeros(1, dtype=in_dtype)).dtype)

    def make_node(self, x: object) -> Apply:
        x = as_tensor_variable(x)
        if self.axis and self.axis[-1] >= x.ndim:
            raise ValueError(f"{self}: axis out of range for a {x.ndim}-d input")
        shape = tuple(s for d, s in enumerate(x.type.shape) if d not in self.axis)
        return Apply(self, [x], [TensorType(self.out_dtype(x.dtype), shape)()])

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list[list]) -> None:
        (x,) = inputs
        out = node.outputs[0].type.dtype
        with np.errstate(all="ignore"):
            res = self._compute(x, out)
        output_storage[0][0] = np.asarray(res, dtype=out)

    def _compute(self, x: np.ndarray, out_dtype: str) -> np.ndarray:
        return type(self).reducer(x, axis=self.axis)

    def infer_shape(self, fgraph, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        (shp,) = input_shapes
        return [tuple(s for d, s in enumerate(shp) if d not in self.axis)]


class Sum(Reduce):
    """Sum over `axis`; dtype as np.sum's (small ints accumulate as int64) unless given."""
    reducer = staticmethod(np.sum)

    def _compute(self, x, out_dtype):
        return np.sum(x, axis=self.axis, dtype=out_dtype)


class Prod(Reduce):
    """Product over `axis`; dtype as np.prod's unless given."""
    reducer = staticmethod(np.prod)

    def _compute(self, x, out_dtype):
        return np.prod(x, axis=self.axis, dtype=out_dtype)


class Max(Reduce):
    """Maximum over `axis` (NaN propagates)."""
    reducer = staticmethod(np.max)


class Min(Reduce):
    """Minimum over `axis` (NaN propagates)."""
    reducer = staticmethod(np.min)


class Any(Reduce):
    """Logical or over `axis` (bool output)."""
    reducer = staticmethod(np.any)


class All(Reduce):
    """Logical and over `axis` (bool output)."""
    reducer = staticmethod(np.all)


class _ArgReduce(Op):
    __props__ = ("axis",)
    reducer = None

    def __init__(self, axis: int | None):
        if axis is not None and int(axis) < 0:
            raise ValueError(f"{type(self).__name__}: axis must be None or a non-negative int, got {axis}")
        self.axis = None if axis is None else int(axis)

    def make_node(self, x: object) -> Apply:
        x = as_tensor_variable(x)
        if self.axis is not None and self.axis >= x.ndim:
            raise ValueError(f"{self}: axis {self.axis} out of range for a {x.ndim}-d input")
        shape = () if self.axis is None else tuple(s for d, s in enumerate(x.type.shape) if d != self.axis)
        return Apply(self, [x], [TensorType("int64", shape)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(type(self).reducer(inputs[0], axis=self.axis), dtype="int64")

    def infer_shape(self, fgraph, node, input_shapes):
        (shp,) = input_shapes
        return [() if self.axis is None else tuple(s for d, s in enumerate(shp) if d != self.axis)]


class Argmax(_ArgReduce):
    """Index of the first maximum along `axis` (None: of the flattened input), int64."""
    reducer = staticmethod(np.argmax)


class Argmin(_ArgReduce):
    """Index of the first minimum along `axis` (None: of the flattened input), int64."""
    reducer = staticmethod(np.argmin)
