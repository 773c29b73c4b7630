"""FunctionGraph: a mutable graph with fixed inputs, tracked clients, and features.

Rewrites change a FunctionGraph only through `replace`/`replace_all`, which
check types, notify features, ask them to validate, and roll back on refusal.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.replace import clone_get_equiv
from kiln.graph.traversal import io_toposort

__all__ = ["FunctionGraph", "Feature", "InconsistencyError", "MissingInputError", "OUTPUT"]

#: the client entry standing for "this variable is output number i of the graph"
OUTPUT = "output"


def _client_key(client: tuple) -> tuple:
    node, i = client
    return (node if node == OUTPUT else id(node), i)


class InconsistencyError(Exception):
    """A feature refused a change (the change has been rolled back)."""


class MissingInputError(Exception):
    """An output depends on a variable that is neither an input nor a constant."""

    def __init__(self, msg: str, variable: Variable | None = None):
        super().__init__(msg)
        self.variable = variable


class Feature:
    """Base for objects that watch a FunctionGraph.  Every callback is optional."""

    def on_attach(self, fgraph: "FunctionGraph") -> None: ...
    def on_detach(self, fgraph: "FunctionGraph") -> None: ...
    def on_import(self, fgraph: "FunctionGraph", node: Apply, reason: str | None) -> None: ...
    def on_prune(self, fgraph: "FunctionGraph", node: Apply, reason: str | None) -> None: ...
    def on_change_input(self, fgraph: "FunctionGraph", node, i: int, old: Variable, new: Variable,
                        reason: str | None) -> None: ...
    def validate(self, fgraph: "FunctionGraph") -> None:
        """Raise InconsistencyError to refuse the graph's current state."""


class FunctionGraph:
    """A graph from `inputs` to `outputs` that rewrites may edit in place.

    >>> import kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> fg = FunctionGraph([x], [kt.exp(x) + x], clone=False)
    >>> len(fg.apply_nodes)
    2
    """

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable],
                 features: Iterable[Feature] = (), clone: bool = True,
                 update_mapping: dict[int, int] | None = None):
        inputs, outputs = list(inputs), list(outputs)
        if clone:
            equiv = clone_get_equiv(inputs, outputs, copy_inputs=True, copy_orphans=False)
            inputs = [equiv[i] for i in inputs]
            outputs = [equiv[o] for o in outputs]
        self.inputs: list[Variable] = []
        self.outputs: list[Variable] = []
        self.apply_nodes: set[Apply] = set()
        self.variables: set[Variable] = set()
        self.clients: dict[Variable, list[tuple[Any, int]]] = {}
        self.features: list[Feature] = []
        self.update_mapping = dict(update_mapping or {})
        self._change_log: list | None = None
        for inp in inputs:
            if inp.owner is not None:
                raise ValueError(f"FunctionGraph input {inp} has an owner; inputs must be root variables")
            if isinstance(inp, Constant):
                raise TypeError(f"FunctionGraph input {inp} is a constant")
            self.add_input(inp)
        for out in outputs:
            self.add_output(out)
        for f in features:
            self.attach_feature(f)

    # -- structure ------------------------------------------------------------
    def add_input(self, var: Variable) -> None:
        if var in self.variables:
            return
        self.inputs.append(var)
        self.variables.add(var)
        self.clients.setdefault(var, [])

    def add_output(self, var: Variable, reason: str | None = None) -> None:
        self.outputs.append(var)
        self.import_var(var, reason)
        self.clients[var].append((OUTPUT, len(self.outputs) - 1))

    def import_var(self, var: Variable, reason: str | None = None) -> None:
        if var in self.variables:
            return
        if var.owner is not None:
            self.import_node(var.owner, reason)
        elif isinstance(var, Constant):
            self.variables.add(var)
            self.clients.setdefault(var, [])
        else:
            raise MissingInputError(
                f"the graph needs {var} (type {var.type}), which is not among the inputs "
                f"{self.inputs} and has no value; add it to the function's inputs or givens",
                variable=var)

    def import_node(self, node: Apply, reason: str | None = None) -> None:
        # The walk stops at variables already in the graph, so its cost is the size of
        # the new part (plus its frontier), not of the whole graph.
        new_nodes = io_toposort(self.variables, node.outputs)
        # Check every root first: a MissingInputError must leave the graph untouched.
        for n in new_nodes:
            for inp in n.inputs:
                if inp.owner is None and inp not in self.variables and not isinstance(inp, Constant):
                    self.import_var(inp, reason)  # raises MissingInputError naming inp
        for n in new_nodes:
            if n in self.apply_nodes:
                continue
            for inp in n.inputs:
                if inp.owner is None and inp not in self.variables:
                    self.import_var(inp, reason)
            self.apply_nodes.add(n)
            for o in n.outputs:
                self.variables.add(o)
                self.clients.setdefault(o, [])
            for i, inp in enumerate(n.inputs):
                self.clients[inp].append((n, i))
            self.execute_callbacks("on_import", n, reason)

    def _remove_client(self, var: Variable, client: tuple, reason: str | None) -> None:
        """Drop one client of var; prune var's node when nothing uses it anymore."""
        stack = [(var, client)]
        while stack:
            v, c = stack.pop()
            lst = self.clients[v]
            lst.remove(c)
            if lst or v.owner is None:
                if not lst and isinstance(v, Constant):
                    # an unused constant leaves the graph
                    self.variables.discard(v)
                    del self.clients[v]
                continue
            node = v.owner
            if any(self.clients.get(o) for o in node.outputs):
                continue
            if node not in self.apply_nodes:
                continue
            self.apply_nodes.discard(node)
            for o in node.outputs:
                self.variables.discard(o)
                self.clients.pop(o, None)
            self.execute_callbacks("on_prune", node, reason)
            for i, inp in enumerate(node.inputs):
                stack.append((inp, (node, i)))

    def change_node_input(self, node, i: int, new_var: Variable, reason: str | None = None,
                          check_type: bool = True) -> None:
        """Make input i of node (or graph output i when node is OUTPUT) be new_var.

        `new_var` must have the old type or a more specific one; rollback passes
        `check_type=False` because it restores a less specific type on purpose.
        """
        if node == OUTPUT:
            old = self.outputs[i]
        else:
            if node not in self.apply_nodes:
                raise ValueError(f"change_node_input: {node} is not a node of this graph")
            old = node.inputs[i]
        if old is new_var:
            return
        if check_type and old.type != new_var.type and not old.type.is_super(new_var.type):
            raise TypeError(f"cannot replace {old} of type {old.type} with {new_var} of type {new_var.type}"
                            f" ({reason or 'no reason given'})")
        self.import_var(new_var, reason)
        if node == OUTPUT:
            self.outputs[i] = new_var
        else:
            node.inputs[i] = new_var
        self.clients[new_var].append((node, i))
        if self._change_log is not None:
            self._change_log.append((node, i, old, new_var))
        self.execute_callbacks("on_change_input", node, i, old, new_var, reason)
        self._remove_client(old, (node, i), reason)

    # -- replacement ----------------------------------------------------------
    def replace(self, var: Variable, new_var: Variable, reason: str | None = None,
                validate: bool = True) -> None:
        """Make every client of `var` use `new_var` instead.

        The new variable must have the same type or a more specific one (e.g. more
        static shape).  Features validate the result; on refusal the graph is restored
        and InconsistencyError is raised.
        """
        self.replace_all([(var, new_var)], reason=reason, validate=validate)

    def replace_all(self, pairs: Sequence[tuple[Variable, Variable]], reason: str | None = None,
                    validate: bool = True) -> None:
        pairs = [(old, self._fit_type(old, new, reason)) for old, new in pairs]
        outer = self._change_log
        self._change_log = log = []
        try:
            for old, new in pairs:
                if old not in self.variables:
                    continue
                for node, i in list(self.clients[old]):
                    self.change_node_input(node, i, new, reason)
            if validate:
                self.validate()
        except BaseException:
            self._change_log = None
            self._revert(log)
            self._change_log = outer
            raise
        self._change_log = outer
        if outer is not None:
            outer.extend(log)

    def _fit_type(self, old: Variable, new: Variable, reason: str | None) -> Variable:
        if old.type == new.type or old.type.is_super(new.type):
            return new
        conv = old.type.convert_variable(new)
        if conv is None:
            raise TypeError(
                f"rewrite {reason or '(unnamed)'} tried to replace {old} of type {old.type} "
                f"with {new} of incompatible type {new.type}")
        return conv

    def _revert(self, log: list) -> None:
        for node, i, old, _new in reversed(log):
            self.change_node_input(node, i, old, reason="rollback", check_type=False)

    def validate(self) -> None:
        for f in self.features:
            v = getattr(f, "validate", None)
            if v is not None:
                v(self)

    # -- features -------------------------------------------------------------
    def attach_feature(self, feature: Feature) -> None:
        if feature in self.features:
            return
        attach = getattr(feature, "on_attach", None)
        if attach is not None:
            attach(self)
        self.features.append(feature)

    def remove_feature(self, feature: Feature) -> None:
        self.features.remove(feature)
        detach = getattr(feature, "on_detach", None)
        if detach is not None:
            detach(self)

    def execute_callbacks(self, name: str, *args: Any) -> None:
        for f in self.features:
            fn = getattr(f, name, None)
            if fn is not None:
                fn(self, *args)

    # -- queries --------------------------------------------------------------
    def toposort(self) -> list[Apply]:
        return io_toposort(self.inputs, self.outputs)

    def get_clients(self, var: Variable) -> list[tuple[Any, int]]:
        return self.clients.get(var, [])

    def clone(self, check_integrity: bool = True) -> "FunctionGraph":
        return self.clone_get_equiv(check_integrity)[0]

    def clone_get_equiv(self, check_integrity: bool = True) -> tuple["FunctionGraph", dict]:
        equiv = clone_get_equiv(self.inputs, self.outputs, copy_inputs=True, copy_orphans=False)
        fg = FunctionGraph([equiv[i] for i in self.inputs], [equiv[o] for o in self.outputs],
                           clone=False, update_mapping=self.update_mapping)
        if check_integrity:
            fg.check_integrity()
        return fg, equiv

    def check_integrity(self) -> None:
        """Assert that the node set, variable set and client lists describe the graph exactly.

        Raises AssertionError naming the first inconsistency.  Linear in the graph's size.
        """
        nodes = set(io_toposort(self.inputs, self.outputs))
        if nodes != self.apply_nodes:
            raise AssertionError(f"apply_nodes out of sync: {len(nodes)} reachable, {len(self.apply_nodes)} tracked"
                                 f" (untracked: {list(nodes - self.apply_nodes)[:3]},"
                                 f" dead: {list(self.apply_nodes - nodes)[:3]})")
        expected: dict[Variable, list] = {v: [] for v in self.inputs}
        for node in nodes:
            for o in node.outputs:
                if o.owner is not node:
                    raise AssertionError(f"output {o} of {node} has owner {o.owner}")
                expected.setdefault(o, [])
            for i, inp in enumerate(node.inputs):
                if inp.owner is None and inp not in expected and not isinstance(inp, Constant):
                    raise AssertionError(f"{node} uses {inp}, which is neither an input nor a constant")
                expected.setdefault(inp, []).append((node, i))
        for i, out in enumerate(self.outputs):
            expected.setdefault(out, []).append((OUTPUT, i))
        if set(expected) != self.variables:
            raise AssertionError(f"variables out of sync: missing {list(set(expected) - self.variables)[:3]},"
                                 f" extra {list(self.variables - set(expected))[:3]}")
        if set(self.clients) != self.variables:
            raise AssertionError(f"clients keys out of sync: missing {list(self.variables - set(self.clients))[:3]},"
                                 f" extra {list(set(self.clients) - self.variables)[:3]}")
        for v, want in expected.items():
            have = self.clients[v]
            if len(have) != len(want) or set(map(_client_key, have)) != set(map(_client_key, want)):
                raise AssertionError(f"clients of {v} are {have}, expected {want}")

    def __str__(self) -> str:
        return f"FunctionGraph({', '.join(map(str, self.outputs))})"

    def __repr__(self) -> str:
        return str(self)

    def __iter__(self):
        return iter(self.toposort())
