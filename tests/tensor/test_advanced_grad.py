"""Gradients of advanced indexing: verify_grad (finite differences) for every differentiable
form, the dot-product test <ct, L t> == <L^T ct, t> for the linear ones (AdvancedSubtensor,
AdvancedIncSubtensor, take, take_along_axis, put_along_axis), and forward mode (Rop)."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.gradient import Rop, verify_grad
from kiln.tensor.advanced import AdvancedIncSubtensor, AdvancedSubtensor
from tests.helpers import dot_product_test

PY = kiln.Mode(linker="py")
RNG = np.random.default_rng(11)
MASK = np.array([[True, False, True], [False, False, True], [True, True, False], [False, True, True]])
REP = np.array([0, 3, 0, -1, 0])

# (id, a map linear in all its inputs jointly, input shapes)
LINEAR = [
    ("adv_repeated", lambda t: t[REP], [(4, 3)]),
    ("adv_axis1_repeated", lambda t: t[:, [2, 2, 0]], [(4, 3)]),
    ("adv_2d_broadcast", lambda t: t[np.array([[0], [3]]), [1, 1, 2]], [(4, 3)]),
    ("adv_separated", lambda t: t[[0, 0], :, [1, 3]], [(2, 3, 4)]),
    ("adv_newaxis_slice", lambda t: t[None, 1:, [0, 0]], [(4, 3)]),
    ("mask", lambda t: t[MASK], [(4, 3)]),
    ("mask_rows", lambda t: t[MASK[:, 0], 1:], [(4, 3)]),
    ("inc_repeated", lambda t, u: kt.inc_subtensor(t[REP], u), [(4, 3), (5, 3)]),
    ("inc_broadcast_y", lambda t, u: kt.inc_subtensor(t[:, [1, 1]], u), [(4, 3), (1,)]),
    ("inc_mask", lambda t, u: kt.inc_subtensor(t[MASK], u), [(4, 3), (7,)]),
    ("set_unique", lambda t, u: kt.set_subtensor(t[[3, 0]], u), [(4, 3), (2, 3)]),
    ("set_repeated", lambda t, u: kt.set_subtensor(t[REP], u), [(4, 3), (5, 3)]),
    ("set_repeated_bcast_y", lambda t, u: kt.set_subtensor(t[:, [1, 1, 0]], u), [(4, 3), (3,)]),
    ("set_repeated_2d", lambda t, u: kt.set_subtensor(t[np.array([[0], [3]]), [1, 1, 2]], u), [(4, 3), (2, 3)]),
    ("put_along_axis_repeated", lambda t, u: kt.put_along_axis(t, np.array([[0, 0], [2, 1]]), u, axis=1),
     [(2, 3), (2, 2)]),
    ("set_mask_scalar_y", lambda t, u: kt.set_subtensor(t[MASK], u), [(4, 3), ()]),
    ("take_axis0", lambda t: kt.take(t, [[1, 1], [0, -1]], axis=0), [(4, 3)]),
    ("take_flat", lambda t: kt.take(t, [5, 5, 0]), [(4, 3)]),
    ("take_along_axis", lambda t: kt.take_along_axis(t, np.array([[0, 0], [2, 1], [1, 1], [0, 2]]), axis=1),
     [(4, 3)]),
    ("put_along_axis_inc", lambda t, u: kt.put_along_axis(t, np.array([[0, 0], [2, 1]]), u, axis=1, inc=True),
     [(2, 3), (2, 2)]),
    ("nonzero_values_of_const_pattern", lambda t: t[kt.nonzero(kt.constant(MASK))], [(4, 3)]),
]


@pytest.mark.parametrize("case", LINEAR, ids=[c[0] for c in LINEAR])
def test_dot_product(case):
    name, fn, shapes = case
    dot_product_test(fn, shapes, seed=len(name), tol=1e-10, mode=PY)


def test_transpose_of_indexing_is_the_accumulating_inc():
    x = kt.matrix("x")
    g = kiln.grad(x[REP].sum(), x)
    assert isinstance(g.owner.op, AdvancedIncSubtensor) and not g.owner.op.set_instead_of_inc
    expected = np.zeros((4, 3))
    np.add.at(expected, REP, 1.0)
    np.testing.assert_array_equal(kiln.function([x], g, mode=PY)(np.zeros((4, 3))), expected)


# (id, function, input shapes)
SMOOTH = [
    ("get_square", lambda x: x[REP, 1:] ** 2, [(4, 3)]),
    ("mask_exp", lambda x: kt.exp(x[x > 0]), [(4, 3)]),
    ("sym_index", lambda x: kt.sin(x[kt.argmax(x, axis=0)]), [(4, 3)]),
    ("inc_both", lambda x, y: kt.inc_subtensor(x[REP], y) ** 2, [(4, 3), (3,)]),
    ("set_both", lambda x, y: kt.tanh(kt.set_subtensor(x[:, [2, 0]], y * x[:, [1, 1]])), [(4, 3), (4, 1)]),
    ("set_mask", lambda x, y: kt.set_subtensor(x[x > 0.2], y ** 2) * x, [(4, 3), ()]),
    ("set_repeated_symbolic", lambda x, y: kt.set_subtensor(x[kt.argmax(x, axis=0)], kt.exp(y)) * x,
     [(3, 4), (4, 4)]),
    ("take", lambda x: kt.take(x, [2, 2, -1], axis=1) ** 3, [(2, 3)]),
    ("take_along_axis", lambda x: kt.take_along_axis(x, kt.argmax(x, axis=1, keepdims=True), axis=1) * x,
     [(3, 4)]),
    ("put_along_axis_set", lambda x, v: kt.put_along_axis(x, np.array([[1], [0]]), v * v, axis=1) * x,
     [(2, 3), (2, 1)]),
    ("put_along_axis_flat", lambda x, v: kt.put_along_axis(x, np.array([4, 0]), kt.exp(v), axis=None),
     [(2, 3), (2,)]),
    ("nonzero_values", lambda x: kt.nonzero_values(kt.switch(x > 0, x, 0.0)) ** 2, [(3, 4)]),
    ("where_one_arg", lambda x: x[kt.where(x < 0)] * 2.0, [(3, 4)]),
    ("float32", lambda x: x[[0, 0]] * 2.0, [(3,)]),
]


@pytest.mark.parametrize("case", SMOOTH, ids=[c[0] for c in SMOOTH])
def test_verify_grad(case):
    name, fn, shapes = case
    rng = np.random.default_rng(len(name) + 3)
    dtype = "float32" if name == "float32" else "float64"
    # keep values away from the 0 / 0.2 thresholds the masks use, so finite differences do not
    # flip a mask
    pt = [np.asarray(rng.uniform(0.3, 1.0, size=s) * rng.choice([-1, 1], size=s)).astype(dtype) for s in shapes]
    verify_grad(fn, pt, rng=rng)


def test_rop_of_set_and_inc_matches_finite_differences():
    x, y = kt.matrix("x"), kt.vector("y")
    tx, ty = kt.matrix("tx"), kt.vector("ty")
    out = kt.set_subtensor(x[[2, 0]], y) * 2.0 + kt.inc_subtensor(x[:, [1, 1, 0]], y[:3] ** 2)
    jv = Rop(out, [x, y], [tx, ty])
    f = kiln.function([x, y], out, mode=PY)
    fj = kiln.function([x, y, tx, ty], jv, mode=PY, on_unused_input="ignore")
    xv, yv = RNG.normal(size=(3, 3)), RNG.normal(size=3)
    txv, tyv = RNG.normal(size=(3, 3)), RNG.normal(size=3)
    eps = 1e-6
    num = (f(xv + eps * txv, yv + eps * tyv) - f(xv - eps * txv, yv - eps * tyv)) / (2 * eps)
    np.testing.assert_allclose(fj(xv, yv, txv, tyv), num, rtol=1e-6, atol=1e-8)


def test_index_inputs_are_not_differentiable():
    x, i = kt.vector("x"), kt.lvector("i")
    g = kiln.grad(x[i].sum(), x)
    np.testing.assert_array_equal(kiln.function([x, i], g, mode=PY)(np.zeros(3), np.array([2, 2])), [0, 0, 2])
    # an integer index gets a zero gradient (as in PyTensor), never an error or a garbage value
    gi = kiln.grad(x[i].sum(), i)
    np.testing.assert_array_equal(kiln.function([x, i], gi, mode=PY, on_unused_input="ignore")(
        np.zeros(3), np.array([2, 2])), [0, 0])


def test_ops_registered_in_the_rule_tables():
    from kiln.gradient.registry import get_jvp_rule, get_transpose_rule

    for op in (AdvancedSubtensor(["adv"]), AdvancedIncSubtensor(["adv"]), AdvancedIncSubtensor(["adv"], True)):
        assert get_jvp_rule(op) is not None and get_transpose_rule(op) is not None


def test_set_transpose_skips_the_survivor_mask_when_indices_are_known_unique():
    from kiln.gradient.rules.advanced import _may_repeat

    x = kt.tensor("x", shape=(4, 3))
    assert not _may_repeat(kt.set_subtensor(x[[3, 0]], 1.0).owner)
    assert not _may_repeat(kt.set_subtensor(x[x > 0], 1.0).owner)
    assert _may_repeat(kt.set_subtensor(x[[3, -1]], 1.0).owner)       # -1 is row 3 again
    assert _may_repeat(kt.set_subtensor(x[kt.lvector("i")], 1.0).owner)
    assert _may_repeat(kt.set_subtensor(kt.matrix("m")[[0, 1]], 1.0).owner)


def test_set_with_repeats_gives_the_cotangent_to_the_surviving_write_only():
    x, y = kt.matrix("x"), kt.vector("y")
    out = kt.set_subtensor(x[:, [1, 1, 0]], y)
    gy = kiln.grad(out.sum(), y)
    got = kiln.function([x, y], gy, mode=PY)(np.zeros((4, 3)), np.zeros(3))
    np.testing.assert_array_equal(got, [0.0, 4.0, 4.0])  # y[0] is overwritten by y[1] everywhere
