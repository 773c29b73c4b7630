"""convolve1d / convolve2d (PyTensor's pytensor.tensor.signal) against NumPy and SciPy, with
gradients by finite differences."""
import numpy as np
import pytest
import scipy.signal as ss

import kiln
import kiln.tensor as kt
from kiln.gradient import verify_grad
from kiln.tensor.signal import convolve1d, convolve2d

MODES = {"py": kiln.Mode(linker="py"), "default": None}
SIZES = [(5, 3), (3, 5), (4, 4), (6, 2), (1, 1), (1, 4)]


def _ref1(a, b, mode):
    return np.convolve(a, b, mode) if mode != "same" else ss.convolve(a, b, "same", method="direct")


@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("n,m", SIZES)
@pytest.mark.parametrize("linker", MODES.values(), ids=MODES.keys())
def test_convolve1d_matches_numpy(mode, n, m, linker):
    rng = np.random.default_rng(n * 10 + m)
    a, b = rng.normal(size=n), rng.normal(size=m)
    x, y = kt.dvector("x"), kt.dvector("y")
    got = kiln.function([x, y], convolve1d(x, y, mode), mode=linker)(a, b)
    np.testing.assert_allclose(got, _ref1(a, b, mode), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtypes", [("int32", "int64"), ("float32", "float32"), ("int8", "float32"), ("bool", "bool")])
def test_dtypes_follow_numpy(dtypes):
    a = np.array([1, 0, 2, 1]).astype(dtypes[0])
    b = np.array([1, 1, 0]).astype(dtypes[1])
    x, y = kt.vector("x", dtype=dtypes[0]), kt.vector("y", dtype=dtypes[1])
    got = kiln.function([x, y], convolve1d(x, y))(a, b)
    want = np.convolve(a, b)
    if want.dtype == np.bool_:
        want = np.convolve(a.astype("int64"), b.astype("int64"))
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_batch_axes_broadcast_and_static_shapes():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(3, 1, 6)), rng.normal(size=(2, 4))
    x, y = kt.tensor3("x"), kt.dmatrix("y")
    out = convolve1d(x, y, "valid")
    got = kiln.function([x, y], out)(a, b)
    want = np.array([[np.convolve(a[i, 0], b[j], "valid") for j in range(2)] for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-12)
    c = convolve1d(kt.tensor("s", shape=(7,), dtype="float64"), kt.tensor("k", shape=(3,), dtype="float64"))
    assert c.type.shape == (9,)


@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("n,m", [(5, 3), (3, 5), (4, 2)])
def test_convolve1d_gradients(mode, n, m):
    rng = np.random.default_rng(7)
    verify_grad(lambda p, q: convolve1d(p, q, mode), [rng.normal(size=n), rng.normal(size=m)], rng=rng)
    verify_grad(lambda p, q: convolve1d(p, q, mode), [rng.normal(size=(2, n)), rng.normal(size=m)], rng=rng)


def test_second_derivative():
    x, k = kt.dvector("x"), kt.dvector("k")
    cost = (convolve1d(x, k, "same") ** 2).sum()
    hx = kiln.gradient.hessian(cost, x)
    a, b = np.array([0.5, -1.0, 2.0, 0.3]), np.array([1.0, -2.0, 0.5])
    # cost = |C a|^2 with C the 'same' convolution matrix of b: the Hessian is 2 C^T C
    C = np.stack([_ref1(e, b, "same") for e in np.eye(4)], axis=1)
    np.testing.assert_allclose(kiln.function([x, k], hx)(a, b), 2 * C.T @ C, rtol=1e-10)


@pytest.mark.parametrize("mode", ["full", "valid", "same"])
@pytest.mark.parametrize("linker", MODES.values(), ids=MODES.keys())
def test_convolve2d_matches_scipy_and_gradients(mode, linker):
    rng = np.random.default_rng(3)
    A, K = rng.normal(size=(2, 5, 4)), rng.normal(size=(3, 2))
    x, k = kt.dtensor3("x"), kt.dmatrix("k")
    got = kiln.function([x, k], convolve2d(x, k, mode), mode=linker)(A, K)
    want = np.stack([ss.convolve2d(A[i], K, mode) for i in range(2)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)
    verify_grad(lambda p, q: convolve2d(p, q, mode), [A[0], K], rng=rng)


def test_errors():
    x = kt.dvector("x")
    with pytest.raises(ValueError, match="mode"):
        convolve1d(x, x, "wrap")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        convolve2d(x, kt.dmatrix("k"))
    with pytest.raises(NotImplementedError, match="boundary"):
        convolve2d(kt.dmatrix("a"), kt.dmatrix("k"), boundary="wrap")
    f = kiln.function([x], convolve1d(x, x))
    with pytest.raises(ValueError, match="empty"):
        f(np.zeros(0))
