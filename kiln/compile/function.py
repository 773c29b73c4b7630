"""function(): from symbolic inputs and outputs to a callable.

The pipeline, top to bottom: normalize arguments -> substitute givens -> collect
shared variables -> build a FunctionGraph -> rewrite (the mode's pipeline) ->
link (the mode's linker) -> wrap in a Function that validates calls, runs,
protects outputs from aliasing, and writes updates back.
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from kiln.compile.mode import Mode, get_mode
from kiln.compile.profiling import as_profile
from kiln.compile.sharedvalue import SharedVariable, copy_value
from kiln.graph.basic import Constant, Variable
from kiln.graph.fg import FunctionGraph, MissingInputError  # noqa: F401  (re-exported)
from kiln.graph.flat import freeze_graph as _freeze_graph, thaw_graph as _thaw_graph
from kiln.graph.replace import clone_replace
from kiln.graph.traversal import ancestors

__all__ = ["function", "Function", "In", "Out", "UnusedInputError"]


class UnusedInputError(ValueError):
    """An input given to function() does not influence any output or update."""


@dataclass(frozen=True)
class In:
    """An input with options: a default `value` (validated and copied when the function is
    built), a keyword `name` (instead of the variable's name), `borrow` and `mutable`
    (accepted for PyTensor compatibility: inputs are never copied nor overwritten)."""

    variable: Variable
    name: str | None = None
    value: Any = None
    borrow: bool = False
    mutable: bool = False

    @property
    def has_default(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Out:
    """An output with `borrow=True`: it may alias internal storage (no defensive copy)."""

    variable: Variable
    borrow: bool = False


def function(inputs: Sequence[Any] = (), outputs: Any = None, mode: Any = None, updates: Any = None,
             givens: Any = None, no_default_updates: bool = False, accept_inplace: bool = False,
             name: str | None = None, rebuild_strict: bool = True, allow_input_downcast: bool | None = None,
             profile: Any = None, on_unused_input: str | None = None, trust_input: bool = False) -> "Function":
    """Compile a callable computing `outputs` from `inputs` (PyTensor's `function`).

    - inputs: a list of root variables or `In(var, value=default, name=keyword)`; shared
      variables are implicit inputs and are not listed.
    - outputs: a variable or `Out(var, borrow=True)` (the call returns one value), a list
      (returns a list), or None (returns []).  Returned arrays never share memory with
      inputs, shared storage, constants or each other unless the output is borrowed.
    - updates: (shared variable, new value) pairs or a dict, applied after all outputs are
      computed, all from the old values (`[(a, b), (b, a)]` swaps), and only when the whole
      run succeeded.  The new value must have the variable's type (TypeError otherwise).
    - givens: (variable, replacement) pairs or a dict, substituted before compiling; a
      replacement may be an expression of other inputs, a shared variable, or a value.
    - on_unused_input: "raise" (default, `config.on_unused_input`), "warn" or "ignore" for
      inputs that no output or update depends on.
    - allow_input_downcast: accept lossy dtype conversions of arguments (float64 data for a
      float32 input); None accepts Python numbers that survive the conversion (and Python
      floats for float scalar inputs, as NumPy's weak scalars), False only exact dtypes or
      safe casts.  trust_input: skip argument validation entirely (fast, unchecked).
    - no_default_updates: shared variables with a `default_update` (e.g. a RandomStream's
      generators) are updated with it unless given an explicit update; True turns this off,
      a list of shared variables turns it off for those.
    - profile: True (or a name, or a ProfileStats to accumulate into) records compile and
      call times in `f.profile` (kiln/compile/profiling.py; per node with the python linker);
      `f.profile.summary()` prints them.
    - accept_inplace and rebuild_strict are accepted for PyTensor compatibility and ignored.

    >>> import numpy as np, kiln, kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> f = kiln.function([x], x * 2)
    >>> f([1.0, 2.0])
    array([2., 4.])
    """
    t_start = time.perf_counter()
    from kiln.configuration import config

    mode = get_mode(mode)
    on_unused_input = on_unused_input or config.on_unused_input
    if on_unused_input not in ("raise", "warn", "ignore"):
        raise ValueError(f"on_unused_input must be 'raise', 'warn' or 'ignore', not {on_unused_input!r}")
    if isinstance(inputs, (Variable, In)):
        raise TypeError("function(): inputs must be a list of variables, e.g. function([x], ...)")

    in_specs = [i if isinstance(i, In) else In(i) for i in inputs]
    for k, spec in enumerate(in_specs):
        if not isinstance(spec.variable, Variable):
            raise TypeError(f"function(): input {k} is {spec.variable!r}, not a symbolic variable")
        if isinstance(spec.variable, Constant):
            raise TypeError(f"function(): input {k} ({spec.variable}) is a constant; inputs must be variables")
        if isinstance(spec.variable, SharedVariable):
            raise TypeError(f"function(): input {k} ({spec.variable}) is a shared variable; shared variables "
                            f"are implicit inputs and must not be listed")
    in_vars = [s.variable for s in in_specs]
    if len(set(map(id, in_vars))) != len(in_vars):
        dup = next(v for v in in_vars if in_vars.count(v) > 1)
        raise ValueError(f"function(): input {dup} is listed more than once")

    single = isinstance(outputs, (Variable, Out))
    out_list = [] if outputs is None else ([outputs] if single else list(outputs))
    out_specs = [o if isinstance(o, Out) else Out(_as_output(o, k)) for k, o in enumerate(out_list)]
    out_vars = [o.variable for o in out_specs]

    upd = _normalize_updates(updates)
    upd += _default_updates(out_vars + [e for _, e in upd], upd, in_vars, givens, no_default_updates)
    upd_targets = [s for s, _ in upd]
    upd_exprs = [e for _, e in upd]

    if givens:
        pairs = list(givens.items()) if isinstance(givens, dict) else list(givens)
        pairs = [(old, _given_value(old, new)) for old, new in pairs]
        replaced = clone_replace(out_vars + upd_exprs, pairs)
        out_vars, upd_exprs = replaced[:len(out_vars)], replaced[len(out_vars):]

    # implicit inputs: shared variables the graph reads, and the targets of updates
    needed = ancestors(out_vars + upd_exprs, blockers=in_vars)
    shared_vars: list[SharedVariable] = []
    seen = set()
    for v in needed + upd_targets:
        if isinstance(v, SharedVariable) and id(v) not in seen and v not in in_vars:
            seen.add(id(v))
            shared_vars.append(v)

    used = {id(v) for v in needed}
    for k, v in enumerate(in_vars):
        if id(v) not in used:
            msg = (f"function(): input {k} ({v}) is not used to compute any output or update; "
                   f"pass on_unused_input='ignore' (or 'warn') to allow it")
            if on_unused_input == "raise":
                raise UnusedInputError(msg)
            if on_unused_input == "warn":
                warnings.warn(msg, stacklevel=2)

    fgraph = FunctionGraph(in_vars + shared_vars, out_vars + upd_exprs, clone=True,
                           update_mapping={len(out_vars) + j: len(in_vars) + shared_vars.index(t)
                                           for j, t in enumerate(upd_targets)})
    # warm start: a process that compiled this very graph before left its rewritten form
    # and module keys in the cache, keyed by the graph as built here (kiln.linkers.cache.warm)
    from kiln.linkers.cache.warm import warm_lookup

    warm = warm_lookup(fgraph, mode)
    if warm.hit:
        fgraph, report = warm.graph, warm.report
    else:
        report = mode.rewrite(fgraph)
    stats = as_profile(profile, name)
    t_link = time.perf_counter()
    f = Function(fgraph, in_specs, out_specs, shared_vars, upd_targets, single, mode, name,
                 allow_input_downcast, trust_input, report, stats)
    f.warm_start = warm.hit
    warm.store(fgraph, f._runner, report)
    if stats is not None:
        done = time.perf_counter()
        stats.compile_time += done - t_start
        stats.link_time += done - t_link
        stats.rewrite_time += sum(p.seconds for p in getattr(report, "phases", ()))
        stats.warm_start = warm.hit
    return f


def _as_output(o: Any, k: int) -> Variable:
    from kiln.tensor.basic import as_tensor_variable

    if isinstance(o, Variable):
        return o
    try:
        return as_tensor_variable(o)
    except TypeError:
        raise TypeError(f"function(): output {k} is {o!r}, not a symbolic variable") from None


def _given_value(old: Variable, new: Any) -> Variable:
    from kiln.tensor.basic import as_tensor_variable

    new = new if isinstance(new, Variable) else as_tensor_variable(new)
    if old.type != new.type and not old.type.is_super(new.type):
        conv = old.type.convert_variable(new)
        if conv is None:
            raise TypeError(f"givens: {new} of type {new.type} cannot replace {old} of type {old.type}")
        new = conv
    return new


def _default_updates(exprs: list, explicit: list, in_vars: list, givens: Any,
                     no_default_updates: Any) -> list[tuple[SharedVariable, Variable]]:
    """(shared variable, its `default_update`) for every shared variable the graph reads that
    carries one (PyTensor's default updates, e.g. a RandomStream's generators) and has no
    explicit update; none when `no_default_updates` is True, and not for the variables it
    lists.  A default update may read further shared variables with their own defaults."""
    if no_default_updates is True:
        return []
    skip = {id(v) for v in (no_default_updates or ())} | {id(s) for s, _ in explicit}
    pairs = list(givens.items()) if isinstance(givens, dict) else list(givens or ())
    blockers = list(in_vars) + [old for old, _ in pairs]
    frontier = list(exprs) + [new for _, new in pairs if isinstance(new, Variable)]
    found = []
    while frontier:
        new_exprs = []
        for v in ancestors(frontier, blockers=blockers):
            du = getattr(v, "default_update", None)
            if du is not None and isinstance(v, SharedVariable) and id(v) not in skip:
                skip.add(id(v))
                found.append((v, du))
                new_exprs.append(du)
        frontier = new_exprs
    return _normalize_updates(found)


def _normalize_updates(updates: Any) -> list[tuple[SharedVariable, Variable]]:
    """Check and normalize `updates` into (shared variable, expression of its exact type) pairs."""
    if updates is None:
        return []
    pairs = list(updates.items()) if isinstance(updates, dict) else list(updates)
    out, seen = [], set()
    for item in pairs:
        if not (isinstance(item, (tuple, list)) and len(item) == 2):
            raise TypeError(f"updates: expected (shared variable, expression) pairs, got {item!r}")
        target, expr = item
        if not isinstance(target, SharedVariable):
            raise TypeError(f"updates: {target} is not a shared variable; only shared variables can be updated")
        if id(target) in seen:
            raise ValueError(f"updates: {target} is updated more than once")
        seen.add(id(target))
        if not isinstance(expr, Variable):
            # a plain value becomes a constant of the target's type (PyTensor's filter_variable)
            try:
                expr = target.type.make_constant(target.type.filter(expr, allow_downcast=None))
            except (TypeError, ValueError) as e:
                raise TypeError(f"updates: the new value {expr!r} for {target} does not fit its type "
                                f"{target.type}: {e}") from None
        if target.type != expr.type and not target.type.is_super(expr.type):
            conv = target.type.convert_variable(expr)
            if conv is None:
                raise TypeError(
                    f"updates: the new value of {target} has type {expr.type}, but {target} has type "
                    f"{target.type}; cast it (e.g. expr.astype('{target.type.dtype}'))")
            expr = conv
        out.append((target, expr))
    return out


def _index_of(items: list, x: Any) -> int:
    return next(k for k, v in enumerate(items) if v is x)


def _alias_set(var: Variable) -> set[Variable]:
    """Every variable whose buffer `var` may share (itself, and what it views or
    overwrites, transitively through view_map/destroy_map)."""
    seen: set[Variable] = set()
    stack = [var]
    while stack:
        v = stack.pop()
        if v in seen:
            continue
        seen.add(v)
        if v.owner is not None:
            op = v.owner.op
            for mapping in (op.view_map, op.destroy_map):
                for i in mapping.get(v.index, ()):
                    stack.append(v.owner.inputs[i])
    return seen


def _outputs_to_copy(outs: Sequence[Variable], borrow: Sequence[bool]) -> list[bool]:
    """Which outputs must be copied after a run: those that may share memory with a root
    (a function input, shared storage, a constant) or with an earlier output (the same
    variable twice, or y and y.T), unless borrowed.  The first of several aliasing outputs
    keeps the computed buffer; the later ones get copies."""
    copy_out = []
    claimed: set[Variable] = set()
    for v, b in zip(outs, borrow):
        aliases = _alias_set(v)
        shares = any(a.owner is None for a in aliases) or not claimed.isdisjoint(aliases)
        copy_out.append(shares and not b)
        if not (shares and not b):
            claimed |= aliases  # this output's buffer now belongs to the caller
    return copy_out


class Function:
    """A compiled function.  Call it with positional or keyword (input name) arguments.

    Everything that does not depend on the call's arguments is computed once, when the
    function is built (`_setup`), so a call is: bind and validate the arguments, run
    the linker's runner, copy the outputs that could alias caller-visible memory, write
    the updates back.

    >>> import numpy as np, kiln, kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> f = kiln.function([x], [x + 1, x * 2])
    >>> f(np.arange(2.0))
    [array([1., 2.]), array([0., 2.])]
    >>> f(x=np.arange(2.0))[1]
    array([0., 2.])
    """

    def __init__(self, fgraph: FunctionGraph, in_specs: list[In], out_specs: list[Out],
                 shared_vars: list[SharedVariable], update_targets: list[SharedVariable], single: bool,
                 mode: Mode, name: str | None, allow_input_downcast: bool | None, trust_input: bool,
                 rewrite_report: Any = None, profile: Any = None):
        self.fgraph = fgraph
        self.profile = profile   # a ProfileStats (kiln/compile/profiling.py) or None
        self.maker = self  # PyTensor scripts reach fgraph via f.maker.fgraph
        self.in_specs = in_specs
        self.out_specs = out_specs
        self.shared_vars = shared_vars
        self.update_targets = update_targets
        self.single = single
        self.mode = mode
        self.name = name
        self.allow_input_downcast = allow_input_downcast
        self.trust_input = trust_input
        self.rewrite_report = rewrite_report
        self._setup()

    def _setup(self) -> None:
        fg = self.fgraph
        n_in, n_out = len(self.in_specs), len(self.out_specs)
        self._n_in, self._n_out = n_in, n_out
        self.input_types = [v.type for v in fg.inputs[:n_in]]
        # keyword names: an In's name, else the variable's name; a name two inputs share is
        # ambiguous and refused when used as a keyword
        self._names: dict[str, int] = {}
        self._ambiguous: set[str] = set()
        for k, spec in enumerate(self.in_specs):
            nm = spec.name or spec.variable.name
            if nm is None:
                continue
            if nm in self._names:
                self._ambiguous.add(nm)
            else:
                self._names[nm] = k
        # defaults are validated (and copied) once, here, so a bad default fails at compile
        # time and mutating the caller's array later cannot change the function
        self._defaults: list[Any] = []
        for k, spec in enumerate(self.in_specs):
            if spec.has_default:
                try:
                    v = self._filter_one(k, spec.value)
                except (TypeError, ValueError) as e:
                    raise type(e)(f"{self._label()}: bad default value for input {k} "
                                  f"({self._input_label(k)}): {e}") from None
                self._defaults.append(np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
            else:
                self._defaults.append(_MISSING)
        self._has_defaults = any(d is not _MISSING for d in self._defaults)
        self._filters = [_fast_filter(t) for t in self.input_types]

        outs = fg.outputs
        # Copy an output when it may alias caller-visible memory (inputs, shared storage,
        # constants) or another output, unless the user asked to borrow it.  Update values
        # are never borrowed: they become shared storage.
        borrow = [k < n_out and self.out_specs[k].borrow for k in range(len(outs))]
        copy_out = _outputs_to_copy(outs, borrow)
        self._copy_out = copy_out
        self._copy_idx = tuple(k for k, c in enumerate(copy_out) if c)
        # outputs not copied anyway are still checked for read-only arrays (e.g. a broadcast
        # view an op returned), which the caller could not write to
        self._ro_check_idx = tuple(k for k, c in enumerate(copy_out)
                                   if not c and not (k < n_out and self.out_specs[k].borrow))
        self._containers = tuple(s.container for s in self.shared_vars)
        self._update_slots = tuple((k, _index_of(self.shared_vars, t)) for k, t in
                                   zip(range(n_out, len(outs)), self.update_targets))
        self._update_cells = tuple((k, self._containers[j]) for k, j in self._update_slots)
        self._link()

    def _link(self) -> None:
        """A fresh runner (and the call path over it) from the mode's linker."""
        linker = self.mode.make_linker()
        profile = getattr(self, "profile", None)
        if profile is not None and hasattr(linker, "profile"):
            linker.profile = profile   # the python linker times each node
        self._runner = linker.make_runner(self.fgraph)
        self._fast_call = _call_path(self)
        if profile is not None:   # timed calls go the Python way round, through the timed runner
            self._runner, self._fast_call = profile.timed(self._runner), None

    # -- calling --------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if not kwargs and self._fast_call is not None and not self.trust_input:
            return self._fast_call(args)   # the same steps as below, in the Cython runtime
        if kwargs or len(args) != self._n_in:
            values = self._bind(args, kwargs)
        elif self.trust_input:
            values = list(args)
        else:
            try:
                values = [f(a) for f, a in zip(self._filters, args)]
            except (TypeError, ValueError):
                values = self._bind(args, kwargs)  # raises the error that names the input
        for c in self._containers:
            values.append(c.value)
        results = self._runner(values)
        for k in self._copy_idx:
            # by kind: a generator state or another non-array value is copied as itself
            results[k] = copy_value(results[k])
        for k in self._ro_check_idx:
            r = results[k]
            if isinstance(r, np.ndarray) and not r.flags.writeable:
                results[k] = np.array(r, copy=True)
        # simultaneous updates: everything was computed from the old values above, and
        # nothing is written back unless the whole run succeeded
        for k, cell in self._update_cells:
            cell.value = results[k]
        if self.single:
            return results[0]
        if self._update_cells:
            del results[self._n_out:]
        return results

    def _bind(self, args: tuple, kwargs: dict) -> list[Any]:
        """Match positional and keyword arguments to inputs, fill defaults, validate."""
        specs = self.in_specs
        if len(args) > len(specs):
            raise TypeError(f"{self._label()} takes {len(specs)} argument(s), got {len(args)}")
        slots: list[Any] = list(args) + [_MISSING] * (len(specs) - len(args))
        for key, val in kwargs.items():
            if key in self._ambiguous:
                raise TypeError(f"{self._label()}: keyword {key!r} is ambiguous (several inputs are named "
                                f"{key!r}); pass the value positionally or give the inputs In(..., name=...)")
            k = self._names.get(key)
            if k is None:
                raise TypeError(f"{self._label()} got an unexpected keyword argument {key!r} "
                                f"(inputs: {', '.join(map(str, self._names)) or 'none named'})")
            if slots[k] is not _MISSING:
                raise TypeError(f"{self._label()} got several values for input {key!r}")
            slots[k] = val
        out = []
        for k, val in enumerate(slots):
            if val is _MISSING:
                val = self._defaults[k]
                if val is _MISSING:
                    raise TypeError(f"{self._label()}: missing argument for input {k} ({self._input_label(k)})")
                out.append(val)  # validated at compile time; outputs never alias it
                continue
            if self.trust_input:
                out.append(val)
                continue
            try:
                v = self._filter_one(k, val)
            except (TypeError, ValueError) as e:
                raise type(e)(f"{self._label()}: bad argument for input {k} ({self._input_label(k)}): {e}") from None
            out.append(v)
        return out

    def _filter_one(self, k: int, val: Any) -> Any:
        t = self.input_types[k]
        if type(val) is float and self.allow_input_downcast is None:
            weak = _weak_float(t, val)
            if weak is not None:
                return weak
        return t.filter(val, strict=False, allow_downcast=self.allow_input_downcast)

    def _label(self) -> str:
        return f"function {self.name!r}" if self.name else "function"

    def _input_label(self, k: int) -> str:
        v = self.in_specs[k].variable
        nm = self.in_specs[k].name or v.name
        return f"{nm or 'unnamed'}: {self.input_types[k]}"

    # -- introspection, copying and pickling -------------------------------------------
    @property
    def inputs(self) -> list[Variable]:
        return [s.variable for s in self.in_specs]

    @property
    def outputs(self) -> list[Variable]:
        return [s.variable for s in self.out_specs]

    def copy(self, share_memory: bool = False, swap: dict | None = None, delete_updates: bool = False,
             name: str | None = None) -> "Function":
        """A new Function computing the same graph (PyTensor's `Function.copy`).

        Shared variables stay shared with the original (a shared variable is one value
        everywhere) unless `swap` maps some of them to other shared variables of the same
        type; `delete_updates` drops the updates.  The copy has its own runner, so the two
        can be called independently.  (`share_memory` is accepted for compatibility: the
        python linker keeps no storage between calls, so there is nothing else to share.)

        >>> import numpy as np, kiln, kiln.tensor as kt
        >>> w = kiln.shared(np.zeros(2)); v = kt.vector("v")
        >>> f = kiln.function([v], [], updates=[(w, w + v)])
        >>> g = f.copy(swap={w: kiln.shared(np.ones(2))}); g(np.ones(2)); w.get_value()
        []
        array([0., 0.])
        """
        swap = dict(swap or {})
        for old, new in swap.items():
            if not any(old is s for s in self.shared_vars):
                raise ValueError(f"copy(swap=): {old} is not a shared variable of this function")
            if not isinstance(new, SharedVariable) or new.type != old.type:
                raise TypeError(f"copy(swap=): {old} (type {old.type}) can only be swapped for a shared "
                                f"variable of the same type, not {new!r}"
                                f"{' of type ' + str(new.type) if isinstance(new, Variable) else ''}")
        shared_vars = [swap.get(s, s) for s in self.shared_vars]
        targets = [] if delete_updates else [swap.get(t, t) for t in self.update_targets]
        fgraph = self.fgraph
        if delete_updates and self.update_targets:
            from kiln.graph.fg import FunctionGraph as _FG

            n = len(self.in_specs) + len(self.shared_vars)
            fgraph = _FG(fgraph.inputs[:n], fgraph.outputs[:self._n_out], clone=True)
        return Function(fgraph, list(self.in_specs), list(self.out_specs), shared_vars, targets, self.single,
                        self.mode, self.name if name is None else name, self.allow_input_downcast,
                        self.trust_input, self.rewrite_report)

    def __copy__(self) -> "Function":
        return self.copy()

    def get_shared(self) -> list[SharedVariable]:
        """The shared variables this function reads (PyTensor's `Function.get_shared`)."""
        return list(self.shared_vars)

    def dprint(self, **kwargs: Any) -> Any:
        """kiln.printing.debugprint of the compiled graph (PyTensor's `Function.dprint`)."""
        from kiln.printing import debugprint

        return debugprint(self, **kwargs)

    def free(self) -> None:
        """Release the memory the function keeps between calls (its buffer pools and the
        outputs it would reuse), as PyTensor's `Function.free`; the next call allocates anew."""
        self._link()

    _DERIVED = ("_runner", "maker", "_names", "_ambiguous", "_defaults", "_has_defaults", "_filters",
                "_copy_out", "_copy_idx", "_ro_check_idx", "_containers", "_update_slots",
                "_update_cells", "input_types", "_n_in", "_n_out", "_fast_call")

    def __getstate__(self) -> dict:
        # Only what _setup cannot rebuild travels; shared variables carry their values.  The
        # graph travels flat (see kiln.graph.flat): pickling linked Variables/Apply nodes
        # recurses once per node and overflows the stack on deep graphs.  The user's output
        # variables (whole graphs of their own) are replaced by the compiled graph's outputs.
        state = {k: v for k, v in self.__dict__.items() if k not in self._DERIVED}
        state["fgraph"] = _freeze_graph(self.fgraph)
        state["out_specs"] = [spec.borrow for spec in self.out_specs]
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        fg = state["fgraph"] = _thaw_graph(state["fgraph"])
        state["out_specs"] = [Out(fg.outputs[k], borrow=b) for k, b in enumerate(state["out_specs"])]
        self.__dict__.update(state)
        self.maker = self
        self._setup()

    def __repr__(self) -> str:
        name = f" {self.name}" if self.name else ""
        return f"<kiln.Function{name} {len(self.in_specs)} inputs -> {self._n_out} outputs>"


def _weak_float(t: Any, val: float) -> Any:
    """A Python float for a float input: NEP 50 treats it as weak, so it takes the input's
    dtype (rounded), as `np.float32(1) + 0.1` does; None when t is not a float tensor type
    or the value would overflow to infinity."""
    dtype = getattr(t, "dtype", None)
    if getattr(t, "ndim", None) != 0 or dtype is None or np.dtype(dtype).kind != "f":
        return None
    with np.errstate(over="ignore"):
        arr = np.asarray(val, dtype=dtype)
    if np.isinf(arr) and not np.isinf(val):
        return None
    return arr


def _call_path(f: "Function") -> Any:
    """`f.__call__`'s positional fast path as a Cython `CallPath` (kiln.linkers.c._runtime),
    or None when the extension is not built or `KILN_FLAGS=c_runtime=ctypes` asks for
    the pure-Python runtime."""
    from kiln.configuration import config

    if config.extra.get("c_runtime") == "ctypes":
        return None
    try:
        from kiln.linkers.c._runtime import CallPath
    except ImportError:
        return None
    from kiln.tensor.type import TensorType

    checks = []
    for t, filt in zip(f.input_types, f._filters):
        if isinstance(t, TensorType):
            static = tuple((i, s) for i, s in enumerate(t.shape) if s is not None)
            checks.append((np.dtype(t.dtype), t.ndim, static, filt))
        else:
            checks.append((None, 0, (), filt))

    def bind(args: tuple) -> list:
        return f._bind(args, {})

    return CallPath(tuple(checks), f._containers, f._runner, bind, copy_value, f._copy_idx,
                    f._ro_check_idx, f._update_cells, f.single, f._n_out)


def _fast_filter(t: Any):
    """A one-argument validator for the call fast path; raises TypeError/ValueError on any
    value that is not already exactly right (the slow path then explains or converts)."""
    from kiln.tensor.type import TensorType

    if not isinstance(t, TensorType):
        def generic(v: Any, _f=t.filter) -> Any:
            return _f(v, strict=True)
        return generic
    dtype, ndim = np.dtype(t.dtype), t.ndim
    static = tuple((i, s) for i, s in enumerate(t.shape) if s is not None)
    ndarray = np.ndarray

    if static:
        def check_static(v: Any) -> Any:
            if type(v) is ndarray and v.dtype == dtype and v.ndim == ndim and all(
                    v.shape[i] == s for i, s in static):
                return v
            raise TypeError
        return check_static

    def check(v: Any) -> Any:
        if type(v) is ndarray and v.dtype == dtype and v.ndim == ndim:
            return v
        raise TypeError
    return check


_MISSING = object()
