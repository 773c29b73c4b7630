"""Matrix equations (SciPy's names, PyTensor's signatures): the Sylvester equation, the
discrete Lyapunov equation, the discrete algebraic Riccati equation, and LAPACK's tridiagonal
LU (gttrf/gttrs).

The solvers are linear in their right-hand side (transpose rules in
kiln/gradient/rules/linalg_more.py) and differentiable in their coefficient matrices; the
tridiagonal pair has no derivative (as in PyTensor).  Stacked matrices broadcast over their
leading axes.  C: not yet (perform): LAPACK through SciPy.
"""
from __future__ import annotations

import numpy as np

from kiln._lazy import scipy_module
from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.tensor.basic import as_tensor_variable, describe
from kiln.tensor.linalg._util import batch_shape, batched, check_same_dim
from kiln.tensor.linalg.decomp import _out
from kiln.tensor.linalg.decomp_more import _CLinalgOp, any_dtype, as_any_matrix, batch_infer

__all__ = ["SolveSylvester", "SolveDiscreteLyapunov", "SolveDiscreteARE", "LUFactorTridiagonal",
           "SolveLUFactorTridiagonal", "LUSolve"]


def _broadcast_infer(node, input_shapes, core):
    """Output shape = broadcast batch of the inputs + `core` (a function of the input shapes)."""
    return [batch_infer(node, input_shapes) + core([tuple(s) for s in input_shapes])]


class SolveSylvester(_CLinalgOp):
    """scipy.linalg.solve_sylvester(a, b, q): x with a x + x b = q (a m x m, b n x n, q m x n).
    Linear in q.  C: not yet (perform)."""

    def make_node(self, a, b, q) -> Apply:
        a = as_any_matrix("solve_sylvester", a, square=True)
        b = as_any_matrix("solve_sylvester", b, square=True)
        q = as_any_matrix("solve_sylvester", q)
        check_same_dim("solve_sylvester", a, q, -1, -2, "a's size must equal q's number of rows")
        check_same_dim("solve_sylvester", b, q, -1, -1, "b's size must equal q's number of columns")
        m = a.type.shape[-1] if a.type.shape[-1] is not None else q.type.shape[-2]
        n = b.type.shape[-1] if b.type.shape[-1] is not None else q.type.shape[-1]
        shape = batch_shape(a.type.shape[:-2], b.type.shape[:-2], q.type.shape[:-2]) + (m, n)
        return Apply(self, [a, b, q], [_out(any_dtype("solve_sylvester", a, b, q), shape)])

    def _compute(self, node, a, b, q):
        dt = node.outputs[0].type.dtype
        fn = scipy_module("linalg").solve_sylvester

        def one(a1, b1, q1):
            if q1.size == 0:
                return np.empty(q1.shape, dtype=dt)
            return fn(a1, b1, q1)

        return batched(one, [x.astype(dt, copy=False) for x in (a, b, q)], [2, 2, 2], 1)[0]

    def infer_shape(self, fgraph, node, input_shapes):
        return _broadcast_infer(node, input_shapes, lambda s: (s[0][-1], s[1][-1]))


class SolveDiscreteLyapunov(_CLinalgOp):
    """scipy.linalg.solve_discrete_lyapunov(a, q, method): x with a x a^H - x + q = 0.
    method "bilinear" (PyTensor's default) or "direct".  Linear in q.  C: not yet (perform)."""

    __props__ = ("method",)

    def __init__(self, method: str = "bilinear"):
        if method not in ("direct", "bilinear"):
            raise ValueError(f'solve_discrete_lyapunov: method must be one of "direct" or "bilinear", '
                             f'got {method!r}')
        self.method = method

    def make_node(self, a, q) -> Apply:
        a = as_any_matrix("solve_discrete_lyapunov", a, square=True)
        q = as_any_matrix("solve_discrete_lyapunov", q, square=True)
        check_same_dim("solve_discrete_lyapunov", a, q, -1, -1, "a and q must have the same size")
        n = a.type.shape[-1] if a.type.shape[-1] is not None else q.type.shape[-1]
        shape = batch_shape(a.type.shape[:-2], q.type.shape[:-2]) + (n, n)
        return Apply(self, [a, q], [_out(any_dtype("solve_discrete_lyapunov", a, q), shape)])

    def _compute(self, node, a, q):
        dt = node.outputs[0].type.dtype
        fn = scipy_module("linalg").solve_discrete_lyapunov

        def one(a1, q1):
            if q1.size == 0:
                return np.empty(q1.shape, dtype=dt)
            return fn(a1, q1, method=self.method)

        return batched(one, [a.astype(dt, copy=False), q.astype(dt, copy=False)], [2, 2], 1)[0]

    def infer_shape(self, fgraph, node, input_shapes):
        return _broadcast_infer(node, input_shapes, lambda s: (s[0][-1], s[0][-1]))


class SolveDiscreteARE(_CLinalgOp):
    """scipy.linalg.solve_discrete_are(a, b, q, r): the stabilizing solution x of
    a^T x a - x - (a^T x b)(r + b^T x b)^-1 (b^T x a) + q = 0 (a, q m x m; b m x n; r n x n).
    Differentiable for real inputs (q and r are taken as symmetric).  C: not yet (perform)."""

    def make_node(self, a, b, q, r) -> Apply:
        who = "solve_discrete_are"
        a = as_any_matrix(who, a, square=True)
        b = as_any_matrix(who, b)
        q = as_any_matrix(who, q, square=True)
        r = as_any_matrix(who, r, square=True)
        check_same_dim(who, a, b, -1, -2, "a's size must equal b's number of rows")
        check_same_dim(who, a, q, -1, -1, "a and q must have the same size")
        check_same_dim(who, b, r, -1, -1, "b's number of columns must equal r's size")
        m = next((s for s in (a.type.shape[-1], q.type.shape[-1], b.type.shape[-2]) if s is not None), None)
        shape = batch_shape(*[x.type.shape[:-2] for x in (a, b, q, r)]) + (m, m)
        return Apply(self, [a, b, q, r], [_out(any_dtype(who, a, b, q, r), shape)])

    def _compute(self, node, a, b, q, r):
        dt = node.outputs[0].type.dtype
        fn = scipy_module("linalg").solve_discrete_are

        def one(a1, b1, q1, r1):
            if a1.size == 0:
                return np.empty(a1.shape, dtype=dt)
            return fn(a1, b1, q1, r1)

        return batched(one, [x.astype(dt, copy=False) for x in (a, b, q, r)], [2] * 4, 1)[0]

    def infer_shape(self, fgraph, node, input_shapes):
        return _broadcast_infer(node, input_shapes, lambda s: (s[0][-1], s[0][-1]))


def _vector_batch(node, input_shapes, core=None):
    """The broadcast batch shape of inputs whose last `core[i]` axes (default 1) are core."""
    return batch_infer(node, input_shapes, core or [1] * len(input_shapes))


def _vectors(who: str, *xs):
    xs = [as_tensor_variable(x) for x in xs]
    for x in xs:
        if x.ndim < 1:
            raise ValueError(f"{who}: expected vectors (or stacks of them), got {describe(x)}")
    return xs


class LUFactorTridiagonal(Op):
    """LAPACK's gttrf on a tridiagonal matrix given by its diagonals (dl, d, du): outputs
    (dl, d, du, du2, ipiv) as scipy.linalg.lapack.?gttrf gives them (ipiv int32, LAPACK's).
    C: not yet (perform)."""

    def make_node(self, dl, d, du) -> Apply:
        dl, d, du = _vectors("tridiagonal_lu_factor", dl, d, du)
        dt = any_dtype("tridiagonal_lu_factor", dl, d, du)
        n = d.type.shape[-1]
        b = batch_shape(dl.type.shape[:-1], d.type.shape[:-1], du.type.shape[:-1])
        m1 = None if n is None else max(n - 1, 0)
        m2 = None if n is None else max(n - 2, 0)
        return Apply(self, [dl, d, du], [_out(dt, b + (m1,)), _out(dt, b + (n,)), _out(dt, b + (m1,)),
                                         _out(dt, b + (m2,)), _out("int32", b + (n,))])

    def perform(self, node, inputs, output_storage):
        dt = node.outputs[0].type.dtype
        gttrf = scipy_module("linalg").get_lapack_funcs("gttrf", dtype=dt)

        def one(dl, d, du):
            dl2, d2, du2, du22, ipiv, info = gttrf(dl, d, du)
            if info != 0:   # singular: NaN factors, as for lu_factor
                dl2, d2, du2, du22 = (np.full_like(x, np.nan) for x in (dl2, d2, du2, du22))
            return dl2, d2, du2, du22, ipiv.astype(np.int32, copy=False)

        res = batched(one, [np.asarray(x, dtype=dt) for x in inputs], [1, 1, 1], 5)
        for store, r, o in zip(output_storage, res, node.outputs):
            store[0] = np.asarray(r, dtype=o.type.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        import kiln.tensor.math as km

        batch = _vector_batch(node, input_shapes)
        n = input_shapes[1][-1]
        less = (lambda k: max(n - k, 0)) if isinstance(n, int) else (lambda k: km.maximum(n - k, 0))
        return [batch + (less(1),), batch + (n,), batch + (less(1),), batch + (less(2),), batch + (n,)]


class SolveLUFactorTridiagonal(Op):
    """LAPACK's gttrs: x with a x = b (or a^T x = b with transposed) from gttrf's factors.
    b_ndim 1 (vectors) or 2 (matrices).  C: not yet (perform)."""

    __props__ = ("b_ndim", "transposed")

    def __init__(self, b_ndim: int, transposed: bool = False):
        if b_ndim not in (1, 2):
            raise ValueError(f"tridiagonal_lu_solve: b_ndim must be 1 or 2, got {b_ndim!r}")
        self.b_ndim, self.transposed = b_ndim, bool(transposed)

    def make_node(self, dl, d, du, du2, ipiv, b) -> Apply:
        dl, d, du, du2, ipiv = _vectors("tridiagonal_lu_solve", dl, d, du, du2, ipiv)
        b = as_tensor_variable(b)
        if b.ndim < self.b_ndim:
            raise ValueError(f"tridiagonal_lu_solve: b_ndim={self.b_ndim} but b is {describe(b)}")
        dt = any_dtype("tridiagonal_lu_solve", dl, d, du, du2, b)
        core = b.type.shape[b.ndim - self.b_ndim:]
        batch = batch_shape(*[x.type.shape[:-1] for x in (dl, d, du, du2, ipiv)],
                            b.type.shape[:b.ndim - self.b_ndim])
        return Apply(self, [dl, d, du, du2, ipiv, b], [_out(dt, batch + core)])

    def perform(self, node, inputs, output_storage):
        dt = node.outputs[0].type.dtype
        gttrs = scipy_module("linalg").get_lapack_funcs("gttrs", dtype=dt)
        *diags, ipiv, b = inputs

        def one(dl, d, du, du2, piv, b1):
            x, info = gttrs(dl, d, du, du2, piv, b1, trans="T" if self.transposed else "N")
            return x

        arrays = [np.asarray(x, dtype=dt) for x in diags] + [ipiv, np.asarray(b, dtype=dt)]
        res = batched(one, arrays, [1, 1, 1, 1, 1, self.b_ndim], 1)[0]
        output_storage[0][0] = np.ascontiguousarray(res, dtype=dt)

    def infer_shape(self, fgraph, node, input_shapes):
        core = [1] * 5 + [self.b_ndim]
        batch = _vector_batch(node, input_shapes, core)
        b = tuple(input_shapes[5])
        return [batch + b[len(b) - self.b_ndim:]]


class LUSolve(_CLinalgOp):
    """scipy.linalg.lu_solve((lu, piv), b, trans) in one op, for complex systems (SolveTriangular
    is real-only; real systems use lu_solve's differentiable graph of triangular solves).
    b_ndim 1 (vectors) or 2 (matrices).  No derivative.  C: not yet (perform)."""

    __props__ = ("b_ndim", "trans")

    def __init__(self, b_ndim: int, trans: bool = False):
        if b_ndim not in (1, 2):
            raise ValueError(f"lu_solve: b_ndim must be 1 or 2, got {b_ndim!r}")
        self.b_ndim, self.trans = b_ndim, bool(trans)

    def make_node(self, lu_, piv, b) -> Apply:
        lu_ = as_any_matrix("lu_solve", lu_, square=True)
        piv, b = as_tensor_variable(piv), as_tensor_variable(b)
        if b.ndim < self.b_ndim:
            raise ValueError(f"lu_solve: b_ndim={self.b_ndim} but b is {describe(b)}")
        core = b.type.shape[b.ndim - self.b_ndim:]
        batch = batch_shape(lu_.type.shape[:-2], piv.type.shape[:-1], b.type.shape[:b.ndim - self.b_ndim])
        return Apply(self, [lu_, piv, b], [_out(any_dtype("lu_solve", lu_, b), batch + core)])

    def _compute(self, node, lu_, piv, b):
        dt = node.outputs[0].type.dtype
        fn = scipy_module("linalg").lu_solve

        def one(l1, p1, b1):   # SciPy's trans=1 is a^T x = b (2 would be a^H)
            return fn((l1, p1), b1, trans=1 if self.trans else 0, check_finite=False)

        return batched(one, [lu_.astype(dt, copy=False), piv, b.astype(dt, copy=False)], [2, 1, self.b_ndim], 1)[0]
