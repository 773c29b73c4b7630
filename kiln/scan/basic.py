"""`scan`: loops over sequences and recurrent states (PyTensor's `pytensor.scan`).

`scan` calls the user's step function once, on symbolic placeholders, to build the loop
body; everything the body reads from outside (shared variables, other outer variables)
becomes an explicit input of one `Scan` op (kiln/scan/op.py), which runs the body once per
step.  Derivatives are in kiln/scan/grad.py.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from kiln.graph.basic import Constant, Variable
from kiln.scan.op import Scan

__all__ = ["scan"]


def scan(fn: Callable, sequences: Any = None, outputs_info: Any = None, non_sequences: Any = None,
         n_steps: Any = None, truncate_gradient: int = -1, go_backwards: bool = False, mode: Any = None,
         name: str | None = None, profile: Any = False, allow_gc: Any = None, strict: bool = False,
         return_list: bool = False, return_updates: bool = True) -> Any:
    """Repeat `fn` over steps; returns ``(outputs, updates)`` as PyTensor's scan does.

    - sequences: variables iterated over axis 0, or ``{"input": x, "taps": [-1, 0, 2]}``;
    - outputs_info: per output, an initial state (fed back to `fn` as tap -1), ``None`` (not
      fed back), or ``{"initial": x0, "taps": [-2, -1]}`` (x0 has a leading axis of length 2);
    - non_sequences: passed unchanged to every step; shared and other outer variables that
      `fn` uses are found automatically;
    - n_steps: number of steps (required without sequences; with sequences the shortest one,
      after its taps, bounds it); with `until`, the most steps the loop may run;
    - go_backwards: iterate the sequences from their end;
    - truncate_gradient: backpropagate through the last `truncate_gradient` steps only (-1: all).

    `fn` receives the sequence slices (taps in order), then the states (taps in order), then
    the non-sequences, and returns the outputs, or ``(outputs, updates)``, or only updates (a
    dict shared variable -> new value), optionally followed by ``until(condition)``
    (``kiln.scan.utils.until``): ``(outputs, until(c))``, ``(outputs, updates, until(c))`` or
    ``(updates, until(c))`` make a while loop that stops after the first step whose `c` is
    true (that step's outputs are kept), so the outputs have as many rows as steps ran; the
    updates take the values of the last step run.  Without sequences and `n_steps` such a
    loop is unbounded.  `updates` maps shared variables to their values after
    the last step; pass it to ``kiln.function(..., updates=updates)``.  Draws from a
    `RandomStream` inside `fn` advance their generator every step (the generator is a loop
    state; `updates` holds its final value, which also becomes the generator's
    `default_update`, so a function given no `updates` still moves it on).  `profile` and `allow_gc` are accepted for
    PyTensor compatibility and ignored.  With ``return_updates=False`` (PyTensor's newer API)
    only the outputs are returned, and a step that updates shared variables raises ValueError.

    >>> import numpy as np, kiln, kiln.tensor as kt
    >>> x = kt.dvector("x")
    >>> s, _ = scan(lambda xt, acc: acc + xt, sequences=x, outputs_info=kt.constant(0.0))
    >>> kiln.function([x], s)(np.array([1.0, 2.0, 3.0])).tolist()
    [1.0, 3.0, 6.0]
    """
    from kiln.tensor.basic import as_tensor_variable
    from kiln.tensor.shape import shape_i

    label = f"scan{{{name}}}" if name else "scan"
    seqs = _normalize_sequences(sequences, go_backwards, label)
    infos = _normalize_outputs_info(outputs_info, label)
    nonseqs = [x if isinstance(x, Variable) else as_tensor_variable(x) for x in _as_list(non_sequences)]

    # -- placeholders and the user's step ------------------------------------------
    seq_slices, seq_vars, lens = [], [], []
    for x, taps in seqs:
        # PyTensor's convention: the window always spans tap 0 (step 0 reads row -lo + tap)
        lo, hi = min(min(taps), 0), max(max(taps), 0)
        for tap in taps:
            seq_slices.append(x[tap - lo:] if tap != lo else x)
            seq_vars.append(_row_var(x, f"{x.name or 'seq'}[t{tap:+d}]"))
        lens.append(shape_i(x, 0) - (hi - lo))
    state_vars: list[list[Variable]] = []
    for k, info in enumerate(infos):
        if info is None:
            continue
        init, taps = info
        # a plain initial state is one row; with taps the initial value stacks L rows
        vs = [init.type() if taps == (-1,) else _row_var(init, None) for _ in taps]
        for v, tap in zip(vs, taps):
            v.name = f"{init.name or f'out{k}'}[t{tap:+d}]"
        state_vars.append(vs)
    args = list(seq_vars) + [v for vs in state_vars for v in vs] + list(nonseqs)
    ret = fn(*args)
    ret, cond = _split_until(ret, label)
    outputs, updates = _split_return(ret, label)
    if outputs_info is not None and len(outputs) != len(infos):
        raise ValueError(f"{label}: fn returned {len(outputs)} output(s) but outputs_info has {len(infos)} "
                         f"entries (use None for an output that is not fed back)")
    if outputs_info is None:
        infos = [None] * len(outputs)
    outputs = [as_tensor_variable(o) for o in outputs]

    # -- recurrent outputs: check they match their initial states --------------------
    state_idx = [k for k, info in enumerate(infos) if info is not None]
    nitsot_idx = [k for k, info in enumerate(infos) if info is None]
    for pos, k in enumerate(state_idx):
        o, ph = outputs[k], state_vars[pos][0]
        _check_state_output(label, k, infos[k][0], ph, o)

    # -- shared-variable updates and random generators become "last" states ---------
    from kiln.compile.sharedvalue import SharedVariable
    from kiln.graph.replace import clone_replace

    upd_targets, upd_exprs = [], []
    for s, e in updates:
        if not isinstance(s, SharedVariable):
            raise TypeError(f"{label}: updates must be for shared variables, got {s!r}")
        if isinstance(e, Variable) and not isinstance(s.type, type(e.type)):
            raise TypeError(f"{label}: the update of {s} has type {e.type}, expected {s.type}")
        e = e if isinstance(e, Variable) else as_tensor_variable(e)
        if hasattr(s.type, "dtype") and e.type.dtype != s.type.dtype:
            raise TypeError(f"{label}: the update of shared variable {s.name or s} has dtype {e.type.dtype}, "
                            f"but the variable has dtype {s.type.dtype}; cast the update")
        upd_targets.append(s)
        upd_exprs.append(e)
    body = outputs + upd_exprs
    stop = [cond] if cond is not None else []
    rng_targets = []
    for s, e in _random_states(body + stop, args, upd_targets):
        rng_targets.append(s)
        upd_targets.append(s)
        upd_exprs.append(e)
        body.append(e)
    upd_vars = [s.type() for s in upd_targets]
    for s, v in zip(upd_targets, upd_vars):
        v.name = f"{s.name or 'shared'}[t-1]"
    if upd_targets:
        body = clone_replace(body + stop, dict(zip(upd_targets, upd_vars)))
        body, stop = body[:len(body) - len(stop)], body[len(body) - len(stop):]

    # -- everything else fn reads from outside becomes a non-sequence ------------------
    placeholders = list(seq_vars) + [v for vs in state_vars for v in vs] + upd_vars
    explicit = [x for x in nonseqs if not isinstance(x, Constant)]
    free = _free_variables(body + stop, placeholders, explicit)
    implicit = [v for v in free if v not in set(explicit)]
    if strict:
        from kiln.graph.traversal import ancestors

        undeclared = [v for v in ancestors(implicit) if isinstance(v, SharedVariable) and v not in set(explicit)]
        if undeclared:
            raise ValueError(f"{label}: strict=True but fn uses shared variables not passed in non_sequences: "
                             f"{[str(v) for v in undeclared]}")
    outer_ns = [v for v in explicit if v in set(free)] + implicit
    ns_vars = [v.type() for v in outer_ns]
    for v, p in zip(outer_ns, ns_vars):
        p.name = v.name
    if outer_ns:
        body = clone_replace(body + stop, dict(zip(outer_ns, ns_vars)))
        body, stop = body[:len(body) - len(stop)], body[len(body) - len(stop):]
    n_user = len(outputs)
    user_out, upd_out = body[:n_user], body[n_user:]

    # -- the op ---------------------------------------------------------------------
    inner_in = list(seq_vars) + [v for vs in state_vars for v in vs] + upd_vars + ns_vars
    inner_out = [user_out[k] for k in state_idx] + list(upd_out) + [user_out[k] for k in nitsot_idx] + stop
    state_taps = [infos[k][1] for k in state_idx] + [(-1,)] * len(upd_vars)
    keep = ["all"] * len(state_idx) + ["last"] * len(upd_vars)
    op = Scan(inner_in, inner_out, n_seqs=len(seq_vars), state_taps=state_taps, state_keep=keep,
              n_nitsot=len(nitsot_idx), n_nonseqs=len(ns_vars), truncate_gradient=truncate_gradient,
              mode=mode, name=name, until=bool(stop))
    n = _n_steps(n_steps, lens, label, unbounded_ok=bool(stop))
    inits = []
    for k in state_idx:
        init, taps = infos[k]
        inits.append(_expand(init) if taps == (-1,) else init[:-taps[0]])
    res = op(n, *seq_slices, *inits, *upd_targets, *outer_ns)
    res = res if isinstance(res, list) else [res]
    results: list[Any] = [None] * len(outputs)
    for pos, k in enumerate(state_idx):
        L = -infos[k][1][0]
        results[k] = res[pos][L:]
    for pos, k in enumerate(nitsot_idx):
        results[k] = res[len(state_idx) + len(upd_vars) + pos]
    for k, r in enumerate(results):
        if name:
            r.name = f"{name}[{k}]" if len(results) > 1 else name
    new_updates = {s: res[len(state_idx) + j] for j, s in enumerate(upd_targets)}
    for s in rng_targets:
        # the generator's draw now lives in the loop: a function that is not given `updates`
        # still advances it past every step's draws (its default update)
        s.default_update = new_updates[s]
    out = results[0] if len(results) == 1 and not return_list else results
    if not return_updates:
        user_upd = {s: v for s, v in new_updates.items() if s not in set(rng_targets)}
        if user_upd:
            raise ValueError(f"{label}: return_updates=False but the step updates shared variables "
                             f"{[str(s) for s in user_upd]}; make them recurrent outputs (outputs_info) "
                             f"or pass return_updates=True")
        return out
    return out, new_updates


# -- helpers ---------------------------------------------------------------------------
def _as_list(x: Any) -> list:
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def _row_var(x: Variable, name: str | None) -> Variable:
    """A fresh variable for one row (axis-0 slice) of `x`."""
    from kiln.tensor.type import TensorType

    v = TensorType(x.type.dtype, tuple(x.type.shape[1:]))()
    v.name = name
    return v


def _expand(x: Variable) -> Variable:
    from kiln.tensor.shape import expand_dims

    return expand_dims(x, 0)


def _normalize_sequences(sequences: Any, go_backwards: bool, label: str) -> list:
    from kiln.tensor.basic import as_tensor_variable, describe

    out = []
    for i, s in enumerate(_as_list(sequences)):
        if isinstance(s, dict):
            if "input" not in s:
                raise ValueError(f"{label}: sequence {i} is a dict without an 'input' entry")
            x, taps = s["input"], s.get("taps", [0])
        else:
            x, taps = s, [0]
        x = as_tensor_variable(x)
        if x.type.ndim < 1:
            raise TypeError(f"{label}: sequence {i} ({describe(x)}) is 0-d; sequences are iterated over "
                            f"their first axis")
        taps = [int(t) for t in (taps if isinstance(taps, (list, tuple)) else [taps])]
        if not taps:
            continue
        if go_backwards:
            x = x[::-1]
        out.append((x, taps))
    return out


def _normalize_outputs_info(outputs_info: Any, label: str) -> list:
    from kiln.tensor.basic import as_tensor_variable

    infos: list[Any] = []
    for k, o in enumerate(_as_list(outputs_info)):
        if o is None:
            infos.append(None)
            continue
        if isinstance(o, dict):
            if o.get("initial") is None:
                infos.append(None)
                continue
            init = as_tensor_variable(o["initial"])
            taps = o.get("taps", [-1])
            taps = tuple(sorted(int(t) for t in (taps if isinstance(taps, (list, tuple)) else [taps])))
            if not taps or any(t >= 0 for t in taps):
                raise ValueError(f"{label}: output {k} has taps {list(taps)}; recurrent taps must be negative")
            if taps != (-1,) and init.type.ndim < 1:
                raise TypeError(f"{label}: output {k} has taps {list(taps)}, so its initial value needs a "
                                f"leading axis of length {-taps[0]}, but it is 0-d")
            infos.append((init, taps))
        else:
            infos.append((as_tensor_variable(o), (-1,)))
    return infos


def _is_updates(x: Any) -> bool:
    if isinstance(x, dict):
        return True
    return (isinstance(x, (list, tuple)) and len(x) > 0
            and all(isinstance(p, tuple) and len(p) == 2 and not isinstance(p[0], (list, tuple)) for p in x)
            and all(_is_shared(p[0]) for p in x))


def _is_shared(v: Any) -> bool:
    from kiln.compile.sharedvalue import SharedVariable

    return isinstance(v, SharedVariable)


def _split_until(ret: Any, label: str) -> tuple[Any, Any]:
    """fn's return value without its `until(...)` (PyTensor puts it last; any position of
    the top-level tuple is accepted), and the condition (None without one)."""
    from kiln.scan.utils import until

    if isinstance(ret, until):
        return [], ret.condition
    if not isinstance(ret, (tuple, list)):
        return ret, None
    found = [r for r in ret if isinstance(r, until)]
    if not found:
        return ret, None
    if len(found) > 1:
        raise ValueError(f"{label}: fn returned {len(found)} until(...) conditions; return at most one")
    rest = [r for r in ret if not isinstance(r, until)]
    if len(rest) == 0:
        return [], found[0].condition
    if len(rest) == 1:   # (outputs, until(c)) or (updates, until(c))
        return rest[0], found[0].condition
    return (tuple(rest) if isinstance(ret, tuple) else rest), found[0].condition


def _split_return(ret: Any, label: str) -> tuple[list, list]:
    """fn's return value as (outputs, [(shared, new value)])."""
    def pairs(u):
        return list(u.items()) if isinstance(u, dict) else list(u)

    if _is_updates(ret):
        return [], pairs(ret)
    if isinstance(ret, tuple) and len(ret) == 2 and _is_updates(ret[1]):
        return _as_list(ret[0]), pairs(ret[1])
    if isinstance(ret, tuple) and len(ret) == 2 and _is_updates(ret[0]):
        return _as_list(ret[1]), pairs(ret[0])
    if ret is None:
        raise ValueError(f"{label}: fn returned None; return the step's outputs and/or an updates dict")
    return _as_list(ret), []


def _check_state_output(label: str, k: int, init: Variable, ph: Variable, out: Variable) -> None:
    from kiln.tensor.basic import describe

    if out.type.dtype != ph.type.dtype:
        raise TypeError(
            f"{label}: the initial state (outputs_info) of output {k} has dtype {ph.type.dtype}, but fn "
            f"returns {describe(out)} for it. The two must match: cast your initial state (or the "
            f"output), e.g. kt.cast(x0, '{out.type.dtype}'); this happens when the step up- or downcasts")
    if out.type.ndim != ph.type.ndim:
        raise TypeError(
            f"{label}: the initial state (outputs_info) of output {k} has {ph.type.ndim} dimension(s) per "
            f"step, but fn returns {describe(out)} ({out.type.ndim} dimension(s)) for it; give an initial "
            f"state of the output's shape")
    for d, (a, b) in enumerate(zip(ph.type.shape, out.type.shape)):
        if a is not None and b is not None and a != b:
            raise ValueError(f"{label}: output {k} has static length {b} on axis {d} but its initial state "
                             f"has {a}")


def _random_states(body: list, placeholders: list, explicit: list) -> list:
    """(generator, next state) for each RandomStream generator whose draw is in the body:
    the generator becomes a loop state so each step draws anew."""
    from kiln.graph.traversal import ancestors

    nodes = {v.owner for v in ancestors(body) if v.owner is not None}
    out = []
    seen = set(explicit)
    for v in ancestors(body):
        du = getattr(v, "default_update", None)
        if du is None or v in seen or not _is_shared(v):
            continue
        if du.owner is not None and du.owner in nodes:
            out.append((v, du))
            seen.add(v)
    return out


def _free_variables(body: list, placeholders: list, explicit: list) -> list:
    """Outer variables the body reads: inputs of body nodes that do not depend on a
    placeholder (non-constant), in a stable order, explicit non-sequences first."""
    from kiln.graph.traversal import toposort

    dep = set(placeholders)
    order: list[Variable] = []
    seen: set = set()

    def add(v):
        if v not in seen and not isinstance(v, Constant):
            seen.add(v)
            order.append(v)

    for node in toposort(body):
        if any(i in dep for i in node.inputs):
            dep.update(node.outputs)
    for node in toposort(body):
        if not any(o in dep for o in node.outputs):
            continue
        for i in node.inputs:
            if i not in dep:
                add(i)
    for o in body:
        if o not in dep:
            add(o)
    ex = [v for v in explicit if v in seen]
    return ex + [v for v in order if v not in set(ex)]


#: n_steps of a while loop (until) given neither n_steps nor sequences: in effect unbounded
UNBOUNDED_STEPS = 2 ** 62


def _n_steps(n_steps: Any, lens: list, label: str, unbounded_ok: bool = False) -> Variable:
    import kiln.tensor as kt
    from kiln.tensor.basic import as_tensor_variable, describe

    cands = [kt.cast(v, "int64") for v in lens]
    if n_steps is not None:
        n = as_tensor_variable(n_steps)
        if n.type.ndim != 0 or n.type.dtype[:3] not in ("int", "uin"):
            raise TypeError(f"{label}: n_steps must be an integer scalar, got {describe(n)}")
        cands.insert(0, kt.cast(n, "int64"))
    if not cands and unbounded_ok:
        return kt.constant(np.int64(UNBOUNDED_STEPS))
    if not cands:
        raise ValueError(f"{label}: n_steps is required when there are no sequences")
    n = cands[0]
    for c in cands[1:]:
        n = kt.minimum(n, c)
    if lens:
        n = kt.maximum(n, 0)
    return n
