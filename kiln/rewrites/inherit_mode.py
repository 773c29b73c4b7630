"""Ops that compile inner functions take the mode of the function they are compiled in.

An op holding inner graphs it compiles itself (the optimizers' objective, a jacobian's `Map`)
carries a `mode` (None until set) and `with_mode(mode)` returning a copy with it.  `InheritMode`
gives every such op of its class the mode of the function being compiled (read from
`kiln.rewrites.pipeline.CURRENT_MODE`), so `kiln.Mode(linker="py")` runs the inner functions on
the python linker too, and the default mode rewrites them and links them to C.
"""
from __future__ import annotations

from kiln.rewrites.db import GraphRewriter

__all__ = ["InheritMode"]


class InheritMode(GraphRewriter):
    """Give the nodes of `op_class` without a mode the compiling function's mode."""

    def __init__(self, name: str, op_class: type):
        self.name = name
        self.op_class = op_class

    def apply(self, fgraph) -> int:
        from kiln.rewrites.pipeline import CURRENT_MODE

        mode = CURRENT_MODE.get()
        if mode is None:
            return 0
        count = 0
        for node in [n for n in fgraph.toposort() if isinstance(n.op, self.op_class) and n.op.mode is None]:
            new = node.op.with_mode(mode).make_node(*node.inputs)
            for o, v in zip(node.outputs, new.outputs):
                v.name = o.name
            fgraph.replace_all(list(zip(node.outputs, new.outputs)), reason=self.name)
            count += 1
        return count
