"""Running a C-linked function: the plan of each segment (`_SegPlan`: what to allocate or view
before its one native call) and the run loop over the function's steps (python nodes, views,
segments).  The Cython extension's `Program` runs the same plan in C (`_program`); the Python
loop (`_make_run`'s `run`) is the fallback when the extension is not built.  The linker
(linker.py) builds the plans; this module only executes them.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from kiln.graph.basic import Apply
from kiln.linkers.c.shapes import SHAPE_RULES, output_shape
from kiln.linkers.python import describe_node
from kiln.tensor.elemwise import Elemwise


class _SegPlan:
    """Run-time plan of one segment: what to allocate or view before the native call.

    `prep` entries are ("v", node, in_slots, out_slots, None) for a view and
    ("a", node, in_slots, out_slots, (out_dtypes, alias_slots, pools)) for a kernel's
    outputs: `alias_slots[k]` is the destroyed input's slot (an in-place kernel) or None,
    `pools[k]` the reusable buffer the output is a view of (memplan) or None (its own array).
    (A plain class, not a dataclass: generating a dataclass's methods costs a warm start
    ~0.3 ms of import.)
    """

    __slots__ = ("label", "prep", "buf_slots", "kernel_nodes", "module", "n_pools", "n_pooled")

    def __init__(self, label: str):
        self.label = label
        self.prep: list = []
        self.buf_slots: list = []
        self.kernel_nodes: list = []
        self.module: Any = None
        self.n_pools = 0
        self.n_pooled = 0

    def __repr__(self) -> str:
        return f"_SegPlan({self.label!r}, {len(self.prep)} steps, {len(self.buf_slots)} buffers)"


def _alloc_shape(node: Apply, args: list) -> tuple:
    """The output shape of kernel `node` for `args` (SHAPE_RULES), with the python linker's note on errors."""
    try:
        return output_shape(node, args)
    except (ValueError, IndexError) as e:   # the same note as the python linker's
        e.add_note(f"kiln: while computing {describe_node(node, args)}")
        raise


def _view_step(node: Apply, ins: list[int], out: int) -> Callable[[list], None]:
    """fn(storage): build the view `node` computes (its `perform`, metadata only)."""
    def view(storage: list) -> None:
        cells = [[None]]
        node.op.perform(node, [storage[i] for i in ins], cells)
        storage[out] = cells[0][0]

    return view


def _python_step(node: Apply, ins: list[int], outs: list[int]) -> Callable[[list], None]:
    """fn(storage): run `node` through its `perform`, with the python linker's note on errors."""
    def step(storage: list) -> None:
        args = [storage[i] for i in ins]
        cells = [[None] for _ in outs]
        try:
            node.op.perform(node, args, cells)
        except Exception as e:
            e.add_note(f"kiln: while computing {describe_node(node, args)}")
            raise
        for s, cell in zip(outs, cells):
            storage[s] = cell[0]

    return step


def _pool_view(pools: list, p: int, shape: tuple, dtype: np.dtype) -> np.ndarray:
    """A C-contiguous array of `shape` viewing pool `p`'s bytes (grown when too small)."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    buf = pools[p]
    if buf is None or buf.size < nbytes:
        buf = pools[p] = np.empty(max(nbytes, 1), dtype=np.uint8)
    return buf[:nbytes].view(dtype).reshape(shape)


def _run_segment(plan: _SegPlan, storage: list) -> None:
    """Allocate the segment's outputs, build its views, and make the one native call
    (the Python path; the Cython `Program` does the same in C)."""
    pools: list = [None] * plan.n_pools
    for kind, node, ins, outs, extra in plan.prep:
        if kind == "v":
            cells = [[None]]
            node.op.perform(node, [storage[i] for i in ins], cells)
            storage[outs[0]] = cells[0][0]
            continue
        shape = _alloc_shape(node, [storage[i] for i in ins])
        for s, dt, src, p in zip(outs, *extra):
            a = None if src is None else storage[src]
            if (a is not None and type(a) is np.ndarray and a.flags.writeable and a.flags.c_contiguous
                    and a.dtype == dt and a.shape == shape):   # (kernels write C-contiguous outputs)
                storage[s] = a   # kernels see the same data pointer in both operands
            elif p is not None:
                storage[s] = _pool_view(pools, p, shape, dt)
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


def _plan_info(steps) -> dict:
    """What a runner's plan looks like: per segment its label, how many intermediates are
    views of shared pools and how many distinct pool buffers a call allocates."""
    return {"segments": [{"label": st[1].label, "intermediates": st[1].n_pooled, "pools": st[1].n_pools}
                         for st in steps if st[0] == "s"]}


def _program(init, input_slots, output_slots, steps, frees):
    """The Cython `Program` running this schedule, or None when the extension is not in use."""
    from kiln.linkers.c.runtime import EXTENSION

    if EXTENSION is None or not hasattr(EXTENSION, "Program"):
        return None
    if any(st[0] == "s" and getattr(st[1].module, "_fast", None) is None for st in steps):
        return None
    from kiln.linkers.c.shapes import _shapes_elemwise

    # the Elemwise fast path (output shape = the inputs' common shape) is the table's own rule
    fast_elemwise = SHAPE_RULES.get(Elemwise) is _shapes_elemwise
    # function outputs a segment allocates (not views, not in-place writes into an input)
    # keep their storage for the next call (Program: reused once nobody holds them)
    allocated = {o for st in steps if st[0] == "s" for kind, _, _, outs, _ in st[1].prep if kind == "a"
                 for o in outs}
    reuse_slots = tuple(dict.fromkeys(s for s in output_slots if s in allocated))
    reuse_of = {s: k for k, s in enumerate(reuse_slots)}
    out = []
    for st, fr in zip(steps, frees):
        if st[0] == "p":
            _, node, ins, outs = st
            out.append(EXTENSION.PyStep(_python_step(node, ins, outs), tuple(fr)))
            continue
        plan: _SegPlan = st[1]
        preps = []
        for kind, node, ins, outs, extra in plan.prep:
            if kind == "v":
                preps.append(EXTENSION.Prep(True, _view_step(node, ins, outs[0])))
                continue
            dtypes, alias, pool = extra
            preps.append(EXTENSION.Prep(
                False, _alloc_shape, node, tuple(ins), tuple(outs), tuple(d.num for d in dtypes),
                tuple(-1 if a is None else a for a in alias), tuple(-1 if p is None else p for p in pool),
                fast_elemwise and type(node.op) is Elemwise, node.outputs[0].type.ndim,
                tuple(reuse_of.get(o, -1) for o in outs)))

        def on_error(storage, rc, failed, plan=plan):
            _raise_native_error(plan, storage, rc, failed)

        out.append(EXTENSION.SegStep(plan.module.address, tuple(plan.buf_slots), tuple(preps), tuple(fr),
                                     on_error, plan.n_pools))
    return EXTENSION.Program(list(init), tuple(input_slots), tuple(output_slots), tuple(out),
                             _plan_info(steps), reuse_slots)


def _make_run(init, input_slots, output_slots, steps):
    frees = _frees(init, input_slots, output_slots, steps)
    program = _program(init, input_slots, output_slots, steps, frees)
    if program is not None:
        program.segments = [st[1] for st in steps if st[0] == "s"]
        return program
    info = _plan_info(steps)
    # each step as fn(storage), and the slots to drop after it (their last use)
    calls = [((lambda storage, plan=step[1]: _run_segment(plan, storage)) if step[0] == "s"
              else _python_step(step[1], step[2], step[3]), fr) for step, fr in zip(steps, frees)]

    def run(values: Sequence[Any]) -> list[Any]:
        storage = list(init)
        for s, v in zip(input_slots, values):
            storage[s] = v
        for call, fr in calls:
            call(storage)
            for sl in fr:
                storage[sl] = None
        return [storage[s] for s in output_slots]

    run.info = info
    run.segments = [st[1] for st in steps if st[0] == "s"]   # the _SegPlans, for inspection
    return run
