"""Symbolic stand-ins used by the gradient pass: Zero, Null, and the disconnected marker.

A tangent or cotangent is either a tensor variable or `Zero`.  `Zero` is not a
graph node: rules test for it (`is_zero`) and skip work, so a gradient that is
known to vanish costs nothing.  `Null` records that a derivative is undefined,
with the reason; it reaches the user only if it flows into a requested gradient.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiln.graph.basic import Type, Variable

__all__ = ["Zero", "ZERO", "Null", "is_zero", "GradientError", "DisconnectedInputError",
           "NullTypeGradError", "DisconnectedType", "disconnected_type"]


@dataclass(frozen=True)
class Zero:
    """A symbolic zero tangent/cotangent (no graph is built for it).

    >>> is_zero(Zero())
    True
    """

    def __repr__(self) -> str:
        return "Zero"


ZERO = Zero()


@dataclass(frozen=True)
class Null:
    """An undefined derivative, with the reason (e.g. an op without a jvp rule) and the
    indices of the `wrt` variables whose gradients it makes undefined."""

    reason: str
    wrt: frozenset = field(default_factory=frozenset)


def is_zero(t: Any) -> bool:
    """True for the symbolic `Zero` (and for None, which rules may return for 'no derivative')."""
    return t is None or isinstance(t, Zero)


class GradientError(ValueError):
    """verify_grad: the symbolic gradient disagrees with finite differences."""

    def __init__(self, message: str, symbolic: float = float("nan"), numeric: float = float("nan"),
                 abs_err: float = float("nan"), rel_err: float = float("nan")):
        super().__init__(message)
        self.symbolic, self.numeric, self.abs_err, self.rel_err = symbolic, numeric, abs_err, rel_err


class DisconnectedInputError(ValueError):
    """grad(): the cost does not depend on one of `wrt` (disconnected_inputs='raise')."""


class NullTypeGradError(TypeError):
    """grad(): a requested gradient is undefined (null_gradients='raise')."""


class DisconnectedType(Type):
    """The type of the marker grad() returns with return_disconnected='Disconnected'."""

    def filter(self, value, strict=False, allow_downcast=None):
        raise TypeError("a disconnected gradient has no value")

    def __eq__(self, other: Any) -> bool:
        return type(other) is DisconnectedType

    def __hash__(self) -> int:
        return hash("DisconnectedType")

    def __repr__(self) -> str:
        return "DisconnectedType"


def disconnected_type() -> Variable:
    """A fresh variable standing for 'this gradient is disconnected'."""
    return DisconnectedType()()
