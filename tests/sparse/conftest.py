"""Fixtures for kiln.sparse tests: both linkers."""
import pytest

import kiln

LINKERS = {"c": kiln.Mode(linker="auto"), "py": kiln.Mode(linker="py")}


@pytest.fixture(params=["c", "py"])
def mode(request):
    return LINKERS[request.param]
