"""Where the module cache lives, and the safety checks before anything is loaded from it.

A compiled module is native code: loading one from a directory another user can write
would let that user run code in our process.  So the cache directory is created 0700 and
an existing one is refused when it is writable by group/others or owned by someone else.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["CacheLocationError", "default_cache_dir", "ensure_private_dir"]


class CacheLocationError(RuntimeError):
    """The cache directory is unsafe (shared-writable, foreign owner) or unusable."""


def default_cache_dir() -> Path:
    """`KILN_CACHE_DIR` if set, else the platform's user cache dir (e.g. ~/.cache/kiln).

    >>> isinstance(default_cache_dir(), Path)
    True
    """
    env = os.environ.get("KILN_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs

        return Path(platformdirs.user_cache_dir("kiln", appauthor=False))
    except ImportError:  # platformdirs is a dependency; this only keeps a broken install usable
        return Path.home() / ".cache" / "kiln"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (mode 0700) if missing; refuse it if another user could write into it.

    >>> import tempfile; d = Path(tempfile.mkdtemp()) / "c"
    >>> ensure_private_dir(d) == d and oct(d.stat().st_mode & 0o777)
    '0o700'
    """
    path = Path(path)
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise CacheLocationError(f"kiln cache: cannot create {path}: {e}") from e
    st = path.stat()
    if not stat.S_ISDIR(st.st_mode):
        raise CacheLocationError(f"kiln cache: {path} is not a directory")
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise CacheLocationError(
            f"kiln cache: refusing {path}: it is owned by uid {st.st_uid}, not by you (uid {os.getuid()}); "
            "set KILN_CACHE_DIR to a directory of your own")
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise CacheLocationError(
            f"kiln cache: refusing {path}: it is writable by group or others (mode {oct(st.st_mode & 0o777)}), "
            f"so another user could plant code in it; run `chmod 700 {path}` or choose another KILN_CACHE_DIR")
    return path
