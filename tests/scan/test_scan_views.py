"""map / reduce / foldl / foldr (PyTensor's pytensor.scan.views) against NumPy loops."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.scan import foldl, foldr, map as kmap, reduce as kreduce

MODES = {"py": kiln.Mode(linker="py"), "default": None}


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_map_with_non_sequences(mode):
    X, w = kt.dmatrix("X"), kt.dvector("w")
    rows, upd = kmap(lambda r, w: kt.dot(r, w) + r.sum(), sequences=X, non_sequences=w)
    assert not upd
    a, b = np.arange(6.0).reshape(3, 2), np.array([0.5, -1.0])
    np.testing.assert_allclose(kiln.function([X, w], rows, mode=mode)(a, b), a @ b + a.sum(1))
    assert kiln.map is kmap


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_reduce_two_outputs_and_fold_directions(mode):
    x = kt.dvector("x")
    (s, p), _ = kreduce(lambda v, s, p: [s + v, p * v], sequences=x,
                        outputs_info=[kt.constant(0.0), kt.constant(1.0)])
    left = foldl(lambda v, acc: acc * 10 + v, sequences=x, outputs_info=kt.constant(0.0), return_updates=False)
    right = foldr(lambda v, acc: acc * 10 + v, sequences=x, outputs_info=kt.constant(0.0), return_updates=False)
    f = kiln.function([x], [s, p, left, right], mode=mode)
    got = f(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(got, [6.0, 6.0, 123.0, 321.0])


def test_gradient_through_reduce():
    x, a = kt.dvector("x"), kt.dscalar("a")
    out, _ = kreduce(lambda v, acc, a: acc * a + v, sequences=x, outputs_info=kt.constant(0.0), non_sequences=a)
    g = kiln.function([x, a], kiln.grad(out, a))
    xv, av = np.array([1.0, 2.0, 3.0]), 0.5
    # out = ((x0) a + x1) a + x2 = x0 a^2 + x1 a + x2; d/da = 2 x0 a + x1
    np.testing.assert_allclose(g(xv, av), 2 * xv[0] * av + xv[1])
