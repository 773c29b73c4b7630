"""TensorVariable and TensorConstant: Python operators and NumPy-like methods on symbols.

`==` and `!=` keep Python's identity meaning (variables are dict keys); use
`kt.eq`/`kt.neq` for elementwise equality.  `<`, `<=`, `>`, `>=` are symbolic.
"""
from __future__ import annotations

import importlib

import numpy as np

from kiln.graph.basic import Constant, Variable
from kiln.tensor.type import TensorType

__all__ = ["TensorVariable", "TensorConstant"]


def _m():
    # import_module, not `import kiln.tensor.math as m`: kiln.tensor re-exports functions
    # named like its submodules (kiln.tensor.shape is also a function)
    return importlib.import_module("kiln.tensor.math")


def _shape():
    return importlib.import_module("kiln.tensor.shape")


class _TensorOps:
    """Operators and methods shared by tensor variables, constants and shared variables."""

    __slots__ = ()
    # make NumPy defer to us in `ndarray + variable`
    __array_priority__ = 1000
    __array_ufunc__ = None

    # -- arithmetic ---------------------------------------------------------------
    def __add__(self, o): return _m().add(self, o)
    def __radd__(self, o): return _m().add(o, self)
    def __sub__(self, o): return _m().sub(self, o)
    def __rsub__(self, o): return _m().sub(o, self)
    def __mul__(self, o): return _m().mul(self, o)
    def __rmul__(self, o): return _m().mul(o, self)
    def __truediv__(self, o): return _m().true_div(self, o)
    def __rtruediv__(self, o): return _m().true_div(o, self)
    def __floordiv__(self, o): return _m().int_div(self, o)
    def __rfloordiv__(self, o): return _m().int_div(o, self)
    def __mod__(self, o): return _m().mod(self, o)
    def __rmod__(self, o): return _m().mod(o, self)
    def __pow__(self, o): return _m().pow(self, o)
    def __rpow__(self, o): return _m().pow(o, self)
    def __matmul__(self, o): return _m().matmul(self, o)
    def __rmatmul__(self, o): return _m().matmul(o, self)
    def __neg__(self): return _m().neg(self)
    def __pos__(self): return self
    def __abs__(self): return _m().abs(self)
    def __invert__(self): return _m().invert(self)
    def __and__(self, o): return _m().and_(self, o)
    def __rand__(self, o): return _m().and_(o, self)
    def __or__(self, o): return _m().or_(self, o)
    def __ror__(self, o): return _m().or_(o, self)
    def __xor__(self, o): return _m().xor(self, o)
    def __rxor__(self, o): return _m().xor(o, self)
    def __lt__(self, o): return _m().lt(self, o)
    def __le__(self, o): return _m().le(self, o)
    def __gt__(self, o): return _m().gt(self, o)
    def __ge__(self, o): return _m().ge(self, o)

    def __bool__(self):
        raise TypeError("a symbolic variable has no truth value; use kt.switch / kiln.ifelse, "
                        "or compare with kt.eq and reduce with .any()/.all()")

    def __iter__(self):
        raise TypeError("a symbolic tensor cannot be iterated; index it (x[i]) or use kt.split")

    def __len__(self):
        raise TypeError("len() of a symbolic tensor is unknown; use x.shape[0]")

    # -- attributes -----------------------------------------------------------------
    @property
    def dtype(self) -> str:
        return self.type.dtype

    @property
    def ndim(self) -> int:
        return self.type.ndim

    @property
    def broadcastable(self) -> tuple[bool, ...]:
        return self.type.broadcastable

    @property
    def shape(self):
        return _shape().shape(self)

    @property
    def size(self):
        return _m().prod(self.shape)

    @property
    def T(self):
        return _shape().transpose(self)

    def __getitem__(self, idx):
        from kiln.tensor.subtensor import subtensor

        return subtensor(self, idx)

    # -- methods --------------------------------------------------------------------
    def sum(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _m().sum(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def prod(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _m().prod(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def mean(self, axis=None, dtype=None, keepdims=False, acc_dtype=None):
        return _m().mean(self, axis=axis, dtype=dtype, keepdims=keepdims)

    def max(self, axis=None, keepdims=False): return _m().max(self, axis=axis, keepdims=keepdims)
    def min(self, axis=None, keepdims=False): return _m().min(self, axis=axis, keepdims=keepdims)
    def argmax(self, axis=None, keepdims=False): return _m().argmax(self, axis=axis, keepdims=keepdims)
    def argmin(self, axis=None, keepdims=False): return _m().argmin(self, axis=axis, keepdims=keepdims)
    def any(self, axis=None, keepdims=False): return _m().any(self, axis=axis, keepdims=keepdims)
    def all(self, axis=None, keepdims=False): return _m().all(self, axis=axis, keepdims=keepdims)

    def var(self, axis=None, ddof=0, keepdims=False, corrected=False):
        return _m().var(self, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected)

    def std(self, axis=None, ddof=0, keepdims=False, corrected=False):
        return _m().std(self, axis=axis, ddof=ddof, keepdims=keepdims, corrected=corrected)

    def reshape(self, *shape, ndim=None):
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            shape = shape[0]
        return _shape().reshape(self, shape, ndim=ndim)

    def flatten(self, ndim=1): return _shape().flatten(self, ndim)
    def ravel(self): return _shape().flatten(self, 1)

    def dimshuffle(self, *pattern):
        if len(pattern) == 1 and isinstance(pattern[0], (list, tuple)):
            pattern = pattern[0]
        return _shape().dimshuffle(self, pattern)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (list, tuple)):
            axes = axes[0]
        return _shape().transpose(self, axes or None)

    def squeeze(self, axis=None): return _shape().squeeze(self, axis)
    def swapaxes(self, a, b): return _shape().swapaxes(self, a, b)
    def astype(self, dtype): return _m().cast(self, dtype)
    def clip(self, a_min, a_max): return _m().clip(self, a_min, a_max)
    def dot(self, other): return _m().dot(self, other)
    def copy(self, name=None):
        out = _m().tensor_copy(self)
        out.name = name
        return out


class TensorVariable(_TensorOps, Variable):
    """A symbolic tensor: operators build graph nodes; `==` keeps Python identity."""

    __slots__ = ()

    # identity equality and hashing come from object (C-level, fast)


class TensorConstant(_TensorOps, Constant):
    """A constant tensor: its value is `.data` (an ndarray); operators as TensorVariable."""

    __slots__ = ()

    # identity equality and hashing come from object (C-level, fast)


TensorType.variable_type = TensorVariable
TensorType.constant_type = TensorConstant
