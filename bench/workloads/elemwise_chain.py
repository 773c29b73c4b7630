"""A chain of elementwise functions over 1e6 float64 values (memory traffic and loop fusion)."""
import numpy as np

from bench.workloads import Workload, register

N = 1_000_000


def _numpy():
    def f(x):
        return np.exp(-x ** 2) * np.sin(3 * x) + np.log1p(x ** 2) / (1 + np.tanh(x))
    return f


def _kiln():
    import kiln
    import kiln.tensor as kt

    x = kt.dvector("x")
    y = kt.exp(-x ** 2) * kt.sin(3 * x) + kt.log1p(x ** 2) / (1 + kt.tanh(x))
    return kiln.function([x], y)


def _pytensor():
    import pytensor
    import pytensor.tensor as pt

    x = pt.dvector("x")
    y = pt.exp(-x ** 2) * pt.sin(3 * x) + pt.log1p(x ** 2) / (1 + pt.tanh(x))
    return pytensor.function([x], y)


def _jax():
    import jax
    import jax.numpy as jnp

    return jax.jit(lambda x: jnp.exp(-x ** 2) * jnp.sin(3 * x) + jnp.log1p(x ** 2) / (1 + jnp.tanh(x)))


def _torch():
    import torch

    def f(x):
        return torch.exp(-x ** 2) * torch.sin(3 * x) + torch.log1p(x ** 2) / (1 + torch.tanh(x))
    return f


register(Workload(
    name="elemwise_chain",
    description="exp(-x**2)*sin(3x) + log1p(x**2)/(1+tanh(x)) over 1e6 float64",
    # values in [-0.9, 3] keep 1 + tanh(x) away from 0, so every peer's result is well conditioned
    make_inputs=lambda rng: (rng.uniform(-0.9, 3.0, size=N),),
    builders={"kiln": _kiln, "numpy": _numpy, "pytensor": _pytensor, "jax": _jax, "torch": _torch},
    metrics=("call", "compile"),
    rtol=1e-10,
))
