"""Map (kiln.gradient.jacobian): a jvp rule (a tangent map) and the transpose of a tangent map.

jvp.  Map runs its inner graph once per entry of its sequences, so its tangent is another
Map: over the primal sequences and the tangents of the sequences jointly, with the primal
and tangent other inputs shared by every entry; its inner graph is the inner jvp of the
primal inner graph.  Primal inner outputs that the tangent body reads (rules such as tanh's
use the output) come from the primal Map's stacked outputs, read as extra sequences, rather
than being recomputed.  The tangent map is linear in its tangent inputs (its `linear` prop)
and pairs each with the primal input of its shape (`tangent_of`).

transpose.  Entry i of a tangent map maps the tangents of entry i's inputs to the tangents of
its outputs; the transpose of that inner graph (kiln.gradient.transpose) maps entry i's
output cotangents back.  Mapped over the primal sequences and the output cotangents, it
gives the cotangent of each tangent sequence directly (one row per entry); a tangent other
input is shared by every entry, so its cotangent is the sum of the rows.
"""
from __future__ import annotations

from typing import Any

from kiln.gradient.forward import differentiable, push_tangents
from kiln.gradient.jacobian import Map
from kiln.gradient.registry import register_jvp, register_transpose
from kiln.gradient.values import ZERO, Null, is_zero

__all__: list[str] = []


def _fresh(v):
    w = v.type()
    w.name = v.name
    return w


@register_jvp(Map)
def _map_jvp(node, tangents):
    from kiln.graph.replace import clone_replace
    from kiln.graph.traversal import ancestors

    op: Map = node.op
    ns = op.n_seqs
    inner_in = list(op.inner_inputs)
    act = [not is_zero(t) and differentiable(v) for t, v in zip(tangents, node.inputs)]
    if not any(act):
        return [ZERO] * len(node.outputs)
    prim = [_fresh(v) for v in inner_in]
    prim_out = clone_replace(list(op.inner_outputs), dict(zip(inner_in, prim)))
    tan = {i: _fresh(prim[i]) for i in range(len(prim)) if act[i]}
    st = push_tangents(prim_out, [prim[i] for i in tan], list(tan.values()))
    out: list[Any] = [ZERO] * len(node.outputs)
    for k, o in enumerate(prim_out):
        if o in st.nulls and differentiable(node.outputs[k]):
            out[k] = Null(f"{op}: {st.nulls[o].reason}")   # an inner op without a derivative
    live = [k for k, o in enumerate(prim_out) if not is_zero(st.tangent(o)) and differentiable(node.outputs[k])
            and not isinstance(out[k], Null)]
    if not live:
        return out
    body = [st.tangent(prim_out[k]) for k in live]

    # primal inner outputs the tangent body reads: read the primal map's stacked outputs
    used = set(ancestors(body))
    stored, stored_ph, seen = [], [], set()
    for k, o in enumerate(prim_out):
        if o.owner is not None and o in used and o not in seen:
            seen.add(o)
            stored.append(k)
            stored_ph.append(_fresh(o))
    if stored:
        body = clone_replace(body, {prim_out[k]: ph for k, ph in zip(stored, stored_ph)})
    # the rules' "same shape as <primal>" hints name variables the inner graph copies, not
    # the copies themselves: drop them (the transpose reads shapes through `tangent_of`)
    for v in ancestors(body):
        v.tag.pop("shape_like", None)

    seq_t = [i for i in range(ns) if i in tan]
    oth_t = [i for i in range(ns, len(prim)) if i in tan]
    inner_inputs = prim[:ns] + stored_ph + [tan[i] for i in seq_t] + prim[ns:] + [tan[i] for i in oth_t]
    outer = (list(node.inputs[:ns]) + [node.outputs[k] for k in stored] + [tangents[i] for i in seq_t]
             + list(node.inputs[ns:]) + [tangents[i] for i in oth_t])
    n_seqs = ns + len(stored) + len(seq_t)
    linear = list(range(ns + len(stored), n_seqs)) + list(range(len(outer) - len(oth_t), len(outer)))
    pos = {v: j for j, v in enumerate(inner_inputs)}
    pairs = [(pos[tan[i]], pos[prim[i]]) for i in seq_t + oth_t]
    tmap = Map(inner_inputs, body, name=f"{op.name or 'map'}_jvp", n_seqs=n_seqs, linear=linear,
               tangent_of=pairs)
    res = tmap(*outer)
    res = res if isinstance(res, list) else [res]
    for k, r in zip(live, res):
        out[k] = r
    return out


def _map_linear(node, mask) -> bool:
    return all(i in node.op.linear for i, m in enumerate(mask) if m)


@register_transpose(Map, linear=_map_linear)
def _map_transpose(node, cts, mask, ctx):
    """The transpose of a (linear) tangent map: a map of the transposed inner graph."""
    import kiln.tensor.math as km
    from kiln.graph.replace import clone_replace
    from kiln.graph.traversal import ancestors
    from kiln.gradient.transpose import linearize_graph, transpose_graph

    op: Map = node.op
    ns = op.n_seqs
    inner_in = list(op.inner_inputs)
    fresh = {v: _fresh(v) for v in inner_in}
    body = clone_replace(list(op.inner_outputs), fresh)
    t_idx = [i for i, m in enumerate(mask) if m]
    t_inputs = [fresh[inner_in[i]] for i in t_idx]
    like = {fresh[inner_in[a]]: fresh[inner_in[b]] for a, b in op.tangent_of}

    seeds, ct_outer, ct_inner = [], [], []
    for k, c in enumerate(cts):
        if is_zero(c):
            continue
        if c.dtype != body[k].dtype:
            c = km.cast(c, body[k].dtype)
        ph = _fresh(body[k])
        seeds.append((body[k], ph))
        ct_outer.append(c)
        ct_inner.append(ph)
    if not seeds:
        return [None] * len(node.inputs)
    lg = linearize_graph(t_inputs, [b for b, _ in seeds])
    res = transpose_graph(lg, seeds, like)
    got = [(i, r) for i, r in zip(t_idx, res) if not is_zero(r)]
    if not got:
        return [None] * len(node.inputs)
    outs = [r for _, r in got]
    t_set = set(t_inputs)
    if any(v in t_set for v in ancestors(outs)):
        raise NotImplementedError(f"{op}: the transposed entry graph still reads a tangent input")

    seq_p = [i for i in range(ns) if not mask[i]]
    oth_p = [i for i in range(ns, len(inner_in)) if not mask[i]]
    b_inputs = [fresh[inner_in[i]] for i in seq_p] + ct_inner + [fresh[inner_in[i]] for i in oth_p]
    b_outer = [node.inputs[i] for i in seq_p] + ct_outer + [node.inputs[i] for i in oth_p]
    bmap = Map(b_inputs, outs, name=f"{op.name or 'map'}_T", n_seqs=len(seq_p) + len(ct_inner))
    rows = bmap(*b_outer)
    rows = rows if isinstance(rows, list) else [rows]
    result: list[Any] = [None] * len(node.inputs)
    for (i, _), r in zip(got, rows):
        # a sequence's cotangent has one row per entry; an other input is shared by every entry
        result[i] = r if i < ns else km.sum(r, axis=0)
    return result
