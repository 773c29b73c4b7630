"""Op: structural equality and hashing by __props__, calling, defaults."""
import pickle

import numpy as np
import pytest

import kiln.tensor as kt
from kiln.graph import Apply, Op
from kiln.graph.op import prop_key
from kiln.scalar import math as sm
from kiln.tensor.elemwise import DimShuffle, Elemwise


class Scale(Op):
    __props__ = ("factor", "mode")

    def __init__(self, factor, mode="plain"):
        self.factor = factor
        self.mode = mode

    def make_node(self, x):
        x = kt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] * self.factor


class OtherScale(Scale):
    pass


class NoProps(Op):
    def make_node(self, x):
        return Apply(self, [x], [x.type()])


def test_equal_props_mean_equal_ops_and_hashes():
    a, b = Scale(2.0), Scale(2.0)
    assert a is not b and a == b and hash(a) == hash(b)
    assert len({a, b}) == 1
    assert {a: "v"}[b] == "v"


def test_different_props_or_class_mean_different_ops():
    assert Scale(2.0) != Scale(3.0)
    assert Scale(2.0) != Scale(2.0, mode="other")
    assert Scale(2.0) != OtherScale(2.0)
    assert Scale(2.0) != "Scale"
    assert len({Scale(2.0), Scale(3.0), OtherScale(2.0)}) == 3


def test_nan_props_are_equal_and_hash_equal():
    a, b = Scale(float("nan")), Scale(float("nan"))
    assert a == b and hash(a) == hash(b)
    assert Scale(np.float32("nan")) == Scale(float("nan"))


def test_negative_zero_prop_differs_from_zero():
    assert Scale(-0.0) != Scale(0.0)
    assert Scale(-0.0) == Scale(-0.0) and hash(Scale(-0.0)) == hash(Scale(np.float64(-0.0)))


def test_numeric_props_compare_by_value():
    # integral parameters given as int or float are the same parameter
    assert Scale(1) == Scale(1.0) and hash(Scale(1)) == hash(Scale(1.0))
    assert Scale((0, 1)) == Scale((np.int64(0), np.int64(1)))


def test_array_props_compare_by_value():
    a, b = Scale(np.array([1.0, 2.0])), Scale(np.array([1.0, 2.0]))
    assert a == b and hash(a) == hash(b)
    assert a != Scale(np.array([1.0, 3.0]))
    assert a != Scale(np.array([1.0, 2.0], dtype="float32"))


def test_prop_key_is_recursive_in_tuples():
    assert prop_key((1, (float("nan"), -0.0))) == prop_key((1, (float("nan"), -0.0)))
    assert prop_key((0.0,)) != prop_key((-0.0,))


def test_library_ops_compare_structurally():
    assert Elemwise(sm.Exp()) == kt.exp(kt.vector()).owner.op
    assert Elemwise(sm.Add()) != Elemwise(sm.Mul())
    assert DimShuffle(2, (1, 0)) == DimShuffle(2, [1, 0])
    assert DimShuffle(2, (1, 0)) != DimShuffle(2, (0, 1))
    x = kt.matrix("x")
    assert x.sum(axis=0).owner.op == kt.matrix().sum(axis=0).owner.op
    assert x.sum(axis=0).owner.op != x.sum(axis=1).owner.op


def test_ops_without_props_of_one_class_are_equal():
    assert NoProps() == NoProps() and hash(NoProps()) == hash(NoProps())


def test_op_str_shows_props():
    assert str(Scale(2.0)) == "Scale{2.0, 'plain'}"
    assert str(NoProps()) == "NoProps"
    assert str(DimShuffle(2, (1, 0))) == "DimShuffle{1,0}"


def test_call_returns_output_variable_and_perform_computes():
    x = kt.vector("x")
    y = Scale(3.0)(x)
    assert y.owner.op == Scale(3.0) and y.owner.inputs == [x]
    storage = [[None]]
    y.owner.op.perform(y.owner, [np.array([1.0, 2.0])], storage)
    np.testing.assert_array_equal(storage[0][0], [3.0, 6.0])
    np.testing.assert_array_equal(y.eval({x: np.array([1.0, -1.0])}), [3.0, -3.0])


def test_missing_methods_raise_naming_the_op():
    node = NoProps().make_node(kt.vector())
    with pytest.raises(NotImplementedError, match="NoProps"):
        node.op.perform(node, [np.zeros(1)], [[None]])
    with pytest.raises(NotImplementedError, match="NoProps"):
        node.op.infer_shape(None, node, [(1,)])
    with pytest.raises(NotImplementedError, match="NoProps"):
        node.op.jvp(node, [None])
    with pytest.raises(NotImplementedError, match="NoProps"):
        node.op.transpose(node, [None], [True])


def test_ops_pickle_to_equal_ops():
    for op in (Elemwise(sm.Exp()), DimShuffle(2, ("x", 1, 0)), kt.matrix().sum(axis=1).owner.op):
        op2 = pickle.loads(pickle.dumps(op))
        assert op2 == op and hash(op2) == hash(op)
