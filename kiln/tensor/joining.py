"""Joining and splitting beyond Join (issue 5): split, hstack, vstack, tile, repeat, flip,
roll, pad.

Two new ops, Split and Repeat (with RepeatSum, its transpose); everything else is a short
graph of existing linear ops (subtensor, join, broadcast_to, reshape, alloc), so gradients,
shapes and C code come from those ops.  NumPy semantics unless noted.
Split, Repeat, RepeatSum: C: not yet (perform).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.op import Op
from kiln.scalar import dtypes
from kiln.tensor import math as km
from kiln.tensor.basic import as_tensor_variable, constant, describe
from kiln.tensor.join import join
from kiln.tensor.reduction import normalize_axis, normalize_one_axis
from kiln.tensor.shape import (as_shape_vector, broadcast_to, flatten, make_vector, reshape, shape_i,
                               _static_entries)
from kiln.tensor.subtensor import subtensor
from kiln.tensor.type import TensorType

__all__ = ["Split", "Repeat", "RepeatSum", "split", "hstack", "vstack", "tile", "repeat", "flip", "roll", "pad",
           "atleast_1d", "atleast_2d"]


def _int_input(v: Any, who: str, what: str) -> Variable:
    v = as_tensor_variable(v)
    if v.dtype == "bool" or not dtypes.is_integer(v.dtype):
        raise TypeError(f"{who}: {what} must be integers, got {v} of dtype {v.dtype}")
    return km.cast(v, "int64")


def _length(x: Variable, axis: int):
    """Static length of x along axis, else a symbolic 0-d int64."""
    n = x.type.shape[axis]
    return n if n is not None else shape_i(x, axis)


# -- Split ---------------------------------------------------------------------------
class Split(Op):
    """Split x along `axis` into `n_splits` pieces of the lengths in the int vector `splits`
    (PyTensor's Split).  The lengths must be >= 0 and add up to x's length.  C: not yet (perform)."""

    __props__ = ("n_splits", "axis")

    def __init__(self, n_splits: int, axis: int):
        self.n_splits, self.axis = int(n_splits), int(axis)

    def make_node(self, x: Any, splits: Any) -> Apply:
        x = as_tensor_variable(x)
        splits = _int_input(splits, "split", "the split sizes")
        if splits.ndim == 0:
            splits = make_vector([splits])
        if splits.ndim != 1:
            raise ValueError(f"split: the split sizes must be a vector, got {describe(splits)}")
        if x.ndim == 0:
            raise ValueError(f"split: cannot split the 0-d tensor {x}")
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"split: axis {self.axis} out of bounds for {describe(x)}")
        if splits.type.shape[0] not in (None, self.n_splits):
            raise ValueError(f"split: {splits.type.shape[0]} sizes given for n_splits={self.n_splits}")
        sizes = _static_entries(splits) if splits.type.shape[0] is not None else [None] * self.n_splits
        n = x.type.shape[self.axis]
        if None not in sizes:
            if any(s < 0 for s in sizes):
                raise ValueError(f"split: negative split size in {sizes}")
            if n is not None and sum(sizes) != n:
                raise ValueError(f"split: sizes {sizes} add up to {sum(sizes)}, not to the length {n} "
                                 f"of axis {self.axis} of {describe(x)}")
        outs = []
        for s in sizes:
            shp = list(x.type.shape)
            shp[self.axis] = s
            outs.append(TensorType(x.dtype, tuple(shp))())
        return Apply(self, [x, splits], outs)

    def perform(self, node, inputs, output_storage):
        x, splits = inputs
        if len(splits) != self.n_splits:
            raise ValueError(f"{self}: got {len(splits)} split sizes, expected {self.n_splits}")
        if np.any(splits < 0):
            raise ValueError(f"{self}: negative split size in {splits.tolist()}")
        if splits.sum() != x.shape[self.axis]:
            raise ValueError(f"{self}: split sizes {splits.tolist()} add up to {int(splits.sum())}, not to the "
                             f"length {x.shape[self.axis]} of axis {self.axis} of the input of shape {x.shape}")
        pieces = np.split(x, np.cumsum(splits)[:-1], axis=self.axis)
        for store, p in zip(output_storage, pieces):
            store[0] = p.copy()

    def infer_shape(self, fgraph, node, input_shapes):
        xs = input_shapes[0]
        out = []
        for i, o in enumerate(node.outputs):
            shp = list(xs)
            s = o.type.shape[self.axis]
            shp[self.axis] = s if s is not None else subtensor(node.inputs[1], i)
            out.append(tuple(shp))
        return out


def split(x: Any, indices_or_sections: Any, n_splits: int | None = None, axis: int = 0) -> list:
    """Split `x` along `axis` into a list of tensors.

    Two conventions, told apart by `n_splits`:

    - PyTensor's ``split(x, splits_size, n_splits, axis)``: `splits_size` holds the lengths
      of the pieces (may be symbolic; they must add up to x's length at run time).
    - NumPy's ``split(x, indices_or_sections, axis=...)`` (n_splits None): an int N gives N
      equal pieces (the length must divide evenly; a Split op), a sequence of ints the split
      points (the pieces are the slices between them, as in NumPy).

    >>> import numpy as np, kiln.tensor as kt
    >>> [p.eval().tolist() for p in kt.split(kt.constant(np.arange(5)), [2])]
    [[0, 1], [2, 3, 4]]
    >>> [p.eval().tolist() for p in kt.split(kt.constant(np.arange(5)), [1, 4], 2)]
    [[0], [1, 2, 3, 4]]
    """
    x = as_tensor_variable(x)
    if x.ndim == 0:
        raise ValueError(f"split: cannot split the 0-d tensor {x}")
    axis = normalize_one_axis(axis, x.ndim, "split")
    if n_splits is not None:
        sizes = indices_or_sections
        if isinstance(sizes, (list, tuple)) and len(sizes) != n_splits:
            raise ValueError(f"split: {len(sizes)} sizes given for n_splits={n_splits}")
        node = Split(n_splits, axis).make_node(x, as_shape_vector(sizes) if isinstance(sizes, (list, tuple)) else sizes)
        return list(node.outputs)
    n = _length(x, axis)
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0:
            raise ValueError(f"split: number of sections must be larger than 0, got {k}")
        if isinstance(n, int):
            if n % k:
                raise ValueError(f"split: array split does not result in an equal division "
                                 f"({n} into {k} sections)")
            return split(x, [n // k] * k, k, axis)
        return split(x, make_vector([km.int_div(n, k)] * k), k, axis)
    idx = list(indices_or_sections)
    if not all(isinstance(i, (int, np.integer)) or (isinstance(i, Variable) and i.ndim == 0) for i in idx):
        raise TypeError(f"split: split indices must be ints or 0-d int tensors; use split(x, sizes, n_splits) "
                        f"for a symbolic vector of sizes, got {indices_or_sections!r}")
    # NumPy's rule exactly: the pieces are the slices x[:i1], x[i1:i2], ..., x[ik:] (negative
    # or decreasing points give what slicing gives)
    pre = (slice(None),) * axis
    bounds = [None] + idx + [None]
    return [subtensor(x, pre + (slice(b, c),)) for b, c in zip(bounds, bounds[1:])]


# -- stacking -------------------------------------------------------------------------
def atleast_1d(x: Any):
    """x with at least one axis (a 0-d x becomes shape (1,))."""
    x = as_tensor_variable(x)
    return x.dimshuffle("x") if x.ndim == 0 else x


def atleast_2d(x: Any):
    """x with at least two axes (new axes in front, as NumPy)."""
    x = atleast_1d(x)
    return x.dimshuffle("x", 0) if x.ndim == 1 else x


def hstack(tensors: Sequence[Any]):
    """NumPy's hstack: concatenate 1-d tensors along axis 0, others along axis 1.

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.hstack([kt.constant(np.ones(1)), kt.constant(np.zeros(2))]).eval()
    array([1., 0., 0.])
    """
    ts = [atleast_1d(t) for t in tensors]
    if not ts:
        raise ValueError("hstack: need at least one tensor")
    return join(0 if ts[0].ndim == 1 else 1, *ts)


def vstack(tensors: Sequence[Any]):
    """NumPy's vstack: 1-d tensors become rows, then concatenate along axis 0.

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.vstack([kt.constant(np.ones(2)), kt.constant(np.zeros(2))]).eval()
    array([[1., 1.],
           [0., 0.]])
    """
    ts = [atleast_2d(t) for t in tensors]
    if not ts:
        raise ValueError("vstack: need at least one tensor")
    return join(0, *ts)


# -- tile -----------------------------------------------------------------------------
def tile(x: Any, reps: Any, ndim: int | None = None):
    """NumPy's tile: repeat the whole of x `reps[i]` times along each axis (reps are ints;
    PyTensor's `ndim` asks for at least that many axes in the result).

    A graph of broadcast_to + reshape: axis i of length n becomes (reps[i], n) then r*n.

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.tile(kt.constant(np.array([1, 2])), 2).eval()
    array([1, 2, 1, 2])
    """
    x = as_tensor_variable(x)
    reps = [reps] if isinstance(reps, (int, np.integer)) else list(reps)
    if not all(isinstance(r, (int, np.integer)) for r in reps):
        raise TypeError(f"tile: reps must be Python ints, got {reps!r}")
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: negative repetition in {reps}")
    d = max(len(reps), x.ndim, ndim or 0)
    reps = [1] * (d - len(reps)) + [int(r) for r in reps]
    if x.ndim < d:
        x = x.dimshuffle(*(["x"] * (d - x.ndim) + list(range(x.ndim))))
    if all(r == 1 for r in reps):
        return x
    lens = [_length(x, i) for i in range(d)]
    pattern, big = [], []
    for i in range(d):
        pattern += ["x", i]
        big += [reps[i], lens[i]]
    y = broadcast_to(x.dimshuffle(*pattern), big)
    return reshape(y, [r * n for r, n in zip(reps, lens)])


# -- repeat ---------------------------------------------------------------------------
def _repeat_lengths(repeats: np.ndarray, n: int, who: str) -> np.ndarray:
    repeats = np.asarray(repeats)
    if repeats.ndim == 0 or repeats.size == 1:
        r = np.full(n, int(repeats.reshape(-1)[0]) if repeats.size else 0, dtype="int64")
    elif repeats.size != n:
        raise ValueError(f"{who}: {repeats.size} repeats given for an axis of length {n}")
    else:
        r = repeats.astype("int64")
    if np.any(r < 0):
        raise ValueError(f"{who}: negative repeat count in {repeats.tolist()}")
    return r


class Repeat(Op):
    """NumPy's repeat along `axis`: each entry repeated `repeats` times (one int for all, or one
    per entry).  Linear in x; its transpose is RepeatSum.  C: not yet (perform)."""

    __props__ = ("axis",)

    def __init__(self, axis: int):
        self.axis = int(axis)

    def make_node(self, x: Any, repeats: Any) -> Apply:
        x = as_tensor_variable(x)
        repeats = _int_input(repeats, "repeat", "repeats")
        if repeats.ndim > 1:
            raise ValueError(f"repeat: repeats must be an int or a vector, got {describe(repeats)}")
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"repeat: axis {self.axis} out of bounds for {describe(x)}")
        shp = list(x.type.shape)
        n = shp[self.axis]
        shp[self.axis] = None
        if isinstance(repeats, Constant):
            r = np.asarray(repeats.data)
            if np.any(r < 0):
                raise ValueError(f"repeat: negative repeat count in {r.tolist()}")
            if r.ndim == 1 and r.size not in (1, n) and n is not None:
                raise ValueError(f"repeat: {r.size} repeats given for an axis of length {n} of {describe(x)}")
            if n is not None:
                shp[self.axis] = int(_repeat_lengths(r, n, "repeat").sum())
        return Apply(self, [x, repeats], [TensorType(x.dtype, tuple(shp))()])

    def perform(self, node, inputs, output_storage):
        x, r = inputs
        r = _repeat_lengths(r, x.shape[self.axis], str(self))
        output_storage[0][0] = np.repeat(x, r, axis=self.axis)

    def infer_shape(self, fgraph, node, input_shapes):
        r = node.inputs[1]
        shp = list(input_shapes[0])
        if node.outputs[0].type.shape[self.axis] is not None:
            shp[self.axis] = node.outputs[0].type.shape[self.axis]
        elif r.type.ndim == 0 or r.type.shape[0] == 1:
            shp[self.axis] = km.mul(shp[self.axis], km.sum(r))
        else:
            shp[self.axis] = km.sum(r)
        return [tuple(shp)]


class RepeatSum(Op):
    """The transpose of Repeat: sums consecutive runs of `repeats` entries along `axis`
    back into `n` entries.  Inputs: (ct, repeats, n).  C: not yet (perform)."""

    __props__ = ("axis",)

    def __init__(self, axis: int):
        self.axis = int(axis)

    def make_node(self, ct: Any, repeats: Any, n: Any) -> Apply:
        ct = as_tensor_variable(ct)
        repeats = _int_input(repeats, "repeat_sum", "repeats")
        n = _int_input(n, "repeat_sum", "the length")
        if not 0 <= self.axis < ct.ndim:
            raise ValueError(f"repeat_sum: axis {self.axis} out of bounds for {describe(ct)}")
        shp = list(ct.type.shape)
        shp[self.axis] = int(n.data) if isinstance(n, Constant) else None
        return Apply(self, [ct, repeats, n], [TensorType(ct.dtype, tuple(shp))()])

    def perform(self, node, inputs, output_storage):
        ct, r, n = inputs
        r = _repeat_lengths(r, int(n), str(self))
        if r.sum() != ct.shape[self.axis]:
            raise ValueError(f"{self}: repeats add up to {r.sum()}, not to {ct.shape[self.axis]}")
        # running sums sampled at the run ends: works for zero-length runs too
        c = np.cumsum(ct, axis=self.axis, dtype=ct.dtype)
        zero = np.zeros_like(np.take(c, [0], axis=self.axis)) if c.shape[self.axis] else \
            np.zeros(c.shape[:self.axis] + (1,) + c.shape[self.axis + 1:], dtype=ct.dtype)
        c = np.concatenate([zero, c], axis=self.axis)
        ends = np.cumsum(r)
        starts = ends - r
        out = np.take(c, ends, axis=self.axis) - np.take(c, starts, axis=self.axis)
        output_storage[0][0] = out.astype(node.outputs[0].type.dtype, copy=False)

    def infer_shape(self, fgraph, node, input_shapes):
        shp = list(input_shapes[0])
        shp[self.axis] = node.inputs[2]
        return [tuple(shp)]


def repeat(x: Any, repeats: Any, axis: int | None = None):
    """NumPy's repeat: repeat each entry `repeats` times (an int, or one count per entry) along
    `axis` (None: of the flattened x).

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.repeat(kt.constant(np.array([1, 2])), [1, 3]).eval()
    array([1, 2, 2, 2])
    """
    x = as_tensor_variable(x)
    if axis is None:
        x = flatten(x) if x.ndim != 1 else x
        axis = 0
    if x.ndim == 0:
        x = x.dimshuffle("x")
    axis = normalize_one_axis(axis, x.ndim, "repeat")
    if isinstance(repeats, (list, tuple)):
        repeats = constant(np.asarray(repeats, dtype="int64").reshape(len(repeats)))
    return Repeat(axis)(x, repeats)


# -- flip, roll ------------------------------------------------------------------------
def flip(x: Any, axis: Any = None):
    """NumPy's flip: reverse the order of entries along `axis` (None: all axes).

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.flip(kt.constant(np.array([1, 2, 3]))).eval()
    array([3, 2, 1])
    """
    x = as_tensor_variable(x)
    axes = normalize_axis(axis, x.ndim, "flip")
    if not axes:
        return x
    return subtensor(x, tuple(slice(None, None, -1) if d in axes else slice(None) for d in range(x.ndim)))


def _roll_one(x: Variable, shift: Any, axis: int):
    n = _length(x, axis)
    if isinstance(shift, (int, np.integer)) and isinstance(n, int):
        if n == 0:
            return x
        s = int(shift) % n
        if s == 0:
            return x
        cut = n - s
    else:
        shift = _int_input(shift, "roll", "shift")
        if shift.ndim != 0:
            raise ValueError(f"roll: shift must be a scalar per axis, got {describe(shift)}")
        # maximum(n, 1): an empty axis stays empty, and the modulo never divides by 0
        cut = km.sub(n, km.mod(shift, km.maximum(n, 1)))
    pre = tuple(slice(None) for _ in range(axis))
    return join(axis, subtensor(x, pre + (slice(cut, None),)), subtensor(x, pre + (slice(None, cut),)))


def roll(x: Any, shift: Any, axis: Any = None):
    """NumPy's roll: shift entries cyclically by `shift` along `axis` (None: of the flattened
    x, keeping x's shape); several axes take one shift each (or one shift for all).

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.roll(kt.constant(np.arange(4)), 1).eval()
    array([3, 0, 1, 2])
    """
    x = as_tensor_variable(x)
    if axis is None:
        if x.ndim == 0:
            return x
        from kiln.tensor.shape import shape

        return reshape(_roll_one(flatten(x), shift, 0), shape(x)) if x.ndim != 1 else _roll_one(x, shift, 0)
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    shifts = list(shift) if isinstance(shift, (list, tuple)) else [shift] * len(axes)
    if len(shifts) != len(axes):
        raise ValueError(f"roll: {len(shifts)} shifts given for {len(axes)} axes")
    for a, s in zip(axes, shifts):
        x = _roll_one(x, s, normalize_one_axis(a, x.ndim, "roll"))
    return x


# -- pad ------------------------------------------------------------------------------
def _pad_widths(pad_width: Any, ndim: int) -> list[tuple[int, int]]:
    pw = np.asarray(pad_width)
    if pw.dtype.kind not in "iu":
        raise TypeError(f"pad: pad_width must hold Python ints, got {pad_width!r}")
    try:
        pw = np.broadcast_to(pw, (ndim, 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit a {ndim}-d tensor") from None
    if np.any(pw < 0):
        raise ValueError(f"pad: negative pad width in {pad_width!r}")
    return [(int(a), int(b)) for a, b in pw]


def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: Any = 0):
    """NumPy's pad for modes "constant", "edge", "reflect", "symmetric" and "wrap" (pad widths
    are Python ints; "reflect"/"symmetric"/"wrap" need widths that fit in the axis, without NumPy's
    repeated reflection: checked statically when the length is known, else at run time).  A graph
    of joins of slices/fills, so it is linear in x.

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.pad(kt.constant(np.array([1, 2])), (1, 2)).eval()
    array([0, 1, 2, 0, 0])
    """
    x = as_tensor_variable(x)
    if mode not in ("constant", "edge", "reflect", "symmetric", "wrap"):
        raise NotImplementedError(f"pad: mode {mode!r} is not supported (constant, edge, reflect, symmetric, wrap)")
    widths = _pad_widths(pad_width, x.ndim)
    cv = None
    if mode == "constant":
        cv = np.asarray(constant_values)
        if cv.ndim:
            cvb = np.broadcast_to(cv, (x.ndim, 2))
            cv = [(cvb[d, 0], cvb[d, 1]) for d in range(x.ndim)]
        else:
            cv = [(cv[()], cv[()])] * x.ndim
    for d, (b, a) in enumerate(widths):
        if not (a or b):
            continue
        n = _length(x, d)
        pre = (slice(None),) * d
        pieces = []
        for side, w in (("before", b), ("after", a)):
            if not w:
                pieces.append(None)
                continue
            if mode == "constant":
                shp = [_length(x, i) if i != d else w for i in range(x.ndim)]
                val = np.asarray(cv[d][0 if side == "before" else 1])
                pieces.append(broadcast_to(km.cast(constant(val), x.dtype), shp))
            elif mode == "edge":
                if isinstance(n, int) and n == 0:
                    raise ValueError(f"pad: can't extend empty axis {d} using modes other than 'constant'")
                edge = subtensor(x, pre + (slice(0, 1) if side == "before" else slice(-1, None),))
                shp = [_length(x, i) if i != d else w for i in range(x.ndim)]
                pieces.append(broadcast_to(edge, shp))
            elif mode == "wrap":
                if isinstance(n, int) and w > n:
                    raise NotImplementedError(f"pad: mode 'wrap' with width {w} > the length {n} of axis {d} "
                                              f"(NumPy's repeated wrapping) is not supported")
                piece = subtensor(x, pre + ((slice(-w, None),) if side == "before" else (slice(0, w),)))
                if not isinstance(n, int):
                    from kiln.tensor.shape import specify_shape

                    piece = specify_shape(piece, tuple(w if i == d else None for i in range(x.ndim)))
                pieces.append(piece)
            else:
                off = 1 if mode == "reflect" else 0
                if isinstance(n, int) and w + off > n:
                    raise NotImplementedError(f"pad: mode {mode!r} with width {w} > the length {n - off} available "
                                              f"on axis {d} (NumPy's repeated reflection) is not supported")
                sl = slice(off, off + w) if side == "before" else slice(-(off + w), -off if off else None)
                piece = subtensor(x, pre + (sl,))
                if not isinstance(n, int):
                    # a symbolic length: check at run time that the axis was long enough
                    from kiln.tensor.shape import specify_shape

                    piece = specify_shape(piece, tuple(w if i == d else None for i in range(x.ndim)))
                pieces.append(flip(piece, d))
        parts = [p for p in (pieces[0], x, pieces[1]) if p is not None]
        x = join(d, *parts)
    return x
