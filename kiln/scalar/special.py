"""Special-function scalar ops (issue 5): log1mexp, xlogy, xlog1py, betaln, beta, gammainc,
gammaincc, erfcx, i0, i1, polygamma.

They are scalar ops (not graphs of existing ones) so that fusion can put them in loop
kernels and a C backend can render them later.  Each computes with scipy.special and
follows its dtype rule (`out_rule = "scipy"`: float32 -> float32; int8, float16 and every
other real dtype -> float64, as these ufuncs try their float64 loop first); log1mexp is NumPy arithmetic and follows NumPy's
transcendental rule (int8 -> float16).

Their derivatives live in kiln/gradient/rules/extra.py (checked against SymPy).

>>> import numpy as np
>>> from kiln.scalar.special import xlogy, log1mexp
>>> xlogy.impl(np.array([0.0, 2.0]), np.array([0.0, 1.0]))
array([0., 0.])
>>> log1mexp.output_dtypes(["float32"])
('float32',)
"""
from __future__ import annotations

import functools

import numpy as np

from kiln._lazy import scipy_function, scipy_module
from kiln.scalar.math import BinaryScalarOp, UnaryScalarOp

__all__ = ["Log1mexp", "XLogY", "XLog1py", "BetaLn", "Beta", "GammaInc", "GammaIncC", "GammaIncDa", "Erfcx", "I0",
           "I1", "Polygamma", "log1mexp", "xlogy", "xlog1py", "betaln", "beta", "gammainc", "gammaincc", "gammainc_da",
           "erfcx", "i0", "i1", "polygamma"]


class Log1mexp(UnaryScalarOp):
    """log(1 - exp(x)) for x <= 0, computed stably (Maechler's switch at -log 2).
    x > 0 gives NaN, x = 0 gives -inf.  C: kiln_log1mexp in kiln_prelude.h."""
    out_rule = "float"

    @staticmethod
    def nfunc(x):
        x = np.asarray(x)
        with np.errstate(all="ignore"):
            # near 0, 1 - exp(x) = -expm1(x) loses nothing; far below, log1p(-exp(x)) is exact
            return np.where(x > -np.log(2.0), np.log(-np.expm1(x)), np.log1p(-np.exp(x)))


class XLogY(BinaryScalarOp):
    """x * log(y), 0 where x == 0 unless y is NaN (scipy.special.xlogy).  C: kiln_xlogy."""
    out_rule = "scipy"
    nfunc = staticmethod(scipy_function("special", "xlogy"))


class XLog1py(BinaryScalarOp):
    """x * log1p(y), 0 where x == 0 unless y is NaN (scipy.special.xlog1py).  C: kiln_xlog1py."""
    out_rule = "scipy"
    nfunc = staticmethod(scipy_function("special", "xlog1py"))


class BetaLn(BinaryScalarOp):
    """log|B(a, b)| (scipy.special.betaln).  C: not yet (perform)."""
    out_rule = "scipy"
    nfunc = staticmethod(scipy_function("special", "betaln"))


class Beta(BinaryScalarOp):
    """B(a, b) = Gamma(a) Gamma(b) / Gamma(a + b) (scipy.special.beta).  C: not yet (perform)."""
    out_rule = "scipy"
    nfunc = staticmethod(scipy_function("special", "beta"))


class GammaInc(BinaryScalarOp):
    """Regularized lower incomplete gamma P(a, x) (scipy.special.gammainc).  C: not yet (perform)."""
    out_rule = "scipy"
    nfunc = staticmethod(scipy_function("special", "gammainc"))


class GammaIncC(BinaryScalarOp):
    """Regularized upper incomplete gamma Q(a, x) = 1 - P(a, x) (scipy.special.gammaincc).
    C: not yet (perform)."""
    out_rule = "scipy"
    nfunc = staticmethod(scipy_function("special", "gammaincc"))


def _gammainc_da(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """d/da of the regularized lower incomplete gamma P(a, x), for a > 0, x >= 0.

    x < a + 1: the series P = sum_k T_k, T_k = exp((a+k) log x - x - gammaln(a+k+1)), whose
    a-derivative is sum_k T_k (log x - psi(a+k+1)); its terms shrink geometrically here.
    x >= a + 1: dP/da = -dQ/da with Gamma(a, x) = int_x^inf t^(a-1) e^-t dt written as
    e^-x x^(a-1) / r * int_0^inf e^-u (1+s/x)^(a-1) e^(-s(a-1)/x) du (s = u / r,
    r = 1 - (a-1)/x), by Gauss-Laguerre quadrature of a smooth, slowly varying integrand.
    """
    a, x = np.broadcast_arrays(np.asarray(a, dtype="float64"), np.asarray(x, dtype="float64"))
    out = np.full(a.shape, np.nan)
    ok = (a > 0) & (x >= 0)
    out[ok & (x == 0)] = 0.0
    # the series up to a + 1 + sqrt(a): where P is still well below 1 (no cancellation); the
    # quadrature beyond, where its Gaussian-like integrand is wide enough for the nodes
    ser = ok & (x > 0) & (x < a + 1 + np.sqrt(a))
    if ser.any():
        aa, xx = a[ser], x[ser]
        lx = np.log(xx)
        total = np.zeros_like(aa)
        for k in range(100_000):
            ak = aa + k
            term = np.exp(ak * lx - xx - scipy_module("special").gammaln(ak + 1)) * (lx - scipy_module("special").psi(ak + 1))
            total += term
            # the ratio of consecutive terms is about x / (a + k + 1) < 1: stop when negligible
            if np.all(np.abs(term) <= 1e-17 * np.abs(total)) and k > 2:
                break
        out[ser] = total
    cf = ok & (x >= a + 1 + np.sqrt(a))
    if cf.any():
        aa, xx = a[cf][:, None], x[cf][:, None]
        u, w = _laguerre()
        r = 1.0 - (aa - 1.0) / xx
        sn = u / r
        h = (aa - 1.0) * (np.log1p(sn / xx) - sn / xx)
        lxs = np.log(xx + sn)
        pre = np.exp(-xx + (aa - 1.0) * np.log(xx) - scipy_module("special").gammaln(aa)) / r
        # dQ/da = int_x^inf t^(a-1) e^-t (log t - psi(a)) dt / Gamma(a)
        dq = pre[:, 0] * np.sum(w * np.exp(h) * (lxs - scipy_module("special").psi(aa)), axis=1)
        out[cf] = -dq
    return out


@functools.cache
def _laguerre() -> tuple[np.ndarray, np.ndarray]:
    """120-point Gauss-Laguerre nodes and weights (computed on first use: an eigenproblem)."""
    return np.polynomial.laguerre.laggauss(120)


class GammaIncDa(BinaryScalarOp):
    """d/da of gammainc(a, x) (the shape-parameter derivative used by gammainc's and
    gammaincc's jvp rules; NaN outside a > 0, x >= 0).  C: not yet (perform)."""
    out_rule = "float"

    @staticmethod
    def nfunc(a, x):
        return _gammainc_da(a, x)


class Erfcx(UnaryScalarOp):
    """Scaled complementary error function exp(x**2) erfc(x) (scipy.special.erfcx).
    C: not yet (perform)."""
    out_rule = "scipy"
    nfunc = staticmethod(scipy_function("special", "erfcx"))


class I0(UnaryScalarOp):
    """Modified Bessel function of the first kind, order 0 (scipy.special.i0).  C: not yet (perform)."""
    out_rule = "scipy"
    nfunc = staticmethod(scipy_function("special", "i0"))


class I1(UnaryScalarOp):
    """Modified Bessel function of the first kind, order 1 (scipy.special.i1).  C: not yet (perform)."""
    out_rule = "scipy"
    nfunc = staticmethod(scipy_function("special", "i1"))


class Polygamma(BinaryScalarOp):
    """polygamma(n, x): the n-th derivative of digamma (scipy.special.polygamma); n is an
    integer input.  The result dtype is SciPy's: NumPy's transcendental rule on both inputs
    (an int64 array n with float32 x gives float64; a Python int n is weak).  C: not yet (perform)."""
    out_rule = "scipy"

    def output_dtypes(self, in_dtypes):
        in_dtypes = tuple(in_dtypes)
        if len(in_dtypes) == 2 and np.dtype(in_dtypes[0]).kind not in "iub":
            raise TypeError(f"{self}: the order n must be an integer, got dtype {in_dtypes[0]}")
        return super().output_dtypes(in_dtypes)

    @staticmethod
    def nfunc(n, x):
        n = np.asarray(n)
        if n.size and np.any(n < 0):
            raise ValueError(f"polygamma: the order n must be >= 0, got {n.min()}")
        return scipy_module("special").polygamma(n, x)


log1mexp, xlogy, xlog1py, betaln, beta = Log1mexp(), XLogY(), XLog1py(), BetaLn(), Beta()
gammainc, gammaincc, erfcx, i0, i1, polygamma = GammaInc(), GammaIncC(), Erfcx(), I0(), I1(), Polygamma()
gammainc_da = GammaIncDa()
