"""Node count of an MLP's gradient graph, kiln next to PyTensor (issue 3's leanness check).

    python bench/bench_grad_nodes.py

The model: 784-512-512-10, tanh hidden layers, softmax cross-entropy (log_softmax times a
one-hot of integer labels, summed per row, mean over the batch); the gradient is taken with
respect to all six weights and biases.  Counted: apply nodes of the graph computing the six
gradients, before rewriting (the graph `grad` returns, forward part included) and after the
compiler's rewrites (`kiln.function(...).fgraph`, PyTensor's FAST_RUN `maker.fgraph`).

Two rows per library: parameters created the default way (static shapes unknown) and with
`shape=` given to `shared`.  kiln follows NumPy broadcasting at run time, so where a length is
unknown it must sum cotangents back to the run-time shape (one SumToShape node per gradient that
may need it, kiln/tensor/unbroadcast.py); PyTensor instead assumes a dimension of unknown length
is never broadcast.  The broadcast rules (kiln/rewrites/broadcast.py) remove the rest of the
difference.  kiln's compiled gradients are checked against the unrewritten graph; the counts
themselves are not asserted here (tests/rewrites/test_broadcast_rules.py checks the goal on a
small MLP).
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SIZES = (784, 512, 512, 10)


def kiln_counts(static_shapes: bool) -> tuple[int, int, Counter]:
    import kiln
    import kiln.tensor as kt
    from kiln.graph.traversal import toposort

    rng = np.random.default_rng(0)
    x, y = kt.matrix("x"), kt.lvector("y")
    params, h = [], x
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        kw = lambda s: {"shape": s} if static_shapes else {}
        W = kiln.shared(rng.normal(size=(a, b)) * 0.01, name=f"W{i}", **kw((a, b)))
        c = kiln.shared(np.zeros(b), name=f"b{i}", **kw((b,)))
        params += [W, c]
        h = h @ W + c
        if i < len(SIZES) - 2:
            h = kt.tanh(h)
    onehot = kt.eq(y.dimshuffle(0, "x"), kt.arange(SIZES[-1]).dimshuffle("x", 0))
    cost = -(kt.log_softmax(h, axis=1) * onehot).sum(axis=1).mean()
    grads = kiln.grad(cost, params)
    before = len(toposort(grads))
    f = kiln.function([x, y], grads)
    after = len(f.fgraph.apply_nodes)
    kinds = Counter(type(n.op).__name__ for n in f.fgraph.apply_nodes)
    # the compiled gradient must be right: compare with the reference python linker, unrewritten
    ref = kiln.function([x, y], grads, mode=kiln.Mode(linker="py", rewrites="none"))
    X, Y = rng.normal(size=(4, SIZES[0])), rng.integers(0, SIZES[-1], size=4)
    for a, b in zip(f(X, Y), ref(X, Y)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    return before, after, kinds


def pytensor_counts(static_shapes: bool = False) -> tuple[int, int, Counter] | None:
    try:
        import pytensor
        import pytensor.tensor as pt
        from pytensor.graph.traversal import io_toposort
        from pytensor.tensor.special import log_softmax
    except ImportError:
        return None
    rng = np.random.default_rng(0)
    x, y = pt.matrix("x", dtype="float64"), pt.lvector("y")
    params, h = [], x
    for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        kw = lambda s: {"shape": s} if static_shapes else {}
        W = pytensor.shared(rng.normal(size=(a, b)) * 0.01, name=f"W{i}", **kw((a, b)))
        c = pytensor.shared(np.zeros(b), name=f"b{i}", **kw((b,)))
        params += [W, c]
        h = h @ W + c
        if i < len(SIZES) - 2:
            h = pt.tanh(h)
    onehot = pt.eq(y.dimshuffle(0, "x"), pt.arange(SIZES[-1]).dimshuffle("x", 0))
    cost = -(log_softmax(h, axis=1) * onehot).sum(axis=1).mean()
    grads = pytensor.grad(cost, params)
    before = len(io_toposort([x, y] + params, grads))
    f = pytensor.function([x, y], grads, mode="FAST_RUN")
    nodes = f.maker.fgraph.apply_nodes
    return before, len(nodes), Counter(type(n.op).__name__ for n in nodes)


def main() -> None:
    rows = [("kiln (shapes unknown)",) + kiln_counts(False), ("kiln (static shapes)",) + kiln_counts(True)]
    for static in (False, True):
        pt = pytensor_counts(static)
        if pt is not None:
            import pytensor

            label = "static shapes" if static else "shapes unknown"
            rows.append((f"pytensor {pytensor.__version__} ({label})",) + pt)
    try:
        import kiln.rewrites.pipeline  # noqa: F401
        note = "kiln's default rewrite pipeline"
    except ImportError:
        note = "no kiln rewrite pipeline yet: 'after' equals 'before'"
    print(f"MLP {'-'.join(map(str, SIZES))}, tanh, softmax cross-entropy: nodes of the 6 gradients")
    print(f"{'':34s} {'before rewriting':>17s} {'after rewriting':>16s}")
    for name, before, after, _ in rows:
        print(f"{name:34s} {before:17d} {after:16d}")
    print(f"(kiln 'after' uses {note})")
    for name, _, _, kinds in rows:
        print(f"\n{name}, after rewriting, by op: " + ", ".join(f"{k} {v}" for k, v in kinds.most_common()))


if __name__ == "__main__":
    main()
