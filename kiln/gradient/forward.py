"""The jvp pass: push tangents forward through a graph with the jvp rule table.

This one pass serves forward mode (`Rop`/`jvp`) and, followed by `transpose`, reverse
mode.  Besides tangents it records, per variable, which `wrt` entries it is connected
to (for disconnected-input checks) and any undefined (Null) derivative on the way.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from kiln.graph.basic import Variable
from kiln.graph.traversal import toposort
from kiln.gradient.registry import find_chain_rule, get_jvp_rule
from kiln.gradient.values import ZERO, Null, is_zero
from kiln.scalar import dtypes

__all__ = ["JvpState", "push_tangents", "differentiable"]


def differentiable(v: Variable) -> bool:
    """Only float (and complex) tensors carry tangents; ints and bools have zero derivative."""
    dt = getattr(v.type, "dtype", None)
    return dt is not None and dtypes.is_continuous(dt)


@dataclass
class JvpState:
    """What the jvp pass learned: tangents, connectivity, nulls, and tangent shapes."""

    tangents: dict = field(default_factory=dict)   # primal var -> tangent var (absent = Zero)
    like: dict = field(default_factory=dict)       # tangent var -> primal var of the same shape
    conn: dict = field(default_factory=dict)       # var -> frozenset of wrt indices it depends on
    nulls: dict = field(default_factory=dict)      # var -> Null (undefined derivative upstream)
    cut: dict = field(default_factory=dict)        # known-grad var -> its tangent before the cut
    cut_conn: dict = field(default_factory=dict)

    def tangent(self, v: Variable) -> Any:
        return self.tangents.get(v, ZERO)


def push_tangents(outputs: Sequence[Variable], wrt: Sequence[Variable], seeds: Sequence[Any],
                  consider_constant: Sequence[Variable] = (), cut: Sequence[Variable] = ()) -> JvpState:
    """Tangents of `outputs` given tangents `seeds` for `wrt` (Zero allowed).

    `consider_constant` variables get no tangent (and disconnect their ancestors);
    tangents stop at `cut` variables (known_grads), whose tangent is kept in `state.cut`.
    """
    from kiln.tensor.basic import as_tensor_variable

    st = JvpState()
    wrt_pos = {}
    for i, w in enumerate(wrt):
        wrt_pos.setdefault(w, []).append(i)
    const = set(consider_constant)
    cutset = set(cut)

    def seed_of(v):
        total = None
        for i in wrt_pos[v]:
            s = seeds[i]
            if is_zero(s) or not differentiable(v):
                continue
            if not (isinstance(s, Variable) and s.type == v.type):  # (a non-tensor seed, e.g. sparse, as is)
                s = as_tensor_variable(s)
            if s.dtype != v.dtype:
                from kiln.tensor.math import cast

                s = cast(s, v.dtype)
            st.like.setdefault(s, v)
            total = s if total is None else _add(total, s, v, st)
        return total

    def finish(v):
        """Apply wrt seeds, consider_constant and cuts to a freshly computed variable."""
        if v in wrt_pos:
            s = seed_of(v)
            if s is not None:
                cur = st.tangents.get(v)
                st.tangents[v] = s if cur is None else _add(cur, s, v, st)
            st.conn[v] = st.conn.get(v, frozenset()) | frozenset(wrt_pos[v])
        if v in const:
            st.tangents.pop(v, None)
            st.conn.pop(v, None)
            st.nulls.pop(v, None)
        if v in cutset:
            st.cut[v] = st.tangents.pop(v, ZERO)
            st.cut_conn[v] = st.conn.pop(v, frozenset())

    for v in _graph_leaves(outputs, wrt):
        finish(v)
    for node in toposort(list(outputs) + list(cut)):
        ins_t = [st.tangents.get(i, ZERO) for i in node.inputs]
        conn = frozenset().union(*[st.conn.get(i, frozenset()) for i in node.inputs])
        if getattr(node.op, "disconnects_gradient", False):
            conn = frozenset()
        nulls = [st.nulls[i] for i in node.inputs if i in st.nulls]
        if conn:
            for o in node.outputs:
                st.conn[o] = conn
        if nulls:
            null = Null("; ".join(sorted({n.reason for n in nulls})), frozenset().union(*[n.wrt for n in nulls]))
            for o in node.outputs:
                if differentiable(o):
                    st.nulls[o] = null
        if not all(is_zero(t) for t in ins_t):
            rule = get_jvp_rule(node.op)
            chain = find_chain_rule(node)
            if chain is not None and not any(v in wrt_pos or v in const or v in cutset for v in chain.skipped):
                srcs = [st.tangents.get(v, ZERO) for v in chain.sources]
                rule = lambda node, ts, chain=chain, srcs=srcs: [chain.rule(srcs)]
            if rule is None:
                reached = frozenset().union(*[st.conn.get(i, frozenset()) for i, t in zip(node.inputs, ins_t)
                                              if not is_zero(t)])
                reason = f"{node.op} has no derivative rule (jvp)"
                for o in node.outputs:
                    if differentiable(o):
                        old = st.nulls.get(o)
                        st.nulls[o] = Null(reason, reached) if old is None else Null(
                            old.reason + "; " + reason, old.wrt | reached)
            else:
                outs = rule(node, ins_t)
                if len(outs) != len(node.outputs):
                    raise ValueError(f"jvp rule of {node.op} returned {len(outs)} tangents for "
                                     f"{len(node.outputs)} outputs")
                for o, t in zip(node.outputs, outs):
                    if isinstance(t, Null):  # the rule says the derivative is undefined, and why
                        if differentiable(o):
                            reached = frozenset().union(*[st.conn.get(i, frozenset()) for i, ti
                                                          in zip(node.inputs, ins_t) if not is_zero(ti)])
                            old = st.nulls.get(o)
                            st.nulls[o] = Null(t.reason, reached) if old is None else Null(
                                old.reason + "; " + t.reason, old.wrt | reached)
                        continue
                    t = _normalize(node, o, t)
                    if t is not None:
                        st.tangents[o] = t
                        st.like.setdefault(t, o)
        for o in node.outputs:
            finish(o)
    return st


def _graph_leaves(outputs, wrt):
    from kiln.graph.traversal import graph_inputs

    leaves = graph_inputs(list(outputs))
    seen = set(leaves)
    return leaves + [w for w in wrt if w.owner is None and w not in seen]


def _add(a, b, like, st):
    from kiln.tensor.math import add
    from kiln.tensor.type import TensorType

    # non-tensor tangents (kiln.sparse) add with their own operator
    out = add(a, b) if isinstance(a.type, TensorType) else a + b
    st.like.setdefault(out, like)
    return out


def _normalize(node, o: Variable, t: Any):
    if is_zero(t) or not differentiable(o):
        return None
    from kiln.tensor.basic import as_tensor_variable
    from kiln.tensor.type import TensorType

    if not isinstance(o.type, TensorType):   # scalar-typed values (inside fused kernels)
        if getattr(t, "type", None) != o.type:
            raise TypeError(f"jvp rule of {node.op} gave a tangent of type {getattr(t, 'type', t)} "
                            f"for an output of type {o.type}")
        return t

    t = as_tensor_variable(t)
    if t.ndim != o.type.ndim:
        raise ValueError(f"jvp rule of {node.op} gave a {t.ndim}-d tangent for a {o.type.ndim}-d output")
    if t.dtype != o.type.dtype:
        from kiln.tensor.math import cast

        t = cast(t, o.type.dtype)
    return t
