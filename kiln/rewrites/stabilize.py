"""Stabilize: rewrite formulas that overflow or lose precision into safe equivalents.

log(1 + x) -> log1p(x)             accurate for tiny x
exp(x) - 1 -> expm1(x)             accurate for tiny x
log(1 + exp(x)) -> softplus(x)     finite for x = 800 (log1p(exp x) too)
log(sigmoid(x)) -> -softplus(-x)   finite for x = -800
log(1 - sigmoid(x)) -> -softplus(x)
log(softmax(z)) -> log_softmax(z)  finite when a probability underflows
log(sum(exp(x))) -> max + log(sum(exp(x - max)))   finite for x = +-800
"""
from __future__ import annotations

import kiln.tensor as kt
from kiln.rewrites.engine import node_rewriter
from kiln.rewrites.pattern import pattern_rule
from kiln.tensor.elemwise import DimShuffle
from kiln.tensor.reduction import Sum


def _float(name: str):
    def guard(env):
        return env[name].type.dtype in ("float16", "float32", "float64")
    return guard


log1p_rule = pattern_rule((kt.log, (kt.add, 1, "x")), (kt.log1p, "x"), name="log1p")
log1p_sub = pattern_rule((kt.log, (kt.sub, 1, "x")), (kt.log1p, (kt.neg, "x")), name="log1p_of_sub")
expm1_rule = pattern_rule((kt.sub, (kt.exp, "x"), 1), (kt.expm1, "x"), name="expm1")
expm1_add = pattern_rule((kt.add, (kt.exp, "x"), -1), (kt.expm1, "x"), name="expm1_of_add")
softplus_rule = pattern_rule((kt.log1p, (kt.exp, "x")), (kt.softplus, "x"), name="softplus")
log_sigmoid = pattern_rule((kt.log, (kt.sigmoid, "x")), (kt.neg, (kt.softplus, (kt.neg, "x"))),
                           name="log_sigmoid")
log1m_sigmoid = pattern_rule((kt.log1p, (kt.neg, (kt.sigmoid, "x"))), (kt.neg, (kt.softplus, "x")),
                             name="log1m_sigmoid")
log1m_sigmoid_sub = pattern_rule((kt.log, (kt.sub, 1, (kt.sigmoid, "x"))), (kt.neg, (kt.softplus, "x")),
                                 name="log1m_sigmoid_sub")


@node_rewriter([kt.log])
def log_softmax(fgraph, node):
    """log(softmax(z, axis)) -> log_softmax(z, axis) (when kiln.tensor.special provides them)."""
    x = node.inputs[0]
    if x.owner is None or type(x.owner.op).__name__ != "Softmax":
        return None
    try:
        from kiln.tensor import special
    except ImportError:
        return None
    ls = getattr(special, "LogSoftmax", None)
    if ls is None:
        return None
    axis = getattr(x.owner.op, "axis", None)
    try:
        return [ls(axis)(*x.owner.inputs) if axis is not None or "axis" in getattr(ls, "__props__", ())
                else ls()(*x.owner.inputs)]
    except TypeError:
        return None


@node_rewriter([kt.log])
def logsumexp(fgraph, node):
    """log(sum(exp(x), axis)) -> m + log(sum(exp(x - m), axis)), m = max over axis (finite-safe)."""
    s = node.inputs[0]
    keep = None
    if s.owner is not None and isinstance(s.owner.op, DimShuffle):  # keepdims form
        keep = s.owner.op
        s = s.owner.inputs[0]
    if s.owner is None or not isinstance(s.owner.op, Sum) or s.owner.op.dtype is not None:
        return None
    e = s.owner.inputs[0]
    if e.owner is None or e.owner.op != kt.exp:
        return None
    x = e.owner.inputs[0]
    if x.type.dtype not in ("float16", "float32", "float64") or s.type.dtype != x.type.dtype:
        return None
    if _shifted_by_max(x):
        return None  # already the stable form (this rule's own output)
    axis = s.owner.op.axis
    res = kt.logsumexp(x, axis=axis)
    if keep is not None:
        res = keep(res)
    return [res]


def _shifted_by_max(x) -> bool:
    from kiln.tensor.reduction import Max

    if x.owner is None or x.owner.op != kt.sub:
        return False
    stack, depth = [(x.owner.inputs[1], 0)], 0
    while stack:
        v, depth = stack.pop()
        if v.owner is None or depth > 4:
            continue
        if isinstance(v.owner.op, Max):
            return True
        stack.extend((i, depth + 1) for i in v.owner.inputs)
    return False


RULES = [(log1p_rule, ()), (log1p_sub, ()), (expm1_rule, ()), (expm1_add, ()), (softplus_rule, ()),
         (log_sigmoid, ()), (log1m_sigmoid, ()), (log1m_sigmoid_sub, ()), (log_softmax, ()),
         (logsumexp, ())]
