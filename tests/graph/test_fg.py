"""FunctionGraph: clients bookkeeping, replace with type checks, pruning, features, rollback."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import kiln.tensor as kt
from kiln.graph import Feature, FunctionGraph, InconsistencyError, MissingInputError
from kiln.graph.fg import OUTPUT
from kiln.linkers.python import PythonLinker
from kiln.scalar.math import add
from kiln.tensor.elemwise import Elemwise


def run(fg, *values):
    return PythonLinker().make_runner(fg)(list(values))


def snapshot(fg):
    """Everything that describes the graph's state, by identity."""
    return (list(fg.inputs), list(fg.outputs), set(fg.apply_nodes), set(fg.variables),
            {v: sorted((id(n) if n != OUTPUT else -1, i) for n, i in cl) for v, cl in fg.clients.items()},
            {n: list(n.inputs) for n in fg.apply_nodes})


class Recorder(Feature):
    def __init__(self):
        self.events = []

    def on_attach(self, fgraph):
        self.events.append(("attach",))

    def on_detach(self, fgraph):
        self.events.append(("detach",))

    def on_import(self, fgraph, node, reason):
        self.events.append(("import", node, reason))

    def on_prune(self, fgraph, node, reason):
        self.events.append(("prune", node, reason))

    def on_change_input(self, fgraph, node, i, old, new, reason):
        self.events.append(("change", node, i, old, new, reason))


class Refuse(Feature):
    """Refuses any graph in which `bad_op_name` appears."""

    def __init__(self, bad_op_name):
        self.bad = bad_op_name
        self.calls = 0

    def validate(self, fgraph):
        self.calls += 1
        if any(str(n.op) == self.bad for n in fgraph.apply_nodes):
            raise InconsistencyError(f"{self.bad} is not allowed")


# -- construction ------------------------------------------------------------------------------------
def test_construction_tracks_nodes_variables_and_clients():
    x, y = kt.vector("x"), kt.vector("y")
    e = kt.exp(x)
    out = e * y + e
    fg = FunctionGraph([x, y], [out], clone=False)
    fg.check_integrity()
    assert fg.inputs == [x, y] and fg.outputs == [out]
    assert fg.apply_nodes == {e.owner, out.owner, out.owner.inputs[0].owner}
    assert fg.clients[x] == [(e.owner, 0)]
    assert sorted(i for _, i in fg.clients[e]) == [0, 1]
    assert fg.clients[out] == [(OUTPUT, 0)]
    assert {x, y, e, out} <= fg.variables


def test_construction_clones_by_default():
    x = kt.vector("x")
    out = kt.exp(x)
    fg = FunctionGraph([x], [out])
    assert fg.inputs[0] is not x and fg.outputs[0] is not out
    assert fg.inputs[0].name == "x" and fg.outputs[0].owner.op == out.owner.op
    assert out.owner not in fg.apply_nodes
    fg.check_integrity()


def test_same_variable_as_two_outputs():
    x = kt.vector("x")
    e = kt.exp(x)
    fg = FunctionGraph([x], [e, e], clone=False)
    assert fg.clients[e] == [(OUTPUT, 0), (OUTPUT, 1)]
    fg.check_integrity()


def test_input_may_be_an_output():
    x = kt.vector("x")
    fg = FunctionGraph([x], [x], clone=False)
    assert fg.apply_nodes == set() and fg.clients[x] == [(OUTPUT, 0)]
    fg.check_integrity()


def test_missing_input_error_names_the_variable():
    x, y = kt.vector("x"), kt.vector("secret_y")
    with pytest.raises(MissingInputError, match="secret_y") as info:
        FunctionGraph([x], [x + y], clone=False)
    assert info.value.variable is y


def test_constants_are_not_inputs_but_tracked():
    x = kt.vector("x")
    c = kt.constant(np.array([1.0, 2.0]))
    fg = FunctionGraph([x], [x + c], clone=False)
    assert c in fg.variables and c not in fg.inputs
    fg.check_integrity()
    with pytest.raises(TypeError, match="constant"):
        FunctionGraph([c], [c * 2], clone=False)


def test_owned_variable_cannot_be_an_input():
    x = kt.vector("x")
    with pytest.raises(ValueError, match="owner"):
        FunctionGraph([kt.exp(x)], [kt.exp(x)], clone=False)


# -- replace --------------------------------------------------------------------------------------------
def test_replace_updates_clients_and_prunes_dead_nodes():
    x = kt.vector("x")
    e = kt.exp(x)
    out = kt.sin(e) + 1
    fg = FunctionGraph([x], [out], clone=False)
    new = kt.cos(x)
    fg.replace(e, new, reason="test")
    fg.check_integrity()
    assert e.owner not in fg.apply_nodes and e not in fg.variables and e not in fg.clients
    assert new.owner in fg.apply_nodes
    assert kt.sin(e).owner.op == out.owner.inputs[0].owner.op
    assert out.owner.inputs[0].owner.inputs[0] is new
    xv = np.array([0.5, -1.0])
    np.testing.assert_allclose(run(fg, xv)[0], np.sin(np.cos(xv)) + 1)


def test_replace_prunes_a_whole_dead_chain():
    x, y = kt.vector("x"), kt.vector("y")
    chain = x
    for _ in range(5):
        chain = kt.exp(chain)
    out = chain + y
    fg = FunctionGraph([x, y], [out], clone=False)
    assert len(fg.apply_nodes) == 6
    fg.replace(chain, y * 2)
    fg.check_integrity()
    assert len(fg.apply_nodes) == 3  # mul, DimShuffle{x}(2), add
    assert x in fg.variables and fg.clients[x] == []  # inputs stay, unused


def test_replace_output():
    x = kt.vector("x")
    e = kt.exp(x)
    fg = FunctionGraph([x], [e, e + 1], clone=False)
    new = kt.sqrt(x)
    fg.replace(e, new)
    fg.check_integrity()
    assert fg.outputs[0] is new
    assert fg.outputs[1].owner.inputs[0] is new
    xv = np.array([4.0, 9.0])
    r = run(fg, xv)
    np.testing.assert_allclose(r[0], [2.0, 3.0])
    np.testing.assert_allclose(r[1], [3.0, 4.0])


def test_replace_output_with_an_input():
    x = kt.vector("x")
    out = kt.exp(x)
    fg = FunctionGraph([x], [out], clone=False)
    fg.replace(out, x)
    fg.check_integrity()
    assert fg.outputs == [x] and fg.apply_nodes == set()


def test_replace_variable_not_in_graph_is_a_noop():
    x = kt.vector("x")
    fg = FunctionGraph([x], [kt.exp(x)], clone=False)
    before = snapshot(fg)
    rec = Recorder()
    fg.attach_feature(rec)
    fg.replace(kt.sin(x), kt.cos(x))
    assert snapshot(fg) == before
    assert rec.events == [("attach",)]


def test_replace_with_itself_is_a_noop():
    x = kt.vector("x")
    e = kt.exp(x)
    fg = FunctionGraph([x], [e * 2], clone=False)
    before = snapshot(fg)
    fg.replace(e, e)
    assert snapshot(fg) == before


def test_replace_accepts_more_specific_static_shape():
    x = kt.vector("x")
    e = kt.exp(x)
    fg = FunctionGraph([x], [e * 2], clone=False)
    specific = kt.specify_shape(kt.cos(x), (3,))
    assert specific.type.shape == (3,)
    fg.replace(e, specific, reason="refine")
    fg.check_integrity()
    assert fg.outputs[0].owner.inputs[0] is specific


def test_replace_incompatible_type_raises_naming_the_reason():
    x = kt.vector("x")
    e = kt.exp(x)
    fg = FunctionGraph([x], [e * 2], clone=False)
    before = snapshot(fg)
    with pytest.raises(TypeError, match="my_rewrite"):
        fg.replace(e, kt.matrix("m"), reason="my_rewrite")
    with pytest.raises(TypeError, match="my_rewrite"):
        fg.replace(e, kt.fvector("f"), reason="my_rewrite")
    assert snapshot(fg) == before
    fg.check_integrity()


def test_replace_less_specific_type_is_converted():
    # a variable of less static knowledge is re-typed (specify_shape) rather than refused
    x = kt.tensor(dtype="float64", shape=(3,), name="x")
    e = kt.exp(x)
    fg = FunctionGraph([x], [e * 2], clone=False)
    loose = kt.vector("loose")
    fg2 = FunctionGraph([x, loose], [e * 2], clone=False)
    fg2.replace(e, loose, reason="loosen")
    fg2.check_integrity()
    used = fg2.outputs[0].owner.inputs[0]
    assert used.type == e.type and used is not loose
    assert fg.outputs[0].owner.inputs[0] is e


def test_replace_with_missing_input_leaves_graph_untouched():
    x, y = kt.vector("x"), kt.vector("y")
    e = kt.exp(x)
    fg = FunctionGraph([x], [e * 2], clone=False)
    before = snapshot(fg)
    # the importable part (cos(x)) comes first in topological order; it must not stay behind
    with pytest.raises(MissingInputError, match="y"):
        fg.replace(e, kt.cos(x) + kt.sin(y))
    assert snapshot(fg) == before
    fg.check_integrity()


def test_replace_all_is_simultaneous_and_consistent():
    x, y = kt.vector("x"), kt.vector("y")
    a, b = kt.exp(x), kt.exp(y)
    fg = FunctionGraph([x, y], [a + b], clone=False)
    fg.replace_all([(a, kt.sin(x)), (b, kt.cos(y))], reason="both")
    fg.check_integrity()
    xv, yv = np.array([0.3]), np.array([0.7])
    np.testing.assert_allclose(run(fg, xv, yv)[0], np.sin(xv) + np.cos(yv))


def test_replace_all_where_second_pair_prunes_a_changed_node():
    x, y = kt.vector("x"), kt.vector("y")
    a = kt.exp(x)
    z = a + y
    fg = FunctionGraph([x, y], [z], clone=False)
    fg.replace_all([(a, kt.sin(x)), (z, y * 3)])
    fg.check_integrity()
    assert fg.outputs[0].owner.op == (y * 3).owner.op


def test_many_clients_replaced_one_by_one():
    # 2,000 replacements stay consistent (their cost is linear; measured by hand, not asserted)
    x = kt.vector("x")
    n = 2000
    terms = [kt.exp(x + float(i)) for i in range(n)]  # each x + i is add(x, DimShuffle(i))
    fg_terms = []
    out = Elemwise(add)(*terms)
    fg = FunctionGraph([x], [out], clone=False)
    for t in terms:
        fg_terms.append(kt.sin(t.owner.inputs[0]))
        fg.replace(t, fg_terms[-1])
    fg.check_integrity()
    assert len(fg.apply_nodes) == 3 * n + 1
    assert fg.outputs[0].owner.inputs == fg_terms
    assert len(fg.clients[x]) == n


def test_long_chain_replaced_one_by_one():
    x = kt.vector("x")
    v = x
    for _ in range(2000):
        v = kt.neg(v)
    fg = FunctionGraph([x], [v], clone=False)
    for node in fg.toposort():
        fg.replace(node.outputs[0], kt.abs(node.inputs[0]))
    fg.check_integrity()
    assert all(str(n.op) == "abs" for n in fg.apply_nodes) and len(fg.apply_nodes) == 2000


def test_change_node_input_rejects_foreign_node():
    x = kt.vector("x")
    fg = FunctionGraph([x], [kt.exp(x)], clone=False)
    with pytest.raises(ValueError, match="not a node"):
        fg.change_node_input(kt.sin(x).owner, 0, x)


# -- features ---------------------------------------------------------------------------------------------
def test_feature_receives_events_in_order():
    x = kt.vector("x")
    e = kt.exp(x)
    s = kt.sin(e)
    fg = FunctionGraph([x], [s], clone=False)
    rec = Recorder()
    fg.attach_feature(rec)
    new = kt.cos(x)
    fg.replace(e, new, reason="why")
    assert rec.events == [
        ("attach",),
        ("import", new.owner, "why"),
        ("change", s.owner, 0, e, new, "why"),
        ("prune", e.owner, "why"),
    ]
    fg.remove_feature(rec)
    assert rec.events[-1] == ("detach",)
    assert rec not in fg.features


def test_feature_import_events_in_topological_order():
    x = kt.vector("x")
    rec = Recorder()
    a = kt.exp(x)
    b = kt.sin(a)
    c = b * 2
    fg = FunctionGraph([x], [x], clone=False, features=[rec])
    fg.change_node_input(OUTPUT, 0, c, reason="grow")
    imported = [ev[1] for ev in rec.events if ev[0] == "import"]
    assert imported == fg.toposort()
    assert imported.index(a.owner) < imported.index(b.owner) < imported.index(c.owner)


def test_feature_attached_once():
    rec = Recorder()
    fg = FunctionGraph([kt.vector("x")], [], clone=False)
    fg.attach_feature(rec)
    fg.attach_feature(rec)
    assert fg.features.count(rec) == 1 and rec.events == [("attach",)]


def test_validate_refusal_rolls_back_completely():
    x = kt.vector("x")
    e = kt.exp(x)
    out = kt.sin(e) * e
    fg = FunctionGraph([x], [out, e], clone=False)
    refuse = Refuse("cos")
    fg.attach_feature(refuse)
    before = snapshot(fg)
    with pytest.raises(InconsistencyError, match="cos"):
        fg.replace(e, kt.cos(x), reason="bad")
    assert snapshot(fg) == before
    fg.check_integrity()
    assert refuse.calls == 1
    # the graph still computes the original function
    xv = np.array([0.1, 0.2])
    r = run(fg, xv)
    np.testing.assert_allclose(r[0], np.sin(np.exp(xv)) * np.exp(xv))
    # and an acceptable change still works afterwards
    fg.replace(e, kt.sqrt(x), reason="good")
    fg.check_integrity()


def test_rollback_restores_a_less_specific_type():
    x = kt.vector("x")
    e = kt.exp(x)
    fg = FunctionGraph([x], [e * 2], clone=False, features=[Refuse("sin")])
    before = snapshot(fg)
    with pytest.raises(InconsistencyError):
        fg.replace(e, kt.specify_shape(kt.sin(x), (3,)))
    assert snapshot(fg) == before
    fg.check_integrity()


def test_replace_all_rollback_undoes_every_pair():
    x, y = kt.vector("x"), kt.vector("y")
    a, b = kt.exp(x), kt.exp(y)
    z = a + b
    fg = FunctionGraph([x, y], [z], clone=False, features=[Refuse("tan")])
    before = snapshot(fg)
    # the last pair prunes what the first two built; the final state is refused
    with pytest.raises(InconsistencyError):
        fg.replace_all([(a, kt.sin(x)), (b, kt.cos(y)), (z, kt.tan(x) * b)])
    assert snapshot(fg) == before
    fg.check_integrity()


def test_rollback_notifies_features():
    x = kt.vector("x")
    e = kt.exp(x)
    fg = FunctionGraph([x], [kt.sin(e)], clone=False, features=[Refuse("cos")])
    rec = Recorder()
    fg.attach_feature(rec)
    with pytest.raises(InconsistencyError):
        fg.replace(e, kt.cos(x))
    kinds = [ev[0] for ev in rec.events]
    assert kinds == ["attach", "import", "change", "prune", "import", "change", "prune"]
    assert all(ev[-1] == "rollback" for ev in rec.events[4:])


def test_replace_without_validation_skips_validate():
    x = kt.vector("x")
    e = kt.exp(x)
    refuse = Refuse("cos")
    fg = FunctionGraph([x], [kt.sin(e)], clone=False, features=[refuse])
    fg.replace(e, kt.cos(x), validate=False)
    assert refuse.calls == 0
    fg.check_integrity()


# -- queries and cloning -------------------------------------------------------------------------------------
def test_toposort_and_iteration():
    x = kt.vector("x")
    a = kt.exp(x)
    b = kt.sin(a)
    fg = FunctionGraph([x], [b * a], clone=False)
    order = fg.toposort()
    assert order.index(a.owner) < order.index(b.owner) < order.index(fg.outputs[0].owner)
    assert list(fg) == order


def test_fgraph_clone_is_independent():
    x = kt.vector("x")
    fg = FunctionGraph([x], [kt.exp(x) + 1])
    fg2, equiv = fg.clone_get_equiv()
    assert fg2.inputs[0] is equiv[fg.inputs[0]] and fg2.inputs[0] is not fg.inputs[0]
    assert not (fg2.apply_nodes & fg.apply_nodes)
    e2 = fg2.outputs[0].owner.inputs[0]
    fg2.replace(e2, kt.sin(fg2.inputs[0]))
    fg.check_integrity()
    fg2.check_integrity()
    xv = np.array([0.5])
    np.testing.assert_allclose(run(fg, xv)[0], np.exp(xv) + 1)
    np.testing.assert_allclose(run(fg2, xv)[0], np.sin(xv) + 1)


def test_check_integrity_detects_corruption():
    x = kt.vector("x")
    e = kt.exp(x)
    fg = FunctionGraph([x], [kt.sin(e)], clone=False)
    fg.clients[e].append((fg.outputs[0].owner, 5))
    with pytest.raises(AssertionError, match="clients"):
        fg.check_integrity()
    fg = FunctionGraph([x], [kt.sin(e)], clone=False)
    fg.apply_nodes.add(kt.cos(x).owner)
    with pytest.raises(AssertionError, match="apply_nodes"):
        fg.check_integrity()
    fg = FunctionGraph([x], [kt.sin(e)], clone=False)
    fg.variables.add(kt.vector("stray"))
    with pytest.raises(AssertionError, match="variables"):
        fg.check_integrity()


def test_unused_constants_leave_the_graph():
    x = kt.vector("x")
    two = kt.constant(np.array([2.0, 2.0]))
    prod = x * two
    fg = FunctionGraph([x], [kt.exp(prod)], clone=False)
    assert two in fg.variables
    fg.replace(prod, x)
    fg.check_integrity()
    assert two not in fg.variables and two not in fg.clients
    # and come back when used again
    fg.replace(x, x, reason="noop")
    fg.replace(fg.outputs[0], kt.exp(x) + two)
    fg.check_integrity()
    assert two in fg.variables


def test_inputs_stay_when_unused():
    x, y = kt.vector("x"), kt.vector("y")
    fg = FunctionGraph([x, y], [kt.exp(x) + y], clone=False)
    fg.replace(fg.outputs[0], kt.exp(x))
    fg.check_integrity()
    assert fg.inputs == [x, y] and fg.clients[y] == []


# -- property: random edits keep the bookkeeping exact and the function unchanged ---------------------------


class Coin(Feature):
    """Refuses a change when told to (the test flips it before each replace)."""

    refuse = False

    def validate(self, fgraph):
        if self.refuse:
            raise InconsistencyError("coin says no")


def _random_graph(rng):
    xs = [kt.vector(f"x{k}") for k in range(3)]
    vs = list(xs)
    unary = [kt.exp, kt.sin, kt.tanh, kt.neg]
    for _ in range(12):
        if rng.random() < 0.5:
            vs.append(unary[rng.integers(len(unary))](vs[rng.integers(len(vs))]))
        else:
            a, b = vs[rng.integers(len(vs))], vs[rng.integers(len(vs))]
            vs.append(a * b if rng.random() < 0.5 else a + b)
    outs = [vs[-1], vs[rng.integers(3, len(vs))]]
    return xs, outs


@settings(max_examples=25)
@given(st.integers(0, 2**32 - 1))
def test_random_equivalent_replacements_keep_graph_consistent(seed):
    rng = np.random.default_rng(seed)
    xs, outs = _random_graph(rng)
    fg = FunctionGraph(xs, outs, clone=False)
    coin = Coin()
    fg.attach_feature(coin)
    vals = [rng.uniform(-1, 1, 4) for _ in xs]
    want = run(fg, *vals)
    for _ in range(8):
        owned = [n.outputs[0] for n in fg.toposort()]
        if not owned:
            break
        v = owned[rng.integers(len(owned))]
        choice = rng.integers(3)
        if choice == 0:  # the same computation, rebuilt
            new = v.owner.clone().outputs[0]
        elif choice == 1:  # a wrapper that depends on the variable it replaces
            new = kt.neg(kt.neg(v))
        else:  # an equal value through another op
            new = v * 1.0
        coin.refuse = bool(rng.random() < 0.3)
        before = snapshot(fg)
        try:
            fg.replace(v, new, reason="random")
        except InconsistencyError:
            assert snapshot(fg) == before
        fg.check_integrity()
    got = run(fg, *vals)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-12)


def test_constant_output():
    x = kt.vector("x")
    one = kt.constant(np.array([1.0]))
    fg = FunctionGraph([x], [one], clone=False)
    fg.check_integrity()
    assert fg.clients[one] == [(OUTPUT, 0)] and fg.apply_nodes == set()
    fg.replace(one, kt.exp(x) * 0.0 + 1.0)
    fg.check_integrity()
    assert one not in fg.variables
    # the output keeps its static shape (1,): the replacement is asserted to have it
    assert fg.outputs[0].type == one.type
    np.testing.assert_allclose(run(fg, np.array([3.0]))[0], [1.0])
    with pytest.raises(ValueError, match="shape"):
        run(fg, np.array([3.0, 4.0]))
