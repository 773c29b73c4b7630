"""verify_grad: check a symbolic gradient against central finite differences.

The check is directional: for a random projection r of the output and a random
direction u of the inputs, the symbolic <grad(sum(r * f)), u> must match
(F(x + eps u) - F(x - eps u)) / (2 eps) with F = sum(r * f).  Two evaluations per test
instead of two per input entry, and every entry of the gradient takes part.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from kiln.gradient.values import GradientError

__all__ = ["verify_grad", "numeric_grad"]

_EPS = {"float64": 1e-6, "float32": 1e-3, "float16": 1e-1}
_TOL = {"float64": 1e-4, "float32": 1e-2, "float16": 5e-2}


def numeric_grad(f: Callable, pt: Sequence[np.ndarray], eps: float = 1e-6) -> list[np.ndarray]:
    """Central-difference gradient of a scalar NumPy function `f(*pt)`, entry by entry."""
    pt = [np.array(p, dtype="float64") for p in pt]
    out = []
    for k, p in enumerate(pt):
        g = np.zeros_like(p)
        flat = p.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            hi = float(f(*pt))
            flat[i] = old - eps
            lo = float(f(*pt))
            flat[i] = old
            g.reshape(-1)[i] = (hi - lo) / (2 * eps)
        out.append(g)
    return out


def verify_grad(fun: Callable, pt: Sequence[Any], n_tests: int = 2, rng: Any = None, eps: float | None = None,
                out_type: Any = None, abs_tol: float | None = None, rel_tol: float | None = None,
                mode: Any = None, cast_to_output_type: bool = False, no_debug_ref: bool = True) -> None:
    """Raise GradientError unless the gradient of `fun` at `pt` matches finite differences.

    fun: builds a symbolic output from symbolic inputs (one per entry of `pt`);
    pt: the point (NumPy arrays); n_tests: random directions tried.

    >>> import numpy as np, kiln.tensor as kt
    >>> verify_grad(lambda x: kt.tanh(x) * x, [np.array([0.3, -1.2])], rng=np.random.default_rng(0))
    """
    import kiln
    from kiln.gradient.api import grad
    from kiln.tensor.basic import as_tensor_variable, tensor

    if not isinstance(pt, (list, tuple)):
        raise TypeError("verify_grad: pt must be a list of arrays (one per input of fun)")
    rng = np.random.default_rng(rng) if not isinstance(rng, (np.random.Generator, np.random.RandomState)) else rng
    pt = [np.array(p, dtype=p.dtype if isinstance(p, np.ndarray) else "float64") for p in pt]
    for i, p in enumerate(pt):
        if p.dtype.kind != "f":
            raise TypeError(f"verify_grad: input {i} has dtype {p.dtype}; only float inputs can be checked")
    mode = mode or kiln.Mode(linker="py")
    ins = [tensor(f"x{i}", dtype=p.dtype, shape=(None,) * p.ndim) for i, p in enumerate(pt)]
    out = as_tensor_variable(fun(*ins))
    if out.dtype[:5] != "float":
        raise TypeError(f"verify_grad: fun returned {out.type}; it must return a float tensor")
    f_out = kiln.function(ins, out, mode=mode, on_unused_input="ignore")
    val = np.asarray(f_out(*pt))
    proj = tensor("proj", dtype=out.dtype, shape=(None,) * out.ndim)
    cost = (out * proj).sum()
    f_cost = kiln.function(ins + [proj], cost, mode=mode, on_unused_input="ignore")
    gs = grad(cost, ins, disconnected_inputs="ignore")
    f_grad = kiln.function(ins + [proj], gs, mode=mode, on_unused_input="ignore")
    worst = min(p.dtype.itemsize for p in pt + [val])
    kind = {8: "float64", 4: "float32", 2: "float16"}.get(worst, "float64")
    eps = _EPS[kind] if eps is None else eps
    abs_tol = _TOL[kind] if abs_tol is None else abs_tol
    rel_tol = _TOL[kind] if rel_tol is None else rel_tol
    for test in range(n_tests):
        r = rng.uniform(-1, 1, size=val.shape).astype(val.dtype)
        dirs = [rng.uniform(-1, 1, size=p.shape).astype(p.dtype) for p in pt]
        g = f_grad(*pt, r)
        sym = float(sum(np.sum(np.asarray(gi, dtype="float64") * d) for gi, d in zip(g, dirs)))
        hi = float(f_cost(*[(p + eps * d).astype(p.dtype) for p, d in zip(pt, dirs)], r))
        lo = float(f_cost(*[(p - eps * d).astype(p.dtype) for p, d in zip(pt, dirs)], r))
        num = (hi - lo) / (2 * eps)
        abs_err = abs(sym - num)
        rel_err = abs_err / max(abs(sym) + abs(num), 1e-30)
        if not (abs_err <= abs_tol or rel_err <= rel_tol) or not np.isfinite(sym):
            raise GradientError(
                f"verify_grad: test {test}: the symbolic directional derivative {sym!r} differs from "
                f"finite differences {num!r} (abs err {abs_err:.3g} > {abs_tol:.3g}, rel err "
                f"{rel_err:.3g} > {rel_tol:.3g}) at inputs of shapes {[p.shape for p in pt]}",
                sym, num, abs_err, rel_err)
