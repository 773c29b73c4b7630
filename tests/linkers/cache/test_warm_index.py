"""Warm starts: a function found by the user's graph skips rewriting (kiln.linkers.cache.warm).

Every test uses a private cache directory and asserts on cache statistics and counters,
never on time; values are checked against NumPy.
"""
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.linkers.c.compiler import have_compiler
from kiln.linkers.cache import ModuleCache, get_cache
from kiln.linkers.cache.warm import warm_counts, warm_signature
from kiln.rewrites import explain

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")
REPO = Path(__file__).resolve().parents[3]
C = kiln.Mode(linker="c")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    root = tmp_path / "kc"
    monkeypatch.setenv("KILN_CACHE_DIR", str(root))
    return get_cache()


def _fn_entries(cache) -> list:
    """The warm-start entries' directories (functions/fn-<signature>)."""
    return sorted((cache.root / "functions").glob("fn-*"))


def _delta(before: dict) -> dict:
    now = warm_counts()
    return {k: now[k] - before[k] for k in now}


def _mlp(rng):
    W = kiln.shared(rng.normal(size=(5, 4)), name="W")
    b = kiln.shared(np.zeros(4), name="b")
    x, y = kt.matrix("x"), kt.matrix("y")
    h = kt.tanh(x @ W + b)
    loss = ((h - y) ** 2).mean()
    gW, gb = kiln.grad(loss, [W, b])
    return W, b, x, y, loss, [(W, W - 0.1 * gW), (b, b - 0.1 * gb)]


def _mlp_numpy(W, b, x, y):
    h = np.tanh(x @ W + b)
    loss = ((h - y) ** 2).mean()
    dh = 2 * (h - y) / h.size * (1 - h ** 2)
    return loss, W - 0.1 * (x.T @ dh), b - 0.1 * dh.sum(0)


def test_same_graph_twice_is_a_warm_start_with_the_same_results(cache):
    x = kt.vector("x")
    before = warm_counts()
    f1 = kiln.function([x], [kt.exp(x) * 2 + kt.log1p(x ** 2)], mode=C)
    st1 = cache.stats()
    assert not f1.warm_start and st1.rewrites_run == 1 and st1.warm_starts == 0 and st1.compiles >= 1
    f2 = kiln.function([x], [kt.exp(x) * 2 + kt.log1p(x ** 2)], mode=C)
    st2 = cache.stats()
    assert f2.warm_start
    assert st2.warm_starts == 1 and st2.rewrites_run == 1 and st2.compiles == st1.compiles   # nothing rebuilt
    assert _delta(before)["warm_starts"] == 1 and _delta(before)["stored"] == 1
    v = np.linspace(-0.9, 3, 7)
    np.testing.assert_allclose(f2(v)[0], np.exp(v) * 2 + np.log1p(v ** 2), rtol=1e-13)
    np.testing.assert_array_equal(f1(v)[0], f2(v)[0])
    # the rewrite report travels with the graph: explain() says what fired in the cold build
    assert explain(f2).fired() == explain(f1).fired()
    assert [str(n.op) for n in f2.fgraph.toposort()] == [str(n.op) for n in f1.fgraph.toposort()]


def test_different_constant_mode_or_types_are_misses(cache):
    x = kt.vector("x")
    kiln.function([x], x * 2 + 1, mode=C)
    before = warm_counts()
    g = kiln.function([x], x * 2 + 3, mode=C)                              # another constant
    h = kiln.function([x], x * 2 + 1, mode=C.excluding("fusion"))          # another mode
    xf = kt.vector("x", dtype="float32")
    k = kiln.function([xf], xf * 2 + 1, mode=C)                            # another input type
    assert not (g.warm_start or h.warm_start or k.warm_start)
    assert _delta(before)["warm_starts"] == 0 and _delta(before)["rewrites_run"] == 3
    v = np.arange(3.0)
    np.testing.assert_array_equal(g(v), v * 2 + 3)
    np.testing.assert_array_equal(h(v), v * 2 + 1)
    assert k(v.astype("float32")).dtype == np.float32


def test_signature_ignores_object_identity_but_not_structure():
    x, y = kt.vector("x"), kt.vector("y")
    from kiln.graph.fg import FunctionGraph

    s1 = warm_signature(FunctionGraph([x, y], [x * y + x]), C)
    s2 = warm_signature(FunctionGraph([x, y], [x * y + x]), C)
    s3 = warm_signature(FunctionGraph([x, y], [x * y + y]), C)      # other wiring
    s4 = warm_signature(FunctionGraph([y, x], [x * y + x]), C)      # other input order
    assert s1 == s2 and len({s1, s3, s4}) == 3


def test_shared_variables_and_updates_warm_start(cache):
    rng = np.random.default_rng(0)
    xv, yv = rng.normal(size=(3, 5)), rng.normal(size=(3, 4))
    W, b, x, y, loss, upd = _mlp(rng)
    W0, b0 = W.get_value().copy(), b.get_value().copy()
    f1 = kiln.function([x, y], loss, updates=upd, mode=C)
    # the same program again, with fresh shared variables holding other values
    W2, b2, x2, y2, loss2, upd2 = _mlp(np.random.default_rng(1))
    W2.set_value(W0.copy()), b2.set_value(b0.copy())
    f2 = kiln.function([x2, y2], loss2, updates=upd2, mode=C)
    assert not f1.warm_start and f2.warm_start
    ref_loss, ref_W, ref_b = _mlp_numpy(W0, b0, xv, yv)
    for f, Wv, bv in ((f1, W, b), (f2, W2, b2)):
        np.testing.assert_allclose(f(xv, yv), ref_loss, rtol=1e-12)
        np.testing.assert_allclose(Wv.get_value(), ref_W, rtol=1e-12)
        np.testing.assert_allclose(bv.get_value(), ref_b, rtol=1e-12, atol=1e-15)


def test_shared_values_are_not_stored_in_the_entry(cache):
    big = kiln.shared(np.zeros(200_000), name="big")
    x = kt.vector("x")
    kiln.function([x], (x + big).sum(), mode=C)
    (entry,) = _fn_entries(cache)
    assert sum(f.stat().st_size for f in entry.iterdir()) < 200_000   # 1.6 MB of zeros are not in it
    f = kiln.function([x], (x + big).sum(), mode=C)
    assert f.warm_start and f(np.ones(200_000)) == 200_000.0
    big.set_value(np.ones(200_000))
    assert f(np.ones(200_000)) == 400_000.0


def test_corrupt_entry_is_never_loaded_and_is_rebuilt(cache):
    x = kt.vector("x")
    kiln.function([x], kt.sin(x) + 1, mode=C)
    (entry,) = _fn_entries(cache)
    pkl = entry / "graph.pkl"
    data = pkl.read_bytes()
    os.chmod(pkl, 0o600)
    pkl.write_bytes(data[: len(data) // 2])         # truncated
    before = warm_counts()
    f = kiln.function([x], kt.sin(x) + 1, mode=C)
    assert not f.warm_start and _delta(before)["rewrites_run"] == 1 and _delta(before)["stored"] == 1
    np.testing.assert_allclose(f(np.arange(3.0)), np.sin(np.arange(3.0)) + 1, rtol=1e-15)
    g = kiln.function([x], kt.sin(x) + 1, mode=C)    # the rebuilt entry serves the next start
    assert g.warm_start


def test_entry_for_other_types_is_refused(cache):
    """A stored graph whose inputs do not match the user's graph is not used (and the
    function is built correctly anyway)."""
    x = kt.vector("x")
    kiln.function([x], x + 1, mode=C)
    (entry,) = _fn_entries(cache)
    data = pickle.loads((entry / "graph.pkl").read_bytes())
    m = kt.matrix("m")
    other = kiln.function([m], m + 1, mode=C, on_unused_input="ignore")
    from kiln.graph.flat import freeze_graph

    data["graph"] = freeze_graph(other.fgraph)
    cache.remove(entry.name)
    cache.publish(entry.name, {"graph.pkl": pickle.dumps(data)})
    before = warm_counts()
    f = kiln.function([x], x + 1, mode=C)
    assert not f.warm_start and _delta(before)["bad_entries"] == 1
    np.testing.assert_array_equal(f(np.arange(2.0)), [1.0, 2.0])


def test_user_rule_changes_the_signature(cache):
    from kiln.rewrites import pattern_rule, register, unregister

    x = kt.vector("x")
    kiln.function([x], kt.exp(x) * 0 + x, mode=C)
    register(pattern_rule((kt.exp, (kt.log, "x")), "x", name="test_warm_rule"), phase="canonicalize")
    try:
        f = kiln.function([x], kt.exp(x) * 0 + x, mode=C)
        assert not f.warm_start
    finally:
        unregister("test_warm_rule")
    assert kiln.function([x], kt.exp(x) * 0 + x, mode=C).warm_start


def test_uncacheable_op_parameter_is_rewritten_every_time(cache):
    from kiln.graph.basic import Apply
    from kiln.graph.op import Op

    class Opaque:   # a parameter with no stable text (its repr has an address)
        def __eq__(self, other):
            return isinstance(other, Opaque)

        def __hash__(self):
            return 0

    class AddOne(Op):
        __props__ = ("tag",)

        def __init__(self, tag):
            self.tag = tag

        def make_node(self, v):
            return Apply(self, [v], [v.type()])

        def perform(self, node, inputs, out):
            out[0][0] = inputs[0] + 1

    x = kt.vector("x")
    before = warm_counts()
    f = kiln.function([x], AddOne(Opaque())(x) * 2, mode=C)
    g = kiln.function([x], AddOne(Opaque())(x) * 2, mode=C)
    assert not f.warm_start and not g.warm_start
    assert _delta(before)["uncacheable"] == 2 and _delta(before)["warm_starts"] == 0
    np.testing.assert_array_equal(g(np.arange(3.0)), (np.arange(3.0) + 1) * 2)


def test_python_linker_is_not_served(cache):
    x = kt.vector("x")
    before = warm_counts()
    kiln.function([x], x + 1, mode=kiln.Mode(linker="py"))
    kiln.function([x], x + 1, mode=kiln.Mode(linker="py"))
    assert _delta(before) == {k: 0 for k in before}


_PROGRAM = r"""
import subprocess
_runs = []
_popen = subprocess.Popen.__init__
def _counting(self, *a, **k):
    _runs.append(a[0] if a else k.get("args"))
    return _popen(self, *a, **k)
subprocess.Popen.__init__ = _counting
import json, numpy as np, kiln, kiln.tensor as kt
from kiln.linkers.cache import get_cache
from kiln.linkers.cache.warm import warm_counts
x, W = kt.matrix("x"), kt.matrix("W")
b = kiln.shared(np.arange(3.0), name="b")
f = kiln.function([x, W], [kt.tanh(x @ W + b).sum(axis=1), (x @ W) * 2 - x.sum()], mode=kiln.Mode(linker="c"))
xv = np.arange(6.0).reshape(2, 3) / 10; Wv = np.eye(3) - 0.5
a, c = f(xv, Wv)
print(json.dumps({"a": a.tolist(), "c": c.tolist(), "warm": f.warm_start, "counts": warm_counts(),
                  "session": get_cache().session, "subprocesses": len(_runs)}))
"""


def test_second_process_rewrites_nothing_and_compiles_nothing(tmp_path):
    env = dict(os.environ, KILN_CACHE_DIR=str(tmp_path / "kc"), PYTHONPATH=str(REPO))

    def run():
        res = subprocess.run([sys.executable, "-c", _PROGRAM], env=env, capture_output=True, text=True,
                             timeout=300)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout.strip().splitlines()[-1])

    first, second = run(), run()
    assert not first["warm"] and first["counts"]["rewrites_run"] == 1 and first["session"]["compiles"] >= 1
    assert second["warm"] and second["counts"]["rewrites_run"] == 0 and second["counts"]["warm_starts"] == 1
    assert second["session"]["compiles"] == 0 and second["session"]["misses"] == 0
    # nor runs the compiler at all: its version and capabilities were remembered (probes/)
    assert first["subprocesses"] >= 1 and second["subprocesses"] == 0
    assert second["session"]["hits"] == first["session"]["compiles"] + first["session"]["hits"]
    xv = np.arange(6.0).reshape(2, 3) / 10
    Wv = np.eye(3) - 0.5
    np.testing.assert_allclose(first["a"], np.tanh(xv @ Wv + np.arange(3.0)).sum(axis=1), rtol=1e-13)
    np.testing.assert_allclose(first["c"], (xv @ Wv) * 2 - xv.sum(), rtol=1e-13)
    assert second["a"] == first["a"] and second["c"] == first["c"]
    st = ModuleCache(tmp_path / "kc").stats()
    assert st.warm_starts == 1 and st.rewrites_run == 1


def test_user_c_rule_changes_the_signature():
    from kiln.graph.fg import FunctionGraph
    from kiln.linkers.c.scalar_c import SCALAR_C

    class MyScalarOp:   # a user's class with a user's C rule: the modules may differ
        pass

    x = kt.vector("x")
    before = warm_signature(FunctionGraph([x], [kt.exp(x)]), C)
    SCALAR_C[MyScalarOp] = lambda op, xs, ins, outs: None
    try:
        during = warm_signature(FunctionGraph([x], [kt.exp(x)]), C)
    finally:
        del SCALAR_C[MyScalarOp]
    assert during != before and warm_signature(FunctionGraph([x], [kt.exp(x)]), C) == before


def test_warm_index_flag_turns_warm_starts_off(cache):
    x = kt.vector("x")
    kiln.function([x], kt.cos(x) * 3, mode=C)
    with kiln.config.change_flags(warm_index="0"):
        f = kiln.function([x], kt.cos(x) * 3, mode=C)
    assert not f.warm_start
    assert kiln.function([x], kt.cos(x) * 3, mode=C).warm_start
    np.testing.assert_allclose(f(np.arange(3.0)), np.cos(np.arange(3.0)) * 3, rtol=1e-15)
