"""norm, matrix_power, kron and einsum against NumPy on the same inputs."""
from __future__ import annotations

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.tensor import linalg as la

PY = kiln.Mode(linker="py")
INF = np.inf


def rnd(shape, dtype="float64", seed=0):
    rng = np.random.default_rng(seed + 11 * len(shape))
    if dtype.startswith("int"):
        return rng.integers(-3, 4, size=shape).astype(dtype)
    return rng.normal(size=shape).astype(dtype)


def run(fn, *vals):
    ins = [kt.tensor(f"x{i}", dtype=v.dtype, shape=(None,) * v.ndim) for i, v in enumerate(vals)]
    return kiln.function(ins, fn(*ins), mode=PY)(*vals)


def close(got, exp, dtype="float64"):
    got, exp = np.asarray(got), np.asarray(exp)
    assert got.shape == exp.shape, (got.shape, exp.shape)
    assert got.dtype == exp.dtype, (got.dtype, exp.dtype)
    tol = 1e-4 if str(exp.dtype) == "float32" else 1e-10
    np.testing.assert_allclose(got, exp, rtol=tol, atol=tol)


VECTOR_ORDS = [None, 2, 1, INF, -INF, 0, 3, 0.5, -1]
MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, INF, -INF]


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")   # NumPy's own, for 0 ** -1
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("ord", VECTOR_ORDS, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_vector_norms(ord, dtype, keepdims):
    x = rnd((3, 5), dtype)
    for axis in (0, 1, -1):
        close(run(lambda v, axis=axis: la.norm(v, ord, axis=axis, keepdims=keepdims), x),
              np.linalg.norm(x, ord, axis=axis, keepdims=keepdims))
    v = x[0]
    if ord is None or ord not in (-1, 0.5) or np.all(v != 0):
        close(run(lambda t: la.norm(t, ord), v), np.linalg.norm(v, ord))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("ord", MATRIX_ORDS, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
def test_matrix_norms(ord, dtype, keepdims):
    x = rnd((4, 3), dtype)
    close(run(lambda m: la.norm(m, ord, keepdims=keepdims), x), np.linalg.norm(x, ord, keepdims=keepdims))
    y = rnd((2, 4, 3), dtype, seed=1)
    for axis in ((1, 2), (2, 1), (0, 2), (-1, 0)):
        close(run(lambda m, axis=axis: la.norm(m, ord, axis=axis, keepdims=keepdims), y),
              np.linalg.norm(y, ord, axis=axis, keepdims=keepdims))


@pytest.mark.parametrize("shape", [(2, 3, 4), (0,), ()], ids=str)
def test_norm_default_flattens(shape):
    x = rnd(shape)
    close(run(la.norm, x), np.linalg.norm(x))
    close(run(lambda t: la.norm(t, keepdims=True), x), np.linalg.norm(x, keepdims=True))


def test_norm_errors():
    with pytest.raises(ValueError, match="invalid norm order 'fro' for vectors"):
        la.norm(kt.dvector("v"), "fro")
    with pytest.raises(ValueError, match="invalid norm order 3 for matrices"):
        la.norm(kt.dmatrix("m"), 3)
    with pytest.raises(ValueError, match="1-d or 2-d"):
        la.norm(kt.dtensor3("t"), 1)
    with pytest.raises(ValueError, match="duplicate axes"):
        la.norm(kt.dmatrix("m"), axis=(0, 0))


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, -1, -3])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (0, 0)], ids=str)
def test_matrix_power(n, shape, dtype):
    a = rnd(shape, dtype)
    if n < 0:
        a = (a + 4 * np.eye(shape[-1])).astype(dtype)
    close(run(lambda x: la.matrix_power(x, n), a), np.linalg.matrix_power(a, n))


def test_matrix_power_errors():
    with pytest.raises(TypeError, match="integer"):
        la.matrix_power(kt.dmatrix("a"), 1.5)
    with pytest.raises(ValueError, match="square"):
        la.matrix_power(kt.tensor("a", shape=(2, 3)), 2)
    with pytest.raises(ValueError, match="matrix"):
        la.matrix_power(kt.dvector("a"), 2)


@pytest.mark.parametrize("ashape,bshape", [((2, 3), (4, 5)), ((3,), (2,)), ((2, 2), (3,)), ((3,), (2, 2)),
                                           ((2, 1, 3), (2, 2)), ((), (3,)), ((), ()), ((0, 2), (3, 1))], ids=str)
@pytest.mark.parametrize("dtypes", [("float64", "float64"), ("float32", "int64"), ("int32", "int64")], ids=str)
def test_kron(ashape, bshape, dtypes):
    a, b = rnd(ashape, dtypes[0]), rnd(bshape, dtypes[1], seed=1)
    close(run(la.kron, a, b), np.kron(a, b))


EINSUM = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("bij,jk->bik", [(2, 3, 4), (4, 5)]),
    ("ij,ij->ij", [(3, 4), (3, 4)]),
    ("ij,ij->", [(3, 4), (3, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i", [(5,), (5,)]),
    ("ij,j->i", [(3, 4), (4,)]),
    ("ij->ji", [(3, 4)]),
    ("ij->", [(3, 4)]),
    ("ij->j", [(3, 4)]),
    ("ii->i", [(4, 4)]),
    ("ii", [(4, 4)]),
    ("iji->j", [(3, 2, 3)]),
    ("bii->b", [(2, 3, 3)]),
    ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ("...ij,...jk->...ik", [(1, 3, 4), (6, 4, 5)]),
    ("...ij,jk", [(2, 2, 3, 4), (4, 5)]),
    ("i...->...", [(3, 4, 5)]),
    ("ijk,ikl,lm->jm", [(2, 3, 4), (2, 4, 5), (5, 6)]),
    ("ab,bc,cd,de->ae", [(2, 3), (3, 4), (4, 5), (5, 2)]),
    ("ij,kl->ijkl", [(2, 3), (4, 5)]),
    ("abc,cba->b", [(2, 3, 4), (4, 3, 2)]),
    ("ij,jk->ik", [(0, 4), (4, 5)]),
    ("ij,jk->ik", [(3, 0), (0, 5)]),
    (" i j , j k -> k i ", [(3, 4), (4, 5)]),
    ("ba,ab->", [(4, 4), (4, 4)]),
    ("ii,ij->j", [(3, 3), (3, 4)]),
    ("Ab,bc", [(2, 3), (3, 4)]),
    (",i->i", [(), (3,)]),
    ("...,...->...", [(), (3,)]),
    ("...i,...i->...", [(2, 1, 3), (4, 3)]),
    ("ij...,jk...->ik...", [(2, 3, 5), (3, 4, 5)]),
    ("iii->i", [(3, 3, 3)]),
    ("ij,ij,ij->i", [(2, 3), (2, 3), (2, 3)]),
    ("a,b,c->abc", [(2,), (3,), (4,)]),
]


@pytest.mark.parametrize("subs,shapes", EINSUM, ids=[e[0] + str(e[1]) for e in EINSUM])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_einsum_matches_numpy(subs, shapes, dtype):
    vals = [rnd(s, dtype, seed=k) for k, s in enumerate(shapes)]
    close(run(lambda *xs: la.einsum(subs, *xs), *vals), np.einsum(subs, *vals))


def test_einsum_is_exported():
    assert kt.einsum is la.einsum
    a = kt.dmatrix("a")
    assert kt.linalg.einsum("ij->ji", a).owner is not None


@pytest.mark.parametrize("subs,shapes,msg", [
    ("ij,jk->ik", [(2, 3)], "2 operand terms"),
    ("ijk->i", [(2, 3)], "3 labels"),
    ("ij->ii", [(2, 2)], "repeated"),
    ("ij->k", [(2, 2)], "does not appear"),
    ("i1->i", [(2, 2)], "invalid label"),
    ("..i.->i", [(2, 2)], "ellipsis"),
])
def test_einsum_errors(subs, shapes, msg):
    xs = [kt.tensor(f"x{i}", shape=(None,) * len(s)) for i, s in enumerate(shapes)]
    with pytest.raises(ValueError, match=msg):
        la.einsum(subs, *xs)


def test_einsum_contraction_uses_matmul():
    from kiln.graph.traversal import ancestors
    from kiln.tensor.blas import MatMul

    a, b = kt.dtensor3("a"), kt.dtensor3("b")
    out = la.einsum("bij,bjk->bik", a, b)
    assert any(v.owner is not None and isinstance(v.owner.op, MatMul) for v in ancestors([out]))
