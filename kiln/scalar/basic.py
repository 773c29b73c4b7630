"""Scalar types and the ScalarOp protocol: the alphabet of elementwise math.

A ScalarOp is the math of one element.  `Elemwise` (kiln.tensor.elemwise)
lifts it to arrays with NumPy broadcasting; fusion builds `Composite` scalar
graphs out of them; the C and CUDA backends render them from templates.

Each ScalarOp names a NumPy-compatible function `nfunc` working on whole arrays
(the python linker calls it once per Elemwise, not once per element) and an
output-dtype rule.  The default rule asks NumPy itself: the dtype `nfunc`
returns for empty arrays of the input dtypes, so promotion is NumPy 2's
exactly (NEP 50), including int -> float for transcendental functions.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from kiln.graph.basic import Apply, Constant, Type, Variable
from kiln.graph.op import Op
from kiln.scalar import dtypes

__all__ = ["ScalarType", "ScalarVariable", "ScalarConstant", "ScalarOp", "scalar_type",
           "float_out_dtype"]


class ScalarType(Type):
    """The type of a single number of one dtype (used inside fused kernels)."""

    __slots__ = ("dtype",)

    def __init__(self, dtype: Any):
        object.__setattr__(self, "dtype", dtypes.normalize(dtype))

    def __setattr__(self, name, value):
        raise AttributeError("ScalarType is immutable")

    def __eq__(self, other: Any) -> bool:
        return type(other) is ScalarType and other.dtype == self.dtype

    def __hash__(self) -> int:
        return hash(("ScalarType", self.dtype))

    def __repr__(self) -> str:
        return f"ScalarType({self.dtype})"

    def __reduce__(self):
        return (ScalarType, (self.dtype,))

    def filter(self, value: Any, strict: bool = False, allow_downcast: bool | None = None) -> Any:
        arr = np.asarray(value)
        if arr.ndim != 0:
            raise TypeError(f"{self}: expected a scalar, got an array of shape {arr.shape}")
        if arr.dtype == self.dtype:
            return arr[()]
        if strict:
            raise TypeError(f"{self}: expected {self.dtype}, got {arr.dtype}")
        if np.can_cast(arr.dtype, self.dtype, "safe") or allow_downcast:
            return np.asarray(value, dtype=self.dtype)[()]
        conv = np.asarray(value, dtype=self.dtype)
        if conv == arr:
            return conv[()]
        raise TypeError(f"{self}: cannot convert {value!r} of dtype {arr.dtype} without loss")


class ScalarVariable(Variable):
    """A variable of ScalarType (inside fused kernels); `.dtype` like a tensor's."""

    __slots__ = ()

    @property
    def dtype(self) -> str:
        return self.type.dtype


class ScalarConstant(Constant, ScalarVariable):
    """A constant scalar (one number of one dtype)."""

    __slots__ = ()


ScalarType.variable_type = ScalarVariable
ScalarType.constant_type = ScalarConstant


@functools.lru_cache(maxsize=None)
def scalar_type(dtype: str) -> ScalarType:
    """The (cached) ScalarType of `dtype`.

    >>> scalar_type("float32")
    ScalarType(float32)
    """
    return ScalarType(dtype)


@functools.lru_cache(maxsize=4096)
def _numpy_out_dtypes(fn: Callable, in_dtypes: tuple[str, ...]) -> tuple[str, ...]:
    with np.errstate(all="ignore"):
        out = fn(*[np.zeros(1, dtype=d) for d in in_dtypes])
    outs = out if isinstance(out, tuple) else (out,)
    return tuple(str(np.asarray(o).dtype) for o in outs)


def scipy_out_dtype(dtype: str, first_loop: str = "float64") -> str:
    """The dtype a scipy.special ufunc gives for inputs promoted to `dtype`.  Its loops are
    float32 and float64 (and complex), tried in its own order (`first_loop`, the dtype of
    `ufunc.types[0]`): exact float/complex dtypes keep theirs, other dtypes take the first
    loop they cast to safely (int8 -> float32 when float32 comes first, else float64).
    Decided here rather than by calling SciPy, so building a graph never imports it."""
    if dtype in ("float32", "float64", "complex64", "complex128"):
        return dtype
    if first_loop == "float32" and np.can_cast(dtype, "float32"):
        return "float32"
    return "float64"


def float_out_dtype(dtype: str) -> str:
    """The dtype NumPy gives a transcendental function of `dtype` (int8 -> float16, int64 -> float64)."""
    return _numpy_out_dtypes(np.exp, (dtype,))[0]


class ScalarOp(Op):
    """Math of one element.  Subclasses set `nin`, `nout`, `nfunc` and optionally `out_rule`.

    out_rule: "numpy" (ask nfunc), "float" (NumPy's transcendental rule: int8 -> float16),
    "scipy" (a scipy.special ufunc's rule: inputs promoted NEP 50-style, then the ufunc's
    loop for that dtype: float32 stays float32, every other real dtype gives float64),
    "bool", or "same" (first input).
    """

    nin: int = 1            # -1: variadic (add, mul)
    nout: int = 1
    nfunc: Callable | None = None
    out_rule: str = "numpy"
    #: for out_rule "scipy": the dtype of the SciPy ufunc's first loop (see scipy_out_dtype)
    scipy_first_loop: str = "float64"
    commutative: bool = False
    associative: bool = False
    #: identity element for variadic ops (used to fold constants and reductions)
    identity: Any = None
    #: comparisons: a Python int operand out of range of the other operand's dtype is compared
    #: by value (NumPy 2: uint8_array < -1 is all False) instead of raising OverflowError
    compares_by_value: bool = False

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        # one-line op classes get a docstring naming the NumPy function they compute
        if cls.__doc__ is None and cls.__dict__.get("nfunc") is not None:
            fn = cls.__dict__["nfunc"]
            fn = getattr(fn, "__func__", fn)
            name = getattr(fn, "__name__", "a NumPy function")
            cls.__doc__ = f"Scalar op {cls.__name__}: elementwise {name} with NumPy's dtype rules."

    def __str__(self) -> str:
        return type(self).__name__.lower()

    def output_dtypes(self, in_dtypes: Sequence[str]) -> tuple[str, ...]:
        in_dtypes = tuple(in_dtypes)
        if self.nin >= 0 and len(in_dtypes) != self.nin:
            raise TypeError(f"{self}: expected {self.nin} inputs, got {len(in_dtypes)}")
        if self.nin < 0 and not in_dtypes:
            raise TypeError(f"{self}: needs at least one input")
        rule = self.out_rule
        if rule == "float":
            return (float_out_dtype(dtypes.upcast(*in_dtypes)),) * self.nout
        if rule == "scipy":
            return (scipy_out_dtype(dtypes.upcast(*in_dtypes), self.scipy_first_loop),) * self.nout
        if rule == "bool":
            return ("bool",) * self.nout
        if rule == "same":
            return (in_dtypes[0],) * self.nout
        try:
            return _numpy_out_dtypes(self._dtype_probe(), in_dtypes)
        except TypeError as e:
            raise TypeError(f"{self} is not defined for dtypes {', '.join(in_dtypes)}: {e}") from None

    def _dtype_probe(self) -> Callable:
        return self.impl

    def impl(self, *inputs: Any) -> Any:
        """Apply the op to NumPy arrays (broadcasting), returning an array or a tuple."""
        if self.nin < 0 and len(inputs) > 2:
            return functools.reduce(self.nfunc, inputs)
        if self.nin < 0 and len(inputs) == 1:
            return np.array(inputs[0], copy=True)
        return self.nfunc(*inputs)

    # scalar-level node building (used inside Composite graphs)
    def make_node(self, *inputs: Any) -> Apply:
        ins = [as_scalar(i) for i in inputs]
        outs = self.output_dtypes([i.type.dtype for i in ins])
        return Apply(self, ins, [scalar_type(d)() for d in outs])

    def perform(self, node: Apply, inputs: Sequence[Any], output_storage: list[list]) -> None:
        with np.errstate(all="ignore"):
            res = self.impl(*[np.asarray(i) for i in inputs])
        res = res if isinstance(res, tuple) else (res,)
        for store, val, out in zip(output_storage, res, node.outputs):
            store[0] = np.asarray(val, dtype=out.type.dtype)[()]


def as_scalar(x: Any) -> Variable:
    """`x` as a scalar variable: scalar variables pass through, numbers become constants
    (Python floats floatX, ints int64, NumPy scalars keep their dtype).

    >>> as_scalar(2).type
    ScalarType(int64)
    """
    if isinstance(x, Variable):
        if isinstance(x.type, ScalarType):
            return x
        raise TypeError(f"{x} of type {x.type} is not a scalar variable")
    arr = np.asarray(x)
    dtype = dtypes.default_dtype_of(x) if not isinstance(x, (np.ndarray, np.generic)) else str(arr.dtype)
    return scalar_type(dtype).make_constant(arr.astype(dtype)[()])
