"""Top-k by sort + slice, a cumulative sum and a GELU over the rows of a 512 x 1024 matrix, with
the gradient of their sum -- the cumulative/sorting workload of issue 5 (sort's jvp is a
permutation of the tangent, cumsum's transpose a reversed cumsum)."""
import math

import numpy as np

from bench.workloads import Workload, register

ROWS, COLS, K = 512, 1024, 32


def _numpy():
    from scipy.special import erf

    def f(x):
        order = np.argsort(x, axis=1)
        top = np.take_along_axis(x, order, axis=1)[:, -K:]
        c = np.cumsum(top, axis=1)
        y = 0.5 * c * (1 + erf(c / math.sqrt(2)))
        # d/dc of gelu, then cumsum's transpose (reversed cumsum), then scatter back through sort
        dc = 0.5 * (1 + erf(c / math.sqrt(2))) + c * np.exp(-c ** 2 / 2) / math.sqrt(2 * math.pi)
        dtop = np.flip(np.cumsum(np.flip(dc, 1), axis=1), 1)
        dx = np.zeros_like(x)
        np.put_along_axis(dx, order[:, -K:], dtop, axis=1)
        return [y, dx]
    return f


def _kiln():
    import kiln
    import kiln.tensor as kt

    x = kt.dmatrix("x")
    y = kt.gelu(kt.cumsum(kt.sort(x, axis=1)[:, -K:], axis=1))
    return kiln.function([x], [y, kiln.grad(kt.sum(y), x)])


def _pytensor():
    import pytensor
    import pytensor.tensor as pt

    x = pt.dmatrix("x")
    c = pt.cumsum(pt.sort(x, axis=1)[:, -K:], axis=1)
    y = 0.5 * c * (1 + pt.erf(c / math.sqrt(2)))
    return pytensor.function([x], [y, pytensor.grad(pt.sum(y), x)])


def _jax():
    import jax
    import jax.numpy as jnp

    def f(x):
        y = jax.nn.gelu(jnp.cumsum(jnp.sort(x, axis=1)[:, -K:], axis=1), approximate=False)
        return y.sum(), y

    g = jax.jit(jax.grad(f, has_aux=True))
    return lambda x: (lambda r: [r[1], r[0]])(g(x))


def _torch():
    import torch

    def f(x):
        x = x.detach().requires_grad_(True)
        y = torch.nn.functional.gelu(torch.cumsum(torch.sort(x, dim=1).values[:, -K:], dim=1))
        (dx,) = torch.autograd.grad(y.sum(), x)
        return [y.detach(), dx]
    return f


register(Workload(
    name="sort_cumsum",
    description=f"gelu(cumsum(sort(x)[:, -{K}:])) and its gradient, x {ROWS}x{COLS} float64",
    # distinct values (no ties), so every peer's gradient goes to the same entries
    make_inputs=lambda rng: (rng.permutation(ROWS * COLS).reshape(ROWS, COLS) / (ROWS * COLS) - 0.5,),
    builders={"kiln": _kiln, "numpy": _numpy, "pytensor": _pytensor, "jax": _jax, "torch": _torch},
    metrics=("call", "compile"),
    rtol=1e-9,
))
