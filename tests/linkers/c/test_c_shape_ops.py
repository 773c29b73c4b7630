"""C kernels of the shape-valued ops (kiln/linkers/c/lower_shape_ops.py): SumToShape, Alloc,
LinearRecurrence, and BroadcastTo/BroadcastLike as views inside segments.  Every result is
compared with the python linker (each op's `perform`) and with NumPy, over dtypes, strided,
negative-stride, empty and 0-d inputs; errors must be the python linker's exception class;
and the nodes must really sit in C segments."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.linkers.c import linker as L
from kiln.linkers.c.compiler import have_compiler
from kiln.tensor.creation import Alloc
from kiln.tensor.extra_ops import LinearRecurrence
from kiln.tensor.shape import BroadcastTo
from kiln.tensor.unbroadcast import BroadcastLike, SumToShape

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

DTYPES = ["float64", "float32", "int8", "int16", "int32", "int64", "uint8", "bool"]


def _both(inputs, outputs, rewrites="fast_run"):
    return (kiln.function(inputs, outputs, mode=kiln.Mode(linker="c", rewrites=rewrites)),
            kiln.function(inputs, outputs, mode=kiln.Mode(linker="py", rewrites=rewrites)))


def _in_c(fn, op_class) -> tuple[int, int]:
    """(nodes of op_class inside C segments, nodes of op_class run through perform)."""
    groups = L._group(L.canonical_order(fn.fgraph))
    inside = sum(isinstance(n.op, op_class) for t, ns in groups if t == "s" for n in ns)
    outside = sum(isinstance(n.op, op_class) for t, ns in groups if t == "p" for n in ns)
    return inside, outside


def _data(rng, shape, dtype):
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype.startswith(("int", "uint")):
        info = np.iinfo(dtype)   # the full range: sums wrap exactly as NumPy's
        return rng.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _layouts(a):
    """a, a non-contiguous view with the same values, a negative-stride view, Fortran order."""
    big = np.zeros(tuple(2 * s for s in a.shape), dtype=a.dtype)
    big[tuple(slice(None, None, 2) for _ in a.shape)] = a
    strided = big[tuple(slice(None, None, 2) for _ in a.shape)]
    rev = a[tuple(slice(None, None, -1) for _ in a.shape)].copy()[tuple(slice(None, None, -1) for _ in a.shape)]
    return [a, strided, rev, np.asfortranarray(a)]


def _check(got, want, dtype):
    assert np.asarray(got).dtype == np.asarray(want).dtype
    assert np.shape(got) == np.shape(want)
    if dtype in ("float32", "float64"):
        tol = 2e-5 if dtype == "float32" else 1e-12
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(got, want)


def _np_sum_to(x, shp, axes, broadcast=False):
    """NumPy reference of SumToShape: leading axes summed away, then the candidate axes
    where the target is 1, then (broadcast) length-1 axes stretched."""
    lead = x.ndim - len(shp)
    r = np.sum(x, axis=tuple(range(lead)), dtype=x.dtype) if lead else x
    red = tuple(a for a in axes if shp[a] == 1 and r.shape[a] != 1)
    r = np.sum(r, axis=red, keepdims=True, dtype=x.dtype) if red else r
    return np.broadcast_to(r, shp) if broadcast else r


# -- SumToShape ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_to_shape_matches_python_and_numpy(dtype):
    x = kt.tensor("x", dtype=dtype, shape=(None, None, None))
    r = kt.tensor("r", dtype="float64", shape=(None, None, None))
    q = kt.tensor("q", dtype="int8", shape=(None, None, None))
    s3, s2 = kt.tensor("s3", dtype="int64", shape=(3,)), kt.tensor("s2", dtype="int64", shape=(2,))
    outs = [SumToShape((0, 1, 2), by_ref=True)(x, r),             # target = r's shape
            SumToShape((0, 2), by_ref=True)(x, r),                # only axes 0 and 2 may be summed
            SumToShape((0, 1, 2))(x, s3),                         # target = a shape vector's value
            SumToShape((0, 1))(x, s2),                            # a leading axis summed away
            SumToShape((0, 1, 2), by_ref=True, broadcast=True)(x, q)]   # sum some axes, stretch others
    fc, fp = _both([x, r, s3, s2, q], outs)
    assert _in_c(fc, SumToShape) == (5, 0)
    rng = np.random.default_rng(0)
    # (x's shape, r's = s3's, s2's, q's)
    cases = [((2, 3, 4), (1, 3, 1), (1, 4), (1, 3, 1)), ((2, 3, 4), (2, 3, 4), (3, 4), (2, 3, 4)),
             ((2, 3, 4), (1, 3, 1), (1, 1), (1, 1, 1)), ((5, 1, 4), (1, 1, 4), (1, 4), (1, 3, 4)),
             ((0, 3, 4), (1, 3, 1), (3, 1), (1, 3, 4)), ((2, 0, 4), (2, 0, 1), (0, 4), (2, 0, 1)),
             ((1, 1, 1), (1, 1, 1), (1, 1), (1, 1, 1)), ((7, 1, 33), (1, 1, 1), (1, 33), (1, 5, 1))]
    for xs, rs, t2, qs in cases:
        for X in _layouts(_data(rng, xs, dtype)):
            args = [X, np.zeros(rs), np.array(rs, dtype="int64"), np.array(t2, dtype="int64"),
                    np.zeros(qs, dtype="int8")]
            got, want = fc(*args), fp(*args)
            ref = [_np_sum_to(X, rs, (0, 1, 2)), _np_sum_to(X, rs, (0, 2)), _np_sum_to(X, rs, (0, 1, 2)),
                   _np_sum_to(X, t2, (0, 1)), _np_sum_to(X, qs, (0, 1, 2), broadcast=True)]
            for g, w, n in zip(got, want, ref):
                _check(g, w, dtype)
                _check(g, n, dtype)


def test_sum_to_shape_0d_and_vector_to_scalar():
    x, v, s0 = kt.scalar("x"), kt.vector("v", dtype="int32"), kt.tensor("s0", dtype="int64", shape=(0,))
    outs = [SumToShape(())(x, s0) * 2, SumToShape(())(v, s0) + 1]
    fc, fp = _both([x, v, s0], outs)
    assert _in_c(fc, SumToShape) == (2, 0)
    for V in [np.arange(7, dtype="int32"), np.arange(14, dtype="int32")[::-2], np.zeros(0, dtype="int32")]:
        args = [np.float64(1.5), V, np.zeros(0, dtype="int64")]
        for g, w in zip(fc(*args), fp(*args)):
            _check(g, w, str(np.asarray(w).dtype))
        assert fc(*args)[1] == V.sum(dtype="int32") + 1


def test_sum_to_shape_identity_aliases_its_input_inside_a_segment():
    """Nothing to sum: the output is the input buffer itself (no copy), and a later kernel
    reading it, or a reshape of a transposed input, still sees the right values."""
    x, r = kt.matrix("x"), kt.matrix("r")
    e = kt.exp(x)
    s = SumToShape((0, 1), by_ref=True)(e, r)
    st = SumToShape((0, 1), by_ref=True)(e.T, r)
    outs = [s * 2, kt.reshape(st, (-1,)) + 1, st.sum(axis=0)]
    fc, fp = _both([x, r], outs)
    assert _in_c(fc, SumToShape) == (2, 0)
    X = np.random.default_rng(1).standard_normal((3, 4))
    for R in [np.zeros((3, 4)), np.zeros((4, 3)), np.zeros((1, 3)), np.zeros((1, 1))]:
        try:
            want = fp(X, R)
        except ValueError:
            with pytest.raises(ValueError):
                fc(X, R)
            continue
        for g, w in zip(fc(X, R), want):
            _check(g, w, "float64")


@pytest.mark.parametrize("by_ref", [True, False])
def test_sum_to_shape_bad_targets_raise_like_python(by_ref):
    x = kt.matrix("x")
    t = kt.matrix("t") if by_ref else kt.tensor("t", dtype="int64", shape=(2,))
    outs = [SumToShape((1,), by_ref=by_ref)(kt.exp(x), t) + 1]
    fc, fp = _both([x, t], outs)
    X = np.ones((3, 4))
    bad = [(2, 4), (1, 4), (3, 5), (3, 0)] + ([] if by_ref else [(3, -1)])
    for shp in bad:
        T = np.zeros(shp) if by_ref else np.array(shp, dtype="int64")
        for f in (fp, fc):
            with pytest.raises(ValueError, match="SumToShape"):
                f(X, T)
    T = np.zeros((3, 1)) if by_ref else np.array([3, 1], dtype="int64")
    np.testing.assert_allclose(fc(X, T)[0], fp(X, T)[0])


def test_sum_to_shape_broadcast_bad_targets():
    x, r = kt.matrix("x"), kt.matrix("r")
    fc, fp = _both([x, r], [SumToShape((0,), by_ref=True, broadcast=True)(x + 1, r) * 2])
    for xs, rs in [((3, 4), (3, 5)), ((3, 1), (1, 4)), ((3, 4), (3, 1)), ((0, 4), (2, 4))]:
        X, R = np.ones(xs), np.zeros(rs)
        if rs == (1, 4) or xs == (0, 4):
            continue
        for f in (fp, fc):
            with pytest.raises(ValueError):
                f(X, R)
    # x (3, 1) to (1, 4): axis 0 summed, axis 1 stretched
    X, R = np.arange(3.0).reshape(3, 1), np.zeros((1, 4))
    np.testing.assert_array_equal(fc(X, R)[0], fp(X, R)[0])
    np.testing.assert_array_equal(fc(X, R)[0], np.full((1, 4), 2 * 3.0 + 2 * 3))


def test_bias_gradient_runs_in_one_segment():
    """The gradient of a broadcast bias (the MLP bench's SumToShape) stays inside C segments."""
    x, w, b = kt.matrix("x"), kt.matrix("w"), kt.vector("b")
    loss = (kt.tanh(kt.dot(x, w) + b) ** 2).sum()
    gw, gb = kiln.grad(loss, [w, b])
    fc, fp = _both([x, w, b], [gw, gb])
    inside, outside = _in_c(fc, SumToShape)
    assert inside >= 1 and outside == 0
    rng = np.random.default_rng(3)
    args = [rng.standard_normal((6, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)]
    for g, want in zip(fc(*args), fp(*args)):
        np.testing.assert_allclose(g, want, rtol=1e-12)
    args[2] = rng.standard_normal(1)   # b of length 1 broadcast at run time: now summed
    args[1] = rng.standard_normal((4, 5))
    for g, want in zip(fc(*args), fp(*args)):
        np.testing.assert_allclose(g, want, rtol=1e-12)


def test_mlp_gradient_step_is_one_segment():
    """A small MLP's SGD step (the bench workload's graph): every SumToShape and the
    Shape_i of the mean's gradient sit inside C segments, so nothing runs through perform."""
    from kiln.tensor.shape import Shape_i

    rng = np.random.default_rng(8)
    params = [kiln.shared(rng.standard_normal(s) * 0.3) for s in [(5, 4), (4,), (4, 3), (3,)]]
    w1, b1, w2, b2 = params
    x, y = kt.matrix("x"), kt.matrix("y")
    loss = -kt.mean(kt.sum(y * kt.log_softmax(kt.dot(kt.tanh(kt.dot(x, w1) + b1), w2) + b2, axis=1), axis=1))
    grads = kiln.grad(loss, params)
    fc, fp = _both([x, y], [loss] + grads)
    groups = L._group(L.canonical_order(fc.fgraph))
    assert [t for t, _ in groups] == ["s"]
    assert _in_c(fc, SumToShape)[0] >= 2 and _in_c(fc, Shape_i)[1] == 0
    X, Y = rng.standard_normal((6, 5)), np.eye(3)[rng.integers(0, 3, 6)]
    for g, w in zip(fc(X, Y), fp(X, Y)):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


# -- Alloc --------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_alloc_matches_python_and_numpy(dtype):
    v = kt.tensor("v", dtype=dtype, shape=(None, None))
    s = kt.scalar("s", dtype=dtype)
    n, m = kt.lscalar("n"), kt.lscalar("m")
    outs = [kt.alloc(v, n, m, v.shape[1]), kt.alloc(s, n, m), kt.alloc(v, m, v.shape[1]), kt.alloc(s)]
    fc, fp = _both([v, s, n, m], outs)
    assert _in_c(fc, Alloc) == (4, 0)
    rng = np.random.default_rng(4)
    for vs, n_, m_ in [((1, 3), 2, 4), ((4, 3), 2, 4), ((1, 1), 0, 3), ((2, 0), 3, 2), ((4, 5), 1, 4)]:
        S = _data(rng, (), dtype)[()]
        for V in _layouts(_data(rng, vs, dtype)):
            args = [V, S, np.int64(n_), np.int64(m_)]
            got, want = fc(*args), fp(*args)
            ref = [np.broadcast_to(V, (n_, m_, vs[1])), np.full((n_, m_), S, dtype=dtype),
                   np.broadcast_to(V, (m_, vs[1])), np.asarray(S)]
            for g, w, r in zip(got, want, ref):
                _check(g, w, dtype)
                _check(g, r, dtype)
                assert np.asarray(g).flags.writeable


def test_alloc_errors_raise_like_python():
    v, n = kt.vector("v"), kt.lscalar("n")
    fc, fp = _both([v, n], [kt.alloc(v, n, 3) + 1])
    for V, N in [(np.ones(3), -1), (np.ones(2), 2), (np.ones(4), 0)]:
        for f in (fp, fc):
            with pytest.raises(ValueError):
                f(V, np.int64(N))
    np.testing.assert_array_equal(fc(np.ones(3), np.int64(2))[0], np.full((2, 3), 2.0))


# -- BroadcastTo / BroadcastLike: views inside segments ------------------------------------
def test_broadcast_views_inside_segments():
    x, r, n = kt.matrix("x"), kt.tensor("r", shape=(None, None, None)), kt.lscalar("n")
    e = kt.exp(x)
    outs = [kt.broadcast_to(e, (n, x.shape[0], x.shape[1])) * 2, BroadcastLike()(e, r) + r,
            kt.broadcast_to(x[0], (n, x.shape[1])).sum(axis=0)]
    fc, fp = _both([x, r, n], outs, rewrites="none")   # (the rewrites fold BroadcastLike into the add)
    assert _in_c(fc, BroadcastTo) == (2, 0) and _in_c(fc, BroadcastLike) == (1, 0)
    rng = np.random.default_rng(5)
    for xs, rs, N in [((2, 3), (4, 2, 3), 3), ((1, 3), (2, 5, 3), 0), ((2, 1), (1, 2, 4), 2)]:
        for X in _layouts(rng.standard_normal(xs)):
            args = [X, rng.standard_normal(rs), np.int64(N)]
            for g, w in zip(fc(*args), fp(*args)):
                _check(g, w, "float64")
    with pytest.raises(ValueError):   # NumPy's broadcast_to error, on both linkers
        fc(np.ones((2, 3)), np.ones((4, 2, 5)), np.int64(1))
    with pytest.raises(ValueError):
        fp(np.ones((2, 3)), np.ones((4, 2, 5)), np.int64(1))


# -- LinearRecurrence ---------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_linear_recurrence_matches_python_and_numpy(dtype):
    x = kt.tensor("x", dtype=dtype, shape=(None, None, None))
    b = kt.tensor("b", dtype=dtype, shape=(None, None, None))
    outs = [LinearRecurrence(a)(x, b) for a in range(3)]
    fc, fp = _both([x, b], outs)
    assert _in_c(fc, LinearRecurrence) == (3, 0)
    rng = np.random.default_rng(6)
    for shp in [(3, 4, 5), (1, 1, 1), (0, 2, 3), (2, 40, 1)]:
        Xs, Bs = _layouts(_data(rng, shp, dtype)), _layouts(_data(rng, shp, dtype))
        if dtype.startswith("float"):   # keep the scan bounded
            Xs = [X * np.asarray(0.5, dtype) for X in Xs]
        for X, B in zip(Xs, Bs[::-1]):
            got, want = fc(X, B), fp(X, B)
            for a, (g, w) in enumerate(zip(got, want)):
                _check(g, w, dtype)
                # NumPy reference: e_i = x_i e_(i-1) + b_i along axis a
                xm, bm = np.moveaxis(X, a, 0), np.moveaxis(B, a, 0)
                e, acc = np.empty_like(bm), np.zeros(bm.shape[1:], dtype=dtype)
                for i in range(bm.shape[0]):
                    acc = xm[i] * acc + bm[i]
                    e[i] = acc
                _check(g, np.moveaxis(e, 0, a), dtype)


def test_linear_recurrence_mixed_dtypes_and_errors():
    x, b = kt.vector("x", dtype="int16"), kt.vector("b", dtype="float32")
    fc, fp = _both([x, b], [LinearRecurrence(0)(x, b) * 1])
    assert _in_c(fc, LinearRecurrence) == (1, 0)
    X, B = np.array([1, -2, 3, 0, 2], dtype="int16"), np.linspace(-1, 1, 5).astype("float32")
    _check(fc(X, B)[0], fp(X, B)[0], "float32")
    for f in (fp, fc):
        with pytest.raises(ValueError):
            f(X[:3], B)


# -- Diagonal, DiagonalEmbed, Eye ---------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float64", "float32", "int8", "int64", "uint8", "bool"])
def test_diagonal_and_embed_match_python_and_numpy(dtype):
    from kiln.tensor.diag_ops import Diagonal, DiagonalEmbed

    x = kt.tensor("x", dtype=dtype, shape=(None, None, None))
    outs = [Diagonal(0, 0, 1)(x), Diagonal(1, 1, 2)(x), Diagonal(-2, 2, 0)(x), Diagonal(5, 0, 2)(x)]
    embeds = [DiagonalEmbed(o.owner.op.offset, o.owner.op.axis1, o.owner.op.axis2)(o, x.shape) for o in outs]
    fc, fp = _both([x], outs + embeds)
    assert _in_c(fc, Diagonal) == (4, 0) and _in_c(fc, DiagonalEmbed) == (4, 0)
    rng = np.random.default_rng(7)
    for shp in [(3, 4, 5), (4, 3, 2), (1, 1, 1), (0, 3, 2), (2, 6, 6)]:
        for X in _layouts(_data(rng, shp, dtype)):
            got, want = fc(X), fp(X)
            for k, (g, w) in enumerate(zip(got, want)):
                _check(g, w, dtype)
            for k, (off, a1, a2) in enumerate([(0, 0, 1), (1, 1, 2), (-2, 2, 0), (5, 0, 2)]):
                d = np.diagonal(X, off, a1, a2)
                _check(got[k], d, dtype)
                e = np.zeros(shp, dtype=dtype)   # embedding the diagonal back: X with zeros elsewhere
                np.moveaxis(e, (a1, a2), (-2, -1))[...] = np.moveaxis(np.where(
                    _diag_mask(X.shape, off, a1, a2), X, 0), (a1, a2), (-2, -1))
                _check(got[4 + k], e, dtype)


def _diag_mask(shape, off, a1, a2):
    idx = np.indices(shape)
    return idx[a2] - idx[a1] == off


def test_diag_of_a_vector_and_embed_errors():
    v, n = kt.vector("v"), kt.lscalar("n")
    from kiln.tensor.diag_ops import DiagonalEmbed

    outs = [kt.diag(kt.exp(v), -1) * 2, DiagonalEmbed(0, 0, 1)(v, [n, n]) + 1]
    fc, fp = _both([v, n], outs)
    assert _in_c(fc, DiagonalEmbed) == (2, 0)
    for V in [np.arange(3.0), np.arange(6.0)[::-2], np.zeros(0)]:
        N = np.int64(len(V))
        for g, w in zip(fc(V, N), fp(V, N)):
            _check(g, w, "float64")
        np.testing.assert_array_equal(fc(V, N)[0], np.diag(np.exp(V), -1) * 2)
    for N in [2, -1]:   # the values do not fit / a negative length: ValueError on both linkers
        for f in (fp, fc):
            with pytest.raises(ValueError):
                f(np.arange(3.0), np.int64(N))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "uint8", "bool"])
def test_eye_matches_python_and_numpy(dtype):
    n, m, k = kt.lscalar("n"), kt.lscalar("m"), kt.iscalar("k")
    outs = [kt.eye(n, m, k, dtype=dtype), kt.eye(n, n, 0, dtype=dtype)]
    fc, fp = _both([n, m, k], outs)
    from kiln.tensor.creation import Eye
    assert _in_c(fc, Eye) == (2, 0)
    for N, M, K in [(3, 4, 0), (3, 4, 2), (4, 3, -1), (0, 3, 0), (2, 2, 5), (3, 3, -7),
                    (2, 5, np.iinfo("int32").min), (2, 5, np.iinfo("int32").max)]:
        args = [np.int64(N), np.int64(M), np.int32(K)]
        got, want = fc(*args), fp(*args)
        for g, w in zip(got, want):
            _check(g, w, dtype)
        _check(got[0], np.eye(N, M, K, dtype=dtype), dtype)
    for f in (fp, fc):
        with pytest.raises(ValueError):
            f(np.int64(-1), np.int64(2), np.int32(0))
