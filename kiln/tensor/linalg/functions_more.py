"""PyTensor's remaining linalg functions, mostly as graphs of existing ops (their derivatives
come from those ops' rules): lu_solve, solve_sylvester, solve_continuous_lyapunov,
solve_discrete_lyapunov, solve_discrete_are, tridiagonal_lu_factor/solve, tensorinv,
tensorsolve, matrix_dot, and block_diag (one op, linear in every input).
"""
from __future__ import annotations

from typing import Any

import numpy as np

import kiln.tensor.math as km
from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.tensor.basic import as_tensor_variable, describe
from kiln.tensor.blas import matmul
from kiln.tensor.linalg._util import batch_shape, mT
from kiln.tensor.linalg.decomp import inv
from kiln.tensor.linalg.decomp_more import PivotToPermutations, any_dtype
from kiln.tensor.linalg.equations import (LUFactorTridiagonal, SolveDiscreteARE, SolveDiscreteLyapunov,
                                          SolveLUFactorTridiagonal, SolveSylvester)
from kiln.tensor.linalg.solve import SolveTriangular, solve
from kiln.tensor.type import TensorType

__all__ = ["BlockDiagonal", "block_diag", "lu_solve", "matrix_dot", "one_hot_rows", "solve_continuous_lyapunov",
           "solve_discrete_are", "solve_discrete_lyapunov", "solve_sylvester", "tensorinv", "tensorsolve",
           "tridiagonal_lu_factor", "tridiagonal_lu_solve"]


def _default_b_ndim(b, b_ndim):
    if b_ndim is None:
        return 1 if b.ndim == 1 else 2
    if b_ndim not in (1, 2):
        raise ValueError(f"b_ndim must be None, 1 or 2, got {b_ndim!r}")
    return b_ndim


def one_hot_rows(perm, dtype: str):
    """The permutation matrix P with P[..., i, perm[i]] = 1 (so P @ x == x[perm])."""
    from kiln.tensor.creation import arange
    from kiln.tensor.shape import expand_dims, shape_i

    cols = arange(shape_i(perm, -1), dtype="int64")
    return km.cast(km.eq(expand_dims(perm, perm.ndim), cols), dtype)


def _apply_rows(p, x, vector: bool):
    """p @ x where x is a (stack of) vector(s) when `vector`, else matrices."""
    if vector:
        from kiln.tensor.shape import expand_dims

        return km.sum(p * expand_dims(x, x.ndim - 1), axis=-1)
    return matmul(p, x)


def lu_solve(LU_and_pivots: tuple, b: Any, trans: bool = False, b_ndim: int | None = None,
             check_finite: bool = True, overwrite_b: bool = False):
    """scipy.linalg.lu_solve((lu, piv), b, trans): x with a x = b (a^T x = b with trans) from
    lu_factor's output.  Two triangular solves and a row permutation, so it is differentiable
    in lu and b.  check_finite and overwrite_b are accepted and ignored.

    >>> import numpy as np, kiln.tensor as kt
    >>> from kiln.tensor.linalg import lu_factor
    >>> a, b = kt.dmatrix("a"), kt.dvector("b")
    >>> x = lu_solve(lu_factor(a), b)
    >>> x.eval({a: np.array([[1.0, 2.0], [3.0, 4.0]]), b: np.array([5.0, 6.0])}).round(6).tolist()
    [-4.0, 4.5]
    """
    if not isinstance(LU_and_pivots, (tuple, list)) or len(LU_and_pivots) != 2:
        raise TypeError("lu_solve: the first argument must be the pair (LU, pivots) from lu_factor")
    lu_, piv = (as_tensor_variable(v) for v in LU_and_pivots)
    b = as_tensor_variable(b)
    if lu_.ndim < 2:
        raise ValueError(f"lu_solve: LU must be a matrix (or a stack of them), got {describe(lu_)}")
    core = _default_b_ndim(b, b_ndim)
    vector = core == 1
    codes = {0: False, 1: True, 2: True, "N": False, "T": True, "C": True}
    if trans not in codes:
        raise ValueError(f"lu_solve: trans must be a bool, 0/1/2 or 'N'/'T'/'C', got {trans!r}")
    trans = codes[trans]
    dt = any_dtype("lu_solve", lu_, b)
    if np.dtype(dt).kind == "c":   # the triangular solves are real-only: one SciPy call instead
        from kiln.tensor.linalg.equations import LUSolve

        return LUSolve(core, trans)(lu_, piv, b)
    p = one_hot_rows(PivotToPermutations(inverse=True)(piv), dt)   # P^T a = L U, with P^T = p
    if not trans:
        y = SolveTriangular(lower=True, unit_diagonal=True, b_ndim=core)(lu_, _apply_rows(p, b, vector))
        return SolveTriangular(lower=False, b_ndim=core)(lu_, y)
    y = SolveTriangular(lower=False, trans=1, b_ndim=core)(lu_, b)
    y = SolveTriangular(lower=True, trans=1, unit_diagonal=True, b_ndim=core)(lu_, y)
    return _apply_rows(mT(p), y, vector)


def _conj_t(x):
    """x^H (x^T for real x)."""
    x = as_tensor_variable(x)
    if np.dtype(x.dtype).kind == "c":
        from kiln.tensor.compat_math import conj

        x = conj(x)
    return mT(x)


def solve_sylvester(A: Any, B: Any, Q: Any):
    """scipy.linalg.solve_sylvester: X with A X + X B = Q (A m x m, B n x n, Q m x n).

    >>> import numpy as np, kiln.tensor as kt
    >>> a, b, q = kt.dmatrices("a", "b", "q")
    >>> solve_sylvester(a, b, q).eval({a: np.eye(2), b: np.eye(2), q: np.eye(2)}).tolist()
    [[0.5, 0.0], [0.0, 0.5]]
    """
    return SolveSylvester()(A, B, Q)


def solve_continuous_lyapunov(A: Any, Q: Any):
    """scipy.linalg.solve_continuous_lyapunov: X with A X + X A^H = Q (a Sylvester equation
    with B = A^H, as in PyTensor).

    >>> import numpy as np, kiln.tensor as kt
    >>> a, q = kt.dmatrices("a", "q")
    >>> solve_continuous_lyapunov(a, q).eval({a: -np.eye(2), q: -np.eye(2)}).tolist()
    [[0.5, 0.0], [0.0, 0.5]]
    """
    A = as_tensor_variable(A)
    if A.ndim < 2:
        raise ValueError(f"solve_continuous_lyapunov: A must be a matrix (or a stack of them), got {describe(A)}")
    return SolveSylvester()(A, _conj_t(A), Q)


def solve_discrete_lyapunov(A: Any, Q: Any, method: str = "bilinear"):
    """scipy.linalg.solve_discrete_lyapunov: X with A X A^H - X + Q = 0 (method "bilinear",
    PyTensor's default, or "direct").

    >>> import numpy as np, kiln.tensor as kt
    >>> a, q = kt.dmatrices("a", "q")
    >>> solve_discrete_lyapunov(a, q).eval({a: 0.5 * np.eye(2), q: 0.75 * np.eye(2)}).round(6).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return SolveDiscreteLyapunov(method)(A, Q)


def solve_discrete_are(A: Any, B: Any, Q: Any, R: Any):
    """scipy.linalg.solve_discrete_are: the stabilizing solution X of the discrete algebraic
    Riccati equation A^T X A - X - (A^T X B)(R + B^T X B)^-1 (B^T X A) + Q = 0."""
    return SolveDiscreteARE()(A, B, Q, R)


def tridiagonal_lu_factor(a: Any):
    """LAPACK's gttrf on the tridiagonal part of `a` (its diagonals -1, 0, 1):
    (dl, d, du, du2, ipiv) for tridiagonal_lu_solve."""
    from kiln.tensor.diag_ops import diagonal

    a = as_tensor_variable(a)
    if a.ndim < 2:
        raise ValueError(f"tridiagonal_lu_factor: a must be a matrix (or a stack of them), got {describe(a)}")
    dl, d, du = (diagonal(a, offset=o, axis1=-2, axis2=-1) for o in (-1, 0, 1))
    return tuple(LUFactorTridiagonal()(dl, d, du))


def tridiagonal_lu_solve(a_diagonals: tuple, b: Any, *, b_ndim: int, transposed: bool = False):
    """LAPACK's gttrs: x with a x = b (a^T x = b with transposed) from tridiagonal_lu_factor.

    >>> import numpy as np, kiln.tensor as kt
    >>> a, b = kt.dmatrix("a"), kt.dvector("b")
    >>> x = tridiagonal_lu_solve(tridiagonal_lu_factor(a), b, b_ndim=1)
    >>> x.eval({a: 2 * np.eye(3), b: np.ones(3)}).tolist()
    [0.5, 0.5, 0.5]
    """
    if len(a_diagonals) != 5:
        raise TypeError("tridiagonal_lu_solve: a_diagonals must be the 5 outputs of tridiagonal_lu_factor")
    return SolveLUFactorTridiagonal(b_ndim, transposed)(*a_diagonals, b)


def _prod(dims):
    out = 1
    for d in dims:
        out = d * out if isinstance(out, int) and isinstance(d, int) else km.mul(out, d)
    return out


def _dims(x, axes):
    from kiln.tensor.shape import shape_i

    return [x.type.shape[i] if x.type.shape[i] is not None else shape_i(x, i) for i in axes]


def tensorinv(a: Any, ind: int = 2):
    """numpy.linalg.tensorinv: the inverse of `a` for tensordot over its first `ind` axes,
    shaped a.shape[ind:] + a.shape[:ind] (a reshape around inv, so differentiable).

    >>> import numpy as np, kiln.tensor as kt
    >>> a = kt.dtensor3("a")
    >>> tensorinv(a, ind=1).eval({a: np.eye(4).reshape(4, 2, 2)}).shape
    (2, 2, 4)
    """
    from kiln.tensor.shape import reshape

    a = as_tensor_variable(a)
    if not isinstance(ind, (int, np.integer)) or ind <= 0:
        raise ValueError(f"tensorinv: ind must be a positive integer, got {ind!r}")
    if a.ndim <= ind:
        raise ValueError(f"tensorinv: a must have more than ind={ind} dimensions, got {describe(a)}")
    head, tail = _dims(a, range(ind)), _dims(a, range(ind, a.ndim))
    ph, pt = _prod(head), _prod(tail)
    if isinstance(ph, int) and isinstance(pt, int) and ph != pt:
        raise ValueError(f"tensorinv: prod(a.shape[:ind]) = {ph} must equal prod(a.shape[ind:]) = {pt} "
                         f"({describe(a)})")
    ia = inv(reshape(a, [ph, pt], ndim=2))
    return reshape(ia, tail + head, ndim=a.ndim)


def tensorsolve(a: Any, b: Any, axes: Any = None):
    """numpy.linalg.tensorsolve: x with tensordot(a, x, x.ndim) = b; x has shape
    a.shape[b.ndim:] (after moving `axes` of a to the end).  A reshape around solve.

    >>> import numpy as np, kiln.tensor as kt
    >>> a, b = kt.dtensor3("a"), kt.dvector("b")
    >>> tensorsolve(a, b).eval({a: np.eye(4).reshape(4, 2, 2), b: np.arange(4.0)}).tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """
    from kiln.tensor.shape import reshape, transpose

    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if axes is not None:
        axes = [int(x) % a.ndim for x in axes]
        rest = [i for i in range(a.ndim) if i not in axes]
        a = transpose(a, rest + axes)
    if a.ndim <= b.ndim:
        raise ValueError(f"tensorsolve: a must have more dimensions than b, got {describe(a)} and {describe(b)}")
    head, tail = _dims(a, range(b.ndim)), _dims(a, range(b.ndim, a.ndim))
    ph, pt = _prod(head), _prod(tail)
    if isinstance(ph, int) and isinstance(pt, int) and ph != pt:
        raise ValueError(f"tensorsolve: a is not 'square': prod of its first b.ndim dims is {ph}, of the "
                         f"others {pt} ({describe(a)}, {describe(b)})")
    x = solve(reshape(a, [ph, pt], ndim=2), reshape(b, [ph], ndim=1), b_ndim=1)
    return reshape(x, tail, ndim=len(tail))


def matrix_dot(*args: Any):
    """The product args[0] . args[1] . ... (kt.dot left to right), as PyTensor's matrix_dot.

    >>> import numpy as np, kiln.tensor as kt
    >>> a = kt.dmatrix("a")
    >>> matrix_dot(a, a, a).eval({a: np.array([[1.0, 1.0], [0.0, 1.0]])}).tolist()
    [[1.0, 3.0], [0.0, 1.0]]
    """
    from kiln.tensor.math import dot

    if not args:
        raise TypeError("matrix_dot: expected at least one argument")
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = dot(out, a)
    return out


class BlockDiagonal(Op):
    """scipy.linalg.block_diag over the last two axes of each input (leading axes broadcast):
    the inputs on the diagonal of one (sum of rows) x (sum of columns) matrix, zeros elsewhere.
    Linear in every input (a slice of the cotangent goes back to each).  C: not yet (perform)."""

    __props__ = ("n_inputs",)

    def __init__(self, n_inputs: int):
        if n_inputs < 2:
            raise ValueError(f"block_diag: BlockDiagonal needs at least 2 inputs, got {n_inputs}")
        self.n_inputs = int(n_inputs)

    def make_node(self, *matrices) -> Apply:
        if len(matrices) != self.n_inputs:
            raise ValueError(f"block_diag: expected {self.n_inputs} matrices, got {len(matrices)}")
        ms = [as_tensor_variable(m) for m in matrices]
        for m in ms:
            if m.ndim < 2:
                raise TypeError(f"block_diag: every input must have at least 2 dimensions, got {describe(m)}")
        from kiln.scalar.dtypes import upcast

        dt = upcast(*[m.dtype for m in ms])
        rows = [m.type.shape[-2] for m in ms]
        cols = [m.type.shape[-1] for m in ms]
        core = (None if None in rows else sum(rows), None if None in cols else sum(cols))
        shape = batch_shape(*[m.type.shape[:-2] for m in ms]) + core
        return Apply(self, ms, [TensorType(dt, shape)()])

    def perform(self, node, inputs, output_storage):
        dt = node.outputs[0].type.dtype
        batch = np.broadcast_shapes(*[x.shape[:-2] for x in inputs])
        out = np.zeros(batch + (sum(x.shape[-2] for x in inputs), sum(x.shape[-1] for x in inputs)), dtype=dt)
        r = c = 0
        for x in inputs:
            out[..., r:r + x.shape[-2], c:c + x.shape[-1]] = x
            r, c = r + x.shape[-2], c + x.shape[-1]
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.shape import broadcast_shape_symbolic

        n = max(len(s) - 2 for s in input_shapes)

        def pad(s):
            s = tuple(s)[:-2]
            return (1,) * (n - len(s)) + s

        batch = tuple(broadcast_shape_symbolic([pad(s) for s in input_shapes],
                                               [pad(i.type.shape) for i in node.inputs])) if n else ()
        rows = _prod_sum([s[-2] for s in input_shapes])
        cols = _prod_sum([s[-1] for s in input_shapes])
        return [batch + (rows, cols)]


def _prod_sum(dims):
    out = 0
    for d in dims:
        out = d + out if isinstance(out, int) and isinstance(d, int) else km.add(out, d)
    return out


def block_diag(*matrices: Any):
    """scipy.linalg.block_diag for symbolic matrices (stacks broadcast over leading axes);
    one input is returned as it is.

    >>> import numpy as np, kiln.tensor as kt
    >>> a, b = kt.dmatrices("a", "b")
    >>> block_diag(a, b).eval({a: np.ones((1, 1)), b: 2 * np.ones((1, 2))}).tolist()
    [[1.0, 0.0, 0.0], [0.0, 2.0, 2.0]]
    """
    if not matrices:
        raise TypeError("block_diag: expected at least one matrix")
    if len(matrices) == 1:
        return as_tensor_variable(matrices[0])
    return BlockDiagonal(len(matrices))(*matrices)
