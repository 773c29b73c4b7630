"""dot, matmul (batched, 1-d operands), tensordot and outer against NumPy."""
import numpy as np
import pytest

import kiln.tensor as kt

RNG = np.random.default_rng(3)


def sym(shape, dtype="float64", name="x", static=False):
    return kt.tensor(name, dtype=dtype, shape=shape if static else (None,) * len(shape))


def val(shape, dtype="float64"):
    if dtype.startswith("float"):
        return RNG.normal(size=shape).astype(dtype)
    return RNG.integers(0 if dtype[0] in "ub" else -3, 4, shape).astype(dtype)


DOT_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((), (3,)),
              ((2, 3), ()), ((2, 3, 4), (4,)), ((2, 3, 4), (4, 5)), ((2, 3, 4), (5, 4, 2)),
              ((0, 3), (3, 2)), ((2, 0), (0, 3)), ((4,), (2, 4, 3))]


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("sa,sb", DOT_SHAPES, ids=str)
def test_dot(sa, sb, static, run, same):
    x, y = sym(sa, static=static), sym(sb, name="y", static=static)
    a, b = val(sa), val(sb)
    out = kt.dot(x, y)
    assert out.ndim == np.dot(a, b).ndim
    same(run([x, y], out, a, b), np.dot(a, b))
    if len(sa) in (1, 2) and len(sb) in (1, 2):
        same(run([x, y], x.dot(y), a, b), np.dot(a, b))


MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)),
                 ((5, 2, 3), (5, 3, 4)), ((5, 2, 3), (3, 4)), ((3,), (5, 3, 4)), ((5, 2, 3), (3,)),
                 ((2, 1, 2, 3), (5, 3, 4)), ((0, 2, 3), (3, 1)), ((1, 2, 3), (4, 3, 2))]


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES, ids=str)
def test_matmul(sa, sb, static, run, same):
    x, y = sym(sa, static=static), sym(sb, name="y", static=static)
    a, b = val(sa), val(sb)
    expected = np.matmul(a, b)
    out = x @ y
    assert out.ndim == expected.ndim
    if static:
        assert out.type.shape == expected.shape
    same(run([x, y], out, a, b), expected)
    same(run([x, y], kt.matmul(x, y), a, b), expected)


def test_matmul_unknown_batch_of_length_one_broadcasts(run, same):
    x, y = sym((1, 2, 3)), sym((4, 3, 2), name="y")
    a, b = val((1, 2, 3)), val((4, 3, 2))
    same(run([x, y], x @ y, a, b), a @ b)


@pytest.mark.parametrize("da,db", [("float32", "float32"), ("float32", "float64"), ("int8", "int8"),
                                   ("int32", "float32"), ("int64", "uint8"), ("float16", "float16"),
                                   ("bool", "bool"), ("int8", "float16")])
def test_product_dtypes(da, db, run, same):
    x, y = sym((2, 3), da), sym((3, 4), db, name="y")
    a, b = val((2, 3), da), val((3, 4), db)
    rtol = 1e-2 if np.dot(a, b).dtype == "float16" else None
    same(run([x, y], kt.dot(x, y), a, b), np.dot(a, b), rtol=rtol)
    same(run([x, y], x @ y, a, b), a @ b, rtol=rtol)
    xv, yv = sym((3,), da), sym((3,), db, name="y")
    same(run([xv, yv], kt.dot(xv, yv), a[0], b[:, 0]), np.dot(a[0], b[:, 0]), rtol=rtol)


@pytest.mark.parametrize("sa,sb,axes", [((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 4), 1),
                                        ((2, 3), (4, 5), 0), ((2, 3, 4), (4, 3, 5), [[1, 2], [1, 0]]),
                                        ((2, 3, 4), (5, 4), [[-1], [1]]), ((3,), (3,), 1),
                                        ((2, 3, 4), (2, 3, 4), 3), ((2, 3), (2,), [0, 0])])
def test_tensordot(sa, sb, axes, run, same):
    x, y = sym(sa), sym(sb, name="y")
    a, b = val(sa), val(sb)
    same(run([x, y], kt.tensordot(x, y, axes=axes), a, b), np.tensordot(a, b, axes=axes))


@pytest.mark.parametrize("sa,sb", [((3,), (4,)), ((2, 2), (3,)), ((0,), (2,)), ((), (2,))])
def test_outer(sa, sb, run, same):
    x, y = sym(sa), sym(sb, name="y")
    a, b = val(sa), val(sb)
    same(run([x, y], kt.outer(x, y), a, b), np.outer(a, b))


def test_static_alignment_errors():
    with pytest.raises(ValueError, match="dot"):
        kt.dot(sym((2, 3), static=True), sym((4, 5), static=True))
    with pytest.raises(ValueError, match="matmul"):
        sym((2, 3), static=True) @ sym((4,), static=True)
    with pytest.raises(ValueError, match="matmul"):
        kt.matmul(kt.scalar("s"), kt.vector("v"))
    with pytest.raises(ValueError, match="matmul"):
        sym((2, 2, 3), static=True) @ sym((3, 3, 4), static=True)
    with pytest.raises(ValueError, match="tensordot"):
        kt.tensordot(sym((2, 3), static=True), sym((4, 5), static=True), axes=1)


def test_runtime_alignment_error(run):
    x, y = kt.matrix("x"), kt.matrix("y")
    with pytest.raises(ValueError):
        run([x, y], kt.dot(x, y), np.ones((2, 3)), np.ones((4, 5)))
