"""Every script in examples/ runs to completion in a fresh process and prints a sensible result.

Scripts run with the repository on PYTHONPATH (so an installed copy of kiln is not needed, and
the working tree is what gets tested) and with this session's private KILN_CACHE_DIR.
"""
from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def run_script(path: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a Python script the way a user would, from the repository root."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env.setdefault("OMP_NUM_THREADS", "1")  # the test machine is shared
    return subprocess.run([sys.executable, str(path)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_examples_directory_has_a_real_program():
    names = {p.name for p in EXAMPLES}
    assert "forward_model.py" in names, names


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs_and_prints_a_finite_result(script: Path):
    proc = run_script(script)
    assert proc.returncode == 0, f"{script.name} exited {proc.returncode}:\n{proc.stderr[-4000:]}"
    out = proc.stdout.strip()
    assert out, f"{script.name} printed nothing"
    numbers = [float(m) for m in _NUMBER.findall(out)]
    assert numbers, f"{script.name} printed no numbers:\n{out}"
    assert all(math.isfinite(v) for v in numbers)
    assert not re.search(r"\b(nan|inf)\b", out, re.IGNORECASE), f"{script.name} printed a non-finite value:\n{out}"
    assert "Traceback" not in proc.stderr


def test_forward_model_matches_its_data():
    """The teacher network scores exactly 1 - (fraction of flipped labels); the student less."""
    proc = run_script(ROOT / "examples" / "forward_model.py")
    assert proc.returncode == 0, proc.stderr
    acc = dict(re.findall(r"^\s*(teacher|noisy student): accuracy ([0-9.]+)", proc.stdout, re.MULTILINE))
    assert set(acc) == {"teacher", "noisy student"}, proc.stdout
    flipped = float(re.search(r"flipped ([0-9.]+)%", proc.stdout).group(1)) / 100
    assert float(acc["teacher"]) == pytest.approx(1 - flipped, abs=1.5e-3)  # both printed rounded
    assert 0.5 < float(acc["noisy student"]) < float(acc["teacher"])
    assert "matches NumPy" in proc.stdout


# -- bench/: the runner and its workloads (correctness only; speed is never asserted) ---------------

def _bench_workloads():
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from bench.workloads import all_workloads

    return all_workloads()


def test_bench_has_the_issue_workloads():
    workloads = _bench_workloads()
    assert {"add_one", "elemwise_chain"} <= set(workloads)
    for w in workloads.values():
        assert "numpy" in w.builders and "kiln" in w.builders, w.name


@pytest.mark.parametrize("name", sorted(_bench_workloads()))
def test_bench_workload_kiln_matches_numpy(name):
    import numpy as np

    w = _bench_workloads()[name]
    inputs = w.make_inputs(np.random.default_rng(0))
    expected = w.builders["numpy"]()(*inputs)
    got = w.builders["kiln"]()(*inputs)
    if not isinstance(expected, (list, tuple)):  # workloads may return one array or several
        expected, got = [expected], [got]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        e = np.asarray(e)
        np.testing.assert_allclose(g, e, rtol=w.rtol, atol=w.rtol * np.max(np.abs(e), initial=0.0))


def test_bench_runner_end_to_end(tmp_path):
    """One tiny measurement per peer through the real runner: it writes well-formed JSON."""
    import json

    out = tmp_path / "bench.json"
    cmd = [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--only", "add_one",
           "--peers", "kiln,numpy", "--metrics", "call", "--json", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "add_one" in proc.stdout and "kiln" in proc.stdout
    doc = json.loads(out.read_text())
    cells = {(r["peer"], r["metric"]): r for r in doc["results"]}
    assert set(cells) == {("kiln", "call"), ("numpy", "call")}
    for rec in cells.values():
        assert "error" not in rec
        assert len(rec["samples"]) == 3 and all(s > 0 for s in rec["samples"])
        assert rec["median_s"] == sorted(rec["samples"])[1]
    assert doc["thread_env"]["OMP_NUM_THREADS"] == "1"


def test_bench_runner_rejects_unknown_workload():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--only", "nope", "--no-json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown workload" in proc.stderr and "add_one" in proc.stderr
