"""Shared variables: symbolic variables with a value that persists across function calls."""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln.graph.basic import Variable
from kiln.tensor.type import TensorType
from kiln.tensor.variable import _TensorOps

__all__ = ["SharedVariable", "TensorSharedVariable", "shared"]


class Container:
    """The storage cell a shared variable and every function using it have in common."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __getstate__(self):
        return self.value

    def __setstate__(self, state):
        self.value = state


class SharedVariable(Variable):
    """A graph input whose value lives in a Container; functions read it (and update it)."""

    __slots__ = ("container", "strict", "allow_downcast")

    def __init__(self, type, value: Any, name: str | None = None, strict: bool = False,
                 allow_downcast: bool | None = None, container: Container | None = None):
        super().__init__(type, None, None, name)
        self.strict = strict
        self.allow_downcast = allow_downcast
        self.container = container if container is not None else Container(
            type.filter(value, strict=strict, allow_downcast=allow_downcast))

    def get_value(self, borrow: bool = False, return_internal_type: bool = False) -> Any:
        """The current value; a copy unless `borrow`."""
        v = self.container.value
        return v if borrow else np.array(v, copy=True)

    def set_value(self, value: Any, borrow: bool = False) -> None:
        """Replace the value (validated by the type; copied unless `borrow`)."""
        v = self.type.filter(value, strict=self.strict, allow_downcast=self.allow_downcast)
        if not borrow and v is value:
            v = np.array(v, copy=True)
        self.container.value = v

    @property
    def value(self):
        return self.get_value(borrow=True)

    def zero(self, borrow: bool = False) -> None:
        self.container.value = np.zeros_like(self.container.value)

    def clone(self, name: str | None = None) -> "SharedVariable":
        cp = type(self)(self.type, None, self.name if name is None else name, self.strict,
                        self.allow_downcast, container=self.container)
        cp.tag = dict(self.tag)
        return cp

    def __getstate__(self):
        return {s: getattr(self, s) for s in ("type", "owner", "index", "name", "tag", "auto_name",
                                               "container", "strict", "allow_downcast")}

    def __setstate__(self, state):
        for k, v in state.items():
            object.__setattr__(self, k, v)


class TensorSharedVariable(_TensorOps, SharedVariable):
    __slots__ = ()

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other


def shared(value: Any, name: str | None = None, strict: bool = False, allow_downcast: bool | None = None,
           borrow: bool = False, shape: tuple | None = None) -> TensorSharedVariable:
    """A shared tensor variable holding `value` (copied unless `borrow`).

    Its static shape is unknown in every dimension (values may change shape) unless
    `shape` is given.

    >>> import numpy as np
    >>> w = shared(np.zeros(3), name="w")
    >>> w.get_value()
    array([0., 0., 0.])
    """
    if isinstance(value, Variable):
        raise TypeError("shared() takes a value, not a symbolic variable")
    arr = np.asarray(value)
    if arr.dtype == object:
        raise TypeError(f"shared(): cannot store a value of type {type(value).__name__}")
    if not borrow or not isinstance(value, np.ndarray):
        arr = np.array(arr, copy=True)
    if shape is None:
        shape = (None,) * arr.ndim
    ttype = TensorType(arr.dtype, shape)
    return TensorSharedVariable(ttype, arr, name=name, strict=strict, allow_downcast=allow_downcast)
