# cython: language_level=3, boundscheck=False, wraparound=False
"""The C linker's runtime extension: NumPy arrays -> buffer descriptors -> one native call.

Descriptors are built on the C stack straight from the arrays' headers (no copies, no
Python objects), and the GIL is released around the module's native work.  Built by
setup.py; kiln.linkers.c.runtime falls back to ctypes when it is not built.
"""
from libc.stdint cimport int64_t, uintptr_t
from libc.stdlib cimport malloc, free
cimport numpy as cnp
import numpy as np

cnp.import_array()

DEF MAXDIM = 16

ctypedef struct kiln_buf:
    char *data
    int64_t ndim
    int64_t dtype
    int64_t shape[MAXDIM]
    int64_t strides[MAXDIM]

ctypedef int (*entry_t)(kiln_buf *, int64_t, int64_t *) noexcept nogil

cdef int64_t CODES[64]
for _k in range(64):
    CODES[_k] = -1


def set_dtype_codes(dict codes):
    """Tell the runtime the dtype codes (name -> code) the generated modules use."""
    for ch in np.typecodes["All"]:
        dt = np.dtype(ch)
        if dt.name in codes and dt.num < 64 and dt.isnative:
            CODES[dt.num] = codes[dt.name]


def descriptor_size():
    return sizeof(kiln_buf)


def call(uintptr_t entry, list arrays):
    """Run the entry point at address `entry` on `arrays`; returns (error code, failing kernel)."""
    cdef Py_ssize_t n = len(arrays), k, d, nd
    cdef kiln_buf small[8]
    cdef kiln_buf *bufs = small
    cdef cnp.ndarray a
    cdef int64_t failed = 0
    cdef int rc
    cdef entry_t fn = <entry_t>entry
    if n > 8:
        bufs = <kiln_buf *>malloc(n * sizeof(kiln_buf))
        if bufs == NULL:
            raise MemoryError()
    try:
        for k in range(n):
            obj = arrays[k]
            if type(obj) is not np.ndarray:
                obj = np.asarray(obj)
            a = <cnp.ndarray>obj
            nd = cnp.PyArray_NDIM(a)
            if nd > MAXDIM:
                raise ValueError(f"kiln runtime: {nd}-d arrays are not supported (at most {MAXDIM})")
            bufs[k].data = <char *>cnp.PyArray_DATA(a)
            bufs[k].ndim = nd
            bufs[k].dtype = CODES[cnp.PyArray_TYPE(a)] if cnp.PyArray_ISNOTSWAPPED(a) else -1
            for d in range(nd):
                bufs[k].shape[d] = cnp.PyArray_DIMS(a)[d]
                bufs[k].strides[d] = cnp.PyArray_STRIDES(a)[d]
        with nogil:
            rc = fn(bufs, n, &failed)
    finally:
        if bufs != small:
            free(bufs)
    return rc, failed
