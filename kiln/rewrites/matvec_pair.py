"""Pair matrix-vector products that share their matrix: `Dot(A, x)` and `Dot(A, y)` become the
two outputs of one `MatVecPair(A, x, y)` node, which the C linker computes in one pass over A.

A Hessian-vector product has such a pair (A x for the gradient, A v for its derivative), and so
does any forward-over-reverse derivative of a linear layer.  A matrix-vector product is bound by
reading the matrix, so the pair costs about what one product costs.

`pair_matvecs` (rule name "matvec_pair", fusion phase, on by default) takes `Dot`/`MatMul` nodes
of one matrix variable and a vector, in one float dtype, in graph order, and pairs each with the
first later one that does not depend on it (neither product may feed the other: they are
computed together).  A third product of the same matrix pairs with a fourth, or stays alone.
Products of a transposed matrix (`A.T @ w`, a different variable) are not paired with those of A.
"""
from __future__ import annotations

from kiln.graph.fg import FunctionGraph, InconsistencyError
from kiln.graph.traversal import ancestors
from kiln.rewrites.blas_ops import matvec_pair
from kiln.rewrites.db import GraphRewriter
from kiln.tensor.blas import Dot, MatMul

__all__ = ["MatVecPairs", "pair_matvecs"]


def _matvec(node) -> bool:
    """A product of a matrix and a vector in float32/float64, all of one dtype."""
    if not isinstance(node.op, (Dot, MatMul)) or len(node.inputs) != 2:
        return False
    a, x = node.inputs
    out = node.outputs[0]
    return (getattr(a.type, "ndim", None) == 2 and getattr(x.type, "ndim", None) == 1
            and a.type.dtype == x.type.dtype == out.type.dtype and out.type.dtype in ("float32", "float64"))


class MatVecPairs(GraphRewriter):
    """Replace independent pairs of products of one matrix by MatVecPair nodes (see module doc)."""

    name = "matvec_pair"

    def apply(self, fgraph: FunctionGraph) -> int:
        by_matrix: dict = {}
        for node in fgraph.toposort():
            if _matvec(node):
                by_matrix.setdefault(node.inputs[0], []).append(node)
        made = 0
        for nodes in by_matrix.values():
            while len(nodes) >= 2:
                first = nodes.pop(0)
                for k, other in enumerate(nodes):
                    if first.outputs[0] not in set(ancestors(other.inputs)):   # other is later: only it can depend
                        nodes.pop(k)
                        made += self._replace(fgraph, first, other)
                        break
        return made

    @staticmethod
    def _replace(fgraph: FunctionGraph, first, other) -> int:
        y1, y2 = matvec_pair(first.inputs[0], first.inputs[1], other.inputs[1])
        try:
            fgraph.replace_all([(first.outputs[0], y1), (other.outputs[0], y2)], reason="matvec_pair")
        except InconsistencyError:
            return 0
        return 1


pair_matvecs = MatVecPairs()
