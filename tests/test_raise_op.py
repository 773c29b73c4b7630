"""CheckAndRaise / Assert (PyTensor's pytensor.raise_op) on both linkers."""
import pickle

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.raise_op import Assert, CheckAndRaise, assert_op

MODES = {"py": kiln.Mode(linker="py"), "default": None}


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_assert_passes_value_and_raises_with_message(mode):
    x = kt.dvector("x")
    f = kiln.function([x], Assert("x is too long")(x, x.size < 3) * 2, mode=mode)
    np.testing.assert_array_equal(f(np.array([1.0, 2.5])), [2.0, 5.0])
    with pytest.raises(AssertionError, match="x is too long"):
        f(np.ones(4))


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_check_and_raise_custom_exception_and_array_conditions(mode):
    x = kt.dmatrix("x")
    checked = CheckAndRaise(ValueError, "negative entry")(x, kt.ge(x, 0), kt.eq(x.shape[0], 2))
    f = kiln.function([x], kt.sqrt(checked), mode=mode)
    np.testing.assert_allclose(f(np.array([[4.0, 9.0], [1.0, 0.0]])), [[2.0, 3.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="negative entry"):
        f(np.array([[4.0, -9.0], [1.0, 0.0]]))      # one element false
    with pytest.raises(ValueError, match="negative entry"):
        f(np.ones((3, 2)))                             # the second condition false


def test_gradient_passes_through_x():
    x = kt.dvector("x")
    y = (Assert("positive")(x, kt.all(x > 0)) ** 3).sum()
    g = kiln.function([x], kiln.grad(y, x))
    np.testing.assert_allclose(g(np.array([1.0, 2.0])), [3.0, 12.0])
    with pytest.raises(AssertionError, match="positive"):
        g(np.array([-1.0, 2.0]))


def test_constant_true_checks_are_removed_and_false_ones_still_raise():
    x = kt.dvector("x")
    f = kiln.function([x], assert_op(x, kt.constant(True), kt.constant(np.ones(3, bool))) + 1)
    assert not any(isinstance(n.op, CheckAndRaise) for n in f.fgraph.apply_nodes)
    g = kiln.function([x], assert_op(x, kt.constant(False)) + 1)     # not folded at compile time
    with pytest.raises(AssertionError):
        g(np.ones(2))
    h = kiln.function([x], assert_op(x, kt.constant(True), x.size > 1) + 1)   # one condition left
    kept = [n for n in h.fgraph.apply_nodes if isinstance(n.op, CheckAndRaise)]
    assert len(kept) == 1 and len(kept[0].inputs) == 2
    with pytest.raises(AssertionError):
        h(np.ones(1))


def test_equality_props_pickling_and_bad_arguments():
    assert Assert("a") == Assert("a") and Assert("a") != Assert("b")
    assert CheckAndRaise(ValueError, "m") != CheckAndRaise(TypeError, "m")
    assert pickle.loads(pickle.dumps(CheckAndRaise(ValueError, "m"))) == CheckAndRaise(ValueError, "m")
    with pytest.raises(TypeError, match="exception class"):
        CheckAndRaise("not an exception")
    with pytest.raises(TypeError, match="at least one condition"):
        Assert()(kt.dvector())
    x = kt.dvector("x")
    f = kiln.function([x], Assert("short")(x, x.size < 3))
    f2 = pickle.loads(pickle.dumps(f))
    with pytest.raises(AssertionError, match="short"):
        f2(np.ones(5))
