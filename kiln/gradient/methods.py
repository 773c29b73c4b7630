"""Derivatives of ops written for PyTensor: their `grad` / `L_op` and `R_op` methods.

A PyTensor user's Op gives its derivative as methods, not as kiln rule-table entries:
`grad(inputs, output_grads)` or `L_op(inputs, outputs, output_grads)` (reverse mode) and
`R_op(inputs, eval_points)` (forward mode).  kiln's reverse mode transposes a jvp, so such an op
is given a jvp made of one linear node, `MethodLinear`, whose transpose calls the op's L_op/grad
(the same construction as OpFromGraph's pullback override).  Forward mode evaluates that node
with the op's R_op when it has one.  An op with only R_op gets R_op as its jvp rule, and reverse
mode transposes R_op's graph.

In a grad method, `grad_undefined(op, i, x, comment)` and `grad_not_implemented(op, i, x,
comment)` mark input i's gradient as undefined or missing: asking for a gradient that needs it
raises `NullTypeGradError` with the comment; `disconnected_type()` (or None) says the output
does not depend on that input.

>>> import numpy as np, kiln, kiln.tensor as kt
>>> from kiln.graph.basic import Apply
>>> from kiln.graph.op import Op
>>> class Double(Op):
...     def make_node(self, x):
...         x = kt.as_tensor_variable(x)
...         return Apply(self, [x], [x.type()])
...     def perform(self, node, inputs, output_storage):
...         output_storage[0][0] = inputs[0] * 2
...     def grad(self, inputs, output_grads):
...         return [output_grads[0] * 2]
>>> x = kt.dvector("x")
>>> kiln.grad(Double()(x).sum(), x).eval({x: np.ones(2)}).tolist()
[2.0, 2.0]
"""
from __future__ import annotations

from typing import Any, Callable

from kiln.graph.basic import Apply, Variable
from kiln.graph.op import Op
from kiln.gradient.registry import register_transpose
from kiln.gradient.values import ZERO, DisconnectedType, NullTypeGradError, is_zero

__all__ = ["method_jvp_rule", "MethodLinear", "NullGradient", "grad_undefined", "grad_not_implemented"]


def _defines(op: Op, name: str) -> bool:
    """Whether the op's class (not kiln's Op base) defines method `name`."""
    return callable(getattr(type(op), name, None)) and not hasattr(Op, name)


def method_jvp_rule(op: Op) -> Callable | None:
    """The jvp rule built from the op's PyTensor-style methods, or None when it has none."""
    if _defines(op, "L_op") or _defines(op, "grad"):
        return _lop_jvp
    if _defines(op, "R_op"):
        return _rop_jvp
    return None


def _filled(values, like) -> list:
    from kiln.tensor.creation import zeros_like

    return [zeros_like(p) if is_zero(v) else v for v, p in zip(values, like)]


def _as_tangents(res: Any, n: int, who: str) -> list:
    res = list(res) if isinstance(res, (list, tuple)) else [res]
    if len(res) != n:
        raise ValueError(f"{who} returned {len(res)} values for {n}")
    return [ZERO if r is None or isinstance(getattr(r, "type", None), DisconnectedType) else r for r in res]


def _rop_jvp(node: Apply, tangents: list) -> list:
    outs = node.op.R_op(list(node.inputs), _filled(tangents, node.inputs))
    return _as_tangents(outs, len(node.outputs), f"{node.op}.R_op")


def _lop_jvp(node: Apply, tangents: list) -> list:
    res = MethodLinear(node.op, len(node.inputs), len(node.outputs))(*node.inputs, *node.outputs,
                                                  *_filled(tangents, node.inputs))
    return res if isinstance(res, list) else [res]


class MethodLinear(Op):
    """The tangent of an op with a grad/L_op method: linear in its last inputs (the input
    tangents); inputs (*primal inputs, *primal outputs, *tangents)."""

    __props__ = ("op", "n_in", "n_out")

    def __init__(self, op: Op, n_in: int, n_out: int):
        self.op, self.n_in, self.n_out = op, n_in, n_out
        self.linear_inputs = tuple(range(n_in + n_out, 2 * n_in + n_out))

    def make_node(self, *args: Variable) -> Apply:
        outs = args[self.n_in:self.n_in + self.n_out]
        return Apply(self, list(args), [o.type() for o in outs])

    def perform(self, node, inputs, output_storage):
        # forward mode (Rop) through an op that has a reverse-mode method: its R_op, compiled
        # once per node, or an error saying what is missing
        fn = node.tag.get("rop_fn")
        if fn is None:
            if not _defines(self.op, "R_op"):
                raise NotImplementedError(f"{self.op} defines grad/L_op but no R_op: forward mode "
                                          f"(Rop, pushforward) through it is not available")
            import kiln

            n_in = self.n_in
            ins = [v.type() for v in node.inputs[:n_in]]
            ts = [v.type() for v in node.inputs[len(node.inputs) - n_in:]]
            outs = _as_tangents(self.op.R_op(ins, ts), len(node.outputs), f"{self.op}.R_op")
            from kiln.tensor.creation import zeros_like

            prim = self.op.make_node(*ins).outputs
            outs = [zeros_like(p) if is_zero(o) else o for o, p in zip(outs, prim)]
            fn = node.tag["rop_fn"] = kiln.function(ins + ts, outs, mode=kiln.Mode(linker="py"),
                                                    on_unused_input="ignore")
        n_in = self.n_in
        vals = fn(*inputs[:n_in], *inputs[len(inputs) - n_in:])
        for store, v in zip(output_storage, vals if isinstance(vals, list) else [vals]):
            store[0] = v


@register_transpose(MethodLinear)
def _method_t(node, cts, mask, ctx):
    op, n_in, n_out = node.op.op, node.op.n_in, node.op.n_out
    ins, outs = list(node.inputs[:n_in]), list(node.inputs[n_in:n_in + n_out])
    cts = _filled(cts, outs)
    if _defines(op, "L_op"):
        res = op.L_op(ins, outs, cts)
    else:
        res = op.grad(ins, cts)
    res = _as_tangents(res, n_in, f"{op}.{'L_op' if _defines(op, 'L_op') else 'grad'}")
    for k, (r, needed) in enumerate(zip(res, mask[n_in + n_out:])):
        if not is_zero(r) and r.owner is not None and isinstance(r.owner.op, NullGradient):
            if needed:   # a gradient asked for goes through an undefined one
                raise NullTypeGradError(r.owner.op.message)
            res[k] = ZERO
    return [None] * (n_in + n_out) + res


class NullGradient(Op):
    """A stand-in for a gradient that is undefined or not implemented (see grad_undefined);
    asking for a gradient that needs it raises NullTypeGradError with `message`."""

    __props__ = ("message",)

    def __init__(self, message: str):
        self.message = message

    def make_node(self, x: Variable) -> Apply:
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        raise NullTypeGradError(self.message)


def grad_undefined(op: Any, x_pos: int, x: Variable, comment: str = "") -> Variable:
    """In an Op's grad method: input `x_pos`'s gradient is mathematically undefined."""
    msg = f"the gradient of {op} with respect to its input {x_pos} is undefined"
    return NullGradient(msg + (f": {comment}" if comment else ""))(x)


def grad_not_implemented(op: Any, x_pos: int, x: Variable, comment: str = "") -> Variable:
    """In an Op's grad method: input `x_pos`'s gradient is not implemented."""
    msg = f"the gradient of {op} with respect to its input {x_pos} is not implemented"
    return NullGradient(msg + (f": {comment}" if comment else ""))(x)
