"""Stabilized chain rules for compositions whose naive derivative is 0 * inf.

d/du log(sigmoid(u)) computed link by link is (1 / s) * s (1 - s): at u = -800, s underflows
to 0 and the product is nan.  Taken as one step it is 1 - s = sigmoid(-u), finite everywhere.
The jvp pass asks these matchers first (registry.CHAIN_RULES); a match gives the tangent of
the outer node straight from the tangents of the inner node's inputs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import kiln.scalar.math as ps
import kiln.tensor.math as km
from kiln.gradient.registry import CHAIN_RULES
from kiln.gradient.rules.helpers import mark_full, same_shape
from kiln.gradient.values import ZERO, is_zero


@dataclass(frozen=True)
class Chain:
    """skipped: the intermediate variables bypassed; sources: the variables whose tangents
    the rule uses; rule(tangents of sources) -> tangent of the outer node's output."""

    skipped: tuple
    sources: tuple
    rule: Callable


def _elemwise_of(v, scalar_cls):
    from kiln.tensor.elemwise import Elemwise

    n = v.owner
    if n is not None and isinstance(n.op, Elemwise) and isinstance(n.op.scalar_op, scalar_cls):
        return n
    return None


def _is_one(v) -> bool:
    from kiln.graph.basic import Constant
    from kiln.tensor.elemwise import DimShuffle
    import numpy as np

    while v.owner is not None and isinstance(v.owner.op, DimShuffle):
        v = v.owner.inputs[0]
    return isinstance(v, Constant) and np.all(np.asarray(v.data) == 1)


def _same(node, inner, coef_fn):
    """Tangent coef * t_u for unary chains, shaped like node's output (= u's shape)."""
    (u,) = inner.inputs
    out = node.outputs[0]

    def rule(ts):
        (t,) = ts
        if is_zero(t):
            return ZERO
        return mark_full(same_shape(km.mul(t, coef_fn(u)), out), 0, 1)
    return rule


def _log_of_sigmoid(node):
    inner = _elemwise_of(node.inputs[0], ps.Sigmoid)
    if inner is None:
        return None
    # d log(sigmoid(u)) = sigmoid(-u) du
    return Chain((node.inputs[0],), tuple(inner.inputs), _same(node, inner, lambda u: km.sigmoid(km.neg(u))))


def _log_of_one_minus_sigmoid(node):
    sub = _elemwise_of(node.inputs[0], ps.Sub)
    if sub is None or not _is_one(sub.inputs[0]):
        return None
    inner = _elemwise_of(sub.inputs[1], ps.Sigmoid)
    if inner is None or sub.inputs[1].type.shape != node.outputs[0].type.shape:
        return None
    # d log(1 - sigmoid(u)) = -sigmoid(u) du
    return Chain((node.inputs[0], sub.inputs[1]), tuple(inner.inputs),
                 _same(node, inner, lambda u: km.neg(km.sigmoid(u))))


def _log_of_softmax(node):
    import importlib

    special = importlib.import_module("kiln.tensor.special")
    inner = node.inputs[0].owner
    if inner is None or not isinstance(inner.op, getattr(special, "Softmax", ())):
        return None
    (u,) = inner.inputs
    sm = inner.outputs[0]
    ax = inner.op.axis

    def rule(ts):
        (t,) = ts
        if is_zero(t):
            return ZERO
        # d log(softmax(u)) = t - sum(softmax(u) * t): no division by a softmax that underflowed
        st = mark_full(same_shape(sm * t, sm), 0, 1)
        return mark_full(same_shape(t - km.sum(st, axis=ax, keepdims=True), sm), 0, 1)
    return Chain((node.inputs[0],), (u,), rule)


CHAIN_RULES.setdefault(ps.Log, []).extend([_log_of_sigmoid, _log_of_one_minus_sigmoid, _log_of_softmax])
