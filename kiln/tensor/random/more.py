"""More scalar distributions with PyTensor's names and parameters, as one table.

Each row names the distribution, its parameters (with PyTensor's defaults), whether the
draws are float (dtype floatX by default) or int64, and a sampler over NumPy's Generator.
One `RandomVariable` subclass and one draw function are made per row, and `RandomStream`
gets a method of the same name (kiln.tensor.random.stream).  Where NumPy has the
distribution, the numbers are exactly NumPy's for the same generator state; the others are
built from NumPy draws by the usual transformation (e.g. cauchy = loc + scale *
standard_cauchy), so they follow the right law but not SciPy's particular stream.

>>> import numpy as np
>>> x = exponential(2.0, size=3, rng=np.random.default_rng(0)).eval()
>>> bool(np.allclose(x, np.random.default_rng(0).exponential(2.0, size=3)))
True
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from kiln.graph.basic import Variable
from kiln.scalar import dtypes
from kiln.tensor.random.basic import _float_dtype, _rng
from kiln.tensor.random.op import RandomVariable

__all__ = ["DISTRIBUTIONS", "Distribution"]

_REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Distribution:
    """One row: `params` are (name, default or None when required); `sample(rng, size, *p)`."""

    name: str
    params: tuple[tuple[str, Any], ...]
    kind: str                     # "float" or "int"
    sample: Callable[..., Any]
    doc: str


def _p(*names: str) -> tuple[tuple[str, Any], ...]:
    return tuple((n.split("=")[0], float(n.split("=")[1]) if "=" in n else _REQUIRED) for n in names)


def _size(size: Any, *params: Any) -> Any:
    """`size`, or without one the broadcast shape of the parameters: one independent draw
    per element even where the draw comes from a parameter-free NumPy call."""
    return size if size is not None else np.broadcast_shapes(*[np.shape(p) for p in params])


DISTRIBUTIONS: tuple[Distribution, ...] = (
    Distribution("standard_normal", (), "float", lambda r, s: r.standard_normal(size=s),
                 "standard normal draws (NumPy's `standard_normal`)"),
    Distribution("exponential", _p("scale=1.0"), "float", lambda r, s, sc: r.exponential(sc, size=s),
                 "exponential draws with mean `scale` (NumPy's `exponential`)"),
    Distribution("lognormal", _p("mean=0.0", "sigma=1.0"), "float",
                 lambda r, s, m, sg: r.lognormal(m, sg, size=s),
                 "exp of normal(mean, sigma) draws (NumPy's `lognormal`)"),
    Distribution("laplace", _p("loc=0.0", "scale=1.0"), "float", lambda r, s, l, sc: r.laplace(l, sc, size=s),
                 "Laplace (double exponential) draws (NumPy's `laplace`)"),
    Distribution("gumbel", _p("loc=0.0", "scale=1.0"), "float", lambda r, s, l, sc: r.gumbel(l, sc, size=s),
                 "Gumbel (extreme value type I) draws (NumPy's `gumbel`)"),
    Distribution("logistic", _p("loc=0.0", "scale=1.0"), "float", lambda r, s, l, sc: r.logistic(l, sc, size=s),
                 "logistic draws (NumPy's `logistic`)"),
    Distribution("cauchy", _p("loc=0.0", "scale=1.0"), "float",
                 lambda r, s, l, sc: l + sc * r.standard_cauchy(size=s),
                 "Cauchy draws: loc + scale * NumPy's `standard_cauchy`"),
    Distribution("halfcauchy", _p("loc=0.0", "scale=1.0"), "float",
                 lambda r, s, l, sc: l + sc * np.abs(r.standard_cauchy(size=s)),
                 "half-Cauchy draws: loc + scale * |standard Cauchy|"),
    Distribution("halfnormal", _p("loc=0.0", "scale=1.0"), "float",
                 lambda r, s, l, sc: l + sc * np.abs(r.standard_normal(size=s)),
                 "half-normal draws: loc + scale * |standard normal|"),
    Distribution("t", _p("df", "loc=0.0", "scale=1.0"), "float",
                 lambda r, s, df, l, sc: l + sc * r.standard_t(df, size=s),
                 "Student's t draws with `df` degrees of freedom: loc + scale * NumPy's `standard_t`"),
    Distribution("chisquare", _p("df"), "float", lambda r, s, df: r.chisquare(df, size=s),
                 "chi-square draws (NumPy's `chisquare`)"),
    Distribution("vonmises", _p("mu", "kappa"), "float", lambda r, s, mu, k: r.vonmises(mu, k, size=s),
                 "von Mises draws on [-pi, pi] (NumPy's `vonmises`)"),
    Distribution("weibull", _p("shape"), "float", lambda r, s, a: r.weibull(a, size=s),
                 "Weibull draws with scale 1 (NumPy's `weibull`)"),
    Distribution("triangular", _p("left", "mode", "right"), "float",
                 lambda r, s, lo, m, hi: r.triangular(lo, m, hi, size=s),
                 "triangular draws on [left, right] (NumPy's `triangular`)"),
    Distribution("wald", _p("mean", "scale"), "float", lambda r, s, m, sc: r.wald(m, sc, size=s),
                 "Wald (inverse Gaussian) draws (NumPy's `wald`)"),
    Distribution("pareto", _p("b", "scale=1.0"), "float", lambda r, s, b, sc: sc * (1.0 + r.pareto(b, size=s)),
                 "Pareto draws on [scale, inf) (SciPy's `pareto(b, scale=scale)` law: scale * (1 + NumPy's "
                 "Lomax `pareto`))"),
    Distribution("invgamma", _p("shape", "scale=1.0"), "float", lambda r, s, a, sc: sc / r.gamma(a, 1.0, size=s),
                 "inverse-gamma draws: scale / gamma(shape, 1)"),
    Distribution("geometric", _p("p"), "int", lambda r, s, p: r.geometric(p, size=s),
                 "geometric draws (trials until the first success, >= 1; NumPy's `geometric`)"),
    Distribution("negative_binomial", _p("n", "p"), "int", lambda r, s, n, p: r.negative_binomial(n, p, size=s),
                 "negative binomial draws (failures before n successes; NumPy's `negative_binomial`)"),
    Distribution("hypergeometric", _p("ngood", "nbad", "nsample"), "int",
                 lambda r, s, g, b, n: r.hypergeometric(g, b, n, size=s),
                 "hypergeometric draws (NumPy's `hypergeometric`)"),
    Distribution("betabinom", _p("n", "a", "b"), "int",
                 lambda r, s, n, a, b: r.binomial(n, r.beta(a, b, size=s), size=s),
                 "beta-binomial draws: binomial(n, p) with p ~ beta(a, b)"),
    # PyTensor's alias of negative_binomial (its own op here; the same numbers)
    Distribution("nbinom", _p("n", "p"), "int", lambda r, s, n, p: r.negative_binomial(n, p, size=s),
                 "negative binomial draws (PyTensor's alias of `negative_binomial`)"),
    Distribution("gengamma", _p("alpha=1.0", "p=1.0", "lambd=1.0"), "float",
                 lambda r, s, a, p, lam: lam * r.gamma(np.divide(a, p), 1.0, size=_size(s, a, p, lam))
                 ** np.divide(1.0, p),
                 "generalized gamma draws, density p x^(alpha-1) exp(-(x/lambd)^p) / (lambd^alpha "
                 "Gamma(alpha/p)) (SciPy's `gengamma(alpha/p, p, scale=lambd)` law): lambd * G^(1/p) "
                 "with G ~ gamma(alpha/p, 1)"),
    Distribution("truncexpon", _p("b", "loc=0.0", "scale=1.0"), "float",
                 lambda r, s, b, loc, sc: loc - sc * np.log1p(r.uniform(size=_size(s, b, loc, sc))
                                                              * np.expm1(-np.asarray(b, dtype=float))),
                 "exponential draws truncated to [loc, loc + b * scale] (SciPy's `truncexpon(b, loc, scale)` "
                 "law, by inverting its CDF)"),
)


def _make(dist: Distribution) -> tuple[type, Callable[..., Variable]]:
    names = tuple(n for n, _ in dist.params)

    def rng_fn(self, rng, size, *params):
        return dist.sample(rng, size, *params)

    cls = type(f"{''.join(w.capitalize() for w in dist.name.split('_'))}RV", (RandomVariable,), {
        "__doc__": f"{dist.name}({', '.join(names)}): {dist.doc}.  C: not yet (perform).",
        "__module__": __name__, "name": dist.name, "ndims_params": (0,) * len(names),
        "param_names": names, "rng_fn": rng_fn})
    integer = dist.kind == "int"

    def draw(*args: Any, size: Any = None, rng: Any = None, dtype: Any = None, **kwargs: Any) -> Variable:
        bound = sig.bind(*args, size=size, rng=rng, dtype=dtype, **kwargs)
        bound.apply_defaults()
        params = [bound.arguments[n] for n in names]
        dt = dtypes.normalize("int64" if dtype is None else dtype) if integer else _float_dtype(dtype)
        return cls(dt)(_rng(rng, dist.name), size, *params)

    kw = inspect.Parameter.KEYWORD_ONLY
    sig = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=d) for n, d in dist.params]
        + [inspect.Parameter("size", kw, default=None), inspect.Parameter("rng", kw, default=None),
           inspect.Parameter("dtype", kw, default=None)])
    draw.__signature__ = sig
    draw.__name__ = draw.__qualname__ = dist.name
    draw.__module__ = __name__
    draw.__doc__ = (f"{dist.doc[0].upper()}{dist.doc[1:]}; dtype {'int64' if integer else 'floatX'} by default.  "
                    "`rng` and `size` as for kiln.tensor.random.normal.")
    return cls, draw


for _dist in DISTRIBUTIONS:
    _cls, _draw = _make(_dist)
    globals()[_cls.__name__] = _cls
    globals()[_dist.name] = _draw
    __all__ += [_cls.__name__, _dist.name]
del _dist, _cls, _draw


# -- vector-parameter distributions ---------------------------------------------------
class CategoricalRV(RandomVariable):
    """categorical(p): an index drawn with probabilities `p` (categories on the last axis;
    batches of p broadcast with `size`), by inverting the cumulative sum at a uniform draw.
    C: not yet (perform)."""

    name = "categorical"
    ndims_params = (1,)
    param_names = ("p",)

    def rng_fn(self, rng, size, p):
        p = np.asarray(p, dtype="float64")
        u = rng.uniform(size=size)
        cdf = np.cumsum(p, axis=-1)
        cdf = cdf / cdf[..., -1:]   # rounding of the sum must not leave the last category out
        idx = (np.broadcast_to(cdf, np.shape(u) + p.shape[-1:]) <= u[..., None]).sum(axis=-1)
        return np.minimum(idx, p.shape[-1] - 1)


class MultinomialRV(RandomVariable):
    """multinomial(n, p): counts of `n` draws over the categories of `p` (last axis; batches
    of n and p broadcast with `size`), NumPy's `multinomial`.  C: not yet (perform)."""

    name = "multinomial"
    ndim_supp = 1
    ndims_params = (0, 1)
    param_names = ("n", "p")

    def supp_static(self, params):
        return (params[1].type.shape[-1],)

    def supp_shape(self, node, param_shapes):
        return (param_shapes[1][-1],)

    def rng_fn(self, rng, size, n, p):
        return rng.multinomial(n, p, size=size)


def categorical(p: Any, size: Any = None, rng: Any = None, dtype: Any = "int64") -> Variable:
    """Category indices drawn with probabilities `p` (on its last axis).

    >>> import numpy as np
    >>> categorical(np.array([0.0, 1.0, 0.0]), size=2, rng=np.random.default_rng(0)).eval()
    array([1, 1])
    """
    return CategoricalRV(dtypes.normalize(dtype))(_rng(rng, "categorical"), size, p)


def multinomial(n: Any, p: Any, size: Any = None, rng: Any = None, dtype: Any = "int64") -> Variable:
    """Counts of `n` draws over the categories of `p`; the draw has shape ``size + (k,)``.

    >>> import numpy as np
    >>> multinomial(5, np.array([0.0, 1.0]), rng=np.random.default_rng(0)).eval()
    array([0, 5])
    """
    return MultinomialRV(dtypes.normalize(dtype))(_rng(rng, "multinomial"), size, n, p)


__all__ += ["CategoricalRV", "MultinomialRV", "categorical", "multinomial"]
