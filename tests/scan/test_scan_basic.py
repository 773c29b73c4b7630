"""kiln.scan forward semantics, against NumPy loops and PyTensor's documented behaviour."""
import pickle

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.scan import scan
from kiln.scan.op import Scan

PY = kiln.Mode(linker="py")


def f(ins, outs, **kw):
    return kiln.function(ins, outs, **kw)


def test_cumsum_matches_numpy():
    x = kt.dvector("x")
    s, upd = scan(lambda xt, acc: acc + xt, sequences=x, outputs_info=kt.constant(0.0))
    assert upd == {}
    v = np.random.default_rng(0).normal(size=7)
    np.testing.assert_allclose(f([x], s)(v), np.cumsum(v))


def test_cumprod_matrix_rows():
    x = kt.dmatrix("x")
    p, _ = scan(lambda r, acc: acc * r, sequences=x, outputs_info=kt.ones_like(x[0]))
    v = np.random.default_rng(1).uniform(0.5, 1.5, size=(5, 3))
    np.testing.assert_allclose(f([x], p)(v), np.cumprod(v, axis=0))


def test_fibonacci_taps():
    init = kt.lvector("init")
    fib, _ = scan(lambda a, b: a + b, outputs_info={"initial": init, "taps": [-2, -1]}, n_steps=10)
    out = f([init], fib)(np.array([0, 1]))
    ref = [0, 1]
    for _ in range(10):
        ref.append(ref[-1] + ref[-2])
    np.testing.assert_array_equal(out, ref[2:])


def test_sequence_taps_and_go_backwards_like_pytensor():
    x = kt.dvector("x")
    o, _ = scan(lambda a, b: a * 10 + b, sequences={"input": x, "taps": [-1, 1]})
    b, _ = scan(lambda a, s: s + a, sequences=x, outputs_info=kt.constant(0.0), go_backwards=True)
    v = np.arange(5.0)
    # values PyTensor 2.x gives for the same two scans
    np.testing.assert_allclose(f([x], o)(v), [2.0, 13.0, 24.0])
    np.testing.assert_allclose(f([x], b)(v), [4.0, 7.0, 9.0, 10.0, 10.0])


def test_symbolic_n_steps_and_truncation_by_shortest():
    x, y = kt.dvector("x"), kt.dvector("y")
    n = kt.lscalar("n")
    o, _ = scan(lambda a, b: a * b, sequences=[x, y], n_steps=n)
    fn = f([x, y, n], o)
    np.testing.assert_allclose(fn(np.arange(6.0), np.arange(4.0), 10), np.arange(4.0) ** 2)
    np.testing.assert_allclose(fn(np.arange(6.0), np.arange(4.0), 2), np.arange(2.0) ** 2)
    acc, _ = scan(lambda s: s * 2, outputs_info=kt.constant(1.0), n_steps=n)
    np.testing.assert_allclose(f([n], acc)(5), 2.0 ** np.arange(1, 6))


def test_zero_steps_gives_empty_outputs_of_the_right_shape():
    x0 = kt.dvector("x0")
    n = kt.lscalar("n")
    s, _ = scan(lambda h: h * 2, outputs_info=x0, n_steps=n)
    out = f([x0, n], s)(np.ones(3), 0)
    assert out.shape == (0, 3)
    m = kt.dmatrix("m")
    y, _ = scan(lambda r: r.sum() + r[:2], sequences=m)
    assert f([m], y)(np.zeros((0, 4))).shape == (0, 2)


def test_several_outputs_some_not_fed_back():
    x = kt.dvector("x")

    def step(xt, s):
        return s + xt, xt * 2, kt.stack([xt, s])

    (s, d, pair), _ = scan(step, sequences=x, outputs_info=[kt.constant(0.0), None, None])
    v = np.arange(1.0, 5.0)
    so, do, po = f([x], [s, d, pair])(v)
    np.testing.assert_allclose(so, np.cumsum(v))
    np.testing.assert_allclose(do, 2 * v)
    np.testing.assert_allclose(po, np.stack([v, np.r_[0.0, np.cumsum(v)[:-1]]], axis=1))


def test_non_sequences_and_implicit_shared_variables():
    W = kiln.shared(np.array([[0.5, -0.2], [0.1, 0.3]]), name="W")
    b = kt.dvector("b")
    x = kt.dmatrix("x")
    h, _ = scan(lambda xt, h, b: kt.tanh(kt.dot(h, W) + xt + b), sequences=x,
                outputs_info=kt.zeros_like(x[0]), non_sequences=b)
    xv, bv = np.random.default_rng(2).normal(size=(6, 2)), np.array([0.1, -0.1])
    ref, hh = [], np.zeros(2)
    for r in xv:
        hh = np.tanh(hh @ W.get_value() + r + bv)
        ref.append(hh)
    np.testing.assert_allclose(f([x, b], h)(xv, bv), ref)
    # an outer expression used inside is an input of the loop, not recomputed from its roots
    node = h.owner.inputs[0].owner
    assert isinstance(node.op, Scan) and W in node.inputs


def test_power_iteration_from_pytensor_docs():
    A = kt.dmatrix("A")
    v0 = kt.dvector("v0")

    def step(v, A):
        w = kt.dot(A, v)
        return w / kt.sqrt((w ** 2).sum())

    vs, _ = scan(step, outputs_info=v0, non_sequences=A, n_steps=60)
    rng = np.random.default_rng(3)
    M = rng.normal(size=(4, 4))
    M = M @ M.T
    v = f([A, v0], vs[-1])(M, np.ones(4))
    evals, evecs = np.linalg.eigh(M)
    top = evecs[:, -1]
    np.testing.assert_allclose(abs(v @ top), 1.0, atol=1e-6)


def test_updates_of_shared_variables():
    count = kiln.shared(np.int64(0), name="count")
    total = kiln.shared(0.0, name="total")
    x = kt.dvector("x")

    def step(xt):
        return xt * total, {count: count + 1, total: total + xt}

    y, upd = scan(step, sequences=x)
    assert set(upd) == {count, total}
    fn = f([x], y, updates=upd)
    v = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(fn(v), v * np.r_[0.0, np.cumsum(v)[:-1]])
    assert count.get_value() == 3 and total.get_value() == 6.0
    fn(v)
    assert count.get_value() == 6 and total.get_value() == 12.0


def test_only_updates_returned():
    acc = kiln.shared(np.zeros(2), name="acc")
    x = kt.dmatrix("x")
    out, upd = scan(lambda r: {acc: acc + r}, sequences=x)
    assert out == [] or out is None or len(out) == 0
    f([x], [], updates=upd)(np.ones((4, 2)))
    np.testing.assert_allclose(acc.get_value(), [4.0, 4.0])


def test_random_draws_advance_each_step():
    from kiln.tensor.random.stream import RandomStream

    srng = RandomStream(seed=7)
    z, upd = scan(lambda: srng.normal(size=(3,)), n_steps=4)
    fn = f([], z, updates=upd)
    a = fn()
    assert a.shape == (4, 3)
    assert len({tuple(r) for r in a}) == 4      # every step drew new numbers
    b = fn()
    assert not np.allclose(a, b)                # and the generator moved on
    # without explicit updates the generator's default update is the loop's final state
    (rng,) = list(upd)
    start = rng.get_value()
    c = f([], z)()
    ref = np.stack([start.normal(size=3) for _ in range(4)])
    np.testing.assert_allclose(c, ref)
    np.testing.assert_allclose(f([], z)(), np.stack([start.normal(size=3) for _ in range(4)]))


def test_dtype_mismatch_says_cast_initial_state():
    x = kt.dvector("x")
    s0 = kt.fscalar("s0")   # float32 state + float64 sequence -> a float64 output
    with pytest.raises(TypeError, match="cast your initial state"):
        scan(lambda xt, s: s + xt, sequences=x, outputs_info=s0)


def test_ndim_mismatch_and_wrong_output_count():
    x = kt.dvector("x")
    with pytest.raises(TypeError, match="dimension"):
        scan(lambda xt, s: kt.stack([s, xt]), sequences=x, outputs_info=kt.constant(0.0))
    with pytest.raises(ValueError, match="outputs_info has 2"):
        scan(lambda xt, s: s + xt, sequences=x, outputs_info=[kt.constant(0.0), None])
    with pytest.raises(ValueError, match="n_steps is required"):
        scan(lambda s: s, outputs_info=kt.constant(0.0))


def test_python_and_default_linker_agree_and_op_pickles():
    x = kt.dvector("x")
    s, _ = scan(lambda xt, acc: acc * 0.5 + xt ** 2, sequences=x, outputs_info=kt.constant(1.0))
    v = np.linspace(-1, 1, 9)
    np.testing.assert_allclose(f([x], s, mode=PY)(v), f([x], s)(v))
    op = s.owner.inputs[0].owner.op
    op2 = pickle.loads(pickle.dumps(op))
    assert op2 == op and hash(op2) == hash(op)
    fn = f([x], s)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(fn))(v), fn(v))


def test_return_list_and_name():
    x = kt.dvector("x")
    out, _ = scan(lambda xt: xt + 1, sequences=x, return_list=True, name="inc")
    assert isinstance(out, list) and len(out) == 1
    np.testing.assert_allclose(out[0].eval({x: np.zeros(2)}), [1.0, 1.0])


@pytest.mark.parametrize("taps, expected", [
    ([-1], [0.0, 1.0, 2.0, 3.0, 4.0]),
    ([2], [2.0, 3.0, 4.0, 5.0]),
    ([-2, -1], [1.0, 3.0, 5.0, 7.0]),
    ([1, 3], [4.0, 6.0, 8.0]),
])
def test_sequence_tap_windows_like_pytensor(taps, expected):
    # PyTensor 2.x gives these for the same scans over arange(6): the window spans tap 0
    x = kt.dvector("x")
    o, _ = scan(lambda *rows: sum(rows) * 1.0, sequences={"input": x, "taps": taps})
    np.testing.assert_allclose(f([x], o)(np.arange(6.0)), expected)


def test_initial_state_longer_than_the_taps_uses_its_first_rows():
    init = kt.dvector("init")
    o, _ = scan(lambda a, b: a + b, outputs_info={"initial": init, "taps": [-2, -1]}, n_steps=3)
    # PyTensor 2.x: [11, 21, 32] (rows 0 and 1 of the initial value)
    np.testing.assert_allclose(f([init], o)(np.array([1.0, 10.0, 100.0])), [11.0, 21.0, 32.0])


def test_infer_shape_does_not_run_the_loop():
    x = kt.dmatrix("x")
    o, _ = scan(lambda r, s: s + r.sum(), sequences=x, outputs_info=kt.constant(0.0))
    fn = f([x], o.shape)
    assert not any(isinstance(n.op, Scan) for n in fn.fgraph.apply_nodes)
    np.testing.assert_array_equal(fn(np.zeros((5, 2))), [5])


def test_equal_loops_are_equal_ops_and_merge():
    x = kt.dvector("x")

    def build():
        return scan(lambda xt, acc: acc * 0.5 + xt, sequences=x, outputs_info=kt.constant(0.0))[0]

    a, b = build(), build()
    assert a.owner.inputs[0].owner.op == b.owner.inputs[0].owner.op
    fn = f([x], [a, b])
    assert sum(isinstance(n.op, Scan) for n in fn.fgraph.apply_nodes) == 1
    ra, rb = fn(np.ones(3))
    np.testing.assert_allclose(ra, [1.0, 1.5, 1.75])
    np.testing.assert_allclose(rb, ra)


@pytest.mark.parametrize("name", ["kiln.scan.basic", "kiln.scan.op", "kiln.scan.grad"])
def test_docstring_examples(name):
    import doctest
    import importlib

    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0


def test_a_state_that_changes_shape_is_an_error_naming_scan():
    x0 = kt.dvector("x0")
    s, _ = scan(lambda h: kt.concatenate([h, h]), outputs_info=x0, n_steps=3, name="grow")
    with pytest.raises(ValueError, match=r"scan\{grow\}.*shape"):
        f([x0], s)(np.ones(2))


def test_strict_requires_shared_variables_as_non_sequences():
    W = kiln.shared(np.array([2.0]), name="W")
    x = kt.dvector("x")
    with pytest.raises(ValueError, match="strict"):
        scan(lambda xt: xt * W[0], sequences=x, strict=True)
    o, _ = scan(lambda xt, w: xt * w[0], sequences=x, non_sequences=W, strict=True)
    np.testing.assert_allclose(f([x], o)(np.array([1.0, 3.0])), [2.0, 6.0])


def test_numpy_sequences_and_bad_updates():
    o, _ = scan(lambda r, s: s + r, sequences=np.arange(4.0), outputs_info=kt.constant(0.0))
    np.testing.assert_allclose(o.eval(), [0.0, 1.0, 3.0, 6.0])
    x = kt.dvector("x")
    with pytest.raises(TypeError, match="shared"):
        scan(lambda xt: (xt, {x: xt}), sequences=x)
