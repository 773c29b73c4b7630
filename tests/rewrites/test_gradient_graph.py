"""An MLP gradient goes through the same pipeline and loses its obvious waste."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph.basic import Constant
from kiln.rewrites import explain
from kiln.scalar.composite import Composite
from kiln.scalar import math as ps
from kiln.tensor.elemwise import Elemwise

from .helpers import NO_REWRITES


def _mlp_grads():
    rng = np.random.default_rng(0)
    X, y = kt.matrix("X"), kt.vector("y")
    W1 = kiln.shared(rng.normal(size=(5, 8)), name="W1")
    b1 = kiln.shared(np.zeros(8), name="b1")
    w2 = kiln.shared(rng.normal(size=8), name="w2")
    h = kt.tanh(kt.dot(X, W1) + b1)
    p = kt.sigmoid(kt.dot(h, w2))
    cost = -(y * kt.log(p) + (1 - y) * kt.log(1 - p)).mean()
    return [X, y], [cost] + list(kiln.grad(cost, [W1, b1, w2]))


def _scalar_nodes(fg):
    """(scalar op, input constants) for every elementwise computation, also inside Composites."""
    for n in fg.apply_nodes:
        if not isinstance(n.op, Elemwise):
            continue
        sop = n.op.scalar_op
        if isinstance(sop, Composite):
            for inner in sop.fgraph.apply_nodes:
                yield inner.op, [np.asarray(i.data) for i in inner.inputs if isinstance(i, Constant)]
        else:
            from kiln.rewrites.utils import constant_value

            yield sop, [d for d in (constant_value(i) for i in n.inputs) if d is not None]


def test_mlp_gradient_has_no_waste_after_fast_run():
    if not hasattr(kiln, "grad"):
        pytest.skip("kiln.grad is not available")
    inputs, outs = _mlp_grads()
    f = kiln.function(inputs, outs, mode=kiln.Mode(linker="py"))
    ref = kiln.function(inputs, outs, mode=NO_REWRITES)
    assert len(f.fgraph.apply_nodes) < len(ref.fgraph.apply_nodes)
    for sop, consts in _scalar_nodes(f.fgraph):
        if isinstance(sop, ps.Mul):
            assert not any(c.size and np.all(c == 1) for c in consts), "multiplication by one left"
        if isinstance(sop, ps.Add):
            assert not any(c.size and np.all(c == 0) for c in consts), "addition of zero left"
    keys = [(n.op, tuple(map(id, n.inputs))) for n in f.fgraph.apply_nodes]
    assert len(keys) == len(set(keys)), "duplicate subexpressions left"
    rng = np.random.default_rng(1)
    Xv, yv = rng.normal(size=(6, 5)), (rng.uniform(size=6) > 0.5).astype(float)
    for g, w in zip(f(Xv, yv), ref(Xv, yv)):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
    assert explain(f).count("elemwise_fusion") >= 1
