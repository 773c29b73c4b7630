"""Linear solves: solve (assume_a "gen"/"sym"/"pos" as scipy.linalg.solve), solve_triangular
and cho_solve.

b follows NumPy 2's rule: a 1-d b is one right-hand side; otherwise b is a stack of (M, K)
matrices whose leading axes broadcast with a's.  Each op is linear in b (a transpose rule in
kiln/gradient/rules/linalg.py), and differentiable in a.

C: not yet (perform): LAPACK through NumPy/SciPy.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from kiln._lazy import scipy_module
from kiln.tensor.linalg._lapack import trtrs

from kiln.graph.basic import Apply
from kiln.tensor.basic import as_tensor_variable, describe
from kiln.tensor.linalg._util import as_matrix_input, batch_shape, batched, out_dtype
from kiln.tensor.linalg.decomp import _LinalgOp, _out

__all__ = ["Solve", "SolveTriangular", "cho_solve", "solve", "solve_triangular"]


def _core_ndim(who: str, b_ndim: int | None, b) -> int:
    """b's core rank: b_ndim if given, else NumPy 2's rule (1-d: a vector, else matrices)."""
    if b_ndim is None:
        return 1 if b.ndim == 1 else 2
    if b.ndim < b_ndim:
        raise ValueError(f"{who}: b_ndim={b_ndim} but b is {describe(b)}")
    return b_ndim


def _rhs(who: str, a, b, b_ndim: int | None):
    """Check b against a; returns (b, core ndim of b, static output shape)."""
    b = as_tensor_variable(b)
    if b.ndim == 0:
        raise ValueError(f"{who}: b must be at least 1-d, got {describe(b)}")
    out_dtype(who, a, b)
    m = a.type.shape[-1]
    core = _core_ndim(who, b_ndim, b)
    bm = b.type.shape[-core]
    if m is not None and bm is not None and m != bm:
        raise ValueError(f"{who}: a is {a.type.shape[-2]}x{m} but b has {bm} rows "
                         f"({describe(a)}, {describe(b)})")
    rows = m if m is not None else bm
    batch = batch_shape(a.type.shape[:-2], b.type.shape[:b.ndim - core])
    return b, core, batch + (rows,) + (b.type.shape[-1],) * (core == 2)


def _infer(node, input_shapes, core: int):
    from kiln.tensor.shape import broadcast_shape_symbolic

    a, b = node.inputs
    sa, sb = tuple(input_shapes[0]), tuple(input_shapes[1])
    ba, bb = sa[:-2], sb[:len(sb) - core]
    ta, tb = a.type.shape[:-2], b.type.shape[:b.type.ndim - core]
    n = max(len(ba), len(bb))

    def pad(s, k):
        return (1,) * (k - len(s)) + tuple(s)

    batch = broadcast_shape_symbolic([pad(ba, n), pad(bb, n)], [pad(ta, n), pad(tb, n)]) if n else ()
    return [tuple(batch) + (sa[-1],) + ((sb[-1],) if core == 2 else ())]


def _check_b_ndim(b_ndim):
    if b_ndim not in (None, 1, 2):
        raise ValueError(f"b_ndim must be None, 1 or 2, got {b_ndim!r}")
    return b_ndim


class Solve(_LinalgOp):
    """scipy.linalg.solve(a, b, assume_a=, lower=): x with a x = b.  assume_a "gen" (LU),
    "sym" (symmetric, reads one triangle: upper unless lower=True) or "pos" (symmetric positive
    definite, Cholesky; same triangle rule).  Singular a raises LinAlgError.  C: not yet (perform).
    """

    __props__ = ("assume_a", "lower", "b_ndim")

    def __init__(self, assume_a: str = "gen", lower: bool = False, b_ndim: int | None = None):
        aliases = {"gen": "gen", "general": "gen", "sym": "sym", "symmetric": "sym",
                   "pos": "pos", "positive definite": "pos", "her": "sym", "hermitian": "sym",
                   "tridiagonal": "gen", "banded": "gen"}   # real inputs: her = sym; LU serves the rest
        if str(assume_a).lower() not in aliases:
            raise ValueError(f"solve: assume_a must be one of {sorted(aliases)} or 'lower triangular', "
                             f"'upper triangular', 'diagonal', got {assume_a!r}")
        self.assume_a = aliases[str(assume_a).lower()]
        self.lower = bool(lower) if self.assume_a != "gen" else False
        self.b_ndim = _check_b_ndim(b_ndim)

    def make_node(self, a, b) -> Apply:
        a = as_matrix_input("solve", a, square=True)
        b, _, shape = _rhs("solve", a, b, self.b_ndim)
        return Apply(self, [a, b], [_out(out_dtype("solve", a, b), shape)])

    def _compute(self, node, a, b):
        dt = node.outputs[0].type.dtype
        a, b = a.astype(dt, copy=False), b.astype(dt, copy=False)
        core = _core_ndim("solve", self.b_ndim, b)
        if self.assume_a == "gen":
            if core == 1 and b.ndim > 1:      # a stack of vectors: NumPy 2 needs them as columns
                return np.linalg.solve(a, b[..., None])[..., 0]
            return np.linalg.solve(a, b)
        solve_ = scipy_module("linalg").solve
        return batched(lambda a1, b1: solve_(a1, b1, assume_a=self.assume_a, lower=self.lower),
                       [a, b], [2, core], 1)[0]

    def infer_shape(self, fgraph, node, input_shapes):
        return _infer(node, input_shapes, _core_ndim("solve", self.b_ndim, node.inputs[1]))


class SolveTriangular(_LinalgOp):
    """scipy.linalg.solve_triangular(a, b, trans=, lower=, unit_diagonal=): x with op(a) x = b,
    op = identity (trans=0/"N") or transpose (trans=1/"T"/2/"C"; real inputs).  Reads only the
    named triangle of a (and not its diagonal when unit_diagonal).  A zero on the diagonal raises
    LinAlgError.  C: not yet (perform: LAPACK's ?trtrs through SciPy's cython_lapack)."""

    __props__ = ("lower", "trans", "unit_diagonal", "b_ndim")

    def __init__(self, lower: bool = False, trans: Any = 0, unit_diagonal: bool = False,
                 b_ndim: int | None = None):
        codes = {0: 0, "N": 0, 1: 1, "T": 1, 2: 1, "C": 1}
        if trans not in codes:
            raise ValueError(f"solve_triangular: trans must be 0/'N', 1/'T' or 2/'C', got {trans!r}")
        self.lower, self.trans, self.unit_diagonal = bool(lower), codes[trans], bool(unit_diagonal)
        self.b_ndim = _check_b_ndim(b_ndim)

    def make_node(self, a, b) -> Apply:
        a = as_matrix_input("solve_triangular", a, square=True)
        b, _, shape = _rhs("solve_triangular", a, b, self.b_ndim)
        return Apply(self, [a, b], [_out(out_dtype("solve_triangular", a, b), shape)])

    def _compute(self, node, a, b):
        dt = node.outputs[0].type.dtype
        a, b = a.astype(dt, copy=False), b.astype(dt, copy=False)
        def fn(a1, b1):
            # LAPACK's ?trtrs directly for real dtypes (no scipy.linalg import); SciPy otherwise
            x = trtrs(a1, b1, self.lower, bool(self.trans), self.unit_diagonal)
            if x is None:
                x = scipy_module("linalg").solve_triangular(a1, b1, trans=self.trans, lower=self.lower,
                                                            unit_diagonal=self.unit_diagonal)
            return x

        return batched(fn, [a, b], [2, _core_ndim("solve_triangular", self.b_ndim, b)], 1)[0]

    def infer_shape(self, fgraph, node, input_shapes):
        return _infer(node, input_shapes, _core_ndim("solve_triangular", self.b_ndim, node.inputs[1]))


def solve(a: Any, b: Any, lower: bool = False, overwrite_a: bool = False, overwrite_b: bool = False,
          check_finite: bool = True, assume_a: str = "gen", transposed: bool = False, b_ndim: int | None = None):
    """scipy.linalg.solve: x with a x = b (a^T x = b with transposed=True); see Solve for
    assume_a and lower.  PyTensor's structure names are accepted: "lower triangular" and
    "upper triangular" (solve_triangular), "diagonal" (b divided by a's diagonal),
    "symmetric"/"hermitian"/"positive definite"/"general", and "tridiagonal"/"banded" (solved
    by LU, as "gen").  b_ndim (PyTensor's) says whether b holds vectors (1) or matrices (2);
    by default a 1-d b is a vector and anything else matrices (NumPy 2's rule).  overwrite_* and
    check_finite are accepted for SciPy compatibility and ignored (inputs are never overwritten).

    >>> import numpy as np, kiln.tensor as kt
    >>> a, b = kt.dmatrix("a"), kt.dvector("b")
    >>> solve(a, b).eval({a: np.array([[2.0, 0.0], [0.0, 4.0]]), b: np.array([1.0, 1.0])})
    array([0.5 , 0.25])
    """
    kind = str(assume_a).lower()
    if kind in ("lower triangular", "upper triangular"):   # PyTensor's structured solvers
        return solve_triangular(a, b, trans=1 if transposed else 0, lower=kind.startswith("lower"),
                                b_ndim=b_ndim)
    if kind == "diagonal":
        return _solve_diagonal(a, b, b_ndim)
    if transposed:
        from kiln.tensor.linalg._util import mT

        a = mT(as_tensor_variable(a))
    return Solve(assume_a, lower, b_ndim)(a, b)


def _solve_diagonal(a: Any, b: Any, b_ndim: int | None):
    """x = b / diag(a) (assume_a="diagonal": only the diagonal of `a` is read)."""
    import kiln.tensor as kt

    a = as_matrix_input("solve", as_tensor_variable(a), square=True)
    b, _, _ = _rhs("solve", a, as_tensor_variable(b), b_ndim)
    d = kt.diagonal(a, axis1=-2, axis2=-1)   # (..., n)
    core = _core_ndim("solve", b_ndim, b)
    return b / (d if core == 1 else d[..., :, None])


def solve_triangular(a: Any, b: Any, trans: Any = 0, lower: bool = False, unit_diagonal: bool = False,
                     overwrite_b: bool = False, check_finite: bool = True, b_ndim: int | None = None):
    """scipy.linalg.solve_triangular: x with op(a) x = b for triangular a (b_ndim as in solve).

    >>> import numpy as np, kiln.tensor as kt
    >>> a, b = kt.dmatrix("a"), kt.dvector("b")
    >>> solve_triangular(a, b, lower=True).eval({a: np.array([[2.0, 0.0], [1.0, 1.0]]), b: np.array([2.0, 3.0])})
    array([1., 2.])
    """
    return SolveTriangular(lower, trans, unit_diagonal, b_ndim)(a, b)


def cho_solve(c_and_lower: tuple, b: Any, overwrite_b: bool = False, check_finite: bool = True,
              b_ndim: int | None = None):
    """scipy.linalg.cho_solve((c, lower), b): x with a x = b given a's Cholesky factor c
    (lower: a = c c^T; upper: a = c^T c).  Two triangular solves.

    >>> import numpy as np, kiln.tensor as kt
    >>> c, b = kt.dmatrix("c"), kt.dvector("b")
    >>> cho_solve((c, True), b).eval({c: np.array([[2.0, 0.0], [1.0, 1.0]]), b: np.array([4.0, 2.0])})
    array([1., 0.])
    """
    if not isinstance(c_and_lower, (tuple, list)) or len(c_and_lower) != 2:
        raise TypeError("cho_solve: the first argument must be the pair (c, lower)")
    c, lower = c_and_lower
    lower = bool(lower)
    y = SolveTriangular(lower, 0 if lower else 1, b_ndim=b_ndim)(c, b)
    return SolveTriangular(lower, 1 if lower else 0, b_ndim=b_ndim)(c, y)
