"""More scalar ops for PyTensor-compatible names: complex parts, logaddexp, and SciPy special
functions (Bessel functions, hypergeometric 2F1, incomplete beta, inverse incomplete gamma,
erfcinv, Owen's T).

Like kiln.scalar.special, the SciPy functions are scalar ops (not graphs) so that fusion can
put them in loop kernels; each computes with scipy.special (imported lazily) and follows its
dtype rule (`out_rule = "scipy"`: float32/float64 keep theirs; other dtypes take the ufunc's
first loop they cast to, float32 for the ufuncs in `_FLOAT32_FIRST`, else float64).
The complex-part ops and LogAddExp follow NumPy's own dtype rules (`out_rule = "numpy"`).

Derivatives live in kiln/gradient/rules/special_more.py; where SciPy's function has no closed
form derivative in a parameter (the order of a Bessel function, the parameters of 2F1 and of
the incomplete beta), the derivative is undefined (`Null`) with that reason.

>>> import numpy as np
>>> from kiln.scalar.special_more import jv, logaddexp
>>> round(float(jv.impl(np.float64(0.0), np.float64(1.0))), 6)
0.765198
>>> logaddexp.output_dtypes(["float32", "float32"])
('float32',)
"""
from __future__ import annotations

import numpy as np

from kiln._lazy import scipy_function
from kiln.scalar.basic import ScalarOp
from kiln.scalar.math import BinaryScalarOp, UnaryScalarOp

__all__ = ["Real", "Imag", "Angle", "Conj", "Complex", "LogAddExp", "Erfcinv", "GammaIncInv", "GammaIncCInv",
           "Iv", "Ive", "Jv", "J0", "J1", "Kv", "Kve", "Hyp2F1", "BetaInc", "BetaIncInv", "OwensT",
           "real", "imag", "angle", "conj", "complex_", "logaddexp", "erfcinv", "gammaincinv", "gammainccinv",
           "iv", "ive", "jv", "j0", "j1", "kv", "kve", "hyp2f1", "betainc", "betaincinv", "owens_t"]


# -- complex parts (NumPy's functions and dtype rules) ------------------------------------------
class Real(UnaryScalarOp):
    """Real part (numpy.real): complex64 -> float32, complex128 -> float64, real dtypes unchanged."""
    nfunc = staticmethod(np.real)


class Imag(UnaryScalarOp):
    """Imaginary part (numpy.imag): 0 of the same dtype for real inputs."""
    nfunc = staticmethod(np.imag)


class Angle(UnaryScalarOp):
    """Argument of a complex number (numpy.angle): atan2(imag, real); 0 or pi for reals."""
    nfunc = staticmethod(np.angle)


class Conj(UnaryScalarOp):
    """Complex conjugate (numpy.conjugate); the identity on real dtypes."""
    nfunc = staticmethod(np.conjugate)


def _complex(re, im):
    re, im = np.asarray(re), np.asarray(im)
    # real + 1j * imag would turn an infinite imaginary part into a NaN real part
    dt = np.result_type(re.dtype, im.dtype, np.complex64)
    out = np.empty(np.broadcast_shapes(re.shape, im.shape), dtype=dt)
    out.real = re
    out.imag = im
    return out


class Complex(BinaryScalarOp):
    """complex(real, imag): float32 parts give complex64, every other real dtype complex128."""
    nfunc = staticmethod(_complex)

    def output_dtypes(self, in_dtypes):
        for d in in_dtypes:
            if np.dtype(d).kind == "c":
                raise TypeError(f"{self}: the real and imaginary parts must be real, got dtype {d}")
        return super().output_dtypes(in_dtypes)


class LogAddExp(BinaryScalarOp):
    """log(exp(a) + exp(b)) without overflow (numpy.logaddexp; NumPy's dtype rule)."""
    nfunc = staticmethod(np.logaddexp)
    commutative = True


# -- SciPy special functions ---------------------------------------------------------------------
#: SciPy ufuncs whose first loop is float32 (`ufunc.types[0]`): small ints give float32 there
_FLOAT32_FIRST = {"erfcinv", "iv", "ive", "jv", "kv", "kve", "betainc", "betaincinv", "owens_t"}


def _scipy_op(name: str, nin: int, doc: str) -> type:
    base = UnaryScalarOp if nin == 1 else BinaryScalarOp if nin == 2 else ScalarOp
    attrs = {"__doc__": doc + f" (scipy.special.{name}).  C: not yet (perform).", "out_rule": "scipy",
             "scipy_first_loop": "float32" if name in _FLOAT32_FIRST else "float64",
             "nfunc": staticmethod(scipy_function("special", name)), "__module__": __name__}
    if nin > 2:
        attrs["nin"] = nin
    return type(name.capitalize() if name != "owens_t" else "OwensT", (base,), attrs)


Erfcinv = _scipy_op("erfcinv", 1, "Inverse of the complementary error function, defined on [0, 2]")
GammaIncInv = _scipy_op("gammaincinv", 2, "x with gammainc(a, x) = y: the inverse of P(a, .)")
GammaIncCInv = _scipy_op("gammainccinv", 2, "x with gammaincc(a, x) = y: the inverse of Q(a, .)")
Iv = _scipy_op("iv", 2, "Modified Bessel function of the first kind of real order v, iv(v, x)")
Ive = _scipy_op("ive", 2, "Exponentially scaled modified Bessel function iv(v, x) * exp(-|x|)")
Jv = _scipy_op("jv", 2, "Bessel function of the first kind of real order v, jv(v, x)")
J0 = _scipy_op("j0", 1, "Bessel function of the first kind of order 0")
J1 = _scipy_op("j1", 1, "Bessel function of the first kind of order 1")
Kv = _scipy_op("kv", 2, "Modified Bessel function of the second kind of real order v, kv(v, x)")
Kve = _scipy_op("kve", 2, "Exponentially scaled modified Bessel function kv(v, x) * exp(x)")
Hyp2F1 = _scipy_op("hyp2f1", 4, "Gauss hypergeometric function 2F1(a, b; c; z)")
Hyp2F1.__name__ = Hyp2F1.__qualname__ = "Hyp2F1"
BetaInc = _scipy_op("betainc", 3, "Regularized incomplete beta function I_x(a, b), betainc(a, b, x)")
BetaInc.__name__ = BetaInc.__qualname__ = "BetaInc"
BetaIncInv = _scipy_op("betaincinv", 3, "x with betainc(a, b, x) = y: the inverse of I_.(a, b)")
BetaIncInv.__name__ = BetaIncInv.__qualname__ = "BetaIncInv"
OwensT = _scipy_op("owens_t", 2, "Owen's T function T(h, a)")
for _cls, _n in [(GammaIncInv, "GammaIncInv"), (GammaIncCInv, "GammaIncCInv")]:
    _cls.__name__ = _cls.__qualname__ = _n

real, imag, angle, conj, complex_ = Real(), Imag(), Angle(), Conj(), Complex()
logaddexp = LogAddExp()
erfcinv, gammaincinv, gammainccinv = Erfcinv(), GammaIncInv(), GammaIncCInv()
iv, ive, jv, j0, j1, kv, kve = Iv(), Ive(), Jv(), J0(), J1(), Kv(), Kve()
hyp2f1, betainc, betaincinv, owens_t = Hyp2F1(), BetaInc(), BetaIncInv(), OwensT()
