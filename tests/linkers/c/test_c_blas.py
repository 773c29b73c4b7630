"""Dot, MatMul, Gemm and Gemv on the C linker (BLAS through SciPy's cython_blas) against the
python linker: float32/float64, contiguous, transposed, strided, negative-stride and
broadcast operands, empty and 1-d operands; other dtypes fall back to perform."""
import functools

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.linkers.c.compiler import have_compiler
from kiln.linkers.c.lower import lower_node
from kiln.rewrites.blas_ops import Gemm, gemm, gemv

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

C, PY = kiln.Mode(linker="c", rewrites="none"), kiln.Mode(linker="py", rewrites="none")
TOL = {"float32": dict(rtol=2e-5, atol=2e-5), "float64": dict(rtol=1e-12, atol=1e-12)}


@functools.lru_cache(maxsize=None)
def _product_fns(dtype, xnd, ynd):
    x = kt.tensor("x", dtype=dtype, shape=(None,) * xnd)
    y = kt.tensor("y", dtype=dtype, shape=(None,) * ynd)
    outs = [x @ y] + ([kt.dot(x, y)] if xnd <= 2 and ynd <= 2 else [])
    fc, fp = kiln.function([x, y], outs, mode=C), kiln.function([x, y], outs, mode=PY)
    assert all(lower_node(n) is not None for n in fc.fgraph.toposort()), "the products must run in C"
    return fc, fp


def _layouts(a):
    """The same values in several memory layouts."""
    yield a
    if a.ndim >= 2:
        yield np.asfortranarray(a)                       # column-major: BLAS's 'T'
        yield np.swapaxes(np.swapaxes(a, -1, -2).copy(), -1, -2)
    if a.ndim >= 1 and a.shape[-1] > 0:
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        wide[..., ::2] = a
        yield wide[..., ::2]                             # strided rows: copied or 'T' with a stride
        rev = a[..., ::-1].copy()
        yield rev[..., ::-1]                             # negative strides: copied


SHAPES = [((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)), ((1, 4), (4, 1)), ((7, 1), (1, 6)),
          ((0, 4), (4, 3)), ((3, 0), (0, 2)), ((3, 4), (4, 0)), ((2, 3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
          ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((33, 65), (65, 17))]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("xs,ys", SHAPES)
def test_products_match_python_linker(dtype, xs, ys):
    rng = np.random.default_rng(len(xs) * 10 + len(ys))
    fc, fp = _product_fns(dtype, len(xs), len(ys))
    a = rng.normal(size=xs).astype(dtype)
    b = rng.normal(size=ys).astype(dtype)
    for la in _layouts(a):
        for lb in list(_layouts(b))[:3]:
            for got, want in zip(fc(la, lb), fp(la, lb)):
                assert got.shape == want.shape and got.dtype == want.dtype
                np.testing.assert_allclose(got, want, **TOL[dtype])


def test_broadcast_operand_with_zero_strides():
    fc, fp = _product_fns("float64", 2, 2)
    a = np.broadcast_to(np.arange(4.0), (3, 4))          # zero row stride: copied
    b = np.arange(20.0).reshape(4, 5)
    for got, want in zip(fc(a, b), fp(a, b)):
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")   # NumPy warns on the reference side
def test_nan_and_inf_propagate_like_numpy():
    fc, fp = _product_fns("float64", 2, 2)
    a = np.array([[1.0, np.nan], [np.inf, 2.0]])
    b = np.array([[1.0, 0.0], [0.0, 1.0]])
    for got, want in zip(fc(a, b), fp(a, b)):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(got[np.isfinite(want)], want[np.isfinite(want)])


@functools.lru_cache(maxsize=None)
def _gemm_fns(dtype):
    A, Bm = kt.matrix("A", dtype=dtype), kt.matrix("B", dtype=dtype)
    Cm, y, v = kt.matrix("C", dtype=dtype), kt.vector("y", dtype=dtype), kt.vector("v", dtype=dtype)
    al, be = kt.scalar("al", dtype=dtype), kt.scalar("be", dtype=dtype)
    outs = [gemm(Cm, al, A, Bm, be), Gemm(inplace=True)(Cm, al, A, Bm, be), gemv(y, al, A, v, be)]
    ins = [Cm, al, A, Bm, be, y, v]
    fc = kiln.function(ins, outs, mode=C)
    assert all(lower_node(n) is not None for n in fc.fgraph.toposort())
    return fc, kiln.function(ins, outs, mode=PY)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("m,k,n,cshape,yshape", [
    (3, 4, 5, (3, 5), (3,)), (3, 4, 5, (1, 5), (1,)), (3, 4, 5, (3, 1), (3,)),
    (1, 4, 5, (3, 5), (1,)),            # c broadcasts the product's length-1 axis
    (1, 4, 1, (3, 5), (6,)), (0, 4, 5, (0, 5), (0,)), (3, 0, 5, (3, 5), (3,)), (40, 30, 20, (40, 20), (40,))])
def test_gemm_gemv_match_python_linker(dtype, m, k, n, cshape, yshape):
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    fc, fp = _gemm_fns(dtype)
    a = rng.normal(size=(m, k)).astype(dtype)
    b = rng.normal(size=(k, n)).astype(dtype)
    c = rng.normal(size=cshape).astype(dtype)
    y = rng.normal(size=yshape).astype(dtype)
    v = rng.normal(size=(k,)).astype(dtype)
    for alpha, beta in [(1.5, -0.5), (1.0, 0.0), (-2.0, 1.0)]:
        args = [c, np.asarray(alpha, dtype), a, b, np.asarray(beta, dtype), y, v]
        for at in (a, np.asfortranarray(a)):
            args[2] = at
            want = fp(*[np.copy(x) for x in args])
            got = fc(*[np.copy(x) for x in args])
            for g, w in zip(got, want):
                assert g.shape == w.shape and g.dtype == w.dtype
                np.testing.assert_allclose(g, w, **TOL[dtype])


def test_gemm_beta_zero_keeps_nan_of_the_added_term():
    """NumPy computes beta * c + alpha * (a @ b), so 0 * nan is nan (BLAS would drop it)."""
    fc, fp = _gemm_fns("float64")
    c = np.array([[np.nan, 1.0]])
    args = [c, np.asarray(1.0), np.ones((1, 2)), np.ones((2, 2)), np.asarray(0.0), np.ones(1), np.ones(2)]
    got, want = fc(*args)[0], fp(*args)[0]
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    assert np.isnan(got[0, 0]) and got[0, 1] == want[0, 1]


def test_other_dtypes_fall_back_to_perform():
    x, y = kt.matrix("x", dtype="int64"), kt.matrix("y", dtype="int64")
    xf, yf = kt.matrix("xf", dtype="float32"), kt.matrix("yf", dtype="float64")
    outs = [x @ y, kt.dot(x, y), xf @ yf]
    fc = kiln.function([x, y, xf, yf], outs, mode=C)
    assert all(lower_node(n) is None for n in fc.fgraph.toposort())
    fp = kiln.function([x, y, xf, yf], outs, mode=PY)
    args = [np.arange(6).reshape(2, 3), np.arange(6).reshape(3, 2), np.ones((2, 3), "float32"), np.ones((3, 2))]
    for g, w in zip(fc(*args), fp(*args)):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


def test_misaligned_shapes_raise_value_error_naming_the_op():
    fc, _ = _product_fns("float64", 2, 2)
    with pytest.raises(ValueError, match="not aligned"):
        fc(np.ones((2, 3)), np.ones((4, 2)))
    fb, _ = _product_fns("float64", 3, 3)
    with pytest.raises(ValueError, match="do not broadcast"):
        fb(np.ones((2, 2, 3)), np.ones((3, 3, 2)))


def test_default_rewrites_gemm_in_c_matches_python():
    """The default pipeline turns scaled products into Gemm/Gemv; they run in C."""
    A, Bm, Cm = kt.matrix("A"), kt.matrix("B"), kt.matrix("C")
    v = kt.vector("v")
    outs = [2.0 * Cm + 0.5 * kt.dot(A, Bm), v + kt.dot(A, v), kt.dot(A, Bm).sum(), 1.0 + kt.dot(A, Bm)]
    fc = kiln.function([A, Bm, Cm, v], outs, mode=kiln.Mode(linker="c"))
    ops = {type(n.op).__name__ for n in fc.fgraph.toposort()}
    assert "Gemv" in ops or "Gemm" in ops
    assert all(lower_node(n) is not None for n in fc.fgraph.toposort() if type(n.op).__name__ in ("Gemv", "Gemm"))
    fp = kiln.function([A, Bm, Cm, v], outs, mode=kiln.Mode(linker="py"))
    rng = np.random.default_rng(1)
    args = [rng.normal(size=(6, 6)) for _ in range(3)] + [rng.normal(size=6)]
    for g, w in zip(fc(*args), fp(*args)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
