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
import types
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


def _extension_file(package_dir: Path, name: str) -> Path | None:
    found = [p for p in (package_dir / "linalg").glob(f"{name}.*") if p.suffix in (".so", ".pyd")]
    return found[0] if len(found) == 1 else None


def _load_extension(full: str, path: Path) -> Any:
    """Load the extension at `path` as module `full` the way the import system does: under the
    module's import lock, registered in sys.modules (marked initializing) before its body runs.
    A Cython extension module exists once per process, so another thread importing it at the
    same moment (SciPy's own `import scipy.linalg`, whose modules cimport cython_lapack) must
    wait for its body instead of getting the half-made module (a 1-in-5 race in the
    four-thread test, before)."""
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.ExtensionFileLoader(full, str(path))
    spec = importlib.util.spec_from_file_location(full, str(path), loader=loader)
    load = getattr(getattr(importlib, "_bootstrap", None), "_load", None)   # CPython's own, 3.4+
    if load is not None:
        return load(spec)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    sys.modules[full] = mod
    return mod


class _ScipyStandIn(types.ModuleType):
    """Stands for the `scipy` package in sys.modules while one of its Cython extensions is
    loaded without running scipy/__init__.py (see `_load_without_scipy_init`).  Another
    thread that fetched it from sys.modules in that window gets its attributes from the
    real package, imported on first use."""

    def __getattr__(self, name: str) -> Any:
        if sys.modules.get("scipy") is self:
            raise AttributeError(name)
        return getattr(importlib.import_module("scipy"), name)


def _load_without_scipy_init(full: str, name: str) -> Any:
    """Load scipy/linalg/<name> while `scipy` itself is not imported, without importing it;
    None when SciPy is not laid out as expected or got imported meanwhile.

    The extension's module init imports SciPy's shared Cython utility module
    (`scipy._cyutility`) through the C API, which imports the top-level package first
    (scipy/__init__.py and scipy._lib: ~8 ms, paid on every warm start that calls BLAS).
    While it loads, a stand-in package object (`__path__` only) answers for `scipy`, and
    the interpreter's import lock is held so that no other thread loads a module under it;
    the stand-in is removed afterwards, so the real package is imported normally whenever
    something asks for it."""
    import _imp
    import importlib.machinery
    import importlib.util

    spec = importlib.util.find_spec("scipy")   # finds the package without executing it
    if spec is None or not spec.submodule_search_locations:
        return None
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    path = _extension_file(package_dir, name)
    if path is None:
        return None
    _imp.acquire_lock()
    try:
        if "scipy" in sys.modules:   # imported meanwhile (perhaps still running: do not wait on it here)
            return None
        before = set(sys.modules)
        stand_in = _ScipyStandIn("scipy")
        stand_in.__path__ = [str(package_dir)]
        stand_in.__spec__ = importlib.machinery.ModuleSpec("scipy", None, is_package=True)
        stand_in.__spec__.submodule_search_locations = [str(package_dir)]
        sys.modules["scipy"] = stand_in
        try:
            return _load_extension(full, path)
        except BaseException:
            for m in set(sys.modules) - before:   # nothing loaded under the stand-in survives
                sys.modules.pop(m, None)
            raise
        finally:
            if sys.modules.get("scipy") is stand_in:
                del sys.modules["scipy"]
    finally:
        _imp.release_lock()


def scipy_linalg_extension(name: str) -> Any:
    """`scipy.linalg.<name>` (cython_blas, cython_lapack) without running
    scipy/linalg/__init__.py: `from scipy.linalg import cython_blas` imports all of
    scipy.linalg first (0.3-0.4 s), while the extension itself needs only SciPy's shared
    Cython utilities; when SciPy is not imported yet, not even its top-level package is
    (`_load_without_scipy_init`).  The module is registered under its own name, so a later
    ordinary import finds the same module.

    >>> blas = scipy_linalg_extension("cython_blas")
    >>> blas is scipy_linalg_extension("cython_blas"), "dgemm" in blas.__pyx_capi__
    (True, True)
    """
    full = f"scipy.linalg.{name}"
    mod = sys.modules.get(full)
    if mod is not None:
        if hasattr(mod, "__pyx_capi__"):
            return mod
        # another thread is still initializing it: the import system waits for that thread
        return importlib.import_module(full)
    try:
        if "scipy" not in sys.modules:
            mod = _load_without_scipy_init(full, name)
            if mod is not None:
                return mod
        import scipy

        path = _extension_file(Path(scipy.__file__).parent, name)
        if path is not None:
            return _load_extension(full, path)
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
