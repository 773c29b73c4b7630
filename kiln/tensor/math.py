"""The math namespace: elementwise functions, reductions and products.

Each elementwise function is an `Elemwise` op instance, so `kt.exp` is both a
callable and a value that rewrite patterns can name: ``(kt.log, (kt.exp, "x"))``.
"""
from __future__ import annotations

from typing import Any


import kiln.scalar.math as ps
from kiln.scalar import dtypes
from kiln.tensor.basic import as_tensor_variable, constant
from kiln.tensor.elemwise import DimShuffle, Elemwise  # noqa: F401  (DimShuffle is re-exported)
from kiln.tensor.reduction import (All, Any as AnyOp, Argmax, Argmin, Max, Min, Prod, Sum,
                                   normalize_axis, _keep)

# -- elementwise ------------------------------------------------------------------
add = Elemwise(ps.add, name="add")
mul = Elemwise(ps.mul, name="mul")
sub = Elemwise(ps.sub, name="sub")
true_div = Elemwise(ps.true_div, name="true_div")
int_div = Elemwise(ps.int_div, name="int_div")
mod = Elemwise(ps.mod, name="mod")
pow = Elemwise(ps.pow, name="pow")
maximum = Elemwise(ps.maximum, name="maximum")
minimum = Elemwise(ps.minimum, name="minimum")
neg = Elemwise(ps.neg, name="neg")
abs = Elemwise(ps.abs_, name="abs")
sign = Elemwise(ps.sign, name="sign")
sqr = square = Elemwise(ps.sqr, name="sqr")
reciprocal = Elemwise(ps.reciprocal, name="reciprocal")
tensor_copy = Elemwise(ps.identity, name="identity")
clip_op = Elemwise(ps.clip, name="clip")
switch = Elemwise(ps.switch, name="switch")
exp = Elemwise(ps.exp, name="exp")
exp2 = Elemwise(ps.exp2, name="exp2")
expm1 = Elemwise(ps.expm1, name="expm1")
log = Elemwise(ps.log, name="log")
log2 = Elemwise(ps.log2, name="log2")
log10 = Elemwise(ps.log10, name="log10")
log1p = Elemwise(ps.log1p, name="log1p")
sqrt = Elemwise(ps.sqrt, name="sqrt")
sin = Elemwise(ps.sin, name="sin")
cos = Elemwise(ps.cos, name="cos")
tan = Elemwise(ps.tan, name="tan")
arcsin = Elemwise(ps.arcsin, name="arcsin")
arccos = Elemwise(ps.arccos, name="arccos")
arctan = Elemwise(ps.arctan, name="arctan")
arctan2 = Elemwise(ps.arctan2, name="arctan2")
sinh = Elemwise(ps.sinh, name="sinh")
cosh = Elemwise(ps.cosh, name="cosh")
tanh = Elemwise(ps.tanh, name="tanh")
arcsinh = Elemwise(ps.arcsinh, name="arcsinh")
arccosh = Elemwise(ps.arccosh, name="arccosh")
arctanh = Elemwise(ps.arctanh, name="arctanh")
sigmoid = Elemwise(ps.sigmoid, name="sigmoid")
softplus = Elemwise(ps.softplus, name="softplus")
erf = Elemwise(ps.erf, name="erf")
erfc = Elemwise(ps.erfc, name="erfc")
erfinv = Elemwise(ps.erfinv, name="erfinv")
gamma = Elemwise(ps.gamma, name="gamma")
gammaln = Elemwise(ps.gammaln, name="gammaln")
psi = digamma = Elemwise(ps.psi, name="psi")
floor = Elemwise(ps.floor, name="floor")
ceil = Elemwise(ps.ceil, name="ceil")
trunc = Elemwise(ps.trunc, name="trunc")
round_half_to_even = Elemwise(ps.round_half_to_even, name="round_half_to_even")
isnan = Elemwise(ps.isnan, name="isnan")
isinf = Elemwise(ps.isinf, name="isinf")
isfinite = Elemwise(ps.isfinite, name="isfinite")
lt = less = Elemwise(ps.lt, name="lt")
gt = greater = Elemwise(ps.gt, name="gt")
le = less_equal = Elemwise(ps.le, name="le")
ge = greater_equal = Elemwise(ps.ge, name="ge")
eq = equal = Elemwise(ps.eq, name="eq")
neq = not_equal = Elemwise(ps.neq, name="neq")
logical_and = Elemwise(ps.logical_and, name="logical_and")
logical_or = Elemwise(ps.logical_or, name="logical_or")
logical_xor = Elemwise(ps.logical_xor, name="logical_xor")
logical_not = Elemwise(ps.logical_not, name="logical_not")
bitwise_and = and_ = Elemwise(ps.bitwise_and, name="bitwise_and")
bitwise_or = or_ = Elemwise(ps.bitwise_or, name="bitwise_or")
bitwise_xor = xor = Elemwise(ps.bitwise_xor, name="bitwise_xor")
invert = bitwise_not = Elemwise(ps.invert, name="invert")
true_divide, floor_divide, power, negative, absolute = true_div, int_div, pow, neg, abs
inv = reciprocal


def where(cond: Any, a: Any = None, b: Any = None):
    """where(cond, a, b): elementwise choice (switch).  The one-argument form is `nonzero`."""
    if a is None and b is None:
        from kiln.tensor.advanced_nonzero import nonzero  # one argument: np.where(cond) == nonzero

        return nonzero(cond)
    return switch(cond, a, b)


def round(x: Any, mode: str = "half_to_even"):
    """Round to nearest, ties to even (NumPy's rule); `mode="half_away_from_zero"` for C's round."""
    if mode == "half_to_even":
        return round_half_to_even(x)
    if mode == "half_away_from_zero":   # exact for every float (see kiln.tensor.round_half_away_from_zero)
        from kiln.tensor.compat_math import round_half_away_from_zero

        return round_half_away_from_zero(x)
    raise ValueError(f"round: unknown mode {mode!r}")


def clip(x: Any, a_min: Any = None, a_max: Any = None):
    """Limit values to [a_min, a_max] (NumPy's clip; NaN propagates).  Either bound may be
    None (no limit on that side), as in NumPy; with both None the result is a copy of x.

    >>> import numpy as np, kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> clip(x, None, 1.5).eval({x: np.array([-1.0, 2.0])})
    array([-1. ,  1.5])
    """
    if a_min is None and a_max is None:
        return tensor_copy(x)
    if a_min is None:
        return minimum(x, a_max)
    if a_max is None:
        return maximum(x, a_min)
    return clip_op(x, a_min, a_max)


def cast(x: Any, dtype: Any):
    """Convert to `dtype` (NumPy's astype).  A no-op when the dtype already matches."""
    x = as_tensor_variable(x)
    dtype = dtypes.normalize(dtype)
    if x.dtype == dtype:
        return x
    return Elemwise(ps.Cast(dtype))(x)


def relu(x: Any, alpha: float = 0.0):
    """max(x, 0) (with a leaky slope `alpha` for x < 0); relu'(0) is 0."""
    x = as_tensor_variable(x)
    if alpha == 0:
        return maximum(x, 0)
    return switch(gt(x, 0), x, alpha * x)


# -- reductions ---------------------------------------------------------------------
def _reduce(op_cls, x, axis, keepdims, **kw):
    x = as_tensor_variable(x)
    ax = normalize_axis(axis, x.ndim, str(op_cls.__name__).lower())
    out = op_cls(ax, **kw)(x)
    return _keep(out, x.ndim, ax) if keepdims else out


def sum(x: Any, axis=None, dtype=None, keepdims: bool = False, acc_dtype=None):
    """Sum over `axis` (int, tuple or None), NumPy's dtype rules (small ints sum as int64)."""
    return _reduce(Sum, x, axis, keepdims, dtype=dtype)


def prod(x: Any, axis=None, dtype=None, keepdims: bool = False, acc_dtype=None, no_zeros_in_input=False):
    """Product over `axis` (int, tuple or None), NumPy's dtype rules (small ints give int64)."""
    return _reduce(Prod, x, axis, keepdims, dtype=dtype)


def max(x: Any, axis=None, keepdims: bool = False):
    """Maximum over `axis` (NaN propagates; an empty reduction raises at run time)."""
    return _reduce(Max, x, axis, keepdims)


def min(x: Any, axis=None, keepdims: bool = False):
    """Minimum over `axis` (NaN propagates; an empty reduction raises at run time)."""
    return _reduce(Min, x, axis, keepdims)


def any(x: Any, axis=None, keepdims: bool = False):
    """True where any element over `axis` is nonzero (a bool result)."""
    return _reduce(AnyOp, x, axis, keepdims)


def all(x: Any, axis=None, keepdims: bool = False):
    """True where every element over `axis` is nonzero (a bool result)."""
    return _reduce(All, x, axis, keepdims)


def _arg(op_cls, x, axis, keepdims):
    x = as_tensor_variable(x)
    if isinstance(axis, (tuple, list)):
        if len(axis) != 1:
            raise ValueError(f"{op_cls.__name__.lower()}: axis must be an int or None, got {axis}")
        axis = axis[0]
    if axis is not None:
        axis = normalize_axis(axis, x.ndim, op_cls.__name__.lower())[0]
    out = op_cls(axis)(x)
    if keepdims:
        out = _keep(out, x.ndim, tuple(range(x.ndim)) if axis is None else (axis,))
    return out


def argmax(x: Any, axis=None, keepdims: bool = False):
    """Index of the maximum (first one on ties; NaN counts as maximal, as in NumPy)."""
    return _arg(Argmax, x, axis, keepdims)


def argmin(x: Any, axis=None, keepdims: bool = False):
    """Index of the minimum (first one on ties; NaN counts as minimal, as in NumPy)."""
    return _arg(Argmin, x, axis, keepdims)


def _count(x, ax, dtype):
    """Number of elements reduced over, as a 0-d tensor of `dtype`."""
    from kiln.tensor.shape import shape_i

    n = constant(1, dtype="int64")
    for a in ax:
        n = n * shape_i(x, a)
    return cast(n, dtype)


def mean(x: Any, axis=None, dtype=None, keepdims: bool = False, acc_dtype=None):
    """Arithmetic mean with NumPy's dtypes: ints give float64, float16 accumulates in float32."""
    x = as_tensor_variable(x)
    ax = normalize_axis(axis, x.ndim, "mean")
    out_dtype = dtypes.normalize(dtype) if dtype is not None else (
        x.dtype if dtypes.is_continuous(x.dtype) else "float64")
    acc = "float32" if out_dtype == "float16" else out_dtype
    s = sum(cast(x, acc), axis=ax, keepdims=keepdims)
    return cast(true_div(s, _count(x, ax, acc)), out_dtype)


def var(x: Any, axis=None, ddof: int = 0, keepdims: bool = False, corrected: bool = False):
    """Variance, mean((x - mean(x))**2) * n / (n - ddof); `corrected=True` means ddof=1."""
    x = as_tensor_variable(x)
    if corrected:
        ddof = 1
    ax = normalize_axis(axis, x.ndim, "var")
    out_dtype = x.dtype if dtypes.is_continuous(x.dtype) else "float64"
    acc = "float32" if out_dtype == "float16" else out_dtype
    xc = cast(x, acc)
    d = xc - mean(xc, axis=ax, keepdims=True)
    s = sum(d * d, axis=ax, keepdims=keepdims)
    return cast(true_div(s, _count(x, ax, acc) - cast(constant(ddof), acc)), out_dtype)


def std(x: Any, axis=None, ddof: int = 0, keepdims: bool = False, corrected: bool = False):
    """Standard deviation, sqrt(var(x, axis, ddof)), with NumPy's dtypes.

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.std(kt.constant(np.array([1.0, 3.0])), ddof=1).eval().round(4)
    np.float64(1.4142)
    """
    return sqrt(var(x, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected))


def logsumexp(x: Any, axis=None, keepdims: bool = False):
    """log(sum(exp(x))) computed as max + log(sum(exp(x - max))), stable for large |x|."""
    x = as_tensor_variable(x)
    ax = normalize_axis(axis, x.ndim, "logsumexp")
    m = max(x, axis=ax, keepdims=True)
    m = switch(isfinite(m), m, 0)  # all -inf (or an inf) must not produce inf - inf = nan
    out = log(sum(exp(x - m), axis=ax, keepdims=True)) + m
    if not keepdims:
        from kiln.tensor.shape import squeeze

        out = squeeze(out, ax)
    return out


def isclose(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False):
    """NumPy's isclose: |a - b| <= atol + rtol * |b| elementwise (inf equals inf of one sign).

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.isclose(kt.constant(np.array([1.0, np.inf, np.nan])), 1.0 + 1e-9).eval()
    array([ True, False, False])
    """
    a, b = _weak_pair(a, b)
    # exactly NumPy's recipe: only b is made floating (result_type(b, 1.0)), so ints do not
    # overflow in a - b; tolerances are weak Python floats in b's precision
    b = cast(b, dtypes.upcast(b.dtype, 1.0))
    close = logical_and(le(abs(sub(a, b)), atol + rtol * abs(b)), isfinite(b))
    out = logical_or(close, eq(a, b))
    if equal_nan:
        out = logical_or(out, logical_and(isnan(a), isnan(b)))
    return out


def allclose(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False):
    """NumPy's allclose: isclose(...).all() (a 0-d bool)."""
    return all(isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def _weak_pair(a: Any, b: Any):
    from kiln.tensor.elemwise import _weak_inputs

    return _weak_inputs([a, b])


def second(a: Any, b: Any):
    """PyTensor's second(a, b) (alias fill): b's values broadcast to the shape of a + b,
    with b's dtype."""
    a, b = _weak_pair(a, b)
    from kiln.tensor.shape import broadcast_arrays

    return broadcast_arrays(a, b)[1]


fill = second
floor_div = int_div


# -- products ---------------------------------------------------------------------------
from kiln.tensor.blas import Dot, MatMul, dot, matmul, outer, tensordot  # noqa: E402, F401  (re-exported)

# the public names (`from kiln.tensor.math import *` must not export np, typing.Any, ...)
__all__ = [_n for _n, _v in list(globals().items())
           if not _n.startswith("_") and _n not in ("annotations", "Any", "Sequence", "AnyOp")
           and type(_v).__name__ != "module"]


# -- PyTensor module path: names pytensor.tensor.math has that kiln defines elsewhere (see
# kiln/tensor/_reexport.py; resolved from kiln.tensor on first use) --
from kiln.tensor._reexport import lazy_reexport as _lazy_reexport  # noqa: E402

__getattr__, __dir__ = _lazy_reexport(__name__, (
    "angle", "betainc", "betaincinv", "ceil_intdiv", "chi2sf", "complex", "complex_from_polar",
    "conj", "conjugate", "cov", "deg2rad", "dense_dot", "divmod", "erfcinv", "erfcx", "expit",
    "gammainc", "gammaincc", "gammainccinv", "gammaincinv", "gammal", "gammau", "hyp2f1", "i0",
    "i1", "imag", "iround", "isneginf", "isposinf", "iv", "ive", "j0", "j1", "jv", "kn", "kv",
    "kve", "largest", "log1mexp", "log1pexp", "logaddexp", "matvec", "max_and_argmax", "median",
    "nan_to_num", "owens_t", "polygamma", "ptp", "rad2deg", "real", "round_half_away_from_zero",
    "sgn", "smallest", "tri_gamma", "vecdot", "vecmat"))
