"""vectorize_graph (PyTensor's pytensor.graph.vectorize_graph): a graph batched over new left
axes of some of its variables, compared with a NumPy loop over the batch."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph import vectorize_graph

MODES = [kiln.Mode(linker="py"), None]


@pytest.mark.parametrize("mode", MODES, ids=["py", "default"])
def test_matvec_layer_batched_over_x(mode):
    x, W = kt.dvector("x"), kt.dmatrix("W")
    y = kt.tanh(W @ x)
    z = (y ** 2).sum()
    xb = kt.dmatrix("xb")
    yb, zb = vectorize_graph([y, z], {x: xb})
    assert (yb.ndim, zb.ndim) == (2, 1)
    rng = np.random.default_rng(0)
    X, Wv = rng.normal(size=(5, 3)), rng.normal(size=(2, 3))
    got_y, got_z = kiln.function([xb, W], [yb, zb], mode=mode)(X, Wv)
    want_y = np.stack([np.tanh(Wv @ row) for row in X])
    np.testing.assert_allclose(got_y, want_y, rtol=1e-12)
    np.testing.assert_allclose(got_z, (want_y ** 2).sum(axis=1), rtol=1e-12)


def test_single_output_gives_a_variable_and_two_batched_inputs_broadcast():
    a, b = kt.dvector("a"), kt.dvector("b")
    out = a / a.sum() + b
    ab, bb = kt.dtensor3("ab"), kt.dmatrix("bb")     # batch shapes (2, 3) and (3,) broadcast
    res = vectorize_graph(out, {a: ab, b: bb})
    assert isinstance(res, kt.TensorVariable) and res.ndim == 3
    rng = np.random.default_rng(1)
    A, B = rng.random((2, 3, 4)) + 0.5, rng.random((3, 4))
    got = kiln.function([ab, bb], res)(A, B)
    want = np.empty((2, 3, 4))
    for i in range(2):
        for j in range(3):
            want[i, j] = A[i, j] / A[i, j].sum() + B[j]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_gradient_through_the_batched_graph_matches_finite_differences():
    x, w = kt.dvector("x"), kt.dvector("w")
    y = kt.sum(kt.exp(x * w)) / kt.sum(x ** 2)
    xb = kt.dmatrix("xb")
    yb = vectorize_graph(y, {x: xb})
    g = kiln.grad(yb.sum(), w)
    f = kiln.function([xb, w], g)
    rng = np.random.default_rng(2)
    X, W = rng.normal(size=(3, 4)), rng.normal(size=4) * 0.3

    def total(wv):
        return sum(np.exp(r * wv).sum() / (r ** 2).sum() for r in X)
    eps = 1e-6
    fd = np.array([(total(W + eps * e) - total(W - eps * e)) / (2 * eps) for e in np.eye(4)])
    np.testing.assert_allclose(f(X, W), fd, rtol=1e-6)


def test_bad_replacements_are_refused():
    x = kt.dmatrix("x")
    y = x.sum(axis=0)
    with pytest.raises(ValueError, match="fewer dimensions"):
        vectorize_graph(y, {x: kt.dvector("v")})
    with pytest.raises(TypeError, match="float32"):
        vectorize_graph(y, {x: kt.ftensor3("f")})
