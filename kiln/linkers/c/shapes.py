"""Run-time output shapes of kernel nodes: a table keyed by op class.

A segment allocates its kernels' outputs before the native call, so every op with a C
lowering also needs a shape rule here: `rule(node, shapes, args) -> output shape`, where
`shapes` are the input shapes and `args` the input values.  Most rules read shapes only;
ops whose output shape comes from input *values* (a target-shape vector, say) list those
inputs in `VALUE_INPUTS`, and the linker makes sure such inputs are computed before the
segment starts (their values are read at allocation time).  Rules raise NumPy's errors
(ValueError, IndexError) for bad shapes, before any native code runs.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from kiln.graph.basic import Apply
from kiln.linkers.python import describe_node
from kiln.rewrites.blas_ops import Gemm, Gemv, MatVecPair
from kiln.tensor import reduction as red
from kiln.tensor.blas import Dot, MatMul
from kiln.tensor.elemwise import Elemwise
from kiln.tensor.extra_ops import CumOp
from kiln.tensor.join import Join
from kiln.tensor.special import LogSoftmax, Softmax

__all__ = ["SHAPE_RULES", "VALUE_INPUTS", "output_shape", "value_inputs"]

ShapeRule = Callable[[Apply, list, list], tuple]


def _shapes_elemwise(node: Apply, shapes: list[tuple], args: list) -> tuple:
    first = shapes[0]
    if all(s == first for s in shapes):   # the common case, without NumPy's overhead
        return first
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(f"{node.op}: input shapes {', '.join(map(str, shapes))} do not broadcast "
                         f"(in {describe_node(node)})") from None


def _shapes_reduce(node: Apply, shapes: list[tuple], args: list) -> tuple:
    (shp,) = shapes
    axes = node.op.axis
    if isinstance(node.op, (red.Max, red.Min)) and int(np.prod([shp[a] for a in axes])) == 0:
        raise ValueError(f"zero-size array to reduction operation {type(node.op).__name__.lower()}imum "
                         f"which has no identity (in {describe_node(node)})")
    return tuple(s for d, s in enumerate(shp) if d not in axes)


def _shapes_product(node: Apply, shapes: list[tuple], args: list) -> tuple:
    """Dot/MatMul: NumPy's matmul shape rule (for 1-d/2-d operands dot's is the same)."""
    xs, ys = shapes
    px = xs if len(xs) > 1 else (1,) + xs
    py = ys if len(ys) > 1 else ys + (1,)
    if px[-1] != py[-2]:
        raise ValueError(f"{node.op}: shapes {xs} and {ys} not aligned: {px[-1]} (dim {len(xs) - 1}) != "
                         f"{py[-2]} (dim {max(len(ys) - 2, 0)}) (in {describe_node(node)})")
    try:
        batch = np.broadcast_shapes(px[:-2], py[:-2])
    except ValueError:
        raise ValueError(f"{node.op}: batch shapes of {xs} and {ys} do not broadcast "
                         f"(in {describe_node(node)})") from None
    return batch + ((px[-2],) if len(xs) > 1 else ()) + ((py[-1],) if len(ys) > 1 else ())


def _shapes_gemm(node: Apply, shapes: list[tuple], args: list) -> tuple:
    """Gemm/Gemv: the product's shape broadcast with the added term's."""
    cs, _, xs, ys, _ = shapes
    prod = _shapes_product(node, [xs, ys], args)
    try:
        return np.broadcast_shapes(prod, cs)
    except ValueError:
        raise ValueError(f"{node.op}: the added term's shape {cs} does not broadcast to the product's "
                         f"{prod} (in {describe_node(node)})") from None


def _shapes_same(node: Apply, shapes: list[tuple], args: list) -> tuple:
    """Softmax/LogSoftmax/CumOp: the input's shape."""
    return tuple(shapes[0])


def _shapes_argext(node: Apply, shapes: list[tuple], args: list) -> tuple:
    """Argmax/Argmin: the other axes (none for axis=None); an empty slice raises as in NumPy."""
    (shp,) = shapes
    axis = node.op.axis
    if int(np.prod(shp if axis is None else shp[axis])) == 0:
        name = "argmax" if isinstance(node.op, red.Argmax) else "argmin"
        raise ValueError(f"attempt to get {name} of an empty sequence (in {describe_node(node)})")
    return () if axis is None else tuple(s for d, s in enumerate(shp) if d != axis)


def _shapes_join(node: Apply, shapes: list[tuple], args: list) -> tuple:
    """Join: NumPy's concatenate shape rule (other axes must match exactly)."""
    axis, first = node.op.axis, shapes[0]
    for k, s in enumerate(shapes[1:], 1):
        for d, (a, b) in enumerate(zip(first, s)):
            if d != axis and a != b:
                raise ValueError(f"all the input array dimensions except for the concatenation axis must "
                                 f"match exactly, but along dimension {d}, the array at index 0 has size "
                                 f"{a} and the array at index {k} has size {b} (in {describe_node(node)})")
    return first[:axis] + (sum(s[axis] for s in shapes),) + first[axis + 1:]


def _shapes_matvec_pair(node: Apply, shapes: list[tuple], args: list) -> tuple:
    """MatVecPair(A, x1, x2): both outputs have A's row count; x1 and x2 its column count."""
    a, x1, x2 = shapes
    for x in (x1, x2):
        if x[0] != a[1]:
            raise ValueError(f"{node.op}: shapes {a} and {x} not aligned: {a[1]} (dim 1) != {x[0]} (dim 0) "
                             f"(in {describe_node(node)})")
    return a[:1]


SHAPE_RULES: dict[type, ShapeRule] = {
    Elemwise: _shapes_elemwise, Dot: _shapes_product, MatMul: _shapes_product, Gemm: _shapes_gemm,
    Gemv: _shapes_gemm, MatVecPair: _shapes_matvec_pair, Softmax: _shapes_same, LogSoftmax: _shapes_same,
    CumOp: _shapes_same,
    red.Argmax: _shapes_argext, red.Argmin: _shapes_argext, Join: _shapes_join,
    **{cls: _shapes_reduce for cls in (red.Sum, red.Prod, red.Max, red.Min, red.Any, red.All)},
}

#: op class -> positions of the inputs whose values (not just shapes) a shape rule reads
VALUE_INPUTS: dict[type, Callable[[Apply], tuple[int, ...]]] = {}


def output_shape(node: Apply, args: list) -> tuple:
    """The shape of `node`'s outputs for input values `args` (every output has this shape)."""
    return SHAPE_RULES[type(node.op)](node, [np.shape(a) for a in args], args)


def value_inputs(node: Apply) -> tuple[int, ...]:
    """Positions of the inputs of `node` whose values its shape rule reads (usually none)."""
    rule = VALUE_INPUTS.get(type(node.op))
    return () if rule is None else rule(node)
