"""Stabilization at extreme inputs (x = +-800, tiny x), against exact values, float64 and float32."""
import numpy as np
import pytest
import scipy.special as sps

import kiln
import kiln.tensor as kt
from kiln.rewrites import explain

from .helpers import FAST_RUN

EXTREME = np.array([-800.0, -30.0, -1e-300, 0.0, 1e-300, 30.0, 800.0])
TINY = np.array([-1e-20, -1e-12, 0.0, 1e-15, 1e-8])

CASES = [
    ("log1p", lambda x: kt.log(1 + x), lambda v: np.log1p(v), TINY),
    ("log1p_of_sub", lambda x: kt.log(1 - x), lambda v: np.log1p(-v), TINY),
    ("expm1", lambda x: kt.exp(x) - 1, lambda v: np.expm1(v), TINY),
    ("expm1_of_add", lambda x: kt.exp(x) + (-1), lambda v: np.expm1(v), TINY),
    ("softplus", lambda x: kt.log(1 + kt.exp(x)), lambda v: np.logaddexp(0, v), EXTREME),
    ("log_sigmoid", lambda x: kt.log(kt.sigmoid(x)), lambda v: -np.logaddexp(0, -v), EXTREME),
    ("log1m_sigmoid", lambda x: kt.log(1 - kt.sigmoid(x)), lambda v: -np.logaddexp(0, v), EXTREME),
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("rule,expr,exact,values", CASES, ids=[c[0] for c in CASES])
def test_stabilized_at_extremes(rule, expr, exact, values, dtype):
    x = kt.vector("x", dtype=dtype)
    f = kiln.function([x], expr(x), mode=FAST_RUN)
    assert explain(f).count(rule) >= 1, str(explain(f))
    v = values.astype(dtype)
    got = f(v)
    want = exact(v.astype("float64"))
    assert got.dtype == dtype and np.all(np.isfinite(got))
    rtol = 1e-12 if dtype == "float64" else 2e-6
    np.testing.assert_allclose(got, want, rtol=rtol, atol=0 if values is TINY else 1e-300)


def test_unstabilized_graph_really_fails_there():
    # the reason for the rules: without them these inputs give inf / 0 / -inf
    x = kt.vector("x")
    naive = kiln.function([x], [kt.log(1 + kt.exp(x)), kt.log(kt.sigmoid(x)), kt.log(1 + x)],
                          mode=kiln.Mode(linker="py", rewrites="none"))
    with np.errstate(all="ignore"):
        a, b, c = naive(np.array([800.0, -800.0, 1e-20]))
    assert np.isinf(a[0]) and np.isinf(b[1]) and c[2] == 0.0


@pytest.mark.parametrize("keepdims", [False, True])
def test_logsumexp_rule_extremes(keepdims):
    m = kt.matrix("m")
    f = kiln.function([m], kt.log(kt.sum(kt.exp(m), axis=1, keepdims=keepdims)), mode=FAST_RUN)
    assert explain(f).count("logsumexp") == 1
    v = np.array([[800.0, 799.0, -800.0], [-800.0, -801.0, -805.0], [0.0, 1e-12, 3.0]])
    np.testing.assert_allclose(f(v), sps.logsumexp(v, axis=1, keepdims=keepdims), rtol=1e-12)


def test_log_softmax_rule_when_available():
    special = pytest.importorskip("kiln.tensor.special")
    if not hasattr(special, "LogSoftmax") or not hasattr(kt, "softmax"):
        pytest.skip("kiln.tensor.special has no softmax/LogSoftmax yet")
    z = kt.matrix("z")
    f = kiln.function([z], kt.log(kt.softmax(z, axis=-1)), mode=FAST_RUN)
    assert explain(f).count("log_softmax") == 1
    v = np.array([[800.0, 0.0, -800.0], [1.0, 2.0, 3.0]])
    want = v - sps.logsumexp(v, axis=-1, keepdims=True)
    np.testing.assert_allclose(f(v), want, rtol=1e-12)
