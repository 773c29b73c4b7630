"""Creating tensors: alloc/zeros/ones/full (and *_like), arange, eye."""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln.graph.basic import Apply, Variable
from kiln.graph.op import Op
from kiln.scalar import dtypes
from kiln.tensor.basic import as_tensor_variable, constant, describe
from kiln.tensor.shape import _static_entries, as_shape_vector, shape
from kiln.tensor.type import TensorType

__all__ = ["Alloc", "ARange", "Eye", "alloc", "zeros", "ones", "full", "zeros_like", "ones_like",
           "full_like", "arange", "eye", "identity_like"]


class Alloc(Op):
    """A new array of the given shape filled with (a broadcast of) `value`."""

    __props__ = ("ndim",)
    foldable = False  # folding would store a possibly huge array in the graph

    def __init__(self, ndim: int):
        self.ndim = int(ndim)

    def make_node(self, value: Any, shp: Any) -> Apply:
        v = as_tensor_variable(value)
        shp = as_shape_vector(shp)
        if v.ndim > self.ndim:
            raise ValueError(f"alloc: value has {v.ndim} dimensions, more than the {self.ndim} of the shape")
        static = _static_entries(shp)
        for n in static:
            if n is not None and n < 0:
                raise ValueError(f"alloc: negative dimension {n} in shape")
        vs = (1,) * (self.ndim - v.ndim) + v.type.shape
        for i, (a, b) in enumerate(zip(vs, static)):
            if a is not None and b is not None and a not in (1, b):
                raise ValueError(f"alloc: value {describe(v)} cannot fill dimension {i} of length {b}")
        return Apply(self, [v, shp], [TensorType(v.dtype, tuple(static))()])

    def perform(self, node, inputs, output_storage):
        v, shp = inputs
        shp = tuple(int(s) for s in shp)
        if any(s < 0 for s in shp):
            raise ValueError(f"alloc: negative dimensions are not allowed: {shp}")
        out = np.empty(shp, dtype=node.outputs[0].type.dtype)
        out[...] = v
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.subtensor import subtensor

        static = node.outputs[0].type.shape
        return [tuple(s if s is not None else subtensor(node.inputs[1], i) for i, s in enumerate(static))]


def alloc(value: Any, *shape: Any):
    """PyTensor's alloc(value, *shape): `value` broadcast to `shape` in a new array."""
    if len(shape) == 1 and isinstance(shape[0], (list, tuple, Variable)) and not (
            isinstance(shape[0], Variable) and shape[0].ndim == 0):
        shape = shape[0]
    vec = as_shape_vector(list(shape) if isinstance(shape, tuple) else shape)
    return Alloc(vec.type.shape[0])(value, vec)


def full(shape: Any, fill_value: Any, dtype: Any = None):
    """NumPy's full; the dtype defaults to the fill value's (Python floats give floatX)."""
    if isinstance(fill_value, Variable):
        v = as_tensor_variable(fill_value, dtype=dtype)
    else:
        v = constant(fill_value, dtype=dtype)
    if isinstance(shape, (int, np.integer)) or (isinstance(shape, Variable) and shape.ndim == 0):
        shape = [shape]
    vec = as_shape_vector(shape)
    return Alloc(vec.type.shape[0])(v, vec)


def zeros(shape: Any, dtype: Any = None):
    """An array of zeros (dtype floatX by default); `shape` may hold symbolic lengths.

    >>> import kiln.tensor as kt
    >>> kt.zeros((2, 3)).eval()
    array([[0., 0., 0.],
           [0., 0., 0.]])
    """
    return full(shape, 0, dtype="floatX" if dtype is None else dtype)


def ones(shape: Any, dtype: Any = None):
    """An array of ones (dtype floatX by default).

    >>> import kiln.tensor as kt
    >>> kt.ones(3, dtype="int8").eval()
    array([1, 1, 1], dtype=int8)
    """
    return full(shape, 1, dtype="floatX" if dtype is None else dtype)


def full_like(x: Any, fill_value: Any, dtype: Any = None):
    """An array shaped like `x` filled with `fill_value` (dtype: x's unless given)."""
    x = as_tensor_variable(x)
    return full(shape(x) if x.ndim else [], fill_value, dtype=x.dtype if dtype is None else dtype)


def zeros_like(x: Any, dtype: Any = None):
    """Zeros shaped like `x` (dtype: x's unless given)."""
    return full_like(x, 0, dtype)


def ones_like(x: Any, dtype: Any = None):
    """Ones shaped like `x` (dtype: x's unless given)."""
    return full_like(x, 1, dtype)


class ARange(Op):
    """NumPy's arange(start, stop, step) with a fixed output dtype."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str):
        self.dtype = dtypes.normalize(dtype)

    def make_node(self, start, stop, step) -> Apply:
        ins = [as_tensor_variable(v) for v in (start, stop, step)]
        for v in ins:
            if v.ndim != 0:
                raise TypeError(f"arange: start, stop and step must be scalars, got {v.type}")
        length = None
        if all(hasattr(v, "data") for v in ins):
            a, b, s = (v.data[()] for v in ins)
            if s == 0:
                raise ValueError("arange: step must not be zero")
            length = len(np.arange(a, b, s))
        return Apply(self, ins, [TensorType(self.dtype, (length,))()])

    def perform(self, node, inputs, output_storage):
        a, b, s = (np.asarray(v)[()] for v in inputs)
        if s == 0:
            raise ValueError("arange: step must not be zero")
        output_storage[0][0] = np.arange(a, b, s, dtype=self.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.math import cast, ceil, maximum, true_div

        n = node.outputs[0].type.shape[0]
        if n is not None:
            return [(n,)]
        a, b, s = node.inputs
        return [(cast(maximum(ceil(true_div(b - a, s)), 0), "int64"),)]


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None):
    """NumPy's arange: ints give int64, Python floats floatX (weak promotion as in NEP 50)."""
    if stop is None:
        start, stop = 0, start
    if dtype is None:
        from kiln.tensor.elemwise import _weak_inputs

        vals = _weak_inputs([start, stop, step])
        dtype = dtypes.upcast(*[v.dtype for v in vals])
        if dtype == "bool":
            dtype = "int64"
    return ARange(dtype)(start, stop, step)


class Eye(Op):
    """An n x m array with ones on diagonal k."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str):
        self.dtype = dtypes.normalize(dtype)

    def make_node(self, n, m, k) -> Apply:
        ins = [as_tensor_variable(v) for v in (n, m, k)]
        for v in ins:
            if v.ndim != 0 or not dtypes.is_integer(v.dtype):
                raise TypeError(f"eye: n, m and k must be integer scalars, got {v.type}")
        static = tuple(int(v.data) if hasattr(v, "data") else None for v in ins[:2])
        return Apply(self, ins, [TensorType(self.dtype, static)()])

    def perform(self, node, inputs, output_storage):
        n, m, k = (int(v) for v in inputs)
        output_storage[0][0] = np.eye(n, m, k, dtype=self.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [(node.inputs[0], node.inputs[1])]


def eye(n: Any, m: Any = None, k: Any = 0, dtype: Any = None):
    """NumPy's eye (dtype floatX by default)."""
    return Eye("floatX" if dtype is None else dtype)(n, n if m is None else m, k)


def identity_like(x: Any, dtype: Any = None):
    """An identity-like matrix with the shape of the matrix `x` (ones on the diagonal)."""
    from kiln.tensor.shape import shape_i

    x = as_tensor_variable(x)
    return eye(shape_i(x, 0), shape_i(x, 1), 0, dtype=x.dtype if dtype is None else dtype)
