"""`python -m kiln.cache info|list|prune|clear`: look at and manage the module cache."""
from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Sequence

from kiln.linkers.cache.store import ModuleCache

__all__ = ["main", "parse_size", "format_size"]

_UNITS = {"": 1, "B": 1, "K": 1 << 10, "KB": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MB": 1 << 20,
          "MIB": 1 << 20, "G": 1 << 30, "GB": 1 << 30, "GIB": 1 << 30}


def parse_size(text: str) -> int:
    """'500MB' -> bytes (binary units: 1 MB = 2**20 bytes).

    >>> parse_size("500MB"), parse_size("1k"), parse_size("42")
    (524288000, 1024, 42)
    """
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([A-Za-z]*)\s*", text)
    if not m or m.group(2).upper() not in _UNITS:
        raise ValueError(f"invalid size {text!r} (examples: 500MB, 2GB, 100k)")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def format_size(n: int) -> str:
    """Bytes as a short human-readable size.

    >>> format_size(1536)
    '1.5 KiB'
    """
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m kiln.cache`; returns the exit status."""
    p = argparse.ArgumentParser(prog="python -m kiln.cache", description="kiln's compiled-module cache")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("info", help="location, size, entries, hits/misses/compiles")
    sub.add_parser("list", help="one line per entry, least recently used first")
    pr = sub.add_parser("prune", help="remove least recently used entries")
    pr.add_argument("--max-size", required=True, type=parse_size, help="e.g. 500MB")
    sub.add_parser("clear", help="remove everything")
    args = p.parse_args(argv)
    try:
        cache = ModuleCache()
    except RuntimeError as e:
        print(e, file=sys.stderr)
        return 2
    if args.cmd == "info":
        entries = list(cache.entries())
        st = cache.stats()
        print(f"location: {cache.root}")
        print(f"size:     {format_size(sum(e.size for e in entries))}")
        print(f"entries:  {len(entries)}")
        print(f"hits:     {st.hits}\nmisses:   {st.misses}\ncompiles: {st.compiles}\nrebuilt:  {st.rebuilt}")
        print(f"warm starts: {st.warm_starts}\nrewrites run: {st.rewrites_run}")
    elif args.cmd == "list":
        for e in sorted(cache.entries(), key=lambda e: e.last_used):
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.last_used))
            print(f"{e.key}  {format_size(e.size):>10}  {when}")
    elif args.cmd == "prune":
        removed = cache.prune(args.max_size)
        print(f"removed {len(removed)} entries; size now {format_size(cache.size())}")
    elif args.cmd == "clear":
        print(f"removed {cache.clear()} entries from {cache.root}")
    return 0
