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


def _kt():
    # the public namespace: the catalog functions (nonzero, sort, repeat, ...) live in
    # several modules and are all re-exported there
    return importlib.import_module("kiln.tensor")


#: unary elementwise methods (PyTensor's `x.exp()` spellings): method name -> kiln.tensor function
_UNARY_METHODS = ("arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctanh", "ceil", "cos", "cosh",
                  "exp", "exp2", "expm1", "floor", "log", "log10", "log1p", "log2", "sin", "sinh", "sqrt",
                  "tan", "tanh", "trunc")


class _TensorOps:
    """Operators and methods shared by tensor variables, constants and shared variables."""

    __slots__ = ()
    # make NumPy defer to us in `ndarray + variable`
    __array_priority__ = 1000
    __array_ufunc__ = None

    # -- arithmetic (the binary operators are made below from _BINARY) ------------------
    def __neg__(self): return _m().neg(self)
    def __pos__(self): return self
    def __abs__(self): return _m().abs(self)
    def __invert__(self): return _m().invert(self)

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

    @property
    def mT(self):
        """The transpose of the last two axes (NumPy's `ndarray.mT`); needs ndim >= 2."""
        if self.type.ndim < 2:
            raise ValueError(f"mT: needs a tensor with at least 2 dimensions, got {self.type}")
        return _shape().swapaxes(self, -1, -2)

    @property
    def real(self):
        """The real part (NumPy's `.real`); x itself for a real (non-complex) tensor."""
        self._refuse_complex("real")
        return self

    @property
    def imag(self):
        """The imaginary part (NumPy's `.imag`): zeros of x's shape and dtype for a real tensor."""
        self._refuse_complex("imag")
        return _kt().zeros_like(self)

    def conj(self):
        """The complex conjugate (NumPy's `.conj()`); a copy of x for a real tensor."""
        self._refuse_complex("conj")
        return _m().tensor_copy(self)

    conjugate = conj

    def _refuse_complex(self, what: str) -> None:
        # no complex-aware elementwise op exists yet; refuse rather than return a wrong value
        if self.type.dtype.startswith("complex"):
            raise NotImplementedError(f"{what}: complex tensors are not supported yet (got {self.type})")

    def __getitem__(self, idx):
        from kiln.tensor.subtensor import subtensor

        return subtensor(self, idx)

    def __setitem__(self, idx, value):
        raise TypeError("a symbolic tensor does not support item assignment; use kt.set_subtensor(x[idx], value) "
                        "(or x[idx].set(value)) and kt.inc_subtensor (x[idx].inc(value)), which return new tensors")

    def set(self, y):
        """`kt.set_subtensor(self, y)`: self must be an indexing result, e.g. `x[1:].set(0)`."""
        return _kt().set_subtensor(self, y)

    def inc(self, y):
        """`kt.inc_subtensor(self, y)`: self must be an indexing result, e.g. `x[idx].inc(1)`."""
        return _kt().inc_subtensor(self, y)

    def take(self, indices, axis=None, mode="raise"):
        """`kt.take(self, indices, axis)`; only NumPy's default mode "raise" is supported."""
        if mode != "raise":
            raise NotImplementedError(f"take: mode={mode!r} is not supported (only 'raise')")
        return _kt().take(self, indices, axis=axis)

    def __ceil__(self): return _m().ceil(self)
    def __floor__(self): return _m().floor(self)
    def __trunc__(self): return _m().trunc(self)
    def __divmod__(self, o): return _m().int_div(self, o), _m().mod(self, o)
    def __rdivmod__(self, o): return _m().int_div(o, self), _m().mod(o, self)

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

    def reshape(self, *args, shape=None, ndim=None):
        """`x.reshape(2, 3)`, `x.reshape((2, 3))` or `x.reshape(shape=(2, 3))` (NumPy's spellings)."""
        if shape is not None:
            if args:
                raise TypeError("reshape: give the shape either positionally or as shape=, not both")
            return _shape().reshape(self, shape, ndim=ndim)
        if not args:
            raise TypeError("reshape: missing the new shape")
        if len(args) == 1 and not isinstance(args[0], (int, np.integer)):
            args = args[0]
        return _shape().reshape(self, args, ndim=ndim)

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
    def clip(self, a_min=None, a_max=None, *, min=None, max=None):
        """`kt.clip`; NumPy's `min=`/`max=` keywords are accepted too (either bound may be None)."""
        if min is not None or max is not None:
            if a_min is not None or a_max is not None:
                raise TypeError("clip: give the bounds either positionally (a_min, a_max) or as min=/max=, not both")
            a_min, a_max = min, max
        return _m().clip(self, a_min, a_max)

    def dot(self, other): return _m().dot(self, other)
    def round(self, mode=None): return _m().round(self, "half_to_even" if mode is None else mode)
    def repeat(self, repeats, axis=None): return _kt().repeat(self, repeats, axis=axis)
    def cumsum(self, axis=None): return _kt().cumsum(self, axis=axis)
    def cumprod(self, axis=None): return _kt().cumprod(self, axis=axis)
    def sort(self, axis=-1, kind=None, order=None): return _kt().sort(self, axis=axis, kind=kind, order=order)

    def argsort(self, axis=-1, kind=None, order=None):
        return _kt().argsort(self, axis=axis, kind=kind, order=order)

    def searchsorted(self, v, side="left", sorter=None):
        return _kt().searchsorted(self, v, side=side, sorter=sorter)

    def nonzero(self, return_matrix=False): return _kt().nonzero(self, return_matrix=return_matrix)
    def nonzero_values(self): return _kt().nonzero_values(self)
    def diagonal(self, offset=0, axis1=0, axis2=1): return _kt().diagonal(self, offset, axis1, axis2)
    def trace(self, offset=0, axis1=0, axis2=1): return _kt().trace(self, offset, axis1, axis2)
    def zeros_like(self, dtype=None): return _kt().zeros_like(self, dtype=dtype)
    def ones_like(self, dtype=None): return _kt().ones_like(self, dtype=dtype)

    def fill(self, value):
        """A tensor of self's shape filled with `value` (PyTensor's `fill`; NumPy's in-place
        `ndarray.fill` has no symbolic meaning)."""
        return _m().fill(self, value)

    def ptp(self, axis=None, keepdims=False):
        """Peak to peak, max - min along `axis` (np.ptp)."""
        return _m().sub(self.max(axis=axis, keepdims=keepdims), self.min(axis=axis, keepdims=keepdims))

    def compress(self, condition, axis=None):
        """np.compress: the slices along `axis` (of the flattened tensor when None) where the
        1-d `condition` is true; a condition shorter than the axis leaves out the rest."""
        kt = _kt()
        cond = kt.as_tensor_variable(condition)
        if cond.type.ndim != 1:
            raise ValueError(f"compress: condition must be 1-d, got {cond.type}")
        (idx,) = kt.nonzero(cond)
        return kt.take(self, idx, axis=axis)

    def norm(self, L, axis=None, keepdims=False):
        """The vector L-norm over `axis` (all elements when None), as np.linalg.vector_norm:
        (sum |x|^L)^(1/L); L=inf gives max |x|, -inf min |x|, 0 the count of non-zeros.
        Integer and boolean tensors are converted to float64 first, as NumPy does."""
        m = _m()
        x = self if self.type.dtype.startswith("float") else m.cast(self, "float64")
        if L == 0:
            return m.neq(x, 0).sum(axis=axis, keepdims=keepdims, dtype=x.type.dtype)
        a = m.abs(x)
        if np.isinf(L):
            return (a.max if L > 0 else a.min)(axis=axis, keepdims=keepdims)
        return m.pow(m.pow(a, L).sum(axis=axis, keepdims=keepdims), 1.0 / L)
    def copy(self, name=None):
        out = _m().tensor_copy(self)
        out.name = name
        return out

    # -- PyTensor's remaining variable methods ------------------------------------------------
    def choose(self, choices, mode="raise"):
        """np.choose(self, choices, mode)."""
        return _kt().choose(self, choices, mode=mode)

    def deg2rad(self): return _kt().deg2rad(self)
    def rad2deg(self): return _kt().rad2deg(self)

    def dprint(self, **kwargs):
        """kiln.printing.debugprint(self, **kwargs)."""
        from kiln.printing import debugprint

        return debugprint(self, **kwargs)

    def get_underlying_scalar_constant(self):
        """The scalar value this variable provably has (PyTensor's; raises NotScalarConstantError)."""
        return _kt().get_underlying_scalar_constant_value(self)

    @property
    def owner_op(self):
        """The op of this variable's owner (None for a root variable)."""
        return None if self.owner is None else self.owner.op

    @property
    def owner_op_and_inputs(self):
        """(owner's op, *owner's inputs), or (None,) for a root variable."""
        return (None,) if self.owner is None else (self.owner.op, *self.owner.inputs)

    def transfer(self, target):
        """PyTensor's device transfer: kiln computes on the CPU, so "cpu" is the only target."""
        if target not in ("cpu", None):
            raise ValueError(f"transfer: kiln has only the 'cpu' target, got {target!r}")
        return self


def _binary_method(dunder: str, fn: str, reflected: bool):
    def method(self, o):
        try:
            f = getattr(_m(), fn)
            return f(o, self) if reflected else f(self, o)
        except TypeError:
            # a variable of another kind (kiln.sparse's): let its reflected operator answer,
            # as Python does for NotImplemented; anything else keeps its error
            if isinstance(o, Variable) and not isinstance(o.type, TensorType):
                return NotImplemented
            raise

    method.__name__ = method.__qualname__ = dunder
    return method


#: operator -> kiln.tensor.math function (and its reflected form where the operator has one)
_BINARY = {"add": "add", "sub": "sub", "mul": "mul", "truediv": "true_div", "floordiv": "int_div",
           "mod": "mod", "pow": "pow", "matmul": "matmul", "and": "and_", "or": "or_", "xor": "xor"}
_COMPARISONS = {"lt": "lt", "le": "le", "gt": "gt", "ge": "ge"}

for _op, _fn in _BINARY.items():
    setattr(_TensorOps, f"__{_op}__", _binary_method(f"__{_op}__", _fn, False))
    setattr(_TensorOps, f"__r{_op}__", _binary_method(f"__r{_op}__", _fn, True))
for _op, _fn in _COMPARISONS.items():
    setattr(_TensorOps, f"__{_op}__", _binary_method(f"__{_op}__", _fn, False))
del _op, _fn


def _unary_method(name: str):
    def method(self):
        return getattr(_m(), name)(self)

    method.__name__ = method.__qualname__ = name
    method.__doc__ = f"kt.{name}(self), elementwise."
    return method


for _name in _UNARY_METHODS:
    setattr(_TensorOps, _name, _unary_method(_name))
del _name


class TensorVariable(_TensorOps, Variable):
    """A symbolic tensor: operators build graph nodes; `==` keeps Python identity."""

    __slots__ = ()

    # identity equality and hashing come from object (C-level, fast)


class TensorConstant(_TensorOps, Constant):
    """A constant tensor: its value is `.data` (an ndarray); operators as TensorVariable."""

    __slots__ = ()

    @property
    def value(self) -> np.ndarray:
        """The constant's value (PyTensor's alias of `.data`)."""
        return self.data

    @property
    def unique_value(self):
        """The one value every element has (a NumPy scalar), or None (empty, or not all equal)."""
        flat = np.asarray(self.data).ravel()
        if flat.size == 0:
            return None
        first = flat[0]
        same = (flat == first) | (np.isnan(flat) & np.isnan(first)) if flat.dtype.kind in "fc" else flat == first
        return first if bool(np.all(same)) else None

    # identity equality and hashing come from object (C-level, fast)


TensorType.variable_type = TensorVariable
TensorType.constant_type = TensorConstant
