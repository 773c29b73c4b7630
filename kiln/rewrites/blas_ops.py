"""Gemm and Gemv: a matrix product with its scale and add absorbed, BLAS's shapes.

    Gemm(C, alpha, A, B, beta) = beta * C + alpha * (A @ B)     A, B matrices
    Gemv(y, alpha, A, x, beta) = beta * y + alpha * (A @ x)     A matrix, x vector

alpha and beta are 0-d tensors; C (or y) may broadcast to the product's shape.  The
in-place variant (`inplace=True`, set by the inplace phase) overwrites C when its
buffer has the result's shape and dtype; otherwise it computes into new memory.
"""
from __future__ import annotations

import numpy as np

from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.tensor.basic import as_tensor_variable
from kiln.tensor.elemwise import broadcast_static_shapes
from kiln.tensor.type import TensorType

__all__ = ["Gemm", "Gemv", "MatVecPair", "gemm", "gemv", "matvec_pair"]


class _ScaledProductAdd(Op):
    __props__ = ("inplace",)
    a_ndim = 2
    b_ndim = 2

    def __init__(self, inplace: bool = False):
        self.inplace = bool(inplace)
        self.destroy_map = {0: [0]} if self.inplace else {}

    def __str__(self) -> str:
        return type(self).__name__ + ("{inplace}" if self.inplace else "")

    def make_node(self, c, alpha, a, b, beta) -> Apply:
        c, alpha, a, b, beta = map(as_tensor_variable, (c, alpha, a, b, beta))
        name = type(self).__name__
        if a.ndim != self.a_ndim or b.ndim != self.b_ndim:
            raise TypeError(f"{name}: expected a {self.a_ndim}-d and a {self.b_ndim}-d operand, "
                            f"got {a.ndim}-d {a} and {b.ndim}-d {b}")
        if alpha.ndim != 0 or beta.ndim != 0:
            raise TypeError(f"{name}: alpha and beta must be 0-d, got {alpha.type} and {beta.type}")
        out_ndim = self.a_ndim + self.b_ndim - 2
        if c.ndim != out_ndim:
            raise TypeError(f"{name}: the added term {c} must have {out_ndim} dimensions, got {c.ndim}")
        dtypes = {c.dtype, alpha.dtype, a.dtype, b.dtype, beta.dtype}
        if len(dtypes) != 1 or c.dtype not in ("float32", "float64"):
            raise TypeError(f"{name}: all inputs must share one float dtype, got {sorted(dtypes)}")
        prod_shape = a.type.shape[:1] + b.type.shape[1:]
        shape = broadcast_static_shapes([prod_shape, c.type.shape], who=name)
        return Apply(self, [c, alpha, a, b, beta], [TensorType(c.dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        c, alpha, a, b, beta = inputs
        prod = np.dot(a, b)
        dtype = node.outputs[0].type.dtype
        if self.inplace and c.flags.writeable and c.shape == prod.shape and c.dtype == dtype:
            if beta != 1:
                c *= beta
            if alpha != 1:
                prod *= alpha
            c += prod
            output_storage[0][0] = c
            return
        output_storage[0][0] = np.asarray(beta * c + alpha * prod, dtype=dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.shape import broadcast_shape_symbolic

        cs, _, as_, bs, _ = input_shapes
        prod = tuple(as_[:1]) + tuple(bs[1:])
        prod_static = node.inputs[2].type.shape[:1] + node.inputs[3].type.shape[1:]
        return [broadcast_shape_symbolic([prod, cs], [prod_static, node.inputs[0].type.shape])]


class Gemm(_ScaledProductAdd):
    """beta * C + alpha * (A @ B) for matrices A, B."""


class Gemv(_ScaledProductAdd):
    """beta * y + alpha * (A @ x) for a matrix A and a vector x."""

    b_ndim = 1


gemm = Gemm()
gemv = Gemv()


class MatVecPair(Op):
    """(A @ x, A @ y) for one matrix A and two vectors x, y of its dtype (float32/float64).

    Made by the `matvec_pair` rule (kiln/rewrites/matvec_pair.py) from two independent
    matrix-vector products of the same matrix, as a Hessian-vector product has (A x and A v):
    the C linker computes both in one pass over A, which BLAS reads once per product (a gemm
    with two columns is slower still).  `perform` is the two products."""

    __props__ = ()

    def make_node(self, a, x, y) -> Apply:
        a, x, y = map(as_tensor_variable, (a, x, y))
        if a.ndim != 2 or x.ndim != 1 or y.ndim != 1:
            raise TypeError(f"MatVecPair: expected a matrix and two vectors, got {a.type}, {x.type}, {y.type}")
        if len({a.dtype, x.dtype, y.dtype}) != 1 or a.dtype not in ("float32", "float64"):
            raise TypeError(f"MatVecPair: all inputs must share one float dtype, got "
                            f"{sorted({a.dtype, x.dtype, y.dtype})}")
        return Apply(self, [a, x, y], [TensorType(a.dtype, a.type.shape[:1])() for _ in range(2)])

    def perform(self, node, inputs, output_storage):
        a, x, y = inputs
        output_storage[0][0] = np.dot(a, x)
        output_storage[1][0] = np.dot(a, y)

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0][:1])] * 2


matvec_pair = MatVecPair()
