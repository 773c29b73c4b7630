"""The tensor exceptions of PyTensor's `pytensor.tensor.exceptions`, with PyTensor's base classes.

- `NotScalarConstantError`: a variable is not a known scalar constant
  (`get_scalar_constant_value`, `get_underlying_scalar_constant_value`).  kiln's class, defined
  in kiln.tensor.compat_shape, derives from ValueError (an Exception, as PyTensor's).
- `ShapeError(Exception)`: a shape cannot be had.  kiln raises its subclass
  `kiln.tensor.type.ShapeMismatchError(ShapeError, ValueError)` when a value contradicts a
  statically known length, so `except ValueError` keeps working.
- `AdvancedIndexingError(TypeError)`: basic indexing (`Subtensor`) was asked for advanced indexing.
  kiln raises its subclass `SubtensorAdvancedIndexError(AdvancedIndexingError, IndexError)` when
  a `Subtensor` gets a non-scalar index variable (`x[v]` itself dispatches to advanced indexing).

This module imports nothing from kiln.tensor at import time: kiln.tensor.type imports it.

>>> import numpy as np, kiln.tensor as kt
>>> from kiln.tensor.exceptions import ShapeError
>>> try:
...     kt.TensorType("float64", (3,)).filter(np.zeros(2))
... except ShapeError as e:
...     print(type(e).__name__, isinstance(e, ValueError))
ShapeMismatchError True
"""
from __future__ import annotations

from typing import Any

# NotScalarConstantError is resolved by __getattr__ below (a static checker cannot see it)
__all__ = ["NotScalarConstantError", "ShapeError", "AdvancedIndexingError"]  # noqa: F822


class ShapeError(Exception):
    """Raised when a shape cannot be computed, or a value contradicts a known shape."""


class AdvancedIndexingError(TypeError):
    """Raised when basic indexing (Subtensor) is asked to perform advanced indexing."""


class SubtensorAdvancedIndexError(AdvancedIndexingError, IndexError):
    """kiln's error for an advanced (array) index given to basic indexing: also an IndexError,
    which kiln raised before this class existed."""


def __getattr__(name: str) -> Any:
    # NotScalarConstantError lives with get_scalar_constant_value; importing that module here at
    # import time would be circular (kiln.tensor.type imports this module)
    if name == "NotScalarConstantError":
        from kiln.tensor.compat_shape import NotScalarConstantError

        return NotScalarConstantError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
