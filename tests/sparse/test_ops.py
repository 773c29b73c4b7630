"""Every kiln.sparse op against scipy.sparse / NumPy, on csr and csc, both linkers."""
import numpy as np
import pytest
import scipy.sparse as ss

import kiln
import kiln.sparse as ks
import kiln.tensor as kt
from tests.sparse.sparse_helpers import empty, rand_sparse

FMTS = ["csr", "csc"]


def dense(v):
    return v.toarray() if ss.issparse(v) else np.asarray(v)


def run(inputs, outputs, values, mode):
    return kiln.function(inputs, outputs, mode=mode)(*values)


def check_sparse_out(got, fmt, expected):
    assert ss.issparse(got) and got.format == fmt, f"got {type(got)}"
    np.testing.assert_allclose(got.toarray(), dense(expected), rtol=1e-6)


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_conversions_and_properties(fmt, dtype, mode):
    x = ks.SparseTensorType(fmt, dtype)("x")
    d = kt.matrix("d", dtype=dtype)
    v = rand_sparse(fmt, dtype=dtype)
    dv = v.toarray()
    outs = run([x, d], [x.toarray(), ks.csr_from_dense(d), ks.csc_from_dense(d), *ks.csm_properties(x)], [v, dv], mode)
    np.testing.assert_array_equal(outs[0], dv)
    assert outs[0].dtype == dtype
    check_sparse_out(outs[1], "csr", dv)
    check_sparse_out(outs[2], "csc", dv)
    np.testing.assert_array_equal(outs[3], v.data)
    np.testing.assert_array_equal(outs[4], v.indices)
    np.testing.assert_array_equal(outs[5], v.indptr)
    np.testing.assert_array_equal(outs[6], v.shape)
    data, ind, ptr, shp = ks.csm_properties(x)
    rebuilt = run([x], ks.CSM(fmt)(data * 2, ind, ptr, shp), [v], mode)
    check_sparse_out(rebuilt, fmt, 2 * dv)
    build = ks.CSR if fmt == "csr" else ks.CSC
    assert run([x], build(data, ind, ptr, shp), [v], mode).format == fmt


@pytest.mark.parametrize("fmt", FMTS)
def test_empty_and_no_stored_entries(fmt, mode):
    x = ks.SparseTensorType(fmt, "float64")("x")
    w = kt.dmatrix("w")
    outs = [x.toarray(), ks.sp_sum(x), ks.sp_sum(x, 0), ks.dot(x, w), ks.structured_exp(x), x.T, x * x,
            ks.sp_ones_like(x), ks.remove0(x), *ks.csm_properties(x)[:1]]
    for shape in [(3, 2), (0, 2)]:
        v = empty(fmt, shape)
        got = run([x, w], outs, [v, np.ones((shape[1], 2))], mode)
        np.testing.assert_array_equal(got[0], np.zeros(shape))
        assert float(got[1]) == 0.0
        np.testing.assert_array_equal(got[2], np.zeros(shape[1]))
        np.testing.assert_array_equal(got[3], np.zeros((shape[0], 2)))
        for s in got[4:9]:
            assert ss.issparse(s) and s.nnz == 0
        assert got[9].shape == (0,)


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_arithmetic(fmt, dtype, mode):
    x, y = (ks.SparseTensorType(fmt, dtype)(n) for n in "xy")
    d = kt.matrix("d", dtype=dtype)
    a, b = rand_sparse(fmt, dtype="float64", seed=1), rand_sparse(fmt, dtype="float64", seed=2)
    if dtype == "int64":
        a.data, b.data = np.round(a.data * 5), np.round(b.data * 5)
    a, b = a.astype(dtype), b.astype(dtype)
    dv = np.arange(12, dtype=dtype).reshape(4, 3)
    outs = run([x, y, d], [x + y, x + d, ks.add(d, x), x - y, x - d, x * y, x * d, ks.mul(d, x), -x, x.T,
                           ks.multiply(x, 2)], [a, b, dv], mode)
    A, B = a.toarray(), b.toarray()
    check_sparse_out(outs[0], fmt, A + B)
    np.testing.assert_allclose(outs[1], A + dv)
    np.testing.assert_allclose(outs[2], A + dv)
    check_sparse_out(outs[3], fmt, A - B)
    np.testing.assert_allclose(outs[4], A - dv)
    check_sparse_out(outs[5], fmt, A * B)
    check_sparse_out(outs[6], fmt, A * dv)
    check_sparse_out(outs[7], fmt, A * dv)
    check_sparse_out(outs[8], fmt, -A)
    check_sparse_out(outs[9], "csc" if fmt == "csr" else "csr", A.T)
    check_sparse_out(outs[10], fmt, 2 * A)


@pytest.mark.parametrize("fmt", FMTS)
def test_shape_mismatch_is_clear(fmt, mode):
    x, y = ks.csr_matrix("x", dtype="float64"), ks.csr_matrix("y", dtype="float64")
    f = kiln.function([x, y], x + y, mode=mode)
    with pytest.raises(ValueError, match="add: shapes"):
        f(rand_sparse("csr", (2, 3)), rand_sparse("csr", (3, 2)))
    with pytest.raises(TypeError, match="2-d"):
        ks.add(x, kt.dvector())


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_products(fmt, dtype, mode):
    x, y = ks.SparseTensorType(fmt, dtype)("x"), ks.SparseTensorType(fmt, dtype)("y")
    w, u = kt.matrix("w", dtype=dtype), kt.vector("u", dtype=dtype)
    a, b = rand_sparse(fmt, (4, 3), dtype), rand_sparse(fmt, (3, 5), dtype, seed=3)
    wv, uv = np.linspace(-1, 1, 15).reshape(3, 5).astype(dtype), np.arange(3, dtype=dtype)
    lw = np.linspace(0, 1, 8).reshape(2, 4).astype(dtype)
    L = kt.matrix("L", dtype=dtype)
    outs = run([x, y, w, u, L], [ks.dot(x, w), ks.dot(x, u), ks.dot(L, x), ks.dot(x, y), x @ w,
                                 ks.structured_dot(x, w), ks.structured_dot(x, y), ks.true_dot(x, y),
                                 ks.true_dot(x, w)], [a, b, wv, uv, lw], mode)
    A, B = a.toarray(), b.toarray()
    tol = dict(rtol=1e-5 if dtype == "float32" else 1e-12)
    for k, exp in enumerate([A @ wv, A @ uv, lw @ A, A @ B, A @ wv, A @ wv]):
        assert isinstance(outs[k], np.ndarray) and outs[k].dtype == dtype
        np.testing.assert_allclose(outs[k], exp, **tol)
    for k in (6, 7, 8):
        check_sparse_out(outs[k], fmt, A @ (B if k < 8 else wv))


@pytest.mark.parametrize("fmt", FMTS)
def test_reductions_scaling_diagonals_stacking(fmt, mode):
    x, y = ks.SparseTensorType(fmt, "float64")("x"), ks.SparseTensorType(fmt, "float64")("y")
    s3, s4 = kt.dvector("s3"), kt.dvector("s4")
    a, b = rand_sparse(fmt, (4, 3)), rand_sparse(fmt, (4, 3), seed=5)
    sq = rand_sparse(fmt, (3, 3), seed=6)
    sqv = ks.SparseTensorType(fmt, "float64")("sq")
    outs = run([x, y, s3, s4, sqv], [ks.sp_sum(x), ks.sp_sum(x, 0), ks.sp_sum(x, 1), x.sum(axis=-1),
                                     ks.col_scale(x, s3), ks.row_scale(x, s4), ks.diag(sqv),
                                     ks.square_diagonal(s3), ks.hstack([x, y]), ks.vstack([x, y], format="csr")],
               [a, b, np.arange(3.0), np.arange(4.0), sq], mode)
    A, B = a.toarray(), b.toarray()
    assert float(outs[0]) == pytest.approx(A.sum())
    np.testing.assert_allclose(outs[1], A.sum(0))
    np.testing.assert_allclose(outs[2], A.sum(1))
    np.testing.assert_allclose(outs[3], A.sum(1))
    check_sparse_out(outs[4], fmt, A * np.arange(3.0)[None, :])
    check_sparse_out(outs[5], fmt, A * np.arange(4.0)[:, None])
    np.testing.assert_allclose(outs[6], np.diag(sq.toarray()))
    check_sparse_out(outs[7], "csc", np.diag(np.arange(3.0)))
    check_sparse_out(outs[8], fmt, np.hstack([A, B]))
    check_sparse_out(outs[9], "csr", np.vstack([A, B]))


@pytest.mark.parametrize("fmt", FMTS)
def test_structure_ops(fmt, mode):
    x = ks.SparseTensorType(fmt, "float64")("x")
    v = rand_sparse(fmt)
    v.data[0] = 0.0                           # an explicitly stored zero
    # reverse the entries within each row (csr) / column (csc): same matrix, unsorted indices
    for k in range(len(v.indptr) - 1):
        lo, hi = v.indptr[k], v.indptr[k + 1]
        v.indices[lo:hi], v.data[lo:hi] = v.indices[lo:hi][::-1].copy(), v.data[lo:hi][::-1].copy()
    v.has_sorted_indices = False
    outs = run([x], [ks.remove0(x), ks.ensure_sorted_indices(x), ks.sp_ones_like(x), ks.sp_zeros_like(x),
                     ks.cast(x, "float32"), x.astype("int64")], [v], mode)
    assert outs[0].nnz == v.nnz - 1
    np.testing.assert_allclose(outs[0].toarray(), v.toarray())
    assert outs[1].has_sorted_indices
    assert all(np.all(np.diff(outs[1].indices[outs[1].indptr[k]:outs[1].indptr[k + 1]]) > 0)
               for k in range(len(v.indptr) - 1))
    np.testing.assert_allclose(outs[1].toarray(), v.toarray())
    check_sparse_out(outs[2], fmt, _pattern(v))
    assert outs[3].nnz == 0 and outs[3].shape == v.shape and outs[3].format == fmt
    assert outs[4].dtype == np.float32 and outs[5].dtype == np.int64


def _pattern(v):
    p = v.copy()
    p.data[:] = 1.0
    return p.toarray()


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("cmp", ["eq", "neq", "lt", "gt", "le", "ge"])
def test_comparisons(fmt, cmp, mode):
    x, y = ks.SparseTensorType(fmt, "float64")("x"), ks.SparseTensorType(fmt, "float64")("y")
    d = kt.dmatrix("d")
    a, b = rand_sparse(fmt, seed=1), rand_sparse(fmt, seed=2)
    dv = np.full((4, 3), 0.9)
    f = getattr(ks, cmp)
    outs = run([x, y, d], [f(x, y), f(x, d), f(d, x)], [a, b, dv], mode)
    npf = {"eq": np.equal, "neq": np.not_equal, "lt": np.less, "gt": np.greater, "le": np.less_equal,
           "ge": np.greater_equal}[cmp]
    A, B = a.toarray(), b.toarray()
    for got, exp in zip(outs, [npf(A, B), npf(A, dv), npf(dv, A)]):
        assert ss.issparse(got) and got.format == fmt
        np.testing.assert_array_equal(got.toarray(), exp)
    assert run([x, y], x < y, [a, b], mode).nnz == int(np.sum(A < B))


UNARY = ["sin", "tan", "arcsin", "arctan", "sinh", "arcsinh", "tanh", "arctanh", "sqrt", "sqr", "abs", "floor",
         "ceil", "trunc", "sign", "rint", "expm1", "log1p", "deg2rad", "rad2deg"]


@pytest.mark.parametrize("fmt", FMTS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_elementwise_functions(fmt, dtype, mode):
    x = ks.SparseTensorType(fmt, dtype)("x")
    v = rand_sparse(fmt, dtype=dtype)
    v.data = (v.data - 1.0).astype(dtype) * 0.9     # in (-0.45, 0.45): inside every domain
    A = v.toarray()
    fns = [getattr(ks, n) for n in UNARY]
    outs = run([x], [f(x) for f in fns] + [abs(x), ks.structured_exp(x), ks.structured_log(abs(x)),
                                           ks.structured_sigmoid(x), ks.structured_pow(x, 2),
                                           ks.structured_minimum(x, 0.1), ks.structured_maximum(x, 0.1)],
               [v], mode)
    npn = {"sqr": np.square, "abs": np.abs, "rint": np.rint, "sqrt": lambda a: np.sqrt(np.abs(a))}
    tol = dict(rtol=1e-5, atol=1e-6)
    for n, got in zip(UNARY, outs):
        exp = npn.get(n, getattr(np, n, None))(A) if n != "sqrt" else None
        assert got.format == fmt and str(got.dtype) == dtype, n
        if n == "sqrt":
            exp = np.where(A >= 0, np.sqrt(np.maximum(A, 0)), np.nan)
            np.testing.assert_allclose(got.toarray(), exp, **tol, equal_nan=True)
            continue
        np.testing.assert_allclose(got.toarray(), exp, **tol, err_msg=n)
    rest = outs[len(UNARY):]
    mask = _pattern(v) > 0
    np.testing.assert_allclose(rest[0].toarray(), np.abs(A), **tol)
    np.testing.assert_allclose(rest[1].toarray(), np.where(mask, np.exp(A), 0), **tol)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(rest[2].toarray(), np.where(mask, np.log(np.abs(A)), 0), **tol)
    np.testing.assert_allclose(rest[3].toarray(), np.where(mask, 1 / (1 + np.exp(-A)), 0), **tol)
    np.testing.assert_allclose(rest[4].toarray(), A ** 2, **tol)
    np.testing.assert_allclose(rest[5].toarray(), np.where(mask, np.minimum(A, 0.1), 0), **tol)
    np.testing.assert_allclose(rest[6].toarray(), np.where(mask, np.maximum(A, 0.1), 0), **tol)


@pytest.mark.parametrize("fmt", FMTS)
def test_structured_add(fmt, mode):
    x, y = ks.SparseTensorType(fmt, "float64")("x"), kt.dvector("y")
    v = rand_sparse(fmt)
    got = run([x, y], ks.structured_add(x, y), [v, np.arange(3.0) + 1], mode)
    mask = _pattern(v) > 0
    check_sparse_out(got, fmt, np.where(mask, v.toarray() + (np.arange(3.0) + 1)[None, :], 0))


@pytest.mark.parametrize("fmt", FMTS)
def test_indexing(fmt, mode):
    x = ks.SparseTensorType(fmt, "float64")("x")
    i, j = kt.iscalar("i"), kt.iscalar("j")
    v = rand_sparse(fmt, (5, 4))
    A = v.toarray()
    f = kiln.function([x, i, j], [x[i, j], x[1:4], x[1:4, j:], x[::2, 1:3], x[i], x[-1, 0]], mode=mode)
    outs = f(v, 2, 1)
    assert float(outs[0]) == A[2, 1]
    check_sparse_out(outs[1], fmt, A[1:4])
    check_sparse_out(outs[2], fmt, A[1:4, 1:])
    check_sparse_out(outs[3], fmt, A[::2, 1:3])
    check_sparse_out(outs[4], fmt, A[2:3])
    assert float(outs[5]) == A[-1, 0]
    assert float(f(v, -1, -2)[0]) == A[-1, -2]
    with pytest.raises(IndexError, match="out of bounds"):
        f(v, 7, 0)


def test_infer_shape(mode):
    """The rewriter's shape inference (shape of sparse results, without computing them)."""
    x = ks.csr_matrix("x", dtype="float64")
    w = kt.dmatrix("w")
    exprs = [x.T, x + x, ks.dot(x, w), ks.sp_sum(x, 1), ks.structured_exp(x), ks.hstack([x, x]), ks.diag(x)]
    v, wv = rand_sparse("csr", (3, 3)), np.ones((3, 2))
    for e in exprs:
        got = kiln.function([x, w], e.shape, mode=mode, on_unused_input="ignore")(v, wv)
        val = kiln.function([x, w], e, mode=mode, on_unused_input="ignore")(v, wv)
        assert tuple(got) == val.shape
    from kiln.tensor.shape import infer_graph_shapes

    (shp,) = infer_graph_shapes([x], [ks.dot(x, w).T], [(5, 7)])
    assert int(shp[1]) == 5


def test_dense_operand_on_the_left():
    import scipy.sparse as sps

    x, d = ks.csr_matrix("x"), kt.dmatrix("d")
    m = sps.random(3, 3, density=0.5, format="csr", random_state=2)
    dv = np.arange(9.0).reshape(3, 3)
    plus, times, prod = kiln.function([d, x], [d + x, d * x, d @ x])(dv, m)
    np.testing.assert_allclose(plus, dv + m.toarray())
    np.testing.assert_allclose(times.toarray(), m.multiply(dv).toarray())
    np.testing.assert_allclose(prod, dv @ m.toarray())
