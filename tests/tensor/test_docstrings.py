"""The runnable examples in kiln.tensor's and kiln.scalar's docstrings run and print what
they say (the test paths hold only tests/, so the modules' doctests are collected here)."""
import doctest
import importlib

import pytest

MODULES = ["kiln.tensor", "kiln.tensor.basic", "kiln.tensor.type", "kiln.tensor.elemwise",
           "kiln.tensor.math", "kiln.tensor.reduction", "kiln.tensor.blas", "kiln.tensor.shape",
           "kiln.tensor.subtensor", "kiln.tensor.join", "kiln.tensor.creation",
           "kiln.tensor.special", "kiln.tensor.variable", "kiln.scalar.basic", "kiln.scalar.math",
           "kiln.scalar.dtypes"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0


def test_public_functions_have_docstrings():
    import inspect

    missing = []
    for name in MODULES:
        mod = importlib.import_module(name)
        for attr, obj in vars(mod).items():
            if attr.startswith("_") or getattr(obj, "__module__", None) != name:
                continue
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and not inspect.getdoc(obj):
                missing.append(f"{name}.{attr}")
    assert not missing, missing
