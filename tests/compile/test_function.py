"""function(): calling conventions, In/Out, argument validation and its error messages."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln import In, Out
from kiln.compile.function import UnusedInputError
from tests.helpers import run_in_threads


# -- outputs: one, several, none ---------------------------------------------------------------
def test_single_output_returns_a_value(rng):
    x = kt.matrix("x")
    a = rng.normal(size=(3, 4))
    out = kiln.function([x], kt.tanh(x).sum(axis=1))(a)
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, np.tanh(a).sum(axis=1))


@pytest.mark.parametrize("container", [list, tuple])
def test_list_of_outputs_returns_a_list(container, rng):
    x = kt.vector("x")
    a = rng.normal(size=5)
    outs = kiln.function([x], container([x * 2, kt.exp(x).max()]))(a)
    assert isinstance(outs, list) and len(outs) == 2
    np.testing.assert_allclose(outs[0], a * 2)
    np.testing.assert_allclose(outs[1], np.exp(a).max())


def test_list_of_one_output_returns_a_list():
    x = kt.vector("x")
    outs = kiln.function([x], [x + 1])(np.zeros(2))
    assert isinstance(outs, list) and len(outs) == 1
    np.testing.assert_array_equal(outs[0], [1.0, 1.0])


def test_no_outputs_returns_empty_list_and_applies_updates():
    w = kiln.shared(np.zeros(3), name="w")
    v = kt.vector("v")
    f = kiln.function([v], [], updates=[(w, w + v)])
    assert f(np.arange(3.0)) == []
    assert f(np.arange(3.0)) == []
    np.testing.assert_array_equal(w.get_value(), 2 * np.arange(3.0))
    g = kiln.function([], None, updates=[(w, w * 0)])
    assert g() == []
    np.testing.assert_array_equal(w.get_value(), np.zeros(3))


def test_zero_inputs_and_constant_output():
    f = kiln.function([], kt.constant(np.arange(3.0)) * 2)
    np.testing.assert_array_equal(f(), [0.0, 2.0, 4.0])


def test_output_that_is_the_input_itself():
    x = kt.vector("x")
    a = np.arange(3.0)
    out = kiln.function([x], x)(a)
    np.testing.assert_array_equal(out, a)


# -- keyword arguments, In, Out --------------------------------------------------------------------
def test_keyword_arguments_by_input_name():
    x, y = kt.vector("x"), kt.vector("y")
    f = kiln.function([x, y], x - y)
    a, b = np.array([5.0, 6.0]), np.array([1.0, 2.0])
    np.testing.assert_array_equal(f(y=b, x=a), a - b)
    np.testing.assert_array_equal(f(a, y=b), a - b)
    np.testing.assert_array_equal(f(a, b), a - b)


def test_in_with_default_value_and_name():
    x, y = kt.vector("x"), kt.scalar("y")
    f = kiln.function([x, In(y, value=10.0, name="scale")], x * y)
    a = np.array([1.0, 2.0])
    np.testing.assert_array_equal(f(a), a * 10)
    np.testing.assert_array_equal(f(a, 3.0), a * 3)
    np.testing.assert_array_equal(f(a, scale=0.5), a * 0.5)
    np.testing.assert_array_equal(f(x=a), a * 10)
    with pytest.raises(TypeError, match="unexpected keyword argument 'y'"):
        f(a, y=2.0)  # the In's name replaces the variable's name as keyword


def test_in_default_is_copied_at_compile_time():
    x, y = kt.vector("x"), kt.vector("y")
    default = np.ones(2)
    f = kiln.function([x, In(y, value=default)], x + y)
    default[:] = 100.0  # the caller's array changes after compile
    np.testing.assert_array_equal(f(np.zeros(2)), [1.0, 1.0])
    g = kiln.function([x, In(y, value=np.ones(2))], y, on_unused_input="ignore")
    out = g(np.zeros(2))
    out[:] = 7.0  # and the function's own default is not exposed through an output
    np.testing.assert_array_equal(g(np.zeros(2)), [1.0, 1.0])


def test_in_default_of_wrong_type_fails_at_compile_time():
    x, y = kt.vector("x"), kt.vector("y")
    with pytest.raises(TypeError, match="default value for input 1"):
        kiln.function([x, In(y, value=np.ones((2, 2)))], x + y)


def test_out_borrow_may_alias_input_but_default_does_not():
    x = kt.vector("x")
    a = np.arange(3.0)
    assert np.shares_memory(kiln.function([x], Out(x, borrow=True))(a), a)
    assert not np.shares_memory(kiln.function([x], Out(x, borrow=False))(a), a)
    assert not np.shares_memory(kiln.function([x], x)(a), a)


def test_missing_argument_names_the_input():
    x, y = kt.vector("x"), kt.vector("y")
    f = kiln.function([x, y], x + y)
    with pytest.raises(TypeError, match=r"missing argument for input 1 \(y"):
        f(np.zeros(2))


def test_too_many_arguments():
    x = kt.vector("x")
    f = kiln.function([x], x + 1)
    with pytest.raises(TypeError, match="takes 1 argument.*got 2"):
        f(np.zeros(2), np.zeros(2))


def test_unknown_keyword():
    x = kt.vector("x")
    f = kiln.function([x], x + 1, name="inc")
    with pytest.raises(TypeError, match=r"'inc'.*unexpected keyword argument 'z'.*inputs: x"):
        f(z=np.zeros(2))


def test_duplicate_value_positional_and_keyword():
    x, y = kt.vector("x"), kt.vector("y")
    f = kiln.function([x, y], x + y)
    with pytest.raises(TypeError, match="several values for input 'x'"):
        f(np.zeros(2), np.zeros(2), x=np.zeros(2))
    with pytest.raises(TypeError, match="several values for input 'x'"):
        f(np.zeros(2), x=np.zeros(2))


def test_ambiguous_keyword_is_refused_but_positional_works():
    x1, x2 = kt.vector("x"), kt.vector("x")
    f = kiln.function([x1, x2], x1 - x2)
    np.testing.assert_array_equal(f(np.ones(2), np.zeros(2)), [1.0, 1.0])
    with pytest.raises(TypeError, match="ambiguous"):
        f(np.ones(2), x=np.zeros(2))


def test_input_listed_twice_is_refused():
    x = kt.vector("x")
    with pytest.raises(ValueError, match="more than once"):
        kiln.function([x, x], x + 1)


def test_inputs_must_be_a_list_of_variables():
    x = kt.vector("x")
    with pytest.raises(TypeError, match="must be a list"):
        kiln.function(x, x + 1)
    with pytest.raises(TypeError, match="constant"):
        kiln.function([kt.constant(1.0)], x, on_unused_input="ignore")
    w = kiln.shared(np.zeros(2))
    with pytest.raises(TypeError, match="shared variable"):
        kiln.function([w], w + 1)


# -- argument validation ------------------------------------------------------------------------------
def test_wrong_ndim_names_the_input():
    x = kt.vector("x")
    f = kiln.function([x], x + 1)
    with pytest.raises(TypeError, match=r"input 0 \(x: .*1-d array.*got 2-d"):
        f(np.zeros((2, 2)))


def test_static_shape_mismatch_names_the_input():
    x = kt.tensor("x", dtype="float64", shape=(None, 3))
    f = kiln.function([x], x.sum(axis=1))
    np.testing.assert_array_equal(f(np.ones((2, 3))), [3.0, 3.0])
    with pytest.raises(ValueError, match=r"input 0 \(x: .*static shape"):
        f(np.ones((2, 4)))


def test_float64_to_float32_input_needs_allow_input_downcast():
    x = kt.fvector("x")
    f = kiln.function([x], x * 2)
    with pytest.raises(TypeError, match=r"input 0 \(x.*allow_input_downcast"):
        f(np.array([0.1, 0.2]))
    g = kiln.function([x], x * 2, allow_input_downcast=True)
    out = g(np.array([0.1, 0.2]))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([0.1, 0.2], dtype=np.float32) * np.float32(2))


def test_python_floats_to_float32_inputs_are_accepted():
    s, v = kt.fscalar("s"), kt.fvector("v")
    f = kiln.function([s], s * 2)
    out = f(0.1)  # weak Python float (NEP 50): takes the input's dtype, rounded
    assert out.dtype == np.float32 and out == np.float32(0.1) * np.float32(2)
    g = kiln.function([v], v + 1)
    out = g([1.5, 2.0])  # a list whose values are exact in float32
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([2.5, 3.0], dtype=np.float32))
    with pytest.raises(TypeError, match="input 0"):
        f(1e300)  # overflows float32: refused rather than turned into inf


def test_python_floats_follow_floatx_for_lists(float32_config):
    v = kt.fvector("v")
    out = kiln.function([v], v + 1)([0.1, 0.2])
    np.testing.assert_array_equal(out, np.array([0.1, 0.2], dtype=np.float32) + np.float32(1))


def test_safe_upcast_and_python_ints_are_accepted():
    x = kt.dvector("x")
    f = kiln.function([x], x * 2)
    out = f(np.array([1, 2], dtype=np.int32))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [2.0, 4.0])
    i = kt.vector("i", dtype="int8")
    g = kiln.function([i], i + 1)
    np.testing.assert_array_equal(g([1, 2]), np.array([2, 3], dtype=np.int8))
    with pytest.raises(TypeError, match="input 0"):
        g([1000])  # not representable in int8


def test_trust_input_skips_validation():
    x = kt.vector("x")
    f = kiln.function([x], x * 2, trust_input=True)
    np.testing.assert_array_equal(f(np.array([1.0, 2.0])), [2.0, 4.0])


def test_bad_call_changes_nothing():
    w = kiln.shared(np.ones(2), name="w")
    v = kt.vector("v")
    f = kiln.function([v], (w * v).sum(), updates=[(w, w + v)])
    for bad in [lambda: f(np.zeros((2, 2))), lambda: f(), lambda: f(q=1), lambda: f(np.zeros(2), np.zeros(2))]:
        with pytest.raises(TypeError):
            bad()
        np.testing.assert_array_equal(w.get_value(), [1.0, 1.0])


def test_runtime_failure_leaves_shared_variables_untouched():
    w = kiln.shared(np.zeros(3), name="w")
    c = kiln.shared(np.array(0.0), name="count")
    v = kt.vector("v")
    f = kiln.function([v], (w * v).sum(), updates=[(c, c + 1), (w, w + v)])
    with pytest.raises(ValueError):
        f(np.ones(4))  # shape mismatch inside the graph: w * v fails
    np.testing.assert_array_equal(w.get_value(), np.zeros(3))
    assert c.get_value() == 0.0
    assert f(np.ones(3)) == 0.0
    np.testing.assert_array_equal(w.get_value(), np.ones(3))
    assert c.get_value() == 1.0


# -- graph problems at compile time --------------------------------------------------------------------
def test_unused_input_raise_warn_ignore():
    x, y = kt.vector("x"), kt.vector("y")
    with pytest.raises(UnusedInputError, match=r"input 1 \(y\)"):
        kiln.function([x, y], x + 1)
    with pytest.raises(ValueError):  # UnusedInputError is a ValueError
        kiln.function([x, y], x + 1, on_unused_input="raise")
    with pytest.warns(UserWarning, match=r"input 1 \(y\)"):
        f = kiln.function([x, y], x + 1, on_unused_input="warn")
    np.testing.assert_array_equal(f(np.zeros(2), np.zeros(5)), [1.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = kiln.function([x, y], x + 1, on_unused_input="ignore")
    np.testing.assert_array_equal(g(np.zeros(2), np.zeros(5)), [1.0, 1.0])
    with pytest.raises(ValueError, match="on_unused_input"):
        kiln.function([x], x, on_unused_input="sometimes")


def test_unused_input_default_follows_config():
    x, y = kt.vector("x"), kt.vector("y")
    with kiln.config.change_flags(on_unused_input="ignore"):
        f = kiln.function([x, y], x + 1)
    np.testing.assert_array_equal(f(np.zeros(1), np.zeros(1)), [1.0])


def test_input_used_only_by_an_update_is_used():
    w = kiln.shared(np.zeros(2))
    v = kt.vector("v")
    f = kiln.function([v], [], updates=[(w, v)])
    f(np.array([3.0, 4.0]))
    np.testing.assert_array_equal(w.get_value(), [3.0, 4.0])


def test_missing_input_error_names_the_variable():
    x, hidden = kt.vector("x"), kt.vector("hidden")
    with pytest.raises(kiln.MissingInputError, match="hidden") as info:
        kiln.function([x], x + hidden)
    assert info.value.variable is not None and info.value.variable.name == "hidden"
    w = kiln.shared(np.zeros(2))
    with pytest.raises(kiln.MissingInputError, match="hidden"):
        kiln.function([], [], updates=[(w, w + hidden)])


def test_output_that_is_not_a_variable():
    x = kt.vector("x")
    with pytest.raises(TypeError, match="output 1"):
        kiln.function([x], [x, object()])


def test_name_appears_in_errors_and_repr():
    x = kt.vector("x")
    f = kiln.function([x], x + 1, name="inc")
    assert "inc" in repr(f)
    with pytest.raises(TypeError, match="'inc'"):
        f()


def test_mode_by_name_and_unknown_mode():
    x = kt.vector("x")
    for mode in ["FAST_RUN", "FAST_COMPILE", "py", kiln.Mode(linker="py")]:
        np.testing.assert_array_equal(kiln.function([x], x * 3, mode=mode)(np.ones(2)), [3.0, 3.0])
    with pytest.raises(ValueError, match="unknown mode"):
        kiln.function([x], x, mode="NO_SUCH_MODE")


def test_maker_fgraph_is_the_compiled_graph():
    x = kt.vector("x")
    f = kiln.function([x], kt.exp(x))
    assert f.maker.fgraph is f.fgraph
    assert len(f.fgraph.inputs) == 1 and len(f.fgraph.outputs) == 1
    assert f.fgraph.inputs[0] is not x  # function() works on a clone


# -- threads ------------------------------------------------------------------------------------------------
def test_concurrent_calls_from_several_threads(rng):
    x = kt.matrix("x")
    y = (kt.tanh(x @ x.T) + 1).sum(axis=0) / x.shape[0]
    f = kiln.function([x], [y, x.max()])
    data = [rng.normal(size=(6, 5)) for _ in range(8)]
    expected = [((np.tanh(a @ a.T) + 1).sum(axis=0) / 6, a.max()) for a in data]

    def work(k: int) -> None:
        for rep in range(60):
            j = (k + rep) % len(data)
            got = f(data[j])
            np.testing.assert_allclose(got[0], expected[j][0], rtol=1e-12)
            assert got[1] == expected[j][1]

    run_in_threads(work, 4)


def test_an_intermediate_variable_as_input_cuts_the_graph():
    x = kt.vector("x")
    y = kt.exp(x)
    f = kiln.function([y], y * 2)  # y is given directly: exp is never computed
    np.testing.assert_array_equal(f(np.array([1.0, 2.0])), [2.0, 4.0])
    assert all(n.op != kt.exp for n in f.fgraph.apply_nodes)
    g = kiln.function([x, y], y * x)
    np.testing.assert_array_equal(g(np.ones(2), np.full(2, 3.0)), [3.0, 3.0])
