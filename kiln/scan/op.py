"""The Scan op: a loop whose body is a frozen inner graph (PyTensor's Scan).

`kiln.scan.basic.scan` builds it; this module only runs it.  The layout of the op:

outer inputs   ``[n_steps, *sequences, *initial_states, *non_sequences]``
inner inputs   ``[*sequence_slices, *state_taps (each state's taps in order), *non_sequences]``
inner outputs  ``[*new_states, *per_step_outputs]``
outer outputs  ``[*state_buffers, *per_step_outputs]``

With ``until=True`` (a step that returns ``until(cond)``, a while loop) the inner graph has
one more output, the step's condition, last; the loop stops after the first step whose
condition is true, and the op has one more outer output, last: the number of steps it ran
(int64).  Buffers then have ``L + steps_run`` rows; the gradient reads that count.

A *sequence* is iterated over its axis 0 (the first `n_steps` rows; `scan()` has already
reversed it for go_backwards and shifted it for its taps).  A *state* with taps
``(-3, -1)`` has look-back ``L = 3``: its initial value has a leading axis of length L and,
when ``keep == "all"``, its outer output is the whole buffer ``(L + n_steps, ...)``
(initial rows first), which `scan()` slices to the steps and which the gradient reads.  A
state with ``keep == "last"`` (taps must be ``(-1,)``) has an initial value without the
leading axis and outputs only its final value: shared-variable updates, random generators,
and gradient accumulators use it, so memory does not grow with the number of steps.

The inner graph is compiled once per op (with the op's mode, by default kiln's default
mode), cached on the instance, and called once per step.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply, Variable
from kiln.graph.inner import InnerGraphOp
from kiln.tensor.type import TensorType

__all__ = ["Scan"]


class Scan(InnerGraphOp):
    """Scan(inner_inputs, inner_outputs, n_seqs, state_taps, state_keep, n_nitsot, n_nonseqs, ...).

    `state_taps`: one tuple of negative taps per state, e.g. ``((-1,), (-2, -1))``;
    `state_keep`: "all" or "last" per state; `linear`: outer input indices the op is linear
    in (set on the tangent scans the gradient builds, empty otherwise) and `tangent_of` pairs
    each of their inner tangent inputs with the inner primal input it is the tangent of;
    `truncate_gradient`: steps of backpropagation through time (-1: all).

    >>> import kiln.tensor as kt
    >>> from kiln.scan import scan
    >>> s, _ = scan(lambda acc: acc * 2, outputs_info=kt.constant(1.0), n_steps=3)
    >>> op = s.owner.inputs[0].owner.op      # s is the state buffer without its initial row
    >>> op.state_taps, op.state_keep, op.n_nitsot
    (((-1,),), ('all',), 0)
    >>> s.eval().tolist()
    [2.0, 4.0, 8.0]
    """

    __props__ = ("signature", "n_seqs", "state_taps", "state_keep", "n_nitsot", "n_nonseqs",
                 "truncate_gradient", "linear", "tangent_of", "mode", "until")
    _derived_attrs = ("_runner", "_fn")

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable], *, n_seqs: int,
                 state_taps: Sequence[Sequence[int]], state_keep: Sequence[str] | None = None,
                 n_nitsot: int, n_nonseqs: int, truncate_gradient: int = -1,
                 linear: Sequence[int] = (), tangent_of: Sequence[tuple[int, int]] = (),
                 mode: Any = None, name: str | None = None, until: bool = False):
        super().__init__(list(inputs), list(outputs), name=name)
        #: a while loop: the last inner output is the stopping condition (see the module docstring)
        self.until = bool(until)
        self.n_seqs = int(n_seqs)
        self.state_taps = tuple(tuple(int(t) for t in taps) for taps in state_taps)
        self.state_keep = tuple(state_keep) if state_keep is not None else ("all",) * len(self.state_taps)
        self.n_nitsot = int(n_nitsot)
        self.n_nonseqs = int(n_nonseqs)
        self.truncate_gradient = int(truncate_gradient)
        self.linear = tuple(sorted(int(i) for i in linear))
        #: (inner tangent input, inner primal input of the same shape) pairs of a tangent scan
        self.tangent_of = tuple((int(a), int(b)) for a, b in tangent_of)
        self.mode = mode
        n_states = len(self.state_taps)
        n_tap_inputs = sum(len(t) for t in self.state_taps)
        if len(self.inner_inputs) != self.n_seqs + n_tap_inputs + self.n_nonseqs:
            raise ValueError(f"Scan: {len(self.inner_inputs)} inner inputs for {self.n_seqs} sequence slices, "
                             f"{n_tap_inputs} state taps and {self.n_nonseqs} non-sequences")
        if len(self.inner_outputs) != n_states + self.n_nitsot + self.until:
            raise ValueError(f"Scan: {len(self.inner_outputs)} inner outputs for {n_states} states and "
                             f"{self.n_nitsot} per-step outputs" + (" and a condition" if self.until else ""))
        if self.until:
            c = self.inner_outputs[-1].type
            if getattr(c, "ndim", None) != 0 or np.dtype(c.dtype).kind not in "biuf":
                raise TypeError(f"Scan: the until condition must be a boolean or numeric scalar, got {c}")
        for taps, keep in zip(self.state_taps, self.state_keep):
            if not taps or any(t >= 0 for t in taps) or list(taps) != sorted(set(taps)):
                raise ValueError(f"Scan: state taps must be distinct negative integers in increasing "
                                 f"order, got {taps}")
            if keep not in ("all", "last") or (keep == "last" and taps != (-1,)):
                raise ValueError(f"Scan: keep={keep!r} with taps {taps} (keep='last' needs taps (-1,))")
        if self.linear:
            # the linear tangent scans of the gradient: the rule tables ask `linear_inputs`
            self.linear_inputs = self.linear

    # -- layout helpers ------------------------------------------------------------
    @property
    def n_states(self) -> int:
        return len(self.state_taps)

    def lookback(self, k: int) -> int:
        """How many initial rows state k needs (the largest |tap|)."""
        return -self.state_taps[k][0]

    def outer_slices(self) -> tuple[slice, slice, slice]:
        """Slices of the outer inputs (after n_steps) holding sequences, inits, non-sequences."""
        a = 1 + self.n_seqs
        b = a + self.n_states
        return slice(1, a), slice(a, b), slice(b, b + self.n_nonseqs)

    def inner_slices(self) -> tuple[slice, list[slice], slice]:
        """Slices of the inner inputs: sequence slices, each state's taps, non-sequences."""
        pos = self.n_seqs
        taps = []
        for t in self.state_taps:
            taps.append(slice(pos, pos + len(t)))
            pos += len(t)
        return slice(0, self.n_seqs), taps, slice(pos, pos + self.n_nonseqs)

    def __str__(self) -> str:
        return f"scan{{{self.name}}}" if self.name else "scan"

    # -- building ------------------------------------------------------------------
    def make_node(self, n_steps: Any, *args: Any) -> Apply:
        from kiln.tensor.basic import as_tensor_variable, describe

        expected = self.n_seqs + self.n_states + self.n_nonseqs
        if len(args) != expected:
            raise TypeError(f"{self}: expected n_steps and {expected} inputs, got {1 + len(args)}")
        n_steps = as_tensor_variable(n_steps)
        if n_steps.type.ndim != 0 or np.dtype(n_steps.type.dtype).kind not in "iu":
            raise TypeError(f"{self}: n_steps must be an integer scalar, got {describe(n_steps)}")
        seq_s, init_s, ns_s = self.outer_slices()
        seq_in, tap_in, ns_in = self.inner_slices()
        ins: list[Variable] = [n_steps]
        for k, (x, inner) in enumerate(zip(args[seq_s.start - 1:seq_s.stop - 1], self.inner_inputs[seq_in])):
            ins.append(self._check(x, inner.type, 1, f"sequence {k}"))
        for k, x in enumerate(args[init_s.start - 1:init_s.stop - 1]):
            inner = self.inner_inputs[tap_in[k].start]
            extra = 1 if self.state_keep[k] == "all" else 0
            ins.append(self._check(x, inner.type, extra, f"initial state {k}"))
        for k, (x, inner) in enumerate(zip(args[ns_s.start - 1:ns_s.stop - 1], self.inner_inputs[ns_in])):
            ins.append(self._check(x, inner.type, 0, f"non-sequence {k}"))
        outs = []
        for k in range(self.n_states):
            t = self.inner_inputs[tap_in[k].start].type
            outs.append(_lead(t) if self.state_keep[k] == "all" else t())
        for o in self.inner_outputs[self.n_states:self.n_states + self.n_nitsot]:
            outs.append(_lead(o.type))
        if self.until:
            outs.append(TensorType("int64", ())())   # the number of steps run
        return Apply(self, ins, outs)

    def _check(self, x: Any, inner_type: Any, extra: int, what: str) -> Variable:
        from kiln.tensor.basic import as_tensor_variable, describe

        if not isinstance(inner_type, TensorType):
            if not isinstance(x, Variable) or x.type != inner_type:
                raise TypeError(f"{self}: {what} has type {getattr(x, 'type', x)}, expected {inner_type}")
            return x
        x = as_tensor_variable(x)
        if x.type.dtype != inner_type.dtype or x.type.ndim != inner_type.ndim + extra:
            raise TypeError(f"{self}: {what} is {describe(x)}, expected dtype {inner_type.dtype} with "
                            f"{inner_type.ndim + extra} dimensions")
        return x

    # -- running -------------------------------------------------------------------
    def _inner_fn(self):
        if self._fn is None:
            import kiln
            from kiln.compile.mode import Mode

            mode = self.mode
            if isinstance(mode, str):
                mode = Mode(linker=mode) if mode in ("py", "c", "auto") else mode
            # the inner inputs are the fgraph's own roots; function() clones before rewriting
            self._fn = kiln.function(list(self.inner_inputs), list(self.inner_outputs), mode=mode,
                                     trust_input=True, on_unused_input="ignore")
        return self._fn

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list]) -> None:
        fn = self._inner_fn()
        n = int(inputs[0])
        if n < 0:
            raise ValueError(f"{self}: n_steps is {n}; it must be >= 0")
        seq_s, init_s, ns_s = self.outer_slices()
        seqs = list(inputs[seq_s])
        inits = list(inputs[init_s])
        nonseqs = list(inputs[ns_s])
        for k, s in enumerate(seqs):
            if len(s) < n:
                raise ValueError(f"{self}: sequence {k} has {len(s)} rows, fewer than the {n} steps")
        n_states = self.n_states
        # a while loop (until) usually stops early and its n_steps may be huge (a bound, or
        # unbounded): its buffers start small and double as needed
        cap = min(n, 64) if self.until else n
        bufs: list[Any] = []
        for k, x in enumerate(inits):
            if self.state_keep[k] == "last":
                bufs.append(x)
                continue
            L = self.lookback(k)
            if x.shape[0] != L:
                raise ValueError(f"{self}: initial state {k} has {x.shape[0]} rows; its taps "
                                 f"{self.state_taps[k]} need {L}")
            b = np.empty((L + cap,) + x.shape[1:], dtype=x.dtype)
            b[:L] = x
            bufs.append(b)
        ys: list[Any] = [None] * self.n_nitsot
        done = n
        for t in range(n):
            if t == cap:
                cap = min(n, 2 * cap)
                bufs = [_grow(b, self.lookback(k) + cap) if self.state_keep[k] == "all" else b
                        for k, b in enumerate(bufs)]
                ys = [_grow(y, cap) for y in ys]
            args = [s[t] for s in seqs]
            for k, b in enumerate(bufs):
                if self.state_keep[k] == "last":
                    args.append(b)
                else:
                    L = self.lookback(k)
                    args.extend(b[L + t + tap] for tap in self.state_taps[k])
            args.extend(nonseqs)
            outs = fn(*args)
            for k in range(n_states):
                v = outs[k]
                if self.state_keep[k] == "last":
                    bufs[k] = v
                    continue
                b = bufs[k]
                if np.shape(v) != b.shape[1:]:
                    raise ValueError(f"{self}: step {t} gave state {k} the shape {np.shape(v)}, but the state "
                                     f"has shape {b.shape[1:]} (the initial state's shape)")
                b[self.lookback(k) + t] = v
            for j in range(self.n_nitsot):
                v = np.asarray(outs[n_states + j])
                if t == 0:
                    ys[j] = np.empty((cap,) + v.shape, dtype=node.outputs[n_states + j].type.dtype)
                elif v.shape != ys[j].shape[1:]:
                    raise ValueError(f"{self}: output {n_states + j} has shape {v.shape} at step {t} but "
                                     f"{ys[j].shape[1:]} at step 0; per-step outputs must keep one shape")
                ys[j][t] = v
            if self.until and bool(outs[-1]):
                done = t + 1
                break
        if done == 0:
            for j in range(self.n_nitsot):
                ys[j] = np.empty((0,) + self._empty_shape(node, j, inputs),
                                 dtype=node.outputs[n_states + j].type.dtype)
        if self.until:   # drop the rows the loop did not reach (a copy: do not pin the spare rows)
            bufs = [b[:self.lookback(k) + done].copy()
                    if self.state_keep[k] == "all" and len(b) > self.lookback(k) + done else b
                    for k, b in enumerate(bufs)]
            ys = [y[:done].copy() if len(y) > done else y for y in ys]
        arrays = [x for x in inputs if isinstance(x, np.ndarray)]
        for k in range(n_states):
            v = bufs[k]
            if isinstance(v, np.ndarray) and any(np.may_share_memory(v, x) for x in arrays):
                v = v.copy()
            output_storage[k][0] = v
        for j in range(self.n_nitsot):
            output_storage[n_states + j][0] = ys[j]
        if self.until:
            output_storage[-1][0] = np.asarray(done, dtype=np.int64)

    def _empty_shape(self, node: Apply, j: int, inputs: Sequence[Any]) -> tuple:
        """The per-step shape of output j of a 0-step scan: from the inner graph's shapes when
        they follow from the inputs' shapes, else its static shape (unknown lengths as 0)."""
        o = self.inner_outputs[self.n_states + j]
        try:
            from kiln.tensor.shape import infer_graph_shapes

            shapes = self._inner_input_shapes([np.shape(x) if isinstance(x, np.ndarray) else ()
                                               for x in inputs])
            (shp,) = infer_graph_shapes(self.inner_inputs, [o], shapes, inner=True)
            return tuple(int(d) if isinstance(d, (int, np.integer)) else int(d.eval()) for d in shp)
        except Exception:   # a shape that needs values (not only shapes): fall back to static
            return tuple(d if d is not None else 0 for d in o.type.shape)

    def _inner_input_shapes(self, outer_shapes: Sequence[tuple]) -> list[tuple]:
        seq_s, init_s, ns_s = self.outer_slices()
        shapes = [tuple(s[1:]) for s in outer_shapes[seq_s]]
        for k, s in enumerate(outer_shapes[init_s]):
            row = tuple(s[1:]) if self.state_keep[k] == "all" else tuple(s)
            shapes.extend([row] * len(self.state_taps[k]))
        shapes.extend(tuple(s) for s in outer_shapes[ns_s])
        return shapes

    def infer_shape(self, fgraph, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        from kiln.tensor.shape import infer_graph_shapes

        if self.until:
            # the number of steps is known only after the loop ran: callers fall back to the
            # outputs' own shapes
            raise NotImplementedError(f"{self}: a scan with until has run-time output lengths")
        n = node.inputs[0]
        _, init_s, _ = self.outer_slices()
        out = []
        for k, s in enumerate(input_shapes[init_s]):
            if self.state_keep[k] == "all":
                out.append((self.lookback(k) + n,) + tuple(s[1:]))
            else:
                out.append(tuple(s))
        if self.n_nitsot:
            shapes = infer_graph_shapes(self.inner_inputs, self.inner_outputs[self.n_states:],
                                        self._inner_input_shapes(input_shapes), inner=True)
            out.extend((n,) + tuple(s) for s in shapes)
        return out

    def __getstate__(self) -> dict:
        d = super().__getstate__()
        d.pop("linear_inputs", None)
        return d

    def __setstate__(self, state: dict) -> None:
        state.setdefault("until", False)   # pickled before scans had until
        super().__setstate__(state)
        if self.linear:
            self.linear_inputs = self.linear


def _grow(a: Any, rows: int) -> Any:
    """`a` with `rows` rows along axis 0 (the first len(a) rows copied, the rest unset)."""
    if a is None or len(a) >= rows:
        return a
    b = np.empty((rows,) + a.shape[1:], dtype=a.dtype)
    b[:len(a)] = a
    return b


def _lead(t: TensorType) -> Variable:
    """A variable of type `t` with an extra leading axis of unknown length."""
    return TensorType(t.dtype, (None,) + tuple(t.shape))()
