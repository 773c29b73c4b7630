"""Diagonals (issue 5): diagonal, diag, trace, tril, triu.

Two ops, Diagonal and DiagonalEmbed, each the transpose of the other (reading a diagonal /
writing one into zeros).  trace is a sum of a Diagonal; tril/triu are a switch on an index
mask, so their gradients and C code are the elementwise ones.
Diagonal is a view and DiagonalEmbed a kernel on the C linker (kiln/linkers/c/lower_shape_ops.py).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.tensor import math as km
from kiln.tensor.basic import as_tensor_variable, describe
from kiln.tensor.reduction import normalize_one_axis
from kiln.tensor.shape import _static_entries, as_shape_vector, shape_i
from kiln.tensor.type import TensorType

__all__ = ["Diagonal", "DiagonalEmbed", "diagonal", "diag", "trace", "tril", "triu"]


def _diag_len(n1, n2, offset: int):
    """Length of the offset diagonal of an n1 x n2 matrix (ints or symbolic)."""
    if isinstance(n1, int) and isinstance(n2, int):
        return max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    a = km.minimum(n1, km.sub(n2, offset)) if offset >= 0 else km.minimum(km.add(n1, offset), n2)
    return km.maximum(a, 0)


def _diag_index(shape: tuple, offset: int) -> tuple[np.ndarray, np.ndarray]:
    n = _diag_len(shape[0], shape[1], offset)
    i = np.arange(n)
    return i + max(-offset, 0), i + max(offset, 0)


class Diagonal(Op):
    """NumPy's diagonal(x, offset, axis1, axis2): the diagonal becomes the last axis, the other
    axes keep their order.  Linear; its transpose is DiagonalEmbed.  C: a view in segments."""

    __props__ = ("offset", "axis1", "axis2")

    def __init__(self, offset: int = 0, axis1: int = 0, axis2: int = 1):
        self.offset, self.axis1, self.axis2 = int(offset), int(axis1), int(axis2)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim < 2:
            raise ValueError(f"diagonal: needs at least 2 axes, got {describe(x)}")
        if not (0 <= self.axis1 < x.ndim and 0 <= self.axis2 < x.ndim) or self.axis1 == self.axis2:
            raise ValueError(f"diagonal: axes {self.axis1}, {self.axis2} are invalid for {describe(x)}")
        s = x.type.shape
        rest = tuple(s[d] for d in range(x.ndim) if d not in (self.axis1, self.axis2))
        n1, n2 = s[self.axis1], s[self.axis2]
        n = _diag_len(n1, n2, self.offset) if n1 is not None and n2 is not None else None
        return Apply(self, [x], [TensorType(x.dtype, rest + (n,))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.diagonal(inputs[0], self.offset, self.axis1, self.axis2).copy()

    def infer_shape(self, fgraph, node, input_shapes):
        s = input_shapes[0]
        rest = tuple(s[d] for d in range(len(s)) if d not in (self.axis1, self.axis2))
        return [rest + (_diag_len(s[self.axis1], s[self.axis2], self.offset),)]


class DiagonalEmbed(Op):
    """Zeros of the shape `shp` with `d` written on the offset diagonal of axes (axis1, axis2):
    the transpose of Diagonal (and np.diag of a vector).  Inputs: (d, shp), with d's last axis
    the diagonal and its other axes the remaining axes of the result.  C: a kernel."""

    __props__ = ("offset", "axis1", "axis2")

    def __init__(self, offset: int = 0, axis1: int = 0, axis2: int = 1):
        self.offset, self.axis1, self.axis2 = int(offset), int(axis1), int(axis2)

    def make_node(self, d: Any, shp: Any) -> Apply:
        d = as_tensor_variable(d)
        shp = as_shape_vector(shp)
        ndim = shp.type.shape[0]
        if ndim is None or ndim != d.ndim + 1:
            raise ValueError(f"diagonal_embed: the shape must have {d.ndim + 1} entries for {describe(d)}")
        if not (0 <= self.axis1 < ndim and 0 <= self.axis2 < ndim) or self.axis1 == self.axis2:
            raise ValueError(f"diagonal_embed: axes {self.axis1}, {self.axis2} are invalid for {ndim} axes")
        static = _static_entries(shp)
        return Apply(self, [d, shp], [TensorType(d.dtype, tuple(static))()])

    def perform(self, node, inputs, output_storage):
        d, shp = inputs
        shp = tuple(int(s) for s in shp)
        out = np.zeros(shp, dtype=node.outputs[0].type.dtype)
        moved = np.moveaxis(out, (self.axis1, self.axis2), (-2, -1))
        i, j = _diag_index(moved.shape[-2:], self.offset)
        if d.shape != moved.shape[:-2] + (len(i),):
            raise ValueError(f"{self}: diagonal values of shape {d.shape} do not fit the diagonal "
                             f"(offset {self.offset}) of shape {moved.shape[:-2] + (len(i),)}")
        moved[..., i, j] = d
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.subtensor import subtensor

        static = node.outputs[0].type.shape
        return [tuple(s if s is not None else subtensor(node.inputs[1], k) for k, s in enumerate(static))]


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1):
    """NumPy's diagonal (a copy, with the diagonal as the last axis).

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.diagonal(kt.constant(np.arange(9).reshape(3, 3)), 1).eval()
    array([1, 5])
    """
    x = as_tensor_variable(x)
    if x.ndim < 2:
        raise ValueError(f"diagonal: needs at least 2 axes, got {describe(x)}")
    a1 = normalize_one_axis(axis1, max(x.ndim, 1), "diagonal")
    a2 = normalize_one_axis(axis2, max(x.ndim, 1), "diagonal")
    return Diagonal(offset, a1, a2)(x)


def diag(v: Any, k: int = 0):
    """NumPy's diag: the k-th diagonal of a matrix, or a matrix with the vector v on its k-th
    diagonal.

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.diag(kt.constant(np.array([1, 2])), -1).eval()
    array([[0, 0, 0],
           [1, 0, 0],
           [0, 2, 0]])
    """
    v = as_tensor_variable(v)
    if v.ndim == 2:
        return Diagonal(k, 0, 1)(v)
    if v.ndim != 1:
        raise ValueError(f"diag: input must be 1-d or 2-d, got {describe(v)}")
    n = v.type.shape[0] if v.type.shape[0] is not None else shape_i(v, 0)
    m = n + abs(k) if isinstance(n, int) else km.add(n, abs(k))
    return DiagonalEmbed(k, 0, 1)(v, [m, m])


def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1):
    """NumPy's trace: the sum along the offset diagonal (over the last axis for stacks).

    >>> import numpy as np, kiln.tensor as kt
    >>> int(kt.trace(kt.constant(np.arange(9).reshape(3, 3))).eval())
    12
    """
    return km.sum(diagonal(x, offset, axis1, axis2), axis=-1)


def _tri_mask(x, k: int, lower: bool):
    from kiln.tensor.creation import arange

    n = x.type.shape[-2] if x.type.shape[-2] is not None else shape_i(x, x.ndim - 2)
    m = x.type.shape[-1] if x.type.shape[-1] is not None else shape_i(x, x.ndim - 1)
    rows = arange(n).dimshuffle(0, "x")
    cols = arange(m).dimshuffle("x", 0)
    return km.ge(rows + k, cols) if lower else km.le(rows + k, cols)


def _tri(x: Any, k: int, lower: bool, who: str):
    from kiln.tensor.creation import zeros_like

    x = as_tensor_variable(x)
    if x.ndim == 0:
        raise ValueError(f"{who}: input must be at least 1-d, got {describe(x)}")
    if not isinstance(k, (int, np.integer)):
        raise TypeError(f"{who}: k must be a Python int, got {k!r}")
    # NumPy treats a vector as the rows of a square matrix (np.tril([1, 2]) is 2 x 2)
    xm = x.dimshuffle("x", 0) if x.ndim == 1 else x
    if x.ndim == 1:
        from kiln.tensor.shape import broadcast_to

        n = x.type.shape[0] if x.type.shape[0] is not None else shape_i(x, 0)
        xm = broadcast_to(xm, [n, n])
    return km.switch(_tri_mask(xm, int(k), lower), xm, zeros_like(xm))


def tril(x: Any, k: int = 0):
    """NumPy's tril: zero the entries above the k-th diagonal of the last two axes.

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.tril(kt.constant(np.ones((2, 2), dtype="int64"))).eval()
    array([[1, 0],
           [1, 1]])
    """
    return _tri(x, k, True, "tril")


def triu(x: Any, k: int = 0):
    """NumPy's triu: zero the entries below the k-th diagonal of the last two axes.

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.triu(kt.constant(np.ones((2, 2), dtype="int64"))).eval()
    array([[1, 1],
           [0, 1]])
    """
    return _tri(x, k, False, "triu")
