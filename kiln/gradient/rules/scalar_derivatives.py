"""Partial derivatives of the elementwise scalar ops, as data: one formula per scalar op class.

Each entry maps (inputs, outputs) to one coefficient per input; the elemwise jvp is
sum_k coefficient_k * tangent_k.  Constants are Python floats (weak, NEP 50), so a
float32 graph keeps float32 derivatives.  Formulas reuse the output where that is
cheaper or avoids overflow (exp, sigmoid, tanh, sqrt, reciprocal).  Conventions:
abs'(0) = 0, maximum/minimum split ties evenly between two variables, and give a
variable nothing at a tie with a constant (so relu'(0) = 0),
piecewise-constant ops (floor, sign, comparisons, ...) have derivative zero.
The test suite checks every formula against SymPy's `diff`.
"""
from __future__ import annotations

import math

import kiln.scalar.math as ps
import kiln.tensor.math as km
from kiln.gradient.rules.elemwise import defderiv
from kiln.gradient.registry import ELEMWISE_JVP
from kiln.gradient.values import ZERO

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2.0


def _is_const(v) -> bool:
    """A constant, possibly padded with broadcastable axes by Elemwise."""
    from kiln.graph.basic import Constant
    from kiln.tensor.elemwise import DimShuffle

    while v.owner is not None and isinstance(v.owner.op, DimShuffle):
        v = v.owner.inputs[0]
    return isinstance(v, Constant)


def _c(cond, like):
    """A boolean mask as a 0/1 tensor of `like`'s dtype."""
    return km.cast(cond, like.dtype)


defderiv(ps.Abs)(lambda i, o: [km.sign(i[0])])
defderiv(ps.Sqr)(lambda i, o: [2.0 * i[0]])
defderiv(ps.Reciprocal)(lambda i, o: [km.neg(km.sqr(o[0]))])
defderiv(ps.Exp)(lambda i, o: [o[0]])
defderiv(ps.Exp2)(lambda i, o: [o[0] * _LN2])
defderiv(ps.Expm1)(lambda i, o: [o[0] + 1.0])
defderiv(ps.Log)(lambda i, o: [km.reciprocal(i[0])])
defderiv(ps.Log2)(lambda i, o: [km.reciprocal(i[0] * _LN2)])
defderiv(ps.Log10)(lambda i, o: [km.reciprocal(i[0] * _LN10)])
defderiv(ps.Log1p)(lambda i, o: [km.reciprocal(i[0] + 1.0)])
defderiv(ps.Sqrt)(lambda i, o: [0.5 / o[0]])
defderiv(ps.Sin)(lambda i, o: [km.cos(i[0])])
defderiv(ps.Cos)(lambda i, o: [km.neg(km.sin(i[0]))])
defderiv(ps.Tan)(lambda i, o: [1.0 + km.sqr(o[0])])
defderiv(ps.ArcSin)(lambda i, o: [km.reciprocal(km.sqrt(1.0 - km.sqr(i[0])))])
defderiv(ps.ArcCos)(lambda i, o: [km.neg(km.reciprocal(km.sqrt(1.0 - km.sqr(i[0]))))])
defderiv(ps.ArcTan)(lambda i, o: [km.reciprocal(1.0 + km.sqr(i[0]))])
defderiv(ps.Sinh)(lambda i, o: [km.cosh(i[0])])
defderiv(ps.Cosh)(lambda i, o: [km.sinh(i[0])])
defderiv(ps.Tanh)(lambda i, o: [1.0 - km.sqr(o[0])])
defderiv(ps.ArcSinh)(lambda i, o: [km.reciprocal(km.sqrt(km.sqr(i[0]) + 1.0))])
defderiv(ps.ArcCosh)(lambda i, o: [km.reciprocal(km.sqrt(km.sqr(i[0]) - 1.0))])
defderiv(ps.ArcTanh)(lambda i, o: [km.reciprocal(1.0 - km.sqr(i[0]))])
defderiv(ps.Sigmoid)(lambda i, o: [o[0] * (1.0 - o[0])])
defderiv(ps.Softplus)(lambda i, o: [km.sigmoid(i[0])])
defderiv(ps.Erf)(lambda i, o: [_TWO_OVER_SQRT_PI * km.exp(km.neg(km.sqr(i[0])))])
defderiv(ps.Erfc)(lambda i, o: [-_TWO_OVER_SQRT_PI * km.exp(km.neg(km.sqr(i[0])))])
defderiv(ps.Erfinv)(lambda i, o: [_SQRT_PI_OVER_2 * km.exp(km.sqr(o[0]))])
defderiv(ps.Gamma)(lambda i, o: [o[0] * km.psi(i[0])])
defderiv(ps.GammaLn)(lambda i, o: [km.psi(i[0])])


@defderiv(ps.ArcTan2)
def _arctan2(i, o):
    y, x = i
    r2 = km.sqr(x) + km.sqr(y)
    return [x / r2, km.neg(y) / r2]


@defderiv(ps.Pow)
def _pow(i, o):
    x, y = i
    (z,) = o
    from kiln.scalar import dtypes

    dx = y * km.pow(x, y - 1) if dtypes.is_continuous(x.dtype) else None
    # z * log(x) is 0 * -inf at x = 0; the limit (y > 0) is 0
    dy = km.switch(km.eq(x, 0), 0, z * km.log(x)) if dtypes.is_continuous(y.dtype) else None
    if dx is not None and dx.dtype != z.dtype:
        dx = km.cast(dx, z.dtype)
    if dy is not None and dy.dtype != z.dtype:
        dy = km.cast(dy, z.dtype)
    return [dx, dy]


@defderiv(ps.Maximum, ps.Minimum)
def _maxmin(i, o):
    """Ties split the derivative evenly between two variable operands (a valid subgradient).
    Against a constant (relu = maximum(x, 0)) a tie gives the variable derivative 0, so
    relu'(0) = 0."""
    x, y = i
    (z,) = o
    cmp = km.gt if isinstance(o[0].owner.op.scalar_op, ps.Maximum) else km.lt
    if _is_const(x) or _is_const(y):
        return [None if _is_const(x) else _c(cmp(x, y), z),
                None if _is_const(y) else _c(cmp(y, x), z)]
    tie = _c(km.eq(x, y), z) * 0.5
    return [_c(cmp(x, y), z) + tie, _c(cmp(y, x), z) + tie]


@defderiv(ps.Clip)
def _clip(i, o):
    """clip(x, lo, hi): x gets the derivative where lo <= x <= hi (ties go to x), else the
    active bound does."""
    x, lo, hi = i
    (z,) = o
    inside = km.logical_and(km.ge(x, lo), km.le(x, hi))
    at_hi = km.logical_and(km.logical_not(inside), km.eq(z, hi))
    at_lo = km.logical_and(km.logical_not(inside), km.logical_not(at_hi))
    return [_c(inside, z), _c(at_lo, z), _c(at_hi, z)]


@defderiv(ps.Mod)
def _mod(i, o):
    x, y = i
    # x mod y = x - floor(x / y) * y
    return [1, km.neg(km.floor(x / y))]


def _zero(node, ts):
    return [ZERO] * len(node.outputs)


for _cls in (ps.Sign, ps.Floor, ps.Ceil, ps.Trunc, ps.RoundHalfToEven, ps.IntDiv, ps.IsNan, ps.IsInf,
             ps.IsFinite, ps.LT, ps.GT, ps.LE, ps.GE, ps.EQ, ps.NEQ, ps.LogicalAnd, ps.LogicalOr,
             ps.LogicalXor, ps.LogicalNot, ps.BitwiseAnd, ps.BitwiseOr, ps.BitwiseXor, ps.Invert):
    ELEMWISE_JVP[_cls] = _zero
