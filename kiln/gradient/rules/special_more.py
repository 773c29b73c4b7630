"""Derivatives of the scalar ops in kiln.scalar.special_more (checked by finite differences and
SymPy in tests/tensor/test_compat_special.py).

`MORE_DERIVATIVES` maps a scalar op class to fn(inputs, outputs) -> one entry per input: a
coefficient (the partial derivative as a graph), None (zero), or a string: the reason the
derivative in that input is undefined (a tangent reaching it gives `Null(reason)`).  The table
is kept apart from extra.SPECIAL_DERIVATIVES (each test file checks exactly its own table);
the jvp built from it is extra.py's (`derivative_table_decorator`).

Complex parts (real, imag, angle, conj, complex) have no rule: kiln's gradients are real.
"""
from __future__ import annotations

import math
from typing import Callable

import kiln.scalar.special_more as psm
import kiln.tensor.math as km
from kiln.gradient.rules.extra import derivative_table_decorator

__all__ = ["MORE_DERIVATIVES"]

MORE_DERIVATIVES: dict[type, Callable] = {}

_SQRT_PI = math.sqrt(math.pi)
_SQRT_2 = math.sqrt(2.0)


#: decorator registering into MORE_DERIVATIVES, with extra.py's table-driven jvp
_deriv = derivative_table_decorator(MORE_DERIVATIVES)


def _t():
    import kiln.tensor.compat_math as cm

    return cm


@_deriv(psm.LogAddExp)
def _logaddexp(i, o):
    a, b = i
    # exp(a - out) = sigmoid(a - b): never overflows
    return [km.sigmoid(a - b), km.sigmoid(b - a)]


@_deriv(psm.Erfcinv)
def _erfcinv(i, o):
    # y = erfc(x)  =>  dx/dy = -sqrt(pi)/2 exp(x**2)
    return [(-_SQRT_PI / 2.0) * km.exp(km.sqr(o[0]))]


def _dp_dx(a, x):
    # d/dx gammainc(a, x) = x**(a-1) exp(-x) / Gamma(a)
    return km.exp((a - 1.0) * km.log(x) - x - km.gammaln(a))


@_deriv(psm.GammaIncInv)
def _gammaincinv(i, o):
    from kiln.tensor.nnet import gammainc_da

    a, _ = i
    x = o[0]
    inv = km.reciprocal(_dp_dx(a, x))
    # P(a, x(a, y)) = y  =>  dx/dy = 1 / P_x, dx/da = -P_a / P_x
    return [km.neg(gammainc_da(a, x)) * inv, inv]


@_deriv(psm.GammaIncCInv)
def _gammainccinv(i, o):
    from kiln.tensor.nnet import gammainc_da

    a, _ = i
    x = o[0]
    inv = km.reciprocal(_dp_dx(a, x))
    # Q = 1 - P: dx/dy = -1 / P_x, dx/da = -Q_a / Q_x = -P_a / P_x
    return [km.neg(gammainc_da(a, x)) * inv, km.neg(inv)]


@_deriv(psm.Iv)
def _iv(i, o):
    v, x = i
    iv = _t().iv
    return ["the order v", (iv(v - 1.0, x) + iv(v + 1.0, x)) / 2.0]


@_deriv(psm.Ive)
def _ive(i, o):
    v, x = i
    ive = _t().ive
    # ive = iv exp(-|x|)
    return ["the order v", (ive(v - 1.0, x) + ive(v + 1.0, x)) / 2.0 - km.sign(x) * o[0]]


@_deriv(psm.Jv)
def _jv(i, o):
    v, x = i
    jv = _t().jv
    return ["the order v", (jv(v - 1.0, x) - jv(v + 1.0, x)) / 2.0]


@_deriv(psm.J0)
def _j0(i, o):
    return [km.neg(_t().j1(i[0]))]


@_deriv(psm.J1)
def _j1(i, o):
    (x,) = i
    return [(_t().j0(x) - _t().jv(2.0, x)) / 2.0]


@_deriv(psm.Kv)
def _kv(i, o):
    v, x = i
    kv = _t().kv
    return ["the order v", km.neg(kv(v - 1.0, x) + kv(v + 1.0, x)) / 2.0]


@_deriv(psm.Kve)
def _kve(i, o):
    v, x = i
    kve = _t().kve
    # kve = kv exp(x)
    return ["the order v", km.neg(kve(v - 1.0, x) + kve(v + 1.0, x)) / 2.0 + o[0]]


@_deriv(psm.Hyp2F1)
def _hyp2f1(i, o):
    a, b, c, z = i
    why = "its parameters a, b, c (only z)"
    return [why, why, why, a * b / c * _t().hyp2f1(a + 1.0, b + 1.0, c + 1.0, z)]


def _beta_density(a, b, x):
    # d/dx betainc(a, b, x) = x**(a-1) (1-x)**(b-1) / B(a, b), in log space
    from kiln.tensor.nnet import betaln

    return km.exp((a - 1.0) * km.log(x) + (b - 1.0) * km.log1p(km.neg(x)) - betaln(a, b))


@_deriv(psm.BetaInc)
def _betainc(i, o):
    a, b, x = i
    why = "its shape parameters a, b (only x)"
    return [why, why, _beta_density(a, b, x)]


@_deriv(psm.BetaIncInv)
def _betaincinv(i, o):
    a, b, _ = i
    why = "its shape parameters a, b (only y)"
    return [why, why, km.reciprocal(_beta_density(a, b, o[0]))]


@_deriv(psm.OwensT)
def _owens_t(i, o):
    h, a = i
    # dT/dh = -exp(-h^2/2) erf(a h / sqrt 2) / (2 sqrt(2 pi)); dT/da = exp(-h^2 (1+a^2)/2) / (2 pi (1+a^2))
    one_a2 = 1.0 + km.sqr(a)
    dh = km.neg(km.exp(-0.5 * km.sqr(h)) * km.erf(a * h / _SQRT_2)) / (2.0 * math.sqrt(2.0 * math.pi))
    da = km.exp(-0.5 * km.sqr(h) * one_a2) / (2.0 * math.pi * one_a2)
    return [dh, da]
