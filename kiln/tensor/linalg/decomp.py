"""Matrix functions and decompositions: inv, pinv, det, slogdet, cholesky, qr, svd, eigh,
eigvalsh, lstsq.

Each op works on the last two axes of a stack of matrices (NumPy's batching; lstsq is 2-d
only, as in NumPy), accepts real inputs (ints and bools are computed in float64, float32 stays
float32, as NumPy does) and raises numpy.linalg.LinAlgError naming the op for singular or
non-positive-definite matrices.  Derivative rules live in kiln/gradient/rules/linalg.py.

C: not yet (perform) for every op here: each calls LAPACK through NumPy already.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.tensor.linalg._util import as_matrix_input, batch_shape, batched, check_same_dim, linalg_error, out_dtype
from kiln.tensor.type import TensorType

__all__ = [
    "QR",
    "QRPivoted",
    "SVD",
    "Cholesky",
    "Det",
    "Eigh",
    "Eigvalsh",
    "GeneralizedEigh",
    "GeneralizedEigvalsh",
    "Lstsq",
    "MatrixInverse",
    "MatrixPinv",
    "SLogDet",
    "cholesky",
    "det",
    "eigh",
    "eigvalsh",
    "inv",
    "lstsq",
    "pinv",
    "qr",
    "slogdet",
    "svd",
]


def _out(dtype: str, shape: tuple) -> Any:
    return TensorType(dtype, tuple(shape))()


class _LinalgOp(Op):
    """Base: `_compute(node, *arrays)` gives the outputs; NumPy's LinAlgError gets the op's name."""

    def perform(self, node, inputs, output_storage):
        try:
            res = self._compute(node, *inputs)
        except np.linalg.LinAlgError as err:
            raise linalg_error(self, err) from None
        res = res if isinstance(res, (list, tuple)) else [res]
        for store, r, o in zip(output_storage, res, node.outputs):
            store[0] = np.asarray(r, dtype=o.type.dtype)


class MatrixInverse(_LinalgOp):
    """numpy.linalg.inv over the last two axes.  C: not yet (perform).

    >>> import numpy as np, kiln.tensor as kt
    >>> a = kt.dmatrix("a")
    >>> inv(a).eval({a: np.array([[2.0, 0.0], [0.0, 4.0]])})
    array([[0.5 , 0.  ],
           [0.  , 0.25]])
    """

    def make_node(self, a) -> Apply:
        a = as_matrix_input("inv", a, square=True)
        return Apply(self, [a], [_out(out_dtype("inv", a), a.type.shape)])

    def _compute(self, node, a):
        return np.linalg.inv(a)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]


class MatrixPinv(_LinalgOp):
    """numpy.linalg.pinv (Moore-Penrose pseudo-inverse; `rcond` as NumPy's; `hermitian` uses an
    eigendecomposition).  The gradient assumes the rank is constant near the point.
    C: not yet (perform)."""

    __props__ = ("rcond", "hermitian")

    def __init__(self, rcond: float | None = None, hermitian: bool = False):
        self.rcond = None if rcond is None else float(rcond)
        self.hermitian = bool(hermitian)

    def make_node(self, a) -> Apply:
        a = as_matrix_input("pinv", a)
        shape = a.type.shape[:-2] + (a.type.shape[-1], a.type.shape[-2])
        return Apply(self, [a], [_out(out_dtype("pinv", a), shape)])

    def _compute(self, node, a):
        kw = {} if self.rcond is None else {"rcond": self.rcond}
        return np.linalg.pinv(a, hermitian=self.hermitian, **kw)

    def infer_shape(self, fgraph, node, input_shapes):
        s = tuple(input_shapes[0])
        return [s[:-2] + (s[-1], s[-2])]


class Det(_LinalgOp):
    """numpy.linalg.det over the last two axes (the det of a 0x0 matrix is 1).
    C: not yet (perform)."""

    def make_node(self, a) -> Apply:
        a = as_matrix_input("det", a, square=True)
        return Apply(self, [a], [_out(out_dtype("det", a), a.type.shape[:-2])])

    def _compute(self, node, a):
        return np.linalg.det(a)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])[:-2]]


class SLogDet(_LinalgOp):
    """numpy.linalg.slogdet: outputs (sign, log|det|).  C: not yet (perform)."""

    def make_node(self, a) -> Apply:
        a = as_matrix_input("slogdet", a, square=True)
        dt = out_dtype("slogdet", a)
        return Apply(self, [a], [_out(dt, a.type.shape[:-2]), _out(dt, a.type.shape[:-2])])

    def _compute(self, node, a):
        sign, logdet = np.linalg.slogdet(a)
        return [sign, logdet]

    def infer_shape(self, fgraph, node, input_shapes):
        b = tuple(input_shapes[0])[:-2]
        return [b, b]


class Cholesky(_LinalgOp):
    """Cholesky factor of a symmetric positive-definite matrix, reading only the triangle it
    returns (as scipy.linalg.cholesky): lower=True (PyTensor's default, and NumPy's) gives L with
    a = L L^T from a's lower triangle; lower=False gives U = L^T from the upper triangle.
    A matrix that is not positive definite raises LinAlgError, or with on_error="nan" (as in
    PyTensor, for samplers that reject such points) gives a factor full of NaN.
    C: not yet (perform)."""

    __props__ = ("lower", "on_error")

    def __init__(self, lower: bool = True, on_error: str = "raise"):
        if on_error not in ("raise", "nan"):
            raise ValueError(f"cholesky: on_error must be 'raise' or 'nan', got {on_error!r}")
        self.lower = bool(lower)
        self.on_error = on_error

    def make_node(self, a) -> Apply:
        a = as_matrix_input("cholesky", a, square=True)
        return Apply(self, [a], [_out(out_dtype("cholesky", a), a.type.shape)])

    def _compute(self, node, a):
        try:
            return np.linalg.cholesky(a, upper=not self.lower)
        except np.linalg.LinAlgError:
            if self.on_error == "raise":
                raise
        # NumPy fails the whole stack at once: factor item by item, NaN where one fails
        dt = node.outputs[0].type.dtype
        out = np.full(a.shape, np.nan, dtype=dt)
        for idx in np.ndindex(*a.shape[:-2]):
            try:
                out[idx] = np.linalg.cholesky(a[idx], upper=not self.lower)
            except np.linalg.LinAlgError:
                pass
        return out

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]


class QR(_LinalgOp):
    """numpy.linalg.qr with mode "reduced" (Q, R), "complete" (Q, R) or "r" (R only).
    The gradient assumes m >= n and full column rank (R invertible), and for "complete" m == n.
    C: not yet (perform)."""

    __props__ = ("mode",)

    def __init__(self, mode: str = "reduced"):
        if mode not in ("reduced", "complete", "r"):
            raise ValueError(f"qr: mode must be 'reduced', 'complete' or 'r', got {mode!r}")
        self.mode = mode

    def _dims(self, m, n):
        k = None if m is None or n is None else min(m, n)
        if self.mode == "reduced":
            return (m, k), (k, n)
        if self.mode == "complete":
            return (m, m), (m, n)
        return None, (k, n)

    def make_node(self, a) -> Apply:
        a = as_matrix_input("qr", a)
        dt = out_dtype("qr", a)
        b = a.type.shape[:-2]
        q, r = self._dims(*a.type.shape[-2:])
        outs = ([_out(dt, b + q)] if q else []) + [_out(dt, b + r)]
        return Apply(self, [a], outs)

    def _compute(self, node, a):
        res = np.linalg.qr(a, mode=self.mode)
        return [res] if self.mode == "r" else list(res)

    def infer_shape(self, fgraph, node, input_shapes):
        import kiln.tensor.math as km

        s = tuple(input_shapes[0])
        m, n = s[-2:]
        k = km.minimum(m, n) if not (isinstance(m, int) and isinstance(n, int)) else min(m, n)
        q, r = {"reduced": ((m, k), (k, n)), "complete": ((m, m), (m, n)), "r": (None, (k, n))}[self.mode]
        return ([s[:-2] + q] if q else []) + [s[:-2] + r]


class SVD(_LinalgOp):
    """numpy.linalg.svd: (U, S, Vh) or, with compute_uv=False, S alone.  Derivatives assume
    distinct nonzero singular values; U and Vh are differentiable only with full_matrices=False
    or a square input.  C: not yet (perform)."""

    __props__ = ("full_matrices", "compute_uv")

    def __init__(self, full_matrices: bool = True, compute_uv: bool = True):
        self.full_matrices = bool(full_matrices)
        self.compute_uv = bool(compute_uv)

    def make_node(self, a) -> Apply:
        a = as_matrix_input("svd", a)
        dt = out_dtype("svd", a)
        b = a.type.shape[:-2]
        m, n = a.type.shape[-2:]
        k = None if m is None or n is None else min(m, n)
        s = _out(dt, b + (k,))
        if not self.compute_uv:
            return Apply(self, [a], [s])
        u = (m, m) if self.full_matrices else (m, k)
        v = (n, n) if self.full_matrices else (k, n)
        return Apply(self, [a], [_out(dt, b + u), s, _out(dt, b + v)])

    def _compute(self, node, a):
        if not self.compute_uv:
            return [np.linalg.svd(a, compute_uv=False)]
        return list(np.linalg.svd(a, full_matrices=self.full_matrices))

    def infer_shape(self, fgraph, node, input_shapes):
        import kiln.tensor.math as km

        s = tuple(input_shapes[0])
        b, (m, n) = s[:-2], s[-2:]
        k = min(m, n) if isinstance(m, int) and isinstance(n, int) else km.minimum(m, n)
        if not self.compute_uv:
            return [b + (k,)]
        u = (m, m) if self.full_matrices else (m, k)
        v = (n, n) if self.full_matrices else (k, n)
        return [b + u, b + (k,), b + v]


class Eigh(_LinalgOp):
    """numpy.linalg.eigh: (eigenvalues ascending, eigenvectors as columns) of a symmetric
    matrix, reading the triangle named by UPLO ("L" default).  Derivatives assume distinct
    eigenvalues.  C: not yet (perform)."""

    __props__ = ("UPLO",)

    def __init__(self, UPLO: str = "L"):
        if UPLO not in ("L", "U"):
            raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
        self.UPLO = UPLO

    def make_node(self, a) -> Apply:
        a = as_matrix_input("eigh", a, square=True)
        dt = out_dtype("eigh", a)
        return Apply(self, [a], [_out(dt, a.type.shape[:-1]), _out(dt, a.type.shape)])

    def _compute(self, node, a):
        w, v = np.linalg.eigh(a, UPLO=self.UPLO)
        return [w, v]

    def infer_shape(self, fgraph, node, input_shapes):
        s = tuple(input_shapes[0])
        return [s[:-1], s]


class Eigvalsh(_LinalgOp):
    """numpy.linalg.eigvalsh (eigenvalues of a symmetric matrix, ascending).  C: not yet (perform)."""

    __props__ = ("UPLO",)

    def __init__(self, UPLO: str = "L"):
        if UPLO not in ("L", "U"):
            raise ValueError(f"eigvalsh: UPLO must be 'L' or 'U', got {UPLO!r}")
        self.UPLO = UPLO

    def make_node(self, a) -> Apply:
        a = as_matrix_input("eigvalsh", a, square=True)
        return Apply(self, [a], [_out(out_dtype("eigvalsh", a), a.type.shape[:-1])])

    def _compute(self, node, a):
        return np.linalg.eigvalsh(a, UPLO=self.UPLO)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])[:-1]]


class GeneralizedEigh(_LinalgOp):
    """scipy.linalg.eigh(a, b, lower=lower): eigenvalues w (ascending) and eigenvectors v of
    a v = w b v with `a` symmetric and `b` symmetric positive definite, each read from its
    lower (or upper) triangle; v is b-orthonormal (v^T b v = I).  Stacked matrices broadcast.
    Differentiable in a and b, both outputs (jvp rule in kiln/gradient/rules/linalg.py, so
    grad/Rop/hessian work): dw_i = v_i^T (da - w_i db) v_i and dV = V (F o (V^T da V -
    V^T db V diag(w)) - diag(V^T db V) / 2), F_ij = 1 / (w_j - w_i); the tangents are taken
    along the symmetric matrices built from the triangles read (PyTensor's convention).
    Derivatives assume distinct eigenvalues.  C: not yet (perform: LAPACK through SciPy)."""

    __props__ = ("lower",)

    def __init__(self, lower: bool = True):
        self.lower = bool(lower)

    def make_node(self, a, b) -> Apply:
        a = as_matrix_input("eigvalsh", a, square=True)
        b = as_matrix_input("eigvalsh", b, square=True)
        check_same_dim("eigvalsh", a, b, -1, -1, "a and b must have the same size")
        n, m = a.type.shape[-1], b.type.shape[-1]
        dt = np.result_type(out_dtype("eigvalsh", a), out_dtype("eigvalsh", b)).name
        batch = batch_shape(a.type.shape[:-2], b.type.shape[:-2])
        size = (n if n is not None else m,)
        return Apply(self, [a, b], [_out(dt, batch + size), _out(dt, batch + size * 2)])

    def _compute(self, node, a, b):
        from kiln._lazy import scipy_module

        sla = scipy_module("linalg")
        return batched(lambda a1, b1: sla.eigh(a1, b1, lower=self.lower), [a, b], [2, 2], 2)

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.shape import broadcast_shape_symbolic

        sa, sb = tuple(input_shapes[0]), tuple(input_shapes[1])
        nb = max(len(sa), len(sb)) - 2
        # a and b may differ in batch rank (a stack of a's with one b): pad with 1s, as NumPy
        pad = lambda s: (1,) * (nb - len(s) + 2) + tuple(s[:-2])  # noqa: E731
        batch = broadcast_shape_symbolic([pad(sa), pad(sb)],
                                         [pad(node.inputs[0].type.shape), pad(node.inputs[1].type.shape)])
        return [tuple(batch) + sa[-1:], tuple(batch) + sa[-2:]]


class GeneralizedEigvalsh(GeneralizedEigh):
    """scipy.linalg.eigvalsh(a, b, lower=lower): the eigenvalues alone (see GeneralizedEigh)."""

    def make_node(self, a, b) -> Apply:
        node = super().make_node(a, b)
        return Apply(self, node.inputs, [node.outputs[0].type()])

    def _compute(self, node, a, b):
        return [super()._compute(node, a, b)[0]]

    def infer_shape(self, fgraph, node, input_shapes):
        return super().infer_shape(fgraph, node, input_shapes)[:1]


class Lstsq(_LinalgOp):
    """numpy.linalg.lstsq(a, b, rcond): outputs (x, residuals, rank, s) as NumPy gives them
    (residuals is empty unless b's solution is exact-rank with m > n).  a is 2-d, b 1-d or 2-d.
    x is differentiable where a has full rank (through the pseudo-inverse).  C: not yet (perform)."""

    __props__ = ("rcond",)

    def __init__(self, rcond: float | None = None):
        self.rcond = None if rcond is None else float(rcond)

    def make_node(self, a, b) -> Apply:
        from kiln.tensor.basic import as_tensor_variable, describe

        a = as_matrix_input("lstsq", a)
        b = as_tensor_variable(b)
        if a.ndim != 2 or b.ndim not in (1, 2):
            raise ValueError(f"lstsq: a must be 2-d and b 1-d or 2-d, got {describe(a)} and {describe(b)}")
        m, n = a.type.shape
        if m is not None and b.type.shape[0] is not None and m != b.type.shape[0]:
            raise ValueError(f"lstsq: a has {m} rows but b has {b.type.shape[0]} ({describe(a)}, {describe(b)})")
        dt = out_dtype("lstsq", a, b)
        k = None if m is None or n is None else min(m, n)
        x = _out(dt, (n,) + b.type.shape[1:])
        res = _out(dt, (None,))
        return Apply(self, [a, b], [x, res, _out("int32", ()), _out(dt, (k,))])

    def _compute(self, node, a, b):
        x, res, rank, s = np.linalg.lstsq(a, b, rcond=self.rcond)
        return [x, res, rank, s]

    def infer_shape(self, fgraph, node, input_shapes):
        import kiln.tensor.math as km

        (m, n), bs = input_shapes
        k = min(m, n) if isinstance(m, int) and isinstance(n, int) else km.minimum(m, n)
        # NumPy gives residuals only for a full-rank, overdetermined problem
        full = km.and_(km.eq(node.outputs[2], n), km.gt(m, n))
        nres = km.switch(full, bs[1] if len(bs) == 2 else 1, 0)
        return [(n,) + tuple(bs[1:]), (km.cast(nres, "int64"),), (), (k,)]


# -- user-facing functions ------------------------------------------------------------------

_inv, _det, _slogdet = MatrixInverse(), Det(), SLogDet()


def inv(a: Any):
    """numpy.linalg.inv: the inverse of each matrix of `a` (LinAlgError if singular)."""
    return _inv(a)


def pinv(a: Any, rcond: float | None = None, hermitian: bool = False):
    """numpy.linalg.pinv: the Moore-Penrose pseudo-inverse."""
    return MatrixPinv(rcond, hermitian)(a)


def det(a: Any):
    """numpy.linalg.det of each matrix of `a`.

    >>> import numpy as np, kiln.tensor as kt
    >>> a = kt.dmatrix("a")
    >>> float(det(a).eval({a: np.array([[1.0, 2.0], [3.0, 4.0]])}))
    -2.0...
    """
    return _det(a)


def slogdet(a: Any):
    """numpy.linalg.slogdet: (sign, log|det|) of each matrix of `a`."""
    return tuple(_slogdet(a))


def cholesky(a: Any, lower: bool = True, *, on_error: str = "nan", overwrite_a: bool = False,
             check_finite: bool = True):
    """Cholesky factor (lower=True: L with a = L L^T, the default as in PyTensor and NumPy;
    lower=False: U = L^T as scipy.linalg.cholesky's default).  Reads only that triangle of `a`.
    A matrix that is not positive definite gives NaN (on_error="nan", PyTensor's default) or
    raises LinAlgError (on_error="raise"); overwrite_a and check_finite are accepted for
    compatibility and ignored.

    >>> import numpy as np, kiln.tensor as kt
    >>> a = kt.dmatrix("a")
    >>> cholesky(a).eval({a: np.array([[4.0, 2.0], [2.0, 2.0]])})
    array([[2., 0.],
           [1., 1.]])
    """
    return Cholesky(lower, on_error)(a)


#: PyTensor's qr takes SciPy's mode names and NumPy's
_QR_MODES = {"full": "complete", "complete": "complete", "economic": "reduced", "reduced": "reduced", "r": "r"}


def qr(a: Any, mode: str = "full", overwrite_a: bool = False, pivoting: bool = False, lwork: int | None = None):
    """QR decomposition with PyTensor's signature (SciPy's and NumPy's mode names): mode "full"
    (the default, as scipy.linalg.qr; NumPy's "complete") gives Q (m x m) and R (m x n);
    "economic" (NumPy's "reduced") Q (m x k) and R (k x n), k = min(m, n); "r" R (k x n) alone.
    pivoting=True also returns the column permutation P (int32), with A[:, P] = Q R (no
    derivative).  overwrite_a and lwork are accepted for compatibility and ignored.

    >>> import numpy as np, kiln, kiln.tensor as kt
    >>> a = kt.dmatrix("a")
    >>> [v.shape for v in kiln.function([a], list(qr(a)))(np.ones((4, 3)))]
    [(4, 4), (4, 3)]
    """
    if mode not in _QR_MODES:
        raise ValueError(f"qr: mode must be one of {sorted(_QR_MODES)}, got {mode!r} ('raw' is not supported)")
    if pivoting:
        return tuple(QRPivoted(_QR_MODES[mode])(a))
    res = QR(_QR_MODES[mode])(a)
    return res if mode == "r" else tuple(res)


class QRPivoted(_LinalgOp):
    """scipy.linalg.qr(a, mode, pivoting=True): (Q, R, P) with a[:, P] = Q R, or (R, P) for
    mode "r"; P int32 as in PyTensor.  No derivative (the permutation is piecewise constant and
    the factors jump where it changes).  C: not yet (perform: LAPACK through SciPy)."""

    __props__ = ("mode",)

    def __init__(self, mode: str = "complete"):
        if mode not in ("complete", "reduced", "r"):
            raise ValueError(f"qr: mode must be 'complete', 'reduced' or 'r', got {mode!r}")
        self.mode = mode

    def make_node(self, a) -> Apply:
        a = as_matrix_input("qr", a)
        if a.type.ndim != 2:
            raise ValueError("qr: pivoting needs one matrix (no batch axes)")
        dt = out_dtype("qr", a)
        q, r = QR(self.mode)._dims(*a.type.shape)
        outs = ([_out(dt, q)] if q else []) + [_out(dt, r), _out("int32", (a.type.shape[1],))]
        return Apply(self, [a], outs)

    def _compute(self, node, a):
        from kiln._lazy import scipy_module

        scipy_mode = {"complete": "full", "reduced": "economic", "r": "r"}[self.mode]
        res = scipy_module("linalg").qr(a, mode=scipy_mode, pivoting=True)
        if self.mode == "r":
            r, p = res
            return [r[:min(a.shape)], p]
        return list(res)

    def infer_shape(self, fgraph, node, input_shapes):
        shapes = QR(self.mode).infer_shape(fgraph, node, input_shapes)
        return shapes + [(input_shapes[0][1],)]


def svd(a: Any, full_matrices: bool = True, compute_uv: bool = True):
    """numpy.linalg.svd: (U, S, Vh), or S alone with compute_uv=False."""
    res = SVD(full_matrices, compute_uv)(a)
    return tuple(res) if compute_uv else res


def eigh(a: Any, b: Any = None, lower: bool = True, UPLO: str | None = None, driver: str = "evr"):
    """(eigenvalues ascending, eigenvectors) of symmetric `a` with PyTensor's signature: the
    triangle read is `lower` (or NumPy's UPLO "L"/"U", which wins when given); with a symmetric
    positive definite `b`, the generalized problem a v = w b v (scipy.linalg.eigh(a, b)).  A
    string second argument is NumPy's UPLO.  `driver` is accepted for compatibility (LAPACK's
    default driver is used)."""
    if isinstance(b, str):
        b, UPLO = None, b
    if UPLO is None:
        UPLO = "L" if lower else "U"
    if b is None:
        return tuple(Eigh(UPLO)(a))
    return tuple(GeneralizedEigh(UPLO == "L")(a, b))


def eigvalsh(a: Any, b: Any = None, lower: bool = True, UPLO: str | None = None):
    """The eigenvalues (ascending) of symmetric `a`: numpy.linalg.eigvalsh(a, UPLO), or with a
    symmetric positive definite `b` the generalized problem scipy.linalg.eigvalsh(a, b, lower)
    (PyTensor's signature `eigvalsh(a, b, lower=True)`).  A string second argument is
    NumPy's UPLO.

    >>> import numpy as np, kiln.tensor as kt
    >>> a, b = kt.dmatrix("a"), kt.dmatrix("b")
    >>> eigvalsh(a, b).eval({a: np.diag([2.0, 6.0]), b: np.diag([1.0, 2.0])}).tolist()
    [2.0, 3.0]
    """
    if isinstance(b, str):
        b, UPLO = None, b
    if b is None:
        return Eigvalsh(UPLO or ("L" if lower else "U"))(a)
    if UPLO is not None:
        lower = UPLO == "L"
    return GeneralizedEigvalsh(lower)(a, b)


def lstsq(a: Any, b: Any, rcond: float | None = None):
    """numpy.linalg.lstsq: (x, residuals, rank, s) minimizing ||b - a x||."""
    return tuple(Lstsq(rcond)(a, b))
