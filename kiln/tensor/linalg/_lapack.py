"""LAPACK through SciPy's `cython_lapack` function pointers, called with ctypes.

`scipy.linalg.solve_triangular` costs an import of all of scipy.linalg (0.3-0.4 s, most of a
warm start of a model using it) and a Python-level wrapper per call; the LAPACK routine it
ends in (?trtrs) is reachable without either, the same way the C linker reaches BLAS.
Only the real dtypes are here; callers fall back to SciPy for the others.
"""
from __future__ import annotations

import ctypes
import functools

import numpy as np

__all__ = ["trtrs"]

_P = ctypes.POINTER


@functools.cache
def _routine(name: str, ctype: type):
    from kiln._lazy import capsule_pointer, scipy_linalg_extension

    ptr = capsule_pointer(scipy_linalg_extension("cython_lapack").__pyx_capi__[name])
    c, i = ctypes.c_char_p, _P(ctypes.c_int)
    proto = ctypes.CFUNCTYPE(None, c, c, c, i, i, _P(ctype), i, _P(ctype), i, i)
    return proto(ptr)


_ROUTINES = {np.dtype("float32"): ("strtrs", ctypes.c_float), np.dtype("float64"): ("dtrtrs", ctypes.c_double)}


def trtrs(a: np.ndarray, b: np.ndarray, lower: bool, trans: bool, unit_diagonal: bool) -> np.ndarray | None:
    """x with op(a) x = b for one triangular matrix `a` (n x n) and `b` (n or n x k), as
    scipy.linalg.solve_triangular computes it (same errors: non-finite input -> ValueError,
    a zero on the diagonal -> LinAlgError); None for dtypes without a routine here.

    >>> a = np.array([[2.0, 0.0], [1.0, 4.0]])
    >>> trtrs(a, np.array([2.0, 9.0]), lower=True, trans=False, unit_diagonal=False).tolist()
    [1.0, 2.0]
    """
    dt = np.result_type(a, b)
    if dt not in _ROUTINES or a.dtype != dt or b.dtype != dt:
        return None
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("array must not contain infs or NaNs")
    n = a.shape[0]
    if n == 0 or b.size == 0:
        return np.empty(b.shape, dtype=dt)
    name, ctype = _ROUTINES[dt]
    # a C-ordered array read as column-major is a^T: solve with the other triangle and the
    # other transposition instead of copying into Fortran order
    ac = np.ascontiguousarray(a)
    uplo = b"U" if lower else b"L"
    tr = b"N" if trans else b"T"
    x = np.array(b.reshape(n, -1), dtype=dt, order="F", copy=True)
    nn, nrhs, info = ctypes.c_int(n), ctypes.c_int(x.shape[1]), ctypes.c_int(0)
    _routine(name, ctype)(uplo, tr, b"U" if unit_diagonal else b"N", ctypes.byref(nn), ctypes.byref(nrhs),
                          ac.ctypes.data_as(_P(ctype)), ctypes.byref(nn), x.ctypes.data_as(_P(ctype)),
                          ctypes.byref(nn), ctypes.byref(info))
    if info.value > 0:
        raise np.linalg.LinAlgError(f"singular matrix: resolution failed at diagonal {info.value - 1}")
    if info.value < 0:   # a bad argument: a bug here, not the user's
        raise RuntimeError(f"{name}: argument {-info.value} was illegal")
    return x.reshape(b.shape)
