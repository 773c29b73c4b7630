"""Deferred imports of SciPy: `import kiln` must stay fast (SciPy's special and linalg
modules take ~0.3 s to import), so ops that compute with SciPy resolve it on first use.

>>> from kiln._lazy import scipy_function
>>> erf = scipy_function("special", "erf")
>>> erf.__name__, round(float(erf(0.5)), 6)
('erf', 0.5205)
"""
from __future__ import annotations

import ctypes
import importlib
import sys
from pathlib import Path
from typing import Any, Callable

__all__ = ["scipy_function", "scipy_module", "scipy_linalg_extension", "capsule_pointer"]


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


def scipy_linalg_extension(name: str) -> Any:
    """`scipy.linalg.<name>` (cython_blas, cython_lapack) without running
    scipy/linalg/__init__.py: `from scipy.linalg import cython_blas` imports all of
    scipy.linalg first (0.3-0.4 s), while the extension itself needs only SciPy's top level.
    It is registered under its own name, so a later ordinary import finds the same module."""
    full = f"scipy.linalg.{name}"
    mod = sys.modules.get(full)
    if mod is not None:
        return mod
    try:
        import importlib.machinery
        import importlib.util

        import scipy

        found = [p for p in (Path(scipy.__file__).parent / "linalg").glob(f"{name}*") if p.suffix in (".so", ".pyd")]
        if len(found) == 1:
            loader = importlib.machinery.ExtensionFileLoader(full, str(found[0]))
            spec = importlib.util.spec_from_file_location(full, str(found[0]), loader=loader)
            mod = importlib.util.module_from_spec(spec)
            loader.exec_module(mod)
            sys.modules[full] = mod
            return mod
    except Exception:   # any surprise in SciPy's layout: the ordinary import below
        pass
    return importlib.import_module(full)


def capsule_pointer(capsule: Any) -> int:
    """The C function pointer held by a PyCapsule (the entries of a Cython `__pyx_capi__`)."""
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
    get_ptr.restype, get_ptr.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    return get_ptr(capsule, get_name(capsule))
