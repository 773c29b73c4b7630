"""Buffer reuse inside a C segment: intermediates whose lifetimes do not overlap share storage.

A segment's kernels run in order inside one native call.  An *intermediate* is a kernel
output that nothing outside the segment sees: not a function output, no client outside
the segment, and the same for every view of it (a DimShuffle/Reshape/Subtensor view keeps
its base alive) and for the output of an in-place kernel that overwrites it.  Such a
variable and its views and in-place successors form one *class*; the class is live from
the kernel that writes it to the last kernel that reads any member.

Classes are assigned greedily (in kernel order) to *pools*: a pool is one byte buffer
allocated per call, so two classes share a pool only when the first one's last reader runs
strictly before the second one's writer.  At run time a pooled output is a C-contiguous
view of its pool's buffer (grown, never shrunk, when a later class needs more bytes), so
nothing is shared between concurrent calls.  Anything that escapes (outputs, values used
by later steps, inputs destroyed in place) is never pooled.

>>> import kiln.tensor as kt
>>> from kiln.graph.fg import FunctionGraph
>>> from kiln.tensor.blas import dot
>>> x = kt.matrix("x")
>>> a = dot(x, x); b = dot(a, x); c = dot(b, x)     # a and c never live together
>>> fg = FunctionGraph([x], [dot(c, x)])
>>> nodes = [n for n in fg.toposort()]
>>> plan = plan_pools(nodes, set(fg.outputs), fg.clients)
>>> plan.summary()
{'intermediates': 3, 'pools': 2}
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

from kiln.graph.basic import Apply, Variable

__all__ = ["PoolPlan", "plan_pools"]


@dataclass
class PoolPlan:
    """Which pool (or None: a fresh array) each kernel output of a segment uses."""

    #: kernel output variable -> pool index, for pooled intermediates only
    pool_of: dict[Variable, int] = field(default_factory=dict)
    #: number of pools (distinct reusable buffers per call)
    n_pools: int = 0
    #: pooled class roots in assignment order (for summaries and tests)
    roots: list[Variable] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        """How many intermediates were pooled and into how many distinct buffers."""
        return {"intermediates": len(self.roots), "pools": self.n_pools}


def plan_pools(nodes: Iterable[Apply], escaping: set[Variable], clients: dict,
               is_kernel: Callable[[Apply], bool] | None = None) -> PoolPlan:
    """Plan buffer reuse for the segment `nodes` (execution order).

    `escaping`: variables that must keep their own storage (function outputs and values
    used outside the segment are detected from `clients` too); `clients`: the graph's
    {variable: [(node, i) or ("output", i)]}; `is_kernel(node)`: whether the node is a
    native kernel (default: anything that is not a view op with a `view_map`).
    """
    nodes = list(nodes)
    inside = set(nodes)
    if is_kernel is None:
        def is_kernel(n: Apply) -> bool:
            return not getattr(n.op, "view_map", None)
    kpos: dict[Apply, int] = {}
    for n in nodes:
        if is_kernel(n):
            kpos[n] = len(kpos)

    # union-find over variables: views and in-place outputs join their base's class
    parent: dict[Variable, Variable] = {}

    def find(v: Variable) -> Variable:
        while parent.get(v, v) is not v:
            v = parent[v]
        return v

    produced: dict[Variable, int] = {}   # kernel output -> position of its writer
    for n in nodes:
        if n in kpos:
            # an in-place kernel writes into an input; a kernel with a view_map may return it
            dm = getattr(n.op, "destroy_map", None) or getattr(n.op, "view_map", None) or {}
            for k, o in enumerate(n.outputs):
                produced[o] = kpos[n]
                if dm.get(k):
                    src = n.inputs[dm[k][0]]
                    parent[o] = find(src)
        else:
            vm = getattr(n.op, "view_map", None) or {0: [0]}
            for k, o in enumerate(n.outputs):
                src = n.inputs[vm.get(k, [0])[0]]
                parent[o] = find(src)

    members: dict[Variable, list[Variable]] = {}
    for v in list(parent) + list(produced):
        members.setdefault(find(v), [])
        if v not in members[find(v)]:
            members[find(v)].append(v)

    plan = PoolPlan()
    spans: list[tuple[int, int, Variable]] = []
    for root, vs in members.items():
        if root not in produced:
            continue   # a view of (or in-place write into) a segment input: not ours to reuse
        ok = True
        last = produced[root]
        for v in vs:
            if v in escaping:
                ok = False
                break
            for client, _ in clients.get(v, ()):
                if client == "output" or client not in inside:
                    ok = False
                    break
                if client in kpos:
                    last = max(last, kpos[client])
            if not ok:
                break
        if ok:
            spans.append((produced[root], last, root))
    spans.sort(key=lambda s: (s[0], s[1]))
    pool_end: list[int] = []   # per pool, the last kernel position reading its current class
    for start, end, root in spans:
        for p, e in enumerate(pool_end):
            if e < start:
                break
        else:
            p = len(pool_end)
            pool_end.append(-1)
        pool_end[p] = end
        plan.roots.append(root)
        # only the root takes the pool: an in-place output of the class normally writes
        # into the root's buffer, and when the run-time alias check refuses (another shape)
        # it gets a fresh array (the pool still holds the input it reads)
        plan.pool_of[root] = p
    plan.n_pools = len(pool_end)
    return plan
