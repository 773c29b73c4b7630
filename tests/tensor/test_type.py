"""TensorType: construction, equality, filter (conversions and errors), compatibility."""
import pickle

import numpy as np
import pytest

import kiln.tensor as kt
from kiln.tensor.type import ShapeMismatchError, TensorType


def test_construction_and_identity():
    t = TensorType("float32", (None, 3))
    assert t == TensorType(np.float32, [None, 3]) and hash(t) == hash(TensorType("float32", (None, 3)))
    assert t != TensorType("float64", (None, 3)) and t != TensorType("float32", (None, 4))
    assert t.ndim == 2 and t.broadcastable == (False, False)
    assert TensorType("int8", broadcastable=(True, False)).shape == (1, None)
    assert pickle.loads(pickle.dumps(t)) == t
    assert t.clone(dtype="int16") == TensorType("int16", (None, 3))
    with pytest.raises(AttributeError):
        t.dtype = "float64"
    with pytest.raises(ValueError):
        TensorType("float32", (-2,))
    with pytest.raises(TypeError):
        TensorType("str", ())


@pytest.mark.parametrize("value,dtype,expected", [
    (np.ones(3, "float32"), "float32", np.ones(3, "float32")),
    (np.ones(3, "int32"), "float64", np.ones(3)),          # safe cast
    ([1, 2, 3], "int8", np.array([1, 2, 3], "int8")),      # Python values that fit exactly
    (2.0, "float32", np.float32(2.0)),
    (True, "int64", np.int64(1)),
])
def test_filter_accepts(value, dtype, expected):
    t = TensorType(dtype, np.shape(value))
    got = t.filter(value)
    assert isinstance(got, np.ndarray) and got.dtype == dtype
    np.testing.assert_array_equal(got, expected)


def test_filter_rejects():
    t = TensorType("float32", (None,))
    with pytest.raises(TypeError, match="allow_input_downcast"):
        t.filter(np.ones(3))                          # float64 array -> float32 is lossy
    assert t.filter(np.ones(3), allow_downcast=True).dtype == "float32"
    with pytest.raises(TypeError):
        t.filter(np.ones((2, 2), "float32"))          # wrong ndim
    with pytest.raises(TypeError):
        t.filter(np.ones(3), strict=True)
    with pytest.raises(TypeError):
        TensorType("int8", (None,)).filter([1, 300])  # does not fit
    with pytest.raises(TypeError):
        TensorType("int64", (None,)).filter([1.5])
    with pytest.raises(ShapeMismatchError):
        TensorType("float64", (3,)).filter(np.ones(4))
    with pytest.raises(TypeError):
        t.filter(["a", object()])


def test_is_super_and_convert_variable(run, same):
    general, specific = TensorType("float64", (None, None)), TensorType("float64", (2, None))
    assert general.is_super(specific) and not specific.is_super(general)
    assert not general.is_super(TensorType("float32", (None, None)))
    x = kt.matrix("x")
    conv = specific.convert_variable(x)
    assert conv.type == specific
    with pytest.raises(ValueError):
        run([x], conv, np.ones((3, 3)))
    same(run([x], conv, np.ones((2, 3))), np.ones((2, 3)))
    assert general.convert_variable(kt.tensor("y", dtype="float64", shape=(2, 5))) is not None
    assert specific.convert_variable(kt.tensor("z", dtype="float64", shape=(3, 5))) is None
    assert specific.convert_variable(kt.vector("w")) is None


def test_values_eq():
    t = TensorType("float32", (None,))
    a = np.array([1.0, np.nan], "float32")
    assert t.values_eq(a, a.copy()) and not t.values_eq(a, a[:1])
    assert t.values_eq_approx(a, a + 1e-7) and not t.values_eq_approx(a, a + 1e-2)
