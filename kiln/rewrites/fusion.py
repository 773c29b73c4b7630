"""Fusion: trees and chains of Elemwise nodes become one Elemwise of a Composite.

Groups are grown from each not-yet-fused Elemwise node (latest first) towards its
producers.  A producer joins when it is a plain (not in-place) Elemwise, and when joining
keeps the group convex: no path may
leave the group and come back (that would make the fused node its own ancestor).
Producers whose values are also needed outside become extra outputs of the fused
node (multiple outputs), provided they depend on every input of the group (so their
shape is the fused node's shape); otherwise the group is grown again without them.
Single-value constants are folded into the scalar graph.  A producer may have a smaller
(broadcasting) shape than the group: the Composite evaluates each inner op on the arrays
it is given, with NumPy broadcasting, so it is computed at its own size as before.
"""
from __future__ import annotations

from kiln.graph.basic import Variable
from kiln.graph.fg import OUTPUT, FunctionGraph, InconsistencyError
from kiln.rewrites.db import GraphRewriter
from kiln.rewrites.utils import constant_value
from kiln.scalar.basic import scalar_type
from kiln.scalar.composite import Composite
from kiln.tensor.elemwise import Elemwise
from kiln.tensor.type import TensorType

__all__ = ["FusionRewriter", "fuse_elemwise"]

#: NumPy evaluates a Composite op by op; very large groups gain nothing more
MAX_GROUP_INPUTS = 32


def _fusible(node) -> bool:
    op = node.op
    return (isinstance(op, Elemwise) and not op.inplace_pattern
            and all(isinstance(o.type, TensorType) for o in node.outputs))


class FusionRewriter(GraphRewriter):
    """Fuse elementwise subgraphs into Elemwise(Composite) nodes; returns how many were made."""

    name = "elemwise_fusion"

    def apply(self, fgraph: FunctionGraph) -> int:
        order = fgraph.toposort()
        pos = {n: k for k, n in enumerate(order)}
        anc: dict = {}
        for n in order:
            m = 0
            for i in n.inputs:
                o = i.owner
                if o is not None and o in pos:
                    m |= anc[o] | (1 << pos[o])
            anc[n] = m
        assigned: set = set()
        groups = []
        for node in reversed(order):
            if node in assigned or not _fusible(node):
                continue
            group = self._grow(fgraph, node, pos, anc, assigned, allow_shared=True)
            if group is not None and not self._covers(fgraph, group):
                group = self._grow(fgraph, node, pos, anc, assigned, allow_shared=False)
            if group is not None and len(group) > 1:
                groups.append(group)
                assigned.update(group)
        self._absorb_consumers(fgraph, order, groups, assigned)
        made = 0
        for g in groups:
            if self._replace(fgraph, sorted(g, key=pos.__getitem__)):
                made += 1
        return made

    def _absorb_consumers(self, fgraph, order, groups, assigned) -> None:
        """Left-over nodes whose every input is a value computed by one group join it.

        Growing from sinks leaves out a node that feeds several groups (say sin(k) where k
        comes out of one fused kernel and sin(k) goes into two others).  When all its
        non-constant inputs are outputs of a single group, it only adds outputs to that
        group: no path can leave and re-enter, and it has the group's shape (an output
        used outside a group already depends on every input of the group; `_covers`
        checks it again).  Nodes are visited in topological order, so chains join too.
        """
        from kiln.tensor.reduction import Reduce

        owner = {n: g for g in groups for n in g}
        for node in order:
            if node in assigned or not _fusible(node):
                continue
            clients = [c for o in node.outputs for c, _ in fgraph.clients.get(o, ())]
            if clients and all(c != OUTPUT and isinstance(c.op, Reduce) for c in clients):
                continue   # reduction fusion folds it into the reduction's loop instead
            found = None
            for i in node.inputs:
                if _inlinable(i):
                    continue
                g = owner.get(i.owner) if i.owner is not None else None
                if g is None or (found is not None and g is not found) or i.type.ndim != node.outputs[0].type.ndim:
                    found = None
                    break
                found = g
            if found is None:
                continue
            found.add(node)
            if len(self._inputs(found)) > MAX_GROUP_INPUTS or not self._covers(fgraph, found):
                found.discard(node)
                continue
            assigned.add(node)
            owner[node] = found

    def _grow(self, fgraph, sink, pos, anc, assigned, allow_shared: bool):
        shape = sink.outputs[0].type.shape
        group = {sink}
        sink_anc = anc[sink]
        n_inputs = len(set(sink.inputs))
        stack = [i.owner for i in sink.inputs if i.owner is not None]
        while stack:
            p = stack.pop()
            if p in group or p in assigned or p not in pos or not _fusible(p):
                continue
            if any(o.type.ndim != len(shape) for o in p.outputs):
                continue
            ok = True
            for o in p.outputs:
                for client, _ in fgraph.clients.get(o, ()):
                    if client in group:
                        continue
                    # A value needed outside the group (by another node or as a graph output)
                    # becomes an extra output of the kernel: only on the first attempt, whose
                    # result `_covers` checks; never through a path that leaves and re-enters.
                    if not allow_shared or (client != OUTPUT and (sink_anc >> pos[client]) & 1):
                        ok = False
                        break
                if not ok:
                    break
            if not ok:
                continue
            # p's outputs stop being inputs of the group; p's own inputs may become inputs
            grown = n_inputs - len(set(p.outputs)) + sum(
                1 for i in set(p.inputs) if not (i.owner in group or
                                                 any(i in n.inputs for n in group)))
            if grown > MAX_GROUP_INPUTS:
                continue
            group.add(p)
            n_inputs = grown
            stack.extend(i.owner for i in p.inputs if i.owner is not None)
        return group

    @staticmethod
    def _inputs(members) -> list[Variable]:
        # `members` is a list in topological order: iterating a set of nodes (hashed by id)
        # would order the fused op's inputs differently in every process, and equal programs
        # would then generate different code (and miss the module cache)
        outs = {o for n in members for o in n.outputs}
        seen, ins = set(), []
        for n in members:
            for i in n.inputs:
                if i not in outs and i not in seen:
                    seen.add(i)
                    ins.append(i)
        return ins

    def _exported(self, fgraph, members, group=None) -> list[Variable]:
        group = set(members) if group is None else group
        res = []
        for n in members:   # in the order given (topological), for the same reason as _inputs
            for o in n.outputs:
                if any(c == OUTPUT or c not in group for c, _ in fgraph.clients.get(o, ())):
                    res.append(o)
        return res

    def _covers(self, fgraph, group) -> bool:
        """Every exported value depends on every non-constant input of the group."""
        ins = [i for i in self._inputs(group) if not _inlinable(i)]
        deps: dict = {}

        def leaves(v):
            if v in deps:
                return deps[v]
            n = v.owner
            if n is None or n not in group:
                r = frozenset() if _inlinable(v) else frozenset([v])
            else:
                r = frozenset().union(*[leaves(i) for i in n.inputs])
            deps[v] = r
            return r

        want = frozenset(ins)
        return all(leaves(o) == want for o in self._exported(fgraph, group))

    def _replace(self, fgraph, members) -> bool:
        group = set(members)
        ext_inputs = self._inputs(members)
        smap: dict[Variable, Variable] = {}
        inner_ins, outer_ins = [], []
        for v in ext_inputs:
            if _inlinable(v):
                data = constant_value(v).reshape(())
                smap[v] = scalar_type(v.type.dtype).make_constant(data.astype(v.type.dtype)[()])
            else:
                s = scalar_type(v.type.dtype)()
                smap[v] = s
                inner_ins.append(s)
                outer_ins.append(v)
        try:
            for n in members:
                sop = n.op.scalar_op
                args = [smap[i] for i in n.inputs]
                if isinstance(sop, Composite):
                    outs = _inline(sop, args)
                else:
                    snode = sop.make_node(*args)
                    outs = snode.outputs
                for o, s in zip(n.outputs, outs):
                    if s.type.dtype != o.type.dtype:
                        return False  # a scalar op whose scalar form types differently: leave it
                    smap[o] = s
        except (TypeError, ValueError, NotImplementedError):
            return False  # a scalar op that cannot be built on scalar variables
        exported = self._exported(fgraph, members, group)
        if not outer_ins or not exported:
            return False
        comp = Composite(inner_ins, [smap[o] for o in exported])
        new = Elemwise(comp)(*outer_ins)
        new = new if isinstance(new, list) else [new]
        try:
            fgraph.replace_all(list(zip(exported, new)), reason="elemwise_fusion")
        except (InconsistencyError, TypeError):
            return False
        return True


def _inlinable(v: Variable) -> bool:
    data = constant_value(v)
    return data is not None and data.size == 1


def _inline(comp: Composite, args):
    m = dict(zip(comp.inner_inputs, args))
    for node in comp.fgraph.toposort():
        new = node.op.make_node(*[m.get(i, i) for i in node.inputs])
        for o, n in zip(node.outputs, new.outputs):
            m[o] = n
    return [m.get(o, o) for o in comp.inner_outputs]


fuse_elemwise = FusionRewriter()
