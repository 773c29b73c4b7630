"""The C linker: compile each maximal C-capable run of nodes into one module; run the rest
through `perform`.

make_runner(fgraph):
  1. classify nodes in topological order: kernel (has a lowering), view (DimShuffle), python;
  2. group consecutive kernel/view nodes into segments; each segment is lowered to kernel IR,
     rendered to C, and compiled through the module cache (or found there);
  3. the graph's signature indexes the segment keys, so a warm start loads modules without
     rendering C;
  4. at call time a segment allocates its outputs and intermediates (NumPy, C order),
     builds view descriptors, and makes one native call.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.fg import FunctionGraph
from kiln.linkers.c.ir import Segment
from kiln.linkers.c.lower import lower_node
from kiln.linkers.c.shapes import output_shape, value_inputs
from kiln.linkers.python import PythonLinker, describe_node
from kiln.tensor import reduction as red
from kiln.tensor.elemwise import DimShuffle, Elemwise
from kiln.tensor.shape import Reshape
from kiln.tensor.subtensor import Subtensor

__all__ = ["CLinker", "graph_key", "canonical_order"]


def _stable(obj: Any) -> str:
    """A deterministic text for op parameters and types (no id()s, no pickles)."""
    from kiln.graph.op import Op

    if isinstance(obj, Op):
        t = type(obj)
        return f"{t.__module__}.{t.__qualname__}({','.join(_stable(p) for p in obj._props())})"
    if isinstance(obj, (tuple, list)):
        return "(" + ",".join(_stable(o) for o in obj) + ")"
    if isinstance(obj, bytes):
        return "b:" + hashlib.sha256(obj).hexdigest()
    return repr(obj)


def canonical_order(fgraph: FunctionGraph) -> list[Apply]:
    """A topological order that depends only on the graph's structure (depth-first from the
    outputs, inputs in position order), so equal graphs get equal segments and index keys
    whatever order sets and dicts happened to produce."""
    order: list[Apply] = []
    done: set[Apply] = set()
    for out in fgraph.outputs:
        stack = [(out.owner, 0)] if out.owner is not None else []
        while stack:
            node, k = stack.pop()
            if node in done:
                continue
            if k < len(node.inputs):
                stack.append((node, k + 1))
                child = node.inputs[k].owner
                if child is not None and child not in done:
                    stack.append((child, 0))
            else:
                done.add(node)
                order.append(node)
    return order


def graph_key(fgraph: FunctionGraph, order: Sequence[Apply], extra: str = "") -> str:
    """The function-level index key: structure, types and constants of the graph, plus `extra`."""
    index: dict[Variable, int] = {v: k for k, v in enumerate(fgraph.inputs)}
    parts = ["in:" + ";".join(repr(v.type) for v in fgraph.inputs)]

    def ref(v: Variable) -> str:
        if v in index:
            return str(index[v])
        if isinstance(v, Constant):
            return "c" + _stable(v.signature())
        raise ValueError(f"graph_key: {v} is not computed by the graph")

    for node in order:
        parts.append(f"{_stable(node.op)}[{','.join(ref(i) for i in node.inputs)}]")
        for o in node.outputs:
            index[o] = len(index)
    parts.append("out:" + ",".join(ref(o) for o in fgraph.outputs))
    parts.append(extra)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:40]


def _rule_names(node: Apply) -> str:
    """Which lowering and scalar C rules (by qualified name) apply to `node`, for the index key."""
    from kiln.linkers.c.lower import LOWERINGS
    from kiln.linkers.c.scalar_c import SCALAR_C

    def name(f) -> str:
        return f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', type(f).__name__)}"

    rule = LOWERINGS.get(type(node.op))
    if rule is None or lower_node(node) is None:
        return "-"
    text = name(rule)
    if isinstance(node.op, Elemwise):
        ops = [node.op.scalar_op]
        inner = getattr(node.op.scalar_op, "fgraph", None)   # a Composite: every inner op counts
        if inner is not None:
            ops = [n.op for n in inner.toposort()]
        text += "[" + ",".join(name(SCALAR_C.get(type(op))) for op in ops) + "]"
    return text


def _group(order: list[Apply]) -> list[tuple[str, list[Apply]]]:
    """Split nodes into segments ("s": kernels and views) and python nodes ("p").

    Views run before the segment's native call, on buffers not yet filled, so a view must
    never copy: a DimShuffle never does, nor does a basic Subtensor (unless 0-d); a Reshape
    is a view of a C-contiguous buffer (what the segment allocates) or of data computed
    before the segment, but its input must not be a transposed view of a pending buffer,
    and its shape must be known.
    """
    groups: list[tuple[str, list[Apply]]] = []
    pending: dict[Variable, str] = {}   # computed inside the open segment: "c" contiguous, "v" a view

    def close() -> None:
        pending.clear()

    for node in order:
        if lower_node(node) is not None:
            kind = "k"
        elif isinstance(node.op, DimShuffle):
            kind = "v"
        elif isinstance(node.op, Reshape) and pending.get(node.inputs[0]) != "v" and node.inputs[1] not in pending:
            kind = "v"
        elif isinstance(node.op, Subtensor) and not any(i in pending for i in node.inputs[1:]) and not (
                node.inputs[0] in pending and node.outputs[0].type.ndim == 0):
            # basic indexing is a NumPy view (bounds checked by NumPy: IndexError); its index
            # scalars must be known before the call, and a 0-d result of a pending buffer
            # would be a copy of unfilled memory
            kind = "v"
        else:
            kind = "p"
        if kind == "p":
            close()
            groups.append(("p", [node]))
            continue
        if kind == "k" and any(node.inputs[i] in pending for i in value_inputs(node)):
            # its output shape comes from a value the open segment has not computed yet
            close()
            groups.append(("s", []))
        if not groups or groups[-1][0] != "s":
            close()
            groups.append(("s", []))
        groups[-1][1].append(node)
        if kind == "k":
            pending.update((o, "c") for o in node.outputs)
        elif node.inputs[0] in pending:
            state = "c" if isinstance(node.op, Reshape) else "v"
            pending[node.outputs[0]] = state
    # a segment without kernels is just python steps
    out: list[tuple[str, list[Apply]]] = []
    for tag, nodes in groups:
        if tag == "s" and not any(lower_node(n) is not None for n in nodes):
            out.extend(("p", [n]) for n in nodes)
        else:
            out.append((tag, nodes))
    return out


@dataclass
class _SegPlan:
    """Run-time plan of one segment: what to allocate or view before the native call."""

    label: str
    prep: list = field(default_factory=list)   # (kind, node, in_slots, out_slots, out_dtypes)
    buf_slots: list = field(default_factory=list)
    kernel_nodes: list = field(default_factory=list)
    module: Any = None


class CLinker:
    """Compiles C-capable parts of a graph to native code; `perform` for the rest.

    Usually chosen with ``kiln.function(..., mode=kiln.Mode(linker="c"))``; here with a
    private cache directory:

    >>> import tempfile, numpy as np, kiln.tensor as kt
    >>> from kiln.linkers.cache import ModuleCache
    >>> x = kt.vector("x")
    >>> run = CLinker(ModuleCache(tempfile.mkdtemp())).make_runner(FunctionGraph([x], [kt.exp(x) + 1]))
    >>> run([np.zeros(2)])[0].tolist()
    [2.0, 2.0]
    """

    name = "c"

    def __init__(self, cache=None):
        self._cache = cache

    @property
    def cache(self):
        from kiln.linkers.cache import get_cache

        return self._cache or get_cache()

    def make_runner(self, fgraph: FunctionGraph) -> Callable[[Sequence[Any]], list[Any]]:
        full_order = canonical_order(fgraph)
        order = list(full_order)
        slot: dict[Variable, int] = {}
        init: list[Any] = []

        def slot_of(v: Variable) -> int:
            if v not in slot:
                slot[v] = len(init)
                init.append(v.data if isinstance(v, Constant) else None)
            return slot[v]

        # views of constants (x + 1 broadcasts the constant 1) are computed once, here
        for node in [n for n in order if isinstance(n.op, DimShuffle) and isinstance(n.inputs[0], Constant)]:
            cells = [[None]]
            node.op.perform(node, [node.inputs[0].data], cells)
            init[slot_of(node.outputs[0])] = cells[0][0]
            order.remove(node)
        groups = _group(order)
        groups = [(t if t == "p" or any(lower_node(n) is not None for n in ns) else "p", ns) for t, ns in groups]

        input_slots = [slot_of(v) for v in fgraph.inputs]
        steps: list[tuple] = []   # ("p", node, ins, outs) or ("s", _SegPlan)
        segments: list[tuple[_SegPlan, Segment]] = []
        for tag, nodes in groups:
            if tag == "p":
                for n in nodes:
                    steps.append(("p", n, [slot_of(v) for v in n.inputs], [slot_of(v) for v in n.outputs]))
                continue
            plan, seg = self._plan_segment(nodes, slot_of)
            steps.append(("s", plan))
            segments.append((plan, seg))
        output_slots = [slot_of(v) for v in fgraph.outputs]

        self._load_modules(fgraph, full_order, segments)
        return _make_run(init, input_slots, output_slots, steps)

    # -- planning and compiling -------------------------------------------------------
    def _plan_segment(self, nodes: list[Apply], slot_of) -> tuple[_SegPlan, Segment]:
        bufs: dict[Variable, int] = {}
        buf_types: list[tuple[int, str]] = []
        plan = _SegPlan(label=", ".join(str(n.op) for n in nodes)[:200])

        def buf(v: Variable) -> int:
            if v not in bufs:
                bufs[v] = len(buf_types)
                buf_types.append((v.type.ndim, v.type.dtype))
                plan.buf_slots.append(slot_of(v))
            return bufs[v]

        kernels = []
        for n in nodes:
            ins, outs = [slot_of(v) for v in n.inputs], [slot_of(v) for v in n.outputs]
            k = lower_node(n, buf)
            if k is None:   # a DimShuffle or Reshape: a view built before the native call
                plan.prep.append(("v", n, ins, outs, None))
                continue
            # an op that destroys an input (an in-place variant) writes its output there
            dm = getattr(n.op, "destroy_map", None) or {}
            alias = [ins[dm[k][0]] if dm.get(k) else None for k in range(len(outs))]
            plan.prep.append(("a", n, ins, outs, ([v.type.dtype for v in n.outputs], alias)))
            kernels.append(k)
            plan.kernel_nodes.append(n)
        return plan, Segment(plan.label, tuple(buf_types), tuple(kernels))

    def _load_modules(self, fgraph, order, segments) -> None:
        from kiln.linkers.c.compiler import build_flags, compile_source, compiler
        from kiln.linkers.c.render import render_segment
        from kiln.linkers.c.runtime import CModule
        from kiln.linkers.cache import codegen_version, compiler_identity

        if not segments:
            return
        cache = self.cache
        # the rules used (tables users can extend at run time) decide what each module holds
        rules = ";".join(_rule_names(n) for n in order)
        flags = " ".join(sum(build_flags(compiler()), ()))
        sig = graph_key(fgraph, order, "|".join((compiler_identity(compiler()), flags, codegen_version(), rules)))
        entry = cache.index_get(sig)
        if entry is not None and len(entry["artifacts"]) == len(segments):
            dirs = [cache.verified(k) for k in entry["artifacts"]]
            if all(d is not None for d in dirs):
                for (plan, _), d in zip(segments, dirs):
                    plan.module = CModule(d / "mod.so")
                    cache._record("h")
                return
        keys = []
        for plan, seg in segments:
            key, so = compile_source(render_segment(seg), cache)
            plan.module = CModule(so)
            keys.append(key)
        cache.index_put(sig, keys, {"segments": [p.label for p, _ in segments]})


def _run_segment(plan: _SegPlan, storage: list) -> None:
    """Allocate the segment's outputs, build its views, and make the one native call."""
    for kind, node, ins, outs, extra in plan.prep:
        if kind == "v":
            cells = [[None]]
            node.op.perform(node, [storage[i] for i in ins], cells)
            storage[outs[0]] = cells[0][0]
            continue
        args = [storage[i] for i in ins]
        try:
            shape = output_shape(node, args)
        except (ValueError, IndexError) as e:   # the same note as the python linker's
            e.add_note(f"kiln: while computing {describe_node(node, args)}")
            raise
        for s, dt, src in zip(outs, *extra):
            a = None if src is None else storage[src]
            if (a is not None and type(a) is np.ndarray and a.flags.writeable and a.dtype == dt
                    and a.shape == shape):
                storage[s] = a   # kernels see the same data pointer in both operands
            else:
                storage[s] = np.empty(shape, dtype=dt)
    rc, failed = plan.module([storage[s] for s in plan.buf_slots])
    if rc:
        _raise_native_error(plan, storage, rc, failed)


def _raise_native_error(plan: _SegPlan, storage: list, rc: int, failed: int) -> None:
    from kiln.linkers.c.runtime import ERRORS

    cls, what = ERRORS.get(rc, (ValueError, f"error {rc}"))
    if 0 <= failed < len(plan.kernel_nodes):
        node = plan.kernel_nodes[failed]
        ins = next(p[2] for p in plan.prep if p[1] is node)
        where = describe_node(node, [storage[i] for i in ins])
        e = cls(f"kiln C linker: {what} in {where}")
        e.add_note(f"kiln: while computing {where}")
        raise e
    raise TypeError(f"kiln C linker: {what} (buffer {-1 - failed} of segment [{plan.label}])")


def _frees(init, input_slots, output_slots, steps) -> list[list[int]]:
    """Per step, the intermediate slots to drop after it (their last use), as the python linker does."""
    keep = set(input_slots) | set(output_slots) | {k for k, v in enumerate(init) if v is not None}
    last: dict[int, int] = {}
    for k, step in enumerate(steps):
        if step[0] == "s":
            used = set(step[1].buf_slots)
            for _, _, ins, outs, _ in step[1].prep:
                used.update(ins, outs)
        else:
            used = set(step[2]) | set(step[3])
        for sl in used:
            last[sl] = k
    frees: list[list[int]] = [[] for _ in steps]
    for sl, k in last.items():
        if sl not in keep:
            frees[k].append(sl)
    return frees


def _make_run(init, input_slots, output_slots, steps):
    frees = _frees(init, input_slots, output_slots, steps)
    steps = [(*step, fr) for step, fr in zip(steps, frees)]

    def run(values: Sequence[Any]) -> list[Any]:
        storage = list(init)
        for s, v in zip(input_slots, values):
            storage[s] = v
        for step in steps:
            if step[0] == "s":
                _run_segment(step[1], storage)
                for sl in step[2]:
                    storage[sl] = None
                continue
            _, node, ins, outs, fr = step
            args = [storage[i] for i in ins]
            cells = [[None] for _ in outs]
            try:
                node.op.perform(node, args, cells)
            except Exception as e:
                e.add_note(f"kiln: while computing {describe_node(node, args)}")
                raise
            for s, cell in zip(outs, cells):
                storage[s] = cell[0]
            for sl in fr:
                storage[sl] = None
        return [storage[s] for s in output_slots]

    return run
