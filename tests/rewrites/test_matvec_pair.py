"""The matvec_pair rule (kiln/rewrites/matvec_pair.py) and the MatVecPair op on the python
linker: which products pair, values against NumPy and the unrewritten graph."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.rewrites import explain
from kiln.rewrites.blas_ops import MatVecPair, matvec_pair

PYFAST = kiln.Mode(linker="py")
NONE = kiln.Mode(linker="py", rewrites="none")


def _pairs(f) -> list:
    return [n for n in f.fgraph.apply_nodes if isinstance(n.op, MatVecPair)]


def _hvp(A, x, v):
    g = kiln.grad(kt.sum(kt.tanh(kt.dot(A, x)) ** 2), x)
    return kiln.grad(kt.sum(g * v), x)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_hessian_vector_product_pairs_its_two_products_of_the_matrix(dtype):
    A, x, v = kt.matrix("A", dtype=dtype), kt.vector("x", dtype=dtype), kt.vector("v", dtype=dtype)
    f = kiln.function([A, x, v], _hvp(A, x, v), mode=PYFAST)
    assert len(_pairs(f)) == 1 and explain(f).count("matvec_pair") == 1
    rng = np.random.default_rng(0)
    a = (rng.normal(size=(7, 5)) / 3).astype(dtype)
    xv, vv = rng.normal(size=5).astype(dtype), rng.normal(size=5).astype(dtype)
    t = np.tanh(a @ xv)
    want = a.T @ ((2 - 6 * t ** 2) * (1 - t ** 2) * (a @ vv))
    got = f(a, xv, vv)
    assert got.dtype == dtype
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, want, **tol)


def test_independent_products_of_one_matrix_pair_in_graph_order_and_a_third_stays_alone():
    A, x, y, z = kt.dmatrix("A"), kt.dvector("x"), kt.dvector("y"), kt.dvector("z")
    outs = [kt.dot(A, x), A @ y, kt.dot(A, z)]
    f = kiln.function([A, x, y, z], outs, mode=PYFAST)
    (pair,) = _pairs(f)
    assert [i.name for i in pair.inputs] == ["A", "x", "y"]
    rng = np.random.default_rng(1)
    a, xv, yv, zv = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=3), rng.normal(size=3)
    for got, want in zip(f(a, xv, yv, zv), [a @ xv, a @ yv, a @ zv]):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_a_product_that_feeds_the_other_is_not_paired():
    A, x = kt.dmatrix("A"), kt.dvector("x")
    f = kiln.function([A, x], [kt.dot(A, kt.tanh(kt.dot(A, x)))], mode=PYFAST)
    assert not _pairs(f)
    a, xv = np.random.default_rng(2).normal(size=(3, 3)), np.random.default_rng(3).normal(size=3)
    np.testing.assert_allclose(f(a, xv)[0], a @ np.tanh(a @ xv), rtol=1e-13)


@pytest.mark.parametrize("case", ["other matrix", "transposed", "integer", "mixed dtypes", "matrix operand"])
def test_products_that_are_not_two_float_matvecs_of_one_matrix_stay_apart(case):
    A, B, x, y = kt.dmatrix("A"), kt.dmatrix("B"), kt.dvector("x"), kt.dvector("y")
    outs = {"other matrix": [kt.dot(A, x), kt.dot(B, y)],
            "transposed": [kt.dot(A, x), kt.dot(A.T, y)],
            "integer": [kt.dot(kt.lmatrix("N"), kt.lvector("i")), kt.dot(kt.lmatrix("N"), kt.lvector("j"))],
            "mixed dtypes": [kt.dot(A, x), kt.dot(A, kt.fvector("f"))],
            "matrix operand": [kt.dot(A, x), kt.dot(A, B)]}[case]
    f = kiln.function([i for i in kiln.graph.traversal.graph_inputs(outs) if i.name], outs, mode=PYFAST,
                      on_unused_input="ignore")
    assert not _pairs(f)


def test_the_op_checks_its_inputs_and_runs_on_empty_and_mismatched_shapes():
    A, x, y = kt.dmatrix("A"), kt.dvector("x"), kt.dvector("y")
    with pytest.raises(TypeError, match="a matrix and two vectors"):
        matvec_pair(x, x, y)
    with pytest.raises(TypeError, match="one float dtype"):
        matvec_pair(A, x, kt.fvector("f"))
    with pytest.raises(TypeError, match="one float dtype"):
        matvec_pair(kt.lmatrix("N"), kt.lvector("i"), kt.lvector("j"))
    f = kiln.function([A, x, y], list(matvec_pair(A, x, y)), mode=NONE)
    for m, n in [(0, 3), (3, 0), (0, 0)]:
        a, xv, yv = np.ones((m, n)), np.ones(n), np.ones(n)
        for got in f(a, xv, yv):
            np.testing.assert_array_equal(got, np.zeros(m))
    with pytest.raises(ValueError):
        f(np.ones((2, 3)), np.ones(3), np.ones(4))
    s = kt.dmatrix("s", shape=(4, 3))
    assert [o.type.shape for o in matvec_pair(s, x, y)] == [(4,), (4,)]
