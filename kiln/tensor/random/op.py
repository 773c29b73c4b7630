"""RandomVariable: the op behind every draw.

Inputs are ``(rng, size, *params)``: a generator state (RandomGeneratorType), an int64
shape vector, and the distribution's parameters.  Outputs are ``(next_rng, draw)``;
calling the op returns the draw (``default_output = 1``), and ``draw.owner.outputs[0]``
is the state to write back.  `perform` copies the generator before drawing, so the input
state is never mutated: the same state always gives the same draw, and only the update
mechanism (a shared variable's `default_update`, applied by `kiln.function`) advances it.

`size` is always explicit in the graph: when the user gives ``size=None`` it is the
broadcast of the parameters' batch shapes (NumPy's rule), computed symbolically, so one
code path serves both cases and NumPy is always called with an explicit size (for the
same shape NumPy draws the same numbers with ``size=None`` and with ``size=shape``).

Draws are `foldable = False` (constant folding would freeze them) and two draws merge as
common subexpressions only when they read the same generator, size and parameters, which
is exactly when they are equal.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply, Constant, Variable
from kiln.graph.op import Op
from kiln.scalar import dtypes
from kiln.tensor.basic import as_tensor_variable, constant
from kiln.tensor.random.type import (RandomGeneratorType, copy_generator, random_generator_type)
from kiln.tensor.shape import _static_entries, as_shape_vector, broadcast_shape_symbolic, shape_i
from kiln.tensor.type import TensorType

__all__ = ["RandomVariable", "as_rng_variable", "size_vector"]

_INT_KINDS = "iu"


def as_rng_variable(rng: Any, who: str) -> Variable:
    """`rng` as a variable of RandomGeneratorType (a Generator value becomes a constant)."""
    if isinstance(rng, Variable):
        if not isinstance(rng.type, RandomGeneratorType):
            raise TypeError(f"{who}: rng must be a random generator variable (e.g. "
                            f"kiln.shared(np.random.default_rng(seed))), got {rng} of type {rng.type}")
        return rng
    if isinstance(rng, np.random.Generator):
        return random_generator_type.make_constant(rng)
    raise TypeError(f"{who}: rng must be a numpy.random.Generator or a shared variable holding one, "
                    f"got {type(rng).__name__}")


def size_vector(size: Any, who: str) -> Variable:
    """A user's `size` (an int, a tuple of ints or 0-d int variables, or an int vector of
    known length) as an int64 shape vector."""
    if isinstance(size, Variable) and size.ndim == 1 and size.type.shape[0] is None:
        raise TypeError(f"{who}: size {size} must have a statically known length (pass a tuple of "
                        f"scalars, or a vector with a known shape)")
    try:
        vec = as_shape_vector(size)
    except TypeError as e:
        raise TypeError(f"{who}: bad size {size!r}: {e}") from None
    for n in _static_entries(vec):
        if n is not None and n < 0:
            raise ValueError(f"{who}: size {size!r} has a negative entry")
    return vec


def _batch_shape_vector(params: Sequence[Variable], ndims_params: Sequence[int], who: str) -> Variable:
    """The broadcast of the parameters' batch shapes (their shapes minus the core dims), as
    an int64 vector: constant when the static shapes decide it, else computed at run time."""
    from kiln.tensor.elemwise import broadcast_static_shapes

    batch_static = [p.type.shape[:p.ndim - nd] for p, nd in zip(params, ndims_params)]
    n = max((len(s) for s in batch_static), default=0)
    padded_static = [(1,) * (n - len(s)) + tuple(s) for s in batch_static]
    broadcast_static_shapes(padded_static, who=who)  # raises when known lengths disagree
    padded_sym = [(1,) * (n - len(s)) + tuple(shape_i(p, d) if s[d] is None else s[d] for d in range(len(s)))
                  for p, s in zip(params, batch_static)]
    if not padded_sym:
        return constant(np.zeros(0, dtype="int64"))
    dims = broadcast_shape_symbolic(padded_sym, padded_static)
    return as_shape_vector(tuple(int(d) if isinstance(d, (int, np.integer)) else d for d in dims))


class RandomVariable(Op):
    """Base of the draw ops: one NumPy Generator method with broadcasting parameters.

    Subclasses set `name` (for messages), `ndim_supp` (dims of one draw: 0 for scalar
    distributions), `ndims_params` (core dims of each parameter) and `param_names`, and
    implement `rng_fn(rng, size, *params)`; multivariate ones also `supp_shape`.
    """

    __props__ = ("dtype",)
    name = "random_variable"
    ndim_supp = 0
    ndims_params: tuple[int, ...] = ()
    param_names: tuple[str, ...] = ()
    foldable = False
    default_output = 1

    def __init__(self, dtype: Any = "float64"):
        self.dtype = dtypes.normalize(dtype)

    def __str__(self) -> str:
        return f"{type(self).__name__}{{{self.dtype}}}"

    __repr__ = __str__

    # -- building ---------------------------------------------------------------------
    def prepare_params(self, params: Sequence[Any]) -> list[Variable]:
        """Check and convert the parameters (count, dtype kind, core dims)."""
        if len(params) != len(self.ndims_params):
            raise TypeError(f"{self.name}: expected {len(self.ndims_params)} parameters "
                            f"({', '.join(self.param_names)}), got {len(params)}")
        out = []
        for p, nd, pname in zip(params, self.ndims_params, self.param_names):
            try:
                v = as_tensor_variable(p)
            except (TypeError, ValueError) as e:
                raise TypeError(f"{self.name}: parameter {pname}={p!r} is not a tensor: {e}") from None
            if np.dtype(v.dtype).kind not in "biuf":
                raise TypeError(f"{self.name}: parameter {pname} must be real numbers, got dtype {v.dtype}")
            if v.ndim < nd:
                raise ValueError(f"{self.name}: parameter {pname} must have at least {nd} dimension(s), "
                                 f"got {v.ndim}-d {v.type}")
            out.append(v)
        return out

    def make_node(self, rng: Any, size: Any, *params: Any) -> Apply:
        rng = as_rng_variable(rng, self.name)
        params = self.prepare_params(params)
        if size is None:
            size = _batch_shape_vector(params, self.ndims_params, self.name)
        else:
            size = size_vector(size, self.name)
        batch = tuple(_static_entries(size))
        self.check_static(batch, params)
        out_type = TensorType(self.dtype, batch + self.supp_static(params))
        return Apply(self, [rng, size, *params], [rng.type(), out_type()])

    def check_static(self, batch: tuple, params: Sequence[Variable]) -> None:
        """Refuse parameters whose known batch lengths cannot broadcast to `size`."""
        for p, nd, pname in zip(params, self.ndims_params, self.param_names):
            pb = p.type.shape[:p.ndim - nd]
            if len(pb) > len(batch):
                raise ValueError(f"{self.name}: parameter {pname} has batch shape {pb}, more dimensions "
                                 f"than size {batch}")
            for a, b in zip(pb[::-1], batch[::-1]):
                if a is not None and b is not None and a not in (1, b):
                    raise ValueError(f"{self.name}: parameter {pname} with batch shape {pb} does not "
                                     f"broadcast to size {batch}")

    def supp_static(self, params: Sequence[Variable]) -> tuple:
        """Static lengths of one draw's support dims (() for scalar distributions)."""
        return ()

    def supp_shape(self, node: Apply, param_shapes: Sequence[tuple]) -> tuple:
        """Symbolic lengths of one draw's support dims."""
        return ()

    # -- running ----------------------------------------------------------------------
    def rng_fn(self, rng: np.random.Generator, size: tuple, *params: np.ndarray) -> Any:
        raise NotImplementedError(f"{type(self).__name__}.rng_fn")

    def perform(self, node, inputs, output_storage):
        rng, size, *params = inputs
        rng = copy_generator(rng)  # the input state stays untouched; the update writes the new one
        size = tuple(int(s) for s in size)
        try:
            draw = self.rng_fn(rng, size, *params)
        except (ValueError, np.linalg.LinAlgError) as e:
            shapes = ", ".join(f"{n}: shape {np.shape(p)}" for n, p in zip(self.param_names, params))
            raise type(e)(f"{self.name}: {e} (size={size}; {shapes})") from None
        draw = np.asarray(draw)
        if draw.dtype != self.dtype:
            draw = draw.astype(self.dtype)
        output_storage[0][0] = rng
        output_storage[1][0] = draw

    def infer_shape(self, fgraph, node, input_shapes):
        size = node.inputs[1]
        static = node.outputs[1].type.shape
        n = len(static) - self.ndim_supp
        batch = tuple(static[i] if static[i] is not None else size[i] for i in range(n))
        return [(), batch + tuple(self.supp_shape(node, input_shapes[2:]))]


def is_integer_kind(v: Variable) -> bool:
    """Whether a tensor variable holds (signed or unsigned) integers."""
    return np.dtype(v.dtype).kind in _INT_KINDS


def static_int(v: Variable) -> int | None:
    """The value of a 0-d integer constant, else None."""
    if isinstance(v, Constant) and np.ndim(v.data) == 0:
        return int(v.data)
    return None
