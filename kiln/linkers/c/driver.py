"""kiln's library: the C code that does no per-graph specialization, compiled once rather than
into every module (kiln/c_templates/driver_lib.c).

It holds the elementwise loop driver `kiln_elemwise` (elemwise.c: every loop path; the
arithmetic stays in the modules' row functions), which cost ~55 ms of the C compiler per module
(add_one's whole module was ~70 ms before the driver existed), the common reduction bodies
`kiln_reduce_<kind>_<input dtype>_<output dtype>` (reduce.c, ~80 ms each; the list is in
driver_lib.c, `library_reductions()`), and the index and shape parts (index_lib.c,
shape_lib.c).  setup.py builds it as kiln/linkers/c/_driver*.so (~4 s of gcc, once per install;
OpenMP where the compiler has it, -march=native tagged with the CPU's flags: it is used only on
a CPU with the same flags).  Where that build is missing, was made for another CPU or lacks a
name (a build older than driver_lib.c's list), each function a module needs is compiled on
first use through the module cache, as a small library of its own (`driver_source(names)`:
0.16 s of gcc for a reduction body, 0.19 s for the elementwise driver; the whole library would
cost every fresh cache ~4 s before its first function).  `KILN_FLAGS=c_driver=cache` forces
those builds (tests use it).

A module lists the names it calls in `kiln_imports` and the runtime (`CModule`) hands their
addresses, `resolve(names)`, to the module's `kiln_set_imports` when it loads it, as it hands
BLAS's pointers; the resolved table is kept per tuple of names, so a warm start pays
microseconds per module.
"""
from __future__ import annotations

import ctypes
import functools
import re
import threading
from pathlib import Path

__all__ = ["driver_source", "library_reductions", "reduction_name", "resolve"]

_HERE = Path(__file__).parent
_TEMPLATES = _HERE.parent.parent / "c_templates"
_lock = threading.Lock()
_tables: dict[tuple[str, tuple[str, ...]], ctypes.Array] = {}   # (c_driver, names) -> addresses
_installed_lib: list = []   # [the setup.py build, or None when unusable], once resolved
_built: dict[str, int] = {}   # name -> address in its own cache-built library
_libs: list = []   # loaded libraries stay loaded (modules hold pointers into them)

#: one entry of driver_lib.c's list of reduction bodies
_TABLE_ENTRY = re.compile(r'^#define KILN_R\(X\) X\((\w+), (\w+), (\w+)\)\n#include "reduce\.c"\n', re.M)
#: an include of driver_lib.c that defines only the functions it names
_PART = re.compile(r'^#include "([\w.]+)"[ \t]*/\* kiln: defines ([\w ]+?) \*/\n', re.M)
_INCLUDE = re.compile(r'^#include "([\w.]+)".*\n', re.M)


@functools.lru_cache(maxsize=None)
def _read(name: str) -> str:
    return (_TEMPLATES / name).read_text(encoding="utf-8")


def reduction_name(kind: str, in_dtype: str, out_dtype: str) -> str:
    """The C name of a reduction body (reduce.c).

    >>> reduction_name("sum", "int32", "int64")
    'kiln_reduce_sum_int32_int64'
    """
    return f"kiln_reduce_{kind}_{in_dtype}_{out_dtype}"


@functools.lru_cache(maxsize=None)
def library_reductions() -> frozenset[tuple[str, str, str]]:
    """The (kind, input dtype, output dtype) of the reduction bodies in kiln's library, read from
    driver_lib.c's list; other combinations are compiled into the modules that need them.

    >>> ("sum", "float64", "float64") in library_reductions()
    True
    """
    return frozenset(m.groups() for m in _TABLE_ENTRY.finditer(_read("driver_lib.c")))


def driver_source(names: tuple[str, ...] | None = None) -> str:
    """The library's C source as one text (no `#include "..."` left): all of it, or only the
    parts that define `names` (a cache build of a few functions): driver_lib.c's includes
    marked `kiln: defines ...` and its reduction bodies are left out unless they define one.

    >>> src = driver_source(("kiln_reduce_max_float32_float32",))
    >>> "int kiln_elemwise(" in src, src.count('#include "'), "X(max, float32, float32)" in src
    (False, 0, True)
    """
    lib = _read("driver_lib.c")
    if names is not None:
        lib = _PART.sub(lambda m: m.group(0) if set(m.group(2).split()) & set(names) else "", lib)
        lib = _TABLE_ENTRY.sub(lambda m: m.group(0) if reduction_name(*m.groups()) in names else "", lib)
    # each include is a file of kiln/c_templates, in its place (reduce.c once per body)
    for _ in range(8):   # included files may include others
        if not _INCLUDE.search(lib):
            break
        lib = _INCLUDE.sub(lambda m: _read(m.group(1)), lib)
    return lib


def _prebuilt() -> Path | None:
    found = sorted(_HERE.glob("_driver*.so")) + sorted(_HERE.glob("_driver*.pyd"))
    return found[0] if found else None


def _cpu_tag() -> str:
    """This CPU's tag, as setup.py computes it for the library (see its _native_flags)."""
    import hashlib

    from kiln.linkers.cache.key import cpu_features

    return hashlib.sha256(cpu_features().encode()).hexdigest()[:16]


def _load(path: Path, check_cpu: bool = False):
    """The library at `path`, loaded; None when it was built for another CPU."""
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
    return lib


def _symbol(lib, name: str) -> int:
    return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value


def _address(name: str, how: str) -> int:
    """The address of `name`: in setup.py's build, else in its own cache build (under _lock)."""
    if how != "cache":
        if not _installed_lib:
            path = _prebuilt()
            _installed_lib.append(_load(path, check_cpu=True) if path is not None else None)
        if _installed_lib[0] is not None:
            try:
                return _symbol(_installed_lib[0], name)
            except AttributeError:   # built before driver_lib.c listed it: compile it below
                pass
    if name not in _built:
        from kiln.linkers.c.compiler import compile_source, openmp_flags

        _, path = compile_source(driver_source((name,)), extra_flags=openmp_flags())
        try:
            _built[name] = _symbol(_load(path), name)
        except AttributeError:
            raise RuntimeError(f"kiln: a module calls {name}, which kiln's library does not define "
                               "(kiln/c_templates/driver_lib.c)") from None
    return _built[name]


def resolve(names: tuple[str, ...]) -> ctypes.Array:
    """The addresses of `names` in kiln's library, as a C array of pointers (loading the
    library, or first compiling what it lacks); kept per tuple of names, so resolving a
    module's imports again costs a dictionary lookup.

    >>> table = resolve(("kiln_elemwise", "kiln_reduce_sum_float64_float64"))
    >>> len(table), all(table), resolve(("kiln_elemwise",))[0] == table[0]
    (2, True, True)
    """
    from kiln.configuration import config

    key = (config.extra.get("c_driver", "auto"), names)
    table = _tables.get(key)
    if table is None:
        with _lock:
            table = _tables.get(key)
            if table is None:
                table = (ctypes.c_void_p * len(names))(*[_address(n, key[0]) for n in names])
                _tables[key] = table
    return table
