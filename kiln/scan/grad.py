"""Derivatives of Scan: a jvp rule (a tangent scan) and the transpose of that tangent scan
(backpropagation through time as a reversed scan).

jvp.  The tangent of a scan is another scan.  Its body is the inner jvp of the forward
body; it carries one tangent state per differentiable recurrent state and reads the
forward scan's stored values as sequences: the states each step reads (its taps) and the
outputs each step produced (rules such as tanh's use the output), so the forward step is
not recomputed.  A state kept only at its last value (a shared-variable update, a
gradient accumulator) that the tangent body needs is *promoted*: a copy of the forward
scan stores all its values.  A random generator matters only through its draws, which
the copy stores as extra per-step outputs.  The tangent scan is linear in its tangent
inputs (tangent sequences, initial states, non-sequences); its `linear` prop lists them
and `tangent_of` pairs each inner tangent input with its primal (for shapes).

transpose.  Step t of the tangent scan maps the tangents of step t's inputs to the
tangents of its outputs; the transpose of that inner graph (built with
kiln.gradient.transpose) maps output cotangents back.  The reversed scan walks
t = n-1 .. 0 carrying, per state with look-back L, a window of L pending cotangents for
the L buffer rows step t reads, and one accumulator per non-sequence; per step it emits
the cotangent of the sequences' rows.  With ``truncate_gradient = k > 0`` it walks only
the last k steps.

until (a while loop).  The forward scan reports how many steps it ran (its last output);
the tangent scan runs exactly that many steps over the stored values, so it has no
condition of its own, and its transpose walks those steps back.  The number of steps is
piecewise constant in the inputs, so it contributes no derivative (as in PyTensor).
"""
from __future__ import annotations

from typing import Any

from kiln.gradient.forward import differentiable, push_tangents
from kiln.gradient.registry import register_jvp, register_transpose
from kiln.gradient.values import ZERO, is_zero
from kiln.scan.op import Scan

__all__: list[str] = []


def _fresh(v):
    w = v.type()
    w.name = v.name
    return w


def _depends(outputs, inputs) -> bool:
    from kiln.graph.traversal import ancestors

    s = set(inputs)
    return any(a in s for a in ancestors(list(outputs)))


@register_jvp(Scan)
def _scan_jvp(node, tangents):
    from kiln.graph.replace import clone_replace
    from kiln.tensor.creation import zeros_like

    op: Scan = node.op
    seq_s, init_s, ns_s = op.outer_slices()
    iseq, itaps, ins = op.inner_slices()
    n_states = op.n_states
    inner_in = list(op.inner_inputs)
    inner_out = list(op.inner_outputs)[:n_states + op.n_nitsot]   # without an until condition
    t_seq = tangents[seq_s]
    t_init = tangents[init_s]
    t_ns = tangents[ns_s]

    # which inner inputs carry tangents: a fixpoint over the states
    act_seq = [not is_zero(t) and differentiable(v) for t, v in zip(t_seq, node.inputs[seq_s])]
    act_ns = [not is_zero(t) and differentiable(v) for t, v in zip(t_ns, node.inputs[ns_s])]
    act_state = [not is_zero(t) and differentiable(node.outputs[k]) for k, t in enumerate(t_init)]
    while True:
        live = [v for v, a in zip(inner_in[iseq], act_seq) if a]
        live += [v for v, a in zip(inner_in[ins], act_ns) if a]
        for k in range(n_states):
            if act_state[k]:
                live += inner_in[itaps[k]]
        changed = False
        for k in range(n_states):
            if not act_state[k] and differentiable(inner_out[k]) and _depends([inner_out[k]], live):
                act_state[k] = changed = True
        if not changed:
            break
    if not live:
        return [ZERO] * len(node.outputs)

    # the tangent scan's inner graph: fresh primal placeholders, the inner jvp on top
    p_seq = [_fresh(v) for v in inner_in[iseq]]
    all_k = [k for k in range(n_states) if op.state_keep[k] == "all"]
    last_k = [k for k in range(n_states) if op.state_keep[k] == "last"]
    p_tap = {k: [_fresh(v) for v in inner_in[itaps[k]]] for k in all_k}
    p_last = {k: _fresh(inner_in[itaps[k]][0]) for k in last_k}
    p_ns = [_fresh(v) for v in inner_in[ins]]
    repl = dict(zip(inner_in[iseq], p_seq))
    for k in all_k:
        repl.update(zip(inner_in[itaps[k]], p_tap[k]))
    for k in last_k:
        repl[inner_in[itaps[k]][0]] = p_last[k]
    repl.update(zip(inner_in[ins], p_ns))
    prim_all = clone_replace(inner_out + list(op.inner_outputs)[len(inner_out):], repl)
    prim_out, prim_cond = prim_all[:len(inner_out)], prim_all[len(inner_out):]

    tan_seq = [(i, _fresh(p)) for i, p in enumerate(p_seq) if act_seq[i]]
    tan_state = {k: [_fresh(p) for p in (p_tap[k] if k in p_tap else [p_last[k]])]
                 for k in range(n_states) if act_state[k]}
    tan_ns = [(j, _fresh(p)) for j, p in enumerate(p_ns) if act_ns[j]]
    wrt, seeds = [], []
    for i, t in tan_seq:
        wrt.append(p_seq[i])
        seeds.append(t)
    for k, ts in tan_state.items():
        ps = p_tap[k] if k in p_tap else [p_last[k]]
        wrt.extend(ps)
        seeds.extend(ts)
    for j, t in tan_ns:
        wrt.append(p_ns[j])
        seeds.append(t)
    st = push_tangents(prim_out, wrt, seeds)
    t_out = [st.tangent(o) for o in prim_out]

    state_outs = []
    for k in tan_state:
        t = t_out[k]
        state_outs.append(zeros_like(prim_out[k]) if is_zero(t) else t)
    nit = [j for j in range(op.n_nitsot) if not is_zero(t_out[n_states + j])
           and differentiable(inner_out[n_states + j])]
    nit_outs = [t_out[n_states + j] for j in nit]
    # the forward scan stored every step's outputs: the tangent body reads them (rules such as
    # tanh's use the output) instead of recomputing them
    stored = [(k, node.outputs[k][op.lookback(k):]) for k in all_k]
    stored += [(n_states + j, node.outputs[n_states + j]) for j in range(op.n_nitsot)]
    used_vars = _ancestor_set(state_outs + nit_outs)
    stored = [(i, outer) for i, outer in stored
              if prim_out[i].owner is not None and prim_out[i] in used_vars]
    stored_ph = [_fresh(prim_out[i]) for i, _ in stored]
    if stored:
        from kiln.graph.replace import clone_replace as _cr

        body = _cr(state_outs + nit_outs, {prim_out[i]: ph for (i, _), ph in zip(stored, stored_ph)})
        state_outs, nit_outs = body[:len(state_outs)], body[len(state_outs):]

    # primal "last" states (shared updates, accumulators, generators) that the tangent body
    # reads: tensors are *promoted* (a copy of the forward scan stores all their values, read
    # as sequences, so the tangent scan stays transposable); others (generators) are carried
    # along as primal states of the tangent scan
    from kiln.tensor.type import TensorType

    used = [k for k in last_k if k in tan_state or _depends(state_outs + nit_outs, [p_last[k]])]
    promo = [k for k in used if isinstance(inner_in[itaps[k]][0].type, TensorType)]
    carried = [k for k in used if k not in promo]
    # a generator matters to the tangent body only through its draws: store those too
    # (extra per-step outputs of the forward copy) and read them as sequences
    draws = _draws_of(state_outs + nit_outs, [p_last[k] for k in carried])
    draw_ph = [_fresh(d) for d in draws]
    if draws:
        from kiln.graph.replace import clone_replace as _cr

        body = _cr(state_outs + nit_outs, dict(zip(draws, draw_ph)))
        state_outs, nit_outs = body[:len(state_outs)], body[len(state_outs):]
        carried = [k for k in carried if _depends(state_outs + nit_outs, [p_last[k]])]
    for v in _ancestor_set(state_outs + nit_outs):
        v.tag.pop("shape_like", None)

    inner_inputs = (p_seq + [p for k in all_k for p in p_tap[k]] + stored_ph + [p_last[k] for k in promo]
                    + draw_ph + [t for _, t in tan_seq]
                    + [p_last[k] for k in carried] + [t for ts in tan_state.values() for t in ts]
                    + p_ns + [t for _, t in tan_ns])
    inner_outputs = [prim_out[k] for k in carried] + state_outs + nit_outs
    n_seq_new = (len(p_seq) + sum(len(p_tap[k]) for k in all_k) + len(stored_ph) + len(promo) + len(draw_ph)
                 + len(tan_seq))
    taps = [(-1,)] * len(carried) + [op.state_taps[k] for k in tan_state]
    keep = ["last"] * len(carried) + ["all"] * len(tan_state)

    # outer inputs
    from kiln.tensor.shape import expand_dims

    # a while loop's tangent runs the steps the loop ran (its last output), no more
    n = node.outputs[-1] if op.until else node.inputs[0]
    seq_in = list(node.inputs[seq_s])
    for k in all_k:
        L = op.lookback(k)
        buf = node.outputs[k]
        seq_in.extend(buf[L + tap:] for tap in op.state_taps[k])
    seq_in.extend(outer for _, outer in stored)
    if promo or draws:
        # a copy of the forward scan (from the fresh placeholders, which keep the original
        # layout) that also stores the promoted states and the draws
        keep2 = ["all" if k in promo else op.state_keep[k] for k in range(n_states)]
        lay = (p_seq + [p for k in range(n_states) for p in (p_tap[k] if k in p_tap else [p_last[k]])] + p_ns)
        op2 = Scan(lay, list(prim_out) + draws + prim_cond, n_seqs=op.n_seqs, state_taps=op.state_taps,
                   state_keep=keep2, n_nitsot=op.n_nitsot + len(draws), n_nonseqs=op.n_nonseqs,
                   truncate_gradient=op.truncate_gradient, linear=op.linear, tangent_of=op.tangent_of,
                   mode=op.mode, name=op.name, until=op.until)
        ins2 = list(node.inputs)
        for k in promo:
            ins2[init_s.start + k] = expand_dims(ins2[init_s.start + k], 0)
        outs2 = op2(*ins2)
        outs2 = outs2 if isinstance(outs2, list) else [outs2]
        seq_in.extend(outs2[k] for k in promo)    # row t = the state read by step t
        seq_in.extend(outs2[n_states + op.n_nitsot:n_states + op.n_nitsot + len(draws)])
    seq_in.extend(t_seq[i] for i, _ in tan_seq)
    init_in = [node.inputs[init_s][k] for k in carried]
    for k in tan_state:
        t = t_init[k]
        t = zeros_like(node.inputs[init_s][k]) if is_zero(t) else t
        init_in.append(expand_dims(t, 0) if op.state_keep[k] == "last" else t)
    ns_in = list(node.inputs[ns_s]) + [t_ns[j] for j, _ in tan_ns]
    outer = [n] + seq_in + init_in + ns_in
    lin_seq = list(range(1 + len(seq_in) - len(tan_seq), 1 + len(seq_in)))
    lin_init = list(range(1 + len(seq_in) + len(carried), 1 + len(seq_in) + len(init_in)))
    lin_ns = list(range(len(outer) - len(tan_ns), len(outer)))
    pos = {v: i for i, v in enumerate(inner_inputs)}
    pairs = [(pos[t], pos[p_seq[i]]) for i, t in tan_seq]
    for k, ts in tan_state.items():
        ps = p_tap[k] if k in p_tap else [p_last[k]]
        pairs.extend((pos[t], pos[p]) for t, p in zip(ts, ps))
    pairs.extend((pos[t], pos[p_ns[j]]) for j, t in tan_ns)
    tscan = Scan(inner_inputs, inner_outputs, n_seqs=n_seq_new, state_taps=taps, state_keep=keep,
                 n_nitsot=len(nit), n_nonseqs=len(p_ns) + len(tan_ns),
                 truncate_gradient=op.truncate_gradient, linear=lin_seq + lin_init + lin_ns,
                 tangent_of=pairs, mode=op.mode, name=f"{op.name or 'scan'}_jvp")
    res = tscan(*outer)
    res = res if isinstance(res, list) else [res]
    out: list[Any] = [ZERO] * len(node.outputs)
    for pos_, k in enumerate(tan_state):
        r = res[len(carried) + pos_]
        out[k] = r[-1] if op.state_keep[k] == "last" else r
    for pos_, j in enumerate(nit):
        out[n_states + j] = res[len(carried) + len(tan_state) + pos_]
    return out


def _draws_of(outputs, generators) -> list:
    """Tensor values in the graph of `outputs` computed directly from the (non-tensor)
    `generators` or from generator values derived from them: the random draws."""
    from kiln.graph.traversal import ancestors, toposort
    from kiln.tensor.type import TensorType

    if not generators:
        return []
    opaque = set(generators)
    found = []
    for node in toposort(list(outputs)):
        if any(i in opaque for i in node.inputs):
            for o in node.outputs:
                if isinstance(o.type, TensorType):
                    found.append(o)
                else:
                    opaque.add(o)
    used = set(ancestors(list(outputs)))
    return [d for d in found if d in used]


def _ancestor_set(outputs) -> set:
    from kiln.graph.traversal import ancestors

    return set(ancestors(list(outputs)))


@register_transpose(Scan)
def _scan_transpose(node, cts, mask, ctx):
    """Backpropagation through time for a linear (tangent) scan: a reversed scan."""
    import kiln.tensor as kt
    from kiln.graph.replace import clone_replace
    from kiln.gradient.transpose import linearize_graph, transpose_graph
    from kiln.tensor.inc_subtensor import inc_subtensor, set_subtensor
    from kiln.tensor.join import join

    op: Scan = node.op
    if op.until:
        raise NotImplementedError(f"{op}: transposing a scan with until (the gradient transposes the tangent "
                                  f"scan, which runs a fixed number of steps)")
    lin = set(op.linear)
    seq_s, init_s, ns_s = op.outer_slices()
    iseq, itaps, ins = op.inner_slices()
    inner_in, inner_out = list(op.inner_inputs), list(op.inner_outputs)
    n_states = op.n_states
    lin_state = [k for k in range(n_states) if init_s.start + k in lin]
    if any(k not in lin_state for k in range(n_states)):
        raise NotImplementedError(f"{op}: reverse-mode gradient through a scan whose step reads shared-variable "
                                  f"updates or random generators is not supported")
    if any(op.state_keep[k] != "all" for k in lin_state):
        raise NotImplementedError(f"{op}: reverse mode through a tangent state kept as 'last'")
    seq_lin = [i for i in range(op.n_seqs) if seq_s.start + i in lin]
    seq_prim = [i for i in range(op.n_seqs) if seq_s.start + i not in lin]
    ns_lin = [j for j in range(op.n_nonseqs) if ns_s.start + j in lin]
    ns_prim = [j for j in range(op.n_nonseqs) if ns_s.start + j not in lin]

    # fresh copy of the body; the tangent inputs get "like" partners of the same shape
    # (the primal placeholders they are the tangent of, by position)
    fresh = {v: _fresh(v) for v in inner_in}
    body = clone_replace(inner_out, fresh)
    t_inputs = ([fresh[inner_in[iseq][i]] for i in seq_lin]
                + [fresh[v] for k in lin_state for v in inner_in[itaps[k]]]
                + [fresh[inner_in[ins][j]] for j in ns_lin])
    prim_ns = [fresh[inner_in[ins][j]] for j in ns_prim]
    like = {fresh[inner_in[a]]: fresh[inner_in[b]] for a, b in op.tangent_of}

    # per reverse step: cotangent placeholders
    n = node.inputs[0]
    K = n if op.truncate_gradient <= 0 else kt.minimum(n, op.truncate_gradient)
    start = n - K
    outer_seqs, inner_seqs = [], []
    for i in seq_prim:   # primal sequences (incl. stored states), reversed over the walked steps
        x = node.inputs[seq_s][i]
        outer_seqs.append(x[start:n][::-1])
        inner_seqs.append(fresh[inner_in[iseq][i]])
    g_out = {}
    for k in lin_state:
        c = cts[k]
        if not is_zero(c):
            L = op.lookback(k)
            outer_seqs.append(c[L + start:L + n][::-1])
            ph = _fresh(body[k])
            inner_seqs.append(ph)
            g_out[k] = ph
    nit_ct = {}
    for j in range(op.n_nitsot):
        c = cts[n_states + j]
        if not is_zero(c):
            outer_seqs.append(c[start:n][::-1])
            ph = _fresh(body[n_states + j])
            inner_seqs.append(ph)
            nit_ct[j] = ph
    # a window per state; with look-back 1 (the common case) it is one row, kept without its
    # leading axis so the reversed step does no indexing
    windows, w_inits = {}, []
    for k in lin_state:
        init = node.inputs[init_s][k]
        one = op.lookback(k) == 1
        w = inner_in[itaps[k]][0].type() if one else init.type()
        w.name = f"ct_window{k}"
        windows[k] = w
        w_inits.append(ctx.zeros(init)[0] if one else ctx.zeros(init))
    accs, a_inits = {}, []
    for j in ns_lin:
        x = node.inputs[ns_s][j]
        a = x.type()
        a.name = f"ct_ns{j}"
        accs[j] = a
        a_inits.append(ctx.zeros(x))

    seeds = []
    for k in lin_state:
        L = op.lookback(k)
        g = windows[k] if L == 1 else windows[k][L - 1]
        if k in g_out:
            g = g + g_out[k]
        seeds.append((body[k], g))
    for j, ph in nit_ct.items():
        seeds.append((body[n_states + j], ph))
    lg = linearize_graph(t_inputs, [s for s, _ in seeds])
    res = transpose_graph(lg, seeds, like)
    got = dict(zip(t_inputs, res))
    if _depends([r for r in res if not is_zero(r)], t_inputs):
        raise NotImplementedError(f"{op}: the transposed step still reads a tangent input")

    new_states = []
    for k in lin_state:
        L = op.lookback(k)
        w = windows[k]
        if L == 1:
            c = got[fresh[inner_in[itaps[k]][0]]]
            new_states.append(kt.zeros_like(w) if is_zero(c) else c)
            continue
        shifted = join(0, kt.zeros_like(w[:1]), w[:L - 1])
        for tap, v in zip(op.state_taps[k], inner_in[itaps[k]]):
            c = got[fresh[v]]
            if not is_zero(c):
                shifted = inc_subtensor(shifted[L + tap], c)
        new_states.append(shifted)
    for j in ns_lin:
        c = got[fresh[inner_in[ins][j]]]
        new_states.append(accs[j] if is_zero(c) else accs[j] + c)
    seq_cts = []
    for i in seq_lin:
        c = got[fresh[inner_in[iseq][i]]]
        v = fresh[inner_in[iseq][i]]
        seq_cts.append(kt.zeros_like(like[v]) if is_zero(c) else c)

    b_inputs = inner_seqs + list(windows.values()) + list(accs.values()) + prim_ns
    b_outputs = new_states + seq_cts
    bscan = Scan(b_inputs, b_outputs, n_seqs=len(inner_seqs),
                 state_taps=[(-1,)] * len(new_states), state_keep=["last"] * len(new_states),
                 n_nitsot=len(seq_cts), n_nonseqs=len(prim_ns), mode=op.mode,
                 name=f"{op.name or 'scan'}_bptt")
    outs = bscan(K, *outer_seqs, *w_inits, *a_inits, *[node.inputs[ns_s][j] for j in ns_prim])
    outs = outs if isinstance(outs, list) else [outs]

    result: list[Any] = [None] * len(node.inputs)
    for pos, k in enumerate(lin_state):
        L = op.lookback(k)
        w = outs[pos]
        if L == 1:
            from kiln.tensor.shape import expand_dims

            w = expand_dims(w, 0)
        if op.truncate_gradient > 0:   # rows before the walked steps get nothing back
            w = kt.switch(kt.eq(start, 0), w, kt.zeros_like(w))
        c = cts[k]
        result[init_s.start + k] = w if is_zero(c) else w + c[:L]
    for pos, j in enumerate(ns_lin):
        result[ns_s.start + j] = outs[len(lin_state) + pos]
    for pos, i in enumerate(seq_lin):
        rev = outs[len(lin_state) + len(ns_lin) + pos][::-1]
        x = node.inputs[seq_s][i]
        result[seq_s.start + i] = set_subtensor(ctx.zeros(x)[start:n], rev)
    return result
