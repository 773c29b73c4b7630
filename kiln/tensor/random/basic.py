"""The distributions: one RandomVariable subclass per NumPy Generator method, plus the
module-level draw functions (PyTensor's `pytensor.tensor.random.basic`).

Every draw function takes `rng` (a shared generator variable, a Generator, or None for a
fresh unseeded shared generator without updates) and `size`; each returns the draw, whose
``owner.outputs[0]`` is the next generator state.  Values follow NumPy's Generator exactly:
the same state and parameters give the numbers `np.random.Generator.<method>` gives.

C: not yet (perform) for all of them; a C version would need the bit generators' C API.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from kiln.graph.basic import Apply, Variable
from kiln.scalar import dtypes
from kiln.tensor.basic import as_tensor_variable
from kiln.tensor.random.op import (RandomVariable, as_rng_variable, is_integer_kind, size_vector,
                                   static_int)
from kiln.tensor.shape import _static_entries
from kiln.tensor.type import TensorType

__all__ = ["NormalRV", "UniformRV", "IntegersRV", "BernoulliRV", "BinomialRV", "PoissonRV", "GammaRV",
           "BetaRV", "DirichletRV", "MvNormalRV", "ChoiceRV", "PermutationRV",
           "normal", "uniform", "integers", "bernoulli", "binomial", "poisson", "gamma", "beta",
           "dirichlet", "multivariate_normal", "choice", "permutation", "REPARAMETERIZABLE"]


def _float_dtype(dtype: Any) -> str:
    from kiln.configuration import config

    dt = dtypes.normalize(config.floatX if dtype is None or dtype == "floatX" else dtype)
    if np.dtype(dt).kind != "f":
        raise TypeError(f"the dtype of a continuous draw must be a float dtype, got {dt}")
    return dt


# -- scalar distributions -------------------------------------------------------------
class NormalRV(RandomVariable):
    """normal(loc, scale): ``loc + scale * z`` with z standard normal (NumPy's `normal`).
    Reparameterizable: its derivative w.r.t. loc and scale uses the draw itself.
    C: not yet (perform)."""

    name = "normal"
    ndims_params = (0, 0)
    param_names = ("loc", "scale")

    def rng_fn(self, rng, size, loc, scale):
        return rng.normal(loc, scale, size=size)


class UniformRV(RandomVariable):
    """uniform(low, high): ``low + (high - low) * u``, u in [0, 1) (NumPy's `uniform`).
    Reparameterizable.  C: not yet (perform)."""

    name = "uniform"
    ndims_params = (0, 0)
    param_names = ("low", "high")

    def rng_fn(self, rng, size, low, high):
        return rng.uniform(low, high, size=size)


class IntegersRV(RandomVariable):
    """integers(low, high): integers in [low, high) (NumPy's `integers`, endpoint=False).
    C: not yet (perform)."""

    name = "integers"
    ndims_params = (0, 0)
    param_names = ("low", "high")

    def prepare_params(self, params):
        out = super().prepare_params(params)
        for v, pname in zip(out, self.param_names):
            if not is_integer_kind(v):
                raise TypeError(f"integers: {pname} must be integers, got dtype {v.dtype}")
        return out

    def rng_fn(self, rng, size, low, high):
        return rng.integers(low, high, size=size, dtype=self.dtype)


class BernoulliRV(RandomVariable):
    """bernoulli(p): 1 with probability p, else 0 (NumPy's `binomial(1, p)`).
    C: not yet (perform)."""

    name = "bernoulli"
    ndims_params = (0,)
    param_names = ("p",)

    def rng_fn(self, rng, size, p):
        return rng.binomial(1, p, size=size)


class BinomialRV(RandomVariable):
    """binomial(n, p) (NumPy's `binomial`).  C: not yet (perform)."""

    name = "binomial"
    ndims_params = (0, 0)
    param_names = ("n", "p")

    def rng_fn(self, rng, size, n, p):
        return rng.binomial(n, p, size=size)


class PoissonRV(RandomVariable):
    """poisson(lam) (NumPy's `poisson`).  C: not yet (perform)."""

    name = "poisson"
    ndims_params = (0,)
    param_names = ("lam",)

    def rng_fn(self, rng, size, lam):
        return rng.poisson(lam, size=size)


class GammaRV(RandomVariable):
    """gamma(shape, scale) (NumPy's `gamma`; mean shape*scale).  C: not yet (perform)."""

    name = "gamma"
    ndims_params = (0, 0)
    param_names = ("shape", "scale")

    def rng_fn(self, rng, size, shape, scale):
        return rng.gamma(shape, scale, size=size)


class BetaRV(RandomVariable):
    """beta(a, b) (NumPy's `beta`).  C: not yet (perform)."""

    name = "beta"
    ndims_params = (0, 0)
    param_names = ("a", "b")

    def rng_fn(self, rng, size, a, b):
        return rng.beta(a, b, size=size)


# -- multivariate distributions -------------------------------------------------------
def _batched(rng, size, params, ndims_params, draw_one):
    """Draw one sample per batch index of `size`, parameters broadcast to it, in C order
    (the order NumPy's own batched methods consume the stream)."""
    bparams = [np.broadcast_to(p, tuple(size) + p.shape[p.ndim - nd:]) for p, nd in zip(params, ndims_params)]
    draws = [draw_one(*[bp[idx] for bp in bparams]) for idx in np.ndindex(*size)]
    return draws


class DirichletRV(RandomVariable):
    """dirichlet(alphas): draws on the simplex, one per batch entry; `alphas` has its
    categories on the last axis (batches of alphas broadcast with `size`, which NumPy
    itself does not allow).  C: not yet (perform)."""

    name = "dirichlet"
    ndim_supp = 1
    ndims_params = (1,)
    param_names = ("alphas",)

    def supp_static(self, params):
        return (params[0].type.shape[-1],)

    def supp_shape(self, node, param_shapes):
        return (param_shapes[0][-1],)

    def rng_fn(self, rng, size, alphas):
        if alphas.ndim == 1:
            return rng.dirichlet(alphas, size=size)
        k = alphas.shape[-1]
        draws = _batched(rng, size, [alphas], self.ndims_params, lambda a: rng.dirichlet(a))
        return np.array(draws, dtype="float64").reshape(tuple(size) + (k,))


class MvNormalRV(RandomVariable):
    """multivariate_normal(mean, cov, method): mean on the last axis, cov on the last two
    (batches broadcast with `size`); NumPy's `multivariate_normal` with its `method`
    ("svd" by default, "eigh" or "cholesky").  C: not yet (perform)."""

    __props__ = ("dtype", "method")
    name = "multivariate_normal"
    ndim_supp = 1
    ndims_params = (1, 2)
    param_names = ("mean", "cov")

    def __init__(self, dtype: Any = "float64", method: str = "svd"):
        super().__init__(dtype)
        if method not in ("svd", "eigh", "cholesky"):
            raise ValueError(f"multivariate_normal: method must be 'svd', 'eigh' or 'cholesky', not {method!r}")
        self.method = method

    def __str__(self) -> str:
        return f"MvNormalRV{{{self.dtype}, {self.method}}}"

    __repr__ = __str__

    def prepare_params(self, params):
        mean, cov = super().prepare_params(params)
        k = [n for n in (mean.type.shape[-1], cov.type.shape[-1], cov.type.shape[-2]) if n is not None]
        if len(set(k)) > 1:
            raise ValueError(f"multivariate_normal: mean {mean.type} and cov {cov.type} have different "
                             f"dimensions (cov must be k x k for a mean of length k)")
        return [mean, cov]

    def supp_static(self, params):
        mean, cov = params
        return (next((n for n in (mean.type.shape[-1], cov.type.shape[-1], cov.type.shape[-2])
                      if n is not None), None),)

    def supp_shape(self, node, param_shapes):
        n = self.supp_static(node.inputs[2:])[0]
        return (n if n is not None else param_shapes[0][-1],)

    def rng_fn(self, rng, size, mean, cov):
        k = mean.shape[-1]
        if cov.shape[-2:] != (k, k):
            raise ValueError(f"cov must have shape (..., {k}, {k}) for a mean of length {k}, got {cov.shape}")
        if mean.ndim == 1 and cov.ndim == 2:
            return rng.multivariate_normal(mean, cov, size=size, method=self.method)
        draws = _batched(rng, size, [mean, cov], self.ndims_params,
                         lambda m, c: rng.multivariate_normal(m, c, method=self.method))
        return np.array(draws, dtype="float64").reshape(tuple(size) + (k,))


# -- sampling from a population -------------------------------------------------------
class ChoiceRV(RandomVariable):
    """choice(a, size, replace, p): entries of `a` along its first axis (or of arange(a)
    for an integer `a`), with or without replacement, optionally with probabilities `p`
    (NumPy's `choice`; size=None is one draw).  C: not yet (perform)."""

    __props__ = ("dtype", "replace", "has_p")
    name = "choice"

    def __init__(self, dtype: Any = "int64", replace: bool = True, has_p: bool = False):
        super().__init__(dtype)
        self.replace = bool(replace)
        self.has_p = bool(has_p)

    def __str__(self) -> str:
        return f"ChoiceRV{{{self.dtype}, replace={self.replace}, p={self.has_p}}}"

    __repr__ = __str__

    @property
    def param_names(self):
        return ("a", "p") if self.has_p else ("a",)

    def make_node(self, rng: Any, size: Any, a: Any, p: Any = None) -> Apply:
        rng = as_rng_variable(rng, "choice")
        a = as_tensor_variable(a)
        if a.ndim == 0 and not is_integer_kind(a):
            raise TypeError(f"choice: a 0-d `a` is a population size and must be an integer, got {a.type}")
        if a.ndim == 0 and self.dtype != "int64" or a.ndim > 0 and self.dtype != a.dtype:
            raise TypeError(f"choice: the op's dtype {self.dtype} does not match the population {a.type}")
        params = [a]
        if self.has_p:
            if p is None:
                raise TypeError("choice: this op takes probabilities p")
            p = as_tensor_variable(p)
            if p.ndim != 1 or np.dtype(p.dtype).kind != "f":
                raise TypeError(f"choice: p must be a 1-d float vector, got {p.type}")
            params.append(p)
        elif p is not None:
            raise TypeError("choice: p given to an op built without probabilities (has_p=False)")
        size = size_vector(() if size is None else size, "choice")
        batch = tuple(_static_entries(size))
        static_pop = a.type.shape[0] if a.ndim else static_int(a)
        n_draws = int(np.prod(batch)) if all(b is not None for b in batch) else None
        if not self.replace and static_pop is not None and n_draws is not None and n_draws > static_pop:
            raise ValueError(f"choice: cannot take {n_draws} draws without replacement from a population of "
                             f"{static_pop}")
        out = TensorType(self.dtype, batch + tuple(a.type.shape[1:]))
        return Apply(self, [rng, size, *params], [rng.type(), out()])

    def rng_fn(self, rng, size, a, p=None):
        return rng.choice(a, size=size, replace=self.replace, p=p)

    def infer_shape(self, fgraph, node, input_shapes):
        size = node.inputs[1]
        static = node.outputs[1].type.shape
        n = size.type.shape[0]
        batch = tuple(static[i] if static[i] is not None else size[i] for i in range(n))
        return [(), batch + tuple(input_shapes[2][1:])]


class PermutationRV(RandomVariable):
    """permutation(x): a shuffled copy of `x` along its first axis, or a permutation of
    arange(x) for an integer `x` (NumPy's `permutation`).  C: not yet (perform)."""

    name = "permutation"
    param_names = ("x",)

    def make_node(self, rng: Any, size: Any, x: Any) -> Apply:
        rng = as_rng_variable(rng, "permutation")
        x = as_tensor_variable(x)
        if x.ndim == 0:
            if not is_integer_kind(x):
                raise TypeError(f"permutation: a 0-d x is a length and must be an integer, got {x.type}")
            if self.dtype != "int64":
                raise TypeError(f"permutation: permutations of arange(n) are int64, not {self.dtype}")
            n = static_int(x)
            if n is not None and n < 0:
                raise ValueError(f"permutation: negative length {n}")
            shape = (n,)
        else:
            if self.dtype != x.dtype:
                raise TypeError(f"permutation: the op's dtype {self.dtype} does not match x's {x.type}")
            shape = x.type.shape
        size = size_vector(() if size is None else size, "permutation")
        if size.type.shape[0] != 0:
            raise ValueError("permutation: takes no size (it permutes x as a whole)")
        return Apply(self, [rng, size, x], [rng.type(), TensorType(self.dtype, shape)()])

    def rng_fn(self, rng, size, x):
        return rng.permutation(x if np.ndim(x) else int(x))

    def infer_shape(self, fgraph, node, input_shapes):
        x = node.inputs[2]
        if x.type.ndim == 0:
            from kiln.tensor.math import cast

            n = node.outputs[1].type.shape[0]
            return [(), (n if n is not None else cast(x, "int64"),)]
        return [(), tuple(input_shapes[2])]


#: the distributions whose draws are differentiable w.r.t. their parameters (see
#: kiln/gradient/rules/random.py)
REPARAMETERIZABLE = (NormalRV, UniformRV)


# -- the draw functions ---------------------------------------------------------------
def _rng(rng: Any, who: str) -> Variable:
    if rng is None:
        from kiln.tensor.random.type import shared_generator

        return shared_generator(np.random.default_rng(), borrow=True)
    return as_rng_variable(rng, who)


def normal(loc: Any = 0.0, scale: Any = 1.0, size: Any = None, rng: Any = None, dtype: Any = None) -> Variable:
    """A normal draw with mean `loc` and standard deviation `scale` (dtype floatX by default).

    `rng`: a shared generator variable (its state is *not* updated unless it has a
    `default_update`, as RandomStream's have), a Generator, or None (a fresh unseeded one).

    >>> import numpy as np, kiln
    >>> r = kiln.shared(np.random.default_rng(0))
    >>> x = normal(0.0, 1.0, size=3, rng=r)
    >>> bool(np.allclose(x.eval(), np.random.default_rng(0).normal(size=3)))
    True
    """
    return NormalRV(_float_dtype(dtype))(_rng(rng, "normal"), size, loc, scale)


def uniform(low: Any = 0.0, high: Any = 1.0, size: Any = None, rng: Any = None, dtype: Any = None) -> Variable:
    """A uniform draw on [low, high) (dtype floatX by default).

    >>> import numpy as np
    >>> u = uniform(2.0, 3.0, size=(2,), rng=np.random.default_rng(1))
    >>> bool(np.all((2 <= u.eval()) & (u.eval() < 3)))
    True
    """
    return UniformRV(_float_dtype(dtype))(_rng(rng, "uniform"), size, low, high)


def integers(low: Any, high: Any = None, size: Any = None, rng: Any = None, dtype: Any = "int64") -> Variable:
    """Integers in [low, high), or in [0, low) when high is None (NumPy's `integers`).

    >>> import numpy as np
    >>> x = integers(5, size=4, rng=np.random.default_rng(0)).eval()
    >>> bool((x == np.random.default_rng(0).integers(5, size=4)).all())
    True
    """
    dt = dtypes.normalize(dtype)
    if np.dtype(dt).kind not in "iub":
        raise TypeError(f"integers: dtype must be an integer (or bool) dtype, got {dt}")
    if high is None:
        low, high = 0, low
    return IntegersRV(dt)(_rng(rng, "integers"), size, low, high)


def bernoulli(p: Any, size: Any = None, rng: Any = None, dtype: Any = "int64") -> Variable:
    """1 with probability p, 0 otherwise.

    >>> import numpy as np
    >>> bernoulli(np.array([0.0, 1.0]), rng=np.random.default_rng(0)).eval()
    array([0, 1])
    """
    return BernoulliRV(dtypes.normalize(dtype))(_rng(rng, "bernoulli"), size, p)


def binomial(n: Any, p: Any, size: Any = None, rng: Any = None, dtype: Any = "int64") -> Variable:
    """Successes among n trials of probability p.

    >>> import numpy as np
    >>> binomial(10, 1.0, size=2, rng=np.random.default_rng(0)).eval()
    array([10, 10])
    """
    return BinomialRV(dtypes.normalize(dtype))(_rng(rng, "binomial"), size, n, p)


def poisson(lam: Any = 1.0, size: Any = None, rng: Any = None, dtype: Any = "int64") -> Variable:
    """Poisson counts with rate `lam`.

    >>> import numpy as np
    >>> poisson(0.0, size=2, rng=np.random.default_rng(0)).eval()
    array([0, 0])
    """
    return PoissonRV(dtypes.normalize(dtype))(_rng(rng, "poisson"), size, lam)


def gamma(shape: Any, scale: Any = None, size: Any = None, rng: Any = None, dtype: Any = None,
          rate: Any = None) -> Variable:
    """Gamma draws with `shape` and `scale` (or `rate` = 1 / scale; scale 1 by default).

    >>> import numpy as np
    >>> g = gamma(2.0, 3.0, size=(2, 2), rng=np.random.default_rng(0))
    >>> bool(np.allclose(g.eval(), np.random.default_rng(0).gamma(2.0, 3.0, size=(2, 2))))
    True
    """
    if rate is not None and scale is not None:
        raise ValueError("gamma: give scale or rate, not both")
    if rate is not None:
        scale = 1.0 / as_tensor_variable(rate)
    return GammaRV(_float_dtype(dtype))(_rng(rng, "gamma"), size, shape, 1.0 if scale is None else scale)


def beta(a: Any, b: Any, size: Any = None, rng: Any = None, dtype: Any = None) -> Variable:
    """Beta(a, b) draws on [0, 1].

    >>> import numpy as np
    >>> x = beta(2.0, 5.0, size=3, rng=np.random.default_rng(0)).eval()
    >>> bool(np.all((0 <= x) & (x <= 1)))
    True
    """
    return BetaRV(_float_dtype(dtype))(_rng(rng, "beta"), size, a, b)


def dirichlet(alphas: Any, size: Any = None, rng: Any = None, dtype: Any = None) -> Variable:
    """Dirichlet draws; categories on the last axis of `alphas`, so the draw has shape
    ``size + (k,)``.

    >>> import numpy as np
    >>> d = dirichlet(np.ones(3), size=2, rng=np.random.default_rng(0)).eval()
    >>> d.shape, bool(np.allclose(d.sum(-1), 1))
    ((2, 3), True)
    """
    return DirichletRV(_float_dtype(dtype))(_rng(rng, "dirichlet"), size, alphas)


def multivariate_normal(mean: Any, cov: Any, size: Any = None, rng: Any = None, dtype: Any = None,
                        method: str = "svd") -> Variable:
    """Multivariate normal draws of shape ``size + (k,)`` (NumPy's method names; "svd" is
    NumPy's default).

    >>> import numpy as np
    >>> m = multivariate_normal(np.zeros(2), np.eye(2), size=5, rng=np.random.default_rng(0))
    >>> m.eval().shape
    (5, 2)
    """
    return MvNormalRV(_float_dtype(dtype), method)(_rng(rng, "multivariate_normal"), size, mean, cov)


def choice(a: Any, size: Any = None, replace: bool = True, p: Any = None, rng: Any = None) -> Variable:
    """Draws from `a` (an array, along its first axis, or arange(a) for an integer).

    >>> import numpy as np
    >>> choice(5, size=3, replace=False, rng=np.random.default_rng(0)).eval().shape
    (3,)
    """
    av = as_tensor_variable(a)
    dt = "int64" if av.ndim == 0 else av.dtype
    op = ChoiceRV(dt, replace, p is not None)
    r = _rng(rng, "choice")
    return op(r, size, av, p) if p is not None else op(r, size, av)


def permutation(x: Any, rng: Any = None) -> Variable:
    """A shuffled copy of `x` along its first axis, or a permutation of arange(x).

    >>> import numpy as np
    >>> sorted(permutation(4, rng=np.random.default_rng(0)).eval().tolist())
    [0, 1, 2, 3]
    """
    xv = as_tensor_variable(x)
    dt = "int64" if xv.ndim == 0 else xv.dtype
    return PermutationRV(dt)(_rng(rng, "permutation"), None, xv)
