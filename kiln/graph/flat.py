"""A FunctionGraph as flat data, for pickling.

Pickling linked Variables and Apply nodes recurses once per node (a variable pickles its
owner, which pickles its inputs, ...) and overflows the stack on deep graphs.  Instead a
graph travels as a list of ownerless variables plus one (op, input indices, output
indices) entry per node in topological order, and is re-linked on arrival.  Compiled
functions and inner-graph ops (fused kernels, OpFromGraph, ...) both travel this way.
"""
from __future__ import annotations

from kiln.graph.basic import Apply, Variable
from kiln.graph.fg import FunctionGraph

__all__ = ["freeze_graph", "thaw_graph"]


def freeze_graph(fg: FunctionGraph) -> tuple:
    """fg as flat data: root variables (node outputs re-created ownerless) and
    (op, input indices, output indices) per node, in topological order.

    >>> import pickle, kiln.tensor as kt
    >>> x = kt.vector("x"); y = x
    >>> for _ in range(5000): y = y + 1.0
    >>> fg = FunctionGraph([x], [y])
    >>> back = thaw_graph(pickle.loads(pickle.dumps(freeze_graph(fg))))
    >>> len(back.apply_nodes) == len(fg.apply_nodes) >= 5000
    True
    """
    index: dict[Variable, int] = {}
    variables: list[Variable] = []

    def add(v: Variable, as_root: Variable) -> int:
        index[v] = len(variables)
        variables.append(as_root)
        return index[v]

    for v in fg.inputs:
        add(v, v)
    nodes = []
    for node in fg.toposort():
        ins = [index[v] if v in index else add(v, v) for v in node.inputs]
        outs = []
        for o in node.outputs:
            root = o.clone()
            root.tag = {k: t for k, t in o.tag.items() if k != "_eval_cache"}
            outs.append(add(o, root))
        nodes.append((node.op, ins, outs))
    outputs = [index[v] if v in index else add(v, v) for v in fg.outputs]
    return (variables, nodes, list(range(len(fg.inputs))), outputs, dict(fg.update_mapping))


def thaw_graph(data: tuple) -> FunctionGraph:
    """The FunctionGraph that `freeze_graph` flattened (without its rewrite-time features)."""
    variables, nodes, inputs, outputs, update_mapping = data
    for op, ins, outs in nodes:
        Apply(op, [variables[i] for i in ins], [variables[j] for j in outs])
    return FunctionGraph([variables[i] for i in inputs], [variables[i] for i in outputs], clone=False,
                         update_mapping=update_mapping)
