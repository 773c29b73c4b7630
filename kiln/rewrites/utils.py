"""Helpers the rule sets share: constant inspection, symbolic shapes, type fitting."""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable

__all__ = ["constant_value", "is_constant", "shape_tuple", "output_shape", "fit_to", "fill_like",
           "elemwise_scalar_op"]


def constant_value(var: Variable) -> np.ndarray | None:
    """The value of a constant, seen through broadcasting DimShuffles (which only add 'x' axes).

    Returns None when `var` is not such a constant.
    """
    from kiln.tensor.elemwise import DimShuffle

    while var.owner is not None:
        op = var.owner.op
        if isinstance(op, DimShuffle) and not op.drop:
            var = var.owner.inputs[0]
            continue
        return None
    if isinstance(var, Constant):
        return np.asarray(var.data)
    return None


def is_constant(var: Variable, value: Any) -> bool:
    """True when var is a (broadcast) constant whose every element equals value (not empty)."""
    data = constant_value(var)
    if data is None or data.size == 0:
        return False
    with np.errstate(all="ignore"):
        return bool(np.all(data == value))


def elemwise_scalar_op(var_or_node: Any):
    """The scalar op of an Elemwise node (or of a variable's owner), else None."""
    from kiln.tensor.elemwise import Elemwise

    node = var_or_node.owner if isinstance(var_or_node, Variable) else var_or_node
    if node is not None and isinstance(node.op, Elemwise):
        return node.op.scalar_op
    return None


def shape_tuple(var: Variable, fgraph=None) -> tuple:
    """The symbolic shape of var: static lengths as ints, Shape_i nodes elsewhere.

    With `fgraph`, a Shape_i node already in the graph is reused, so that shape expressions
    built by different rules share their parts (otherwise the shapes of deep elementwise graphs,
    whose lengths are switch(...) of their inputs' lengths, would be rebuilt per use and grow
    exponentially with depth).
    """
    from kiln.tensor.shape import Shape_i

    dims = []
    for d, n in enumerate(var.type.shape):
        if n is not None:
            dims.append(n)
            continue
        found = None
        if fgraph is not None:
            for client, _ in fgraph.clients.get(var, ()):
                if client != "output" and isinstance(client.op, Shape_i) and client.op.i == d:
                    found = client.outputs[0]
                    break
        dims.append(found if found is not None else Shape_i(d)(var))
    return tuple(dims)


def output_shape(node: Apply, i: int = 0, fgraph=None) -> tuple:
    """Symbolic shape of node.outputs[i] in terms of node's inputs (not of the output itself).

    Rules use it to build replacements that must not keep the replaced node alive.
    """
    out = node.outputs[i]
    if all(n is not None for n in out.type.shape):
        return tuple(out.type.shape)
    try:
        shapes = node.op.infer_shape(None, node, [shape_tuple(v, fgraph) for v in node.inputs])
        res = tuple(shapes[i])
    except NotImplementedError:
        return shape_tuple(out, fgraph)
    return tuple(s if n is None else n for s, n in zip(res, out.type.shape))


def fill_like(value: Any, node: Apply, i: int = 0, fgraph=None) -> Variable:
    """A tensor shaped and typed like node.outputs[i], filled with `value`."""
    from kiln.tensor.basic import constant
    from kiln.tensor.creation import alloc

    out = node.outputs[i]
    c = constant(np.asarray(value, dtype=out.type.dtype))
    if out.type.ndim == 0:
        return c
    shp = output_shape(node, i, fgraph)
    if all(isinstance(s, (int, np.integer)) for s in shp) and all(s == 1 for s in shp):
        return constant(np.full(tuple(int(s) for s in shp), value, dtype=out.type.dtype))
    return alloc(c, *shp)


def fit_to(new: Variable, old: Variable, node: Apply, fgraph=None) -> Variable:
    """Cast and broadcast `new` so it can replace `old` (an output of `node`).

    Used for pattern rules, which state value identities (x * 1 = x) and leave dtype and
    broadcasting to the engine: NumPy's result of the matched expression is what `new`
    becomes, so the replacement computes the same values with the same type.
    """
    from kiln.tensor.basic import as_tensor_variable
    from kiln.tensor.creation import alloc
    from kiln.tensor.math import cast

    ot = old.type
    new = as_tensor_variable(new)
    if new.type.ndim > ot.ndim:
        raise TypeError(f"replacement {new} has more dimensions than {old}")
    if new.type.dtype != ot.dtype:
        new = cast(new, ot.dtype)
    if ot.is_super(new.type):
        return new
    if new.type.ndim < ot.ndim or any(a is not None and b != a for a, b in zip(ot.shape, new.type.shape)):
        new = alloc(new, *output_shape(node, old.index, fgraph))
    if ot.is_super(new.type):
        return new
    conv = ot.convert_variable(new)
    if conv is None:
        raise TypeError(f"cannot fit {new} of type {new.type} to {old} of type {ot}")
    return conv
