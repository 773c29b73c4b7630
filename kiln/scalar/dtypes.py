"""Dtype names, families and NumPy 2 (NEP 50) promotion."""
from __future__ import annotations

from typing import Any

import numpy as np

FLOAT_DTYPES = ("float16", "float32", "float64")
COMPLEX_DTYPES = ("complex64", "complex128")
INT_DTYPES = ("int8", "int16", "int32", "int64")
UINT_DTYPES = ("uint8", "uint16", "uint32", "uint64")
INTEGER_DTYPES = INT_DTYPES + UINT_DTYPES
DISCRETE_DTYPES = ("bool",) + INTEGER_DTYPES
CONTINUOUS_DTYPES = FLOAT_DTYPES + COMPLEX_DTYPES
ALL_DTYPES = DISCRETE_DTYPES + CONTINUOUS_DTYPES



def normalize(dtype: Any) -> str:
    """A canonical dtype name ('float64', 'int32', 'bool', ...); 'floatX' reads the config."""
    if dtype == "floatX":
        from kiln.configuration import config

        return config.floatX
    try:
        name = np.dtype(dtype).name
    except TypeError as e:
        raise TypeError(f"unknown dtype {dtype!r}") from e
    if name not in ALL_DTYPES:
        raise TypeError(f"dtype {name} is not supported (supported: {', '.join(ALL_DTYPES)})")
    return name


def is_float(dtype: str) -> bool:
    """True for float16/32/64."""
    return dtype in FLOAT_DTYPES


def is_continuous(dtype: str) -> bool:
    """True for floats and complex numbers."""
    return dtype in CONTINUOUS_DTYPES


def is_integer(dtype: str) -> bool:
    """True for signed and unsigned integers (not bool)."""
    return dtype in INTEGER_DTYPES


def is_discrete(dtype: str) -> bool:
    """True for bool and integers."""
    return dtype in DISCRETE_DTYPES


def upcast(*dtypes_or_values: Any) -> str:
    """NumPy 2 result type; Python scalars among the arguments are weak (NEP 50)."""
    return np.result_type(*dtypes_or_values).name


def default_dtype_of(value: Any) -> str:
    """The dtype kiln gives a Python scalar on its own: bool, int64, floatX, complex128."""
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        from kiln.configuration import config

        return config.floatX
    if isinstance(value, complex):
        return "complex128"
    return normalize(np.asarray(value).dtype)


def is_python_scalar(x: Any) -> bool:
    """Python numbers are 'weak' in promotion: x_float32 * 2.0 stays float32."""
    return isinstance(x, (bool, int, float, complex)) and not isinstance(x, np.generic)
