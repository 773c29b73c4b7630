"""Fast warm starts: a warm start replays the stored C layout instead of lowering, imports
none of the code-generation modules nor SciPy's package, and still gives exactly the cold
start's plan and results (kiln.linkers.c.layout, kiln.linkers.cache.warm, kiln._lazy).

Every test uses a private cache directory; results are checked against NumPy, and plans
against the cold start's own plan, never against time.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph.fg import FunctionGraph
from kiln.graph.op import Op
from kiln.linkers.c.compiler import have_compiler
from kiln.linkers.c.layout import Layout
from kiln.linkers.c.linker import CLinker, canonical_order
from kiln.linkers.cache import ModuleCache, get_cache

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")
REPO = Path(__file__).resolve().parents[3]
C = kiln.Mode(linker="c")

#: modules a warm start must not import: they only serve cold compiles
COLD_ONLY = ("kiln.linkers.c.lower", "kiln.linkers.c.lower_shape_ops", "kiln.linkers.c.lower_index",
             "kiln.linkers.c.lower_fused", "kiln.linkers.c.ir", "kiln.linkers.c.ir_fused",
             "kiln.linkers.c.ir_index", "kiln.linkers.c.ir_shape_ops", "kiln.linkers.c.render",
             "kiln.linkers.c.scalar_c", "scipy", "scipy._lib", "scipy.linalg")


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KILN_CACHE_DIR", str(tmp_path / "kc"))
    return get_cache()


# -- graphs covering the kinds of segment steps: kernels, views, BLAS, python nodes -------
def _elemwise():
    x = kt.vector("x")
    return [x], [kt.exp(x) * 2 + kt.log1p(x ** 2)], [np.linspace(-0.5, 2, 7)]


def _mlp_grad():
    x, W, b = kt.matrix("x"), kt.matrix("W"), kt.vector("b")
    loss = (kt.tanh(x @ W + b) ** 2).mean()
    gW, gb = kiln.grad(loss, [W, b])
    rng = np.random.default_rng(0)
    return [x, W, b], [loss, gW, gb], [rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5)]


def _indexing():
    E, i = kt.matrix("E"), kt.lvector("i")
    rows = E[i]
    cost = (rows ** 2).sum() + E[1:, ::2].sum()
    return [E, i], [cost, kiln.grad(cost, E)], [np.arange(12.0).reshape(4, 3), np.array([0, 2, 2])]


def _reduce_and_shapes():
    X = kt.matrix("X")
    d2 = kt.sum((X.dimshuffle(0, "x", 1) - X.dimshuffle("x", 0, 1)) ** 2, axis=-1)
    K = kt.exp(-d2) + kt.eye(X.shape[0])
    return [X], [K.sum(axis=1), kt.max(K)], [np.random.default_rng(1).normal(size=(5, 2))]


GRAPHS = [_elemwise, _mlp_grad, _indexing, _reduce_and_shapes]


def _plan_of(run) -> list:
    """A runner's plan as comparable data: per segment its descriptor slots and the kind,
    slots and extras of every prepared step."""
    out = []
    for seg in run.segments:
        prep = [(kind, ins, outs, None if extra is None else ([str(d) for d in extra[0]], extra[1], extra[2]))
                for kind, _, ins, outs, extra in seg.prep]
        out.append((seg.label, list(seg.buf_slots), prep, seg.n_pools))
    return out


@pytest.mark.parametrize("make", GRAPHS, ids=lambda f: f.__name__)
def test_replayed_layout_gives_the_cold_plan_modules_and_results(tmp_path, make):
    inputs, outputs, values = make()
    linker = CLinker(ModuleCache(tmp_path / "kc"))
    fg = FunctionGraph(inputs, outputs, clone=True)
    C.rewrite(fg)
    cold = linker.make_runner(fg)
    assert cold.layout is not None
    fg._warm_module_keys, fg._warm_layout = list(cold.module_keys), cold.layout
    warm = linker.make_runner(fg)
    assert warm.layout == cold.layout and warm.module_keys == cold.module_keys
    assert _plan_of(warm) == _plan_of(cold)
    for a, b in zip(cold(values), warm(values)):
        np.testing.assert_array_equal(a, b)
    # and against the python linker (the semantics)
    ref = kiln.function(inputs, outputs, mode=kiln.Mode(linker="py"))(*values)
    for a, r in zip(warm(values), ref):
        np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12)


def test_layout_of_another_graph_or_malformed_is_not_replayed(tmp_path):
    x = kt.vector("x")
    linker = CLinker(ModuleCache(tmp_path / "kc"))
    fg1 = FunctionGraph([x], [kt.exp(x) + 1], clone=True)
    fg2 = FunctionGraph([x], [kt.sin(x).sum()], clone=True)
    lay1 = linker.make_runner(fg1).layout
    order2 = canonical_order(fg2)
    assert Layout.replayable(lay1, canonical_order(fg1)) is not None
    assert Layout.replayable(lay1, order2) is None   # other ops
    bad = [None, {}, {"ops": lay1["ops"], "groups": (("s", (0, 0)),), "kernels": {}},
           {"ops": lay1["ops"], "groups": (("s", (5,)),), "kernels": {}},
           {"ops": lay1["ops"], "groups": (("x", (0,)),), "kernels": {}},
           {"ops": lay1["ops"], "groups": lay1["groups"], "kernels": {0: (7,)}},
           {"ops": lay1["ops"], "groups": lay1["groups"], "kernels": {3: ()}},
           {"ops": lay1["ops"], "groups": (("s", (0.0,)),), "kernels": {}},
           {"ops": lay1["ops"], "groups": lay1["groups"], "kernels": {0: (0.0,)}},
           {"ops": lay1["ops"][:-1], "groups": lay1["groups"], "kernels": lay1["kernels"]}]
    for data in bad:
        assert Layout.replayable(data, canonical_order(fg1)) is None, data
    # a wrong layout handed to the linker is ignored: it lowers, and the results are right
    fg2._warm_layout = lay1
    run = linker.make_runner(fg2)
    np.testing.assert_allclose(run([np.arange(3.0)])[0], np.sin(np.arange(3.0)).sum(), rtol=1e-14)


def test_replayed_layout_without_its_modules_compiles_them_again(tmp_path):
    inputs, outputs, values = _mlp_grad()
    cache = ModuleCache(tmp_path / "kc")
    fg = FunctionGraph(inputs, outputs, clone=True)
    C.rewrite(fg)
    cold = CLinker(cache).make_runner(fg)
    fg._warm_module_keys, fg._warm_layout = list(cold.module_keys), cold.layout
    other = ModuleCache(tmp_path / "other")   # an empty cache: the stored keys are not there
    run = CLinker(other).make_runner(fg)
    assert other.session["compiles"] >= 1 and run.module_keys == cold.module_keys
    for a, b in zip(cold(values), run(values)):
        np.testing.assert_array_equal(a, b)


def test_warm_start_in_process_replays_the_stored_layout(cache, monkeypatch):
    import kiln.linkers.c.linker as linker_mod

    inputs, outputs, values = _mlp_grad()
    f1 = kiln.function(inputs, outputs, mode=C)
    lowered = []
    real = linker_mod.Recorder

    def counting(order):   # a cold start lowers through a Recorder; a warm start must not
        lowered.append(len(order))
        return real(order)

    monkeypatch.setattr(linker_mod, "Recorder", counting)
    f2 = kiln.function(inputs, outputs, mode=C)
    assert f2.warm_start and lowered == []
    assert _plan_of(f2._runner) == _plan_of(f1._runner)
    for a, b in zip(f1(*values), f2(*values)):
        np.testing.assert_array_equal(a, b)


def test_every_lowered_op_has_its_shape_rule_without_the_lowerings():
    """A warm start imports the linker but not the lowerings: every op class kiln lowers must
    already have its run-time shape rule then, and importing the lowerings must not change
    any rule (else a warm start could compute a shape differently from a cold one)."""
    code = """
import json, sys
import kiln.linkers.c.linker
from kiln.linkers.c.shapes import SHAPE_RULES, VALUE_INPUTS
assert "kiln.linkers.c.lower" not in sys.modules
before = (dict(SHAPE_RULES), dict(VALUE_INPUTS))
from kiln.linkers.c.lower import LOWERINGS
changed = [k.__name__ for t, b in zip((SHAPE_RULES, VALUE_INPUTS), before) for k, v in b.items() if t.get(k) is not v]
added = [k.__name__ for t, b in zip((SHAPE_RULES, VALUE_INPUTS), before) for k in t if k not in b]
print(json.dumps({"changed": changed, "added": added, "missing": [k.__name__ for k in LOWERINGS if k not in before[0]],
                  "lowered": len(LOWERINGS)}))
"""
    res = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(REPO)),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["changed"] == [] and out["added"] == [] and out["missing"] == [] and out["lowered"] > 10


_PROGRAM = r"""
import json, sys
import numpy as np
import kiln, kiln.tensor as kt
mods = set(sys.modules)
rng = np.random.default_rng(0)
W = kiln.shared(rng.normal(size=(6, 4)), name="W"); b = kiln.shared(np.zeros(4), name="b")
x, y = kt.matrix("x"), kt.matrix("y")
loss = ((kt.tanh(x @ W + b) - y) ** 2).mean()
gW, gb = kiln.grad(loss, [W, b])
f = kiln.function([x, y], [loss, gb], updates=[(W, W - 0.1 * gW), (b, b - 0.1 * gb)])
xv, yv = rng.normal(size=(5, 6)), rng.normal(size=(5, 4))
l1, gb1 = f(xv, yv)
new = sorted(m for m in set(sys.modules) - mods if m.startswith(("kiln", "scipy")))
print(json.dumps({"warm": f.warm_start, "loss": float(l1), "gb": gb1.tolist(), "W": W.get_value().tolist(),
                  "new": new}))
"""


def test_second_process_imports_no_code_generation_and_matches_the_first(tmp_path):
    env = dict(os.environ, KILN_CACHE_DIR=str(tmp_path / "kc"), PYTHONPATH=str(REPO))

    def run():
        res = subprocess.run([sys.executable, "-c", _PROGRAM], env=env, capture_output=True, text=True,
                             timeout=300)
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout.strip().splitlines()[-1])

    first, second = run(), run()
    assert not first["warm"] and second["warm"]
    assert "kiln.linkers.c.lower" in first["new"] and "kiln.linkers.c.linker" in second["new"]
    cold_only = [m for m in second["new"] if m in COLD_ONLY]
    assert cold_only == [], cold_only
    for k in ("loss", "gb", "W"):
        assert second[k] == first[k], k
    rng = np.random.default_rng(0)
    W0 = rng.normal(size=(6, 4))
    xv, yv = rng.normal(size=(5, 6)), rng.normal(size=(5, 4))
    h = np.tanh(xv @ W0)
    np.testing.assert_allclose(first["loss"], ((h - yv) ** 2).mean(), rtol=1e-13)
    dh = 2 * (h - yv) / h.size * (1 - h ** 2)
    np.testing.assert_allclose(first["gb"], dh.sum(0), rtol=1e-12)
    np.testing.assert_allclose(first["W"], W0 - 0.1 * xv.T @ dh, rtol=1e-12)


def test_warm_start_of_indexing_ops_matches_numpy(tmp_path):
    """Indexing kernels (gather, scatter-add) read their structure and shapes from
    kiln.linkers.c.shapes_index on a warm start, without their lowering."""
    code = r"""
import json, sys
import numpy as np
import kiln, kiln.tensor as kt
E, i = kt.matrix("E"), kt.lvector("i")
f = kiln.function([E, i], [E[i] * 2, E[i].sum()])
a, s = f(np.arange(6.0).reshape(3, 2), np.array([2, 0, 2]))
g = kiln.function([E, i], kiln.grad((E[i] ** 2).sum(), E))
gE = g(np.arange(6.0).reshape(3, 2), np.array([1, 2, 1]))
print(json.dumps({"warm": [f.warm_start, g.warm_start], "a": a.tolist(), "s": float(s), "gE": gE.tolist(),
                  "lower": "kiln.linkers.c.lower" in sys.modules}))
"""
    env = dict(os.environ, KILN_CACHE_DIR=str(tmp_path / "kc"), PYTHONPATH=str(REPO))
    outs = []
    for _ in range(2):
        res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        outs.append(json.loads(res.stdout.strip().splitlines()[-1]))
    E = np.arange(6.0).reshape(3, 2)
    assert [o["warm"] for o in outs] == [[False, False], [True, True]]
    assert [o["lower"] for o in outs] == [True, False]
    gE = np.zeros((3, 2))
    for r in (1, 2, 1):
        gE[r] += 2 * E[r]
    for o in outs:
        np.testing.assert_array_equal(o["a"], E[[2, 0, 2]] * 2)
        assert o["s"] == E[[2, 0, 2]].sum()
        np.testing.assert_array_equal(o["gE"], gE)


def test_cython_blas_loads_without_importing_scipy():
    code = r"""
import json, sys
import numpy as np
from kiln._lazy import capsule_pointer, scipy_linalg_extension
blas = scipy_linalg_extension("cython_blas")
lapack = scipy_linalg_extension("cython_lapack")
alone = sorted(m for m in sys.modules if m == "scipy" or m.startswith(("scipy.", "scipy._lib")))
ptr = capsule_pointer(blas.__pyx_capi__["dgemm"])
import scipy, scipy.linalg
from scipy.linalg import cython_blas
a = np.arange(6.0).reshape(2, 3)
again = capsule_pointer(cython_blas.__pyx_capi__["dgemm"])
print(json.dumps({"alone": alone, "same": cython_blas is blas, "ptr": ptr == again,
                  "lapack": scipy_linalg_extension("cython_lapack") is lapack,
                  "version": isinstance(scipy.__version__, str), "pinv": scipy.linalg.pinv(a).shape}))
"""
    res = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(REPO)),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert "scipy" not in out["alone"] and "scipy._lib" not in out["alone"]
    assert out["same"] and out["ptr"] and out["lapack"] and out["version"] and out["pinv"] == [3, 2]


def test_cython_blas_when_scipy_is_already_imported():
    code = r"""
import json, sys
import scipy
from kiln._lazy import scipy_linalg_extension
blas = scipy_linalg_extension("cython_blas")
print(json.dumps({"dgemm": "dgemm" in blas.__pyx_capi__, "linalg": "scipy.linalg" in sys.modules,
                  "same": sys.modules["scipy"] is scipy}))
"""
    res = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(REPO)),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == {"dgemm": True, "linalg": False, "same": True}


def test_constants_kept_apart_from_the_kernel_ir_agree_with_it():
    """The runtime and the index shape rules hold copies of two kernel-IR constants (so a
    warm start does not import the IR): they must be the IR's values."""
    from kiln.linkers.c import ir_index, lower, runtime, shapes_index

    assert runtime.MAXDIM == lower.MAXDIM
    assert runtime.DESC_DTYPE["shape"].shape == (lower.MAXDIM,)
    assert shapes_index.NEWAXIS_SRC == ir_index.NEWAXIS_SRC


class _Scale(Op):
    """y = x * factor, with `factor` a parameter: 2 and 2.0 (and 1 and True) make equal ops."""

    __props__ = ("factor",)

    def __init__(self, factor):
        self.factor = factor

    def make_node(self, x):
        from kiln.graph.basic import Apply

        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0] * self.factor


def test_signature_texts_are_remembered_by_identity_not_equality():
    """Ops equal by their parameters (2 == 2.0) still get their own text, so two graphs
    that differ only there never share an entry; a remembered text dies with its op."""
    import gc

    from kiln.linkers.cache import warm

    x = kt.vector("x")
    a, b = _Scale(2), _Scale(2.0)
    assert a == b
    sig_a = warm.warm_signature(FunctionGraph([x], [a(x)]), C)
    sig_b = warm.warm_signature(FunctionGraph([x], [b(x)]), C)
    assert sig_a != sig_b
    # remembered: the same op's text is served again, and equals a fresh computation
    assert warm.warm_signature(FunctionGraph([x], [a(x)]), C) == sig_a
    assert warm._text(a) == warm._op_text(a)
    c1 = kt.constant(np.arange(3.0))
    assert warm._memo_text(c1, warm._constant_text) == warm._constant_text(c1)
    n = len(warm._MEMO)
    del a, b, c1
    gc.collect()
    assert len(warm._MEMO) <= n - 3


def test_constants_with_equal_values_but_other_dtypes_differ():
    x = kt.dvector("x")
    one_i = kt.constant(np.int64(1))
    one_f = kt.constant(np.float64(1))
    from kiln.linkers.cache.warm import warm_signature

    s1 = warm_signature(FunctionGraph([x], [x + one_i]), C)
    s2 = warm_signature(FunctionGraph([x], [x + one_f]), C)
    assert s1 != s2 and s1 == warm_signature(FunctionGraph([x], [x + kt.constant(np.int64(1))]), C)


def test_cython_blas_and_scipy_imported_from_several_threads_at_once():
    """The stand-in for `scipy` while an extension loads must not leak to a thread that
    imports SciPy at the same moment (smoke test: four threads, released together)."""
    code = r"""
import json, sys, threading
import numpy as np
from kiln._lazy import scipy_linalg_extension
barrier = threading.Barrier(4)
out, errors = {}, []

def load(name):
    try:
        barrier.wait()
        capi = scipy_linalg_extension(name).__pyx_capi__
        out[name] = "dgemm" in capi or "dpotrf" in capi
    except Exception as e:
        errors.append(repr(e))

def use_scipy(k):
    try:
        barrier.wait()
        import scipy.linalg
        out[k] = scipy.linalg.pinv(np.eye(2) * 2).tolist() == [[0.5, 0.0], [0.0, 0.5]]
    except Exception as e:
        errors.append(repr(e))

ts = [threading.Thread(target=load, args=("cython_blas",)), threading.Thread(target=load, args=("cython_lapack",)),
      threading.Thread(target=use_scipy, args=("a",)), threading.Thread(target=use_scipy, args=("b",))]
for t in ts: t.start()
for t in ts: t.join()
import scipy
print(json.dumps({"out": out, "errors": errors, "real": type(sys.modules["scipy"]).__name__ == "module"
                  and hasattr(scipy, "__version__")}))
"""
    res = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, PYTHONPATH=str(REPO)),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["errors"] == [] and out["real"]
    assert out["out"] == {"cython_blas": True, "cython_lapack": True, "a": True, "b": True}
