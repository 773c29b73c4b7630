"""The on-disk module cache: content-addressed entries, per-key locks, atomic publish.

Layout under the cache root (all private, 0700):

    modules/<key>/        one entry: its artifacts (e.g. mod.so, mod.c) + manifest.json
    locks/<key>.lock      one lock per key (an OS file lock: released when its holder dies)
    index/<sig>.json      function-level index: graph signature -> artifact keys
    functions/fn-<sig>/   warm-start entries (kiln.linkers.cache.warm): a user graph's
                          rewritten form + module keys; same manifest, not counted as modules
    tmp/                  entries being built (renamed into modules/ when complete)
    failed/<key>/         sources of failed compiles (with KILN_FLAGS=cache_keep_failed=1)
    stats.log             one byte per event (h hit, m miss, c compile, r rebuilt corrupt
                          entry, w warm start, u rewrite run for lack of one), appended with
                          O_APPEND so processes never need a lock

Readers never wait for unrelated compiles: there is no global lock, and a hit takes no
lock at all (entries only appear by an atomic rename and are verified against their
manifest's sizes and sha256 before use).  The manifest's mtime records the last use,
which least-recently-used pruning sorts by.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from kiln.linkers.cache.location import default_cache_dir, ensure_private_dir

__all__ = ["ModuleCache", "CacheEntry", "CacheStats", "get_cache"]

_MANIFEST = "manifest.json"
_EVENTS = {"h": "hits", "m": "misses", "c": "compiles", "r": "rebuilt", "w": "warm_starts",
           "u": "rewrites_run"}


@dataclass(frozen=True)
class CacheStats:
    """Counts of cache events: module hits, misses, compiles, corrupt entries rebuilt, and
    function-level warm starts (a function built from its stored rewritten graph) versus
    rewrite pipelines run (no usable warm entry)."""

    hits: int = 0
    misses: int = 0
    compiles: int = 0
    rebuilt: int = 0
    warm_starts: int = 0
    rewrites_run: int = 0


@dataclass(frozen=True)
class CacheEntry:
    """One published entry: its key, directory, total size in bytes and last use (epoch s)."""

    key: str
    path: Path
    size: int
    last_used: float


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with _suppress():
            os.unlink(tmp)
        raise


class _Held:
    """A held lock as a context manager: releases on exit."""

    def __init__(self, release):
        self._release = release

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._release()
        return False


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], OSError)


class ModuleCache:
    """A content-addressed store of compiled artifacts under one private directory.

    >>> import tempfile; c = ModuleCache(Path(tempfile.mkdtemp()) / "kc")
    >>> def build(d): (d / "a.txt").write_text("hi"); return ["a.txt"]
    >>> p = c.get_or_build("k1", build); (p / "a.txt").read_text(), c.stats().compiles
    ('hi', 1)
    >>> _ = c.get_or_build("k1", build); c.stats().compiles, c.stats().hits
    (1, 1)
    """

    def __init__(self, root: Path | str | None = None):
        self.root = ensure_private_dir(Path(root) if root is not None else default_cache_dir())
        for sub in ("modules", "functions", "locks", "index", "tmp"):
            ensure_private_dir(self.root / sub)
        #: this process's own counts (the persisted ones are in stats())
        self.session = {v: 0 for v in _EVENTS.values()}

    # -- events ---------------------------------------------------------------------
    def _record(self, code: str) -> None:
        self.session[_EVENTS[code]] += 1
        fd = os.open(self.root / "stats.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, code.encode())
        finally:
            os.close(fd)

    def stats(self) -> CacheStats:
        """Counts persisted by every process that used this cache since the last clear."""
        try:
            data = (self.root / "stats.log").read_bytes()
        except FileNotFoundError:
            data = b""
        return CacheStats(**{name: data.count(code.encode()) for code, name in _EVENTS.items()})

    # -- entries --------------------------------------------------------------------
    def entry_dir(self, key: str) -> Path:
        if not key or "/" in key or key.startswith("."):
            raise ValueError(f"kiln cache: invalid key {key!r}")
        if key.startswith("fn-"):   # warm-start entries (kiln.linkers.cache.warm): not modules
            return self.root / "functions" / key
        return self.root / "modules" / key

    def lock(self, key: str, timeout: float = -1):
        """The lock of one key (a context manager); the OS releases it if the holder dies."""
        from filelock import FileLock

        return FileLock(str(self.root / "locks" / f"{key}.lock"), timeout=timeout)

    def _build_lock(self, key: str, blocking: bool = True):
        """The key's lock for building or publishing: `fcntl.flock` on the same lock file
        `lock()` uses (filelock takes the same flock on Unix, so the two exclude each
        other), without importing filelock (tens of ms on every cold start).  Returns a
        context manager, or None when `blocking` is False and another holder has it."""
        try:
            import fcntl
        except ImportError:   # not Unix: filelock's own implementation
            from filelock import Timeout

            lk = self.lock(key, timeout=-1 if blocking else 0)
            try:
                lk.acquire()
            except Timeout:
                return None
            return _Held(lk.release)
        fd = os.open(self.root / "locks" / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return None
        except BaseException:
            os.close(fd)
            raise

        def release() -> None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        return _Held(release)

    def verified(self, key: str) -> Path | None:
        """The entry's directory if it exists and every artifact matches its manifest, else None."""
        d = self.entry_dir(key)
        try:
            manifest = json.loads((d / _MANIFEST).read_text(encoding="utf-8"))
            for name, info in manifest["files"].items():
                f = d / name
                if f.stat().st_size != info["size"] or _sha256(f) != info["sha256"]:
                    return None
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return d

    def _touch(self, d: Path) -> None:
        with _suppress():
            os.utime(d / _MANIFEST)

    def get_or_build(self, key: str, build: Callable[[Path], list[str]]) -> Path:
        """The verified entry for `key`, building it (once across processes) if needed.

        `build(tmpdir)` writes the artifacts into a fresh private directory and returns
        their file names; they are hashed into the manifest and the directory is renamed
        into place, so other processes see either nothing or the complete entry.
        """
        d = self.verified(key)
        if d is not None:
            self._record("h")
            self._touch(d)
            return d
        with self._build_lock(key):
            d = self.verified(key)
            if d is not None:  # another process built it while we waited
                self._record("h")
                self._touch(d)
                return d
            self._record("m")

            def counted_build(tmp: Path) -> list[str]:
                names = build(tmp)
                self._record("c")
                return names

            return self._publish_locked(key, counted_build, count_replaced=True)

    def _publish_locked(self, key: str, build: Callable[[Path], list[str]], count_replaced: bool) -> Path:
        """With the key's lock held: build the artifacts in a private temp directory, write
        their manifest (size and sha256 of each), and rename the directory into place, so
        other processes see either nothing or the complete entry."""
        final = self.entry_dir(key)
        tmp = Path(tempfile.mkdtemp(dir=self.root / "tmp", prefix=f"{key[:12]}-"))
        try:
            names = build(tmp)
            files = {n: {"size": (tmp / n).stat().st_size, "sha256": _sha256(tmp / n)} for n in names}
            manifest = {"key": key, "files": files, "created": time.time()}
            (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
            if final.exists():  # corrupt or truncated: never loaded, replaced
                if count_replaced:
                    self._record("r")
                self._discard(final)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final

    def publish(self, key: str, files: dict[str, bytes]) -> Path | None:
        """Publish an entry made of `files` (name -> content) unless it exists; not counted as
        a compile.  Atomic like `get_or_build`; when another process holds the key's lock
        (publishing the same entry right now) it returns None instead of waiting.

        >>> import tempfile; c = ModuleCache(Path(tempfile.mkdtemp()) / "kc")
        >>> c.publish("w1", {"g.bin": b"abc"}).name, c.read_verified("w1", "g.bin")
        ('w1', b'abc')
        """
        held = self._build_lock(key, blocking=False)
        if held is None:   # being published right now by another process
            return None
        with held:
            d = self.verified(key)
            if d is not None:
                return d

            def write(tmp: Path) -> list[str]:
                for name, data in files.items():
                    (tmp / name).write_bytes(data)
                return list(files)

            return self._publish_locked(key, write, count_replaced=False)

    def read_verified(self, key: str, name: str) -> bytes | None:
        """The content of artifact `name` of entry `key` if the entry is present and matches
        its manifest (size and sha256, checked on the bytes returned), else None."""
        d = self.entry_dir(key)
        try:
            info = json.loads((d / _MANIFEST).read_text(encoding="utf-8"))["files"][name]
            data = (d / name).read_bytes()
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if len(data) != info.get("size") or hashlib.sha256(data).hexdigest() != info.get("sha256"):
            return None
        self._touch(d)
        return data

    def _discard(self, d: Path) -> None:
        # rename first so the key's directory vanishes atomically, then delete at leisure
        trash = self.root / "tmp" / f"trash-{uuid.uuid4().hex}"
        os.rename(d, trash)
        shutil.rmtree(trash, ignore_errors=True)

    def entries(self) -> Iterator[CacheEntry]:
        """Every published entry (unverified; cheap: sizes and manifest times only)."""
        for d in sorted((self.root / "modules").iterdir()):
            try:
                size = sum(f.stat().st_size for f in d.iterdir())
                last = (d / _MANIFEST).stat().st_mtime
            except OSError:
                continue
            yield CacheEntry(d.name, d, size, last)

    def size(self) -> int:
        return sum(e.size for e in self.entries())

    def remove(self, key: str) -> bool:
        """Remove one entry if no process is building it right now; True if removed."""
        from filelock import Timeout

        try:
            with self.lock(key, timeout=0):
                d = self.entry_dir(key)
                if d.exists():
                    self._discard(d)
                    return True
        except Timeout:
            pass
        return False

    def prune(self, max_size: int) -> list[str]:
        """Remove least-recently-used entries until the total size is at most `max_size` bytes."""
        entries = sorted(self.entries(), key=lambda e: e.last_used)
        total = sum(e.size for e in entries)
        removed = []
        for e in entries:
            if total <= max_size:
                break
            if self.remove(e.key):
                total -= e.size
                removed.append(e.key)
        return removed

    def clear(self) -> int:
        """Remove every entry, the index, warm-start entries, leftovers in tmp/ and the
        statistics; returns module entries removed."""
        n = sum(self.remove(e.key) for e in list(self.entries()))
        for sub in ("index", "functions", "tmp"):
            shutil.rmtree(self.root / sub, ignore_errors=True)
            ensure_private_dir(self.root / sub)
        with _suppress():
            os.unlink(self.root / "stats.log")
        return n

    # -- function-level index ---------------------------------------------------------
    def index_get(self, signature: str) -> dict | None:
        """What `index_put` stored for this graph signature, if its artifacts are all still present."""
        try:
            data = json.loads((self.root / "index" / f"{signature}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not all(self.entry_dir(k).is_dir() for k in data.get("artifacts", [])):
            return None
        return data

    def index_put(self, signature: str, artifacts: list[str], meta: dict | None = None) -> None:
        """Record that the graph with this signature compiles to these artifact keys (+ meta)."""
        _atomic_write(self.root / "index" / f"{signature}.json",
                      json.dumps({"artifacts": list(artifacts), "meta": meta or {}}))

    def keep_failed(self, key: str, files: dict[str, str]) -> Path:
        """Save a failed build's sources under failed/<key>/ for inspection; returns the directory."""
        d = ensure_private_dir(self.root / "failed")
        d = ensure_private_dir(d / key)
        for name, text in files.items():
            (d / name).write_text(text, encoding="utf-8")
        return d


_CACHES: dict[str, ModuleCache] = {}


def get_cache() -> ModuleCache:
    """The cache at the current location (KILN_CACHE_DIR or the platform default), one per root."""
    root = str(default_cache_dir())
    c = _CACHES.get(root)
    if c is None:
        c = _CACHES[root] = ModuleCache(root)
    return c
