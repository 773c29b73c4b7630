"""The C linker against NumPy: call overhead, fused chains, reductions, cold compile, warm start.

    python bench/bench_c_elemwise.py            # prints a table (medians of several runs)

Cold compile and warm start run in fresh processes (an empty cache, then the cache the cold
run left).  Everything runs on one thread.  Nothing here is asserted: it only reports.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

_START = r"""
import time, sys
t0 = time.perf_counter()
import numpy as np, kiln, kiln.tensor as kt
t1 = time.perf_counter()
x = kt.vector("x")
y = kt.exp(-x ** 2) * kt.sin(3 * x) + kt.log1p(x ** 2) / (1 + kt.tanh(x))
f = kiln.function([x], y, mode=kiln.Mode(linker="c"))
f(np.ones(10))
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def _median(fn, number: int, repeat: int = 7) -> float:
    return float(np.median(timeit.repeat(fn, number=number, repeat=repeat)) / number)


def start_times(runs: int = 3) -> dict:
    """Median (import, function()+first call) seconds for cold and warm processes."""
    cold, warm = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as d:
            env = dict(os.environ, KILN_CACHE_DIR=str(Path(d) / "c"), PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
            env.pop("PYTHONDONTWRITEBYTECODE", None)   # a real install has its .pyc files
            for bucket in (cold, warm):
                out = subprocess.run([sys.executable, "-c", _START], env=env, capture_output=True, text=True,
                                     check=True).stdout.split()
                bucket.append(float(out[1]))
    return {"cold_compile_s": float(np.median(cold)), "warm_start_s": float(np.median(warm))}


def main() -> None:
    import kiln
    import kiln.tensor as kt

    C = kiln.Mode(linker="c")
    rows = []
    x = kt.vector("x")
    f_c = kiln.function([x], x + 1, mode=C)
    f_py = kiln.function([x], x + 1, mode=kiln.Mode(linker="py"))
    one = np.ones(1)
    rows.append(("x + 1, 1 element (us)", _median(lambda: one + 1, 20000) * 1e6,
                 _median(lambda: f_c(one), 5000) * 1e6, _median(lambda: f_py(one), 5000) * 1e6))
    chains = {
        "arith chain": (lambda v: (v * 2.0 + 1.0) * v - 3.0, lambda t: (t * 2.0 + 1.0) * t - 3.0),
        "transcendental chain": (
            lambda v: np.exp(-v ** 2) * np.sin(3 * v) + np.log1p(v ** 2) / (1 + np.tanh(v)),
            lambda t: kt.exp(-t ** 2) * kt.sin(3 * t) + kt.log1p(t ** 2) / (1 + kt.tanh(t))),
    }
    for dtype in ("float32", "float64"):
        v = np.random.default_rng(0).standard_normal(10 ** 6).astype(dtype)
        t = kt.vector("t", dtype=dtype)
        for name, (np_fn, kt_fn) in chains.items():
            fc = kiln.function([t], kt_fn(t), mode=C)
            fp = kiln.function([t], kt_fn(t), mode=kiln.Mode(linker="py"))
            # loose: the transcendental chain cancels near x = -0.6 and 1 + tanh(x) does for x << 0,
            # so 1-ulp differences between libm and NumPy's own tanhf grow there
            np.testing.assert_allclose(fc(v), np_fn(v), rtol=1e-3 if dtype == "float32" else 1e-9,
                                       atol=1e-4 if dtype == "float32" else 1e-10)
            rows.append((f"{name} 1e6 {dtype} (ms)", _median(lambda: np_fn(v), 10) * 1e3,
                         _median(lambda: fc(v), 10) * 1e3, _median(lambda: fp(v), 10) * 1e3))
        dst = np.empty_like(v)
        rows.append((f"np.copyto 1e6 {dtype} (ms)", _median(lambda: np.copyto(dst, v), 50) * 1e3, float("nan"),
                     float("nan")))
    m = kt.matrix("m")
    big = np.random.default_rng(1).standard_normal((4000, 4000))
    dst = np.empty_like(big)
    rows.append(("np.copyto 4000x4000 float64 (ms)", _median(lambda: np.copyto(dst, big), 5) * 1e3, float("nan"),
                 float("nan")))
    np_lse = lambda a: np.log(np.exp(a - a.max(axis=1, keepdims=True)).sum(axis=1)) + a.max(axis=1)  # noqa: E731
    for name, kfn, nfn in [("sum axis 0", lambda t: t.sum(axis=0), lambda a: a.sum(axis=0)),
                           ("sum axis 1", lambda t: t.sum(axis=1), lambda a: a.sum(axis=1)),
                           ("logsumexp axis 1", lambda t: kt.logsumexp(t, axis=1), np_lse)]:
        fc = kiln.function([m], kfn(m), mode=C)
        fp = kiln.function([m], kfn(m), mode=kiln.Mode(linker="py"))
        np.testing.assert_allclose(fc(big), nfn(big), rtol=1e-9)
        rows.append((f"{name} 4000x4000 float64 (ms)", _median(lambda: nfn(big), 5) * 1e3,
                     _median(lambda: fc(big), 5) * 1e3, _median(lambda: fp(big), 5) * 1e3))
    print(f"{'workload':36s} {'numpy':>10s} {'kiln C':>10s} {'kiln py':>10s} {'C/numpy':>8s}")
    for name, a, b, c in rows:
        print(f"{name:36s} {a:10.3f} {b:10.3f} {c:10.3f} {b / a:8.2f}")
    st = start_times()
    print(json.dumps(st))


if __name__ == "__main__":
    main()
