"""Shared variables: symbolic variables with a value that persists across function calls."""
from __future__ import annotations

import copy
from typing import Any

import numpy as np

from kiln.graph.basic import Variable
from kiln.tensor.type import TensorType
from kiln.tensor.variable import _TensorOps

__all__ = ["SharedVariable", "TensorSharedVariable", "copy_value", "shared", "SHARED_CONSTRUCTORS"]

#: (predicate(value) -> bool, constructor(value, name=, strict=, allow_downcast=, borrow=, shape=))
#: pairs tried in order by `shared` before the ndarray path: a package with its own value
#: kind registers here (kiln.sparse: scipy.sparse matrices) instead of editing `shared`
SHARED_CONSTRUCTORS: list = []


def copy_value(value: Any) -> Any:
    """An independent copy of a run-time value, made by its kind: NumPy arrays and scalars
    become fresh arrays (as outputs always are); any other object (a random Generator, a
    list held by a custom type) is deep-copied as itself, never wrapped in an object array.

    >>> a = np.zeros(2); b = copy_value(a); b is a, b
    (False, array([0., 0.]))
    >>> copy_value([1, [2]])
    [1, [2]]
    """
    if isinstance(value, (np.ndarray, np.generic)):
        return np.array(value, copy=True)
    return copy.deepcopy(value)


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
    """A graph input whose value lives in a Container; functions read it (and update it).

    `default_update` (PyTensor's): an expression `kiln.function` uses to update the variable
    after each call when the function is given no explicit update for it (and not
    no_default_updates); None for none."""

    __slots__ = ("container", "strict", "allow_downcast", "default_update")

    def __init__(self, type, value: Any, name: str | None = None, strict: bool = False,
                 allow_downcast: bool | None = None, container: Container | None = None):
        super().__init__(type, None, None, name)
        self.default_update = None
        self.strict = strict
        self.allow_downcast = allow_downcast
        self.container = container if container is not None else Container(
            type.filter(value, strict=strict, allow_downcast=allow_downcast))

    def get_value(self, borrow: bool = False, return_internal_type: bool = False) -> Any:
        """The current value; a copy unless `borrow`."""
        v = self.container.value
        return v if borrow else copy_value(v)

    def set_value(self, value: Any, borrow: bool = False) -> None:
        """Replace the value (validated by the type; copied unless `borrow`).

        The dtype may only change by a safe cast (or a value-preserving one for Python
        numbers and lists); the number of dimensions and any static length must match.
        A refused value leaves the variable unchanged.

        >>> import numpy as np
        >>> w = shared(np.zeros(2), name="w")
        >>> w.set_value([1, 2]); w.get_value()
        array([1., 2.])
        """
        if isinstance(value, Variable):
            raise TypeError(f"{self._label()}.set_value() takes a value, not the symbolic variable {value}")
        try:
            v = self.type.filter(value, strict=self.strict, allow_downcast=self.allow_downcast)
        except (TypeError, ValueError) as e:
            msg = str(e).replace("pass allow_input_downcast=True to function() to allow it, or cast the value "
                                 "first", "cast the value first, or create the shared variable with "
                                 "allow_downcast=True")
            raise type(e)(f"{self._label()}.set_value(): {msg}") from None
        if not borrow and _may_share(v, value):
            v = copy_value(v)
        self.container.value = v

    def _label(self) -> str:
        return f"shared variable {self.name!r}" if self.name else f"shared variable of type {self.type}"

    @property
    def value(self):
        return self.get_value(borrow=True)

    def zero(self, borrow: bool = False) -> None:
        self.container.value = np.zeros_like(self.container.value)

    def clone(self, name: str | None = None) -> "SharedVariable":
        cp = type(self)(self.type, None, self.name if name is None else name, self.strict,
                        self.allow_downcast, container=self.container)
        cp.tag = dict(self.tag)
        cp.default_update = self.default_update
        return cp

    def __getstate__(self):
        # default_update (a whole graph) is not pickled: a compiled function already holds
        # its update, and pickling linked graphs recurses once per node
        return {s: getattr(self, s) for s in ("type", "owner", "index", "name", "tag", "auto_name",
                                               "container", "strict", "allow_downcast")}

    def __setstate__(self, state):
        object.__setattr__(self, "default_update", None)
        for k, v in state.items():
            object.__setattr__(self, k, v)


def _may_share(v: Any, value: Any) -> bool:
    """Whether the filtered value v may share memory with the caller's `value`."""
    if v is value:
        return True
    return isinstance(v, np.ndarray) and isinstance(value, np.ndarray) and np.may_share_memory(v, value)


class TensorSharedVariable(_TensorOps, SharedVariable):
    __slots__ = ()

    # identity equality and hashing come from object (C-level, fast)


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
    if isinstance(value, np.random.Generator):  # a random generator state (kiln.tensor.random)
        from kiln.tensor.random.type import shared_generator

        return shared_generator(value, name=name, strict=strict, allow_downcast=allow_downcast, borrow=borrow)
    for accepts, construct in SHARED_CONSTRUCTORS:
        if accepts(value):
            return construct(value, name=name, strict=strict, allow_downcast=allow_downcast, borrow=borrow,
                             shape=shape)
    arr = np.asarray(value)
    if arr.dtype == object:
        raise TypeError(f"shared(): cannot store a value of type {type(value).__name__}")
    if not borrow or not isinstance(value, np.ndarray):
        arr = np.array(arr, copy=True)
    if shape is None:
        shape = (None,) * arr.ndim
    ttype = TensorType(arr.dtype, shape)
    return TensorSharedVariable(ttype, arr, name=name, strict=strict, allow_downcast=allow_downcast)
