"""shared(): construction, get_value/set_value with and without borrow, validation."""
from __future__ import annotations

import numpy as np
import pytest

import kiln
import kiln.tensor as kt


def test_shared_copies_the_value_unless_borrowed():
    a = np.zeros(3)
    w = kiln.shared(a, name="w")
    a[0] = 5.0
    np.testing.assert_array_equal(w.get_value(), np.zeros(3))
    b = np.zeros(3)
    wb = kiln.shared(b, borrow=True)
    b[0] = 5.0  # borrowed: the shared variable holds the caller's array
    np.testing.assert_array_equal(wb.get_value(), [5.0, 0.0, 0.0])


def test_get_value_copies_unless_borrowed():
    w = kiln.shared(np.arange(3.0))
    got = w.get_value()
    got[0] = 100.0
    np.testing.assert_array_equal(w.get_value(), np.arange(3.0))
    internal = w.get_value(borrow=True)
    internal[0] = 100.0
    np.testing.assert_array_equal(w.get_value(), [100.0, 1.0, 2.0])


def test_set_value_copies_unless_borrowed():
    w = kiln.shared(np.zeros(3))
    a = np.ones(3)
    w.set_value(a)
    a[:] = 9.0
    np.testing.assert_array_equal(w.get_value(), np.ones(3))
    b = np.ones(3)
    w.set_value(b, borrow=True)
    b[:] = 9.0
    np.testing.assert_array_equal(w.get_value(), np.full(3, 9.0))
    view_src = np.arange(6.0)
    w.set_value(view_src[::2])  # a view of the caller's array is copied too
    view_src[:] = -1.0
    np.testing.assert_array_equal(w.get_value(), [0.0, 2.0, 4.0])


def test_set_value_changes_the_value_seen_by_functions():
    w = kiln.shared(np.zeros(2), name="w")
    f = kiln.function([], w * 2)
    np.testing.assert_array_equal(f(), [0.0, 0.0])
    w.set_value(np.array([1.0, 3.0]))
    np.testing.assert_array_equal(f(), [2.0, 6.0])
    w.set_value(np.array([1.0, 2.0, 3.0]))  # the shape may change (no static shape)
    np.testing.assert_array_equal(f(), [2.0, 4.0, 6.0])


def test_set_value_validates_ndim_and_dtype_and_changes_nothing_on_error():
    w = kiln.shared(np.zeros(3), name="w")
    with pytest.raises(TypeError, match=r"'w'.*set_value.*1-d"):
        w.set_value(np.zeros((2, 2)))
    with pytest.raises(TypeError, match=r"'w'.*set_value.*complex128"):
        w.set_value(np.zeros(3, dtype=np.complex128))
    np.testing.assert_array_equal(w.get_value(), np.zeros(3))
    i = kiln.shared(np.zeros(2, dtype=np.int32), name="i")
    with pytest.raises(TypeError, match="'i'.*float64"):
        i.set_value(np.array([0.5, 1.0]))
    with pytest.raises(TypeError, match="symbolic"):
        w.set_value(kt.vector())


def test_set_value_accepts_safe_casts_and_keeps_the_dtype():
    w = kiln.shared(np.zeros(2), name="w")
    w.set_value(np.array([1, 2], dtype=np.int32))
    assert w.get_value().dtype == np.float64
    np.testing.assert_array_equal(w.get_value(), [1.0, 2.0])
    w.set_value([3, 4])
    np.testing.assert_array_equal(w.get_value(), [3.0, 4.0])


def test_static_shape_when_requested():
    w = kiln.shared(np.zeros((2, 3)), shape=(2, 3), name="w")
    assert w.type.shape == (2, 3)
    with pytest.raises(ValueError, match="static shape"):
        w.set_value(np.zeros((3, 3)))
    assert kiln.shared(np.zeros((2, 3))).type.shape == (None, None)


@pytest.mark.parametrize("value, dtype", [(1.0, "float64"), (3, "int64"), (True, "bool"),
                                          (np.float32(2.0), "float32"), (np.zeros((2, 2), dtype="int16"), "int16")])
def test_shared_dtype_follows_numpy(value, dtype):
    w = kiln.shared(value)
    assert w.dtype == dtype
    assert w.type.ndim == np.ndim(value)
    np.testing.assert_array_equal(w.get_value(), np.asarray(value))


def test_shared_refuses_symbolic_and_object_values():
    with pytest.raises(TypeError):
        kiln.shared(kt.vector())
    with pytest.raises(TypeError):
        kiln.shared({"a": 1})


def test_shared_variable_in_expressions_behaves_like_a_tensor():
    w = kiln.shared(np.arange(4.0).reshape(2, 2), name="w")
    f = kiln.function([], [w.T @ w, w.sum(axis=0), w[1]])
    a = np.arange(4.0).reshape(2, 2)
    got = f()
    np.testing.assert_allclose(got[0], a.T @ a)
    np.testing.assert_array_equal(got[1], a.sum(axis=0))
    np.testing.assert_array_equal(got[2], a[1])


def test_two_functions_see_the_same_shared_value():
    w = kiln.shared(np.array(0.0), name="w")
    inc = kiln.function([], [], updates=[(w, w + 1)])
    read = kiln.function([], w)
    for k in range(3):
        inc()
        assert read() == k + 1


class _ObjectType(kiln.graph.Type):
    """A type whose values are arbitrary Python objects (here: nested lists)."""

    def filter(self, value, strict=False, allow_downcast=None):
        if not isinstance(value, list):
            raise TypeError(f"_ObjectType: expected a list, got {type(value).__name__}")
        return value

    def __eq__(self, other):
        return type(other) is type(self)

    def __hash__(self):
        return hash(type(self))


def test_get_value_copies_non_array_values_as_themselves():
    from kiln.compile.sharedvalue import SharedVariable

    value = [1, [2, 3]]
    s = SharedVariable(_ObjectType(), value, name="s")
    got = s.get_value()
    # a copy of the same kind (a list, not a NumPy object array), deep enough to be independent
    assert type(got) is list and got == value and got is not value
    got[1].append(4)
    assert s.get_value() == [1, [2, 3]]
    assert s.get_value(borrow=True) is value
    s.set_value(value)
    assert s.get_value(borrow=True) is not value and s.get_value(borrow=True) == value


def test_function_output_copy_keeps_non_array_values_as_themselves():
    x = _ObjectType()("x")
    f = kiln.function([x], x, mode=kiln.Mode(linker="py"))
    value = [1, [2, 3]]
    out = f(value)
    # the output aliases the input, so it is copied, by kind
    assert type(out) is list and out == value and out is not value and out[1] is not value[1]


def test_function_repr_has_no_double_space():
    v = kt.vector("v")
    py = kiln.Mode(linker="py")
    assert repr(kiln.function([v], v.sum(), mode=py)) == "<kiln.Function 1 inputs -> 1 outputs>"
    assert repr(kiln.function([v], v.sum(), mode=py, name="f")) == "<kiln.Function f 1 inputs -> 1 outputs>"
