"""Softmax and log-softmax over an axis (or several), as ops computed stably.

They are ops of their own, not graphs of exp/sum/div, so that the stabilize phase and
the gradient tables can name them, and so that `perform` can subtract the maximum
before exponentiating (exp(1000) would overflow; exp(1000 - 1000) does not).
Edge cases follow scipy.special.log_softmax for both functions: a slice that is all -inf,
or holds NaN, gives NaN; with a +inf, the +inf entries are NaN and the finite ones 0
(log: -inf).  scipy.special.softmax makes the whole +inf slice NaN instead; we keep
softmax == exp(log_softmax).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.scalar import dtypes
from kiln.scalar.basic import float_out_dtype
from kiln.tensor.basic import as_tensor_variable
from kiln.tensor.reduction import normalize_axis
from kiln.tensor.type import TensorType

__all__ = ["Softmax", "LogSoftmax", "softmax", "log_softmax"]


class _SoftmaxBase(Op):
    """Shared make_node/infer_shape: elementwise shape, float output (NumPy's rule for exp)."""

    __props__ = ("axis",)

    def __init__(self, axis: Sequence[int]):
        # a sorted tuple of axes, as for reductions (None is resolved by the functions below)
        self.axis = tuple(sorted(int(a) for a in axis))

    def __str__(self) -> str:
        return f"{type(self).__name__}{{axis={self.axis}}}"

    def make_node(self, x: Any) -> Apply:
        x = as_tensor_variable(x)
        if dtypes.is_continuous(x.dtype) and not dtypes.is_float(x.dtype):
            raise TypeError(f"{self}: complex input {x} ({x.dtype}) is not supported")
        for a in self.axis:
            if not 0 <= a < max(x.ndim, 1):
                raise ValueError(f"{self}: axis {a} is out of bounds for the {x.ndim}-d input {x}")
        if x.dtype == "bool":
            raise TypeError(f"{self}: boolean input {x} is not supported; cast it first")
        return Apply(self, [x], [TensorType(float_out_dtype(x.dtype), x.type.shape)()])

    def _shifted(self, x: np.ndarray, out_dtype: str) -> tuple[np.ndarray, tuple]:
        # float16 is computed in float32 (as NumPy does for its float16 reductions)
        work = "float32" if out_dtype == "float16" else out_dtype
        x = np.asarray(x, dtype=work)
        axis = self.axis if x.ndim else None
        # initial=-inf: an empty slice has no maximum, but then nothing is shifted by it either
        m = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
        # a non-finite maximum (+inf, or a slice that is all -inf) would give inf - inf = nan
        # for every element; shifting by 0 instead keeps the finite entries' limits (as
        # scipy.special.log_softmax and kt.logsumexp do)
        m = np.where(np.isfinite(m), m, 0)
        return x - m, axis

    def infer_shape(self, fgraph, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        return [tuple(input_shapes[0])]


class Softmax(_SoftmaxBase):
    """exp(x) / sum(exp(x)) over `axis`, computed as exp(x - max) / sum(exp(x - max))."""

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list[list]) -> None:
        out = node.outputs[0].type.dtype
        with np.errstate(all="ignore"):
            z, axis = self._shifted(inputs[0], out)
            e = np.exp(z)
            res = e / np.sum(e, axis=axis, keepdims=True)
        output_storage[0][0] = np.asarray(res, dtype=out)


class LogSoftmax(_SoftmaxBase):
    """x - logsumexp(x) over `axis`, computed as (x - max) - log(sum(exp(x - max)))."""

    def perform(self, node: Apply, inputs: Sequence[np.ndarray], output_storage: list[list]) -> None:
        out = node.outputs[0].type.dtype
        with np.errstate(all="ignore"):
            z, axis = self._shifted(inputs[0], out)
            res = z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))
        output_storage[0][0] = np.asarray(res, dtype=out)


def _axes(x, axis, who: str) -> tuple[int, ...]:
    if x.ndim == 0:
        normalize_axis(axis, 0, who)  # validates (0, -1 or None)
        return ()
    return normalize_axis(axis, x.ndim, who)


def softmax(x: Any, axis: int | Sequence[int] | None = -1):
    """Softmax over `axis` (an int, a tuple, or None for all axes), like scipy.special.softmax.

    >>> import numpy as np, kiln, kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> kiln.function([x], kt.softmax(x))(np.array([0.0, np.log(3.0)])).round(3)
    array([0.25, 0.75])
    """
    x = as_tensor_variable(x)
    return Softmax(_axes(x, axis, "softmax"))(x)


def log_softmax(x: Any, axis: int | Sequence[int] | None = -1):
    """log(softmax(x)) over `axis`, without overflow or log(0) (scipy.special.log_softmax).

    >>> import numpy as np, kiln, kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> kiln.function([x], kt.log_softmax(x))(np.array([1000.0, 1000.0])).round(4)
    array([-0.6931, -0.6931])
    """
    x = as_tensor_variable(x)
    return LogSoftmax(_axes(x, axis, "log_softmax"))(x)


# -- PyTensor's other `tensor.special` names (graphs of elementwise ops) --
from kiln.tensor.special_more import factorial, logit, poch  # noqa: E402
from kiln.tensor.nnet import beta, betaln, xlog1py, xlogy  # noqa: E402

__all__ += ["factorial", "logit", "poch", "beta", "betaln", "xlog1py", "xlogy"]
