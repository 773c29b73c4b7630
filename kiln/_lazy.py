"""Deferred imports of SciPy: `import kiln` must stay fast (SciPy's special and linalg
modules take ~0.3 s to import), so ops that compute with SciPy resolve it on first use.

>>> from kiln._lazy import scipy_function
>>> erf = scipy_function("special", "erf")
>>> erf.__name__, round(float(erf(0.5)), 6)
('erf', 0.5205)
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

__all__ = ["scipy_function", "scipy_module"]


def scipy_module(name: str) -> Any:
    """`scipy.<name>`, imported now (call this inside functions, not at module level)."""
    return importlib.import_module(f"scipy.{name}")


class _Deferred:
    """A callable standing for `scipy.<module>.<name>` that imports it on the first call."""

    __slots__ = ("_module", "__name__", "_fn")

    def __init__(self, module: str, name: str):
        self._module, self.__name__, self._fn = module, name, None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        fn = self._fn
        if fn is None:
            fn = self._fn = getattr(scipy_module(self._module), self.__name__)
        return fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<scipy.{self._module}.{self.__name__} (imported on first call)>"

    def __reduce__(self):   # pickles by name, like the SciPy ufunc it stands for
        return (_Deferred, (self._module, self.__name__))


def scipy_function(module: str, name: str) -> Callable[..., Any]:
    """A stand-in for `scipy.<module>.<name>` that imports SciPy on its first call."""
    return _Deferred(module, name)
