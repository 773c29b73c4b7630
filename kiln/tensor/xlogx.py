"""PyTensor's `pytensor.tensor.xlogx` module: x log x and x log y, with 0 where x is 0.

Both are `xlogy` (SciPy's convention: 0 where x == 0, whatever y), so they share its C form and
derivative rules.

>>> import numpy as np, kiln.tensor as kt
>>> xlogx(kt.constant(np.array([0.0, 1.0, np.e]))).eval().round(6).tolist()
[0.0, 0.0, 2.718282]
"""
from __future__ import annotations

from typing import Any

__all__ = ["xlogx", "xlogy0"]


def xlogx(x: Any):
    """x * log(x), 0 at x == 0."""
    from kiln.tensor import xlogy

    return xlogy(x, x)


def xlogy0(x: Any, y: Any):
    """x * log(y), 0 where x == 0."""
    from kiln.tensor import xlogy

    return xlogy(x, y)
