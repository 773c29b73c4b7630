"""Canonicalize: constant folding, algebraic normal forms, shape simplification.

These rules make equal computations look alike (so merge and the later phases
see one form) and remove work that provably does nothing.

NaN choices (NumPy wins unless documented):
- x - x -> 0 is applied for every dtype, as PyTensor does: for x = inf or NaN NumPy
  gives NaN where the rewritten graph gives 0.  Exclude the rule by name
  (`mode.excluding("sub_self")`) to keep NumPy's NaN.
- x / x -> 1 is applied only when x is known to be nonzero and finite-safe (a nonzero
  constant, or exp/cosh of something): for x = 0 NumPy gives NaN, so the general
  rewrite would change results.
- exp(log x) -> x is applied (log of a negative is NaN in NumPy; the rewritten graph
  returns x).  It is tagged "unsafe_nan"; `mode.excluding("unsafe_nan")` keeps NaNs.
"""
from __future__ import annotations

import numpy as np

import kiln.tensor as kt
from kiln.graph.basic import Constant
from kiln.raise_op import CheckAndRaise
from kiln.rewrites.engine import node_rewriter
from kiln.rewrites.pattern import pattern_rule
from kiln.rewrites.utils import (constant_value, elemwise_scalar_op, fit_to, fill_like, is_constant,
                                 output_shape)
from kiln.scalar import math as ps
from kiln.tensor.creation import Alloc, alloc
from kiln.tensor.elemwise import DimShuffle, Elemwise
from kiln.tensor.reduction import Sum
from kiln.tensor import blas as _blas
from kiln.tensor import reduction as _red
from kiln.tensor.shape import MakeVector, Reshape, Shape, Shape_i, _static_entries
from kiln.tensor.type import TensorType

#: results larger than this many elements are not folded into the graph
FOLD_MAX_SIZE = 100_000


# -- constant folding -----------------------------------------------------------------
@node_rewriter(None)
def constant_folding(fgraph, node):
    """An op whose inputs are all constants is replaced by its value (skips non-foldable ops,
    in-place ops, and results larger than FOLD_MAX_SIZE elements)."""
    if not node.inputs or not all(isinstance(i, Constant) for i in node.inputs):
        return None
    op = node.op
    if not getattr(op, "foldable", True) or op.destroy_map:
        return None
    if not all(isinstance(o.type, TensorType) for o in node.outputs):
        return None
    for o in node.outputs:
        if all(s is not None for s in o.type.shape) and int(np.prod(o.type.shape)) > FOLD_MAX_SIZE:
            return None
    cells = [[None] for _ in node.outputs]
    try:
        op.perform(node, [i.data for i in node.inputs], cells)
    except Exception:
        return None  # the error belongs to run time (e.g. a bad reshape); leave the node
    outs = []
    for o, (val,) in zip(node.outputs, cells):
        arr = np.array(val, dtype=o.type.dtype, copy=True)
        if arr.size > FOLD_MAX_SIZE or arr.ndim != o.type.ndim:
            return None
        outs.append(kt.TensorConstant(TensorType(o.type.dtype, arr.shape), arr))  # a tensor (has .ndim)
    return outs


# -- identities of add and mul --------------------------------------------------------
def _drop_identity(fgraph, node, identity):
    keep = [i for i in node.inputs if not is_constant(i, identity)]
    if len(keep) == len(node.inputs):
        return None
    out = node.outputs[0]
    if not keep:
        return [fill_like(identity, node, fgraph=fgraph)]
    new = keep[0] if len(keep) == 1 else node.op(*keep)
    return [fit_to(new, out, node, fgraph)]


@node_rewriter([kt.add])
def add_zero(fgraph, node):
    """x + 0 -> x (cast/broadcast to the sum's type)."""
    return _drop_identity(fgraph, node, 0)


@node_rewriter([kt.mul])
def mul_one(fgraph, node):
    """x * 1 -> x (cast/broadcast to the product's type)."""
    return _drop_identity(fgraph, node, 1)


@node_rewriter([kt.add, kt.mul])
def flatten_add_mul(fgraph, node):
    """add(a, add(b, c)) -> add(a, b, c) (and mul) when the inner node has no other client and
    every operand has the result's dtype: the flat node evaluates in another order, which must
    not move arithmetic into a narrower dtype (int8 + int8 wraps where int8 + int32 does not)."""
    out = node.outputs[0]
    dt = out.type.dtype
    if any(i.type.dtype != dt for i in node.inputs):
        return None
    new_inputs, changed = [], False
    for i in node.inputs:
        o = i.owner
        if (o is not None and o.op == node.op and len(fgraph.clients.get(i, ())) == 1
                and all(j.type.dtype == dt for j in o.inputs)):
            new_inputs.extend(o.inputs)
            changed = True
        else:
            new_inputs.append(i)
    if not changed:
        return None
    return [fit_to(node.op(*new_inputs), out, node, fgraph)]


@node_rewriter([kt.add, kt.mul])
def collect_constants(fgraph, node):
    """Several single-value constants of the result's dtype in one add/mul become one."""
    out = node.outputs[0]
    consts, others = [], []
    for i in node.inputs:
        data = constant_value(i)
        if data is not None and data.size == 1 and i.type.dtype == out.type.dtype:
            consts.append((i, data.reshape(())))
        else:
            others.append(i)
    if len(consts) < 2:
        return None
    fn = np.add if node.op == kt.add else np.multiply
    with np.errstate(all="ignore"):
        val = consts[0][1]
        for _, d in consts[1:]:
            val = fn(val, d)
    c = kt.constant(np.asarray(val, dtype=out.type.dtype))
    new = node.op(*others, c) if others else c
    return [fit_to(new, out, node, fgraph)]


@node_rewriter([kt.sub])
def sub_self(fgraph, node):
    """x - x -> zeros (see the module docstring for the NaN choice)."""
    a, b = node.inputs
    if a is b:
        return [fill_like(0, node, fgraph=fgraph)]
    return None


def _nonzero(env):
    x = env["x"]
    data = constant_value(x)
    if data is not None:
        return bool(np.all(data != 0) and np.all(np.isfinite(data)))
    sop = elemwise_scalar_op(x)
    return isinstance(sop, (ps.Exp, ps.Cosh)) and x.type.dtype in ("float32", "float64")


div_self = pattern_rule((kt.true_div, "x", "x"), 1, guard=_nonzero, name="div_self")

sub_zero = pattern_rule((kt.sub, "x", 0), "x", name="sub_zero")
def _all_out_dtype(*names):
    """Guard: the captures have the matched output's dtype.  Integer negation wraps (-(-128) is
    -128 in int8), so moving a negation across a widening changes results; same-dtype integer
    arithmetic is modular and these identities hold exactly."""
    def guard(env, node):
        dt = node.outputs[0].type.dtype
        return all(env[n].type.dtype == dt for n in names)
    return guard


neg_neg = pattern_rule((kt.neg, (kt.neg, "x")), "x", name="neg_neg")
sub_neg = pattern_rule((kt.sub, "x", (kt.neg, "y")), (kt.add, "x", "y"), name="sub_neg",
                       guard=_all_out_dtype("x", "y"))
add_neg = pattern_rule((kt.add, "x", (kt.neg, "y")), (kt.sub, "x", "y"), name="add_neg",
                       guard=_all_out_dtype("x", "y"))
neg_sub = pattern_rule((kt.neg, (kt.sub, "x", "y")), (kt.sub, "y", "x"), name="neg_sub",
                       guard=_all_out_dtype("x", "y"))
mul_minus_one = pattern_rule((kt.mul, -1, "x"), (kt.neg, "x"), name="mul_minus_one",
                             guard=_all_out_dtype("x"))
exp_log = pattern_rule((kt.exp, (kt.log, "x")), "x", name="exp_log")
log_exp = pattern_rule((kt.log, (kt.exp, "x")), "x", name="log_exp")


# -- dimshuffles, reshapes, casts -----------------------------------------------------
@node_rewriter([DimShuffle])
def dimshuffle_dimshuffle(fgraph, node):
    """DimShuffle of DimShuffle -> one DimShuffle (composed orders)."""
    x = node.inputs[0]
    if x.owner is None or not isinstance(x.owner.op, DimShuffle):
        return None
    inner = x.owner.op.new_order
    order = tuple("x" if o == "x" else inner[o] for o in node.op.new_order)
    base = x.owner.inputs[0]
    return [DimShuffle(base.ndim, order)(base)]


@node_rewriter([DimShuffle])
def useless_dimshuffle(fgraph, node):
    """DimShuffle with the identity order -> its input; so is one that drops a length-1
    axis and puts a broadcast axis back in its place (('x', 1) on a (1, n) row: what a
    keepdims reduction over a unit axis leaves once the reduction is gone)."""
    order, x = node.op.new_order, node.inputs[0]
    if order == tuple(range(node.op.input_ndim)):
        return [x]
    if len(order) == x.type.ndim and all(o == k or (o == "x" and x.type.shape[k] == 1)
                                         for k, o in enumerate(order)):
        return [x] if node.outputs[0].type == x.type else None
    return None


@node_rewriter([Reshape])
def reshape_reshape(fgraph, node):
    """reshape(reshape(x, s1), s2) -> reshape(x, s2)."""
    x = node.inputs[0]
    if x.owner is None or not isinstance(x.owner.op, Reshape):
        return None
    return [node.op(x.owner.inputs[0], node.inputs[1])]


@node_rewriter([Reshape])
def useless_reshape(fgraph, node):
    """reshape(x, s) -> x when s is x's own shape (statically, or as shape(x)/shape_i(x))."""
    x, shp = node.inputs
    if x.type.ndim != node.op.ndim:
        return None
    if shp.owner is not None and isinstance(shp.owner.op, Shape) and shp.owner.inputs[0] is x:
        return [x]
    entries = _static_entries(shp)
    items = shp.owner.inputs if shp.owner is not None and isinstance(shp.owner.op, MakeVector) else None
    unknown = 0
    for d in range(x.type.ndim):
        e = entries[d] if d < len(entries) else None
        if e is not None and e == x.type.shape[d]:
            continue
        if e == -1:
            unknown += 1
            continue
        if items is not None:
            it = items[d]
            if it.owner is not None and isinstance(it.owner.op, Elemwise) and \
                    isinstance(it.owner.op.scalar_op, ps.Cast):
                it = it.owner.inputs[0]
            if it.owner is not None and isinstance(it.owner.op, Shape_i) and it.owner.op.i == d \
                    and it.owner.inputs[0] is x:
                continue
        return None
    if unknown > 1:
        return None
    return [x]


@node_rewriter([Elemwise])
def useless_cast(fgraph, node):
    """cast(x, x.dtype) -> x; cast(cast(x, wide), d) -> cast(x, d) when `wide` holds every x."""
    sop = node.op.scalar_op
    if not isinstance(sop, ps.Cast) or node.op.inplace_pattern:
        return None
    x = node.inputs[0]
    if x.type.dtype == node.outputs[0].type.dtype:
        return [x]
    inner = elemwise_scalar_op(x)
    if isinstance(inner, ps.Cast) and not x.owner.op.inplace_pattern:
        base = x.owner.inputs[0]
        if np.can_cast(base.type.dtype, x.type.dtype, "safe"):
            return [kt.cast(base, node.outputs[0].type.dtype)]
    return None


@node_rewriter([Sum])
def sum_of_alloc(fgraph, node):
    """sum(alloc(v, shape)) for a 0-d v -> v * (number of summed elements), allocated over the
    remaining axes."""
    a = node.inputs[0]
    if a.owner is None or not isinstance(a.owner.op, Alloc):
        return None
    v = a.owner.inputs[0]
    if v.type.ndim != 0:
        return None
    out = node.outputs[0]
    dims = output_shape(a.owner, 0, fgraph)
    n = kt.constant(1, dtype="int64")
    for d in node.op.axis:
        n = n * dims[d]
    dt = out.type.dtype
    val = kt.cast(v, dt) * kt.cast(n, dt)
    rest = [dims[d] for d in range(len(dims)) if d not in node.op.axis]
    return [alloc(val, *rest) if rest else val]


# -- shapes -----------------------------------------------------------------------------
@node_rewriter([Shape_i])
def shape_i_of_op(fgraph, node):
    """shape_i(op(...), d) -> the length the op's infer_shape gives, from the op's inputs."""
    x = node.inputs[0]
    d = node.op.i
    if x.type.shape[d] is not None:
        return [kt.constant(np.asarray(x.type.shape[d], dtype="int64"))]
    if x.owner is None:
        return None
    dim = output_shape(x.owner, x.index, fgraph)[d]
    if isinstance(dim, (int, np.integer)):
        return [kt.constant(np.asarray(dim, dtype="int64"))]
    if dim.owner is not None and isinstance(dim.owner.op, Shape_i) and dim.owner.inputs[0] is x:
        return None  # infer_shape had nothing better than the length itself
    # Reading a computed array's length is free; rewriting it only pays when x is computed for
    # nothing but its shape (then x's node can go), or when the length is directly available.
    # Expanding every length of a deep elementwise graph would build switch(...) chains as deep
    # as the graph.
    only_shapes = all(c != "output" and isinstance(c.op, (Shape_i, Shape))
                      for c, _ in fgraph.clients.get(x, ()))
    simple = dim in fgraph.variables or (
        dim.owner is not None and isinstance(dim.owner.op, Shape_i)
        and any(dim.owner.inputs[0] is i for i in x.owner.inputs))
    if not (only_shapes or simple):
        return None
    if dim.type.dtype != "int64" or dim.type.ndim != 0:
        dim = kt.cast(dim, "int64")
        if dim.type.ndim != 0:
            return None
    return [dim]


@node_rewriter([Shape])
def shape_to_lengths(fgraph, node):
    """shape(x) -> a vector of shape_i(x, d) (so each length can simplify on its own)."""
    x = node.inputs[0]
    if x.type.ndim == 0:
        return [kt.constant(np.zeros(0, dtype="int64"))]
    if all(s is not None for s in x.type.shape):
        return [kt.constant(np.asarray(x.type.shape, dtype="int64"))]
    if x.owner is None:
        return None
    from kiln.tensor.shape import shape_i

    return [MakeVector("int64")(*[shape_i(x, d) for d in range(x.type.ndim)])]


def _dot_fits(env, node) -> bool:
    a, b = env["a"], env["b"]
    return a.type.ndim in (1, 2) and b.type.ndim in (1, 2)


#: `x @ W` of 1-d/2-d operands is `dot(x, W)` (NumPy gives the same values and dtype), and
#: the BLAS rules (dot -> Gemm/Gemv, shape references off a product) are written for Dot
matmul_to_dot = pattern_rule((_blas.MatMul, "a", "b"), (_blas._dot, "a", "b"), name="matmul_to_dot",
                             guard=_dot_fits)

def _unit_axes_only(env, node) -> bool:
    x = env["x"]
    return bool(node.op.axis) and all(x.type.shape[a] == 1 for a in node.op.axis)


def _drop_reduced_axes(env, node):
    """A reduction over axes of static length 1 is its input with those axes dropped (a
    view; the engine casts where the reduction changes the dtype, e.g. int8 sums)."""
    x = env["x"]
    keep = tuple(a for a in range(x.type.ndim) if a not in node.op.axis)
    return DimShuffle(x.type.ndim, keep)(x)


#: sum/prod/max/min over length-1 axes (a row's axis 0: what keepdims sums of broadcast rows
#: leave behind) do nothing; PyTensor's local_reduce_broadcastable
reduce_unit_axes = [pattern_rule((cls, "x"), _drop_reduced_axes, guard=_unit_axes_only,
                                 name=f"{cls.__name__.lower()}_over_unit_axes")
                    for cls in (Sum, _red.Prod, _red.Max, _red.Min)]

@node_rewriter([CheckAndRaise])
def remove_true_checks(fgraph, node):
    """CheckAndRaise(x, *conditions): conditions that are constants and true everywhere go;
    with none left the check is x itself (PyTensor's local_remove_useless_assert)."""
    x, *conds = node.inputs
    left = [c for c in conds if not (isinstance(c, Constant) and bool(np.all(c.data)))]
    if len(left) == len(conds):
        return None
    return [x] if not left else [node.op(x, *left)]


def _cond_keeps_shape(env, node) -> bool:
    """switch(c, x, x) is x when c cannot broadcast x to a larger shape: every static length of
    c is 1 (0-d included) and c has no more axes than x."""
    c, x = env["c"], env["x"]
    return c.type.ndim <= x.type.ndim and all(s == 1 for s in c.type.shape) and node.outputs[0].type == x.type


#: switch(c, x, x) -> x (PyTensor's local_useless_switch, for the case of equal branches): the
#: gradient of a broadcast leaves switch(eq(n, 1), n, n) in shape graphs
switch_same = pattern_rule((kt.switch, "c", "x", "x"), "x", guard=_cond_keeps_shape, name="switch_same")


RULES = [
    (constant_folding, ("fast_compile", "constant_folding")),
    (remove_true_checks, ("fast_compile",)),
    *[(r, ()) for r in reduce_unit_axes],
    (matmul_to_dot, ("blas",)),
    (add_zero, ()), (mul_one, ()), (flatten_add_mul, ()), (collect_constants, ()),
    (sub_zero, ()), (sub_self, ()), (div_self, ()), (neg_neg, ()), (sub_neg, ()), (add_neg, ()), (neg_sub, ()),
    (mul_minus_one, ()), (switch_same, ()), (exp_log, ("unsafe_nan",)), (log_exp, ()),
    (dimshuffle_dimshuffle, ()), (useless_dimshuffle, ()), (reshape_reshape, ()),
    (useless_reshape, ()), (useless_cast, ()), (sum_of_alloc, ()),
    (shape_i_of_op, ("shape",)), (shape_to_lengths, ("shape",)),
]
