"""Mode: how a function is compiled (a rewrite pipeline plus a linker).

The pipeline itself lives in kiln.rewrites; a Mode only names it and the tag
filters to apply, so modes are cheap, immutable values.
"""
from __future__ import annotations

from dataclasses import InitVar, dataclass, replace
from typing import Any

__all__ = ["Mode", "get_mode", "get_default_mode", "FAST_RUN", "FAST_COMPILE"]

#: PyTensor's linker names -> kiln's.  Its VMs ("vm", "cvm", "c|py" and their _nogc forms) run
#: C code where ops have it and Python elsewhere, which is what kiln's C linker does; its JIT
#: backends ("numba", "jax", "pytorch") compute the same values, which kiln computes with C.
LINKER_ALIASES = {"vm": "auto", "vm_nogc": "auto", "cvm": "c", "cvm_nogc": "c", "c|py": "c",
                  "c|py_nogc": "c", "numba": "auto", "jax": "auto", "pytorch": "auto", None: "auto"}
#: PyTensor's optimizer names -> kiln's rewrite levels
OPTIMIZER_ALIASES = {"fast_run": "fast_run", "None": "none", "default": "fast_run", "o4": "fast_run", "o3": "fast_run",
                     "unsafe": "fast_run", "fast_compile": "fast_compile", "o2": "fast_compile",
                     "o1": "fast_compile", "stabilize": "fast_compile", "merge": "fast_compile",
                     "none": "none", None: "none"}


@dataclass(frozen=True)
class Mode:
    """A linker name ("py", "c", "auto") and a rewrite pipeline name with tag filters.

    PyTensor's spellings are accepted: `Mode(linker="cvm", optimizer="fast_compile")`
    (`optimizer=` sets `rewrites`; None means no rewrites) and its linker names
    (LINKER_ALIASES).

    >>> Mode(linker="py").including("mine").excluding("fusion").exclude
    ('fusion',)
    >>> Mode(linker="cvm", optimizer=None)
    Mode(linker='c', rewrites='none', include=(), exclude=())
    """

    linker: str = "auto"
    rewrites: str = "fast_run"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    optimizer: InitVar[Any] = "unset"

    def __post_init__(self, optimizer: Any) -> None:
        key = self.linker.lower() if isinstance(self.linker, str) else self.linker
        if key in LINKER_ALIASES:
            object.__setattr__(self, "linker", LINKER_ALIASES[key])
        if optimizer != "unset":
            opt = optimizer.lower() if isinstance(optimizer, str) else optimizer
            if opt not in OPTIMIZER_ALIASES:
                raise ValueError(f"Mode: unknown optimizer {optimizer!r} (known: "
                                 f"{', '.join(str(k) for k in OPTIMIZER_ALIASES)})")
            object.__setattr__(self, "rewrites", OPTIMIZER_ALIASES[opt])

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
#: PyTensor's predefined mode names too: its backends' modes compute with kiln's default, and
#: its checking modes (DebugMode, NanGuardMode) with the python reference linker
_PREDEFINED = {"FAST_RUN": FAST_RUN, "FAST_COMPILE": FAST_COMPILE, "PY": Mode(linker="py"),
               "NONE": Mode(rewrites="none"), "C": Mode(linker="c"), "CVM": Mode(linker="c"),
               "C|PY": Mode(linker="c"), "VM": FAST_RUN, "NUMBA": FAST_RUN, "JAX": FAST_RUN,
               "PYTORCH": FAST_RUN, "DEBUGMODE": Mode(linker="py"), "DEBUG_MODE": Mode(linker="py"),
               "NANGUARDMODE": Mode(linker="py")}


def get_default_mode() -> Mode:
    """The mode `function()` uses when given none (PyTensor's get_default_mode): from
    kiln.config.mode and kiln.config.optimizer."""
    return get_mode(None)


def get_mode(mode: Any) -> Mode:
    """A Mode from a Mode, a predefined name ("FAST_RUN", "FAST_COMPILE", PyTensor's names) or None.

    >>> get_mode("FAST_COMPILE").rewrites, get_mode("JAX") == get_mode(None)
    ('fast_compile', True)
    """
    if mode is None:
        from kiln.configuration import config

        if config.mode != "Mode":
            return get_mode(config.mode)
        return FAST_RUN if config.optimizer == "fast_run" else Mode(optimizer=config.optimizer)
    if isinstance(mode, Mode):
        return mode
    if isinstance(mode, str):
        try:
            return _PREDEFINED[mode.upper()]
        except KeyError:
            raise ValueError(f"unknown mode {mode!r} (known: {', '.join(_PREDEFINED)})") from None
    raise TypeError(f"mode must be a Mode or a name, got {mode!r}")
