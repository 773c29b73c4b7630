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


ISSUE6_WORKLOADS = {
    "add_one", "sum_axis0", "sum_axis1", "logsumexp_axis1", "copy_matrix", "logreg_grad", "mlp_sgd",
    "mlp_sgd_f32", "hvp",
    *(f"{family}{dt}{n}" for family in ("elemwise_chain", "arith_chain", "copy")
      for dt in ("", "_f32") for n in ("", "_1e7")),
}


def test_bench_has_the_issue_workloads():
    workloads = _bench_workloads()
    assert ISSUE6_WORKLOADS <= set(workloads), ISSUE6_WORKLOADS - set(workloads)
    for w in workloads.values():
        assert "numpy" in w.builders, w.name
        # bandwidth references (np.copyto) are NumPy only; every other workload times kiln
        assert "kiln" in w.builders or "reference" in w.tags, w.name


def _small_inputs(w, rng):
    """The workload's inputs, cut to a few thousand elements where its graph allows any size
    (elementwise chains and reductions), so that the correctness check stays fast."""
    inputs = w.make_inputs(rng)
    if {"threads", "reference", "arithmetic", "transcendental"} & set(w.tags):
        return tuple(a[:4096] if a.ndim == 1 else a[:64, :48] for a in inputs)
    return inputs


@pytest.mark.parametrize("name", sorted(_bench_workloads()))
def test_bench_workload_kiln_matches_numpy(name):
    import numpy as np

    w = _bench_workloads()[name]
    if "kiln" not in w.builders:  # a bandwidth reference: checked by test_bench_copy_reference
        assert "reference" in w.tags
        return
    inputs = _small_inputs(w, np.random.default_rng(0))
    expected = w.builders["numpy"]()(*inputs)
    got = w.builders["kiln"]()(*inputs)
    if not isinstance(expected, (list, tuple)):  # workloads may return one array or several
        expected, got = [expected], [got]
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        e = np.asarray(e)
        np.testing.assert_allclose(g, e, rtol=w.rtol, atol=w.rtol * np.max(np.abs(e), initial=0.0))


def test_bench_copy_reference_copies_into_its_own_buffer():
    import numpy as np

    from bench.workloads.elemwise_chain import copy_builder

    f = copy_builder((7,), "float32")()
    x = np.arange(7, dtype=np.float32)
    out = f(x)
    assert out is not x and out.dtype == np.float32
    np.testing.assert_array_equal(out, x)
    assert f(x + 1) is out  # the same buffer every call: only the copy is timed


def test_bench_mlp_step_updates_like_numpy():
    """Two SGD steps: the second call's loss depends on the first call's updates."""
    import numpy as np

    w = _bench_workloads()["mlp_sgd"]
    x, Y = w.make_inputs(np.random.default_rng(0))
    x, Y = x[:16], Y[:16]
    ref, mine = w.builders["numpy"](), w.builders["kiln"]()
    (l1, _), (k1, _) = ref(x, Y), mine(x, Y)
    (l2, g2), (k2, h2) = ref(x, Y), mine(x, Y)
    assert l2 < l1  # a step downhill on the same batch
    np.testing.assert_allclose([k1, k2], [l1, l2], rtol=1e-10)
    np.testing.assert_allclose(h2, g2, rtol=1e-8, atol=1e-12)


def test_bench_targets_summary_reads_ratios():
    """The issue-6 summary: met/missed from synthetic medians, with the ratio that decided it."""
    from bench.targets import checks, summary

    def rec(t, rss=None):
        return {"median_s": t, **({"maxrss_bytes": rss} if rss else {})}

    results = {
        ("add_one", "kiln", "call"): rec(1.5e-6, 100), ("add_one", "pytensor-c", "call"): rec(4e-6, 200),
        ("arith_chain", "kiln", "call"): rec(1.2e-3), ("copy", "numpy", "call"): rec(1.0e-3),
        ("sum_axis0", "kiln", "call"): rec(20e-3), ("sum_axis0", "kiln", "call-2t"): rec(10e-3),
        ("copy_matrix", "numpy", "call"): rec(40e-3),
        ("hvp", "kiln", "call"): rec(2e-3), ("hvp", "jax", "call"): rec(3e-3),
        ("hvp", "torch", "call"): rec(1e-3), ("hvp", "pytensor-c", "call"): {"error": "boom"},
        ("mlp_sgd", "kiln", "compile-cold"): rec(2.0), ("mlp_sgd", "pytensor-c", "compile-cold"): rec(23.0),
    }
    got = {(c.target, c.workload): c for c in checks(results, "kiln", import_s=0.3)}
    assert got[("x + 1 call overhead <= 2 us", "add_one")].ok
    assert got[("peak memory <= PyTensor C's", "add_one")].ok
    assert not got[(">= 90% of np.copyto bandwidth", "arith_chain")].ok  # 1.0 / 1.2 = 83%
    assert "83%" in got[(">= 90% of np.copyto bandwidth", "arith_chain")].detail
    assert got[(">= 90% of copy bandwidth (read-only)", "sum_axis0")].ok  # 40 / (2 * 20) = 100%
    assert got[("2 threads >= 1.7x faster than 1", "sum_axis0")].ok
    fastest = got[("at least as fast as the fastest peer", "hvp")]
    assert not fastest.ok and "torch" in fastest.detail and "2x" in fastest.detail
    assert not got[("cold compile <= 1.5 s", "mlp_sgd")].ok
    assert got[("cold compile <= 1/10 of PyTensor C", "mlp_sgd")].ok  # 2 / 23
    assert not got[("import kiln < 0.25 s", "-")].ok
    text = summary(results, ["kiln"], 0.3)
    assert "MISSED x + 1" not in text and "MET    x + 1 call overhead" in text
    assert "miss arith_chain: 83%" in text


def test_bench_thread_environment():
    from bench.peers import THREAD_ENV, get_peer, threads_env

    assert threads_env(1) == THREAD_ENV and THREAD_ENV["OMP_NUM_THREADS"] == "1"
    two = threads_env(2)
    assert two["OMP_NUM_THREADS"] == two["BENCH_THREADS"] == "2"
    assert "intra_op_parallelism_threads=2" in two["XLA_FLAGS"]
    env = get_peer("kiln-c").environment("/tmp/c", threads=2)
    assert env["KILN_FLAGS"] == "linker=c,threads=2" and env["KILN_CACHE_DIR"] == "/tmp/c/kiln"
    assert "openmp=True" in get_peer("pytensor-c").environment(None, threads=2)["PYTENSOR_FLAGS"]
    jax = get_peer("jax").environment("/tmp/c")
    assert jax["JAX_COMPILATION_CACHE_DIR"] == "/tmp/c/jax"
    assert jax["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] == "0"  # small programs are cached too
    assert "JAX_COMPILATION_CACHE_DIR" not in get_peer("jax-nocache").environment("/tmp/c")


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
        assert rec["maxrss_bytes"] > 10 * 2**20  # an interpreter with NumPy: tens of MB at least
    assert doc["thread_env"]["OMP_NUM_THREADS"] == "1"
    assert "== issue 6 targets" in proc.stdout and "x + 1 call overhead" in proc.stdout
    assert len(doc["import_kiln_s"]) == 3 and all(t > 0 for t in doc["import_kiln_s"])


def test_bench_runner_rejects_unknown_workload():
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--only", "nope", "--no-json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "unknown workload" in proc.stderr and "add_one" in proc.stderr
