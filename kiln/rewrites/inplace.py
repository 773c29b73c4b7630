"""The inplace phase and the DestroyHandler that keeps it safe.

An op that overwrites an input (its `destroy_map`) is only allowed when nobody can
observe the old value.  The `DestroyHandler` feature refuses (InconsistencyError,
so the change is rolled back) any graph in which a destroyed buffer
- is, or is a view of, a function input, shared storage, or a constant;
- is, or is a view of, a graph output;
- is read by any node other than the destroyer (directly or through a view), since
  that reader might run after the destroyer.
The phase then tries, node by node, to turn Elemwise (and Gemm/Gemv) nodes into
their in-place forms (and IncSubtensor into IncSubtensorInplace) and keeps each change
the handler accepts.
"""
from __future__ import annotations

import numpy as np

from kiln.graph.basic import Constant, Variable
from kiln.graph.fg import OUTPUT, Feature, FunctionGraph, InconsistencyError
from kiln.rewrites.blas_ops import _ScaledProductAdd
from kiln.rewrites.db import GraphRewriter
from kiln.tensor.elemwise import Elemwise
from kiln.tensor.inc_subtensor import IncSubtensor

__all__ = ["DestroyHandler", "InplaceRewriter", "inplace_elemwise", "alias_root", "IncSubtensorInplace"]


def alias_root(var: Variable) -> Variable:
    """The variable whose buffer `var` views (following view_map), or var itself."""
    while var.owner is not None:
        vm = var.owner.op.view_map.get(var.index)
        if not vm:
            break
        var = var.owner.inputs[vm[0]]
    return var


class DestroyHandler(Feature):
    """Validates every destroy_map in the graph (see the module docstring)."""

    def on_attach(self, fgraph):
        self.destroyers = {n for n in fgraph.apply_nodes if n.op.destroy_map}

    def on_import(self, fgraph, node, reason):
        if node.op.destroy_map:
            self.destroyers.add(node)

    def on_prune(self, fgraph, node, reason):
        self.destroyers.discard(node)

    def validate(self, fgraph):
        for node in list(self.destroyers):
            if node not in fgraph.apply_nodes:
                self.destroyers.discard(node)
                continue
            for out_idx, ins in node.op.destroy_map.items():
                for i in ins:
                    problem = self._problem(fgraph, node, node.inputs[i])
                    if problem:
                        raise InconsistencyError(f"{node.op} may not overwrite input {i} ({node.inputs[i]}): "
                                                 f"{problem}")

    @staticmethod
    def _problem(fgraph, destroyer, var: Variable) -> str | None:
        root = alias_root(var)
        if root.owner is None:
            if isinstance(root, Constant):
                return "it is (a view of) a constant"
            return "it is (a view of) a function input or shared storage"
        # every variable sharing root's buffer, and who reads it
        stack, seen = [root], set()
        while stack:
            v = stack.pop()
            if v in seen:
                continue
            seen.add(v)
            for client, i in fgraph.clients.get(v, ()):
                if client == OUTPUT:
                    return "its buffer is a graph output"
                if client is destroyer:
                    continue
                views = [o for o, vm in client.op.view_map.items() if i in vm]
                if views:
                    stack.extend(client.outputs[o] for o in views)
                    continue
                return f"{client.op} also reads it"
        return None


class IncSubtensorInplace(IncSubtensor):
    """IncSubtensor writing into x's buffer (x[idx] += y, or = y); made by the inplace phase."""

    destroy_map = {0: [0]}

    def __str__(self) -> str:
        return super().__str__() + "{inplace}"

    def perform(self, node, inputs, output_storage):
        x, y, *idx = inputs
        if not (isinstance(x, np.ndarray) and x.flags.writeable):
            return super().perform(node, inputs, output_storage)
        from kiln.tensor.subtensor import Subtensor

        key = Subtensor(self.idx_list)._index(idx)
        if self.set_instead_of_inc:
            x[key] = y
        else:
            x[key] += y
        output_storage[0][0] = x


def _candidates(node):
    """(output index, input index) pairs an Elemwise node could compute in place."""
    out = node.outputs[0]
    for i, v in enumerate(node.inputs):
        # equal static shapes; a run-time broadcast (None dims) makes perform fall back to a copy
        if v.type.dtype == out.type.dtype and v.type.shape == out.type.shape:
            yield 0, i


class InplaceRewriter(GraphRewriter):
    """Make Elemwise/Gemm/Gemv/IncSubtensor nodes destructive where the DestroyHandler allows it."""

    name = "inplace_elemwise"

    def apply(self, fgraph: FunctionGraph) -> int:
        if not any(isinstance(f, DestroyHandler) for f in fgraph.features):
            fgraph.attach_feature(DestroyHandler())
        changed = 0
        for node in fgraph.toposort():
            if node not in fgraph.apply_nodes or node.op.destroy_map:
                continue
            op = node.op
            if isinstance(op, Elemwise) and op.nout == 1:
                options = [Elemwise(op.scalar_op, inplace_pattern=((o, i),), name=op.name)
                           for o, i in _candidates(node)]
            elif isinstance(op, _ScaledProductAdd) and not op.inplace:
                c = node.inputs[0]
                out = node.outputs[0]
                options = [type(op)(inplace=True)] if (c.type.shape == out.type.shape
                                                       and c.type.dtype == out.type.dtype) else []
            elif type(op) is IncSubtensor:
                options = [IncSubtensorInplace(op.idx_list, op.set_instead_of_inc)]
            elif callable(getattr(op, "inplace_variant", None)) and op.inplace_variant() is not None:
                options = [op.inplace_variant()]  # ops that declare their destructive form
            else:
                continue
            for new_op in options:
                new = new_op.make_node(*node.inputs)
                try:
                    fgraph.replace_all(list(zip(node.outputs, new.outputs)), reason=self.name)
                except (InconsistencyError, TypeError):
                    continue
                changed += 1
                break
        return changed


inplace_elemwise = InplaceRewriter()
