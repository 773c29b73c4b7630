"""function(): from symbolic inputs and outputs to a callable.

The pipeline, top to bottom: normalize arguments -> substitute givens -> collect
shared variables -> build a FunctionGraph -> rewrite (the mode's pipeline) ->
link (the mode's linker) -> wrap in a Function that validates calls, runs,
protects outputs from aliasing, and writes updates back.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from kiln.compile.mode import Mode, get_mode
from kiln.compile.sharedvalue import SharedVariable
from kiln.graph.basic import Constant, Variable
from kiln.graph.fg import FunctionGraph, MissingInputError
from kiln.graph.replace import clone_replace
from kiln.graph.traversal import ancestors

__all__ = ["function", "Function", "In", "Out", "UnusedInputError"]


class UnusedInputError(ValueError):
    """An input given to function() does not influence any output or update."""


@dataclass(frozen=True)
class In:
    """An input with options: a default `value`, a keyword `name`, `borrow` (skip copying)."""

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

    outputs: a variable (the call returns one value), a list (returns a list), or None
    (returns []); updates: pairs (shared variable, new value expression) applied after
    all outputs are computed; givens: pairs (variable, replacement) substituted first.

    >>> import numpy as np, kiln, kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> f = kiln.function([x], x * 2)
    >>> f([1.0, 2.0])
    array([2., 4.])
    """
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
    report = mode.rewrite(fgraph)
    return Function(fgraph, in_specs, out_specs, shared_vars, upd_targets, single, mode, name,
                    allow_input_downcast, trust_input, report)


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


def _normalize_updates(updates: Any) -> list[tuple[SharedVariable, Variable]]:
    from kiln.tensor.basic import as_tensor_variable

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
        expr = expr if isinstance(expr, Variable) else as_tensor_variable(expr)
        if target.type != expr.type and not target.type.is_super(expr.type):
            conv = target.type.convert_variable(expr)
            if conv is None:
                raise TypeError(
                    f"updates: the new value of {target} has type {expr.type}, but {target} has type "
                    f"{target.type}; cast it (e.g. expr.astype('{target.type.dtype}'))")
            expr = conv
        out.append((target, expr))
    return out


def _may_alias_root(var: Variable) -> bool:
    """Whether var may share memory with a graph input, shared storage or a constant."""
    seen = set()
    stack = [var]
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        if v.owner is None:
            return True
        op = v.owner.op
        for mapping in (op.view_map, op.destroy_map):
            for i in mapping.get(v.index, ()):
                stack.append(v.owner.inputs[i])
    return False


class Function:
    """A compiled function.  Call it with positional or keyword (input name) arguments."""

    def __init__(self, fgraph: FunctionGraph, in_specs: list[In], out_specs: list[Out],
                 shared_vars: list[SharedVariable], update_targets: list[SharedVariable], single: bool,
                 mode: Mode, name: str | None, allow_input_downcast: bool | None, trust_input: bool,
                 rewrite_report: Any = None):
        self.fgraph = fgraph
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
        self.input_types = [v.type for v in fg.inputs[:n_in]]
        self._names = {}
        for k, spec in enumerate(self.in_specs):
            nm = spec.name or spec.variable.name
            if nm is not None and nm not in self._names:
                self._names[nm] = k
        outs = fg.outputs
        # Copy an output when it may alias caller-visible memory (inputs, shared storage,
        # constants) or another output, unless the user asked to borrow it.
        copy_out = []
        for k, v in enumerate(outs):
            borrow = k < n_out and self.out_specs[k].borrow
            dup = any(v is w for w in outs[:k])
            copy_out.append(not borrow and (dup or _may_alias_root(v)))
        self._copy_out = copy_out
        self._runner = self.mode.make_linker().make_runner(fg)
        self._n_out = n_out
        self._update_slots = [(k, self.shared_vars.index(t)) for k, t in
                              zip(range(n_out, len(outs)), self.update_targets)]

    # -- calling --------------------------------------------------------------------
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        values = self._bind(args, kwargs)
        shared_values = [s.container.value for s in self.shared_vars]
        results = self._runner(values + shared_values)
        for k, r in enumerate(results):
            if self._copy_out[k] or (isinstance(r, np.ndarray) and not r.flags.writeable):
                results[k] = np.array(r, copy=True)
        # simultaneous updates: everything was computed from the old values above
        for k, j in self._update_slots:
            self.shared_vars[j].container.value = results[k]
        outs = results[:self._n_out]
        if self.single:
            return outs[0]
        return outs

    def _bind(self, args: tuple, kwargs: dict) -> list[Any]:
        specs = self.in_specs
        if len(args) > len(specs):
            raise TypeError(f"{self._label()} takes {len(specs)} argument(s), got {len(args)}")
        slots: list[Any] = list(args) + [_MISSING] * (len(specs) - len(args))
        for key, val in kwargs.items():
            k = self._names.get(key)
            if k is None:
                raise TypeError(f"{self._label()} got an unexpected keyword argument {key!r} "
                                f"(inputs: {', '.join(map(str, self._names)) or 'none named'})")
            if slots[k] is not _MISSING:
                raise TypeError(f"{self._label()} got several values for input {key!r}")
            slots[k] = val
        out = []
        for k, (spec, val) in enumerate(zip(specs, slots)):
            if val is _MISSING:
                if spec.has_default:
                    val = spec.value
                else:
                    raise TypeError(f"{self._label()}: missing argument for input {k} ({self._input_label(k)})")
            if self.trust_input:
                out.append(val)
                continue
            try:
                v = self.input_types[k].filter(val, strict=False, allow_downcast=self.allow_input_downcast)
            except (TypeError, ValueError) as e:
                raise type(e)(f"{self._label()}: bad argument for input {k} ({self._input_label(k)}): {e}") from None
            out.append(v)
        return out

    def _label(self) -> str:
        return f"function {self.name!r}" if self.name else "function"

    def _input_label(self, k: int) -> str:
        v = self.in_specs[k].variable
        return f"{v.name or 'unnamed'}: {self.input_types[k]}"

    # -- introspection and pickling ----------------------------------------------------
    @property
    def inputs(self) -> list[Variable]:
        return [s.variable for s in self.in_specs]

    def copy(self) -> "Function":
        import copy

        return copy.deepcopy(self)

    def __getstate__(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if k not in ("_runner", "maker")}
        return d

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.maker = self
        self._setup()

    def __repr__(self) -> str:
        return f"<kiln.Function {self.name or ''} {len(self.in_specs)} inputs -> {self._n_out} outputs>"


_MISSING = object()
