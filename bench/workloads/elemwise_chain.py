"""Elementwise chains over large vectors (memory traffic, loop fusion, vectorized math).

Three families, each at 1e6 and 1e7 elements in float64 and float32 (issue 6):

- ``elemwise_chain*``: the transcendental chain ``exp(-x**2)*sin(3x) + log1p(x**2)/(1+tanh(x))``;
- ``arith_chain*``: an arithmetic-only chain (a cubic in Horner form: adds and multiplies only),
  which a fused loop runs at memory speed: one read and one write per element;
- ``copy*``: ``np.copyto(out, x)`` into a preallocated array, the bandwidth reference the
  arithmetic chain is compared with (same bytes read and written). NumPy only.
- ``copy_alloc*``: ``x.copy()``, a copy into a new array each call, as a compiled function that
  returns a fresh output does; the difference from ``copy*`` is the cost of allocating and first
  touching the output's pages (informational; the issue's target is against ``np.copyto``).

Names: no suffix is float64 at 1e6 (``elemwise_chain`` is the historical name); ``_f32`` and
``_1e7`` select the dtype and size, e.g. ``arith_chain_f32_1e7``. The 1e7 cases also get the
2-thread measurement (tag "threads").
"""
import numpy as np

from bench.workloads import Workload, register

SIZES = {"": 1_000_000, "_1e7": 10_000_000}
DTYPES = {"": "float64", "_f32": "float32"}
#: float32 results of different (vectorized) math libraries differ by a few ulp
RTOL = {"float64": 1e-10, "float32": 2e-5}


# -- the transcendental chain -----------------------------------------------------------------------

def _trans_numpy():
    def f(x):
        return np.exp(-x ** 2) * np.sin(3 * x) + np.log1p(x ** 2) / (1 + np.tanh(x))
    return f


def _trans_kiln(dtype):
    def build():
        import kiln
        import kiln.tensor as kt

        x = kt.vector("x", dtype=dtype)
        y = kt.exp(-x ** 2) * kt.sin(3 * x) + kt.log1p(x ** 2) / (1 + kt.tanh(x))
        return kiln.function([x], y)
    return build


def _trans_pytensor(dtype):
    def build():
        import pytensor
        import pytensor.tensor as pt

        x = pt.vector("x", dtype=dtype)
        y = pt.exp(-x ** 2) * pt.sin(3 * x) + pt.log1p(x ** 2) / (1 + pt.tanh(x))
        return pytensor.function([x], y)
    return build


def _trans_jax():
    import jax
    import jax.numpy as jnp

    return jax.jit(lambda x: jnp.exp(-x ** 2) * jnp.sin(3 * x) + jnp.log1p(x ** 2) / (1 + jnp.tanh(x)))


def _trans_torch():
    import torch

    def f(x):
        return torch.exp(-x ** 2) * torch.sin(3 * x) + torch.log1p(x ** 2) / (1 + torch.tanh(x))
    return f


# -- the arithmetic-only chain: ((x/2 + 3/2) x - 2) x + 1/4 (constants exact in float32) ------------

def _arith(x):
    return ((x * 0.5 + 1.5) * x - 2.0) * x + 0.25


def _arith_numpy():
    return _arith


def _arith_kiln(dtype):
    def build():
        import kiln
        import kiln.tensor as kt

        x = kt.vector("x", dtype=dtype)
        return kiln.function([x], _arith(x))
    return build


def _arith_pytensor(dtype):
    def build():
        import pytensor
        import pytensor.tensor as pt

        x = pt.vector("x", dtype=dtype)
        return pytensor.function([x], _arith(x))
    return build


def _arith_jax():
    import jax

    return jax.jit(_arith)


# -- the bandwidth reference ----------------------------------------------------------------------

def copy_builder(shape, dtype):
    """np.copyto into an array allocated once: the memory-bandwidth reference (read + write)."""
    def build():
        out = np.empty(shape, dtype=dtype)

        def f(x):
            np.copyto(out, x)
            return out
        return f
    return build


def _inputs(n, dtype):
    # values in [-0.9, 3] keep 1 + tanh(x) away from 0, so every peer's result is well conditioned
    return lambda rng: (rng.uniform(-0.9, 3.0, size=n).astype(dtype),)


for _dsuffix, _dtype in DTYPES.items():
    for _nsuffix, _n in SIZES.items():
        _suffix = _dsuffix + _nsuffix
        _tags = ("threads",) if _n >= 10_000_000 else ()
        _what = f"{_n:.0e} {_dtype}".replace("+0", "")
        register(Workload(
            name="elemwise_chain" + _suffix,
            description=f"exp(-x**2)*sin(3x) + log1p(x**2)/(1+tanh(x)) over {_what}",
            make_inputs=_inputs(_n, _dtype),
            builders={"kiln": _trans_kiln(_dtype), "numpy": _trans_numpy,
                      "pytensor": _trans_pytensor(_dtype), "jax": _trans_jax, "torch": _trans_torch},
            metrics=("call", "compile"),
            rtol=RTOL[_dtype],
            tags=_tags + ("transcendental",),
        ))
        register(Workload(
            name="arith_chain" + _suffix,
            description=f"((x*0.5 + 1.5)*x - 2)*x + 0.25 over {_what} (arithmetic only)",
            make_inputs=_inputs(_n, _dtype),
            builders={"kiln": _arith_kiln(_dtype), "numpy": _arith_numpy,
                      "pytensor": _arith_pytensor(_dtype), "jax": _arith_jax, "torch": _arith_numpy},
            metrics=("call", "compile"),
            rtol=RTOL[_dtype],
            tags=_tags + ("arithmetic",),
        ))
        register(Workload(
            name="copy" + _suffix,
            description=f"np.copyto(out, x) over {_what} (bandwidth reference for arith_chain{_suffix})",
            make_inputs=_inputs(_n, _dtype),
            builders={"numpy": copy_builder((_n,), _dtype)},
            metrics=("call",),
            rtol=0.0,
            tags=("reference",),
        ))
        register(Workload(
            name="copy_alloc" + _suffix,
            description=f"x.copy() over {_what} (copy into a new array: allocation included)",
            make_inputs=_inputs(_n, _dtype),
            builders={"numpy": lambda: (lambda x: x.copy())},
            metrics=("call",),
            rtol=0.0,
            tags=("reference",),
        ))
