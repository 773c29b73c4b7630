"""The elementwise driver (kiln/c_templates/elemwise.c), a library of its own.

Every elementwise kernel calls one driver that owns the loop paths (contiguous, streaming,
strided); the driver does no arithmetic, so it is compiled once rather than into every module,
where it cost ~55 ms of the C compiler per module (add_one's whole module was ~70 ms before the
driver existed).  setup.py builds it as kiln/linkers/c/_driver*.so (with OpenMP where the
compiler has it, and -march=native tagged with the CPU's flags: it is used only on a CPU with
the same flags); where that build is missing or was made for another CPU (no compiler at install time, a source tree that
was never built) it is compiled once through the module cache like any module.  The runtime
hands its address to each module that has elementwise kernels (`kiln_set_driver`), as it hands
BLAS's pointers.  `KILN_FLAGS=c_driver=cache` forces the cache build (tests use it).
"""
from __future__ import annotations

import ctypes
import threading
from pathlib import Path

__all__ = ["driver_address", "driver_source"]

_HERE = Path(__file__).parent
_TEMPLATES = _HERE.parent.parent / "c_templates"
_lock = threading.Lock()
_address: dict[str, int] = {}
_libs: list = []   # loaded libraries stay loaded (modules hold pointers into them)


def driver_source() -> str:
    """The driver's C source as one text (the prelude, the driver, the layout check)."""
    lib = (_TEMPLATES / "driver_lib.c").read_text(encoding="utf-8")
    parts = {"kiln_prelude.h": (_TEMPLATES / "kiln_prelude.h").read_text(encoding="utf-8"),
             "elemwise.c": (_TEMPLATES / "elemwise.c").read_text(encoding="utf-8")}
    for name, text in parts.items():
        lib = lib.replace(f'#include "{name}"', text)
    return lib


def _prebuilt() -> Path | None:
    found = sorted(_HERE.glob("_driver*.so")) + sorted(_HERE.glob("_driver*.pyd"))
    return found[0] if found else None


def _cpu_tag() -> str:
    """This CPU's tag, as setup.py computes it for the library (see its _native_flags)."""
    import hashlib

    from kiln.linkers.cache.key import cpu_features

    return hashlib.sha256(cpu_features().encode()).hexdigest()[:16]


def _load(path: Path, check_cpu: bool = False) -> int | None:
    """The driver's address in the library at `path`; None when it was built for another CPU."""
    from kiln.linkers.c.runtime import DESC_DTYPE

    lib = ctypes.CDLL(str(path))
    lib.kiln_driver_desc_size.restype = ctypes.c_int64
    if lib.kiln_driver_desc_size() != DESC_DTYPE.itemsize:
        raise RuntimeError(f"kiln: {path} was built for another descriptor layout")
    if check_cpu:
        lib.kiln_driver_cpu.restype = ctypes.c_char_p
        built_for = lib.kiln_driver_cpu().decode()
        if built_for and built_for != _cpu_tag():   # -march=native of another machine
            return None
    _libs.append(lib)
    return ctypes.cast(lib.kiln_elemwise, ctypes.c_void_p).value


def driver_address() -> int:
    """The address of `kiln_elemwise`, loading (or first building) the driver library."""
    from kiln.configuration import config

    how = config.extra.get("c_driver", "auto")
    with _lock:
        if how not in _address:
            path = _prebuilt() if how != "cache" else None
            address = _load(path, check_cpu=True) if path is not None else None
            if address is None:
                from kiln.linkers.c.compiler import compile_source, openmp_flags

                _, path = compile_source(driver_source(), extra_flags=openmp_flags())
                address = _load(path)
            _address[how] = address
        return _address[how]
