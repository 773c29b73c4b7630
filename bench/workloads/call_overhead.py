"""`x + 1` on a 1-element float64 array: what one call costs beyond the arithmetic."""
import numpy as np

from bench.workloads import Workload, register


def _kiln():
    import kiln
    import kiln.tensor as kt

    x = kt.dvector("x")
    return kiln.function([x], x + 1)


def _pytensor():
    import pytensor
    import pytensor.tensor as pt

    x = pt.dvector("x")
    return pytensor.function([x], x + 1)


def _jax():
    import jax

    return jax.jit(lambda x: x + 1)


register(Workload(
    name="add_one",
    description="x + 1 on a 1-element float64 array (per-call overhead)",
    make_inputs=lambda rng: (np.ones(1),),
    builders={"kiln": _kiln, "numpy": lambda: (lambda x: x + 1), "pytensor": _pytensor,
              "jax": _jax, "torch": lambda: (lambda x: x + 1)},
    metrics=("call", "compile"),
))
