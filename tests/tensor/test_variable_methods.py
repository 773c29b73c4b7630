"""PyTensor-compatible TensorVariable methods: each delegates to a kiln.tensor function and
computes what the NumPy method (or function) of the same name computes."""
import math

import numpy as np
import pytest

import kiln.tensor as kt

RNG = np.random.default_rng(5)
M = RNG.normal(size=(3, 4))
T3 = RNG.normal(size=(2, 3, 4))
V = np.array([3.0, -1.0, 0.0, 2.0, 0.0, -4.5])
IV = np.array([3, -1, 0, 2], dtype="int64")

# (id, symbolic input, value, method call on the variable, NumPy on the value)
CASES = [
    ("cumsum_axis", kt.matrix, M, lambda x: x.cumsum(axis=1), lambda a: a.cumsum(axis=1)),
    ("cumsum_flat", kt.matrix, M, lambda x: x.cumsum(), lambda a: a.cumsum()),
    ("cumprod", kt.matrix, M, lambda x: x.cumprod(axis=0), lambda a: a.cumprod(axis=0)),
    ("sort", kt.matrix, M, lambda x: x.sort(), lambda a: np.sort(a)),
    ("sort_axis0", kt.matrix, M, lambda x: x.sort(axis=0), lambda a: np.sort(a, axis=0)),
    ("argsort", kt.vector, V, lambda x: x.argsort(kind="stable"), lambda a: a.argsort(kind="stable")),
    ("searchsorted", kt.vector, np.sort(V), lambda x: x.searchsorted(np.array([0.0, 2.5]), side="right"),
     lambda a: a.searchsorted(np.array([0.0, 2.5]), side="right")),
    ("nonzero_values", kt.matrix, np.where(M > 0, M, 0.0), lambda x: x.nonzero_values(),
     lambda a: a[a.nonzero()]),
    ("nonzero_matrix", kt.matrix, np.where(M > 0, M, 0.0), lambda x: x.nonzero(return_matrix=True),
     lambda a: np.array(a.nonzero())),
    ("take", kt.matrix, M, lambda x: x.take([2, 0, -1], axis=1), lambda a: a.take([2, 0, -1], axis=1)),
    ("take_flat", kt.matrix, M, lambda x: x.take([[5, 0]]), lambda a: a.take([[5, 0]])),
    ("diagonal", kt.tensor3, T3, lambda x: x.diagonal(1, 1, 2), lambda a: a.diagonal(1, 1, 2)),
    ("trace", kt.matrix, M, lambda x: x.trace(), lambda a: a.trace()),
    ("trace_offset", kt.tensor3, T3, lambda x: x.trace(-1, 1, 2), lambda a: a.trace(-1, 1, 2)),
    ("round", kt.vector, np.array([0.5, 1.5, -2.5, 2.4]), lambda x: x.round(), lambda a: a.round()),
    ("round_away", kt.vector, np.array([0.5, 1.5, -2.5]), lambda x: x.round("half_away_from_zero"),
     lambda a: np.trunc(a + np.copysign(0.5, a))),
    ("repeat", kt.matrix, M, lambda x: x.repeat(2, axis=0), lambda a: a.repeat(2, axis=0)),
    ("repeat_flat", kt.matrix, M, lambda x: x.repeat(3), lambda a: a.repeat(3)),
    ("ptp", kt.matrix, M, lambda x: x.ptp(axis=1), lambda a: np.ptp(a, axis=1)),
    ("ptp_all_keep", kt.matrix, M, lambda x: x.ptp(keepdims=True), lambda a: np.ptp(a, keepdims=True)),
    ("zeros_like", kt.matrix, M, lambda x: x.zeros_like(), np.zeros_like),
    ("ones_like_dtype", kt.matrix, M, lambda x: x.ones_like(dtype="int32"), lambda a: np.ones_like(a, "int32")),
    ("fill", kt.matrix, M, lambda x: x.fill(7.0), lambda a: np.full_like(a, 7.0)),
    ("copy", kt.matrix, M, lambda x: x.copy(), lambda a: a.copy()),
    ("mT", kt.tensor3, T3, lambda x: x.mT, lambda a: a.mT),
    ("reshape_kw", kt.tensor3, T3, lambda x: x.reshape(shape=(4, 6)), lambda a: a.reshape(4, 6)),
    ("reshape_args", kt.tensor3, T3, lambda x: x.reshape(6, -1), lambda a: a.reshape(6, -1)),
    ("clip_kw", kt.matrix, M, lambda x: x.clip(min=-0.5, max=0.5), lambda a: a.clip(min=-0.5, max=0.5)),
    ("clip_max_only", kt.matrix, M, lambda x: x.clip(max=0.1), lambda a: a.clip(max=0.1)),
    ("clip_min_only", kt.matrix, M, lambda x: x.clip(-0.2), lambda a: a.clip(-0.2)),
    ("clip_int_min_only", kt.lvector, IV, lambda x: x.clip(min=0), lambda a: a.clip(min=0)),
    ("clip_none", kt.matrix, M, lambda x: x.clip(), lambda a: np.clip(a, None, None)),
    ("compress", kt.matrix, M, lambda x: x.compress(np.array([True, False, True]), axis=0),
     lambda a: a.compress([True, False, True], axis=0)),
    ("compress_flat_short", kt.matrix, M, lambda x: x.compress(np.array([False, True, True])),
     lambda a: a.compress([False, True, True])),
    ("any_axis", kt.matrix, M > 0, lambda x: x.any(axis=0), lambda a: a.any(axis=0)),
    ("conj", kt.matrix, M, lambda x: x.conj(), lambda a: a.conj()),
    ("conjugate", kt.lvector, IV, lambda x: x.conjugate(), lambda a: a.conjugate()),
    ("real", kt.matrix, M, lambda x: x.real, lambda a: a.real),
    ("imag", kt.lvector, IV, lambda x: x.imag, lambda a: a.imag),
    ("exp", kt.matrix, M, lambda x: x.exp(), np.exp),
    ("log1p", kt.vector, np.abs(V), lambda x: x.log1p(), np.log1p),
    ("arctanh", kt.vector, V / 10, lambda x: x.arctanh(), np.arctanh),
    ("floor_int", kt.lvector, IV, lambda x: x.floor(), np.floor),
    ("math_floor", kt.vector, V + 0.3, lambda x: math.floor(x), np.floor),
    ("math_ceil", kt.vector, V + 0.3, lambda x: math.ceil(x), np.ceil),
    ("math_trunc", kt.vector, V + 0.3, lambda x: math.trunc(x), np.trunc),
]


def _input(maker, value):
    x = maker("x")
    if x.dtype != value.dtype:  # the value decides the dtype (bool masks, int vectors)
        x = kt.TensorType(str(value.dtype), (None,) * value.ndim)("x")
    return x


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_method_matches_numpy(case, run, same):
    _, maker, value, method, numpy_fn = case
    x = _input(maker, value)
    same(run([x], method(x), value), numpy_fn(value.copy()))


@pytest.mark.parametrize("L", [1, 2, 3.5, 0, np.inf, -np.inf])
@pytest.mark.parametrize("axis, keepdims", [(None, False), (1, False), (0, True), ((0, 1), False)])
def test_norm_matches_numpy_vector_norm(L, axis, keepdims, run, same):
    x = kt.matrix("x")
    value = np.where(np.abs(M) < 0.3, 0.0, M)
    same(run([x], x.norm(L, axis=axis, keepdims=keepdims), value),
         np.linalg.vector_norm(value, ord=L, axis=axis, keepdims=keepdims))


def test_norm_of_integers_is_float(run, same):
    x = kt.lvector("x")
    same(run([x], x.norm(2), IV), np.linalg.vector_norm(IV, ord=2))
    same(run([x], x.norm(0), IV), np.linalg.vector_norm(IV, ord=0))


def test_nonzero_tuple_and_divmod(run, same):
    x = kt.matrix("x")
    value = np.where(M > 0, M, 0.0)
    for got, expected in zip(run([x], list(x.nonzero()), value), value.nonzero()):
        same(got, expected)
    i = kt.lvector("i")
    q, r = divmod(i, 3)
    q2, r2 = divmod(7, i)
    for got, expected in zip(run([i], [q, r, q2, r2], np.array([-7, 5, 9])),
                             [*divmod(np.array([-7, 5, 9]), 3), *divmod(7, np.array([-7, 5, 9]))]):
        same(got, expected)


def test_set_and_inc_on_an_indexing_result(run, same):
    x = kt.vector("x")
    value = np.arange(5.0)
    expected_set, expected_inc = value.copy(), value.copy()
    expected_set[1:3] = -1.0
    np.add.at(expected_inc, [0, 0, 4], 2.0)
    got_set, got_inc = run([x], [x[1:3].set(-1.0), x[np.array([0, 0, 4])].inc(2.0)], value)
    same(got_set, expected_set)
    same(got_inc, expected_inc)


def test_item_assignment_is_refused_with_a_hint():
    x = kt.vector("x")
    with pytest.raises(TypeError, match="set_subtensor"):
        x[0] = 1.0


def test_bad_spellings_raise_clear_errors():
    x = kt.matrix("x")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        kt.vector("v").mT
    with pytest.raises(TypeError, match="not both"):
        x.reshape((2, 6), shape=(2, 6))
    with pytest.raises(TypeError, match="not both"):
        x.clip(0.0, max=1.0)
    with pytest.raises(NotImplementedError, match="mode='wrap'"):
        x.take([0], mode="wrap")
    with pytest.raises(ValueError, match="1-d"):
        x.compress(np.ones((2, 2), bool))


def test_complex_parts_refuse_complex_tensors():
    z = kt.TensorType("complex128", (None,))("z")
    for spelling in (lambda: z.real, lambda: z.imag, z.conj):
        with pytest.raises(NotImplementedError, match="complex"):
            spelling()
