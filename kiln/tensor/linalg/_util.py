"""Shared machinery of the linear-algebra ops: dtype rules asked of NumPy, input checks,
batch loops for SciPy routines that take one matrix at a time, and the masks the
derivative rules need (triangles, diagonals)."""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from kiln.tensor.basic import as_tensor_variable, describe

__all__ = [
    "LinAlgError",
    "as_matrix_input",
    "batch_shape",
    "batched",
    "check_same_dim",
    "diagonal",
    "eye_mask",
    "linalg_error",
    "mT",
    "out_dtype",
    "sym_from_triangle",
    "tri_mask",
]

def check_same_dim(who: str, a, b, da: int, db: int, what: str) -> None:
    """Check that dim `da` of a and dim `db` of b agree where both are static (a ValueError
    saying `what`, with both inputs described)."""
    x, y = a.type.shape[da], b.type.shape[db]
    if x is not None and y is not None and x != y:
        raise ValueError(f"{who}: {what} ({describe(a)}, {describe(b)})")


#: NumPy's own error class: ``except numpy.linalg.LinAlgError`` catches kiln's errors too
LinAlgError = np.linalg.LinAlgError


def linalg_error(op: Any, err: Exception) -> np.linalg.LinAlgError:
    """A LinAlgError naming the op, wrapping the one NumPy/SciPy raised."""
    return LinAlgError(f"{op}: {err}")


@functools.cache
def _probe_dtype(dtypes: tuple[str, ...]) -> str:
    """Ask NumPy: the result dtype of a linalg routine on inputs of these dtypes."""
    samples = [np.eye(2, dtype=d) for d in dtypes]
    res = np.linalg.solve(*samples) if len(samples) == 2 else np.linalg.inv(samples[0])
    return str(res.dtype)


def out_dtype(who: str, *xs: Any) -> str:
    """The float dtype NumPy's linalg gives for inputs of these dtypes (ints and bools -> float64,
    float32 stays float32).  float16 and complex inputs are refused with a clear error."""
    dts = []
    for i, x in enumerate(xs):
        dt = np.dtype(x.dtype)
        if dt.kind == "c":
            raise TypeError(f"{who}: complex input {describe(x)} is not supported (real inputs only)")
        if dt.kind not in "biuf":
            raise TypeError(f"{who}: input {i} {describe(x)} must be numeric, got dtype {dt}")
        if dt == np.float16:
            raise TypeError(f"{who}: float16 input {describe(x)} is not supported by NumPy's linalg; "
                            f"cast it to float32")
        dts.append(str(dt))
    return _probe_dtype(tuple(dts))


def as_matrix_input(who: str, x: Any, min_ndim: int = 2, square: bool = False):
    """`x` as a tensor variable with at least `min_ndim` dims (checked), square in its last two
    when `square` (checked where the lengths are static)."""
    x = as_tensor_variable(x)
    if x.ndim < min_ndim:
        raise ValueError(f"{who}: expected an array of at least {min_ndim} dimensions "
                         f"(a matrix or a stack of matrices), got {describe(x)}")
    out_dtype(who, x)
    if square and min_ndim >= 2:
        m, n = x.type.shape[-2:]
        if m is not None and n is not None and m != n:
            raise ValueError(f"{who}: last 2 dimensions of {describe(x)} must be square, got {m}x{n}")
    return x


def batch_shape(*shapes: Sequence[int | None]) -> tuple[int | None, ...]:
    """Broadcast of static batch shapes (None where unknown)."""
    from kiln.tensor.elemwise import broadcast_static_shapes

    if not shapes:
        return ()
    n = max(len(s) for s in shapes)
    return tuple(broadcast_static_shapes([(1,) * (n - len(s)) + tuple(s) for s in shapes], who="linalg"))


def _dummy(core: tuple[int, ...], dtype) -> np.ndarray:
    """A well-conditioned stand-in for a batch item (identity-like), used only to learn the
    output core shapes when a batch is empty."""
    a = np.zeros(core, dtype=dtype)
    if len(core) >= 2:
        k = min(core[-2:])
        a[..., range(k), range(k)] = 1
    return a


def batched(fn: Callable, arrays: Sequence[np.ndarray], core_ndims: Sequence[int], nout: int) -> list[np.ndarray]:
    """Apply `fn` (one batch item -> `nout` arrays) over the broadcast leading batch axes.

    SciPy routines such as solve_triangular take one matrix at a time; this gives them NumPy's
    stacked-matrix semantics.
    """
    batches = [a.shape[:a.ndim - c] for a, c in zip(arrays, core_ndims)]
    bshape = np.broadcast_shapes(*batches)
    if bshape == ():
        res = fn(*arrays)
        return list(res) if nout > 1 else [res]
    arrs = [np.broadcast_to(a, bshape + a.shape[a.ndim - c:]) for a, c in zip(arrays, core_ndims)]
    size = int(np.prod(bshape))
    if size == 0:
        res = fn(*[_dummy(a.shape[len(bshape):], a.dtype) for a in arrs])
        res = list(res) if nout > 1 else [res]
        return [np.empty(bshape + np.shape(r), dtype=np.asarray(r).dtype) for r in res]
    outs: list[list] = [[] for _ in range(nout)]
    for idx in np.ndindex(*bshape):
        res = fn(*[a[idx] for a in arrs])
        res = list(res) if nout > 1 else [res]
        for k in range(nout):
            outs[k].append(np.asarray(res[k]))
    return [np.stack(o).reshape(bshape + o[0].shape) for o in outs]


# -- symbolic helpers for the derivative rules -------------------------------------------------

def mT(x):
    """Swap the last two axes (the matrix transpose of a stack of matrices)."""
    from kiln.tensor.shape import swapaxes

    return swapaxes(x, -1, -2)


def _index_grid(n, m=None):
    from kiln.tensor.creation import arange

    r = arange(n, dtype="int64")
    c = r if m is None else arange(m, dtype="int64")
    return r.dimshuffle(0, "x"), c.dimshuffle("x", 0)


def tri_mask(x, k: int = 0, lower: bool = True):
    """A 0/1 mask with `x`'s dtype over its last two axes: tril(ones, k) (or triu(ones, k))."""
    import kiln.tensor.math as km
    from kiln.tensor.shape import shape_i

    r, c = _index_grid(shape_i(x, -2), shape_i(x, -1))
    cond = km.ge(r + k, c) if lower else km.le(r + k, c)
    return km.cast(cond, x.dtype)


def eye_mask(x):
    """The identity as a 0/1 mask with `x`'s dtype, shaped like `x`'s last two axes."""
    import kiln.tensor.math as km
    from kiln.tensor.shape import shape_i

    r, c = _index_grid(shape_i(x, -2), shape_i(x, -1))
    return km.cast(km.eq(r, c), x.dtype)


def diagonal(x):
    """The main diagonal of each matrix of a (square) stack: (..., n, n) -> (..., n)."""
    import kiln.tensor.math as km

    return km.sum(x * eye_mask(x), axis=-1)


def sym_from_triangle(t, lower: bool):
    """The symmetric matrix a routine sees when it reads only one triangle of `t`:
    tril(t) + tril(t, -1)^T (or the same with triu).  Linear in `t`."""
    return t * tri_mask(t, 0, lower) + mT(t * tri_mask(t, -1 if lower else 1, lower))
