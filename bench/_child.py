"""One measurement, in its own process: `python -m bench._child WORKLOAD PEER METRIC [options]`.

Prints one JSON object on the last line of stdout. Started by bench/run.py with the peer's
environment (threads pinned to one, cache directories) already set, so nothing that was imported
for an earlier measurement can influence this one.

- metric "call": build the function, call it a few times to warm up, then time batches of calls
  (`number` calls per batch, chosen so a batch lasts at least `--min-batch-s`) `--repeats` times;
  reports the time per call of each batch.
- metric "compile": time building the function plus its first call (imports excluded and
  reported separately).
Both record the process's peak memory (max RSS) and then check the first result against the NumPy
reference, computed last so that its temporaries do not count in the peer's peak.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time

# One-thread measurements run on one CPU (bench/run.py sets BENCH_CPUS), before any library
# starts a thread pool: environment variables do not pin every peer (JAX's CPU runtime used
# about 2 cores per call with its XLA thread flags set).
if os.environ.get("BENCH_CPUS"):
    os.sched_setaffinity(0, {int(c) for c in os.environ["BENCH_CPUS"].split(",")})

import numpy as np  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m bench._child")
    ap.add_argument("workload")
    ap.add_argument("peer")
    ap.add_argument("metric", choices=("call", "compile"))
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--min-batch-s", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    from bench.peers import get_peer
    from bench.workloads import get

    workload, peer = get(args.workload), get_peer(args.peer)
    rng = np.random.default_rng(args.seed)
    arrays = workload.make_inputs(rng)

    t0 = time.perf_counter()
    peer.setup()
    import_s = time.perf_counter() - t0
    inputs = peer.convert(arrays)
    build = workload.builders[peer.framework]

    record = {"workload": workload.name, "peer": peer.name, "metric": args.metric, "import_s": import_s}
    t0, c0 = time.perf_counter(), cpu_now()
    fn = build()
    first = peer.sync(fn(*inputs))
    compile_s, compile_cpu_s = time.perf_counter() - t0, cpu_now() - c0
    first = peer.to_numpy(first)  # a copy where the framework reuses its output buffers
    if args.metric == "compile":
        record.update(samples=[compile_s], cpu_samples=[compile_cpu_s], maxrss_bytes=maxrss_bytes())
        check(workload, peer, first, reference(workload, arrays))
        return record

    for _ in range(3):
        peer.sync(fn(*inputs))
    number = 1
    while True:  # calibrate: a batch must last long enough for the clocks to resolve it
        elapsed, cpu = time_batch(fn, inputs, peer, number)
        if elapsed >= args.min_batch_s or number >= 1 << 24:
            break
        number *= 2 if elapsed * 8 >= args.min_batch_s else 8
    batches = [(elapsed, cpu)] + [time_batch(fn, inputs, peer, number) for _ in range(args.repeats - 1)]
    record.update(samples=[w / number for w, _ in batches], cpu_samples=[c / number for _, c in batches],
                  number=number, maxrss_bytes=maxrss_bytes())
    # the reference is computed last, so its temporaries do not count in the peer's peak memory
    check(workload, peer, first, reference(workload, arrays))
    return record


def reference(workload, arrays: tuple):
    """NumPy's result (the reference), copied so later calls cannot change it."""
    out = workload.builders["numpy"]()(*arrays)
    if isinstance(out, (list, tuple)):
        return [np.array(o, copy=True) for o in out]
    return np.array(out, copy=True)


def maxrss_bytes() -> int:
    """Peak resident memory of this process so far (imports, inputs, the function and its calls)."""
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(rss if sys.platform == "darwin" else rss * 1024)  # bytes on macOS, KiB on Linux


def cpu_now() -> float:
    """CPU seconds used by this process and its finished children (e.g. the C compiler).

    On a busy machine, wall-clock time also counts the time other jobs held the core; CPU
    time does not, so it is the steadier measure there (for single-threaded work).
    """
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ru.ru_utime + ru.ru_stime


def time_batch(fn, inputs, peer, number: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds) for `number` calls."""
    sync = peer.sync
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does: a collection in one batch and not another is noise
    try:
        t0, c0 = time.perf_counter(), cpu_now()
        out = None
        for _ in range(number):
            # the previous result is dropped before the next call, as in a loop that uses each
            # result once: else a peer fast enough to get number > 1 holds one more output at
            # its peak memory than a slow one (number == 1) does
            out = None
            out = fn(*inputs)
        sync(out)
        return time.perf_counter() - t0, cpu_now() - c0
    finally:
        if gc_was_enabled:
            gc.enable()


def check(workload, peer, result, expected) -> None:
    got = result
    if isinstance(expected, (list, tuple)):
        pairs = list(zip(got, expected))
    else:
        pairs = [(got, expected)]
    for g, e in pairs:
        g = np.asarray(g)
        e = np.asarray(e)
        # atol scaled to the result's magnitude: where the result crosses zero, cancellation makes
        # a purely relative comparison meaningless
        atol = workload.rtol * float(np.max(np.abs(e), initial=0.0))
        if g.shape != e.shape or not np.allclose(g, e, rtol=workload.rtol, atol=atol):
            worst = np.max(np.abs(g - e) / np.maximum(np.abs(e), 1e-300)) if g.shape == e.shape else None
            raise AssertionError(f"{peer.name} computed a different result for {workload.name}: "
                                 f"shape {g.shape} vs {e.shape}, worst relative error {worst}")


if __name__ == "__main__":
    try:
        rec = main()
    except Exception as e:  # report the failure as data; the runner shows it in the table
        rec = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(rec))
        sys.exit(1)
    print(json.dumps(rec))
