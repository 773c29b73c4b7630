"""The targets of issue 6, checked against a run's results: `summary(results, kiln_peers)`.

Each target is a rule over the measured medians (wall clock) of one run, so every ratio compares
numbers taken side by side on the same machine at the same time. A target whose measurements are
missing (a peer not installed, a workload not selected, an error) is reported as "not measured",
never as met.

Bandwidth conventions (stated in the output too): ``np.copyto`` moves 2 bytes per input byte
(one read, one write), as STREAM's "copy" counts it. The arithmetic chain moves the same bytes as
a copy, so its bandwidth fraction is t_copy / t_chain. A sum only reads, so its bandwidth fraction
is (B / t_sum) / (2 B / t_copy) = t_copy / (2 t_sum).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["import_time", "summary", "Check"]

#: (chain workload, its copy reference) for the arithmetic-chain bandwidth target
ARITH_PAIRS = [(f"arith_chain{s}", f"copy{s}") for s in ("", "_1e7", "_f32", "_f32_1e7")]
TRANS = [f"elemwise_chain{s}" for s in ("", "_1e7", "_f32", "_f32_1e7")]
SUMS = ["sum_axis0", "sum_axis1"]
MODELS = ["logreg_grad", "mlp_sgd", "mlp_sgd_f32", "hvp"]
MODEL_PEERS = ["jax", "torch", "pytensor-c", "pytensor-numba"]


@dataclass(frozen=True)
class Check:
    """One target on one workload: `ok` is None when it could not be measured."""

    target: str
    workload: str
    ok: bool | None
    detail: str


def import_time(module: str, root: Path, runs: int = 5) -> list[float]:
    """Seconds to `import module` in `runs` fresh interpreters (the repository first on the path).

    >>> ts = import_time("json", Path("."), runs=1); len(ts) == 1 and ts[0] > 0
    True
    """
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH", "")]))
    out = []
    for _ in range(runs):
        proc = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True,
                              text=True, timeout=120)
        if proc.returncode != 0:
            raise RuntimeError(f"import {module} failed: {proc.stderr.strip().splitlines()[-1:]}")
        out.append(float(proc.stdout.strip().splitlines()[-1]))
    return out


def _t(results: dict, workload: str, peer: str, metric: str) -> float | None:
    rec = results.get((workload, peer, metric))
    return None if rec is None or "error" in rec else rec.get("median_s")


def _fmt(s: float) -> str:
    return f"{s * 1e6:.3g} us" if s < 1e-3 else f"{s * 1e3:.3g} ms" if s < 1 else f"{s:.3g} s"


def checks(results: dict, kiln: str, import_s: float | None = None) -> list[Check]:
    """Every issue-6 target for the kiln peer `kiln`, one Check per (target, workload)."""
    out: list[Check] = []
    workloads = sorted({w for (w, _, _) in results})

    def add(target, workload, ok, detail):
        out.append(Check(target, workload, ok, detail))

    for w in workloads:
        cold = _t(results, w, kiln, "compile-cold")
        if cold is not None:
            add("cold compile <= 1.5 s", w, cold <= 1.5, _fmt(cold))
            ptc = _t(results, w, "pytensor-c", "compile-cold")
            if ptc is not None:
                add("cold compile <= 1/10 of PyTensor C", w, cold <= ptc / 10,
                    f"{cold / ptc:.3g}x of {_fmt(ptc)}")
        warm = _t(results, w, kiln, "compile-warm")
        if warm is not None:
            add("warm start <= 0.1 s", w, warm <= 0.1, _fmt(warm))
            jw = _t(results, w, "jax", "compile-warm")
            if jw is not None:
                add("warm start faster than JAX with its cache", w, warm < jw,
                    f"{warm / jw:.3g}x of {_fmt(jw)}")
        mine = results.get((w, kiln, "call"), {}).get("maxrss_bytes")
        theirs = results.get((w, "pytensor-c", "call"), {}).get("maxrss_bytes")
        if mine and theirs and "error" not in results[(w, kiln, "call")]:
            add("peak memory <= PyTensor C's", w, mine <= theirs,
                f"{mine / 2**20:.0f} MB vs {theirs / 2**20:.0f} MB ({mine / theirs:.3g}x)")
        one, two = _t(results, w, kiln, "call"), _t(results, w, kiln, "call-2t")
        if one is not None and two is not None:
            add("2 threads >= 1.7x faster than 1", w, one / two >= 1.7, f"{one / two:.2f}x")

    t = _t(results, "add_one", kiln, "call")
    if t is not None:
        add("x + 1 call overhead <= 2 us", "add_one", t <= 2e-6, _fmt(t))
    for chain, copy in ARITH_PAIRS:
        tc, tr = _t(results, chain, kiln, "call"), _t(results, copy, "numpy", "call")
        if tc is not None and tr is not None:
            add(">= 90% of np.copyto bandwidth", chain, tr / tc >= 0.9, f"{tr / tc:.0%}")
    for w in TRANS + ["logsumexp_axis1"]:
        tk, tj = _t(results, w, kiln, "call"), _t(results, w, "jax", "call")
        if tk is not None and tj is not None:
            add("at least as fast as JAX", w, tk <= tj, f"{tk / tj:.3g}x of {_fmt(tj)}")
    tr = _t(results, "copy_matrix", "numpy", "call")
    for w in SUMS:
        ts = _t(results, w, kiln, "call")
        if ts is not None and tr is not None:
            add(">= 90% of copy bandwidth (read-only)", w, tr / (2 * ts) >= 0.9, f"{tr / (2 * ts):.0%}")
    for w in MODELS:
        tk = _t(results, w, kiln, "call")
        peers = {p: _t(results, w, p, "call") for p in MODEL_PEERS}
        peers = {p: v for p, v in peers.items() if v is not None}
        if tk is not None and peers:
            best = min(peers, key=peers.get)
            add("at least as fast as the fastest peer", w, tk <= peers[best],
                f"{tk / peers[best]:.3g}x of {best} {_fmt(peers[best])}")
    if import_s is not None:
        add("import kiln < 0.25 s", "-", import_s < 0.25, _fmt(import_s))
    return out


def summary(results: dict, kiln_peers: list[str], import_s: float | None = None) -> str:
    """Text: per kiln peer and target, met/missed counts and every miss with its measured ratio
    (every workload, met or not, when the target covers four workloads or fewer)."""
    lines = ["(wall-clock medians of this run; np.copyto counts as read + write, a sum as read only)"]
    for kiln in kiln_peers:
        lines.append(f"{kiln}:")
        cs = checks(results, kiln, import_s)
        if not cs:
            lines.append("  nothing measured")
        by_target: dict[str, list[Check]] = {}
        for c in cs:
            by_target.setdefault(c.target, []).append(c)
        for target, group in by_target.items():
            met = [c for c in group if c.ok]
            missed = [c for c in group if c.ok is False]
            status = "MET   " if not missed else "MISSED"
            lines.append(f"  {status} {target}: met on {len(met)} of {len(group)} workload(s)")
            for c in group if len(group) <= 4 else missed:
                lines.append(f"           {'ok  ' if c.ok else 'miss'} {c.workload}: {c.detail}")
    return "\n".join(lines)


if __name__ == "__main__":  # `python bench/targets.py RESULTS.json`: the summary of a saved run
    import json

    doc = json.loads(Path(sys.argv[1]).read_text())
    res = {(r["workload"], r["peer"], r["metric"]): r for r in doc["results"]}
    kilns = sorted({r["peer"] for r in doc["results"] if r["peer"].startswith("kiln")})
    imp = doc.get("import_kiln_s")
    print(summary(res, kilns, statistics.median(imp) if imp else None))
