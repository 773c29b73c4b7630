"""The KeOps example of issue 6: a Gaussian-kernel matrix-vector product over N = M points in 3-D,

    exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) @ b

written the way a NumPy user writes it.  PyTensor, JAX, PyTorch and NumPy materialize the N x M x 3
difference (or at least the N x M kernel matrix); kiln fuses the whole expression into one loop nest
(FusedReduce) with O(N + M) extra memory.  Sizes 4,000 and 10,000 run on every peer (10,000 needs
about 2.4 GB per N x M x 3 temporary); 20,000 (9.6 GB per temporary) runs on kiln only, against a
row-chunked NumPy reference, to show its peak memory (the "peak-memory" row: max RSS of the
measuring process, imports included).
"""
import numpy as np

from bench.workloads import Workload, register

D = 3


def _inputs(n):
    def make(rng):
        return (rng.normal(size=(n, D)), rng.normal(size=(n, D)), rng.normal(size=n) / n)
    return make


def _numpy():
    return lambda x, y, b: np.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) @ b


def _numpy_chunked(rows=256):
    def f(x, y, b):
        out = np.empty(x.shape[0])
        for lo in range(0, x.shape[0], rows):
            xs = x[lo:lo + rows]
            out[lo:lo + rows] = np.exp(-((xs[:, None, :] - y[None, :, :]) ** 2).sum(-1)) @ b
        return out
    return f


def _kiln():
    import kiln
    import kiln.tensor as kt

    x, y, b = kt.dmatrix("x"), kt.dmatrix("y"), kt.dvector("b")
    return kiln.function([x, y, b], kt.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) @ b)


def _pytensor():
    import pytensor
    import pytensor.tensor as pt

    x, y, b = pt.dmatrix("x"), pt.dmatrix("y"), pt.dvector("b")
    return pytensor.function([x, y, b], pt.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) @ b)


def _jax():
    import jax
    import jax.numpy as jnp

    return jax.jit(lambda x, y, b: jnp.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) @ b)


def _torch():
    import torch

    return lambda x, y, b: torch.exp(-((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)) @ b


for _n in (4000, 10000):
    register(Workload(
        name=f"keops_{_n // 1000}k",
        description=f"exp(-((x[:, None] - y[None]) ** 2).sum(-1)) @ b, N = M = {_n}, 3-D, float64",
        make_inputs=_inputs(_n),
        builders={"kiln": _kiln, "numpy": _numpy, "pytensor": _pytensor, "jax": _jax, "torch": _torch},
        metrics=("call",),
        rtol=1e-9,
        tags=("reduction", "keops"),
    ))

register(Workload(
    name="keops_20k",
    description="the same at N = M = 20,000 (kiln only: the others need 9.6 GB per temporary); "
                "NumPy reference chunked by 256 rows",
    make_inputs=_inputs(20000),
    builders={"kiln": _kiln, "numpy": _numpy_chunked},
    metrics=("call",),
    rtol=1e-9,
    tags=("reduction", "keops", "large"),
))
