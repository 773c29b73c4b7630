"""Compile one generated C source into a shared library, through the module cache.

Flags: -O2 plus loop vectorization with the cheap cost model (-O3 vectorizes as well but
compiles big modules 10-20x slower); a position-independent shared object; no
-ffast-math.  -fwrapv because NumPy integer arithmetic wraps (signed overflow is
undefined in C otherwise); -ffp-contract=off so a*b+c is never fused into an FMA (NumPy
rounds each operation); -fno-math-errno only drops errno writes, which nobody reads.
An undeclared function or an unresolved symbol is an error at build time, never a
failure when the module loads.  -march=native is why the cache key includes the CPU's
instruction-set features.
"""
from __future__ import annotations

import functools
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

from kiln.linkers.cache import ModuleCache, get_cache, module_key
from kiln.linkers.cache.key import probe_memo

__all__ = ["CompileError", "compiler", "have_compiler", "FLAGS", "build_flags", "compile_source",
           "compile_sources", "compile_jobs", "threads"]

FLAGS = ("-O2", "-ftree-vectorize", "-fvect-cost-model=cheap", "-fPIC", "-shared", "-std=gnu11", "-fwrapv",
         "-ffp-contract=off", "-fno-math-errno", "-march=native", "-Werror=implicit-function-declaration",
         "-Wl,--no-undefined")
LIBS = ("-lm",)


@functools.lru_cache(maxsize=None)
def _libmvec(cc: str) -> bool:
    """True when `cc` links glibc's vector math library (x86-64 Linux), asked once per
    installed compiler (`probe_memo`: a warm start runs no compiler)."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return False

    def ask() -> str:
        out = subprocess.run([cc, "-print-file-name=libmvec.so"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
        return "1" if os.path.isabs(out) and os.path.exists(out) else "0"

    try:
        return probe_memo("libmvec", cc, ask) == "1"
    except (OSError, subprocess.SubprocessError):
        return False


@functools.lru_cache(maxsize=None)
def _openmp(cc: str) -> bool:
    """True when `cc` accepts -fopenmp and links OpenMP (asked once per installed compiler)."""
    import tempfile

    def ask() -> str:
        with tempfile.TemporaryDirectory() as d:
            src = Path(d) / "omp.c"
            src.write_text("#include <omp.h>\nint kiln_probe(void) { return omp_get_max_threads(); }\n")
            res = subprocess.run([cc, "-fopenmp", "-fPIC", "-shared", "-Wl,--no-undefined", "-o",
                                  str(Path(d) / "omp.so"), str(src)], capture_output=True, timeout=60)
            return "1" if res.returncode == 0 else "0"

    try:
        return probe_memo("openmp", cc, ask) == "1"
    except (OSError, subprocess.SubprocessError):
        return False


def threads() -> int:
    """The thread count for large loops and reductions: KILN_FLAGS=threads=N (default 1).

    One thread by default: kiln's callers often run several processes or their own
    threads, and BLAS (SciPy's) has its own pool; ask for more explicitly.

    >>> threads() >= 1
    True
    """
    from kiln.configuration import config

    raw = config.extra.get("threads", 1)
    try:
        n = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"kiln: KILN_FLAGS threads={raw!r} is not an integer") from None
    if n < 1:
        raise ValueError(f"kiln: KILN_FLAGS threads={n} must be at least 1")
    return n


def build_flags(cc: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(compile flags, libraries) for `cc`: FLAGS/LIBS plus vector math where available,
    plus OpenMP with the thread count when KILN_FLAGS=threads=N asks for more than one
    (the flags are part of every cache key, so the count is too)."""
    flags, libs = FLAGS, LIBS
    if _libmvec(cc):
        flags, libs = flags + ("-DKILN_LIBMVEC",), ("-lmvec",) + libs
    from kiln.configuration import config

    stream_min = config.extra.get("stream_min")   # bytes of output from which loops stream (tests use 1)
    if stream_min is not None:
        flags = flags + (f"-DKILN_STREAM_MIN={int(stream_min)}",)
    n = threads()
    if n > 1 and _openmp(cc):
        flags = flags + ("-fopenmp", f"-DKILN_NT={n}")
        par_min = config.extra.get("par_min")   # the threading threshold in elements (tests use 1)
        if par_min is not None:
            flags = flags + (f"-DKILN_PAR_MIN={int(par_min)}",)
    return flags, libs


class CompileError(RuntimeError):
    """The C compiler rejected a generated module; the message holds its output and source lines."""


def compiler() -> str:
    """The compiler command: KILN_FLAGS=cc=..., else $CC, else cc."""
    from kiln.configuration import config

    return config.extra.get("cc") or os.environ.get("CC") or "cc"


def have_compiler() -> bool:
    """True when the configured C compiler can be found on PATH."""
    return shutil.which(compiler()) is not None


def _keep_failed() -> bool:
    from kiln.configuration import config

    return str(config.extra.get("cache_keep_failed", "0")).lower() in ("1", "true", "yes", "on")


def _excerpt(source: str, message: str, context: int = 3) -> str:
    lines = source.splitlines()
    wanted = sorted({int(m) for m in re.findall(r"mod\.c:(\d+):", message)})[:3]
    parts = []
    for ln in wanted:
        lo, hi = max(ln - context, 1), min(ln + context, len(lines))
        parts.append("\n".join(f"{'>' if i == ln else ' '}{i:5d} | {lines[i - 1]}" for i in range(lo, hi + 1)))
    return "\n...\n".join(parts)


def openmp_flags() -> tuple[str, ...]:
    """("-fopenmp",) when the C compiler has OpenMP, else () (the elementwise driver's flags)."""
    return ("-fopenmp",) if _openmp(compiler()) else ()


def compile_source(source: str, cache: ModuleCache | None = None,
                   extra_flags: tuple[str, ...] = ()) -> tuple[str, Path]:
    """Compile `source` (or find it in the cache) with the module flags plus `extra_flags`;
    returns (key, path of the .so).

    >>> import tempfile
    >>> key, so = compile_source("int kiln_one(void) { return 1; }", ModuleCache(tempfile.mkdtemp()))
    >>> so.name, len(key)
    ('mod.so', 40)
    """
    cache = cache or get_cache()
    cc = compiler()
    flags, libs = build_flags(cc)
    flags = flags + tuple(f for f in extra_flags if f not in flags)
    key = module_key(source, cc, flags + libs)

    def build(tmp: Path) -> list[str]:
        (tmp / "mod.c").write_text(source, encoding="utf-8")
        cmd = [cc, *flags, "-o", "mod.so", "mod.c", *libs]
        try:
            res = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        except OSError as e:
            raise CompileError(f"kiln: cannot run the C compiler {cc!r}: {e}") from e
        if res.returncode != 0:
            msg = (res.stderr or res.stdout).strip()
            where = ""
            if _keep_failed():
                d = cache.keep_failed(key, {"mod.c": source, "compiler.txt": f"{' '.join(cmd)}\n{msg}\n"})
                where = f"\n(source kept in {d})"
            else:
                where = "\n(set KILN_FLAGS=cache_keep_failed=1 to keep the generated source)"
            raise CompileError(f"kiln: the C compiler failed on a generated module:\n{msg}\n"
                               f"generated lines:\n{_excerpt(source, msg)}{where}")
        return ["mod.so", "mod.c"]

    return key, cache.get_or_build(key, build) / "mod.so"


def compile_jobs() -> int:
    """How many compiler processes run at once: KILN_FLAGS=compile_jobs=N, else the CPUs this
    process may run on (its affinity mask: a process pinned to one CPU gains nothing from a
    second compiler, and pays each one's start-up).

    >>> compile_jobs() >= 1
    True
    """
    from kiln.configuration import config

    jobs = int(config.extra.get("compile_jobs", 0) or 0)
    if jobs > 0:
        return jobs
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:   # no affinity masks (macOS, Windows)
        return os.cpu_count() or 1


def compile_sources(sources: list[str], cache: ModuleCache | None = None) -> list[tuple[str, Path]]:
    """`compile_source` for several sources (the segments of one function), in parallel.

    Each compile is a separate compiler process, so threads overlap them: a function of
    several segments compiles in about the time of its largest one on a multi-core
    machine.  Results are in `sources`' order; the first compile error is raised after
    every compile has finished (none is left running).

    >>> import tempfile
    >>> out = compile_sources(["int a(void){return 1;}", "int b(void){return 2;}"],
    ...                       ModuleCache(tempfile.mkdtemp()))
    >>> [so.name for _, so in out]
    ['mod.so', 'mod.so']
    """
    cache = cache or get_cache()
    workers = min(len(sources), compile_jobs())
    if workers <= 1:
        return [compile_source(src, cache) for src in sources]
    from concurrent.futures import ThreadPoolExecutor

    # largest first, so a big module does not start last and finish alone
    order = sorted(range(len(sources)), key=lambda k: -len(sources[k]))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kiln-cc") as pool:
        futures = {k: pool.submit(compile_source, sources[k], cache) for k in order}
    return [futures[k].result() for k in range(len(sources))]
