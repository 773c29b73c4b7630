"""PyTensor's `tensor.sort` module path: sort and argsort, plus the comparison helpers
PyTensor's module exposes (the same objects as kiln.tensor's).

kiln/tensor/__init__.py imports this module itself, then binds `kiln.tensor.sort` back to the
function: importing a submodule sets the package attribute of its name, and `kt.sort` must
stay the function (PyTensor's package does the same; as there, `import kiln.tensor.sort as m`
gives the function, and `from kiln.tensor.sort import argsort` the module's names).

>>> import kiln.tensor as kt
>>> from kiln.tensor.sort import argsort, sort
>>> sort is kt.sort and argsort is kt.argsort and callable(kt.sort)
True
"""
import kiln.tensor as _kt

ArgSort, Sort, argsort, sort = _kt.ArgSort, _kt.Sort, _kt.argsort, _kt.sort
eq, ge, switch = _kt.eq, _kt.ge, _kt.switch

__all__ = ["ArgSort", "Sort", "argsort", "sort", "eq", "ge", "switch"]
