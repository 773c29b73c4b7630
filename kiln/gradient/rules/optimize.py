"""scipy.optimize ops (kiln.tensor.optimize): the implicit function theorem.

The solution x* satisfies F(x*, θ) = 0, with F the equations (root, root_scalar) or the
objective's gradient in x (minimize, minimize_scalar).  Differentiating that identity gives
J_x dx* + J_θ dθ = 0, so dx* = -J_x⁻¹ (J_θ dθ), J_x being the Jacobian of F in x (the
Hessian, for a minimization).  J_θ dθ is the jvp of the op's inner F along the parameters'
tangents, moved onto (x*, θ); the inverse is a `solve` (a division for a scalar x).  The
result is linear in the tangents, so reverse mode transposes it (solve is linear in its
right-hand side).  The initial guess and `success` carry no derivative.
"""
from __future__ import annotations

from kiln.gradient.registry import register_jvp
from kiln.gradient.values import ZERO, is_zero
from kiln.tensor.optimize import OptimizeOp


@register_jvp(OptimizeOp)
def _optimize_jvp(node, tangents):
    from kiln.gradient.forward import differentiable, push_tangents
    from kiln.graph.replace import clone_replace
    from kiln.graph.traversal import ancestors

    op = node.op
    x_star = node.outputs[0]
    param_tangents = list(tangents[1:])
    if not differentiable(x_star) or all(is_zero(t) for t in param_tangents):
        return [ZERO, ZERO]
    inner_x, *inner_params = op.inner_inputs
    f, jx = op.implicit_pieces()
    # jvp on the inner graph (whose inputs are distinct variables, so an outer variable passed
    # twice gets both tangents), then the whole thing moved onto the node's values: the outer
    # graph cannot be differentiated here, since x* itself depends on θ through this node
    st = push_tangents([f], list(inner_params), param_tangents)
    t = st.tangent(f)
    if is_zero(t):
        return [ZERO, ZERO]
    t, jx = clone_replace([t, jx], dict(zip(op.inner_inputs, [x_star] + list(node.inputs[1:]))))
    # copied tangent nodes keep their rules' "same shape as <primal>" hints; those naming
    # inner variables must not leak into the outer graph (hints on the outer tangents stay)
    stop = list(node.inputs) + [x_star] + [u for u in param_tangents if not is_zero(u)]
    for v in ancestors([t, jx], blockers=stop):
        target = v.tag.get("shape_like")
        if target is not None and _is_inner(target, op, stop):
            del v.tag["shape_like"]
    if inner_x.ndim == 0:
        dx = -(t / jx)
    else:
        from kiln.tensor.linalg import solve

        dx = -solve(jx, t)
    if dx.dtype != x_star.dtype:
        from kiln.tensor.math import cast

        dx = cast(dx, x_star.dtype)
    return [dx, ZERO]


def _is_inner(v, op, stop) -> bool:
    """Whether `v` is computed from the op's inner inputs (an inner variable); the walk stops
    at the node's outer variables `stop`."""
    from kiln.graph.traversal import ancestors

    inner = set(op.inner_inputs)
    return any(a in inner for a in ancestors([v], blockers=stop))
