"""PyTensor's `tensor.special` functions that are graphs of elementwise ops: factorial,
logit, poch (derivatives come from gamma's and log's rules; fusion and the C linker see
ordinary elementwise ops).

>>> import numpy as np, kiln.tensor as kt
>>> from kiln.tensor.special import factorial
>>> n = kt.dvector("n")
>>> factorial(n).eval({n: np.array([0.0, 3.0, 4.5])}).round(4)
array([ 1.    ,  6.    , 52.3428])
"""
from __future__ import annotations

from typing import Any

from kiln.tensor import math as km
from kiln.tensor.basic import as_tensor_variable

__all__ = ["factorial", "logit", "poch"]


def factorial(n: Any):
    """scipy.special.factorial(n, exact=False): gamma(n + 1), and 0 for negative n (SciPy's
    rule; PyTensor's gamma(n + 1) agrees for n >= 0).  Integer inputs give float64.

    >>> import numpy as np, kiln.tensor as kt
    >>> n = kt.lvector("n")
    >>> factorial(n).eval({n: np.array([0, 5, -1])}).tolist()
    [1.0, 120.0, 0.0]
    """
    n = as_tensor_variable(n)
    g = km.gamma(n + 1)
    return km.switch(km.lt(n, 0), 0.0, g)


def logit(x: Any):
    """scipy.special.logit: log(x / (1 - x)), the inverse of the sigmoid.

    >>> import numpy as np, kiln.tensor as kt
    >>> x = kt.dvector("x")
    >>> logit(x).eval({x: np.array([0.5, 0.75])}).round(6).tolist()
    [0.0, 1.098612]
    """
    x = as_tensor_variable(x)
    return km.log(x / (1 - x))


def poch(z: Any, m: Any):
    """scipy.special.poch: the rising factorial gamma(z + m) / gamma(z).

    >>> import numpy as np, kiln.tensor as kt
    >>> z = kt.dvector("z")
    >>> poch(z, 3).eval({z: np.array([1.0, 2.0])}).tolist()
    [6.0, 24.0]
    """
    z = as_tensor_variable(z)   # m stays as given: a Python number is weak (NEP 50)
    return km.gamma(z + m) / km.gamma(z)
