"""Updates (simultaneous, typed) and givens (substitution before compiling)."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np
import pytest

import kiln
import kiln.tensor as kt


def test_updates_are_simultaneous_swap():
    a = kiln.shared(np.array([1.0, 2.0]), name="a")
    b = kiln.shared(np.array([3.0, 4.0]), name="b")
    swap = kiln.function([], [], updates=[(a, b), (b, a)])
    swap()
    np.testing.assert_array_equal(a.get_value(), [3.0, 4.0])
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0])
    swap()
    np.testing.assert_array_equal(a.get_value(), [1.0, 2.0])
    np.testing.assert_array_equal(b.get_value(), [3.0, 4.0])
    # after swapping, the two never share memory
    assert not np.shares_memory(a.get_value(borrow=True), b.get_value(borrow=True))


def test_outputs_are_computed_from_the_old_values():
    w = kiln.shared(np.array(1.0), name="w")
    v = kt.scalar("v")
    f = kiln.function([v], [w * v, w], updates=[(w, w + v)])
    out, old = f(10.0)
    assert out == 10.0 and old == 1.0
    assert w.get_value() == 11.0
    out, old = f(2.0)
    assert out == 22.0 and old == 11.0
    assert w.get_value() == 13.0


def test_update_chain_reads_old_values():
    # fibonacci: (a, b) <- (b, a + b), all from the old values
    a, b = kiln.shared(np.array(0)), kiln.shared(np.array(1))
    step = kiln.function([], a, updates=OrderedDict([(a, b), (b, a + b)]))
    seen = [int(step()) for _ in range(8)]
    assert seen == [0, 1, 1, 2, 3, 5, 8, 13]


def test_updates_as_dict_and_single_output():
    w = kiln.shared(np.zeros(2), name="w")
    v = kt.vector("v")
    f = kiln.function([v], (w * v).sum(), updates={w: w + v})
    assert f(np.ones(2)) == 0.0
    assert f(np.ones(2)) == 2.0
    np.testing.assert_array_equal(w.get_value(), [2.0, 2.0])


def test_update_of_a_shared_variable_not_read_by_the_graph():
    w = kiln.shared(np.zeros(2), name="w")
    v = kt.vector("v")
    f = kiln.function([v], v.sum(), updates=[(w, v * 2)])
    assert f(np.array([1.0, 2.0])) == 3.0
    np.testing.assert_array_equal(w.get_value(), [2.0, 4.0])


def test_update_with_a_plain_value_takes_the_target_type():
    w = kiln.shared(np.float32(5.0), name="w")
    reset = kiln.function([], [], updates=[(w, 0.0)])
    reset()
    assert w.get_value().dtype == np.float32 and w.get_value() == 0.0


def test_update_type_mismatch_raises_with_cast_advice():
    w = kiln.shared(np.zeros(3, dtype=np.float32), name="w")
    v = kt.dvector("v")
    with pytest.raises(TypeError, match=r"w.*float64.*float32.*astype\('float32'\)"):
        kiln.function([v], [], updates=[(w, w + v)])
    with pytest.raises(TypeError, match="w"):
        kiln.function([], [], updates=[(w, kt.fmatrix())])
    # the advice works
    f = kiln.function([v], [], updates=[(w, (w + v).astype("float32"))])
    f(np.ones(3))
    assert w.get_value().dtype == np.float32
    np.testing.assert_array_equal(w.get_value(), np.ones(3, dtype=np.float32))


def test_update_must_target_a_shared_variable_once():
    w = kiln.shared(np.zeros(2))
    x = kt.vector("x")
    with pytest.raises(TypeError, match="not a shared variable"):
        kiln.function([x], [], updates=[(x, x + 1)])
    with pytest.raises(ValueError, match="more than once"):
        kiln.function([], [], updates=[(w, w + 1), (w, w + 2)])
    with pytest.raises(TypeError, match="pairs"):
        kiln.function([], [], updates=[w])


def test_update_with_static_shape_target_accepts_unknown_shape_expression():
    w = kiln.shared(np.zeros(3), shape=(3,), name="w")
    v = kt.vector("v")  # unknown length: the update asserts w's static shape
    f = kiln.function([v], [], updates=[(w, v)])
    f(np.arange(3.0))
    np.testing.assert_array_equal(w.get_value(), np.arange(3.0))
    with pytest.raises(ValueError):
        f(np.arange(4.0))
    np.testing.assert_array_equal(w.get_value(), np.arange(3.0))


def test_same_shared_variable_as_output_and_update():
    w = kiln.shared(np.array([1.0, 2.0]), name="w")
    f = kiln.function([], [w + 1, w], updates=[(w, w + 1)])
    new, old = f()
    np.testing.assert_array_equal(new, [2.0, 3.0])
    np.testing.assert_array_equal(old, [1.0, 2.0])
    new[:] = -5.0  # the returned array is not the stored update
    np.testing.assert_array_equal(w.get_value(), [2.0, 3.0])


# -- givens ----------------------------------------------------------------------------------------------
def test_givens_input_replaced_by_expression_of_another_input():
    x, y = kt.vector("x"), kt.vector("y")
    f = kiln.function([y], kt.exp(x).sum(), givens=[(x, y * 2 + 1)])
    b = np.array([0.0, 0.5])
    np.testing.assert_allclose(f(b), np.exp(b * 2 + 1).sum())


def test_givens_replaced_by_a_shared_variable():
    x = kt.vector("x")
    data = kiln.shared(np.arange(4.0), name="data")
    f = kiln.function([], (x ** 2).sum(), givens={x: data})
    assert f() == 14.0
    data.set_value(np.ones(2))
    assert f() == 2.0


def test_givens_replaced_by_a_constant_or_value():
    x, s = kt.vector("x"), kt.scalar("s")
    f = kiln.function([s], x * s, givens={x: kt.constant(np.array([1.0, 2.0]))})
    np.testing.assert_array_equal(f(3.0), [3.0, 6.0])
    g = kiln.function([s], x * s, givens={x: np.array([1.0, -1.0])})
    np.testing.assert_array_equal(g(2.0), [2.0, -2.0])


def test_givens_in_updates():
    w = kiln.shared(np.zeros(2), name="w")
    lr, x = kt.scalar("lr"), kt.vector("x")
    f = kiln.function([x], [], updates=[(w, w + lr * x)], givens={lr: kt.constant(0.5)})
    f(np.array([2.0, 4.0]))
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])


def test_givens_type_mismatch_is_refused():
    x = kt.vector("x")
    with pytest.raises(TypeError, match="givens"):
        kiln.function([], x + 1, givens={x: kt.matrix("m")})
    with pytest.raises(TypeError, match="givens"):
        kiln.function([], x + 1, givens={x: kt.ivector("i")})


def test_givens_do_not_change_the_user_graph():
    x, y = kt.vector("x"), kt.vector("y")
    out = x + 1
    kiln.function([y], out, givens={x: y * 3})
    f = kiln.function([x], out)  # the original expression still depends on x
    np.testing.assert_array_equal(f(np.zeros(2)), [1.0, 1.0])
