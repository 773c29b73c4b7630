"""ifelse: choose between two sets of values on a scalar condition (PyTensor's `pytensor.ifelse`).

`ifelse(condition, then_branch, else_branch)` returns the then-values when the 0-d condition is
true (non-zero), else the else-values.  Unlike `switch`, the condition is one scalar and the
branches need not have the same shape.  Branches are lists of the same length (or single
variables); the i-th outputs of the two branches must have the same dtype and number of
dimensions; the result's static shape keeps only the lengths both branches agree on.

Evaluation is lazy, as with PyTensor's default linker: only the chosen branch is computed.
`ifelse` builds an `IfElse` node over the branch values (the form the derivative rules in
kiln/gradient/rules/ifelse.py and shape inference work on); when a function is compiled, the
rewrite `lazy_ifelse` (phase "fusion", and "final_merge" for levels without fusion) turns it
into a `LazyIfElse`: the computations only one branch uses move into that branch's inner
graph, compiled once with the function's own mode (so to C under the C linker), and its
`perform` runs only the chosen branch.  Computations the other branch, the condition, or
anything else in the function also uses stay outside (they are needed anyway); an ifelse
whose branches own nothing but shape arithmetic (which cannot fail) stays as it is, cheaper
than a call into a compiled branch.  With ``Mode(rewrites="none")`` nothing is rewritten, so
both branches are computed.  The result
is a copy: it never aliases a branch value.

>>> import numpy as np, kiln, kiln.tensor as kt
>>> a, b = kt.dscalar("a"), kt.dvector("b")
>>> f = kiln.function([a, b], ifelse(kt.lt(a, 0), b * 0, b * a))
>>> f(-1.0, np.ones(2)).tolist(), f(2.0, np.ones(2)).tolist()
([0.0, 0.0], [2.0, 2.0])
>>> [str(n.op) for n in f.fgraph.toposort()]      # the products moved into the branches
['lt', 'lazy_if']
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.inner import InnerGraphOp
from kiln.graph.op import Op
from kiln.rewrites.db import GraphRewriter
from kiln.tensor.type import TensorType

__all__ = ["IfElse", "LazyIfElse", "ifelse", "lazify"]


class IfElse(Op):
    """IfElse(n_outs)(condition, *then_values, *else_values) -> n_outs values.

    `as_view` and `name` are accepted for PyTensor compatibility: the result is always a copy
    (never a view of a branch), and `name` only labels the op when printed.
    """

    __props__ = ("n_outs",)
    name: str | None = None   # (a class default: IfElse ops pickled before it had a name)

    def __init__(self, n_outs: int, as_view: bool = False, name: str | None = None):
        if n_outs < 1:
            raise ValueError("IfElse: needs at least one output per branch")
        self.n_outs = int(n_outs)
        self.name = name

    def __str__(self) -> str:
        return f"if{{{self.n_outs}}}" if self.n_outs > 1 else "if"

    def make_node(self, condition: Any, *values: Any) -> Apply:
        from kiln.tensor.basic import as_tensor_variable

        n = self.n_outs
        if len(values) != 2 * n:
            raise ValueError(f"ifelse: expected {n} then-values and {n} else-values, got {len(values)} values")
        cond = _check_condition(condition)
        then_vals = [as_tensor_variable(v) for v in values[:n]]
        else_vals = [as_tensor_variable(v) for v in values[n:]]
        outs = [_merged_type(k, t, e)() for k, (t, e) in enumerate(zip(then_vals, else_vals))]
        return Apply(self, [cond, *then_vals, *else_vals], outs)

    def perform(self, node, inputs, output_storage):
        cond, *values = inputs
        n = self.n_outs
        chosen = values[:n] if bool(cond) else values[n:]
        for store, v in zip(output_storage, chosen):
            store[0] = np.array(v, copy=True)

    def infer_shape(self, fgraph, node, input_shapes):
        n = self.n_outs
        return _choose_shapes(node, input_shapes[1:1 + n], input_shapes[1 + n:])


def ifelse(condition: Any, then_branch: Any, else_branch: Any, name: str | None = None):
    """`then_branch` if the scalar `condition` is true, else `else_branch` (single variables or
    equally long lists of them; see the module docstring).  As in PyTensor, a tuple branch
    gives a tuple of results, a list a list, a single variable a single result."""
    single = not isinstance(then_branch, (list, tuple))
    then_list = [then_branch] if single else list(then_branch)
    else_list = [else_branch] if not isinstance(else_branch, (list, tuple)) else list(else_branch)
    if len(then_list) != len(else_list):
        raise ValueError(f"ifelse: the then-branch has {len(then_list)} values and the else-branch "
                         f"{len(else_list)}; they must have as many")
    outs = IfElse(len(then_list))(condition, *then_list, *else_list)
    outs = [outs] if isinstance(outs, Variable) else list(outs)
    if name is not None:
        for k, o in enumerate(outs):
            o.name = name if len(outs) == 1 else f"{name}[{k}]"
    if single:
        return outs[0]
    return tuple(outs) if isinstance(then_branch, tuple) else outs


def _branch_values(node: Apply) -> tuple[Sequence[Variable], Sequence[Variable]]:
    n = node.op.n_outs
    return node.inputs[1:1 + n], node.inputs[1 + n:]


# -- the lazy form ---------------------------------------------------------------------
class LazyIfElse(InnerGraphOp):
    """LazyIfElse(inputs, outputs, n_outs, mode)(condition, *free_values) -> n_outs values.

    The compiled form of an `IfElse` (built by the `lazy_ifelse` rewrite): the inner graph
    maps the values the branches read from outside (`inputs`) to the then-values followed
    by the else-values (`outputs`, 2 * n_outs of them).  `perform` runs only the chosen
    branch, each compiled once (on first use) with `mode`, the mode of the function being
    compiled (None: kiln's default mode).

    >>> import numpy as np, kiln, kiln.tensor as kt
    >>> c, x = kt.bscalar("c"), kt.dvector("x")
    >>> f = kiln.function([c, x], ifelse(c, kt.exp(x).sum(), x.max()))
    >>> node = [n for n in f.fgraph.toposort() if isinstance(n.op, LazyIfElse)][0]
    >>> node.op.n_outs, len(node.inputs)     # the condition and x
    (1, 2)
    >>> float(f(1, np.zeros(3))), float(f(0, np.arange(3.0)))
    (3.0, 2.0)
    """

    __props__ = ("signature", "n_outs", "mode")
    _derived_attrs = ("_runner", "_fns")

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable], n_outs: int,
                 mode: Any = None, name: str | None = None):
        if len(outputs) != 2 * n_outs:
            raise ValueError(f"LazyIfElse: {len(outputs)} inner outputs for {n_outs} outputs per branch")
        super().__init__(list(inputs), list(outputs), name=name)
        self.n_outs = int(n_outs)
        self.mode = mode
        self._fns = None

    def __str__(self) -> str:
        return f"lazy_if{{{self.n_outs}}}" if self.n_outs > 1 else "lazy_if"

    def make_node(self, condition: Any, *values: Any) -> Apply:
        cond = _check_condition(condition)
        if len(values) != len(self.inner_inputs):
            raise TypeError(f"{self}: expected the condition and {len(self.inner_inputs)} values, got "
                            f"{1 + len(values)} inputs")
        # the values convert to the inner graph's input types as any inner-graph op's inputs do
        ins = [cond] + InnerGraphOp.make_node(self, *values).inputs
        n = self.n_outs
        outs = [_merged_type(k, t, e)() for k, (t, e) in
                enumerate(zip(self.inner_outputs[:n], self.inner_outputs[n:]))]
        return Apply(self, ins, outs)

    def _branch(self, k: int):
        """The compiled branch k (0: then, 1: else), compiled on first use."""
        if self._fns is None:
            self._fns = [None, None]
        if self._fns[k] is None:
            import kiln

            n = self.n_outs
            outs = list(self.inner_outputs[:n] if k == 0 else self.inner_outputs[n:])
            self._fns[k] = kiln.function(list(self.inner_inputs), outs, mode=self.mode, trust_input=True,
                                         on_unused_input="ignore")
        return self._fns[k]

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list]) -> None:
        cond, *values = inputs
        outs = self._branch(0 if bool(cond) else 1)(*values)
        arrays = [x for x in values if isinstance(x, np.ndarray)]
        done: list[np.ndarray] = []
        for store, v, o in zip(output_storage, outs, node.outputs):
            v = np.asarray(v, dtype=o.type.dtype)
            # the op declares no view_map: never hand out a branch input (or one array twice)
            if any(np.may_share_memory(v, x) for x in arrays + done):
                v = v.copy()
            done.append(v)
            store[0] = v

    def infer_shape(self, fgraph, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        from kiln.tensor.shape import infer_graph_shapes

        n = self.n_outs
        shapes = infer_graph_shapes(self.inner_inputs, self.inner_outputs, input_shapes[1:], inner=True)
        return _choose_shapes(node, shapes[:n], shapes[n:])


def _check_condition(condition: Any) -> Variable:
    from kiln.tensor.basic import as_tensor_variable, describe

    cond = as_tensor_variable(condition)
    if cond.type.ndim != 0:
        raise TypeError(f"ifelse: the condition must be a scalar (0-d), got {describe(cond)}")
    if np.dtype(cond.type.dtype).kind not in "biuf":
        raise TypeError(f"ifelse: the condition must be boolean or numeric, got dtype {cond.type.dtype}")
    return cond


def _merged_type(k: int, t: Variable, e: Variable) -> TensorType:
    """The type of output k: the branches' dtype, and the static lengths they agree on."""
    from kiln.tensor.basic import describe

    if not (isinstance(t.type, TensorType) and isinstance(e.type, TensorType)):
        raise TypeError(f"ifelse: branch values must be tensors, got {t.type} and {e.type}")
    if t.type.dtype != e.type.dtype or t.type.ndim != e.type.ndim:
        raise TypeError(f"ifelse: output {k} differs between the branches: then-branch {describe(t)}, "
                        f"else-branch {describe(e)} (dtype and number of dimensions must match; "
                        f"cast one of them)")
    return TensorType(t.type.dtype, tuple(a if a == b else None for a, b in zip(t.type.shape, e.type.shape)))


def _choose_shapes(node: Apply, then_shapes: Sequence[tuple], else_shapes: Sequence[tuple]) -> list[tuple]:
    """Per output: static lengths where known, else the chosen branch's length (a scalar ifelse)."""
    from kiln.tensor.basic import as_tensor_variable

    cond = node.inputs[0]
    out = []
    for k, (ts, es) in enumerate(zip(then_shapes, else_shapes)):
        static = node.outputs[k].type.shape
        dims = []
        for d, (a, b) in enumerate(zip(ts, es)):
            if static[d] is not None:
                dims.append(static[d])
            else:
                dims.append(IfElse(1)(cond, as_tensor_variable(a), as_tensor_variable(b)))
        out.append(tuple(dims))
    return out


# -- the rewrite: IfElse -> LazyIfElse -------------------------------------------------
def _exclusive_region(fgraph, order: Sequence[Apply], node: Apply, slots: set[int]) -> set[Apply]:
    """The nodes only `node`'s branch inputs at `slots` need: every output of such a node is
    read only by nodes of the region or by `node` at one of `slots` (not by the condition,
    the other branch, a function output, or anything else).  A node that overwrites an
    input computed outside the region stays outside (its input is someone else's)."""
    banned: set[Apply] = set()
    while True:
        region: set[Apply] = set()
        for m in reversed(order):
            if m is node or m in banned:
                continue
            used = False
            ok = True
            for o in m.outputs:
                for client, i in fgraph.clients.get(o, ()):
                    used = True
                    if client is node:
                        ok = i in slots
                    else:
                        ok = client != "output" and client in region
                    if not ok:
                        break
                if not ok:
                    break
            if ok and used:
                region.add(m)
        bad = {m for m in region for ins in getattr(m.op, "destroy_map", {}).values()
               for i in ins if m.inputs[i].owner not in region}
        if not bad:
            return region
        banned |= bad


def _free_inputs(region: set[Apply], values: Sequence[Variable]) -> list[Variable]:
    """The outer variables a branch reads: inputs of its region from outside it, and the
    branch values computed outside it (constants stay in the inner graph)."""
    from kiln.graph.traversal import io_toposort

    out: list[Variable] = []
    seen: set = set()

    def add(v: Variable) -> None:
        if v not in seen and not isinstance(v, Constant) and v.owner not in region:
            seen.add(v)
            out.append(v)

    for m in io_toposort([], [v for v in values if v.owner in region]) if region else ():
        if m in region:
            for i in m.inputs:
                add(i)
    for v in values:
        add(v)
    return out


def _cheap(node: Apply) -> bool:
    """Shape bookkeeping that cannot fail and costs less than a call into a compiled branch
    (e.g. the lengths in the ifelse that `infer_shape` builds for an ifelse's shape)."""
    from kiln.tensor.elemwise import DimShuffle, Elemwise
    from kiln.tensor.shape import MakeVector, Shape, Shape_i
    from kiln.tensor.subtensor import Subtensor

    if isinstance(node.op, (Shape, Shape_i, MakeVector)):
        return True
    if isinstance(node.op, Subtensor) and all(getattr(o.type, "ndim", None) == 0 for o in node.outputs):
        src = node.inputs[0].owner   # x.shape[k]: its index is checked against ndim when built
        return src is not None and isinstance(src.op, Shape)
    return (isinstance(node.op, (Elemwise, DimShuffle))
            and all(getattr(o.type, "ndim", None) == 0 for o in node.outputs))


def lazify(fgraph, node: Apply, mode: Any = None) -> bool:
    """Replace the IfElse `node` of `fgraph` by a LazyIfElse holding what only one branch
    needs; False (nothing done) when neither branch has anything of its own to skip."""
    from kiln.graph.replace import clone_replace

    from kiln.graph.traversal import io_toposort

    n = node.op.n_outs
    then_v, else_v = list(node.inputs[1:1 + n]), list(node.inputs[1 + n:])
    order = io_toposort([], then_v + else_v)   # only the branches' ancestors can move in
    r_then = _exclusive_region(fgraph, order, node, set(range(1, 1 + n)))
    r_else = _exclusive_region(fgraph, order, node, set(range(1 + n, 1 + 2 * n)))
    if all(_cheap(m) for m in r_then | r_else):
        return False   # nothing (or only shape arithmetic) to skip: the eager node is cheaper
    free = _free_inputs(r_then, then_v)
    free += [v for v in _free_inputs(r_else, else_v) if v not in set(free)]
    ph = [v.type() for v in free]
    for v, p in zip(free, ph):
        p.name = v.name
    inner = clone_replace(then_v + else_v, dict(zip(free, ph)))
    op = LazyIfElse(ph, inner, n, mode=mode)
    new = op(node.inputs[0], *free)
    new = [new] if isinstance(new, Variable) else list(new)
    for o, v in zip(node.outputs, new):
        v.name = o.name
    fgraph.replace_all(list(zip(node.outputs, new)), reason="lazy_ifelse")
    return True


class LazyIfElseRewriter(GraphRewriter):
    """Turns every IfElse whose branches have work of their own into a LazyIfElse (see the
    module docstring).  Outermost first: a nested ifelse moves into its enclosing branch,
    whose own compile makes it lazy in turn."""

    def __init__(self, name: str):
        self.name = name

    def apply(self, fgraph) -> int:
        from kiln.rewrites.pipeline import CURRENT_MODE

        mode = CURRENT_MODE.get()
        todo = [m for m in reversed(fgraph.toposort()) if isinstance(m.op, IfElse)]
        count = 0
        for m in todo:
            if m in fgraph.apply_nodes and lazify(fgraph, m, mode):
                count += 1
        return count


def _register() -> None:
    from kiln.rewrites.db import register

    # in "fusion" (before "inplace", so the branch's own compile makes it in-place) and again
    # in "final_merge" for levels without fusion ("fast_compile"); tag: "lazy_ifelse"
    register(LazyIfElseRewriter("lazy_ifelse"), phase="fusion", tags=("lazy_ifelse",))
    register(LazyIfElseRewriter("lazy_ifelse_late"), phase="final_merge", tags=("lazy_ifelse",))


_register()
