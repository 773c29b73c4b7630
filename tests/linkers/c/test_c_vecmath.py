"""Vectorized transcendental functions (glibc's libmvec where available) against the python
linker (NumPy): within a few ulp, and NaN, infinities and signed zeros exactly."""
import mpmath
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.linkers.c.compiler import have_compiler
from kiln.scalar import math as sm
from kiln.tensor.elemwise import Elemwise

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

UNARY = [sm.exp, sm.exp2, sm.expm1, sm.log, sm.log2, sm.log10, sm.log1p, sm.sin, sm.cos, sm.tan, sm.arcsin,
         sm.arccos, sm.arctan, sm.sinh, sm.cosh, sm.tanh, sm.arcsinh, sm.arccosh, sm.arctanh, sm.erf, sm.erfc,
         sm.sigmoid, sm.softplus]
BINARY = [sm.arctan2, sm.pow]
mpmath.mp.dps = 50
_MP = {"erfc": mpmath.erfc, "erf": mpmath.erf, "exp": mpmath.exp, "log": mpmath.log, "sin": mpmath.sin,
       "cos": mpmath.cos, "tan": mpmath.tan, "tanh": mpmath.tanh}
#: a few ulp on each side: libm/libmvec and NumPy's own implementations both err by up to ~4
MAX_ULP = 8


def _values(dtype, n=4099):
    rng = np.random.default_rng(11)
    special = [0.0, -0.0, np.nan, np.inf, -np.inf, 1.0, -1.0, 0.5, -0.5, 1e-30, -1e-30, 88.7, -103.9, 710.0,
               -745.2, 1e300, -1e300, 3.14159, 1e-8]
    m = n - n // 2 - len(special)
    v = np.concatenate([np.array(special), rng.standard_normal(n // 2) * 4,
                        rng.uniform(-1, 1, m) * 10.0 ** rng.integers(-20, 20, m)])
    with np.errstate(all="ignore"):
        return rng.permutation(v).astype(dtype)


def _ulp_diff(a, b):
    """|a - b| in units of the spacing at b (0 where both are equal, including inf and nan)."""
    with np.errstate(all="ignore"):
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        d = np.abs(a.astype("float64") - b.astype("float64")) / np.spacing(np.abs(b)).astype("float64")
    return np.where(same, 0.0, d)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_transcendental_accuracy_and_special_values(dtype):
    x, y = kt.vector("x", dtype=dtype), kt.vector("y", dtype=dtype)
    outs = [Elemwise(op)(x) for op in UNARY] + [Elemwise(op)(x, y) for op in BINARY]
    names = [str(op) for op in UNARY + BINARY]
    mode = dict(rewrites="none")
    fc = kiln.function([x, y], outs, mode=kiln.Mode(linker="c", **mode))
    fp = kiln.function([x, y], outs, mode=kiln.Mode(linker="py", **mode))
    a = _values(dtype)
    b = np.roll(a, 7)
    with np.errstate(all="ignore"):
        want = fp(a, b)
    got = fc(a, b)
    for name, g, w in zip(names, got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"{name}: NaN positions")
        np.testing.assert_array_equal(np.isposinf(g), np.isposinf(w), err_msg=f"{name}: +inf positions")
        np.testing.assert_array_equal(np.isneginf(g), np.isneginf(w), err_msg=f"{name}: -inf positions")
        zero = (w == 0) & (g == 0)
        np.testing.assert_array_equal(np.signbit(g[zero]), np.signbit(w[zero]), err_msg=f"{name}: signed zeros")
        # near and below the normal range scipy's erfc loses digits and then flushes to 0,
        # where libm keeps a (more accurate) tiny or subnormal value: compare those absolutely
        tiny = np.finfo(dtype).tiny * 2.0 ** 20
        finite = np.isfinite(w) & np.isfinite(g) & ((np.abs(w) >= tiny) | (np.abs(g) >= tiny))
        assert np.all(np.abs(g[np.abs(w) < tiny] - w[np.abs(w) < tiny]) <= tiny), f"{name}: subnormal results"
        d = _ulp_diff(g[finite], w[finite])
        far = np.flatnonzero(d > MAX_ULP)
        # where we are far from the reference, the reference must be the inaccurate one
        # (scipy's erfc is off by up to ~200 ulp for x > 9): check against mpmath
        assert far.size == 0 or name in _MP, f"{name} {dtype}: {far.size} values more than {MAX_ULP} ulp from NumPy"
        for k in far:
            xa = [float(a[finite][k])] + ([float(b[finite][k])] if name in ("arctan2", "pow") else [])
            exact = np.asarray(float(_MP[name](*[mpmath.mpf(v) for v in xa])), dtype=dtype)
            assert _ulp_diff(g[finite][k:k + 1], exact[None]).max() <= 2, (name, xa, g[finite][k], exact)
