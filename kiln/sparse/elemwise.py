"""Elementwise functions of sparse matrices that act on the stored entries only.

`structured_*` functions (PyTensor's structured monoids: exp, log, sigmoid, pow, ...)
apply f to the stored values and leave the others zero, whatever f(0) is.  The unary
functions with f(0) = 0 (sin, tanh, sqrt, abs, floor, sign, expm1, log1p, ...) are exactly
the dense function, computed the same way.  Both are built from `csm_properties`, a dense
elementwise op on the data vector, and `CSM`, so their gradients are structured (a sparse
matrix with x's pattern) and the dense part runs on every linker.
"""
from __future__ import annotations

from typing import Any, Callable

from kiln.graph.basic import Variable
from kiln.sparse.basic import CSM, EntryColumns, _sparse, csm_properties

__all__ = ["structured_map", "structured_exp", "structured_log", "structured_sigmoid", "structured_pow",
           "structured_minimum", "structured_maximum", "structured_add", "STRUCTURED_UNARY", "ZERO_KEEPING"]


def structured_map(fn: Callable[..., Variable], x: Any, *args: Any) -> Variable:
    """fn (a dense elementwise function) applied to the stored values of sparse x, with
    extra dense arguments `args` (broadcast against the data vector).

    >>> import numpy as np, scipy.sparse as ss, kiln, kiln.tensor as kt
    >>> from kiln.sparse import csr_matrix
    >>> x = csr_matrix("x", dtype="float64")
    >>> f = kiln.function([x], structured_map(kt.exp, x))
    >>> f(ss.csr_matrix(np.array([[0.0, 1.0]]))).toarray()   # the zero stays zero
    array([[0.        , 2.71828183]])
    """
    x = _sparse(x, getattr(fn, "__name__", "structured function"))
    data, indices, indptr, shape = csm_properties(x)
    return CSM(x.type.format)(fn(data, *args), indices, indptr, shape)


def _km():
    import kiln.tensor.math as km

    return km


def structured_exp(x: Any) -> Variable:
    """exp of the stored entries of x (the others stay 0)."""
    return structured_map(_km().exp, x)


def structured_log(x: Any) -> Variable:
    """log of the stored entries of x."""
    return structured_map(_km().log, x)


def structured_sigmoid(x: Any) -> Variable:
    """sigmoid of the stored entries of x."""
    return structured_map(_km().sigmoid, x)


def structured_pow(x: Any, y: Any) -> Variable:
    """Stored entries of x to the power y (a scalar)."""
    return structured_map(_km().pow, x, y)


def structured_minimum(x: Any, y: Any) -> Variable:
    """min(stored entry, y) for each stored entry of x (y a scalar)."""
    return structured_map(_km().minimum, x, y)


def structured_maximum(x: Any, y: Any) -> Variable:
    """max(stored entry, y) for each stored entry of x (y a scalar)."""
    return structured_map(_km().maximum, x, y)


def structured_add(x: Any, y: Any) -> Variable:
    """Add y[j] (y a dense vector, one value per column) to each stored entry of column j
    (PyTensor's structured_add_s_v)."""
    x = _sparse(x, "structured_add")
    from kiln.tensor.basic import as_tensor_variable

    y = as_tensor_variable(y)
    if y.ndim != 1:
        raise TypeError(f"structured_add: y must be a vector (one value per column), got {y.ndim}-d {y}")
    data, indices, indptr, shape = csm_properties(x)
    return CSM(x.type.format)(data + y[EntryColumns()(x)], indices, indptr, shape)


#: structured unary functions: name -> kiln.tensor.math function name
STRUCTURED_UNARY = {"structured_exp": "exp", "structured_log": "log", "structured_sigmoid": "sigmoid"}
#: unary functions with f(0) == 0, exact when applied to the stored entries only
ZERO_KEEPING = ("sin", "tan", "arcsin", "arctan", "sinh", "arcsinh", "tanh", "arctanh", "sqrt", "sqr",
                "abs", "floor", "ceil", "trunc", "sign", "rint", "round_half_to_even", "expm1", "log1p",
                "deg2rad", "rad2deg", "conj")


def _unary(name: str):
    def f(x: Any) -> Variable:
        return structured_map(getattr(_km(), name), x)

    f.__name__ = name
    f.__doc__ = (f"Elementwise {name} of sparse x (f(0) = 0, so only the stored entries change); "
                 f"a sparse result with x's pattern.")
    return f


_ALIASES = {"sgn": "sign", "rint": "round_half_to_even"}
for _n in ZERO_KEEPING:
    globals()[_n] = _unary(_ALIASES.get(_n, _n) if hasattr(_km(), _ALIASES.get(_n, _n)) else _n)
    __all__.append(_n)
globals()["sgn"] = globals()["sign"]
__all__.append("sgn")
