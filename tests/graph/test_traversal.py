"""Graph walks: ancestors, graph_inputs, orphans, io_toposort, variables_between."""
import numpy as np
import pytest

import kiln.tensor as kt
from kiln.graph import (Apply, FunctionGraph, ancestors, applys_between, graph_inputs, io_toposort,
                        orphans, toposort, variables_between)


def diamond():
    x, y = kt.vector("x"), kt.vector("y")
    a = kt.exp(x)
    b = kt.sin(a)
    c = kt.cos(a)
    d = b + c * y
    return x, y, a, b, c, d


def assert_topological(order):
    pos = {n: k for k, n in enumerate(order)}
    assert len(pos) == len(order), "a node appears twice"
    for n in order:
        for inp in n.inputs:
            if inp.owner in pos:
                assert pos[inp.owner] < pos[n], f"{inp.owner} must come before {n}"


def test_ancestors_contains_everything_once():
    x, y, a, b, c, d = diamond()
    anc = ancestors([d])
    assert anc[0] is d
    assert {x, y, a, b, c, d} <= set(anc)
    assert len(anc) == len(set(map(id, anc)))


def test_ancestors_stop_at_blockers():
    x, y, a, b, c, d = diamond()
    anc = ancestors([d], blockers=[a])
    assert a in anc and x not in anc


def test_graph_inputs_lists_roots_and_reached_blockers():
    x, y, a, b, c, d = diamond()
    assert set(graph_inputs([d])) == {x, y}
    assert set(graph_inputs([d], blockers=[a])) == {a, y}
    k = kt.constant(np.array([2.0]))
    assert k in graph_inputs([x * k])


def test_orphans_are_roots_outside_the_inputs():
    x, y, a, b, c, d = diamond()
    assert orphans([x], [d]) == [y]
    k = kt.constant(np.array([2.0]))
    assert orphans([x], [x * k]) == [k]


def test_io_toposort_respects_dependencies():
    x, y, a, b, c, d = diamond()
    order = io_toposort([x, y], [d])
    assert_topological(order)
    cy = d.owner.inputs[1]
    assert set(order) == {a.owner, b.owner, c.owner, cy.owner, d.owner}
    assert order[0] is a.owner and order[-1] is d.owner


def test_io_toposort_stops_at_inputs():
    x, y, a, b, c, d = diamond()
    order = io_toposort([a, y], [d])
    assert a.owner not in order
    assert_topological(order)


def test_io_toposort_multiple_outputs_share_nodes_once():
    x, y, a, b, c, d = diamond()
    order = io_toposort([x, y], [b, c, d, a])
    assert len(order) == len(set(order))
    assert_topological(order)


def test_io_toposort_on_random_dags(rng):
    for _ in range(20):
        vs = [kt.vector(f"i{k}") for k in range(3)]
        for _ in range(40):
            p, q = rng.integers(0, len(vs), size=2)
            vs.append(vs[p] * vs[q] if rng.random() < 0.5 else kt.exp(vs[p]))
        outs = [vs[k] for k in rng.integers(3, len(vs), size=3)]
        order = io_toposort(vs[:3], outs)
        assert_topological(order)
        # exactly the nodes the outputs depend on
        needed = {v.owner for v in ancestors(outs) if v.owner is not None}
        assert set(order) == needed


def test_io_toposort_detects_cycles():
    x = kt.vector("x")
    a = kt.exp(x)
    b = kt.sin(a)
    a.owner.inputs[0] = b  # corrupt the graph on purpose
    with pytest.raises(ValueError, match="cycle"):
        io_toposort([x], [b])


def test_deep_chain_has_no_recursion_limit():
    x = kt.scalar("x")
    v = x
    n = 20000
    for _ in range(n):
        v = kt.neg(v)
    order = io_toposort([x], [v])
    assert len(order) == n and order[0].inputs[0] is x and order[-1].outputs[0] is v
    assert len(ancestors([v])) == n + 1
    assert graph_inputs([v]) == [x]
    assert len(toposort([v])) == n
    fg = FunctionGraph([x], [v], clone=False)
    assert len(fg.apply_nodes) == n
    fg.check_integrity()
    fg2 = fg.clone()
    assert len(fg2.apply_nodes) == n and not (fg2.apply_nodes & fg.apply_nodes)
    assert graph_inputs(fg2.outputs) == fg2.inputs


def test_variables_between_and_applys_between():
    x, y, a, b, c, d = diamond()
    vs = variables_between([x, y], [d])
    assert vs[:2] == [x, y] and d in vs and a in vs
    assert len(vs) == len(set(map(id, vs)))
    assert set(applys_between([x, y], [d])) == set(io_toposort([x, y], [d]))


def test_toposort_with_blockers():
    x, y, a, b, c, d = diamond()
    order = toposort([d], blockers=[a])
    assert a.owner not in order and b.owner in order
    assert isinstance(order[0], Apply)
