"""PyTensor module paths: `from pytensor.tensor.math import betainc` ports to
`from kiln.tensor.math import betainc` even where kiln defines the function in another module.

A module lists the names PyTensor's module of the same name has and that kiln defines
elsewhere; they resolve on first access from the `kiln.tensor` namespace (PEP 562 module
`__getattr__`), so nothing is duplicated and no import cycle arises while kiln.tensor is
still being imported.  The names stay out of the module's `__all__`: `import *` keeps its
meaning.

>>> import kiln.tensor.math as km, kiln.tensor as kt
>>> km.betainc is kt.betainc
True
"""
from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable

__all__ = ["lazy_reexport"]


def lazy_reexport(module_name: str, names: Iterable[str], source: str = "kiln.tensor") -> tuple[Callable, Callable]:
    """(__getattr__, __dir__) for module `module_name`: each of `names` is `source`'s attribute
    of that name, looked up when first asked for (then cached in the module)."""
    wanted = frozenset(names)

    def __getattr__(name: str):
        if name in wanted:
            value = getattr(importlib.import_module(source), name)
            setattr(sys.modules[module_name], name, value)
            return value
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[module_name])) | wanted)

    return __getattr__, __dir__
