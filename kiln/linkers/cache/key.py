"""Content-addressed cache keys.

key = sha256 over: the generated source, the compiler's resolved path and `--version`
output, the flags, the platform, the CPU instruction-set features the module is built
for, and kiln's codegen version (a hash of the codegen source files and templates, so
editing the code generator invalidates old modules without anyone bumping a number).
"""
from __future__ import annotations

import functools
import hashlib
import platform
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["compiler_identity", "cpu_features", "codegen_version", "module_key"]

_KILN_ROOT = Path(__file__).resolve().parents[2]
#: the files whose content defines what code kiln generates
_CODEGEN_GLOBS = ("linkers/c/*.py", "c_templates/*")


@functools.lru_cache(maxsize=None)
def compiler_identity(cc: str) -> str:
    """The compiler's resolved path and `--version` text (asked once per process).

    >>> compiler_identity("no-such-compiler-xyz").startswith("missing:")
    True
    """
    path = shutil.which(cc)
    if path is None:
        return f"missing:{cc}"
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as e:
        out = f"unqueryable: {e}"
    return f"{Path(path).resolve()}\n{out.strip()}"


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
