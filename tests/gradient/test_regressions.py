"""Regression tests for gradient bugs found while building the catalog."""
import numpy as np

import kiln
import kiln.tensor as kt
from kiln.gradient import Rop
from kiln.scalar import math as ps
from kiln.scalar.basic import scalar_type
from kiln.scalar.composite import Composite
from kiln.tensor.elemwise import Elemwise

PY = kiln.Mode(linker="py")


def test_switch_with_constant_on_the_left_of_a_product():
    # grad(switch(x > 0, x, 0.7 * x)) once gave 1.4 per negative entry when two or more were negative
    x = kt.vector("x")
    g = kiln.function([x], kiln.grad(kt.switch(x > 0, x, 0.7 * x).sum(), x), mode=PY)
    xv = np.array([-2.0, -1.0, 0.5, 3.0, -0.1])
    np.testing.assert_allclose(g(xv), np.where(xv > 0, 1.0, 0.7))


def _two_output_kernel(x, y):
    a, b = scalar_type("float64")(), scalar_type("float64")()
    # the second output reads only the first input
    return Elemwise(Composite([a, b], [ps.exp(ps.mul(a, b)), ps.sin(ps.add(a, 1.5))]))(x, y)


def test_kernel_output_reading_some_inputs_has_the_full_broadcast_shape():
    x, y = kt.matrix("x"), kt.matrix("y")
    first, second = _two_output_kernel(x, y)
    X, Y = np.linspace(0, 1, 3).reshape(3, 1), np.linspace(-1, 1, 12).reshape(3, 4)
    for linker in ("py", "c"):
        f = kiln.function([x, y], [first, second], mode=kiln.Mode(linker=linker))
        r1, r2 = f(X, Y)
        np.testing.assert_allclose(r1, np.exp(X * Y))
        np.testing.assert_allclose(r2, np.broadcast_to(np.sin(X + 1.5), (3, 4)))


def test_kernel_tangents_have_their_outputs_shape():
    x, y, tx, ty = kt.matrix("x"), kt.matrix("y"), kt.matrix("tx"), kt.matrix("ty")
    _, second = _two_output_kernel(x, y)
    X, Y = np.linspace(0, 1, 3).reshape(3, 1), np.linspace(-1, 1, 12).reshape(3, 4)
    T = np.linspace(2, 3, 3).reshape(3, 1)
    jf = kiln.function([x, y, tx, ty], Rop(second, [x, y], [tx, ty]), mode=PY, on_unused_input="ignore")
    np.testing.assert_allclose(jf(X, Y, T, np.ones((3, 4))), np.broadcast_to(np.cos(X + 1.5) * T, (3, 4)))
    g = kiln.function([x, y], kiln.grad(second.sum(), x), mode=PY)
    np.testing.assert_allclose(g(X, Y), 4 * np.cos(X + 1.5))
