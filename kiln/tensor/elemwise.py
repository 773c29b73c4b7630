"""Elemwise (a scalar op lifted to arrays with broadcasting) and DimShuffle (axis views)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply, Variable
from kiln.graph.op import Op
from kiln.scalar import dtypes
from kiln.scalar.basic import ScalarOp, ScalarType, scalar_type
from kiln.tensor.basic import as_tensor_variable, constant, describe
from kiln.tensor.type import TensorType

__all__ = ["Elemwise", "DimShuffle", "broadcast_static_shapes", "tensor_from_scalar",
           "scalar_from_tensor"]


def broadcast_static_shapes(shapes: Sequence[tuple], who: str = "broadcast") -> tuple:
    """The static output shape of broadcasting equal-ndim static shapes (None = unknown).

    A known length other than 1 wins; two different known lengths (neither 1) are an error.
    """
    out = []
    for dim, lens in enumerate(zip(*shapes)):
        known = {n for n in lens if n is not None and n != 1}
        if len(known) > 1:
            raise ValueError(f"{who}: shapes {', '.join(map(str, shapes))} cannot broadcast "
                             f"(dimension {dim} has lengths {sorted(known)})")
        if known:
            out.append(known.pop())
        elif all(n == 1 for n in lens):
            out.append(1)
        else:
            out.append(None)
    return tuple(out)


def _weak_inputs(inputs: Sequence[Any], by_value: bool = False) -> list[Variable]:
    """Turn Python numbers into constants of the dtype NumPy 2 would give them (NEP 50).

    by_value: a Python int out of range for the common dtype is kept at a dtype that holds
    it instead of raising (NumPy 2 does this for comparisons: uint8_array < -1 is all False).
    """
    strong = [as_tensor_variable(x) for x in inputs if not dtypes.is_python_scalar(x)]
    if len(strong) == len(inputs):
        return strong
    weak = [x for x in inputs if dtypes.is_python_scalar(x)]
    if strong:
        common = dtypes.upcast(*[s.dtype for s in strong], *weak)
    else:
        common = dtypes.upcast(*[dtypes.default_dtype_of(w) for w in weak])
    out = []
    for x in inputs:
        if dtypes.is_python_scalar(x):
            try:
                out.append(constant(x, dtype=common))
            except OverflowError as e:
                if by_value and isinstance(x, int) and -2**63 <= x < 2**64:
                    out.append(constant(x, dtype=np.min_scalar_type(x)))
                    continue
                raise OverflowError(f"Python integer {x} is out of bounds for {common}") from e
        else:
            out.append(as_tensor_variable(x))
    return out


class Elemwise(Op):
    """Apply `scalar_op` elementwise with NumPy broadcasting.

    Inputs of lower ndim are padded on the left with broadcastable axes (a DimShuffle),
    so every input of an Elemwise node has the output's ndim.
    """

    __props__ = ("scalar_op", "inplace_pattern")

    def __init__(self, scalar_op: ScalarOp, inplace_pattern: tuple = (), name: str | None = None):
        self.scalar_op = scalar_op
        self.inplace_pattern = tuple(inplace_pattern)  # ((out index, in index), ...)
        self.name = name
        self.destroy_map = {o: [i] for o, i in self.inplace_pattern}

    def __str__(self) -> str:
        base = self.name or str(self.scalar_op)
        if self.inplace_pattern:
            return f"{base}{{inplace}}"
        return base

    @property
    def nout(self) -> int:
        return self.scalar_op.nout

    def make_node(self, *inputs: Any) -> Apply:
        if self.scalar_op.nin >= 0 and len(inputs) != self.scalar_op.nin:
            raise TypeError(f"{self}: expected {self.scalar_op.nin} inputs, got {len(inputs)}")
        try:
            ins = _weak_inputs(inputs, by_value=getattr(self.scalar_op, "compares_by_value", False))
        except TypeError as e:
            raise TypeError(f"{self}: {e}") from None
        ndim = max(i.ndim for i in ins) if ins else 0
        ins = [i if i.ndim == ndim else DimShuffle(i.ndim, ("x",) * (ndim - i.ndim) + tuple(range(i.ndim)))(i)
               for i in ins]
        try:
            out_dtypes = self.scalar_op.output_dtypes([i.dtype for i in ins])
        except TypeError as e:
            # name the offending inputs (PyTensor users see variable names, not dtypes)
            described = ", ".join(describe(i) for i in inputs)
            raise TypeError(f"{self}: unsupported input types ({described}): {e}") from None
        try:
            shape = broadcast_static_shapes([i.type.shape for i in ins], who=str(self))
        except ValueError as e:
            described = ", ".join(describe(i) for i in inputs)
            raise ValueError(f"{e}; inputs: {described}") from None
        return Apply(self, ins, [TensorType(d, shape)() for d in out_dtypes])

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list[list]) -> None:
        if self.inplace_pattern and self._perform_inplace(node, inputs, output_storage):
            return
        with np.errstate(all="ignore"):
            res = self.scalar_op.impl(*inputs)
        res = res if isinstance(res, tuple) else (res,)
        for store, val, out in zip(output_storage, res, node.outputs):
            arr = np.asarray(val, dtype=out.type.dtype)
            if any(arr is i for i in inputs) or (arr.base is not None and any(arr.base is i for i in inputs)):
                arr = arr.copy()
            store[0] = arr

    def _perform_inplace(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list[list]) -> bool:
        """Write output o into input i's buffer (the inplace phase's choice); False = not possible
        at run time (a broadcast input, read-only memory), so compute into new memory."""
        (o, i), = self.inplace_pattern[:1]
        target, out_t = inputs[i], node.outputs[o].type
        shape = np.broadcast_shapes(*[np.shape(x) for x in inputs])
        if (len(node.outputs) != 1 or not isinstance(target, np.ndarray) or not target.flags.writeable
                or target.shape != shape or target.dtype != out_t.dtype):
            return False
        fn, sop = self.scalar_op.nfunc, self.scalar_op
        with np.errstate(all="ignore"):
            if isinstance(fn, np.ufunc) and fn.nin == len(inputs) and type(sop).impl is ScalarOp.impl:
                fn(*inputs, out=target, casting="unsafe")
            else:
                np.copyto(target, sop.impl(*inputs), casting="unsafe")
        output_storage[o][0] = target
        return True

    def infer_shape(self, fgraph, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        from kiln.tensor.shape import broadcast_shape_symbolic

        out = broadcast_shape_symbolic(input_shapes, [i.type.shape for i in node.inputs])
        return [out] * len(node.outputs)


class DimShuffle(Op):
    """Reorder axes, insert broadcastable axes ('x'), drop length-1 axes; a view.

    `new_order` lists input axes (or 'x') in output order; input axes not listed are
    dropped and must have length 1 (checked statically where known, else at run time).
    """

    __props__ = ("input_ndim", "new_order")
    view_map = {0: [0]}

    def __init__(self, input_ndim: int, new_order: Sequence[int | str]):
        new_order = tuple(o if o == "x" else int(o) for o in new_order)
        seen = [o for o in new_order if o != "x"]
        if len(set(seen)) != len(seen):
            raise ValueError(f"DimShuffle: repeated axis in {new_order}")
        for o in seen:
            if not 0 <= o < input_ndim:
                raise ValueError(f"DimShuffle: axis {o} out of range for {input_ndim}-d input")
        self.input_ndim = int(input_ndim)
        self.new_order = new_order
        self.drop = tuple(i for i in range(input_ndim) if i not in seen)
        self.shuffle = tuple(seen)
        self.augment = tuple(i for i, o in enumerate(new_order) if o == "x")

    def __str__(self) -> str:
        return "DimShuffle{" + ",".join(map(str, self.new_order)) + "}"

    @property
    def is_transpose(self) -> bool:
        return not self.drop and not self.augment and self.shuffle != tuple(range(self.input_ndim))

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != self.input_ndim:
            raise TypeError(f"{self}: input {describe(x)} has {x.ndim} dimensions, expected {self.input_ndim}")
        for d in self.drop:
            if x.type.shape[d] is not None and x.type.shape[d] != 1:
                raise ValueError(f"{self}: cannot drop axis {d} of {describe(x)}: its length is "
                                 f"{x.type.shape[d]}, only length-1 axes can be dropped")
        shape = tuple(1 if o == "x" else x.type.shape[o] for o in self.new_order)
        return Apply(self, [x], [TensorType(x.dtype, shape)()])

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list[list]) -> None:
        (x,) = inputs
        for d in self.drop:
            if x.shape[d] != 1:
                raise ValueError(f"{self}: axis {d} has length {x.shape[d]}, expected 1 to drop it")
        res = np.transpose(x, self.shuffle + self.drop)
        res = res.reshape(res.shape[:len(self.shuffle)]) if self.drop else res
        for pos in self.augment:
            res = np.expand_dims(res, pos)
        output_storage[0][0] = res

    def infer_shape(self, fgraph, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        (shp,) = input_shapes
        return [tuple(1 if o == "x" else shp[o] for o in self.new_order)]


class TensorFromScalar(Op):
    """A 0-d tensor holding a scalar-typed variable's value."""

    def make_node(self, s: Variable) -> Apply:
        if not isinstance(s.type, ScalarType):
            raise TypeError(f"TensorFromScalar: {s} is not a scalar variable")
        return Apply(self, [s], [TensorType(s.type.dtype, ())()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.array(inputs[0], dtype=node.outputs[0].type.dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [()]


class ScalarFromTensor(Op):
    """The scalar value of a 0-d tensor."""

    def make_node(self, t: Any) -> Apply:
        t = as_tensor_variable(t)
        if t.ndim != 0:
            raise TypeError(f"ScalarFromTensor: {t} has {t.ndim} dimensions, expected 0")
        return Apply(self, [t], [scalar_type(t.dtype)()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(inputs[0])[()]

    def infer_shape(self, fgraph, node, input_shapes):
        return [()]


tensor_from_scalar = TensorFromScalar()
scalar_from_tensor = ScalarFromTensor()
