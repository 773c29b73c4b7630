"""Reductions of a 4000x4000 float64 matrix (issue 6): the sum along each axis, logsumexp along
axis 1, and ``np.copyto`` of the same matrix as the bandwidth reference.

Sums are memory-bound: a good sum reads the matrix once at copy speed, whichever the axis (axis 0
walks down the columns, so it needs a loop order that keeps reading rows contiguously).
logsumexp adds a max, an exp per element and a second pass. The sums and logsumexp also get the
2-thread measurement (tag "threads").
"""
import numpy as np

from bench.workloads import Workload, register
from bench.workloads.elemwise_chain import copy_builder

N = 4000


def _inputs(rng):
    return (rng.normal(size=(N, N)),)


def _sum_builders(axis):
    def numpy_():
        return lambda x: x.sum(axis=axis)

    def kiln_():
        import kiln
        import kiln.tensor as kt

        x = kt.dmatrix("x")
        return kiln.function([x], kt.sum(x, axis=axis))

    def pytensor_():
        import pytensor
        import pytensor.tensor as pt

        x = pt.dmatrix("x")
        return pytensor.function([x], pt.sum(x, axis=axis))

    def jax_():
        import jax
        import jax.numpy as jnp

        return jax.jit(lambda x: jnp.sum(x, axis=axis))

    def torch_():
        import torch

        return lambda x: torch.sum(x, dim=axis)

    return {"kiln": kiln_, "numpy": numpy_, "pytensor": pytensor_, "jax": jax_, "torch": torch_}


def _lse_numpy():
    def f(x):
        m = x.max(axis=1)
        return m + np.log(np.exp(x - m[:, None]).sum(axis=1))
    return f


def _lse_kiln():
    import kiln
    import kiln.tensor as kt

    x = kt.dmatrix("x")
    return kiln.function([x], kt.logsumexp(x, axis=1))


def _lse_pytensor():
    import pytensor
    import pytensor.tensor as pt

    x = pt.dmatrix("x")
    return pytensor.function([x], pt.logsumexp(x, axis=1))


def _lse_jax():
    import jax
    from jax.scipy.special import logsumexp

    return jax.jit(lambda x: logsumexp(x, axis=1))


def _lse_torch():
    import torch

    return lambda x: torch.logsumexp(x, dim=1)


for _axis in (0, 1):
    register(Workload(
        name=f"sum_axis{_axis}",
        description=f"x.sum(axis={_axis}) of a {N}x{N} float64 matrix",
        make_inputs=_inputs,
        builders=_sum_builders(_axis),
        metrics=("call", "compile"),
        rtol=1e-10,
        tags=("threads", "reduction"),
    ))

register(Workload(
    name="logsumexp_axis1",
    description=f"logsumexp(x, axis=1) of a {N}x{N} float64 matrix",
    make_inputs=_inputs,
    builders={"kiln": _lse_kiln, "numpy": _lse_numpy, "pytensor": _lse_pytensor, "jax": _lse_jax,
              "torch": _lse_torch},
    metrics=("call", "compile"),
    rtol=1e-10,
    tags=("threads", "reduction"),
))

register(Workload(
    name="copy_matrix",
    description=f"np.copyto(out, x) of a {N}x{N} float64 matrix (bandwidth reference for the sums)",
    make_inputs=_inputs,
    builders={"numpy": copy_builder((N, N), "float64")},
    metrics=("call",),
    rtol=0.0,
    tags=("reference",),
))
