"""Every tensor op's jvp rule against central finite differences (forward mode), and its
reverse mode (linearize + transpose) with verify_grad, on random data."""
from __future__ import annotations

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.compile.builders import OpFromGraph
from kiln.gradient import Rop, verify_grad
from kiln.tensor.unbroadcast import SumToShape

MODE = kiln.Mode(linker="py")


def _ofg(x, y):
    a, b = kt.matrix("a"), kt.matrix("b")
    return OpFromGraph([a, b], [kt.tanh(a) * b + a])(x, y)


def _fused(x, y):
    from kiln.scalar import math as ps
    from kiln.scalar.basic import scalar_type
    from kiln.scalar.composite import Composite
    from kiln.tensor.elemwise import Elemwise

    a, b = scalar_type("float64")(), scalar_type("float64")()
    first, second = Elemwise(Composite([a, b], [ps.exp(ps.mul(a, b)), ps.sin(ps.add(a, 1.5))]))(x, y)
    return first * second


def _scalar_roundtrip(x):
    from kiln.tensor.elemwise import scalar_from_tensor, tensor_from_scalar

    return tensor_from_scalar(scalar_from_tensor(x.sum())) ** 2


def _prod_with_zeros(x):
    # rows with no zero, one zero, two zeros
    mask = np.ones((3, 4)); mask[1, 2] = 0; mask[2, 0] = mask[2, 3] = 0
    return kt.prod(x * kt.constant(mask), axis=1)


# (id, function of symbolic inputs, input shapes)
CASES = [
    ("elemwise_chain", lambda x, y: kt.exp(kt.sin(x) * y) / (1.0 + y ** 2), [(3, 4), (3, 4)]),
    ("elemwise_broadcast", lambda x, y: kt.tanh(x) * y - x / (2.0 + y ** 2), [(3, 1), (1, 4)]),
    ("switch", lambda x, y: kt.switch(kt.gt(x, 0), x * y, -y), [(3, 4), (3, 4)]),
    ("clip", lambda x: kt.clip(x, -0.5, 0.5), [(10,)]),
    ("cast_f32", lambda x: kt.cast(kt.cast(x, "float32") * 2.0, "float64") + x, [(5,)]),
    ("dimshuffle", lambda x: x.dimshuffle(1, "x", 0) * kt.arange(3.0).dimshuffle("x", "x", 0), [(3, 2)]),
    ("dimshuffle_drop", lambda x: kt.squeeze(x, 1) * 2.0, [(3, 1)]),
    ("reshape", lambda x: x.reshape((2, 6)) * kt.arange(12.0).reshape((2, 6)), [(3, 4)]),
    ("flatten", lambda x: kt.sin(x.flatten()), [(2, 3, 2)]),
    ("specify_shape", lambda x: kt.specify_shape(x, (3, None)) ** 2, [(3, 4)]),
    ("broadcast_to", lambda x: kt.broadcast_to(x, (2, 3, 4)) * kt.arange(24.0).reshape((2, 3, 4)), [(3, 1)]),
    ("alloc", lambda x: kt.alloc(x, 2, 3) * kt.arange(6.0).reshape((2, 3)), [(3,)]),
    ("make_vector", lambda x, y: kt.stack([x.sum(), (y ** 2).sum(), x.max()]) ** 2, [(3,), (2,)]),
    ("stack", lambda x, y: kt.stack([x, y], axis=1) ** 2, [(3,), (3,)]),
    ("join", lambda x, y: kt.join(1, x, y * 3.0) ** 2, [(2, 3), (2, 2)]),
    ("subtensor", lambda x: x[1:, ::2] ** 2 + x[0, 1], [(3, 4)]),
    ("subtensor_neg_step", lambda x: x[::-2] ** 3, [(5,)]),
    ("inc_subtensor", lambda x, y: kt.inc_subtensor(x[1:3], y) ** 2, [(4, 3), (3,)]),
    ("set_subtensor", lambda x, y: kt.set_subtensor(x[::2, 0], y) ** 2, [(4, 3), (2,)]),
    ("sum", lambda x: kt.sum(x ** 2, axis=1) + x.sum(), [(3, 4)]),
    ("mean_var_std", lambda x: x.mean(axis=0) + x.var(axis=1).sum() + x.std(), [(3, 4)]),
    ("prod", lambda x: kt.prod(x, axis=0), [(3, 4)]),
    ("prod_with_zeros", _prod_with_zeros, [(3, 4)]),
    ("max", lambda x: kt.max(x, axis=1) + kt.min(x, axis=0).sum(), [(3, 4)]),
    ("logsumexp", lambda x: kt.logsumexp(x, axis=1), [(3, 4)]),
    ("dot_mm", lambda x, y: kt.dot(x, y), [(2, 3), (3, 4)]),
    ("dot_mv", lambda x, y: kt.dot(x, y), [(2, 3), (3,)]),
    ("dot_vm", lambda x, y: kt.dot(x, y), [(3,), (3, 4)]),
    ("dot_vv", lambda x, y: kt.dot(x, y), [(3,), (3,)]),
    ("matmul_batched", lambda x, y: kt.matmul(x, y), [(2, 2, 3), (3, 4)]),
    ("matmul_bcast_batch", lambda x, y: kt.matmul(x, y), [(1, 2, 3), (2, 3, 2)]),
    ("matmul_vec_left", lambda x, y: kt.matmul(x, y), [(3,), (2, 3, 4)]),
    ("matmul_vec_right", lambda x, y: kt.matmul(x, y), [(2, 2, 3), (3,)]),
    ("tensordot", lambda x, y: kt.tensordot(x, y, axes=[[1, 2], [0, 1]]), [(2, 3, 4), (3, 4, 2)]),
    ("outer", lambda x, y: kt.outer(x, y), [(3,), (2,)]),
    ("softmax", lambda x: kt.softmax(x, axis=1) * kt.arange(4.0), [(3, 4)]),
    ("softmax_axis0", lambda x: kt.softmax(x, axis=0) ** 2, [(3, 4)]),
    ("log_softmax", lambda x: kt.log_softmax(x, axis=-1) * kt.arange(4.0), [(3, 4)]),
    ("relu", lambda x: kt.relu(x) + kt.relu(x, alpha=0.1), [(10,)]),
    ("sum_to_shape", lambda x: SumToShape((0, 1))(kt.exp(x), kt.as_tensor([1, 4])) ** 2, [(3, 4)]),
    ("op_from_graph", _ofg, [(2, 3), (2, 3)]),
    ("fused_composite", _fused, [(3, 1), (3, 4)]),
    ("scalar_tensor_conversions", _scalar_roundtrip, [(3,)]),
]


def _point(shapes, rng):
    return [rng.uniform(0.3, 1.5, size=s) * rng.choice([-1.0, 1.0], size=s) for s in shapes]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_jvp_matches_finite_differences(case):
    name, fn, shapes = case
    rng = np.random.default_rng(len(name))
    ins = [kt.tensor(f"x{i}", shape=(None,) * len(s)) for i, s in enumerate(shapes)]
    tans = [kt.tensor(f"t{i}", shape=(None,) * len(s)) for i, s in enumerate(shapes)]
    out = fn(*ins)
    f = kiln.function(ins, out, mode=MODE)
    jv = kiln.function(ins + tans, Rop(out, ins, tans), mode=MODE, on_unused_input="ignore")
    pt = _point(shapes, rng)
    dirs = [rng.normal(size=s) for s in shapes]
    eps = 1e-6 if out.dtype == "float64" and "f32" not in name else 1e-2
    num = (np.asarray(f(*[p + eps * d for p, d in zip(pt, dirs)]))
           - np.asarray(f(*[p - eps * d for p, d in zip(pt, dirs)]))) / (2 * eps)
    tol = 1e-5 if eps < 1e-3 else 1e-3
    np.testing.assert_allclose(jv(*pt, *dirs), num, rtol=tol, atol=tol / 10)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_reverse_mode_verify_grad(case):
    name, fn, shapes = case
    rng = np.random.default_rng(100 + len(name))
    kw = dict(eps=1e-2, abs_tol=1e-3, rel_tol=1e-3) if "f32" in name else {}
    verify_grad(fn, _point(shapes, rng), rng=rng, mode=MODE, **kw)


def test_arange_jvp_in_start_and_step():
    a, s = kt.scalar("a"), kt.scalar("s")
    out = kt.arange(a, 10.0, s)
    f = kiln.function([a, s], Rop(out, [a, s], [kt.constant(1.0), kt.constant(0.5)]), mode=MODE)
    n = len(np.arange(1.0, 10.0, 2.0))
    np.testing.assert_allclose(f(1.0, 2.0), 1.0 + 0.5 * np.arange(n))


def test_max_ties_split_evenly():
    x = kt.vector("x")
    g = kiln.function([x], kiln.grad(kt.max(x), x), mode=MODE)(np.array([1.0, 3.0, 3.0, 3.0, 0.0]))
    np.testing.assert_allclose(g, [0, 1 / 3, 1 / 3, 1 / 3, 0])
    g2 = kiln.function([x], kiln.grad(kt.maximum(x, x[::-1]).sum(), x), mode=MODE)(np.array([2.0, 5.0, 2.0]))
    # middle entry ties with itself: 1/2 + 1/2; the outer two tie each other
    np.testing.assert_allclose(g2, [1.0, 1.0, 1.0])


def test_relu_derivative_at_zero_is_zero():
    x = kt.vector("x")
    g = kiln.function([x], kiln.grad(kt.relu(x).sum(), x), mode=MODE)(np.array([-1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])


def test_prod_gradient_with_zeros_exact():
    x = kt.matrix("x")
    g = kiln.function([x], kiln.grad(kt.prod(x, axis=1).sum(), x), mode=MODE)
    X = np.array([[2.0, 3.0, 4.0], [2.0, 0.0, 4.0], [0.0, 3.0, 0.0]])
    np.testing.assert_allclose(g(X), [[12, 8, 6], [0, 8, 0], [0, 0, 0]])
