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

import math
from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply, Variable

__all__ = ["Op", "OpError", "prop_key"]


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

    def _props_key(self) -> tuple:
        """The props as an exactly comparable, hashable key (see `prop_key`).

        Ops are immutable, and merge and the rewrite engine hash and compare them all the
        time, so the key is computed once per op and kept in the instance dict.
        """
        d = getattr(self, "__dict__", None)
        key = d.get("_props_key_cache") if d is not None else None
        if key is None:
            key = tuple(prop_key(getattr(self, p)) for p in self.__props__)
            if d is not None:
                d["_props_key_cache"] = key
        return key

    def __eq__(self, other: Any) -> bool:
        return self is other or (type(self) is type(other) and self._props_key() == other._props_key())

    def __hash__(self) -> int:
        return hash((type(self), self._props_key()))

    def __getstate__(self) -> dict:
        # the cached key is derived data (and large for inner-graph ops): rebuild it on demand
        d = dict(self.__dict__)
        d.pop("_props_key_cache", None)
        return d

    def __str__(self) -> str:
        name = type(self).__name__
        if not self.__props__:
            return name
        params = ", ".join(_fmt(getattr(self, p)) for p in self.__props__)
        return f"{name}{{{params}}}"

    __repr__ = __str__

    # -- building -------------------------------------------------------------
    def make_node(self, *inputs: Any) -> Apply:
        """Build the node.  The default serves ops that declare `itypes` and `otypes` (lists of
        types, or tensor constructors such as `kt.dmatrix`), as in PyTensor: inputs must have
        (or convert to) the itypes; outputs are fresh variables of the otypes."""
        itypes, otypes = getattr(self, "itypes", None), getattr(self, "otypes", None)
        if itypes is None or otypes is None:
            raise NotImplementedError(f"{type(self).__name__}.make_node (or declare itypes and otypes)")
        return _node_from_types(self, inputs, itypes, otypes)

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

    # -- differentiation (rules live in kiln.gradient's tables; see docs/gradients.md) --
    #: indices of inputs in which the op is linear (used by transpose checks)
    linear_inputs: tuple[int, ...] | None = None

    def jvp(self, node: Apply, tangents: Sequence[Any]) -> list[Any]:
        """Output tangents from input tangents, for ops without an entry in kiln.gradient's
        rule tables (see docs/gradients.md).

        `tangents[i]` is a variable of `node.inputs[i]`'s type or `kiln.gradient.Zero`; return
        one tangent (or Zero/None) per output, written as "coefficient from primals x tangent"
        so that reverse mode can transpose it.  Ops without a rule get an undefined (Null)
        gradient, which is an error only if a requested gradient needs it.
        """
        raise NotImplementedError(f"{type(self).__name__} has no jvp rule")

    def transpose(self, node: Apply, cotangents: Sequence[Any], linear: Sequence[bool]) -> list[Any]:
        """For a linear op (see `linear_inputs`): input cotangents from output cotangents.

        `cotangents[j]` is a variable or Zero per output; `linear[i]` says whether input i carries
        a tangent.  Return one cotangent per input (None/Zero where `linear[i]` is False).
        """
        raise NotImplementedError(f"{type(self).__name__} is not linear (no transpose rule)")


def declared_type(t: Any, who: str):
    """A Type from an itypes/otypes entry: a Type, or a constructor (kt.dmatrix) whose
    variables have the type."""
    from kiln.graph.basic import Type

    if isinstance(t, Type):
        return t
    if callable(t):
        made = t()
        if isinstance(getattr(made, "type", None), Type):
            return made.type
    raise TypeError(f"{who}: {t!r} is neither a Type nor a variable constructor (kt.dmatrix, ...)")


def _node_from_types(op: Op, inputs: Sequence[Any], itypes: Sequence[Any], otypes: Sequence[Any]) -> Apply:
    from kiln.tensor.basic import as_tensor_variable   # itypes are tensor types in practice

    if len(inputs) != len(itypes):
        raise TypeError(f"{op}: takes {len(itypes)} inputs, got {len(inputs)}")
    ins = []
    for k, (x, t) in enumerate(zip(inputs, itypes)):
        t = declared_type(t, str(op))
        v = x if isinstance(x, Variable) else as_tensor_variable(x)
        conv = t.convert_variable(v) if hasattr(t, "convert_variable") else (v if v.type == t else None)
        if conv is None:
            raise TypeError(f"{op}: input {k} ({v}) has type {v.type}, expected {t}")
        ins.append(conv)
    return Apply(op, ins, [declared_type(t, str(op))() for t in otypes])


_PLAIN = (int, str, bool, type(None), type)


def prop_key(v: Any) -> Any:
    """A value standing for prop `v` in equality and hashing.

    Plain `==` is wrong for some parameters: NaN != NaN (and NaNs hash by identity), 0.0 == -0.0
    although they give different results (1 / x), and arrays do not compare to a bool.  Floats
    keep comparing equal to equal ints (1.0 == 1) so integral parameters may be given either way.
    """
    if isinstance(v, _PLAIN):
        return v
    if isinstance(v, (float, np.floating)):
        if v != v:
            return ("nan",)
        if v == 0 and math.copysign(1.0, float(v)) < 0:
            return ("-0.0",)
        return v
    if isinstance(v, tuple):
        return tuple(prop_key(x) for x in v)
    if isinstance(v, np.ndarray):
        return ("ndarray", str(v.dtype), v.shape, np.ascontiguousarray(v).tobytes())
    if isinstance(v, list):
        return ("list",) + tuple(prop_key(x) for x in v)
    if isinstance(v, dict):
        return ("dict",) + tuple(sorted(((prop_key(k), prop_key(x)) for k, x in v.items()), key=repr))
    return v


def _fmt(v: Any) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_fmt(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, Op):
        return str(v)
    if hasattr(v, "name") and isinstance(v.name, str):
        return v.name
    return repr(v) if isinstance(v, str) else str(v)


def is_variable(x: Any) -> bool:
    return isinstance(x, Variable)
