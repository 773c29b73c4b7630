"""Dtypes the C backend handles and their C spellings (float16/complex run through perform)."""
from __future__ import annotations

__all__ = ["DTYPES", "CTYPE", "DTYPE_CODE", "supported", "ctype"]

CTYPE = {
    "bool": "bool", "int8": "int8_t", "int16": "int16_t", "int32": "int32_t", "int64": "int64_t",
    "uint8": "uint8_t", "uint16": "uint16_t", "uint32": "uint32_t", "uint64": "uint64_t",
    "float32": "float", "float64": "double",
}
#: the order defines the dtype codes stored in buffer descriptors
DTYPES = tuple(CTYPE)
DTYPE_CODE = {d: i for i, d in enumerate(DTYPES)}


def supported(dtype: str) -> bool:
    """>>> supported("float32"), supported("complex128")
    (True, False)
    """
    return dtype in CTYPE


def ctype(dtype: str) -> str:
    """>>> ctype("int64")
    'int64_t'
    """
    return CTYPE[dtype]
