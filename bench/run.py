"""Time kiln against NumPy, PyTensor (C and Numba), JAX and PyTorch: `python bench/run.py`.

    python bench/run.py                  # every workload, every installed peer
    python bench/run.py --quick          # fewer repeats (a minute or two)
    python bench/run.py --only add_one   # one workload (repeat or comma-separate for several)
    python bench/run.py --peers kiln,numpy,jax
    python bench/run.py --list           # workloads and peers, and which peers are installed

Every measurement runs in a fresh process (bench/_child.py) with all thread pools pinned to one
thread. Metrics: "call" (median time per call, steady state), "compile-cold" (building the
function plus its first call in a fresh process with empty on-disk caches) and "compile-warm"
(the same with the caches a previous process filled). The table shows each peer's median time
and the ratio kiln / peer (above 1: kiln is slower). Results, with every sample and the library
versions, go to bench/results/<timestamp>.json.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/run.py` puts bench/, not the repository, on the path
    sys.path.insert(0, str(ROOT))

from bench.peers import PEERS, THREAD_ENV, Peer, available  # noqa: E402
from bench.workloads import Workload, all_workloads  # noqa: E402

RESULTS_DIR = ROOT / "bench" / "results"
#: frameworks without a compile step: their "compile" time would only measure a lambda
NO_COMPILE = {"numpy", "torch"}


@dataclass(frozen=True)
class Settings:
    repeats: int = 5          # call: timed batches per process
    call_rounds: int = 3      # call: processes per peer (interleaved with the other peers')
    min_batch_s: float = 0.2  # call: shortest timed batch
    compile_runs: int = 3     # compile: processes per peer per cold/warm measurement
    timeout_s: float = 900.0  # one measurement process

    @classmethod
    def quick(cls) -> "Settings":
        return cls(repeats=3, call_rounds=1, min_batch_s=0.03, compile_runs=1, timeout_s=600.0)


def child_env(peer: Peer, cache_dir: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(THREAD_ENV)
    env.update(peer.environment(cache_dir))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return env


def measure(workload: Workload, peer: Peer, metric: str, settings: Settings,
            cache_dir: str | None) -> dict:
    """Run one measurement process; return its record (with "error" if it failed)."""
    cmd = [sys.executable, "-m", "bench._child", workload.name, peer.name, metric,
           "--repeats", str(settings.repeats), "--min-batch-s", str(settings.min_batch_s)]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=child_env(peer, cache_dir), capture_output=True,
                              text=True, timeout=settings.timeout_s)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {settings.timeout_s:.0f}s"}
    lines = proc.stdout.strip().splitlines()
    try:
        record = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: {' | '.join(tail) or 'no output'}"}
    if proc.returncode != 0 and "error" not in record:
        record["error"] = f"exit {proc.returncode}"
    return record


def run_metric(workload: Workload, peers: list[Peer], metric: str, settings: Settings) -> dict:
    """One table row: {peer name: record}, measured in rounds that interleave the peers.

    Each round runs one fresh process per peer, one peer after the other; a cell is the median
    over all rounds. Interleaving spreads any change in the machine's load (other jobs starting
    or stopping) over every peer instead of penalizing whichever peer ran during it.
    """
    rounds = settings.call_rounds if metric == "call" else settings.compile_runs
    samples: dict[str, list[float]] = {p.name: [] for p in peers}
    cpu_samples: dict[str, list[float]] = {p.name: [] for p in peers}
    imports: dict[str, list[float]] = {p.name: [] for p in peers}
    errors: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="kiln-bench-") as base:
        if metric == "compile-warm":  # fill each peer's caches in a process that is not timed
            for p in peers:
                warm = measure(workload, p, "compile", settings, f"{base}/{p.name}-warm")
                if "error" in warm:
                    errors[p.name] = warm
        for k in range(rounds):
            for p in peers:
                if p.name in errors:
                    continue
                cache = {"call": f"{base}/{p.name}-call", "compile-warm": f"{base}/{p.name}-warm",
                         "compile-cold": f"{base}/{p.name}-cold{k}"}[metric]
                rec = measure(workload, p, "call" if metric == "call" else "compile", settings, cache)
                if "error" in rec:
                    errors[p.name] = rec
                    continue
                samples[p.name] += rec["samples"]
                cpu_samples[p.name] += rec["cpu_samples"]
                imports[p.name].append(rec["import_s"])
    out = {}
    for p in peers:
        base_rec = {"workload": workload.name, "peer": p.name, "metric": metric}
        if p.name in errors:
            out[p.name] = summarize(base_rec | {"error": errors[p.name]["error"]}, [])
        else:
            out[p.name] = summarize(base_rec | {"import_s": statistics.median(imports[p.name]),
                                                "processes": rounds}, samples[p.name], cpu_samples[p.name])
    return out


def summarize(record: dict, samples: list[float], cpu_samples: list[float] = ()) -> dict:
    """Add medians: "median_s" (wall clock) and "cpu_median_s" (CPU time) to a record."""
    out = dict(record)
    out["samples"] = samples
    out["cpu_samples"] = list(cpu_samples)
    if samples and "error" not in out:
        out["median_s"] = statistics.median(samples)
        out["min_s"] = min(samples)
    if cpu_samples and "error" not in out:
        out["cpu_median_s"] = statistics.median(cpu_samples)
    return out


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds} s"


def table(workloads: list[Workload], peers: list[Peer], results: dict,
          metrics_filter: set[str] | None = None, clock: str = "wall") -> str:
    """Text table: per workload and metric, each peer's median time and kiln / peer."""
    key = "median_s" if clock == "wall" else "cpu_median_s"
    names = [p.name for p in peers]
    width = 20
    lines = []
    for w in workloads:
        lines.append(f"{w.name}: {w.description}")
        lines.append(("  " + "metric".ljust(14) + "".join(n.ljust(width) for n in names)).rstrip())
        for metric in metrics_of(w):
            if metrics_filter and metric not in metrics_filter:
                continue
            kiln_t = results.get((w.name, "kiln", metric), {}).get(key)
            cells = []
            for p in peers:
                rec = results.get((w.name, p.name, metric))
                if rec is None:
                    cells.append("n/a")
                elif "error" in rec:
                    cells.append("error")
                else:
                    t = rec[key]
                    ratio = f" ({kiln_t / t:.3g}x)" if kiln_t and p.name != "kiln" else ""
                    cells.append(fmt_time(t) + ratio)
            lines.append(("  " + metric.ljust(14) + "".join(c.ljust(width) for c in cells)).rstrip())
        lines.append("")
    lines.append(f"cells: median {'wall-clock' if clock == 'wall' else 'CPU'} time (kiln time / peer "
                 f"time); n/a: the peer has no such step or no builder for this workload")
    return "\n".join(lines)


def metrics_of(w: Workload) -> list[str]:
    out = []
    for m in w.metrics:
        out += ["call"] if m == "call" else ["compile-cold", "compile-warm"]
    return out


def versions() -> dict[str, str | None]:
    from importlib import metadata

    out: dict[str, str | None] = {"python": platform.python_version()}
    for dist in ("numpy", "scipy", "pytensor", "numba", "jax", "jaxlib", "torch"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        out["kiln"] = f"{rev}{'+dirty' if dirty else ''}" if rev else None
    except (OSError, subprocess.SubprocessError):
        out["kiln"] = None
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer repeats, one process per compile metric")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="run only these workloads (repeatable, or comma-separated)")
    ap.add_argument("--peers", default=None, help="comma-separated peers (default: all installed)")
    ap.add_argument("--metrics", default=None, help="comma-separated: call,compile-cold,compile-warm")
    ap.add_argument("--list", action="store_true", help="list workloads and peers, then exit")
    ap.add_argument("--json", default=None, metavar="PATH", help="where to write the JSON results "
                    "(default: bench/results/<timestamp>.json)")
    ap.add_argument("--no-json", action="store_true", help="do not write JSON")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    catalog = all_workloads()
    if args.list:
        for w in catalog.values():
            print(f"{w.name:18} {w.description}  [{', '.join(metrics_of(w))}]")
        for p in PEERS.values():
            print(f"peer {p.name:16} {'installed' if available(p) else 'not installed':14} {p.note}")
        return 0

    only = [n for item in args.only for n in item.split(",") if n]
    unknown = [n for n in only if n not in catalog]
    if unknown:
        print(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(catalog)}", file=sys.stderr)
        return 2
    workloads = [catalog[n] for n in only] if only else list(catalog.values())
    wanted = args.peers.split(",") if args.peers else list(PEERS)
    bad = [n for n in wanted if n not in PEERS]
    if bad:
        print(f"unknown peer(s) {', '.join(bad)}; known: {', '.join(PEERS)}", file=sys.stderr)
        return 2
    peers, skipped = [], []
    for name in wanted:
        (peers if available(PEERS[name]) else skipped).append(PEERS[name])
    metrics_filter = set(args.metrics.split(",")) if args.metrics else None
    settings = Settings.quick() if args.quick else Settings()

    for p in skipped:
        print(f"note: skipping {p.name} ({p.module} is not installed)")
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    results: dict[tuple[str, str, str], dict] = {}
    for w in workloads:
        for metric in metrics_of(w):
            if metrics_filter and metric not in metrics_filter:
                continue
            row = [p for p in peers
                   if p.framework in w.builders and not (metric != "call" and p.framework in NO_COMPILE)]
            print(f"  {w.name} / {metric}: {', '.join(p.name for p in row)} ...", flush=True)
            for name, rec in run_metric(w, row, metric, settings).items():
                results[(w.name, name, metric)] = rec
                print(f"    {name:16} {rec['error'] if 'error' in rec else fmt_time(rec['median_s'])}")
    print()
    print("== wall-clock time")
    print(table(workloads, peers, results, metrics_filter, "wall"))
    # CPU time (this process and the compilers it ran) leaves out the time other jobs held the
    # core, so on a busy machine it is the steadier of the two for single-threaded work
    print("\n== CPU time")
    print(table(workloads, peers, results, metrics_filter, "cpu"))
    errors = [(k, r["error"]) for k, r in results.items() if "error" in r]
    for (wname, pname, metric), msg in errors:
        print(f"error: {wname} / {metric} / {pname}: {msg}")

    if not args.no_json:
        stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
        path = Path(args.json) if args.json else RESULTS_DIR / f"bench-{stamp}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "created_utc": stamp,
            "settings": settings.__dict__ | {"quick": args.quick},
            "machine": {"platform": platform.platform(), "processor": platform.processor(),
                        "cpu_count": os.cpu_count(),
                        # other work on the machine skews timings; record how busy it was
                        "loadavg_before": load_before,
                        "loadavg_after": os.getloadavg() if hasattr(os, "getloadavg") else None},
            "versions": versions(),
            "thread_env": THREAD_ENV,
            "peers": {p.name: p.note for p in peers},
            "skipped_peers": [p.name for p in skipped],
            "results": list(results.values()),
        }
        path.write_text(json.dumps(doc, indent=1))
        print(f"results written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
