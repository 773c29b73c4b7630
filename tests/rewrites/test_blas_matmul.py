"""`@` (MatMul) of 1-d/2-d operands takes the BLAS rewrites that `dot` takes (Gemm/Gemv)."""
from collections import Counter

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.rewrites import explain
from kiln.rewrites.blas_ops import Gemm, Gemv
from kiln.tensor.blas import Dot, MatMul

PY = kiln.Mode(linker="py")
rng = np.random.default_rng(0)


def kinds(f) -> Counter:
    return Counter(type(n.op).__name__ for n in f.fgraph.apply_nodes)


def test_matmul_plus_matrix_becomes_gemm():
    x, W, C = kt.matrix("x"), kt.matrix("W"), kt.matrix("C")
    f = kiln.function([x, W, C], 2.0 * (x @ W) + C, mode=PY)
    k = kinds(f)
    assert k["Gemm"] == 1 and k["MatMul"] == 0 and k["Dot"] == 0
    assert explain(f).count("matmul_to_dot") == 1
    xv, Wv, Cv = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    np.testing.assert_allclose(f(xv, Wv, Cv), 2.0 * (xv @ Wv) + Cv, rtol=1e-13)


def test_matmul_matrix_vector_becomes_gemv():
    A, v, y = kt.matrix("A"), kt.vector("v"), kt.vector("y")
    f = kiln.function([A, v, y], y - A @ v, mode=PY)
    assert kinds(f)["Gemv"] == 1 and kinds(f)["MatMul"] == 0
    Av, vv, yv = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=4)
    np.testing.assert_allclose(f(Av, vv, yv), yv - Av @ vv, rtol=1e-13)


def test_bias_row_stays_a_product_fused_with_its_consumer():
    """PyTensor keeps tanh(x @ W + b) as Dot22 plus one fused add+tanh; so does kiln."""
    x, W, b = kt.matrix("x"), kt.matrix("W"), kt.vector("b")
    f = kiln.function([x, W, b], kt.tanh(x @ W + b), mode=PY)
    k = kinds(f)
    assert k["Dot"] == 1 and k["Gemm"] == 0 and k["MatMul"] == 0
    xv, Wv, bv = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5)
    np.testing.assert_allclose(f(xv, Wv, bv), np.tanh(xv @ Wv + bv), rtol=1e-13)


@pytest.mark.parametrize("shapes", [((3,), (3, 4)), ((2, 3), (3,)), ((3,), (3,)), ((2, 3), (3, 4))])
def test_matmul_of_1d_2d_operands_is_a_dot(shapes):
    a = kt.tensor("a", dtype="float64", shape=(None,) * len(shapes[0]))
    b = kt.tensor("b", dtype="float64", shape=(None,) * len(shapes[1]))
    f = kiln.function([a, b], a @ b, mode=PY)
    assert kinds(f)["MatMul"] == 0 and kinds(f)["Dot"] + kinds(f)["Gemv"] + kinds(f)["Gemm"] == 1
    av, bv = rng.normal(size=shapes[0]), rng.normal(size=shapes[1])
    np.testing.assert_allclose(f(av, bv), av @ bv, rtol=1e-13)


def test_batched_matmul_stays_matmul():
    a, b = kt.tensor3("a"), kt.matrix("b")
    f = kiln.function([a, b], a @ b + 1.0, mode=PY)
    assert kinds(f)["MatMul"] == 1 and kinds(f)["Gemm"] == 0
    av, bv = rng.normal(size=(2, 3, 4)), rng.normal(size=(4, 5))
    np.testing.assert_allclose(f(av, bv), av @ bv + 1.0, rtol=1e-13)


def test_mixed_dtypes_keep_numpys_result_type():
    a, b = kt.matrix("a", dtype="int32"), kt.matrix("b", dtype="float32")
    f = kiln.function([a, b], a @ b, mode=PY)
    av, bv = np.arange(6, dtype="int32").reshape(2, 3), np.ones((3, 2), dtype="float32")
    out = f(av, bv)
    assert out.dtype == (av @ bv).dtype and kinds(f)["MatMul"] == 0
    np.testing.assert_allclose(out, av @ bv)


def _mlp_step(mode, sizes=(6, 5, 4, 3), batch=7):
    """One SGD step of a tanh MLP with softmax cross-entropy, written with `@` (bench mlp_sgd)."""
    r = np.random.default_rng(1)
    params = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        params += [kiln.shared(r.normal(size=(a, b)) * 0.5), kiln.shared(r.normal(size=b) * 0.1)]
    x, Y = kt.matrix("x"), kt.matrix("Y")
    W1, b1, W2, b2, W3, b3 = params
    h1 = kt.tanh(x @ W1 + b1)
    h2 = kt.tanh(h1 @ W2 + b2)
    loss = -kt.mean(kt.sum(Y * kt.log_softmax(h2 @ W3 + b3, axis=1), axis=1))
    grads = kiln.grad(loss, params)
    f = kiln.function([x, Y], loss, updates=[(p, p - 0.1 * g) for p, g in zip(params, grads)], mode=mode)
    xv = r.normal(size=(batch, sizes[0]))
    Yv = np.eye(sizes[-1])[r.integers(0, sizes[-1], batch)]
    return f, params, xv, Yv


def _mlp_numpy(Ws, xv, Yv):
    W1, b1, W2, b2, W3, b3 = Ws
    h1 = np.tanh(xv @ W1 + b1)
    h2 = np.tanh(h1 @ W2 + b2)
    z = h2 @ W3 + b3
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    loss = -(Yv * logp).sum(1).mean()
    dz = (np.exp(logp) - Yv) / len(xv)
    da2 = (dz @ W3.T) * (1 - h2 ** 2)
    da1 = (da2 @ W2.T) * (1 - h1 ** 2)
    grads = [xv.T @ da1, da1.sum(0), h1.T @ da2, da2.sum(0), h2.T @ dz, dz.sum(0)]
    return loss, [p - 0.1 * g for p, g in zip(Ws, grads)]


@pytest.mark.parametrize("linker", ["py", "c"])
def test_mlp_sgd_step_uses_gemm_where_pytensor_does(linker):
    """PyTensor (C backend) compiles the bench's MLP SGD step to 3 Gemm{inplace} (the weight
    updates W - lr * h.T @ d) and 5 Dot22 (forward products with a bias row, backward
    products); kiln makes the same choice, with `@` as with `dot`."""
    if linker == "c":
        from kiln.linkers.c.compiler import have_compiler

        if not have_compiler():
            pytest.skip("no C compiler")
    f, params, xv, Yv = _mlp_step(kiln.Mode(linker=linker))
    k = kinds(f)
    assert k["Gemm"] == 3 and k["Dot"] == 5 and k["MatMul"] == 0
    start = [p.get_value().copy() for p in params]
    loss, new = _mlp_numpy(start, xv, Yv)
    np.testing.assert_allclose(f(xv, Yv), loss, rtol=1e-12)
    for p, want in zip(params, new):
        np.testing.assert_allclose(p.get_value(), want, rtol=1e-11, atol=1e-14)


def test_gemm_and_dot_ops_are_what_the_rules_build():
    # the rule emits kiln's own Dot and Gemm classes (the C linker lowers both to BLAS)
    x, W, C = kt.matrix("x"), kt.matrix("W"), kt.matrix("C")
    f = kiln.function([x, W, C], [x @ W + C, (x @ W).sum()], mode=PY)
    ops = {type(n.op) for n in f.fgraph.apply_nodes}
    assert MatMul not in ops and (Dot in ops or Gemm in ops) and Gemv not in ops
    xv, Wv, Cv = rng.normal(size=(2, 3)), rng.normal(size=(3, 4)), rng.normal(size=(2, 4))
    a, s = f(xv, Wv, Cv)
    np.testing.assert_allclose(a, xv @ Wv + Cv, rtol=1e-13)
    np.testing.assert_allclose(s, (xv @ Wv).sum(), rtol=1e-13)
