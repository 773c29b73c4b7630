"""The default linker: C where a compiler and a usable cache exist, else python with a warning."""
import os
import warnings

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.configuration import config
from kiln.linkers.c.compiler import have_compiler
from kiln.linkers.c.linker import CLinker
from kiln.linkers.cache import CacheLocationError
from kiln.linkers.python import PythonLinker


@pytest.mark.skipif(not have_compiler(), reason="no C compiler")
def test_auto_is_the_c_linker():
    with config.change_flags(linker="auto"):
        assert isinstance(kiln.Mode().make_linker(), CLinker)
        x = kt.vector("x")
        f = kiln.function([x], kt.exp(x) + 1)
    np.testing.assert_allclose(f(np.zeros(2)), [2.0, 2.0])


def test_auto_without_a_compiler_uses_python_with_a_one_line_warning():
    with config.change_flags(linker="auto", cc="no-such-compiler-xyz"):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            assert isinstance(kiln.Mode().make_linker(), PythonLinker)
    assert len(w) == 1 and "no C compiler" in str(w[0].message) and "\n" not in str(w[0].message)


@pytest.mark.skipif(not have_compiler(), reason="no C compiler")
def test_refused_cache_directory(tmp_path):
    bad = tmp_path / "shared"
    bad.mkdir()
    os.chmod(bad, 0o777)
    old = os.environ.get("KILN_CACHE_DIR")
    os.environ["KILN_CACHE_DIR"] = str(bad)
    try:
        with config.change_flags(linker="auto"):
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                assert isinstance(kiln.Mode().make_linker(), PythonLinker)   # auto falls back...
            assert len(w) == 1 and "writable by group or others" in str(w[0].message)
        x = kt.vector("x")
        with pytest.raises(CacheLocationError):                             # ... explicit "c" refuses
            kiln.function([x], kt.exp(x), mode=kiln.Mode(linker="c"))
    finally:
        if old is None:
            os.environ.pop("KILN_CACHE_DIR")
        else:
            os.environ["KILN_CACHE_DIR"] = old
