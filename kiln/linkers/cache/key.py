"""Content-addressed cache keys.

key = sha256 over: the generated source, the compiler's resolved path and `--version`
output, the flags, the platform, the CPU instruction-set features the module is built
for, and kiln's codegen version (a hash of the codegen source files and templates, so
editing the code generator invalidates old modules without anyone bumping a number).
"""
from __future__ import annotations

import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Sequence

__all__ = ["compiler_identity", "cpu_features", "codegen_version", "module_key", "probe_memo"]

_KILN_ROOT = Path(__file__).resolve().parents[2]
#: the files whose content defines what code kiln generates
_CODEGEN_GLOBS = ("linkers/c/*.py", "c_templates/*")


def probe_memo(kind: str, cc: str, compute: Callable[[], str]) -> str:
    """`compute()` (a question asked of the compiler by running it), remembered on disk.

    Running the compiler costs 5-20 ms a question, too much for a warm start that should
    take a few ms; the answer is kept under the cache's probes/ directory, keyed by `kind`
    and the compiler executable's resolved path, size, mtime and inode, so installing
    another compiler (or upgrading it) asks again.  Without a usable cache directory it
    just asks.  An exception from `compute` propagates and nothing is remembered.

    >>> probe_memo("demo", "no-such-compiler-xyz", lambda: "answer")
    'answer'
    """
    path = shutil.which(cc)
    if path is None:
        return compute()
    try:
        from kiln.linkers.cache.store import get_cache

        real = os.path.realpath(path)
        st = os.stat(real)
        tag = hashlib.sha256(f"{kind}\0{real}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ino}".encode()
                             ).hexdigest()[:32]
        probes = get_cache().root / "probes"
        f = probes / f"{tag}.txt"
        return f.read_text(encoding="utf-8")
    except FileNotFoundError:
        pass
    except Exception:   # no usable cache (refused directory, ...): ask every time
        return compute()
    answer = compute()
    try:
        from kiln.linkers.cache.location import ensure_private_dir
        from kiln.linkers.cache.store import _atomic_write

        ensure_private_dir(probes)
        _atomic_write(f, answer)
    except Exception:
        pass
    return answer


@functools.lru_cache(maxsize=None)
def compiler_identity(cc: str) -> str:
    """The compiler's resolved path and `--version` text (asked once per installed
    compiler: see `probe_memo`).

    >>> compiler_identity("no-such-compiler-xyz").startswith("missing:")
    True
    """
    path = shutil.which(cc)
    if path is None:
        return f"missing:{cc}"

    def ask() -> str:   # raises when the compiler cannot be run: a failure is never remembered
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
        return f"{Path(path).resolve()}\n{out.strip()}"

    try:
        return probe_memo("version", cc, ask)
    except (OSError, subprocess.SubprocessError) as e:
        return f"{Path(path).resolve()}\nunqueryable: {e}"


@functools.lru_cache(maxsize=None)
def cpu_features() -> str:
    """The CPU's instruction-set flags (sorted), so `-march=native` modules are never shared
    between machines with different CPUs through a common cache directory.

    >>> isinstance(cpu_features(), str) and len(cpu_features()) > 0
    True
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key = line.split(":", 1)[0].strip().lower()
                if key in ("flags", "features"):  # x86 says flags, ARM says Features
                    return " ".join(sorted(set(line.split(":", 1)[1].split())))
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()}"


@functools.lru_cache(maxsize=None)
def codegen_version() -> str:
    """A hash of kiln's code generator and templates (computed once per process).

    >>> len(codegen_version())
    16
    """
    h = hashlib.sha256()
    for pattern in _CODEGEN_GLOBS:
        for p in sorted(_KILN_ROOT.glob(pattern)):
            if p.is_file() and "__pycache__" not in p.parts:
                h.update(p.relative_to(_KILN_ROOT).as_posix().encode())
                h.update(p.read_bytes())
    return h.hexdigest()[:16]


def module_key(source: str, cc: str, flags: Sequence[str]) -> str:
    """The content key of the module compiled from `source` by `cc` with `flags`.

    >>> module_key("int f(void){return 1;}", "cc", ["-O2"]) == module_key("int f(void){return 1;}", "cc", ["-O2"])
    True
    """
    h = hashlib.sha256()
    for part in (source, compiler_identity(cc), "\0".join(flags), sys.platform, platform.machine(),
                 cpu_features(), codegen_version()):
        h.update(part.encode())
        h.update(b"\0\1\0")
    return h.hexdigest()[:40]
