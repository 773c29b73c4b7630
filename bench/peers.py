"""The peers kiln is timed against, and how each one is run.

A peer is a framework plus the environment it runs in: PyTensor appears twice, once with its C
backend (`PYTENSOR_FLAGS=linker=cvm`) and once in its default mode (Numba). Every measurement
runs in a fresh process whose environment pins all thread pools to one thread, so the numbers
compare single-core code generation, not thread scheduling.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Peer", "PEERS", "THREAD_ENV", "available", "get_peer", "default_peers", "threads_env"]

#: environment for every measurement process: one thread everywhere
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
    "NUMBA_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "JAX_PLATFORMS": "cpu",
    "JAX_ENABLE_X64": "1",  # the workloads are float64; without this JAX silently computes float32
    "PYTHONHASHSEED": "0",
    "BENCH_THREADS": "1",  # read by Peer.setup (PyTorch sets its pool size in the process)
}


def threads_env(n: int) -> dict[str, str]:
    """THREAD_ENV with every generic thread pool set to `n` threads (the 2-thread variant).

    Framework-specific switches (kiln's `threads=`, PyTensor's `openmp`) are added by
    `Peer.environment`, which knows which framework it runs.
    """
    if n == 1:
        return dict(THREAD_ENV)
    env = dict(THREAD_ENV)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS",
              "NUMBA_NUM_THREADS", "BENCH_THREADS"):
        env[k] = str(n)
    env["XLA_FLAGS"] = f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={n}"
    return env


def _append_flag(env: dict[str, str], name: str, flag: str) -> None:
    """Add `flag` to a comma-separated flags variable (KILN_FLAGS, PYTENSOR_FLAGS)."""
    env[name] = ",".join(f for f in (env.get(name, ""), flag) if f)


@dataclass(frozen=True)
class Peer:
    """A framework run in a given environment. `module` must be importable for it to run."""

    name: str
    framework: str
    module: str
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""
    #: run by default (without --peers); off for peers that only duplicate another's numbers
    default: bool = True
    #: the metrics this peer is measured on (None: all); "jax-nocache" only differs at warm start
    metrics: tuple[str, ...] | None = None
    #: whether to give the peer's on-disk compile cache a directory (False: the cache stays off)
    use_cache: bool = True

    def environment(self, cache_dir: str | None, threads: int = 1) -> dict[str, str]:
        """Extra environment for a measurement process; `cache_dir` holds on-disk compile caches.

        Giving every compile measurement a cache directory of its own (cold) or one shared
        directory (warm) is how compile time is measured with and without cached artifacts.
        """
        env = dict(self.env)
        if threads > 1:
            if self.framework == "kiln":
                _append_flag(env, "KILN_FLAGS", f"threads={threads}")
            elif self.framework == "pytensor":
                _append_flag(env, "PYTENSOR_FLAGS", "openmp=True")
        if cache_dir is None or not self.use_cache:
            return env
        if self.framework == "kiln":
            env["KILN_CACHE_DIR"] = f"{cache_dir}/kiln"
        elif self.framework == "pytensor":
            flags = [f for f in (env.get("PYTENSOR_FLAGS", ""),) if f]
            env["PYTENSOR_FLAGS"] = ",".join(flags + [f"base_compiledir={cache_dir}/pytensor"])
            env["NUMBA_CACHE_DIR"] = f"{cache_dir}/numba"
        elif self.framework == "jax":
            env["JAX_COMPILATION_CACHE_DIR"] = f"{cache_dir}/jax"
            # by default JAX only persists programs that took over 1 s to compile: cache all
            env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
            env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "-1"
        return env

    def setup(self) -> None:
        """Import the framework and pin its own thread pool (before any timing)."""
        importlib.import_module(self.module)
        if self.framework == "torch":
            import os

            import torch

            torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "1")))
            torch.set_num_interop_threads(1)

    def convert(self, arrays: tuple) -> tuple:
        """The workload's NumPy inputs as this framework wants them (done once, outside timing)."""
        if self.framework == "jax":
            import jax

            return tuple(jax.device_put(a) for a in arrays)
        if self.framework == "torch":
            import torch

            return tuple(torch.from_numpy(a) for a in arrays)
        return arrays

    def sync(self, result: Any) -> Any:
        """Wait for the result to exist (JAX dispatches asynchronously)."""
        if self.framework == "jax":
            import jax

            return jax.block_until_ready(result)
        return result

    def to_numpy(self, result: Any) -> Any:
        if isinstance(result, (list, tuple)):
            return [self.to_numpy(r) for r in result]
        # copies: a framework may reuse its output buffers on the next call
        if self.framework == "torch":
            return result.detach().cpu().numpy().copy()
        return np.array(result, copy=True)


PEERS: dict[str, Peer] = {p.name: p for p in [
    Peer("kiln", "kiln", "kiln",
         note="kiln.function, default mode (the C linker where a compiler exists)"),
    Peer("kiln-py", "kiln", "kiln", env={"KILN_FLAGS": "linker=py"}, default=False,
         note="kiln, python linker (the reference interpreter; --peers kiln-py to run it)"),
    Peer("kiln-c", "kiln", "kiln", env={"KILN_FLAGS": "linker=c"}, note="kiln, C linker"),
    Peer("numpy", "numpy", "numpy", note="plain NumPy"),
    Peer("pytensor-c", "pytensor", "pytensor", env={"PYTENSOR_FLAGS": "linker=cvm"},
         note="PyTensor, C backend (linker=cvm)"),
    Peer("pytensor-numba", "pytensor", "pytensor", note="PyTensor, default mode (Numba)"),
    Peer("jax", "jax", "jax", note="jax.jit on CPU, float64 enabled, persistent compilation cache on"),
    Peer("jax-nocache", "jax", "jax", metrics=("compile-cold", "compile-warm"), use_cache=False,
         note="jax.jit without its persistent compilation cache (warm start = cold start)"),
    Peer("torch", "torch", "torch", note="PyTorch eager, torch.set_num_threads(1)"),
]}


def available(peer: Peer) -> bool:
    """Whether the peer's framework can be imported here (checked without importing it)."""
    return importlib.util.find_spec(peer.module) is not None


def default_peers() -> list[str]:
    """The peers run when --peers is not given."""
    return [p.name for p in PEERS.values() if p.default]


def get_peer(name: str) -> Peer:
    try:
        return PEERS[name]
    except KeyError:
        raise KeyError(f"unknown peer {name!r} (known: {', '.join(PEERS)})") from None
