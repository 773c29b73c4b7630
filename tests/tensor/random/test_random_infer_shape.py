"""infer_shape of every draw op: the inferred symbolic shape, compiled and run, equals the
draw's actual shape, without computing the draw; and shape rewrites use it."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph.basic import Variable
from kiln.graph.traversal import ancestors
from kiln.tensor import random as kr
from kiln.tensor.shape import infer_graph_shapes

PY = kiln.Mode(linker="py")


def r():
    return kiln.shared(np.random.default_rng(0))


# (id, inputs maker, builder, values)
CASES = [
    ("normal_bcast", lambda: [kt.vector("mu"), kt.matrix("s")], lambda mu, s: kr.normal(mu, s, rng=r()),
     [np.zeros(3), np.ones((2, 1))]),
    ("normal_size", lambda: [kt.lscalar("n"), kt.lscalar("m")], lambda n, m: kr.normal(size=(n, m, 2), rng=r()),
     [4, 0]),
    ("uniform_size_param", lambda: [kt.vector("lo"), kt.lscalar("n")],
     lambda lo, n: kr.uniform(lo, 10.0, size=(n, 3), rng=r()), [np.zeros(3), 2]),
    ("integers", lambda: [kt.lvector("lo"), kt.lmatrix("hi")], lambda lo, hi: kr.integers(lo, hi, rng=r()),
     [np.zeros(1, dtype="int64"), np.ones((2, 4), dtype="int64") * 5]),
    ("poisson", lambda: [kt.matrix("lam")], lambda lam: kr.poisson(lam, rng=r()), [np.ones((3, 2))]),
    ("dirichlet", lambda: [kt.matrix("a")], lambda a: kr.dirichlet(a, rng=r()), [np.ones((3, 4))]),
    ("dirichlet_size", lambda: [kt.matrix("a"), kt.lscalar("n")], lambda a, n: kr.dirichlet(a, size=(n, 3), rng=r()),
     [np.ones((3, 4)), 2]),
    ("mvn", lambda: [kt.matrix("m"), kt.matrix("c")], lambda m, c: kr.multivariate_normal(m, c, rng=r()),
     [np.zeros((5, 2)), np.eye(2)]),
    ("choice_rows", lambda: [kt.matrix("a"), kt.lscalar("n")], lambda a, n: kr.choice(a, size=(n,), rng=r()),
     [np.ones((4, 3)), 6]),
    ("choice_int", lambda: [kt.lscalar("k")], lambda k: kr.choice(k, size=(2, 3), rng=r()), [5]),
    ("permutation_int", lambda: [kt.lscalar("k")], lambda k: kr.permutation(k, rng=r()), [7]),
    ("permutation_arr", lambda: [kt.matrix("x")], lambda x: kr.permutation(x, rng=r()), [np.ones((3, 2))]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_infer_shape(case):
    _, make, build, values = case
    ins = make()
    out = build(*ins)
    in_shapes = [tuple(kt.shape_i(x, d) for d in range(x.ndim)) for x in ins]
    (shp,) = infer_graph_shapes(ins, [out], in_shapes)
    assert len(shp) == out.ndim
    sym = [s for s in shp if isinstance(s, Variable)]
    assert not sym or out not in ancestors(sym)
    actual = kiln.function(ins, out, mode=PY, on_unused_input="ignore")(*values)
    got = iter(kiln.function(ins, sym, mode=PY, on_unused_input="ignore")(*values) if sym else [])
    inferred = tuple(int(next(got)) if isinstance(s, Variable) else int(s) for s in shp)
    assert inferred == actual.shape


def test_shape_of_a_draw_does_not_need_the_draw():
    n = kt.lscalar("n")
    x = kr.normal(size=(n, 3), rng=r())
    f = kiln.function([n], x.shape, mode=PY)
    np.testing.assert_array_equal(f(5), [5, 3])
    assert not any(isinstance(nd.op, kr.RandomVariable) for nd in f.fgraph.apply_nodes)
