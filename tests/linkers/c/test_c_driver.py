"""The elementwise driver lives in a library of its own (kiln/linkers/c/driver.py): built by
setup.py, or compiled once through the module cache; modules get its address when loaded.
Both builds give the same bits (the driver moves bytes; the arithmetic is in the modules)."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from kiln.linkers.c import driver

REPO = Path(__file__).resolve().parents[3]
SCRIPT = r"""
import sys, numpy as np, kiln, kiln.tensor as kt
x, c = kt.dmatrix("x"), kt.dcol("c")
v = np.random.default_rng(0).normal(size=(40, 30)); w = np.random.default_rng(1).normal(size=(40, 1))
f = kiln.function([x, c], kt.exp(x) * c + 1)
g = kiln.function([x], kt.sin(x.T) * 2)
with kiln.config.change_flags(threads=2, par_min=1):
    h = kiln.function([x], kt.tanh(x) - x)
np.save(sys.argv[1], np.stack([f(v, w), f(v[:, ::-2].repeat(2, axis=1), w), g(v).T, h(v)]))
"""


def _run(tmp_path: Path, flags: str, name: str) -> np.ndarray:
    out = tmp_path / f"{name}.npy"
    env = dict(os.environ, KILN_CACHE_DIR=str(tmp_path / name), KILN_FLAGS=flags, PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-c", SCRIPT, str(out)], env=env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    return np.load(out)


def test_cache_built_and_installed_drivers_give_the_same_bits(tmp_path):
    cached = _run(tmp_path, "c_driver=cache", "cache")
    v = np.random.default_rng(0).normal(size=(40, 30))
    w = np.random.default_rng(1).normal(size=(40, 1))
    np.testing.assert_allclose(cached[0], np.exp(v) * w + 1, rtol=1e-12)
    np.testing.assert_allclose(cached[3], np.tanh(v) - v, rtol=1e-12, atol=1e-15)
    if driver._prebuilt() is not None:   # the setup.py build (absent in a never-built tree)
        np.testing.assert_array_equal(_run(tmp_path, "", "installed"), cached)


def test_driver_source_is_self_contained():
    src = driver.driver_source()
    assert '#include "' not in src and "kiln_elemwise(" in src and "kiln_driver_desc_size" in src
