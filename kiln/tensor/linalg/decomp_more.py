"""More decompositions and matrix functions with PyTensor's names: lu, lu_factor,
pivot_to_permutation, schur, qz, ordqz, eig, expm (and expm's Frechet derivative).

Every op works on the last two axes of a stack of matrices (PyTensor's Blockwise batching),
computes with SciPy (imported on first use, never at `import kiln`), and accepts real and,
unlike the ops of decomp.py, complex inputs: ints and bools compute in float64, float32
stays float32, complex stays complex (SciPy's rules).  Derivative rules live in
kiln/gradient/rules/linalg_more.py (lu, lu_factor, expm); schur, qz and eig have none, as in
PyTensor, and asking for one raises kiln's usual NullTypeGradError naming the op.

C: not yet (perform) for every op here: each calls LAPACK through SciPy/NumPy already.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln._lazy import scipy_module
from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.tensor.basic import as_tensor_variable, describe
from kiln.tensor.linalg._util import batched, check_same_dim
from kiln.tensor.linalg.decomp import _LinalgOp, _out

__all__ = ["LU", "LUFactor", "PivotToPermutations", "Schur", "QZ", "Eig", "Expm", "ExpmFrechet",
           "any_dtype", "as_any_matrix", "batch_infer", "lu", "lu_factor", "pivot_to_permutation", "schur", "qz",
           "ordqz", "eig", "expm"]

_SORTS = (None, "lhp", "rhp", "iuc", "ouc")


def any_dtype(who: str, *xs: Any) -> str:
    """The dtype SciPy's LAPACK wrappers compute in for inputs of these dtypes: ints and bools
    -> float64, float32 and complex kept; float16 is refused with a clear error."""
    dts = []
    for i, x in enumerate(xs):
        dt = np.dtype(x.dtype)
        if dt.kind not in "biufc":
            raise TypeError(f"{who}: input {i} {describe(x)} must be numeric, got dtype {dt}")
        if dt == np.float16:
            raise TypeError(f"{who}: float16 input {describe(x)} is not supported by LAPACK; cast it to float32")
        dts.append(dt if dt.kind in "fc" else np.dtype("float64"))
    return np.result_type(*dts).name


class _CLinalgOp(_LinalgOp):
    """_LinalgOp whose outputs are C-contiguous: LAPACK through SciPy hands back Fortran-ordered
    arrays, and the C linker's in-place kernels downstream (gemm) expect C order."""

    def perform(self, node, inputs, output_storage):
        super().perform(node, inputs, output_storage)
        for store in output_storage:
            store[0] = np.ascontiguousarray(store[0])


def batch_infer(node, input_shapes, core=None) -> tuple:
    """The broadcast batch shape (symbolic where needed) of inputs whose last `core[i]` axes
    (default 2) are core axes; inputs with fewer batch axes get leading length-1 ones."""
    from kiln.tensor.shape import broadcast_shape_symbolic

    core = core or [2] * len(input_shapes)
    batches = [tuple(s)[:len(s) - c] for s, c in zip(input_shapes, core)]
    statics = [i.type.shape[:i.type.ndim - c] for i, c in zip(node.inputs, core)]
    n = max(len(b) for b in batches)
    if n == 0:
        return ()

    def pad(b):
        return (1,) * (n - len(b)) + tuple(b)

    return tuple(broadcast_shape_symbolic([pad(b) for b in batches], [pad(b) for b in statics]))


def _complex_of(dtype: str) -> str:
    return np.result_type(dtype, np.complex64).name


def _real_of(dtype: str) -> str:
    return np.empty(0, dtype=dtype).real.dtype.name


def as_any_matrix(who: str, x: Any, square: bool = False):
    """`x` as a tensor of at least 2 dims (a matrix or a stack of them), square in its last two
    when `square` (checked where static); real or complex."""
    x = as_tensor_variable(x)
    if x.ndim < 2:
        raise ValueError(f"{who}: expected an array of at least 2 dimensions (a matrix or a stack of "
                         f"matrices), got {describe(x)}")
    any_dtype(who, x)
    m, n = x.type.shape[-2:]
    if square and m is not None and n is not None and m != n:
        raise ValueError(f"{who}: last 2 dimensions of {describe(x)} must be square, got {m}x{n}")
    return x


def _check_sort(who: str, sort: Any) -> Any:
    if sort not in _SORTS:
        raise ValueError(f"{who}: sort must be None or one of 'lhp', 'rhp', 'iuc', 'ouc', got {sort!r}")
    return sort


def _check_output(who: str, output: str) -> str:
    if output not in ("real", "complex"):
        raise ValueError(f"{who}: output must be 'real' or 'complex', got {output!r}")
    return output


class LU(_CLinalgOp):
    """scipy.linalg.lu: a = P L U with P a permutation, L unit lower trapezoidal (m x k) and U
    upper trapezoidal (k x n), k = min(m, n).  Outputs (P, L, U); with p_indices (p, L, U) where
    p (int32) gives a = L[p] @ U; with permute_l (P L, U).  Rectangular inputs allowed (the
    derivative needs a square one).  C: not yet (perform)."""

    __props__ = ("permute_l", "p_indices")

    def __init__(self, permute_l: bool = False, p_indices: bool = False):
        if permute_l and p_indices:
            raise ValueError("lu: only one of permute_l and p_indices can be True")
        self.permute_l, self.p_indices = bool(permute_l), bool(p_indices)

    def make_node(self, a) -> Apply:
        a = as_any_matrix("lu", a)
        dt = any_dtype("lu", a)
        b = a.type.shape[:-2]
        m, n = a.type.shape[-2:]
        k = None if m is None or n is None else min(m, n)
        l_, u = _out(dt, b + (m, k)), _out(dt, b + (k, n))
        if self.permute_l:
            return Apply(self, [a], [l_, u])
        first = _out("int32", b + (m,)) if self.p_indices else _out(_real_of(dt), b + (m, m))
        return Apply(self, [a], [first, l_, u])

    def _compute(self, node, a):
        sla = scipy_module("linalg")
        a = a.astype(node.outputs[-1].type.dtype, copy=False)

        def fn(a1):
            return sla.lu(a1, permute_l=self.permute_l, p_indices=self.p_indices, check_finite=False)

        return batched(fn, [a], [2], len(node.outputs))

    def infer_shape(self, fgraph, node, input_shapes):
        import kiln.tensor.math as km

        s = tuple(input_shapes[0])
        b, (m, n) = s[:-2], s[-2:]
        k = min(m, n) if isinstance(m, int) and isinstance(n, int) else km.minimum(m, n)
        lu_ = [b + (m, k), b + (k, n)]
        if self.permute_l:
            return lu_
        return [b + ((m,) if self.p_indices else (m, m))] + lu_


class LUFactor(_CLinalgOp):
    """scipy.linalg.lu_factor: (LU, piv) with L's strict lower part and U packed in one matrix
    and LAPACK's 0-based pivots (int32).  As in PyTensor, an exactly singular matrix gives an
    LU full of NaN (SciPy only warns).  Rectangular inputs allowed (piv has min(m, n) entries).
    C: not yet (perform)."""

    def make_node(self, a) -> Apply:
        a = as_any_matrix("lu_factor", a)
        dt = any_dtype("lu_factor", a)
        m, n = a.type.shape[-2:]
        k = None if m is None or n is None else min(m, n)
        return Apply(self, [a], [_out(dt, a.type.shape), _out("int32", a.type.shape[:-2] + (k,))])

    def _compute(self, node, a):
        import warnings

        sla = scipy_module("linalg")
        a = a.astype(node.outputs[0].type.dtype, copy=False)

        def one(a1):
            if a1.size == 0:
                return np.empty_like(a1), np.zeros(min(a1.shape), dtype=np.int32)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # singular: reported as NaN below, not as a warning
                lu_, piv = sla.lu_factor(a1, check_finite=False)
            k = min(lu_.shape)
            if (np.diagonal(lu_)[:k] == 0).any():
                lu_ = np.full_like(lu_, np.nan)
            return lu_, piv.astype(np.int32, copy=False)

        return batched(one, [a], [2], 2)

    def infer_shape(self, fgraph, node, input_shapes):
        import kiln.tensor.math as km

        s = tuple(input_shapes[0])
        m, n = s[-2:]
        k = min(m, n) if isinstance(m, int) and isinstance(n, int) else km.minimum(m, n)
        return [s, s[:-2] + (k,)]


class PivotToPermutations(Op):
    """LAPACK pivots (row i was swapped with row piv[i], in order) -> a permutation (int64):
    with inverse=True the row order p_inv with a[p_inv] = L U (what lu_factor factored), with
    inverse=False its inverse permutation.  Batched over leading axes.  C: not yet (perform)."""

    __props__ = ("inverse",)

    def __init__(self, inverse: bool = True):
        self.inverse = bool(inverse)

    def make_node(self, pivots) -> Apply:
        p = as_tensor_variable(pivots)
        if p.ndim < 1 or np.dtype(p.dtype).kind not in "iu":
            raise TypeError(f"pivot_to_permutation: pivots must be an integer vector (or a stack of them), "
                            f"got {describe(p)}")
        return Apply(self, [p], [_out("int64", p.type.shape)])

    def perform(self, node, inputs, output_storage):
        (piv,) = inputs
        out = np.empty(piv.shape, dtype=np.int64)
        n = piv.shape[-1]
        for idx in np.ndindex(*piv.shape[:-1]):
            perm = np.arange(n, dtype=np.int64)
            for i, j in enumerate(piv[idx]):
                if not 0 <= j < n:
                    raise IndexError(f"{self}: pivot {int(j)} at position {i} is out of range for {n} rows")
                perm[i], perm[j] = perm[j], perm[i]
            out[idx] = perm if self.inverse else np.argsort(perm)
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]


def _nan_if_not_finite(fn, nout):
    """Wrap a SciPy routine so that a non-finite input gives NaN outputs (PyTensor's behaviour
    for schur/qz) instead of SciPy's ValueError."""
    def wrapped(*arrays):
        if all(np.isfinite(a).all() for a in arrays):
            return fn(*arrays)
        res = fn(*[np.eye(*a.shape, dtype=a.dtype) for a in arrays])
        res = list(res) if nout > 1 else [res]
        return [np.full(np.shape(r), np.nan, dtype=np.asarray(r).dtype) for r in res]
    return wrapped


class Schur(_CLinalgOp):
    """scipy.linalg.schur: a = Z T Z^H with T (quasi-)upper triangular (output='real' for real
    inputs: 2x2 blocks for complex eigenvalue pairs; 'complex': triangular, complex dtype) and Z
    unitary.  `sort` ('lhp', 'rhp', 'iuc', 'ouc') moves the selected eigenvalues to the top left.
    No gradient (as in PyTensor).  C: not yet (perform)."""

    __props__ = ("output", "sort")

    def __init__(self, output: str = "real", sort: Any = None):
        self.output = _check_output("schur", output)
        self.sort = _check_sort("schur", sort)

    def make_node(self, a) -> Apply:
        a = as_any_matrix("schur", a, square=True)
        dt = any_dtype("schur", a)
        if self.output == "complex":
            dt = _complex_of(dt)
        return Apply(self, [a], [_out(dt, a.type.shape), _out(dt, a.type.shape)])

    def _compute(self, node, a):
        sla = scipy_module("linalg")
        a = a.astype(node.outputs[0].type.dtype, copy=False)

        def one(a1):
            if a1.size == 0:
                return np.empty_like(a1), np.empty_like(a1)
            res = sla.schur(a1, output=self.output, sort=self.sort, check_finite=False)
            return res[0], res[1]

        return batched(_nan_if_not_finite(one, 2), [a], [2], 2)

    def infer_shape(self, fgraph, node, input_shapes):
        s = tuple(input_shapes[0])
        return [s, s]


class QZ(_CLinalgOp):
    """scipy.linalg.qz / ordqz: a = Q AA Z^H, b = Q BB Z^H with AA, BB (quasi-)upper triangular
    and Q, Z unitary.  Outputs (AA, BB, Q, Z), or with return_eigenvalues (AA, BB, alpha, beta,
    Q, Z) where alpha/beta are the generalized eigenvalues (alpha complex).  `sort` reorders as
    scipy.linalg.ordqz does.  No gradient (as in PyTensor).  C: not yet (perform)."""

    __props__ = ("output", "sort", "return_eigenvalues")

    def __init__(self, output: str = "real", sort: Any = None, return_eigenvalues: bool = False):
        self.output = _check_output("qz", output)
        self.sort = _check_sort("qz", sort)
        self.return_eigenvalues = bool(return_eigenvalues)

    def make_node(self, a, b) -> Apply:
        a = as_any_matrix("qz", a, square=True)
        b = as_any_matrix("qz", b, square=True)
        check_same_dim("qz", a, b, -1, -1, "a and b must have the same size")
        n, m = a.type.shape[-1], b.type.shape[-1]
        dt = any_dtype("qz", a, b)
        if self.output == "complex":
            dt = _complex_of(dt)
        from kiln.tensor.linalg._util import batch_shape

        size = n if n is not None else m
        shape = batch_shape(a.type.shape[:-2], b.type.shape[:-2]) + (size, size)
        mats = [_out(dt, shape) for _ in range(4)]
        if not self.return_eigenvalues:
            return Apply(self, [a, b], mats)
        eig = [_out(_complex_of(dt), shape[:-1]), _out(dt, shape[:-1])]
        return Apply(self, [a, b], mats[:2] + eig + mats[2:])

    def _compute(self, node, a, b):
        sla = scipy_module("linalg")
        dt = node.outputs[0].type.dtype
        a, b = a.astype(dt, copy=False), b.astype(dt, copy=False)
        nout = len(node.outputs)

        def one(a1, b1):
            if a1.size == 0:
                e = np.empty_like(a1)
                res = [e, e, np.empty(0, _complex_of(dt)), np.empty(0, dt), e, e]
                return res if self.return_eigenvalues else res[:2] + res[4:]
            if self.sort is None and not self.return_eigenvalues:
                return sla.qz(a1, b1, output=self.output, check_finite=False)
            # ordqz with no selection reorders nothing: qz's factors plus the eigenvalues
            sort = self.sort if self.sort is not None else (lambda x, y: np.zeros(np.shape(x), dtype=bool))
            aa, bb, alpha, beta, q, z = sla.ordqz(a1, b1, sort=sort, output=self.output, check_finite=False)
            return [aa, bb, alpha, beta, q, z] if self.return_eigenvalues else [aa, bb, q, z]

        return batched(_nan_if_not_finite(one, nout), [a, b], [2, 2], nout)

    def infer_shape(self, fgraph, node, input_shapes):
        sa = tuple(input_shapes[0])
        batch = batch_infer(node, input_shapes)
        mat = batch + sa[-2:]
        if not self.return_eigenvalues:
            return [mat] * 4
        return [mat, mat, batch + sa[-1:], batch + sa[-1:], mat, mat]


class Eig(_CLinalgOp):
    """numpy.linalg.eig: eigenvalues and right eigenvectors (columns) of a square matrix, both
    complex whatever the input (complex64 for float32), as in PyTensor.  No gradient (as in
    PyTensor: use eigh for symmetric matrices).  C: not yet (perform)."""

    def make_node(self, a) -> Apply:
        a = as_any_matrix("eig", a, square=True)
        dt = _complex_of(any_dtype("eig", a))
        return Apply(self, [a], [_out(dt, a.type.shape[:-1]), _out(dt, a.type.shape)])

    def _compute(self, node, a):
        w, v = np.linalg.eig(a.astype(any_dtype("eig", a), copy=False))
        return [w, v]

    def infer_shape(self, fgraph, node, input_shapes):
        s = tuple(input_shapes[0])
        return [s[:-1], s]


class Expm(_CLinalgOp):
    """scipy.linalg.expm: the matrix exponential of each square matrix of a stack.
    Differentiable (through ExpmFrechet).  C: not yet (perform)."""

    def make_node(self, a) -> Apply:
        a = as_any_matrix("expm", a, square=True)
        return Apply(self, [a], [_out(any_dtype("expm", a), a.type.shape)])

    def _compute(self, node, a):
        a = a.astype(node.outputs[0].type.dtype, copy=False)
        if a.size == 0:
            return np.empty_like(a)
        return scipy_module("linalg").expm(a)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]


class ExpmFrechet(_CLinalgOp):
    """scipy.linalg.expm_frechet(a, e, compute_expm=False): the derivative of expm at `a` in
    the direction `e` (linear in e; its transpose is the same map at a^T).  The building block of
    expm's derivative.  C: not yet (perform)."""

    def make_node(self, a, e) -> Apply:
        a = as_any_matrix("expm_frechet", a, square=True)
        e = as_any_matrix("expm_frechet", e, square=True)
        from kiln.tensor.linalg._util import batch_shape

        shape = batch_shape(a.type.shape[:-2], e.type.shape[:-2]) + tuple(
            x if x is not None else y for x, y in zip(a.type.shape[-2:], e.type.shape[-2:]))
        return Apply(self, [a, e], [_out(any_dtype("expm_frechet", a, e), shape)])

    def _compute(self, node, a, e):
        dt = node.outputs[0].type.dtype
        a, e = a.astype(dt, copy=False), e.astype(dt, copy=False)
        frechet = scipy_module("linalg").expm_frechet

        def one(a1, e1):
            if a1.size == 0:
                return np.empty_like(a1)
            return frechet(a1, e1, compute_expm=False, check_finite=False)

        return batched(one, [a, e], [2, 2], 1)[0]

    def infer_shape(self, fgraph, node, input_shapes):
        return [batch_infer(node, input_shapes) + tuple(input_shapes[0])[-2:]]


# -- user-facing functions (PyTensor's signatures) -------------------------------------------

def lu(a: Any, permute_l: bool = False, check_finite: bool = True, p_indices: bool = False,
       overwrite_a: bool = False):
    """scipy.linalg.lu: (P, L, U) with a = P @ L @ U; (p, L, U) with a = L[p] @ U when
    p_indices; (P @ L, U) when permute_l.  check_finite and overwrite_a are accepted for
    compatibility and ignored.

    >>> import numpy as np, kiln.tensor as kt
    >>> a = kt.dmatrix("a")
    >>> p, l, u = lu(a)
    >>> x = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> bool(np.allclose((p @ l @ u).eval({a: x}), x))
    True
    """
    return tuple(LU(permute_l, p_indices)(a))


def lu_factor(a: Any, *, check_finite: bool = True, overwrite_a: bool = False):
    """scipy.linalg.lu_factor: (LU, piv) for lu_solve (NaN for an exactly singular matrix, as in
    PyTensor).

    >>> import numpy as np, kiln.tensor as kt
    >>> a = kt.dmatrix("a")
    >>> lu_, piv = lu_factor(a)
    >>> piv.eval({a: np.array([[1.0, 2.0], [3.0, 4.0]])}).tolist()
    [1, 1]
    """
    return tuple(LUFactor()(a))


def pivot_to_permutation(p: Any, inverse: bool = False):
    """LAPACK pivot indices (from lu_factor) -> a permutation vector (int64): the inverse of the
    row order that was factored (inverse=False, PyTensor's default) or that order itself.

    >>> import numpy as np, kiln.tensor as kt
    >>> piv = kt.ivector("piv")
    >>> pivot_to_permutation(piv, inverse=True).eval({piv: np.array([2, 2, 2], dtype="int32")}).tolist()
    [2, 0, 1]
    """
    return PivotToPermutations(inverse)(p)


def schur(A: Any, output: str = "real", sort: Any = None):
    """scipy.linalg.schur: (T, Z) with A = Z T Z^H (PyTensor returns no sdim).

    >>> import numpy as np, kiln.tensor as kt
    >>> a = kt.dmatrix("a")
    >>> t, z = schur(a)
    >>> x = np.array([[1.0, 2.0], [0.5, 3.0]])
    >>> bool(np.allclose((z @ t @ z.T).eval({a: x}), x))
    True
    """
    return tuple(Schur(output, sort)(A))


def qz(A: Any, B: Any, output: str = "real", sort: Any = None, return_eigenvalues: bool = False):
    """The QZ (generalized Schur) decomposition: (AA, BB, Q, Z) as scipy.linalg.qz, or
    (AA, BB, alpha, beta, Q, Z) with return_eigenvalues; a `sort` orders it as ordqz does.

    >>> import numpy as np, kiln.tensor as kt
    >>> a, b = kt.dmatrices("a", "b")
    >>> aa, bb, q, z = qz(a, b)
    >>> x, y = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[2.0, 0.0], [1.0, 1.0]])
    >>> bool(np.allclose((q @ aa @ z.T).eval({a: x, b: y}), x))
    True
    """
    return tuple(QZ(output, sort, return_eigenvalues)(A, B))


def ordqz(A: Any, B: Any, sort: Any = None, output: str = "real"):
    """scipy.linalg.ordqz: (AA, BB, alpha, beta, Q, Z); PyTensor's default sort=None keeps
    the order (SciPy's default is 'lhp')."""
    return qz(A, B, output=output, sort=sort, return_eigenvalues=True)


def eig(x: Any):
    """numpy.linalg.eig: (w, v), always complex (PyTensor's rule).

    >>> import numpy as np, kiln.tensor as kt
    >>> a = kt.dmatrix("a")
    >>> w, v = eig(a)
    >>> w.eval({a: np.diag([1.0, 2.0])}).tolist()
    [(1+0j), (2+0j)]
    """
    return tuple(Eig()(x))


def expm(A: Any):
    """scipy.linalg.expm: the matrix exponential (of each matrix of a stack).

    >>> import numpy as np, kiln.tensor as kt
    >>> a = kt.dmatrix("a")
    >>> expm(a).eval({a: np.zeros((2, 2))}).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return Expm()(A)
