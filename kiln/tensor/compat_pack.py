"""PyTensor-compatible joining and inspection names: stacklists, horizontal_stack,
vertical_stack, concat_with_broadcast, pack/unpack, get_vector_length,
get_scalar_constant_value, make_slice and slice_at_axis.

>>> import numpy as np, kiln.tensor as kt
>>> packed, shapes = kt.pack(kt.constant(np.ones((2, 3))), kt.constant(np.zeros(4)))
>>> packed.eval().shape
(10,)
>>> float(kt.get_scalar_constant_value(kt.constant(2.0) * 3))
6.0
"""
from __future__ import annotations

import builtins
from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Constant, Variable
from kiln.tensor import math as km
from kiln.tensor.basic import as_tensor_variable, constant
from kiln.tensor.compat_shape import NotScalarConstantError
from kiln.tensor.shape import (MakeVector, Shape, Shape_i, broadcast_shape_symbolic, broadcast_to, reshape,
                               shape, shape_i, stack)

__all__ = ["stacklists", "horizontal_stack", "vertical_stack", "concat_with_broadcast", "pack", "unpack",
           "get_vector_length", "get_scalar_constant_value", "get_underlying_scalar_constant_value",
           "make_slice", "slice_at_axis", "is_flat", "Variable", "Constant", "Op"]

from kiln.graph.op import Op  # noqa: E402  (re-exported: pytensor.tensor exposes these base classes)


def stacklists(arg: Any):
    """Nested lists of tensors stacked into one tensor (lists become leading axes).

    >>> import kiln.tensor as kt
    >>> a, b, c, d = kt.scalars("a b c d")
    >>> kt.stacklists([[a, b], [c, d]]).eval({a: 1.0, b: 2.0, c: 3.0, d: 4.0})
    array([[1., 2.],
           [3., 4.]])
    """
    if isinstance(arg, (list, tuple)):
        return stack([stacklists(a) for a in arg])
    return as_tensor_variable(arg)


def _two_d(args: Sequence[Any], who: str) -> list:
    ts = [as_tensor_variable(a) for a in args]
    if len(ts) < 2:
        raise ValueError(f"{who}: needs at least two arguments")
    for t in ts:
        if t.ndim != 2:
            raise ValueError(f"{who}: all arguments must have two dimensions, got {t} with {t.ndim}")
    return ts


def horizontal_stack(*args: Any):
    """Concatenate 2-d tensors along their columns (axis 1), as PyTensor's horizontal_stack."""
    from kiln.tensor.join import join

    return join(1, *_two_d(args, "horizontal_stack"))


def vertical_stack(*args: Any):
    """Concatenate 2-d tensors along their rows (axis 0), as PyTensor's vertical_stack."""
    from kiln.tensor.join import join

    return join(0, *_two_d(args, "vertical_stack"))


def concat_with_broadcast(tensor_list: Sequence[Any], axis: int = 0):
    """Concatenate along `axis` after broadcasting every other axis to the common shape
    (inputs of fewer dims are padded on the left first).

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.concat_with_broadcast([kt.constant(np.ones((2, 1))), kt.constant(np.zeros((3, 4)))]).eval().shape
    (5, 4)
    """
    from kiln.tensor.join import join

    ts = [as_tensor_variable(t) for t in tensor_list]
    if not ts:
        raise ValueError("concat_with_broadcast: needs at least one tensor")
    nd = builtins.max(t.ndim for t in ts)
    if nd == 0:
        raise ValueError("concat_with_broadcast: cannot concatenate 0-d tensors")
    ts = [t.dimshuffle(["x"] * (nd - t.ndim) + list(range(t.ndim))) if t.ndim < nd else t for t in ts]
    if not -nd <= axis < nd:
        raise ValueError(f"concat_with_broadcast: axis {axis} out of bounds for {nd} dims")
    axis %= nd
    shapes, static = [], []
    for t in ts:
        st = tuple(1 if d == axis else s for d, s in enumerate(t.type.shape))
        shapes.append(tuple(1 if d == axis else (s if s is not None else shape_i(t, d)) for d, s in enumerate(st)))
        static.append(st)
    common = broadcast_shape_symbolic(shapes, static)
    parts = []
    for t in ts:
        target = list(common)
        target[axis] = t.type.shape[axis] if t.type.shape[axis] is not None else shape_i(t, axis)
        parts.append(broadcast_to(t, target))
    return join(axis, *parts) if len(parts) > 1 else parts[0]


def _keep_split(keep_axes: Any, min_ndim: int) -> tuple[int, int]:
    """(number of kept leading axes, number of kept trailing axes) from pack's keep_axes."""
    if keep_axes is None:
        return 0, 0
    axes = [keep_axes] if isinstance(keep_axes, (int, np.integer)) else list(keep_axes)
    pos = sorted(a for a in axes if a >= 0)
    neg = sorted(a for a in axes if a < 0)
    if pos and pos != list(range(len(pos))):
        raise ValueError("pack: positive keep_axes must be contiguous and start from 0 "
                         "(to keep axes at the end, use negative axes)")
    if neg and neg != list(range(-len(neg), 0)):
        raise ValueError("pack: negative keep_axes must be contiguous and end at -1")
    if len(pos) + len(neg) > min_ndim:
        raise ValueError(f"pack: keep_axes {keep_axes} needs inputs of at least {len(pos) + len(neg)} dims")
    return len(pos), len(neg)


def pack(*tensors: Any, keep_axes: Any = None) -> tuple:
    """Ravel every input except its kept axes and concatenate them along the raveled axis
    (PyTensor's pack).  Returns (packed, packed_shapes): the shapes of the raveled parts
    (int64 vectors), for `unpack`.  keep_axes: None (ravel all), leading axes 0..k-1 and/or
    trailing axes -j..-1; all inputs must agree on the kept axes.

    >>> import numpy as np, kiln.tensor as kt
    >>> p, s = kt.pack(kt.constant(np.ones((2, 3))), kt.constant(np.ones((2, 5, 6))), keep_axes=0)
    >>> p.eval().shape
    (2, 33)
    """
    from kiln.tensor.join import join

    ts = [as_tensor_variable(t) for t in tensors]
    if not ts:
        raise ValueError("pack: needs at least one tensor")
    front, back = _keep_split(keep_axes, builtins.min(t.ndim for t in ts))
    flat, shapes = [], []
    for t in ts:
        dims = [shape_i(t, d) for d in range(t.ndim)]
        mid = dims[front:t.ndim - back]
        shapes.append(shape(t)[front:t.ndim - back])
        n = constant(1, dtype="int64")
        for d in mid:
            n = n * d
        flat.append(reshape(t, dims[:front] + [n] + dims[t.ndim - back:], ndim=front + back + 1))
    packed = join(front, *flat) if len(flat) > 1 else flat[0]
    return packed, shapes


def unpack(packed_input: Any, packed_shapes: Sequence[Any], keep_axes: Any = None) -> list:
    """Undo `pack`: split the packed axis by the sizes of packed_shapes and reshape each part
    (the same keep_axes as pack)."""
    from kiln.tensor.joining import split

    x = as_tensor_variable(packed_input)
    front, back = _keep_split(keep_axes, x.ndim - 1)
    if front + back + 1 != x.ndim:
        raise ValueError(f"unpack: a packed tensor with keep_axes={keep_axes} has {front + back + 1} dims, "
                         f"got {x.ndim}")
    shapes = [as_tensor_variable(s) if not isinstance(s, (tuple, list)) else _vec(s) for s in packed_shapes]
    sizes = [km.prod(s) if s.type.shape[0] != 0 else constant(1, dtype="int64") for s in shapes]
    sizes = [km.cast(s, "int64") for s in sizes]
    parts = split(x, stack(sizes), len(sizes), axis=front) if len(sizes) > 1 else [x]
    out = []
    dims = [shape_i(x, d) for d in range(x.ndim)]
    for part, s in zip(parts, shapes):
        k = get_vector_length(s)
        new = dims[:front] + [s[i] for i in range(k)] + dims[front + 1:]
        out.append(reshape(part, new, ndim=len(new)))
    return out


def _vec(items: Sequence[Any]):
    from kiln.tensor.shape import make_vector

    return make_vector(list(items), dtype="int64") if items else constant(np.zeros(0, dtype="int64"))


def get_vector_length(v: Any) -> int:
    """The static length of vector v: from its type, or its construction (make_vector, shape).
    Raises ValueError when it is only known at run time.

    >>> import kiln.tensor as kt
    >>> kt.get_vector_length(kt.matrix("m").shape)
    2
    """
    v = as_tensor_variable(v)
    if v.ndim != 1:
        raise TypeError(f"get_vector_length: argument must be a vector, got {v.type}")
    if v.type.shape[0] is not None:
        return v.type.shape[0]
    if v.owner is not None:
        op = v.owner.op
        if isinstance(op, MakeVector):
            return len(v.owner.inputs)
        if isinstance(op, Shape):
            return v.owner.inputs[0].ndim
    raise ValueError(f"get_vector_length: the length of {v} cannot be determined before run time")


def get_underlying_scalar_constant_value(v: Any, *, elemwise: bool = True, only_process_constants: bool = False,
                                         max_recur: int = 10, raise_not_constant: bool = True):
    """The value of v if it is a constant whose elements are all equal, or a graph that folds to
    one (through static shapes and, with elemwise=True, elementwise ops), as a NumPy scalar.
    Otherwise raise NotScalarConstantError (or return v when raise_not_constant=False)."""
    try:
        val = np.asarray(_fold(v, elemwise, only_process_constants, max_recur))
        if val.size == 0:
            raise NotScalarConstantError(f"{v} is empty")
        flat = val.reshape(-1)
        if val.size > 1 and not np.all(flat == flat[0]):
            raise NotScalarConstantError(f"{v} is a constant with several different values")
        return flat[0]
    except NotScalarConstantError:
        if raise_not_constant:
            raise
        return v


def get_scalar_constant_value(v: Any, elemwise: bool = True, only_process_constants: bool = False,
                              max_recur: int = 10, raise_not_constant: bool = True):
    """get_underlying_scalar_constant_value for a 0-d v (a tensor of more dims raises)."""
    if isinstance(v, Variable) and getattr(v.type, "ndim", 0) != 0:
        if raise_not_constant:
            raise NotScalarConstantError(f"{v} is not a scalar (it has {v.type.ndim} dims)")
        return v
    return get_underlying_scalar_constant_value(v, elemwise=elemwise, only_process_constants=only_process_constants,
                                                max_recur=max_recur, raise_not_constant=raise_not_constant)


def _fold(v: Any, elemwise: bool, only_constants: bool, depth: int) -> np.ndarray:
    from kiln.tensor.elemwise import DimShuffle, Elemwise
    from kiln.tensor.subtensor import Subtensor

    if not isinstance(v, Variable):
        return np.asarray(v)
    if isinstance(v, Constant):
        return np.asarray(v.data)
    if only_constants or v.owner is None or depth <= 0:
        raise NotScalarConstantError(f"{v} is not a constant")
    node = v.owner
    op = node.op
    if isinstance(op, Shape_i):
        d = node.inputs[0].type.shape[op.i]
        if d is not None:
            return np.asarray(d, dtype="int64")
        raise NotScalarConstantError(f"{v}: the length is only known at run time")
    if isinstance(op, Shape):
        st = node.inputs[0].type.shape
        if None not in st:
            return np.asarray(st, dtype="int64")
        raise NotScalarConstantError(f"{v}: the shape is only known at run time")
    if isinstance(op, Subtensor) and node.inputs[0].owner is not None and isinstance(node.inputs[0].owner.op, Shape):
        # x.shape[i]: known when dim i of x is static, even if others are not (-1 marks unknown
        # dims here; it never reaches arithmetic, only this one indexing)
        st = node.inputs[0].owner.inputs[0].type.shape
        marked = np.asarray([-1 if d is None else d for d in st], dtype="int64")
        idx = [_fold(i, elemwise, only_constants, depth - 1) for i in node.inputs[1:]]
        storage = [[None]]
        op.perform(node, [marked] + idx, storage)
        got = np.asarray(storage[0][0])
        if got.ndim == 0 and got >= 0:
            return got
        raise NotScalarConstantError(f"{v}: the length is only known at run time")
    if isinstance(op, Elemwise) and not elemwise:
        raise NotScalarConstantError(f"{v}: elementwise ops are not folded (elemwise=False)")
    if not (isinstance(op, (Elemwise, DimShuffle)) or getattr(op, "foldable", True)):
        raise NotScalarConstantError(f"{v}: {op} is not folded")
    vals = [_fold(i, elemwise, only_constants, depth - 1) for i in node.inputs]
    storage = [[None] for _ in node.outputs]
    op.perform(node, vals, storage)
    return np.asarray(storage[node.outputs.index(v)][0])


def make_slice(start: Any = None, stop: Any = None, step: Any = None) -> slice:
    """A slice whose bounds may be symbolic scalars (x[make_slice(a, b)] indexes like x[a:b]);
    a slice argument is converted part by part."""
    if isinstance(start, slice):
        start, stop, step = start.start, start.stop, start.step

    def conv(p):
        return None if p is None else as_tensor_variable(p)
    return slice(conv(start), conv(stop), conv(step))


def slice_at_axis(sl: slice, axis: int) -> tuple:
    """A tuple of slices applying `sl` along `axis` only: (slice(None),) * axis + (sl, ...).

    >>> import kiln.tensor as kt
    >>> kt.slice_at_axis(slice(None, 3), 1)
    (slice(None, None, None), slice(None, 3, None), Ellipsis)
    """
    return (slice(None),) * axis + (sl, Ellipsis)


def is_flat(var: Any, ndim: int = 1) -> bool:
    """True when var has exactly `ndim` dimensions (PyTensor's is_flat).

    >>> import kiln.tensor as kt
    >>> kt.is_flat(kt.vector("v")), kt.is_flat(kt.matrix("m"), ndim=2)
    (True, True)
    """
    return as_tensor_variable(var).ndim == ndim
