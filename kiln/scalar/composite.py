"""Composite: a scalar op defined by a graph of scalar ops (what fusion produces).

`Elemwise(Composite(...))` is one loop over all elements computing a whole tree
of elementwise ops.  Its `impl` evaluates the inner scalar graph on whole NumPy
arrays (each inner op's `impl`, broadcasting as NumPy does), which is exactly
what the unfused Elemwise nodes computed.  Two Composites are equal when their
inner graphs are structurally equal.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Variable
from kiln.graph.inner import InnerGraphMixin
from kiln.scalar.basic import ScalarOp, ScalarType

__all__ = ["Composite"]


class Composite(InnerGraphMixin, ScalarOp):
    """A scalar op whose math is the scalar graph from `inputs` to `outputs`.

    >>> import numpy as np
    >>> from kiln.scalar.basic import scalar_type
    >>> from kiln.scalar import math as ps
    >>> a, b = scalar_type("float64")(), scalar_type("float64")()
    >>> c = Composite([a, b], [ps.exp(ps.add(a, b))])
    >>> c.impl(np.zeros(2), np.ones(2))
    array([2.71828183, 2.71828183])
    """

    __props__ = ("signature",)
    _derived_attrs = ("_program",)

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable], name: str | None = None):
        for v in inputs:
            if not isinstance(v.type, ScalarType):
                raise TypeError(f"Composite: input {v} has type {v.type}, not a scalar type")
        self._set_inner_graph(inputs, outputs, name)
        self.nin = len(inputs)
        self.nout = len(outputs)

    def __str__(self) -> str:
        if self.name:
            return self.name
        ops = [str(n.op) for n in self._order()]
        text = ",".join(ops[:6]) + (",..." if len(ops) > 6 else "")
        return f"Composite{{{text}}}"

    def _order(self):
        if self._program is None:
            self._program = self.fgraph.toposort()
        return self._program

    def output_dtypes(self, in_dtypes: Sequence[str]) -> tuple[str, ...]:
        in_dtypes = tuple(in_dtypes)
        expect = tuple(v.type.dtype for v in self.inner_inputs)
        if in_dtypes != expect:
            raise TypeError(f"{self}: expected input dtypes {expect}, got {in_dtypes}")
        return tuple(v.type.dtype for v in self.inner_outputs)

    def impl(self, *inputs: Any) -> Any:
        values: dict[Variable, Any] = dict(zip(self.inner_inputs, inputs))
        for node in self._order():
            args = [values[i] if i in values else np.asarray(i.data) for i in node.inputs]
            res = node.op.impl(*args)
            res = res if isinstance(res, tuple) else (res,)
            for o, r in zip(node.outputs, res):
                # each inner value has its inner op's dtype, as in the unfused graph
                values[o] = np.asarray(r, dtype=o.type.dtype)
        outs = tuple(values[o] if o in values else np.asarray(o.data) for o in self.inner_outputs)
        # An output that reads only some inputs (or none) has their smaller broadcast shape;
        # every output of an elementwise op has the broadcast shape of all its inputs.
        shape = np.broadcast_shapes(*[np.shape(x) for x in inputs])
        outs = tuple(o if np.shape(o) == shape else np.array(np.broadcast_to(o, shape)) for o in outs)
        return outs if self.nout > 1 else outs[0]
