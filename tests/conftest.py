"""Shared test fixtures and session settings.

- Every test session gets its own empty module cache (``KILN_CACHE_DIR``), so tests never read
  or write the user's cache and never see artifacts from an earlier run. Subprocesses started by
  tests inherit it through the environment.
- ``KILN_FLAGS`` is left alone on purpose: ``KILN_FLAGS=linker=c python -m pytest`` runs the
  suite through another linker. Tests that need a flag set it with ``kiln.config.change_flags``.
- Hypothesis runs without deadlines (the CI machine is shared and slow); under ``CI=true`` it is
  also derandomized so a CI failure reproduces exactly.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# This runs when pytest loads this conftest, before it imports any kiln module for collection
# (tests/ comes first in testpaths), so modules that read the environment at import see these.
_SESSION_CACHE = tempfile.mkdtemp(prefix="kiln-test-cache-")
os.chmod(_SESSION_CACHE, 0o700)  # the cache refuses directories other users can write
os.environ["KILN_CACHE_DIR"] = _SESSION_CACHE

try:
    from hypothesis import settings as _hyp_settings

    _hyp_settings.register_profile("dev", deadline=None)
    _hyp_settings.register_profile("ci", deadline=None, derandomize=True, print_blob=True)
    _hyp_settings.load_profile(os.environ.get(
        "HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev"))
except ImportError:  # hypothesis is a test dependency; tests that need it import it themselves
    pass


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SESSION_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The repository checkout (the directory holding README.md, examples/, bench/)."""
    return REPO_ROOT


@pytest.fixture(scope="session")
def kiln_cache_dir() -> Path:
    """This session's private module-cache directory (the value of KILN_CACHE_DIR)."""
    return Path(_SESSION_CACHE)


@pytest.fixture
def py_mode():
    """A Mode that runs through the python linker (the reference interpreter)."""
    import kiln

    return kiln.Mode(linker="py")


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A NumPy Generator seeded from the test's name: reproducible, but different per test."""
    import zlib

    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))


@pytest.fixture
def float32_config():
    """kiln.config with floatX=float32 for the duration of one test."""
    import kiln

    with kiln.config.change_flags(floatX="float32") as cfg:
        yield cfg
