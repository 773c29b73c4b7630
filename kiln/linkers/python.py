"""The python linker: the reference interpreter that runs each node's NumPy `perform`.

Its results define kiln's semantics; every other linker is tested against it.
The runner keeps values in a flat list of slots and drops each intermediate
after its last use, so peak memory follows the graph, not its size.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.fg import FunctionGraph

__all__ = ["PythonLinker", "describe_node"]


def describe_node(node: Apply, values: Sequence[Any] | None = None) -> str:
    """'op(input types / run-time shapes)' for error messages."""
    parts = []
    for i, v in enumerate(node.inputs):
        desc = f"{v.name + ': ' if v.name else ''}{getattr(v.type, 'short_str', lambda: str(v.type))()}"
        if values is not None and i < len(values) and hasattr(values[i], "shape"):
            desc += f" shape={tuple(values[i].shape)}"
        parts.append(desc)
    return f"{node.op}({', '.join(parts)})"


class PythonLinker:
    """Turns a FunctionGraph into a runner: `run(input_values) -> output_values`."""

    name = "py"

    def __init__(self, check_outputs: bool | None = None):
        if check_outputs is None:
            from kiln.configuration import config

            check_outputs = config.check_outputs
        self.check_outputs = check_outputs

    def make_runner(self, fgraph: FunctionGraph) -> Callable[[Sequence[Any]], list[Any]]:
        order = fgraph.toposort()
        slot: dict[Variable, int] = {}
        init: list[Any] = []

        def slot_of(v: Variable) -> int:
            if v not in slot:
                slot[v] = len(init)
                init.append(v.data if isinstance(v, Constant) else None)
            return slot[v]

        input_slots = [slot_of(v) for v in fgraph.inputs]
        steps = []
        for node in order:
            ins = [slot_of(v) for v in node.inputs]
            outs = [slot_of(v) for v in node.outputs]
            steps.append([node, node.op.perform, ins, outs, []])
        output_slots = [slot_of(v) for v in fgraph.outputs]

        # free each intermediate after the last node that reads it
        keep = set(input_slots) | set(output_slots) | {slot[v] for v in slot if isinstance(v, Constant)}
        last_use: dict[int, int] = {}
        for k, step in enumerate(steps):
            for s in step[2]:
                last_use[s] = k
            for s in step[3]:
                last_use.setdefault(s, k)
        for s, k in last_use.items():
            if s not in keep:
                steps[k][4].append(s)

        check = self.check_outputs
        checks = [[_output_check(o) for o in node.outputs] for node in order] if check else None

        def run(values: Sequence[Any]) -> list[Any]:
            storage = list(init)
            for s, v in zip(input_slots, values):
                storage[s] = v
            for k, (node, perform, ins, outs, frees) in enumerate(steps):
                args = [storage[i] for i in ins]
                cells = [[None] for _ in outs]
                try:
                    perform(node, args, cells)
                except Exception as e:
                    e.add_note(f"kiln: while computing {describe_node(node, args)}")
                    raise
                for s, cell in zip(outs, cells):
                    storage[s] = cell[0]
                if check:
                    for chk, cell in zip(checks[k], cells):
                        if chk is not None:
                            chk(node, cell[0])
                for s in frees:
                    storage[s] = None
            return [storage[s] for s in output_slots]

        return run


def _output_check(var: Variable):
    from kiln.tensor.type import TensorType

    t = var.type
    if not isinstance(t, TensorType):
        return None
    dtype, ndim, shape = np.dtype(t.dtype), t.ndim, t.shape

    def chk(node: Apply, value: Any) -> None:
        if not isinstance(value, np.ndarray) or value.dtype != dtype or value.ndim != ndim or any(
                s is not None and s != v for s, v in zip(shape, value.shape)):
            got = f"{type(value).__name__} {getattr(value, 'dtype', '')} {getattr(value, 'shape', '')}"
            raise TypeError(f"{node.op} produced {got}, but its output type is {t} (a bug in the op)")
    return chk
