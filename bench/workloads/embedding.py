"""Embedding lookup W[idx] and its gradient: an accumulating inc_subtensor (np.add.at) over
repeated indices -- the advanced-indexing workload of issue 5."""
import numpy as np

from bench.workloads import Workload, register

VOCAB, DIM, BATCH = 20_000, 64, 8_192


def _numpy():
    def f(W, idx, C):
        dW = np.zeros_like(W)
        np.add.at(dW, idx, C)
        return [W[idx], dW]
    return f


def _kiln():
    import kiln
    import kiln.tensor as kt

    W, idx, C = kt.dmatrix("W"), kt.lvector("idx"), kt.dmatrix("C")
    emb = W[idx]
    dW = kiln.grad(kt.sum(emb * C), W)
    return kiln.function([W, idx, C], [emb, dW])


def _pytensor():
    import pytensor
    import pytensor.tensor as pt

    W, idx, C = pt.dmatrix("W"), pt.lvector("idx"), pt.dmatrix("C")
    emb = W[idx]
    dW = pytensor.grad(pt.sum(emb * C), W)
    return pytensor.function([W, idx, C], [emb, dW])


def _jax():
    import jax
    import jax.numpy as jnp

    def f(W, idx, C):
        return [W[idx], jax.grad(lambda w: jnp.sum(w[idx] * C))(W)]
    return jax.jit(f)


def _torch():
    import torch

    def f(W, idx, C):
        return [W[idx], torch.zeros_like(W).index_add_(0, idx, C)]
    return f


def _inputs(rng):
    # Zipf-like ids: frequent tokens repeat many times, which is what makes the gradient an
    # accumulation (np.add.at) rather than a plain scatter
    idx = np.minimum(rng.zipf(1.3, size=BATCH) - 1, VOCAB - 1).astype(np.int64)
    return rng.normal(size=(VOCAB, DIM)), idx, rng.normal(size=(BATCH, DIM))


register(Workload(
    name="embedding",
    description=f"W[idx] on a {VOCAB}x{DIM} table with {BATCH} repeated ids, plus dW (inc_subtensor)",
    make_inputs=_inputs,
    builders={"kiln": _kiln, "numpy": _numpy, "pytensor": _pytensor, "jax": _jax, "torch": _torch},
    metrics=("call", "compile"),
    rtol=1e-10,
))
