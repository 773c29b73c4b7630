"""The type of a random-generator state, and shared variables holding one.

A draw reads a `numpy.random.Generator` (an input of type `RandomGeneratorType`) and
returns the next state as a separate output; the state lives in a shared variable
whose `default_update` is that next state, so `kiln.function` writes it back after each
call (see kiln.compile.function).  Generators are never mutated in place by an op.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln.compile.sharedvalue import SharedVariable
from kiln.graph.basic import Constant, Type, Variable

__all__ = ["RandomGeneratorType", "random_generator_type", "RandomGeneratorSharedVariable",
           "RandomGeneratorConstant", "shared_generator", "copy_generator"]


_PLACEHOLDER_SEED = np.random.SeedSequence(0)


def copy_generator(rng: np.random.Generator) -> np.random.Generator:
    """An independent Generator in the same state (same bit-generator class and state).

    >>> g = np.random.default_rng(0); h = copy_generator(g)
    >>> bool(g.random() == h.random())
    True
    """
    bg = rng.bit_generator
    new_bg = type(bg)(_PLACEHOLDER_SEED)  # a fixed seed skips reading OS entropy; the state is replaced
    new_bg.state = bg.state
    return np.random.Generator(new_bg)


class RandomGeneratorType(Type):
    """The type of a `numpy.random.Generator` state (PyTensor's RandomGeneratorType).

    `filter` accepts Generators only; there is nothing to convert.

    >>> random_generator_type.filter(np.random.default_rng(0)) is not None
    True
    """

    # shape helpers in the rewrites read `type.shape`; a generator is one opaque value
    shape: tuple = ()
    ndim: int = 0

    def filter(self, value: Any, strict: bool = False, allow_downcast: bool | None = None) -> Any:
        if isinstance(value, np.random.Generator):
            return value
        raise TypeError(f"RandomGeneratorType: expected a numpy.random.Generator (e.g. "
                        f"np.random.default_rng(seed)), got {type(value).__name__}")

    def values_eq(self, a: Any, b: Any) -> bool:
        return _state_eq(a.bit_generator.state, b.bit_generator.state)

    def __eq__(self, other: Any) -> bool:
        return type(other) is type(self)

    def __hash__(self) -> int:
        return hash(type(self).__name__)

    def __repr__(self) -> str:
        return "RandomGeneratorType"

    def short_str(self) -> str:
        return "rng"


def _state_eq(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_state_eq(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return bool(np.array_equal(a, b))
    return a == b


random_generator_type = RandomGeneratorType()


class RandomGeneratorConstant(Constant):
    """A fixed generator state in a graph: every run starts from it, so draws repeat
    (nothing writes the next state back to a constant)."""

    __slots__ = ()

    def signature(self):
        # equal states draw equal numbers; comparing by object keeps this cheap and exact
        return (self.type, id(self.data))


class RandomGeneratorSharedVariable(SharedVariable):
    """A shared variable holding a Generator; `default_update` (PyTensor's) is the expression
    `kiln.function` uses to update it when no explicit update is given."""

    __slots__ = ()

    def get_value(self, borrow: bool = False, return_internal_type: bool = False) -> Any:
        """The current Generator; an independent copy unless `borrow`."""
        v = self.container.value
        return v if borrow else copy_generator(v)

    def set_value(self, value: Any, borrow: bool = False) -> None:
        """Replace the Generator (copied unless `borrow`)."""
        if isinstance(value, Variable):
            raise TypeError(f"{self._label()}.set_value() takes a Generator, not the symbolic variable {value}")
        try:
            v = self.type.filter(value)
        except TypeError as e:
            raise TypeError(f"{self._label()}.set_value(): {e}") from None
        self.container.value = v if borrow else copy_generator(v)

    def zero(self, borrow: bool = False) -> None:
        raise TypeError(f"{self._label()}: a random generator has no zero value")



def shared_generator(value: np.random.Generator, name: str | None = None, strict: bool = False,
                     allow_downcast: bool | None = None, borrow: bool = False) -> RandomGeneratorSharedVariable:
    """A shared variable holding a Generator (copied unless `borrow`); `kiln.shared` calls this
    for Generator values.

    >>> import kiln
    >>> r = kiln.shared(np.random.default_rng(1), name="r")
    >>> type(r).__name__, r.type
    ('RandomGeneratorSharedVariable', RandomGeneratorType)
    """
    value = random_generator_type.filter(value)
    if not borrow:
        value = copy_generator(value)
    return RandomGeneratorSharedVariable(random_generator_type, value, name=name, strict=strict,
                                         allow_downcast=allow_downcast)


RandomGeneratorType.variable_type = Variable
RandomGeneratorType.constant_type = RandomGeneratorConstant
