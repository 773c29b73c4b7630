"""Making tensor variables: constructors, constants, and `as_tensor_variable`."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from kiln.graph.basic import Constant, Variable
from kiln.scalar import dtypes
from kiln.tensor.type import TensorType
from kiln.tensor.variable import TensorConstant, TensorVariable

__all__ = ["as_tensor_variable", "as_tensor", "constant", "describe", "tensor", "scalar", "vector", "matrix",
           "row", "col", "tensor3", "tensor4", "tensor5", "TensorType", "TensorVariable",
           "TensorConstant"]


def constant(x: Any, name: str | None = None, ndim: int | None = None, dtype: Any = None) -> TensorConstant:
    """A constant tensor.  Python floats become floatX, ints int64, bools bool.

    >>> constant(2.0).dtype
    'float64'
    >>> constant(np.ones((2, 3), dtype="float32")).type
    TensorType(float32, shape=(2, 3))
    """
    if isinstance(x, TensorConstant) and dtype is None and ndim is None:
        return x
    if dtype is not None:
        arr = np.asarray(x, dtype=dtypes.normalize(dtype))
    elif isinstance(x, (np.ndarray, np.generic)):
        arr = np.asarray(x)
    else:
        arr = np.asarray(x)
        if arr.dtype.kind == "f":
            arr = arr.astype(dtypes.normalize("floatX"))
        elif arr.dtype.kind in "iu" and not isinstance(x, (np.ndarray, np.generic)):
            arr = arr.astype("int64") if arr.dtype.kind == "i" else arr
    if arr.dtype == object:
        raise TypeError(f"cannot make a tensor constant from {type(x).__name__} {x!r}")
    if ndim is not None:
        if arr.ndim > ndim:
            raise ValueError(f"constant of shape {arr.shape} cannot have ndim={ndim}")
        arr = arr.reshape((1,) * (ndim - arr.ndim) + arr.shape)
    ttype = TensorType(arr.dtype, arr.shape)
    return TensorConstant(ttype, arr, name=name)


def describe(x: Any) -> str:
    """How error messages name an input: its name (or graph text) and type.

    >>> describe(tensor("x", dtype="float32", shape=(None, 3)))
    'x (float32 (?, 3))'
    """
    if isinstance(x, Variable):
        t = x.type
        return f"{x.name or x} ({t.short_str() if hasattr(t, 'short_str') else t})"
    return repr(x)


def as_tensor_variable(x: Any, name: str | None = None, ndim: int | None = None,
                       dtype: Any = None) -> TensorVariable:
    """Return `x` as a tensor variable: variables pass through, values become constants.

    Lists or tuples holding symbolic variables are stacked.
    """
    if isinstance(x, Variable):
        if not isinstance(x.type, TensorType):
            from kiln.scalar.basic import ScalarType

            if isinstance(x.type, ScalarType):
                from kiln.tensor.elemwise import tensor_from_scalar

                x = tensor_from_scalar(x)
            else:
                raise TypeError(f"{x} of type {x.type} is not a tensor")
        elif not isinstance(x, (TensorVariable, TensorConstant)) and type(x) is Constant:
            # a plain graph Constant holding a tensor (e.g. built as Constant(TensorType, arr))
            # lacks the tensor methods; constants are compared by value, so an equal
            # TensorConstant can stand in for it
            x = TensorConstant(x.type, x.data, name=x.name)
        if ndim is not None and x.ndim != ndim:
            raise ValueError(f"{x} has {x.ndim} dimensions, expected {ndim}")
        if dtype is not None and x.dtype != dtypes.normalize(dtype):
            from kiln.tensor.math import cast

            x = cast(x, dtype)
        return x
    if hasattr(x, "owner") and hasattr(x, "type"):
        raise TypeError(f"{x!r} is not a kiln variable")
    if isinstance(x, (list, tuple)) and any(isinstance(e, Variable) for e in _flatten(x)):
        from kiln.tensor.shape import stack

        return stack([as_tensor_variable(e) for e in x])
    return constant(x, name=name, ndim=ndim, dtype=dtype)


as_tensor = as_tensor_variable


def _flatten(x):
    for e in x:
        if isinstance(e, (list, tuple)):
            yield from _flatten(e)
        else:
            yield e


def tensor(name: str | None = None, dtype: Any = None, shape: Iterable[int | None] | None = None,
           ndim: int | None = None, broadcastable: Iterable[bool] | None = None) -> TensorVariable:
    """A symbolic tensor input.

    >>> tensor("x", dtype="float32", shape=(None, 3)).type
    TensorType(float32, shape=(None, 3))
    """
    if isinstance(name, str) is False and name is not None:
        raise TypeError(f"tensor(): name must be a string, got {name!r}")
    dtype = dtypes.normalize("floatX" if dtype is None else dtype)
    if broadcastable is not None:
        shape = tuple(1 if b else None for b in broadcastable)
    if shape is None:
        if ndim is None:
            raise TypeError("tensor(): give shape= or ndim=")
        shape = (None,) * ndim
    elif ndim is not None and len(tuple(shape)) != ndim:
        raise ValueError(f"tensor(): shape {shape} does not have ndim={ndim}")
    return TensorType(dtype, shape)(name)


def _family(ndim: int, bcast: tuple | None = None):
    def make(name: str | None = None, dtype: Any = None, shape: Iterable[int | None] | None = None):
        shp = shape if shape is not None else (bcast if bcast is not None else (None,) * ndim)
        return tensor(name, dtype=dtype, shape=shp, ndim=ndim)
    return make


scalar = _family(0)
vector = _family(1)
matrix = _family(2)
row = _family(2, (1, None))
col = _family(2, (None, 1))
tensor3 = _family(3)
tensor4 = _family(4)
tensor5 = _family(5)
for _f, _n in [(scalar, "scalar"), (vector, "vector"), (matrix, "matrix"), (row, "row"), (col, "col"),
               (tensor3, "tensor3"), (tensor4, "tensor4"), (tensor5, "tensor5")]:
    _f.__name__ = _f.__qualname__ = _n
    _f.__doc__ = f"A symbolic {_n} input (dtype defaults to floatX)."

# Typed families: fscalar, dvector, imatrix, ... (b=int8 w=int16 i=int32 l=int64 f=float32 d=float64
# c=complex64 z=complex128), as in PyTensor.
_PREFIX = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32", "d": "float64",
           "c": "complex64", "z": "complex128"}
_KINDS = {"scalar": scalar, "vector": vector, "matrix": matrix, "row": row, "col": col,
          "tensor3": tensor3, "tensor4": tensor4, "tensor5": tensor5}


def _typed(kind_fn, dt):
    def make(name: str | None = None, shape: Iterable[int | None] | None = None):
        return kind_fn(name, dtype=dt, shape=shape)
    return make


for _p, _dt in _PREFIX.items():
    for _k, _fn in _KINDS.items():
        _made = _typed(_fn, _dt)
        _made.__name__ = _made.__qualname__ = _p + _k
        _made.__doc__ = f"A symbolic {_k} of dtype {_dt}."
        globals()[_p + _k] = _made
        __all__.append(_p + _k)


# Plural constructors, as in PyTensor: `a, b = kt.scalars("a", "b")` or `kt.dvectors("x y")`.
def _plural(single):
    def make(*names: str, dtype: Any = None):
        if len(names) == 1 and isinstance(names[0], str):
            names = tuple(names[0].replace(",", " ").split())
        if len(names) == 1 and isinstance(names[0], int):
            names = (None,) * names[0]
        out = [single(n) if dtype is None else single(n, dtype=dtype) for n in names]
        return out[0] if len(out) == 1 else out
    return make


for _k in ("scalar", "vector", "matrix", "row", "col", "tensor3", "tensor4", "tensor5"):
    for _p in ("",) + tuple(_PREFIX):
        _many = _plural(globals()[_p + _k])
        _name = _p + ("matrices" if _k == "matrix" else _k + "s")
        _many.__name__ = _many.__qualname__ = _name
        _many.__doc__ = (f"Several symbolic {_k}s of dtype {_PREFIX.get(_p, 'floatX (or dtype=)')}: "
                         f"{_name}('a', 'b'), {_name}('a b') or {_name}(2) (unnamed).")
        globals()[_name] = _many
        __all__.append(_name)


# -- PyTensor module path: names pytensor.tensor.basic has that kiln defines elsewhere (see
# kiln/tensor/_reexport.py; resolved from kiln.tensor on first use) --
from kiln.tensor._reexport import lazy_reexport as _lazy_reexport  # noqa: E402

__getattr__, __dir__ = _lazy_reexport(__name__, (
    "alloc", "arange", "atleast_1d", "atleast_2d", "atleast_3d", "atleast_Nd", "cast", "choose",
    "concatenate", "diag", "diagonal", "empty", "empty_like", "expand_dims", "extract_diag", "eye",
    "fill", "flatnonzero", "flatten", "full", "full_like", "get_scalar_constant_value",
    "get_underlying_scalar_constant_value", "get_vector_length", "horizontal_stack", "identity",
    "identity_like", "inverse_permutation", "is_flat", "join", "matrix_transpose", "moveaxis",
    "nonzero", "nonzero_values", "ones", "ones_like", "permute_row_elements", "roll",
    "scalar_from_tensor", "second", "split", "stack", "stacklists", "swapaxes", "switch",
    "take_along_axis", "tensor_copy", "tensor_from_scalar", "tile", "trace", "transpose", "tri",
    "tril", "tril_indices", "tril_indices_from", "triu", "triu_indices", "triu_indices_from",
    "vertical_stack", "where", "zeros", "zeros_like"))
