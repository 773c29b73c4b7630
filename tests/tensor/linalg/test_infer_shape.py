"""infer_shape of the linear-algebra ops: the symbolic shapes, compiled and run, equal the actual
output shapes, without computing the op itself (except lstsq's residuals, whose length NumPy
decides from the computed rank)."""
from __future__ import annotations

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph.basic import Variable
from kiln.graph.traversal import ancestors
from kiln.tensor import linalg as la
from kiln.tensor.shape import infer_graph_shapes

PY = kiln.Mode(linker="py")
RNG = np.random.default_rng(3)


def sq(*batch, n=3):
    a = RNG.normal(size=batch + (n, n))
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


CASES = [
    ("inv", la.inv, [sq(2)]),
    ("pinv", la.pinv, [RNG.normal(size=(2, 5, 3))]),
    ("det", la.det, [sq(4, 2)]),
    ("slogdet", la.slogdet, [sq(2)]),
    ("cholesky", la.cholesky, [sq()]),
    ("qr_reduced_tall", la.qr, [RNG.normal(size=(5, 3))]),
    ("qr_reduced_wide", la.qr, [RNG.normal(size=(2, 3, 5))]),
    ("qr_complete", lambda a: la.qr(a, "complete"), [RNG.normal(size=(5, 3))]),
    ("qr_r", lambda a: la.qr(a, "r"), [RNG.normal(size=(3, 5))]),
    ("svd_full", la.svd, [RNG.normal(size=(2, 5, 3))]),
    ("svd_reduced", lambda a: la.svd(a, full_matrices=False), [RNG.normal(size=(3, 5))]),
    ("svd_s", lambda a: la.svd(a, compute_uv=False), [RNG.normal(size=(4, 2))]),
    ("eigh", la.eigh, [sq(2)]),
    ("eigvalsh", la.eigvalsh, [sq()]),
    ("solve_vec", la.solve, [sq(2), np.ones(3)]),
    ("solve_bcast", la.solve, [sq(2, 1), np.ones((3, 3, 4))]),
    ("solve_triangular", la.solve_triangular, [sq(), np.ones((3, 2))]),
    ("lstsq", lambda a, b: la.lstsq(a, b)[0::2] + (la.lstsq(a, b)[3],), [RNG.normal(size=(5, 3)), np.ones((5, 2))]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_infer_shape(case):
    _, build, values = case
    ins = [kt.tensor(f"x{i}", shape=(None,) * v.ndim) for i, v in enumerate(values)]
    outs = build(*ins)
    outs = list(outs) if isinstance(outs, (tuple, list)) else [outs]
    in_shapes = [tuple(kt.shape_i(x, d) for d in range(x.ndim)) for x in ins]
    shapes = infer_graph_shapes(ins, outs, in_shapes)
    actual = kiln.function(ins, outs, mode=PY, on_unused_input="ignore")(*values)
    for out, shp, act in zip(outs, shapes, actual):
        assert len(shp) == out.ndim
        syms = [s for s in shp if isinstance(s, Variable)]
        assert not syms or out not in ancestors(syms)
        got = iter(kiln.function(ins, syms, mode=PY, on_unused_input="ignore")(*values)) if syms else iter(())
        inferred = tuple(int(next(got)) if isinstance(s, Variable) else int(s) for s in shp)
        assert inferred == np.shape(act)


@pytest.mark.parametrize("a,b", [(RNG.normal(size=(5, 3)), np.ones((5, 2))), (RNG.normal(size=(5, 3)), np.ones(5)),
                                 (np.outer(np.ones(5), [1.0, 2.0, 3.0]), np.ones((5, 2))),
                                 (RNG.normal(size=(3, 5)), np.ones(3))], ids=["full", "vec", "rank1", "wide"])
def test_lstsq_residuals_shape(a, b):
    x, y = kt.dmatrix("a"), kt.tensor("b", shape=(None,) * b.ndim)
    res = la.lstsq(x, y)[1]
    (shp,) = infer_graph_shapes([x, y], [res], [tuple(kt.shape_i(v, d) for d in range(v.ndim)) for v in (x, y)])
    n = kiln.function([x, y], shp[0], mode=PY)(a, b)
    assert int(n) == np.linalg.lstsq(a, b)[1].shape[0]
