"""PyTensor's graph-walk names (kiln/graph/walk.py), checked on small graphs whose answers are
known, and reachable from kiln.graph.basic / kiln.graph.traversal as in PyTensor."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph import basic, traversal
from kiln.graph.walk import (apply_ancestors, apply_depends_on, equal_computations, explicit_graph_inputs,
                             general_toposort, get_var_by_name, orphans_between, truncated_graph_inputs,
                             variable_ancestors, variable_depends_on, walk)


def test_explicit_inputs_skip_constants_and_shared():
    x, y = kt.dvector("x"), kt.dscalar("y")
    s = kiln.shared(np.ones(3), name="s")
    z = (x + s) * y + kt.constant(2.0)
    assert [v.name for v in explicit_graph_inputs([z])] == ["x", "y"]
    assert [v.name for v in explicit_graph_inputs(x)] == ["x"]


def test_depends_on_and_ancestors():
    x, y, w = kt.dscalar("x"), kt.dscalar("y"), kt.dscalar("w")
    a = x * y
    b = kt.exp(a)
    assert variable_depends_on(b, [x]) and variable_depends_on(b, a) and not variable_depends_on(b, [w])
    assert apply_depends_on(b.owner, a.owner) and not apply_depends_on(a.owner, b.owner)
    assert list(apply_ancestors([b])) == [b.owner, a.owner]
    assert set(variable_ancestors([b], blockers=[a])) == {b, a}
    assert set(orphans_between([x], [b])) == {y}


def test_walk_and_general_toposort():
    graph = {"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}
    assert list(walk(["a"], lambda n: graph[n], hash_fn=lambda n: n)) == ["a", "b", "c", "d"]
    assert list(walk(["a"], lambda n: graph[n], bfs=False, hash_fn=lambda n: n)) == ["a", "b", "d", "c"]
    order = general_toposort(["a"], lambda n: graph[n])
    assert order.index("d") < order.index("b") < order.index("a") and order.index("c") < order.index("a")
    with pytest.raises(ValueError, match="cycle"):
        general_toposort(["p"], lambda n: {"p": ["q"], "q": ["p"]}[n])


def test_truncated_graph_inputs_cases():
    x, n, o2 = kt.dscalar("x"), kt.dscalar("n"), kt.dscalar("o2")
    c = kt.exp(x)
    o = c * 2 + n
    assert truncated_graph_inputs([o]) == [o]
    got = truncated_graph_inputs([o, o2], [c])
    assert c in got and n in got and o2 in got and x not in got
    c2 = c + 1
    got2 = truncated_graph_inputs([c2 * 3], [c, c2])
    assert c in got2 and c2 in got2 and x not in got2
    assert truncated_graph_inputs([o], [kt.dscalar("unrelated")]) == [o]


def test_get_var_by_name_and_equal_computations():
    x, y = kt.dvector("x"), kt.dvector("y")
    z = kt.exp(x) + y
    z.name = "z"
    assert get_var_by_name([z], "x") == (x,) and get_var_by_name([z], "z") == (z,)
    assert equal_computations([kt.exp(x) + y], [z])
    assert not equal_computations([kt.exp(y) + x], [z])
    assert not equal_computations([kt.exp(x) + 2.0], [kt.exp(x) + 3.0])
    u, v = kt.dvector("u"), kt.dvector("v")
    assert equal_computations([kt.exp(u) + v], [z], in_xs=[u, v], in_ys=[x, y])
    assert equal_computations([np.arange(3)], [np.arange(3)]) and not equal_computations([np.arange(3)], [np.ones(3)])
    assert not equal_computations([kt.fvector("f")], [kt.dvector("d")])
    with pytest.raises(ValueError):
        equal_computations([x], [x, y])


def test_pytensor_module_paths():
    for name in ("ancestors", "graph_inputs", "equal_computations", "explicit_graph_inputs", "io_toposort"):
        assert callable(getattr(basic, name))
    for name in ("explicit_graph_inputs", "truncated_graph_inputs", "walk", "variable_depends_on"):
        assert callable(getattr(traversal, name))
    with pytest.raises(AttributeError):
        basic.no_such_walk
