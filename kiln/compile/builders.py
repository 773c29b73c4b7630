"""OpFromGraph: a graph packaged as one op (PyTensor's OpFromGraph).

Its derivative comes from the inner graph by default (the inner jvp, inlined onto the
node's inputs).  A user may override it with a `jvp` (preferred: forward and reverse
mode both follow, since reverse mode transposes the jvp) or with a `pullback` (reverse
mode only).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from kiln.graph.basic import Apply, Variable
from kiln.graph.inner import InnerGraphOp
from kiln.graph.op import Op
from kiln.gradient.registry import register_jvp, register_transpose
from kiln.gradient.values import ZERO, is_zero

__all__ = ["OpFromGraph"]


class OpFromGraph(InnerGraphOp):
    """OpFromGraph(inputs, outputs, jvp=None, pullback=None, inline=False, name=None).

    jvp: ``jvp(inputs, tangents) -> output tangents`` (symbolic, linear in the tangents).
    pullback: ``pullback(inputs, outputs, output_cotangents) -> input cotangents``.
    PyTensor's `rop_overrides` (same as jvp) and `lop_overrides` (same as pullback) are
    accepted too.  With `inline=True`, calling the op inserts a copy of the inner graph.

    >>> import numpy as np, kiln, kiln.tensor as kt
    >>> x, y = kt.scalar("x"), kt.scalar("y")
    >>> f = OpFromGraph([x, y], [x * y + 1])
    >>> a = kt.scalar("a")
    >>> float(kiln.grad(f(a, a), a).eval({a: 3.0}))
    6.0
    """

    __props__ = ("signature", "overrides")

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable] | Variable, *,
                 jvp: Callable | None = None, pullback: Callable | None = None, inline: bool = False,
                 name: str | None = None, rop_overrides: Callable | None = None,
                 lop_overrides: Callable | None = None, **kwargs: Any):
        if isinstance(outputs, Variable):
            outputs = [outputs]
        for i, v in enumerate(inputs):
            if not isinstance(v, Variable):
                raise TypeError(f"OpFromGraph: input {i} is {v!r}, not a variable")
        super().__init__(list(inputs), list(outputs), name=name)
        self.user_jvp = jvp or rop_overrides
        self.user_pullback = pullback or lop_overrides
        self.inline = bool(inline)
        self.overrides = (self.user_jvp, self.user_pullback)

    def __call__(self, *inputs: Any, **kwargs: Any):
        if self.inline:
            outs = self.inline_on(list(inputs))
            return outs[0] if len(outs) == 1 else outs
        return super().__call__(*inputs, **kwargs)

    def inline_on(self, inputs: Sequence[Any]) -> list:
        """A copy of the inner graph computed from `inputs`."""
        from kiln.graph.replace import clone_replace

        node = InnerGraphOp.make_node(self, *inputs)
        return clone_replace(list(self.inner_outputs), dict(zip(self.inner_inputs, node.inputs)))


class PullbackLinear(Op):
    """The tangent of an OpFromGraph with only a pullback override: a linear node whose
    transpose calls the pullback (reverse mode).  Evaluated (forward mode: Rop, jvp), it
    computes the inner graph's own tangent, as PyTensor's OpFromGraph does when only
    `lop_overrides` is given.  Inputs: (*primal inputs, *primal outputs, *tangents)."""

    __props__ = ("ofg",)

    def __init__(self, ofg: OpFromGraph):
        self.ofg = ofg
        n_in, n_out = len(ofg.inner_inputs), len(ofg.inner_outputs)
        self.linear_inputs = tuple(range(n_in + n_out, 2 * n_in + n_out))
        self._forward = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_forward": None}   # the compiled forward pass is rebuilt on demand

    def make_node(self, *args: Variable) -> Apply:
        return Apply(self, list(args), [o.type() for o in self.ofg.inner_outputs])

    def perform(self, node, inputs, output_storage):
        n_in, n_out = len(self.ofg.inner_inputs), len(self.ofg.inner_outputs)
        if self._forward is None:
            self._forward = _inner_tangents(self.ofg)
        res = self._forward(list(inputs[:n_in]) + list(inputs[n_in + n_out:]))
        for store, r, out in zip(output_storage, res, node.outputs):
            store[0] = np.asarray(r, dtype=out.type.dtype)


def _inner_tangents(ofg: OpFromGraph) -> Callable:
    """run(inputs + tangents) -> the tangents of ofg's outputs, from its inner graph (python
    linker, built once per op on the first forward-mode evaluation)."""
    from kiln.graph.fg import FunctionGraph
    from kiln.graph.replace import clone_replace
    from kiln.gradient.forward import push_tangents
    from kiln.linkers.python import PythonLinker
    from kiln.tensor.creation import zeros_like

    ins = [v.type() for v in ofg.inner_inputs]
    outs = clone_replace(list(ofg.inner_outputs), dict(zip(ofg.inner_inputs, ins)))
    ts = [v.type() for v in ins]
    st = push_tangents(outs, ins, ts)
    touts = [zeros_like(o) if is_zero(st.tangent(o)) else st.tangent(o) for o in outs]
    return PythonLinker().make_runner(FunctionGraph(ins + ts, touts))


@register_jvp(OpFromGraph)
def _ofg_jvp(node, tangents):
    from kiln.gradient.forward import push_tangents
    from kiln.tensor.creation import zeros_like

    op = node.op
    if op.user_jvp is not None:
        ts = [zeros_like(x) if is_zero(t) else t for t, x in zip(tangents, node.inputs)]
        out = op.user_jvp(list(node.inputs), ts)
        return list(out) if isinstance(out, (list, tuple)) else [out]
    if op.user_pullback is not None:
        ts = [zeros_like(x) if is_zero(t) else t for t, x in zip(tangents, node.inputs)]
        res = PullbackLinear(op)(*node.inputs, *node.outputs, *ts)
        return res if isinstance(res, list) else [res]
    # differentiate the inner graph w.r.t. its own (distinct) inputs, then move the result
    # onto the node's inputs: an input passed twice must not count its tangent twice
    from kiln.graph.replace import clone_replace

    ins = list(op.inner_inputs)
    st = push_tangents(list(op.inner_outputs), ins, list(tangents))
    touts = [st.tangent(o) for o in op.inner_outputs]
    live = [t for t in touts if not is_zero(t)]
    moved = clone_replace(live, dict(zip(ins, node.inputs))) if live else []
    _drop_inner_shape_hints(moved, node.inputs)
    moved = iter(moved)
    return [ZERO if is_zero(t) else next(moved) for t in touts]


def _drop_inner_shape_hints(outputs, stop) -> None:
    """Copied tangent nodes keep their rules' 'same shape as <inner primal>' hints; those
    name inner variables, which must not leak into the outer graph."""
    from kiln.graph.traversal import ancestors

    for v in ancestors(outputs, blockers=stop):
        v.tag.pop("shape_like", None)


@register_transpose(PullbackLinear)
def _pullback_t(node, cts, mask, ctx):
    from kiln.tensor.creation import zeros_like

    op = node.op.ofg
    n_in, n_out = len(op.inner_inputs), len(op.inner_outputs)
    ins, outs = node.inputs[:n_in], node.inputs[n_in:n_in + n_out]
    cts = [zeros_like(o) if is_zero(c) else c for c, o in zip(cts, outs)]
    res = op.user_pullback(list(ins), list(outs), cts)
    res = list(res) if isinstance(res, (list, tuple)) else [res]
    if len(res) != n_in:
        raise ValueError(f"{op}: the pullback override returned {len(res)} cotangents for {n_in} inputs")
    return [None] * (n_in + n_out) + [ZERO if r is None else r for r in res]
