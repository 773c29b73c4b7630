"""Cumulative and sorting ops (issue 5): cumsum, cumprod, diff, sort, argsort, unique,
searchsorted, bincount.

Ops: CumOp (sum/prod), LinearRecurrence (cumprod's derivatives), Sort, ArgSort,
PermuteAlongAxis/UnpermuteAlongAxis (Sort's derivative and its transpose), Unique,
SearchSorted, BinCount and Gather1d (BinCount's transpose in its weights).  diff is a graph
of slices.  NumPy semantics.  C: CumOp and LinearRecurrence have kernels; the others run
through perform (docs/c_linker.md says why for each).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.scalar import dtypes
from kiln.tensor import math as km
from kiln.tensor.basic import as_tensor_variable, describe
from kiln.tensor.reduction import normalize_one_axis
from kiln.tensor.shape import flatten
from kiln.tensor.subtensor import subtensor
from kiln.tensor.type import TensorType

__all__ = ["CumOp", "LinearRecurrence", "Sort", "ArgSort", "PermuteAlongAxis", "UnpermuteAlongAxis", "Unique",
           "SearchSorted", "BinCount", "Gather1d",
           "cumsum", "cumprod", "diff", "sort", "argsort", "unique", "searchsorted", "bincount"]

_KINDS = ("quicksort", "mergesort", "heapsort", "stable")


def _acc_dtype(dtype: str) -> str:
    """NumPy's cumsum/cumprod dtype: small ints and bool accumulate in the platform int."""
    return str(np.cumsum(np.zeros(1, dtype=dtype)).dtype)


class CumOp(Op):
    """Cumulative sum or product along `axis` (mode "add" or "mul").  cumsum is linear (its
    transpose is a reversed cumsum); cumprod has a jvp rule."""

    __props__ = ("axis", "mode")

    def __init__(self, axis: int, mode: str = "add"):
        if mode not in ("add", "mul"):
            raise ValueError(f"CumOp: mode must be 'add' or 'mul', got {mode!r}")
        self.axis, self.mode = int(axis), mode

    def __str__(self) -> str:
        return f"{'cumsum' if self.mode == 'add' else 'cumprod'}{{axis={self.axis}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if not 0 <= self.axis < max(x.ndim, 1) or x.ndim == 0:
            raise ValueError(f"{self}: axis out of bounds for {describe(x)}")
        return Apply(self, [x], [TensorType(_acc_dtype(x.dtype), x.type.shape)()])

    def perform(self, node, inputs, output_storage):
        fn = np.cumsum if self.mode == "add" else np.cumprod
        output_storage[0][0] = fn(inputs[0], axis=self.axis, dtype=node.outputs[0].type.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]


class LinearRecurrence(Op):
    """e_i = x_i e_(i-1) + b_i along `axis` (e_(-1) = 0): a first-order linear scan.

    The derivatives of cumprod are written with it: cumprod's tangent is
    LinearRecurrence(x, y_(i-1) t_i) (exact where x has zeros, unlike y * cumsum(t / x)),
    its jvp is again a LinearRecurrence, and its transpose in b is the same scan run
    backwards, so derivatives of any order stay in this one op.  C: a scan kernel
    (kiln/linkers/c/lower_shape_ops.py).
    """

    __props__ = ("axis",)

    def __init__(self, axis: int):
        self.axis = int(axis)

    def make_node(self, x: Any, b: Any) -> Apply:
        x, b = as_tensor_variable(x), as_tensor_variable(b)
        if x.ndim != b.ndim or x.ndim == 0 or not 0 <= self.axis < x.ndim:
            raise ValueError(f"linear_recurrence: needs x and b of equal ndim (>= 1) and a valid axis "
                             f"{self.axis}, got {describe(x)}, {describe(b)}")
        shape = tuple(p if p is not None else q for p, q in zip(x.type.shape, b.type.shape))
        return Apply(self, [x, b], [TensorType(dtypes.upcast(x.dtype, b.dtype), shape)()])

    def perform(self, node, inputs, output_storage):
        dtype = node.outputs[0].type.dtype
        x, b = (np.asarray(a, dtype=dtype) for a in inputs)
        if x.shape != b.shape:
            raise ValueError(f"{self}: x of shape {x.shape} and b of shape {b.shape} differ")
        x, b = np.moveaxis(x, self.axis, 0), np.moveaxis(b, self.axis, 0)
        out = np.empty_like(b)
        acc = np.zeros(b.shape[1:], dtype=dtype)
        for i in range(b.shape[0]):
            acc = x[i] * acc + b[i]
            out[i] = acc
        output_storage[0][0] = np.moveaxis(out, 0, self.axis)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[1])]


def _cum(x: Any, axis: int | None, mode: str, who: str):
    x = as_tensor_variable(x)
    if axis is None or x.ndim == 0:
        x = flatten(x) if x.ndim != 1 else x
        axis = 0
    return CumOp(normalize_one_axis(axis, x.ndim, who), mode)(x)


def cumsum(x: Any, axis: int | None = None):
    """NumPy's cumsum (axis None: of the flattened x).

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.cumsum(kt.constant(np.array([[1, 2], [3, 4]]))).eval()
    array([ 1,  3,  6, 10])
    """
    return _cum(x, axis, "add", "cumsum")


def cumprod(x: Any, axis: int | None = None):
    """NumPy's cumprod (axis None: of the flattened x).

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.cumprod(kt.constant(np.array([1, 2, 3])), 0).eval()
    array([1, 2, 6])
    """
    return _cum(x, axis, "mul", "cumprod")


def diff(x: Any, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None):
    """NumPy's diff: the n-th discrete difference along `axis` (x[1:] - x[:-1], n times;
    bool tensors use "not equal" as NumPy does).  `prepend`/`append` values are joined to x
    along `axis` first (a scalar counts as one slice).

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.diff(kt.constant(np.array([1, 4, 9, 16])), 2).eval()
    array([2, 2])
    >>> kt.diff(kt.constant(np.array([1, 4])), prepend=0).eval()
    array([1, 3])
    """
    x = as_tensor_variable(x)
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"diff: order must be a non-negative int, got {n!r}")
    if x.ndim == 0:
        raise ValueError(f"diff: requires at least 1-d input, got {describe(x)}")
    axis = normalize_one_axis(axis, x.ndim, "diff")
    if n == 0:
        return x
    if prepend is not None or append is not None:
        from kiln.tensor.join import join
        from kiln.tensor.shape import broadcast_to, shape_i

        parts = []
        for extra in (prepend, x, append):
            if extra is None:
                continue
            e = as_tensor_variable(extra)
            if e is not x and e.ndim == 0:
                shp = [1 if d == axis else (x.type.shape[d] if x.type.shape[d] is not None else shape_i(x, d))
                       for d in range(x.ndim)]
                e = broadcast_to(e, shp)
            parts.append(e)
        x = join(axis, *parts)
    pre = (slice(None),) * axis
    for _ in range(n):
        hi, lo = subtensor(x, pre + (slice(1, None),)), subtensor(x, pre + (slice(None, -1),))
        x = km.neq(hi, lo) if x.dtype == "bool" else km.sub(hi, lo)
    return x


# -- sorting --------------------------------------------------------------------------
class _SortBase(Op):
    __props__ = ("axis", "kind")

    def __init__(self, axis: int, kind: str = "quicksort"):
        if kind not in _KINDS:
            raise ValueError(f"sort: kind must be one of {_KINDS}, got {kind!r}")
        self.axis, self.kind = int(axis), kind

    def _check(self, x: Any):
        x = as_tensor_variable(x)
        if x.ndim == 0 or not 0 <= self.axis < x.ndim:
            raise ValueError(f"{type(self).__name__.lower()}: axis {self.axis} out of bounds for {describe(x)}")
        if dtypes.is_continuous(x.dtype) and not dtypes.is_float(x.dtype):
            raise TypeError(f"{type(self).__name__.lower()}: complex input {x} is not supported")
        return x

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]


class Sort(_SortBase):
    """NumPy's sort along `axis` (NaNs last).  Its jvp permutes the tangent like the values.
    C: not yet (perform)."""

    def make_node(self, x: Any) -> Apply:
        x = self._check(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.sort(inputs[0], axis=self.axis, kind=self.kind)


class ArgSort(_SortBase):
    """NumPy's argsort along `axis` (int64 indices; kind="stable" keeps ties in order).
    C: not yet (perform)."""

    def make_node(self, x: Any) -> Apply:
        x = self._check(x)
        return Apply(self, [x], [TensorType("int64", x.type.shape)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.argsort(inputs[0], axis=self.axis, kind=self.kind).astype("int64")


def _sort_args(x, axis, who):
    x = as_tensor_variable(x)
    if axis is None or x.ndim == 0:
        x = flatten(x) if x.ndim != 1 else x
        axis = 0
    return x, normalize_one_axis(axis, x.ndim, who)


def sort(x: Any, axis: int | None = -1, kind: str | None = None, order: Any = None):
    """NumPy's sort (axis None: of the flattened x).  Top-k is ``sort(x)[..., -k:]``.

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.sort(kt.constant(np.array([3, 1, 2]))).eval()
    array([1, 2, 3])
    """
    if order is not None:
        raise NotImplementedError("sort: `order` (structured arrays) is not supported")
    x, axis = _sort_args(x, axis, "sort")
    return Sort(axis, kind or "quicksort")(x)


def argsort(x: Any, axis: int | None = -1, kind: str | None = None, order: Any = None, stable: bool | None = None):
    """NumPy's argsort (int64 indices; axis None: of the flattened x; `stable=True` or
    kind="stable" keeps equal elements in their original order).

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.argsort(kt.constant(np.array([3, 1, 2]))).eval()
    array([1, 2, 0])
    """
    if order is not None:
        raise NotImplementedError("argsort: `order` (structured arrays) is not supported")
    x, axis = _sort_args(x, axis, "argsort")
    return ArgSort(axis, "stable" if stable else (kind or "quicksort"))(x)


class PermuteAlongAxis(Op):
    """np.take_along_axis(x, idx, axis) for an index array of x's shape that is a permutation
    along `axis` (what argsort returns; kt.take_along_axis is the general gather).  Linear in x;
    its transpose is PermuteAlongAxis with the inverse permutation, argsort(idx).  Indices are
    checked at run time.  C: not yet (perform)."""

    __props__ = ("axis",)

    def __init__(self, axis: int):
        self.axis = int(axis)

    def make_node(self, x: Any, idx: Any) -> Apply:
        x, idx = as_tensor_variable(x), as_tensor_variable(idx)
        if idx.dtype == "bool" or not dtypes.is_integer(idx.dtype) or idx.ndim != x.ndim:
            raise TypeError(f"permute_along_axis: indices must be an integer tensor with x's ndim, got "
                            f"{describe(idx)} for {describe(x)}")
        if not 0 <= self.axis < x.ndim:
            raise ValueError(f"permute_along_axis: axis {self.axis} out of bounds for {describe(x)}")
        return Apply(self, [x, idx], [TensorType(x.dtype, idx.type.shape)()])

    def perform(self, node, inputs, output_storage):
        x, idx = inputs
        n = x.shape[self.axis]
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"{self}: index out of bounds for axis {self.axis} of length {n}")
        output_storage[0][0] = np.take_along_axis(x, idx, axis=self.axis)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[1])]


class UnpermuteAlongAxis(PermuteAlongAxis):
    """The inverse (= transpose) of PermuteAlongAxis: out with out[..., idx[..., j], ...] = x[..., j, ...]
    along `axis`, a scatter (np.put_along_axis) that costs no sort.  C: not yet (perform)."""

    def perform(self, node, inputs, output_storage):
        x, idx = inputs
        n = x.shape[self.axis]
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"{self}: index out of bounds for axis {self.axis} of length {n}")
        out = np.empty_like(x)
        np.put_along_axis(out, idx, x, axis=self.axis)
        output_storage[0][0] = out


# -- unique, searchsorted, bincount ---------------------------------------------------------
class Unique(Op):
    """np.unique of the flattened x (or along `axis`), with the optional extra outputs in
    NumPy's order: values, index, inverse, counts.  Perform-only (a data-dependent shape);
    no derivative.  C: not yet (perform)."""

    __props__ = ("return_index", "return_inverse", "return_counts", "axis")

    def __init__(self, return_index=False, return_inverse=False, return_counts=False, axis=None):
        self.return_index, self.return_inverse = bool(return_index), bool(return_inverse)
        self.return_counts, self.axis = bool(return_counts), None if axis is None else int(axis)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if self.axis is not None and not 0 <= self.axis < x.ndim:
            raise ValueError(f"unique: axis {self.axis} out of bounds for {describe(x)}")
        vals = TensorType(x.dtype, (None,) if self.axis is None else (None,) * x.ndim)()
        outs = [vals]
        if self.return_index:
            outs.append(TensorType("int64", (None,))())
        if self.return_inverse:
            # NumPy 2: the inverse has x's shape when axis is None
            outs.append(TensorType("int64", (None,) * x.ndim if self.axis is None else (None,))())
        if self.return_counts:
            outs.append(TensorType("int64", (None,))())
        return Apply(self, [x], outs)

    def perform(self, node, inputs, output_storage):
        res = np.unique(inputs[0], return_index=self.return_index, return_inverse=self.return_inverse,
                        return_counts=self.return_counts, axis=self.axis)
        res = res if isinstance(res, tuple) else (res,)
        for store, r, o in zip(output_storage, res, node.outputs):
            r = np.asarray(r, dtype=o.type.dtype)
            store[0] = r.reshape(-1) if o.type.ndim == 1 and r.ndim != 1 else r.reshape(r.shape[:o.type.ndim])

    def infer_shape(self, fgraph, node, input_shapes):
        raise NotImplementedError("unique: the output length depends on the values")


def unique(x: Any, return_index: bool = False, return_inverse: bool = False, return_counts: bool = False,
           axis: int | None = None):
    """NumPy's unique (sorted unique values; with return_* flags a list of outputs).

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.unique(kt.constant(np.array([3, 1, 3]))).eval()
    array([1, 3])
    """
    x = as_tensor_variable(x)
    if axis is not None:
        axis = normalize_one_axis(axis, x.ndim, "unique")
    op = Unique(return_index, return_inverse, return_counts, axis)
    outs = op.make_node(x).outputs
    return outs[0] if len(outs) == 1 else list(outs)


class SearchSorted(Op):
    """np.searchsorted(a, v, side) for a sorted 1-d `a` (int64 insertion indices of v's shape).
    C: not yet (perform)."""

    __props__ = ("side",)

    def __init__(self, side: str = "left"):
        if side not in ("left", "right"):
            raise ValueError(f"searchsorted: side must be 'left' or 'right', got {side!r}")
        self.side = side

    def make_node(self, a: Any, v: Any, sorter: Any = None) -> Apply:
        a, v = as_tensor_variable(a), as_tensor_variable(v)
        if a.ndim != 1:
            raise ValueError(f"searchsorted: a must be 1-d, got {describe(a)}")
        ins = [a, v]
        if sorter is not None:
            sorter = as_tensor_variable(sorter)
            if not dtypes.is_integer(sorter.dtype) or sorter.ndim != 1:
                raise TypeError(f"searchsorted: sorter must be an integer vector, got {describe(sorter)}")
            ins.append(sorter)
        return Apply(self, ins, [TensorType("int64", v.type.shape)()])

    def perform(self, node, inputs, output_storage):
        a, v = inputs[:2]
        sorter = inputs[2] if len(inputs) > 2 else None
        output_storage[0][0] = np.asarray(np.searchsorted(a, v, side=self.side, sorter=sorter), dtype="int64")

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[1])]


def searchsorted(a: Any, v: Any, side: str = "left", sorter: Any = None):
    """NumPy's searchsorted: where to insert v into sorted a to keep it sorted.

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.searchsorted(kt.constant(np.array([1, 2, 3])), kt.constant(np.array([2, 5])), side="right").eval()
    array([2, 3])
    """
    return SearchSorted(side)(a, v) if sorter is None else SearchSorted(side)(a, v, sorter)


class BinCount(Op):
    """np.bincount(x, weights, minlength) of a non-negative int vector; linear in the weights
    (its transpose gathers the cotangent at x: Gather1d).  Inputs: (x, [weights,] minlength),
    minlength a 0-d int64 (symbolic, so Gather1d's transpose can ask for a run-time length).
    C: not yet (perform)."""

    __props__ = ("weighted",)

    def __init__(self, weighted: bool = False):
        self.weighted = bool(weighted)

    def make_node(self, x: Any, *rest: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != 1 or x.dtype == "bool" or not dtypes.is_integer(x.dtype):
            raise TypeError(f"bincount: x must be a 1-d integer tensor, got {describe(x)}")
        if len(rest) != (2 if self.weighted else 1):
            raise TypeError(f"{self}: expected inputs (x, {'weights, ' if self.weighted else ''}minlength)")
        minlength = as_tensor_variable(rest[-1])
        if minlength.ndim != 0 or not dtypes.is_integer(minlength.dtype) or minlength.dtype == "bool":
            raise TypeError(f"bincount: minlength must be a 0-d integer, got {describe(minlength)}")
        ins = [x]
        dtype = "int64"
        if self.weighted:
            w = as_tensor_variable(rest[0])
            if w.ndim != 1:
                raise ValueError(f"bincount: weights must be 1-d like x, got {describe(w)}")
            if dtypes.is_continuous(w.dtype) and not dtypes.is_float(w.dtype):
                raise TypeError(f"bincount: complex weights {w} are not supported")
            ins.append(w)
            dtype = "float64"  # NumPy always sums weights in double
        ins.append(km.cast(minlength, "int64"))
        return Apply(self, ins, [TensorType(dtype, (None,))()])

    def perform(self, node, inputs, output_storage):
        x, minlength = inputs[0], int(inputs[-1])
        if minlength < 0:
            raise ValueError(f"{self}: minlength must be non-negative, got {minlength}")
        if x.size and x.min() < 0:
            raise ValueError(f"{self}: x must be non-negative, got {int(x.min())}")
        w = inputs[1] if self.weighted else None
        if w is not None and w.shape != x.shape:
            raise ValueError(f"{self}: weights of shape {w.shape} do not match x of shape {x.shape}")
        out = np.bincount(x, weights=w, minlength=minlength)
        output_storage[0][0] = out.astype(node.outputs[0].type.dtype, copy=False)

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.basic import constant
        from kiln.tensor.join import join

        x = node.inputs[0]
        # a -1 sentinel: an empty x has no max, and its bincount has length minlength
        n = km.add(km.max(join(0, km.cast(x, "int64"), constant(np.array([-1], dtype="int64")))), 1)
        return [(km.maximum(n, node.inputs[-1]),)]


def bincount(x: Any, weights: Any = None, minlength: Any = 0, assert_nonneg: bool = False):
    """NumPy's bincount: occurrences (or summed weights) of each value of a non-negative int
    vector (minlength None means 0; negative values always raise, so PyTensor's
    `assert_nonneg` is accepted and has nothing more to do).

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.bincount(kt.constant(np.array([0, 2, 2]))).eval()
    array([1, 0, 2])
    """
    if minlength is None:
        minlength = 0
    if isinstance(minlength, (int, np.integer)) and minlength < 0:
        raise ValueError(f"bincount: minlength must be non-negative, got {minlength}")
    op = BinCount(weights is not None)
    return op(x, minlength) if weights is None else op(x, weights, minlength)


class Gather1d(Op):
    """y[x] for a vector y and an int vector x in range (the transpose of a weighted bincount;
    its own transpose is the weighted bincount of the cotangent with minlength len(y)).  Inputs:
    (y, x).  C: not yet (perform)."""

    __props__ = ()

    def make_node(self, y: Any, x: Any) -> Apply:
        y, x = as_tensor_variable(y), as_tensor_variable(x)
        if y.ndim != 1 or x.ndim != 1 or not dtypes.is_integer(x.dtype):
            raise TypeError(f"gather1d: needs a vector and an int vector, got {describe(y)}, {describe(x)}")
        return Apply(self, [y, x], [TensorType(y.dtype, x.type.shape)()])

    def perform(self, node, inputs, output_storage):
        y, x = inputs
        if x.size and (x.min() < 0 or x.max() >= len(y)):
            raise IndexError(f"{self}: index out of bounds for a vector of length {len(y)}")
        output_storage[0][0] = y[x]

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[1])]


# -- PyTensor module path: names pytensor.tensor.extra_ops has that kiln defines elsewhere (see
# kiln/tensor/_reexport.py; resolved from kiln.tensor on first use) --
from kiln.tensor._reexport import lazy_reexport as _lazy_reexport  # noqa: E402

__getattr__, __dir__ = _lazy_reexport(__name__, (
    "bartlett", "broadcast_arrays", "broadcast_shape", "broadcast_to", "compress",
    "concat_with_broadcast", "fill_diagonal", "fill_diagonal_offset", "geomspace", "linspace",
    "logspace", "ravel_multi_index", "repeat", "squeeze", "unravel_index"))
