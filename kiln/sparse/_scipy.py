"""SciPy's sparse module, imported on first use (`import kiln` must not import SciPy).

>>> from kiln.sparse._scipy import sps, is_sparse_value
>>> is_sparse_value(sps().eye(2, format="csr")), is_sparse_value([1])
(True, False)
"""
from __future__ import annotations

import sys
from typing import Any

from kiln._lazy import scipy_module

__all__ = ["sps", "is_sparse_value", "as_format"]

FORMATS = ("csr", "csc")


def sps() -> Any:
    """`scipy.sparse`, imported now (call inside functions only)."""
    return scipy_module("sparse")


def is_sparse_value(value: Any) -> bool:
    """Whether `value` is a scipy.sparse matrix or array, without importing SciPy: a value
    can only be one when SciPy's sparse module is already loaded."""
    mod = sys.modules.get("scipy.sparse")
    return mod is not None and mod.issparse(value)


def as_format(value: Any, fmt: str) -> Any:
    """`value` (any scipy.sparse value or ndarray) as a scipy.sparse *matrix* of format `fmt`
    (kiln's run-time values are spmatrix objects, as PyTensor's)."""
    s = sps()
    cls = s.csr_matrix if fmt == "csr" else s.csc_matrix
    if isinstance(value, cls):
        return value
    return cls(value)
