"""The structure of indexing nodes (`index_spec`) and their run-time shape rules: entries of
`SHAPE_RULES` and `VALUE_INPUTS` for the ops kiln.linkers.c.lower_index lowers to
`IndexKernel`, registered on import.

They live apart from the lowering because they are needed at run time, also on a warm
start, which replays a stored layout and never imports the lowerings and the kernel IR
(kiln.linkers.c.layout).  Slice bounds and basic integer indices are scalars the shape rule
reads (`VALUE_INPUTS`); it raises NumPy's errors (step 0, an out-of-bounds basic index, y
not broadcasting to the region, index arrays not broadcasting together) before the native
call.
"""
from __future__ import annotations

import functools
import weakref
from dataclasses import dataclass

import numpy as np

from kiln.graph.basic import Apply
from kiln.linkers.c.shapes import SHAPE_RULES, VALUE_INPUTS
from kiln.linkers.python import describe_node
from kiln.rewrites.inplace import IncSubtensorInplace
from kiln.tensor.advanced import (ADV, ELLIPSIS, NEWAXIS, AdvancedIncSubtensor, AdvancedIncSubtensorInplace,
                                  AdvancedSubtensor, _adjacent)
from kiln.tensor.inc_subtensor import IncSubtensor
from kiln.tensor.subtensor import INT

__all__ = ["IndexSpec", "index_spec", "NEWAXIS_SRC"]

#: a region entry for a new axis (length 1): kiln.linkers.c.ir_index.NEWAXIS_SRC, which the
#: renderer reads (the same value; not imported here, so the kernel IR stays unloaded)
NEWAXIS_SRC = -1000


@dataclass(frozen=True)
class IndexSpec:
    """The structure of one indexing node, in terms of its input positions.

    `slices`: per indexed x axis, None or the input positions (or None) of its slice's
    (start, stop, step); `region`: as `IndexKernel.region`; `index_pos`/`index_axes`: the
    integer index inputs and the x axis each indexes; `basic_pos`: positions of basic
    integer indices (0-d, bounds checked by the shape rule)."""

    mode: str
    slices: tuple
    region: tuple[int, ...]
    index_pos: tuple[int, ...]
    index_axes: tuple[int, ...]
    block_ndim: int
    basic_pos: tuple[int, ...]

    @property
    def value_pos(self) -> tuple[int, ...]:
        """Inputs whose values the shape rule reads: slice bounds and basic integer indices."""
        bounds = [p for s in self.slices if s is not None for p in s if p is not None]
        return tuple(sorted(set(bounds) | set(self.basic_pos)))


def _mode(op) -> str:
    if isinstance(op, AdvancedSubtensor):
        return "get"
    return "set" if op.set_instead_of_inc else "inc"


@functools.lru_cache(maxsize=4096)
def _spec_cached(op, ndims: tuple[int, ...]) -> IndexSpec | None:
    x_ndim = ndims[0]
    first = 1 if isinstance(op, AdvancedSubtensor) else 2
    pos = first
    slices: list = [None] * x_ndim
    parts: list = []   # region parts: x axis d, NEWAXIS_SRC, or "ADV" (where the block goes)
    index_pos, index_axes, basic_pos = [], [], []
    d = 0
    for e in op.idx_list:
        if e == NEWAXIS:
            parts.append(NEWAXIS_SRC)
        elif e == ELLIPSIS:
            pass   # zero-width: only NumPy's placement rule sees it (_adjacent)
        elif e == ADV or e == INT:
            index_pos.append(pos)
            index_axes.append(d)
            if e == INT:
                basic_pos.append(pos)
            else:
                parts.append("ADV")
            pos += 1
            d += 1
        elif isinstance(e, tuple) and len(e) == 3:
            bounds = []
            for given in e:
                bounds.append(pos if given else None)
                pos += bool(given)
            slices[d] = tuple(bounds)
            parts.append(d)
            d += 1
        else:
            return None   # a boolean mask: data-dependent shape, stays on perform
    if d > x_ndim or pos != len(ndims):
        return None
    parts.extend(range(d, x_ndim))   # trailing full axes
    block_ndim = max((ndims[p] for p in index_pos if p not in basic_pos), default=0)
    block = [-1 - j for j in range(block_ndim)]
    if "ADV" not in parts:
        region = parts
    elif isinstance(op, IncSubtensor) or _adjacent(op.idx_list):
        k = parts.index("ADV")
        region = parts[:k] + block + [p for p in parts[k:] if p != "ADV"]
    else:
        region = block + [p for p in parts if p != "ADV"]
    return IndexSpec(_mode(op), tuple(slices), tuple(region), tuple(index_pos), tuple(index_axes), block_ndim,
                     tuple(basic_pos))


#: node -> its spec (the shape rule runs at every call: one dictionary lookup)
_NODE_SPECS: "weakref.WeakKeyDictionary[Apply, IndexSpec | None]" = weakref.WeakKeyDictionary()


def index_spec(node: Apply) -> IndexSpec | None:
    """The node's IndexSpec, or None when it has no C form (boolean masks).

    >>> import kiln.tensor as kt
    >>> x, i = kt.matrix("x"), kt.lvector("i")
    >>> s = index_spec(x[:, i].owner)
    >>> s.mode, s.region, s.index_pos, s.index_axes
    ('get', (0, -1), (1,), (1,))
    """
    try:
        return _NODE_SPECS[node]
    except KeyError:
        spec = _NODE_SPECS[node] = _spec_cached(node.op, tuple(v.type.ndim for v in node.inputs))
        return spec


def _shapes_index(node: Apply, shapes: list[tuple], args: list) -> tuple:
    """The region's shape (a gather's output) or x's (a scatter's), raising NumPy's errors
    for a zero slice step, an out-of-bounds basic index, index arrays that do not
    broadcast together and a y that does not broadcast to the region."""
    spec = index_spec(node)
    xs = shapes[0]
    lens = xs
    if spec.value_pos:   # slices and basic indices: their values decide the region
        lens = list(xs)
        for d, s in enumerate(spec.slices):
            if s is not None:
                b = [None if p is None else int(args[p]) for p in s]
                if b[2] == 0:
                    raise ValueError(f"{node.op}: slice step cannot be zero (in {describe_node(node)})")
                lens[d] = len(range(*slice(*b).indices(xs[d])))
        for p, d in zip(spec.index_pos, spec.index_axes):
            if p in spec.basic_pos and not -xs[d] <= int(args[p]) < xs[d]:
                raise IndexError(f"{node.op}: index {int(args[p])} is out of bounds for axis {d} with size "
                                 f"{xs[d]} (in {describe_node(node)})")
    block: tuple = ()
    if spec.block_ndim:
        adv = [shapes[p] for p in spec.index_pos if p not in spec.basic_pos]
        try:
            block = adv[0] if all(s == adv[0] for s in adv) else np.broadcast_shapes(*adv)
        except ValueError:
            raise IndexError(f"{node.op}: shape mismatch: indexing arrays could not be broadcast together with "
                             f"shapes {' '.join(str(tuple(s)) for s in adv)} (in {describe_node(node)})") from None
    region = tuple(lens[r] if r >= 0 else 1 if r == NEWAXIS_SRC else block[-1 - r] for r in spec.region)
    if spec.mode == "get":
        return region
    ys = shapes[1]
    if len(ys) > len(region) or any(a != 1 and a != b for a, b in zip(ys[::-1], region[::-1])):
        raise ValueError(f"{node.op}: shape mismatch: value array of shape {ys} could not be broadcast to "
                         f"indexing result of shape {region} (in {describe_node(node)})")
    return tuple(xs)


def _value_inputs(node: Apply) -> tuple[int, ...]:
    spec = index_spec(node)
    return () if spec is None else spec.value_pos


for _cls in (AdvancedSubtensor, AdvancedIncSubtensor, AdvancedIncSubtensorInplace, IncSubtensor, IncSubtensorInplace):
    SHAPE_RULES[_cls] = _shapes_index
    VALUE_INPUTS[_cls] = _value_inputs
