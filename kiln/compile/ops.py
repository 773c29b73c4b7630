"""Ops made from plain Python functions (PyTensor's `as_op` / `wrap_py`).

`@as_op(itypes=[...], otypes=[...])` turns a function computing NumPy arrays into an Op: the
decorated name becomes the Op, called on symbolic inputs of the `itypes`, giving outputs of the
`otypes`.  The function runs through `perform` (in a python segment on the C linker).  It has
no gradient (asking for one through it is an error, as in PyTensor) and no shape inference
unless `infer_shape(fgraph, node, input_shapes) -> output_shapes` is given.

Types may be TensorType instances or kiln's type constructors (`kt.dmatrix`, `kt.fvector`...);
inputs are checked by Op.make_node's itypes/otypes default. Results are checked against the otypes (dtype converted where exact, ndim and static shape
verified), so a function returning the wrong kind of array fails with the op's name.

>>> import numpy as np, kiln, kiln.tensor as kt
>>> @as_op(itypes=[kt.dmatrix, kt.dmatrix], otypes=[kt.dmatrix])
... def numpy_dot(a, b):
...     return np.dot(a, b)
>>> x, y = kt.dmatrix("x"), kt.dmatrix("y")
>>> f = kiln.function([x, y], numpy_dot(x, y) + 1)
>>> f(np.eye(2), np.full((2, 2), 3.0)).tolist()
[[4.0, 4.0], [4.0, 4.0]]
"""
from __future__ import annotations

import importlib
import pickle
from typing import Any, Callable, Sequence

from kiln.graph.op import Op, declared_type

__all__ = ["FromFunctionOp", "as_op", "wrap_py"]


def _load_back(module: str, name: str) -> Any:
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


class FromFunctionOp(Op):
    """An Op whose perform calls `fn(*input_arrays)` (see `as_op`)."""

    def __init__(self, fn: Callable, itypes: Sequence[Any], otypes: Sequence[Any],
                 infer_shape: Callable | None = None):
        name = getattr(fn, "__name__", "fn")
        self.fn = fn
        self.itypes = [declared_type(t, f"as_op({name})") for t in itypes]
        self.otypes = [declared_type(t, f"as_op({name})") for t in otypes]
        self._infer_shape = infer_shape
        self.__name__ = name
        self.__doc__ = getattr(fn, "__doc__", None)

    # equality: the same function (an op per decorated function, as PyTensor's)
    def __eq__(self, other: Any) -> bool:
        return type(self) is type(other) and self.fn == other.fn

    def __hash__(self) -> int:
        return hash((type(self), self.fn))

    def __str__(self) -> str:
        return f"FromFunctionOp{{{self.__name__}}}"

    __repr__ = __str__

    def perform(self, node, inputs, output_storage):
        outs = self.fn(*inputs)
        if not isinstance(outs, (list, tuple)):
            outs = (outs,)
        if len(outs) != len(output_storage):
            raise ValueError(f"{self}: the function returned {len(outs)} values, the op declares "
                             f"{len(output_storage)} outputs")
        for k, (store, value, t) in enumerate(zip(output_storage, outs, self.otypes)):
            try:
                store[0] = t.filter(value, allow_downcast=False)
            except (TypeError, ValueError) as e:
                raise type(e)(f"{self}: output {k}: {e}") from None

    def infer_shape(self, fgraph, node, input_shapes):
        if self._infer_shape is None:
            raise NotImplementedError(f"{self} has no infer_shape (pass infer_shape= to as_op)")
        return self._infer_shape(fgraph, node, input_shapes)

    def __reduce__(self):
        # pickled by reference to the decorated name, like a function (PyTensor does the same)
        mod, name = getattr(self.fn, "__module__", None), getattr(self.fn, "__qualname__", self.__name__)
        try:
            found = _load_back(mod, name)
        except (ImportError, AttributeError, TypeError):
            found = None
        if found is not self:
            raise pickle.PicklingError(f"cannot pickle {self}: it is not the object named {mod}.{name}")
        return _load_back, (mod, name)


def as_op(itypes: Sequence[Any], otypes: Sequence[Any], infer_shape: Callable | None = None) -> Callable:
    """Decorator: make a Python function on NumPy arrays into an Op (see the module docstring)."""
    if not isinstance(itypes, (list, tuple)) or not isinstance(otypes, (list, tuple)):
        raise TypeError("as_op: itypes and otypes must be lists of types")
    if infer_shape is not None and not callable(infer_shape):
        raise TypeError("as_op: infer_shape must be callable")

    def deco(fn: Callable) -> FromFunctionOp:
        return FromFunctionOp(fn, itypes, otypes, infer_shape)
    return deco


wrap_py = as_op
