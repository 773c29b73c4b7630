"""Profiling a compiled function (PyTensor's `function(..., profile=True)`).

`kiln.function(..., profile=True)` (or a name, or a ProfileStats to accumulate into) gives the
function a `.profile`: how long compiling took (rewriting, linking: whether it was a warm
start), how many calls and how long they took, and, with the python linker, the time of each
node.  With the C linker the nodes of a segment run as one native call, so its time is the
segment's.  `summary()` prints it.

>>> import numpy as np, kiln, kiln.tensor as kt
>>> x = kt.dvector("x")
>>> f = kiln.function([x], kt.exp(x).sum(), profile=True)
>>> _ = f(np.ones(3)); _ = f(np.ones(3))
>>> f.profile.fct_callcount
2
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TextIO

__all__ = ["ProfileStats", "as_profile"]


@dataclass
class ProfileStats:
    """Times of one function (or of several, when the same ProfileStats is passed to each)."""

    name: str = ""
    compile_time: float = 0.0      # function(): rewriting + linking (s)
    rewrite_time: float = 0.0
    link_time: float = 0.0
    warm_start: bool = False
    fct_callcount: int = 0
    fct_call_time: float = 0.0
    #: node label -> [calls, seconds] (python linker only)
    apply_time: dict = field(default_factory=dict)

    def timed(self, call: Callable) -> Callable:
        """`call` wrapped to count its calls and their time."""
        def run(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return call(*args, **kwargs)
            finally:
                self.fct_call_time += time.perf_counter() - t0
                self.fct_callcount += 1
        return run

    def record_node(self, label: str, seconds: float) -> None:
        entry = self.apply_time.setdefault(label, [0, 0.0])
        entry[0] += 1
        entry[1] += seconds

    def summary(self, file: TextIO | None = None, n_ops_to_print: int = 20) -> None:
        """Print the profile (PyTensor's ProfileStats.summary)."""
        out = file or sys.stdout
        mean = self.fct_call_time / self.fct_callcount if self.fct_callcount else 0.0
        print(f"Function profile: {self.name or '<unnamed>'}", file=out)
        print(f"  compile {self.compile_time * 1e3:.2f} ms (rewrites {self.rewrite_time * 1e3:.2f} ms, "
              f"link {self.link_time * 1e3:.2f} ms{', warm start' if self.warm_start else ''})", file=out)
        print(f"  {self.fct_callcount} calls, {self.fct_call_time * 1e3:.3f} ms in all, "
              f"{mean * 1e6:.1f} us per call", file=out)
        if self.apply_time:
            total = sum(t for _, t in self.apply_time.values()) or 1.0
            print("  nodes (python linker): share, seconds, calls, node", file=out)
            ranked = sorted(self.apply_time.items(), key=lambda kv: -kv[1][1])[:n_ops_to_print]
            for label, (calls, secs) in ranked:
                print(f"    {100 * secs / total:5.1f}%  {secs:.6f}s  {calls:6d}  {label}", file=out)


def as_profile(profile: Any, name: str | None) -> ProfileStats | None:
    """ProfileStats for function()'s `profile` argument (None/False: no profiling)."""
    if profile is None or profile is False:
        return None
    if isinstance(profile, ProfileStats):
        return profile
    if isinstance(profile, str):
        return ProfileStats(name=profile)
    return ProfileStats(name=name or "")
