"""The python linker: the reference interpreter that runs each node's NumPy `perform`.

Its results define kiln's semantics; every other linker is tested against it.

Everything that does not depend on the call's values (the order of the nodes, the
slot of every variable, which slots to free after which step, the output checks) is
planned once, in a `Schedule`.  A runner executes the schedule, first with a plain
loop, then, once the function proves hot, with generated straight-line code (see
`PythonLinker`).  Each intermediate is dropped after its last use, so peak memory
follows the graph's live values, not its size.  A run keeps its state in locals, so
one runner may be called from several threads at once.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.fg import FunctionGraph

__all__ = ["PythonLinker", "Schedule", "schedule", "describe_node", "OpOutputError", "HOT_CALLS"]


class OpOutputError(TypeError):
    """An op's `perform` produced a value that contradicts its declared output type (an op bug)."""


def describe_node(node: Apply, values: Sequence[Any] | None = None) -> str:
    """'op(input types / run-time shapes)' for error messages.

    >>> import kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> describe_node(kt.exp(x).owner)
    'exp(x: float64 (?,))'
    """
    parts = []
    for i, v in enumerate(node.inputs):
        short_str = getattr(v.type, "short_str", None)
        desc = f"{v.name + ': ' if v.name else ''}{short_str() if short_str is not None else v.type}"
        if values is not None and i < len(values) and hasattr(values[i], "shape"):
            desc += f" shape={tuple(values[i].shape)}"
        parts.append(desc)
    return f"{node.op}({', '.join(parts)})"


#: calls after which a runner replaces its loop by generated straight-line code (see PythonLinker)
HOT_CALLS = 200


@dataclass(frozen=True)
class Schedule:
    """What a run does, computed once per graph: the nodes in order, the slot of every
    variable, which slots each step reads, writes and frees afterwards, and the output
    checks.  Both executors (the loop and the generated code) follow it exactly."""

    fgraph: FunctionGraph
    nodes: tuple[Apply, ...]
    n_slots: int
    constants: tuple[tuple[int, Any], ...]        # (slot, value)
    input_slots: tuple[int, ...]
    output_slots: tuple[int, ...]
    ins: tuple[tuple[int, ...], ...]              # per step: slots read
    outs: tuple[tuple[int, ...], ...]             # per step: slots written
    frees: tuple[tuple[int, ...], ...]            # per step: slots dropped after it
    checks: tuple[tuple[Any, ...], ...]           # per step: one output check (or None) per output


def schedule(fgraph: FunctionGraph, check_outputs: bool) -> Schedule:
    """Order fgraph's nodes and plan slots, frees and checks (see Schedule)."""
    order = fgraph.toposort()
    slot: dict[Variable, int] = {}

    def slot_of(v: Variable) -> int:
        if v not in slot:
            slot[v] = len(slot)
        return slot[v]

    input_slots = tuple(slot_of(v) for v in fgraph.inputs)
    ins = tuple(tuple(slot_of(v) for v in node.inputs) for node in order)
    outs = tuple(tuple(slot_of(v) for v in node.outputs) for node in order)
    output_slots = tuple(slot_of(v) for v in fgraph.outputs)
    constants = tuple((s, v.data) for v, s in slot.items() if isinstance(v, Constant))

    # Free each intermediate right after the last node that reads it (or right after it is
    # computed, when nothing reads it: an unused output of a multi-output op).  Inputs,
    # outputs and constants are never freed: they belong to the caller or to the graph.
    keep = set(input_slots) | set(output_slots) | {s for s, _ in constants}
    last_use: dict[int, int] = {}
    for k in range(len(order)):
        for s in ins[k]:
            last_use[s] = k
        for s in outs[k]:
            last_use.setdefault(s, k)
    frees: list[list[int]] = [[] for _ in order]
    for s, k in last_use.items():
        if s not in keep:
            frees[k].append(s)
    checks = tuple(tuple(_output_check(o) for o in node.outputs) if check_outputs else ()
                   for node in order)
    return Schedule(fgraph, tuple(order), len(slot), constants, input_slots, output_slots, ins, outs,
                    tuple(map(tuple, frees)), checks)


class PythonLinker:
    """Turns a FunctionGraph into a runner: `run(input_values) -> output_values`.

    A runner starts as a loop over the schedule (nothing to compile: cheap for the many
    functions called only a few times).  After `hot_calls` calls it writes the schedule
    as one straight-line Python function and uses that from then on: no loop, no slot
    list, a direct call per node (about half the per-node overhead).  Generating costs
    about 100 us per node, which the saving repays in roughly that many calls, so the
    switch never costs more than about twice the better choice (the ski-rental bound).
    `hot_calls=0` generates at once; `hot_calls=None` never does.  Both executors follow
    the same Schedule, so their results, frees, error notes and checks are identical.

    >>> import numpy as np, kiln.tensor as kt
    >>> from kiln.graph.fg import FunctionGraph
    >>> x = kt.vector("x")
    >>> run = PythonLinker().make_runner(FunctionGraph([x], [kt.exp(x) + 1]))
    >>> run([np.zeros(2)])
    [array([2., 2.])]
    """

    name = "py"

    def __init__(self, check_outputs: bool | None = None, hot_calls: int | None = HOT_CALLS):
        if check_outputs is None:
            from kiln.configuration import config

            check_outputs = config.check_outputs
        self.check_outputs = bool(check_outputs)
        self.hot_calls = hot_calls
        self.profile = None   # a ProfileStats: the runner times each node (kiln/compile/profiling.py)

    def make_runner(self, fgraph: FunctionGraph) -> Callable[[Sequence[Any]], list[Any]]:
        """Schedule fgraph's nodes; return `run(list of input values) -> list of output values`.

        A run keeps all its state in locals, so one runner may be called from several
        threads at once.  `run.schedule` is the plan; `run.generated()` the straight-line
        function (generated on first request).
        """
        sched = schedule(fgraph, self.check_outputs)
        if self.profile is not None:   # timed per node: the loop, with each perform wrapped
            return _loop_runner(sched, self.profile)
        if self.hot_calls == 0:
            return _generate(sched)
        loop = _loop_runner(sched)
        if self.hot_calls is None:
            return loop
        hot = self.hot_calls
        fast = None
        calls = 0

        def run(values: Sequence[Any]) -> list[Any]:
            nonlocal fast, calls
            if fast is not None:
                return fast(values)
            calls += 1  # racy under threads: only ever off by a few calls
            if calls > hot:
                fast = _generate(sched)
            return loop(values)

        def generated() -> Callable[[Sequence[Any]], list[Any]]:
            nonlocal fast
            if fast is None:
                fast = _generate(sched)
            return fast

        run.schedule, run.fgraph, run.nodes, run.generated = sched, fgraph, sched.nodes, generated
        return run


def _timed(perform: Callable, label: str, profile: Any) -> Callable:
    def run(node, args, cells):
        t0 = time.perf_counter()
        try:
            perform(node, args, cells)
        finally:
            profile.record_node(label, time.perf_counter() - t0)
    return run


def _loop_runner(sched: Schedule, profile: Any = None) -> Callable[[Sequence[Any]], list[Any]]:
    """The schedule run by a loop over its steps, values in a list of slots (with `profile`,
    a ProfileStats, each node's time recorded)."""
    init = [None] * sched.n_slots
    for s, value in sched.constants:
        init[s] = value
    init_t = tuple(init)
    input_slots, output_slots = sched.input_slots, sched.output_slots
    n_in = len(input_slots)
    # function inputs get the first slots, in order (see schedule), so one slice places them
    assert input_slots == tuple(range(n_in))
    performs = [n.op.perform if profile is None else _timed(n.op.perform, f"{n.op}#{k}", profile)
                for k, n in enumerate(sched.nodes)]
    steps = tuple(zip(sched.nodes, performs, sched.ins, sched.outs, sched.frees, sched.checks))
    nodes = sched.nodes

    def run(values: Sequence[Any]) -> list[Any]:
        storage = list(init_t)
        if len(values) != n_in:
            raise ValueError(f"python linker: expected {n_in} input values, got {len(values)}")
        storage[:n_in] = values
        k, args = -1, None
        try:
            for k, (node, perform, ins, outs, free, chk) in enumerate(steps):  # noqa: B007 (k names the failing step)
                args = [storage[i] for i in ins]
                cells = [[None] for _ in outs]
                perform(node, args, cells)
                for i, s in enumerate(outs):
                    storage[s] = cells[i][0]
                for i, c in enumerate(chk):
                    if c is not None:
                        c(node, i, cells[i][0], args)
                for s in free:
                    storage[s] = None
        except Exception as e:
            _add_note(e, k, args, nodes)
            raise
        return [storage[s] for s in output_slots]

    run.schedule, run.fgraph, run.nodes = sched, sched.fgraph, nodes
    return run


def _generate(sched: Schedule) -> Callable[[Sequence[Any]], list[Any]]:
    """Write the schedule as one straight-line Python function and compile it.

    Each value lives in a local variable `v<slot>` and each step is a direct call to its
    node's perform; freeing an intermediate is `v<slot> = None`.  Constants, nodes,
    performs and checks are globals of the generated function.  A failing step is found
    from the traceback's line number, so the steps themselves record nothing.
    `run.source` shows the code.
    """
    ns: dict[str, Any] = {"_note": _note_from_traceback, "_ndarray": np.ndarray}
    for s, value in sched.constants:
        ns[f"v{s}"] = value
    lines = ["def run(values):"]
    if sched.input_slots:
        lines.append("    " + "".join(f"v{s}, " for s in sched.input_slots) + "= values")
    else:
        lines.append("    if values: raise ValueError('python linker: this graph takes no input values')")
    lines.append("    try:")
    line_step: dict[int, int] = {}  # source line number -> step
    for k, node in enumerate(sched.nodes):
        ns[f"N{k}"], ns[f"P{k}"] = node, node.op.perform
        outs = sched.outs[k]
        first = len(lines) + 1
        lines.append(f"        a = [{', '.join(f'v{s}' for s in sched.ins[k])}]")
        lines.append(f"        c = [{', '.join('[None]' for _ in outs)}]")
        lines.append(f"        P{k}(N{k}, a, c)")
        lines.append("        " + ", ".join(f"v{s}" for s in outs) + " = " +
                     ", ".join(f"c[{i}][0]" for i in range(len(outs))))
        for i, chk in enumerate(sched.checks[k]):
            if chk is not None:
                # the common case (an ndarray of exactly the declared dtype object and ndim) is
                # tested inline; anything else goes to the full check, which explains or accepts
                ns[f"C{k}_{i}"], ns[f"D{k}_{i}"] = chk, chk.dtype
                v = f"v{outs[i]}"
                cond = f"type({v}) is not _ndarray or {v}.dtype is not D{k}_{i} or {v}.ndim != {chk.ndim}"
                cond += "".join(f" or {v}.shape[{d}] != {s}" for d, s in chk.static)
                lines.append(f"        if {cond}:")
                lines.append(f"            C{k}_{i}(N{k}, {i}, {v}, a)")
        if sched.frees[k]:
            lines.append("        " + "".join(f"v{s} = " for s in sched.frees[k]) + "None")
        for ln in range(first, len(lines) + 1):
            line_step[ln] = k
    lines += ["        pass", "    except Exception as e:", "        _note(e, run.line_step, run.nodes)",
              "        raise", f"    return [{', '.join(f'v{s}' for s in sched.output_slots)}]"]
    source = "\n".join(lines) + "\n"
    exec(compile(source, f"<kiln python linker: {len(sched.nodes)} nodes>", "exec"), ns)
    run = ns["run"]
    run.source, run.line_step = source, line_step
    run.schedule, run.fgraph, run.nodes = sched, sched.fgraph, sched.nodes
    return run


def _add_note(e: Exception, step: int, args: Any, nodes: Sequence[Apply]) -> None:
    """Name the failing node (its op and run-time input shapes) in an exception from perform."""
    if step >= 0 and not isinstance(e, OpOutputError):
        e.add_note(f"kiln: while computing {describe_node(nodes[step], args)}")


def _note_from_traceback(e: Exception, line_step: dict[int, int], nodes: Sequence[Apply]) -> None:
    """_add_note for generated code: the step is the one whose lines the traceback points into;
    the arguments are that frame's local `a`."""
    tb = e.__traceback__
    if tb is None:
        return
    frame_tb = tb  # the generated function's own frame is the first one in the traceback
    step = line_step.get(frame_tb.tb_lineno, -1)
    _add_note(e, step, frame_tb.tb_frame.f_locals.get("a"), nodes)


def _output_check(var: Variable):
    """A function checking one output value against var's type, or None for non-tensor types."""
    from kiln.tensor.type import TensorType

    t = var.type
    if not isinstance(t, TensorType):
        return None
    dtype, ndim, shape = np.dtype(t.dtype), t.ndim, t.shape
    static = tuple((i, s) for i, s in enumerate(shape) if s is not None)

    def chk(node: Apply, i: int, value: Any, args: Sequence[Any]) -> None:
        if (type(value) is np.ndarray and value.dtype == dtype and value.ndim == ndim
                and all(value.shape[d] == s for d, s in static)):
            return
        if value is None:
            got = "nothing (perform did not store output %d)" % i
        else:
            got = f"{type(value).__name__}"
            if hasattr(value, "dtype"):
                got += f" of dtype {value.dtype} and shape {getattr(value, 'shape', ())}"
        raise OpOutputError(
            f"{type(node.op).__name__} {node.op} produced {got} as output {i}, but its declared output type "
            f"is {t}: a bug in the op (its perform or make_node); while computing "
            f"{describe_node(node, args)}")
    chk.dtype, chk.ndim, chk.static = dtype, ndim, static
    return chk
