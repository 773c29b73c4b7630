"""map, reduce, foldl, foldr: scan with fixed roles (PyTensor's pytensor.scan.views).

- `map(fn, sequences, non_sequences)`: fn applied to each entry of the sequences, results
  stacked (scan with no recurrent outputs);
- `reduce(fn, sequences, outputs_info, non_sequences)`: a scan whose results are only its
  last step's values (`foldl` left to right, `foldr` right to left).

Each returns what `scan` returns ((outputs, updates), or outputs alone with
return_updates=False), the reductions giving the last step's values.

>>> import numpy as np, kiln, kiln.tensor as kt
>>> x = kt.dvector("x")
>>> sq, _ = map(lambda v: v ** 2, sequences=x)
>>> total, _ = reduce(lambda v, acc: acc + v, sequences=x, outputs_info=kt.constant(0.0))
>>> f = kiln.function([x], [sq, total])
>>> [r.tolist() for r in f(np.array([1.0, 2.0, 3.0]))]
[[1.0, 4.0, 9.0], 6.0]
"""
from __future__ import annotations

from typing import Any, Callable

from kiln.scan.basic import scan

__all__ = ["map", "reduce", "foldl", "foldr"]


def map(fn: Callable, sequences: Any, non_sequences: Any = None, truncate_gradient: int = -1,
        go_backwards: bool = False, mode: Any = None, name: str | None = None, return_updates: bool = True):
    """fn over the entries of `sequences` (with `non_sequences` passed whole), results stacked."""
    return scan(fn, sequences=sequences, outputs_info=None, non_sequences=non_sequences,
                truncate_gradient=truncate_gradient, go_backwards=go_backwards, mode=mode, name=name,
                return_updates=return_updates)


def _last(rval: Any, return_updates: bool):
    outs, upd = (rval[0], rval[1]) if return_updates else (rval, None)
    last = [o[-1] for o in outs] if isinstance(outs, (list, tuple)) else outs[-1]
    return (last, upd) if return_updates else last


def reduce(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None,
           go_backwards: bool = False, mode: Any = None, name: str | None = None, return_updates: bool = True):
    """A scan over `sequences` that returns only the last step's outputs."""
    rval = scan(fn, sequences=sequences, outputs_info=outputs_info, non_sequences=non_sequences,
                go_backwards=go_backwards, mode=mode, name=name, return_updates=return_updates)
    return _last(rval, return_updates)


def foldl(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None, mode: Any = None,
          name: str | None = None, return_updates: bool = True):
    """reduce from the first entry to the last."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=False, mode=mode, name=name,
                  return_updates=return_updates)


def foldr(fn: Callable, sequences: Any, outputs_info: Any, non_sequences: Any = None, mode: Any = None,
          name: str | None = None, return_updates: bool = True):
    """reduce from the last entry to the first."""
    return reduce(fn, sequences, outputs_info, non_sequences, go_backwards=True, mode=mode, name=name,
                  return_updates=return_updates)
