"""The cache with real compiled modules and several processes."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiln.linkers.c.compiler import have_compiler
from kiln.linkers.cache import ModuleCache

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")
REPO = Path(__file__).resolve().parents[3]

# A program with two C segments (a python-only integer pow sits between them).
_PROGRAM = r"""
import json, os, sys, time
from pathlib import Path
import numpy as np, kiln, kiln.tensor as kt
go = os.environ.get("KILN_TEST_GO")
if go:                                   # start line: wait until every racer is ready
    Path(go + "." + str(os.getpid())).write_text("ready")
    while not Path(go).exists():
        time.sleep(0.005)
x = kt.vector("x"); n = kt.vector("n", dtype="int64")
y = kt.exp(x) * 2 + 1
z = (n ** 2) + kt.cast(y, "int64")
f = kiln.function([x, n], [y.sum(), kt.maximum(z, 3)], mode=kiln.Mode(linker="c", rewrites="none"))
a, b = f(np.arange(4.0), np.arange(4))
from kiln.linkers.cache import get_cache
print(json.dumps({"sum": float(a), "max": b.tolist(), "session": get_cache().session}))
"""
_EXPECT_SUM = float(sum(2 * 2.718281828459045 ** k + 1 for k in range(4)))


def _env(cache: Path, **extra) -> dict:
    return dict(os.environ, KILN_CACHE_DIR=str(cache), PYTHONPATH=str(REPO), **extra)


def _run(cache: Path, **extra) -> dict:
    res = subprocess.run([sys.executable, "-c", _PROGRAM], env=_env(cache, **extra), capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert abs(out["sum"] - _EXPECT_SUM) < 1e-9
    return out


def test_second_process_compiles_nothing(tmp_path):
    cache = tmp_path / "c"
    first = _run(cache)
    st1 = ModuleCache(cache).stats()
    assert first["session"]["compiles"] == 2 and st1.compiles == 2   # two C segments
    second = _run(cache)
    st2 = ModuleCache(cache).stats()
    assert second["session"]["compiles"] == 0 and second["session"]["misses"] == 0
    assert st2.compiles == 2 and st2.hits == st1.hits + 2
    assert second == {**first, "session": second["session"]}


def test_eight_processes_racing_on_an_empty_cache(tmp_path):
    cache, go = tmp_path / "c", tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", _PROGRAM], env=_env(cache, KILN_TEST_GO=str(go)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(8)]
    deadline = time.monotonic() + 240
    while len(list(tmp_path.glob("go.*"))) < 8:     # all imported kiln and wait at the start line
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
        time.sleep(0.02)
    go.write_text("go")
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
        outs.append(json.loads(out.strip().splitlines()[-1]))
    assert all(abs(o["sum"] - _EXPECT_SUM) < 1e-9 for o in outs)
    c = ModuleCache(cache)
    st = c.stats()
    assert st.compiles == 2 == len(list(c.entries()))           # each module compiled exactly once
    assert sum(o["session"]["compiles"] for o in outs) == 2
    assert st.hits + st.misses == 16 and st.rebuilt == 0


def test_truncated_shared_object_is_detected_and_rebuilt(tmp_path):
    cache = tmp_path / "c"
    _run(cache)
    c = ModuleCache(cache)
    victim = next(c.entries()).path / "mod.so"
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 3])
    out = _run(cache)                            # would crash if it loaded the truncated file
    assert out["session"]["rebuilt"] == 1 and out["session"]["compiles"] == 1
    assert (next(e for e in c.entries() if e.path == victim.parent).path / "mod.so").read_bytes() == data
    assert c.stats().rebuilt == 1


def test_function_refuses_a_cache_writable_by_others(tmp_path):
    cache = tmp_path / "open"
    cache.mkdir()
    os.chmod(cache, 0o777)
    res = subprocess.run([sys.executable, "-c", _PROGRAM], env=_env(cache), capture_output=True, text=True,
                         timeout=300)
    assert res.returncode != 0
    assert "CacheLocationError" in res.stderr and "writable by group or others" in res.stderr
    assert not (cache / "modules").exists()     # nothing was written or loaded there
