"""kiln.tensor.fft (PyTensor's pytensor.tensor.fft): rfft / irfft against numpy.fft, their
gradients by finite differences, dot-product tests of both transposes, and PyTensor itself."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.gradient import verify_grad
from kiln.tensor.fft import IRFFTOp, RFFTOp, irfft, irfft_op, rfft, rfft_op

MODES = {"py": kiln.Mode(linker="py"), "default": None}
#: batch shape + transformed shape; the last transformed length is even, odd, or 1
SHAPES = [(3, 8), (2, 7), (1, 1), (2, 3, 4), (2, 5, 3), (1, 2, 2, 5)]
TOL = {"float32": 2e-5, "float64": 1e-12}
#: NumPy's norm for each of kiln's (None is NumPy's "backward"; "no_norm" scales neither way)
NP_NORM = {None: "backward", "ortho": "ortho", "forward": "forward", "backward": "backward"}


def _np_rfft(a, norm):
    spec = np.fft.rfftn(a, axes=range(1, a.ndim), norm=NP_NORM.get(norm, "backward"))
    return np.stack([spec.real, spec.imag], axis=-1)


def _np_irfft(a, n, norm):
    spec = a[..., 0] + 1j * a[..., 1]
    s = (*a.shape[1:-2], n)
    if norm == "no_norm":
        return np.fft.irfftn(spec, s=s, axes=range(1, a.ndim - 1), norm="forward")
    return np.fft.irfftn(spec, s=s, axes=range(1, a.ndim - 1), norm=NP_NORM[norm])


def _close(got, want, dtype):
    assert got.dtype == np.dtype(dtype), (got.dtype, dtype)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=TOL[dtype], atol=TOL[dtype] * scale)


@pytest.mark.parametrize("linker", MODES.values(), ids=MODES.keys())
@pytest.mark.parametrize("norm", [None, "ortho", "no_norm", "forward"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_rfft_matches_numpy(shape, dtype, norm, linker):
    a = np.random.default_rng(len(shape) * 31 + shape[-1]).normal(size=shape).astype(dtype)
    x = kt.tensor("x", dtype=dtype, shape=(None,) * len(shape))
    got = kiln.function([x], rfft(x, norm=norm), mode=linker)(a)
    _close(got, _np_rfft(a.astype("float64"), norm), dtype)


@pytest.mark.parametrize("linker", MODES.values(), ids=MODES.keys())
@pytest.mark.parametrize("norm", [None, "ortho", "no_norm", "forward"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_irfft_matches_numpy_and_inverts_rfft(shape, dtype, norm, linker):
    n = shape[-1]
    a = np.random.default_rng(n).normal(size=shape).astype(dtype)
    spec = _np_rfft(a.astype("float64"), norm).astype(dtype)
    z = kt.tensor("z", dtype=dtype, shape=(None,) * spec.ndim)
    got = kiln.function([z], irfft(z, norm=norm, is_odd=n % 2 == 1), mode=linker)(spec)
    _close(got, _np_irfft(spec.astype("float64"), n, norm), dtype)
    # norm pairs invert each other; "no_norm" leaves a factor of the point count
    factor = np.prod(shape[1:]) if norm == "no_norm" else 1.0
    _close(got, a.astype("float64") * factor, dtype)


def test_static_shapes_and_dtypes():
    x = kt.tensor("x", dtype="float32", shape=(4, 3, 6))
    spec = rfft(x)
    assert spec.type.shape == (4, 3, 4, 2) and spec.dtype == "float32"
    assert irfft(spec).type.shape == (4, 3, 6)
    assert irfft(spec, is_odd=True).type.shape == (4, 3, 7)
    assert rfft(kt.lmatrix("i")).dtype == "float64"        # NumPy's transform of integers
    v = kt.dtensor3("v")
    assert rfft(v).type.shape == (None, None, None, 2)
    assert irfft(rfft(v)).type.shape == (None, None, None)


def test_integer_input_is_transformed_in_float64():
    a = np.arange(10, dtype="int64").reshape(2, 5)
    i = kt.lmatrix("i")
    got = kiln.function([i], rfft(i))(a)
    _close(got, _np_rfft(a.astype("float64"), None), "float64")


@pytest.mark.parametrize("linker", MODES.values(), ids=MODES.keys())
def test_shapes_known_only_at_run_time(linker):
    """Symbolic shape inputs, and infer_shape (the shape of the result without computing it)."""
    v = kt.dtensor3("v")
    a = np.random.default_rng(1).normal(size=(2, 3, 5))
    spec, back = rfft(v), irfft(rfft(v), is_odd=True)
    f = kiln.function([v], [spec, back, spec.shape, back.shape], mode=linker)
    got_spec, got_back, spec_shape, back_shape = f(a)
    _close(got_spec, _np_rfft(a, None), "float64")
    _close(got_back, a, "float64")
    assert tuple(spec_shape) == (2, 3, 3, 2) and tuple(back_shape) == (2, 3, 5)
    shape_only = kiln.function([v], rfft(v).shape, mode=linker)
    assert not any(isinstance(n.op, RFFTOp) for n in shape_only.fgraph.apply_nodes)
    assert tuple(shape_only(a)) == (2, 3, 3, 2)


@pytest.mark.parametrize("shape", [(2, 6), (2, 5), (1, 1), (2, 3, 4), (2, 2, 3)], ids=str)
@pytest.mark.parametrize("norm", [None, "ortho"])
def test_rfft_gradient(shape, norm):
    rng = np.random.default_rng(shape[-1])
    verify_grad(lambda x: rfft(x, norm=norm), [rng.normal(size=shape)], rng=rng)


@pytest.mark.parametrize("shape,is_odd", [((2, 4, 2), False), ((2, 4, 2), True), ((1, 1, 2), True),
                                          ((2, 3, 3, 2), False), ((2, 2, 2, 2), True)], ids=str)
@pytest.mark.parametrize("norm", [None, "ortho"])
def test_irfft_gradient(shape, is_odd, norm):
    rng = np.random.default_rng(shape[-2])
    verify_grad(lambda z: irfft(z, norm=norm, is_odd=is_odd), [rng.normal(size=shape)], rng=rng)


def test_gradient_through_a_new_batch_axis():
    """rfft(x[None, :]): the batch axis is broadcastable (PyTensor's issue 969)."""
    rng = np.random.default_rng(213)
    verify_grad(lambda x: rfft(x[None, :]), [rng.random(16)], rng=rng)
    verify_grad(lambda z: irfft(z[None], norm="ortho"), [rng.random((9, 2))], rng=rng)


def test_second_derivative_of_the_power_spectrum():
    """sum |rfft x|^2 is a quadratic form: its Hessian-vector product is 2 L^T L t."""
    rng = np.random.default_rng(3)
    a, t = rng.normal(size=(2, 6)), rng.normal(size=(2, 6))
    x, d = kt.dmatrix("x"), kt.dmatrix("d")
    g = kiln.grad((rfft(x) ** 2).sum(), x)
    hv = kiln.function([x, d], kiln.grad((g * d).sum(), x))(a, t)
    # Parseval for the half spectrum: sum |X_k|^2 weights the interior frequencies once, not twice
    spec = np.fft.rfft(t, axis=1)
    w = np.ones(4)
    w[1:3] = 0.5
    expected = 2 * np.fft.irfft(spec * w, n=6, axis=1) * 6
    np.testing.assert_allclose(hv, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", [(2, 6), (3, 7), (1, 1), (2, 3, 4), (2, 4, 5)], ids=str)
def test_rfft_transpose_dot_product(shape):
    """<ct, L t> == <L^T ct, t> with L the unnormalized rfft and L^T what kiln.grad builds."""
    rng = np.random.default_rng(sum(shape))
    t = rng.normal(size=shape)
    ct = rng.normal(size=_np_rfft(t, None).shape)
    x = kt.tensor("x", dtype="float64", shape=(None,) * len(shape))
    c = kt.tensor("c", dtype="float64", shape=(None,) * ct.ndim)
    lt, lt_ct = kiln.function([x, c], [rfft_op(x), kiln.grad((rfft_op(x) * c).sum(), x)])(t, ct)
    np.testing.assert_allclose(np.sum(ct * lt), np.sum(lt_ct * t), rtol=1e-10)


@pytest.mark.parametrize("shape,n", [((2, 4, 2), 6), ((2, 4, 2), 7), ((1, 1, 2), 1), ((2, 3, 3, 2), 4),
                                     ((2, 2, 2, 2), 3)], ids=str)
def test_irfft_transpose_dot_product(shape, n):
    """<ct, L t> == <L^T ct, t> with L the unnormalized irfft (any spectrum t, even one whose
    zero- and Nyquist-frequency imaginary parts are not zero: irfft ignores them)."""
    rng = np.random.default_rng(n)
    t = rng.normal(size=shape)
    s = np.array([*shape[1:-2], n], dtype="int64")
    ct = rng.normal(size=(shape[0], *s))
    z = kt.tensor("z", dtype="float64", shape=(None,) * len(shape))
    c = kt.tensor("c", dtype="float64", shape=(None,) * ct.ndim)
    out = irfft_op(z, s)
    lt, lt_ct = kiln.function([z, c], [out, kiln.grad((out * c).sum(), z)])(t, ct)
    np.testing.assert_allclose(lt, _np_irfft(t, n, "no_norm"), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.sum(ct * lt), np.sum(lt_ct * t), rtol=1e-10)


def test_jvp_is_the_transform_of_the_tangent():
    rng = np.random.default_rng(5)
    a, t = rng.normal(size=(2, 5)), rng.normal(size=(2, 5))
    x, d = kt.dmatrix("x"), kt.dmatrix("d")
    (jv,) = kiln.gradient.Rop([rfft(x, norm="ortho")], [x], [d])
    np.testing.assert_allclose(kiln.function([x, d], jv)(a, t), _np_rfft(t, "ortho"), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("build,exc,match", [
    (lambda: rfft(kt.dvector("v")), TypeError, "at least 2 dimensions"),
    (lambda: irfft(kt.dmatrix("m")), TypeError, "at least 3 dimensions"),
    (lambda: rfft(kt.zmatrix("z")), TypeError, "must be a real tensor"),
    (lambda: rfft(kt.dmatrix("m"), norm="unitary"), ValueError, "invalid norm 'unitary'"),
    (lambda: rfft(kt.dmatrix("m"), norm=123), ValueError, "invalid norm 123"),
    (lambda: rfft(kt.dmatrix("m"), norm=["ortho"]), ValueError, "invalid norm"),
    (lambda: irfft(kt.dtensor3("t"), norm="bad"), ValueError, "invalid norm"),
    (lambda: irfft(kt.dtensor3("t"), is_odd=2), ValueError, "is_odd must be True or False"),
    (lambda: irfft(kt.tensor("t", dtype="float64", shape=(2, 4, 3))), ValueError, "length 2"),
    (lambda: irfft(kt.tensor("t", dtype="float64", shape=(2, 1, 2))), ValueError, "pass is_odd=True"),
    (lambda: rfft_op(kt.tensor("t", dtype="float64", shape=(2, 4)), np.array([5])), ValueError,
     "does not crop or pad"),
    (lambda: rfft_op(kt.dmatrix("m"), np.array([1.5])), TypeError, "integer vector"),
    (lambda: irfft_op(kt.dtensor3("t"), np.array([4, 4])), ValueError, "must have 1 entries"),
    (lambda: irfft_op(kt.tensor("t", dtype="float64", shape=(2, 3, 2)), np.array([6])), ValueError,
     "does not fit"),
])
def test_bad_input_is_refused_when_building(build, exc, match):
    with pytest.raises(exc, match=match):
        build()


@pytest.mark.parametrize("linker", MODES.values(), ids=MODES.keys())
def test_bad_values_are_refused_at_run_time(linker):
    z = kt.dtensor3("z")
    last2 = kiln.function([z], irfft(z), mode=linker)
    with pytest.raises(ValueError, match="length 2"):
        last2(np.zeros((1, 3, 3)))
    with pytest.raises(ValueError, match="must be positive"):
        last2(np.zeros((1, 1, 2)))      # one frequency has an odd inverse only
    np.testing.assert_allclose(kiln.function([z], irfft(z, is_odd=True), mode=linker)(np.ones((1, 1, 2))),
                               [[1.0]])
    m = kt.dmatrix("m")
    with pytest.raises(ValueError, match="empty axis"):
        kiln.function([m], rfft(m), mode=linker)(np.zeros((2, 0)))
    with pytest.raises(ValueError, match="does not crop or pad"):
        kiln.function([m], rfft_op(m, np.array([3], dtype="int64")), mode=linker)(np.zeros((2, 4)))


def test_ops_are_structural():
    assert RFFTOp() == RFFTOp() and hash(IRFFTOp()) == hash(IRFFTOp()) and RFFTOp() != IRFFTOp()
    m = kt.dmatrix("m")
    f = kiln.function([m], [rfft(m), rfft(m) * 2])
    assert sum(isinstance(n.op, RFFTOp) for n in f.fgraph.apply_nodes) == 1


# -- PyTensor itself ------------------------------------------------------------------------------
# (PyTensor's own perform warns about NumPy 2 deprecations, and its numba backend about object mode)
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
@pytest.mark.parametrize("shape,norm", [((2, 6), None), ((3, 5), "ortho"), ((2, 3, 4), "no_norm"),
                                        ((1, 1), None)], ids=str)
def test_matches_pytensor(shape, norm):
    pytest.importorskip("pytensor")
    import pytensor
    import pytensor.tensor as pt
    from pytensor.tensor import fft as pfft

    rng = np.random.default_rng(7)
    a = rng.normal(size=shape)
    is_odd = shape[-1] % 2 == 1
    px = pt.tensor("x", dtype="float64", shape=(None,) * len(shape))
    p_spec, p_back = pfft.rfft(px, norm=norm), pfft.irfft(pfft.rfft(px, norm=norm), norm=norm, is_odd=is_odd)
    p_grad = pytensor.grad((p_spec ** 2).sum() + (p_back * px).sum(), px)
    want = pytensor.function([px], [p_spec, p_back, p_grad], mode="FAST_COMPILE")(a)
    x = kt.tensor("x", dtype="float64", shape=(None,) * len(shape))
    k_spec, k_back = rfft(x, norm=norm), irfft(rfft(x, norm=norm), norm=norm, is_odd=is_odd)
    k_grad = kiln.grad((k_spec ** 2).sum() + (k_back * x).sum(), x)
    got = kiln.function([x], [k_spec, k_back, k_grad])(a)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


def test_module_path_ports():
    """`from pytensor.tensor.fft import rfft, irfft` ports by renaming the package."""
    ns: dict = {}
    exec("from kiln.tensor.fft import rfft, irfft, rfft_op, irfft_op, RFFTOp, IRFFTOp", ns)
    assert ns["rfft"] is rfft and isinstance(ns["irfft_op"], IRFFTOp)


def test_docstring_examples():
    import doctest

    import kiln.tensor.fft as mod

    res = doctest.testmod(mod)
    assert res.failed == 0 and res.attempted > 0
