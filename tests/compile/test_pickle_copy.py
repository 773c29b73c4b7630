"""Function objects pickle, unpickle and copy; shared values travel with them."""
from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln import In


def test_pickle_roundtrip_computes_the_same(rng):
    x, v = kt.matrix("x"), kt.vector("v")
    f = kiln.function([x, v], [kt.tanh(x @ v + 1).sum(axis=0) / x.shape[0], kt.exp(v).max()], name="f")
    a, b = rng.normal(size=(3, 4)), rng.normal(size=4)
    g = pickle.loads(pickle.dumps(f))
    for got, want in zip(g(a, b), f(a, b)):
        np.testing.assert_array_equal(got, want)
    assert g.name == "f"
    np.testing.assert_array_equal(g(v=b, x=a)[1], np.exp(b).max())


def test_pickled_function_with_updates_keeps_working_and_carries_shared_values():
    w = kiln.shared(np.zeros(2), name="w")
    v = kt.vector("v")
    f = kiln.function([v], (w * v).sum(), updates=[(w, w + v)])
    f(np.ones(2))  # w = [1, 1]
    g = pickle.loads(pickle.dumps(f))
    # the copy starts from the pickled value and then lives its own life
    assert g(np.ones(2)) == 2.0
    assert g(np.ones(2)) == 4.0
    np.testing.assert_array_equal(w.get_value(), [1.0, 1.0])
    assert f(np.ones(2)) == 2.0


def test_function_and_its_shared_variable_pickled_together_stay_connected():
    w = kiln.shared(np.array(1.0), name="w")
    inc = kiln.function([], w, updates=[(w, w * 2)])
    inc2, w2 = pickle.loads(pickle.dumps((inc, w)))
    inc2()
    inc2()
    assert w2.get_value() == 4.0
    assert w.get_value() == 1.0
    w2.set_value(np.array(10.0))
    assert inc2() == 10.0


def test_pickle_keeps_options_defaults_and_errors():
    x, y = kt.fvector("x"), kt.scalar("y", dtype="float32")
    f = kiln.function([x, In(y, value=2.0, name="k")], x * y, allow_input_downcast=True)
    g = pickle.loads(pickle.dumps(f))
    out = g(np.array([1.0, 2.0]))  # float64 accepted: allow_input_downcast travelled
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [2.0, 4.0])
    np.testing.assert_array_equal(g(np.array([1.0]), k=3.0), [3.0])
    with pytest.raises(TypeError, match="unexpected keyword"):
        g(np.ones(1), q=1)


def test_copy_shares_shared_variables():
    w = kiln.shared(np.array(0.0), name="w")
    f = kiln.function([], w, updates=[(w, w + 1)])
    g = f.copy()
    assert g is not f
    f()
    g()
    assert w.get_value() == 2.0
    assert copy.copy(f)() == 2.0
    assert w.get_value() == 3.0


def test_copy_with_swap_and_delete_updates():
    w = kiln.shared(np.array(0.0), name="w")
    other = kiln.shared(np.array(100.0), name="other")
    x = kt.scalar("x")
    f = kiln.function([x], w + x, updates=[(w, w + 1)])
    g = f.copy(swap={w: other}, name="g")
    assert g(1.0) == 101.0
    assert other.get_value() == 101.0 and w.get_value() == 0.0
    assert g.name == "g"
    h = f.copy(delete_updates=True)
    assert h(1.0) == 1.0 and h(1.0) == 1.0
    assert w.get_value() == 0.0
    with pytest.raises(TypeError, match="same type"):
        f.copy(swap={w: kiln.shared(np.zeros(2))})
    with pytest.raises(ValueError, match="not a shared variable of this function"):
        f.copy(swap={other: w})


def test_deepcopy_is_independent_of_the_original_shared_storage():
    w = kiln.shared(np.array(0.0), name="w")
    f = kiln.function([], w, updates=[(w, w + 1)])
    g = copy.deepcopy(f)
    g()
    g()
    assert w.get_value() == 0.0
    assert g() == 2.0


def test_deep_graph_pickles_without_recursion_error():
    # a chain of ~1800 nodes: pickling linked Apply/Variable objects recursively would need
    # several stack frames per node and overflow Python's recursion limit
    x = kt.vector("x")
    y = x
    for i in range(600):
        y = kt.sin(y) * 1.5 if i % 2 else kt.exp(y) - 1.0
    f = kiln.function([x], [y, x], mode=kiln.Mode(linker="py", rewrites="none"))
    assert len(f.fgraph.apply_nodes) > 1000
    g = pickle.loads(pickle.dumps(f))
    a = np.array([0.1, -0.2])
    for got, want in zip(g(a), f(a)):
        np.testing.assert_array_equal(got, want)
    assert len(g.fgraph.apply_nodes) == len(f.fgraph.apply_nodes)
    g.fgraph.check_integrity()
