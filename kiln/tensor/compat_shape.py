"""PyTensor-compatible shape and creation names that kiln lacked: 6-d and 7-d constructors,
atleast_3d/atleast_Nd, broadcast_shape, empty, linspace/logspace/geomspace, mgrid/ogrid, tri and
the triangle indices, moveaxis, shape padding, stacklists, pack/unpack, join_dims/split_dims,
constant inspection (get_scalar_constant_value, get_vector_length) and slice helpers.

All are compositions of existing ops (reshape, dimshuffle, join, arange, ...), so their
gradients come from their parts.  Where PyTensor and NumPy differ, NumPy wins: `atleast_3d`
pads like numpy.atleast_3d ((N,) -> (1, N, 1)) unless `left=` is given, and `mgrid[...]` is one
stacked tensor as numpy.mgrid gives (PyTensor returns a list).

>>> import numpy as np, kiln.tensor as kt
>>> kt.linspace(0.0, 1.0, 5).eval()
array([0.  , 0.25, 0.5 , 0.75, 1.  ])
>>> kt.moveaxis(kt.tensor("x", shape=(2, 3, 4)), 0, -1).type.shape
(3, 4, 2)
"""
from __future__ import annotations

import builtins
from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Variable
from kiln.scalar import dtypes
from kiln.tensor import basic as _basic
from kiln.tensor import math as km
from kiln.tensor.basic import as_tensor_variable, constant
from kiln.tensor.shape import (broadcast_shape_symbolic, broadcast_to, reshape, shape_i, specify_shape, stack,
                               transpose)

__all__ = ["tensor6", "tensor7", "atleast_3d", "atleast_Nd", "broadcast_shape", "empty", "empty_like",
           "linspace", "logspace", "geomspace", "mgrid", "ogrid", "tri", "tril_indices", "tril_indices_from",
           "triu_indices", "triu_indices_from", "moveaxis", "shape_padaxis", "shape_padleft", "shape_padright",
           "specify_broadcastable", "join_dims", "split_dims", "matrix_transpose", "NotScalarConstantError"]

# -- 6-d and 7-d constructors: tensor6, ftensor7, dtensor6s, ... (same scheme as kiln.tensor.basic) --
tensor6 = _basic._family(6)
tensor7 = _basic._family(7)
for _f, _n in [(tensor6, "tensor6"), (tensor7, "tensor7")]:
    _f.__name__ = _f.__qualname__ = _n
    _f.__doc__ = f"A symbolic {_n} input (dtype defaults to floatX)."
for _k, _fn in (("tensor6", tensor6), ("tensor7", tensor7)):
    for _p in ("",) + tuple(_basic._PREFIX):
        if _p:
            _made = _basic._typed(_fn, _basic._PREFIX[_p])
            _made.__name__ = _made.__qualname__ = _p + _k
            _made.__doc__ = f"A symbolic {_k} of dtype {_basic._PREFIX[_p]}."
            globals()[_p + _k] = _made
            __all__.append(_p + _k)
        _many = _basic._plural(globals()[_p + _k])
        _many.__name__ = _many.__qualname__ = _p + _k + "s"
        _many.__doc__ = f"Several symbolic {_k}s: {_p}{_k}s('a', 'b'), {_p}{_k}s('a b') or {_p}{_k}s(2)."
        globals()[_p + _k + "s"] = _many
        __all__.append(_p + _k + "s")


class NotScalarConstantError(ValueError):
    """Raised by get_scalar_constant_value for a variable whose value is not a known constant."""


# -- dimensions -------------------------------------------------------------------------------
def atleast_Nd(arry: Any, *, n: int = 1, left: bool = True):  # noqa: N802  (PyTensor's name)
    """arry with at least n dims, new length-1 axes on the left (or the right with left=False).

    >>> import kiln.tensor as kt
    >>> kt.atleast_Nd(kt.vector("v"), n=3).type.shape
    (1, 1, None)
    """
    x = as_tensor_variable(arry)
    pad = n - x.ndim
    if pad <= 0:
        return x
    keep = list(range(x.ndim))
    return x.dimshuffle(["x"] * pad + keep if left else keep + ["x"] * pad)


def atleast_3d(*arys: Any, left: bool | None = None):
    """Inputs with at least 3 dims.  Default: numpy.atleast_3d's rule (0-d -> (1, 1, 1),
    (N,) -> (1, N, 1), (M, N) -> (M, N, 1)); left=True/False pads on one side (PyTensor's
    atleast_Nd).  Several inputs give a list."""
    out = []
    for a in arys:
        x = as_tensor_variable(a)
        if left is not None:
            out.append(atleast_Nd(x, n=3, left=left))
        elif x.ndim == 0:
            out.append(x.dimshuffle("x", "x", "x"))
        elif x.ndim == 1:
            out.append(x.dimshuffle("x", 0, "x"))
        elif x.ndim == 2:
            out.append(x.dimshuffle(0, 1, "x"))
        else:
            out.append(x)
    return out[0] if len(out) == 1 else out


def shape_padleft(t: Any, n_ones: int = 1):
    """t with n_ones length-1 axes added in front."""
    x = as_tensor_variable(t)
    return x.dimshuffle(["x"] * n_ones + list(range(x.ndim)))


def shape_padright(t: Any, n_ones: int = 1):
    """t with n_ones length-1 axes added at the end."""
    x = as_tensor_variable(t)
    return x.dimshuffle(list(range(x.ndim)) + ["x"] * n_ones)


def shape_padaxis(t: Any, axis: int):
    """t with a length-1 axis inserted at `axis` (negative counts from the new end).

    >>> import kiln.tensor as kt
    >>> kt.shape_padaxis(kt.matrix("m"), -1).type.shape
    (None, None, 1)
    """
    x = as_tensor_variable(t)
    nd = x.ndim + 1
    if not -nd <= axis < nd:
        raise IndexError(f"shape_padaxis: axis {axis} is out of bounds [-{nd}, {nd})")
    axis %= nd
    pattern: list = list(range(x.ndim))
    pattern.insert(axis, "x")
    return x.dimshuffle(pattern)


def specify_broadcastable(x: Any, *axes: int):
    """x declared to have length 1 on `axes` (checked when run: another length raises)."""
    x = as_tensor_variable(x)
    if not axes:
        return x
    ax = {a % x.ndim for a in axes} if x.ndim else set()
    if builtins.max(axes) >= x.ndim or builtins.min(axes) < -x.ndim:
        raise ValueError(f"specify_broadcastable: axes {axes} out of range for {x.ndim} dims")
    return specify_shape(x, [1 if d in ax else s for d, s in enumerate(x.type.shape)])


def _norm_axis(a: int, ndim: int, who: str) -> int:
    if not -ndim <= a < ndim:
        raise ValueError(f"{who}: axis {a} is out of bounds for {ndim} dims")
    return a % ndim


def moveaxis(a: Any, source: int | Sequence[int], destination: int | Sequence[int]):
    """numpy.moveaxis: move axes `source` to positions `destination`, others keep their order."""
    x = as_tensor_variable(a)
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    if len(src) != len(dst):
        raise ValueError("moveaxis: source and destination must have the same number of elements")
    src = [_norm_axis(s, x.ndim, "moveaxis") for s in src]
    dst = [_norm_axis(d, x.ndim, "moveaxis") for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError("moveaxis: repeated axis")
    order = [i for i in range(x.ndim) if i not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return transpose(x, order)


def matrix_transpose(x: Any):
    """Swap the last two axes (x.mT); x needs at least 2 dims."""
    x = as_tensor_variable(x)
    if x.ndim < 2:
        raise ValueError(f"matrix_transpose: the input needs at least 2 dims, got {x.ndim}")
    return transpose(x, list(range(x.ndim - 2)) + [x.ndim - 1, x.ndim - 2])


def join_dims(x: Any, start_axis: int = 0, n_axes: int | None = None):
    """Merge n_axes consecutive axes from start_axis into one (all remaining when None; 0 inserts
    a length-1 axis).

    >>> import kiln.tensor as kt
    >>> kt.join_dims(kt.tensor("x", shape=(2, 3, 4, 5)), 1, 2).type.shape
    (2, 12, 5)
    """
    x = as_tensor_variable(x)
    start = _norm_axis(start_axis, builtins.max(x.ndim, 1), "join_dims") if x.ndim else 0
    n = x.ndim - start if n_axes is None else n_axes
    if n < 0 or start + n > x.ndim:
        raise ValueError(f"join_dims: cannot join {n} axes from axis {start} of a {x.ndim}-d tensor")
    dims = _dims(x)
    part = dims[start:start + n]
    if all(isinstance(d, int) for d in part):
        merged = int(np.prod(part, dtype="int64"))
    else:
        merged = constant(1, dtype="int64")
        for d in part:
            merged = merged * d
    return reshape(x, dims[:start] + [merged] + dims[start + n:], ndim=x.ndim - n + 1)


def _dims(x) -> list:
    """x's lengths: ints where static (so reshapes keep static shapes), else symbolic."""
    return [s if s is not None else shape_i(x, i) for i, s in enumerate(x.type.shape)]


def split_dims(x: Any, shape: Any, axis: int = 0):
    """Split axis `axis` into several with lengths `shape` (ints or symbolic scalars, or a vector).

    >>> import kiln.tensor as kt
    >>> kt.split_dims(kt.tensor("x", shape=(6, 4)), (2, 3)).type.shape
    (2, 3, 4)
    """
    x = as_tensor_variable(x)
    axis = _norm_axis(axis, x.ndim, "split_dims")
    if isinstance(shape, (int, np.integer)) or (isinstance(shape, Variable) and shape.ndim == 0):
        shape = [shape]
    if isinstance(shape, (Variable, np.ndarray)):
        from kiln.tensor.compat_pack import get_vector_length

        v = as_tensor_variable(shape)
        shape = [v[i] for i in range(get_vector_length(v))]
    dims = _dims(x)
    new = dims[:axis] + [int(d) if isinstance(d, (int, np.integer)) else d for d in shape] + dims[axis + 1:]
    return reshape(x, new, ndim=len(new))


def broadcast_shape(*arrays: Any, arrays_are_shapes: bool = False) -> tuple:
    """The broadcast shape of the inputs (or of the given shapes), as a tuple of int64 scalars
    (static lengths as constants).

    >>> import numpy as np, kiln.tensor as kt
    >>> [int(d.eval()) for d in kt.broadcast_shape(np.ones((2, 1)), np.ones(3))]
    [2, 3]
    """
    shapes, static = [], []
    for a in arrays:
        if arrays_are_shapes:
            shp = tuple(as_tensor_variable(d) if not isinstance(d, (int, np.integer)) else int(d) for d in a)
            st = tuple(int(d) if isinstance(d, int) else _static_scalar(d) for d in shp)
        else:
            t = as_tensor_variable(a)
            st = t.type.shape
            shp = tuple(st[d] if st[d] is not None else shape_i(t, d) for d in range(t.ndim))
        shapes.append(shp)
        static.append(st)
    nd = builtins.max((len(s) for s in shapes), default=0)
    shapes = [(1,) * (nd - len(s)) + tuple(s) for s in shapes]
    static = [(1,) * (nd - len(s)) + tuple(s) for s in static]
    out = broadcast_shape_symbolic(shapes, static) if shapes else ()
    return tuple(constant(d, dtype="int64") if isinstance(d, (int, np.integer)) else d for d in out)


def _static_scalar(v: Variable) -> int | None:
    from kiln.tensor.compat_pack import get_scalar_constant_value

    try:
        return int(get_scalar_constant_value(v))
    except NotScalarConstantError:
        return None


# -- creation ---------------------------------------------------------------------------------
def empty(shape: Any, dtype: Any = None):
    """numpy.empty: a new array of `shape`; kiln fills it with zeros (uninitialized memory would
    make graphs non-deterministic)."""
    from kiln.tensor.creation import zeros

    return zeros(shape, dtype=dtype)


def empty_like(prototype: Any, dtype: Any = None):
    """numpy.empty_like (filled with zeros, see `empty`)."""
    from kiln.tensor.creation import zeros_like

    return zeros_like(prototype, dtype=dtype)


def _space_dtype(*xs: Variable) -> str:
    # numpy.linspace: result_type(start, stop, float(num))
    return str(np.result_type(*[np.empty(0, x.dtype) for x in xs], 1.0))


def _end_axis(y, axis: int):
    """Move the sample axis (0) of y to `axis` (numpy's axis= of linspace)."""
    if y.ndim <= 1 or axis == 0:
        return y
    return moveaxis(y, 0, axis)


def linspace(start: Any, stop: Any, num: Any = 50, endpoint: bool = True, retstep: bool = False,
             dtype: Any = None, axis: int = 0, *, end: Any = None, steps: Any = None):
    """numpy.linspace: num evenly spaced samples from start to stop (stop excluded with
    endpoint=False); array start/stop broadcast, samples along `axis`; integer dtype floors.
    `end`/`steps` are PyTensor's aliases of stop/num.

    >>> import kiln.tensor as kt
    >>> kt.linspace(0, 1, 4, endpoint=False).eval()
    array([0.  , 0.25, 0.5 , 0.75])
    """
    from kiln.tensor.creation import arange

    stop = end if end is not None else stop
    num = steps if steps is not None else num
    start, stop = as_tensor_variable(start), as_tensor_variable(stop)
    if isinstance(num, (int, np.integer)) and num < 0:
        raise ValueError(f"linspace: number of samples, {num}, must be non-negative")
    dt = _space_dtype(start, stop)
    start, stop = km.cast(start, dt), km.cast(stop, dt)
    n = km.cast(as_tensor_variable(num), "int64")
    div = n - 1 if endpoint else n
    delta = stop - start
    nd = builtins.max(start.ndim, stop.ndim)
    i = km.cast(arange(n), dt)
    if nd:
        i = shape_padright(i, nd)
    divf = km.cast(div, dt)
    y = start + i * (delta / km.maximum(divf, 1.0))
    if endpoint:
        # the last sample is stop itself, as in NumPy (not start + (n-1) * step, which may round)
        last = km.eq(km.cast(shape_padright(arange(n), nd) if nd else arange(n), "int64"), n - 1)
        y = km.switch(km.and_(last, km.gt(n, 1)), stop, y)
    y = _end_axis(y, axis)
    out_dt = dt if dtype is None else dtypes.normalize(dtype)
    if out_dt != dt:
        if dtypes.is_integer(out_dt):
            y = km.floor(y)
        y = km.cast(y, out_dt)
    if retstep:
        step = km.switch(km.gt(div, 0), delta / divf, np.nan)
        return y, step
    return y


def logspace(start: Any, stop: Any, num: Any = 50, base: Any = 10.0, endpoint: bool = True, dtype: Any = None,
             axis: int = 0, *, end: Any = None, steps: Any = None):
    """numpy.logspace: base ** linspace(start, stop, num).

    >>> import kiln.tensor as kt
    >>> kt.logspace(0, 2, 3).eval()
    array([  1.,  10., 100.])
    """
    y = linspace(start, stop, num, endpoint=endpoint, axis=axis, end=end, steps=steps)
    base = as_tensor_variable(base)
    if base.ndim and axis != 0:
        base = shape_padaxis(base, axis)
    out = km.power(base, y)
    return out if dtype is None else km.cast(out, dtypes.normalize(dtype))


def geomspace(start: Any, stop: Any, num: Any = 50, base: Any = 10.0, endpoint: bool = True, dtype: Any = None,
              axis: int = 0, *, end: Any = None, steps: Any = None):
    """numpy.geomspace: num samples evenly spaced on a log scale from start to stop (same sign,
    nonzero); the ends are start and stop exactly.  `base` (PyTensor's argument) does not change
    the result.

    >>> import kiln.tensor as kt
    >>> kt.geomspace(1, 1000, 4).eval()
    array([   1.,   10.,  100., 1000.])
    """
    stop = end if end is not None else stop
    num = steps if steps is not None else num
    start, stop = as_tensor_variable(start), as_tensor_variable(stop)
    dt = _space_dtype(start, stop)
    start, stop = km.cast(start, dt), km.cast(stop, dt)
    sign = km.switch(km.lt(start, 0), -1.0, 1.0)
    s, e = km.abs(start), km.abs(stop)
    y = linspace(km.log10(s), km.log10(e), num, endpoint=endpoint)
    y = km.power(km.cast(10.0, dt), y)
    n = km.cast(as_tensor_variable(num), "int64")
    nd = y.ndim - 1
    from kiln.tensor.creation import arange

    idx = shape_padright(arange(n), nd) if nd else arange(n)
    y = km.switch(km.eq(idx, 0), s, y)
    if endpoint:
        y = km.switch(km.and_(km.eq(idx, n - 1), km.gt(n, 1)), e, y)
    y = km.cast(sign * y, dt)
    y = _end_axis(y, axis)
    if dtype is not None:
        out_dt = dtypes.normalize(dtype)
        if dtypes.is_integer(out_dt):
            y = km.floor(y)
        y = km.cast(y, out_dt)
    return y


class _Grid:
    """mgrid / ogrid: index with slices (start:stop:step; a complex step 5j means 5 points,
    stop included), as numpy.mgrid / numpy.ogrid."""

    def __init__(self, sparse: bool):
        self.sparse = sparse

    def __repr__(self) -> str:
        return "ogrid" if self.sparse else "mgrid"

    @staticmethod
    def _axis(sl: slice):
        from kiln.tensor.creation import arange

        start = 0 if sl.start is None else sl.start
        step = 1 if sl.step is None else sl.step
        if isinstance(step, builtins.complex):
            num = int(builtins.abs(step))
            return linspace(start, sl.stop, num)
        return arange(start, sl.stop, step)

    def __getitem__(self, key: Any):
        single = isinstance(key, slice)
        keys = (key,) if single else tuple(key)
        axes = [self._axis(k) for k in keys]
        if single:
            return axes[0]
        nd = len(axes)
        dt = str(np.result_type(*[np.empty(0, a.dtype) for a in axes]))
        axes = [km.cast(a, dt) if a.dtype != dt else a for a in axes]
        shaped = [a.dimshuffle(["x"] * i + [0] + ["x"] * (nd - i - 1)) for i, a in enumerate(axes)]
        if self.sparse:
            return shaped
        full = [shape_i(a, 0) for a in axes]
        return stack([broadcast_to(s, full) for s in shaped])


mgrid = _Grid(sparse=False)
ogrid = _Grid(sparse=True)


def tri(N: Any, M: Any = None, k: Any = 0, dtype: Any = None):
    """numpy.tri: an N x M array with ones at and below diagonal k (dtype defaults to floatX).

    >>> import kiln.tensor as kt
    >>> kt.tri(3, k=-1, dtype="int8").eval()
    array([[0, 0, 0],
           [1, 0, 0],
           [1, 1, 0]], dtype=int8)
    """
    from kiln.configuration import config
    from kiln.tensor.creation import arange

    M = N if M is None else M
    dt = config.floatX if dtype is None else dtypes.normalize(dtype)
    rows = arange(N).dimshuffle(0, "x")
    cols = arange(M).dimshuffle("x", 0)
    return km.cast(km.ge(rows + k, cols), dt)


def tril_indices(n: Any, k: Any = 0, m: Any = None) -> tuple:
    """numpy.tril_indices: the (row, col) int64 index vectors of the lower triangle."""
    from kiln.tensor.advanced_nonzero import nonzero

    return tuple(nonzero(tri(n, m, k, dtype="bool")))


def triu_indices(n: Any, k: Any = 0, m: Any = None) -> tuple:
    """numpy.triu_indices: the (row, col) int64 index vectors of the upper triangle."""
    from kiln.tensor.advanced_nonzero import nonzero

    return tuple(nonzero(km.invert(tri(n, m, k - 1, dtype="bool"))))


def _square_dims(a: Any, who: str):
    a = as_tensor_variable(a)
    if a.ndim != 2:
        raise ValueError(f"{who}: the input must be 2-d, got {a.ndim} dims")
    return shape_i(a, 0), shape_i(a, 1)


def tril_indices_from(a: Any, k: Any = 0) -> tuple:
    """numpy.tril_indices_from: tril_indices for the shape of the 2-d array a."""
    n, m = _square_dims(a, "tril_indices_from")
    return tril_indices(n, k, m)


def triu_indices_from(a: Any, k: Any = 0) -> tuple:
    """numpy.triu_indices_from: triu_indices for the shape of the 2-d array a."""
    n, m = _square_dims(a, "triu_indices_from")
    return triu_indices(n, k, m)
