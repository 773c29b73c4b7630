"""Shared fixtures for the tensor tests: compile with the python linker, compare with NumPy."""
import numpy as np
import pytest

import kiln

PY = kiln.Mode(linker="py")

#: tolerance by result dtype (float16 results are compared loosely)
RTOL = {"float16": 2e-3, "float32": 2e-5, "float64": 1e-10, "complex64": 2e-5, "complex128": 1e-10}


def _run(inputs, outputs, *values, **kw):
    """Compile `outputs` of `inputs` with the python linker and call it on `values`."""
    return kiln.function(list(inputs), outputs, mode=PY, **kw)(*values)


def _same(got, expected, rtol=None, atol=0.0, dtype=True):
    """Assert `got` equals `expected` in shape, dtype (unless dtype=False) and value."""
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if dtype:
        assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    if expected.dtype.kind in "fc" or got.dtype.kind in "fc":
        tol = RTOL.get(str(got.dtype), 1e-10) if rtol is None else rtol
        # complex values compare as complex (a float64 cast would drop the imaginary part)
        wide = "complex128" if "c" in (got.dtype.kind, expected.dtype.kind) else "float64"
        np.testing.assert_allclose(got.astype(wide), expected.astype(wide),
                                   rtol=tol, atol=atol or tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(got, expected)


@pytest.fixture
def run():
    return _run


@pytest.fixture
def same():
    return _same
