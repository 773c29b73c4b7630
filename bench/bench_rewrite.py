"""Rewriting time: kiln's FAST_RUN pipeline next to PyTensor's FAST_RUN rewrites, same graphs.

    python bench/bench_rewrite.py [--repeats N]

What is timed, for each library, on a fresh clone of the graph each repeat:
- kiln:     `kiln.rewrites.run_pipeline(FunctionGraph(ins, outs), Mode(linker="py"))`
            (every phase: merge ... inplace, final merge).
- PyTensor: `get_mode("FAST_RUN").optimizer.rewrite(FunctionGraph(ins, outs))`, the rewrite
            query `pytensor.function` runs in FAST_RUN (no linking, no C/Numba compilation).
Building the FunctionGraph (cloning) is outside the timed region for both.

Graphs (built by one recipe for both libraries, which share the needed API names):
- mlp_grad: the gradient of a 784-512-512-10 tanh MLP with a logistic loss with respect to its six
  parameters (plus the cost), as `grad` returns it;
- random_2000: a generated graph of about 2,000 nodes (elementwise unary/binary ops, small
  constants, row broadcasts and reductions), seeded so both libraries see the same structure.

The table gives the median time in ms and the ratio kiln / PyTensor (below 1: kiln is faster),
plus node counts before and after.  Nothing is asserted.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = (784, 512, 512, 10)


def mlp_grad(T, grad, shared):
    rng = np.random.default_rng(0)
    x, y = T.matrix("x"), T.vector("y")
    params, h = [], x
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        W = shared(rng.normal(size=(a, b)) * 0.01, name=f"W{i}")
        bias = shared(np.zeros(b), name=f"b{i}")
        params += [W, bias]
        z = T.dot(h, W) + bias
        h = T.tanh(z) if i < len(SIZES) - 2 else z
    p = T.sigmoid(h.sum(axis=1))
    cost = -(y * T.log(p) + (1 - y) * T.log(1 - p)).mean()
    return [x, y], [cost] + list(grad(cost, params))


def random_graph(T, n_nodes: int = 2000):
    rng = np.random.default_rng(42)
    x, r, v = T.matrix("x"), T.row("r"), T.vector("v")
    pool = [x, r, v]
    unary = [T.exp, T.tanh, T.sin, T.cos, T.sqr, T.abs, T.sigmoid, lambda a: -a,
             lambda a: T.log(1 + a * a), lambda a: a * 1, lambda a: a + 0]
    binary = [lambda a, b: a + b, lambda a, b: a * b, lambda a, b: a - b,
              lambda a, b: T.maximum(a, b), lambda a, b: a / (1 + b * b)]
    outs = []
    count = 0
    while count < n_nodes:
        k = rng.integers(0, 10)
        a = pool[int(rng.integers(max(0, len(pool) - 30), len(pool)))]
        if k < 5:
            new = unary[int(rng.integers(len(unary)))](a)
        elif k < 9:
            b = pool[int(rng.integers(max(0, len(pool) - 30), len(pool)))]
            new = binary[int(rng.integers(len(binary)))](a, b)
        else:
            new = T.sum(a * 2.0, axis=0, keepdims=True) if a.ndim == 2 else a * 2.0
        pool.append(new)
        count += 1
        if rng.integers(0, 50) == 0:
            outs.append(new)
    outs.append(pool[-1])
    return [x, r, v], outs


def _count(ins, outs, toposort):
    return len(toposort(ins, outs))


def time_kiln(build, repeats):
    import kiln
    import kiln.tensor as kt
    from kiln.graph.fg import FunctionGraph
    from kiln.graph.traversal import io_toposort
    from kiln.rewrites.pipeline import run_pipeline

    ins, outs = build(kt, kiln.grad, kiln.shared)
    from kiln.graph.traversal import graph_inputs

    roots = [v for v in graph_inputs(outs) if v.owner is None and not hasattr(v, "data")]
    mode = kiln.Mode(linker="py")
    times, after = [], 0
    for _ in range(repeats):
        fg = FunctionGraph(roots, outs, clone=True)
        t0 = time.perf_counter()
        run_pipeline(fg, mode)
        times.append(time.perf_counter() - t0)
        after = len(fg.apply_nodes)
    return statistics.median(times), len(io_toposort(roots, outs)), after


def time_pytensor(build, repeats):
    import pytensor
    import pytensor.tensor as pt
    from pytensor.compile.mode import get_mode
    from pytensor.graph.basic import Constant
    from pytensor.graph.fg import FunctionGraph
    from pytensor.graph.traversal import graph_inputs, io_toposort

    class T:  # the names the recipes use
        pass
    for name in ("matrix", "vector", "row", "dot", "tanh", "sigmoid", "log", "exp", "sin", "cos",
                 "sqr", "abs", "maximum", "sum"):
        setattr(T, name, staticmethod(getattr(pt, name)))
    ins, outs = build(T, pytensor.grad, pytensor.shared)
    roots = [v for v in graph_inputs(outs) if v.owner is None and not isinstance(v, Constant)]
    from pytensor.compile.aliasing import add_supervisor_to_fgraph
    from pytensor.compile.io import In

    rewriter = get_mode("FAST_RUN").optimizer
    times, after = [], 0
    for _ in range(repeats):
        fg = FunctionGraph(roots, outs, clone=True)
        # what pytensor.function does before rewriting: protect the inputs from in-place ops
        add_supervisor_to_fgraph(fg, [In(v) for v in fg.inputs])
        t0 = time.perf_counter()
        rewriter.rewrite(fg)
        times.append(time.perf_counter() - t0)
        after = len(fg.apply_nodes)
    return statistics.median(times), len(io_toposort(roots, outs)), after


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rows = []
    for name, build in (("mlp_grad", mlp_grad), ("random_2000", lambda T, g, s: random_graph(T))):
        k = time_kiln(build, args.repeats)
        try:
            p = time_pytensor(build, args.repeats)
        except ImportError as e:
            p = None
            print(f"PyTensor not available ({e}); pip install pytensor")
        rows.append((name, k, p))
    print(f"{'graph':<12} {'kiln ms':>9} {'pytensor ms':>12} {'ratio':>7}   nodes kiln before->after, "
          f"pytensor before->after")
    for name, k, p in rows:
        if p is None:
            print(f"{name:<12} {k[0] * 1e3:9.1f} {'-':>12} {'-':>7}   {k[1]}->{k[2]}")
            continue
        print(f"{name:<12} {k[0] * 1e3:9.1f} {p[0] * 1e3:12.1f} {k[0] / p[0]:7.2f}   {k[1]}->{k[2]}, "
              f"{p[1]}->{p[2]}")


if __name__ == "__main__":
    main()
