"""Softmax and LogSoftmax (kiln.tensor.special), when that module is present.

softmax: dz = z * (t - sum(z * t, axis));  log_softmax: dz = t - sum(softmax * t, axis).
Both tangents are built from linear ops, so their transposes come for free.
"""
from __future__ import annotations

import importlib

import kiln.tensor.math as km
from kiln.gradient.registry import register_jvp
from kiln.gradient.rules.helpers import mark_full, same_shape
from kiln.gradient.values import ZERO, is_zero

try:
    _special = importlib.import_module("kiln.tensor.special")
except ImportError:  # pragma: no cover - the module is added by another issue
    _special = None


def _axis(op, ndim):
    ax = getattr(op, "axis", -1)
    if ax is None:
        return tuple(range(ndim))
    if isinstance(ax, (tuple, list)):
        return tuple(a % ndim for a in ax)
    return (ax % ndim,)


if _special is not None and hasattr(_special, "Softmax"):
    @register_jvp(_special.Softmax)
    def _softmax_jvp(node, ts):
        (t,) = ts
        if is_zero(t):
            return [ZERO]
        (z,) = node.outputs
        ax = _axis(node.op, z.ndim)
        # z, t and the results are all of z's shape; only the sum is reduced
        zt = mark_full(same_shape(z * t, z), 0, 1)
        # the keepdims sum has z's length on every axis it did not reduce
        d = mark_full(same_shape(t - km.sum(zt, axis=ax, keepdims=True), z), 0, 1)
        return [mark_full(z * d, 0, 1)]

if _special is not None and hasattr(_special, "LogSoftmax"):
    @register_jvp(_special.LogSoftmax)
    def _log_softmax_jvp(node, ts):
        (t,) = ts
        if is_zero(t):
            return [ZERO]
        (z,) = node.outputs
        ax = _axis(node.op, z.ndim)
        et = mark_full(same_shape(km.exp(z) * t, z), 0, 1)
        return [mark_full(t - km.sum(et, axis=ax, keepdims=True), 0, 1)]
