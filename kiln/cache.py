"""`python -m kiln.cache info|list|prune --max-size 500MB|clear` (see docs/cache.md)."""
from kiln.linkers.cache.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
