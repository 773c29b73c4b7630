"""Op: the verbs of the IR.

An Op carries math only: how to build a node (`make_node`), how to compute it
with NumPy (`perform`, the semantic specification every linker is tested
against), its output shapes (`infer_shape`), and, for the gradient pass, its
forward rule (`jvp`) and, when linear, its `transpose`.  Code generation for
the C and CUDA linkers lives in backend tables keyed by op class, not here.

Ops are immutable and compare structurally by the attributes named in
`__props__`, so two `Sum(axis=(0,))` built independently are the same op
(the merge rewrite relies on it).
"""
from __future__ import annotations

from typing import Any, Sequence

from kiln.graph.basic import Apply, Variable

__all__ = ["Op", "OpError"]


class OpError(Exception):
    """Raised by an op for invalid inputs at run time (besides NumPy's own errors)."""


class Op:
    __props__: tuple[str, ...] = ()
    #: {output index: [input indices]} when an output is a view of inputs
    view_map: dict[int, list[int]] = {}
    #: {output index: [input indices]} when an output overwrites inputs in place
    destroy_map: dict[int, list[int]] = {}
    #: False for ops that constant folding must leave alone (random draws, allocs)
    foldable: bool = True
    default_output: int | None = None

    # -- identity -------------------------------------------------------------
    def _props(self) -> tuple:
        return tuple(getattr(self, p) for p in self.__props__)

    def __eq__(self, other: Any) -> bool:
        return type(self) is type(other) and self._props() == other._props()

    def __hash__(self) -> int:
        return hash((type(self), self._props()))

    def __str__(self) -> str:
        name = type(self).__name__
        if not self.__props__:
            return name
        params = ", ".join(_fmt(getattr(self, p)) for p in self.__props__)
        return f"{name}{{{params}}}"

    __repr__ = __str__

    # -- building -------------------------------------------------------------
    def make_node(self, *inputs: Any) -> Apply:
        raise NotImplementedError(f"{type(self).__name__}.make_node")

    def __call__(self, *inputs: Any, **kwargs: Any):
        node = self.make_node(*inputs, **kwargs)
        if self.default_output is not None:
            return node.outputs[self.default_output]
        if len(node.outputs) == 1:
            return node.outputs[0]
        return node.outputs

    # -- running --------------------------------------------------------------
    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list]) -> None:
        """Compute outputs from input values; store output i in output_storage[i][0]."""
        raise NotImplementedError(f"{type(self).__name__}.perform")

    def infer_shape(self, fgraph, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        """Symbolic output shapes (tuples of scalar variables or ints) from input shapes."""
        raise NotImplementedError(f"{type(self).__name__}.infer_shape")

    # -- differentiation (rules live in kiln.gradient; see docs/extending.md) --
    #: indices of inputs in which the op is linear (used by transpose checks)
    linear_inputs: tuple[int, ...] | None = None

    def jvp(self, node: Apply, tangents: Sequence[Any]) -> list[Any]:
        """Output tangents from input tangents (kiln.gradient.Zero for none)."""
        raise NotImplementedError(f"{type(self).__name__} has no jvp rule")

    def transpose(self, node: Apply, cotangents: Sequence[Any], linear: Sequence[bool]) -> list[Any]:
        """For a linear op: input cotangents (for the linear inputs) from output cotangents."""
        raise NotImplementedError(f"{type(self).__name__} is not linear (no transpose rule)")


def _fmt(v: Any) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, Op):
        return str(v)
    if hasattr(v, "name") and isinstance(getattr(v, "name"), str):
        return v.name
    return repr(v) if isinstance(v, str) else str(v)


def is_variable(x: Any) -> bool:
    return isinstance(x, Variable)
