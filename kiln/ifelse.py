"""ifelse: choose between two sets of values on a scalar condition (PyTensor's `pytensor.ifelse`).

`ifelse(condition, then_branch, else_branch)` returns the then-values when the 0-d condition is
true (non-zero), else the else-values.  Unlike `switch`, the condition is one scalar and the
branches need not have the same shape.  Branches are lists of the same length (or single
variables); the i-th outputs of the two branches must have the same dtype and number of
dimensions; the result's static shape keeps only the lengths both branches agree on.

Evaluation: the branches are computed before the choice (PyTensor's IfElse also computes both
unless its lazy VM linker runs it); the result is a copy, so it never aliases a branch.

>>> import numpy as np, kiln, kiln.tensor as kt
>>> a, b = kt.dscalar("a"), kt.dvector("b")
>>> f = kiln.function([a, b], ifelse(kt.lt(a, 0), b * 0, b * a))
>>> f(-1.0, np.ones(2)).tolist(), f(2.0, np.ones(2)).tolist()
([0.0, 0.0], [2.0, 2.0])
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply, Variable
from kiln.graph.op import Op
from kiln.tensor.type import TensorType

__all__ = ["IfElse", "ifelse"]


class IfElse(Op):
    """IfElse(n_outs)(condition, *then_values, *else_values) -> n_outs values."""

    __props__ = ("n_outs",)

    def __init__(self, n_outs: int):
        if n_outs < 1:
            raise ValueError("IfElse: needs at least one output per branch")
        self.n_outs = int(n_outs)

    def __str__(self) -> str:
        return f"if{{{self.n_outs}}}" if self.n_outs > 1 else "if"

    def make_node(self, condition: Any, *values: Any) -> Apply:
        from kiln.tensor.basic import as_tensor_variable, describe

        n = self.n_outs
        if len(values) != 2 * n:
            raise ValueError(f"ifelse: expected {n} then-values and {n} else-values, got {len(values)} values")
        cond = as_tensor_variable(condition)
        if cond.type.ndim != 0:
            raise TypeError(f"ifelse: the condition must be a scalar (0-d), got {describe(cond)}")
        if np.dtype(cond.type.dtype).kind not in "biuf":
            raise TypeError(f"ifelse: the condition must be boolean or numeric, got dtype {cond.type.dtype}")
        then_vals = [as_tensor_variable(v) for v in values[:n]]
        else_vals = [as_tensor_variable(v) for v in values[n:]]
        outs = []
        for k, (t, e) in enumerate(zip(then_vals, else_vals)):
            if not (isinstance(t.type, TensorType) and isinstance(e.type, TensorType)):
                raise TypeError(f"ifelse: branch values must be tensors, got {t.type} and {e.type}")
            if t.type.dtype != e.type.dtype or t.type.ndim != e.type.ndim:
                raise TypeError(f"ifelse: output {k} differs between the branches: then-branch {describe(t)}, "
                                f"else-branch {describe(e)} (dtype and number of dimensions must match; "
                                f"cast one of them)")
            shape = tuple(a if a == b else None for a, b in zip(t.type.shape, e.type.shape))
            outs.append(TensorType(t.type.dtype, shape)())
        return Apply(self, [cond, *then_vals, *else_vals], outs)

    def perform(self, node, inputs, output_storage):
        cond, *values = inputs
        n = self.n_outs
        chosen = values[:n] if bool(cond) else values[n:]
        for store, v in zip(output_storage, chosen):
            store[0] = np.array(v, copy=True)

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.basic import as_tensor_variable

        n = self.n_outs
        cond = node.inputs[0]
        out = []
        for k, (ts, es) in enumerate(zip(input_shapes[1:1 + n], input_shapes[1 + n:])):
            static = node.outputs[k].type.shape
            dims = []
            for d, (a, b) in enumerate(zip(ts, es)):
                if static[d] is not None:
                    dims.append(static[d])
                else:   # the length of the chosen branch, itself a (scalar) ifelse
                    dims.append(IfElse(1)(cond, as_tensor_variable(a), as_tensor_variable(b)))
            out.append(tuple(dims))
        return out


def ifelse(condition: Any, then_branch: Any, else_branch: Any, name: str | None = None):
    """`then_branch` if the scalar `condition` is true, else `else_branch` (single variables or
    equally long lists of them; see the module docstring)."""
    single = not isinstance(then_branch, (list, tuple))
    then_list = [then_branch] if single else list(then_branch)
    else_list = [else_branch] if not isinstance(else_branch, (list, tuple)) else list(else_branch)
    if len(then_list) != len(else_list):
        raise ValueError(f"ifelse: the then-branch has {len(then_list)} values and the else-branch "
                         f"{len(else_list)}; they must have as many")
    outs = IfElse(len(then_list))(condition, *then_list, *else_list)
    outs = [outs] if isinstance(outs, Variable) else list(outs)
    if name is not None:
        for k, o in enumerate(outs):
            o.name = name if len(outs) == 1 else f"{name}[{k}]"
    return outs[0] if single else outs


def _branch_values(node: Apply) -> tuple[Sequence[Variable], Sequence[Variable]]:
    n = node.op.n_outs
    return node.inputs[1:1 + n], node.inputs[1 + n:]
