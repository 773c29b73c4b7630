"""RFFTOp / IRFFTOp (kiln/tensor/fft.py): linear in the array input; the shape input is an integer.

With the half spectrum k = 0 .. n // 2 of a last transformed length n, the interior frequencies
1 <= k < (n + 1) // 2 each stand for a positive and a negative one: the unnormalized irfft counts
them twice (x_j = Re sum_k v_k c_k e^{+i theta_jk}, v_k = 2 inside, 1 at 0 and at n / 2), while
the rfft's transpose counts every stored frequency once.  Hence
    rfft's transpose:  irfft_op(ct / v, s)      irfft's transpose:  v * rfft_op(ct, s)
(the other transformed axes are full complex transforms, whose transpose is the conjugate
transform: PyTensor's rule too).  Both are again FFT nodes, so higher orders follow.
"""
from __future__ import annotations

from kiln.gradient.registry import register_transpose
from kiln.gradient.rules.helpers import linear_jvp
from kiln.tensor.fft import IRFFTOp, RFFTOp, irfft_op, rfft_op

linear_jvp(RFFTOp, IRFFTOp, linear=(0,))


def _interior_weight(ct, n, inside: float):
    """`inside` on the interior frequencies of ct's axis -2 (length n // 2 + 1), 1 elsewhere,
    shaped to broadcast against ct (k, 1)."""
    import kiln.tensor as kt

    k = kt.arange(n // 2 + 1)
    interior = kt.and_(kt.ge(k, 1), kt.lt(k, (n + 1) // 2))
    w = kt.switch(interior, kt.constant(inside, dtype=ct.dtype), kt.constant(1.0, dtype=ct.dtype))
    return w.dimshuffle(0, "x")


@register_transpose(RFFTOp, linear=(0,))
def _rfft_t(node, cts, mask, ctx):
    (ct,) = cts
    s = node.inputs[1]
    return [irfft_op(ct * _interior_weight(ct, s[-1], 0.5), s), None]


@register_transpose(IRFFTOp, linear=(0,))
def _irfft_t(node, cts, mask, ctx):
    (ct,) = cts
    s = node.inputs[1]
    spec = rfft_op(ct, s)
    return [spec * _interior_weight(spec, s[-1], 2.0), None]
