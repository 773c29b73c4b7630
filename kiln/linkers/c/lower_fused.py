"""Lower a FusedReduce node to its kernel IR (kiln/linkers/c/ir_fused.py).

Placement: every inner value is computed at the outermost loop level of its chain where
all the loop axes it varies along are bound, so loop-invariant work (the row maximum of
logsumexp, the exp of a KeOps kernel entry when the output has a second axis) is hoisted.

The blocked (vectorized) axis: among the output axes and the axes of reductions placed at
the root (not the small inner reductions of a KeOps kernel), the one that is the last dim
of the most input elements (each input votes with its rank for the axis of its last such
dim): the axis along which memory is contiguous.  It is looped last in its chain.
"""
from __future__ import annotations

from typing import Callable

from kiln.graph.basic import Apply, Variable
from kiln.linkers.c.ir import Operand
from kiln.linkers.c.ir_fused import FLevel, FLoop, FReduce, FusedReduceKernel, FValue
from kiln.linkers.c.lower import LOWERINGS
from kiln.linkers.c.scalar_c import scalar_c_block
from kiln.linkers.c.types import supported
from kiln.tensor import reduction as red
from kiln.tensor.elemwise import DimShuffle, Elemwise
from kiln.tensor.fused_reduce import FusedReduce
from kiln.tensor.type import TensorType

__all__ = ["lower_fused_reduce"]

_KIND = {red.Sum: "sum", red.Prod: "prod", red.Max: "max", red.Min: "min", red.Any: "any", red.All: "all"}


class _NoC(Exception):
    pass


class _Pos:
    """A loop level under construction."""

    def __init__(self, parent: "_Pos | None", bound: frozenset, lane: bool):
        self.parent, self.bound, self.lane = parent, bound, lane
        self.items: list = []
        self.loop: tuple[int, bool, "_Pos"] | None = None

    def chain(self) -> list["_Pos"]:
        out, p = [], self
        while p is not None:
            out.append(p)
            p = p.parent
        return out[::-1]

    def freeze(self) -> FLevel:
        loop = None if self.loop is None else FLoop(self.loop[0], self.loop[1], self.loop[2].freeze())
        return FLevel(tuple(i.freeze() if isinstance(i, _PendingReduce) else i for i in self.items), loop)


class _PendingReduce:
    """A reduction whose loop chain is still being filled: FReduce fields but the chain."""

    def __init__(self, start: _Pos, **fields):
        self.start, self.fields = start, fields

    def freeze(self) -> FReduce:
        return FReduce(chain=self.start.freeze(), **self.fields)


def _open_chain(start: _Pos, axes: list[int], vec: int | None) -> _Pos:
    """Open loops over `axes` (the blocked axis last) under `start`; the innermost level."""
    axes = sorted(axes, key=lambda a: (a == vec, a))
    p = start
    for a in axes:
        q = _Pos(p, p.bound | {a}, p.lane or a == vec)
        p.loop = (a, a == vec, q)
        p = q
    return p


def _choose_vec(op: FusedReduce) -> int | None:
    """The blocked loop axis (see the module docstring), or None when there is no loop."""
    plan = op.plan
    out_axes = {a for a in plan.output_axes if a is not None}
    cands = set(out_axes)
    for n in op.reductions():
        if plan.dom(n.outputs[0]) <= out_axes:   # placed at the root chain
            cands |= plan.reduced[n]
    votes: dict[int, int] = {}
    for axes in plan.input_axes:
        present = [a for a in axes if a is not None and a in cands]
        if present:
            votes[present[-1]] = votes.get(present[-1], 0) + len([a for a in axes if a is not None])
    if not votes:
        return None
    return max(sorted(votes), key=lambda a: votes[a])


def lower_fused_reduce(node: Apply, buf: Callable[[Variable], int]) -> FusedReduceKernel | None:
    """The kernel IR of a FusedReduce node, or None (perform) for dtypes C does not handle."""
    op: FusedReduce = node.op
    if not all(isinstance(v.type, TensorType) and supported(v.type.dtype) and v.type.ndim <= 16
               for v in (*node.inputs, *node.outputs)):
        return None
    fg = op.fgraph
    if not all(supported(v.type.dtype) for n in fg.toposort() for v in (*n.inputs, *n.outputs)):
        return None
    plan = op.plan
    inner_in = {v: k for k, v in enumerate(op.inner_inputs)}
    vec = _choose_vec(op)
    counter = iter(range(1 << 30))

    def fresh() -> str:
        return f"t{next(counter)}"

    root = _Pos(None, frozenset(), False)
    out_axes = [a for a in plan.output_axes if a is not None]
    inner_root = _open_chain(root, out_axes, vec if vec in out_axes else None)
    done: dict = {}   # (variable, level) -> (name, lane)

    def ref(name: str, lane: bool) -> str:
        return f"{name}[u]" if lane else name

    def need(v: Variable, at: _Pos) -> tuple[str, bool]:
        dom = plan.dom(v)
        target = next(p for p in at.chain() if dom <= p.bound)
        if (v, target) in done:
            return done[(v, target)]
        lane = target.lane and vec in dom
        dt = v.type.dtype
        if v in inner_in:
            name = fresh()
            target.items.append(FValue(name, dt, lane, "load", input=inner_in[v]))
        else:
            n = v.owner
            if isinstance(n.op, DimShuffle):
                res = need(n.inputs[0], target)
                done[(v, target)] = res
                return res
            if isinstance(n.op, Elemwise):
                args = [need(i, target) for i in n.inputs]
                block = scalar_c_block(n.op.scalar_op, [ref(*a) for a in args], [i.type.dtype for i in n.inputs],
                                       [dt], fresh)
                if block is None:
                    raise _NoC
                stmts, (expr,) = block
                name = fresh()
                target.items.append(FValue(name, dt, lane, "expr", stmts=tuple(stmts), expr=expr))
            elif type(n.op) in _KIND:
                kind = _KIND[type(n.op)]
                if kind in ("sum", "prod") and dt == "bool":
                    raise _NoC
                axes = sorted(plan.reduced[n])
                partial = vec in axes
                start = _Pos(target, target.bound, target.lane)
                inner = _open_chain(start, axes, vec if partial else None)
                arg = need(n.inputs[0], inner)
                name = fresh()
                target.items.append(_PendingReduce(start, name=name, dtype=dt, kind=kind, lane=lane,
                                                   partial=partial, arg=ref(*arg),
                                                   arg_dtype=n.inputs[0].type.dtype, arg_lane=arg[1]))
            else:
                raise _NoC
        done[(v, target)] = (name, lane)
        return name, lane

    try:
        result = need(op.inner_outputs[0], inner_root)
    except _NoC:
        return None
    return FusedReduceKernel(
        str(op), Operand(buf(node.outputs[0]), node.outputs[0].type.dtype),
        tuple(Operand(buf(v), v.type.dtype) for v in node.inputs), plan.n_axes,
        tuple(tuple(-1 if a is None else a for a in axes) for axes in plan.input_axes),
        tuple(-1 if a is None else a for a in plan.output_axes), -1 if vec is None else vec,
        root.freeze(), result[0], result[1])


import kiln.linkers.c.shapes_ops  # noqa: E402,F401  (FusedReduce's shape rule: apart, for warm starts)

LOWERINGS[FusedReduce] = lower_fused_reduce
