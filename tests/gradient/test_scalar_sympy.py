"""Every elementwise scalar op's derivative against SymPy's `diff`, at random points."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import kiln
import kiln.scalar.math as ps
import kiln.tensor as kt
from kiln.gradient import NullTypeGradError, grad
from kiln.gradient.rules.elemwise import DERIVATIVES

MODE = kiln.Mode(linker="py")
X, Y, Z = sp.symbols("x y z", real=True)

# scalar op class -> (kiln builder, sympy expression, samplers per input)
U = lambda lo, hi: (lambda rng, n: rng.uniform(lo, hi, n))
CASES = {
    ps.Abs: (kt.abs, sp.Abs(X), [lambda r, n: r.choice([-1, 1], n) * r.uniform(0.2, 2, n)]),
    ps.Sqr: (kt.sqr, X ** 2, [U(-2, 2)]),
    ps.Reciprocal: (kt.reciprocal, 1 / X, [U(0.3, 2)]),
    ps.Exp: (kt.exp, sp.exp(X), [U(-2, 2)]),
    ps.Exp2: (kt.exp2, 2 ** X, [U(-2, 2)]),
    ps.Expm1: (kt.expm1, sp.exp(X) - 1, [U(-2, 2)]),
    ps.Log: (kt.log, sp.log(X), [U(0.2, 3)]),
    ps.Log2: (kt.log2, sp.log(X, 2), [U(0.2, 3)]),
    ps.Log10: (kt.log10, sp.log(X, 10), [U(0.2, 3)]),
    ps.Log1p: (kt.log1p, sp.log(1 + X), [U(-0.5, 3)]),
    ps.Sqrt: (kt.sqrt, sp.sqrt(X), [U(0.2, 3)]),
    ps.Sin: (kt.sin, sp.sin(X), [U(-3, 3)]),
    ps.Cos: (kt.cos, sp.cos(X), [U(-3, 3)]),
    ps.Tan: (kt.tan, sp.tan(X), [U(-1.2, 1.2)]),
    ps.ArcSin: (kt.arcsin, sp.asin(X), [U(-0.9, 0.9)]),
    ps.ArcCos: (kt.arccos, sp.acos(X), [U(-0.9, 0.9)]),
    ps.ArcTan: (kt.arctan, sp.atan(X), [U(-3, 3)]),
    ps.Sinh: (kt.sinh, sp.sinh(X), [U(-2, 2)]),
    ps.Cosh: (kt.cosh, sp.cosh(X), [U(-2, 2)]),
    ps.Tanh: (kt.tanh, sp.tanh(X), [U(-2, 2)]),
    ps.ArcSinh: (kt.arcsinh, sp.asinh(X), [U(-3, 3)]),
    ps.ArcCosh: (kt.arccosh, sp.acosh(X), [U(1.2, 3)]),
    ps.ArcTanh: (kt.arctanh, sp.atanh(X), [U(-0.9, 0.9)]),
    ps.Sigmoid: (kt.sigmoid, 1 / (1 + sp.exp(-X)), [U(-4, 4)]),
    ps.Softplus: (kt.softplus, sp.log(1 + sp.exp(X)), [U(-4, 4)]),
    ps.Erf: (kt.erf, sp.erf(X), [U(-2, 2)]),
    ps.Erfc: (kt.erfc, sp.erfc(X), [U(-2, 2)]),
    ps.Erfinv: (kt.erfinv, sp.erfinv(X), [U(-0.9, 0.9)]),
    ps.Gamma: (kt.gamma, sp.gamma(X), [U(0.5, 4)]),
    ps.GammaLn: (kt.gammaln, sp.loggamma(X), [U(0.5, 4)]),
    ps.ArcTan2: (kt.arctan2, sp.atan2(X, Y), [U(-2, 2), U(0.3, 2)]),
    ps.Pow: (kt.pow, X ** Y, [U(0.3, 2), U(-2, 2)]),
    ps.Maximum: (kt.maximum, sp.Max(X, Y), [U(-2, 2), U(-2, 2)]),
    ps.Minimum: (kt.minimum, sp.Min(X, Y), [U(-2, 2), U(-2, 2)]),
    ps.Clip: (kt.clip, sp.Min(sp.Max(X, Y), Z), [U(-3, 3), U(-2, -0.5), U(0.5, 2)]),
    # SymPy cannot differentiate Mod; NumPy remainder is x - y * floor(x / y)
    ps.Mod: (kt.mod, X - Y * sp.floor(X / Y), [U(-3, 3), U(0.7, 2)]),
    # linear ops and zero-derivative ops, through the same oracle
    ps.Add: (kt.add, X + Y, [U(-2, 2), U(-2, 2)]),
    ps.Sub: (kt.sub, X - Y, [U(-2, 2), U(-2, 2)]),
    ps.Mul: (kt.mul, X * Y, [U(-2, 2), U(-2, 2)]),
    ps.TrueDiv: (kt.true_div, X / Y, [U(-2, 2), U(0.5, 2)]),
    ps.Neg: (kt.neg, -X, [U(-2, 2)]),
    ps.Identity: (kt.tensor_copy, X, [U(-2, 2)]),
    ps.Switch: (lambda a, b: kt.switch(kt.gt(a, b), a * b, a - b), sp.Piecewise((X * Y, X > Y), (X - Y, True)),
                [U(-2, 2), U(-2, 2)]),
    ps.Sign: (kt.sign, sp.sign(X), [U(0.1, 2)]),
    ps.Floor: (kt.floor, sp.floor(X), [U(0.1, 0.9)]),
    ps.Ceil: (kt.ceil, sp.ceiling(X), [U(0.1, 0.9)]),
    ps.Trunc: (kt.trunc, sp.floor(X), [U(0.1, 0.9)]),
    ps.RoundHalfToEven: (kt.round, sp.floor(X), [U(0.1, 0.4)]),
    ps.IntDiv: (kt.int_div, sp.floor(X / Y), [U(0.1, 0.9), U(1.5, 2)]),
}


def test_every_derivative_formula_is_checked():
    missing = [c.__name__ for c in DERIVATIVES if c not in CASES]
    assert not missing, f"derivative formulas without a SymPy check: {missing}"


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
def test_derivative_matches_sympy(cls):
    build, expr, samplers = CASES[cls]
    rng = np.random.default_rng(abs(hash(cls.__name__)) % 2 ** 32)
    syms = [X, Y, Z][:len(samplers)]
    points = [s(rng, 5) for s in samplers]
    ins = [kt.vector(f"in{i}") for i in range(len(samplers))]
    out = build(*ins)
    gs = grad(out.sum(), ins)
    got = kiln.function(ins, gs, mode=MODE)(*points)
    for k, sym in enumerate(syms):
        deriv = sp.diff(expr, sym)
        # floor/ceiling are piecewise constant: SymPy leaves their derivative unevaluated
        deriv = deriv.replace(lambda e: isinstance(e, sp.Derivative) and e.expr.func in (sp.floor, sp.ceiling),
                              lambda e: sp.S.Zero)
        # away from 0 (where the samplers stay), sign's DiracDelta vanishes
        deriv = deriv.replace(sp.DiracDelta, lambda *a: sp.S.Zero)
        d = sp.lambdify(syms, deriv, modules=["scipy", "numpy"])
        want = np.broadcast_to(np.asarray(d(*points), dtype="float64"), points[0].shape)
        np.testing.assert_allclose(got[k], want, rtol=1e-7, atol=1e-9, err_msg=f"{cls.__name__} d/d{sym}")


def test_cast_derivative_is_one_between_floats_and_zero_to_int():
    x = kt.vector("x")
    g32, gint = grad(kt.cast(x, "float32").sum() + kt.cast(x, "int64").sum(), [x, x])
    val = kiln.function([x], g32, mode=MODE)(np.array([0.5, 1.5]))
    np.testing.assert_array_equal(val, [1.0, 1.0])


def test_psi_has_no_rule_and_says_so():
    x = kt.vector("x")
    with pytest.raises(NullTypeGradError, match="psi"):
        grad(kt.psi(x).sum(), x)
    out = grad(kt.psi(x).sum(), x, null_gradients="return")
    assert "no derivative rule" in out.reason
