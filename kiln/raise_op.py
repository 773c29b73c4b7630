"""Run-time checks inside a graph (PyTensor's `pytensor.raise_op`).

`CheckAndRaise(exc_type, msg)(x, *conditions)` returns `x` unchanged (a view) when every
condition is true (non-zero; arrays must be true everywhere) and raises `exc_type(msg)` when
one is not.  `Assert(msg)` is the AssertionError case, and `assert_op` an Assert without a
message.  The check runs where the output is used, so the output must be used by what the
function computes (a check whose output nobody reads is dead code, as in PyTensor).

Gradients flow through `x` unchanged (the check stays in the primal graph only); conditions
get none.  Conditions that are constants and true are removed by the rewrite
`remove_true_checks` (kiln/rewrites: fast_run and fast_compile), so a check costs nothing once
it is proved.

>>> import numpy as np, kiln, kiln.tensor as kt
>>> x = kt.dvector("x")
>>> f = kiln.function([x], Assert("x is too long")(x, x.size < 3) * 2)
>>> f(np.ones(2)).tolist()
[2.0, 2.0]
>>> try:
...     f(np.ones(4))
... except AssertionError as e:
...     print(e)
x is too long
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln.graph.basic import Apply
from kiln.graph.op import Op

__all__ = ["CheckAndRaise", "Assert", "assert_op"]


class CheckAndRaise(Op):
    """CheckAndRaise(exc_type, msg)(x, *conditions) -> x, raising exc_type(msg) when a
    condition is false at run time."""

    __props__ = ("exc_type", "msg")
    view_map = {0: [0]}
    foldable = False   # constant inputs: the check still runs (a false one raises at run time)

    def __init__(self, exc_type: type, msg: str = ""):
        if not (isinstance(exc_type, type) and issubclass(exc_type, Exception)):
            raise TypeError(f"CheckAndRaise: exc_type must be an exception class, got {exc_type!r}")
        self.exc_type, self.msg = exc_type, str(msg)

    def __str__(self) -> str:
        return f"CheckAndRaise{{{self.exc_type.__name__}({self.msg!r})}}"

    def make_node(self, x: Any, *conditions: Any) -> Apply:
        from kiln.tensor.basic import as_tensor_variable

        x = as_tensor_variable(x)
        if not conditions:
            raise TypeError(f"{self}: needs at least one condition")
        conds = [as_tensor_variable(c) for c in conditions]
        for c in conds:
            if c.type.dtype.startswith("complex"):
                raise TypeError(f"{self}: condition {c} is complex; give a boolean or real condition")
        return Apply(self, [x, *conds], [x.type()])

    def perform(self, node, inputs, output_storage):
        x, *conds = inputs
        if not all(np.all(c) for c in conds):
            raise self.exc_type(self.msg)
        output_storage[0][0] = x

    def infer_shape(self, fgraph, node, input_shapes):
        return [input_shapes[0]]


class Assert(CheckAndRaise):
    """Assert(msg)(x, *conditions): CheckAndRaise with AssertionError (PyTensor's Assert)."""

    __props__ = ("msg",)

    def __init__(self, msg: str = "kiln Assert failed!"):
        super().__init__(AssertionError, msg)

    def __str__(self) -> str:
        return f"Assert{{{self.msg!r}}}"


assert_op = Assert()
