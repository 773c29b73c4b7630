"""Basic indexing: integers, slices (any step), None/newaxis and Ellipsis, as views.

`Subtensor(idx_list)` describes the index structure; the integer entries and
slice bounds are scalar inputs of the node (constants or symbols), so one op
serves x[i] for every i.  None and Ellipsis are resolved when the node is built
(Ellipsis expands; None becomes a DimShuffle after the Subtensor).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.op import Op
from kiln.scalar import dtypes
from kiln.tensor.basic import as_tensor_variable, constant
from kiln.tensor.type import TensorType

__all__ = ["Subtensor", "subtensor"]

INT = "int"


class Subtensor(Op):
    """x[idx] for basic indices.  idx_list: per indexed axis, INT or a (start?, stop?, step?)
    triple of booleans saying which slice bounds are given (as inputs, in order)."""

    __props__ = ("idx_list",)
    view_map = {0: [0]}  # noqa: RUF012  (the Op protocol's plain-dict class attribute)

    def __init__(self, idx_list: Sequence):
        self.idx_list = tuple(e if e == INT else tuple(bool(b) for b in e) for e in idx_list)

    def __str__(self) -> str:
        parts = []
        for e in self.idx_list:
            if e == INT:
                parts.append("i")
            else:
                parts.append(":".join("?" if b else "" for b in e).rstrip(":") or ":")
        return "Subtensor{" + ", ".join(parts) + "}"

    def make_node(self, x: Any, *idx: Any) -> Apply:
        x = as_tensor_variable(x)
        if len(self.idx_list) > x.ndim:
            raise IndexError(f"too many indices for a {x.ndim}-d tensor: {len(self.idx_list)} were given")
        idx_vars = [_as_index(i) for i in idx]
        need = sum(1 if e == INT else sum(e) for e in self.idx_list)
        if len(idx_vars) != need:
            raise TypeError(f"{self}: expected {need} index inputs, got {len(idx_vars)}")
        shape = []
        it = iter(idx_vars)
        for d, e in enumerate(self.idx_list):
            n = x.type.shape[d]
            if e == INT:
                i = next(it)
                if isinstance(i, Constant) and n is not None and not -n <= int(i.data) < n:
                    raise IndexError(f"index {int(i.data)} is out of bounds for axis {d} with size {n}")
                continue
            bounds = [next(it) if given else None for given in e]
            shape.append(_static_slice_len(n, bounds))
        shape.extend(x.type.shape[len(self.idx_list):])
        return Apply(self, [x, *idx_vars], [TensorType(x.dtype, tuple(shape))()])

    def _index(self, idx_values: Sequence) -> tuple:
        it = iter(idx_values)
        out = []
        for e in self.idx_list:
            if e == INT:
                out.append(int(next(it)))
            else:
                b = [int(next(it)) if given else None for given in e]
                if b[2] == 0:
                    raise ValueError("slice step cannot be zero")
                out.append(slice(*b))
        return tuple(out)

    def perform(self, node, inputs, output_storage):
        x, *idx = inputs
        output_storage[0][0] = np.asarray(x[self._index(idx)])

    def infer_shape(self, fgraph, node, input_shapes):
        idx = node.inputs[1:]
        xshape = input_shapes[0]
        static = node.outputs[0].type.shape
        it = iter(idx)
        out, k = [], 0
        for d, e in enumerate(self.idx_list):
            if e == INT:
                next(it)
                continue
            bounds = [next(it) if given else None for given in e]
            out.append(static[k] if static[k] is not None else _symbolic_slice_len(xshape[d], bounds))
            k += 1
        out.extend(xshape[len(self.idx_list):])
        return [tuple(out)]


def _as_index(i: Any) -> Variable:
    if not isinstance(i, (Variable, int, np.integer, np.ndarray)):
        raise IndexError(f"only integers, slices, None and Ellipsis are valid indices, got {i!r}")
    v = i if isinstance(i, Variable) else constant(int(i), dtype="int64")
    v = as_tensor_variable(v)
    if v.ndim != 0 or not dtypes.is_integer(v.dtype):
        from kiln.tensor.exceptions import SubtensorAdvancedIndexError   # an IndexError too

        raise (SubtensorAdvancedIndexError if v.ndim else IndexError)(
            f"basic indices must be integer scalars, got {v} of type {v.type}")
    return v


def _static_slice_len(n: int | None, bounds: list) -> int | None:
    vals = []
    for b in bounds:
        if b is None:
            vals.append(None)
        elif isinstance(b, Constant):
            vals.append(int(b.data))
        else:
            return None
    if vals[2] == 0:
        raise ValueError("slice step cannot be zero")
    if n is None:
        return None
    return len(range(*slice(*vals).indices(n)))


def _symbolic_slice_len(n, bounds):
    """len(range(*slice(start, stop, step).indices(n))) as a symbolic int64 expression."""
    from kiln.tensor.math import clip, int_div, lt, maximum, switch

    start, stop, step = bounds
    step = constant(1, dtype="int64") if step is None else step
    neg = lt(step, 0)
    n = as_tensor_variable(n)

    def norm(b, default_pos, default_neg):
        if b is None:
            return switch(neg, default_neg, default_pos)
        b = switch(lt(b, 0), b + n, b)
        # positive steps clip to [0, n]; negative steps to [-1, n-1]
        return switch(neg, clip(b, -1, n - 1), clip(b, 0, n))

    lo = norm(start, 0, n - 1)
    hi = norm(stop, n, -1)
    length = switch(neg, int_div(lo - hi - step - 1, -step), int_div(hi - lo + step - 1, step))
    return maximum(length, 0)


def _expand_index(idx: Any, ndim: int) -> list:
    if not isinstance(idx, tuple):
        idx = (idx,)
    n_ell = sum(1 for i in idx if i is Ellipsis)
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum(1 for i in idx if i is not None and i is not Ellipsis)
    out = []
    for i in idx:
        if i is Ellipsis:
            out.extend([slice(None)] * max(ndim - used, 0))
        else:
            out.append(i)
    return out


def _is_advanced(i: Any) -> bool:
    if isinstance(i, np.ndarray) and i.ndim == 0 and i.dtype.kind in "iu":
        return False  # a 0-d integer array indexes like an int (as in NumPy)
    if isinstance(i, (list, np.ndarray)):
        return True
    if isinstance(i, Variable):
        return i.type.ndim > 0 or i.dtype == "bool"
    return isinstance(i, (bool, np.bool_))


def subtensor(x: Any, idx: Any):
    """x[idx] with NumPy's semantics: basic indices (ints, slices, None, Ellipsis) give a
    `Subtensor` view; integer arrays and boolean masks (mixed with any of those) give an
    `AdvancedSubtensor` (see kiln.tensor.advanced).

    >>> import numpy as np, kiln.tensor as kt
    >>> x = kt.matrix("x")
    >>> subtensor(x, (slice(None), [1, 1])).eval({x: np.eye(2)})
    array([[0., 0.],
           [1., 1.]])
    """
    x = as_tensor_variable(x)
    raw = idx if isinstance(idx, tuple) else (idx,)
    if any(_is_advanced(i) for i in raw):
        from kiln.tensor.advanced import advanced_subtensor

        return advanced_subtensor(x, raw)
    items = _expand_index(idx, x.ndim)
    entries, inputs, new_axes, out_pos = [], [], [], 0
    for i in items:
        if i is None:
            new_axes.append(out_pos)
            out_pos += 1
        elif isinstance(i, slice):
            entries.append(tuple(b is not None for b in (i.start, i.stop, i.step)))
            inputs.extend(b for b in (i.start, i.stop, i.step) if b is not None)
            out_pos += 1
        else:
            if isinstance(i, (float, np.floating)):
                raise IndexError(f"only integers, slices, None and Ellipsis are valid indices, got {i!r}")
            entries.append(INT)
            inputs.append(i)
    if len(entries) > x.ndim:
        raise IndexError(f"too many indices for a {x.ndim}-d tensor: {len(entries)} were given")
    # trailing full slices are implicit
    while entries and entries[-1] == (False, False, False):
        entries.pop()
    out = Subtensor(entries)(x, *inputs) if entries else x
    if new_axes:
        from kiln.tensor.shape import dimshuffle

        total = out.ndim + len(new_axes)
        it = iter(range(out.ndim))
        out = dimshuffle(out, ["x" if d in new_axes else next(it) for d in range(total)])
    return out


# -- PyTensor module path: names pytensor.tensor.subtensor has that kiln defines elsewhere (see
# kiln/tensor/_reexport.py; resolved from kiln.tensor on first use) --
from kiln.tensor._reexport import lazy_reexport as _lazy_reexport  # noqa: E402

__getattr__, __dir__ = _lazy_reexport(__name__, (
    "flip", "inc_subtensor", "set_subtensor", "slice_at_axis", "take"))
