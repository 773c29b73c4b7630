"""Cloning and substitution: clone_get_equiv, clone, clone_replace, graph_replace."""
import numpy as np
import pytest

import kiln.tensor as kt
from kiln.graph import ancestors, clone, clone_get_equiv, clone_replace, graph_replace, io_toposort


def evaluate(out, inputs, values):
    return out.eval(dict(zip(inputs, values)))


def test_clone_get_equiv_maps_every_node_and_variable():
    x, y = kt.vector("x"), kt.vector("y")
    a = kt.exp(x)
    out = a * y
    equiv = clone_get_equiv([x, y], [out])
    for node in io_toposort([x, y], [out]):
        new = equiv[node]
        assert new is not node and new.op == node.op
        assert [equiv[i] for i in node.inputs] == new.inputs
        assert [equiv[o] for o in node.outputs] == new.outputs
    assert equiv[x] is not x and equiv[x].name == "x" and equiv[x].type == x.type
    assert equiv[a].name == a.name


def test_clone_get_equiv_can_keep_inputs_and_orphans():
    x = kt.vector("x")
    k = kt.constant(np.array([2.0]))
    out = x * k
    equiv = clone_get_equiv([x], [out], copy_inputs=False, copy_orphans=False)
    assert equiv[x] is x and equiv[k] is k and equiv[out] is not out
    equiv2 = clone_get_equiv([x], [out], copy_inputs=True, copy_orphans=True)
    assert equiv2[k] is not k and equiv2[k].equals(k)


def test_clone_get_equiv_respects_memo():
    x, z = kt.vector("x"), kt.vector("z")
    out = kt.exp(x)
    equiv = clone_get_equiv([x], [out], memo={x: z})
    assert equiv[out].owner.inputs == [z]


def test_clone_copies_tags_but_not_eval_caches():
    x = kt.vector("x")
    a = kt.exp(x)
    a.tag["hint"] = "keep"
    a.eval({x: np.zeros(1)})
    equiv = clone_get_equiv([x], [a])
    assert equiv[a].tag.get("hint") == "keep" and "_eval_cache" not in equiv[a].tag


def test_clone_returns_inputs_and_outputs():
    x = kt.vector("x")
    (x2,), (o2,) = clone([x], [kt.exp(x) + 1])
    assert x2 is not x and o2.owner.inputs[0].owner.inputs[0] is x2
    xv = np.array([0.0, 1.0])
    np.testing.assert_allclose(o2.eval({x2: xv}), np.exp(xv) + 1)


def test_clone_replace_substitutes_and_leaves_the_original_alone():
    x, y = kt.vector("x"), kt.vector("y")
    out = kt.exp(x) * 2
    new = clone_replace(out, {x: y})
    assert x not in ancestors([new]) and y in ancestors([new])
    assert out.owner.inputs[0].owner.inputs == [x]  # untouched
    yv = np.array([0.5, 1.5])
    np.testing.assert_allclose(new.eval({y: yv}), np.exp(yv) * 2)


def test_clone_replace_clones_every_node_above_the_keys():
    x, y = kt.vector("x"), kt.vector("y")
    a = kt.exp(y)  # does not depend on x
    out = a + kt.sin(x)
    new = clone_replace(out, {x: kt.cos(x)})
    new_nodes = set(io_toposort([x, y], [new]))
    assert a.owner not in new_nodes  # clone_replace copies, unlike graph_replace


def test_clone_replace_list_and_pairs():
    x, y, z = kt.vector("x"), kt.vector("y"), kt.vector("z")
    outs = clone_replace([x + y, x * y], [(x, z)])
    assert len(outs) == 2 and all(x not in ancestors([o]) for o in outs)


def test_clone_replace_value_may_depend_on_key():
    x = kt.vector("x")
    new = clone_replace(x * 2, {x: x + 1})
    np.testing.assert_allclose(new.eval({x: np.array([1.0])}), [4.0])


def test_clone_replace_with_different_type_rebuilds_nodes():
    x, m = kt.vector("x"), kt.matrix("m")
    new = clone_replace(kt.exp(x) + 1, {x: m})
    assert new.type.ndim == 2
    mv = np.ones((2, 2))
    np.testing.assert_allclose(new.eval({m: mv}), np.exp(mv) + 1)


def test_clone_replace_keeps_names():
    x, y = kt.vector("x"), kt.vector("y")
    a = kt.exp(x)
    a.name = "a"
    new = clone_replace(a * 2, {x: y})
    assert new.owner.inputs[0].name == "a"


def test_graph_replace_shares_untouched_nodes():
    x, y = kt.vector("x"), kt.vector("y")
    untouched = kt.exp(y)
    touched = kt.sin(x)
    out = untouched * touched
    z = kt.vector("z")
    new = graph_replace(out, {x: z})
    nodes = set(io_toposort([z, y], [new]))
    assert untouched.owner in nodes  # shared, not copied
    assert touched.owner not in nodes
    assert new.owner is not out.owner
    yv, zv = np.array([0.2]), np.array([0.3])
    np.testing.assert_allclose(new.eval({y: yv, z: zv}), np.exp(yv) * np.sin(zv))


def test_graph_replace_with_nothing_to_replace_returns_same_graph():
    x, y = kt.vector("x"), kt.vector("y")
    out = kt.exp(x)
    assert graph_replace(out, {y: x}) is out
    outs = graph_replace([out, x], {})
    assert outs[0] is out and outs[1] is x


def test_graph_replace_checks_types_when_strict():
    x = kt.vector("x")
    out = kt.exp(x)
    with pytest.raises(TypeError, match="graph_replace"):
        graph_replace(out, {x: kt.matrix("m")})
    new = graph_replace(out, {x: kt.matrix("m")}, strict=False)
    assert new.type.ndim == 2


def test_graph_replace_accepts_a_python_value():
    x = kt.vector("x")
    new = graph_replace(kt.exp(x), {x: np.array([0.0, 1.0])})
    np.testing.assert_allclose(new.eval(), np.exp([0.0, 1.0]))


def test_graph_replace_inner_variable():
    x = kt.vector("x")
    a = kt.exp(x)
    out = kt.sin(a) + a
    y = kt.vector("y")
    new = graph_replace(out, {a: y})
    yv = np.array([0.4, 0.9])
    np.testing.assert_allclose(new.eval({y: yv}), np.sin(yv) + yv)
    assert x not in ancestors([new])
