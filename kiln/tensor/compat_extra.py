"""PyTensor-compatible indexing and product names that kiln lacked: choose, compress,
extract_diag, fill_diagonal(_offset), inverse_permutation, permute_row_elements,
ravel_multi_index, unravel_index, bartlett, batched_dot, batched_tensordot, dense_dot,
matvec, vecmat, vecdot, max_and_argmax, the re-exported grad/jacobian/hessian, and vectorize.

Most are compositions (take_along_axis, set_subtensor, einsum, matmul, ...), so gradients come
from their parts.  ravel_multi_index and unravel_index are integer index arithmetic with
NumPy's bounds checks, so they are small perform-only ops (no gradient: integer outputs).

>>> import numpy as np, kiln.tensor as kt
>>> kt.choose(kt.constant([0, 1, 0]), [kt.constant([1, 2, 3]), kt.constant([10, 20, 30])]).eval()
array([ 1, 20,  3])
>>> kt.vecdot(kt.constant([1.0, 2.0]), kt.constant([3.0, 4.0])).eval()
array(11.)
"""
from __future__ import annotations

import builtins
import re
from typing import Any, Callable, Sequence

import numpy as np

from kiln.gradient import grad, hessian, jacobian  # noqa: F401  (re-exported, as pytensor.tensor does)
from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.scalar import dtypes
from kiln.tensor import math as km
from kiln.tensor.basic import as_tensor_variable, constant
from kiln.tensor.shape import reshape, shape_i, transpose
from kiln.tensor.type import TensorType

__all__ = ["choose", "compress", "extract_diag", "fill_diagonal", "fill_diagonal_offset", "inverse_permutation",
           "permute_row_elements", "ravel_multi_index", "unravel_index", "bartlett", "batched_dot",
           "batched_tensordot", "dense_dot", "matvec", "vecmat", "vecdot", "max_and_argmax", "grad", "jacobian",
           "hessian", "vectorize", "RavelMultiIndex", "UnravelIndex"]


def _int(x: Any, who: str):
    x = as_tensor_variable(x)
    if not dtypes.is_integer(x.dtype) or x.dtype == "bool":
        raise TypeError(f"{who}: indices must be integers, got {x} of dtype {x.dtype}")
    return x


def _broadcast_all(ts: list) -> list:
    from kiln.tensor.shape import broadcast_arrays

    return list(broadcast_arrays(*ts)) if len(ts) > 1 else ts


# -- indexing ---------------------------------------------------------------------------------
def choose(a: Any, choices: Any, mode: str = "raise"):
    """numpy.choose: out[i] = choices[a[i]][i], with a and the choices broadcast together.
    mode: "raise" (indices must lie in [0, n); negative ones raise too, as in NumPy),
    "wrap" (a mod n) or "clip" (a clipped to [0, n-1])."""
    from kiln.tensor.advanced_take import take_along_axis
    from kiln.tensor.shape import stack

    a = _int(a, "choose")
    if isinstance(choices, (list, tuple)):
        cs = [as_tensor_variable(c) for c in choices]
        dt = dtypes.upcast(*[c.dtype for c in cs])
        cs = [km.cast(c, dt) if c.dtype != dt else c for c in cs]
        n = len(cs)
        parts = _broadcast_all([a] + cs)
        a, C = parts[0], stack(parts[1:])
    else:
        C = as_tensor_variable(choices)
        if C.ndim == 0:
            raise ValueError("choose: choices must have at least one dimension")
        n = C.type.shape[0] if C.type.shape[0] is not None else shape_i(C, 0)
        first, a = _broadcast_all([C[0], a])
        from kiln.tensor.shape import broadcast_to

        C = broadcast_to(C, [n] + [shape_i(first, d) for d in range(first.ndim)])
    if mode == "wrap":
        a = km.mod(a, n)
    elif mode == "clip":
        a = km.clip(a, 0, km.sub(n, 1))
    elif mode == "raise":
        a = _CheckRange("choose")(a, km.cast(as_tensor_variable(n), "int64"))
    else:
        raise ValueError(f"choose: mode must be 'raise', 'wrap' or 'clip', got {mode!r}")
    return take_along_axis(C, a.dimshuffle(["x"] + list(range(a.ndim))), axis=0)[0]


class _CheckRange(Op):
    """Passes integer indices through, raising IndexError (naming `who`) unless 0 <= i < n."""

    __props__ = ("who",)
    view_map = {0: [0]}

    def __init__(self, who: str):
        self.who = who

    def make_node(self, idx: Any, n: Any) -> Apply:
        idx, n = as_tensor_variable(idx), as_tensor_variable(n)
        return Apply(self, [idx, n], [idx.type()])

    def perform(self, node, inputs, output_storage):
        idx, n = inputs
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"{self.who}: index out of range [0, {int(n)}): {idx.min()}..{idx.max()}")
        output_storage[0][0] = idx

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]


def compress(condition: Any, x: Any, axis: int | None = None):
    """numpy.compress: the slices of x (along axis; flattened x when None) where condition is true."""
    from kiln.tensor.advanced_nonzero import flatnonzero
    from kiln.tensor.advanced_take import take

    return take(as_tensor_variable(x), flatnonzero(condition), axis=axis)


def extract_diag(x: Any):
    """The main diagonal of the first two axes (PyTensor's extract_diag; = diagonal(x))."""
    from kiln.tensor.diag_ops import diagonal

    return diagonal(x)


def fill_diagonal_offset(a: Any, val: Any, offset: Any):
    """A copy of the 2-d a with the scalar val written on diagonal `offset` (> 0 above the
    main one, < 0 below).

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.fill_diagonal_offset(kt.constant(np.zeros((2, 3))), 1.0, 1).eval()
    array([[0., 1., 0.],
           [0., 0., 1.]])
    """
    from kiln.tensor.creation import arange
    from kiln.tensor.inc_subtensor import set_subtensor

    a, val = as_tensor_variable(a), as_tensor_variable(val)
    if a.ndim != 2:
        raise TypeError(f"fill_diagonal_offset: a must be 2-d, got {a.ndim} dims")
    if val.ndim != 0:
        raise TypeError(f"fill_diagonal_offset: val must be a scalar, got {val.ndim} dims")
    off = km.cast(as_tensor_variable(offset), "int64")
    n, m = shape_i(a, 0), shape_i(a, 1)
    k = km.maximum(km.switch(km.ge(off, 0), km.minimum(n, m - off), km.minimum(n + off, m)), 0)
    i = arange(k, dtype="int64")
    rows = km.switch(km.ge(off, 0), i, i - off)
    cols = km.switch(km.ge(off, 0), i + off, i)
    return set_subtensor(a[rows, cols], km.cast(val, a.dtype))


def fill_diagonal(a: Any, val: Any):
    """numpy.fill_diagonal (functional): a copy of a (2-d, or n-d with equal lengths) with the
    scalar val on its main diagonal; a tall matrix gets min(n, m) entries (no wrap)."""
    from kiln.tensor.creation import arange
    from kiln.tensor.inc_subtensor import set_subtensor

    a, val = as_tensor_variable(a), as_tensor_variable(val)
    if a.ndim < 2:
        raise TypeError(f"fill_diagonal: a must have at least 2 dims, got {a.ndim}")
    if val.ndim != 0:
        raise TypeError(f"fill_diagonal: val must be a scalar, got {val.ndim} dims")
    if a.ndim == 2:
        return fill_diagonal_offset(a, val, 0)
    k = shape_i(a, 0)
    for d in range(1, a.ndim):
        k = km.minimum(k, shape_i(a, d))
    i = arange(k, dtype="int64")
    return set_subtensor(a[(i,) * a.ndim], km.cast(val, a.dtype))


def inverse_permutation(perm: Any):
    """The inverse of the permutation(s) in the last axis of perm: out[..., perm[..., i]] = i.

    >>> import kiln.tensor as kt
    >>> kt.inverse_permutation(kt.constant([2, 0, 1])).eval()
    array([1, 2, 0])
    """
    from kiln.tensor.extra_ops import argsort

    perm = _int(perm, "inverse_permutation")
    # the argsort of a permutation is its inverse
    out = argsort(perm, axis=-1, kind="stable")
    return km.cast(out, perm.dtype) if out.dtype != perm.dtype else out


def permute_row_elements(x: Any, y: Any, inverse: bool = False):
    """Permute the last axis of x by the permutation(s) y: out[..., i] = x[..., y[..., i]]
    (with inverse=True, by the inverse permutation); leading axes of x and y broadcast."""
    from kiln.tensor.advanced_take import take_along_axis

    x, y = as_tensor_variable(x), _int(y, "permute_row_elements")
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError("permute_row_elements: x and y need at least one dimension")
    if inverse:
        y = inverse_permutation(y)
    nd = builtins.max(x.ndim, y.ndim)
    x = x.dimshuffle(["x"] * (nd - x.ndim) + list(range(x.ndim)))
    y = y.dimshuffle(["x"] * (nd - y.ndim) + list(range(y.ndim)))
    # broadcast the leading axes; the last ones keep their own lengths
    from kiln.tensor.shape import broadcast_shape_symbolic, broadcast_to

    lead = [tuple(s if s is not None else shape_i(t, d) for d, s in enumerate(t.type.shape[:-1])) for t in (x, y)]
    common = list(broadcast_shape_symbolic(lead, [t.type.shape[:-1] for t in (x, y)])) if nd > 1 else []
    xb = broadcast_to(x, common + [shape_i(x, nd - 1)]) if nd > 1 else x
    yb = broadcast_to(y, common + [shape_i(y, nd - 1)]) if nd > 1 else y
    return take_along_axis(xb, yb, axis=-1)


class RavelMultiIndex(Op):
    """numpy.ravel_multi_index(multi_index, dims, mode, order): inputs are the index arrays and
    then the dims (int64 scalars)."""

    __props__ = ("n", "mode", "order")

    def __init__(self, n: int, mode: Any = "raise", order: str = "C"):
        self.n, self.mode, self.order = n, mode if isinstance(mode, str) else tuple(mode), order

    def make_node(self, *inputs: Any) -> Apply:
        idx = [_int(i, "ravel_multi_index") for i in inputs[:self.n]]
        dims = [km.cast(as_tensor_variable(d), "int64") for d in inputs[self.n:]]
        from kiln.tensor.elemwise import broadcast_static_shapes

        shp = broadcast_static_shapes([i.type.shape for i in idx])
        return Apply(self, idx + dims, [TensorType("int64", shp)()])

    def perform(self, node, inputs, output_storage):
        idx, dims = inputs[:self.n], tuple(int(d) for d in inputs[self.n:])
        output_storage[0][0] = np.asarray(np.ravel_multi_index(tuple(idx), dims, mode=self.mode, order=self.order),
                                          dtype="int64")


class UnravelIndex(Op):
    """numpy.unravel_index(indices, dims, order): one int64 output per dim."""

    __props__ = ("n", "order")

    def __init__(self, n: int, order: str = "C"):
        self.n, self.order = n, order

    def make_node(self, indices: Any, *dims: Any) -> Apply:
        idx = _int(indices, "unravel_index")
        ds = [km.cast(as_tensor_variable(d), "int64") for d in dims]
        return Apply(self, [idx] + ds, [TensorType("int64", idx.type.shape)() for _ in range(self.n)])

    def perform(self, node, inputs, output_storage):
        idx, dims = inputs[0], tuple(int(d) for d in inputs[1:])
        for store, r in zip(output_storage, np.unravel_index(idx, dims, order=self.order)):
            store[0] = np.asarray(r, dtype="int64")

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]] * self.n


def _dims_list(dims: Any, who: str) -> list:
    if isinstance(dims, (list, tuple)):
        return list(dims)
    v = as_tensor_variable(dims)
    from kiln.tensor.compat_pack import get_vector_length

    if v.ndim != 1:
        raise TypeError(f"{who}: dims must be a sequence or a vector, got {v.type}")
    return [v[i] for i in range(get_vector_length(v))]


def ravel_multi_index(multi_index: Sequence[Any], dims: Any, mode: Any = "raise", order: str = "C"):
    """numpy.ravel_multi_index: flat indices of the index tuple `multi_index` into an array of
    shape `dims` (mode "raise"/"wrap"/"clip", or one per dim; order "C" or "F")."""
    idx = list(multi_index)
    ds = _dims_list(dims, "ravel_multi_index")
    if len(idx) != len(ds):
        raise ValueError(f"ravel_multi_index: {len(idx)} index arrays for {len(ds)} dims")
    return RavelMultiIndex(len(idx), mode, order)(*idx, *ds)


def unravel_index(indices: Any, dims: Any, order: str = "C") -> tuple:
    """numpy.unravel_index: the tuple of index arrays of flat `indices` in shape `dims`.

    >>> import kiln.tensor as kt
    >>> [int(v.eval()) for v in kt.unravel_index(5, (2, 3))]
    [1, 2]
    """
    ds = _dims_list(dims, "unravel_index")
    out = UnravelIndex(len(ds), order)(indices, *ds)
    return tuple(out) if isinstance(out, (list, tuple)) else (out,)


def bartlett(M: Any):
    """numpy.bartlett: the triangular window of M points (float64; empty for M < 1)."""
    from kiln.tensor.creation import arange

    M = km.cast(as_tensor_variable(M), "int64")
    n = km.cast(arange(km.maximum(M, 0), dtype="int64"), "float64")
    half = km.cast(M - 1, "float64")
    safe = km.maximum(half, 1.0)
    w = 1.0 - km.abs(2.0 * n / safe - 1.0)
    return km.switch(km.eq(M, 1), 1.0, w)


# -- products ---------------------------------------------------------------------------------
def batched_tensordot(x: Any, y: Any, axes: Any = 2):
    """tensordot of x[i] and y[i] for each i of the shared first (batch) axis; `axes` as in
    tensordot but counted on the full tensors (an int n: the last n axes of x with y's axes
    1..n).

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.batched_tensordot(kt.constant(np.ones((2, 3, 4))), kt.constant(np.ones((2, 4, 5))), 1).eval().shape
    (2, 3, 5)
    """
    from kiln.tensor.einsum import einsum

    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim < 1 or y.ndim < 1:
        raise ValueError("batched_tensordot: inputs need a batch axis")
    if isinstance(axes, (int, np.integer)):
        xa = list(range(x.ndim - int(axes), x.ndim))
        ya = list(range(1, 1 + int(axes)))
    else:
        xa, ya = ([a] if isinstance(a, (int, np.integer)) else list(a) for a in axes)
    xa = [a % x.ndim for a in xa]
    ya = [a % y.ndim for a in ya]
    if 0 in xa or 0 in ya or len(xa) != len(ya):
        raise ValueError(f"batched_tensordot: invalid axes {axes} (the batch axis 0 cannot be summed)")
    letters = iter("abcdefghijklmnopqrstuvwxyz")
    batch = next(letters)
    xs = [batch] + [next(letters) for _ in range(x.ndim - 1)]
    ys = [batch] + [None] * (y.ndim - 1)
    for i, j in zip(xa, ya):
        ys[j] = xs[i]
    ys = [s if s is not None else next(letters) for s in ys]
    out = ([batch] + [s for k, s in enumerate(xs) if k and k not in xa]
           + [s for k, s in enumerate(ys) if k and k not in ya])
    return einsum(f"{''.join(xs)},{''.join(ys)}->{''.join(out)}", x, y)


def batched_dot(a: Any, b: Any):
    """dot(a[i], b[i]) for each i of the first axis (PyTensor's batched_dot): a vector operand
    scales the other's entries; otherwise a's last axis is summed with b's axis max(1, b.ndim - 2)."""
    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if a.ndim == 0 or b.ndim == 0:
        raise TypeError("batched_dot: inputs must have at least one (batch) dimension")
    if a.ndim == 1:
        return a.dimshuffle([0] + ["x"] * (b.ndim - 1)) * b
    if b.ndim == 1:
        return a * b.dimshuffle([0] + ["x"] * (a.ndim - 1))
    return batched_tensordot(a, b, [[a.ndim - 1], [builtins.max(1, b.ndim - 2)]])


def dense_dot(a: Any, b: Any):
    """dot of dense tensors (PyTensor's dense_dot; kiln has no sparse type, so = dot)."""
    return km.dot(a, b)


def _out_dtype(v, dtype):
    return v if dtype is None else km.cast(v, dtypes.normalize(dtype))


def matvec(x1: Any, x2: Any, dtype: Any = None):
    """numpy.matvec: (..., m, n) matrices times (..., n) vectors -> (..., m); batch axes broadcast."""
    x1, x2 = as_tensor_variable(x1), as_tensor_variable(x2)
    if x1.ndim < 2 or x2.ndim < 1:
        raise ValueError(f"matvec: x1 needs >= 2 dims and x2 >= 1, got {x1.ndim} and {x2.ndim}")
    out = km.matmul(x1, x2.dimshuffle(list(range(x2.ndim)) + ["x"]))
    return _out_dtype(out[..., 0], dtype)


def vecmat(x1: Any, x2: Any, dtype: Any = None):
    """numpy.vecmat: conj(x1) (..., n) times matrices (..., n, m) -> (..., m)."""
    x1, x2 = as_tensor_variable(x1), as_tensor_variable(x2)
    if x1.ndim < 1 or x2.ndim < 2:
        raise ValueError(f"vecmat: x1 needs >= 1 dims and x2 >= 2, got {x1.ndim} and {x2.ndim}")
    x1 = _conj(x1)
    out = km.matmul(x1.dimshuffle(list(range(x1.ndim - 1)) + ["x", x1.ndim - 1]), x2)
    return _out_dtype(out[..., 0, :], dtype)


def vecdot(x1: Any, x2: Any, dtype: Any = None):
    """numpy.vecdot: sum(conj(x1) * x2) over the last axis, other axes broadcast."""
    x1, x2 = as_tensor_variable(x1), as_tensor_variable(x2)
    if x1.ndim < 1 or x2.ndim < 1:
        raise ValueError("vecdot: inputs need at least one dimension")
    prod = _conj(x1) * x2
    # a ufunc-style reduction: int32 stays int32 (km.sum would accumulate small ints in int64)
    return _out_dtype(km.sum(prod, axis=-1, dtype=prod.dtype), dtype)


def _conj(x):
    if np.dtype(x.dtype).kind == "c":
        from kiln.tensor.compat_math import conj

        return conj(x)
    return x


def max_and_argmax(a: Any, axis: Any = None, keepdims: bool = False) -> list:
    """[max(a, axis), argmax(a, axis)]; several axes give the argmax over their flattening."""
    a = as_tensor_variable(a)
    mx = km.max(a, axis=axis, keepdims=keepdims)
    if axis is None or isinstance(axis, (int, np.integer)) or len(axis) == 1:
        ax = axis if axis is None or isinstance(axis, (int, np.integer)) else axis[0]
        return [mx, km.argmax(a, axis=ax, keepdims=keepdims)]
    axes = sorted({int(x) % a.ndim for x in axis})
    keep = [d for d in range(a.ndim) if d not in axes]
    flat = reshape(transpose(a, keep + axes), [shape_i(a, d) for d in keep] + [-1], ndim=len(keep) + 1)
    am = km.argmax(flat, axis=-1)
    if keepdims:
        pat: list = list(range(len(keep)))
        for d in axes:
            pat.insert(d, "x")
        am = am.dimshuffle(pat)
    return [mx, am]


# -- vectorize --------------------------------------------------------------------------------
_ARG = r"\((?:\w+(?:,\s*\w+)*)?\)"


def _parse_signature(signature: str) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    s = signature.replace(" ", "")
    if not re.fullmatch(rf"{_ARG}(?:,{_ARG})*->{_ARG}(?:,{_ARG})*", s):
        raise ValueError(f"vectorize: not a valid gufunc signature: {signature!r}")
    lhs, rhs = s.split("->")

    def parse(side):
        return [tuple(d for d in grp.split(",") if d) for grp in re.findall(r"\(([^)]*)\)", side)]
    return parse(lhs), parse(rhs)


def vectorize(func: Callable, signature: str | None = None) -> Callable:
    """A graph-level numpy.vectorize (PyTensor's pt.vectorize): func builds outputs from inputs
    with the core dims of `signature` (e.g. "(m,n),(n)->(m)"; None: every input is a scalar
    core); the returned function accepts inputs with extra batch axes on the left (broadcast
    together) and returns outputs with those batch axes in front.

    Scalar-core functions made only of elementwise ops are vectorized loop-free (their graph
    already broadcasts); anything else runs func's core graph once per batch entry (a Map).

    >>> import numpy as np, kiln.tensor as kt
    >>> f = kt.vectorize(lambda v: v / v.sum(), signature="(n)->(n)")
    >>> f(kt.constant(np.array([[1.0, 3.0], [2.0, 2.0]]))).eval()
    array([[0.25, 0.75],
           [0.5 , 0.5 ]])
    """
    core_in, core_out = _parse_signature(signature) if signature is not None else (None, None)

    def vectorized(*args: Any):
        from kiln.tensor.elemwise import Elemwise

        xs = [as_tensor_variable(a) for a in args]
        cin = core_in if core_in is not None else [()] * len(xs)
        if len(cin) != len(xs):
            raise TypeError(f"vectorize: the signature has {len(cin)} inputs, got {len(xs)} arguments")
        for x, c in zip(xs, cin):
            if x.ndim < len(c):
                raise ValueError(f"vectorize: input {x} has {x.ndim} dims, fewer than its core dims {c}")
        dummies = [TensorType(x.dtype, x.type.shape[x.ndim - len(c):])(f"core_{k}") for k, (x, c) in
                   enumerate(zip(xs, cin))]
        outs = func(*dummies)
        single = not isinstance(outs, (list, tuple))
        outs = [outs] if single else list(outs)
        outs = [as_tensor_variable(o) for o in outs]
        if core_out is not None:
            if len(core_out) != len(outs):
                raise ValueError(f"vectorize: the signature has {len(core_out)} outputs, func returned {len(outs)}")
            for o, c in zip(outs, core_out):
                if o.ndim != len(c):
                    raise ValueError(f"vectorize: func returned {o.type} where the signature says core dims {c}")
        nbatch = [x.ndim - len(c) for x, c in zip(xs, cin)]
        if builtins.max(nbatch, default=0) == 0:
            from kiln.graph.replace import graph_replace

            res = graph_replace(outs, dict(zip(dummies, xs)))
            return res[0] if single else list(res)
        if all(len(c) == 0 for c in cin) and all(o.ndim == 0 for o in outs) and _only_elemwise(outs, dummies, Elemwise):
            res = func(*xs)
            res = [res] if single else list(res)
            # an output that does not depend on every input still gets the full batch shape
            full = _broadcast_all(list(xs))[0] if len(xs) > 1 else xs[0]
            res = [_like(r, full) for r in res]
            return res[0] if single else res
        res = _map_batches(xs, cin, dummies, outs)
        return res[0] if single else res

    vectorized.__doc__ = f"Vectorized {getattr(func, '__name__', 'function')} (signature {signature!r})."
    return vectorized


def _like(r, full):
    from kiln.tensor.shape import broadcast_arrays

    if r.type.shape == full.type.shape and r.ndim == full.ndim:
        return r
    return broadcast_arrays(r, full)[0]


def _only_elemwise(outs, dummies, Elemwise) -> bool:
    from kiln.graph.traversal import ancestors
    from kiln.graph.basic import Constant

    bound = set(dummies)
    for v in ancestors(outs):
        if v.owner is None:
            if v not in bound and not isinstance(v, Constant):
                return False    # a free input of func's graph: replaced per batch entry, not broadcast
            continue
        if not isinstance(v.owner.op, Elemwise):
            return False
    return True


def _map_batches(xs, cin, dummies, outs) -> list:
    """Run the core graph (dummies -> outs) once per batch entry: the inputs are broadcast over
    their batch axes, flattened to (total, *core), and mapped by a Map inside an OpFromGraph whose
    pullback maps the core graph's vector-Jacobian product the same way (reverse mode works)."""
    from kiln.compile.builders import OpFromGraph
    from kiln.gradient.jacobian import _free_inputs
    from kiln.tensor.shape import broadcast_shape_symbolic, broadcast_to

    nb = builtins.max(x.ndim - len(c) for x, c in zip(xs, cin))
    lead, static = [], []
    for x, c in zip(xs, cin):
        k = x.ndim - len(c)
        static.append((1,) * (nb - k) + tuple(x.type.shape[:k]))
        lead.append((1,) * (nb - k)
                    + tuple(s if s is not None else shape_i(x, d) for d, s in enumerate(x.type.shape[:k])))
    bshape = list(broadcast_shape_symbolic(lead, static))
    total = constant(1, dtype="int64")
    for d in bshape:
        total = total * d
    flat = []
    for x, c in zip(xs, cin):
        core = [shape_i(x, d) for d in range(x.ndim - len(c), x.ndim)]
        flat.append(reshape(broadcast_to(x, bshape + core), [total] + core, ndim=1 + len(c)))
    ctx = _free_inputs(outs, dummies)           # closed-over inputs of func's graph (shared, ...)
    f_in = [TensorType(f.dtype, (None,) + d.type.shape)(f"batched_{k}") for k, (f, d) in enumerate(zip(flat, dummies))]
    c_in = [c.type() for c in ctx]
    mapped = _map_rows(f_in, dummies + ctx, f_in + c_in, outs, [], name="vectorize_map")
    op = OpFromGraph(f_in + c_in, mapped, pullback=_VectorizePullback(dummies, ctx, outs), name="vectorize")
    res = op(*flat, *ctx)
    res = res if isinstance(res, list) else [res]
    return [reshape(r, bshape + [shape_i(r, d) for d in range(1, r.ndim)], ndim=nb + r.ndim - 1) for r in res]


class _VectorizePullback:
    """The pullback of a vectorized (mapped) core graph: the core graph's vector-Jacobian product,
    mapped over the same batch rows (a module-level class, so compiled functions pickle)."""

    def __init__(self, dummies: list, ctx: list, outs: list):
        self.dummies, self.ctx, self.outs = list(dummies), list(ctx), list(outs)

    def __call__(self, ins, outs_, cots):
        from kiln.gradient import Lop

        dummies, ctx, outs = self.dummies, self.ctx, self.outs
        n = len(dummies)
        cot_core = [TensorType(o.dtype, o.type.shape)(f"cot_{j}") for j, o in enumerate(outs)]
        wrt = [v for v in dummies + ctx if dtypes.is_float(v.dtype)]
        grads = Lop(outs, wrt, cot_core, disconnected_inputs="ignore") if wrt else []
        grads = list(grads) if isinstance(grads, (list, tuple)) else [grads]
        rows = _map_rows(list(ins[:n]), dummies + ctx + cot_core, list(ins) + list(cots), grads, list(cots),
                         name="vectorize_pullback")
        by_var = dict(zip(wrt, rows))
        res = []
        for k, v in enumerate(dummies + ctx):
            g = by_var.get(v)
            if g is None:
                res.append(None)
            elif k < n:
                res.append(g)                    # one row per batch entry: the cotangent of flat[k]
            else:
                res.append(km.sum(g, axis=0))    # a closed-over input is shared by every entry
        return res


def _map_rows(batched: list, core_vars: list, values: list, core_outs: list, row_batched: list,
              name: str) -> list:
    """Stack core_outs over the rows of `batched` (each (total, ...)): core_vars[k] stands for
    values[k], indexed by the row for the entries of `batched` and `row_batched`, whole otherwise."""
    from kiln.gradient.jacobian import Map, _free_inputs
    from kiln.graph.replace import graph_replace
    from kiln.tensor.creation import arange

    if not core_outs:
        return []
    i = TensorType("int64", ())("row")
    rowed = {id(b) for b in batched + row_batched}
    repl = {cv: (val[i] if id(val) in rowed else val) for cv, val in zip(core_vars, values)}
    inner = graph_replace(list(core_outs), repl)
    ctx = _free_inputs(inner, [i])
    res = Map([i] + ctx, inner, name=name)(arange(shape_i(batched[0], 0), dtype="int64"), *ctx)
    return res if isinstance(res, list) else [res]
