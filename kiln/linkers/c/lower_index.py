"""Lower indexing ops to `IndexKernel` (gather/scatter with integer arrays and slices); their
structure (`index_spec`) and run-time shape rules are in kiln.linkers.c.shapes_index (a warm
start needs those without the lowerings and the kernel IR).

Covered: `AdvancedSubtensor` and `AdvancedIncSubtensor`/`AdvancedIncSubtensorInplace`
(set and inc) whose index entries are integer arrays of any integer dtype and ndim
(broadcasting together), slices with any bounds, new axes and zero-width Ellipses, the
block of advanced axes placed as NumPy places it; and `IncSubtensor`/`IncSubtensorInplace`
(basic integer and slice indices).  Boolean masks stay on `perform`: their output length
depends on the mask's values, which the segment cannot know when it allocates outputs.

Slice bounds and basic integer indices are scalars the shape rule reads (`VALUE_INPUTS`,
so the linker computes them before the segment that uses them): it raises NumPy's errors
(step 0, an out-of-bounds basic index, y not broadcasting to the region, index arrays not
broadcasting together) before the native call.  Index *arrays* are read by the kernel only:
it checks every index before reading or writing anything (KILN_EINDEX: an IndexError
naming the op and the input shapes), so an in-place update that fails leaves its input
intact.  (Checking them in the shape rule too would cost a min/max pass per call, ~20 us
for the embedding bench's 8192 ids, and split segments where an index is computed.)
"""
from __future__ import annotations

from typing import Callable

from kiln.graph.basic import Apply, Variable
from kiln.linkers.c.ir import Operand
from kiln.linkers.c.ir_index import IndexKernel
from kiln.linkers.c.lower import LOWERINGS, MAXDIM
from kiln.linkers.c.shapes_index import IndexSpec, index_spec
from kiln.linkers.c.types import supported
from kiln.rewrites.inplace import IncSubtensorInplace
from kiln.scalar import dtypes
from kiln.tensor.advanced import AdvancedIncSubtensor, AdvancedIncSubtensorInplace, AdvancedSubtensor
from kiln.tensor.inc_subtensor import IncSubtensor
from kiln.tensor.type import TensorType

__all__ = ["IndexSpec", "index_spec"]


def _tensor_ok(v: Variable) -> bool:
    return isinstance(v.type, TensorType) and supported(v.type.dtype) and v.type.ndim <= MAXDIM


def _lower_index(node: Apply, buf: Callable[[Variable], int]) -> IndexKernel | None:
    spec = index_spec(node)
    x, out = node.inputs[0], node.outputs[0]
    if spec is None or not all(_tensor_ok(v) for v in (*node.inputs, out)) or out.type.dtype != x.type.dtype:
        return None
    if any(not dtypes.is_integer(node.inputs[p].type.dtype) for p in spec.index_pos):
        return None
    if len(spec.region) > MAXDIM or (spec.mode == "get" and len(spec.region) != out.type.ndim):
        return None
    y = None
    if spec.mode != "get":
        y = node.inputs[1]
        if y.type.dtype != x.type.dtype or y.type.ndim > len(spec.region):
            return None

    def op(p):
        return None if p is None else Operand(buf(node.inputs[p]), node.inputs[p].type.dtype)

    return IndexKernel(
        str(node.op), spec.mode, op(0), Operand(buf(out), out.type.dtype), None if y is None else op(1),
        x.type.ndim, tuple(None if s is None else tuple(op(p) for p in s) for s in spec.slices), spec.region,
        tuple(op(p) for p in spec.index_pos), spec.index_axes, spec.block_ndim)


_OPS = (AdvancedSubtensor, AdvancedIncSubtensor, AdvancedIncSubtensorInplace, IncSubtensor, IncSubtensorInplace)
for _cls in _OPS:
    LOWERINGS[_cls] = _lower_index   # (their shape rules: kiln.linkers.c.shapes_index)
