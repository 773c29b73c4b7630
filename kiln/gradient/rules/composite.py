"""Elemwise(Composite): a fused elementwise kernel is differentiated through its inner scalar
graph, rebuilt as tensor-level Elemwise nodes on the kernel's inputs (so the derivative is
made of the same per-op rules, and fusion can fuse it again)."""
from __future__ import annotations

from kiln.gradient.registry import ELEMWISE_JVP
from kiln.gradient.values import ZERO, is_zero
from kiln.scalar.composite import Composite


def _inline(op: Composite, inputs: list) -> list:
    """The composite's inner graph as tensor Elemwise nodes on `inputs`."""
    from kiln.graph.basic import Constant
    from kiln.tensor.basic import constant
    from kiln.tensor.elemwise import Elemwise

    values = dict(zip(op.inner_inputs, inputs))
    for node in op.fgraph.toposort():
        args = [values[i] if i in values else constant(i.data, dtype=i.type.dtype) for i in node.inputs
                if i in values or isinstance(i, Constant)]
        outs = Elemwise(node.op).make_node(*args).outputs
        values.update(zip(node.outputs, outs))
    return [values[o] for o in op.inner_outputs]


def _composite_jvp(node, tangents):
    from kiln.compile.builders import _drop_inner_shape_hints
    from kiln.gradient.forward import push_tangents
    from kiln.graph.replace import clone_replace

    # distinct placeholders: an input passed twice must not count its tangent twice
    holders = [i.type() for i in node.inputs]
    outs = _inline(node.op.scalar_op, holders)
    st = push_tangents(outs, holders, list(tangents))
    touts = [st.tangent(o) for o in outs]
    live = [t for t in touts if not is_zero(t)]
    moved = clone_replace(live, dict(zip(holders, node.inputs))) if live else []
    _drop_inner_shape_hints(moved, node.inputs)
    moved = iter(moved)
    # A tangent computed from only some inputs has their smaller broadcast shape: stretch it to
    # its output's (the kernel's full broadcast shape), as the kernel does with the primal.
    return [ZERO if is_zero(t) else _like_output(next(moved), out) for t, out in zip(touts, node.outputs)]


def _like_output(t, out):
    from kiln.tensor.unbroadcast import BroadcastLike

    if t.type.shape == out.type.shape and None not in out.type.shape:
        return t
    return BroadcastLike()(t, out)


ELEMWISE_JVP[Composite] = _composite_jvp
