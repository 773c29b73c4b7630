"""Canonicalize rules for broadcasting and its transpose (what gradients are made of).

Reverse-mode gradients broadcast cotangents (`BroadcastTo`, `BroadcastLike`, `Alloc`) and sum
them back to each input's run-time shape (`SumToShape`).  kiln keeps NumPy's semantics (a
length that is unknown statically may be 1 at run time and broadcast), so these rules only
remove work where the graph itself proves it useless.  The proofs compare *length keys*: a
canonical, hashable description of one dimension's run-time length, computed from the graph
(`dim_key`): an int where static, a graph input's dimension, or the broadcast of a set of such
lengths (which is what an elementwise op's output length is).  Two dimensions with equal keys
have equal lengths whenever the graph runs without a broadcasting error.

Rules (all in phase canonicalize):

- `useless_broadcast`: BroadcastTo/BroadcastLike/SumToShape whose output provably has the
  input's shape -> the input; SumToShape drops candidate axes that provably need no sum.
- `broadcast_of_broadcast`: a broadcast of a (DimShuffled) broadcast to the same lengths -> one.
- `elemwise_of_broadcast`: an Elemwise input that is a broadcast which the Elemwise would do
  anyway (another input has those lengths) -> the unbroadcast value; a multiplication by a
  broadcast one -> the other operands, broadcast.
- `sum_to_shape_of_broadcast`: SumToShape(f(BroadcastTo(c, S), b), T) with S the broadcast of T
  and b's shape (the shape of the forward product whose gradient this is) -> one
  SumToShape(f(c, b), T, broadcast=True): the stretched copies are never materialized.
- `sum_into_sum_to_shape`: SumToShape(sum over leading axes of x, T) -> SumToShape(x, T).
- `neg_out_of_sum`, `lift_neg_through_dimshuffle`: move a negation out of the way so that it
  fuses into its consumer.

In phase specialize, `shape_ref_off_dot` lets a forward dot that a gradient reads only for its
shape still become Gemm/Gemv.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import kiln.tensor as kt
from kiln.graph.basic import Constant, Variable
from kiln.rewrites.engine import node_rewriter
from kiln.rewrites.utils import fit_to, is_constant
from kiln.scalar import math as ps
from kiln.tensor.creation import Alloc
from kiln.tensor.elemwise import DimShuffle, Elemwise
from kiln.tensor.reduction import Reduce, Sum
from kiln.tensor.shape import BroadcastTo, MakeVector, Shape, Shape_i
from kiln.tensor.unbroadcast import BroadcastLike, SumToShape

__all__ = ["dim_key", "length_key", "bcast_keys", "RULES"]

#: recursion bound of the key computation (deeper graphs give an opaque key: no proof, no rewrite)
_MAX_DEPTH = 200


# -- length keys ---------------------------------------------------------------------------
def bcast_keys(keys) -> Any:
    """The key of the broadcast of lengths with these keys (broadcast_shape_symbolic's rule:
    a static length other than 1 wins; 1s drop out; the rest form a set)."""
    known = [k for k in keys if isinstance(k, int) and k != 1]
    if known:
        return known[0]
    rest: set = set()
    for k in keys:
        if k == 1:
            continue
        if isinstance(k, frozenset):
            rest |= k
        else:
            rest.add(k)
    if not rest:
        return 1
    if len(rest) == 1:
        return next(iter(rest))
    return frozenset(rest)


def _shape_vec_keys(shp: Variable, memo: dict, depth: int) -> list | None:
    """Keys of the entries of an int shape vector (MakeVector, constant, or shape(x))."""
    if isinstance(shp, Constant):
        return [int(s) for s in np.asarray(shp.data).reshape(-1)]
    o = shp.owner
    if o is None:
        return None
    if isinstance(o.op, MakeVector):
        return [length_key(e, memo, depth + 1) for e in o.inputs]
    if isinstance(o.op, Shape):
        x = o.inputs[0]
        return [dim_key(x, d, memo, depth + 1) for d in range(x.type.ndim)]
    return None


def length_key(e: Any, memo: dict | None = None, depth: int = 0) -> Any:
    """The key of a length given as an int or a 0-d integer variable."""
    if isinstance(e, (int, np.integer)):
        return int(e)
    if isinstance(e, Constant):
        data = np.asarray(e.data)
        return int(data) if data.ndim == 0 else ("len", e)
    memo = {} if memo is None else memo
    o = e.owner
    if o is None or depth > _MAX_DEPTH:
        return ("len", e)
    if isinstance(o.op, Shape_i):
        return dim_key(o.inputs[0], o.op.i, memo, depth + 1)
    if isinstance(o.op, Elemwise):
        sop = o.op.scalar_op
        if isinstance(sop, ps.Cast) and "int" in o.inputs[0].type.dtype:
            return length_key(o.inputs[0], memo, depth + 1)
        if isinstance(sop, ps.Switch):
            # broadcast_shape_symbolic's switch(eq(b, 1), a, b): the broadcast of a and b
            cond, a, b = o.inputs
            c = cond.owner
            if c is not None and isinstance(c.op, Elemwise) and isinstance(c.op.scalar_op, ps.EQ):
                p, q = c.inputs
                if (p is b and is_constant(q, 1)) or (q is b and is_constant(p, 1)):
                    return bcast_keys([length_key(a, memo, depth + 1), length_key(b, memo, depth + 1)])
    return ("len", e)


def _same_shape_ops() -> tuple:
    from kiln.tensor.special import LogSoftmax, Softmax

    return (LogSoftmax, Softmax)


def dim_key(v: Variable, d: int, memo: dict | None = None, depth: int = 0) -> Any:
    """The key of the run-time length of dimension `d` of `v` (see the module docstring).

    >>> import kiln.tensor as kt
    >>> x, y = kt.matrix("x"), kt.matrix("y")
    >>> dim_key(kt.exp(x) + y, 0) == bcast_keys([dim_key(x, 0), dim_key(y, 0)])
    True
    """
    s = v.type.shape[d]
    if s is not None:
        return int(s)
    memo = {} if memo is None else memo
    k = (v, d)
    if k in memo:
        return memo[k]
    memo[k] = res = _dim_key(v, d, memo, depth)
    return res


def _dim_key(v: Variable, d: int, memo: dict, depth: int) -> Any:
    from kiln.tensor.blas import Dot, MatMul

    o = v.owner
    opaque = ("dim", v, d)
    if o is None or depth > _MAX_DEPTH:
        return opaque
    op = o.op
    if isinstance(op, Elemwise):
        # a multi-output Elemwise(Composite) gives each output its own natural shape at run time
        # (Elemwise.perform does not broadcast them to the common shape): no proof there
        if op.nout != 1 or any(i.type.ndim != v.type.ndim for i in o.inputs):
            return opaque
        return bcast_keys([dim_key(i, d, memo, depth + 1) for i in o.inputs])
    if isinstance(op, DimShuffle):
        src = op.new_order[d]
        return 1 if src == "x" else dim_key(o.inputs[0], src, memo, depth + 1)
    if isinstance(op, (BroadcastTo, Alloc)):
        keys = _shape_vec_keys(o.inputs[1], memo, depth)
        return keys[d] if keys is not None and len(keys) == v.type.ndim else opaque
    if isinstance(op, BroadcastLike):
        return dim_key(o.inputs[1], d, memo, depth + 1)
    if isinstance(op, SumToShape):
        if op.by_ref:
            return dim_key(o.inputs[1], d, memo, depth + 1)
        keys = _shape_vec_keys(o.inputs[1], memo, depth)
        return keys[d] if keys is not None and len(keys) == v.type.ndim else opaque
    if isinstance(op, Reduce):
        # the kept axes, in order (keepdims is a DimShuffle after the reduction)
        kept = [a for a in range(o.inputs[0].type.ndim) if a not in op.axis]
        return dim_key(o.inputs[0], kept[d], memo, depth + 1) if d < len(kept) else opaque
    if isinstance(op, _same_shape_ops()):
        return dim_key(o.inputs[0], d, memo, depth + 1)
    if isinstance(op, (Dot, MatMul)):
        a, b = o.inputs
        if a.type.ndim == 2 and b.type.ndim == 2:
            return dim_key(a, 0, memo, depth + 1) if d == 0 else dim_key(b, 1, memo, depth + 1)
        if a.type.ndim == 2 and b.type.ndim == 1:   # matrix @ vector: A's rows
            return dim_key(a, 0, memo, depth + 1)
        if a.type.ndim == 1 and b.type.ndim == 2:   # vector @ matrix: B's columns
            return dim_key(b, 1, memo, depth + 1)
        return opaque
    if type(op).__name__ == "MatVecPair":   # (A @ x, A @ y): A's rows
        return dim_key(o.inputs[0], 0, memo, depth + 1)
    if type(op).__name__ in ("Gemm", "Gemv"):
        # beta * C + alpha * dot(A, B): the broadcast of C and the product
        c, _, a, b, _ = o.inputs
        prod = dim_key(a, 0, memo, depth + 1) if d == 0 else dim_key(b, 1, memo, depth + 1)
        return bcast_keys([dim_key(c, d, memo, depth + 1), prod])
    return opaque


def _target_keys(node, memo) -> list | None:
    """Keys of the target shape of a BroadcastTo/BroadcastLike/Alloc/SumToShape node."""
    op, out = node.op, node.outputs[0]
    if isinstance(op, BroadcastLike) or (isinstance(op, SumToShape) and op.by_ref):
        ref = node.inputs[1]
        return [dim_key(ref, d, memo) for d in range(ref.type.ndim)]
    keys = _shape_vec_keys(node.inputs[1], memo, 0)
    if keys is None or len(keys) != out.type.ndim:
        return None
    return [k if s is None else s for k, s in zip(keys, out.type.shape)]


def _pad(x: Variable, ndim: int) -> Variable:
    """x with new length-1 axes on the left up to ndim (NumPy's broadcasting alignment)."""
    if x.type.ndim == ndim:
        return x
    return DimShuffle(x.type.ndim, ("x",) * (ndim - x.type.ndim) + tuple(range(x.type.ndim)))(x)


def _is_broadcast(v: Variable) -> bool:
    o = v.owner
    return o is not None and isinstance(o.op, (BroadcastTo, BroadcastLike))


def _unbroadcast(v: Variable, memo: dict):
    """For v = broadcast(w, S), or a DimShuffle that only adds axes of one: (the same value
    without the broadcast, built from w; the keys of v's lengths).  Else None."""
    ds = None
    z = v
    if z.owner is not None and isinstance(z.owner.op, DimShuffle) and not z.owner.op.drop:
        ds, z = z.owner.op, z.owner.inputs[0]
    if not _is_broadcast(z):
        return None
    tk = _target_keys(z.owner, memo)
    w = z.owner.inputs[0]
    if tk is None or w.type.ndim > z.type.ndim:
        return None
    w = _pad(w, z.type.ndim)
    if ds is None:
        return w, tk
    return ds(w), [1 if src == "x" else tk[src] for src in ds.new_order]


# -- rules ----------------------------------------------------------------------------------
@node_rewriter([BroadcastTo, BroadcastLike, SumToShape])
def useless_broadcast(fgraph, node):
    """broadcast(x, S) -> x when x provably has shape S; SumToShape(x, T) drops the candidate
    axes where x's and T's lengths are provably equal (or T's is statically not 1), sums
    statically where T is statically 1, and disappears when nothing is left."""
    x = node.inputs[0]
    out = node.outputs[0]
    memo: dict = {}
    tk = _target_keys(node, memo)
    if tk is None:
        return None
    xp = _pad(x, out.type.ndim) if x.type.ndim < out.type.ndim else x
    if xp.type.ndim != out.type.ndim:
        return None
    xk = [dim_key(xp, d, memo) for d in range(xp.type.ndim)]
    same = [a == b for a, b in zip(xk, tk)]
    op = node.op
    if not isinstance(op, SumToShape):
        return [xp] if all(same) else None
    if op.broadcast:
        return [x] if all(same) and x.type.ndim == out.type.ndim else None
    keep, static = [], []
    for a in op.axes:
        t = out.type.shape[a]
        if same[a] or x.type.shape[a] == 1 or (t is not None and t != 1):
            continue
        if t == 1:
            static.append(a)
        else:
            keep.append(a)
    if keep == list(op.axes):
        return None
    res = x
    if static:
        res = kt.sum(res, axis=tuple(static), keepdims=True)
    if keep:
        res = SumToShape(keep, op.by_ref)(res, node.inputs[1])
    return [fit_to(res, out, node, fgraph)]


@node_rewriter([BroadcastTo, BroadcastLike])
def broadcast_of_broadcast(fgraph, node):
    """broadcast(DimShuffle(broadcast(w, S1)), S2) -> broadcast(DimShuffle(w), S2) when every
    length of S1 is the matching length of S2 (the inner broadcast only stretched what the
    outer one stretches again).  The DimShuffle may only add axes."""
    z = node.inputs[0]
    ds = None
    if z.owner is not None and isinstance(z.owner.op, DimShuffle) and not z.owner.op.drop:
        ds, z = z.owner.op, z.owner.inputs[0]
    if not _is_broadcast(z) or len(fgraph.clients.get(z, ())) != 1:
        return None
    inner = z.owner
    memo: dict = {}
    k1, k2 = _target_keys(inner, memo), _target_keys(node, memo)
    if k1 is None or k2 is None:
        return None
    n2 = node.outputs[0].type.ndim
    # dims of the inner result, as dims of the outer target (left padding, then the DimShuffle)
    order = ds.new_order if ds is not None else tuple(range(z.type.ndim))
    pad = n2 - len(order)
    for pos, src in enumerate(order):
        if src != "x" and k1[src] != 1 and k1[src] != k2[pos + pad]:
            return None
    w = _pad(inner.inputs[0], z.type.ndim)
    if ds is not None:
        w = DimShuffle(w.type.ndim, order)(w)
    return [fit_to(node.op(w, node.inputs[1]), node.outputs[0], node, fgraph)]


def _covered(node, inputs, i: int, found, memo: dict) -> bool:
    """Whether input i of an Elemwise (a broadcast, `found` = _unbroadcast of it) is broadcast
    by the Elemwise anyway: every target length is 1, a's own, or another input's."""
    a, tk = found
    nd = node.outputs[0].type.ndim
    if a.type.ndim > nd:
        return False
    ap = _pad(a, nd)
    for d in range(nd):
        if tk[d] == 1 or tk[d] == dim_key(ap, d, memo):
            continue
        if not any(dim_key(v, d, memo) == tk[d] for j, v in enumerate(inputs) if j != i):
            return False
    return True


@node_rewriter([Elemwise])
def elemwise_of_broadcast(fgraph, node):
    """Elemwise(..., broadcast(a, S), ...) -> Elemwise(..., a, ...) when the Elemwise's own
    broadcasting gives S anyway; mul(broadcast(1, S), rest...) -> broadcast(mul(rest), S')."""
    if node.op.inplace_pattern or node.op.nout != 1:
        return None
    out = node.outputs[0]
    memo: dict = {}
    new, changed = list(node.inputs), False
    for i, v in enumerate(node.inputs):
        found = _unbroadcast(v, memo)
        # `new` holds the inputs already unbroadcast: two broadcasts must not justify each other
        if found is not None and _covered(node, new, i, found, memo):
            new[i] = _pad(found[0], out.type.ndim)
            changed = True
    if changed:
        return [fit_to(node.op(*new), out, node, fgraph)]
    if node.op != kt.mul or len(node.inputs) < 2:
        return None
    for i, v in enumerate(node.inputs):
        if _is_broadcast(v) and is_constant(v.owner.inputs[0], 1):
            rest = [u for j, u in enumerate(node.inputs) if j != i]
            prod = rest[0] if len(rest) == 1 else kt.mul(*rest)
            b = v.owner
            # broadcast(1, S) * r has the shape broadcast(S, shape(r)): the same op on r gives
            # it when r is no larger than S in any dim (r's lengths are 1 or S's)
            tk = _target_keys(b, memo)
            rp = _pad(prod, out.type.ndim)
            if tk is None or prod.type.ndim > out.type.ndim or not _r_fits(rp, tk, memo):
                return None
            return [fit_to(b.op(rp, b.inputs[1]), out, node, fgraph)]
    return None


def _r_fits(r: Variable, tk: list, memo: dict) -> bool:
    """r's every length is 1 or the target's, or the target's is the broadcast including r's."""
    for d in range(r.type.ndim):
        rk, t = dim_key(r, d, memo), tk[d]
        if rk == 1 or rk == t:
            continue
        if isinstance(t, frozenset) and (rk in t or (isinstance(rk, frozenset) and rk <= t)):
            continue
        return False
    return True


@node_rewriter([SumToShape])
def sum_to_shape_of_broadcast(fgraph, node):
    """SumToShape(f(..., broadcast(c, S), ...), T) -> SumToShape(f(..., c, ...), T, broadcast=True)
    when S is the broadcast of T's shape and the other operands' shapes: per axis, the sum
    over stretched copies of c equals the sum of f(c, ...) (where T is 1) and stretching after
    f equals stretching before it (elsewhere); the full-size product is never made."""
    y, tgt = node.inputs
    op = node.op
    nd = y.type.ndim
    if nd != node.outputs[0].type.ndim or len(fgraph.clients.get(y, ())) != 1:
        return None
    memo: dict = {}
    tk = _target_keys(node, memo)
    if tk is None:
        return None

    def fits(found, others) -> bool:
        # per axis: not stretched at all, or stretched to the broadcast of T and the operands
        ap = _pad(found[0], nd)
        return all(found[1][d] == dim_key(ap, d, memo)
                   or found[1][d] == bcast_keys([tk[d], dim_key(ap, d, memo)]
                                                + [dim_key(u, d, memo) for u in others])
                   for d in range(nd))

    def result(inner):
        res = SumToShape(range(nd), op.by_ref, broadcast=True)(inner, tgt)
        return [fit_to(res, node.outputs[0], node, fgraph)]

    found = _unbroadcast(y, memo)
    if found is not None and found[0].type.ndim <= nd and fits(found, []):
        return result(_pad(found[0], nd))
    yo = y.owner
    if yo is None or not isinstance(yo.op, Elemwise) or yo.op.nout != 1 or yo.op.inplace_pattern:
        return None
    for i, v in enumerate(yo.inputs):
        found = _unbroadcast(v, memo)
        if found is None or found[0].type.ndim > nd:
            continue
        if not fits(found, [u for j, u in enumerate(yo.inputs) if j != i]):
            continue
        ins = list(yo.inputs)
        ins[i] = _pad(found[0], nd)
        return result(yo.op(*ins))
    return None


@node_rewriter([SumToShape])
def sum_into_sum_to_shape(fgraph, node):
    """SumToShape(sum(x, axis=(0, ..., k-1)), T) -> SumToShape(x, T) (x has k extra leading axes,
    which SumToShape sums away): one node for the whole transpose of a broadcast, e.g. a bias
    gradient."""
    s, tgt = node.inputs
    op = node.op
    if op.broadcast or s.owner is None or not isinstance(s.owner.op, Sum):
        return None
    x = s.owner.inputs[0]
    axes = s.owner.op.axis
    if not axes or tuple(axes) != tuple(range(len(axes))) or x.type.dtype != s.type.dtype:
        return None
    if len(fgraph.clients.get(s, ())) != 1:
        return None
    return [fit_to(SumToShape(op.axes, op.by_ref)(x, tgt), node.outputs[0], node, fgraph)]


@node_rewriter([Sum])
def neg_out_of_sum(fgraph, node):
    """sum(-x) -> -sum(x) (exact, also for wrapping integers) when -x has no other client, so
    that the negation can fuse into the sum's consumer."""
    x = node.inputs[0]
    if x.owner is None or x.owner.op != kt.neg or len(fgraph.clients.get(x, ())) != 1:
        return None
    inner = x.owner.inputs[0]
    if inner.type.dtype != node.outputs[0].type.dtype:
        return None
    return [kt.neg(node.op(inner))]


@node_rewriter([DimShuffle])
def lift_neg_through_dimshuffle(fgraph, node):
    """DimShuffle(-x) -> -DimShuffle(x) when -x has no other client (the negation moves next to
    the elementwise consumers it can fuse with)."""
    x = node.inputs[0]
    if x.owner is None or x.owner.op != kt.neg or len(fgraph.clients.get(x, ())) != 1:
        return None
    return [kt.neg(node.op(x.owner.inputs[0]))]


def _shape_only_use(client, i: int) -> bool:
    """Whether input i of `client` is only read for its shape."""
    if client == "output":
        return False
    op = client.op
    if isinstance(op, (Shape, Shape_i)):
        return True
    return i == 1 and (isinstance(op, BroadcastLike) or (isinstance(op, SumToShape) and op.by_ref))


@node_rewriter([SumToShape, BroadcastLike])
def shape_ref_off_dot(fgraph, node):
    """SumToShape/BroadcastLike reading only the shape of dot(A, B), which an add or sub of a
    term of the same shape also uses -> the same op with the lengths (A's rows, B's columns)
    as a shape vector.  A gradient
    refers to a forward product for its shape; that reference alone would keep the product
    from being fused into Gemm/Gemv (dot_to_gemm wants the product's only client)."""
    from kiln.rewrites.utils import shape_tuple
    from kiln.tensor.blas import Dot

    op = node.op
    if isinstance(op, SumToShape) and not op.by_ref:
        return None
    ref = node.inputs[1]
    o = ref.owner
    # only Dot: dot_to_gemm does not take MatMul
    if o is None or not isinstance(o.op, Dot) or any(i.type.ndim != 2 for i in o.inputs):
        return None
    others = [(c, i) for c, i in fgraph.clients.get(ref, ()) if not _shape_only_use(c, i)]
    if len(others) != 1 or others[0][0] == "output" or others[0][0].op not in (kt.add, kt.sub):
        return None
    a, b = o.inputs
    # Gemm pays (one pass, in place) when the added term has the product's full shape; a term
    # known to be broadcast (a bias row) is better fused with the add's elementwise consumers
    add = others[0][0]
    c = add.inputs[1 - others[0][1]] if len(add.inputs) == 2 else None
    if c is None or c.type.ndim != 2 or any(c.type.shape[d] == 1 and ref.type.shape[d] != 1 for d in range(2)):
        return None
    lengths = (shape_tuple(a, fgraph)[0], shape_tuple(b, fgraph)[1])
    vec = MakeVector("int64")(*[kt.constant(np.asarray(n, dtype="int64")) if isinstance(n, int) else n
                                for n in lengths])
    if isinstance(op, SumToShape):
        res = SumToShape(op.axes, by_ref=False, broadcast=op.broadcast)(node.inputs[0], vec)
    else:
        res = BroadcastTo(2)(node.inputs[0], vec)
    return [fit_to(res, node.outputs[0], node, fgraph)]


SPECIALIZE_RULES = [(shape_ref_off_dot, ("blas", "gemm"))]

RULES = [
    (useless_broadcast, ("broadcast",)), (broadcast_of_broadcast, ("broadcast",)),
    (elemwise_of_broadcast, ("broadcast",)), (sum_to_shape_of_broadcast, ("broadcast",)),
    (sum_into_sum_to_shape, ("broadcast",)),
    (neg_out_of_sum, ()), (lift_neg_through_dimshuffle, ()),
]
