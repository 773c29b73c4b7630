"""Gradients of sparse ops against central differences on the stored entries; the gradient
of a sparse input is a sparse matrix of its format with its pattern (PyTensor's structured
semantics)."""
import numpy as np
import pytest

import kiln
import kiln.sparse as ks
import kiln.tensor as kt
from tests.sparse.sparse_helpers import check_grad, rand_sparse

FMTS = ["csr", "csc"]
PY = kiln.Mode(linker="py")


def sp(fmt):
    return ks.SparseTensorType(fmt, "float64")("x")


@pytest.mark.parametrize("fmt", FMTS)
def test_dense_from_sparse_is_structured(fmt, mode):
    w = np.linspace(-1, 1, 12).reshape(4, 3)
    check_grad(lambda x: (x.toarray() ** 2 * w).sum(), [sp(fmt)], [rand_sparse(fmt)], mode)
    # non-structured variant (sparse_grad=False) still gives the right numbers on the entries
    check_grad(lambda x: (ks.DenseFromSparse(False)(x) * w).sum(), [sp(fmt)], [rand_sparse(fmt)], PY,
               structured=False)


@pytest.mark.parametrize("fmt", FMTS)
def test_sparse_from_dense(fmt):
    f = ks.csr_from_dense if fmt == "csr" else ks.csc_from_dense
    check_grad(lambda d: ks.sp_sum(ks.structured_exp(f(d))), [kt.dmatrix("d")], [np.eye(3) + 0.5], PY)


@pytest.mark.parametrize("fmt", FMTS)
def test_structured_dot_both_inputs(fmt, mode):
    b = kt.dmatrix("b")
    check_grad(lambda x, b: (ks.structured_dot(x, b) ** 2).sum(), [sp(fmt), b],
               [rand_sparse(fmt), np.linspace(-1, 1, 6).reshape(3, 2)], mode)


@pytest.mark.parametrize("fmt", FMTS)
def test_dot_every_combination(fmt):
    w, u, L = kt.dmatrix("w"), kt.dvector("u"), kt.dmatrix("L")
    x, y = sp(fmt), ks.SparseTensorType(fmt, "float64")("y")
    a, b = rand_sparse(fmt, (4, 3)), rand_sparse(fmt, (3, 5), seed=4)
    check_grad(lambda x, w: (ks.dot(x, w) ** 2).sum(), [x, w], [a, np.linspace(0, 1, 6).reshape(3, 2)], PY)
    check_grad(lambda x, u: (ks.dot(x, u) ** 2).sum(), [x, u], [a, np.array([0.3, -1.0, 2.0])], PY)
    check_grad(lambda L, x: (ks.dot(L, x) ** 2).sum(), [L, x], [np.linspace(0, 1, 8).reshape(2, 4), a], PY)
    check_grad(lambda x, y: (ks.dot(x, y) ** 2).sum(), [x, y], [a, b], PY)
    check_grad(lambda x, w: ((x @ w) ** 2).sum(), [x, w], [a, np.ones((3, 2))], PY)


@pytest.mark.parametrize("fmt", FMTS)
def test_add_mul_neg_transpose(fmt, mode):
    d = kt.dmatrix("d")
    a, b = rand_sparse(fmt, seed=1), rand_sparse(fmt, seed=2)
    dv = np.linspace(-1, 1, 12).reshape(4, 3)
    y = ks.SparseTensorType(fmt, "float64")("y")
    # AddSS passes its (union-pattern) cotangent to both inputs, as PyTensor's AddSS.grad
    check_grad(lambda x, y: ks.sp_sum(ks.sqr(x + y) * x), [sp(fmt), y], [a, b], mode, structured=False)
    check_grad(lambda x, d: ((x + d) ** 2).sum(), [sp(fmt), d], [a, dv], mode)
    check_grad(lambda x, d: ks.sp_sum(ks.sqr(x * d)), [sp(fmt), d], [a, dv], PY)
    check_grad(lambda x, y: ks.sp_sum(ks.sqr(x - y)), [sp(fmt), y], [a, b], PY, structured=False)
    check_grad(lambda x: ((-x).T.toarray() ** 3).sum(), [sp(fmt)], [a], PY)
    s = kt.dscalar("s")
    check_grad(lambda x, s: ks.sp_sum(ks.sqr(x * s)), [sp(fmt), s], [a, np.array(1.5)], PY)


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("axis", [None, 0, 1])
@pytest.mark.parametrize("sparse_grad", [False, True])
def test_sp_sum(fmt, axis, sparse_grad):
    check_grad(lambda x: (ks.sp_sum(x, axis, sparse_grad) ** 2).sum(), [sp(fmt)], [rand_sparse(fmt)], PY,
               structured=sparse_grad)


@pytest.mark.parametrize("fmt", FMTS)
def test_structured_functions_and_scaling(fmt, mode):
    a = rand_sparse(fmt)
    check_grad(lambda x: ks.sp_sum(ks.structured_exp(x)) + ks.sp_sum(ks.structured_log(x))
               + ks.sp_sum(ks.structured_sigmoid(x)) + ks.sp_sum(ks.structured_pow(x, 3)), [sp(fmt)], [a], mode)
    check_grad(lambda x: ks.sp_sum(ks.tanh(x) * ks.sin(x)) + ks.sp_sum(ks.sqrt(x)), [sp(fmt)], [a], PY)
    s3, s4 = kt.dvector("s3"), kt.dvector("s4")
    check_grad(lambda x, s, t: ks.sp_sum(ks.sqr(ks.row_scale(ks.col_scale(x, s), t))), [sp(fmt), s3, s4],
               [a, np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 1.0, 2.0])], PY)
    y = kt.dvector("y")
    check_grad(lambda x, y: ks.sp_sum(ks.sqr(ks.structured_add(x, y))), [sp(fmt), y], [a, np.arange(3.0)], PY)


@pytest.mark.parametrize("fmt", FMTS)
def test_csm_and_diag(fmt):
    def cost(x):
        data, ind, ptr, shp = ks.csm_properties(x)
        return ks.sp_sum(ks.sqr(ks.CSM(fmt)(data * data, ind, ptr, shp))) + (ks.diag(x) ** 2).sum()

    check_grad(cost, [sp(fmt)], [rand_sparse(fmt, (3, 3), density=0.7)], PY)
    v = kt.dvector("v")
    check_grad(lambda v: ks.sp_sum(ks.sqr(ks.square_diagonal(v))), [v], [np.array([1.0, -2.0, 0.5])], PY)
    # gradient with respect to CSM's data vector
    d = kt.dvector("d")
    m = rand_sparse(fmt, (3, 3), density=0.7)
    build = lambda d: ks.sp_sum(ks.sqr(ks.CSM(fmt)(d, m.indices, m.indptr, np.array(m.shape))))  # noqa: E731
    check_grad(build, [d], [m.data.copy()], PY)


def test_float32_gradient_keeps_type():
    x = ks.csr_fmatrix("x")
    g = kiln.grad(ks.sp_sum(ks.structured_exp(x)), x)
    assert g.type == x.type
    v = rand_sparse("csr", dtype="float32")
    got = kiln.function([x], g)(v)
    assert got.dtype == np.float32 and got.format == "csr"
    np.testing.assert_allclose(got.toarray(), np.where(v.toarray() != 0, np.exp(v.toarray()), 0), rtol=1e-5)


def test_training_loop_with_sparse_input_and_shared_weights(mode):
    """A mixed graph: sparse data, dense shared weights, gradient updates, on both linkers."""
    x = ks.csr_matrix("x", dtype="float64")
    w = kiln.shared(np.zeros(3), name="w")
    y = kt.dvector("y")
    p = kt.sigmoid(ks.dot(x, w))
    cost = ((p - y) ** 2).mean()
    gw = kiln.grad(cost, w)
    train = kiln.function([x, y], cost, updates=[(w, w - 1.0 * gw)], mode=mode)
    X, Y = rand_sparse("csr", (6, 3), seed=7), np.array([1.0, 0, 1, 0, 1, 1])
    losses = [float(train(X, Y)) for _ in range(20)]
    assert losses[-1] < losses[0]
    # the same step computed with NumPy
    w0 = np.zeros(3)
    for _ in range(20):
        z = 1 / (1 + np.exp(-(X @ w0)))
        w0 = w0 - 2 * X.T @ ((z - Y) * z * (1 - z)) / 6
    np.testing.assert_allclose(w.get_value(), w0, rtol=1e-8)


@pytest.mark.parametrize("fmt", FMTS)
def test_hstack_vstack(fmt):
    y = ks.SparseTensorType(fmt, "float64")("y")
    w = np.linspace(-1, 1, 24).reshape(4, 6)
    a, b = rand_sparse(fmt, seed=1), rand_sparse(fmt, seed=2)
    check_grad(lambda x, y: (ks.hstack([x, y]).toarray() ** 2 * w).sum(), [sp(fmt), y], [a, b], PY)
    check_grad(lambda x, y: (ks.vstack([x, y], format="csr").toarray() ** 2 * w.reshape(8, 3)).sum(),
               [sp(fmt), y], [a, b], PY)


@pytest.mark.parametrize("fmt", FMTS)
def test_true_dot(fmt):
    y, w = ks.SparseTensorType(fmt, "float64")("y"), kt.dmatrix("w")
    a, b = rand_sparse(fmt, (4, 3)), rand_sparse(fmt, (3, 5), seed=4)
    check_grad(lambda x, y: ks.sp_sum(ks.sqr(ks.true_dot(x, y))), [sp(fmt), y], [a, b], PY, structured=False)
    check_grad(lambda x, w: ks.sp_sum(ks.sqr(ks.true_dot(x, w))), [sp(fmt), w], [a, np.linspace(0, 1, 6).reshape(3, 2)],
               PY, structured=False)


def test_gradient_errors_are_clear():
    x = ks.csr_matrix("x", dtype="float64")
    i = kt.iscalar("i")
    with pytest.raises(kiln.gradient.NullTypeGradError, match="GetItemScalar"):
        kiln.grad(x[i, 0], x)
