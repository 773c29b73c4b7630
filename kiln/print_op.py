"""Print: an identity op that prints its input when it runs (PyTensor's printing.Print).

`Print(message, attrs=("__str__",), global_fn=...)(x)` returns `x` (a view) and, each time the
node runs, calls `global_fn(op, value)`; the default prints one line per attribute,
`message attr = value` (an attribute that is callable is called first, so `attrs=("shape",)`
prints the shape and `("__str__",)` the value).  Gradients pass through unchanged.  The node runs
only if its output is used, and it keeps rewrites from seeing through it, as in PyTensor.

>>> import numpy as np, kiln, kiln.tensor as kt
>>> x = kt.dvector("x")
>>> f = kiln.function([x], Print("x is", attrs=("__str__", "shape"))(x) * 2)
>>> f(np.array([1.0, 2.0])).tolist()
x is __str__ = [1. 2.]
x is shape = (2,)
[2.0, 4.0]
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from kiln.gradient.ops import _IdentityOp

__all__ = ["Print"]


def _print_fn(op: "Print", value: Any) -> None:
    for attr in op.attrs:
        got = getattr(value, attr)
        print(op.message, attr, "=", got() if callable(got) else got)


class Print(_IdentityOp):
    """Print(message, attrs, global_fn)(x) -> x, printing as a side effect (see the module);
    an identity op (a view of x) like kiln.gradient's gradient-control ops."""

    __props__ = ("message", "attrs", "global_fn")
    foldable = False   # printing is the point: never computed away at compile time

    def __init__(self, message: str = "", attrs: Sequence[str] = ("__str__",),
                 global_fn: Callable[["Print", Any], None] = _print_fn):
        self.message, self.attrs, self.global_fn = str(message), tuple(attrs), global_fn

    def perform(self, node, inputs, output_storage):
        self.global_fn(self, inputs[0])
        output_storage[0][0] = inputs[0]
