"""The compat modules' docstring examples run and print what they say, and every public
function and class in them has a docstring."""
import doctest
import importlib
import inspect

import pytest

MODULES = ["kiln.tensor.compat_math", "kiln.tensor.compat_shape", "kiln.tensor.compat_pack",
           "kiln.tensor.compat_extra", "kiln.scalar.special_more"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0


@pytest.mark.parametrize("name", MODULES)
def test_public_names_have_docstrings(name):
    mod = importlib.import_module(name)
    missing = [attr for attr in mod.__all__
               if (inspect.isfunction(getattr(mod, attr)) or inspect.isclass(getattr(mod, attr)))
               and getattr(mod, attr).__module__ == name and not inspect.getdoc(getattr(mod, attr))]
    assert not missing, missing


def test_exported_from_kiln_tensor():
    import kiln.tensor as kt

    for name in MODULES[:4]:
        mod = importlib.import_module(name)
        for attr in mod.__all__:
            assert getattr(kt, attr) is getattr(mod, attr), attr
