"""Cumulative and sorting ops (kiln.tensor.extra_ops) against NumPy, dot-product tests of
the linear ones, and verify_grad."""
from __future__ import annotations

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.gradient import grad, verify_grad

from kiln.tensor.extra_ops import Gather1d, LinearRecurrence, PermuteAlongAxis, UnpermuteAlongAxis
from tests.helpers import check_against_numpy as _check, dot_product_test, hessian_matches_finite_differences

MODE = kiln.Mode(linker="py")
RNG = np.random.default_rng(1)
F = RNG.normal(size=(3, 4))
F32 = RNG.normal(size=(2, 5)).astype("float32")
I8 = RNG.integers(-4, 4, size=(3, 4)).astype("int8")
U = RNG.integers(0, 5, size=(10,)).astype("uint16")
TIES = np.array([[3.0, 1.0, 3.0, 1.0, 2.0], [0.0, 0.0, -1.0, 5.0, 0.0]])
NANS = np.array([2.0, np.nan, -1.0, np.inf, 0.0])
B = F > 0

VALUE_CASES = [
    ("cumsum_none", kt.cumsum, np.cumsum, [F]),
    ("cumsum_axis", lambda x: kt.cumsum(x, 0), lambda x: np.cumsum(x, 0), [F]),
    ("cumsum_int8_promotes", lambda x: kt.cumsum(x, -1), lambda x: np.cumsum(x, -1), [I8]),
    ("cumsum_bool", lambda x: kt.cumsum(x, 1), lambda x: np.cumsum(x, 1), [B]),
    ("cumsum_f32", lambda x: kt.cumsum(x, 1), lambda x: np.cumsum(x, 1), [F32]),
    ("cumsum_0d", kt.cumsum, np.cumsum, [np.array(2.5)]),
    ("cumsum_empty", lambda x: kt.cumsum(x, 0), lambda x: np.cumsum(x, 0), [np.zeros((0, 3))]),
    ("cumprod_none", kt.cumprod, np.cumprod, [I8]),
    ("cumprod_axis", lambda x: kt.cumprod(x, 1), lambda x: np.cumprod(x, 1), [F]),
    ("diff", kt.diff, np.diff, [F]),
    ("cumsum_uint8_wraps_like_numpy", kt.cumsum, np.cumsum, [np.array([200, 100], dtype="uint8")]),
    ("cumsum_f16", kt.cumsum, np.cumsum, [np.array([1, 2], dtype="float16")]),
    ("cumprod_bool", kt.cumprod, np.cumprod, [np.array([True, True, False])]),
    ("sort_bool", kt.sort, np.sort, [B]),
    ("argsort_f16", kt.argsort, np.argsort, [np.array([3, 1, 2], dtype="float16")]),
    ("searchsorted_empty_a", kt.searchsorted, np.searchsorted, [np.zeros(0), np.array([1.0])]),
    ("bincount_uint8", kt.bincount, np.bincount, [np.array([3, 1], dtype="uint8")]),
    ("diff_n2_axis0", lambda x: kt.diff(x, 2, 0), lambda x: np.diff(x, 2, 0), [F]),
    ("diff_n0", lambda x: kt.diff(x, 0), lambda x: np.diff(x, 0), [F]),
    ("diff_too_long", lambda x: kt.diff(x, 5), lambda x: np.diff(x, 5), [F]),
    ("diff_bool", kt.diff, np.diff, [B]),
    ("diff_prepend_append", lambda x: kt.diff(x, 2, 0, prepend=-1.5, append=x[:1]),
     lambda x: np.diff(x, 2, 0, prepend=-1.5, append=x[:1]), [F]),
    ("diff_append_int", lambda x: kt.diff(x, append=7), lambda x: np.diff(x, append=7), [I8]),
    ("diff_uint_wraps", kt.diff, np.diff, [U]),
    ("sort", kt.sort, np.sort, [F]),
    ("sort_axis0", lambda x: kt.sort(x, 0), lambda x: np.sort(x, 0), [I8]),
    ("sort_none", lambda x: kt.sort(x, None), lambda x: np.sort(x, None), [F32]),
    ("sort_nan_inf", kt.sort, np.sort, [NANS]),
    ("sort_empty", kt.sort, np.sort, [np.zeros((2, 0))]),
    ("topk", lambda x: kt.sort(x)[..., -2:], lambda x: np.sort(x)[..., -2:], [F]),
    ("argsort_stable_ties", lambda x: kt.argsort(x, kind="stable"), lambda x: np.argsort(x, kind="stable"), [TIES]),
    ("argsort_stable_flag", lambda x: kt.argsort(x, 0, stable=True), lambda x: np.argsort(x, 0, stable=True), [TIES]),
    ("argsort_none_nan", lambda x: kt.argsort(x, None, kind="stable"), lambda x: np.argsort(x, None, kind="stable"),
     [NANS]),
    ("unique", kt.unique, np.unique, [I8]),
    ("unique_all", lambda x: kt.unique(x, True, True, True), lambda x: list(np.unique(x, True, True, True)), [I8]),
    ("unique_inverse_1d", lambda x: kt.unique(x, return_inverse=True),
     lambda x: list(np.unique(x, return_inverse=True)), [U]),
    ("unique_axis", lambda x: kt.unique(x, return_counts=True, axis=0),
     lambda x: list(np.unique(x, return_counts=True, axis=0)), [np.array([[1, 2], [0, 1], [1, 2]])]),
    ("unique_empty", kt.unique, np.unique, [np.zeros(0)]),
    ("unique_0d_all", lambda x: kt.unique(x, True, True, True), lambda x: list(np.unique(x, True, True, True)),
     [np.array(3)]),
    ("unique_empty_2d_inverse", lambda x: kt.unique(x, return_inverse=True),
     lambda x: list(np.unique(x, return_inverse=True)), [np.zeros((2, 0))]),
    ("unique_nan", kt.unique, np.unique, [np.array([1.0, np.nan, np.nan, 1.0])]),
    ("searchsorted", lambda a, v: kt.searchsorted(a, v), lambda a, v: np.searchsorted(a, v),
     [np.array([1.0, 2.0, 2.0, 5.0]), np.array([[2.0, 0.0], [9.0, 2.5]])]),
    ("searchsorted_right", lambda a, v: kt.searchsorted(a, v, "right"), lambda a, v: np.searchsorted(a, v, "right"),
     [np.array([1, 2, 2, 5]), np.array([2, 5, -1])]),
    ("searchsorted_0d", lambda a, v: kt.searchsorted(a, v), lambda a, v: np.asarray(np.searchsorted(a, v)),
     [np.array([1, 2, 2, 5]), np.array(2)]),
    ("searchsorted_sorter", lambda a, v, s: kt.searchsorted(a, v, sorter=s),
     lambda a, v, s: np.searchsorted(a, v, sorter=s), [np.array([5, 1, 2]), np.array([0, 2, 6]), np.array([1, 2, 0])]),
    ("bincount", kt.bincount, np.bincount, [U]),
    ("bincount_minlength_none", lambda x: kt.bincount(x, minlength=None), np.bincount, [U]),
    ("bincount_minlength", lambda x: kt.bincount(x, minlength=9), lambda x: np.bincount(x, minlength=9), [U]),
    ("bincount_weights", kt.bincount, np.bincount, [U, RNG.normal(size=10)]),
    ("bincount_int_weights", kt.bincount, np.bincount, [U, np.arange(10)]),
    ("bincount_empty", lambda x: kt.bincount(x, minlength=2), lambda x: np.bincount(x, minlength=2),
     [np.zeros(0, dtype="int64")]),
]


@pytest.mark.parametrize("case", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_matches_numpy(case):
    name, kfn, nfn, arrays = case
    arrays = [np.asarray(a) for a in arrays]
    if name.startswith("unique"):
        # data-dependent shape: values only (infer_shape says it cannot know the length)
        ins = [kt.tensor("x", dtype=str(a.dtype), shape=(None,) * a.ndim) for a in arrays]
        out = kfn(*ins)
        got = kiln.function(ins, out if isinstance(out, list) else [out], mode=MODE)(*arrays)
        want = nfn(*arrays)
        for g, w in zip(got, want if isinstance(want, list) else [want]):
            assert g.shape == w.shape and g.dtype == w.dtype
            np.testing.assert_array_equal(g, w)
        return
    _check(kfn, nfn, *arrays)


def test_clear_errors():
    x = kt.matrix("x")
    with pytest.raises(ValueError, match="cumsum: axis 2 is out of bounds"):
        kt.cumsum(x, 2)
    with pytest.raises(ValueError, match="diff: order must be a non-negative int"):
        kt.diff(x, -1)
    with pytest.raises(ValueError, match="sort: kind must be one of"):
        kt.sort(x, kind="bogo")
    with pytest.raises(ValueError, match="searchsorted: a must be 1-d"):
        kt.searchsorted(x, x)
    with pytest.raises(ValueError, match="side must be"):
        kt.searchsorted(kt.vector("a"), x, side="middle")
    with pytest.raises(TypeError, match="bincount: x must be a 1-d integer tensor"):
        kt.bincount(kt.vector("v"))
    with pytest.raises(ValueError, match="minlength must be non-negative"):
        kt.bincount(kt.vector("v", dtype="int64"), minlength=-1)
    v = kt.vector("v", dtype="int64")
    f = kiln.function([v], kt.bincount(v), mode=MODE)
    with pytest.raises(ValueError, match="x must be non-negative"):
        f(np.array([1, -2]))
    w = kt.vector("w")
    g = kiln.function([v, w], kt.bincount(v, w), mode=MODE)
    with pytest.raises(ValueError, match="do not match"):
        g(np.array([1, 2]), np.ones(3))


LINEAR = [
    ("cumsum", lambda t: kt.cumsum(t, 1), [(3, 4)]),
    ("cumsum_flat", lambda t: kt.cumsum(t), [(2, 3)]),
    ("diff", lambda t: kt.diff(t, 2, 0), [(5, 2)]),
    ("diff_append", lambda t: kt.diff(t, 1, 1, append=t[:, :1] * 2.0), [(3, 2)]),
    ("bincount_weights", lambda t: kt.bincount(kt.constant(U), t, minlength=7), [(10,)]),
]


@pytest.mark.parametrize("case", LINEAR, ids=[c[0] for c in LINEAR])
def test_dot_product(case):
    name, fn, shapes = case
    dot_product_test(fn, shapes, seed=len(name))


def test_sort_transpose_is_the_inverse_permutation():
    # the tangent map of sort at a fixed point x is a permutation P(x): Lop(P) = P^T
    x = np.array([[3.0, -1.0, 2.0, 7.0], [0.5, 0.25, 1.0, -3.0]])
    t, ct = kt.matrix("t"), kt.matrix("ct")
    from kiln.gradient import Lop, Rop

    xs = kt.matrix("xs")
    out = kt.sort(xs, 1)
    fwd = kiln.function([xs, t], Rop(out, xs, t), mode=MODE)
    back = kiln.function([xs, ct], Lop(out, xs, ct), mode=MODE)
    rng = np.random.default_rng(0)
    tv, cv = rng.normal(size=x.shape), rng.normal(size=x.shape)
    assert np.sum(cv * fwd(x, tv)) == pytest.approx(np.sum(back(x, cv) * tv), rel=1e-12)
    np.testing.assert_array_equal(fwd(x, tv), np.take_along_axis(tv, np.argsort(x, 1), 1))


GRADS = [
    ("cumsum", lambda t: kt.cumsum(kt.sin(t), 0) ** 2, [(4, 3)]),
    ("cumprod", lambda t: kt.cumprod(t, 1), [(3, 4)]),
    ("cumprod_flat", lambda t: kt.cumprod(t * 0.5), [(2, 3)]),
    ("diff", lambda t: kt.diff(kt.exp(t), 2) * t[:, :-2], [(2, 5)]),
    ("sort", lambda t: kt.sort(t, 0) * kt.constant(np.arange(12.0).reshape(4, 3)), [(4, 3)]),
    ("topk", lambda t: kt.sort(t ** 3)[..., -2:], [(3, 5)]),
    ("bincount_weights", lambda t: kt.bincount(kt.constant(U), kt.tanh(t)) ** 2, [(10,)]),
]


@pytest.mark.parametrize("case", GRADS, ids=[c[0] for c in GRADS])
def test_verify_grad(case):
    _, fn, shapes = case
    rng = np.random.default_rng(13)
    # cumprod's derivative is defined away from zeros: sample magnitudes in [0.5, 1.5]
    pts = [rng.choice([-1, 1], size=s) * rng.uniform(0.5, 1.5, size=s) for s in shapes]
    verify_grad(fn, pts, rng=rng, mode=MODE)


def test_argsort_unique_searchsorted_have_zero_gradient():
    x = kt.vector("x")
    cost = kt.sum(kt.cast(kt.argsort(x), "float64") * x) + kt.sum(kt.cast(kt.searchsorted(x, x), "float64"))
    g = kiln.function([x], grad(cost, x), mode=MODE)(np.array([3.0, 1.0, 2.0]))
    # only the explicit "* x" factor contributes: d/dx_i of sum(argsort(x) * x) = argsort(x)_i
    np.testing.assert_array_equal(g, [1.0, 2.0, 0.0])


def _const(*shape):
    return kt.constant(np.random.default_rng(sum(shape)).normal(size=shape))


OP_LINEAR = [
    # each op in the linear input alone, at fixed other inputs (their transposes are each other)
    ("linear_recurrence", lambda t: LinearRecurrence(1)(kt.constant(ZEROS_X), t), [(2, 5)]),
    ("linear_recurrence_axis0", lambda t: LinearRecurrence(0)(kt.constant(ZEROS_X.T), t), [(5, 2)]),
    ("cumprod_tangent_form", lambda t: LinearRecurrence(1)(kt.constant(ZEROS_X), kt.cumsum(t, 1) * 2.0), [(2, 5)]),
    ("permute_along_axis", lambda t: PermuteAlongAxis(0)(t, kt.argsort(_const(4, 3), 0)), [(4, 3)]),
    ("unpermute_along_axis", lambda t: UnpermuteAlongAxis(1)(t, kt.argsort(_const(2, 5), 1)), [(2, 5)]),
    ("gather1d_repeated", lambda t: Gather1d()(t, kt.constant(np.array([2, 0, 2, 2, 1]))), [(4,)]),
    ("bincount_gather_second_order", lambda t: kt.bincount(kt.constant(np.array([1, 1, 3])),
                                                            Gather1d()(t, kt.constant(np.array([0, 0, 2])))),
     [(3,)]),
]
ZEROS_X = np.array([[2.0, 0.0, 3.0, 0.0, 5.0], [0.5, -1.0, 0.0, 2.0, 1.5]])


@pytest.mark.parametrize("case", OP_LINEAR, ids=[c[0] for c in OP_LINEAR])
def test_dot_product_of_helper_ops(case):
    name, fn, shapes = case
    dot_product_test(fn, shapes, seed=len(name))


def test_cumprod_gradient_is_exact_at_zeros():
    from kiln.gradient import numeric_grad

    x = kt.matrix("x")
    w = np.arange(10.0).reshape(2, 5) - 3.0
    cost = kt.sum(kt.cumprod(x, 1) * kt.constant(w))
    g = kiln.function([x], grad(cost, x), mode=MODE)(ZEROS_X)
    want = numeric_grad(lambda v: np.sum(np.cumprod(v, 1) * w), [ZEROS_X])[0]
    assert np.isfinite(g).all()
    np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-8)
    verify_grad(lambda v: kt.cumprod(v, 0), [ZEROS_X.T.copy()], rng=np.random.default_rng(0), mode=MODE)
    # forward mode agrees with the product rule written out
    from kiln.gradient import Rop

    t = kt.matrix("t")
    tv = np.random.default_rng(1).normal(size=ZEROS_X.shape)
    fwd = kiln.function([x, t], Rop(kt.cumprod(x, 1), x, t), mode=MODE)(ZEROS_X, tv)
    want = np.zeros_like(ZEROS_X)
    for r in range(2):
        for i in range(5):
            for j in range(i + 1):
                want[r, i] += tv[r, j] * np.prod(np.delete(ZEROS_X[r, :i + 1], j))
    np.testing.assert_allclose(fwd, want, rtol=1e-12, atol=1e-12)


def test_float32_keeps_dtype():
    x = kt.matrix("x", dtype="float32")
    outs = [kt.cumsum(x, 1), kt.cumprod(x, 0), kt.diff(x), kt.sort(x), kt.sort(x, None)]
    gs = grad(sum(kt.sum(o) for o in outs), x)
    vals = kiln.function([x], outs + [gs], mode=MODE)(F32)
    assert all(v.dtype == np.float32 for v in vals)
    np.testing.assert_allclose(vals[0], np.cumsum(F32, 1), rtol=1e-6)


def test_bincount_symbolic_minlength():
    v, m = kt.vector("v", dtype="int64"), kt.scalar("m", dtype="int32")
    f = kiln.function([v, m], kt.bincount(v, minlength=m), mode=MODE)
    np.testing.assert_array_equal(f(np.array([1, 1]), 4), np.bincount([1, 1], minlength=4))
    with pytest.raises(ValueError, match="minlength must be non-negative"):
        f(np.array([1]), -2)


@pytest.mark.parametrize("name", ["kiln.tensor.extra_ops", "kiln.tensor.joining", "kiln.tensor.diag_ops",
                                  "kiln.tensor.nnet", "kiln.scalar.special"])
def test_module_docstrings_run_and_public_names_are_documented(name):
    import doctest
    import importlib
    import inspect

    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0
    undocumented = [n for n in mod.__all__ if not inspect.getdoc(getattr(mod, n))]
    assert not undocumented


def test_unpermute_inverts_permute():
    x = np.random.default_rng(3).normal(size=(3, 6))
    perm = np.argsort(np.random.default_rng(4).normal(size=(3, 6)), axis=1)
    X = kt.constant(x)
    P = kt.constant(perm)
    back = UnpermuteAlongAxis(1)(PermuteAlongAxis(1)(X, P), P).eval()
    np.testing.assert_array_equal(back, x)
    np.testing.assert_array_equal(PermuteAlongAxis(1)(X, P).eval(), np.take_along_axis(x, perm, 1))
    with pytest.raises(IndexError, match="out of bounds"):
        PermuteAlongAxis(1)(X, kt.constant(perm + 6)).eval()


SECOND_ORDER = [
    ("cumprod_with_zeros", lambda x: kt.sum(kt.cumprod(x) ** 2), np.array([0.3, 0.0, 0.7, 2.0])),
    ("cumprod_2d", lambda x: kt.sum(kt.cumprod(kt.outer(x, x + 1.0), 0)), np.array([0.3, -0.5, 0.7, 2.0])),
    ("cumsum", lambda x: kt.sum(kt.cumsum(x) ** 3), np.array([0.3, -0.5, 0.7, 2.0])),
    ("sort", lambda x: kt.sum(kt.sort(x) ** 3 * kt.arange(4.0)), np.array([0.3, -0.5, 0.7, 2.0])),
    ("bincount", lambda x: kt.sum(kt.bincount(kt.constant(np.array([0, 2, 2, 1])), x) ** 3),
     np.array([0.3, -0.5, 0.7, 2.0])),
]


@pytest.mark.parametrize("case", SECOND_ORDER, ids=[c[0] for c in SECOND_ORDER])
def test_hessian_matches_finite_differences_of_the_gradient(case):
    _, fn, v = case
    hessian_matches_finite_differences(fn, v, mode=MODE)


# -- property test: random shapes (empty axes included) and parameters against NumPy -----------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PROPERTY_OPS = {
    "cumsum": (lambda x, a, k: kt.cumsum(x, a), lambda x, a, k: np.cumsum(x, a)),
    "cumprod": (lambda x, a, k: kt.cumprod(x, a), lambda x, a, k: np.cumprod(x, a)),
    "diff": (lambda x, a, k: kt.diff(x, k % 3, a), lambda x, a, k: np.diff(x, k % 3, a)),
    "sort": (lambda x, a, k: kt.sort(x, a), lambda x, a, k: np.sort(x, a)),
    "argsort": (lambda x, a, k: kt.argsort(x, a, kind="stable"), lambda x, a, k: np.argsort(x, a, kind="stable")),
    "flip": (lambda x, a, k: kt.flip(x, a), lambda x, a, k: np.flip(x, a)),
    "roll": (lambda x, a, k: kt.roll(x, k - 3, a), lambda x, a, k: np.roll(x, k - 3, a)),
    "repeat": (lambda x, a, k: kt.repeat(x, k % 3, a), lambda x, a, k: np.repeat(x, k % 3, a)),
    "tile": (lambda x, a, k: kt.tile(x, (k % 3, 2)), lambda x, a, k: np.tile(x, (k % 3, 2))),
    "pad": (lambda x, a, k: kt.pad(x, k % 3, constant_values=k), lambda x, a, k: np.pad(x, k % 3, constant_values=k)),
    "split": (lambda x, a, k: kt.split(x, [k % 4, 2], axis=a), lambda x, a, k: np.split(x, [k % 4, 2], axis=a)),
    "unique_counts": (lambda x, a, k: kt.unique(x, return_counts=True),
                      lambda x, a, k: list(np.unique(x, return_counts=True))),
}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=3), op=st.sampled_from(sorted(_PROPERTY_OPS)),
       data=st.data(), k=st.integers(0, 7), dtype=st.sampled_from(["float64", "int32", "float32", "int8", "bool"]))
def test_property_against_numpy(shape, op, data, k, dtype):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    rng = np.random.default_rng(k)
    # small integers make ties and repeated values common (sort stability, unique counts)
    v = rng.integers(-3, 4, size=shape).astype(dtype)
    kfn, nfn = _PROPERTY_OPS[op]
    x = kt.tensor("x", dtype=dtype, shape=(None,) * len(shape))
    out = kfn(x, axis, k)
    outs = out if isinstance(out, list) else [out]
    got = kiln.function([x], outs, mode=MODE)(v)
    want = nfn(v, axis, k)
    for g, w in zip(got, want if isinstance(want, list) else [want]):
        w = np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (op, g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_array_equal(g, w)
