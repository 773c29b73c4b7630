"""Helpers for writing rules in the common shapes: linear, bilinear, zero-derivative,
and elementwise-with-derivative (see `defderiv` in kiln.gradient.rules.elemwise)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from kiln.gradient.registry import register_jvp, register_transpose
from kiln.gradient.values import ZERO, is_zero

__all__ = ["same_shape", "mark_full", "zero_derivative", "linear_jvp", "defbilinear", "instantiate", "first_nonzero"]


def same_shape(t, primal):
    """Record that tangent expression `t` has the run-time shape of the primal variable
    `primal`, so transposition reads shapes from the primal (no shape arithmetic)."""
    if not is_zero(t) and t is not primal:
        t.tag.setdefault("shape_like", primal)
    return t


def mark_full(t, *inputs: int):
    """Record that inputs `inputs` of the elementwise node computing `t` are not broadcast at
    run time (each axis of unknown length has the output's length; known to the rule, e.g. a
    unary op's input and its derivative), so the transpose needs no run-time reduction for them."""
    if not is_zero(t) and t.owner is not None:
        t.tag["full_inputs"] = frozenset(inputs) | t.tag.get("full_inputs", frozenset())
    return t


def instantiate(t: Any, primal):
    """A Zero tangent as real zeros shaped like `primal` (only where a rule cannot skip it)."""
    if not is_zero(t):
        return t
    from kiln.tensor.creation import zeros_like

    return zeros_like(primal)


def zero_derivative(*op_classes: type) -> None:
    """Register ops whose outputs do not vary with their inputs (argmax, shape, comparisons...)."""
    for c in op_classes:
        register_jvp(c)(lambda node, tangents: [ZERO] * len(node.outputs))


def linear_jvp(*op_classes: type, linear: Sequence[int] = (0,)) -> None:
    """Register the jvp of ops linear in the inputs `linear`: the op applied to the tangents.
    The other inputs only describe shapes or positions (a shape vector, indices, a reference
    array), so their derivative is zero.  Zero tangents of linear inputs become zeros."""

    def rule(node, tangents):
        if all(is_zero(tangents[i]) for i in linear):
            return [ZERO] * len(node.outputs)
        ins = [instantiate(tangents[i], node.inputs[i]) if i in linear else node.inputs[i]
               for i in range(len(node.inputs))]
        out = node.op.make_node(*ins).outputs
        return list(out)

    for c in op_classes:
        register_jvp(c)(rule)


def defbilinear(op_class: type, transpose_x: Callable, transpose_y: Callable) -> None:
    """Register a bilinear op f(x, y): jvp f(tx, y) + f(x, ty); transposes given per side
    as ``transpose_x(node, ct, ctx)`` and ``transpose_y(node, ct, ctx)``."""

    def jvp(node, tangents):
        x, y = node.inputs[:2]
        tx, ty = tangents[:2]
        terms = []
        if not is_zero(tx):
            terms.append(same_shape(node.op(tx, y), node.outputs[0]))
        if not is_zero(ty):
            terms.append(same_shape(node.op(x, ty), node.outputs[0]))
        if not terms:
            return [ZERO]
        # both terms have the output's shape: their sum broadcasts nothing
        return [terms[0] if len(terms) == 1 else mark_full(terms[0] + terms[1], 0, 1)]

    def transpose(node, cts, mask, ctx):
        (ct,) = cts
        return [transpose_x(node, ct, ctx) if mask[0] else None,
                transpose_y(node, ct, ctx) if mask[1] else None]

    register_jvp(op_class)(jvp)
    register_transpose(op_class, linear=lambda node, mask: sum(mask[:2]) == 1 and not any(mask[2:]))(transpose)


def first_nonzero(ts: Sequence[Any]) -> Any:
    for t in ts:
        if not is_zero(t):
            return t
    return ZERO
