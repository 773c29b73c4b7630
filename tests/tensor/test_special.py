"""softmax / log_softmax against scipy.special: axes, dtypes, stability, edge cases."""
import numpy as np
import pytest
import scipy.special as sps

import kiln.tensor as kt
from kiln.tensor.special import LogSoftmax, Softmax

RNG = np.random.default_rng(29)
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")
PAIRS = [(kt.softmax, sps.softmax), (kt.log_softmax, sps.log_softmax)]


@pytest.mark.parametrize("axis", [-1, 0, 1, 2, (0, 2), None], ids=str)
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int8", "int64"])
@pytest.mark.parametrize("kfn,sfn", PAIRS, ids=["softmax", "log_softmax"])
def test_matches_scipy(kfn, sfn, dtype, axis, run, same):
    x = kt.tensor("x", dtype=dtype, shape=(None, None, None))
    v = (RNG.normal(size=(2, 3, 4)) * 3).astype(dtype)
    expected_dtype = np.exp(np.zeros(1, dtype)).dtype
    expected = sfn(v.astype("float64"), axis=axis).astype(expected_dtype)
    out = kfn(x, axis=axis)
    assert out.dtype == expected_dtype
    same(run([x], out, v), expected, rtol=1e-2 if expected_dtype == "float16" else 1e-6)


@pytest.mark.parametrize("kfn,sfn", PAIRS, ids=["softmax", "log_softmax"])
def test_stable_and_edge_cases(kfn, sfn, run, same):
    x = kt.matrix("x")
    v = np.array([[1000.0, 1000.0, -1000.0], [-1e4, 0.0, 1e4], [-np.inf, 0.0, 1.0],
                  [-np.inf, -np.inf, -np.inf], [np.nan, 1.0, 2.0], [np.inf, 1.0, 2.0]])
    expected = sfn(v, axis=1)
    if kfn is kt.softmax:
        # documented deviation: scipy's softmax makes a slice holding +inf all NaN; kiln keeps
        # softmax == exp(log_softmax), i.e. NaN at the +inf entry and 0 at the finite ones
        expected[5] = [np.nan, 0.0, 0.0]
    same(run([x], kfn(x, axis=1), v), expected)
    same(run([x], kfn(x, axis=0), v[:3]), sfn(v[:3], axis=0))


@pytest.mark.parametrize("kfn,sfn", PAIRS, ids=["softmax", "log_softmax"])
def test_empty_and_zero_dim(kfn, sfn, run, same):
    x = kt.matrix("x")
    same(run([x], kfn(x, axis=1), np.zeros((0, 3))), np.zeros((0, 3)))
    same(run([x], kfn(x, axis=0), np.zeros((3, 0))), np.zeros((3, 0)))
    s = kt.scalar("s")
    same(run([s], kfn(s), np.array(2.5)), sfn(np.array(2.5)))


def test_softmax_sums_to_one_and_log_consistent(run, same):
    x = kt.tensor3("x")
    v = RNG.normal(size=(3, 4, 5)) * 10
    sm, lsm = run([x], [kt.softmax(x, axis=1), kt.log_softmax(x, axis=1)], v)
    same(sm.sum(axis=1), np.ones((3, 5)))
    same(np.exp(lsm), sm)


def test_ops_and_errors():
    x = kt.matrix("x")
    assert kt.softmax(x).owner.op == Softmax((1,))
    assert kt.log_softmax(x, axis=0).owner.op == LogSoftmax((0,))
    assert kt.softmax(x, axis=None).owner.op == Softmax((0, 1))
    assert Softmax((1,)) != LogSoftmax((1,)) and hash(Softmax((0,))) == hash(Softmax((0,)))
    with pytest.raises(ValueError, match="softmax"):
        kt.softmax(x, axis=2)
    with pytest.raises(TypeError, match="Softmax"):
        kt.softmax(kt.vector("b", dtype="bool"))
    s = kt.tensor("s", dtype="float32", shape=(2, None))
    assert kt.softmax(s).type == s.type
