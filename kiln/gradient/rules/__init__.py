"""Derivative rules, one file per op family; importing this package fills the tables.

The core files are imported by name.  Any other module in this package (rules that come
with another part of the op catalog, e.g. linalg.py) is imported too, so adding a family
means adding a file; one that fails to import is reported with a warning naming it, and
the rest of the rules keep working.
"""
import importlib
import pkgutil
import warnings

from kiln.gradient.rules import elemwise, scalar_derivatives, reduction, shape, blas, subtensor, misc  # noqa: F401
from kiln.gradient.rules import composite, special, stable  # noqa: F401

_CORE = {"helpers", "elemwise", "scalar_derivatives", "reduction", "shape", "blas", "subtensor", "misc",
         "composite", "special", "stable"}

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _info.name in _CORE or _info.name.startswith("_"):
        continue
    try:
        importlib.import_module(f"{__name__}.{_info.name}")
    except Exception as _e:  # a broken optional family must not take every gradient down
        warnings.warn(f"kiln.gradient: the derivative rules in {_info.name}.py failed to load "
                      f"({type(_e).__name__}: {_e}); ops of that family have no gradient", stacklevel=2)
