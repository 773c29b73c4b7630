"""printing.Print: prints its input when the node runs, returns it unchanged."""
import pickle

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.printing import Print

MODES = {"py": kiln.Mode(linker="py"), "default": None}


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_prints_each_call_and_passes_value(mode, capsys):
    x = kt.dmatrix("x")
    f = kiln.function([x], kt.exp(Print("x:", attrs=("shape", "sum"))(x)), mode=mode)
    v = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(f(v), np.exp(v))
    f(v[:1])
    assert capsys.readouterr().out.splitlines() == [
        "x: shape = (2, 3)", "x: sum = 15.0", "x: shape = (1, 3)", "x: sum = 3.0"]


def test_custom_global_fn_and_gradient_pass_through():
    seen = []
    x = kt.dvector("x")

    def record(op, value):
        seen.append((op.message, value.copy()))
    y = (Print("grad input", global_fn=record)(x) ** 2).sum()
    g = kiln.function([x], kiln.grad(y, x))
    np.testing.assert_allclose(g(np.array([1.0, -3.0])), [2.0, -6.0])
    assert seen and seen[-1][0] == "grad input"
    np.testing.assert_array_equal(seen[-1][1], [1.0, -3.0])


def test_unused_print_does_not_run_and_ops_compare_by_props(capsys):
    x = kt.dvector("x")
    Print("never")(x)                       # not part of what the function computes
    kiln.function([x], x + 1)(np.ones(2))
    assert capsys.readouterr().out == ""
    assert Print("a") == Print("a") and Print("a") != Print("b")
    assert Print("a", attrs=("shape",)) != Print("a")
    assert pickle.loads(pickle.dumps(Print("m"))) == Print("m")
