"""The C linker: compile each maximal C-capable run of nodes into one module; run the rest
through `perform`.

make_runner(fgraph):
  1. classify nodes in topological order: kernel (has a lowering), view (DimShuffle), python;
  2. group consecutive kernel/view nodes into segments; each segment is lowered to kernel IR,
     rendered to C, and compiled through the module cache (or found there);
  3. the graph's signature indexes the segment keys, so a warm start loads modules without
     rendering C; a warm start of `kiln.function` (kiln.linkers.cache.warm) also hands the
     stored `Layout` (kiln.linkers.c.layout), replayed instead of lowering any node;
  4. at call time a segment allocates its outputs and intermediates (NumPy, C order),
     builds view descriptors, and makes one native call.  Intermediates whose lifetimes
     do not overlap share storage (kiln.linkers.c.memplan); the whole run goes through the
     Cython extension's `Program` when it is built, else through the Python loop of execute.py.
"""
from __future__ import annotations

import hashlib
from typing import Any, Callable, Sequence

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.fg import FunctionGraph
from kiln.linkers.c.layout import Layout, Recorder
from kiln.linkers.c.execute import _make_run, _SegPlan
from kiln.linkers.c.shapes import SHAPE_RULES, value_inputs
from kiln.tensor.elemwise import DimShuffle, Elemwise
from kiln.tensor.shape import Reshape
from kiln.tensor.subtensor import Subtensor

# the shape rules of the shape-valued, fused-reduction and indexing ops, needed at run time
import kiln.linkers.c.shapes_index  # noqa: E402,F401
import kiln.linkers.c.shapes_ops  # noqa: E402,F401

# The lowering tables (kiln.linkers.c.lower and the kernel IR dataclasses its lowerings
# build: ~8 ms to import) and the renderers are imported inside the functions that use
# them: a warm start replays a stored `Layout` instead of lowering any node.

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
    from kiln.linkers.c.lower import LOWERINGS, lower_node
    from kiln.linkers.c.scalar_c import SCALAR_C

    def name(f) -> str:
        return f"{getattr(f, '__module__', '?')}.{getattr(f, '__qualname__', type(f).__name__)}"

    rule = LOWERINGS.get(type(node.op))
    if rule is None or lower_node(node) is None:
        return "-"
    text = name(rule)
    ops = list(_scalar_ops(node.op))
    if ops:
        text += "[" + ",".join(name(SCALAR_C.get(type(op))) for op in ops) + "]"
    return text


def _scalar_ops(op) -> Any:
    """The scalar ops whose C rules an op's kernel uses: an Elemwise's, every op inside a
    Composite, and those of the Elemwise nodes inside an inner graph (FusedReduce)."""
    if isinstance(op, Elemwise):
        inner = getattr(op.scalar_op, "fgraph", None)   # a Composite: every inner op counts
        if inner is None:
            yield op.scalar_op
        else:
            for n in inner.toposort():
                yield from _scalar_ops_of_scalar(n.op)
        return
    inner = getattr(op, "fgraph", None)
    if inner is not None:
        for n in inner.toposort():
            yield from _scalar_ops(n.op)


def _scalar_ops_of_scalar(sop) -> Any:
    inner = getattr(sop, "fgraph", None)
    if inner is None:
        yield sop
    else:
        for n in inner.toposort():
            yield from _scalar_ops_of_scalar(n.op)


def _group(order: list[Apply]) -> list[tuple[str, list[Apply]]]:
    """Split nodes into segments ("s": kernels and views) and python nodes ("p").

    Views run before the segment's native call, on buffers not yet filled, so a view must
    never copy: a DimShuffle never does, nor does a basic Subtensor (unless 0-d); a Reshape
    is a view of a C-contiguous buffer (what the segment allocates) or of data computed
    before the segment, but its input must not be a transposed view of a pending buffer,
    and its shape must be known.
    """
    from kiln.linkers.c.lower import lower_node
    from kiln.linkers.c.lower_shape_ops import segment_view

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
        elif segment_view(node, pending):   # BroadcastTo/BroadcastLike (lower_shape_ops.py)
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
            # a kernel output may be its input itself (view_map, e.g. SumToShape): a view then
            vm = getattr(node.op, "view_map", None) or {}
            pending.update((o, "v" if any(pending.get(node.inputs[i]) == "v" for i in vm.get(j, ())) else "c")
                           for j, o in enumerate(node.outputs))
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


class _Relower(Exception):
    """A replayed layout's modules are not in the cache: the graph must be lowered."""


def _ensure_shape_rules(nodes) -> None:
    """Import kiln's lowering modules when a kernel node has no shape rule registered yet.

    A warm start does not import the lowerings (kiln.linkers.c.lower and the modules it
    loads).  kiln's own shape rules are all registered without them (kiln.linkers.c.shapes,
    shapes_ops, shapes_index: tested), so this only serves a rule registered along with a
    lowering by other code, should there be one."""
    if any(type(n.op) not in SHAPE_RULES for n in nodes):
        import kiln.linkers.c.lower  # noqa: F401  (fills SHAPE_RULES and VALUE_INPUTS)


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
        # a warm start (kiln.linkers.cache.warm) hands the layout it stored with the graph:
        # replayed, it gives the same segments and descriptor orders without lowering
        layout = Layout.replayable(getattr(fgraph, "_warm_layout", None), full_order)
        if layout is not None:
            try:
                return self._make_runner(fgraph, full_order, layout)
            except _Relower:   # its modules are gone from the cache: lower and compile
                pass
        return self._make_runner(fgraph, full_order, None)

    def _make_runner(self, fgraph: FunctionGraph, full_order: list[Apply], layout: Layout | None):
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
        if layout is None:
            from kiln.linkers.c.lower import lower_node

            groups = _group(order)
            groups = [(t if t == "p" or any(lower_node(n) is not None for n in ns) else "p", ns) for t, ns in groups]
            lowering = Recorder(full_order)
        else:
            groups = layout.node_groups(full_order)
            lowering = layout

        input_slots = [slot_of(v) for v in fgraph.inputs]
        steps: list[tuple] = []   # ("p", node, ins, outs) or ("s", _SegPlan)
        segments: list[tuple[_SegPlan, Any]] = []
        for tag, nodes in groups:
            if tag == "p":
                for n in nodes:
                    steps.append(("p", n, [slot_of(v) for v in n.inputs], [slot_of(v) for v in n.outputs]))
                continue
            plan, seg = self._plan_segment(nodes, slot_of, fgraph, lowering)
            steps.append(("s", plan))
            segments.append((plan, seg))
        output_slots = [slot_of(v) for v in fgraph.outputs]
        if layout is not None:
            _ensure_shape_rules(n for plan, _ in segments for n in plan.kernel_nodes)

        keys = self._load_modules(fgraph, full_order, segments)
        run = _make_run(init, input_slots, output_slots, steps)
        run.module_keys = keys   # what a warm start of this graph will load (kiln.linkers.cache.warm)
        # the layout a warm start of this graph will replay (None: it lowers again)
        run.layout = layout.data if layout is not None else lowering.data(groups)
        return run

    # -- planning and compiling -------------------------------------------------------
    def _plan_segment(self, nodes: list[Apply], slot_of, fgraph: FunctionGraph | None = None,
                      lowering: Any = None) -> tuple[_SegPlan, Any]:
        """The run-time plan of segment `nodes` and its kernel IR `Segment` (None when
        `lowering` is a replayed `Layout`: nothing is rendered on a warm start).
        `lowering(node, buf)` returns the node's kernel (None: a view); kiln's lowering
        tables by default."""
        from kiln.linkers.c.memplan import plan_pools

        if lowering is None:
            from kiln.linkers.c.lower import lower_node as lowering
        is_kernel = lowering.is_kernel if isinstance(lowering, (Layout, Recorder)) else (
            lambda n: lowering(n, lambda v: 0) is not None)
        kernel_set = {n for n in nodes if is_kernel(n)}
        pools = plan_pools(nodes, set(fgraph.outputs) if fgraph is not None else set(),
                           fgraph.clients if fgraph is not None else {}, kernel_set.__contains__)
        if fgraph is None:   # without the graph's clients nothing is known not to escape
            pools.pool_of.clear()
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
            k = lowering(n, buf)
            if k is None:   # a DimShuffle or Reshape: a view built before the native call
                plan.prep.append(("v", n, ins, outs, None))
                continue
            # an op that destroys an input (an in-place variant) writes its output there
            # (a kernel op with a view_map, e.g. SumToShape, returns its input when the shapes agree)
            dm = getattr(n.op, "destroy_map", None) or getattr(n.op, "view_map", None) or {}
            alias = [ins[dm[k][0]] if dm.get(k) else None for k in range(len(outs))]
            pool = [pools.pool_of.get(v) for v in n.outputs]
            plan.prep.append(("a", n, ins, outs, ([np.dtype(v.type.dtype) for v in n.outputs], alias, pool)))
            kernels.append(k)
            plan.kernel_nodes.append(n)
        plan.n_pools, plan.n_pooled = pools.n_pools, len(pools.pool_of)
        if isinstance(lowering, Layout):
            return plan, None
        from kiln.linkers.c.ir import Segment

        return plan, Segment(plan.label, tuple(buf_types), tuple(kernels))

    def _load_modules(self, fgraph, order, segments) -> list[str]:
        """Give each segment its module; returns the module keys, in segment order.

        A warm start (kiln.linkers.cache.warm) hands the keys it stored as
        `fgraph._warm_module_keys`: they are verified and loaded without computing any
        signature.  Else the graph's index entry, else render and compile every segment
        (in parallel: one compiler process per core)."""
        from kiln.linkers.c.compiler import build_flags, compile_jobs, compile_sources, compiler
        from kiln.linkers.c.runtime import CModule, entry_name as _entry
        from kiln.linkers.cache import codegen_version, compiler_identity

        if not segments:
            return []
        cache = self.cache
        warm = getattr(fgraph, "_warm_module_keys", None)
        if warm is not None and len(warm) == len(segments):
            dirs = [cache.verified(k) for k in warm]
            if all(d is not None for d in dirs):
                for k, ((plan, _), d) in enumerate(zip(segments, dirs)):
                    plan.module = CModule(d / "mod.so", _entry(k))
                    cache._record("h")
                return list(warm)
        # the rules used (tables users can extend at run time) decide what each module holds
        rules = ";".join(_rule_names(n) for n in order)
        flags = " ".join(sum(build_flags(compiler()), ()))
        sig = graph_key(fgraph, order, "|".join((compiler_identity(compiler()), flags, codegen_version(), rules)))
        entry = cache.index_get(sig)
        if entry is not None and len(entry["artifacts"]) == len(segments):
            dirs = [cache.verified(k) for k in entry["artifacts"]]
            if all(d is not None for d in dirs):
                for k, ((plan, _), d) in enumerate(zip(segments, dirs)):
                    plan.module = CModule(d / "mod.so", _entry(k))
                    cache._record("h")
                return list(entry["artifacts"])
        if any(seg is None for _, seg in segments):
            raise _Relower   # planned from a stored layout, whose modules are gone: lower afresh
        from kiln.linkers.c.render import render_modules   # only here: a warm start renders nothing

        # the segments share as few modules as there are compilers to run at once
        modules = render_modules([seg for _, seg in segments], compile_jobs())
        built = compile_sources([src for src, _ in modules], cache)
        keys = [""] * len(segments)
        for (key, so), (_, held) in zip(built, modules):
            for k in held:
                segments[k][0].module = CModule(so, _entry(k))
                keys[k] = key
        cache.index_put(sig, keys, {"segments": [p.label for p, _ in segments]})
        return keys
