"""Kernel IR of indexing with integer arrays and slices: gathers (x[idx]) and scatters
(set/inc of x[idx] by y), for AdvancedSubtensor, AdvancedIncSubtensor(Inplace) and
IncSubtensor(Inplace).

The indexed *region* is what NumPy's x[key] would return: its axes are, in order, the
region axes listed in `region`: an x axis taken by a slice (or a full trailing axis), a
new axis of length 1, or an axis of the *block* (the broadcast shape of the index arrays,
placed where NumPy places it).  Each region position maps to one element of the target
(x for a gather, the output for a scatter): the slice axes step through it, and every
index array adds (its value, wrapped when negative) times the stride of the x axis it
indexes.  A basic integer index (IncSubtensor) is a 0-d index array.
"""
from __future__ import annotations

from dataclasses import dataclass

from kiln.linkers.c.ir import Operand

__all__ = ["IndexKernel", "NEWAXIS_SRC"]

#: `IndexKernel.region` entry of a new axis (length 1, no stride)
NEWAXIS_SRC = -1000


@dataclass(frozen=True)
class IndexKernel:
    """Gather (`mode` "get": out = x[key]) or scatter (`mode` "set": out = x with x[key] = y;
    "inc": out = x with y added at key, sequentially in the region's C order, so repeated
    indices accumulate exactly as np.add.at).

    `slices`: per x axis, None (the full axis, or an axis taken by an index array) or the
    (start, stop, step) bound operands of its slice (each an 0-d integer Operand or None).
    `region`: per region axis, the x axis d >= 0 it walks, -1 - j for block axis j, or
    NEWAXIS_SRC.  `indices`/`index_axes`: the integer index operands and the x axis each
    one indexes; `block_ndim`: the number of block axes (the largest index ndim).
    """

    label: str
    mode: str
    x: Operand
    out: Operand
    y: Operand | None
    x_ndim: int
    slices: tuple[tuple[Operand | None, Operand | None, Operand | None] | None, ...]
    region: tuple[int, ...]
    indices: tuple[Operand, ...]
    index_axes: tuple[int, ...]
    block_ndim: int
