# cython: language_level=3, boundscheck=False, wraparound=False
"""The C linker's runtime extension: NumPy arrays -> buffer descriptors -> one native call.

Descriptors are built on the C stack straight from the arrays' headers (no copies, no
Python objects), and the GIL is released around the module's native work.  Built by
setup.py; kiln.linkers.c.runtime falls back to ctypes when it is not built.
"""
from libc.stdint cimport int64_t, uintptr_t
from libc.stdlib cimport malloc, free
from cpython.object cimport PyObject
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


cdef int _describe(kiln_buf *b, cnp.ndarray a) except -1:
    """Fill one descriptor from an array's header (no copy)."""
    cdef Py_ssize_t d, nd = cnp.PyArray_NDIM(a)
    if nd > MAXDIM:
        raise ValueError(f"kiln runtime: {nd}-d arrays are not supported (at most {MAXDIM})")
    b.data = <char *>cnp.PyArray_DATA(a)
    b.ndim = nd
    b.dtype = CODES[cnp.PyArray_TYPE(a)] if cnp.PyArray_ISNOTSWAPPED(a) else -1
    for d in range(nd):
        b.shape[d] = cnp.PyArray_DIMS(a)[d]
        b.strides[d] = cnp.PyArray_STRIDES(a)[d]
    return 0


def call(uintptr_t entry, list arrays):
    """Run the entry point at address `entry` on `arrays`; returns (error code, failing kernel)."""
    cdef Py_ssize_t n = len(arrays), k
    cdef kiln_buf small[8]
    cdef kiln_buf *bufs = small
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
            _describe(&bufs[k], <cnp.ndarray>obj)
        with nogil:
            rc = fn(bufs, n, &failed)
    finally:
        if bufs != small:
            free(bufs)
    return rc, failed


# -- the whole run of a C-linked function (kiln.linkers.c.linker builds a Program) ------------
#
# A Program walks a precomputed schedule: python steps (a callable doing `perform`) and
# segments (allocate outputs from shape rules, build views, one native call).  Everything
# a call touches lives in its own `storage` list and pool list, so concurrent calls share
# nothing but the immutable schedule.  Rare and error paths call back into Python.

cdef extern from "numpy/arrayobject.h":
    bint PyArray_EquivTypenums(int, int)

cdef class PyStep:
    """A node run through its `perform`: fn(storage) stores its outputs; then drop `frees`."""
    cdef object fn
    cdef tuple frees

    def __init__(self, fn, tuple frees):
        self.fn, self.frees = fn, frees


cdef class Prep:
    """Before a segment's call: a view (fn(storage)) or a kernel's output allocation."""
    cdef bint is_view, elemwise
    cdef object fn, node
    cdef tuple ins, outs, typenums, aliases, pools, reuse
    cdef int out_ndim

    def __init__(self, bint is_view, fn, node=None, tuple ins=(), tuple outs=(), tuple typenums=(),
                 tuple aliases=(), tuple pools=(), bint elemwise=False, int out_ndim=0, tuple reuse=()):
        self.is_view, self.fn, self.node, self.ins, self.outs = is_view, fn, node, ins, outs
        self.typenums, self.aliases, self.pools = typenums, aliases, pools
        self.elemwise, self.out_ndim = elemwise, out_ndim
        # per output: its index among the function's reusable outputs (-1: none)
        self.reuse = reuse if reuse else (-1,) * len(outs)


cdef class SegStep:
    """One segment: preps in order, then the native call on `buf_slots`; errors go to
    on_error(storage, rc, failed), which raises."""
    cdef uintptr_t entry
    cdef tuple buf_slots, preps, frees
    cdef object on_error
    cdef Py_ssize_t n_pools

    def __init__(self, uintptr_t entry, tuple buf_slots, tuple preps, tuple frees, on_error,
                 Py_ssize_t n_pools):
        self.entry, self.buf_slots, self.preps, self.frees = entry, buf_slots, preps, frees
        self.on_error, self.n_pools = on_error, n_pools


cdef inline bint _same_shape(cnp.ndarray a, int nd, cnp.npy_intp *dims):
    cdef int d
    if cnp.PyArray_NDIM(a) != nd:
        return False
    for d in range(nd):
        if cnp.PyArray_DIMS(a)[d] != dims[d]:
            return False
    return True


cdef object _pooled(list pools, Py_ssize_t p, int nd, cnp.npy_intp *dims, int typenum):
    """A C-contiguous array viewing pool `p`'s bytes (the pool grows when too small)."""
    cdef cnp.npy_intp nbytes = cnp.PyArray_DescrFromType(typenum).itemsize, n1
    cdef int d
    cdef cnp.ndarray buf
    for d in range(nd):
        nbytes *= dims[d]
    buf = <cnp.ndarray>pools[p] if pools[p] is not None else None
    if buf is None or cnp.PyArray_DIMS(buf)[0] < nbytes:
        n1 = nbytes if nbytes > 0 else 1
        buf = cnp.PyArray_EMPTY(1, <cnp.npy_intp *>&n1, cnp.NPY_UINT8, 0)
        pools[p] = buf
    arr = cnp.PyArray_SimpleNewFromData(nd, dims, typenum, cnp.PyArray_DATA(buf))
    cnp.set_array_base(<cnp.ndarray>arr, buf)
    return arr


cdef extern from "Python.h":
    Py_ssize_t _refcnt "Py_REFCNT"(PyObject *o)
    PyObject *PyList_GET_ITEM(object, Py_ssize_t)


cdef object _take_spare(list spares, int nd, cnp.npy_intp *dims, int typenum):
    """A previous call's output nobody holds any more (only `spares` refers to it) of this
    shape and dtype, removed from `spares`; else None.  No GIL release in between, so two
    concurrent calls never take the same array."""
    cdef Py_ssize_t j
    cdef PyObject *p
    cdef cnp.ndarray a
    for j in range(len(spares)):
        p = PyList_GET_ITEM(spares, j)
        if _refcnt(p) != 1:
            continue   # the caller (or a view, an update, a container) still holds it
        a = <cnp.ndarray>p
        if (cnp.PyArray_TYPE(a) == typenum and _same_shape(a, nd, dims)
                and cnp.PyArray_CHKFLAGS(a, cnp.NPY_ARRAY_OWNDATA | cnp.NPY_ARRAY_WRITEABLE
                                         | cnp.NPY_ARRAY_C_CONTIGUOUS)):
            del spares[j]
            return a
    return None


cdef int _alloc(Prep pr, list storage, list pools, list spares) except -1:
    cdef Py_ssize_t k, n = len(pr.ins), nout = len(pr.outs)
    cdef cnp.npy_intp dims_buf[MAXDIM]
    cdef cnp.npy_intp *dims = dims_buf
    cdef int nd = pr.out_ndim, d, typenum, src, p
    cdef cnp.ndarray a0, a
    cdef bint fast = pr.elemwise and n > 0
    if fast:   # elementwise, every input of the output's shape: the common case, in C
        first = storage[<Py_ssize_t>pr.ins[0]]
        if type(first) is not np.ndarray or cnp.PyArray_NDIM(<cnp.ndarray>first) != nd:
            fast = False
        else:
            a0 = <cnp.ndarray>first
            dims = cnp.PyArray_DIMS(a0)
            for k in range(1, n):
                obj = storage[<Py_ssize_t>pr.ins[k]]
                if type(obj) is not np.ndarray or not _same_shape(<cnp.ndarray>obj, nd, dims):
                    fast = False
                    break
    if not fast:
        shape = pr.fn(pr.node, [storage[<Py_ssize_t>i] for i in pr.ins])
        nd = len(shape)
        if nd > MAXDIM:
            raise ValueError(f"kiln runtime: {nd}-d arrays are not supported (at most {MAXDIM})")
        dims = dims_buf
        for d in range(nd):
            dims_buf[d] = shape[d]
    for k in range(nout):
        typenum = pr.typenums[k]
        src = pr.aliases[k]
        if src >= 0:   # an in-place kernel: write into the destroyed input when it fits
            obj = storage[src]
            if type(obj) is np.ndarray:
                a = <cnp.ndarray>obj
                # kernels write C-contiguous outputs (a LAPACK result or a transposed view
                # destroyed in place would not be): otherwise a fresh buffer, which the
                # kernel fills from the input first
                if (cnp.PyArray_ISWRITEABLE(a) and cnp.PyArray_IS_C_CONTIGUOUS(a)
                        and _same_shape(a, nd, dims)
                        and PyArray_EquivTypenums(cnp.PyArray_TYPE(a), typenum)):
                    storage[<Py_ssize_t>pr.outs[k]] = a
                    continue
        p = pr.pools[k]
        if p >= 0:
            storage[<Py_ssize_t>pr.outs[k]] = _pooled(pools, p, nd, dims, typenum)
            continue
        p = pr.reuse[k]
        if p >= 0:   # a function output: the storage of a previous call's, when nobody holds it
            obj = _take_spare(<list>spares[p], nd, dims, typenum)
            if obj is not None:
                storage[<Py_ssize_t>pr.outs[k]] = obj
            else:
                storage[<Py_ssize_t>pr.outs[k]] = cnp.PyArray_EMPTY(nd, dims, typenum, 0)
        else:
            storage[<Py_ssize_t>pr.outs[k]] = cnp.PyArray_EMPTY(nd, dims, typenum, 0)
    return 0


cdef int _call_segment(SegStep seg, list storage, list spares) except -1:
    cdef Py_ssize_t n = len(seg.buf_slots), k
    cdef kiln_buf small[8]
    cdef kiln_buf *bufs = small
    cdef int64_t failed = 0
    cdef int rc
    cdef entry_t fn = <entry_t>seg.entry
    cdef list pools = [None] * seg.n_pools if seg.n_pools else None
    for pr in seg.preps:
        if (<Prep>pr).is_view:
            (<Prep>pr).fn(storage)
        else:
            _alloc(<Prep>pr, storage, pools, spares)
    if n > 8:
        bufs = <kiln_buf *>malloc(n * sizeof(kiln_buf))
        if bufs == NULL:
            raise MemoryError()
    try:
        for k in range(n):
            obj = storage[<Py_ssize_t>seg.buf_slots[k]]
            if type(obj) is not np.ndarray:
                obj = np.asarray(obj)
                storage[<Py_ssize_t>seg.buf_slots[k]] = obj   # keep it alive through the call
            _describe(&bufs[k], <cnp.ndarray>obj)
        with nogil:
            rc = fn(bufs, n, &failed)
    finally:
        if bufs != small:
            free(bufs)
    if rc:
        seg.on_error(storage, rc, failed)
        raise RuntimeError(f"kiln runtime: native error {rc}")   # on_error always raises
    return 0


cdef class Program:
    """A compiled function's run: `program(values) -> list of outputs` (thread-safe)."""
    cdef list init, spares
    cdef tuple input_slots, output_slots, steps, reuse_slots
    #: what the linker planned (per segment: label, intermediates, pools), for inspection
    cdef public dict info
    cdef dict __dict__   # the linker attaches more (module keys) as attributes

    def __init__(self, list init, tuple input_slots, tuple output_slots, tuple steps, dict info=None,
                 tuple reuse_slots=()):
        self.init, self.input_slots, self.output_slots, self.steps = init, input_slots, output_slots, steps
        self.info = info if info is not None else {}
        # reuse_slots[k]: the storage slot of the k-th output a segment allocates; its last
        # arrays are kept in spares[k] (at most two: the caller usually holds the latest
        # while the next call runs) and reused once nobody else refers to them
        self.reuse_slots = reuse_slots
        self.spares = [[] for _ in reuse_slots]

    def release(self):
        """Drop the outputs kept for reuse (their memory goes back to the allocator)."""
        self.spares = [[] for _ in self.reuse_slots]

    def __call__(self, values):
        cdef list storage = list(self.init)
        cdef Py_ssize_t k, n = len(self.input_slots)
        cdef list sp
        if len(values) < n:
            raise TypeError(f"kiln runtime: expected {n} input values, got {len(values)}")
        for k in range(n):
            storage[<Py_ssize_t>self.input_slots[k]] = values[k]
        for st in self.steps:
            if type(st) is SegStep:
                _call_segment(<SegStep>st, storage, self.spares)
                for sl in (<SegStep>st).frees:
                    storage[<Py_ssize_t>sl] = None
            else:
                (<PyStep>st).fn(storage)
                for sl in (<PyStep>st).frees:
                    storage[<Py_ssize_t>sl] = None
        for k in range(len(self.reuse_slots)):
            obj = storage[<Py_ssize_t>self.reuse_slots[k]]
            if type(obj) is np.ndarray and cnp.PyArray_CHKFLAGS(<cnp.ndarray>obj, cnp.NPY_ARRAY_OWNDATA):
                sp = <list>self.spares[k]
                if not any(o is obj for o in sp):
                    sp.append(obj)
                    if len(sp) > 2:
                        del sp[0]
        return [storage[<Py_ssize_t>s] for s in self.output_slots]


# -- Function.__call__'s hot path (kiln.compile.function builds one CallPath per Function) --------

cdef extern from "numpy/arrayobject.h":
    bint PyArray_EquivTypes(cnp.dtype, cnp.dtype)

cdef class CallPath:
    """Validate positional arguments, run, protect outputs, apply updates: what
    `Function.__call__` does for `f(*args)`, in C.

    checks: per input (dtype or None, ndim, static dims ((axis, size), ...), generic filter):
    an ndarray of exactly that dtype/ndim/static shape passes as is; with dtype None the
    generic filter decides.  Any refusal goes to bind(args), which converts or raises the
    error naming the input.
    """
    cdef tuple checks, containers, copy_idx, ro_idx, update_cells
    cdef object runner, bind, copy_value
    cdef Py_ssize_t n_in, n_out
    cdef bint single

    def __init__(self, tuple checks, tuple containers, runner, bind, copy_value, tuple copy_idx,
                 tuple ro_idx, tuple update_cells, bint single, Py_ssize_t n_out):
        self.checks, self.containers, self.runner, self.bind = checks, containers, runner, bind
        self.copy_value, self.copy_idx, self.ro_idx = copy_value, copy_idx, ro_idx
        self.update_cells, self.single, self.n_out = update_cells, single, n_out
        self.n_in = len(checks)

    cdef bint _accepts(self, tuple check, object v):
        cdef cnp.ndarray a
        dt = check[0]
        if dt is None:
            return False
        if type(v) is not np.ndarray:
            return False
        a = <cnp.ndarray>v
        if cnp.PyArray_NDIM(a) != <int>check[1]:
            return False
        if not PyArray_EquivTypes(<cnp.dtype>cnp.PyArray_DESCR(a), <cnp.dtype>dt):
            return False
        for axis, size in <tuple>check[2]:
            if cnp.PyArray_DIMS(a)[<int>axis] != <cnp.npy_intp>size:
                return False
        return True

    def __call__(self, tuple args):
        cdef Py_ssize_t k
        cdef list values
        cdef tuple check
        if len(args) != self.n_in:
            values = self.bind(args)
        else:
            values = list(args)
            for k in range(self.n_in):
                check = <tuple>self.checks[k]
                v = args[k]
                if self._accepts(check, v):
                    continue
                if check[0] is None:
                    try:
                        values[k] = check[3](v)
                        continue
                    except (TypeError, ValueError):
                        pass
                values = self.bind(args)   # converts, or raises the error naming the input
                break
        for c in self.containers:
            values.append(c.value)
        results = self.runner(values)
        if type(results) is not list:
            results = list(results)
        for k in self.copy_idx:
            results[k] = self.copy_value(results[k])
        for k in self.ro_idx:
            r = results[k]
            if type(r) is np.ndarray:
                if not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>r):
                    results[k] = np.array(r, copy=True)
            elif isinstance(r, np.ndarray) and not r.flags.writeable:
                results[k] = np.array(r, copy=True)
        # simultaneous updates: everything was computed from the old values above, and
        # nothing is written back unless the whole run succeeded
        for k, cell in self.update_cells:
            cell.value = results[k]
        if self.single:
            return results[0]
        if self.update_cells:
            del results[self.n_out:]
        return results
