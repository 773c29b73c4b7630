"""Advanced indexing: integer-array and boolean-mask indices, mixed with slices, None and
Ellipsis, with NumPy's semantics exactly; and their set/inc counterparts.

`AdvancedSubtensor(idx_list)` describes the index structure; every index value (an integer
array, a boolean mask, an integer scalar, a slice bound) is an input of the node, so one op
serves x[idx] for all index values of that structure.  Entries of `idx_list`:

- ``ADV``: an integer tensor (any ndim; 0-d for a scalar mixed with arrays, which NumPy treats
  as an advanced index too); consumes one axis of x.
- ``("bool", k)``: a boolean mask of ndim k; consumes k axes (its shape must match them).
- ``NEWAXIS``: None, a new axis of length 1.
- ``ELLIPSIS``: an Ellipsis that covers no axis; kept because NumPy counts it as separating
  advanced indices (``b[:, [0, 1], ..., [0, 1]]`` on a 3-d ``b`` puts the broadcast axes first).
- a (start?, stop?, step?) triple of booleans saying which slice bounds are inputs (as
  `Subtensor`).

NumPy's placement rule: the advanced indices broadcast together into one block of axes, which
replaces them in place when they are adjacent in the index, and goes first otherwise.
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

__all__ = [
    "ADV",
    "ELLIPSIS",
    "NEWAXIS",
    "AdvancedIncSubtensor",
    "AdvancedSubtensor",
    "advanced_inc_subtensor",
    "advanced_set_subtensor",
    "advanced_subtensor",
]

ADV = "adv"
NEWAXIS = "newaxis"
ELLIPSIS = "ellipsis"


def _is_bool_entry(e) -> bool:
    return isinstance(e, tuple) and len(e) == 2 and e[0] == "bool"


def _is_slice_entry(e) -> bool:
    return isinstance(e, tuple) and len(e) == 3


def _n_inputs(e) -> int:
    if _is_slice_entry(e):
        return sum(e)
    return 1 if (e == ADV or _is_bool_entry(e)) else 0


def _n_axes(e) -> int:
    """How many axes of x the entry consumes."""
    if _is_bool_entry(e):
        return e[1]
    return 1 if (e == ADV or _is_slice_entry(e)) else 0


def _normalize_entries(idx_list: Sequence) -> tuple:
    out = []
    for e in idx_list:
        if e in (ADV, NEWAXIS, ELLIPSIS):
            out.append(e)
        elif isinstance(e, tuple) and len(e) == 2 and e[0] == "bool":
            out.append(("bool", int(e[1])))
        elif isinstance(e, tuple) and len(e) == 3:
            out.append(tuple(bool(b) for b in e))
        else:
            raise ValueError(f"AdvancedSubtensor: bad index entry {e!r}")
    return tuple(out)


def _adjacent(idx_list: tuple) -> bool:
    """Whether the advanced entries form one contiguous run of the index (NumPy's rule)."""
    pos = [k for k, e in enumerate(idx_list) if e == ADV or _is_bool_entry(e)]
    return bool(pos) and pos[-1] - pos[0] + 1 == len(pos)


def _broadcast_static(shapes: list[tuple], who: str) -> tuple:
    """Broadcast static shapes (int | None entries); IndexError when they cannot broadcast."""
    nd = max((len(s) for s in shapes), default=0)
    padded = [(1,) * (nd - len(s)) + tuple(s) for s in shapes]
    out = []
    for d in range(nd):
        known = {s[d] for s in padded if s[d] is not None and s[d] != 1}
        if len(known) > 1:
            raise IndexError(f"{who}: shape mismatch: indexing arrays could not be broadcast together "
                             f"with shapes {' '.join(str(tuple(s)) for s in shapes)}")
        if known:
            out.append(known.pop())
        elif all(s[d] == 1 for s in padded):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


def _as_index_input(i: Any, who: str) -> Variable:
    """An index value as a tensor variable: integer (any ndim) or boolean."""
    if isinstance(i, Variable):
        v = as_tensor_variable(i)
    else:
        arr = np.asarray(i)
        if arr.dtype == object:
            v = as_tensor_variable(i)  # a list holding symbolic scalars
        else:
            if arr.size == 0 and arr.dtype.kind == "f":
                arr = arr.astype("int64")  # x[[]] indexes with an empty integer array, as NumPy
            v = constant(arr.astype("int64") if arr.dtype.kind == "i" else arr)
    if not (dtypes.is_integer(v.dtype) or v.dtype == "bool"):
        raise IndexError(f"{who}: arrays used as indices must be of integer or boolean type, got "
                         f"{v} of type {v.type}")
    return v


class AdvancedSubtensor(Op):
    """x[idx] with advanced (integer-array / boolean) indices; a copy, as in NumPy.

    Inputs: x, then each entry's index inputs in order (see the module docstring).
    Out-of-bounds indices raise IndexError at run time (NumPy checks them).
    C: a gather kernel for integer-array indices (kiln/linkers/c/lower_index.py); boolean masks
    run through perform (their output length depends on the mask's values).

    >>> import numpy as np, kiln.tensor as kt
    >>> x = kt.matrix("x")
    >>> x[[2, 0], 1:].eval({x: np.arange(6.).reshape(3, 2)})
    array([[5.],
           [1.]])
    """

    __props__ = ("idx_list",)

    def __init__(self, idx_list: Sequence):
        self.idx_list = _normalize_entries(idx_list)

    def __str__(self) -> str:
        parts = []
        for e in self.idx_list:
            if e == ADV:
                parts.append("int[]")
            elif _is_bool_entry(e):
                parts.append(f"bool{e[1]}d")
            elif e == NEWAXIS:
                parts.append("None")
            elif e == ELLIPSIS:
                parts.append("...")
            else:
                parts.append(":".join("?" if b else "" for b in e).rstrip(":") or ":")
        return f"{type(self).__name__}{{" + ", ".join(parts) + "}"

    # -- building ---------------------------------------------------------------------------
    def _check_inputs(self, x: Variable, idx_vars: Sequence[Variable]) -> None:
        need = sum(_n_inputs(e) for e in self.idx_list)
        if len(idx_vars) != need:
            raise TypeError(f"{self}: expected {need} index inputs, got {len(idx_vars)}")
        n_axes = sum(_n_axes(e) for e in self.idx_list)
        if n_axes > x.ndim:
            raise IndexError(f"{self}: too many indices for a {x.ndim}-d tensor: {n_axes} axes are indexed")
        it = iter(idx_vars)
        d = 0
        for e in self.idx_list:
            if _is_slice_entry(e):
                for _ in range(sum(e)):
                    b = next(it)
                    if b.ndim != 0 or not dtypes.is_integer(b.dtype):
                        raise IndexError(f"{self}: slice bounds must be integer scalars, got {b} of type {b.type}")
            elif e == ADV:
                i = next(it)
                if not dtypes.is_integer(i.dtype):
                    raise IndexError(f"{self}: an integer index array was expected on axis {d}, got {i} "
                                     f"of type {i.type}")
            elif _is_bool_entry(e):
                m = next(it)
                if m.dtype != "bool" or m.ndim != e[1]:
                    raise IndexError(f"{self}: a {e[1]}-d boolean mask was expected on axis {d}, got {m} "
                                     f"of type {m.type}")
                # NumPy takes an empty mask as an empty integer index: it fits any lengths
                for k in range(e[1] if 0 not in m.type.shape else 0):
                    a, b = m.type.shape[k], x.type.shape[d + k]
                    if a is not None and b is not None and a != b:
                        raise IndexError(
                            f"{self}: boolean index did not match indexed tensor along axis {d + k}; "
                            f"size of axis is {b} but size of corresponding boolean axis is {a}")
            d += _n_axes(e)

    def _check_constant_bounds(self, x: Variable, idx_vars: Sequence[Variable]) -> None:
        """Out-of-bounds constant integer indices on axes of static length fail when building."""
        it = iter(idx_vars)
        d = 0
        for e in self.idx_list:
            vals = [next(it) for _ in range(_n_inputs(e))]
            n = x.type.shape[d] if d < x.ndim else None
            if e == ADV and isinstance(vals[0], Constant) and n is not None and np.size(vals[0].data):
                lo, hi = int(np.min(vals[0].data)), int(np.max(vals[0].data))
                bad = lo if lo < -n else hi if hi >= n else None
                if bad is not None:
                    raise IndexError(f"{self}: index {bad} is out of bounds for axis {d} with size {n}")
            d += _n_axes(e)

    def _out_static_shape(self, x: Variable, idx_vars: Sequence[Variable]) -> tuple:
        from kiln.tensor.subtensor import _static_slice_len

        it = iter(idx_vars)
        d = 0
        parts: list = []   # ints/None for basic axes; the marker "ADV" where the block goes
        adv_shapes = []
        for e in self.idx_list:
            if _is_slice_entry(e):
                bounds = [next(it) if given else None for given in e]
                parts.append(_static_slice_len(x.type.shape[d], bounds))
            elif e == NEWAXIS:
                parts.append(1)
            elif e == ADV:
                adv_shapes.append(next(it).type.shape)
                parts.append(ADV)
            elif _is_bool_entry(e):
                m = next(it)
                if isinstance(m, Constant):
                    count = int(np.count_nonzero(m.data))
                elif any(s == 0 for s in m.type.shape) or any(s == 0 for s in x.type.shape[d:d + e[1]]):
                    count = 0
                else:
                    count = None
                adv_shapes.append((count,))
                parts.append(ADV)
            d += _n_axes(e)
        block = _broadcast_static(adv_shapes, str(self))
        if None not in block and 0 not in block:
            # NumPy checks bounds only for entries it reads: none when the broadcast is empty
            self._check_constant_bounds(x, idx_vars)
        basic = [p for p in parts if p != ADV]
        if _adjacent(self.idx_list):
            first = parts.index(ADV)
            shape = tuple(parts[:first]) + block + tuple(p for p in parts[first:] if p != ADV)
        else:
            shape = block + tuple(basic)
        return shape + tuple(x.type.shape[d:])

    def make_node(self, x: Any, *idx: Any) -> Apply:
        x = as_tensor_variable(x)
        idx_vars = [_as_index_input(i, str(self)) for i in idx]
        self._check_inputs(x, idx_vars)
        shape = self._out_static_shape(x, idx_vars)
        return Apply(self, [x, *idx_vars], [TensorType(x.dtype, shape)()])

    # -- running ----------------------------------------------------------------------------
    def _key(self, idx_values: Sequence) -> tuple:
        """The NumPy index tuple for these index values."""
        it = iter(idx_values)
        key: list = []
        for e in self.idx_list:
            if _is_slice_entry(e):
                b = [int(next(it)) if given else None for given in e]
                if b[2] == 0:
                    raise ValueError(f"{self}: slice step cannot be zero")
                key.append(slice(*b))
            elif e == NEWAXIS:
                key.append(None)
            elif e == ELLIPSIS:
                key.append(Ellipsis)
            else:
                key.append(np.asarray(next(it)))
        return tuple(key)

    def perform(self, node, inputs, output_storage):
        x, *idx = inputs
        try:
            out = np.asarray(x)[self._key(idx)]
        except IndexError as e:
            raise IndexError(f"{self}: {e}") from None
        # NumPy returns a view for some advanced indices (a 0-d bool mask alone): own a copy
        output_storage[0][0] = np.array(out, copy=True) if np.may_share_memory(out, x) else out

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.math import cast
        from kiln.tensor.math import sum as ksum
        from kiln.tensor.shape import broadcast_shape_symbolic
        from kiln.tensor.subtensor import _symbolic_slice_len

        xshape = input_shapes[0]
        static = node.outputs[0].type.shape
        k = 1
        d = 0
        parts: list = []
        adv_shapes, adv_static = [], []
        for e in self.idx_list:
            if _is_slice_entry(e):
                bounds = [node.inputs[k + j] for j in range(sum(e))]
                it = iter(bounds)
                full = [next(it) if given else None for given in e]
                parts.append(_symbolic_slice_len(xshape[d], full))
            elif e == NEWAXIS:
                parts.append(1)
            elif e == ADV:
                adv_shapes.append(tuple(input_shapes[k]))
                adv_static.append(node.inputs[k].type.shape)
                parts.append(ADV)
            elif _is_bool_entry(e):
                m = node.inputs[k]
                adv_shapes.append((ksum(cast(m, "int64")),))
                adv_static.append((None,))
                parts.append(ADV)
            k += _n_inputs(e)
            d += _n_axes(e)
        nd = max((len(s) for s in adv_shapes), default=0)
        def pad(s, fill):
            return (fill,) * (nd - len(s)) + tuple(s)

        block = broadcast_shape_symbolic([pad(s, 1) for s in adv_shapes], [pad(s, 1) for s in adv_static]) \
            if adv_shapes else ()
        if _adjacent(self.idx_list):
            first = parts.index(ADV)
            shape = tuple(parts[:first]) + tuple(block) + tuple(p for p in parts[first:] if p != ADV)
        else:
            shape = tuple(block) + tuple(p for p in parts if p != ADV)
        shape = shape + tuple(xshape[d:])
        return [tuple(s if s is not None else shape[i] for i, s in enumerate(static))]


class AdvancedIncSubtensor(Op):
    """x with x[idx] incremented by y (`np.add.at`: repeated indices accumulate), or with
    `set_instead_of_inc`, x with x[idx] = y (for repeated indices the last write wins, as NumPy).
    `idx_list` has AdvancedSubtensor's format; index inputs come after x and y.  The result is a
    new array.  C: a scatter kernel for integer-array indices (inc accumulates in index
    order, as np.add.at); boolean masks run through perform.

    >>> import numpy as np, kiln.tensor as kt
    >>> v = kt.vector("v")
    >>> kt.inc_subtensor(v[[0, 0, 2]], 1.0).eval({v: np.zeros(3)})
    array([2., 0., 1.])
    """

    __props__ = ("idx_list", "set_instead_of_inc")

    def __init__(self, idx_list: Sequence, set_instead_of_inc: bool = False):
        self.idx_list = _normalize_entries(idx_list)
        self.set_instead_of_inc = bool(set_instead_of_inc)

    def __str__(self) -> str:
        name = "AdvancedSetSubtensor" if self.set_instead_of_inc else "AdvancedIncSubtensor"
        return str(AdvancedSubtensor(self.idx_list)).replace("AdvancedSubtensor", name, 1)

    def make_node(self, x: Any, y: Any, *idx: Any) -> Apply:
        from kiln.tensor.math import cast

        x = as_tensor_variable(x)
        y = as_tensor_variable(y)
        view = AdvancedSubtensor(self.idx_list).make_node(x, *idx)
        target = view.outputs[0].type.shape
        if y.ndim > len(target):
            # NumPy accepts extra leading axes of length 1 only; keep the graph simple: refuse
            raise ValueError(f"{self}: y has {y.ndim} dimensions, more than the indexed region "
                             f"({len(target)})")
        ys = (1,) * (len(target) - y.ndim) + y.type.shape
        for a, b in zip(ys, target):
            if a is not None and b is not None and a not in (1, b):
                raise ValueError(f"{self}: y of shape {y.type.shape} cannot be broadcast to the "
                                 f"indexed region of shape {target}")
        if y.dtype != x.dtype:
            y = cast(y, x.dtype)
        return Apply(self, [x, y, *view.inputs[1:]], [TensorType(x.dtype, x.type.shape)()])

    def inplace_variant(self) -> AdvancedIncSubtensor:
        """The destructive form the inplace rewrite phase may substitute (writes into x)."""
        return AdvancedIncSubtensorInplace(self.idx_list, self.set_instead_of_inc)

    def perform(self, node, inputs, output_storage):
        x, y, *idx = inputs
        out = np.array(x, copy=True)
        self._write(out, y, idx)
        output_storage[0][0] = out

    def _write(self, out, y, idx):
        key = AdvancedSubtensor(self.idx_list)._key(idx)
        try:
            # NumPy broadcasts y to the region and checks every index before writing
            if self.set_instead_of_inc:
                out[key] = y
            else:   # sequential in index order, as the C kernel: results agree bit for bit
                np.add.at(out, key, y)
        except IndexError as e:
            raise IndexError(f"{self}: {e}") from None
        except ValueError as e:
            raise ValueError(f"{self}: y of shape {np.shape(y)} does not fit the indexed region: {e}") from None

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]


class AdvancedIncSubtensorInplace(AdvancedIncSubtensor):
    """AdvancedIncSubtensor writing into x's buffer; made only by the inplace rewrite phase (its
    DestroyHandler guarantees nobody else reads x afterwards).  C: the scatter kernel, writing
    into x's buffer when the linker hands it over."""

    destroy_map = {0: [0]}  # noqa: RUF012  (the Op protocol's plain-dict class attribute)

    def __str__(self) -> str:
        return super().__str__() + "{inplace}"

    def inplace_variant(self):
        return None

    def perform(self, node, inputs, output_storage):
        x, y, *idx = inputs
        if not (isinstance(x, np.ndarray) and x.flags.writeable):
            return super().perform(node, inputs, output_storage)
        # every index is checked by NumPy before anything is written, so an IndexError leaves x intact
        self._write(x, y, idx)
        output_storage[0][0] = x


# -- building from a parsed index -------------------------------------------------------------

def parse_advanced(x: Variable, items: Sequence[Any]) -> tuple[tuple, list]:
    """(idx_list, index inputs) for x[items], `items` being the raw index (Ellipsis not yet
    expanded), with at least one advanced index among them."""
    who = "advanced indexing"
    conv = []
    for i in items:
        if i is None or i is Ellipsis or isinstance(i, slice):
            conv.append(i)
        elif isinstance(i, (bool, np.bool_)):
            conv.append(constant(np.bool_(i)))
        elif isinstance(i, (float, np.floating)):
            raise IndexError(f"only integers, slices, None, Ellipsis and integer or boolean arrays are "
                             f"valid indices, got {i!r}")
        else:
            conv.append(_as_index_input(i, who))
    n_ell = sum(1 for i in conv if i is Ellipsis)
    if n_ell > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    used = sum((i.ndim if i.dtype == "bool" else 1) for i in conv if isinstance(i, Variable))
    used += sum(1 for i in conv if isinstance(i, slice))
    if used > x.ndim:
        raise IndexError(f"too many indices for a {x.ndim}-d tensor: {used} axes were indexed")
    entries, inputs = [], []
    for i in conv:
        if i is None:
            entries.append(NEWAXIS)
        elif i is Ellipsis:
            n = x.ndim - used
            entries.extend([(False, False, False)] * n if n else [ELLIPSIS])
        elif isinstance(i, slice):
            bounds = (i.start, i.stop, i.step)
            entries.append(tuple(b is not None for b in bounds))
            for b in bounds:
                if b is None:
                    continue
                if isinstance(b, (float, np.floating)):
                    raise IndexError(f"slice indices must be integers or None, got {b!r}")
                inputs.append(b if isinstance(b, Variable) else constant(int(b), dtype="int64"))
        elif i.dtype == "bool":
            entries.append(("bool", i.ndim))
            inputs.append(i)
        else:
            entries.append(ADV)
            inputs.append(i)
    # trailing full slices are implicit, unless a zero-width Ellipsis is kept: NumPy would then
    # stretch it over the dropped axes and move the indices before it
    while entries and entries[-1] == (False, False, False) and ELLIPSIS not in entries:
        entries.pop()
    return tuple(entries), inputs


def advanced_subtensor(x: Any, items: Sequence[Any]):
    """x[items] when `items` holds an integer-array or boolean index (see `subtensor`)."""
    x = as_tensor_variable(x)
    entries, inputs = parse_advanced(x, items)
    return AdvancedSubtensor(entries)(x, *inputs)


def _advanced_inc(x: Any, y: Any, set_instead_of_inc: bool):
    from kiln.tensor.inc_subtensor import indexed_update

    return indexed_update(x, y, set_instead_of_inc, {AdvancedSubtensor: AdvancedIncSubtensor}, "x[[0, 2]]")


def advanced_inc_subtensor(x: Any, y: Any):
    """inc_subtensor for an advanced index: repeated indices accumulate (np.add.at).

    >>> import numpy as np, kiln.tensor as kt
    >>> v = kt.vector("v")
    >>> advanced_inc_subtensor(v[[1, 1]], 2.0).eval({v: np.zeros(3)})
    array([0., 4., 0.])
    """
    return _advanced_inc(x, y, False)


def advanced_set_subtensor(x: Any, y: Any):
    """set_subtensor for an advanced index.

    >>> import numpy as np, kiln.tensor as kt
    >>> v = kt.vector("v")
    >>> advanced_set_subtensor(v[v > 0], 0.0).eval({v: np.array([1., -1., 2.])})
    array([ 0., -1.,  0.])
    """
    return _advanced_inc(x, y, True)
