"""Type, Variable, Constant and Apply: the IR's nouns."""
import pickle

import numpy as np
import pytest

import kiln.tensor as kt
from kiln.graph import Apply, Constant, Op, Type, Variable
from kiln.graph.basic import copy_tag
from kiln.tensor.type import TensorType


# -- Type ----------------------------------------------------------------------------------------
def test_type_equality_and_hash_are_structural():
    a, b = TensorType("float64", (None, 3)), TensorType("float64", (None, 3))
    assert a == b and hash(a) == hash(b)
    assert a != TensorType("float32", (None, 3))
    assert a != TensorType("float64", (None, 4))
    assert len({a, b, TensorType("float64", (None, None))}) == 2


def test_type_is_super_accepts_more_specific_static_shape_only():
    general, specific = TensorType("float64", (None, 3)), TensorType("float64", (2, 3))
    assert general.is_super(specific)
    assert not specific.is_super(general)
    assert not general.is_super(TensorType("float32", (2, 3)))
    assert not general.is_super(TensorType("float64", (3,)))


def test_type_call_makes_fresh_ownerless_variables():
    t = TensorType("int32", (None,))
    v, w = t("v"), t()
    assert v.type is t and v.owner is None and v.index is None and v.name == "v"
    assert v is not w and w.name is None


def test_type_filter_validates_values():
    t = TensorType("float64", (2,))
    np.testing.assert_array_equal(t.filter([1, 2]), np.array([1.0, 2.0]))
    assert t.is_valid_value(np.zeros(2))
    assert not t.is_valid_value(np.zeros(3))
    with pytest.raises(TypeError):
        t.filter(np.zeros((2, 2)))


# -- Variable ------------------------------------------------------------------------------------
def test_variables_compare_by_identity():
    x1, x2 = kt.vector("x"), kt.vector("x")
    assert x1 is not x2
    assert len({x1, x2}) == 2
    assert {x1: 1}.get(x2) is None


def test_variable_clone_is_fresh_and_keeps_name_type_tag():
    x = kt.vector("x")
    x.tag["note"] = 7
    c = x.clone()
    assert c is not x and c.type == x.type and c.name == "x" and c.owner is None
    assert c.tag == {"note": 7} and c.tag is not x.tag
    assert x.clone(name="y").name == "y"


def test_variable_clone_does_not_inherit_eval_cache():
    # A clone is a different variable: it must not reuse the function compiled for the original.
    x = kt.vector("x")
    y = x * 2
    np.testing.assert_array_equal(y.eval({x: np.array([1.0, 2.0])}), [2.0, 4.0])
    assert "_eval_cache" in y.tag
    c = y.clone()
    assert "_eval_cache" not in c.tag
    assert copy_tag({"_eval_cache": {}, "keep": 1}) == {"keep": 1}


def test_variable_str_uses_name_or_owner():
    x = kt.vector("x")
    assert str(x) == "x"
    assert str(kt.exp(x)) == "exp.out"
    assert str(kt.vector()).startswith("<")


class _TwoOut(Op):
    """abs and sign of a vector: a two-output op for the tests."""

    def make_node(self, x):
        return Apply(self, [x], [x.type(), x.type()])


def test_owner_and_index_of_multi_output_node():
    x = kt.vector("x")
    node = _TwoOut().make_node(x)
    assert [o.index for o in node.outputs] == [0, 1]
    assert all(o.owner is node for o in node.outputs)
    assert str(node.outputs[1]) == "_TwoOut.1"
    a, b = _TwoOut()(x)
    assert a.owner is b.owner


# -- Constant ------------------------------------------------------------------------------------
def test_constant_signature_equal_for_equal_values():
    a, b = kt.constant(np.array([1.0, 2.0])), kt.constant(np.array([1.0, 2.0]))
    assert a is not b
    assert a.signature() == b.signature() and hash(a.signature()) == hash(b.signature())
    assert a.equals(b)
    assert not a.equals(kt.constant(np.array([1.0, 3.0])))


def test_constant_signature_distinguishes_dtype_and_shape():
    base = kt.constant(np.array([1.0, 2.0]))
    assert base.signature() != kt.constant(np.array([1.0, 2.0], dtype="float32")).signature()
    assert base.signature() != kt.constant(np.array([[1.0, 2.0]])).signature()
    assert kt.constant(np.array([1, 2], "int64")).signature() != kt.constant(np.array([1, 2], "uint64")).signature()


def test_constant_signature_nan_equals_nan():
    a, b = kt.constant(np.nan), kt.constant(float("nan"))
    assert a.signature() == b.signature()
    assert a.equals(b)


def test_constant_signature_negative_zero_differs_from_zero():
    # 1/-0.0 == -inf: merging -0.0 with 0.0 would change results
    assert not kt.constant(-0.0).equals(kt.constant(0.0))
    assert kt.constant(-0.0).equals(kt.constant(np.float64(-0.0)))
    arr_neg, arr_pos = np.array([0.0, -0.0]), np.array([0.0, 0.0])
    assert not kt.constant(arr_neg).equals(kt.constant(arr_pos))


def test_constant_signature_independent_of_memory_layout():
    strided = np.arange(6.0)[::2]
    assert not strided.flags.c_contiguous
    assert kt.constant(strided).equals(kt.constant(np.array([0.0, 2.0, 4.0])))
    fortran = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    assert kt.constant(fortran).equals(kt.constant(np.arange(6.0).reshape(2, 3)))


def test_constant_signature_survives_pickling():
    c = kt.constant(np.array([np.nan, -0.0, 1.5]))
    c2 = pickle.loads(pickle.dumps(c))
    assert c2.signature() == c.signature()


class _AnyType(Type):
    """Accepts any Python object (here: unhashable lists) as a value."""

    def filter(self, value, strict=False, allow_downcast=None):
        return value

    def __eq__(self, other):
        return type(other) is type(self)

    def __hash__(self):
        return hash(type(self))


class _ListType(_AnyType):
    """Like _AnyType, but declares that lists are equal by content."""

    def value_signature(self, data):
        return ("list", tuple(data))


def test_constant_signature_of_unhashable_value_is_identity_not_repr():
    a, b = [1, 2], [1, 2]
    assert repr(a) == repr(b)
    ca, cb = Constant(_AnyType(), a), Constant(_AnyType(), b)
    # equal reprs must not make two different objects one constant (mutating one would change both)
    assert not ca.equals(cb) and ca.signature() != cb.signature()
    assert ca.equals(Constant(_AnyType(), a))
    assert hash(ca.signature()) == hash(Constant(_AnyType(), a).signature())


def test_constant_signature_uses_the_types_value_signature():
    assert Constant(_ListType(), [1, 2]).equals(Constant(_ListType(), [1, 2]))
    assert not Constant(_ListType(), [1, 2]).equals(Constant(_ListType(), [1, 3]))


def test_constant_clone_keeps_value():
    c = kt.constant(np.array([1, 2, 3]), name="c")
    d = c.clone()
    assert isinstance(d, Constant) and d is not c and d.equals(c) and d.name == "c"


def test_constant_str_shows_small_values():
    assert str(kt.constant(2.0)) == "2.0"
    assert str(kt.constant(np.array([1, 2]))) == "[1, 2]"
    assert "constant" in str(kt.constant(np.zeros(100)))


# -- Apply -----------------------------------------------------------------------------------------
def test_apply_sets_owner_and_index():
    x, y = kt.vector("x"), kt.vector("y")
    z = x + y
    node = z.owner
    assert isinstance(node, Apply)
    assert node.inputs == [x, y] and node.outputs == [z] and z.index == 0
    assert node.out is z and node.nin == 2 and node.nout == 1


def test_apply_rejects_non_variables_and_foreign_outputs():
    x = kt.vector("x")
    op = kt.exp(x).owner.op
    with pytest.raises(TypeError, match="input 0"):
        Apply(op, [3.0], [x.type()])
    taken = kt.exp(x)
    with pytest.raises(ValueError, match="another Apply"):
        Apply(op, [x], [taken])


def test_apply_clone_and_clone_with_new_inputs():
    x, y = kt.vector("x"), kt.vector("y")
    node = kt.exp(x).owner
    c = node.clone()
    assert c.op == node.op and c.inputs == [x] and c.outputs[0] is not node.outputs[0]
    n2 = node.clone_with_new_inputs([y])
    assert n2.inputs == [y] and n2.outputs[0].type == node.outputs[0].type
    # a different input type goes through make_node and may refine the output type
    m = kt.matrix("m")
    n3 = node.clone_with_new_inputs([m], strict=False)
    assert n3.outputs[0].type.ndim == 2
    with pytest.raises(ValueError, match="expected 1 inputs"):
        node.clone_with_new_inputs([x, y])


def test_apply_out_raises_for_multiple_outputs():
    node = Apply(kt.exp(kt.vector()).owner.op, [kt.vector("x")], [kt.vector(), kt.vector()])
    with pytest.raises(AttributeError, match="2 outputs"):
        node.out
    assert isinstance(node.outputs[1], Variable)
