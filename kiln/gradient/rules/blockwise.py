"""Blockwise (kiln.tensor.blockwise): the tangent is the core op's tangent, vectorized.

The core op is applied to dummy core inputs and kiln's own jvp pass pushes dummy core
tangents through that core node.  That core tangent graph is then batched over the node's
inputs, its input tangents and (where the core rule reads them) its outputs: each is
broadcast to the node's batch shape and flattened to (total, *core), and a tangent Map
(kiln.gradient.jacobian) runs the core tangent graph per row.  The Map is declared linear in
its tangent rows, so reverse mode (linearize, then transpose) uses the Map's transpose rule
(kiln/gradient/rules/map.py); broadcast_to and reshape transpose to sums and reshapes.
(`vectorize_graph` builds the same Map but wraps it in an OpFromGraph that the transpose
pass cannot see as linear, hence the direct construction.)

A core op without a jvp rule gives an undefined (Null) derivative naming both ops, which
kiln.grad / Rop report as usual.
"""
from __future__ import annotations

from typing import Any

from kiln.gradient.forward import differentiable, push_tangents
from kiln.gradient.registry import register_jvp
from kiln.gradient.values import ZERO, Null, is_zero
from kiln.tensor.blockwise import Blockwise

__all__: list[str] = []


@register_jvp(Blockwise)
def _blockwise_jvp(node, tangents):
    from kiln.graph.replace import clone_replace
    from kiln.graph.traversal import ancestors

    op: Blockwise = node.op
    act = [i for i, (t, v) in enumerate(zip(tangents, node.inputs)) if not is_zero(t) and differentiable(v)]
    out: list[Any] = [ZERO] * len(node.outputs)
    if not act:
        return out
    nb = op.batch_ndim(node)
    core = op._core_node([x.dtype for x in node.inputs], [x.type.shape[nb:] for x in node.inputs])
    dummies = list(core.inputs)
    tan = {i: dummies[i].type() for i in act}
    st = push_tangents(core.outputs, [dummies[i] for i in act], [tan[i] for i in act])
    live = []
    for k, o in enumerate(core.outputs):
        if not differentiable(node.outputs[k]):
            continue
        if o in st.nulls:
            out[k] = Null(f"{op}: {st.nulls[o].reason}")
        elif not is_zero(st.tangent(o)):
            live.append(k)
    if not live:
        return out
    body = [st.tangent(core.outputs[k]) for k in live]
    used = set(ancestors(body))
    # the rules' "same shape as <primal>" hints name core variables, not the copies made below
    for v in used:
        v.tag.pop("shape_like", None)
    t_used = [i for i in act if tan[i] in used]
    o_used = [k for k, o in enumerate(core.outputs) if o in used]
    inner = dummies + [core.outputs[k] for k in o_used] + [tan[i] for i in t_used]
    outer = list(node.inputs) + [node.outputs[k] for k in o_used] + [tangents[i] for i in t_used]
    if nb == 0:
        res = clone_replace(body, dict(zip(inner, outer)))
    else:
        res = _mapped(node, inner, outer, body, len(inner) - len(t_used),
                      [(len(dummies) + len(o_used) + j, i) for j, i in enumerate(t_used)])
    for k, r in zip(live, res):
        if r.dtype != node.outputs[k].dtype:
            from kiln.tensor.math import cast

            r = cast(r, node.outputs[k].dtype)
        out[k] = r
    return out


def _mapped(node, inner: list, outer: list, body: list, n_primal: int, pairs: list) -> list:
    """`body` (a graph of `inner`) for every batch entry: the outer values are broadcast to the
    node's batch shape and flattened to (total, *core), mapped by a tangent Map (linear in the
    tangent rows, so reverse mode transposes it), and the results unflattened."""
    from kiln.gradient.jacobian import Map
    from kiln.graph.replace import clone_replace
    from kiln.tensor.basic import constant
    from kiln.tensor.shape import broadcast_shape_symbolic, broadcast_to, reshape

    op: Blockwise = node.op
    nb = op.batch_ndim(node)
    bshape = list(broadcast_shape_symbolic([tuple(_dim(x, d) for d in range(nb)) for x in node.inputs],
                                           [x.type.shape[:nb] for x in node.inputs]))
    total = constant(1, dtype="int64")
    for d in bshape:
        total = total * d
    flat = []
    for v, w in zip(inner, outer):
        cshape = [_dim(w, d) for d in range(w.ndim - v.ndim, w.ndim)]
        flat.append(reshape(broadcast_to(w, bshape + cshape), [total] + cshape, ndim=1 + v.ndim))
    fresh = [v.type() for v in inner]
    inner_body = clone_replace(body, dict(zip(inner, fresh)))
    tmap = Map(fresh, inner_body, name=f"{op}_jvp", n_seqs=len(fresh),
               linear=list(range(n_primal, len(fresh))), tangent_of=[(a, b) for a, b in pairs])
    res = tmap(*flat)
    res = res if isinstance(res, list) else [res]
    return [reshape(r, bshape + [_dim(r, d) for d in range(1, r.ndim)], ndim=nb + r.ndim - 1) for r in res]


def _dim(x, d: int):
    """Length of axis d of x: its static length when known, else a symbolic Shape_i."""
    from kiln.tensor.shape import shape_i

    n = x.type.shape[d]
    return n if n is not None else shape_i(x, d)
