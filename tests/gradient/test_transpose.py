"""The dot-product test for every transpose rule: <ct, L t> == <L^T ct, t> on random data,
where L is a linear op (in the listed input) and L^T comes from kiln's transposer."""
from __future__ import annotations

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.gradient import LinearityError, Lop, grad, linearize
from kiln.gradient.ops import CotangentClip
from kiln.tensor.unbroadcast import SumToShape

MODE = kiln.Mode(linker="py")
C = lambda *shape: kt.constant(np.random.default_rng(sum(shape) + 7).normal(size=shape))

# (id, a map linear in all its inputs jointly, input shapes)
LINEAR = [
    ("add_bcast", lambda t, u: t + u, [(3, 1), (3, 4)]),
    ("add_runtime_bcast", lambda t, u: t + u, [(1, 4), (3, 4)]),
    ("add_nary", lambda t, u: kt.add(t, t * 2.0, u), [(3,), (1,)]),
    ("sub", lambda t, u: u - t, [(1, 3), (2, 3)]),
    ("neg_identity", lambda t: -kt.tensor_copy(t), [(4,)]),
    ("mul_const", lambda t: t * C(3, 4), [(3, 1)]),
    ("mul_nary", lambda t: kt.mul(C(3), t, C(3)), [(3,)]),
    ("true_div", lambda t: t / (C(2, 3) ** 2 + 1.0), [(2, 3)]),
    ("cast", lambda t: kt.cast(t, "float32"), [(4,)]),
    ("switch", lambda t: kt.switch(kt.gt(C(3, 4), 0), t, 0.0), [(3, 4)]),
    ("sum", lambda t: kt.sum(t, axis=(0, 2)), [(2, 3, 4)]),
    ("sum_keepdims", lambda t: kt.sum(t, axis=1, keepdims=True), [(2, 3)]),
    ("dimshuffle", lambda t: t.dimshuffle(2, "x", 0), [(3, 1, 4)]),
    ("reshape", lambda t: t.reshape((4, 3)), [(2, 6)]),
    ("specify_shape", lambda t: kt.specify_shape(t, (2, 3)), [(2, 3)]),
    ("broadcast_to", lambda t: kt.broadcast_to(t, (2, 3, 4)), [(3, 1)]),
    ("alloc", lambda t: kt.alloc(t, 5, 3), [(3,)]),
    ("subtensor", lambda t: t[1:, ::-2], [(4, 5)]),
    ("subtensor_int", lambda t: t[2], [(4, 5)]),
    ("inc_subtensor", lambda t, u: kt.inc_subtensor(t[1:3], u), [(4, 3), (3,)]),
    ("inc_subtensor_bcast", lambda t, u: kt.inc_subtensor(t[1:3], u), [(4, 3), (1, 3)]),
    ("set_subtensor", lambda t, u: kt.set_subtensor(t[::2], u), [(4, 3), (2, 3)]),
    ("set_subtensor_col", lambda t, u: kt.set_subtensor(t[::2, 1], u), [(4, 3), (2,)]),
    ("join", lambda t, u: kt.join(0, t, u, t * 3.0), [(1, 3), (2, 3)]),
    ("make_vector", lambda t: kt.stack([t[0], t[2], t[0] * 2.0]), [(3,)]),
    ("dot_left", lambda t: kt.dot(t, C(3, 4)), [(2, 3)]),
    ("dot_right", lambda t: kt.dot(C(2, 3), t), [(3,)]),
    ("matmul_left", lambda t: kt.matmul(t, C(2, 3, 4)), [(3,)]),
    ("matmul_right", lambda t: kt.matmul(C(2, 2, 3), t), [(1, 3, 4)]),
    ("sum_to_shape", lambda t: SumToShape((0, 1))(t, kt.as_tensor([1, 4])), [(3, 4)]),
    ("softmax_tangent_form", lambda t: C(3, 4) * (t - kt.sum(C(3, 4) * t, axis=1, keepdims=True)), [(3, 4)]),
]


@pytest.mark.parametrize("case", LINEAR, ids=[c[0] for c in LINEAR])
def test_dot_product(case):
    name, fn, shapes = case
    rng = np.random.default_rng(len(name) + 1)
    ins = [kt.tensor(f"t{i}", shape=(None,) * len(s)) for i, s in enumerate(shapes)]
    out = fn(*ins)
    ct = kt.tensor("ct", dtype=out.dtype, shape=(None,) * out.ndim)
    vals = [rng.normal(size=s) for s in shapes]
    Lt = np.asarray(kiln.function(ins, out, mode=MODE)(*vals), dtype="float64")
    ctv = rng.normal(size=Lt.shape).astype(out.dtype)
    back = kiln.function(ins + [ct], Lop(out, ins, ct), mode=MODE, on_unused_input="ignore")(*vals, ctv)
    lhs = float(np.sum(ctv * Lt))
    rhs = float(sum(np.sum(b * v) for b, v in zip(back, vals)))
    tol = 1e-5 if out.dtype == "float32" else 1e-10
    assert lhs == pytest.approx(rhs, rel=tol, abs=tol)
    for b, v in zip(back, vals):
        assert np.shape(b) == v.shape


def test_gradient_clip_is_the_cotangent_clip():
    x = kt.vector("x")
    g = grad((kiln.gradient.grad_clip(x, -1.0, 2.0) * kt.constant([5.0, -5.0, 1.0])).sum(), x)
    np.testing.assert_array_equal(kiln.function([x], g, mode=MODE)(np.zeros(3)), [2.0, -1.0, 1.0])
    assert CotangentClip(-1.0, 2.0).linear_inputs == (0,)


class _Square(Op):
    """A user op with a *wrong* jvp rule: it multiplies the tangent by itself."""

    def make_node(self, x):
        x = kt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] ** 2

    def jvp(self, node, tangents):
        return [tangents[0] * tangents[0]]


def test_linearize_catches_a_nonlinear_rule():
    x = kt.vector("x")
    with pytest.raises(LinearityError, match="not linear"):
        grad(_Square()(x).sum(), x)


def test_linearize_exposes_residuals_and_transposes():
    x = kt.vector("x")
    lz = linearize(kt.exp(x) * 3.0, x)
    assert any(r.owner is not None and "exp" in str(r.owner.op) for r in lz.residuals)
    v = np.array([0.5, -1.0])
    ct = np.array([1.0, 2.0])
    (back,) = lz.transpose([kt.constant(ct)])
    (fwd,) = lz.jvp([kt.constant(np.ones(2))])
    np.testing.assert_allclose(kiln.function([x], back, mode=MODE)(v), 3.0 * np.exp(v) * ct)
    np.testing.assert_allclose(kiln.function([x], fwd, mode=MODE)(v), 3.0 * np.exp(v))


def test_cotangents_to_one_variable_are_summed_once():
    import kiln.scalar.math as ps
    from kiln.graph.traversal import toposort

    x, a = kt.vector("x"), kt.vector("a")
    cost = (x * a).sum() + kt.exp(x).sum() + (x ** 2).sum()
    g = grad(cost, x)
    adds = [n for n in toposort([g]) if getattr(n.op, "scalar_op", None) is not None
            and isinstance(n.op.scalar_op, ps.Add)]
    assert len(adds) == 1 and len(adds[0].inputs) == 3
    X, A = np.array([0.5, -1.0]), np.array([2.0, 3.0])
    np.testing.assert_allclose(kiln.function([x, a], g, mode=MODE)(X, A), A + np.exp(X) + 2 * X)
