"""The scalar ops.  One short class per op: its NumPy function and its dtype rule.

Derivative rules are kept in kiln.gradient's tables keyed by these classes; C and
CUDA templates in the linkers' tables.  Functions outside NumPy come from
scipy.special (computed in float32 at least, then cast back, for float16).
"""
from __future__ import annotations

import numpy as np
from kiln._lazy import scipy_function

from kiln.scalar.basic import ScalarOp
from kiln.scalar import dtypes


class UnaryScalarOp(ScalarOp):
    """A scalar op of one input."""
    nin = 1


class BinaryScalarOp(ScalarOp):
    """A scalar op of two inputs."""
    nin = 2


# -- arithmetic -------------------------------------------------------------------
class Add(ScalarOp):
    nin = -1; nfunc = staticmethod(np.add); commutative = True; associative = True; identity = 0


class Mul(ScalarOp):
    nin = -1; nfunc = staticmethod(np.multiply); commutative = True; associative = True; identity = 1


class Sub(BinaryScalarOp):
    nfunc = staticmethod(np.subtract)


class TrueDiv(BinaryScalarOp):
    nfunc = staticmethod(np.true_divide)


class IntDiv(BinaryScalarOp):
    nfunc = staticmethod(np.floor_divide)


class Mod(BinaryScalarOp):
    nfunc = staticmethod(np.remainder)


class Pow(BinaryScalarOp):
    nfunc = staticmethod(np.power)


class Maximum(BinaryScalarOp):
    nfunc = staticmethod(np.maximum); commutative = True


class Minimum(BinaryScalarOp):
    nfunc = staticmethod(np.minimum); commutative = True


class Neg(UnaryScalarOp):
    nfunc = staticmethod(np.negative)


class Abs(UnaryScalarOp):
    nfunc = staticmethod(np.absolute)


class Sign(UnaryScalarOp):
    nfunc = staticmethod(np.sign)


class Sqr(UnaryScalarOp):
    nfunc = staticmethod(np.square)


class Reciprocal(UnaryScalarOp):
    nfunc = staticmethod(np.reciprocal)


class Identity(UnaryScalarOp):
    nfunc = staticmethod(np.positive)


class Clip(ScalarOp):
    """clip(x, lo, hi): NumPy's clip (NaN propagates; lo > hi gives hi)."""
    nin = 3; nfunc = staticmethod(np.clip)


class Switch(ScalarOp):
    """switch(cond, a, b): a where cond is true, else b (NumPy's where)."""
    nin = 3

    @staticmethod
    def nfunc(c, a, b):
        return np.where(c, a, b)


class Cast(UnaryScalarOp):
    """Conversion to a fixed dtype (NumPy's astype: floats truncate toward zero, ints wrap)."""
    __props__ = ("dtype",)

    def __init__(self, dtype: str):
        self.dtype = dtypes.normalize(dtype)

    def __str__(self) -> str:
        return f"cast{{{self.dtype}}}"

    def output_dtypes(self, in_dtypes):
        return (self.dtype,)

    def impl(self, x):
        return np.asarray(x).astype(self.dtype)


# -- exponentials and logarithms --------------------------------------------------
class Exp(UnaryScalarOp):
    nfunc = staticmethod(np.exp)


class Exp2(UnaryScalarOp):
    nfunc = staticmethod(np.exp2)


class Expm1(UnaryScalarOp):
    nfunc = staticmethod(np.expm1)


class Log(UnaryScalarOp):
    nfunc = staticmethod(np.log)


class Log2(UnaryScalarOp):
    nfunc = staticmethod(np.log2)


class Log10(UnaryScalarOp):
    nfunc = staticmethod(np.log10)


class Log1p(UnaryScalarOp):
    nfunc = staticmethod(np.log1p)


class Sqrt(UnaryScalarOp):
    nfunc = staticmethod(np.sqrt)


# -- trigonometric and hyperbolic -------------------------------------------------
class Sin(UnaryScalarOp):
    nfunc = staticmethod(np.sin)


class Cos(UnaryScalarOp):
    nfunc = staticmethod(np.cos)


class Tan(UnaryScalarOp):
    nfunc = staticmethod(np.tan)


class ArcSin(UnaryScalarOp):
    nfunc = staticmethod(np.arcsin)


class ArcCos(UnaryScalarOp):
    nfunc = staticmethod(np.arccos)


class ArcTan(UnaryScalarOp):
    nfunc = staticmethod(np.arctan)


class ArcTan2(BinaryScalarOp):
    nfunc = staticmethod(np.arctan2)


class Sinh(UnaryScalarOp):
    nfunc = staticmethod(np.sinh)


class Cosh(UnaryScalarOp):
    nfunc = staticmethod(np.cosh)


class Tanh(UnaryScalarOp):
    nfunc = staticmethod(np.tanh)


class ArcSinh(UnaryScalarOp):
    nfunc = staticmethod(np.arcsinh)


class ArcCosh(UnaryScalarOp):
    nfunc = staticmethod(np.arccosh)


class ArcTanh(UnaryScalarOp):
    nfunc = staticmethod(np.arctanh)


# -- special functions (scipy.special) --------------------------------------------
class Sigmoid(UnaryScalarOp):
    nfunc = staticmethod(scipy_function("special", "expit")); out_rule = "scipy"


class Softplus(UnaryScalarOp):
    """log(1 + exp(x)), computed without overflow."""
    out_rule = "float"

    @staticmethod
    def nfunc(x):
        return np.logaddexp(0.0, x)


class Erf(UnaryScalarOp):
    nfunc = staticmethod(scipy_function("special", "erf")); out_rule = "scipy"


class Erfc(UnaryScalarOp):
    nfunc = staticmethod(scipy_function("special", "erfc")); out_rule = "scipy"


class Erfinv(UnaryScalarOp):
    nfunc = staticmethod(scipy_function("special", "erfinv")); out_rule = "scipy"
    scipy_first_loop = "float32"   # SciPy's erfinv tries its float32 loop first


class Gamma(UnaryScalarOp):
    nfunc = staticmethod(scipy_function("special", "gamma")); out_rule = "scipy"


class GammaLn(UnaryScalarOp):
    nfunc = staticmethod(scipy_function("special", "gammaln")); out_rule = "scipy"


class Psi(UnaryScalarOp):
    nfunc = staticmethod(scipy_function("special", "psi")); out_rule = "scipy"


# -- rounding ---------------------------------------------------------------------
class Floor(UnaryScalarOp):
    nfunc = staticmethod(np.floor)


class Ceil(UnaryScalarOp):
    nfunc = staticmethod(np.ceil)


class Trunc(UnaryScalarOp):
    nfunc = staticmethod(np.trunc)


class RoundHalfToEven(UnaryScalarOp):
    nfunc = staticmethod(np.round)


# -- predicates and comparisons ---------------------------------------------------
class IsNan(UnaryScalarOp):
    nfunc = staticmethod(np.isnan)


class IsInf(UnaryScalarOp):
    nfunc = staticmethod(np.isinf)


class IsFinite(UnaryScalarOp):
    nfunc = staticmethod(np.isfinite)


class LT(BinaryScalarOp):
    compares_by_value = True  # Python ints of any size compare by value (NumPy 2)
    nfunc = staticmethod(np.less)


class GT(BinaryScalarOp):
    compares_by_value = True  # Python ints of any size compare by value (NumPy 2)
    nfunc = staticmethod(np.greater)


class LE(BinaryScalarOp):
    compares_by_value = True  # Python ints of any size compare by value (NumPy 2)
    nfunc = staticmethod(np.less_equal)


class GE(BinaryScalarOp):
    compares_by_value = True  # Python ints of any size compare by value (NumPy 2)
    nfunc = staticmethod(np.greater_equal)


class EQ(BinaryScalarOp):
    compares_by_value = True  # Python ints of any size compare by value (NumPy 2)
    nfunc = staticmethod(np.equal); commutative = True


class NEQ(BinaryScalarOp):
    compares_by_value = True  # Python ints of any size compare by value (NumPy 2)
    nfunc = staticmethod(np.not_equal); commutative = True


# -- logic and bits -----------------------------------------------------------------
class LogicalAnd(BinaryScalarOp):
    nfunc = staticmethod(np.logical_and); commutative = True


class LogicalOr(BinaryScalarOp):
    nfunc = staticmethod(np.logical_or); commutative = True


class LogicalXor(BinaryScalarOp):
    nfunc = staticmethod(np.logical_xor); commutative = True


class LogicalNot(UnaryScalarOp):
    nfunc = staticmethod(np.logical_not)


class BitwiseAnd(BinaryScalarOp):
    nfunc = staticmethod(np.bitwise_and); commutative = True


class BitwiseOr(BinaryScalarOp):
    nfunc = staticmethod(np.bitwise_or); commutative = True


class BitwiseXor(BinaryScalarOp):
    nfunc = staticmethod(np.bitwise_xor); commutative = True


class Invert(UnaryScalarOp):
    nfunc = staticmethod(np.invert)


# singletons: scalar ops without parameters are used as values (kiln.scalar.exp, ...)
add, mul, sub, true_div, int_div, mod, pow = Add(), Mul(), Sub(), TrueDiv(), IntDiv(), Mod(), Pow()
maximum, minimum, neg, abs_, sign, sqr, reciprocal = Maximum(), Minimum(), Neg(), Abs(), Sign(), Sqr(), Reciprocal()
identity, clip, switch = Identity(), Clip(), Switch()
exp, exp2, expm1, log, log2, log10, log1p, sqrt = Exp(), Exp2(), Expm1(), Log(), Log2(), Log10(), Log1p(), Sqrt()
sin, cos, tan, arcsin, arccos, arctan, arctan2 = Sin(), Cos(), Tan(), ArcSin(), ArcCos(), ArcTan(), ArcTan2()
sinh, cosh, tanh, arcsinh, arccosh, arctanh = Sinh(), Cosh(), Tanh(), ArcSinh(), ArcCosh(), ArcTanh()
sigmoid, softplus, erf, erfc, erfinv, gamma, gammaln, psi = (
    Sigmoid(), Softplus(), Erf(), Erfc(), Erfinv(), Gamma(), GammaLn(), Psi())
floor, ceil, trunc, round_half_to_even = Floor(), Ceil(), Trunc(), RoundHalfToEven()
isnan, isinf, isfinite = IsNan(), IsInf(), IsFinite()
lt, gt, le, ge, eq, neq = LT(), GT(), LE(), GE(), EQ(), NEQ()
logical_and, logical_or, logical_xor, logical_not = LogicalAnd(), LogicalOr(), LogicalXor(), LogicalNot()
bitwise_and, bitwise_or, bitwise_xor, invert = BitwiseAnd(), BitwiseOr(), BitwiseXor(), Invert()
