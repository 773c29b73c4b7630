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

__all__ = ["Peer", "PEERS", "THREAD_ENV", "available", "get_peer"]

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
}


@dataclass(frozen=True)
class Peer:
    """A framework run in a given environment. `module` must be importable for it to run."""

    name: str
    framework: str
    module: str
    env: dict[str, str] = field(default_factory=dict)
    note: str = ""

    def environment(self, cache_dir: str | None) -> dict[str, str]:
        """Extra environment for a measurement process; `cache_dir` holds on-disk compile caches.

        Giving every compile measurement a cache directory of its own (cold) or one shared
        directory (warm) is how compile time is measured with and without cached artifacts.
        """
        env = dict(self.env)
        if cache_dir is None:
            return env
        if self.framework == "kiln":
            env["KILN_CACHE_DIR"] = f"{cache_dir}/kiln"
        elif self.framework == "pytensor":
            flags = [f for f in (env.get("PYTENSOR_FLAGS", ""),) if f]
            env["PYTENSOR_FLAGS"] = ",".join(flags + [f"base_compiledir={cache_dir}/pytensor"])
            env["NUMBA_CACHE_DIR"] = f"{cache_dir}/numba"
        elif self.framework == "jax":
            env["JAX_COMPILATION_CACHE_DIR"] = f"{cache_dir}/jax"
        return env

    def setup(self) -> None:
        """Import the framework and pin its own thread pool (before any timing)."""
        importlib.import_module(self.module)
        if self.framework == "torch":
            import torch

            torch.set_num_threads(1)
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
        if self.framework == "torch":
            return result.detach().cpu().numpy()
        return np.asarray(result)


PEERS: dict[str, Peer] = {p.name: p for p in [
    Peer("kiln", "kiln", "kiln",
         note="kiln.function, default mode (python linker until the C linker lands)"),
    Peer("kiln-py", "kiln", "kiln", env={"KILN_FLAGS": "linker=py"},
         note="kiln, python linker (the reference interpreter)"),
    Peer("kiln-c", "kiln", "kiln", env={"KILN_FLAGS": "linker=c"}, note="kiln, C linker"),
    Peer("numpy", "numpy", "numpy", note="plain NumPy"),
    Peer("pytensor-c", "pytensor", "pytensor", env={"PYTENSOR_FLAGS": "linker=cvm"},
         note="PyTensor, C backend (linker=cvm)"),
    Peer("pytensor-numba", "pytensor", "pytensor", note="PyTensor, default mode (Numba)"),
    Peer("jax", "jax", "jax", note="jax.jit on CPU, float64"),
    Peer("torch", "torch", "torch", note="PyTorch eager, torch.set_num_threads(1)"),
]}


def available(peer: Peer) -> bool:
    """Whether the peer's framework can be imported here (checked without importing it)."""
    return importlib.util.find_spec(peer.module) is not None


def get_peer(name: str) -> Peer:
    try:
        return PEERS[name]
    except KeyError:
        raise KeyError(f"unknown peer {name!r} (known: {', '.join(PEERS)})") from None
