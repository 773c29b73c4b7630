"""Jacobians and Hessians.

`jacobian` picks rows: one vector-Jacobian product per output entry (reverse mode).
`hessian` picks columns of the gradient's Jacobian: one jvp of the gradient per basis
vector (forward-over-reverse).  Both build the product once, as an inner graph of
`Map`, which evaluates it for every row of an identity matrix (no graph per entry, so
sizes may be symbolic).  With `vectorize=True` and a statically sized expression,
jacobian instead unrolls one product per entry into the graph itself, where rewrites
can merge and fuse them.  Map has derivative rules (kiln/gradient/rules/map.py), so
Jacobians and Hessians can be differentiated again, in forward or reverse mode.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.inner import InnerGraphOp
from kiln.tensor.type import TensorType

__all__ = ["Map", "jacobian", "hessian", "hessian_vector_product"]


class Map(InnerGraphOp):
    """Map(inner_inputs, inner_outputs, n_seqs=1): the outer inputs are (*sequences, *others);
    the inner graph runs once per entry of the sequences (their first axis, walked together)
    and its outputs are stacked along a new first axis.

    `linear` lists the outer inputs the op is linear in (set on the tangent maps the gradient
    builds; see kiln/gradient/rules/map.py) and `tangent_of` pairs each such inner input with
    the inner primal input of its shape.  An empty sequence gives empty (0, ...) outputs when
    the inner outputs' shapes follow from the inputs' shapes.

    >>> import numpy as np, kiln.tensor as kt
    >>> r, c = kt.vector("r"), kt.scalar("c")
    >>> m = Map([r, c], [r.sum() * c])
    >>> m(kt.constant(np.arange(6.0).reshape(3, 2)), 2.0).eval()
    array([ 2., 10., 18.])
    """

    __props__ = ("signature", "n_seqs", "linear", "tangent_of", "mode")
    _derived_attrs = ("_runner", "_shape_fn")

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable], name: str | None = None, *,
                 n_seqs: int = 1, linear: Sequence[int] = (), tangent_of: Sequence[tuple[int, int]] = (),
                 mode: Any = None):
        super().__init__(inputs, outputs, name=name)
        if not 1 <= int(n_seqs) <= len(self.inner_inputs):
            raise ValueError(f"Map: n_seqs={n_seqs} with {len(self.inner_inputs)} inner inputs")
        self.n_seqs = int(n_seqs)
        self.linear = tuple(sorted(int(i) for i in linear))
        self.tangent_of = tuple((int(a), int(b)) for a, b in tangent_of)
        # the compiling function's mode (set by the `compile_maps` rewrite): the inner graph is
        # then rewritten and linked as the function is (to C under the C linker), once per op;
        # None: evaluated as it is by the python linker
        self.mode = mode

    def with_mode(self, mode: Any) -> "Map":
        """This map with its inner graph compiled in `mode`."""
        return Map(self.inner_inputs, self.inner_outputs, name=self.name, n_seqs=self.n_seqs, linear=self.linear,
                   tangent_of=self.tangent_of, mode=mode)

    def __setstate__(self, state: dict) -> None:
        for k, v in (("n_seqs", 1), ("linear", ()), ("tangent_of", ()), ("_shape_fn", None), ("mode", None)):
            state.setdefault(k, v)   # pickled before Map had them
        super().__setstate__(state)

    def make_node(self, *args: Any) -> Apply:
        from kiln.tensor.basic import as_tensor_variable

        ns = self.n_seqs
        if len(args) != len(self.inner_inputs):
            raise TypeError(f"{self}: expected {len(self.inner_inputs)} inputs, got {len(args)}")
        seqs = []
        for k, (s, inner) in enumerate(zip(args[:ns], self.inner_inputs)):
            s = as_tensor_variable(s)
            if s.ndim != inner.type.ndim + 1:
                raise TypeError(f"{self}: sequence {k} must have {inner.type.ndim + 1} dims, got {s.ndim}")
            conv = TensorType(inner.type.dtype, (s.type.shape[0],) + tuple(inner.type.shape)).convert_variable(s)
            if conv is None:
                raise TypeError(f"{self}: sequence {k} has type {s.type}, whose entries do not fit {inner.type}")
            seqs.append(conv)
        others = InnerGraphOp.make_node(self, *[i.type() for i in self.inner_inputs[:ns]], *args[ns:]).inputs[ns:]
        n = next((s.type.shape[0] for s in seqs if s.type.shape[0] is not None), None)
        outs = [TensorType(o.type.dtype, (n,) + tuple(o.type.shape))() for o in self.inner_outputs]
        return Apply(self, seqs + list(others), outs)

    def perform(self, node, inputs, output_storage):
        ns = self.n_seqs
        seqs, others = inputs[:ns], list(inputs[ns:])
        n = len(seqs[0])
        for k, s in enumerate(seqs[1:], 1):
            if len(s) != n:
                raise ValueError(f"{self}: sequence {k} has {len(s)} entries, sequence 0 has {n}")
        if n == 0:
            shapes = self._entry_shapes(seqs, others)
            for store, out, shp in zip(output_storage, node.outputs, shapes):
                store[0] = np.empty((0,) + shp, dtype=out.type.dtype)
            return
        if self._runner is None:
            self._runner = self._compile()
        results = None
        for i in range(n):
            row = self._runner([s[i] for s in seqs] + others)
            if results is None:   # the first entry fixes the shapes: fill preallocated outputs
                results = [np.empty((n,) + np.shape(r), dtype=out.type.dtype) for r, out in zip(row, node.outputs)]
            for k, (res, r) in enumerate(zip(results, row)):
                if np.shape(r) != res.shape[1:]:
                    raise ValueError(f"{self}: output {k} has shape {np.shape(r)} for entry {i} but "
                                     f"{res.shape[1:]} for entry 0; the entries must agree to be stacked")
                res[i] = r
        for store, res in zip(output_storage, results):
            store[0] = res

    def _compile(self):
        """run(list of inner input values) -> list of inner output values."""
        if self.mode is None:
            from kiln.linkers.python import PythonLinker

            return PythonLinker().make_runner(self.fgraph)
        import kiln
        from kiln.graph.replace import clone_replace

        # fresh inputs: an inner input may be a shared variable (a closure), which a function
        # takes implicitly, never as a listed input
        ins = [v.type() for v in self.inner_inputs]
        outs = clone_replace(list(self.inner_outputs), dict(zip(self.inner_inputs, ins)))
        fn = kiln.function(ins, outs, mode=self.mode, trust_input=True, on_unused_input="ignore")
        return lambda values: fn(*values)   # a list of outputs (they were given as a list)

    def _entry_shapes(self, seqs: Sequence[Any], others: Sequence[Any]) -> list[tuple]:
        """The shape of one entry of each output, for an empty sequence: the inner graph's shapes
        computed from the inputs' shapes (and the other inputs' values where a shape needs them)."""
        if self._shape_fn is None:
            self._shape_fn = _entry_shape_fn(self)
        fn, why = self._shape_fn
        if fn is None:
            raise ValueError(f"{self}: the sequence is empty and the shape of an entry of the outputs is "
                             f"unknown ({why}), so the empty result cannot be shaped")
        dims = [d for s in seqs for d in np.shape(s)[1:]]
        dims += [d for i, x in zip(self.inner_inputs[self.n_seqs:], others)
                 for d in (np.shape(x) if hasattr(i.type, "ndim") else ())]
        return fn(dims, list(others))

    def infer_shape(self, fgraph, node, input_shapes):
        ns = self.n_seqs
        n = next((s[0] for s in input_shapes[:ns] if isinstance(s[0], (int, np.integer))), input_shapes[0][0])
        inner = [tuple(s[1:]) for s in input_shapes[:ns]] + [tuple(s) for s in input_shapes[ns:]]
        return [(n,) + s for s in self.outer_shapes(node, inner, bound=ns)]


def _entry_shape_fn(op: Map):
    """(fn, None) with fn(dims, others) -> the entry shape of each output of `op`, where `dims`
    are the run-time lengths of the inner inputs' axes (an entry's for the sequences) and
    `others` the values of the other inputs; (None, why) when those do not determine it."""
    from kiln.graph.fg import FunctionGraph
    from kiln.graph.traversal import graph_inputs
    from kiln.linkers.python import PythonLinker
    from kiln.tensor.shape import infer_graph_shapes

    ns = op.n_seqs
    holders, shapes = [], []
    for i in op.inner_inputs:
        dims = []
        for _ in range(getattr(i.type, "ndim", 0)):
            h = TensorType("int64", ())(f"dim{len(holders)}")
            holders.append(h)
            dims.append(h)
        shapes.append(tuple(dims))
    static = [tuple(o.type.shape) for o in op.inner_outputs]
    try:
        got = infer_graph_shapes(op.inner_inputs, op.inner_outputs, shapes, inner=True)
    except NotImplementedError as e:
        if all(None not in s for s in static):
            return (lambda dims, others: static), None
        return None, str(e)
    syms = [d for s in got for d in s if isinstance(d, Variable)]
    seq_in = set(op.inner_inputs[:ns])
    if any(v in seq_in for v in graph_inputs(syms)):
        if all(None not in s for s in static):
            return (lambda dims, others: static), None
        return None, "it depends on the values of a sequence entry"
    run = PythonLinker().make_runner(FunctionGraph(holders + list(op.inner_inputs[ns:]), syms)) if syms else None

    def fn(dims, others):
        vals = iter(run([np.asarray(d, dtype="int64") for d in dims] + list(others)) if run else [])
        out = []
        for s, st in zip(got, static):
            shp = tuple(int(next(vals)) if isinstance(d, Variable) else int(d) for d in s)
            if any(a is not None and a != b for a, b in zip(st, shp)):
                raise ValueError(f"{op}: the inner graph's shapes give an entry shape {shp}, "
                                 f"which contradicts its static shape {st}")
            out.append(shp)
        return out

    return fn, None


def _free_inputs(outputs: Sequence[Variable], bound: Sequence[Variable]) -> list[Variable]:
    from kiln.graph.traversal import graph_inputs

    b = set(bound)
    return [v for v in graph_inputs(list(outputs)) if v not in b and not isinstance(v, Constant)]


def _row_invariants(outputs: Sequence[Variable], row: Variable) -> list[Variable]:
    """The values the row-dependent part of `outputs` reads that do not depend on `row`
    (outputs that do not depend on it included), constants left inside: computed once, outside
    the Map, instead of once per row (the forward pass under a vector-Jacobian product: a
    200 x 200 jacobian of tanh(W x) recomputed W x for every row)."""
    from kiln.graph.traversal import toposort

    depends = {row}
    for node in toposort(list(outputs), blockers=[row]):
        if any(i in depends for i in node.inputs):
            depends.update(node.outputs)
    out, seen, stack, visited = [], set(), list(outputs), set()
    while stack:
        v = stack.pop()
        if v in visited:
            continue
        visited.add(v)
        if v not in depends:
            if not isinstance(v, Constant) and v not in seen:
                seen.add(v)
                out.append(v)
        elif v.owner is not None:
            stack.extend(v.owner.inputs)
    return out


def _map_over_identity(n, build_row) -> list:
    """Stack build_row(e_i) for the rows e_i of an n x n identity, via one Map node."""
    from kiln.tensor.creation import eye

    row = TensorType(build_row.dtype, (None,))("e")
    outs = build_row(row)
    ctx = _row_invariants(outs, row)
    op = Map([row] + ctx, outs, name="jacobian_map")
    res = op(eye(n, n, 0, dtype=build_row.dtype), *ctx)
    return res if isinstance(res, list) else [res]


def _size(x):
    import kiln.tensor.math as km
    from kiln.tensor.basic import constant
    from kiln.tensor.shape import shape_i

    if None not in x.type.shape:
        return constant(int(np.prod(x.type.shape)), dtype="int64")
    n = constant(1, dtype="int64")
    for d in range(x.ndim):
        n = km.mul(n, shape_i(x, d))
    return n


def jacobian(expression: Any, wrt: Any, consider_constant=None, disconnected_inputs: str = "raise",
             vectorize: bool = False):
    """d expression / d wrt, with shape expression.shape + wrt.shape (PyTensor's jacobian).

    `wrt` may be a list (the result is then a list).  A 0-d expression gives its gradient.

    >>> import numpy as np, kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> jacobian(x ** 2, x).eval({x: np.array([1.0, 2.0])})
    array([[2., 0.],
           [0., 4.]])
    """
    from kiln.gradient.api import Lop, _as_list, grad
    from kiln.tensor.basic import as_tensor_variable
    from kiln.tensor.shape import reshape, shape, stack
    from kiln.tensor.join import join

    expr = as_tensor_variable(expression)
    wrt_list, rebuild = _as_list(wrt, "jacobian")
    kw = dict(consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
    if expr.ndim == 0:
        return rebuild(grad(expr, wrt_list, **kw))
    flat = expr.flatten()
    out_shape = lambda w: join(0, shape(expr), shape(w)) if w.ndim else shape(expr)
    if vectorize and None not in expr.type.shape:
        n = int(np.prod(expr.type.shape))
        rows = [grad(flat[i], wrt_list, **kw) for i in range(n)]
        res = [stack([r[k] for r in rows]) for k in range(len(wrt_list))]
        return rebuild([reshape(r, out_shape(w), ndim=expr.ndim + w.ndim) for r, w in zip(res, wrt_list)])

    def build_row(e):
        gs = Lop(flat, wrt_list, e, **kw)
        return [g.flatten() if g.ndim != 1 else g for g in gs]

    build_row.dtype = expr.dtype if expr.dtype in ("float16", "float32", "float64") else "float64"
    res = _map_over_identity(_size(expr), build_row)
    return rebuild([reshape(r, out_shape(w), ndim=expr.ndim + w.ndim) for r, w in zip(res, wrt_list)])


def hessian_vector_product(cost: Any, wrt: Any, p: Any, **grad_kwargs):
    """H p for the Hessian H of the scalar `cost` (forward-over-reverse: the jvp of the
    gradient along p).  `wrt` and `p` may be lists of matching structure.

    >>> import numpy as np, kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> hessian_vector_product((x ** 3).sum(), x, kt.constant(np.ones(2))).eval({x: np.array([1.0, 2.0])})
    array([ 6., 12.])
    """
    from kiln.gradient.api import Rop, _as_list, grad

    wrt_list, rebuild = _as_list(wrt, "hessian_vector_product")
    ps, _ = _as_list(p, "hessian_vector_product")
    gs = grad(cost, wrt_list, **grad_kwargs)
    return rebuild(Rop(gs, wrt_list, ps, disconnected_outputs="ignore"))


def hessian(cost: Any, wrt: Any, consider_constant=None, disconnected_inputs: str = "raise"):
    """The Hessian of the scalar `cost`, shape wrt.shape + wrt.shape per wrt (PyTensor's hessian),
    by forward-over-reverse: column i is the jvp of the gradient along basis vector e_i.

    >>> import numpy as np, kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> hessian((x ** 3).sum(), x).eval({x: np.array([1.0, 2.0])})
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    from kiln.gradient.api import Rop, _as_list, grad
    from kiln.tensor.join import join
    from kiln.tensor.shape import reshape, shape
    from kiln.tensor.shape import transpose as kt_transpose

    wrt_list, rebuild = _as_list(wrt, "hessian")
    out = []
    for w in wrt_list:
        g = grad(cost, w, consider_constant=consider_constant, disconnected_inputs=disconnected_inputs)
        gflat = g.flatten() if g.ndim != 1 else g

        def build_row(e, w=w, gflat=gflat):
            v = reshape(e, shape(w), ndim=w.ndim) if w.ndim != 1 else e
            return [Rop(gflat, w, v, disconnected_outputs="ignore")]

        build_row.dtype = w.dtype if w.dtype in ("float16", "float32", "float64") else "float64"
        (cols,) = _map_over_identity(_size(w), build_row)
        h = kt_transpose(cols)  # row i of `cols` is column i of the Hessian
        out.append(reshape(h, join(0, shape(w), shape(w)), ndim=2 * w.ndim) if w.ndim != 1 else h)
    return rebuild(out)


def _register() -> None:
    """The `compile_maps` rewrite: each Map compiles its inner graph in the mode of the function
    being compiled (rewritten, and linked to C under the C linker) instead of interpreting it,
    as LazyIfElse's branches are: a 200 x 200 jacobian took 7.8 ms per call interpreted.  In the
    fusion phase (after the gradients, which make Maps)."""
    from kiln.rewrites.db import register
    from kiln.rewrites.inherit_mode import InheritMode

    register(InheritMode("compile_maps", Map), phase="fusion", tags=("compile_maps",))


_register()
