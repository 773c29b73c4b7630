"""A Hessian-vector product (issue 6): H v for f(x) = sum(tanh(A x)^2), A 1000x1000 float64.

The NumPy reference is the closed form: with u = A x and t = tanh(u), the gradient is
A^T (2 t (1 - t^2)) and H v = A^T ((2 - 6 t^2)(1 - t^2) * (A v)). The frameworks get it by
differentiating twice (kiln and PyTensor: the gradient of <grad f, v>; JAX: forward over reverse;
PyTorch: double backward).
"""
import numpy as np

from bench.workloads import Workload, register

N = 1000


def _inputs(rng):
    return rng.normal(size=(N, N)) / np.sqrt(N), rng.normal(size=N), rng.normal(size=N)


def _numpy():
    def f(A, x, v):
        t = np.tanh(A @ x)
        return A.T @ ((2 - 6 * t ** 2) * (1 - t ** 2) * (A @ v))
    return f


def _kiln():
    import kiln
    import kiln.tensor as kt

    A, x, v = kt.dmatrix("A"), kt.dvector("x"), kt.dvector("v")
    cost = kt.sum(kt.tanh(kt.dot(A, x)) ** 2)
    g = kiln.grad(cost, x)
    return kiln.function([A, x, v], kiln.grad(kt.sum(g * v), x))


def _pytensor():
    import pytensor
    import pytensor.tensor as pt

    A, x, v = pt.dmatrix("A"), pt.dvector("x"), pt.dvector("v")
    cost = pt.sum(pt.tanh(pt.dot(A, x)) ** 2)
    g = pytensor.grad(cost, x)
    return pytensor.function([A, x, v], pytensor.grad(pt.sum(g * v), x))


def _jax():
    import jax
    import jax.numpy as jnp

    def cost(x, A):
        return jnp.sum(jnp.tanh(A @ x) ** 2)

    @jax.jit
    def hvp(A, x, v):
        return jax.jvp(lambda x_: jax.grad(cost)(x_, A), (x,), (v,))[1]
    return hvp


def _torch():
    import torch

    def f(A, x, v):
        x = x.detach().requires_grad_(True)
        cost = torch.sum(torch.tanh(A @ x) ** 2)
        (g,) = torch.autograd.grad(cost, x, create_graph=True)
        (hv,) = torch.autograd.grad(g @ v, x)
        return hv
    return f


register(Workload(
    name="hvp",
    description=f"Hessian-vector product of sum(tanh(A x)^2), A {N}x{N} float64",
    make_inputs=_inputs,
    builders={"kiln": _kiln, "numpy": _numpy, "pytensor": _pytensor, "jax": _jax, "torch": _torch},
    metrics=("call", "compile"),
    rtol=1e-9,
))
