"""docs/sparse.md and the docstring examples of kiln.sparse run as doctests."""
import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = ["kiln.sparse", "kiln.sparse._scipy", "kiln.sparse.type", "kiln.sparse.basic", "kiln.sparse.math",
           "kiln.sparse.elemwise", "kiln.sparse.subtensor"]


def test_doc_page():
    res = doctest.testfile(str(ROOT / "docs/sparse.md"), module_relative=False,
                           optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted >= 8 and res.failed == 0


@pytest.mark.parametrize("name", MODULES)
def test_module_docstrings(name):
    res = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0
