"""Convolutions (PyTensor's `pytensor.tensor.signal`): convolve1d and convolve2d.

Both follow NumPy/SciPy: `convolve1d(in1, in2, mode)` is `np.convolve` over the last axis and
`convolve2d(in1, in2, mode)` is `scipy.signal.convolve2d` (boundary "fill" with 0) over the last
two, with leading batch axes broadcast together (PyTensor's Blockwise).  Modes: "full" (length
N + M - 1), "valid" (|N - M| + 1: the larger input slides over the smaller, as np.convolve does),
"same" (N, centered in the full result).

One op computes them all: `Convolve(ndim)(in1, in2, start, length)` is the window
`[start, start + length)` (per core axis) of the full convolution.  Convolution is bilinear, and
the transpose of a window of a full convolution is again one: in1's cotangent is
`Convolve(ct, flip(in2), M - 1 - start, N)`, in2's `Convolve(ct, flip(in1), N - 1 - start, M)`
(kiln/gradient/rules/signal.py), so gradients of every mode, of any order, come from one rule.

>>> import numpy as np, kiln.tensor as kt
>>> a, k = kt.dvector("a"), kt.dvector("k")
>>> y = convolve1d(a, k, mode="same")
>>> y.eval({a: np.array([1.0, 2.0, 3.0, 4.0]), k: np.array([1.0, 0.5])}).tolist()
[1.0, 2.5, 4.0, 5.5]
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.tensor.type import TensorType

__all__ = ["Convolve", "convolve1d", "convolve2d"]

_MODES = ("full", "valid", "same")


class Convolve(Op):
    """Convolve(ndim)(in1, in2, start, length): the window [start, start + length) of the full
    convolution of in1 and in2 over their last `ndim` axes (start, length: int64 vectors of
    ndim entries); leading axes are batch axes, broadcast together."""

    __props__ = ("ndim",)

    def __init__(self, ndim: int):
        if ndim not in (1, 2):
            raise ValueError(f"Convolve: ndim must be 1 or 2, got {ndim}")
        self.ndim = ndim

    def make_node(self, in1: Any, in2: Any, start: Any, length: Any) -> Apply:
        from kiln.tensor.basic import as_tensor_variable
        from kiln.tensor.elemwise import broadcast_static_shapes

        in1, in2 = as_tensor_variable(in1), as_tensor_variable(in2)
        start, length = as_tensor_variable(start), as_tensor_variable(length)
        nd = self.ndim
        for name, v in (("in1", in1), ("in2", in2)):
            if v.ndim < nd:
                raise ValueError(f"convolve{nd}d: {name} needs at least {nd} dimensions, got {v.ndim}")
        for name, v in (("start", start), ("length", length)):
            if v.ndim != 1 or v.type.dtype not in ("int64", "int32", "int16", "int8"):
                raise TypeError(f"{self}: {name} must be an integer vector, got {v.type}")
        batch = broadcast_static_shapes(_left_padded([in1.type.shape[:-nd], in2.type.shape[:-nd]], 1),
                                        who=f"convolve{nd}d")
        dtype = np.result_type(np.dtype(in1.type.dtype), np.dtype(in2.type.dtype))
        if dtype == np.bool_:
            dtype = np.dtype("int64")   # np.convolve of booleans sums in the default integer
        core = tuple(None for _ in range(nd))
        if getattr(length, "data", None) is not None:
            core = tuple(int(n) for n in np.asarray(length.data).reshape(nd))
        return Apply(self, [in1, in2, start, length], [TensorType(dtype.name, tuple(batch) + core)()])

    def perform(self, node, inputs, output_storage):
        a, b, start, length = inputs
        nd = self.ndim
        start, length = [int(s) for s in start], [int(n) for n in length]
        if 0 in a.shape[-nd:] or 0 in b.shape[-nd:]:
            raise ValueError(f"convolve{nd}d: inputs cannot be empty (shapes {a.shape} and {b.shape})")
        dtype = node.outputs[0].type.dtype
        batch = np.broadcast_shapes(a.shape[:-nd], b.shape[:-nd])
        a = np.broadcast_to(a, batch + a.shape[-nd:])
        b = np.broadcast_to(b, batch + b.shape[-nd:])
        out = np.zeros(batch + tuple(length), dtype=dtype)
        for idx in np.ndindex(*batch):
            full = _full(a[idx].astype(dtype, copy=False), b[idx].astype(dtype, copy=False), nd)
            win = tuple(slice(s, s + n) for s, n in zip(start, length))
            part = full[win]
            if part.shape != tuple(length):
                raise ValueError(f"{self}: window start {start} length {length} does not fit the "
                                 f"full convolution of shape {full.shape}")
            out[idx] = part
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        from kiln.tensor.shape import broadcast_shape_symbolic

        nd = self.ndim
        a, b = node.inputs[:2]
        batch = broadcast_shape_symbolic(_left_padded([tuple(input_shapes[0][:-nd]), tuple(input_shapes[1][:-nd])], 1),
                                         _left_padded([a.type.shape[:-nd], b.type.shape[:-nd]], 1))
        length = node.inputs[3]
        return [tuple(batch) + tuple(length[d] for d in range(nd))]


def _left_padded(shapes: list, fill: Any) -> list:
    """Shapes padded on the left to a common length (broadcasting's alignment)."""
    n = max(len(t) for t in shapes)
    return [(fill,) * (n - len(t)) + tuple(t) for t in shapes]


def _full(a: np.ndarray, b: np.ndarray, nd: int) -> np.ndarray:
    """The full convolution of two nd arrays (direct sums: results do not depend on FFT rounding)."""
    if nd == 1:
        return np.convolve(a, b, mode="full")
    from kiln._lazy import scipy_module

    return scipy_module("signal").convolve2d(a, b, mode="full")


def _convolve(in1: Any, in2: Any, mode: str, nd: int):
    from kiln.tensor import math as km
    from kiln.tensor.basic import as_tensor_variable
    from kiln.tensor.shape import shape_i, stack

    if mode not in _MODES:
        raise ValueError(f"convolve{nd}d: mode must be one of {_MODES}, got {mode!r}")
    in1, in2 = as_tensor_variable(in1), as_tensor_variable(in2)
    for name, v in (("in1", in1), ("in2", in2)):
        if v.ndim < nd:
            raise ValueError(f"convolve{nd}d: {name} needs at least {nd} dimensions, got {v.ndim}")
    starts, lengths = [], []
    for d in range(nd):
        ax1, ax2 = in1.ndim - nd + d, in2.ndim - nd + d
        n = in1.type.shape[ax1] if in1.type.shape[ax1] is not None else shape_i(in1, ax1)
        m = in2.type.shape[ax2] if in2.type.shape[ax2] is not None else shape_i(in2, ax2)
        if mode == "full":
            starts.append(0)
            lengths.append(n + m - 1)
        elif mode == "valid":
            static = isinstance(n, int) and isinstance(m, int)   # Python ints keep the output shape static
            minimum, absolute = (min, abs) if static else (km.minimum, km.abs)
            starts.append(minimum(n, m) - 1)
            lengths.append(absolute(n - m) + 1)
        else:
            starts.append((m - 1) // 2)
            lengths.append(n)

    def as_vec(xs: list):
        if all(isinstance(x, int) for x in xs):
            return as_tensor_variable(np.array(xs, dtype="int64"))
        return stack([as_tensor_variable(x).astype("int64") for x in xs])
    return Convolve(nd)(in1, in2, as_vec(starts), as_vec(lengths))


def convolve1d(in1: Any, in2: Any, mode: str = "full"):
    """Convolve over the last axis, as `np.convolve(in1, in2, mode)` (leading axes broadcast).

    >>> import numpy as np, kiln.tensor as kt
    >>> convolve1d(kt.constant(np.array([1.0, 2.0, 3.0])), np.array([0.0, 1.0, 0.5]), "valid").eval()
    array([2.5])
    """
    return _convolve(in1, in2, mode, 1)


def convolve2d(in1: Any, in2: Any, mode: str = "full", boundary: str = "fill", fillvalue: float = 0,
               method: str = "auto"):
    """Convolve over the last two axes, as `scipy.signal.convolve2d(in1, in2, mode)` with the
    default zero fill (leading axes broadcast).  `method` is accepted for PyTensor
    compatibility: kiln always sums directly, so results do not carry FFT rounding.

    >>> import numpy as np, kiln.tensor as kt
    >>> convolve2d(kt.constant(np.ones((3, 3))), np.ones((2, 2)), "valid").eval().tolist()
    [[4.0, 4.0], [4.0, 4.0]]
    """
    if boundary != "fill" or fillvalue != 0:
        raise NotImplementedError("convolve2d: only boundary='fill' with fillvalue=0 is supported")
    if method not in ("auto", "direct", "fft"):
        raise ValueError(f"convolve2d: method must be 'auto', 'direct' or 'fft', got {method!r}")
    return _convolve(in1, in2, mode, 2)
