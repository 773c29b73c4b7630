"""RandomStream: a seeded source of independent draws (PyTensor's `RandomStream`).

Each method call creates its own shared generator, seeded from the stream's
`numpy.random.SeedSequence` (the k-th call uses ``SeedSequence(seed).spawn(k + 1)[k]``),
and sets its `default_update` to the draw's next state, so:

- every compiled function that reads a draw advances that draw's generator after each
  call (new numbers each call) unless the user updates it explicitly or passes
  ``no_default_updates``;
- two draws of one stream use different generators, so they are independent;
- two streams with the same seed give the same draws, in the same order of calls, across
  runs; `seed(new)` reseeds every generator the stream made, in creation order.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np

from kiln.graph.basic import Variable
from kiln.tensor.random import basic as rb
from kiln.tensor.random import more as rm
from kiln.tensor.random.type import RandomGeneratorSharedVariable, shared_generator

__all__ = ["RandomStream"]


class RandomStream:
    """A stream of random draws with PyTensor's `RandomStream` API and NumPy Generator
    semantics.

    >>> import numpy as np, kiln
    >>> srng = RandomStream(seed=42)
    >>> x = srng.normal(0.0, 1.0, size=(3,))
    >>> f = kiln.function([], x)
    >>> a, b = f(), f()
    >>> bool(np.any(a != b))       # each call draws anew
    True
    >>> ref = np.random.default_rng(np.random.SeedSequence(42).spawn(1)[0])
    >>> bool(np.allclose(a, ref.normal(size=3)))
    True
    """

    def __init__(self, seed: int | None = None, namespace: Any = None,
                 rng_ctor: Callable[[Any], np.random.Generator] = np.random.default_rng):
        self.default_instance_seed = seed
        self.rng_ctor = rng_ctor
        self.namespace = namespace
        self.gen_seedgen = np.random.SeedSequence(seed)
        #: (shared generator, its next-state expression) per draw, in creation order
        self.state_updates: list[tuple[RandomGeneratorSharedVariable, Variable]] = []

    # -- the machinery ----------------------------------------------------------------
    def seed(self, seed: int | None = None) -> None:
        """Reseed every generator this stream made (and the ones it will make) from `seed`
        (None: the stream's own seed again), exactly as a new `RandomStream(seed)` making the
        same draws in the same order.

        >>> import kiln
        >>> s = RandomStream(1); x = s.uniform(size=2); f = kiln.function([], x)
        >>> a = f(); s.seed(1); bool((f() == a).all())
        True
        """
        if seed is None:
            seed = self.default_instance_seed
        self.gen_seedgen = np.random.SeedSequence(seed)
        children = self.gen_seedgen.spawn(len(self.state_updates))
        for (old_r, _), child in zip(self.state_updates, children):
            old_r.set_value(self.rng_ctor(child), borrow=True)

    def __setstate__(self, state: dict) -> None:
        # generators do not pickle their default_update (see RandomGeneratorSharedVariable);
        # the stream knows them, so an unpickled stream's draws keep updating
        self.__dict__.update(state)
        for r, new_r in self.state_updates:
            r.default_update = new_r

    def updates(self) -> list[tuple[RandomGeneratorSharedVariable, Variable]]:
        """The (generator, next state) pairs of every draw made so far (for explicit updates)."""
        return list(self.state_updates)

    def gen(self, draw_fn: Callable[..., Variable], *args: Any, **kwargs: Any) -> Variable:
        """Make a draw with `draw_fn` (one of kiln.tensor.random's draw functions) on a new
        generator of this stream, and register its state update."""
        if "rng" in kwargs:
            raise ValueError("RandomStream: the stream provides the generator; do not pass rng=")
        (child,) = self.gen_seedgen.spawn(1)
        rng = shared_generator(self.rng_ctor(child), borrow=True)
        rng.tag["seed"] = child
        out = draw_fn(*args, rng=rng, **kwargs)
        new_rng = out.owner.outputs[0]
        rng.default_update = new_rng
        self.state_updates.append((rng, new_rng))
        return out

    # -- the distributions ------------------------------------------------------------
    def normal(self, loc: Any = 0.0, scale: Any = 1.0, size: Any = None, dtype: Any = None) -> Variable:
        """Normal draws (see kiln.tensor.random.normal)."""
        return self.gen(rb.normal, loc, scale, size=size, dtype=dtype)

    def uniform(self, low: Any = 0.0, high: Any = 1.0, size: Any = None, dtype: Any = None) -> Variable:
        """Uniform draws on [low, high) (see kiln.tensor.random.uniform)."""
        return self.gen(rb.uniform, low, high, size=size, dtype=dtype)

    def integers(self, low: Any, high: Any = None, size: Any = None, dtype: Any = "int64") -> Variable:
        """Integers in [low, high), or [0, low) (see kiln.tensor.random.integers)."""
        return self.gen(rb.integers, low, high, size=size, dtype=dtype)

    def choice(self, a: Any, size: Any = None, replace: bool = True, p: Any = None) -> Variable:
        """Draws from a population (see kiln.tensor.random.choice)."""
        return self.gen(rb.choice, a, size=size, replace=replace, p=p)

    def permutation(self, x: Any) -> Variable:
        """A random permutation (see kiln.tensor.random.permutation)."""
        return self.gen(rb.permutation, x)

    def bernoulli(self, p: Any, size: Any = None, dtype: Any = "int64") -> Variable:
        """Bernoulli draws (see kiln.tensor.random.bernoulli)."""
        return self.gen(rb.bernoulli, p, size=size, dtype=dtype)

    def binomial(self, n: Any, p: Any, size: Any = None, dtype: Any = "int64") -> Variable:
        """Binomial draws (see kiln.tensor.random.binomial)."""
        return self.gen(rb.binomial, n, p, size=size, dtype=dtype)

    def poisson(self, lam: Any = 1.0, size: Any = None, dtype: Any = "int64") -> Variable:
        """Poisson draws (see kiln.tensor.random.poisson)."""
        return self.gen(rb.poisson, lam, size=size, dtype=dtype)

    def gamma(self, shape: Any, scale: Any = None, size: Any = None, dtype: Any = None, rate: Any = None) -> Variable:
        """Gamma draws (see kiln.tensor.random.gamma)."""
        return self.gen(rb.gamma, shape, scale, size=size, dtype=dtype, rate=rate)

    def beta(self, a: Any, b: Any, size: Any = None, dtype: Any = None) -> Variable:
        """Beta draws (see kiln.tensor.random.beta)."""
        return self.gen(rb.beta, a, b, size=size, dtype=dtype)

    def dirichlet(self, alphas: Any, size: Any = None, dtype: Any = None) -> Variable:
        """Dirichlet draws (see kiln.tensor.random.dirichlet)."""
        return self.gen(rb.dirichlet, alphas, size=size, dtype=dtype)

    def multivariate_normal(self, mean: Any, cov: Any, size: Any = None, dtype: Any = None,
                            method: str = "svd") -> Variable:
        """Multivariate normal draws (see kiln.tensor.random.multivariate_normal)."""
        return self.gen(rb.multivariate_normal, mean, cov, size=size, dtype=dtype, method=method)


def _stream_method(dist: "rm.Distribution") -> Callable[..., Variable]:
    """RandomStream.<name>: the table's draw function on a new generator of the stream."""
    draw = getattr(rm, dist.name)

    def method(self, *args: Any, **kwargs: Any) -> Variable:
        return self.gen(draw, *args, **kwargs)

    sig = inspect.signature(draw)
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    method.__signature__ = sig.replace(parameters=[self_param] + [p for n, p in sig.parameters.items() if n != "rng"])
    method.__name__ = dist.name
    method.__qualname__ = f"RandomStream.{dist.name}"
    method.__doc__ = f"{draw.__doc__.split(';')[0]} (see kiln.tensor.random.{dist.name})."
    return method


def _categorical(self, p: Any, size: Any = None, dtype: Any = "int64") -> Variable:
    """Category indices drawn with probabilities p (see kiln.tensor.random.categorical)."""
    return self.gen(rm.categorical, p, size=size, dtype=dtype)


def _multinomial(self, n: Any, p: Any, size: Any = None, dtype: Any = "int64") -> Variable:
    """Counts of n draws over the categories of p (see kiln.tensor.random.multinomial)."""
    return self.gen(rm.multinomial, n, p, size=size, dtype=dtype)


RandomStream.categorical, RandomStream.multinomial = _categorical, _multinomial
_categorical.__qualname__, _multinomial.__qualname__ = "RandomStream.categorical", "RandomStream.multinomial"
_categorical.__name__, _multinomial.__name__ = "categorical", "multinomial"

# the table-driven distributions of kiln.tensor.random.more
for _dist in rm.DISTRIBUTIONS:
    setattr(RandomStream, _dist.name, _stream_method(_dist))
del _dist
