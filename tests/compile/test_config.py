"""kiln.config: KILN_FLAGS parsing, validation, change_flags."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.configuration import Config, _parse_flags


def test_parse_flags_known_unknown_and_bools():
    c = Config()
    _parse_flags("floatX=float32, linker = py ,check_outputs=off,,threads=4,cache_keep_failed=yes", c)
    assert c.floatX == "float32" and c.linker == "py" and c.check_outputs is False
    assert c.extra == {"threads": "4", "cache_keep_failed": "yes"}
    _parse_flags("check_outputs=1", c)
    assert c.check_outputs is True


@pytest.mark.parametrize("text, match", [
    ("floatX=float33", "floatX"),
    ("linker=fortran", "linker"),
    ("on_unused_input=sometimes", "on_unused_input"),
    ("check_outputs=maybe", "check_outputs"),
    ("floatX", "name=value"),
    ("=3", "missing setting name"),
])
def test_parse_flags_invalid_values_raise(text, match):
    with pytest.raises(ValueError, match=match):
        _parse_flags(text, Config())


def test_kiln_flags_environment_variable_in_a_fresh_process():
    code = ("import kiln, kiln.tensor as kt; x = kt.scalar('x'); "
            "print(kiln.config.floatX, x.dtype, kiln.config.extra.get('threads'), kiln.config.check_outputs)")
    env = dict(os.environ, KILN_FLAGS="floatX=float32,threads=2,check_outputs=false")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["float32", "float32", "2", "False"]
    env["KILN_FLAGS"] = "floatX=float128"
    bad = subprocess.run([sys.executable, "-c", "import kiln"], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "floatX" in bad.stderr


def test_assignment_is_validated():
    with pytest.raises(ValueError, match="floatX"):
        kiln.config.floatX = "float8"
    with pytest.raises(ValueError, match="check_outputs"):
        kiln.config.check_outputs = "yes"
    with pytest.raises(AttributeError, match="no setting 'flaotX'"):
        kiln.config.flaotX = "float32"
    assert kiln.config.floatX in ("float64", "float32", "float16")


def test_change_flags_sets_and_restores_even_on_error():
    before = kiln.config.floatX
    with kiln.config.change_flags(floatX="float32"):
        assert kiln.config.floatX == "float32"
        assert kt.scalar().dtype == "float32"
        assert kt.as_tensor_variable(1.5).dtype in ("float32", "float64")
    assert kiln.config.floatX == before
    with pytest.raises(RuntimeError):
        with kiln.config.change_flags(floatX="float16", on_unused_input="warn"):
            raise RuntimeError("boom")
    assert kiln.config.floatX == before and kiln.config.on_unused_input == "raise"


def test_change_flags_invalid_value_restores_the_others():
    before = (kiln.config.floatX, kiln.config.linker)
    with pytest.raises(ValueError):
        with kiln.config.change_flags(linker="py", floatX="nope"):
            pass
    assert (kiln.config.floatX, kiln.config.linker) == before


def test_change_flags_unknown_names_go_to_extra_and_are_restored():
    assert "my_room_setting" not in kiln.config.extra
    with kiln.config.change_flags(my_room_setting=3):
        assert kiln.config.extra["my_room_setting"] == 3
    assert "my_room_setting" not in kiln.config.extra


def test_check_outputs_flag_reaches_the_python_linker():
    from kiln.linkers.python import PythonLinker

    with kiln.config.change_flags(check_outputs=False):
        assert PythonLinker().check_outputs is False
    with kiln.config.change_flags(check_outputs=True):
        assert PythonLinker().check_outputs is True


def test_floatx_float32_makes_float_inputs_float32():
    with kiln.config.change_flags(floatX="float32"):
        x = kt.vector("x")
        f = kiln.function([x], x * 2)
        out = f([0.1, 0.2])
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.array([0.1, 0.2], dtype=np.float32) * np.float32(2))
