"""kiln.tensor.exceptions (PyTensor's pytensor.tensor.exceptions): the three classes, their base
classes, and `except kiln.tensor.exceptions.X` catching what kiln raises in those situations."""
import subprocess
import sys

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.tensor import exceptions as kexc
from kiln.tensor.subtensor import INT, Subtensor

NAMES = ["NotScalarConstantError", "ShapeError", "AdvancedIndexingError"]


@pytest.mark.parametrize("name", NAMES)
def test_builtin_bases_match_pytensor(name):
    """Every built-in exception PyTensor's class derives from, kiln's derives from too (kiln's
    NotScalarConstantError is also a ValueError, as it was before this module existed)."""
    pytest.importorskip("pytensor")
    import pytensor.tensor.exceptions as pexc

    theirs = {c for c in getattr(pexc, name).__mro__ if c.__module__ == "builtins"}
    mine = {c for c in getattr(kexc, name).__mro__ if c.__module__ == "builtins"}
    assert theirs <= mine, (theirs, mine)


def test_bases_without_pytensor():
    assert issubclass(kexc.ShapeError, Exception) and not issubclass(kexc.ShapeError, (ValueError, TypeError))
    assert issubclass(kexc.AdvancedIndexingError, TypeError)
    assert issubclass(kexc.NotScalarConstantError, Exception)


def test_not_scalar_constant_error_is_the_one_kiln_raises():
    from kiln.tensor.compat_shape import NotScalarConstantError

    assert kexc.NotScalarConstantError is NotScalarConstantError
    with pytest.raises(kexc.NotScalarConstantError, match="not a constant"):
        kt.get_scalar_constant_value(kt.dscalar("s"))
    assert kt.get_scalar_constant_value(kt.constant(2.5)) == 2.5


def test_shape_error_catches_a_static_shape_mismatch():
    x = kt.tensor("x", dtype="float64", shape=(3,))
    f = kiln.function([x], x * 2)
    with pytest.raises(kexc.ShapeError, match=r"does not match the static shape \(3,\)"):
        f(np.zeros(2))
    with pytest.raises(ValueError):               # the old base class still catches it
        f(np.zeros(4))
    with pytest.raises(kexc.ShapeError):
        kt.TensorType("float32", (None, 2)).filter(np.zeros((3, 3), dtype="float32"))
    np.testing.assert_array_equal(f(np.ones(3)), [2.0, 2.0, 2.0])


def test_advanced_indexing_error_for_an_array_index_to_basic_indexing():
    v, i = kt.dvector("v"), kt.lvector("i")
    with pytest.raises(kexc.AdvancedIndexingError, match="basic indices must be integer scalars"):
        Subtensor((INT,))(v, i)
    with pytest.raises(IndexError):               # the old base class still catches it
        Subtensor((INT,))(v, i)
    # a float scalar is a bad index but no advanced one: a plain IndexError, as before
    with pytest.raises(IndexError) as info:
        Subtensor((INT,))(v, kt.dscalar("f"))
    assert not isinstance(info.value, kexc.AdvancedIndexingError)
    # the user-facing spelling dispatches to advanced indexing instead of raising
    np.testing.assert_array_equal(v[i].eval({v: np.array([1.0, 2.0, 3.0]), i: np.array([2, 0])}), [3.0, 1.0])


def test_star_import_and_dir():
    ns: dict = {}
    exec("from kiln.tensor.exceptions import *", ns)
    assert {n for n in ns if not n.startswith("__")} == set(NAMES)
    assert set(NAMES) <= set(dir(kexc))
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        kexc.Nope  # noqa: B018


def test_first_import_in_a_fresh_interpreter():
    """The module can be the first thing a program imports (it is imported by kiln.tensor.type)."""
    code = ("from kiln.tensor.exceptions import NotScalarConstantError, ShapeError, AdvancedIndexingError; "
            "import kiln.tensor as kt; from kiln.tensor.type import ShapeMismatchError; "
            "print(issubclass(ShapeMismatchError, ShapeError), NotScalarConstantError.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "NotScalarConstantError"]


def test_docstring_examples():
    import doctest

    res = doctest.testmod(kexc)
    assert res.failed == 0 and res.attempted > 0
