"""A reparameterized normal draw and its gradient (the random-streams workload of issue 5):
x = normal(mu, exp(log_sigma)) drawn from a fixed generator state, cost = sum(tanh(x)), and
d cost / d (mu, log_sigma) through the draw.

Every peer draws from ``np.random.default_rng(0)`` anew each call, so all compute the same
numbers; JAX and PyTorch have their own generators (different streams), so they are not
compared here.  PyTensor's random variables have no parameter gradient, so its builder writes
the reparameterization by hand (mu + sigma * standard normal), which NumPy's `normal` computes
identically.
"""
import numpy as np

from bench.workloads import Workload, register

ROWS, DIM = 500, 100


def _numpy():
    def f(mu, log_sigma):
        z = np.random.default_rng(0).normal(size=(ROWS, DIM))
        s = np.exp(log_sigma)
        t = np.tanh(mu + s * z)
        d = 1 - t ** 2
        return [t.sum(), d.sum(0), (d * z).sum(0) * s]
    return f


def _kiln():
    import kiln
    import kiln.tensor as kt
    from kiln.tensor.random import normal

    mu, ls = kt.dvector("mu"), kt.dvector("log_sigma")
    r = kiln.shared(np.random.default_rng(0))  # no default update: the same state every call
    x = normal(mu, kt.exp(ls), size=(ROWS, DIM), rng=r)
    cost = kt.tanh(x).sum()
    return kiln.function([mu, ls], [cost, *kiln.grad(cost, [mu, ls])])


def _pytensor():
    import pytensor
    import pytensor.tensor as pt

    mu, ls = pt.dvector("mu"), pt.dvector("log_sigma")
    r = pytensor.shared(np.random.default_rng(0))
    z = pt.random.normal(0.0, 1.0, size=(ROWS, DIM), rng=r)
    cost = pt.tanh(mu + pt.exp(ls) * z).sum()
    return pytensor.function([mu, ls], [cost, *pytensor.grad(cost, [mu, ls])])


def _inputs(rng):
    return rng.normal(size=DIM), rng.normal(scale=0.3, size=DIM)


register(Workload(
    name="random_reparam",
    description=f"normal(mu, exp(log_sigma)) of shape ({ROWS}, {DIM}) from a fixed state, "
                f"sum(tanh) and its gradient through the draw",
    make_inputs=_inputs,
    builders={"kiln": _kiln, "numpy": _numpy, "pytensor": _pytensor},
    metrics=("call", "compile"),
    rtol=1e-9,
))
