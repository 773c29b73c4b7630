"""Checks shared by several test files (import as `from tests.helpers import ...`).

Each one asserts real results: against NumPy, against finite differences, or an identity
that must hold (the dot-product test of a transpose).
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

import numpy as np
import pytest

import kiln
import kiln.tensor as kt

PY = kiln.Mode(linker="py")


def symbolic_index(idx: Any) -> tuple[Any, list, list]:
    """The same basic index with every Python int replaced by an int64 scalar input.

    Returns (symbolic index, the scalar inputs, their values).
    """
    syms, vals = [], []

    def sub(i):
        if isinstance(i, int):
            s = kt.lscalar(f"i{len(syms)}")
            syms.append(s)
            vals.append(i)
            return s
        if isinstance(i, slice):
            return slice(*[None if b is None else sub(b) for b in (i.start, i.stop, i.step)])
        return i

    out = tuple(sub(i) for i in idx) if isinstance(idx, tuple) else sub(idx)
    return out, syms, vals


def check_against_numpy(kfn: Callable, nfn: Callable, *arrays: np.ndarray, mode: kiln.Mode = PY) -> None:
    """kfn on symbolic inputs == nfn on the arrays (value, dtype, and the inferred shape)."""
    from kiln.tensor.shape import infer_graph_shapes

    ins = [kt.tensor("x", dtype=str(a.dtype), shape=(None,) * a.ndim) for a in arrays]
    out = kfn(*ins)
    outs = out if isinstance(out, list) else [out]
    got = kiln.function(ins, outs, mode=mode)(*arrays)
    want = nfn(*arrays)
    want = want if isinstance(want, list) else [want]
    assert len(got) == len(want)
    for g, w in zip(got, want):
        w = np.asarray(w)
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_array_equal(g, w)
    shapes = infer_graph_shapes(ins, outs, [tuple(kt.shape_i(i, d) for d in range(i.ndim)) for i in ins])
    sh = kiln.function(ins, [kt.as_tensor_variable(s) if not isinstance(s, int) else kt.constant(s)
                              for o in shapes for s in o], mode=mode, on_unused_input="ignore")(*arrays)
    assert [int(v) for v in sh] == [d for w in want for d in np.shape(w)]


def dot_product_test(fn: Callable, shapes: Sequence[tuple], seed: int = 0, tol: float = 1e-10,
                     mode: kiln.Mode = PY) -> None:
    """<ct, L t> == <L^T ct, t> for a map `fn` linear in all its inputs jointly, with L^T from
    kiln's transposer (Lop), on random float64 inputs of `shapes` and random cotangents."""
    from kiln.gradient import Lop

    rng = np.random.default_rng(seed)
    ins = [kt.tensor(f"t{i}", shape=(None,) * len(s)) for i, s in enumerate(shapes)]
    out = fn(*ins)
    outs = out if isinstance(out, list) else [out]
    vals = [np.asarray(rng.normal(size=s)) for s in shapes]
    Lt = [np.asarray(v, dtype="float64") for v in kiln.function(ins, outs, mode=mode)(*vals)]
    cts = [rng.normal(size=v.shape) for v in Lt]
    ctv = [kt.tensor(f"c{i}", dtype=o.dtype, shape=(None,) * o.ndim) for i, o in enumerate(outs)]
    back = kiln.function(ins + ctv, Lop(outs, ins, ctv), mode=mode, on_unused_input="ignore")(*vals, *cts)
    lhs = sum(float(np.sum(c * v)) for c, v in zip(cts, Lt))
    rhs = sum(float(np.sum(b * v)) for b, v in zip(back, vals))
    assert lhs == pytest.approx(rhs, rel=tol, abs=tol)
    for b, v in zip(back, vals):
        assert np.shape(b) == v.shape


def hessian_matches_finite_differences(fn: Callable, v: np.ndarray, mode: kiln.Mode = PY) -> None:
    """kiln's hessian of the scalar fn(x) at v == finite differences of kiln's gradient."""
    from kiln.gradient import grad, hessian, numeric_grad

    x = kt.vector("x")
    H = kiln.function([x], hessian(fn(x), x), mode=mode)(v)
    g = kiln.function([x], grad(fn(x), x), mode=mode)
    Hn = np.array([numeric_grad(lambda u, i=i: g(u)[i], [v], eps=1e-6)[0] for i in range(len(v))])
    np.testing.assert_allclose(H, Hn, rtol=1e-6, atol=1e-6)


def run_in_threads(work: Callable[[int], None], n_threads: int = 4) -> None:
    """Run work(k) for k in range(n_threads) concurrently; re-raise the first failure here
    (an exception in a thread would otherwise only be printed)."""
    errors: list[BaseException] = []

    def guarded(k: int) -> None:
        try:
            work(k)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
