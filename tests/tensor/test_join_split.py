"""Joining/splitting and diagonal ops (kiln.tensor.joining, kiln.tensor.diag_ops) against
NumPy, their shapes, dot-product tests of their transposes, and verify_grad."""
from __future__ import annotations

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.gradient import verify_grad

from tests.helpers import check_against_numpy as _check, dot_product_test

MODE = kiln.Mode(linker="py")


RNG = np.random.default_rng(0)
A34 = RNG.normal(size=(3, 4))
I234 = RNG.integers(-5, 5, size=(2, 3, 4)).astype("int32")
F32 = RNG.normal(size=(5,)).astype("float32")

VALUE_CASES = [
    ("split_sections", lambda x: kt.split(x, 2, axis=1), lambda x: np.split(x, 2, axis=1), [A34]),
    ("split_indices", lambda x: kt.split(x, [1, 3]), lambda x: np.split(x, [1, 3]), [I234.reshape(-1)]),
    ("split_indices_clip", lambda x: kt.split(x, [2, 9]), lambda x: np.split(x, [2, 9]), [F32]),
    ("split_indices_decreasing_negative", lambda x: kt.split(x, [3, 1, -1], axis=1),
     lambda x: np.split(x, [3, 1, -1], axis=1), [I234]),
    ("split_sizes", lambda x: kt.split(x, [1, 0, 2], 3, axis=-2), lambda x: np.split(x, [1, 1], axis=-2), [I234]),
    ("split_empty", lambda x: kt.split(x, 3), lambda x: np.split(x, 3), [np.zeros(0)]),
    ("hstack_1d", lambda x: kt.hstack([x, x[:2]]), lambda x: np.hstack([x, x[:2]]), [F32]),
    ("hstack_2d", lambda x: kt.hstack([x, x]), lambda x: np.hstack([x, x]), [A34]),
    ("vstack_1d", lambda x: kt.vstack([x, x]), lambda x: np.vstack([x, x]), [F32]),
    ("vstack_3d", lambda x: kt.vstack([x, x]), lambda x: np.vstack([x, x]), [I234]),
    ("tile_int", lambda x: kt.tile(x, 3), lambda x: np.tile(x, 3), [A34]),
    ("tile_more_reps", lambda x: kt.tile(x, (2, 1, 2)), lambda x: np.tile(x, (2, 1, 2)), [F32]),
    ("tile_fewer_reps", lambda x: kt.tile(x, (2,)), lambda x: np.tile(x, (2,)), [I234]),
    ("tile_zero", lambda x: kt.tile(x, (0, 2)), lambda x: np.tile(x, (0, 2)), [A34]),
    ("repeat_none", lambda x: kt.repeat(x, 2), lambda x: np.repeat(x, 2), [I234]),
    ("repeat_axis", lambda x: kt.repeat(x, [1, 0, 3], axis=1), lambda x: np.repeat(x, [1, 0, 3], axis=1), [I234]),
    ("repeat_neg_axis", lambda x: kt.repeat(x, 2, axis=-1), lambda x: np.repeat(x, 2, axis=-1), [A34]),
    ("repeat_one_elem", lambda x: kt.repeat(x, [3], axis=0), lambda x: np.repeat(x, [3], axis=0), [A34]),
    ("repeat_0d", lambda x: kt.repeat(x, 3), lambda x: np.repeat(x, 3), [np.float64(2.5)]),
    ("flip_all", kt.flip, np.flip, [I234]),
    ("flip_axes", lambda x: kt.flip(x, (0, 2)), lambda x: np.flip(x, (0, 2)), [I234]),
    ("flip_0d", kt.flip, np.flip, [np.array(1.5)]),
    ("roll_none", lambda x: kt.roll(x, 5), lambda x: np.roll(x, 5), [A34]),
    ("roll_neg", lambda x: kt.roll(x, -7, axis=1), lambda x: np.roll(x, -7, axis=1), [A34]),
    ("roll_multi", lambda x: kt.roll(x, (1, -2), axis=(0, 2)), lambda x: np.roll(x, (1, -2), axis=(0, 2)), [I234]),
    ("roll_empty", lambda x: kt.roll(x, 3), lambda x: np.roll(x, 3), [np.zeros(0)]),
    ("pad_constant", lambda x: kt.pad(x, ((1, 2), (0, 3))), lambda x: np.pad(x, ((1, 2), (0, 3))), [A34]),
    ("pad_constant_values", lambda x: kt.pad(x, 2, constant_values=7), lambda x: np.pad(x, 2, constant_values=7),
     [I234]),
    ("pad_edge", lambda x: kt.pad(x, (2, 1), mode="edge"), lambda x: np.pad(x, (2, 1), mode="edge"), [A34]),
    ("pad_reflect", lambda x: kt.pad(x, ((1, 2), (3, 2)), mode="reflect"),
     lambda x: np.pad(x, ((1, 2), (3, 2)), mode="reflect"), [A34]),
    ("pad_symmetric", lambda x: kt.pad(x, ((3, 0), (4, 4)), mode="symmetric"),
     lambda x: np.pad(x, ((3, 0), (4, 4)), mode="symmetric"), [A34]),
    ("pad_wrap", lambda x: kt.pad(x, ((2, 3), (4, 1)), mode="wrap"),
     lambda x: np.pad(x, ((2, 3), (4, 1)), mode="wrap"), [A34]),
    ("concatenate_axis_none", lambda x: kt.concatenate([x, x[0]], axis=None),
     lambda x: np.concatenate([x, x[0]], axis=None), [I234]),
    ("pad_empty", lambda x: kt.pad(x, 1), lambda x: np.pad(x, 1), [np.zeros((0, 2))]),
    ("diagonal", kt.diagonal, np.diagonal, [A34]),
    ("diagonal_offset", lambda x: kt.diagonal(x, 2), lambda x: np.diagonal(x, 2), [A34]),
    ("diagonal_neg_offset_axes", lambda x: kt.diagonal(x, -1, 2, 0), lambda x: np.diagonal(x, -1, 2, 0), [I234]),
    ("diagonal_beyond", lambda x: kt.diagonal(x, 7), lambda x: np.diagonal(x, 7), [A34]),
    ("diag_matrix", lambda x: kt.diag(x, -1), lambda x: np.diag(x, -1), [A34]),
    ("diag_vector", lambda x: kt.diag(x, 2), lambda x: np.diag(x, 2), [F32]),
    ("diag_vector_neg", lambda x: kt.diag(x, -1), lambda x: np.diag(x, -1), [I234[0, 0]]),
    ("trace", kt.trace, np.trace, [A34]),
    ("trace_int_offset_axes", lambda x: kt.trace(x, 1, 1, 2), lambda x: np.trace(x, 1, 1, 2), [I234]),
    ("tril", kt.tril, np.tril, [A34]),
    ("tril_k", lambda x: kt.tril(x, -1), lambda x: np.tril(x, -1), [I234]),
    ("triu_k", lambda x: kt.triu(x, 2), lambda x: np.triu(x, 2), [A34]),
    ("triu_vector", kt.triu, np.triu, [F32]),
    ("tril_bool", kt.tril, np.tril, [A34 > 0]),
    # edge cases: 0-d, empty, bool, offsets beyond the matrix, negative axes
    ("tile_ndim", lambda x: kt.tile(x, (2,), ndim=3), lambda x: np.tile(x, (1, 1, 2)), [F32]),
    ("tile_0d", lambda x: kt.tile(x, 3), lambda x: np.tile(x, 3), [np.array(5)]),
    ("tile_no_reps", lambda x: kt.tile(x, ()), lambda x: np.tile(x, ()), [F32]),
    ("hstack_0d", lambda x: kt.hstack([x, x]), lambda x: np.hstack([x, x]), [np.array(1.0)]),
    ("vstack_0d", lambda x: kt.vstack([x, x]), lambda x: np.vstack([x, x]), [np.array(2)]),
    ("repeat_bool", lambda x: kt.repeat(x, 2), lambda x: np.repeat(x, 2), [A34 > 0]),
    ("pad_bool", lambda x: kt.pad(x, 1), lambda x: np.pad(x, 1), [A34 > 0]),
    ("tril_far", lambda x: kt.tril(x, -5), lambda x: np.tril(x, -5), [A34]),
    ("diag_empty", kt.diag, np.diag, [np.zeros(0)]),
    ("diag_k_beyond", lambda x: kt.diag(x, 5), lambda x: np.diag(x, 5), [A34]),
    ("trace_bool", kt.trace, np.trace, [np.eye(3, dtype=bool)]),
    ("trace_f32", kt.trace, np.trace, [np.eye(3, dtype="float32")]),
    ("roll_0d", lambda x: kt.roll(x, 2), lambda x: np.roll(x, 2), [np.array(3.0)]),
    ("flip_neg_axis", lambda x: kt.flip(x, -1), lambda x: np.flip(x, -1), [I234]),
    ("diagonal_neg_axes", lambda x: kt.diagonal(x, 0, -1, -2), lambda x: np.diagonal(x, 0, -1, -2), [I234]),
]


@pytest.mark.parametrize("case", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_matches_numpy(case):
    _, kfn, nfn, arrays = case
    _check(kfn, nfn, *[np.asarray(a) for a in arrays])


def test_symbolic_split_sizes_and_lengths():
    x = kt.vector("x")
    s = kt.vector("s", dtype="int64")
    a, b = kt.split(x, s, 2)
    f = kiln.function([x, s], [a, b], mode=MODE)
    v = np.arange(5.0)
    for sizes in ([0, 5], [2, 3], [5, 0]):
        got = f(v, np.array(sizes))
        for g, w in zip(got, np.split(v, [sizes[0]])):
            np.testing.assert_array_equal(g, w)
    with pytest.raises(ValueError, match="add up to 4, not to the length 5"):
        f(v, np.array([1, 3]))
    with pytest.raises(ValueError, match="negative split size"):
        f(v, np.array([-1, 6]))
    # NumPy-style sections and indices on a symbolic length
    got = kiln.function([x], kt.split(x, 2) + kt.split(x, [1, 10]), mode=MODE)(np.arange(4.0))
    for g, w in zip(got, np.split(np.arange(4.0), 2) + np.split(np.arange(4.0), [1, 10])):
        np.testing.assert_array_equal(g, w)
    with pytest.raises(ValueError):
        kiln.function([x], kt.split(x, 2), mode=MODE)(np.arange(5.0))


def test_symbolic_roll_shift_and_repeat_counts():
    x, k = kt.matrix("x"), kt.scalar("k", dtype="int64")
    r = kt.vector("r", dtype="int64")
    f = kiln.function([x, k], kt.roll(x, k, axis=1), mode=MODE)
    for shift in (-5, 0, 3, 9):
        np.testing.assert_array_equal(f(A34, shift), np.roll(A34, shift, axis=1))
    g = kiln.function([x, r], kt.repeat(x, r, axis=0), mode=MODE)
    np.testing.assert_array_equal(g(A34, np.array([2, 0, 1])), np.repeat(A34, [2, 0, 1], axis=0))
    with pytest.raises(ValueError, match="negative repeat"):
        g(A34, np.array([2, -1, 1]))
    with pytest.raises(ValueError, match="2 repeats given for an axis of length 3"):
        g(A34, np.array([2, 1]))


def test_clear_errors():
    x = kt.matrix("x")
    with pytest.raises(ValueError, match="equal division"):
        kt.split(kt.constant(np.zeros(5)), 2)
    with pytest.raises(ValueError, match="add up to 3, not to the length 4"):
        kt.split(kt.constant(np.zeros(4)), [1, 2], 2)
    with pytest.raises(TypeError, match="split sizes must be integers"):
        kt.split(x, kt.vector("s"), 2)
    with pytest.raises(ValueError, match="0-d"):
        kt.split(kt.scalar("s"), 2)
    with pytest.raises(ValueError, match="negative repeat"):
        kt.repeat(x, -1)
    with pytest.raises(ValueError, match="tile: negative"):
        kt.tile(x, (-1, 2))
    with pytest.raises(NotImplementedError, match="mode 'linear_ramp'"):
        kt.pad(x, 1, mode="linear_ramp")
    with pytest.raises(ValueError, match="pad: negative"):
        kt.pad(x, -1)
    with pytest.raises(NotImplementedError, match="reflect"):
        kt.pad(kt.constant(np.zeros(2)), 3, mode="reflect")
    with pytest.raises(ValueError, match="diagonal: needs at least 2 axes"):
        kt.diagonal(kt.vector("v"))
    with pytest.raises(ValueError, match="diag: input must be 1-d or 2-d"):
        kt.diag(kt.tensor3("t"))
    with pytest.raises(ValueError, match="tril"):
        kt.tril(kt.scalar("s"))
    with pytest.raises(ValueError, match="roll: 2 shifts given for 1 axes"):
        kt.roll(x, (1, 2), axis=0)


LINEAR = [
    ("split", lambda t: kt.split(t, [1, 3], 2, axis=1), [(2, 4)]),
    ("split_one_piece_used", lambda t: kt.split(t, [2, 1], 2)[1] * 2.0, [(3,)]),
    ("hstack_vstack", lambda t, u: kt.vstack([kt.hstack([t, u]), kt.hstack([u, t])]), [(2, 1), (2, 1)]),
    ("tile", lambda t: kt.tile(t, (2, 3)), [(2, 3)]),
    ("tile_new_axes", lambda t: kt.tile(t, (2, 1, 2)), [(3,)]),
    ("repeat_scalar", lambda t: kt.repeat(t, 3, axis=1), [(2, 3)]),
    ("repeat_vector", lambda t: kt.repeat(t, [2, 0, 1], axis=0), [(3, 2)]),
    ("repeat_none", lambda t: kt.repeat(t, [2, 1, 1, 3]), [(2, 2)]),
    ("flip", lambda t: kt.flip(t, 1), [(2, 3)]),
    ("roll", lambda t: kt.roll(t, (2, -1), axis=(0, 1)), [(3, 4)]),
    ("roll_flat", lambda t: kt.roll(t, 4), [(3, 2)]),
    ("pad_constant", lambda t: kt.pad(t, ((1, 0), (2, 2))), [(2, 3)]),
    ("pad_edge", lambda t: kt.pad(t, 2, mode="edge"), [(2, 3)]),
    ("pad_reflect", lambda t: kt.pad(t, (1, 2), mode="reflect"), [(4, 3)]),
    ("pad_wrap_symmetric", lambda t: kt.pad(kt.pad(t, (1, 2), mode="wrap"), 1, mode="symmetric"), [(4, 3)]),
    ("diagonal", lambda t: kt.diagonal(t, 1, 2, 1), [(2, 3, 4)]),
    ("diag_vector", lambda t: kt.diag(t, -2), [(3,)]),
    ("diag_matrix", lambda t: kt.diag(t, 1), [(3, 4)]),
    ("trace", lambda t: kt.trace(t, -1), [(4, 3)]),
    ("tril_triu", lambda t: kt.tril(t, 1) + kt.triu(t, -1), [(2, 3, 4)]),
]


@pytest.mark.parametrize("case", LINEAR, ids=[c[0] for c in LINEAR])
def test_dot_product(case):
    name, fn, shapes = case
    dot_product_test(fn, shapes, seed=len(name))


GRADS = [
    ("split_nonlinear", lambda t: kt.sum(kt.split(t, [1, 2], 2, axis=0)[1] ** 2), [(3, 2)]),
    ("repeat_tile", lambda t: kt.sin(kt.tile(kt.repeat(t, [1, 2], axis=1), 2)), [(2, 2)]),
    ("pad_roll_flip", lambda t: kt.exp(kt.flip(kt.roll(kt.pad(t, 1, mode="symmetric"), 1))), [(2, 3)]),
    ("diag_trace_tril", lambda t: kt.diag(kt.tanh(kt.diagonal(t))) * kt.trace(kt.tril(t)), [(3, 3)]),
]


@pytest.mark.parametrize("case", GRADS, ids=[c[0] for c in GRADS])
def test_verify_grad(case):
    _, fn, shapes = case
    rng = np.random.default_rng(9)
    verify_grad(fn, [rng.normal(size=s) for s in shapes], rng=rng, mode=MODE)


def test_float32_keeps_dtype():
    x = kt.vector("x", dtype="float32")
    outs = [kt.tile(x, 2), kt.repeat(x, 2), kt.pad(x, 1), kt.diag(x), kt.roll(x, 1)] + kt.split(x, [2, 3], 2)
    for o in outs:
        assert o.dtype == "float32"
    vals = kiln.function([x], outs, mode=MODE)(F32)
    assert all(v.dtype == np.float32 for v in vals)


def test_pad_reflect_checks_a_symbolic_length_at_run_time():
    x = kt.vector("x")
    f = kiln.function([x], kt.pad(x, (2, 1), mode="reflect"), mode=MODE)
    np.testing.assert_array_equal(f(np.arange(4.0)), np.pad(np.arange(4.0), (2, 1), mode="reflect"))
    # NumPy would reflect repeatedly; kiln refuses instead of returning a wrongly shaped result
    with pytest.raises(Exception, match="shape|length"):
        f(np.arange(2.0))


def test_repeat_sum_and_diagonal_embed_transpose_back():
    # the transposes of Repeat/Diagonal are ops of their own; their own transposes give the originals
    from kiln.tensor.diag_ops import DiagonalEmbed
    from kiln.tensor.joining import RepeatSum

    dot_product_test(lambda t: RepeatSum(1)(t, kt.constant(np.array([2, 0, 1])), 3), [(2, 3)])
    dot_product_test(lambda t: RepeatSum(0)(t, kt.constant(np.int64(2)), 2), [(4, 3)])
    dot_product_test(lambda t: DiagonalEmbed(-1, 2, 0)(t, [4, 2, 3]), [(2, 2)])
    v = DiagonalEmbed(1, 0, 1)(kt.constant(np.array([1.0, 2.0])), [3, 3]).eval()
    np.testing.assert_array_equal(v, np.diag([1.0, 2.0], 1))


def test_hessian_through_joins_and_diagonals():
    from kiln.gradient import grad, hessian, numeric_grad

    def fn(x):
        m = kt.outer(x, x + 1.0)
        parts = kt.split(kt.repeat(x, [1, 2, 0, 1]), [2, 2], 2)
        return (kt.sum(kt.tile(kt.pad(x, 1, mode="reflect"), 2) ** 3) + kt.trace(kt.tril(m) ** 2)
                + kt.sum(kt.diag(x) ** 3) + kt.sum(parts[0] * kt.roll(parts[1], 1) ** 2))

    v = np.array([0.3, -0.5, 0.7, 2.0])
    x = kt.vector("x")
    H = kiln.function([x], hessian(fn(x), x), mode=MODE)(v)
    g = kiln.function([x], grad(fn(x), x), mode=MODE)
    Hn = np.array([numeric_grad(lambda u, i=i: g(u)[i], [v], eps=1e-6)[0] for i in range(len(v))])
    np.testing.assert_allclose(H, Hn, rtol=1e-6, atol=1e-5)
