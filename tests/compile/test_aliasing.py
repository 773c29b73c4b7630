"""Outputs never alias inputs, shared storage, constants or each other unless borrowed."""
from __future__ import annotations

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln import Out


def _independent(outs: list, *others: np.ndarray) -> None:
    for k, o in enumerate(outs):
        assert isinstance(o, np.ndarray) and o.flags.writeable, k
        for p in outs[k + 1:]:
            assert not np.shares_memory(o, p), k
        for a in others:
            assert not np.shares_memory(o, a), k


@pytest.mark.parametrize("make", [
    lambda x: x,
    lambda x: x.T,
    lambda x: x[1:],
    lambda x: x[::-1, 0],
    lambda x: x.reshape((6,)),
    lambda x: x.flatten(),
    lambda x: x.dimshuffle(1, "x", 0),
    lambda x: kt.specify_shape(x, (2, 3)),
], ids=["identity", "T", "slice", "negstep", "reshape", "flatten", "dimshuffle", "specify_shape"])
def test_views_of_an_input_are_copied(make):
    x = kt.matrix("x")
    a = np.arange(6.0).reshape(2, 3)
    keep = a.copy()
    f = kiln.function([x], make(x))
    out = f(a)
    _independent([out], a)
    expected = out.copy()
    out[...] = -1.0  # mutating the result ...
    np.testing.assert_array_equal(a, keep)  # ... never changes the caller's input
    np.testing.assert_array_equal(f(a), expected)  # ... nor later results


def test_shared_variable_output_is_copied():
    w = kiln.shared(np.arange(3.0), name="w")
    f = kiln.function([], [w, w[1:], w.T])
    outs = f()
    _independent(outs, w.get_value(borrow=True))
    for o in outs:
        o[...] = 42.0
    np.testing.assert_array_equal(w.get_value(), np.arange(3.0))
    np.testing.assert_array_equal(f()[0], np.arange(3.0))


def test_constant_output_is_copied():
    c = kt.constant(np.arange(3.0))
    f = kiln.function([], [c, c[::2]])
    out = f()
    _independent(out)
    out[0][...] = 9.0
    out[1][...] = 9.0
    np.testing.assert_array_equal(f()[0], np.arange(3.0))
    np.testing.assert_array_equal(f()[1], [0.0, 2.0])


def test_same_variable_twice_gives_independent_arrays():
    x = kt.vector("x")
    y = kt.exp(x)
    f = kiln.function([x], [y, y, x, x])
    a = np.zeros(2)
    outs = f(a)
    _independent(outs, a)
    outs[0][:] = 5.0
    np.testing.assert_array_equal(outs[1], [1.0, 1.0])


def test_results_of_successive_calls_are_independent():
    x = kt.vector("x")
    f = kiln.function([x], x * 2)
    a = np.ones(2)
    r1, r2 = f(a), f(a)
    assert not np.shares_memory(r1, r2)


def test_update_value_does_not_alias_the_callers_input():
    w = kiln.shared(np.zeros(3), name="w")
    v = kt.vector("v")
    f = kiln.function([v], [], updates=[(w, v)])
    a = np.ones(3)
    f(a)
    a[:] = 100.0  # mutating the caller's input after the call ...
    np.testing.assert_array_equal(w.get_value(), np.ones(3))  # ... leaves the shared value alone
    g = kiln.function([v], [], updates=[(w, v.T[::-1])])
    b = np.arange(3.0)
    g(b)
    b[:] = -1.0
    np.testing.assert_array_equal(w.get_value(), [2.0, 1.0, 0.0])


def test_update_value_does_not_alias_an_output():
    w = kiln.shared(np.zeros(3), name="w")
    v = kt.vector("v")
    f = kiln.function([v], v + 1, updates=[(w, v + 1)])
    out = f(np.zeros(3))
    out[:] = 50.0
    np.testing.assert_array_equal(w.get_value(), np.ones(3))


def test_mutating_a_result_never_changes_a_shared_value_or_a_later_call():
    w = kiln.shared(np.arange(4.0), name="w")
    x = kt.vector("x")
    f = kiln.function([x], [w + x, w, w.reshape((2, 2))])
    for out in f(np.zeros(4)):
        out[...] = 13.0
    np.testing.assert_array_equal(w.get_value(), np.arange(4.0))
    got = f(np.zeros(4))
    np.testing.assert_array_equal(got[0], np.arange(4.0))
    np.testing.assert_array_equal(got[2], np.arange(4.0).reshape(2, 2))


def test_borrowed_output_may_alias_and_says_so():
    w = kiln.shared(np.arange(3.0), name="w")
    f = kiln.function([], Out(w, borrow=True))
    assert np.shares_memory(f(), w.get_value(borrow=True))


def test_broadcast_outputs_are_writable():
    x = kt.vector("x")
    outs = kiln.function([x], [kt.broadcast_to(x, (3, 2)), kt.zeros((2, 2)), kt.ones_like(x)])(np.ones(2))
    for o in outs:
        assert o.flags.writeable
        o[...] = 3.0


def test_outputs_that_view_each_other_are_independent():
    x = kt.matrix("x")
    y = kt.exp(x)  # an intermediate: not caller-visible, but y.T and y[1:] view it
    f = kiln.function([x], [y, y.T, y[1:], y.reshape((4,))])
    a = np.zeros((2, 2))
    outs = f(a)
    _independent(outs, a)
    outs[0][...] = 5.0
    np.testing.assert_array_equal(outs[1], np.ones((2, 2)))
    np.testing.assert_array_equal(outs[2], np.ones((1, 2)))
    np.testing.assert_array_equal(outs[3], np.ones(4))


def test_update_that_views_an_output_is_independent():
    w = kiln.shared(np.zeros((2, 2)), name="w")
    x = kt.matrix("x")
    y = kt.exp(x)
    f = kiln.function([x], y, updates=[(w, y.T)])
    out = f(np.zeros((2, 2)))
    out[...] = 9.0
    np.testing.assert_array_equal(w.get_value(), np.ones((2, 2)))
