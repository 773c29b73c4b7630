"""Indexing sparse matrices: x[i, j] (a dense scalar) and slices x[a:b], x[a:b, c:d]
(sparse results of x's format).  An integer on one axis with a slice on the other keeps
that axis with length 1 (PyTensor's GetItem2d).  Index values are node inputs, so one
compiled function serves any index values.
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np

from kiln.graph.basic import Apply, Variable
from kiln.graph.op import Op
from kiln.scalar import dtypes
from kiln.sparse.basic import _fmt_out, _sparse, sparse_out
from kiln.tensor.type import TensorType

__all__ = ["GetItemScalar", "GetItem2d", "getitem"]


def _index_var(v: Any, who: str) -> Variable:
    from kiln.tensor.basic import as_tensor_variable, constant

    if isinstance(v, Variable):
        v = as_tensor_variable(v)
        if v.ndim != 0 or not dtypes.is_integer(v.dtype):
            raise TypeError(f"{who}: an index must be an integer scalar, got {v.type}")
        return v
    try:
        return constant(operator.index(v), dtype="int64")
    except TypeError:
        raise TypeError(f"{who}: an index must be an integer or a slice, got {v!r}") from None


def _norm(i: int, n: int, axis: int, shape: tuple) -> int:
    i = int(i)
    if not -n <= i < n:
        raise IndexError(f"sparse getitem: index {i} is out of bounds for axis {axis} with size {n} "
                         f"(matrix of shape {shape})")
    return i + n if i < 0 else i


class GetItemScalar(Op):
    """x[i, j] of a sparse matrix: a dense 0-d value."""

    def make_node(self, x: Any, i: Any, j: Any) -> Apply:
        x = _sparse(x, "sparse getitem")
        return Apply(self, [x, _index_var(i, "sparse getitem"), _index_var(j, "sparse getitem")],
                     [TensorType(x.dtype, ())()])

    def perform(self, node, inputs, output_storage):
        x, i, j = inputs
        i, j = _norm(i, x.shape[0], 0, x.shape), _norm(j, x.shape[1], 1, x.shape)
        output_storage[0][0] = np.asarray(x[i, j], dtype=node.outputs[0].type.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [()]


class GetItem2d(Op):
    """x[r, c] with r and c slices (or integers, kept as length-1 axes).

    `kinds` says per axis "int" or "slice" and, for a slice, which of start/stop/step are
    given (as node inputs, in order)."""

    __props__ = ("kinds",)

    def __init__(self, kinds: tuple):
        self.kinds = tuple(kinds)

    def make_node(self, x: Any, *idx: Any) -> Apply:
        x = _sparse(x, "sparse getitem")
        ins = [_index_var(v, "sparse getitem") for v in idx]
        shape = tuple(x.type.shape[a] if k == ("slice", False, False, False) else (1 if k[0] == "int" else None)
                      for a, k in enumerate(self.kinds))
        return Apply(self, [x, *ins], [sparse_out(x.type.format, x.dtype, shape)])

    def _slices(self, x, vals) -> tuple:
        it = iter(vals)
        out = []
        for a, k in enumerate(self.kinds):
            if k[0] == "int":
                i = _norm(next(it), x.shape[a], a, x.shape)
                out.append(slice(i, i + 1))
            else:
                parts = [int(next(it)) if present else None for present in k[1:]]
                if parts[2] == 0:
                    raise ValueError("sparse getitem: slice step cannot be zero")
                out.append(slice(*parts))
        return tuple(out)

    def perform(self, node, inputs, output_storage):
        x = inputs[0]
        r, c = self._slices(x, inputs[1:])
        output_storage[0][0] = _fmt_out(x[r, c], node)

    def infer_shape(self, fgraph, node, input_shapes):
        raise NotImplementedError("GetItem2d.infer_shape")  # the output's own shape is used


def getitem(x: Variable, index: Any) -> Variable:
    """Index sparse x: `x[i, j]`, `x[a:b]`, `x[a:b, c:d]` (see the module docstring).

    >>> import numpy as np, scipy.sparse as ss, kiln
    >>> from kiln.sparse import csr_matrix
    >>> x = csr_matrix("x", dtype="float64")
    >>> f = kiln.function([x], [x[1, 0], x[0:1]])
    >>> v, s = f(ss.csr_matrix(np.array([[1.0, 0.0], [2.0, 3.0]])))
    >>> float(v), s.toarray()
    (2.0, array([[1., 0.]]))
    """
    if not isinstance(index, tuple):
        index = (index,)
    if len(index) == 1:
        index = (index[0], slice(None))
    if len(index) != 2:
        raise IndexError(f"sparse getitem: a sparse matrix takes 1 or 2 indices, got {len(index)}")
    if not any(isinstance(i, slice) for i in index):
        return GetItemScalar()(x, *index)
    kinds, vals = [], []
    for i in index:
        if isinstance(i, slice):
            kinds.append(("slice", i.start is not None, i.stop is not None, i.step is not None))
            vals += [v for v in (i.start, i.stop, i.step) if v is not None]
        else:
            kinds.append(("int",))
            vals.append(i)
    return GetItem2d(tuple(kinds))(x, *vals)
