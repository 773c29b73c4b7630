"""Graphs mixing C kernels with ops that run through perform, with the default rewrites
(fusion makes Composite kernels, the in-place phase marks destroyers): the C linker must
agree with the python linker everywhere."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.linkers.c.compiler import have_compiler

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")


def _catalog(x, v, i):
    return [
        kt.dot(x, v) * 2 + kt.sum(x, axis=1), kt.tanh(x @ x.T).max(axis=1), kt.softmax(x, axis=-1),
        kt.log_softmax(x, axis=0), kt.logsumexp(x, axis=1), kt.mean(x), kt.var(x, axis=0), kt.std(x),
        kt.argmax(x, axis=1), kt.cumsum(v), kt.sort(v), kt.concatenate([v, v * 2]), kt.stack([v, -v]),
        kt.reshape(x * 3, (-1,)), x.flatten() + 1, x[1:, ::-1] * 2, x[:, 0] + v[:1].sum(), kt.set_subtensor(x[0], v[:4]),
        kt.inc_subtensor(x[:, 1], 1.0), kt.switch(x > 0, x, kt.exp(x) - 1), kt.relu(x - 0.1),
        kt.sigmoid(x).prod(axis=0), kt.clip(v, -0.5, 0.5), kt.zeros_like(x) + v[:4], kt.ones((2, 3)) * v.sum(),
        kt.arange(6) * i, kt.eye(3) + 1, kt.outer(v, v).sum(axis=1), kt.transpose(x).sum(axis=1),
        kt.expand_dims(v, 0) * x[:1, :1], kt.squeeze(x[:1]), kt.where(kt.isnan(v), 0.0, v),
        (i // 3) % 4, kt.cast(x * 10, "int16") // 3, kt.any(x > 1, axis=0), kt.all(x > -5),
        kiln.grad((kt.tanh(x @ v[:4]) ** 2).sum(), x), kiln.grad(kt.logsumexp(x, axis=1).sum(), x),
        # reshapes inside C segments: of a fresh buffer (a view), of a transposed pending
        # buffer (must not be a view of unfilled memory), with a computed shape
        kt.reshape(kt.exp(x), (2, 10)) + 1, kt.reshape((x * 2).T, (-1,)) + 1,
        kt.reshape(x + 1, (x.shape[0] * 2, -1)).sum(axis=1),
    ]


@pytest.mark.parametrize("rewrites", ["fast_run", "none"])
def test_catalog_matches_python_linker(rewrites):
    x, v, i = kt.matrix("x"), kt.vector("v"), kt.vector("i", dtype="int64")
    outs = _catalog(x, v, i)
    fc = kiln.function([x, v, i], outs, mode=kiln.Mode(linker="c", rewrites=rewrites))
    fp = kiln.function([x, v, i], outs, mode=kiln.Mode(linker="py", rewrites=rewrites))
    rng = np.random.default_rng(2)
    X = rng.standard_normal((5, 4))
    V = rng.standard_normal(4)
    V[3] = np.nan
    I = np.arange(-3, 3, dtype="int64")
    for args in [(X, V, I), (X[::-1, ::-1].copy(order="F"), V[::-1], I[::-1])]:
        want = fp(*args)
        got = fc(*args)
        for k, (g, w) in enumerate(zip(got, want)):
            assert np.asarray(g).dtype == np.asarray(w).dtype, k
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-13, equal_nan=True, err_msg=f"output {k}")


def test_training_loop_with_shared_updates():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((50, 3)), (rng.random(50) > 0.5).astype("float64")
    results = []
    for linker in ("c", "py"):
        w = kiln.shared(np.zeros(3), name="w")
        x, y = kt.matrix("x"), kt.vector("y")
        p = kt.sigmoid(x @ w)
        cost = -(y * kt.log(p) + (1 - y) * kt.log(1 - p)).mean()
        train = kiln.function([x, y], cost, updates=[(w, w - 0.5 * kiln.grad(cost, w))],
                              mode=kiln.Mode(linker=linker))
        costs = [float(train(X, Y)) for _ in range(20)]
        results.append((costs, w.get_value()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)
    assert results[0][0][-1] < results[0][0][0]
