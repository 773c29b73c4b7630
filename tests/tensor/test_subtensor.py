"""Basic indexing against NumPy: ints, slices with any step (negative too), None/newaxis,
Ellipsis, symbolic index scalars and out-of-bounds errors."""
import numpy as np
import pytest

import kiln.tensor as kt
from tests.helpers import symbolic_index

RNG = np.random.default_rng(5)
V = RNG.normal(size=(5, 6, 7))
S = slice
INDICES = [
    0, -1, 4, (1, 2), (1, 2, 3), (-5, -6, -7), S(None), S(1, 4), S(None, None, -1), S(4, 1, -1),
    S(-2, None), S(None, -2), S(None, None, 2), S(None, None, -2), S(10, None), S(-10, 3),
    S(3, 1), S(1, 100, 3), S(-1, -100, -2), (S(None), 2), (Ellipsis, 1), (1, Ellipsis),
    (Ellipsis, S(None, None, -3), 0), (None, 1), (S(None), None, 2), (None, Ellipsis, None),
    (1, None, S(2, 5), None), kt.newaxis, Ellipsis, (), (0, S(0, 0)), (S(None, None, -1),) * 3,
    (2, -3, S(None, None, -1)), (Ellipsis, None),
]


@pytest.mark.parametrize("static", [False, True])
@pytest.mark.parametrize("idx", INDICES, ids=repr)
def test_constant_indices(idx, static, run, same):
    x = kt.tensor("x", dtype="float64", shape=V.shape if static else (None, None, None))
    expected = V[idx]
    out = x[idx]
    assert out.ndim == expected.ndim
    if static:
        assert out.type.shape == expected.shape
    same(run([x], out, V), expected)


@pytest.mark.parametrize("idx", INDICES, ids=repr)
def test_symbolic_indices(idx, run, same):
    x = kt.tensor3("x")
    sidx, syms, vals = symbolic_index(idx)
    same(run([x, *syms], x[sidx], V, *vals), V[idx])


@pytest.mark.parametrize("dtype", ["int8", "int32", "uint8", "int64"])
def test_index_scalar_dtypes(dtype, run, same):
    x = kt.matrix("x")
    i = kt.scalar("i", dtype=dtype)
    same(run([x, i], x[i], V[0], 2), V[0][2])
    same(run([x, i], x[:, i:], V[0], 2), V[0][:, 2:])


def test_numpy_integer_indices(run, same):
    x = kt.tensor3("x")
    same(run([x], x[np.int64(1), np.int32(-1)], V), V[1, -1])
    same(run([x], x[np.array(2), 1:np.array(3)], V), V[np.array(2), 1:np.array(3)])
    with pytest.raises(IndexError):
        x["a"]
    with pytest.raises(IndexError):
        x[1:"a"]


def test_out_of_bounds_static_is_build_error():
    x = kt.tensor("x", dtype="float64", shape=(5, None))
    with pytest.raises(IndexError, match="out of bounds"):
        x[5]
    with pytest.raises(IndexError, match="out of bounds"):
        x[-6]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError):
        x[1.5]
    with pytest.raises(IndexError, match="single ellipsis"):
        x[..., 0, ...]
    with pytest.raises(IndexError):
        x[kt.scalar("f")]
    with pytest.raises(ValueError, match="step"):
        x[::0]


def test_out_of_bounds_at_run_time(run):
    x, i = kt.matrix("x"), kt.lscalar("i")
    with pytest.raises(IndexError):
        run([x], x[7], V[0])
    with pytest.raises(IndexError):
        run([x, i], x[i], V[0], -9)
    with pytest.raises(ValueError):
        run([x, i], x[::i], V[0], 0)


def test_advanced_indexing_dispatches_to_advanced_subtensor(run):
    # full coverage in tests/tensor/test_advanced.py
    x = kt.matrix("x")
    np.testing.assert_array_equal(run([x], x[[0, 1]], V[0]), V[0][[0, 1]])


def test_empty_and_zero_dim(run, same):
    x = kt.matrix("x")
    e = np.zeros((0, 3))
    same(run([x], x[:, 1], e), e[:, 1])
    same(run([x], x[1:, ::-1], e), e[1:, ::-1])
    s = kt.scalar("s")
    same(run([s], s[None], np.array(2.0)), np.array(2.0)[None])
    same(run([s], s[...], np.array(2.0)), np.array(2.0)[...])


def test_index_result_is_not_an_alias_of_the_input(run):
    x = kt.vector("x")
    v = np.arange(4.0)
    out = run([x], x[1:], v)
    out[0] = 100.0
    assert v[1] == 1.0
