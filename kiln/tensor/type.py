"""TensorType: an n-dimensional array of one dtype, with optionally known dimension lengths."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from kiln.graph.basic import Type, Variable
from kiln.scalar import dtypes
from kiln.tensor.exceptions import ShapeError

__all__ = ["TensorType", "ShapeMismatchError"]


class ShapeMismatchError(ShapeError, ValueError):
    """A value's shape contradicts a statically known dimension length."""


class TensorType(Type):
    """TensorType(dtype, shape): `shape` is a tuple of ints (known lengths) or None (unknown).

    A dimension of static length 1 is "broadcastable".  At run time an unknown
    dimension that turns out to be 1 broadcasts too, as in NumPy.

    >>> TensorType("float32", (None, 3))
    TensorType(float32, shape=(None, 3))
    """

    __slots__ = ("dtype", "shape", "name")

    def __init__(self, dtype: Any, shape: Iterable[int | None] = (), name: str | None = None,
                 broadcastable: Iterable[bool] | None = None):
        if broadcastable is not None:
            shape = tuple(1 if b else None for b in broadcastable)
        shp = []
        for s in shape:
            if s is None:
                shp.append(None)
                continue
            if isinstance(s, (bool, np.bool_)):
                # PyTensor's old `broadcastable` convention passed positionally
                shp.append(1 if s else None)
                continue
            s = int(s)
            if s < 0:
                raise ValueError(f"TensorType: static dimension lengths must be >= 0, got {s}")
            shp.append(s)
        object.__setattr__(self, "dtype", dtypes.normalize(dtype))
        object.__setattr__(self, "shape", tuple(shp))
        object.__setattr__(self, "name", name)

    def __setattr__(self, name, value):
        raise AttributeError("TensorType is immutable")

    # -- identity -----------------------------------------------------------------
    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self) and other.dtype == self.dtype and other.shape == self.shape

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.dtype, self.shape))

    def __reduce__(self):
        return (type(self), (self.dtype, self.shape, self.name))

    def __repr__(self) -> str:
        return f"TensorType({self.dtype}, shape={self.shape})"

    def short_str(self) -> str:
        dims = ", ".join("?" if s is None else str(s) for s in self.shape)
        if len(self.shape) == 1:
            dims += ","
        return f"{self.dtype} ({dims})"

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return tuple(s == 1 for s in self.shape)

    def clone(self, dtype: Any = None, shape: Iterable[int | None] | None = None) -> "TensorType":
        return type(self)(self.dtype if dtype is None else dtype, self.shape if shape is None else shape)

    # -- compatibility ------------------------------------------------------------
    def is_super(self, other: Type) -> bool:
        if not isinstance(other, TensorType) or other.dtype != self.dtype or other.ndim != self.ndim:
            return False
        return all(s is None or s == o for s, o in zip(self.shape, other.shape))

    def convert_variable(self, var: Variable) -> Variable | None:
        if self.is_super(var.type):
            return var
        vt = var.type
        if isinstance(vt, TensorType) and vt.dtype == self.dtype and vt.ndim == self.ndim and all(
                o is None or s is None or s == o for s, o in zip(self.shape, vt.shape)):
            # var is less specific: assert the extra static knowledge
            from kiln.tensor.shape import specify_shape

            return specify_shape(var, self.shape)
        return None

    # -- values ---------------------------------------------------------------------
    def filter(self, value: Any, strict: bool = False, allow_downcast: bool | None = None) -> np.ndarray:
        """Validate `value` for this type and return it as an ndarray of this dtype.

        Conversions allowed without `allow_downcast`: any safe cast (int32 -> float64), and
        Python numbers or lists whose value survives the cast exactly (2.0 -> float32).
        Raises TypeError for a lossy dtype conversion or wrong ndim, ShapeMismatchError (a
        ValueError) for a value contradicting a static dimension length.
        """
        if isinstance(value, np.ndarray) and value.dtype == self.dtype:
            arr = value
        elif strict:
            of_dtype = f" of dtype {value.dtype}" if hasattr(value, "dtype") else ""
            raise TypeError(f"expected an ndarray of dtype {self.dtype}, got {type(value).__name__}{of_dtype}")
        else:
            arr = self._convert(value, allow_downcast)
        if arr.ndim != self.ndim:
            raise TypeError(f"expected a {self.ndim}-d array ({self}), got {arr.ndim}-d with shape {arr.shape}")
        for i, (s, a) in enumerate(zip(self.shape, arr.shape)):
            if s is not None and s != a:
                raise ShapeMismatchError(
                    f"value of shape {arr.shape} does not match the static shape {self.shape} (dimension {i})")
        return arr

    def _convert(self, value: Any, allow_downcast: bool | None) -> np.ndarray:
        is_array = isinstance(value, (np.ndarray, np.generic))
        src = np.asarray(value)
        if src.dtype == object:
            raise TypeError(f"cannot convert {type(value).__name__} to an array of {self.dtype}")
        if src.dtype == self.dtype:
            return src
        if np.can_cast(src.dtype, self.dtype, "safe") or allow_downcast:
            return src.astype(self.dtype)
        if allow_downcast is None and not is_array:
            # Python numbers and lists: accept when no value changes (2.0 -> float32, 3 -> int8)
            with np.errstate(all="ignore"):
                try:
                    conv = src.astype(self.dtype)
                except (OverflowError, ValueError):
                    conv = None
            if conv is not None and np.array_equal(conv, src, equal_nan=src.dtype.kind in "fc"):
                return conv
            if (src.dtype.kind == "f" and dtypes.is_float(self.dtype)
                    and self.dtype == dtypes.normalize("floatX")):
                return conv  # PyTensor's rule: Python floats may be rounded to floatX
        raise TypeError(
            f"cannot convert a value of dtype {src.dtype} to {self.dtype} without loss; "
            f"pass allow_input_downcast=True to function() to allow it, or cast the value first")

    def values_eq(self, a: Any, b: Any) -> bool:
        return np.array_equal(a, b, equal_nan=True)

    def values_eq_approx(self, a: Any, b: Any, rtol: float | None = None, atol: float | None = None) -> bool:
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            return False
        if rtol is None:
            rtol = {"float16": 1e-3, "float32": 1e-5}.get(self.dtype, 1e-8)
        return bool(np.allclose(a, b, rtol=rtol, atol=atol if atol is not None else rtol, equal_nan=True))
