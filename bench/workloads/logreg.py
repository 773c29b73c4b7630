"""Logistic regression (issue 6): the mean cross-entropy cost of 10000 examples with 100
features and its gradient with respect to the weights and the bias (two matrix-vector products
and a few elementwise passes).

The cost is written as mean(softplus(z) - y z) with z = X w + b, the numerically stable form of
-mean(y log p + (1 - y) log(1 - p)), in every framework.
"""
import numpy as np

from bench.workloads import Workload, register

N, D = 10_000, 100


def _inputs(rng):
    X = rng.normal(size=(N, D))
    w_true = rng.normal(size=D)
    y = (X @ w_true + rng.normal(size=N) > 0).astype(np.float64)
    return X, y, 0.1 * rng.normal(size=D), np.array(0.05)


def _numpy():
    def f(X, y, w, b):
        z = X @ w + b
        cost = np.mean(np.logaddexp(0.0, z) - y * z)
        r = (1.0 / (1.0 + np.exp(-z)) - y) / N
        return [cost, X.T @ r, r.sum()]
    return f


def _kiln():
    import kiln
    import kiln.tensor as kt

    X, y, w, b = kt.dmatrix("X"), kt.dvector("y"), kt.dvector("w"), kt.dscalar("b")
    z = kt.dot(X, w) + b
    cost = kt.mean(kt.softplus(z) - y * z)
    return kiln.function([X, y, w, b], [cost, *kiln.grad(cost, [w, b])])


def _pytensor():
    import pytensor
    import pytensor.tensor as pt

    X, y, w, b = pt.dmatrix("X"), pt.dvector("y"), pt.dvector("w"), pt.dscalar("b")
    z = pt.dot(X, w) + b
    cost = pt.mean(pt.softplus(z) - y * z)
    return pytensor.function([X, y, w, b], [cost, *pytensor.grad(cost, [w, b])])


def _jax():
    import jax
    import jax.numpy as jnp

    def cost(w, b, X, y):
        z = X @ w + b
        return jnp.mean(jax.nn.softplus(z) - y * z)

    vg = jax.jit(jax.value_and_grad(cost, argnums=(0, 1)))

    def f(X, y, w, b):
        c, (gw, gb) = vg(w, b, X, y)
        return [c, gw, gb]
    return f


def _torch():
    import torch

    def f(X, y, w, b):
        w = w.detach().requires_grad_(True)
        b = b.detach().requires_grad_(True)
        z = X @ w + b
        cost = torch.mean(torch.nn.functional.softplus(z) - y * z)
        gw, gb = torch.autograd.grad(cost, [w, b])
        return [cost.detach(), gw, gb]
    return f


register(Workload(
    name="logreg_grad",
    description=f"logistic-regression cost and gradient (w, b), X {N}x{D} float64",
    make_inputs=_inputs,
    builders={"kiln": _kiln, "numpy": _numpy, "pytensor": _pytensor, "jax": _jax, "torch": _torch},
    metrics=("call", "compile"),
    rtol=1e-9,
))
