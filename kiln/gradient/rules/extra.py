"""Rules for the issue-5 catalog of joins/splits, cumulative and sorting ops, and the special
functions of kiln.scalar.special.

Special functions: partial derivatives as data (`SPECIAL_DERIVATIVES`, same protocol as
kiln.gradient.rules.elemwise.DERIVATIVES, kept in a table of its own so that each table
has one SymPy test file checking all of its entries: tests/tensor/test_special_fns.py).
gammainc/gammaincc's derivative in the shape parameter is the scalar op GammaIncDa.

Linear structural ops have jvp = the op on tangents and a transpose rule; these pairs
transpose into each other: Split <-> Join, Repeat <-> RepeatSum, Diagonal <-> DiagonalEmbed,
PermuteAlongAxis <-> UnpermuteAlongAxis, BinCount (in its weights) <-> Gather1d,
LinearRecurrence (in b) <-> itself run backwards; cumsum transposes into a reversed cumsum.
Sort's jvp permutes the tangent (PermuteAlongAxis by argsort); cumprod's is a LinearRecurrence,
exact where x has zeros, whose own jvp is again one (derivatives of any order).
"""
from __future__ import annotations

import math
from typing import Callable

import kiln.scalar.special as pss
import kiln.tensor.math as km
from kiln.gradient.registry import ELEMWISE_JVP, register_jvp, register_transpose
from kiln.gradient.rules.elemwise import _mark_from_primal, _sum_terms
from kiln.gradient.rules.helpers import instantiate, linear_jvp, mark_full, same_shape, zero_derivative
from kiln.gradient.values import ZERO, Null, is_zero
from kiln.tensor.creation import zeros_like

__all__ = ["SPECIAL_DERIVATIVES", "defderiv_special"]

#: scalar op class -> fn(inputs, outputs) -> per-input coefficient (None = zero derivative)
SPECIAL_DERIVATIVES: dict[type, Callable] = {}

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def table_jvp(table: dict[type, Callable]) -> Callable:
    """The elementwise jvp of scalar ops whose partial derivatives `table` holds:
    fn(inputs, outputs) -> per input a coefficient graph, None (zero), or a string, the
    reason the derivative in that input is undefined (a tangent reaching it gives Null)."""
    def jvp(node, ts):
        op = node.op.scalar_op
        coefs = table[type(op)](node.inputs, node.outputs)
        out = node.outputs[0]
        terms = []
        for k, (t, c) in enumerate(zip(ts, coefs)):
            if is_zero(t) or c is None:
                continue
            if isinstance(c, str):
                return [Null(f"{op} is not differentiable w.r.t. {c}")]
            if c.dtype != out.dtype:
                c = km.cast(c, out.dtype)
            term = mark_full(same_shape(km.mul(t, c), out), 1)
            terms.append(mark_full(term, 0) if len(node.inputs) == 1 else _mark_from_primal(term, node, [(0, k)]))
        if not terms:
            return [ZERO]
        return [_sum_terms(terms)]
    return jvp


def derivative_table_decorator(table: dict[type, Callable]) -> Callable:
    """A decorator factory registering partial derivatives into `table` (see table_jvp)."""
    jvp = table_jvp(table)

    def register(*scalar_classes: type) -> Callable:
        def deco(fn: Callable) -> Callable:
            for c in scalar_classes:
                table[c] = fn
                ELEMWISE_JVP[c] = jvp
            return fn
        return deco
    return register


#: decorator: register partial derivatives of special-function scalar ops (see module doc)
defderiv_special = derivative_table_decorator(SPECIAL_DERIVATIVES)


def _zero_where(cond, value):
    """value, but exactly 0 where cond (a limit the formula would give as 0/0 or 0*inf)."""
    return km.switch(cond, 0.0, value)


defderiv_special(pss.Log1mexp)(lambda i, o: [km.neg(km.reciprocal(km.expm1(km.neg(i[0]))))])
defderiv_special(pss.Erfcx)(lambda i, o: [2.0 * i[0] * o[0] - _TWO_OVER_SQRT_PI])
defderiv_special(pss.I0)(lambda i, o: [_i1(i[0])])


def _i1(x):
    from kiln.tensor.nnet import i1

    return i1(x)


@defderiv_special(pss.I1)
def _i1_deriv(i, o):
    from kiln.tensor.nnet import i0

    (x,) = i
    # i1'(x) = i0(x) - i1(x) / x, whose limit at 0 is 1/2
    safe = km.switch(km.eq(x, 0), 1.0, x)
    return [km.switch(km.eq(x, 0), 0.5, i0(x) - o[0] / safe)]


@defderiv_special(pss.XLogY)
def _xlogy(i, o):
    x, y = i
    # d/dx = log(y); d/dy = x / y, 0 where x == 0 (xlogy(0, y) is identically 0)
    return [km.log(y) + zeros_like(x), _zero_where(km.eq(x, 0), x / y)]


@defderiv_special(pss.XLog1py)
def _xlog1py(i, o):
    x, y = i
    return [km.log1p(y) + zeros_like(x), _zero_where(km.eq(x, 0), x / (1.0 + y))]


def _digamma(v):
    # polygamma(0, v) rather than psi: its derivative is polygamma(1, v), so second derivatives exist
    from kiln.tensor.nnet import polygamma

    return polygamma(0, v)


@defderiv_special(pss.BetaLn)
def _betaln(i, o):
    a, b = i
    pab = _digamma(a + b)
    return [_digamma(a) - pab, _digamma(b) - pab]


@defderiv_special(pss.Beta)
def _beta(i, o):
    a, b = i
    (z,) = o
    pab = _digamma(a + b)
    return [z * (_digamma(a) - pab), z * (_digamma(b) - pab)]


def _gammainc_dx(a, x):
    # d/dx P(a, x) = x**(a-1) exp(-x) / Gamma(a), in log space to avoid overflow
    return km.exp((a - 1.0) * km.log(x) - x - km.gammaln(a))


def _gammainc_da(a, x):
    from kiln.tensor.nnet import gammainc_da

    return gammainc_da(a, x)


@defderiv_special(pss.GammaInc)
def _gammainc(i, o):
    a, x = i
    return [_gammainc_da(a, x), _gammainc_dx(a, x)]


@defderiv_special(pss.GammaIncC)
def _gammaincc(i, o):
    a, x = i
    return [km.neg(_gammainc_da(a, x)), km.neg(_gammainc_dx(a, x))]


@defderiv_special(pss.Polygamma)
def _polygamma(i, o):
    from kiln.tensor.nnet import polygamma

    n, x = i
    # the order is an integer: no derivative
    return [None, polygamma(n + 1, x)]


# -- joins, splits, diagonals ----------------------------------------------------------------
from kiln.tensor.diag_ops import Diagonal, DiagonalEmbed  # noqa: E402
from kiln.tensor.extra_ops import (ArgSort, BinCount, CumOp, Gather1d, LinearRecurrence, SearchSorted, Sort,  # noqa: E402
                                   PermuteAlongAxis, UnpermuteAlongAxis, Unique)
from kiln.tensor.joining import Repeat, RepeatSum, Split  # noqa: E402

linear_jvp(Repeat, RepeatSum, Diagonal, DiagonalEmbed, PermuteAlongAxis, UnpermuteAlongAxis, Gather1d, linear=(0,))
zero_derivative(ArgSort, Unique, SearchSorted)


@register_jvp(Split)
def _split_jvp(node, ts):
    if is_zero(ts[0]):
        return [ZERO] * len(node.outputs)
    return list(node.op.make_node(ts[0], node.inputs[1]).outputs)


@register_transpose(Split, linear=(0,))
def _split_t(node, cts, mask, ctx):
    from kiln.tensor.join import join

    if all(is_zero(c) for c in cts):
        return [None, None]
    pieces = [instantiate(c, o) for c, o in zip(cts, node.outputs)]
    return [join(node.op.axis, *pieces) if len(pieces) > 1 else pieces[0], None]


@register_transpose(Repeat, linear=(0,))
def _repeat_t(node, cts, mask, ctx):
    x, r = node.inputs
    return [RepeatSum(node.op.axis)(cts[0], r, ctx.shape(x)[node.op.axis]), None]


@register_transpose(RepeatSum, linear=(0,))
def _repeat_sum_t(node, cts, mask, ctx):
    return [Repeat(node.op.axis)(cts[0], node.inputs[1]), None, None]


@register_transpose(Diagonal, linear=(0,))
def _diagonal_t(node, cts, mask, ctx):
    op = node.op
    return [DiagonalEmbed(op.offset, op.axis1, op.axis2)(cts[0], ctx.shape_vec(node.inputs[0]))]


@register_transpose(DiagonalEmbed, linear=(0,))
def _diagonal_embed_t(node, cts, mask, ctx):
    op = node.op
    return [Diagonal(op.offset, op.axis1, op.axis2)(cts[0]), None]


@register_transpose(PermuteAlongAxis, linear=(0,))
def _permute_t(node, cts, mask, ctx):
    # the indices are a permutation along the axis: the transpose applies the inverse one
    ax = node.op.axis
    inverse = UnpermuteAlongAxis if type(node.op) is PermuteAlongAxis else PermuteAlongAxis
    return [inverse(ax)(cts[0], node.inputs[1]), None]


# -- cumulative, sorting, bincount -----------------------------------------------------------
def _reverse(v, axis):
    from kiln.tensor.subtensor import subtensor

    return subtensor(v, (slice(None),) * axis + (slice(None, None, -1),))


@register_jvp(CumOp)
def _cum_jvp(node, ts):
    (t,) = ts
    if is_zero(t):
        return [ZERO]
    op = node.op
    from kiln.scalar import dtypes

    if not dtypes.is_continuous(node.outputs[0].dtype):
        return [ZERO]
    if op.mode == "add":
        return [op(t)]
    # d cumprod(x)_i = sum_{j <= i} t_j prod_{k <= i, k != j} x_k solves dy_i = x_i dy_(i-1) + y_(i-1) t_i:
    # no division (y * cumsum(t / x), PyTensor's form, is undefined where x has zeros)
    (x,) = node.inputs
    (y,) = node.outputs
    return [same_shape(LinearRecurrence(op.axis)(x, _shift(y, op.axis, 1.0) * t), y)]


def _shift(v, axis, fill):
    """v moved one step forward along axis: out_0 = fill, out_i = v_(i-1) (same length)."""
    from kiln.tensor.creation import full_like
    from kiln.tensor.join import join
    from kiln.tensor.subtensor import subtensor

    pre = (slice(None),) * axis
    return join(axis, full_like(subtensor(v, pre + (slice(0, 1),)), fill), subtensor(v, pre + (slice(None, -1),)))


@register_transpose(CumOp, linear=lambda node, mask: node.op.mode == "add")
def _cumsum_t(node, cts, mask, ctx):
    ax = node.op.axis
    ct = _reverse(CumOp(ax, "add")(_reverse(cts[0], ax)), ax)
    x = node.inputs[0]
    return [km.cast(ct, x.dtype) if ct.dtype != x.dtype else ct]


@register_jvp(LinearRecurrence)
def _linrec_jvp(node, ts):
    # e_i = x_i e_(i-1) + b_i  =>  de_i = x_i de_(i-1) + (s_i e_(i-1) + db_i)
    tx, tb = ts
    if is_zero(tx) and is_zero(tb):
        return [ZERO]
    x, _ = node.inputs
    (e,) = node.outputs
    ax = node.op.axis
    drive = []
    if not is_zero(tx):
        drive.append(tx * _shift(e, ax, 0.0))
    if not is_zero(tb):
        drive.append(tb)
    return [same_shape(LinearRecurrence(ax)(x, drive[0] if len(drive) == 1 else drive[0] + drive[1]), e)]


@register_transpose(LinearRecurrence, linear=(1,))
def _linrec_t(node, cts, mask, ctx):
    # g_j = c_j + x_(j+1) g_(j+1): the same scan over the reversed axis, with x shifted by one
    # (the first coefficient of the reversed scan multiplies the initial 0, so its fill is moot)
    x, b = node.inputs
    ax = node.op.axis
    # reversed, a_m = g_(n-1-m) = c_(n-1-m) + x_(n-m) a_(m-1): coefficients shift(reverse(x))
    g = _reverse(LinearRecurrence(ax)(_shift(_reverse(x, ax), ax, 0.0), _reverse(cts[0], ax)), ax)
    return [None, km.cast(g, b.dtype) if g.dtype != b.dtype else g]


@register_jvp(Sort)
def _sort_jvp(node, ts):
    (t,) = ts
    if is_zero(t):
        return [ZERO]
    ax = node.op.axis
    # the sorted values are x permuted by argsort(x); ties give equal values, so any order is fine
    perm = ArgSort(ax, node.op.kind)(node.inputs[0])
    return [PermuteAlongAxis(ax)(t, perm)]


@register_jvp(BinCount)
def _bincount_jvp(node, ts):
    if not node.op.weighted or is_zero(ts[1]):
        return [ZERO]
    return [node.op(node.inputs[0], ts[1], node.inputs[2])]


@register_transpose(BinCount, linear=(1,))
def _bincount_t(node, cts, mask, ctx):
    x, w = node.inputs[:2]
    g = Gather1d()(cts[0], x)
    return [None, km.cast(g, w.dtype) if g.dtype != w.dtype else g, None]


@register_transpose(Gather1d, linear=(0,))
def _gather1d_t(node, cts, mask, ctx):
    y, x = node.inputs
    n = ctx.shape(y)[0]
    s = BinCount(True)(x, cts[0], n)
    return [km.cast(s, y.dtype) if s.dtype != y.dtype else s, None]
