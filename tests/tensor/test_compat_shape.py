"""PyTensor-compatible shape, creation, joining and inspection names (kiln.tensor.compat_shape,
kiln.tensor.compat_pack) against NumPy and PyTensor."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.gradient import verify_grad

from .conftest import PY, _run, _same

RNG = np.random.default_rng(3)


def test_tensor6_tensor7_constructors():
    for name, nd, dt in [("tensor6", 6, kiln.config.floatX), ("tensor7", 7, kiln.config.floatX),
                         ("btensor6", 6, "int8"), ("wtensor7", 7, "int16"), ("itensor6", 6, "int32"),
                         ("ltensor7", 7, "int64"), ("ftensor6", 6, "float32"), ("dtensor7", 7, "float64"),
                         ("ctensor6", 6, "complex64"), ("ztensor7", 7, "complex128")]:
        v = getattr(kt, name)("v")
        assert (v.ndim, v.dtype, v.name) == (nd, dt, "v")
    a, b = kt.dtensor6s("a b")
    assert a.ndim == b.ndim == 6 and a.name == "a"
    assert kt.tensor7("t", dtype="int8").dtype == "int8"
    assert kt.ftensor7s(2)[1].ndim == 7
    x = kt.dtensor6("x")
    v = RNG.normal(size=(1, 2, 1, 2, 1, 2))
    _same(_run([x], x.sum(axis=(0, 5)), v), v.sum(axis=(0, 5)))


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4), (1, 2, 3, 4)])
def test_atleast(shape):
    v = RNG.normal(size=shape)
    x = kt.tensor("x", dtype="float64", shape=(None,) * len(shape))
    _same(_run([x], kt.atleast_3d(x), v), np.atleast_3d(v))
    for n in (1, 2, 3, 5):
        left = _run([x], kt.atleast_Nd(x, n=n), v)
        right = _run([x], kt.atleast_Nd(x, n=n, left=False), v)
        pad = max(n - v.ndim, 0)
        _same(left, v.reshape((1,) * pad + v.shape))
        _same(right, v.reshape(v.shape + (1,) * pad))
    two = kt.atleast_3d(x, x)
    assert isinstance(two, list) and len(two) == 2
    assert kt.atleast_3d(kt.vector("v"), left=True).type.shape == (1, 1, None)


def test_pad_helpers_and_moveaxis():
    v = RNG.normal(size=(2, 3, 4))
    x = kt.dtensor3("x")
    _same(_run([x], kt.shape_padleft(x, 2), v), v[None, None])
    _same(_run([x], kt.shape_padright(x), v), v[..., None])
    for ax in (0, 2, 3, -1, -4):
        _same(_run([x], kt.shape_padaxis(x, ax), v), np.expand_dims(v, ax))
    with pytest.raises(IndexError):
        kt.shape_padaxis(x, 4)
    for src, dst in [(0, -1), (-1, 0), ([0, 1], [-1, -2]), ((0, 2), (2, 0))]:
        _same(_run([x], kt.moveaxis(x, src, dst), v), np.moveaxis(v, src, dst))
    with pytest.raises(ValueError):
        kt.moveaxis(x, 0, 3)
    _same(_run([x], kt.matrix_transpose(x), v), np.swapaxes(v, -1, -2))
    with pytest.raises(ValueError):
        kt.matrix_transpose(kt.vector())


def test_specify_broadcastable():
    x = kt.dmatrix("x")
    y = kt.specify_broadcastable(x, 0)
    assert y.type.shape == (1, None)
    v = RNG.normal(size=(1, 3))
    _same(_run([x], y * 2, v), v * 2)
    with pytest.raises(ValueError):
        _run([x], y, RNG.normal(size=(2, 3)))


def test_broadcast_shape():
    a, b = kt.dmatrix("a"), kt.dvector("b")
    shp = kt.broadcast_shape(a, b)
    assert len(shp) == 2
    got = _run([a, b], list(shp), np.ones((4, 1)), np.ones(5))
    assert [int(g) for g in got] == list(np.broadcast_shapes((4, 1), (5,)))
    static = kt.broadcast_shape(kt.tensor("s", shape=(2, 1)), kt.tensor("t", shape=(3,)))
    assert [int(d.eval()) for d in static] == [2, 3]
    shp2 = kt.broadcast_shape((2, 1), (1, 5), arrays_are_shapes=True)
    assert [int(d.eval()) for d in shp2] == [2, 5]
    n = kt.lscalar("n")
    shp3 = kt.broadcast_shape((n, 1), (kt.constant(1), 4), arrays_are_shapes=True)
    assert [int(d) for d in _run([n], list(shp3), 3)] == [3, 4]


def test_empty():
    assert kt.empty((2, 3)).eval().shape == (2, 3)
    assert kt.empty((2,), dtype="int32").eval().dtype == np.int32
    x = kt.fmatrix("x")
    out = _run([x], kt.empty_like(x), np.ones((2, 5), dtype="float32"))
    assert out.shape == (2, 5) and out.dtype == np.float32
    assert _run([x], kt.empty_like(x, dtype="int8"), np.ones((1, 1), dtype="float32")).dtype == np.int8


@pytest.mark.parametrize("kw", [{}, {"endpoint": False}, {"num": 1}, {"num": 0}, {"num": 7, "dtype": "int32"},
                                {"num": 4, "dtype": "float32"}])
def test_linspace_scalar(kw):
    num = kw.pop("num", 5)
    _same(kt.linspace(-1.5, 4, num, **kw).eval(), np.linspace(-1.5, 4, num, **kw))
    _same(kt.linspace(2, 11, num, **kw).eval(), np.linspace(2, 11, num, **kw))


def test_linspace_arrays_axis_retstep_and_symbolic_num():
    a, b = kt.dvector("a"), kt.dvector("b")
    va, vb = np.array([0.0, 1.0, -2.0]), np.array([1.0, 3.0, 2.0])
    for axis in (0, 1, -1):
        _same(_run([a, b], kt.linspace(a, b, 4, axis=axis), va, vb), np.linspace(va, vb, 4, axis=axis))
    y, step = kt.linspace(0.0, 1.0, 5, retstep=True)
    ey, es = np.linspace(0.0, 1.0, 5, retstep=True)
    _same(y.eval(), ey)
    assert float(step.eval()) == es
    n = kt.lscalar("n")
    _same(_run([n], kt.linspace(0.0, 1.0, n), 6), np.linspace(0.0, 1.0, 6))
    fa = kt.fscalar("fa")
    assert kt.linspace(fa, fa + 1, 3).dtype == "float32"
    _same(kt.linspace(0.0, 1.0, steps=3, end=2.0).eval(), np.linspace(0, 2, 3))
    with pytest.raises(ValueError):
        kt.linspace(0, 1, -1)
    verify_grad(lambda s, e: kt.linspace(s, e, 5), [np.array(0.3), np.array(2.0)], rng=RNG)


def test_logspace_geomspace():
    _same(kt.logspace(0, 3, 4).eval(), np.logspace(0, 3, 4))
    _same(kt.logspace(0, 3, 4, base=2.0, endpoint=False).eval(), np.logspace(0, 3, 4, base=2.0, endpoint=False))
    _same(kt.logspace(1, 2, 3, dtype="float32").eval(), np.logspace(1, 2, 3, dtype="float32"))
    for args, kw in [((1, 1000, 4), {}), ((-1, -1000, 4), {}), ((2.0, 5.0, 6), {"endpoint": False}),
                     ((1, 256, 9), {"dtype": "int64"})]:
        _same(kt.geomspace(*args, **kw).eval(), np.geomspace(*args, **kw), rtol=1e-12)
    a, b = kt.dvector("a"), kt.dvector("b")
    va, vb = np.array([1.0, 2.0]), np.array([100.0, 32.0])
    _same(_run([a, b], kt.geomspace(a, b, 3, axis=1), va, vb), np.geomspace(va, vb, 3, axis=1), rtol=1e-12)


def test_mgrid_ogrid():
    _same(kt.mgrid[0:3, 1:5:2].eval(), np.mgrid[0:3, 1:5:2])
    _same(kt.mgrid[0:1:5j, -1:1:3j].eval(), np.mgrid[0:1:5j, -1:1:3j])
    _same(kt.mgrid[2:6].eval(), np.mgrid[2:6])
    for g, e in zip(kt.ogrid[0:3, 0:4], np.ogrid[0:3, 0:4]):
        _same(g.eval(), e)
    n = kt.lscalar("n")
    _same(_run([n], kt.mgrid[0:n, 0:2], 3), np.mgrid[0:3, 0:2])


@pytest.mark.parametrize("N,M,k", [(3, None, 0), (3, 5, 1), (4, 2, -1), (0, 3, 0), (3, 3, -5)])
def test_tri_and_indices(N, M, k):
    _same(kt.tri(N, M, k).eval(), np.tri(N, M, k))
    _same(kt.tri(N, M, k, dtype="int8").eval(), np.tri(N, M, k, dtype="int8"))
    for got, want in [(kt.tril_indices(N, k, M), np.tril_indices(N, k, M)),
                      (kt.triu_indices(N, k, M), np.triu_indices(N, k, M))]:
        assert len(got) == 2
        for g, w in zip(got, want):
            _same(g.eval(), w.astype("int64"))
    a = kt.dmatrix("a")
    v = np.zeros((N, M if M is not None else N))
    for g, w in zip(_run([a], list(kt.tril_indices_from(a, k)), v), np.tril_indices_from(v, k)):
        _same(g, w.astype("int64"))
    for g, w in zip(_run([a], list(kt.triu_indices_from(a, k)), v), np.triu_indices_from(v, k)):
        _same(g, w.astype("int64"))


def test_tri_indices_select_triangle():
    a = kt.dmatrix("a")
    v = RNG.normal(size=(4, 4))
    _same(_run([a], a[kt.tril_indices_from(a)], v), v[np.tril_indices_from(v)])
    with pytest.raises(ValueError):
        kt.triu_indices_from(kt.vector())


def test_join_split_dims():
    x = kt.tensor("x", shape=(2, 3, 4, 5), dtype="float64")
    v = RNG.normal(size=(2, 3, 4, 5))
    for start, n, shape in [(0, None, (120,)), (1, None, (2, 60)), (1, 2, (2, 12, 5)), (2, 0, (2, 3, 1, 4, 5)),
                            (-2, 2, (2, 3, 20))]:
        _same(_run([x], kt.join_dims(x, start, n), v), v.reshape(shape))
    y = kt.dmatrix("y")
    vy = RNG.normal(size=(6, 4))
    _same(_run([y], kt.split_dims(y, (2, 3)), vy), vy.reshape(2, 3, 4))
    _same(_run([y], kt.split_dims(y, (2, 2), axis=-1), vy), vy.reshape(6, 2, 2))
    _same(_run([y], kt.split_dims(y, 6), vy), vy)
    s = kt.lscalar("s")
    _same(_run([y, s], kt.split_dims(y, (s, 2)), vy, 3), vy.reshape(3, 2, 4))
    _same(_run([y], kt.split_dims(y, kt.constant(np.array([3, 2]))), vy), vy.reshape(3, 2, 4))
    verify_grad(lambda t: kt.join_dims(t, 0) * kt.arange(24), [RNG.normal(size=(2, 3, 4))], rng=RNG)


def test_stacklists_and_stacks():
    a, b, c, d = kt.dscalars("a b c d")
    got = _run([a, b, c, d], kt.stacklists([[a, b], [c, d]]), 1.0, 2.0, 3.0, 4.0)
    _same(got, np.array([[1.0, 2.0], [3.0, 4.0]]))
    m, n = kt.dmatrix("m"), kt.dmatrix("n")
    vm, vn = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3))
    _same(_run([m, n], kt.horizontal_stack(m, n, m), vm, vn), np.hstack([vm, vn, vm]))
    _same(_run([m, n], kt.vertical_stack(m, n), vm, vn), np.vstack([vm, vn]))
    with pytest.raises(ValueError, match="two dimensions"):
        kt.horizontal_stack(kt.vector(), kt.vector())


def test_concat_with_broadcast():
    a, b = kt.dmatrix("a"), kt.dtensor3("b")
    va, vb = RNG.normal(size=(2, 1)), RNG.normal(size=(3, 4, 5))
    got = _run([a, b], kt.concat_with_broadcast([a, b], axis=1), va, vb)
    want = np.concatenate([np.broadcast_to(va[None], (3, 2, 5)), vb], axis=1)
    _same(got, want)
    x, y = kt.dmatrix("x"), kt.dmatrix("y")
    vx, vy = RNG.normal(size=(2, 1)), RNG.normal(size=(3, 4))
    _same(_run([x, y], kt.concat_with_broadcast([x, y]), vx, vy),
          np.concatenate([np.broadcast_to(vx, (2, 4)), vy]))
    verify_grad(lambda p, q: kt.concat_with_broadcast([p, q], axis=0), [vx, vy], rng=RNG)


@pytest.mark.parametrize("keep,shapes", [(None, [(2, 3), (4,), ()]), (0, [(2, 3), (2, 5, 6)]),
                                         ((-2, -1), [(4, 2, 3), (5, 2, 3)]), ((0, -1), [(2, 4, 3), (2, 5, 3)]),
                                         ([0], [(2,), (2, 3)])])
def test_pack_unpack_round_trip(keep, shapes):
    vals = [RNG.normal(size=s) for s in shapes]
    xs = [kt.tensor(f"x{i}", dtype="float64", shape=(None,) * len(s)) for i, s in enumerate(shapes)]
    packed, pshapes = kt.pack(*xs, keep_axes=keep)
    outs = kt.unpack(packed, pshapes, keep_axes=keep)
    got = _run(xs, [packed] + outs, *vals)
    nf = 0 if keep is None else len([a for a in ([keep] if isinstance(keep, int) else keep) if a >= 0])
    nb = 0 if keep is None else len([a for a in ([keep] if isinstance(keep, int) else keep) if a < 0])
    flat = [v.reshape(v.shape[:nf] + (-1,) + v.shape[v.ndim - nb:]) for v in vals]
    _same(got[0], np.concatenate(flat, axis=nf))
    for g, v in zip(got[1:], vals):
        _same(g, v)


def test_pack_errors_and_grad():
    with pytest.raises(ValueError, match="start from 0"):
        kt.pack(kt.matrix(), keep_axes=1)
    with pytest.raises(ValueError, match="end at -1"):
        kt.pack(kt.tensor3(), keep_axes=-2)
    verify_grad(lambda a, b: kt.pack(a, b)[0] * kt.arange(10), [RNG.normal(size=(2, 3)), RNG.normal(size=4)],
                rng=RNG)


def test_get_vector_length():
    assert kt.get_vector_length(kt.matrix("m").shape) == 2
    assert kt.get_vector_length(kt.constant(np.arange(4))) == 4
    assert kt.get_vector_length(kt.make_vector([kt.lscalar(), 2])) == 2
    with pytest.raises(ValueError, match="cannot be determined"):
        kt.get_vector_length(kt.vector("v"))
    with pytest.raises(TypeError):
        kt.get_vector_length(kt.matrix())


def test_get_scalar_constant_value():
    c = kt.constant(2.0)
    assert kt.get_scalar_constant_value(c * 3 + 1) == 7.0
    assert kt.get_scalar_constant_value(kt.tensor("x", shape=(5, None)).shape[0]) == 5
    assert kt.get_underlying_scalar_constant_value(kt.constant(np.full((2, 2), 4))) == 4
    x = kt.dscalar("x")
    with pytest.raises(kt.NotScalarConstantError):
        kt.get_scalar_constant_value(x + 1)
    assert kt.get_scalar_constant_value(x, raise_not_constant=False) is x
    with pytest.raises(kt.NotScalarConstantError):
        kt.get_scalar_constant_value(c * 3, elemwise=False)
    with pytest.raises(kt.NotScalarConstantError):
        kt.get_scalar_constant_value(c * 3, only_process_constants=True)
    with pytest.raises(kt.NotScalarConstantError):
        kt.get_underlying_scalar_constant_value(kt.constant(np.arange(3)))
    with pytest.raises(kt.NotScalarConstantError):
        kt.get_scalar_constant_value(kt.constant(np.full(2, 4)))
    assert kt.get_scalar_constant_value(np.float32(1.5)) == 1.5


def test_make_slice_and_slice_at_axis():
    x = kt.dvector("x")
    a, b = kt.lscalars("a b")
    _same(_run([x, a, b], x[kt.make_slice(a, b)], np.arange(6.0), 1, 4), np.arange(6.0)[1:4])
    _same(_run([x, a], x[kt.make_slice(slice(None, a, 2))], np.arange(6.0), 5), np.arange(6.0)[:5:2])
    m = kt.dmatrix("m")
    v = RNG.normal(size=(3, 4))
    assert kt.slice_at_axis(slice(1, 3), 1) == np.s_[:, 1:3, ...]
    _same(_run([m], m[kt.slice_at_axis(slice(1, 3), 1)], v), v[:, 1:3])
    assert kt.is_flat(kt.vector()) and not kt.is_flat(kt.matrix()) and kt.is_flat(kt.matrix(), 2)


def test_same_as_pytensor():
    pytensor = pytest.importorskip("pytensor")
    import pytensor.tensor as pt

    v = RNG.normal(size=(2, 3, 4))
    px, kx = pt.dtensor3("x"), kt.dtensor3("x")

    def build(m):
        return [m.moveaxis(px if m is pt else kx, 0, -1), m.shape_padaxis(px if m is pt else kx, 1),
                m.join_dims(px if m is pt else kx, 1), m.split_dims(px if m is pt else kx, (1, 2)),
                m.matrix_transpose(px if m is pt else kx), m.atleast_Nd(px if m is pt else kx, n=5),
                m.linspace(0.0, 3.0, 7), m.logspace(0.0, 2.0, 3), m.tri(3, 4, 1),
                m.stack(m.tril_indices(4, -1)), m.pack(px if m is pt else kx, keep_axes=0)[0]]

    want = pytensor.function([px], build(pt), mode="FAST_COMPILE", on_unused_input="ignore")(v)
    got = kiln.function([kx], build(kt), mode=PY, on_unused_input="ignore")(v)
    for g, e in zip(got, want):
        _same(g, e)
