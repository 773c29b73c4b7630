"""Lower graph nodes to kernel IR: a table keyed by op class.

A lowering gets the node and `buf(variable) -> descriptor index` and returns a kernel,
or None when this node (op, dtypes, ndim) has no C form and must run through `perform`.
Users can add their own op classes to LOWERINGS.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.linkers.c.ir import JoinKernel, LoopKernel, MatMulKernel, MatVecPairKernel, Operand, ReduceKernel, SliceKernel
from kiln.linkers.c.scalar_c import c_literal, scalar_c_block
from kiln.linkers.c.types import CTYPE, supported
from kiln.tensor import reduction as red
from kiln.rewrites.blas_ops import Gemm, Gemv, MatVecPair
from kiln.tensor.blas import Dot, MatMul
from kiln.tensor.elemwise import DimShuffle, Elemwise
from kiln.tensor.extra_ops import CumOp
from kiln.tensor.join import Join
from kiln.tensor.special import LogSoftmax, Softmax
from kiln.tensor.type import TensorType

__all__ = ["LOWERINGS", "lower_node", "MAXDIM"]

MAXDIM = 16  # must match KILN_MAXDIM in kiln_prelude.h
Lowering = Callable[[Apply, Callable[[Variable], int]], "LoopKernel | ReduceKernel | None"]


def _tensor_ok(v: Variable) -> bool:
    return isinstance(v.type, TensorType) and supported(v.type.dtype) and v.type.ndim <= MAXDIM


def _one_value(v: Variable) -> np.ndarray | None:
    """The value of a one-element constant input (or of a DimShuffle of one: x + 1's 1), else None."""
    if v.owner is not None and isinstance(v.owner.op, DimShuffle):
        v = v.owner.inputs[0]
    if isinstance(v, Constant) and isinstance(v.data, np.ndarray) and v.data.size == 1:
        return v.data.reshape(())
    return None


def _lower_elemwise(node: Apply, buf: Callable[[Variable], int]) -> LoopKernel | None:
    if not all(_tensor_ok(v) for v in (*node.inputs, *node.outputs)):
        return None
    ins = [v.type.dtype for v in node.inputs]
    outs = [v.type.dtype for v in node.outputs]
    nd = node.outputs[0].type.ndim
    # a one-element constant (x + 1's 1) is a literal of the loop body, not an operand: the
    # loop then runs over contiguous operands instead of a broadcast one (1.5x faster)
    names, operands, literals = [], [], []
    for j, v in enumerate(node.inputs):
        value = _one_value(v) if v.type.ndim <= nd else None
        if value is not None and len(operands) + len(node.inputs) - j > 1:
            names.append(f"c{j}")
            literals.append(f"const {CTYPE[ins[j]]} c{j} = {c_literal(value, ins[j])};")
        else:
            names.append(f"x{len(operands)}")
            operands.append(v)
    counter = iter(range(1 << 30))
    block = scalar_c_block(node.op.scalar_op, names, ins, outs, lambda: f"t{next(counter)}")
    if block is None:
        return None
    stmts, exprs = block
    body = tuple(literals) + tuple(stmts) + tuple(
        f"const {CTYPE[o]} y{k} = {e};" for k, (o, e) in enumerate(zip(outs, exprs)))
    inner_bcast = tuple(nd > 0 and v.type.shape[-1] == 1 and node.outputs[0].type.shape[-1] != 1
                        for v in operands)
    return LoopKernel(str(node.op), tuple(Operand(buf(v), v.type.dtype) for v in node.outputs),
                      tuple(Operand(buf(v), v.type.dtype) for v in operands), nd, body, inner_bcast)


_REDUCE_KIND = {red.Sum: "sum", red.Prod: "prod", red.Max: "max", red.Min: "min", red.Any: "any",
                red.All: "all"}


def _lower_reduce(node: Apply, buf: Callable[[Variable], int]) -> ReduceKernel | None:
    (x,), (out,) = node.inputs, node.outputs
    if not (_tensor_ok(x) and _tensor_ok(out)):
        return None
    kind = _REDUCE_KIND[type(node.op)]
    if kind in ("sum", "prod") and out.type.dtype == "bool":
        return None
    return ReduceKernel(str(node.op), Operand(buf(x), x.type.dtype), Operand(buf(out), out.type.dtype),
                        x.type.ndim, tuple(node.op.axis), kind)


def _lower_product(node: Apply, buf: Callable[[Variable], int]) -> MatMulKernel | None:
    """Dot/MatMul (x, y) and Gemm/Gemv (c, alpha, x, y, beta) in one float dtype: BLAS."""
    out = node.outputs[0]
    dt = out.type.dtype
    if dt not in ("float32", "float64") or not all(
            _tensor_ok(v) and v.type.dtype == dt for v in (*node.inputs, out)):
        return None   # integer, mixed and other dtypes run through perform (NumPy)
    if len(node.inputs) == 2:
        x, y = node.inputs
        return MatMulKernel(str(node.op), Operand(buf(out), dt), Operand(buf(x), dt), Operand(buf(y), dt),
                            x.type.ndim, y.type.ndim, out.type.ndim)
    c, alpha, x, y, beta = node.inputs
    return MatMulKernel(str(node.op), Operand(buf(out), dt), Operand(buf(x), dt), Operand(buf(y), dt),
                        x.type.ndim, y.type.ndim, out.type.ndim, Operand(buf(c), dt), Operand(buf(alpha), dt),
                        Operand(buf(beta), dt))


def _lower_matvec_pair(node: Apply, buf: Callable[[Variable], int]) -> MatVecPairKernel | None:
    """MatVecPair(A, x1, x2): one pass over A (kiln's library), BLAS for other layouts."""
    if not all(_tensor_ok(v) for v in (*node.inputs, *node.outputs)):
        return None
    (a, x1, x2), (y1, y2) = node.inputs, node.outputs
    dt = a.type.dtype
    return MatVecPairKernel(str(node.op), Operand(buf(y1), dt), Operand(buf(y2), dt), Operand(buf(a), dt),
                            Operand(buf(x1), dt), Operand(buf(x2), dt))


def _lower_softmax(node: Apply, buf: Callable[[Variable], int]) -> SliceKernel | None:
    """Softmax/LogSoftmax over any axes, float32/float64 output (float16 stays on perform)."""
    (x,), (out,) = node.inputs, node.outputs
    if not (_tensor_ok(x) and _tensor_ok(out)) or out.type.dtype not in ("float32", "float64"):
        return None
    kind = "softmax" if isinstance(node.op, Softmax) else "log_softmax"
    return SliceKernel(str(node.op), kind, Operand(buf(x), x.type.dtype), Operand(buf(out), out.type.dtype),
                       x.type.ndim, tuple(node.op.axis) if x.type.ndim else ())


def _lower_argext(node: Apply, buf: Callable[[Variable], int]) -> SliceKernel | None:
    """Argmax/Argmin along one axis or over the flattened input (axis None)."""
    (x,), (out,) = node.inputs, node.outputs
    if not (_tensor_ok(x) and _tensor_ok(out)):
        return None
    axes = tuple(range(x.type.ndim)) if node.op.axis is None else (node.op.axis,)
    kind = "argmax" if isinstance(node.op, red.Argmax) else "argmin"
    return SliceKernel(str(node.op), kind, Operand(buf(x), x.type.dtype), Operand(buf(out), out.type.dtype),
                       x.type.ndim, axes)


def _lower_join(node: Apply, buf: Callable[[Variable], int]) -> JoinKernel | None:
    """Join(axis) of inputs already cast to the output dtype (make_node casts them)."""
    out = node.outputs[0]
    if not all(_tensor_ok(v) and v.type.dtype == out.type.dtype for v in (*node.inputs, out)):
        return None
    return JoinKernel(str(node.op), Operand(buf(out), out.type.dtype),
                      tuple(Operand(buf(v), v.type.dtype) for v in node.inputs), out.type.ndim, node.op.axis)


def _lower_cumop(node: Apply, buf: Callable[[Variable], int]) -> SliceKernel | None:
    """CumOp (cumsum/cumprod) along its axis, accumulating in the output dtype."""
    (x,), (out,) = node.inputs, node.outputs
    if not (_tensor_ok(x) and _tensor_ok(out)) or out.type.dtype == "bool":
        return None
    kind = "cumsum" if node.op.mode == "add" else "cumprod"
    return SliceKernel(str(node.op), kind, Operand(buf(x), x.type.dtype), Operand(buf(out), out.type.dtype),
                       x.type.ndim, (node.op.axis,))


LOWERINGS: dict[type, Lowering] = {Elemwise: _lower_elemwise, Dot: _lower_product, MatMul: _lower_product,
                                   Gemm: _lower_product, Gemv: _lower_product, MatVecPair: _lower_matvec_pair,
                                   Softmax: _lower_softmax, LogSoftmax: _lower_softmax,
                                   red.Argmax: _lower_argext, red.Argmin: _lower_argext, Join: _lower_join,
                                   CumOp: _lower_cumop}
LOWERINGS.update({cls: _lower_reduce for cls in _REDUCE_KIND})


def lower_node(node: Apply, buf: Callable[[Variable], int] = lambda v: 0):
    """The node's kernel, or None when it has no C lowering (it then runs via perform)."""
    rule = LOWERINGS.get(type(node.op))
    return None if rule is None else rule(node, buf)


# the shape-valued ops (SumToShape, Alloc, LinearRecurrence) register themselves here
import kiln.linkers.c.lower_shape_ops  # noqa: E402,F401
# integer-array and slice indexing (AdvancedSubtensor, (Advanced)IncSubtensor) register themselves here
import kiln.linkers.c.lower_index  # noqa: E402,F401

# the fused-reduction lowering registers itself (and its shape rule) in the tables above
import kiln.linkers.c.lower_fused  # noqa: E402,F401
