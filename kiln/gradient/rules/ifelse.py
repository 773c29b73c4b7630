"""IfElse: the tangent of the chosen branch; linear in the branch values (not the condition),
whose transpose sends each output's cotangent to the chosen branch and zeros to the other."""
from __future__ import annotations

from kiln.gradient.registry import register_jvp, register_transpose
from kiln.gradient.rules.helpers import instantiate
from kiln.gradient.values import ZERO, is_zero
from kiln.graph.basic import Variable
from kiln.ifelse import IfElse, LazyIfElse


@register_jvp(IfElse)
def _ifelse_jvp(node, tangents):
    n = node.op.n_outs
    cond = node.inputs[0]
    out = []
    for k in range(n):
        tt, te = tangents[1 + k], tangents[1 + n + k]
        if is_zero(tt) and is_zero(te):
            out.append(ZERO)
            continue
        t_then = instantiate(tt, node.inputs[1 + k])
        t_else = instantiate(te, node.inputs[1 + n + k])
        out.append(IfElse(1)(cond, t_then, t_else))
    return out


def _ifelse_linear(node, mask) -> bool:
    return not mask[0]   # linear in the branch values as long as the condition is fixed


@register_transpose(IfElse, linear=_ifelse_linear)
def _ifelse_t(node, cts, mask, ctx):
    n = node.op.n_outs
    cond = node.inputs[0]
    res = [None] * (1 + 2 * n)
    for k, ct in enumerate(cts):
        if is_zero(ct):
            continue
        then_v, else_v = node.inputs[1 + k], node.inputs[1 + n + k]
        if mask[1 + k]:
            res[1 + k] = IfElse(1)(cond, ct, ctx.zeros(then_v))
        if mask[1 + n + k]:
            res[1 + n + k] = IfElse(1)(cond, ctx.zeros(else_v), ct)
    return res


@register_jvp(LazyIfElse)
def _lazy_jvp(node, tangents):
    """The tangent of a LazyIfElse: that of the eager ifelse it stands for (an ifelse of the
    branches' tangents, which compiles to a lazy one again)."""
    from kiln.gradient.forward import push_tangents
    from kiln.graph.replace import clone_replace

    op = node.op
    vals = clone_replace(list(op.inner_outputs), dict(zip(op.inner_inputs, node.inputs[1:])))
    eager = IfElse(op.n_outs)(node.inputs[0], *vals)
    eager = [eager] if isinstance(eager, Variable) else list(eager)
    st = push_tangents(eager, list(node.inputs[1:]), list(tangents[1:]))
    return [st.tangent(o) for o in eager]
