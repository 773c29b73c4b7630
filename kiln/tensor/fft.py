"""Real-input fast Fourier transforms (PyTensor's `pytensor.tensor.fft`): `rfft` and `irfft`.

Both work on a batch: the first axis of the input counts independent transforms, and every
other axis is transformed (an N-d transform, as `np.fft.rfftn(x, axes=range(1, x.ndim))`).
Complex results are stored as real arrays with a trailing axis of length 2 holding the real
and imaginary parts, so the whole module stays on real tensors:

    rfft:  (m, ..., n) real            -> (m, ..., n // 2 + 1, 2)
    irfft: (m, ..., n // 2 + 1, 2)     -> (m, ..., n) real   (n odd when is_odd=True)

The ops `RFFTOp` and `IRFFTOp` are unnormalized (`irfft_op` does not divide by n); `rfft` and
`irfft` apply the normalization named by `norm`: None (NumPy's default "backward": the inverse
divides by the number of transformed points), "ortho" (both divide by its square root),
"no_norm" (neither; PyTensor's name), and NumPy's "backward" and "forward".

Result dtypes follow NumPy 2: float32 stays float32 (as does float16 -> float32, NumPy's
complex64), float64 and integer or boolean inputs give float64.  (PyTensor keeps the input's
dtype, which truncates the transform of an integer input.)

Both ops are linear in their array input.  The transpose of the unnormalized rfft is the
unnormalized irfft of the cotangent with its interior frequencies (those that stand for a
positive and a negative frequency) halved; the transpose of irfft is rfft with those doubled
(kiln/gradient/rules/fft.py), so derivatives of every order follow.

Unlike NumPy's `rfftn(x, s=...)`, the ops do not crop or pad: their shape input `s` must
describe the input itself (it is there for PyTensor's signature, and for irfft it carries
whether the last transformed length is odd).

>>> import numpy as np, kiln.tensor as kt
>>> x = kt.dmatrix("x")
>>> spec = rfft(x)
>>> spec.eval({x: np.array([[1.0, 2.0, 3.0, 4.0]])}).tolist()
[[[10.0, 0.0], [-2.0, 2.0], [-2.0, 0.0]]]
>>> irfft(spec).eval({x: np.array([[1.0, 2.0, 3.0, 4.0]])}).tolist()
[[1.0, 2.0, 3.0, 4.0]]
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np

from kiln.graph.basic import Apply, Constant
from kiln.graph.op import Op
from kiln.scalar import dtypes
from kiln.tensor.type import TensorType

__all__ = ["RFFTOp", "IRFFTOp", "rfft_op", "irfft_op", "rfft", "irfft"]

#: norm -> (divide rfft by, divide irfft by), as names of a function of the point count n
_NORMS = {None: ("one", "n"), "backward": ("one", "n"), "ortho": ("sqrt", "sqrt"),
          "no_norm": ("one", "one"), "forward": ("n", "one")}


@functools.lru_cache(maxsize=None)
def _result_dtype(dtype: str) -> str:
    """The real dtype of NumPy's transform of a `dtype` array (float32 stays single)."""
    return np.fft.rfft(np.zeros(2, dtype=dtype)).real.dtype.name


def _check_real(who: str, a) -> None:
    if a.dtype.startswith("complex") or not (dtypes.is_float(a.dtype) or dtypes.is_integer(a.dtype)
                                             or a.dtype == "bool"):
        raise TypeError(f"{who}: the input must be a real tensor (complex values are stored as a trailing "
                        f"axis of length 2), got {a} of type {a.type}")


def _shape_input(who: str, a, s: Any, length: int):
    """`s` as an int64 vector variable of `length` entries, checked against what is known."""
    from kiln.tensor.basic import as_tensor_variable

    s = as_tensor_variable(s)
    if s.ndim != 1 or not dtypes.is_integer(s.dtype):
        raise TypeError(f"{who}: the transform shape s must be an integer vector, got {s} of type {s.type}")
    if s.type.shape[0] is not None and s.type.shape[0] != length:
        raise ValueError(f"{who}: the transform shape s must have {length} entries (one per transformed "
                         f"axis of the {a.ndim}-d input), got {s.type.shape[0]}")
    if s.dtype != "int64":
        s = s.astype("int64")
    return s


def _constant_shape(s) -> tuple[int, ...] | None:
    return tuple(int(v) for v in np.asarray(s.data).reshape(-1)) if isinstance(s, Constant) else None


class RFFTOp(Op):
    """RFFTOp()(a, s=None): the unnormalized real-input FFT of a (m, ..., n) tensor over all axes
    but the first, as a (m, ..., n // 2 + 1, 2) tensor of real and imaginary parts.
    `s` (an integer vector) must equal a's shape without its batch axis; by default it is."""

    __props__ = ()

    def make_node(self, a: Any, s: Any = None) -> Apply:
        from kiln.tensor.basic import as_tensor_variable

        a = as_tensor_variable(a)
        if a.ndim < 2:
            raise TypeError(f"RFFTOp: the input must have at least 2 dimensions (the first counts the batch), "
                            f"got {a} of type {a.type}")
        _check_real("RFFTOp", a)
        core = a.type.shape[1:]
        s = _core_shape(a, 1, a.ndim) if s is None else _shape_input("RFFTOp", a, s, a.ndim - 1)
        known = _constant_shape(s)
        if known is not None:
            for d, (k, n) in enumerate(zip(known, core)):
                if n is not None and k != n:
                    raise ValueError(f"RFFTOp: s[{d}] = {k} differs from the input's length {n} on axis {d + 1}; "
                                     f"kiln's rfft does not crop or pad")
            core = tuple(n if n is not None else k for k, n in zip(known, core))
        last = core[-1] // 2 + 1 if core[-1] is not None else None
        out = TensorType(_result_dtype(a.dtype), (a.type.shape[0], *core[:-1], last, 2))
        return Apply(self, [a, s], [out()])

    def perform(self, node, inputs, output_storage):
        a, s = inputs
        want = tuple(int(v) for v in s)
        if want != a.shape[1:]:
            raise ValueError(f"RFFTOp: the transform shape s = {want} must equal the input's shape without its "
                             f"batch axis, {a.shape[1:]} (kiln's rfft does not crop or pad)")
        if 0 in want:
            raise ValueError(f"RFFTOp: cannot transform an empty axis (input shape {a.shape})")
        spec = np.fft.rfftn(a, axes=tuple(range(1, a.ndim)))
        out = np.empty(spec.shape + (2,), dtype=node.outputs[0].type.dtype)
        out[..., 0], out[..., 1] = spec.real, spec.imag
        output_storage[0][0] = out

    def infer_shape(self, fgraph, node, input_shapes):
        sh = input_shapes[0]
        return [(*sh[:-1], sh[-1] // 2 + 1, 2)]


class IRFFTOp(Op):
    """IRFFTOp()(a, s=None): the unnormalized inverse of RFFTOp (no division by the point count):
    a (m, ..., k, 2) tensor of real and imaginary parts to a real (m, *s) tensor, where s's last
    entry n has n // 2 + 1 == k (by default n = 2 (k - 1), i.e. even)."""

    __props__ = ()

    def make_node(self, a: Any, s: Any = None) -> Apply:
        from kiln.tensor.basic import as_tensor_variable

        a = as_tensor_variable(a)
        if a.ndim < 3:
            raise TypeError(f"IRFFTOp: the input must have at least 3 dimensions (the batch, the transformed "
                            f"axes, and a last axis of real/imaginary parts), got {a} of type {a.type}")
        _check_real("IRFFTOp", a)
        if a.type.shape[-1] not in (None, 2):
            raise ValueError(f"IRFFTOp: the last axis must hold the real and imaginary parts (length 2), "
                             f"got {a} of type {a.type}")
        if s is None:
            s = _irfft_shape(a, is_odd=False)
        else:
            s = _shape_input("IRFFTOp", a, s, a.ndim - 2)
        core = list(a.type.shape[1:-1])
        known = _constant_shape(s)
        if known is not None:
            _check_irfft_shape(known, tuple(core), a.type.shape)
            core = list(known)
        else:
            core[-1] = None     # the odd or even length is only known at run time
        out = TensorType(_result_dtype(a.dtype), (a.type.shape[0], *core))
        return Apply(self, [a, s], [out()])

    def perform(self, node, inputs, output_storage):
        a, s = inputs
        want = tuple(int(v) for v in s)
        if a.shape[-1] != 2:
            raise ValueError(f"IRFFTOp: the last axis must hold the real and imaginary parts (length 2), "
                             f"got an input of shape {a.shape}")
        _check_irfft_shape(want, a.shape[1:-1], a.shape)
        dtype = node.outputs[0].type.dtype
        spec = np.empty(a.shape[:-1], dtype=np.result_type(dtype, np.complex64))
        spec.real, spec.imag = a[..., 0], a[..., 1]
        out = np.fft.irfftn(spec, s=want, axes=tuple(range(1, a.ndim - 1)), norm="forward")
        output_storage[0][0] = np.asarray(out, dtype=dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        s = node.inputs[1]
        sh = input_shapes[0]
        return [(sh[0], *sh[1:-2], s[-1])]


def _check_irfft_shape(want: tuple, core: tuple, shape: tuple) -> None:
    """`want` (the output's transformed lengths) must fit the spectrum's lengths `core`."""
    if len(want) != len(core):
        raise ValueError(f"IRFFTOp: the output shape s = {want} must have {len(core)} entries, one per "
                         f"transformed axis of the spectrum of shape {tuple(shape)}")
    if want and want[-1] < 1:
        raise ValueError(f"IRFFTOp: the output length must be positive, got {want[-1]} (an input of "
                         f"{core[-1]} frequencies gives an odd length only: pass is_odd=True)")
    fits = [c is None or w == c for w, c in zip(want[:-1], core[:-1])]
    fits.append(core[-1] is None or want[-1] // 2 + 1 == core[-1])
    if not all(fits):
        raise ValueError(f"IRFFTOp: an output shape {want} does not fit a spectrum of shape {tuple(shape)} "
                         f"(the last transformed length n needs n // 2 + 1 frequencies; kiln's irfft does "
                         f"not crop or pad)")


def _core_shape(a, start: int, stop: int):
    """a's lengths on axes [start, stop) as an int64 vector: a constant when all are static."""
    from kiln.tensor.basic import as_tensor_variable
    from kiln.tensor.shape import shape_i, stack

    static = a.type.shape[start:stop]
    if all(n is not None for n in static):
        return as_tensor_variable(np.array(static, dtype="int64"))
    return stack([as_tensor_variable(n if n is not None else shape_i(a, d)).astype("int64")
                  for d, n in zip(range(start, stop), static)])


def _irfft_shape(a, is_odd: bool):
    """The output lengths of irfft of the spectrum a: its own, then 2 (k - 1) (+ 1 when odd)."""
    from kiln.tensor.basic import as_tensor_variable
    from kiln.tensor.shape import shape_i, stack

    k = a.type.shape[-2]
    if all(n is not None for n in a.type.shape[1:-1]):
        return as_tensor_variable(np.array([*a.type.shape[1:-2], 2 * (k - 1) + int(is_odd)], dtype="int64"))
    lead = [as_tensor_variable(n if n is not None else shape_i(a, d)).astype("int64")
            for d, n in zip(range(1, a.ndim - 2), a.type.shape[1:-2])]
    k_var = shape_i(a, a.ndim - 2).astype("int64")
    return stack([*lead, 2 * (k_var - 1) + int(is_odd)])


def _scale(out, s, how: str):
    """out divided by the named function of the point count prod(s), in out's dtype."""
    import kiln.tensor as kt

    if how == "one":
        return out
    known = _constant_shape(s)
    n = kt.cast(int(np.prod(known)) if known is not None else kt.prod(s), out.dtype)
    return out / (kt.sqrt(n) if how == "sqrt" else n)


def _check_norm(who: str, norm: Any) -> None:
    if not isinstance(norm, (str, type(None))) or norm not in _NORMS:
        raise ValueError(f"{who}: invalid norm {norm!r}; expected None, 'ortho', 'no_norm', 'backward' or 'forward'")


rfft_op = RFFTOp()
irfft_op = IRFFTOp()


def rfft(inp: Any, norm: str | None = None):
    """The FFT of real input of shape (m, ..., n) over all axes but the first, as a tensor of shape
    (m, ..., n // 2 + 1, 2) holding the real and imaginary parts (PyTensor's `fft.rfft`).

    `norm`: None (no scaling; NumPy's "backward"), "ortho" (divide by the square root of the number
    of transformed points), "no_norm" (no scaling), "forward" (divide by that number).

    >>> import numpy as np, kiln.tensor as kt
    >>> x = kt.dmatrix("x")
    >>> rfft(x, norm="ortho").eval({x: np.array([[1.0, 1.0, 1.0, 1.0]])}).tolist()
    [[[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]]]
    """
    from kiln.tensor.basic import as_tensor_variable

    _check_norm("rfft", norm)
    inp = as_tensor_variable(inp)
    if inp.ndim < 2:
        raise TypeError(f"rfft: the input must have at least 2 dimensions (the first counts the batch), "
                        f"got {inp} of type {inp.type}")
    s = _core_shape(inp, 1, inp.ndim)
    return _scale(rfft_op(inp, s), s, _NORMS[norm][0])


def irfft(inp: Any, norm: str | None = None, is_odd: bool = False):
    """The inverse of `rfft`: a spectrum of shape (m, ..., k, 2) (real and imaginary parts) to real
    values of shape (m, ..., n) with n = 2 (k - 1), or 2 (k - 1) + 1 when `is_odd` (PyTensor's
    `fft.irfft`).  `norm` as in `rfft`; None divides by the number of transformed points.

    >>> import numpy as np, kiln.tensor as kt
    >>> spec = kt.dtensor3("spec")
    >>> irfft(spec, is_odd=True).eval({spec: np.array([[[3.0, 0.0], [0.0, 0.0]]])}).tolist()
    [[1.0, 1.0, 1.0]]
    """
    from kiln.tensor.basic import as_tensor_variable

    _check_norm("irfft", norm)
    if is_odd not in (True, False):
        raise ValueError(f"irfft: is_odd must be True or False, got {is_odd!r}")
    inp = as_tensor_variable(inp)
    if inp.ndim < 3:
        raise TypeError(f"irfft: the input must have at least 3 dimensions (the batch, the transformed axes, "
                        f"and a last axis of real/imaginary parts), got {inp} of type {inp.type}")
    s = _irfft_shape(inp, bool(is_odd))
    return _scale(irfft_op(inp, s), s, _NORMS[norm][1])
