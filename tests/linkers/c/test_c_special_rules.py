"""C forms of xlogy, xlog1py, logaddexp and log1mexp (kiln_prelude.h): values against SciPy /
NumPy (special values included), float32 and float64, and the nodes really compiled."""
import warnings

import numpy as np
import pytest
import scipy.special as sp

import kiln
import kiln.tensor as kt
from kiln.linkers.c import linker as L
from kiln.linkers.c.lower import lower_node

VALS = np.array([0.0, -0.0, 1e-300, 1e-8, 0.5, 1.0, 2.0, -1.0, np.inf, -np.inf, np.nan, 1e300, -1e-12, -50.0,
                 -0.7, -0.69, 700.0, -745.0])
X, Y = (a.ravel() for a in np.meshgrid(VALS, VALS))

CASES = {
    "xlogy": (lambda x, y: kt.xlogy(x, y), sp.xlogy),
    "xlog1py": (lambda x, y: kt.xlog1py(x, y), sp.xlog1py),
    "logaddexp": (lambda x, y: kt.logaddexp(x, y), np.logaddexp),
    "log1mexp": (lambda x, y: kt.log1mexp(x), None),
}


def _all_kernels(f) -> bool:
    """Every node of the compiled graph is inside a C segment with a lowering."""
    groups = L._group(L.canonical_order(f.fgraph))
    return all(t == "s" for t, _ in groups) and any(lower_node(n) is not None for _, ns in groups for n in ns)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_reference_and_runs_in_c(name, dtype):
    build, ref = CASES[name]
    x, y = kt.vector("x", dtype=dtype), kt.vector("y", dtype=dtype)
    f = kiln.function([x, y], build(x, y), mode=kiln.Mode(linker="c"), on_unused_input="ignore")
    assert _all_kernels(f), kiln.printing.debugprint(f, file="str")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # 1e300 overflows float32: inf is a fine input
        xv, yv = X.astype(dtype), Y.astype(dtype)
        got = f(xv, yv)
        if ref is None:   # log1mexp: kiln's own reference, the python linker
            expected = kiln.function([x, y], build(x, y), mode=kiln.Mode(linker="py"),
                                     on_unused_input="ignore")(xv, yv)
        else:
            expected = ref(xv, yv)
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(got[~finite], expected[~finite])
    # ulp-level: relative to the result, with an absolute floor near cancellations (logaddexp
    # of nearly opposite arguments, where libm's and NumPy's roundings differ in the last bits)
    tol = 1e-5 if dtype == "float32" else 1e-13
    np.testing.assert_allclose(got[finite], expected[finite], rtol=tol, atol=tol * 1e-2)
