"""The example at the top of issue 2, exactly as written there, checked against NumPy."""
from __future__ import annotations


def test_issue_2_example():
    import numpy as np, kiln
    import kiln.tensor as kt
    x = kt.matrix("x"); v = kt.vector("v")
    y = kt.tanh(x @ v + 1).sum(axis=0) / x.shape[0]
    f = kiln.function([x, v], [y, kt.exp(v).max()])
    result = f(np.ones((3, 4)), np.arange(4.0))

    w = kiln.shared(np.zeros(4), name="w")
    step = kiln.function([v], (w * v).sum(), updates=[(w, w + v)])
    step(np.ones(4)); w.get_value()        # -> array of ones

    X, V = np.ones((3, 4)), np.arange(4.0)
    np.testing.assert_allclose(result[0], np.tanh(X @ V + 1).sum(axis=0) / X.shape[0], rtol=1e-12)
    np.testing.assert_allclose(result[1], np.exp(V).max(), rtol=1e-12)
    np.testing.assert_array_equal(w.get_value(), np.ones(4))
    assert step(np.ones(4)) == 4.0  # (w * v).sum() with the old w = ones
    np.testing.assert_array_equal(w.get_value(), np.full(4, 2.0))
