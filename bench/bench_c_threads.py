"""The C linker with KILN_FLAGS=threads=N against one thread: large elementwise loops and
reductions (the issue asks >= 1.7x with 2 threads), plus BLAS products against NumPy.

    python bench/bench_c_threads.py [--threads 2]

Each thread count is compiled under `kiln.config.change_flags(threads=...)` into the
same process; medians of several runs.  Nothing is asserted: it only reports.  On a
loaded machine (other processes on the same cores) the ratio understates the speedup.
"""
from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import kiln  # noqa: E402
import kiln.tensor as kt  # noqa: E402
from kiln.configuration import config  # noqa: E402


def _median(fn, number: int = 3, repeat: int = 7) -> float:
    return float(np.median(timeit.repeat(fn, number=number, repeat=repeat)) / number)


def _workloads():
    x = kt.vector("x")
    m = kt.matrix("m")
    xf = kt.vector("xf", dtype="float32")
    rng = np.random.default_rng(0)
    v = rng.normal(size=10_000_000)
    a = rng.normal(size=(4000, 4000))
    chain = lambda t: kt.exp(-t ** 2) * kt.sin(3 * t) + kt.log1p(t ** 2) / (1 + kt.tanh(t))  # noqa: E731
    return [
        ("arith chain 1e7 f64", [x], (x * 2 + 1) * (x - 3), [v]),
        ("transc. chain 1e7 f64", [x], chain(x), [v]),
        ("transc. chain 1e7 f32", [xf], chain(xf), [v.astype("float32")]),
        ("sum axis 0 4000^2", [m], m.sum(axis=0), [a]),
        ("sum axis 1 4000^2", [m], m.sum(axis=1), [a]),
        ("logsumexp axis 1 4000^2", [m], kt.logsumexp(m, axis=1), [a]),
    ]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    print(f"{'workload':28s} {'1 thread ms':>12s} {f'{args.threads} threads ms':>12s} {'speedup':>8s}")
    for name, ins, out, vals in _workloads():
        times = []
        for n in (1, args.threads):
            with config.change_flags(threads=str(n)):
                f = kiln.function(ins, out, mode=kiln.Mode(linker="c"))
            f(*vals)
            times.append(_median(lambda: f(*vals)))
        print(f"{name:28s} {times[0] * 1e3:12.2f} {times[1] * 1e3:12.2f} {times[0] / times[1]:8.2f}x")
    # BLAS products: kiln's C linker against NumPy (both through an optimized BLAS)
    print(f"\n{'product':28s} {'kiln ms':>12s} {'numpy ms':>12s} {'ratio':>8s}")
    rng = np.random.default_rng(1)
    for dt in ("float32", "float64"):
        A, Bm = kt.matrix("A", dtype=dt), kt.matrix("B", dtype=dt)
        f = kiln.function([A, Bm], A @ Bm, mode=kiln.Mode(linker="c"))
        a, b = rng.normal(size=(512, 784)).astype(dt), rng.normal(size=(784, 512)).astype(dt)
        tk, tn = _median(lambda: f(a, b)), _median(lambda: a @ b)
        print(f"{'matmul 512x784x512 ' + dt:28s} {tk * 1e3:12.3f} {tn * 1e3:12.3f} {tn / tk:8.2f}x")


if __name__ == "__main__":
    main()
