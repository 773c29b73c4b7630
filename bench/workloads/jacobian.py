"""A full Jacobian (not a target of issue 6; measured beside the peers): d/dx of tanh(W x)^2 for
W 200x200 float64, one vector-Jacobian product per row.

The NumPy reference is the closed form (2 t (1 - t^2))[:, None] * W with t = tanh(W x).  kiln and
PyTensor: `jacobian` (kiln: a Map over the rows of an identity, its inner graph compiled in the
function's mode; PyTensor: a scan); JAX: `jax.jacrev` (vmap of the vector-Jacobian product);
PyTorch: `torch.autograd.functional.jacobian` (vectorize=True: vmap).
"""
import numpy as np

from bench.workloads import Workload, register

N = 200


def _inputs(rng):
    return rng.normal(size=(N, N)) / np.sqrt(N), rng.normal(size=N)


def _numpy():
    def f(W, x):
        t = np.tanh(W @ x)
        return (2 * t * (1 - t ** 2))[:, None] * W
    return f


def _kiln():
    import kiln
    import kiln.tensor as kt

    W, x = kt.dmatrix("W"), kt.dvector("x")
    return kiln.function([W, x], kiln.gradient.jacobian(kt.tanh(kt.dot(W, x)) ** 2, x))


def _pytensor():
    import pytensor
    import pytensor.tensor as pt

    W, x = pt.dmatrix("W"), pt.dvector("x")
    return pytensor.function([W, x], pytensor.gradient.jacobian(pt.tanh(pt.dot(W, x)) ** 2, x))


def _jax():
    import jax
    import jax.numpy as jnp

    return jax.jit(jax.jacrev(lambda W, x: jnp.tanh(W @ x) ** 2, argnums=1))


def _torch():
    import torch

    def f(W, x):
        return torch.autograd.functional.jacobian(lambda x_: torch.tanh(W @ x_) ** 2, x, vectorize=True)
    return f


register(Workload(
    name="jacobian",
    description=f"full Jacobian of tanh(W x)^2 w.r.t. x, W {N}x{N} float64 (vector-Jacobian product per row)",
    make_inputs=_inputs,
    builders={"kiln": _kiln, "numpy": _numpy, "pytensor": _pytensor, "jax": _jax, "torch": _torch},
    metrics=("call", "compile"),
    rtol=1e-9,
))
