"""Derivative rules of kiln.sparse ops (PyTensor's structured semantics).

The cotangent of a sparse variable is a sparse matrix of its format and dtype; where
PyTensor's gradient is structured (dense_from_sparse by default, structured_dot, dot,
sp_sum with sparse_grad, the structured elementwise functions through CSM) it has the
variable's pattern: only the stored entries get a derivative.
"""
from __future__ import annotations

import kiln.tensor.math as km
from kiln.gradient.registry import register_jvp, register_transpose
from kiln.gradient.rules.helpers import defbilinear, linear_jvp, zero_derivative
from kiln.gradient.values import ZERO, is_zero
from kiln.sparse import basic as sb
from kiln.sparse import math as sm
from kiln.sparse.type import is_sparse_variable


def _like(ct, v):
    """Cotangent `ct` with the type family of `v`: a sparse v gets a sparse ct of its format
    and dtype; a dense v a dense ct of its dtype."""
    if is_sparse_variable(v):
        if not is_sparse_variable(ct):
            ct = sb.SparseFromDense(v.type.format)(ct)
        ct = sb.as_format_of(ct, v.type.format)
        return sb.cast(ct, v.dtype)
    if is_sparse_variable(ct):
        ct = sb.dense_from_sparse(ct)
    return km.cast(ct, v.dtype) if ct.dtype != v.dtype else ct


def _dense(v):
    return sb.dense_from_sparse(v) if is_sparse_variable(v) else v


def _add(a, b):
    if is_zero(a):
        return b
    if is_zero(b):
        return a
    if is_sparse_variable(a) or is_sparse_variable(b):
        return sb.add(a, b)
    return a + b


# -- linear unary ops: the op applied to the tangent --------------------------------------
linear_jvp(sb.DenseFromSparse, sb.SparseFromDense, sb.Transpose, sb.Neg, sb.Cast, sb.Remove0,
           sb.EnsureSortedIndices, sb.AsFormat, sm.SpSum, sm.Diag, sm.SquareDiagonal)
linear_jvp(sb.CSM, sb.EntriesAt)


@register_transpose(sb.DenseFromSparse, linear=(0,))
def _dense_from_sparse_t(node, cts, mask, ctx):
    (x,), (ct,) = node.inputs, cts
    if node.op.sparse_grad:   # structured: ct read at x's stored positions
        return [_like(sb.mul(sb.sp_ones_like(x), ct), x)]
    return [_like(sb.SparseFromDense(x.type.format)(ct), x)]


@register_transpose(sb.SparseFromDense, linear=(0,))
def _sparse_from_dense_t(node, cts, mask, ctx):
    return [_like(sb.dense_from_sparse(cts[0]), node.inputs[0])]


@register_transpose(sb.Transpose, linear=(0,))
def _transpose_t(node, cts, mask, ctx):
    return [_like(sb.transpose(cts[0]), node.inputs[0])]


@register_transpose(sb.Neg, linear=(0,))
def _neg_t(node, cts, mask, ctx):
    return [_like(sb.neg(cts[0]), node.inputs[0])]


@register_transpose(sb.Cast, sb.Remove0, sb.EnsureSortedIndices, sb.AsFormat, linear=(0,))
def _identity_t(node, cts, mask, ctx):
    return [_like(cts[0], node.inputs[0])]


# -- CSM and its properties: data <-> stored entries ----------------------------------------
@register_transpose(sb.CSM, linear=(0,))
def _csm_t(node, cts, mask, ctx):
    _, indices, indptr, shape = node.inputs
    ct = _like(cts[0], node.outputs[0])
    return [sb.EntriesAt(node.op.format)(ct, indices, indptr, shape), None, None, None]


@register_transpose(sb.EntriesAt, linear=(0,))
def _entries_at_t(node, cts, mask, ctx):
    y, indices, indptr, shape = node.inputs
    return [_like(sb.CSM(node.op.format)(cts[0], indices, indptr, shape), y), None, None, None]


@register_jvp(sb.CSMProperties)
def _csm_properties_jvp(node, tangents):
    (tx,) = tangents
    if is_zero(tx):
        return [ZERO] * 4
    x = node.inputs[0]
    _, indices, indptr, shape = node.outputs
    return [sb.EntriesAt(x.type.format)(tx, indices, indptr, shape), ZERO, ZERO, ZERO]


# -- sums of sparse matrices ---------------------------------------------------------------
@register_jvp(sb.AddSS, sb.AddSD)
def _add_jvp(node, tangents):
    tx, ty = tangents
    if is_zero(tx) and is_zero(ty):
        return [ZERO]
    if isinstance(node.op, sb.AddSD):   # a dense output: add the dense tangents
        terms = [t for t in (None if is_zero(tx) else sb.dense_from_sparse(tx), None if is_zero(ty) else ty)
                 if t is not None]
        out = terms[0] if len(terms) == 1 else terms[0] + terms[1]
        return [_like(out, node.outputs[0])]
    return [_like(_add(tx, ty), node.outputs[0])]


@register_transpose(sb.AddSS, linear=(0, 1))
def _add_ss_t(node, cts, mask, ctx):
    x, y = node.inputs
    return [_like(cts[0], x) if mask[0] else None, _like(cts[0], y) if mask[1] else None]


# -- elementwise products ------------------------------------------------------------------
def _mul_ss_tx(node, ct, ctx):
    x, y = node.inputs
    return _like(sb.mul(ct, y), x)


def _mul_ss_ty(node, ct, ctx):
    x, y = node.inputs
    return _like(sb.mul(ct, x), y)


defbilinear(sb.MulSS, _mul_ss_tx, _mul_ss_ty)


def _mul_sd_tx(node, ct, ctx):
    x, y = node.inputs
    return _like(sb.mul(ct, y), x)


def _mul_sd_ty(node, ct, ctx):
    x, y = node.inputs
    prod = sb.mul(ct, x)
    if y.ndim == 0:
        return _like(sm.sp_sum(prod), y)
    return _like(sb.dense_from_sparse(prod), y)


defbilinear(sb.MulSD, _mul_sd_tx, _mul_sd_ty)


def _scale_tx(node, ct, ctx):
    x, s = node.inputs
    return _like(type(node.op)()(ct, s), x)


def _scale_ts(node, ct, ctx):
    x, s = node.inputs
    return _like(sm.sp_sum(sb.mul(ct, x), axis=node.op.axis), s)


defbilinear(sm.ColScale, _scale_tx, _scale_ts)
defbilinear(sm.RowScale, _scale_tx, _scale_ts)


# -- products ------------------------------------------------------------------------------
def _dot_tx(node, ct, ctx):
    x, y = node.inputs
    if is_sparse_variable(x):   # structured: (ct @ y.T) at x's stored positions
        ct2 = _dense(ct).dimshuffle(0, "x") if ct.ndim == 1 else _dense(ct)
        yt = y.dimshuffle("x", 0) if y.ndim == 1 else _dense(y).T
        return _like(sm.sampled_dot(ct2, yt, x), x)
    return _like(sm.dot(ct, sb.transpose(y)), x)


def _dot_ty(node, ct, ctx):
    x, y = node.inputs
    if is_sparse_variable(y):
        xt = x.dimshuffle(0, "x") if x.ndim == 1 else _dense(x).T
        ct2 = _dense(ct).dimshuffle("x", 0) if ct.ndim == 1 else _dense(ct)
        return _like(sm.sampled_dot(xt, ct2, y), y)
    return _like(sm.dot(sb.transpose(x), ct), y)


defbilinear(sm.Dot, _dot_tx, _dot_ty)


def _sdot_ta(node, ct, ctx):
    a, b = node.inputs
    return _like(sm.sampled_dot(_dense(ct), _dense(b).T, a), a)


def _sdot_tb(node, ct, ctx):
    a, b = node.inputs
    return _like(sm.structured_dot(sb.transpose(a), ct), b)


defbilinear(sm.StructuredDot, _sdot_ta, _sdot_tb)


def _tdot_tx(node, ct, ctx):
    x, y = node.inputs
    return _like(sm.true_dot(ct, sb.transpose(y) if is_sparse_variable(y) else y.T), x)


def _tdot_ty(node, ct, ctx):
    x, y = node.inputs
    return _like(sm.true_dot(sb.transpose(x), ct), y)


defbilinear(sm.TrueDot, _tdot_tx, _tdot_ty)   # PyTensor's TrueDot.grad (not structured)


# -- reductions and diagonals --------------------------------------------------------------
@register_transpose(sm.SpSum, linear=(0,))
def _sp_sum_t(node, cts, mask, ctx):
    (x,), (ct,), axis = node.inputs, cts, node.op.axis
    if node.op.sparse_grad:
        ones = sb.sp_ones_like(x)
        r = sb.mul(ones, ct) if axis is None else (sm.col_scale(ones, ct) if axis == 0 else sm.row_scale(ones, ct))
        return [_like(r, x)]
    from kiln.tensor.creation import ones_like

    ones = ones_like(sb.dense_from_sparse(x))
    g = ones * (ct if axis is None else (ct.dimshuffle("x", 0) if axis == 0 else ct.dimshuffle(0, "x")))
    return [_like(sb.SparseFromDense(x.type.format)(g), x)]


@register_transpose(sm.Diag, linear=(0,))
def _diag_t(node, cts, mask, ctx):
    return [_like(sm.square_diagonal(cts[0]), node.inputs[0])]


@register_transpose(sm.SquareDiagonal, linear=(0,))
def _square_diagonal_t(node, cts, mask, ctx):
    return [_like(sm.diag(cts[0]), node.inputs[0])]


# -- stacking: each block's cotangent is its slice of the stacked cotangent ------------------
@register_jvp(sm.HStack, sm.VStack)
def _stack_jvp(node, tangents):
    if all(is_zero(t) for t in tangents):
        return [ZERO]
    parts = [t if not is_zero(t) else sb.sp_zeros_like(b) for t, b in zip(tangents, node.inputs)]
    return [type(node.op)(node.op.format, node.op.dtype)(*parts)]


def _stack_linear(node, mask):
    return True


@register_transpose(sm.HStack, sm.VStack, linear=_stack_linear)
def _stack_t(node, cts, mask, ctx):
    from kiln.sparse.subtensor import getitem
    from kiln.tensor.shape import shape_i

    (ct,), axis = cts, node.op.axis
    out, start = [], 0
    for b, m in zip(node.inputs, mask):
        stop = start + shape_i(b, axis)
        if m:
            sl = slice(start, stop)
            part = getitem(ct, (slice(None), sl) if axis == 1 else (sl, slice(None)))
            out.append(_like(part, b))
        else:
            out.append(None)
        start = stop
    return out


zero_derivative(sb.SpOnesLike, sb.SpZerosLike, sb.EntryColumns, sm.Compare)
