"""Products, reductions, scaling, diagonals, stacking and comparisons of sparse matrices.

Products follow PyTensor: `dot` (one or both sparse; dense result), `structured_dot`
(sparse @ dense -> dense, sparse @ sparse -> sparse; its gradient keeps the sparse
input's pattern), `true_dot` (sparse result).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply, Variable
from kiln.graph.op import Op
from kiln.scalar import dtypes
from kiln.sparse._scipy import sps
from kiln.sparse.basic import _fmt_out, _sparse, _check_run_shapes, as_dense, sparse_out
from kiln.sparse.type import as_sparse_or_tensor_variable, is_sparse_variable
from kiln.tensor.type import TensorType

__all__ = ["Dot", "StructuredDot", "TrueDot", "SampledDot", "SpSum", "ColScale", "RowScale", "Diag",
           "SquareDiagonal", "HStack", "VStack", "Compare", "dot", "structured_dot", "true_dot",
           "sampled_dot", "sp_sum", "col_scale", "row_scale", "diag", "square_diagonal", "hstack",
           "vstack", "eq", "neq", "lt", "gt", "le", "ge"]


def _run_dot(who: str, x: Any, y: Any) -> Any:
    if x.shape[-1] != y.shape[0]:
        raise ValueError(f"{who}: shapes {x.shape} and {y.shape} are not aligned "
                         f"({x.shape[-1]} != {y.shape[0]})")
    return x @ y


def _check_inner(who: str, x: Variable, y: Variable) -> None:
    a, b = x.type.shape[-1], y.type.shape[0]
    if a is not None and b is not None and a != b:
        raise ValueError(f"{who}: shapes {x.type.shape} and {y.type.shape} are not aligned ({a} != {b})")


class Dot(Op):
    """x @ y with at least one sparse operand (the other dense 1-d/2-d or sparse): a dense
    result, as PyTensor's sparse `dot`."""

    def make_node(self, x: Any, y: Any) -> Apply:
        x, y = as_sparse_or_tensor_variable(x), as_sparse_or_tensor_variable(y)
        xs, ys = is_sparse_variable(x), is_sparse_variable(y)
        if not (xs or ys):
            raise TypeError(f"sparse dot: neither {x} nor {y} is sparse")
        for v, s in ((x, xs), (y, ys)):
            if not s and v.ndim not in (1, 2):
                raise TypeError(f"sparse dot: the dense operand {v} must be 1-d or 2-d, got {v.ndim}-d")
        _check_inner("sparse dot", x, y)
        shape = tuple(x.type.shape[:-1]) + tuple(y.type.shape[1:])
        return Apply(self, [x, y], [TensorType(dtypes.upcast(x.dtype, y.dtype), shape)()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        r = _run_dot("sparse dot", x, y)
        if hasattr(r, "toarray"):
            r = r.toarray()
        output_storage[0][0] = np.asarray(r, dtype=node.outputs[0].type.dtype).reshape(
            x.shape[:-1] + y.shape[1:])

    def infer_shape(self, fgraph, node, input_shapes):
        xs, ys = input_shapes
        return [tuple(xs[:-1]) + tuple(ys[1:])]


class StructuredDot(Op):
    """a @ b with `a` sparse and `b` 2-d: dense for a dense b, sparse (a's format) for a
    sparse b.  Its gradient in `a` keeps a's pattern."""

    def make_node(self, a: Any, b: Any) -> Apply:
        a = _sparse(a, "structured_dot")
        b = as_sparse_or_tensor_variable(b)
        if b.ndim != 2:
            raise TypeError(f"structured_dot: b must be 2-d, got {b.ndim}-d {b}")
        _check_inner("structured_dot", a, b)
        dt = dtypes.upcast(a.dtype, b.dtype)
        shape = (a.type.shape[0], b.type.shape[1])
        out = sparse_out(a.type.format, dt, shape) if is_sparse_variable(b) else TensorType(dt, shape)()
        return Apply(self, [a, b], [out])

    def perform(self, node, inputs, output_storage):
        a, b = inputs
        r = _run_dot("structured_dot", a, b)
        if is_sparse_variable(node.outputs[0]):
            output_storage[0][0] = _fmt_out(r, node)
        else:
            output_storage[0][0] = np.asarray(r, dtype=node.outputs[0].type.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [(input_shapes[0][0], input_shapes[1][1])]


class TrueDot(Op):
    """x @ y with x sparse (y sparse or dense 2-d): a sparse result in x's format."""

    def make_node(self, x: Any, y: Any) -> Apply:
        x = _sparse(x, "true_dot")
        y = as_sparse_or_tensor_variable(y)
        if y.ndim != 2:
            raise TypeError(f"true_dot: y must be 2-d, got {y.ndim}-d {y}")
        _check_inner("true_dot", x, y)
        return Apply(self, [x, y], [sparse_out(x.type.format, dtypes.upcast(x.dtype, y.dtype),
                                               (x.type.shape[0], y.type.shape[1]))])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        output_storage[0][0] = _fmt_out(sps().csr_matrix(_run_dot("true_dot", x, y)), node)

    def infer_shape(self, fgraph, node, input_shapes):
        return [(input_shapes[0][0], input_shapes[1][1])]


class SampledDot(Op):
    """(x @ y) sampled at the stored positions of sparse `p` (x, y dense 2-d): a sparse
    matrix with p's pattern (PyTensor's sampling_dot without the product by p).  It is the
    structured gradient of a product in its sparse operand."""

    def make_node(self, x: Any, y: Any, p: Any) -> Apply:
        x, y = as_dense(x, "sampled_dot"), as_dense(y, "sampled_dot")
        p = _sparse(p, "sampled_dot")
        return Apply(self, [x, y, p], [sparse_out(p.type.format, dtypes.upcast(x.dtype, y.dtype), p.type.shape)])

    def perform(self, node, inputs, output_storage):
        x, y, p = inputs
        dt = node.outputs[0].type.dtype
        major = np.repeat(np.arange(len(p.indptr) - 1), np.diff(p.indptr))
        rows, cols = (major, p.indices) if p.format == "csr" else (p.indices, major)
        vals = np.einsum("ij,ij->i", x[rows, :], y[:, cols].T) if len(rows) else np.zeros(0)
        z = p.astype(dt, copy=True)
        z.data = np.asarray(vals, dtype=dt)
        output_storage[0][0] = _fmt_out(z, node)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[2])]


def dot(x: Any, y: Any) -> Variable:
    """x @ y with at least one sparse operand; the result is dense (PyTensor's sparse dot).

    >>> import scipy.sparse as ss, numpy as np, kiln, kiln.tensor as kt
    >>> from kiln.sparse import csr_matrix
    >>> x, w = csr_matrix("x", dtype="float64"), kt.dmatrix("w")
    >>> kiln.function([x, w], dot(x, w))(ss.csr_matrix(np.eye(2)), np.ones((2, 1)))
    array([[1.],
           [1.]])
    """
    return Dot()(x, y)


def structured_dot(x: Any, y: Any) -> Variable:
    """x @ y for sparse x; its gradient in x is sparse with x's pattern."""
    return StructuredDot()(x, y)


def true_dot(x: Any, y: Any, grad_preserves_dense: bool = True) -> Variable:
    """x @ y for sparse x, as a sparse matrix of x's format."""
    return TrueDot()(x, y)


def sampled_dot(x: Any, y: Any, p: Any) -> Variable:
    """(x @ y) at the stored positions of sparse p."""
    return SampledDot()(x, y, p)


# -- reductions and scaling -------------------------------------------------------------
class SpSum(Op):
    """Sum of a sparse matrix over `axis` (None, 0 or 1): a dense result.  `sparse_grad`
    (not part of the op's identity, as in PyTensor) makes the gradient structured."""

    __props__ = ("axis",)

    def __init__(self, axis: int | None = None, sparse_grad: bool = False):
        if axis not in (None, 0, 1, -1, -2):
            raise ValueError(f"sp_sum: axis must be None, 0 or 1, got {axis!r}")
        self.axis = axis if axis is None or axis >= 0 else axis + 2
        self.sparse_grad = bool(sparse_grad)

    def make_node(self, x: Any) -> Apply:
        x = _sparse(x, "sp_sum")
        shape = () if self.axis is None else (x.type.shape[1 - self.axis],)
        return Apply(self, [x], [TensorType(x.dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        dt = node.outputs[0].type.dtype
        if self.axis is None:
            output_storage[0][0] = np.asarray(x.sum(), dtype=dt)
        else:
            output_storage[0][0] = np.asarray(x.sum(axis=self.axis), dtype=dt).ravel()

    def infer_shape(self, fgraph, node, input_shapes):
        return [()] if self.axis is None else [(input_shapes[0][1 - self.axis],)]


def sp_sum(x: Any, axis: int | None = None, sparse_grad: bool = False) -> Variable:
    """Sum of sparse x (all entries, or over axis 0/1): dense.

    >>> import scipy.sparse as ss, numpy as np, kiln
    >>> from kiln.sparse import csc_matrix
    >>> x = csc_matrix("x", dtype="float64")
    >>> kiln.function([x], sp_sum(x, axis=0))(ss.csc_matrix(np.array([[1., 0], [2, 3]])))
    array([3., 3.])
    """
    return SpSum(axis, sparse_grad)(x)


class _Scale(Op):
    """Sparse x scaled by a dense vector along one axis: x's pattern and format."""

    axis = 0
    name = "?"

    def make_node(self, x: Any, s: Any) -> Apply:
        x = _sparse(x, self.name)
        s = as_dense(s, self.name)
        if s.ndim != 1:
            raise TypeError(f"{self.name}: the scale must be a vector, got {s.ndim}-d {s}")
        return Apply(self, [x, s], [sparse_out(x.type.format, dtypes.upcast(x.dtype, s.dtype), x.type.shape)])

    def perform(self, node, inputs, output_storage):
        x, s = inputs
        n = x.shape[1 - self.axis]
        if len(s) != n:
            raise ValueError(f"{self.name}: the scale has {len(s)} entries, the matrix {x.shape} needs {n}")
        dt = node.outputs[0].type.dtype
        z = x.astype(dt, copy=True)
        major = np.repeat(np.arange(len(z.indptr) - 1), np.diff(z.indptr))
        rows, cols = (major, z.indices) if z.format == "csr" else (z.indices, major)
        z.data = z.data * np.asarray(s, dtype=dt)[cols if self.axis == 0 else rows]
        output_storage[0][0] = _fmt_out(z, node)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]


class ColScale(_Scale):
    """x * s[None, :] (each column j scaled by s[j])."""

    axis, name = 0, "col_scale"


class RowScale(_Scale):
    """x * s[:, None] (each row i scaled by s[i])."""

    axis, name = 1, "row_scale"


def col_scale(x: Any, s: Any) -> Variable:
    """Scale column j of sparse x by s[j]."""
    return ColScale()(x, s)


def row_scale(x: Any, s: Any) -> Variable:
    """Scale row i of sparse x by s[i]."""
    return RowScale()(x, s)


class Diag(Op):
    """The diagonal of a sparse matrix, as a dense vector."""

    def make_node(self, x: Any) -> Apply:
        x = _sparse(x, "diag")
        return Apply(self, [x], [TensorType(x.dtype, (None,))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(inputs[0].diagonal(), dtype=node.outputs[0].type.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.math import minimum

        a, b = input_shapes[0]
        return [(minimum(a, b),)]


class SquareDiagonal(Op):
    """A square csc matrix with the dense vector `v` on its diagonal."""

    def make_node(self, v: Any) -> Apply:
        v = as_dense(v, "square_diagonal")
        if v.ndim != 1:
            raise TypeError(f"square_diagonal: expected a vector, got {v.ndim}-d {v}")
        n = v.type.shape[0]
        return Apply(self, [v], [sparse_out("csc", v.dtype, (n, n))])

    def perform(self, node, inputs, output_storage):
        v = inputs[0]
        n = len(v)
        output_storage[0][0] = sps().csc_matrix((np.array(v), np.arange(n), np.arange(n + 1)), shape=(n, n))

    def infer_shape(self, fgraph, node, input_shapes):
        n = input_shapes[0][0]
        return [(n, n)]


def diag(x: Any) -> Variable:
    """The diagonal of sparse x (dense vector)."""
    return Diag()(x)


def square_diagonal(v: Any) -> Variable:
    """The square sparse (csc) matrix with diagonal v."""
    return SquareDiagonal()(v)


# -- stacking ---------------------------------------------------------------------------
class _Stack(Op):
    __props__ = ("format", "dtype")
    axis = 1
    name = "?"

    def __init__(self, format: str | None = None, dtype: Any = None):
        self.format = format
        self.dtype = None if dtype is None else dtypes.normalize(dtype)

    def make_node(self, *blocks: Any) -> Apply:
        if not blocks:
            raise ValueError(f"{self.name}: nothing to stack")
        bs = [_sparse(b, self.name) for b in blocks]
        fmt = self.format or bs[0].type.format
        dt = self.dtype or dtypes.upcast(*[b.dtype for b in bs])
        other = 1 - self.axis
        known = {b.type.shape[other] for b in bs} - {None}
        if len(known) > 1:
            raise ValueError(f"{self.name}: blocks differ in dimension {other}: {[b.type.shape for b in bs]}")
        return Apply(self, bs, [sparse_out(fmt, dt)])

    def perform(self, node, inputs, output_storage):
        other = 1 - self.axis
        if len({b.shape[other] for b in inputs}) > 1:
            raise ValueError(f"{self.name}: blocks differ in dimension {other}: {[b.shape for b in inputs]}")
        s = sps()
        f = s.hstack if self.axis == 1 else s.vstack
        output_storage[0][0] = _fmt_out(f(inputs, format=node.outputs[0].type.format), node)

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.math import add

        total = input_shapes[0][self.axis]
        for s in input_shapes[1:]:
            total = add(total, s[self.axis])
        other = input_shapes[0][1 - self.axis]
        return [(other, total) if self.axis == 1 else (total, other)]


class HStack(_Stack):
    axis, name = 1, "hstack"


class VStack(_Stack):
    axis, name = 0, "vstack"


def hstack(blocks: Sequence[Any], format: str | None = None, dtype: Any = None) -> Variable:
    """Sparse blocks side by side (same number of rows)."""
    return HStack(format, dtype)(*blocks)


def vstack(blocks: Sequence[Any], format: str | None = None, dtype: Any = None) -> Variable:
    """Sparse blocks one above the other (same number of columns)."""
    return VStack(format, dtype)(*blocks)


# -- comparisons ------------------------------------------------------------------------
_CMP = {"eq": np.equal, "neq": np.not_equal, "lt": np.less, "gt": np.greater, "le": np.less_equal,
        "ge": np.greater_equal}


class Compare(Op):
    """x <cmp> y with x sparse and y sparse or dense 2-d: a sparse bool matrix (PyTensor
    gives uint8) in x's format holding the true positions."""

    __props__ = ("cmp",)

    def __init__(self, cmp: str):
        if cmp not in _CMP:
            raise ValueError(f"Compare: unknown comparison {cmp!r}")
        self.cmp = cmp

    def make_node(self, x: Any, y: Any) -> Apply:
        x = _sparse(x, self.cmp)
        y = as_sparse_or_tensor_variable(y)
        if y.ndim != 2:
            raise TypeError(f"{self.cmp}: compares a sparse matrix with a 2-d one, got {y.ndim}-d {y}")
        return Apply(self, [x, y], [sparse_out(x.type.format, "bool", x.type.shape)])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        _check_run_shapes(self.cmp, x, y)
        yd = y.toarray() if hasattr(y, "toarray") else np.asarray(y)
        # dense comparison: exact for every operator (a sparse one warns on `x == y`, which
        # would store almost every entry), and the result is then made sparse
        r = _CMP[self.cmp](x.toarray(), yd)
        output_storage[0][0] = _fmt_out(sps().csr_matrix(r), node)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]


def _compare(cmp: str):
    def f(x: Any, y: Any) -> Variable:
        if not is_sparse_variable(as_sparse_or_tensor_variable(x)):
            flipped = {"lt": "gt", "gt": "lt", "le": "ge", "ge": "le"}.get(cmp, cmp)
            return Compare(flipped)(y, x)
        return Compare(cmp)(x, y)

    f.__name__ = cmp
    f.__doc__ = f"Elementwise x {cmp} y with one operand sparse: a sparse bool matrix."
    return f


eq, neq, lt, gt, le, ge = (_compare(c) for c in ("eq", "neq", "lt", "gt", "le", "ge"))
