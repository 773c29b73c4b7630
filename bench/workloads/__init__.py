"""The benchmark workloads: a registry filled by the modules of this package.

A workload is one small file here that calls `register(Workload(...))`. It says how to make its
input arrays and, for each framework it supports, how to build the function to time. A builder
takes no arguments, does all the setup (declaring the graph, compiling, jitting) and returns a
callable that takes the input arrays (converted for that framework by bench/peers.py).

    register(Workload(
        name="add_one", description="x + 1 on a 1-element array: per-call overhead",
        make_inputs=lambda rng: (np.ones(1),),
        builders={"numpy": lambda: (lambda x: x + 1), "kiln": build_kiln, ...}))

Frameworks: "kiln", "numpy", "pytensor" (used by two peers: the C backend and the default Numba
mode), "jax", "torch". The NumPy builder is also the reference every other result is checked
against, so every workload must have one.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

__all__ = ["Workload", "register", "all_workloads", "get"]

FRAMEWORKS = ("kiln", "numpy", "pytensor", "jax", "torch")


@dataclass(frozen=True)
class Workload:
    """One thing to time, with one builder per framework that supports it."""

    name: str
    description: str
    make_inputs: Callable[[np.random.Generator], tuple]
    builders: dict[str, Callable[[], Callable[..., Any]]]
    #: which timings to take: "call" (steady-state time per call) and/or "compile"
    #: (building the function plus its first call, in a fresh process)
    metrics: tuple[str, ...] = ("call",)
    #: relative tolerance when checking a peer's result against NumPy's
    rtol: float = 1e-7
    tags: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        unknown = set(self.builders) - set(FRAMEWORKS)
        if unknown:
            raise ValueError(f"workload {self.name!r}: unknown frameworks {sorted(unknown)} "
                             f"(known: {', '.join(FRAMEWORKS)})")
        if "numpy" not in self.builders:
            raise ValueError(f"workload {self.name!r} needs a numpy builder (the reference)")
        bad = set(self.metrics) - {"call", "compile"}
        if bad:
            raise ValueError(f"workload {self.name!r}: unknown metrics {sorted(bad)}")


_REGISTRY: dict[str, Workload] = {}


def register(workload: Workload) -> Workload:
    """Add a workload to the registry (names are unique)."""
    if workload.name in _REGISTRY:
        raise ValueError(f"workload {workload.name!r} is registered twice")
    _REGISTRY[workload.name] = workload
    return workload


def _discover() -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")


def all_workloads() -> dict[str, Workload]:
    """Every registered workload, by name, in file-name order."""
    if not _REGISTRY:
        _discover()
    return dict(_REGISTRY)


def get(name: str) -> Workload:
    workloads = all_workloads()
    try:
        return workloads[name]
    except KeyError:
        raise KeyError(f"unknown workload {name!r} (known: {', '.join(workloads)})") from None
