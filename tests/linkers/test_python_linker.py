"""The python linker (reference interpreter): results, freeing, error notes, output checks."""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph.basic import Apply
from kiln.graph.fg import FunctionGraph
from kiln.graph.op import Op
from kiln.linkers.python import OpOutputError, PythonLinker
from kiln.tensor.type import TensorType
from tests.helpers import run_in_threads


class Probe(Op):
    """out = input + 0 (a fresh array); records a weakref to each output it makes, and, at each
    perform, which earlier outputs of any Probe in `book` are still alive."""

    __props__ = ("tag",)

    def __init__(self, tag: str, book: dict):
        self.tag = tag
        self.book = book

    def make_node(self, x):
        x = kt.as_tensor_variable(x)
        return Apply(self, [x], [x.type()])

    def perform(self, node, inputs, output_storage):
        self.book.setdefault("alive_at", {})[self.tag] = sorted(
            t for t, ref in self.book.get("refs", {}).items() if ref() is not None)
        out = inputs[0] + 0
        self.book.setdefault("refs", {})[self.tag] = weakref.ref(out)
        output_storage[0][0] = out


class SplitSign(Op):
    """Two outputs: the positive and the negative part."""

    def make_node(self, x):
        x = kt.as_tensor_variable(x)
        return Apply(self, [x], [x.type(), x.type()])

    def perform(self, node, inputs, output_storage):
        (x,) = inputs
        output_storage[0][0] = np.maximum(x, 0)
        output_storage[1][0] = np.minimum(x, 0)


class Buggy(Op):
    """Returns whatever `make` builds from its input, whatever its declared type says."""

    __props__ = ("kind",)

    def __init__(self, kind: str):
        self.kind = kind

    def make_node(self, x):
        x = kt.as_tensor_variable(x)
        return Apply(self, [x], [TensorType("float64", (None, 3))()])

    def perform(self, node, inputs, output_storage):
        if self.kind == "ok":
            output_storage[0][0] = np.zeros((2, 3))
        elif self.kind == "dtype":
            output_storage[0][0] = np.zeros((2, 3), dtype=np.float32)
        elif self.kind == "ndim":
            output_storage[0][0] = np.zeros(3)
        elif self.kind == "static":
            output_storage[0][0] = np.zeros((2, 4))
        elif self.kind == "scalar":
            output_storage[0][0] = 1.5
        elif self.kind == "nothing":
            pass


# Every behaviour is checked with both executors of a schedule: the loop (hot_calls=None)
# and the generated straight-line code (hot_calls=0).
EXECUTORS = pytest.mark.parametrize("hot", [None, 0], ids=["loop", "generated"])


def _runner(outputs, inputs, hot, check_outputs=True):
    fg = FunctionGraph(inputs, outputs, clone=False)
    return PythonLinker(check_outputs=check_outputs, hot_calls=hot).make_runner(fg)


def _run(outputs, inputs, values, hot, check_outputs=True):
    return _runner(outputs, inputs, hot, check_outputs)(values)


@EXECUTORS
def test_results_match_numpy(rng, hot):
    x, v = kt.matrix("x"), kt.vector("v")
    y = kt.tanh(x @ v + 1).sum(axis=0) / x.shape[0]
    a, b = rng.normal(size=(3, 4)), rng.normal(size=4)
    got = _run([y, kt.exp(v).max(), x], [x, v], [a, b], hot)
    np.testing.assert_allclose(got[0], np.tanh(a @ b + 1).sum(axis=0) / 3, rtol=1e-12)
    np.testing.assert_allclose(got[1], np.exp(b).max(), rtol=1e-12)
    assert got[2] is a  # the runner itself returns values as they are; Function copies


@EXECUTORS
def test_graph_without_nodes_and_constant_outputs(hot):
    x = kt.vector("x")
    c = kt.constant(np.arange(2.0))
    a = np.ones(2)
    out = _run([x, c], [x], [a], hot)
    assert out[0] is a
    np.testing.assert_array_equal(out[1], [0.0, 1.0])


@EXECUTORS
def test_multi_output_op_including_an_unused_output(hot):
    x = kt.vector("x")
    pos, neg = SplitSign()(x)
    a = np.array([-1.0, 2.0, -3.0])
    got = _run([pos * 2, neg], [x], [a], hot)
    np.testing.assert_array_equal(got[0], [0.0, 4.0, 0.0])
    np.testing.assert_array_equal(got[1], [-1.0, 0.0, -3.0])
    (only_pos,) = _run([pos + 1], [x], [a], hot)  # neg is computed but never read
    np.testing.assert_array_equal(only_pos, [1.0, 3.0, 1.0])


@EXECUTORS
def test_intermediates_are_freed_after_their_last_use(hot):
    book: dict = {}
    x = kt.vector("x")
    a = Probe("a", book)(x)          # read only by b
    b = Probe("b", book)(a)          # read by c and by e (later)
    c = Probe("c", book)(b)          # read only by d
    d = Probe("d", book)(c)
    e = Probe("e", book)(d + b)      # b's last reader is this add
    f = Probe("f", book)(e)
    fg = FunctionGraph([x], [f], clone=False)
    run = PythonLinker(hot_calls=hot).make_runner(fg)
    order = [n.op.tag for n in fg.toposort() if isinstance(n.op, Probe)]
    assert order == ["a", "b", "c", "d", "e", "f"]
    (out,) = run([np.zeros(3)])
    gc.collect()
    alive = book["alive_at"]
    assert alive["b"] == ["a"]          # a is still needed by b itself
    assert alive["c"] == ["b"]          # a was freed after b read it
    assert alive["d"] == ["b", "c"]     # b lives on: the add still needs it
    assert alive["e"] == []             # b, c, d freed after the add
    assert alive["f"] == ["e"]
    assert book["refs"]["f"]() is out   # the output is kept ...
    del out
    gc.collect()
    assert all(ref() is None for ref in book["refs"].values())  # ... and nothing else leaks


@EXECUTORS
def test_inputs_and_constants_are_never_freed(hot):
    x = kt.vector("x")
    c = kt.constant(np.array([1.0, 2.0]))
    y = kt.exp(x) + c
    z = y * x + c  # x and c are read again after their first readers
    run = _runner([z], [x], hot)
    a = np.array([0.5, -1.0])
    for _ in range(2):  # constants survive across calls
        (got,) = run([a])
        np.testing.assert_allclose(got, (np.exp(a) + [1.0, 2.0]) * a + [1.0, 2.0])


@EXECUTORS
def test_exception_in_perform_gets_a_note_naming_the_op_and_shapes(hot):
    x, y = kt.vector("x"), kt.vector("y")
    run = _runner([kt.exp(x) * y], [x, y], hot)
    with pytest.raises(ValueError, match="broadcast") as info:
        run([np.zeros(3), np.zeros(4)])
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "kiln: while computing mul" in notes
    assert "shape=(3,)" in notes and "shape=(4,)" in notes and "y:" in notes


def test_exception_note_through_function():
    x = kt.matrix("x")
    f = kiln.function([x], x @ x, mode=kiln.Mode(linker="py"))
    with pytest.raises(ValueError) as info:
        f(np.ones((2, 3)))
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "shape=(2, 3)" in notes


@pytest.mark.parametrize("kind, match", [
    ("dtype", "float32"),
    ("ndim", r"shape \(3,\)"),
    ("static", r"shape \(2, 4\)"),
    ("scalar", "float"),
    ("nothing", "did not store output 0"),
])
@EXECUTORS
def test_check_outputs_reports_a_buggy_op(kind, match, hot):
    x = kt.vector("x")
    with pytest.raises(OpOutputError, match=match) as info:
        _run([kt.exp(x), Buggy(kind)(x)], [x], [np.zeros(2)], hot)
    msg = str(info.value)
    assert "Buggy" in msg and "bug in the op" in msg and "shape=(2,)" in msg
    assert isinstance(info.value, TypeError)
    assert not getattr(info.value, "__notes__", None)  # the message already names the node


@EXECUTORS
def test_check_outputs_off_lets_values_through(hot):
    x = kt.vector("x")
    (got,) = _run([Buggy("dtype")(x)], [x], [np.zeros(2)], hot, check_outputs=False)
    assert got.dtype == np.float32
    (ok,) = _run([Buggy("ok")(x)], [x], [np.zeros(2)], hot)
    np.testing.assert_array_equal(ok, np.zeros((2, 3)))


@EXECUTORS
def test_check_outputs_accepts_run_time_broadcasting_of_unknown_dims(hot):
    x, y = kt.matrix("x"), kt.matrix("y")
    (got,) = _run([x + y], [x, y], [np.ones((3, 1)), np.ones((1, 4))], hot)
    np.testing.assert_array_equal(got, np.full((3, 4), 2.0))


@EXECUTORS
def test_runner_is_thread_safe(rng, hot):
    x = kt.matrix("x")
    y = kt.exp(x).sum(axis=1) * x.max()
    run = _runner([y], [x], hot)
    data = [rng.normal(size=(4, 5)) for _ in range(6)]
    want = [np.exp(a).sum(axis=1) * a.max() for a in data]

    def work(k: int) -> None:
        for rep in range(100):
            j = (k * 7 + rep) % len(data)
            np.testing.assert_allclose(run([data[j]])[0], want[j], rtol=1e-12)

    run_in_threads(work, 4)


def test_runner_becomes_generated_code_when_hot():
    x = kt.vector("x")
    run = PythonLinker(hot_calls=3).make_runner(FunctionGraph([x], [kt.exp(x) + 1], clone=False))
    a = np.array([0.0, 1.0])
    results = [run([a])[0] for _ in range(6)]  # 3 loop calls, then generation, then generated
    for r in results:
        np.testing.assert_allclose(r, np.exp(a) + 1)
    gen = run.generated()
    assert "def run(values)" in gen.source
    assert sum(f"P{k}(N{k}" in gen.source for k in range(len(run.nodes))) == len(run.nodes)
    assert run.nodes == tuple(run.fgraph.toposort())
    np.testing.assert_allclose(gen([a])[0], np.exp(a) + 1)


def test_function_calls_stay_correct_across_the_switch():
    x = kt.vector("x")
    f = kiln.function([x], (kt.exp(x) * 2).sum(), mode=kiln.Mode(linker="py"))
    rng = np.random.default_rng(0)
    from kiln.linkers.python import HOT_CALLS

    for _ in range(HOT_CALLS + 5):
        a = rng.normal(size=3)
        np.testing.assert_allclose(f(a), (np.exp(a) * 2).sum(), rtol=1e-12)


@EXECUTORS
def test_wrong_number_of_values_is_an_error(hot):
    x, y = kt.vector("x"), kt.vector("y")
    with pytest.raises(ValueError):
        _runner([x + y], [x, y], hot)([np.zeros(2)])
    with pytest.raises(ValueError):
        _runner([kt.constant(1.0) + 1], [], hot)([np.zeros(2)])
