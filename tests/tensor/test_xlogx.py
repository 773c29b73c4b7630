"""kiln.tensor.xlogx (PyTensor's module of the same name) against NumPy, with gradients."""
import numpy as np

import kiln
import kiln.tensor as kt
from kiln.tensor.xlogx import xlogx, xlogy0


def test_values_and_gradient():
    x, y = kt.dvector("x"), kt.dvector("y")
    f = kiln.function([x, y], [xlogx(x), xlogy0(x, y), kiln.grad(xlogx(x).sum(), x)])
    a, b = np.array([0.0, 0.5, 2.0]), np.array([0.0, 3.0, 0.25])
    v1, v2, g = f(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_allclose(v1, np.where(a == 0, 0.0, a * np.log(a)))
        np.testing.assert_allclose(v2, np.where(a == 0, 0.0, a * np.log(b)))
    np.testing.assert_allclose(g[1:], np.log(a[1:]) + 1)
    assert g[0] == -np.inf
