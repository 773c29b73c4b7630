"""Time kiln against NumPy, PyTensor (C and Numba), JAX and PyTorch: `python bench/run.py`.

    python bench/run.py                  # every workload, every installed peer
    python bench/run.py --quick          # fewer repeats (a minute or two)
    python bench/run.py --only add_one   # one workload (repeat or comma-separate for several)
    python bench/run.py --peers kiln,numpy,jax
    python bench/run.py --list           # workloads and peers, and which peers are installed

Every measurement runs in a fresh process (bench/_child.py) with all thread pools pinned to one
thread. Metrics: "call" (median time per call, steady state), "call-2t" (the same with 2
threads, for workloads tagged "threads"), "compile-cold" (building the function plus its first
call in a fresh process with empty on-disk caches) and "compile-warm" (the same with the caches
a previous process filled); each process also reports its peak memory. The table shows each
peer's median time and the ratio kiln / peer (above 1: kiln is slower); the run ends with the
issue-6 targets, met or missed (bench/targets.py). Results, with every sample and the library
versions, go to bench/results/<timestamp>.json.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/run.py` puts bench/, not the repository, on the path
    sys.path.insert(0, str(ROOT))

from bench.peers import PEERS, THREAD_ENV, Peer, available, default_peers, threads_env  # noqa: E402
from bench.targets import import_time, summary  # noqa: E402
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


def child_env(peer: Peer, cache_dir: str | None, threads: int = 1) -> dict[str, str]:
    env = dict(os.environ)
    # an installed package has its .pyc files; without them every fresh process would
    # recompile the sources it imports, which is not what a user's warm start pays
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(threads_env(threads))
    env.update(peer.environment(cache_dir, threads))
    # the process itself is confined to `threads` CPUs (bench/_child.py), whatever the peer's
    # own thread pools do
    cpus = sorted(os.sched_getaffinity(0))[:threads]
    env["BENCH_CPUS"] = ",".join(map(str, cpus))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")]))
    return env


def measure(workload: Workload, peer: Peer, metric: str, settings: Settings,
            cache_dir: str | None, threads: int = 1) -> dict:
    """Run one measurement process; return its record (with "error" if it failed)."""
    cmd = [sys.executable, "-m", "bench._child", workload.name, peer.name, metric,
           "--repeats", str(settings.repeats), "--min-batch-s", str(settings.min_batch_s)]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=child_env(peer, cache_dir, threads), capture_output=True,
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
    is_call = metric in ("call", "call-2t")
    threads = 2 if metric == "call-2t" else 1
    rounds = settings.call_rounds if is_call else settings.compile_runs
    samples: dict[str, list[float]] = {p.name: [] for p in peers}
    cpu_samples: dict[str, list[float]] = {p.name: [] for p in peers}
    imports: dict[str, list[float]] = {p.name: [] for p in peers}
    rss: dict[str, list[int]] = {p.name: [] for p in peers}
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
                cache = {"call": f"{base}/{p.name}-call", "call-2t": f"{base}/{p.name}-call",
                         "compile-warm": f"{base}/{p.name}-warm",
                         "compile-cold": f"{base}/{p.name}-cold{k}"}[metric]
                rec = measure(workload, p, "call" if is_call else "compile", settings, cache, threads)
                if "error" in rec:
                    errors[p.name] = rec
                    continue
                samples[p.name] += rec["samples"]
                cpu_samples[p.name] += rec["cpu_samples"]
                imports[p.name].append(rec["import_s"])
                rss[p.name].append(rec.get("maxrss_bytes", 0))
    out = {}
    for p in peers:
        base_rec = {"workload": workload.name, "peer": p.name, "metric": metric}
        if p.name in errors:
            out[p.name] = summarize(base_rec | {"error": errors[p.name]["error"]}, [])
        else:
            out[p.name] = summarize(base_rec | {"import_s": statistics.median(imports[p.name]),
                                                "maxrss_bytes": int(statistics.median(rss[p.name])),
                                                "threads": threads, "processes": rounds},
                                    samples[p.name], cpu_samples[p.name])
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
          metrics_filter: set[str] | None = None, clock: str = "wall", ref: str = "kiln") -> str:
    """Text table: per workload and metric, each peer's median time and ref / peer.

    `ref` is the kiln peer the ratios are taken against. The wall-clock table also has a row
    "peak-memory" (max RSS of the call-measurement process; ratio ref / peer) and, for
    workloads measured with 2 threads, a row "2t-speedup" (1-thread time / 2-thread time).
    """
    key = "median_s" if clock == "wall" else "cpu_median_s"
    names = [p.name for p in peers]
    width = max(20, max(len(n) for n in names) + 2)
    lines = []

    def row(label: str, cells: list[str]) -> None:
        lines.append(("  " + label.ljust(14) + "".join(c.ljust(width) for c in cells)).rstrip())

    for w in workloads:
        lines.append(f"{w.name}: {w.description}")
        row("metric", names)
        for metric in metrics_of(w):
            if metrics_filter and metric not in metrics_filter:
                continue
            if metric == "call-2t" and clock != "wall":
                continue  # CPU time of 2 threads is their sum: not a speed
            kiln_t = results.get((w.name, ref, metric), {}).get(key)
            cells = []
            for p in peers:
                rec = results.get((w.name, p.name, metric))
                if rec is None:
                    cells.append("n/a")
                elif "error" in rec:
                    cells.append("error")
                else:
                    t = rec[key]
                    ratio = f" ({kiln_t / t:.3g}x)" if kiln_t and p.name != ref else ""
                    cells.append(fmt_time(t) + ratio)
            row(metric, cells)
        if clock == "wall" and any((w.name, n, "call") in results for n in names):
            mem = {n: results.get((w.name, n, "call"), {}).get("maxrss_bytes") for n in names}
            row("peak-memory", [("n/a" if not mem[n] else f"{mem[n] / 2**20:.0f} MB"
                                 + (f" ({mem[ref] / mem[n]:.3g}x)" if mem.get(ref) and n != ref else ""))
                                for n in names])
        if clock == "wall" and any((w.name, n, "call-2t") in results for n in names):
            cells = []
            for n in names:
                one = results.get((w.name, n, "call"), {}).get("median_s")
                two = results.get((w.name, n, "call-2t"), {}).get("median_s")
                cells.append(f"{one / two:.2f}x" if one and two else "n/a")
            row("2t-speedup", cells)
        lines.append("")
    lines.append(f"cells: median {'wall-clock' if clock == 'wall' else 'CPU'} time ({ref} time / peer "
                 f"time, above 1: {ref} is slower); n/a: the peer has no such step or no builder for "
                 f"this workload")
    if clock == "wall":
        lines.append("peak-memory: max RSS of the call-measurement process (imports included; "
                     f"{ref} / peer); 2t-speedup: 1-thread call time / 2-thread call time")
    return "\n".join(lines)


def metrics_of(w: Workload) -> list[str]:
    out = []
    for m in w.metrics:
        if m == "call":
            out += ["call", "call-2t"] if "threads" in w.tags else ["call"]
        else:
            out += ["compile-cold", "compile-warm"]
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
    ap.add_argument("--metrics", default=None,
                    help="comma-separated: call,call-2t,compile-cold,compile-warm")
    ap.add_argument("--ref", default="kiln", metavar="PEER",
                    help="the kiln peer the ratios are computed for (default: kiln)")
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
    # byte-compile kiln once, as an install does, so cold/warm starts do not include it
    import compileall

    compileall.compile_dir(str(ROOT / "kiln"), quiet=1)
    wanted = args.peers.split(",") if args.peers else default_peers()
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
    kiln_import = None
    if any(p.framework == "kiln" for p in peers):
        kiln_import = import_time("kiln", ROOT, runs=3 if args.quick else 7)
        print(f"  import kiln (fresh process, median of {len(kiln_import)}): "
              f"{fmt_time(statistics.median(kiln_import))}", flush=True)
    for w in workloads:
        for metric in metrics_of(w):
            if metrics_filter and metric not in metrics_filter:
                continue
            row = [p for p in peers
                   if p.framework in w.builders
                   and not (metric.startswith("compile") and p.framework in NO_COMPILE)
                   and (p.metrics is None or metric in p.metrics)]
            if not row:
                continue
            print(f"  {w.name} / {metric}: {', '.join(p.name for p in row)} ...", flush=True)
            for name, rec in run_metric(w, row, metric, settings).items():
                results[(w.name, name, metric)] = rec
                print(f"    {name:16} {rec['error'] if 'error' in rec else fmt_time(rec['median_s'])}")
    print()
    print("== wall-clock time")
    print(table(workloads, peers, results, metrics_filter, "wall", args.ref))
    # CPU time (this process and the compilers it ran) leaves out the time other jobs held the
    # core, so on a busy machine it is the steadier of the two for single-threaded work
    print("\n== CPU time")
    print(table(workloads, peers, results, metrics_filter, "cpu", args.ref))
    print("\n== issue 6 targets")
    print(summary(results, [p.name for p in peers if p.framework == "kiln"],
                  statistics.median(kiln_import) if kiln_import else None))
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
                        # BLAS-bound workloads (mlp_sgd, hvp) depend on which OpenBLAS kernels run:
                        # the environment may force a core type (this machine sets Haswell)
                        "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE"),
                        # other work on the machine skews timings; record how busy it was
                        "loadavg_before": load_before,
                        "loadavg_after": os.getloadavg() if hasattr(os, "getloadavg") else None},
            "versions": versions(),
            "thread_env": THREAD_ENV,
            "peers": {p.name: p.note for p in peers},
            "import_kiln_s": kiln_import,
            "skipped_peers": [p.name for p in skipped],
            "results": list(results.values()),
        }
        path.write_text(json.dumps(doc, indent=1))
        print(f"results written to {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
