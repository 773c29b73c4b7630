"""Helpers a scan step may return (PyTensor's `pytensor.scan.utils`).

`until(condition)` turns a scan into a while loop: a step function that returns
``(outputs, until(cond))`` or ``(outputs, updates, until(cond))`` stops the loop after the
first step whose `cond` is true (that step's outputs are kept).
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["until"]


class until:  # noqa: N801  (PyTensor's name)
    """The stopping condition of a scan step: a 0-d boolean (or numeric: non-zero is true) value.

    >>> import numpy as np, kiln, kiln.tensor as kt
    >>> from kiln.scan import scan
    >>> m = kt.dscalar("m")
    >>> powers, _ = scan(lambda p, m: (p * 2, until(p * 2 > m)), outputs_info=kt.constant(1.0),
    ...                  non_sequences=m, n_steps=1024)
    >>> kiln.function([m], powers)(45.0).tolist()
    [2.0, 4.0, 8.0, 16.0, 32.0, 64.0]
    """

    def __init__(self, condition: Any):
        from kiln.tensor.basic import as_tensor_variable, describe

        cond = as_tensor_variable(condition)
        if cond.type.ndim != 0:
            raise TypeError(f"until: the condition must be a scalar (0-d), got {describe(cond)}")
        if np.dtype(cond.type.dtype).kind not in "biuf":
            raise TypeError(f"until: the condition must be boolean or numeric, got dtype {cond.type.dtype}")
        self.condition = cond

    def __repr__(self) -> str:
        return f"until({self.condition})"
