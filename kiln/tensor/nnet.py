"""Special functions lifted to tensors, and neural-network helpers (issue 5).

The special functions are Elemwise instances of the scalar ops in kiln.scalar.special
(so they fuse); the NN helpers are short graphs of elementwise ops (also fusable), whose
gradients come from their parts.  Names and argument orders follow PyTensor
(`binary_crossentropy(output, target)`, `categorical_crossentropy(coding_dist, true_dist)`).

>>> import numpy as np, kiln.tensor as kt
>>> np.round(kt.xlogy(kt.constant([0.0, 2.0]), kt.constant([0.0, np.e])).eval(), 6)
array([0., 2.])
"""
from __future__ import annotations

import math
from typing import Any

import kiln.scalar.special as pss
from kiln.scalar import dtypes
from kiln.scalar.basic import float_out_dtype
from kiln.tensor import math as km
from kiln.tensor.basic import as_tensor_variable
from kiln.tensor.elemwise import Elemwise

__all__ = ["log1mexp", "xlogy", "xlog1py", "betaln", "beta", "gammainc", "gammaincc", "gammainc_da", "erfcx", "i0",
           "i1", "polygamma", "gelu", "elu", "selu", "softsign", "binary_crossentropy", "categorical_crossentropy"]

log1mexp = Elemwise(pss.log1mexp, name="log1mexp")
xlogy = Elemwise(pss.xlogy, name="xlogy")
xlog1py = Elemwise(pss.xlog1py, name="xlog1py")
betaln = Elemwise(pss.betaln, name="betaln")
beta = Elemwise(pss.beta, name="beta")
gammainc = Elemwise(pss.gammainc, name="gammainc")
gammaincc = Elemwise(pss.gammaincc, name="gammaincc")
erfcx = Elemwise(pss.erfcx, name="erfcx")
i0 = Elemwise(pss.i0, name="i0")
i1 = Elemwise(pss.i1, name="i1")
_polygamma = Elemwise(pss.polygamma, name="polygamma")
#: d/da gammainc(a, x) (used by the derivatives of gammainc and gammaincc)
gammainc_da = Elemwise(pss.gammainc_da, name="gammainc_da")

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def polygamma(n: Any, x: Any):
    """scipy.special.polygamma(n, x): the n-th derivative of digamma; `n` is an integer (>= 0).

    >>> import kiln.tensor as kt
    >>> round(float(kt.polygamma(1, 1.0).eval()), 6)   # pi**2 / 6
    1.644934
    """
    n = as_tensor_variable(n)
    if n.dtype == "bool" or not dtypes.is_integer(n.dtype):
        raise TypeError(f"polygamma: the order n must be an integer tensor, got {n} of dtype {n.dtype}")
    return _polygamma(n, x)


def _float(x: Any):
    x = as_tensor_variable(x)
    if not dtypes.is_float(x.dtype):
        if dtypes.is_continuous(x.dtype):
            raise TypeError(f"complex input {x} is not supported")
        x = km.cast(x, float_out_dtype(x.dtype))  # NumPy's rule for exp: int8 -> float16, int64 -> float64
    return x


def gelu(x: Any, approximate: bool | str = False):
    """Gaussian error linear unit x * Phi(x); `approximate=True` (or "tanh") uses
    0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x**3))).

    >>> import kiln.tensor as kt
    >>> round(float(kt.gelu(1.0).eval()), 6)
    0.841345
    """
    x = _float(x)
    if approximate in (True, "tanh"):
        return 0.5 * x * (1.0 + km.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x ** 3)))
    if approximate not in (False, "none"):
        raise ValueError(f"gelu: approximate must be False/'none' or True/'tanh', got {approximate!r}")
    return 0.5 * x * (1.0 + km.erf(x * (1.0 / math.sqrt(2.0))))


def elu(x: Any, alpha: float = 1.0):
    """x for x > 0, alpha * (exp(x) - 1) otherwise.

    >>> import kiln.tensor as kt
    >>> kt.elu(kt.constant([-1e9, 2.0])).eval()
    array([-1.,  2.])
    """
    x = _float(x)
    return km.switch(km.gt(x, 0), x, km.expm1(km.minimum(x, 0)) * alpha)


def selu(x: Any):
    """Scaled ELU with the self-normalizing constants of Klambauer et al. (2017).

    >>> import kiln.tensor as kt
    >>> round(float(kt.selu(1.0).eval()), 6)
    1.050701
    """
    return elu(x, _SELU_ALPHA) * _SELU_SCALE


def softsign(x: Any):
    """x / (1 + |x|).

    >>> import kiln.tensor as kt
    >>> float(kt.softsign(3.0).eval())
    0.75
    """
    x = _float(x)
    return x / (1.0 + km.abs(x))


def binary_crossentropy(output: Any, target: Any):
    """-(target * log(output) + (1 - target) * log(1 - output)), elementwise (PyTensor's order:
    predicted probabilities first).  xlogy makes a 0 target ignore a log(0).

    >>> import kiln.tensor as kt
    >>> round(float(kt.binary_crossentropy(0.8, 1.0).eval()), 6)
    0.223144
    """
    output, target = _float(output), as_tensor_variable(target)
    return -(xlogy(target, output) + xlogy(1.0 - target, 1.0 - output))


def categorical_crossentropy(coding_dist: Any, true_dist: Any):
    """Cross-entropy between rows of predicted probabilities `coding_dist` (last axis = classes)
    and either one-hot/probability rows `true_dist` (same shape) or integer class labels
    (one fewer axis): -sum(true * log(coding), axis=-1), or -log(coding[..., label]).

    >>> import numpy as np, kiln.tensor as kt
    >>> p = kt.constant(np.array([[0.25, 0.75], [0.5, 0.5]]))
    >>> np.round(kt.categorical_crossentropy(p, kt.constant(np.array([1, 0]))).eval(), 6)
    array([0.287682, 0.693147])
    """
    p = _float(coding_dist)
    t = as_tensor_variable(true_dist)
    if p.ndim == 0:
        raise ValueError(f"categorical_crossentropy: coding_dist {p} must have a class axis")
    if dtypes.is_integer(t.dtype) and t.dtype != "bool" and t.ndim == p.ndim - 1:
        # integer labels: gather the labelled probability (an out-of-range label raises IndexError
        # at run time, as indexing does in NumPy)
        from kiln.tensor.advanced_take import take_along_axis

        picked = take_along_axis(p, t.dimshuffle(*range(t.ndim), "x"), axis=-1)
        return -km.log(picked.dimshuffle(*range(t.ndim)))
    if t.ndim != p.ndim:
        raise ValueError(f"categorical_crossentropy: true_dist {t} ({t.ndim}-d, {t.dtype}) must be integer "
                         f"labels with {p.ndim - 1} axes or a distribution with {p.ndim} axes like {p}")
    return -km.sum(xlogy(t, p), axis=-1)
