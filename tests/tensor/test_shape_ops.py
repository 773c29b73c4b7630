"""reshape, flatten, dimshuffle/transpose, swapaxes, squeeze, expand_dims, broadcast_to,
specify_shape, stack/join, and creation (zeros ones full alloc *_like arange eye) vs NumPy."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt

RNG = np.random.default_rng(11)


def sym(shape, dtype="float64", static=False, name="x"):
    return kt.tensor(name, dtype=dtype, shape=shape if static else (None,) * len(shape))


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("src,new", [((2, 3, 4), (6, 4)), ((2, 3, 4), (-1,)), ((2, 3, 4), (4, -1)),
                                     ((2, 3, 4), (2, -1, 2)), ((6,), (1, 6, 1)), ((), (1, 1)),
                                     ((1,), ()), ((0, 3), (-1, 3)), ((0, 3), (3, 0)),
                                     ((2, 3), (3, 2))], ids=str)
def test_reshape(src, new, static, run, same):
    x = sym(src, static=static)
    v = RNG.normal(size=src)
    expected = v.reshape(new)
    out = kt.reshape(x, new)
    if static and -1 not in new or (static and 0 not in src):
        assert out.type.shape == expected.shape
    same(run([x], out, v), expected)
    same(run([x], x.reshape(new), v), expected)
    if new:
        same(run([x], x.reshape(*new), v), expected)


def test_reshape_symbolic_shape(run, same):
    x, n = kt.matrix("x"), kt.lscalar("n")
    v = RNG.normal(size=(4, 6))
    same(run([x, n], kt.reshape(x, (n, -1)), v, 3), v.reshape(3, -1))
    same(run([x], kt.reshape(x, x.shape[::-1]), v), v.reshape(6, 4))
    same(run([x], kt.reshape(x, (x.shape[1], x.shape[0])), v), v.reshape(6, 4))


def test_reshape_errors(run):
    x = sym((2, 3), static=True)
    with pytest.raises(ValueError, match="reshape"):
        kt.reshape(x, (4, 2))
    with pytest.raises(ValueError, match="reshape"):
        kt.reshape(x, (-1, -1))
    with pytest.raises(ValueError, match="reshape"):
        kt.reshape(x, (4, -1))
    with pytest.raises(TypeError):
        kt.reshape(x, kt.vector("s"))
    y = kt.matrix("y")
    with pytest.raises(ValueError):
        run([y], kt.reshape(y, (5, -1)), np.ones((2, 3)))


@pytest.mark.parametrize("shape,ndim", [((2, 3, 4), 1), ((2, 3, 4), 2), ((2, 3, 4), 3), ((5,), 1),
                                        ((), 1), ((2, 0, 3), 2)])
def test_flatten(shape, ndim, run, same):
    x = sym(shape)
    v = RNG.normal(size=shape)
    expected = v.reshape(v.shape[:ndim - 1] + (-1,)) if v.ndim else v.reshape(1)
    same(run([x], kt.flatten(x, ndim), v), expected)
    if ndim == 1:
        same(run([x], x.flatten(), v), v.ravel())


@pytest.mark.parametrize("pattern", [(1, 0), ("x", 0, 1), (0, "x", 1, "x"), (1, "x", 0)], ids=str)
def test_dimshuffle(pattern, run, same):
    x = sym((2, 3))
    v = RNG.normal(size=(2, 3))
    perm = [p for p in pattern if p != "x"]
    expected = np.transpose(v, perm)
    for i, p in enumerate(pattern):
        if p == "x":
            expected = np.expand_dims(expected, i)
    same(run([x], x.dimshuffle(*pattern), v), expected)
    same(run([x], x.dimshuffle(pattern), v), expected)


def test_dimshuffle_drops_broadcastable_axes(run, same):
    x = kt.tensor("x", dtype="float64", shape=(1, None, 1))
    v = RNG.normal(size=(1, 4, 1))
    same(run([x], x.dimshuffle(1), v), v.reshape(4))
    y = kt.tensor3("y")
    # an unknown-length axis may be dropped; it is checked to be 1 at run time
    same(run([y], kt.elemwise.DimShuffle(3, (1,))(y), v), v.reshape(4))
    with pytest.raises(ValueError):
        run([y], kt.elemwise.DimShuffle(3, (1,))(y), np.ones((2, 4, 1)))
    with pytest.raises(ValueError, match="DimShuffle"):
        sym((2, 3), static=True).dimshuffle(1)
    with pytest.raises(ValueError, match="DimShuffle"):
        x.dimshuffle(0, 0, 1, 2)
    with pytest.raises(ValueError, match="DimShuffle"):
        x.dimshuffle(3)


@pytest.mark.parametrize("axes", [None, (0, 1, 2), (2, 0, 1), (-1, 0, 1), (1, 0, 2)], ids=str)
def test_transpose(axes, run, same):
    x = sym((2, 3, 4))
    v = RNG.normal(size=(2, 3, 4))
    same(run([x], kt.transpose(x, axes), v), np.transpose(v, axes))
    if axes is None:
        same(run([x], x.T, v), v.T)
        same(run([x], x.transpose(), v), v.T)
    else:
        same(run([x], x.transpose(*axes), v), np.transpose(v, axes))
    with pytest.raises(ValueError, match="transpose"):
        kt.transpose(x, (0, 0, 1))


@pytest.mark.parametrize("a,b", [(0, 1), (0, 2), (-1, 0), (1, 1)])
def test_swapaxes(a, b, run, same):
    x = sym((2, 3, 4))
    v = RNG.normal(size=(2, 3, 4))
    same(run([x], kt.swapaxes(x, a, b), v), np.swapaxes(v, a, b))
    same(run([x], x.swapaxes(a, b), v), np.swapaxes(v, a, b))


def test_squeeze(run, same):
    x = kt.tensor("x", dtype="float64", shape=(1, None, 1, 3))
    v = RNG.normal(size=(1, 2, 1, 3))
    same(run([x], kt.squeeze(x), v), np.squeeze(v))
    same(run([x], x.squeeze(), v), np.squeeze(v))
    for axis in [0, 2, -2, (0, 2)]:
        same(run([x], kt.squeeze(x, axis), v), np.squeeze(v, axis))
    # unknown lengths: squeezing them by axis is checked at run time
    y = sym((1, 2, 1))
    same(run([y], kt.squeeze(y, (0, 2)), v[:, :, :, 0]), np.squeeze(v[:, :, :, 0], (0, 2)))
    with pytest.raises(ValueError):
        run([y], kt.squeeze(y, 1), v[:, :, :, 0])
    with pytest.raises(ValueError, match="squeeze"):
        kt.squeeze(x, 3)
    with pytest.raises(ValueError, match="squeeze"):
        kt.squeeze(x, 5)
    s = kt.scalar("s")
    same(run([s], kt.squeeze(s), np.array(2.0)), np.squeeze(np.array(2.0)))


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -3, (0, 1), (0, 3), (-1, -2)], ids=str)
def test_expand_dims(axis, run, same):
    x = sym((2, 3))
    v = RNG.normal(size=(2, 3))
    expected = np.expand_dims(v, axis)
    if isinstance(axis, int) and not -4 < axis < 3:
        pytest.fail("bad test row")
    same(run([x], kt.expand_dims(x, axis), v), expected)


def test_expand_dims_errors():
    x = sym((2, 3))
    with pytest.raises(ValueError, match="expand_dims"):
        kt.expand_dims(x, 3)
    with pytest.raises(ValueError, match="expand_dims"):
        kt.expand_dims(x, (0, 0))


@pytest.mark.parametrize("src,dst", [((3,), (2, 3)), ((1, 3), (4, 3)), ((), (2, 2)), ((2, 1), (2, 0)),
                                     ((3, 1), (2, 3, 5))], ids=str)
def test_broadcast_to(src, dst, run, same):
    x = sym(src)
    v = RNG.normal(size=src)
    out = kt.broadcast_to(x, dst)
    assert out.type.shape == dst
    same(run([x], out, v), np.broadcast_to(v, dst))
    n = kt.lscalar("n")
    same(run([x, n], kt.broadcast_to(x, (n,) + dst[1:]), v, dst[0]), np.broadcast_to(v, dst))


def test_broadcast_to_errors(run):
    with pytest.raises(ValueError, match="broadcast_to"):
        kt.broadcast_to(sym((3,), static=True), (2, 4))
    with pytest.raises(ValueError, match="broadcast_to"):
        kt.broadcast_to(sym((2, 3)), (3,))
    x = kt.vector("x")
    with pytest.raises(ValueError):
        run([x], kt.broadcast_to(x, (2, 4)), np.ones(3))


def test_specify_shape(run, same):
    x = kt.matrix("x")
    out = kt.specify_shape(x, (2, None))
    assert out.type.shape == (2, None)
    v = RNG.normal(size=(2, 5))
    same(run([x], out * 2, v), v * 2)
    with pytest.raises(ValueError, match="specify_shape"):
        run([x], out * 2, np.ones((3, 5)))
    with pytest.raises(ValueError, match="specify_shape"):
        kt.specify_shape(x, (2, 3, 4))
    with pytest.raises(ValueError, match="specify_shape"):
        kt.specify_shape(kt.specify_shape(x, (2, 3)), (4, 3))
    assert kt.specify_shape(out, (2, None)) is out


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_stack_and_join(axis, run, same):
    x, y = kt.matrix("x"), kt.matrix("y", dtype="float32")
    a, b = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3)).astype("float32")
    same(run([x, y], kt.stack([x, y], axis=axis), a, b), np.stack([a, b], axis=axis))
    same(run([x, y], kt.join(axis, x, y), a, b), np.concatenate([a, b], axis=axis))
    same(run([x, y], kt.concatenate([x, y, x], axis=axis), a, b), np.concatenate([a, b, a], axis=axis))


def test_stack_scalars_mixed_dtypes(run, same):
    a, b = kt.lscalar("a"), kt.dscalar("b")
    same(run([a, b], kt.stack([a, b, 3]), 2, 1.5), np.stack([2, 1.5, 3]))


# -- creation -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [None, "float32", "int8", "bool", "uint16"])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (0, 2)], ids=str)
def test_zeros_ones_full(dtype, shape, run, same):
    fx = kiln.config.floatX
    same(run([], kt.zeros(shape, dtype=dtype)), np.zeros(shape, dtype=dtype or fx))
    same(run([], kt.ones(shape, dtype=dtype)), np.ones(shape, dtype=dtype or fx))
    same(run([], kt.full(shape, 7, dtype=dtype)), np.full(shape, 7, dtype=dtype))
    if shape:
        n = kt.lscalar("n")
        same(run([n], kt.zeros((n,) + shape[1:], dtype=dtype), shape[0]), np.zeros(shape, dtype=dtype or fx))


def test_full_default_dtypes(run, same):
    same(run([], kt.full((2,), 1.5)), np.full((2,), 1.5))
    same(run([], kt.full((2,), 3)), np.full((2,), 3))
    same(run([], kt.full((2,), True)), np.full((2,), True))


@pytest.mark.parametrize("dtype", [None, "int32", "float32"])
def test_like_functions(dtype, run, same):
    x = kt.tensor("x", dtype="float16", shape=(None, None))
    v = RNG.normal(size=(2, 3)).astype("float16")
    same(run([x], kt.zeros_like(x, dtype=dtype), v), np.zeros_like(v, dtype=dtype))
    same(run([x], kt.ones_like(x, dtype=dtype), v), np.ones_like(v, dtype=dtype))
    same(run([x], kt.full_like(x, 3, dtype=dtype), v), np.full_like(v, 3, dtype=dtype))
    s = kt.scalar("s", dtype="int8")
    same(run([s], kt.zeros_like(s), np.int8(3), on_unused_input="ignore"), np.zeros_like(np.int8(3)))


def test_alloc(run, same):
    v, n = kt.vector("v"), kt.lscalar("n")
    a = RNG.normal(size=3)
    same(run([v, n], kt.alloc(v, n, 3), a, 4), np.broadcast_to(a, (4, 3)).copy())
    same(run([v, n], kt.alloc(v, (n, 3)), a, 2), np.broadcast_to(a, (2, 3)).copy())
    same(run([v], kt.alloc(v, 2, 1, 3), a), np.broadcast_to(a, (2, 1, 3)).copy())
    s = kt.scalar("s")
    same(run([s], kt.alloc(s, 2, 2), np.array(1.5)), np.full((2, 2), 1.5))
    with pytest.raises(ValueError, match="alloc"):
        kt.alloc(sym((3,), static=True), 2, 4)
    with pytest.raises(ValueError, match="alloc"):
        kt.alloc(v, -2, 3)
    with pytest.raises(ValueError):
        run([v, n], kt.alloc(v, n, 3), a, -1)


@pytest.mark.parametrize("args,dtype", [((5,), None), ((2, 7), None), ((7, 2, -1), None),
                                        ((0, 1, 0.25), None), ((1.5,), None), ((3,), "float32"),
                                        ((10, 0, -3), "int8"), ((0,), None), ((5, 2), None),
                                        ((-3.5, 3.5, 1.5), None)], ids=str)
def test_arange(args, dtype, run, same):
    expected = np.arange(*args, dtype=dtype)
    out = kt.arange(*args, dtype=dtype)
    assert out.type.shape == expected.shape
    same(run([], out), expected)
    syms = [kt.scalar(f"a{i}", dtype=np.asarray(a).dtype.name) for i, a in enumerate(args)]
    out = kt.arange(*syms, dtype=dtype if dtype is not None else expected.dtype.name)
    same(run(syms, out, *args), expected)


def test_arange_errors(run):
    with pytest.raises(ValueError, match="arange"):
        kt.arange(0, 5, 0)
    s = kt.lscalar("s")
    with pytest.raises(ValueError, match="arange"):
        run([s], kt.arange(0, 5, s), 0)


@pytest.mark.parametrize("n,m,k", [(3, None, 0), (3, 4, 0), (3, 4, 1), (4, 3, -2), (0, 2, 0),
                                   (3, 3, 5)])
@pytest.mark.parametrize("dtype", [None, "int32", "bool"])
def test_eye(n, m, k, dtype, run, same):
    fx = kiln.config.floatX
    same(run([], kt.eye(n, m, k, dtype=dtype)), np.eye(n, m, k, dtype=dtype or fx))
    a, b = kt.lscalar("a"), kt.lscalar("b")
    same(run([a, b], kt.eye(a, b, k, dtype=dtype), n, n if m is None else m),
         np.eye(n, m, k, dtype=dtype or fx))
    with pytest.raises(TypeError, match="eye"):
        kt.eye(kt.scalar("f"))


def test_make_vector_mixed_inputs(run, same):
    from kiln.tensor.shape import MakeVector, make_vector

    a, b, f = kt.bscalar("a"), kt.lscalar("b"), kt.dscalar("f")
    out = make_vector([a, b, 3])
    assert out.type == kt.TensorType("int64", (3,))
    same(run([a, b], out, np.int8(-2), 5), np.array([-2, 5, 3]))
    same(run([a, f], make_vector([a, f, 2], dtype="float64"), np.int8(1), 0.5), np.array([1, 0.5, 2]))
    with pytest.raises(TypeError, match="MakeVector"):
        make_vector([b, f])
    with pytest.raises(TypeError, match="MakeVector"):
        make_vector([b, 2.5])
    with pytest.raises(TypeError, match="MakeVector"):
        make_vector([kt.vector("v")])
    same(run([], make_vector([])), np.zeros(0, dtype="int64"))
    same(run([b], make_vector([b, 2.0]), 3), np.array([3, 2]))
    assert MakeVector("int32") == MakeVector(np.int32)
    # shapes given with floats are rejected, as NumPy does
    with pytest.raises(TypeError):
        kt.zeros((b, f))


def test_out_of_range_axes_are_errors_not_wrapped():
    x = kt.tensor3("x")
    with pytest.raises(ValueError, match="transpose"):
        kt.transpose(x, (0, 1, 5))
    with pytest.raises(ValueError, match="swapaxes"):
        kt.swapaxes(x, 3, 0)
    with pytest.raises(ValueError, match="join"):
        kt.join(3, x, x)
    with pytest.raises(ValueError, match="tensordot"):
        kt.tensordot(x, x, axes=[[3], [0]])
    with pytest.raises(ValueError, match="tensordot"):
        kt.tensordot(x, x, axes=[[0, 0], [1, 2]])
    with pytest.raises(ValueError, match="shape_i"):
        kt.shape_i(x, 3)
    with pytest.raises(ValueError, match="stack"):
        kt.stack([x, x], axis=5)


def test_reshape_static_shapes_from_mixed_shape_entries(run, same):
    x = kt.tensor("x", dtype="float64", shape=(2, 3, 4))
    n = kt.lscalar("n")
    assert kt.reshape(x, (np.int32(2), n)).type.shape == (2, None)
    assert kt.reshape(x, (n, 12)).type.shape == (None, 12)
    assert kt.reshape(x, (2, -1)).type.shape == (2, 12)
    assert kt.reshape(x, (-1,)).type.shape == (24,)
    assert kt.reshape(x, (n, -1)).type.shape == (None, None)
    v = np.ones((2, 3, 4))
    same(run([x, n], kt.reshape(x, (np.int8(2), n)), v, 12), v.reshape(2, 12))
