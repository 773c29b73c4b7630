"""PyTensor-compatible math names that kiln lacked: complex parts, angle conversions, rounding
variants, logaddexp, nan_to_num, order statistics (median, ptp), cov, interp, and special
functions (Bessel, 2F1, incomplete beta, inverse incomplete gamma, Owen's T, ...).

New special functions are Elemwise instances of the scalar ops in kiln.scalar.special_more
(so they fuse); everything else is a short composition of existing ops, so its gradient comes
from its parts.  Where PyTensor and NumPy differ, NumPy's result (and dtype) wins.

>>> import numpy as np, kiln.tensor as kt
>>> x = kt.vector("x")
>>> [round(float(v), 4) for v in kt.logaddexp(x, 0.0).eval({x: np.array([0.0, 1000.0])})]
[0.6931, 1000.0]
>>> kt.median(x).eval({x: np.array([3.0, 1.0, 2.0, 10.0])})
array(2.5)
"""
from __future__ import annotations

import builtins
import math as _pymath
from typing import Any

import numpy as np

import kiln.scalar.special_more as psm
from kiln.scalar import dtypes
from kiln.tensor import math as km
from kiln.tensor.basic import as_tensor_variable
from kiln.tensor.elemwise import Elemwise

__all__ = ["real", "imag", "angle", "conj", "conjugate", "complex", "complex_from_polar", "deg2rad", "rad2deg",
           "divmod", "expit", "log1pexp", "logaddexp", "isneginf", "isposinf", "iround",
           "round_half_away_from_zero", "sgn", "ceil_intdiv", "nan_to_num", "ptp", "median", "cov", "interp",
           "largest", "smallest", "identity", "erfcinv", "gammaincinv", "gammainccinv", "gammal", "gammau",
           "hyp2f1", "iv", "ive", "j0", "j1", "jv", "kn", "kv", "kve", "betainc", "betaincinv", "chi2sf",
           "owens_t", "tri_gamma", "e", "pi", "inf", "nan", "euler_gamma", "interpolate1d"]

# numerical constants, as in PyTensor (plain Python floats: weak in arithmetic, like NumPy's)
e = _pymath.e
pi = _pymath.pi
inf = _pymath.inf
nan = _pymath.nan
euler_gamma = float(np.euler_gamma)

real = Elemwise(psm.real, name="real")
imag = Elemwise(psm.imag, name="imag")
angle = Elemwise(psm.angle, name="angle")
conj = Elemwise(psm.conj, name="conj")
conjugate = conj
complex = Elemwise(psm.complex_, name="complex")  # noqa: A001  (PyTensor's name)
logaddexp = Elemwise(psm.logaddexp, name="logaddexp")
erfcinv = Elemwise(psm.erfcinv, name="erfcinv")
gammaincinv = Elemwise(psm.gammaincinv, name="gammaincinv")
gammainccinv = Elemwise(psm.gammainccinv, name="gammainccinv")
iv = Elemwise(psm.iv, name="iv")
ive = Elemwise(psm.ive, name="ive")
jv = Elemwise(psm.jv, name="jv")
j0 = Elemwise(psm.j0, name="j0")
j1 = Elemwise(psm.j1, name="j1")
kv = Elemwise(psm.kv, name="kv")
kve = Elemwise(psm.kve, name="kve")
hyp2f1 = Elemwise(psm.hyp2f1, name="hyp2f1")
betainc = Elemwise(psm.betainc, name="betainc")
betaincinv = Elemwise(psm.betaincinv, name="betaincinv")
owens_t = Elemwise(psm.owens_t, name="owens_t")

#: PyTensor's names for the logistic function and softplus
expit = km.sigmoid
log1pexp = km.softplus
#: a copy of the input (PyTensor's `identity`, an elementwise op)
identity = km.tensor_copy


def _float(x: Any):
    """x, cast to the float dtype NumPy's transcendental functions give it (int8 -> float16)."""
    from kiln.scalar.basic import float_out_dtype

    x = as_tensor_variable(x)
    if dtypes.is_float(x.dtype) or (np.dtype(x.dtype).kind == "c"):
        return x
    return km.cast(x, float_out_dtype(x.dtype))


def complex_from_polar(abs: Any, angle: Any):  # noqa: A002  (PyTensor's argument names)
    """abs * exp(1j * angle), built from its real and imaginary parts.

    >>> import kiln.tensor as kt
    >>> kt.complex_from_polar(2.0, 0.0).eval()
    array(2.+0.j)
    """
    r, t = as_tensor_variable(abs), as_tensor_variable(angle)
    return complex(r * km.cos(t), r * km.sin(t))


def deg2rad(x: Any):
    """Degrees to radians (numpy.deg2rad), x * pi / 180.

    >>> import kiln.tensor as kt
    >>> float(kt.deg2rad(180.0).eval()) == float(kt.pi)
    True
    """
    return _float(x) * (pi / 180.0)


def rad2deg(x: Any):
    """Radians to degrees (numpy.rad2deg), x * 180 / pi."""
    return _float(x) * (180.0 / pi)


def divmod(x: Any, y: Any):  # noqa: A001
    """(x // y, x % y) with Python's sign rules (numpy.divmod).

    >>> import kiln.tensor as kt
    >>> [int(v.eval()) for v in kt.divmod(-7, 2)]
    [-4, 1]
    """
    return km.floor_div(x, y), km.mod(x, y)


def isposinf(x: Any):
    """True where x is +inf (numpy.isposinf)."""
    x = as_tensor_variable(x)
    return km.and_(km.isinf(x), km.gt(x, 0))


def isneginf(x: Any):
    """True where x is -inf (numpy.isneginf)."""
    x = as_tensor_variable(x)
    return km.and_(km.isinf(x), km.lt(x, 0))


def round_half_away_from_zero(x: Any):
    """Round to nearest, ties away from zero (C's round): 0.5 -> 1, -2.5 -> -3.

    Computed as trunc(x) plus sign(x) where |x - trunc(x)| >= 0.5 (x - trunc(x) is exact, so
    0.49999999999999994 stays 0, which floor(|x| + 0.5) would round to 1).  Integers pass through.

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.round_half_away_from_zero(kt.constant([0.5, -2.5, 1.4])).eval()
    array([ 1., -3.,  1.])
    """
    x = as_tensor_variable(x)
    if not dtypes.is_float(x.dtype):
        return km.tensor_copy(x)
    t = km.trunc(x)
    return km.switch(km.ge(km.abs(x - t), 0.5), t + km.sign(x), t)


def iround(a: Any, mode: str | None = None):
    """round(a, mode) cast to int64 (PyTensor's iround; mode None = "half_to_even", NumPy's rule)."""
    a = as_tensor_variable(a)
    if mode in (None, "half_to_even"):
        r = km.round(a) if dtypes.is_float(a.dtype) else a
    elif mode == "half_away_from_zero":
        r = round_half_away_from_zero(a)
    else:
        raise ValueError(f"iround: unknown mode {mode!r}")
    return km.cast(r, "int64")


def sgn(a: Any):
    """The sign of a (PyTensor's deprecated alias of `sign`)."""
    return km.sign(a)


def ceil_intdiv(a: Any, b: Any):
    """ceil(a / b) for integers, computed exactly as a // b + (a % b != 0).

    >>> import kiln.tensor as kt
    >>> int(kt.ceil_intdiv(7, 2).eval()), int(kt.ceil_intdiv(-7, 2).eval())
    (4, -3)
    """
    div = km.floor_div(a, b)
    return div + km.cast(km.neq(km.mod(a, b), 0), div.dtype)


def nan_to_num(x: Any, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None):  # noqa: A002
    """NaN -> nan, +inf -> posinf (default: the dtype's largest finite value), -inf -> neginf
    (default: its most negative finite value), as numpy.nan_to_num; integers pass through.

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.nan_to_num(kt.constant([np.nan, np.inf, 1.0]), posinf=9.0).eval()
    array([0., 9., 1.])
    """
    x = as_tensor_variable(x)
    if not dtypes.is_float(x.dtype):
        if np.dtype(x.dtype).kind == "c":
            return complex(nan_to_num(real(x), nan, posinf, neginf), nan_to_num(imag(x), nan, posinf, neginf))
        return km.tensor_copy(x)
    info = np.finfo(x.dtype)
    big = info.max if posinf is None else posinf
    small = info.min if neginf is None else neginf
    fill = [np.asarray(v, dtype=x.dtype)[()] for v in (nan, big, small)]
    y = km.switch(km.isnan(x), fill[0], x)
    y = km.switch(isposinf(x), fill[1], y)
    return km.switch(isneginf(x), fill[2], y)


def largest(*args: Any):
    """Elementwise maximum of any number of tensors (PyTensor's largest).

    >>> import kiln.tensor as kt
    >>> kt.largest(1.0, 3.0, 2.0).eval()
    array(3.)
    """
    if not args:
        raise TypeError("largest: needs at least one input")
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = km.maximum(out, a)
    return out


def smallest(*args: Any):
    """Elementwise minimum of any number of tensors (PyTensor's smallest)."""
    if not args:
        raise TypeError("smallest: needs at least one input")
    out = as_tensor_variable(args[0])
    for a in args[1:]:
        out = km.minimum(out, a)
    return out


def ptp(a: Any, axis: Any = None, keepdims: bool = False):
    """Range max - min along axis (numpy.ptp)."""
    a = as_tensor_variable(a)
    return km.sub(km.max(a, axis=axis, keepdims=keepdims), km.min(a, axis=axis, keepdims=keepdims))


def _normalize_axes(axis: Any, ndim: int) -> list[int]:
    if axis is None:
        return list(range(ndim))
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    out = []
    for ax in axes:
        if not -ndim <= ax < builtins.max(ndim, 1):
            raise ValueError(f"axis {ax} is out of bounds for a tensor of {ndim} dims")
        out.append(int(ax) % builtins.max(ndim, 1))
    return sorted(set(out))


def median(x: Any, axis: Any = None):
    """Median along axis (numpy.median; axis None = all axes, or an int or tuple of ints).

    Sorted along the reduced axes, the middle element, or the mean of the two middle ones
    for an even count.  float inputs keep their dtype; integers give float64, as in NumPy.
    A slice holding a NaN, or an empty one, gives nan (NumPy's results).
    """
    from kiln.tensor.creation import full
    from kiln.tensor.extra_ops import sort
    from kiln.tensor.join import concatenate
    from kiln.tensor.shape import reshape, shape_i, transpose

    x = as_tensor_variable(x)
    axes = _normalize_axes(axis, x.ndim)
    keep = [i for i in range(x.ndim) if i not in axes]
    if x.ndim == 0:
        flat = reshape(x, (1,))
    else:
        flat = transpose(x, keep + axes)
        if len(axes) != 1:
            flat = reshape(flat, [shape_i(x, i) for i in keep] + [-1], ndim=len(keep) + 1)
    out_dt = x.dtype if dtypes.is_float(x.dtype) else "float64"
    srt = km.cast(sort(flat, axis=-1), out_dt)
    n = shape_i(srt, srt.ndim - 1)
    # a NaN column after the data: an empty slice reads it (NumPy's median of nothing is nan),
    # and NaNs sort last, so the slice's last element tells whether it holds one (then nan too)
    nan_col = full([shape_i(srt, i) for i in range(srt.ndim - 1)] + [1], np.nan, dtype=out_dt)
    srt = concatenate([srt, nan_col], axis=-1)
    k = km.floor_div(n, 2)
    pre = (slice(None),) * (srt.ndim - 1)
    hi = srt[pre + (k,)]
    lo = srt[pre + (k - 1,)]
    last = srt[pre + (n - 1,)]
    even = km.cast((hi + lo) / 2.0, out_dt)
    res = km.switch(km.eq(km.mod(n, 2), 0), even, hi)
    return km.switch(km.isnan(last), last, res)


def cov(m: Any, y: Any = None, rowvar: bool = True, bias: bool = False, ddof: int | None = None,
        fweights: Any = None, aweights: Any = None):
    """Covariance matrix estimate (numpy.cov): rows are variables when rowvar (columns otherwise),
    normalized by N - 1 (N with bias=True, N - ddof with ddof); fweights/aweights as in NumPy.

    >>> import numpy as np, kiln.tensor as kt
    >>> m = np.array([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]])
    >>> np.allclose(kt.cov(m).eval(), np.cov(m))
    True
    """
    from kiln.tensor.join import join
    from kiln.tensor.shape import shape_i, transpose

    m = _float(m)
    if m.ndim > 2:
        raise ValueError(f"cov: m must have at most 2 dims, got {m.ndim}")

    def as_2d(v):
        v = _float(v)
        if v.ndim == 0:
            v = v.dimshuffle("x", "x")
        elif v.ndim == 1:
            v = v.dimshuffle("x", 0)
        elif not rowvar:
            v = transpose(v)
        return v

    X = as_2d(m)
    if y is not None:
        X = join(0, X, as_2d(y))
    # numpy.cov computes in result_type(m, float64): float32 data gives a float64 covariance
    dt = str(np.result_type(X.dtype, np.float64))
    if X.dtype != dt:
        X = km.cast(X, dt)
    if ddof is None:
        ddof = 0 if bias else 1
    w = None
    if fweights is not None:
        w = km.cast(as_tensor_variable(fweights), X.dtype)
    if aweights is not None:
        aw = km.cast(as_tensor_variable(aweights), X.dtype)
        w = aw if w is None else w * aw
    if w is None:
        n = km.cast(shape_i(X, 1), X.dtype)
        avg = km.mean(X, axis=1)
        fact = n - ddof
        Xc = X - avg.dimshuffle(0, "x")
        c = km.dot(Xc, transpose(_conj_if_complex(Xc)))
    else:
        w_sum = km.sum(w)
        avg = km.sum(X * w.dimshuffle("x", 0), axis=1) / w_sum
        if ddof == 0:
            fact = w_sum
        elif aweights is None:
            fact = w_sum - ddof
        else:
            fact = w_sum - ddof * km.sum(w * km.cast(as_tensor_variable(aweights), X.dtype)) / w_sum
        Xc = X - avg.dimshuffle(0, "x")
        c = km.dot(Xc * w.dimshuffle("x", 0), transpose(_conj_if_complex(Xc)))
    c = c / km.cast(fact, X.dtype)
    # NumPy squeezes the result: one variable (statically known) gives a 0-d covariance
    return c[0, 0] if X.type.shape[0] == 1 else c


def _conj_if_complex(x):
    return conj(x) if np.dtype(x.dtype).kind == "c" else x


def interp(x: Any, xp: Any, fp: Any, left: Any = None, right: Any = None, period: Any = None):
    """One-dimensional linear interpolation (numpy.interp): xp increasing; below xp[0] gives
    left (default fp[0]), above xp[-1] gives right (default fp[-1]).

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.interp(kt.constant([0.5, 3.0]), kt.constant([0.0, 1.0, 2.0]), kt.constant([0.0, 10.0, 20.0])).eval()
    array([ 5., 20.])
    """
    if period is not None:
        raise NotImplementedError("interp: period= is not supported (as in PyTensor)")
    from kiln.tensor.extra_ops import searchsorted

    x, xp, fp = _float(x), _float(xp), _float(fp)
    if xp.ndim != 1 or fp.ndim != 1:
        raise ValueError(f"interp: xp and fp must be vectors, got {xp.ndim} and {fp.ndim} dims")
    n = xp.shape[0]
    # the interval [xp[i-1], xp[i]] holding x, clipped so that both ends exist
    i = km.clip(searchsorted(xp, x, side="right"), 1, n - 1)
    x0, x1, f0, f1 = xp[i - 1], xp[i], fp[i - 1], fp[i]
    slope = (f1 - f0) / (x1 - x0)
    y = f0 + slope * (x - x0)
    y = km.switch(km.eq(x, x1), f1, y)   # exact at the nodes (and where x1 == x0 duplicates)
    lo = fp[0] if left is None else left
    hi = fp[-1] if right is None else right
    y = km.switch(km.lt(x, xp[0]), lo, y)
    y = km.switch(km.gt(x, xp[-1]), hi, y)
    dt = dtypes.upcast(x.dtype, xp.dtype, fp.dtype)
    dt = "float64" if dt not in ("float32", "float64") else dt
    return km.cast(y, dt)


_INTERP_METHODS = ("linear", "nearest", "first", "last", "mean")


def interpolate1d(x: Any, y: Any, method: str = "linear", left_pad: Any = None, right_pad: Any = None,
                  extrapolate: bool = True):
    """PyTensor's interpolate1d: a function x_hat -> y_hat interpolating the points (x, y)
    (sorted by x first).  method: "linear", "nearest", "first" (the value at the left point),
    "last" (at the right point) or "mean" (of both).  With extrapolate=False, queries with
    searchsorted index 0 (x_hat <= x[0]) give left_pad (default y[0]) and past x[-1] right_pad
    (default y[-1]); with extrapolate=True the end intervals extend.

    >>> import numpy as np, kiln.tensor as kt
    >>> f = kt.interpolate1d(kt.constant([0.0, 1.0, 2.0]), kt.constant([0.0, 10.0, 0.0]))
    >>> f(kt.constant([0.5, 1.5, 3.0])).eval()
    array([  5.,   5., -10.])
    """
    from kiln.tensor.extra_ops import argsort, searchsorted

    if method not in _INTERP_METHODS:
        raise NotImplementedError(f"interpolate1d: unknown method {method!r}; choose one of {_INTERP_METHODS}")
    x, y = as_tensor_variable(x), as_tensor_variable(y)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError(f"interpolate1d: x and y must be 1-d, got {x.ndim} and {y.ndim} dims")
    order = argsort(x)
    x, y = x[order], y[order]
    lp = y[0] if left_pad is None else as_tensor_variable(left_pad)
    rp = y[-1] if right_pad is None else as_tensor_variable(right_pad)

    def interp_at(x_hat: Any):
        x_hat = as_tensor_variable(x_hat)
        n = x.shape[0]
        idx = searchsorted(x, x_hat)
        inner = km.clip(idx, 1, n - 1)
        if method == "linear":
            y_hat = y[inner - 1] + (x_hat - x[inner - 1]) / (x[inner] - x[inner - 1]) * (y[inner] - y[inner - 1])
        elif method == "nearest":
            closer_left = km.le(x_hat - x[inner - 1], x[inner] - x_hat)
            y_hat = km.switch(closer_left, y[inner - 1], y[inner])
        elif method == "first":
            y_hat = y[km.clip(idx - 1, 0, n - 1)]
        elif method == "last":
            y_hat = y[km.clip(idx, 0, n - 1)]
        else:
            y_hat = (y[inner - 1] + y[inner]) / 2
        if extrapolate:
            return y_hat
        return km.switch(km.eq(idx, 0), lp, km.switch(km.eq(idx, n), rp, y_hat))

    return interp_at


# -- special functions that are compositions ------------------------------------------------------
def gammal(k: Any, x: Any):
    """Lower incomplete gamma function gamma(k, x) = gammainc(k, x) * Gamma(k) (not regularized)."""
    from kiln.tensor.nnet import gammainc

    return gammainc(k, x) * km.gamma(k)


def gammau(k: Any, x: Any):
    """Upper incomplete gamma function Gamma(k, x) = gammaincc(k, x) * Gamma(k) (not regularized)."""
    from kiln.tensor.nnet import gammaincc

    return gammaincc(k, x) * km.gamma(k)


def kn(n: Any, x: Any):
    """Modified Bessel function of the second kind of integer order n (= kv(n, x))."""
    return kv(n, x)


def chi2sf(x: Any, k: Any):
    """Survival function of the chi-squared distribution with k degrees of freedom,
    gammaincc(k / 2, x / 2) (scipy.stats.chi2.sf).

    >>> import kiln.tensor as kt
    >>> round(float(kt.chi2sf(2.0, 2.0).eval()), 6)     # exp(-1)
    0.367879
    """
    from kiln.tensor.nnet import gammaincc

    return gammaincc(_float(k) / 2.0, _float(x) / 2.0)


def tri_gamma(x: Any):
    """Trigamma function psi'(x) = polygamma(1, x).

    >>> import kiln.tensor as kt
    >>> round(float(kt.tri_gamma(1.0).eval()), 6)     # pi**2 / 6
    1.644934
    """
    from kiln.tensor.nnet import polygamma

    return polygamma(1, x)
