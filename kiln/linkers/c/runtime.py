"""The runtime: load a compiled module and call it on NumPy arrays passed as descriptors.

The call goes through the Cython extension `kiln.linkers.c._runtime` (built by setup.py:
descriptors filled on the C stack from the arrays' headers, GIL released) when it is
built, else through ctypes (descriptors built in Python; ctypes releases the GIL too).
Both pass arrays without copies: a descriptor holds the data pointer, shape and byte
strides (negative and zero strides included).
"""
from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Sequence

import numpy as np

from kiln.linkers.c.types import DTYPE_CODE

__all__ = ["DESC_DTYPE", "CModule", "descriptors", "entry_name", "ERRORS"]

#: KILN_MAXDIM of kiln_prelude.h (also kiln.linkers.c.lower.MAXDIM, not imported here: a
#: warm start loads no lowering); modules check the descriptor size when they are loaded
MAXDIM = 16

DESC_DTYPE = np.dtype([("data", np.uintp), ("ndim", np.int64), ("dtype", np.int64),
                       ("shape", np.int64, (MAXDIM,)), ("strides", np.int64, (MAXDIM,))])
_PAD = [(0,) * (MAXDIM - n) for n in range(MAXDIM + 1)]
#: keyed by dtype object (fast hash); non-native byte orders are absent, so they are refused
_CODE = {np.dtype(d): c for d, c in DTYPE_CODE.items()}
_NWORDS = DESC_DTYPE.itemsize // 8
#: a module's error code (KILN_E* in kiln_prelude.h) -> (exception class, message)
ERRORS = {1: (ValueError, "operand shapes do not match"),
          2: (TypeError, "buffer ndim/dtype differs from the compiled module"),
          3: (ValueError, "output buffer is not C-contiguous"),
          4: (MemoryError, "out of memory for a temporary buffer"),
          5: (ValueError, "a dimension is too large for BLAS (32-bit integers)"),
          6: (IndexError, "index out of bounds")}

_BLAS_NAMES = ("sgemm", "dgemm", "sgemv", "dgemv", "sdot", "ddot")
_BLAS_TABLE = None


def blas_table():
    """SciPy's cython_blas function pointers (sgemm, dgemm, sgemv, dgemv, sdot, ddot) as a
    C array, handed to every module that calls BLAS when it is loaded (built once)."""
    global _BLAS_TABLE
    if _BLAS_TABLE is None:
        from kiln._lazy import capsule_pointer, scipy_linalg_extension

        capi = scipy_linalg_extension("cython_blas").__pyx_capi__
        _BLAS_TABLE = (ctypes.c_void_p * len(_BLAS_NAMES))(*[capsule_pointer(capi[n]) for n in _BLAS_NAMES])
    return _BLAS_TABLE


def descriptors(arrays: Sequence[np.ndarray]) -> np.ndarray:
    """Buffer descriptors (the C struct kiln_buf, as a flat int64 array) viewing `arrays` without copies.

    >>> d = descriptors([np.arange(6.0).reshape(2, 3)[:, ::-1]]).view(DESC_DTYPE)
    >>> int(d[0]["ndim"]), d[0]["shape"][:2].tolist(), d[0]["strides"][:2].tolist()
    (2, [2, 3], [24, -8])
    """
    flat: list[int] = []
    for a in arrays:
        nd = a.ndim
        flat += (a.__array_interface__["data"][0], nd, _CODE.get(a.dtype, -1))
        flat += a.shape
        flat += _PAD[nd]
        flat += a.strides
        flat += _PAD[nd]
    return np.array(flat, dtype=np.int64)


def _extension():
    from kiln.configuration import config

    if config.extra.get("c_runtime") == "ctypes":   # KILN_FLAGS=c_runtime=ctypes: force the fallback
        return None
    try:
        from kiln.linkers.c import _runtime
    except ImportError:
        return None
    if _runtime.descriptor_size() != DESC_DTYPE.itemsize:
        return None
    _runtime.set_dtype_codes(dict(DTYPE_CODE))
    return _runtime


#: the Cython runtime extension when it is built (setup.py), else None (ctypes is used)
EXTENSION = _extension()


def entry_name(index: int) -> str:
    """The entry point of a function's segment number `index` in the modules the C linker
    builds (`kiln.linkers.c.render.render_modules`: a module may hold several segments)."""
    return f"kiln_entry_{index}"


def _imports(lib: ctypes.CDLL) -> tuple[str, ...]:
    """The names in a module's `kiln_imports` (a NULL-terminated array of C strings)."""
    at = ctypes.addressof(ctypes.c_char_p.in_dll(lib, "kiln_imports"))
    names = []
    while (name := ctypes.c_char_p.from_address(at + len(names) * ctypes.sizeof(ctypes.c_char_p)).value):
        names.append(name.decode())
    return tuple(names)


class CModule:
    """A loaded module and one of its entry points (`kiln_entry`, or `kiln_entry_<k>` for
    segment k of a module holding several): `module(arrays) -> (error code, failing kernel)`.

    >>> import tempfile
    >>> from kiln.linkers.cache import ModuleCache
    >>> from kiln.linkers.c.compiler import compile_source
    >>> from kiln.linkers.c.ir import LoopKernel, Operand, Segment
    >>> from kiln.linkers.c.render import render_segment
    >>> k = LoopKernel("neg", (Operand(0, "float64"),), (Operand(1, "float64"),), 1, ("const double y0 = -x0;",))
    >>> seg = Segment("neg", ((1, "float64"),) * 2, (k,))
    >>> _, so = compile_source(render_segment(seg), ModuleCache(tempfile.mkdtemp()))
    >>> out, x = np.empty(3), np.arange(6.0)[::-2]
    >>> CModule(so)([out, x]), out.tolist()
    ((0, 0), [-5.0, -3.0, -1.0])
    """

    def __init__(self, path: Path, entry: str = "kiln_entry"):
        self.path = Path(path)
        self.lib = ctypes.CDLL(str(self.path))
        if self.lib.kiln_desc_size() != DESC_DTYPE.itemsize:
            raise RuntimeError(f"kiln: {path} was built for another descriptor layout")
        try:
            set_blas = self.lib.kiln_set_blas   # only modules with BLAS calls export it
        except AttributeError:
            pass
        else:
            set_blas.argtypes, set_blas.restype = [ctypes.c_void_p], None
            set_blas(ctypes.cast(blas_table(), ctypes.c_void_p))
        try:   # modules calling functions of kiln's library (the elementwise driver, reductions)
            set_imports = self.lib.kiln_set_imports
        except AttributeError:
            pass
        else:
            from kiln.linkers.c.driver import resolve

            set_imports.argtypes, set_imports.restype = [ctypes.c_void_p], None
            set_imports(ctypes.addressof(resolve(_imports(self.lib))))
        self.entry = getattr(self.lib, entry)
        self.entry.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_int64)]
        self.entry.restype = ctypes.c_int
        self.address = ctypes.cast(self.entry, ctypes.c_void_p).value
        if EXTENSION is not None:
            call, address = EXTENSION.call, self.address
            self._fast = lambda arrays: call(address, arrays)
        else:
            self._fast = None

    def __call__(self, arrays: list) -> tuple[int, int]:
        """Run the module on arrays (descriptor order); returns (error code, failing kernel index)."""
        if self._fast is not None:
            return self._fast(arrays)
        desc = descriptors([a if type(a) is np.ndarray else np.asarray(a) for a in arrays])
        failed = ctypes.c_int64(0)
        rc = self.entry(desc.__array_interface__["data"][0], len(desc) // _NWORDS, ctypes.byref(failed))
        return rc, failed.value

