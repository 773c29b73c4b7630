"""Products: dot (NumPy's dot for 1-d/2-d), matmul (batched), tensordot and outer.

These are the ops the specialize phase turns into gemm/gemv and the C linker
hands to BLAS.
"""
from __future__ import annotations


import numpy as np

from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.tensor.basic import as_tensor_variable, describe
from kiln.tensor.elemwise import broadcast_static_shapes
from kiln.tensor.type import TensorType

__all__ = ["Dot", "MatMul", "dot", "matmul", "tensordot", "outer"]


def _product_dtype(fn, a: str, b: str) -> str:
    return str(fn(np.zeros((1, 1), dtype=a), np.zeros((1, 1), dtype=b)).dtype)


def _check_len(who: str, a: int | None, b: int | None, xa, xb) -> None:
    if a is not None and b is not None and a != b:
        raise ValueError(f"{who}: shapes {xa.type.shape} and {xb.type.shape} are not aligned "
                         f"({a} != {b}) for inputs {describe(xa)} and {describe(xb)}")


class Dot(Op):
    """NumPy's dot for inputs of 1 or 2 dimensions (vector.vector is a 0-d result)."""

    def make_node(self, x, y) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        if x.ndim not in (1, 2) or y.ndim not in (1, 2):
            raise TypeError(f"Dot: inputs must be 1-d or 2-d, got {describe(x)} and {describe(y)} "
                            f"(use kt.dot, which handles other ranks)")
        _check_len("dot", x.type.shape[-1], y.type.shape[0 if y.ndim == 1 else -2], x, y)
        shape = x.type.shape[:-1] + y.type.shape[1:] if y.ndim == 2 else x.type.shape[:-1]
        return Apply(self, [x, y], [TensorType(_product_dtype(np.dot, x.dtype, y.dtype), shape)()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        output_storage[0][0] = np.asarray(np.dot(x, y), dtype=node.outputs[0].type.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        xs, ys = input_shapes
        return [tuple(xs[:-1]) + (tuple(ys[1:]) if len(ys) == 2 else ())]


class MatMul(Op):
    """NumPy's matmul: 1-d operands are promoted then squeezed; leading axes broadcast."""

    def make_node(self, x, y) -> Apply:
        x, y = as_tensor_variable(x), as_tensor_variable(y)
        if x.ndim == 0 or y.ndim == 0:
            raise ValueError(f"matmul: operands must not be 0-d (use *), got {describe(x)} and {describe(y)}")
        xs = x.type.shape if x.ndim > 1 else (1,) + x.type.shape
        ys = y.type.shape if y.ndim > 1 else y.type.shape + (1,)
        _check_len("matmul", xs[-1], ys[-2], x, y)
        nb = max(len(xs), len(ys)) - 2
        bx = (1,) * (nb - len(xs) + 2) + xs[:-2]
        by = (1,) * (nb - len(ys) + 2) + ys[:-2]
        batch = broadcast_static_shapes([bx, by], who="matmul") if nb else ()
        shape = batch + ((xs[-2],) if x.ndim > 1 else ()) + ((ys[-1],) if y.ndim > 1 else ())
        dtype = _product_dtype(np.matmul, x.dtype, y.dtype)
        return Apply(self, [x, y], [TensorType(dtype, shape)()])

    def perform(self, node, inputs, output_storage):
        x, y = inputs
        output_storage[0][0] = np.asarray(np.matmul(x, y), dtype=node.outputs[0].type.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.shape import broadcast_shape_symbolic

        xs, ys = list(input_shapes[0]), list(input_shapes[1])
        x, y = node.inputs
        xt, yt = list(x.type.shape), list(y.type.shape)
        if x.type.ndim == 1:
            xs, xt = [1] + xs, [1] + xt
        if y.type.ndim == 1:
            ys, yt = ys + [1], yt + [1]
        nb = max(len(xs), len(ys)) - 2
        def pad(s, n):  # the batch axes of s, left-padded with 1s to n axes
            return [1] * (n - len(s) + 2) + s[:-2]

        batch = broadcast_shape_symbolic([tuple(pad(xs, nb)), tuple(pad(ys, nb))],
                                         [tuple(pad(xt, nb)), tuple(pad(yt, nb))]) if nb else ()
        return [tuple(batch) + ((xs[-2],) if x.type.ndim > 1 else ()) + ((ys[-1],) if y.type.ndim > 1 else ())]


_dot = Dot()
_matmul = MatMul()


def matmul(x, y):
    """x @ y with NumPy's matmul semantics (batched over leading axes)."""
    return _matmul(x, y)


def dot(x, y):
    """NumPy's dot: a product for 0-d, inner/matrix products for 1-d/2-d, and for higher
    ranks a sum over the last axis of x and the second-to-last of y."""
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim == 0 or y.ndim == 0:
        from kiln.tensor.math import mul

        return mul(x, y)
    if x.ndim <= 2 and y.ndim <= 2:
        return _dot(x, y)
    return tensordot(x, y, axes=[[x.ndim - 1], [max(y.ndim - 2, 0)]])


def tensordot(a, b, axes=2):
    """NumPy's tensordot: sum over `axes` (an int, or a pair of axis lists)."""
    from kiln.tensor.shape import reshape, shape_i, transpose
    from kiln.tensor.math import mul
    from kiln.tensor.basic import constant

    a, b = as_tensor_variable(a), as_tensor_variable(b)
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        if n < 0 or n > a.ndim or n > b.ndim:
            raise ValueError(f"tensordot: axes={n} is invalid for {a.ndim}-d and {b.ndim}-d inputs")
        ax_a, ax_b = list(range(a.ndim - n, a.ndim)), list(range(n))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, (int, np.integer)) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, (int, np.integer)) else list(ax_b)
        if len(ax_a) != len(ax_b):
            raise ValueError(f"tensordot: axes lists {ax_a} and {ax_b} differ in length")
        from kiln.tensor.reduction import normalize_one_axis

        ax_a = [normalize_one_axis(i, a.ndim, "tensordot") for i in ax_a]
        ax_b = [normalize_one_axis(i, b.ndim, "tensordot") for i in ax_b]
        if len(set(ax_a)) != len(ax_a) or len(set(ax_b)) != len(ax_b):
            raise ValueError(f"tensordot: repeated axis in {axes}")
    for i, j in zip(ax_a, ax_b):
        _check_len("tensordot", a.type.shape[i], b.type.shape[j], a, b)
    free_a = [d for d in range(a.ndim) if d not in ax_a]
    free_b = [d for d in range(b.ndim) if d not in ax_b]
    at = transpose(a, free_a + ax_a)
    bt = transpose(b, ax_b + free_b)

    def prod_of(x, dims):
        n = constant(1, dtype="int64")
        for d in dims:
            n = mul(n, shape_i(x, d))
        return n

    a2 = reshape(at, [prod_of(a, free_a), prod_of(a, ax_a)], ndim=2)
    b2 = reshape(bt, [prod_of(b, ax_b), prod_of(b, free_b)], ndim=2)
    out_shape = [shape_i(a, d) for d in free_a] + [shape_i(b, d) for d in free_b]
    return reshape(_dot(a2, b2), out_shape, ndim=len(out_shape))


def outer(x, y):
    """Outer product of the flattened inputs."""
    from kiln.tensor.shape import flatten

    x, y = flatten(as_tensor_variable(x), 1), flatten(as_tensor_variable(y), 1)
    return x.dimshuffle(0, "x") * y.dimshuffle("x", 0)


# -- PyTensor module path: names pytensor.tensor.blas has that kiln defines elsewhere (see
# kiln/tensor/_reexport.py; resolved from kiln.tensor on first use) --
from kiln.tensor._reexport import lazy_reexport as _lazy_reexport  # noqa: E402

__getattr__, __dir__ = _lazy_reexport(__name__, (
    "batched_dot", "batched_tensordot"))
