"""The type of sparse matrices (PyTensor's SparseTensorType) and its variables.

Run-time values are `scipy.sparse.csr_matrix` / `csc_matrix` objects; SciPy is imported
only when a value is checked or computed, never by `import kiln`.
"""
from __future__ import annotations

from typing import Any, Hashable

import numpy as np

from kiln.compile.sharedvalue import SharedVariable
from kiln.graph.basic import Constant, Type, Variable
from kiln.scalar import dtypes
from kiln.sparse._scipy import FORMATS, as_format, is_sparse_value, sps

__all__ = ["SparseTensorType", "SparseVariable", "SparseConstant", "SparseSharedVariable",
           "csr_matrix", "csc_matrix", "csr_dmatrix", "csr_fmatrix", "csc_dmatrix", "csc_fmatrix",
           "as_sparse_variable", "as_sparse", "as_sparse_or_tensor_variable", "sparse_shared",
           "is_sparse_variable"]


class SparseTensorType(Type):
    """A 2-d sparse matrix of one format ("csr" or "csc") and dtype; `shape` gives static
    lengths (int) or None.

    `filter` accepts scipy.sparse values of the declared format, converting the dtype by the
    rules of TensorType (safe casts; others only with allow_downcast); dense arrays and
    other formats are refused with a TypeError.

    >>> t = SparseTensorType("csr", "float64")
    >>> t, t.ndim
    (SparseTensorType(csr, float64, shape=(None, None)), 2)
    """

    ndim = 2

    def __init__(self, format: str, dtype: Any, shape: tuple | None = None):
        if format not in FORMATS:
            raise ValueError(f"SparseTensorType: format must be one of {FORMATS}, got {format!r}")
        self.format = format
        self.dtype = dtypes.normalize(dtype)
        shape = (None, None) if shape is None else tuple(None if s is None else int(s) for s in shape)
        if len(shape) != 2:
            raise ValueError(f"SparseTensorType: sparse matrices are 2-d, got shape {shape}")
        self.shape = shape

    # -- identity -----------------------------------------------------------------------
    def __eq__(self, other: Any) -> bool:
        return (type(other) is type(self) and other.format == self.format and other.dtype == self.dtype
                and other.shape == self.shape)

    def __hash__(self) -> int:
        return hash(("SparseTensorType", self.format, self.dtype, self.shape))

    def __repr__(self) -> str:
        return f"SparseTensorType({self.format}, {self.dtype}, shape={self.shape})"

    def short_str(self) -> str:
        return f"{self.format}[{self.dtype}]"

    def clone(self, format: str | None = None, dtype: Any = None, shape: tuple | None = None) -> "SparseTensorType":
        return SparseTensorType(format or self.format, dtype or self.dtype, self.shape if shape is None else shape)

    @property
    def broadcastable(self) -> tuple:
        return tuple(s == 1 for s in self.shape)

    def is_super(self, other: Type) -> bool:
        return (isinstance(other, SparseTensorType) and other.format == self.format and other.dtype == self.dtype
                and all(a is None or a == b for a, b in zip(self.shape, other.shape)))

    # -- values -------------------------------------------------------------------------
    def filter(self, value: Any, strict: bool = False, allow_downcast: bool | None = None) -> Any:
        if not is_sparse_value(value):
            what = type(value).__name__
            if isinstance(value, np.ndarray):
                what = f"a dense {value.ndim}-d ndarray"
            raise TypeError(f"{self}: expected a scipy.sparse {self.format} matrix, got {what} "
                            f"(build one with scipy.sparse.{self.format}_matrix(value), or use "
                            f"kiln.sparse.{self.format}_from_dense on a dense variable)")
        if value.format != self.format:
            raise TypeError(f"{self}: expected a {self.format} matrix, got format {value.format!r} "
                            f"(convert it with value.to{self.format}())")
        if value.ndim != 2:
            raise TypeError(f"{self}: expected a 2-d sparse matrix, got {value.ndim}-d")
        if str(value.dtype) != self.dtype:
            if strict:
                raise TypeError(f"{self}: expected dtype {self.dtype}, got {value.dtype} (strict)")
            if not (np.can_cast(value.dtype, self.dtype, "safe") or allow_downcast):
                raise TypeError(f"{self}: cannot convert a sparse matrix of dtype {value.dtype} to "
                                f"{self.dtype} without loss; pass allow_input_downcast=True to function() "
                                f"to allow it, or cast the value first")
            value = value.astype(self.dtype)
        value = as_format(value, self.format)
        for i, (s, a) in enumerate(zip(self.shape, value.shape)):
            if s is not None and s != a:
                from kiln.tensor.type import ShapeMismatchError

                raise ShapeMismatchError(f"{self}: value of shape {value.shape} does not match the "
                                         f"static shape {self.shape} (dimension {i})")
        return value

    def value_signature(self, data: Any) -> Hashable:
        d = data.copy()
        d.sort_indices()
        return (self.format, str(d.dtype), d.shape, d.data.tobytes(), d.indices.tobytes(), d.indptr.tobytes())

    def values_eq(self, a: Any, b: Any) -> bool:
        return a.shape == b.shape and (a != b).nnz == 0

    def values_eq_approx(self, a: Any, b: Any, rtol: float | None = None, atol: float | None = None) -> bool:
        if a.shape != b.shape:
            return False
        rtol = {"float32": 1e-5}.get(self.dtype, 1e-8) if rtol is None else rtol
        return bool(np.allclose(a.toarray(), b.toarray(), rtol=rtol, atol=rtol if atol is None else atol))

    def make_variable(self, name: str | None = None) -> "SparseVariable":
        return SparseVariable(self, None, None, name)


def _b():
    import kiln.sparse.basic as b

    return b


def _m():
    import kiln.sparse.math as m

    return m


class _SparseOps:
    """Operators and properties shared by sparse variables, constants and shared variables
    (PyTensor's _sparse_py_operators): `*` is elementwise, `@` and `dot` are products."""

    __slots__ = ()
    __array_priority__ = 1001
    __array_ufunc__ = None

    ndim = 2

    @property
    def format(self) -> str:
        return self.type.format

    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def shape(self):
        """The symbolic shape (an int64 vector of length 2)."""
        from kiln.tensor.shape import shape

        return shape(self)

    @property
    def T(self):
        return _b().transpose(self)

    def transpose(self):
        return _b().transpose(self)

    def toarray(self):
        """The dense matrix (PyTensor's `dense_from_sparse`)."""
        return _b().dense_from_sparse(self)

    def __add__(self, o): return _b().add(self, o)
    def __radd__(self, o): return _b().add(o, self)
    def __sub__(self, o): return _b().sub(self, o)
    def __rsub__(self, o): return _b().sub(o, self)
    def __mul__(self, o): return _b().mul(self, o)
    def __rmul__(self, o): return _b().mul(o, self)
    def __neg__(self): return _b().neg(self)
    def __abs__(self):
        from kiln.sparse.elemwise import abs as sp_abs

        return sp_abs(self)
    def __matmul__(self, o): return _m().dot(self, o)
    def __rmatmul__(self, o): return _m().dot(o, self)
    def __lt__(self, o): return _m().lt(self, o)
    def __le__(self, o): return _m().le(self, o)
    def __gt__(self, o): return _m().gt(self, o)
    def __ge__(self, o): return _m().ge(self, o)

    def dot(self, o):
        return _m().dot(self, o)

    def sum(self, axis=None, sparse_grad: bool = False):
        return _m().sp_sum(self, axis, sparse_grad)

    def astype(self, dtype):
        return _b().cast(self, dtype)

    def __getitem__(self, index):
        from kiln.sparse.subtensor import getitem

        return getitem(self, index)


class SparseVariable(_SparseOps, Variable):
    """A symbolic sparse matrix."""

    __slots__ = ()

    # identity equality and hashing, as every Variable (graph dicts key on variables)
    __eq__ = object.__eq__
    __hash__ = object.__hash__


class SparseConstant(_SparseOps, Constant):
    """A fixed sparse matrix in a graph, compared by value (format, dtype, shape, entries)."""

    __slots__ = ()
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def _default_str(self) -> str:
        return f"<{self.type.short_str()} constant {self.data.shape}, nnz={self.data.nnz}>"


class SparseSharedVariable(_SparseOps, SharedVariable):
    """A shared variable holding a scipy.sparse matrix (`kiln.shared(sparse_value)`)."""

    __slots__ = ()
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def zero(self, borrow: bool = False) -> None:
        v = self.container.value
        self.container.value = as_format(sps().csr_matrix(v.shape, dtype=v.dtype), self.type.format)


SparseTensorType.variable_type = SparseVariable
SparseTensorType.constant_type = SparseConstant


def is_sparse_variable(x: Any) -> bool:
    """Whether `x` is a symbolic variable of a SparseTensorType."""
    return isinstance(x, Variable) and isinstance(x.type, SparseTensorType)


def _matrix(format: str, name: str | None = None, dtype: Any = None, shape: tuple | None = None) -> SparseVariable:
    if dtype is None:
        from kiln.configuration import config

        dtype = config.floatX
    return SparseTensorType(format, dtype, shape)(name)


def csr_matrix(name: str | None = None, dtype: Any = None, shape: tuple | None = None) -> SparseVariable:
    """A symbolic csr matrix (dtype defaults to floatX).

    >>> x = csr_matrix("x", dtype="float64"); x.format, x.dtype, x.ndim
    ('csr', 'float64', 2)
    """
    return _matrix("csr", name, dtype, shape)


def csc_matrix(name: str | None = None, dtype: Any = None, shape: tuple | None = None) -> SparseVariable:
    """A symbolic csc matrix (dtype defaults to floatX)."""
    return _matrix("csc", name, dtype, shape)


def csr_dmatrix(name: str | None = None) -> SparseVariable:
    """A float64 csr matrix."""
    return _matrix("csr", name, "float64")


def csr_fmatrix(name: str | None = None) -> SparseVariable:
    """A float32 csr matrix."""
    return _matrix("csr", name, "float32")


def csc_dmatrix(name: str | None = None) -> SparseVariable:
    """A float64 csc matrix."""
    return _matrix("csc", name, "float64")


def csc_fmatrix(name: str | None = None) -> SparseVariable:
    """A float32 csc matrix."""
    return _matrix("csc", name, "float32")


def as_sparse_variable(x: Any, name: str | None = None) -> Variable:
    """`x` as a sparse variable: sparse variables pass through, a scipy.sparse value (csr or
    csc; other formats are converted to csr) becomes a constant.

    >>> import scipy.sparse as ss
    >>> c = as_sparse_variable(ss.eye(2, format="csc")); c.format, type(c).__name__
    ('csc', 'SparseConstant')
    """
    if isinstance(x, Variable):
        if isinstance(x.type, SparseTensorType):
            return x
        raise TypeError(f"as_sparse_variable: {x} of type {x.type} is not sparse (use csr_from_dense)")
    if not is_sparse_value(x):
        raise TypeError(f"as_sparse_variable: expected a scipy.sparse matrix, got {type(x).__name__}")
    fmt = x.format if x.format in FORMATS else "csr"
    x = as_format(x, fmt)
    return SparseConstant(SparseTensorType(fmt, x.dtype, x.shape), x, name=name)


as_sparse = as_sparse_variable


def as_sparse_or_tensor_variable(x: Any, name: str | None = None) -> Variable:
    """A sparse variable for sparse inputs and values, a tensor variable otherwise."""
    if is_sparse_variable(x) or is_sparse_value(x):
        return as_sparse_variable(x, name)
    from kiln.tensor.basic import as_tensor_variable

    return as_tensor_variable(x, name)


def sparse_shared(value: Any, name: str | None = None, strict: bool = False, allow_downcast: bool | None = None,
                  borrow: bool = False, shape: tuple | None = None) -> SparseSharedVariable:
    """A shared variable holding a scipy.sparse matrix (copied unless `borrow`); `kiln.shared`
    calls this for sparse values.  Formats other than csr/csc are stored as csr."""
    fmt = value.format if value.format in FORMATS else "csr"
    value = as_format(value, fmt)
    if not borrow:
        value = value.copy()
    t = SparseTensorType(fmt, value.dtype, shape)
    return SparseSharedVariable(t, value, name=name, strict=strict, allow_downcast=allow_downcast)
