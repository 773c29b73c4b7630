"""Gradient-control ops: identity in the forward computation, special in derivatives.

- `zero_grad(x)` / `stop_gradient(x)`: derivative zero (x stays connected).
- `disconnected_grad(x)`: derivative zero, and x's ancestors count as disconnected.
- `grad_scale(x, m)`: cotangents (and tangents) through x are multiplied by m.
- `grad_clip(x, lb, ub)`: cotangents through x are clipped to [lb, ub].
"""
from __future__ import annotations

from typing import Any

from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.tensor.basic import as_tensor_variable

__all__ = ["ZeroGrad", "DisconnectedGrad", "GradScale", "GradClip", "CotangentClip", "zero_grad",
           "stop_gradient", "disconnected_grad", "grad_scale", "grad_clip", "consider_constant"]


class _IdentityOp(Op):
    view_map = {0: [0]}

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0]

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(input_shapes[0])]


class ZeroGrad(_IdentityOp):
    """Identity whose derivative is zero."""


class DisconnectedGrad(_IdentityOp):
    """Identity whose derivative is zero and which disconnects its input from the cost."""

    disconnects_gradient = True


class GradScale(_IdentityOp):
    """Identity whose derivative is multiplied by `multiplier`."""

    __props__ = ("multiplier",)

    def __init__(self, multiplier: float):
        self.multiplier = float(multiplier)


class GradClip(_IdentityOp):
    """Identity whose cotangent is clipped to [lb, ub] in reverse mode."""

    __props__ = ("lb", "ub")

    def __init__(self, lb: float, ub: float):
        if lb > ub:
            raise ValueError(f"grad_clip: lower bound {lb} is above upper bound {ub}")
        self.lb, self.ub = float(lb), float(ub)


class CotangentClip(GradClip):
    """The tangent-side form of GradClip: identity forward, clip when transposed."""

    linear_inputs = (0,)


def zero_grad(x: Any):
    """x, with a zero derivative (PyTensor's zero_grad).

    >>> import kiln, kiln.tensor as kt
    >>> x = kt.scalar("x")
    >>> float(kiln.grad(x * zero_grad(x), x).eval({x: 3.0}))
    3.0
    """
    return ZeroGrad()(x)


stop_gradient = zero_grad
consider_constant = zero_grad


def disconnected_grad(x: Any):
    """x, treated as disconnected from the cost in derivatives (PyTensor's disconnected_grad)."""
    return DisconnectedGrad()(x)


def grad_scale(x: Any, multiplier: float):
    """x, whose gradient is multiplied by `multiplier` (PyTensor's grad_scale).

    >>> import kiln, kiln.tensor as kt
    >>> x = kt.scalar("x")
    >>> float(kiln.grad(grad_scale(x ** 2, 0.5), x).eval({x: 3.0}))
    3.0
    """
    return GradScale(multiplier)(x)


def grad_clip(x: Any, lower_bound: float, upper_bound: float):
    """x, whose gradient is clipped elementwise to [lower_bound, upper_bound] (PyTensor's grad_clip).

    >>> import kiln, kiln.tensor as kt
    >>> x = kt.scalar("x")
    >>> float(kiln.grad(grad_clip(x, -1.0, 1.0) * 5.0, x).eval({x: 3.0}))
    1.0
    """
    return GradClip(lower_bound, upper_bound)(x)
