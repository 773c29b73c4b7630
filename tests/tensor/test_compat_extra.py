"""PyTensor-compatible indexing and product names (kiln.tensor.compat_extra) against NumPy and
PyTensor, plus the re-exported gradient functions and vectorize."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.gradient import verify_grad

from .conftest import PY, _run, _same

RNG = np.random.default_rng(11)


def test_choose_list_and_array_modes():
    a = kt.lvector("a")
    cs = [kt.dvector(f"c{i}") for i in range(3)]
    vc = [RNG.normal(size=4) for _ in range(3)]
    va = np.array([0, 2, 1, 2])
    _same(_run([a] + cs, kt.choose(a, cs), va, *vc), np.choose(va, vc))
    m = kt.dmatrix("m")
    vm = RNG.normal(size=(3, 4))
    wrap = np.array([0, 4, -1, 5])
    _same(_run([a, m], kt.choose(a, m, mode="wrap"), wrap, vm), np.choose(wrap, vm, mode="wrap"))
    _same(_run([a, m], kt.choose(a, m, mode="clip"), wrap, vm), np.choose(wrap, vm, mode="clip"))
    with pytest.raises(IndexError, match="choose"):
        _run([a, m], kt.choose(a, m), wrap, vm)
    with pytest.raises(ValueError, match="mode"):
        kt.choose(a, m, mode="nope")
    with pytest.raises(TypeError, match="integers"):
        kt.choose(kt.dvector(), m)


def test_choose_broadcasting_dtype_empty_and_grad():
    a = kt.lmatrix("a")
    c0, c1 = kt.ivector("c0"), kt.dmatrix("c1")
    va = np.array([[0, 1, 1], [1, 0, 0]])
    v0, v1 = np.array([1, 2, 3], dtype="int32"), RNG.normal(size=(1, 3))
    _same(_run([a, c0, c1], kt.choose(a, [c0, c1]), va, v0, v1), np.choose(va, [v0, v1]))
    e = kt.lvector("e")
    _same(_run([e, c0], kt.choose(e, [c0, c0]), np.zeros(0, "int64"), np.zeros(0, "int32")),
          np.choose(np.zeros(0, "int64"), [np.zeros(0, "int32")] * 2))
    verify_grad(lambda x, y: kt.choose(kt.constant(np.array([0, 1, 1])), [x, y]),
                [RNG.normal(size=3), RNG.normal(size=3)], rng=RNG)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_compress(axis):
    x = kt.dmatrix("x")
    c = kt.bvector("c")
    v = RNG.normal(size=(3, 4))
    n = v.size if axis is None else v.shape[axis]
    vc = (RNG.random(n) > 0.5).astype("int8")
    _same(_run([c, x], kt.compress(c, x, axis=axis), vc, v), np.compress(vc, v, axis=axis))


def test_extract_diag_fill_diagonal():
    x = kt.dmatrix("x")
    for shape in [(3, 3), (4, 2), (2, 5), (0, 3)]:
        v = RNG.normal(size=shape)
        _same(_run([x], kt.extract_diag(x), v), np.diagonal(v))
        want = v.copy()
        np.fill_diagonal(want, 7.5)
        _same(_run([x], kt.fill_diagonal(x, 7.5), v), want)
        for off in (-2, -1, 0, 1, 3):
            want = v.copy()
            r = np.arange(max(0, min(shape[0] - max(-off, 0), shape[1] - max(off, 0))))
            want[r + max(-off, 0), r + max(off, 0)] = -1.0
            _same(_run([x], kt.fill_diagonal_offset(x, -1.0, off), v), want)
    t = kt.dtensor3("t")
    vt = RNG.normal(size=(3, 3, 3))
    want = vt.copy()
    np.fill_diagonal(want, 2.0)
    _same(_run([t], kt.fill_diagonal(t, 2.0), vt), want)
    # integer array, float value: cast to the array's dtype as NumPy does
    im = kt.imatrix("im")
    vi = np.zeros((2, 2), dtype="int32")
    want = vi.copy()
    np.fill_diagonal(want, 3)
    _same(_run([im], kt.fill_diagonal(im, 3.0), vi), want)
    with pytest.raises(TypeError):
        kt.fill_diagonal(x, kt.dvector())
    verify_grad(lambda m, s: kt.fill_diagonal(m, s), [RNG.normal(size=(3, 3)), np.array(0.5)], rng=RNG)
    verify_grad(lambda m, s: kt.fill_diagonal_offset(m, s, 1), [RNG.normal(size=(3, 4)), np.array(0.5)], rng=RNG)


def test_permutations():
    p = kt.lmatrix("p")
    vp = np.array([RNG.permutation(5) for _ in range(3)])
    inv = _run([p], kt.inverse_permutation(p), vp)
    _same(inv, np.argsort(vp, axis=-1))
    x = kt.dmatrix("x")
    vx = RNG.normal(size=(3, 5))
    _same(_run([x, p], kt.permute_row_elements(x, p), vx, vp), np.take_along_axis(vx, vp, axis=-1))
    back = _run([x, p], kt.permute_row_elements(kt.permute_row_elements(x, p), p, inverse=True), vx, vp)
    _same(back, vx)
    v1 = kt.lvector("v1")
    perm = RNG.permutation(5)
    _same(_run([x, v1], kt.permute_row_elements(x, v1), vx, perm), vx[:, perm])
    xv = kt.dvector("xv")
    _same(_run([xv, p], kt.permute_row_elements(xv, p), vx[0], vp), vx[0][vp])
    verify_grad(lambda a: kt.permute_row_elements(a, kt.constant(vp)), [vx], rng=RNG)


def test_ravel_unravel():
    i, j = kt.lvectors("i j")
    vi, vj = np.array([0, 1, 2]), np.array([3, 0, 2])
    _same(_run([i, j], kt.ravel_multi_index((i, j), (3, 4)), vi, vj), np.ravel_multi_index((vi, vj), (3, 4)))
    _same(_run([i, j], kt.ravel_multi_index((i, j), (3, 4), order="F"), vi, vj),
          np.ravel_multi_index((vi, vj), (3, 4), order="F"))
    big = np.array([5, 1, 2])
    _same(_run([i, j], kt.ravel_multi_index((i, j), (3, 4), mode="wrap"), big, vj),
          np.ravel_multi_index((big, vj), (3, 4), mode="wrap"))
    with pytest.raises(ValueError):
        _run([i, j], kt.ravel_multi_index((i, j), (3, 4)), big, vj)
    n = kt.lscalar("n")
    flat = kt.lvector("flat")
    vf = np.array([0, 5, 11])
    got = _run([flat, n], list(kt.unravel_index(flat, (n, 4))), vf, 3)
    for g, w in zip(got, np.unravel_index(vf, (3, 4))):
        _same(g, w.astype("int64"))
    got = _run([flat], list(kt.unravel_index(flat, (3, 4), order="F")), vf)
    for g, w in zip(got, np.unravel_index(vf, (3, 4), order="F")):
        _same(g, w.astype("int64"))
    assert [int(v.eval()) for v in kt.unravel_index(7, kt.constant(np.array([2, 4])))] == [1, 3]
    with pytest.raises(ValueError):
        _run([flat], list(kt.unravel_index(flat, (3, 4))), np.array([12]))


@pytest.mark.parametrize("M", [0, 1, 2, 5, 8])
def test_bartlett(M):
    m = kt.lscalar("m")
    _same(_run([m], kt.bartlett(m), M), np.bartlett(M))


def test_batched_dot_and_tensordot():
    a3, b3, a2, b2, v = kt.dtensor3("a3"), kt.dtensor3("b3"), kt.dmatrix("a2"), kt.dmatrix("b2"), kt.dvector("v")
    A3, B3 = RNG.normal(size=(4, 2, 3)), RNG.normal(size=(4, 3, 5))
    A2, B2 = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 3))
    V = RNG.normal(size=4)
    got = _run([a3, b3, a2, b2, v], [kt.batched_dot(a3, b3), kt.batched_dot(a2, b2), kt.batched_dot(a3, b2),
                                     kt.batched_dot(a2, b3), kt.batched_dot(v, a3)], A3, B3, A2, B2, V)
    _same(got[0], np.einsum("bij,bjk->bik", A3, B3))
    _same(got[1], np.einsum("bi,bi->b", A2, B2))
    _same(got[2], np.einsum("bij,bj->bi", A3, B2))
    _same(got[3], np.einsum("bi,bik->bk", A2, B3))
    _same(got[4], V[:, None, None] * A3)
    t = kt.batched_tensordot(a3, b3, axes=[[2], [1]])
    _same(_run([a3, b3], t, A3, B3), np.einsum("bij,bjk->bik", A3, B3))
    c4 = kt.dtensor4("c4")
    C4 = RNG.normal(size=(4, 2, 3, 6))
    _same(_run([c4, a3], kt.batched_tensordot(c4, a3, axes=[[1, 2], [1, 2]]), C4, A3),
          np.einsum("bijk,bij->bk", C4, A3))
    _same(_run([a3, b3], kt.batched_tensordot(a3, b3, 1), A3, B3), np.einsum("bij,bjk->bik", A3, B3))
    with pytest.raises(ValueError, match="batch axis"):
        kt.batched_tensordot(a3, b3, [[0], [0]])
    verify_grad(kt.batched_dot, [A3, B3], rng=RNG)


def test_matvec_vecmat_vecdot_dense_dot():
    m, v, w = kt.dtensor3("m"), kt.dvector("v"), kt.dmatrix("w")
    M, V, W = RNG.normal(size=(2, 3, 4)), RNG.normal(size=4), RNG.normal(size=(2, 3))
    got = _run([m, v, w], [kt.matvec(m, v), kt.vecmat(w, m), kt.vecdot(w, w), kt.vecdot(m, v),
                           kt.dense_dot(w, w.T)], M, V, W)
    _same(got[0], np.matvec(M, V))
    _same(got[1], np.vecmat(W, M))
    _same(got[2], np.vecdot(W, W))
    _same(got[3], np.vecdot(M, V))
    _same(got[4], W @ W.T)
    z, zz = kt.zvector("z"), kt.zmatrix("zz")
    Z = RNG.normal(size=3) + 1j * RNG.normal(size=3)
    ZZ = RNG.normal(size=(3, 2)) + 1j * RNG.normal(size=(3, 2))
    got = _run([z, zz], [kt.vecdot(z, z), kt.vecmat(z, zz)], Z, ZZ)
    np.testing.assert_allclose(got[0], np.vecdot(Z, Z), rtol=1e-12)
    np.testing.assert_allclose(got[1], np.vecmat(Z, ZZ), rtol=1e-12)
    assert kt.vecdot(v, v, dtype="float32").dtype == "float32"
    iv = kt.ivector("iv")
    _same(_run([iv], kt.vecdot(iv, iv), np.arange(4, dtype="int32")), np.vecdot(np.arange(4, dtype="int32"),
                                                                               np.arange(4, dtype="int32")))
    verify_grad(lambda a, b: kt.matvec(a, b) + kt.vecmat(b[:3], a).sum(), [M, V], rng=RNG)


@pytest.mark.parametrize("axis,keepdims", [(None, False), (0, False), (1, True), ((0, 2), False), ((0, 2), True),
                                           ([-1], False)])
def test_max_and_argmax(axis, keepdims):
    x = kt.dtensor3("x")
    v = RNG.normal(size=(2, 3, 4))
    mx, am = _run([x], kt.max_and_argmax(x, axis=axis, keepdims=keepdims), v)
    _same(mx, np.max(v, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=keepdims))
    if isinstance(axis, tuple):
        keep = [d for d in range(3) if d not in axis]
        flat = np.transpose(v, keep + list(axis)).reshape([v.shape[d] for d in keep] + [-1])
        want = np.argmax(flat, axis=-1)
        if keepdims:
            want = np.expand_dims(want, axis)
    else:
        ax = axis[0] if isinstance(axis, list) else axis
        want = np.argmax(v, axis=ax, keepdims=keepdims)
    _same(am, want)


def test_gradient_reexports():
    assert kt.grad is kiln.grad and kt.jacobian is kiln.gradient.jacobian and kt.hessian is kiln.gradient.hessian
    x = kt.dvector("x")
    v = RNG.normal(size=3)
    g, J, H = _run([x], [kt.grad((x ** 3).sum(), x), kt.jacobian(x ** 2, x), kt.hessian((x ** 3).sum(), x)], v)
    _same(g, 3 * v ** 2)
    _same(J, np.diag(2 * v))
    _same(H, np.diag(6 * v))


def test_vectorize_core_dims():
    f = kt.vectorize(lambda v: kt.exp(v) / kt.exp(v).sum(), signature="(a)->(a)")
    x = kt.dtensor3("x")
    vx = RNG.normal(size=(2, 3, 4))
    e = np.exp(vx)
    _same(_run([x], f(x), vx), e / e.sum(-1, keepdims=True))
    mv = kt.vectorize(lambda A, b: kt.dot(A, b), signature="(m,n),(n)->(m)")
    A, b = kt.dtensor3("A"), kt.dmatrix("b")
    VA, VB = RNG.normal(size=(5, 2, 3)), RNG.normal(size=(1, 3))
    _same(_run([A, b], mv(A, b), VA, VB), np.einsum("kmn,kn->km", VA, np.broadcast_to(VB, (5, 3))))
    two = kt.vectorize(lambda v: (v[0], v[-1]), signature="(n)->(),()")
    m = kt.dmatrix("m")
    vm = RNG.normal(size=(4, 3))
    lo, hi = _run([m], list(two(m)), vm)
    _same(lo, vm[:, 0])
    _same(hi, vm[:, -1])
    # no batch axes: the core function itself
    _same(_run([m], f(m[0]), vm), np.exp(vm[0]) / np.exp(vm[0]).sum())


def test_vectorize_gradients_and_closures():
    f = kt.vectorize(lambda a: a / a.sum(), signature="(n)->(n)")
    verify_grad(lambda a: f(a) ** 2, [RNG.uniform(0.5, 1.5, size=(2, 3))], rng=RNG)
    w = kiln.shared(np.array([1.0, 2.0, 3.0]), name="w")
    h = kt.vectorize(lambda A, b: kt.dot(A, b) * w[:2], signature="(m,n),(n)->(m)")
    VA, VB = RNG.normal(size=(4, 2, 3)), RNG.normal(size=3)
    verify_grad(h, [VA, VB], rng=RNG)
    A, b = kt.dtensor3("A"), kt.dvector("b")
    gw = _run([A, b], kiln.grad(h(A, b).sum(), w), VA, VB)
    _same(gw, np.concatenate([np.einsum("kmn,n->m", VA, VB), [0.0]]))
    # the default (C) linker runs it too, and the compiled function pickles
    import pickle

    fn = pickle.loads(pickle.dumps(kiln.function([A, b], [h(A, b), kiln.grad(h(A, b).sum(), A)])))
    out, gA = fn(VA, VB)
    _same(out, np.einsum("kmn,n->km", VA, VB) * w.get_value()[:2])
    _same(gA, np.broadcast_to(w.get_value()[None, :2, None] * VB[None, None, :], VA.shape))


def test_vectorize_forward_mode_matches_finite_differences():
    # Rop through the mapped core graph (the pullback override serves reverse mode only)
    f = kt.vectorize(lambda a: a / a.sum(), signature="(n)->(n)")
    a, v = kt.dmatrix("a"), kt.dmatrix("v")
    A, V = RNG.uniform(0.5, 1.5, size=(3, 4)), RNG.normal(size=(3, 4))
    got = _run([a, v], kiln.Rop(f(a), a, v), A, V)
    g = kiln.function([a], f(a), mode=PY)
    eps = 1e-6
    _same(got, (g(A + eps * V) - g(A - eps * V)) / (2 * eps), rtol=1e-6)
    import pickle

    fn = pickle.loads(pickle.dumps(kiln.function([a, v], kiln.Rop(f(a), a, v))))   # default linker
    _same(fn(A, V), got)


def test_vectorize_of_an_empty_batch_is_empty_as_numpy():
    f = kt.vectorize(lambda r: r / r.sum(), signature="(n)->(n)")
    g = kt.vectorize(lambda A, b: kt.dot(A, b), signature="(m,n),(n)->(m)")
    x, A, b = kt.dmatrix("x"), kt.dtensor3("A"), kt.dvector("b")
    _same(_run([x], f(x), np.ones((0, 4))), np.ones((0, 4)))
    _same(_run([A, b], g(A, b), np.ones((0, 2, 3)), np.ones(3)), np.einsum("kmn,n->km", np.ones((0, 2, 3)), np.ones(3)))


def test_vectorize_scalar_core_is_loop_free():
    from kiln.gradient.jacobian import Map
    from kiln.graph.traversal import ancestors

    f = kt.vectorize(lambda a, b: kt.exp(a) * b + 1.0)
    x, y = kt.dmatrix("x"), kt.dvector("y")
    out = f(x, y)
    assert not any(v.owner is not None and isinstance(v.owner.op, Map) for v in ancestors([out]))
    vx, vy = RNG.normal(size=(2, 3)), RNG.normal(size=3)
    _same(_run([x, y], out, vx, vy), np.exp(vx) * vy + 1.0)
    verify_grad(f, [vx, vy], rng=RNG)
    # an output that ignores an input still gets the full batch shape
    g = kt.vectorize(lambda a, b: a * 2.0)
    _same(_run([x, y], g(y, x), vx, vy), np.broadcast_to(vy * 2.0, (2, 3)))


def test_vectorize_errors():
    with pytest.raises(ValueError, match="signature"):
        kt.vectorize(lambda v: v, signature="(n->(n)")
    f = kt.vectorize(lambda v: v.sum(), signature="(n)->()")
    with pytest.raises(TypeError, match="inputs"):
        f(kt.vector(), kt.vector())
    with pytest.raises(ValueError, match="core dims"):
        kt.vectorize(lambda m: m.sum(), signature="(m,n)->()")(kt.vector())
    with pytest.raises(ValueError, match="core dims"):
        kt.vectorize(lambda v: v.sum(), signature="(n)->(n)")(kt.matrix())
    with pytest.raises(ValueError, match="outputs"):
        kt.vectorize(lambda v: v.sum(), signature="(n)->(),()")(kt.matrix())


@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_same_as_pytensor():
    pytensor = pytest.importorskip("pytensor")
    import pytensor.tensor as pt

    vm = RNG.normal(size=(4, 4))
    perm = RNG.permutation(4)

    def build(m, x, p):
        return [m.extract_diag(x), m.fill_diagonal(x, 2.0), m.fill_diagonal_offset(x, 3.0, 1),
                m.inverse_permutation(p), m.permute_row_elements(x, p), m.bartlett(5),
                m.compress(m.eq(p, 2), x, axis=0), m.choose(p % 2, [x[0], x[1]]),
                m.max_and_argmax(x, axis=1)[1], m.vecdot(x, x), m.matvec(x, x[0]),
                m.batched_dot(x, x), m.vectorize(lambda v: v / v.sum(), "(n)->(n)")(x)]

    px, pp = pt.dmatrix("x"), pt.lvector("p")
    kx, kp = kt.dmatrix("x"), kt.lvector("p")
    want = pytensor.function([px, pp], build(pt, px, pp), mode="FAST_COMPILE")(vm, perm)
    got = kiln.function([kx, kp], build(kt, kx, kp), mode=PY)(vm, perm)
    for g, e in zip(got, want):
        _same(g, e, rtol=1e-12)
