"""Gaussian-process marginal log-likelihood and its gradient w.r.t. the covariance parameters:
a cholesky of a 200x200 squared-exponential covariance, a triangular solve, a log-determinant,
and reverse mode through all three -- the linear-algebra workload of issue 5."""
import numpy as np

from bench.workloads import Workload, register

N, D = 200, 3
LOG2PI = float(np.log(2 * np.pi))


def _inputs(rng):
    X = rng.normal(size=(N, D))
    y = np.sin(X.sum(axis=1)) + 0.1 * rng.normal(size=N)
    theta = np.array([0.3, 0.2, -2.0])        # log amplitude, log length-scale, log noise
    return X, y, theta


def _numpy():
    import scipy.linalg as sla

    def f(X, y, theta):
        amp2, ls, noise = np.exp(2 * theta[0]), np.exp(theta[1]), np.exp(theta[2])
        d2 = np.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
        E = np.exp(-0.5 * d2 / ls ** 2)
        K = amp2 * E + noise * np.eye(N)
        L = np.linalg.cholesky(K)
        a = sla.solve_triangular(L, y, lower=True)
        logp = -0.5 * a @ a - np.log(np.diag(L)).sum() - 0.5 * N * LOG2PI
        # d logp / d theta_j = 1/2 tr((alpha alpha^T - K^-1) dK/dtheta_j)
        alpha = sla.solve_triangular(L, a, lower=True, trans="T")
        Kinv = sla.cho_solve((L, True), np.eye(N))
        W = np.outer(alpha, alpha) - Kinv
        dK = [2 * amp2 * E, amp2 * E * d2 / ls ** 2, noise * np.eye(N)]
        return [logp, np.array([0.5 * np.sum(W * g) for g in dK])]
    return f


def _kiln():
    import kiln
    import kiln.tensor as kt

    X, y, theta = kt.dmatrix("X"), kt.dvector("y"), kt.dvector("theta")
    amp2, ls, noise = kt.exp(2 * theta[0]), kt.exp(theta[1]), kt.exp(theta[2])
    d2 = kt.sum((X.dimshuffle(0, "x", 1) - X.dimshuffle("x", 0, 1)) ** 2, axis=-1)
    K = amp2 * kt.exp(-0.5 * d2 / ls ** 2) + noise * kt.eye(X.shape[0])
    L = kt.linalg.cholesky(K)
    a = kt.linalg.solve_triangular(L, y, lower=True)
    logp = -0.5 * kt.sum(a ** 2) - kt.sum(kt.log(kt.einsum("ii->i", L))) - 0.5 * N * LOG2PI
    return kiln.function([X, y, theta], [logp, kiln.grad(logp, theta)])


def _pytensor():
    import pytensor
    import pytensor.tensor as pt
    from pytensor.tensor.linalg import cholesky, solve_triangular

    X, y, theta = pt.dmatrix("X"), pt.dvector("y"), pt.dvector("theta")
    amp2, ls, noise = pt.exp(2 * theta[0]), pt.exp(theta[1]), pt.exp(theta[2])
    d2 = pt.sum((X.dimshuffle(0, "x", 1) - X.dimshuffle("x", 0, 1)) ** 2, axis=-1)
    K = amp2 * pt.exp(-0.5 * d2 / ls ** 2) + noise * pt.eye(X.shape[0])
    L = cholesky(K, lower=True)
    a = solve_triangular(L, y, lower=True)
    logp = -0.5 * pt.sum(a ** 2) - pt.sum(pt.log(pt.diagonal(L))) - 0.5 * N * LOG2PI
    return pytensor.function([X, y, theta], [logp, pytensor.grad(logp, theta)])


def _jax():
    import jax
    import jax.numpy as jnp
    import jax.scipy.linalg as jsl

    def logp(theta, X, y):
        amp2, ls, noise = jnp.exp(2 * theta[0]), jnp.exp(theta[1]), jnp.exp(theta[2])
        d2 = jnp.sum((X[:, None, :] - X[None, :, :]) ** 2, axis=-1)
        K = amp2 * jnp.exp(-0.5 * d2 / ls ** 2) + noise * jnp.eye(X.shape[0])
        L = jnp.linalg.cholesky(K)
        a = jsl.solve_triangular(L, y, lower=True)
        return -0.5 * a @ a - jnp.sum(jnp.log(jnp.diag(L))) - 0.5 * N * LOG2PI

    vg = jax.jit(jax.value_and_grad(logp))

    def f(X, y, theta):
        v, g = vg(theta, X, y)
        return [v, g]
    return f


def _torch():
    import torch

    def f(X, y, theta):
        theta = theta.clone().requires_grad_(True)
        amp2, ls, noise = torch.exp(2 * theta[0]), torch.exp(theta[1]), torch.exp(theta[2])
        d2 = torch.sum((X[:, None, :] - X[None, :, :]) ** 2, dim=-1)
        K = amp2 * torch.exp(-0.5 * d2 / ls ** 2) + noise * torch.eye(X.shape[0], dtype=X.dtype)
        L = torch.linalg.cholesky(K)
        a = torch.linalg.solve_triangular(L, y[:, None], upper=False)[:, 0]
        logp = -0.5 * a @ a - torch.log(torch.diagonal(L)).sum() - 0.5 * N * LOG2PI
        (g,) = torch.autograd.grad(logp, theta)
        return [logp.detach(), g]
    return f


register(Workload(
    name="gaussian_loglik",
    description=f"GP log-likelihood (cholesky of a {N}x{N} covariance) and its gradient w.r.t. 3 parameters",
    make_inputs=_inputs,
    builders={"kiln": _kiln, "numpy": _numpy, "pytensor": _pytensor, "jax": _jax, "torch": _torch},
    metrics=("call", "compile"),
    rtol=1e-8,
))
