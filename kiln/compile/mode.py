"""Mode: how a function is compiled (a rewrite pipeline plus a linker).

The pipeline itself lives in kiln.rewrites; a Mode only names it and the tag
filters to apply, so modes are cheap, immutable values.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

__all__ = ["Mode", "get_mode", "FAST_RUN", "FAST_COMPILE"]


@dataclass(frozen=True)
class Mode:
    """A linker name ("py", "c", "auto") and a rewrite pipeline name with tag filters.

    >>> Mode(linker="py").including("mine").excluding("fusion").exclude
    ('fusion',)
    """

    linker: str = "auto"
    rewrites: str = "fast_run"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def including(self, *tags: str) -> "Mode":
        return replace(self, include=self.include + tags)

    def excluding(self, *tags: str) -> "Mode":
        return replace(self, exclude=self.exclude + tags)

    def make_linker(self):
        """The linker this mode names: "py", "c", or "auto" (kiln.config.linker, and when
        that is "auto" too, the C linker where a C compiler and a usable module cache
        exist, else the python linker).  Without a compiler (or with a cache directory
        kiln refuses, for "auto" only) they warn in one line and give the python linker.

        >>> type(Mode(linker="py").make_linker()).__name__
        'PythonLinker'
        """
        name, auto = self.linker, False
        if name == "auto":
            from kiln.configuration import config

            name, auto = (config.linker, False) if config.linker != "auto" else ("c", True)
        if name == "c":
            from kiln.linkers.c.compiler import compiler, have_compiler

            why = None if have_compiler() else f"no C compiler ({compiler()!r} not found)"
            if why is None and auto:   # an explicit "c" lets a refused cache directory raise
                from kiln.linkers.cache import get_cache
                from kiln.linkers.cache.location import CacheLocationError

                try:
                    get_cache()
                except CacheLocationError as e:
                    why = str(e).splitlines()[0]
            if why is None:
                from kiln.linkers.c.linker import CLinker

                return CLinker()
            import warnings

            warnings.warn(f"kiln: {why}; using the python linker", RuntimeWarning, stacklevel=2)
            name = "py"
        if name == "py":
            from kiln.linkers.python import PythonLinker

            return PythonLinker()
        raise ValueError(f"unknown linker {name!r} (available: 'py', 'c')")

    def rewrite(self, fgraph) -> Any:
        """Run this mode's rewrite pipeline on fgraph, in place; returns the rewrite report."""
        from kiln.rewrites.pipeline import run_pipeline

        return run_pipeline(fgraph, self)


FAST_RUN = Mode()
FAST_COMPILE = Mode(rewrites="fast_compile")
_PREDEFINED = {"FAST_RUN": FAST_RUN, "FAST_COMPILE": FAST_COMPILE, "PY": Mode(linker="py"),
               "NONE": Mode(rewrites="none")}


def get_mode(mode: Any) -> Mode:
    if mode is None:
        return FAST_RUN
    if isinstance(mode, Mode):
        return mode
    if isinstance(mode, str):
        try:
            return _PREDEFINED[mode.upper()]
        except KeyError:
            raise ValueError(f"unknown mode {mode!r} (known: {', '.join(_PREDEFINED)})") from None
    raise TypeError(f"mode must be a Mode or a name, got {mode!r}")
