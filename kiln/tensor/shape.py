"""Shape ops: shape, reshape, specify_shape, broadcast_to, and axis helpers over DimShuffle."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.op import Op
from kiln.tensor.basic import as_tensor_variable, constant, describe
from kiln.tensor.elemwise import DimShuffle
from kiln.tensor.type import TensorType

__all__ = ["Shape", "Shape_i", "Reshape", "SpecifyShape", "BroadcastTo", "MakeVector", "shape",
           "shape_i", "reshape", "flatten", "specify_shape", "broadcast_to", "dimshuffle",
           "transpose", "swapaxes", "squeeze", "expand_dims", "make_vector", "stack",
           "broadcast_shape_symbolic", "infer_graph_shapes", "as_shape_vector", "broadcast_arrays"]


def _shaped(x: Any) -> Variable:
    """x as a tensor, except a variable of another type that has a shape (kiln.sparse's
    SparseTensorType: its values have `.shape` too), which Shape/Shape_i take as it is."""
    ndim = getattr(getattr(x, "type", None), "ndim", 0)
    if isinstance(x, Variable) and not isinstance(x.type, TensorType) and isinstance(ndim, int) and ndim > 0:
        return x
    return as_tensor_variable(x)


class Shape(Op):
    """The run-time shape of a tensor, as an int64 vector."""

    def make_node(self, x: Any) -> Apply:
        x = _shaped(x)
        return Apply(self, [x], [TensorType("int64", (x.ndim,))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(inputs[0].shape, dtype="int64")

    def infer_shape(self, fgraph, node, input_shapes):
        return [(len(input_shapes[0]),)]


class Shape_i(Op):
    """The run-time length of one dimension, as a 0-d int64."""

    __props__ = ("i",)

    def __init__(self, i: int):
        self.i = int(i)

    def make_node(self, x: Any) -> Apply:
        x = _shaped(x)
        if not 0 <= self.i < x.ndim:
            raise ValueError(f"Shape_i: dimension {self.i} out of range for a {x.ndim}-d tensor")
        return Apply(self, [x], [TensorType("int64", ())()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.asarray(inputs[0].shape[self.i], dtype="int64")

    def infer_shape(self, fgraph, node, input_shapes):
        return [()]


_shape = Shape()


def shape(x: Any):
    """Symbolic shape of x (an int64 vector)."""
    return _shape(_shaped(x))


def shape_i(x: Any, i: int):
    """Length of dimension i: a constant when statically known, else a Shape_i node."""
    x = _shaped(x)
    n = x.type.shape[i] if -x.ndim <= i < x.ndim else None
    if n is not None:
        return constant(n, dtype="int64")
    if not -x.ndim <= i < x.ndim:
        raise ValueError(f"shape_i: dimension {i} is out of range for the {x.ndim}-d tensor {x}")
    return Shape_i(i % x.ndim)(x)


class MakeVector(Op):
    """A 1-d vector from 0-d tensors of one dtype."""

    __props__ = ("dtype",)

    def __init__(self, dtype: str = "int64"):
        from kiln.scalar.dtypes import normalize

        self.dtype = normalize(dtype)

    def make_node(self, *items: Any) -> Apply:
        from kiln.tensor.math import cast

        vs = []
        for k, item in enumerate(items):
            v = as_tensor_variable(item)
            if v.ndim != 0:
                raise TypeError(f"MakeVector: item {k} ({v}) must be 0-d, got a {v.ndim}-d {v.type}")
            # casting is implicit only within a kind or upwards (int8 -> int64, int -> float);
            # a float into an int64 shape vector would silently truncate
            if v.dtype != self.dtype and not np.can_cast(v.dtype, self.dtype, "same_kind"):
                if not (isinstance(v, Constant) and np.array_equal(v.data.astype(self.dtype), v.data)):
                    raise TypeError(f"MakeVector: item {k} ({v}) of dtype {v.dtype} cannot be cast "
                                    f"to {self.dtype} without loss")
            if isinstance(v, Constant) and v.dtype != self.dtype:
                # a constant stays a constant, so static shape inference can read it
                vs.append(constant(np.asarray(v.data).astype(self.dtype)))
            else:
                vs.append(cast(v, self.dtype))
        return Apply(self, vs, [TensorType(self.dtype, (len(vs),))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.array([np.asarray(i)[()] for i in inputs], dtype=self.dtype).reshape(len(inputs))

    def infer_shape(self, fgraph, node, input_shapes):
        return [(len(node.inputs),)]


def make_vector(items: Sequence[Any], dtype: str = "int64"):
    """A 1-d vector of `dtype` from 0-d items (numbers or 0-d variables); lossy casts raise."""
    return MakeVector(dtype)(*items)


def as_shape_vector(shp: Any) -> Variable:
    """A shape given as ints, scalars or an int vector, as an int64 vector variable."""
    if isinstance(shp, Variable):
        if shp.ndim == 0:
            return make_vector([shp])
        if shp.ndim != 1 or shp.dtype not in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"):
            raise TypeError(f"a shape must be an integer vector, got {shp.type}")
        from kiln.tensor.math import cast

        return cast(shp, "int64")
    if isinstance(shp, (int, np.integer)):
        shp = [shp]
    items = list(shp)
    if all(isinstance(i, (int, np.integer)) for i in items):
        return constant(np.array(items, dtype="int64").reshape(len(items)))
    for i in items:
        if isinstance(i, Variable) and i.dtype not in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"):
            raise TypeError(f"shape entries must be integers, got {i} of dtype {i.dtype}")
    return make_vector(items)


def _static_entries(vec: Variable) -> list[int | None]:
    """Known entries of a shape vector (constants or MakeVector of constants), None elsewhere."""
    n = vec.type.shape[0]
    if isinstance(vec, Constant):
        return [int(v) for v in vec.data]
    if vec.owner is not None and isinstance(vec.owner.op, MakeVector):
        out = []
        for i in vec.owner.inputs:
            out.append(int(i.data) if isinstance(i, Constant) else None)
        return out
    return [None] * (n or 0)


class Reshape(Op):
    """NumPy's reshape to an int64 shape vector (one entry may be -1); a view when possible."""

    __props__ = ("ndim",)
    view_map = {0: [0]}

    def __init__(self, ndim: int):
        self.ndim = int(ndim)

    def make_node(self, x: Any, shp: Any) -> Apply:
        x = as_tensor_variable(x)
        shp = as_shape_vector(shp)
        if shp.type.shape[0] is not None and shp.type.shape[0] != self.ndim:
            raise ValueError(f"Reshape: shape has {shp.type.shape[0]} entries, expected {self.ndim}")
        static = _static_entries(shp) if shp.type.shape[0] is not None else [None] * self.ndim
        if static.count(-1) > 1:
            raise ValueError("reshape: can only specify one unknown dimension (-1)")
        if any(s is not None and s < -1 for s in static):
            raise ValueError(f"reshape: invalid shape entries {static}")
        if -1 in static and None not in x.type.shape and None not in static:
            known = int(np.prod([s for s in static if s != -1]))
            total = int(np.prod(x.type.shape))
            if known == 0 or total % known:
                raise ValueError(f"reshape: cannot reshape {describe(x)} into {tuple(static)}")
            static[static.index(-1)] = total // known
        out_shape = tuple(None if s is None or s == -1 else s for s in static)
        if None not in x.type.shape and None not in out_shape and int(np.prod(x.type.shape)) != int(np.prod(out_shape)):
            raise ValueError(f"reshape: cannot reshape {describe(x)} into {out_shape}")
        return Apply(self, [x, shp], [TensorType(x.dtype, out_shape)()])

    def perform(self, node, inputs, output_storage):
        x, shp = inputs
        output_storage[0][0] = np.reshape(x, tuple(int(s) for s in shp))

    def infer_shape(self, fgraph, node, input_shapes):
        x, shp = node.inputs
        static = node.outputs[0].type.shape
        out = []
        for i in range(self.ndim):
            out.append(static[i] if static[i] is not None else _reshape_dim(node, input_shapes[0], i))
        return [tuple(out)]


def _reshape_dim(node: Apply, xshape: tuple, i: int):
    from kiln.tensor.math import eq, int_div, mul, switch
    from kiln.tensor.subtensor import subtensor

    shp = node.inputs[1]
    entry = subtensor(shp, i)
    # -1 means "whatever is left": total size / product of the other entries
    total = constant(1, dtype="int64")
    for s in xshape:
        total = mul(total, s)
    others = constant(1, dtype="int64")
    for j in range(node.op.ndim):
        if j != i:
            others = mul(others, subtensor(shp, j))
    # the -1 entry itself is not among `others`, so the quotient is already positive
    return switch(eq(entry, -1), int_div(total, others), entry)


def reshape(x: Any, newshape: Any, ndim: int | None = None):
    """Reshape x (NumPy semantics; one entry may be -1)."""
    x = as_tensor_variable(x)
    vec = as_shape_vector(newshape)
    n = vec.type.shape[0] if ndim is None else ndim
    if n is None:
        raise ValueError("reshape: the new shape's length is unknown; pass ndim=")
    return Reshape(n)(x, vec)


def flatten(x: Any, ndim: int = 1):
    """Keep the first ndim-1 axes and flatten the rest into one."""
    x = as_tensor_variable(x)
    if not 1 <= ndim <= max(x.ndim, 1):
        raise ValueError(f"flatten: ndim={ndim} is invalid for a {x.ndim}-d tensor")
    if ndim == 1:
        return reshape(x, [-1], ndim=1)
    from kiln.tensor.math import mul

    rest = constant(1, dtype="int64")
    for d in range(ndim - 1, x.ndim):
        rest = mul(rest, shape_i(x, d))
    return reshape(x, [shape_i(x, d) for d in range(ndim - 1)] + [rest], ndim=ndim)


class SpecifyShape(Op):
    """Assert static dimension lengths (None = unchecked); the output is the input."""

    __props__ = ("shape",)
    view_map = {0: [0]}

    def __init__(self, shape: Sequence[int | None]):
        self.shape = tuple(None if s is None else int(s) for s in shape)

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if x.ndim != len(self.shape):
            raise ValueError(f"specify_shape: {x} has {x.ndim} dimensions, "
                             f"the shape {self.shape} has {len(self.shape)}")
        out = []
        for i, (a, b) in enumerate(zip(x.type.shape, self.shape)):
            if a is not None and b is not None and a != b:
                raise ValueError(f"specify_shape: dimension {i} of {x} is {a}, not {b}")
            out.append(a if b is None else b)
        return Apply(self, [x], [TensorType(x.dtype, tuple(out))()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        for i, (a, b) in enumerate(zip(x.shape, self.shape)):
            if b is not None and a != b:
                raise ValueError(f"specify_shape: expected shape {self.shape}, got {x.shape} (dimension {i})")
        output_storage[0][0] = x

    def infer_shape(self, fgraph, node, input_shapes):
        return [tuple(s if s is not None else d for s, d in zip(self.shape, input_shapes[0]))]


def specify_shape(x: Any, shape: Sequence[int | None]):
    """x, with the given dimension lengths asserted (None = unchecked): static shape knowledge
    for the graph, checked at run time.  Returns x itself when nothing new is asserted."""
    x = as_tensor_variable(x)
    if isinstance(shape, (int, np.integer)):
        shape = (shape,)
    shape = tuple(shape)
    if all(s is None or s == d for s, d in zip(shape, x.type.shape)) and len(shape) == x.ndim and all(
            s is None or d is not None for s, d in zip(shape, x.type.shape)):
        return x
    return SpecifyShape(shape)(x)


class BroadcastTo(Op):
    """NumPy's broadcast_to: a read-only view with new leading axes and stretched length-1 axes."""

    __props__ = ("ndim",)
    view_map = {0: [0]}

    def __init__(self, ndim: int):
        self.ndim = int(ndim)

    def make_node(self, x: Any, shp: Any) -> Apply:
        x = as_tensor_variable(x)
        shp = as_shape_vector(shp)
        if x.ndim > self.ndim:
            raise ValueError(f"broadcast_to: cannot broadcast {describe(x)} to {self.ndim} dimensions")
        static = _static_entries(shp)
        xs = (1,) * (self.ndim - x.ndim) + x.type.shape
        out = []
        for i, (a, b) in enumerate(zip(xs, static)):
            if a is not None and b is not None and a != 1 and a != b:
                raise ValueError(f"broadcast_to: dimension {i} of {describe(x)} has length {a} and "
                                 f"cannot become {b}")
            out.append(b)
        return Apply(self, [x, shp], [TensorType(x.dtype, tuple(out))()])

    def perform(self, node, inputs, output_storage):
        x, shp = inputs
        output_storage[0][0] = np.broadcast_to(x, tuple(int(s) for s in shp))

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.subtensor import subtensor

        static = node.outputs[0].type.shape
        return [tuple(s if s is not None else subtensor(node.inputs[1], i) for i, s in enumerate(static))]


def broadcast_to(x: Any, shape: Any):
    """NumPy's broadcast_to (a read-only view); `shape` may hold symbolic lengths.

    >>> import numpy as np, kiln.tensor as kt
    >>> kt.broadcast_to(kt.constant(np.arange(2.0)), (2, 2)).eval()
    array([[0., 1.],
           [0., 1.]])
    """
    vec = as_shape_vector(shape)
    return BroadcastTo(vec.type.shape[0])(x, vec)


def dimshuffle(x: Any, pattern: Sequence[int | str]):
    """PyTensor's dimshuffle: reorder axes, 'x' inserts a length-1 axis, unlisted axes
    (of length 1) are dropped.  The identity pattern returns x itself."""
    x = as_tensor_variable(x)
    pattern = tuple(pattern)
    if pattern == tuple(range(x.ndim)):
        return x
    return DimShuffle(x.ndim, pattern)(x)


def transpose(x: Any, axes: Sequence[int] | None = None):
    """Permute axes (reverse them by default), as a view."""
    x = as_tensor_variable(x)
    if axes is None:
        axes = tuple(range(x.ndim))[::-1]
    from kiln.tensor.reduction import normalize_one_axis

    axes = tuple(normalize_one_axis(a, x.ndim, "transpose") for a in axes)
    if sorted(axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of {x.ndim} axes")
    return dimshuffle(x, axes)


def swapaxes(x: Any, a: int, b: int):
    """NumPy's swapaxes (a view)."""
    x = as_tensor_variable(x)
    order = list(range(x.ndim))
    from kiln.tensor.reduction import normalize_one_axis

    a, b = normalize_one_axis(a, x.ndim, "swapaxes"), normalize_one_axis(b, x.ndim, "swapaxes")
    order[a], order[b] = order[b], order[a]
    return dimshuffle(x, order)


def squeeze(x: Any, axis: int | Sequence[int] | None = None):
    """Drop length-1 axes.  Without `axis`, drops the axes statically known to be 1
    (as PyTensor does); with `axis`, drops those (checked at run time when unknown)."""
    from kiln.tensor.reduction import normalize_axis

    x = as_tensor_variable(x)
    if axis is None:
        drop = [d for d, s in enumerate(x.type.shape) if s == 1]
    else:
        drop = list(normalize_axis(axis, x.ndim, "squeeze"))
        for d in drop:
            if x.type.shape[d] not in (None, 1):
                raise ValueError(f"squeeze: cannot select axis {d} of {x} (length {x.type.shape[d]}, "
                                 f"not 1) to squeeze")
    return dimshuffle(x, [d for d in range(x.ndim) if d not in drop])


def expand_dims(x: Any, axis: int | Sequence[int]):
    """Insert length-1 axes at the given positions of the result (NumPy semantics)."""
    x = as_tensor_variable(x)
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    out_ndim = x.ndim + len(axes)
    norm = []
    for a in axes:
        if not -out_ndim <= a < out_ndim:
            raise ValueError(f"expand_dims: axis {a} out of bounds for a {out_ndim}-d result")
        norm.append(a % out_ndim)
    if len(set(norm)) != len(norm):
        raise ValueError(f"expand_dims: repeated axis in {axes}")
    it = iter(range(x.ndim))
    return dimshuffle(x, ["x" if d in norm else next(it) for d in range(out_ndim)])


def stack(tensors: Sequence[Any], axis: int = 0):
    """Join tensors of equal shape along a new axis."""
    from kiln.tensor.join import join

    ts = [as_tensor_variable(t) for t in tensors]
    if not ts:
        raise ValueError("stack: need at least one tensor")
    if not -(ts[0].ndim + 1) <= axis <= ts[0].ndim:
        raise ValueError(f"stack: axis {axis} is out of bounds for stacking {ts[0].ndim}-d tensors")
    if all(t.ndim == 0 for t in ts) and axis in (0, -1):
        from kiln.scalar.dtypes import upcast

        return make_vector(ts, dtype=upcast(*[t.dtype for t in ts]))
    return join(axis, *[expand_dims(t, axis) for t in ts])


def broadcast_arrays(*tensors: Any) -> list:
    """NumPy's broadcast_arrays: every input broadcast to the common shape (read-only views).

    >>> import numpy as np, kiln.tensor as kt
    >>> a, b = kt.broadcast_arrays(kt.constant(np.ones((2, 1))), kt.constant(np.arange(3)))
    >>> b.eval()
    array([[0, 1, 2],
           [0, 1, 2]])
    """
    from kiln.tensor.elemwise import broadcast_static_shapes

    ts = [as_tensor_variable(t) for t in tensors]
    if not ts:
        return []
    ndim = max(t.ndim for t in ts)
    static = [(1,) * (ndim - t.ndim) + t.type.shape for t in ts]
    broadcast_static_shapes(static, who="broadcast_arrays")  # static mismatch: build-time error
    sym = [(1,) * (ndim - t.ndim) + tuple(shape_i(t, d) for d in range(t.ndim)) for t in ts]
    target = broadcast_shape_symbolic(sym, static)
    return [broadcast_to(t, list(target)) for t in ts]


# -- symbolic shape helpers ----------------------------------------------------------
def broadcast_shape_symbolic(shapes: Sequence[tuple], static: Sequence[tuple]) -> tuple:
    """The broadcast of symbolic shapes (entries: ints or 0-d int variables)."""
    from kiln.tensor.math import eq, switch

    out = []
    for d in range(len(shapes[0])):
        known = [s[d] for s, st in zip(shapes, static) if st[d] is not None and st[d] != 1]
        if known:
            out.append(known[0])
            continue
        unknown = [s[d] for s, st in zip(shapes, static) if st[d] is None]
        if not unknown:
            out.append(1)
            continue
        acc = unknown[0]
        for u in unknown[1:]:
            acc = switch(eq(acc, 1), u, acc)
        out.append(acc)
    return tuple(out)


def infer_graph_shapes(inputs: Sequence[Variable], outputs: Sequence[Variable],
                       input_shapes: Sequence[tuple], inner: bool = False) -> list[tuple]:
    """Symbolic output shapes of a graph, from symbolic input shapes, via each op's infer_shape.

    A node whose op has no `infer_shape` gets `shape_i` of its own outputs, which is right
    for an outer graph.  With `inner=True` (an inner-graph op asking about its inner graph)
    that would leak inner variables into the outer graph, so such a node's outputs use
    their static shape when fully known and otherwise NotImplementedError is raised: the
    caller then falls back to the shape of the op's outer output.

    >>> import kiln.tensor as kt
    >>> x = kt.matrix("x")
    >>> (shp,) = infer_graph_shapes([x], [x.T], [(2, 3)])
    >>> tuple(int(d) for d in shp)
    (3, 2)
    """
    from kiln.graph.traversal import io_toposort

    shapes: dict[Variable, tuple] = dict(zip(inputs, input_shapes))

    def own_shape(v: Variable, why: str) -> tuple:
        if not inner:
            return tuple(shape_i(v, d) for d in range(v.type.ndim))
        static = tuple(v.type.shape)
        if all(d is not None for d in static):
            return static
        raise NotImplementedError(f"infer_graph_shapes: the shape of inner variable {v} ({why}) cannot be "
                                  f"expressed in terms of the outer inputs")

    def shape_of(v: Variable) -> tuple:
        if v in shapes:
            return shapes[v]
        if isinstance(v, Constant):
            return tuple(np.shape(v.data))
        return own_shape(v, "a root that is not an input")

    for node in io_toposort(inputs, outputs):
        in_shapes = [shape_of(i) for i in node.inputs]
        try:
            outs = node.op.infer_shape(None, node, in_shapes)
        except NotImplementedError:
            outs = [own_shape(o, f"{node.op} has no infer_shape") for o in node.outputs]
        for o, s in zip(node.outputs, outs):
            shapes[o] = tuple(s)
    return [shape_of(o) for o in outputs]


# -- PyTensor module path: names pytensor.tensor.shape has that kiln defines elsewhere (see
# kiln/tensor/_reexport.py; resolved from kiln.tensor on first use) --
from kiln.tensor._reexport import lazy_reexport as _lazy_reexport  # noqa: E402

__getattr__, __dir__ = _lazy_reexport(__name__, (
    "shape_padaxis", "shape_padleft", "shape_padright", "specify_broadcastable"))
