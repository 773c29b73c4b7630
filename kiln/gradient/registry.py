"""The rule tables: jvp and transpose rules keyed by op class (scalar op class for Elemwise).

Rules are data.  A file in `kiln/gradient/rules/` registers the rules for one family
of ops; user ops without a table entry fall back to their own `jvp`/`transpose`
methods (see kiln.graph.op.Op).

Protocols:

- jvp rule: ``rule(node, tangents) -> list`` of output tangents.  `tangents[i]` is a
  tensor variable (same type as ``node.inputs[i]``) or `Zero`; return `Zero`/None for
  an output whose tangent vanishes.  Write it as "coefficient from primals x tangent".
- transpose rule (linear ops only): ``rule(node, cotangents, linear, ctx) -> list`` of
  input cotangents, one per input (None/Zero for inputs that are not linear, i.e.
  ``linear[i]`` is False).  `ctx` (a TransposeContext) gives shapes of linear inputs
  (``ctx.shape_vec(v)``, ``ctx.sum_to(ct, v, axes)``, ``ctx.zeros(v)``).
- linear inputs: which inputs an op is linear in; a tuple of indices, or a callable
  ``(node, mask) -> bool`` telling whether the tangent-carrying inputs `mask` keep the
  node linear (e.g. a product is linear in any *one* factor).
"""
from __future__ import annotations

from typing import Any, Callable

from kiln.graph.op import Op

__all__ = ["CHAIN_RULES", "find_chain_rule", "JVP_RULES", "TRANSPOSE_RULES", "LINEAR_INPUTS", "ELEMWISE_JVP", "ELEMWISE_TRANSPOSE",
           "ELEMWISE_LINEAR", "STRUCTURAL_OPS", "register_jvp", "register_transpose",
           "register_elemwise_jvp", "register_elemwise_transpose", "get_jvp_rule",
           "get_transpose_rule", "linear_ok"]

JVP_RULES: dict[type, Callable] = {}
TRANSPOSE_RULES: dict[type, Callable] = {}
LINEAR_INPUTS: dict[type, Any] = {}
ELEMWISE_JVP: dict[type, Callable] = {}
ELEMWISE_TRANSPOSE: dict[type, Callable] = {}
ELEMWISE_LINEAR: dict[type, Any] = {}
#: stabilized chain rules: scalar op class of an outer Elemwise -> [matcher(node) -> Chain | None].
#: A matcher recognizes a composition such as log(sigmoid(u)) and gives its tangent directly
#: in terms of u's tangent, skipping an intermediate coefficient that over/underflows.
CHAIN_RULES: dict[type, list] = {}
#: ops whose output describes only the *shape* of their input (Shape, Shape_i): applied to a
#: tangent they give a primal quantity, never a linear one
STRUCTURAL_OPS: set[type] = set()


def register_jvp(*op_classes: type) -> Callable:
    """Decorator: register a jvp rule for op classes."""
    def deco(fn: Callable) -> Callable:
        for c in op_classes:
            JVP_RULES[c] = fn
        return fn
    return deco


def register_transpose(*op_classes: type, linear: Any = None) -> Callable:
    """Decorator: register a transpose rule (and the op's linear inputs) for op classes."""
    def deco(fn: Callable) -> Callable:
        for c in op_classes:
            TRANSPOSE_RULES[c] = fn
            if linear is not None:
                LINEAR_INPUTS[c] = linear
        return fn
    return deco


def register_elemwise_jvp(*scalar_classes: type) -> Callable:
    def deco(fn: Callable) -> Callable:
        for c in scalar_classes:
            ELEMWISE_JVP[c] = fn
        return fn
    return deco


def register_elemwise_transpose(*scalar_classes: type, linear: Any = None) -> Callable:
    def deco(fn: Callable) -> Callable:
        for c in scalar_classes:
            ELEMWISE_TRANSPOSE[c] = fn
            if linear is not None:
                ELEMWISE_LINEAR[c] = linear
        return fn
    return deco


def _lookup(table: dict, cls: type):
    for c in cls.__mro__:
        if c in table:
            return table[c]
    return None


def _elemwise_scalar(op: Op):
    from kiln.tensor.elemwise import Elemwise

    return type(op.scalar_op) if isinstance(op, Elemwise) else None


def get_jvp_rule(op: Op) -> Callable | None:
    """The jvp rule for `op`: its table entry, else its own `jvp` method, else None."""
    _load_rules()
    sc = _elemwise_scalar(op)
    if sc is not None:
        rule = _lookup(ELEMWISE_JVP, sc)
        if rule is not None:
            return rule
    rule = _lookup(JVP_RULES, type(op))
    if rule is not None:
        return rule
    if type(op).jvp is not Op.jvp:
        return lambda node, tangents: node.op.jvp(node, tangents)
    from kiln.gradient.methods import method_jvp_rule   # an op written for PyTensor: grad/L_op/R_op

    return method_jvp_rule(op)


def get_transpose_rule(op: Op) -> Callable | None:
    _load_rules()
    sc = _elemwise_scalar(op)
    if sc is not None:
        return _lookup(ELEMWISE_TRANSPOSE, sc)
    rule = _lookup(TRANSPOSE_RULES, type(op))
    if rule is not None:
        return rule
    if type(op).transpose is not Op.transpose:
        return lambda node, cts, linear, ctx: node.op.transpose(node, cts, linear)
    return None


def linear_ok(node, mask: list[bool]) -> bool:
    """Whether `node` stays linear when the tangent reaches the inputs flagged in `mask`."""
    _load_rules()
    sc = _elemwise_scalar(node.op)
    decl = _lookup(ELEMWISE_LINEAR, sc) if sc is not None else _lookup(LINEAR_INPUTS, type(node.op))
    if decl is None:
        decl = node.op.linear_inputs
    if decl is None:
        return False
    if callable(decl):
        return bool(decl(node, mask))
    return all(i in decl for i, m in enumerate(mask) if m)


_loaded = False


def _load_rules() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        import kiln.gradient.rules  # noqa: F401  (registers every table entry)


def find_chain_rule(node):
    """A stabilized chain rule matching `node` (see CHAIN_RULES), or None."""
    _load_rules()
    sc = _elemwise_scalar(node.op)
    if sc is None:
        return None
    for matcher in CHAIN_RULES.get(sc, ()):
        found = matcher(node)
        if found is not None:
            return found
    return None
