import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_kiln_cache(tmp_path_factory):
    """Compile into a fresh private cache, never into the user's."""
    old = os.environ.get("KILN_CACHE_DIR")
    os.environ["KILN_CACHE_DIR"] = str(tmp_path_factory.mktemp("kiln_c_cache"))
    yield
    if old is None:
        os.environ.pop("KILN_CACHE_DIR", None)
    else:
        os.environ["KILN_CACHE_DIR"] = old
