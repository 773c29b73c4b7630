"""Core sparse ops: conversions, the CSM constructor and its properties, and the
elementwise arithmetic of sparse matrices (add, sub, mul, neg, transpose, cast, ...).

Each op computes with scipy.sparse in `perform` (no C lowering: the C linker runs them in
python segments).  Sparse results always come back in the format their type declares.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln.graph.basic import Apply, Variable
from kiln.graph.op import Op
from kiln.scalar import dtypes
from kiln.sparse._scipy import as_format, sps
from kiln.sparse.type import SparseTensorType, as_sparse_variable, is_sparse_variable
from kiln.tensor.type import TensorType

__all__ = ["DenseFromSparse", "SparseFromDense", "CSMProperties", "CSM", "EntriesAt", "EntryColumns",
           "Transpose", "AsFormat", "as_format_of", "Neg", "Cast", "Remove0", "EnsureSortedIndices",
           "SpOnesLike", "SpZerosLike",
           "AddSS", "AddSD", "MulSS", "MulSD", "dense_from_sparse", "csr_from_dense", "csc_from_dense",
           "csm_properties", "csm_data", "csm_indices", "csm_indptr", "csm_shape", "CSR", "CSC",
           "transpose", "neg", "cast", "remove0", "ensure_sorted_indices", "sp_ones_like", "sp_zeros_like",
           "add", "sub", "mul", "multiply", "as_dense", "sparse_out"]


def sparse_out(fmt: str, dtype: Any, shape: tuple | None = None) -> Variable:
    """A fresh output variable of a sparse type."""
    return SparseTensorType(fmt, dtype, shape)()


def as_dense(x: Any, who: str) -> Variable:
    """`x` as a dense tensor variable; a sparse one is refused naming the op."""
    from kiln.tensor.basic import as_tensor_variable

    if is_sparse_variable(x):
        raise TypeError(f"{who}: expected a dense input, got the sparse {x} ({x.type})")
    return as_tensor_variable(x)


def _sparse(x: Any, who: str) -> Variable:
    try:
        return as_sparse_variable(x)
    except TypeError as e:
        raise TypeError(f"{who}: {e}") from None


def _fmt_out(value: Any, node: Apply, i: int = 0) -> Any:
    """A scipy value in output i's declared format and dtype."""
    t = node.outputs[i].type
    v = as_format(value, t.format)
    return v if str(v.dtype) == t.dtype else v.astype(t.dtype)


# -- conversions ------------------------------------------------------------------------
class DenseFromSparse(Op):
    """The dense matrix of a sparse one.  Its gradient is structured (a sparse matrix with
    the input's pattern) when `sparse_grad`, as PyTensor's default."""

    __props__ = ("sparse_grad",)

    def __init__(self, sparse_grad: bool = True):
        self.sparse_grad = bool(sparse_grad)

    def make_node(self, x: Any) -> Apply:
        x = _sparse(x, "dense_from_sparse")
        return Apply(self, [x], [TensorType(x.dtype, x.type.shape)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(inputs[0].toarray(), dtype=node.outputs[0].type.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]


class SparseFromDense(Op):
    """A sparse matrix (csr or csc) holding the nonzero entries of a dense 2-d one."""

    __props__ = ("format",)

    def __init__(self, format: str):
        self.format = format

    def make_node(self, x: Any) -> Apply:
        x = as_dense(x, f"{self.format}_from_dense")
        if x.ndim != 2:
            raise TypeError(f"{self.format}_from_dense: expected a 2-d tensor, got {x.ndim}-d {x}")
        return Apply(self, [x], [sparse_out(self.format, x.dtype, x.type.shape)])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = _fmt_out(inputs[0], node)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]


dense_from_sparse = DenseFromSparse()
csr_from_dense = SparseFromDense("csr")
csc_from_dense = SparseFromDense("csc")


class CSMProperties(Op):
    """(data, indices, indptr, shape) of a csr/csc matrix: data of its dtype, the others
    int32 (PyTensor's).  Copies, so a caller may not alter the matrix through them."""

    def make_node(self, x: Any) -> Apply:
        x = _sparse(x, "csm_properties")
        outs = [TensorType(x.dtype, (None,))(), TensorType("int32", (None,))(),
                TensorType("int32", (None,))(), TensorType("int32", (2,))()]
        return Apply(self, [x], outs)

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        output_storage[0][0] = np.array(x.data, dtype=node.outputs[0].type.dtype)
        output_storage[1][0] = np.array(x.indices, dtype="int32")
        output_storage[2][0] = np.array(x.indptr, dtype="int32")
        output_storage[3][0] = np.array(x.shape, dtype="int32")

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.shape import shape_i

        x = node.inputs[0]
        fmt_major = 0 if x.type.format == "csr" else 1
        return [(shape_i(node.outputs[0], 0),), (shape_i(node.outputs[1], 0),),
                (input_shapes[0][fmt_major] + 1,), (2,)]


csm_properties = CSMProperties()


def csm_data(x): return csm_properties(x)[0]
def csm_indices(x): return csm_properties(x)[1]
def csm_indptr(x): return csm_properties(x)[2]
def csm_shape(x): return csm_properties(x)[3]


class CSM(Op):
    """A csr/csc matrix built from (data, indices, indptr, shape); linear in `data`."""

    __props__ = ("format",)

    def __init__(self, format: str):
        self.format = format

    def make_node(self, data: Any, indices: Any, indptr: Any, shape: Any) -> Apply:
        from kiln.tensor.basic import as_tensor_variable

        who = f"CSM({self.format})"
        data = as_dense(data, who)
        idx = [as_tensor_variable(v) for v in (indices, indptr, shape)]
        if data.ndim != 1:
            raise TypeError(f"{who}: data must be a vector, got {data.ndim}-d")
        for name, v in zip(("indices", "indptr", "shape"), idx):
            if v.ndim != 1 or not dtypes.is_integer(v.dtype):
                raise TypeError(f"{who}: {name} must be an integer vector, got {v.type}")
        return Apply(self, [data, *idx], [sparse_out(self.format, data.dtype)])

    def perform(self, node, inputs, output_storage):
        data, indices, indptr, shape = inputs
        if len(data) != len(indices):
            raise ValueError(f"CSM({self.format}): data has {len(data)} entries but indices {len(indices)}")
        s = sps()
        cls = s.csr_matrix if self.format == "csr" else s.csc_matrix
        output_storage[0][0] = cls((np.array(data), np.array(indices), np.array(indptr)),
                                   shape=tuple(int(d) for d in shape))

    def infer_shape(self, fgraph, node, input_shapes):
        shp = node.inputs[3]
        return [(shp[0], shp[1])]


def CSR(data, indices, indptr, shape):  # noqa: N802  (PyTensor's name)
    """A csr matrix from its arrays (PyTensor's CSR)."""
    return CSM("csr")(data, indices, indptr, shape)


def CSC(data, indices, indptr, shape):  # noqa: N802
    """A csc matrix from its arrays (PyTensor's CSC)."""
    return CSM("csc")(data, indices, indptr, shape)


class EntriesAt(Op):
    """The values of sparse `y` at the stored positions (indices, indptr) of a matrix of
    `format`: a vector, one value per stored entry (0 where y stores nothing).  This is
    the transpose of CSM in its data (and the data tangent of csm_properties)."""

    __props__ = ("format",)

    def __init__(self, format: str):
        self.format = format

    def make_node(self, y: Any, indices: Any, indptr: Any, shape: Any) -> Apply:
        # `shape` (of the matrix the positions belong to) is not read by perform: the
        # transpose (a CSM) needs it
        y = _sparse(y, "EntriesAt")
        return Apply(self, [y, indices, indptr, shape], [TensorType(y.dtype, (None,))()])

    def perform(self, node, inputs, output_storage):
        y, indices, indptr, _ = inputs
        major = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        rows, cols = (major, indices) if self.format == "csr" else (indices, major)
        dt = node.outputs[0].type.dtype
        if len(rows) == 0:
            output_storage[0][0] = np.zeros(0, dtype=dt)
            return
        output_storage[0][0] = np.asarray(y.tocsr()[rows, cols], dtype=dt).ravel()

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[1])]


class EntryColumns(Op):
    """The column index of each stored entry (int32), in storage order."""

    def make_node(self, x: Any) -> Apply:
        x = _sparse(x, "EntryColumns")
        return Apply(self, [x], [TensorType("int32", (None,))()])

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        if x.format == "csr":
            cols = x.indices
        else:
            cols = np.repeat(np.arange(x.shape[1]), np.diff(x.indptr))
        output_storage[0][0] = np.array(cols, dtype="int32")


# -- structure-preserving unary ops -----------------------------------------------------
class _Unary(Op):
    """A sparse -> sparse op of the same shape (and format unless `_out_format`)."""

    name = "?"

    def _out_dtype(self, x):
        return x.dtype

    def _out_format(self, x):
        return x.type.format

    def make_node(self, x: Any) -> Apply:
        x = _sparse(x, self.name)
        return Apply(self, [x], [sparse_out(self._out_format(x), self._out_dtype(x), x.type.shape)])

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]


class Transpose(_Unary):
    """x.T; a csr matrix becomes csc and back (no data moves), as in PyTensor."""

    name = "transpose"

    def _out_format(self, x):
        return "csc" if x.type.format == "csr" else "csr"

    def make_node(self, x: Any) -> Apply:
        x = _sparse(x, self.name)
        return Apply(self, [x], [sparse_out(self._out_format(x), x.dtype, x.type.shape[::-1])])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = _fmt_out(inputs[0].transpose(), node)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])[::-1]]


class AsFormat(_Unary):
    """The same matrix in another format (csr <-> csc)."""

    __props__ = ("format",)
    name = "as_format"

    def __init__(self, format: str):
        self.format = format

    def _out_format(self, x):
        return self.format

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = _fmt_out(inputs[0], node)


def as_format_of(x: Any, format: str) -> Variable:
    """x in `format` (no node when it has it)."""
    return x if x.type.format == format else AsFormat(format)(x)


class Neg(_Unary):
    name = "neg"

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = _fmt_out(-inputs[0], node)


class Cast(_Unary):
    """The same matrix with another dtype."""

    __props__ = ("dtype",)
    name = "cast"

    def __init__(self, dtype: Any):
        self.dtype = dtypes.normalize(dtype)

    def _out_dtype(self, x):
        return self.dtype

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = _fmt_out(inputs[0].astype(self.dtype), node)


class Remove0(_Unary):
    """The same matrix without explicitly stored zeros."""

    name = "remove0"

    def perform(self, node, inputs, output_storage):
        z = inputs[0].copy()
        z.eliminate_zeros()
        output_storage[0][0] = _fmt_out(z, node)


class EnsureSortedIndices(_Unary):
    """The same matrix with sorted indices within each row (csr) or column (csc)."""

    name = "ensure_sorted_indices"

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = _fmt_out(inputs[0].sorted_indices(), node)


class SpOnesLike(_Unary):
    """Ones at the stored positions of x (its pattern, PyTensor's sp_ones_like)."""

    name = "sp_ones_like"

    def perform(self, node, inputs, output_storage):
        z = inputs[0].copy()
        z.data = np.ones_like(z.data)
        output_storage[0][0] = _fmt_out(z, node)


class SpZerosLike(_Unary):
    """A matrix of x's shape, format and dtype storing nothing."""

    name = "sp_zeros_like"

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        output_storage[0][0] = _fmt_out(sps().csr_matrix(x.shape, dtype=x.dtype), node)


transpose = Transpose()
neg = Neg()
remove0 = Remove0()
ensure_sorted_indices = EnsureSortedIndices()
sp_ones_like = SpOnesLike()
sp_zeros_like = SpZerosLike()


def cast(x: Any, dtype: Any) -> Variable:
    """x with another dtype (no node when it already has it)."""
    x = _sparse(x, "cast")
    return x if x.dtype == dtypes.normalize(dtype) else Cast(dtype)(x)


# -- binary arithmetic ------------------------------------------------------------------
def _check_same_shape(who: str, a: Variable, b: Variable) -> tuple:
    shp = []
    for d, (p, q) in enumerate(zip(a.type.shape, b.type.shape)):
        if p is not None and q is not None and p != q:
            raise ValueError(f"{who}: shapes {a.type.shape} and {b.type.shape} differ in dimension {d}")
        shp.append(p if p is not None else q)
    return tuple(shp)


class _Binary(Op):
    name = "?"

    def infer_shape(self, fgraph, node, input_shapes):
        a, b = input_shapes
        return [tuple(a)]


def _check_run_shapes(who: str, a: Any, b: Any) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{who}: shapes {a.shape} and {b.shape} differ")


class AddSS(_Binary):
    """sparse + sparse -> sparse (format of x)."""

    name = "add"

    def make_node(self, x, y):
        shp = _check_same_shape("add", x, y)
        return Apply(self, [x, y], [sparse_out(x.type.format, dtypes.upcast(x.dtype, y.dtype), shp)])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        _check_run_shapes("add", x, y)
        output_storage[0][0] = _fmt_out(x + y, node)


class AddSD(_Binary):
    """sparse + dense (2-d) -> dense."""

    name = "add"

    def make_node(self, x, y):
        if y.ndim != 2:
            raise TypeError(f"add: a sparse matrix adds to a 2-d tensor only, got {y.ndim}-d {y}")
        shp = _check_same_shape("add", x, y)
        return Apply(self, [x, y], [TensorType(dtypes.upcast(x.dtype, y.dtype), shp)()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        _check_run_shapes("add", x, y)
        output_storage[0][0] = np.asarray(x.toarray() + y, dtype=node.outputs[0].type.dtype)


class MulSS(_Binary):
    """Elementwise sparse * sparse -> sparse (format of x)."""

    name = "mul"

    def make_node(self, x, y):
        shp = _check_same_shape("mul", x, y)
        return Apply(self, [x, y], [sparse_out(x.type.format, dtypes.upcast(x.dtype, y.dtype), shp)])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        _check_run_shapes("mul", x, y)
        output_storage[0][0] = _fmt_out(x.multiply(y), node)


class MulSD(_Binary):
    """Elementwise sparse * dense (2-d of the same shape, or 0-d) -> sparse with x's pattern."""

    name = "mul"

    def make_node(self, x, y):
        if y.ndim == 2:
            shp = _check_same_shape("mul", x, y)
        elif y.ndim == 0:
            shp = x.type.shape
        else:
            raise TypeError(f"mul: a sparse matrix multiplies a 2-d or 0-d tensor, got {y.ndim}-d {y}")
        return Apply(self, [x, y], [sparse_out(x.type.format, dtypes.upcast(x.dtype, y.dtype), shp)])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        dt = node.outputs[0].type.dtype
        z = x.astype(dt, copy=True)
        if np.ndim(y) == 0:
            z.data = z.data * np.asarray(y, dtype=dt)
        else:
            _check_run_shapes("mul", x, y)
            # x's pattern is kept (explicit zeros too): read y at each stored position
            major = np.repeat(np.arange(len(z.indptr) - 1), np.diff(z.indptr))
            rows, cols = (major, z.indices) if z.format == "csr" else (z.indices, major)
            z.data = z.data * np.asarray(y, dtype=dt)[rows, cols]
        output_storage[0][0] = _fmt_out(z, node)


def _operands(who: str, x: Any, y: Any) -> tuple:
    from kiln.sparse.type import as_sparse_or_tensor_variable

    x, y = as_sparse_or_tensor_variable(x), as_sparse_or_tensor_variable(y)
    return x, y, is_sparse_variable(x), is_sparse_variable(y)


def add(x: Any, y: Any) -> Variable:
    """x + y with one or both sparse: sparse + sparse is sparse, sparse + dense is dense
    (PyTensor's add).

    >>> import scipy.sparse as ss, numpy as np, kiln
    >>> from kiln.sparse import csr_matrix
    >>> x = csr_matrix("x", dtype="float64")
    >>> f = kiln.function([x], add(x, x))
    >>> f(ss.csr_matrix(np.eye(2))).toarray()
    array([[2., 0.],
           [0., 2.]])
    """
    x, y, xs, ys = _operands("add", x, y)
    if xs and ys:
        return AddSS()(x, y)
    if xs:
        return AddSD()(x, y)
    if ys:
        return AddSD()(y, x)
    raise TypeError(f"kiln.sparse.add: neither {x} nor {y} is sparse")


def sub(x: Any, y: Any) -> Variable:
    """x - y with one or both sparse (as `add`)."""
    x, y, xs, ys = _operands("sub", x, y)
    if ys:
        return add(x, neg(y))
    if xs:
        import kiln.tensor.math as km

        return add(x, km.neg(y))
    raise TypeError(f"kiln.sparse.sub: neither {x} nor {y} is sparse")


def mul(x: Any, y: Any) -> Variable:
    """Elementwise x * y with one or both sparse; the result is sparse (PyTensor's mul)."""
    x, y, xs, ys = _operands("mul", x, y)
    if xs and ys:
        return MulSS()(x, y)
    if xs:
        return MulSD()(x, y)
    if ys:
        return MulSD()(y, x)
    raise TypeError(f"kiln.sparse.mul: neither {x} nor {y} is sparse")


multiply = mul
