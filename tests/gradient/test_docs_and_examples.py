"""docs/gradients.md's examples run as doctests; the training examples learn."""
from __future__ import annotations

import doctest
import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_gradients_doc_examples_run():
    res = doctest.testfile(str(ROOT / "docs" / "gradients.md"), module_relative=False,
                           optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 10
    assert res.failed == 0


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_logistic_regression_example_learns():
    losses, acc = _load("logistic_regression").train(steps=60, verbose=False)
    assert losses[-1] < 0.5 * losses[0]
    assert all(b <= a + 1e-12 for a, b in zip(losses, losses[1:]))
    assert acc > 0.85


def test_mlp_example_learns():
    losses, acc = _load("mlp").train(steps=150, verbose=False)
    assert losses[-1] < 0.3 * losses[0]
    assert acc > 0.8
