"""norm, matrix_power and kron as graphs of existing ops (their derivatives come from those ops'
rules; no new op, so nothing new for the C linker either)."""
from __future__ import annotations

from typing import Any

import numpy as np

import kiln.tensor.math as km
from kiln.tensor.basic import as_tensor_variable, describe
from kiln.tensor.linalg.decomp import SVD, inv
from kiln.tensor.reduction import normalize_one_axis

__all__ = ["kron", "matrix_power", "norm"]

_INF = float("inf")


def _as_float(x):
    # NumPy's norm computes in float64 for non-float inputs
    return x if x.dtype.startswith("float") else km.cast(x, "float64")


def _vector_norm(x, ord: Any, axis: int):
    if ord is None or ord == 2:
        return km.sqrt(km.sum(km.sqr(x), axis=axis))
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    if ord == _INF:
        return km.max(km.abs(x), axis=axis)
    if ord == -_INF:
        return km.min(km.abs(x), axis=axis)
    if ord == 0:
        return km.sum(km.cast(km.neq(x, 0), x.dtype), axis=axis)
    if ord == 1:
        return km.sum(km.abs(x), axis=axis)
    p = float(ord)
    return km.sum(km.abs(x) ** p, axis=axis) ** (1.0 / p)


def _sv(x, row: int, col: int):
    from kiln.tensor.shape import transpose

    rest = [d for d in range(x.ndim) if d not in (row, col)]
    return SVD(full_matrices=False, compute_uv=False)(transpose(x, rest + [row, col]))


def _matrix_norm(x, ord: Any, row: int, col: int):
    if ord is None or ord == "fro":
        return km.sqrt(km.sum(km.sqr(x), axis=(row, col)))
    if ord == "nuc":
        return km.sum(_sv(x, row, col), axis=-1)
    if ord in (2, -2):
        return (km.max if ord == 2 else km.min)(_sv(x, row, col), axis=-1)
    if ord in (1, -1, _INF, -_INF):
        red = km.max if ord in (1, _INF) else km.min
        if ord in (1, -1):
            s_ax, r_ax = row, col          # column sums, then over columns
        else:
            s_ax, r_ax = col, row          # row sums, then over rows
        if r_ax > s_ax:
            r_ax -= 1
        return red(km.sum(km.abs(x), axis=s_ax), axis=r_ax)
    raise ValueError(f"norm: invalid norm order {ord!r} for matrices")


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False):
    """numpy.linalg.norm: vector norms (ord None/2, 1, inf, -inf, 0, any p) over one axis,
    matrix norms (None/'fro', 'nuc', 1, -1, 2, -2, inf, -inf) over two axes.

    Without `axis`: ord=None is the 2-norm of the flattened input; otherwise `x` must be 1-d
    (vector norm) or 2-d (matrix norm).  Integer inputs give float64, as in NumPy.

    >>> import numpy as np, kiln.tensor as kt
    >>> v = kt.dvector("v")
    >>> float(norm(v).eval({v: np.array([3.0, 4.0])}))
    5.0
    """
    x = _as_float(as_tensor_variable(x))
    nd = x.ndim
    if axis is None:
        if ord is None:
            res = km.sqrt(km.sum(km.sqr(x)))
            return res.dimshuffle(*["x"] * nd) if keepdims else res
        if nd not in (1, 2):
            raise ValueError(f"norm: with ord={ord!r} and no axis, x must be 1-d or 2-d, got {describe(x)}")
        axis = tuple(range(nd))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    axes = tuple(normalize_one_axis(a, nd, "norm") for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"norm: duplicate axes in {axis}")
    if len(axes) == 1:
        res = _vector_norm(x, ord, axes[0])
    elif len(axes) == 2:
        res = _matrix_norm(x, ord, axes[0], axes[1])
    else:
        raise ValueError(f"norm: axis must be an int or a pair of ints, got {axis!r}")
    if keepdims:
        from kiln.tensor.shape import expand_dims

        res = expand_dims(res, sorted(axes))
    return res


def matrix_power(a: Any, n: int):
    """numpy.linalg.matrix_power: a @ a @ ... (n times) by repeated squaring; n=0 gives the
    identity (a's dtype), negative n the power of inv(a).

    >>> import numpy as np, kiln.tensor as kt
    >>> a = kt.lmatrix("a")
    >>> matrix_power(a, 3).eval({a: np.array([[1, 1], [0, 1]])})
    array([[1, 3],
           [0, 1]])
    """
    from kiln.tensor.blas import matmul
    from kiln.tensor.creation import eye, zeros_like

    a = as_tensor_variable(a)
    if a.ndim < 2:
        raise ValueError(f"matrix_power: expected a matrix or a stack of matrices, got {describe(a)}")
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool):
        raise TypeError(f"matrix_power: exponent must be an integer, got {n!r}")
    m, k = a.type.shape[-2:]
    if m is not None and k is not None and m != k:
        raise ValueError(f"matrix_power: last 2 dimensions of {describe(a)} must be square")
    n = int(n)
    if n == 0:
        from kiln.tensor.shape import shape_i

        return zeros_like(a) + eye(shape_i(a, -1), dtype=a.dtype)
    if n < 0:
        a, n = inv(a), -n
    z = result = None
    while n > 0:
        z = a if z is None else matmul(z, z)
        n, bit = divmod(n, 2)
        if bit:
            result = z if result is None else matmul(result, z)
    return result


def kron(a: Any, b: Any):
    """numpy.kron: the Kronecker product (the smaller-rank input gets leading length-1 axes).

    >>> import numpy as np, kiln.tensor as kt
    >>> a, b = kt.dvector("a"), kt.dvector("b")
    >>> kron(a, b).eval({a: np.array([1.0, 2.0]), b: np.array([1.0, 10.0])})
    array([ 1., 10.,  2., 20.])
    """
    from kiln.tensor.shape import reshape, shape_i

    a, b = as_tensor_variable(a), as_tensor_variable(b)
    nd = max(a.ndim, b.ndim)
    a = a.dimshuffle(*(["x"] * (nd - a.ndim) + list(range(a.ndim))))
    b = b.dimshuffle(*(["x"] * (nd - b.ndim) + list(range(b.ndim))))
    if nd == 0:
        return km.mul(a, b)
    pa, pb = [], []
    for d in range(nd):
        pa += [d, "x"]
        pb += ["x", d]
    prod = km.mul(a.dimshuffle(*pa), b.dimshuffle(*pb))
    shape = []
    for d in range(nd):
        sa, sb = a.type.shape[d], b.type.shape[d]
        shape.append(sa * sb if sa is not None and sb is not None else km.mul(shape_i(a, d), shape_i(b, d)))
    return reshape(prod, shape, ndim=nd)
