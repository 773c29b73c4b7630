"""Jacobians and Hessians.

`jacobian` picks rows: one vector-Jacobian product per output entry (reverse mode).
`hessian` picks columns of the gradient's Jacobian: one jvp of the gradient per basis
vector (forward-over-reverse).  Both build the product once, as an inner graph of
`Map`, which evaluates it for every row of an identity matrix (no graph per entry, so
sizes may be symbolic).  With `vectorize=True` and a statically sized expression,
jacobian instead unrolls one product per entry into the graph itself, where rewrites
can merge and fuse them.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.inner import InnerGraphOp
from kiln.tensor.type import TensorType

__all__ = ["Map", "jacobian", "hessian", "hessian_vector_product"]


class Map(InnerGraphOp):
    """Map(inner_inputs, inner_outputs): outer inputs are (sequence, *others); the inner
    graph runs once per entry of the sequence (its first axis) and outputs are stacked."""

    def make_node(self, seq: Any, *others: Any) -> Apply:
        from kiln.tensor.basic import as_tensor_variable

        seq = as_tensor_variable(seq)
        first = self.inner_inputs[0]
        if seq.ndim != first.type.ndim + 1:
            raise TypeError(f"Map: the sequence must have {first.type.ndim + 1} dims, got {seq.ndim}")
        inner = super().make_node(seq[0], *others)
        outs = [TensorType(o.type.dtype, (seq.type.shape[0],) + o.type.shape)() for o in self.inner_outputs]
        return Apply(self, [seq] + inner.inputs[1:], outs)

    def perform(self, node, inputs, output_storage):
        if self._runner is None:
            from kiln.linkers.python import PythonLinker

            self._runner = PythonLinker().make_runner(self.fgraph)
        seq, *others = inputs
        rows = [self._runner([s] + list(others)) for s in seq]
        for k, (store, out) in enumerate(zip(output_storage, node.outputs)):
            if rows:
                store[0] = np.stack([np.asarray(r[k]) for r in rows]).astype(out.type.dtype, copy=False)
            else:
                raise ValueError(f"{self}: empty sequence (a jacobian of an empty expression)")

    def infer_shape(self, fgraph, node, input_shapes):
        raise NotImplementedError


def _free_inputs(outputs: Sequence[Variable], bound: Sequence[Variable]) -> list[Variable]:
    from kiln.graph.traversal import graph_inputs

    b = set(bound)
    return [v for v in graph_inputs(list(outputs)) if v not in b and not isinstance(v, Constant)]


def _map_over_identity(n, build_row) -> list:
    """Stack build_row(e_i) for the rows e_i of an n x n identity, via one Map node."""
    from kiln.tensor.creation import eye

    row = TensorType(build_row.dtype, (None,))("e")
    outs = build_row(row)
    ctx = _free_inputs(outs, [row])
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
