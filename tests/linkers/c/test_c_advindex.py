"""C kernels for indexing with integer arrays and slices (kiln/linkers/c/lower_index.py):
AdvancedSubtensor (gather), AdvancedIncSubtensor(+Inplace) and IncSubtensor(+Inplace)
(scatter, set and inc).  Results are compared with NumPy (np.add.at for inc: the kernel
accumulates sequentially in index order, so integer and float results are bit-identical)
and with the python linker; every op must really run inside a C segment."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph.fg import FunctionGraph
from kiln.linkers.c.compiler import have_compiler
from kiln.linkers.c.linker import CLinker, _group, canonical_order
from kiln.rewrites.inplace import IncSubtensorInplace
from kiln.tensor.advanced import AdvancedIncSubtensor, AdvancedIncSubtensorInplace, AdvancedSubtensor
from kiln.tensor.inc_subtensor import IncSubtensor

pytestmark = pytest.mark.skipif(not have_compiler(), reason="no C compiler")

C = kiln.Mode(linker="c")
PY = kiln.Mode(linker="py")
INDEX_OPS = (AdvancedSubtensor, AdvancedIncSubtensor, AdvancedIncSubtensorInplace, IncSubtensor, IncSubtensorInplace)
DTYPES = ["float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"]


def _in_c(f) -> int:
    """How many indexing nodes of f's graph run inside a C segment; fails if one does not."""
    n = 0
    for tag, nodes in _group(canonical_order(f.fgraph)):
        for node in nodes:
            if isinstance(node.op, INDEX_OPS):
                assert tag == "s", f"{node.op} runs through perform"
                n += 1
    return n


def _values(shape, dtype, rng):
    if dtype == "bool":
        return rng.random(shape) > 0.5
    if dtype.startswith(("int", "uint")):
        return rng.integers(0, 100, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _strided(a):
    """The same values as a non-contiguous, negatively strided view."""
    base = np.empty(tuple(2 * s for s in a.shape), dtype=a.dtype)
    view = base[tuple(slice(None, None, -2) for _ in a.shape)]
    view[...] = a
    return view


# (name, x shape, index builder from x and symbolic int arrays, numeric key from arrays, index shapes)
PATTERNS = {
    "rows": ((6, 4), lambda x, i, j: x[i], lambda i, j: (i,), [(7,)]),
    "cols": ((6, 4), lambda x, i, j: x[:, i], lambda i, j: (slice(None), i), [(5,)]),
    "2d_index": ((6, 4), lambda x, i, j: x[i], lambda i, j: (i,), [(2, 3)]),
    "adjacent_pair": ((5, 4, 3), lambda x, i, j: x[i, j], lambda i, j: (i, j), [(2, 1), (3,)]),
    "separated_pair": ((5, 4, 3), lambda x, i, j: x[i, :, j], lambda i, j: (i, slice(None), j), [(2,), (2,)]),
    "slices_around": ((5, 4, 3), lambda x, i, j: x[::-2, i, 1:],
                      lambda i, j: (slice(None, None, -2), i, slice(1, None)), [(4,)]),
    "newaxis": ((5, 4), lambda x, i, j: x[None, :, i], lambda i, j: (None, slice(None), i), [(3,)]),
    "array_and_scalar": ((5, 4), lambda x, i, j: x[i, 2], lambda i, j: (i, 2), [(3,)]),
}


def _index_values(shapes, xshape, axes, rng, dtype="int64"):
    """Index arrays with repeats and negative entries, in bounds for their axes."""
    out = []
    for s, ax in zip(shapes, axes):
        n = xshape[ax]
        lo = 0 if dtype.startswith("uint") else -n
        out.append(rng.integers(lo, n, size=s).astype(dtype))
    return out


_AXES = {"rows": [0], "cols": [1], "2d_index": [0], "adjacent_pair": [0, 1], "separated_pair": [0, 2],
         "slices_around": [1], "newaxis": [1], "array_and_scalar": [0]}


def _build(pattern, mode, dtype, idx_dtype="int64"):
    xshape, build, key, ishapes = PATTERNS[pattern]
    x = kt.tensor("x", dtype=dtype, shape=(None,) * len(xshape))
    syms = [kt.tensor(f"i{k}", dtype=idx_dtype, shape=(None,) * len(s)) for k, s in enumerate(ishapes)]
    i, j = (syms + [None])[:2]
    view = build(x, i, j)
    if mode == "get":
        return [x, *syms], view, None
    y = kt.tensor("y", dtype=dtype, shape=(None,) * view.ndim)
    upd = kt.set_subtensor(view, y) if mode == "set" else kt.inc_subtensor(view, y)
    return [x, y, *syms], upd, y


def _numpy(pattern, mode, xv, yv, idx):
    key = PATTERNS[pattern][2](*(idx + [None])[:2])
    if mode == "get":
        return xv[key]
    out = xv.copy()
    if mode == "set":
        out[key] = yv
    else:
        np.add.at(out, key, yv)
    return out


def _check(pattern, dtype, idx_dtype="int64", strided=False):
    """Gather, set and inc of one index pattern, compiled as one function (one module)."""
    rng = np.random.default_rng(abs(hash((pattern, dtype))) % 2**32)
    xshape, build, _, ishapes = PATTERNS[pattern]
    x = kt.tensor("x", dtype=dtype, shape=(None,) * len(xshape))
    syms = [kt.tensor(f"i{k}", dtype=idx_dtype, shape=(None,) * len(s)) for k, s in enumerate(ishapes)]
    view = build(x, *(syms + [None])[:2])
    y = kt.tensor("y", dtype=dtype, shape=(None,) * view.ndim)
    outs = [view, kt.set_subtensor(view, y), kt.inc_subtensor(view, y)]
    fc = kiln.function([x, y, *syms], outs, mode=C)
    fp = kiln.function([x, y, *syms], outs, mode=PY)
    assert _in_c(fc) == 3
    xv = _values(xshape, dtype, rng)
    idx = _index_values(ishapes, xshape, _AXES[pattern], rng, idx_dtype)
    yv = _values(np.shape(_numpy(pattern, "get", xv, None, idx)), dtype, rng)
    if strided:
        xv, yv, idx = _strided(xv), _strided(yv), [_strided(a) for a in idx]
    got, ref = fc(xv, yv, *idx), fp(xv, yv, *idx)
    for mode, g, r in zip(["get", "set", "inc"], got, ref):
        want = _numpy(pattern, mode, xv, yv, idx)
        assert g.dtype == want.dtype and g.shape == want.shape, mode
        np.testing.assert_array_equal(g, want, err_msg=mode)   # bit-identical (np.add.at is sequential)
        if dtype.startswith("float"):
            np.testing.assert_allclose(g, r, rtol=1e-5 if dtype == "float32" else 1e-12, err_msg=mode)
        else:
            np.testing.assert_array_equal(g, r, err_msg=mode)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pattern", ["rows", "cols"])
def test_take_patterns_every_dtype(pattern, dtype):
    _check(pattern, dtype)


@pytest.mark.parametrize("pattern", sorted(set(PATTERNS) - {"rows", "cols"}))   # those: every dtype above
@pytest.mark.parametrize("dtype", ["float64", "int16"])
def test_index_patterns(pattern, dtype):
    _check(pattern, dtype)


@pytest.mark.parametrize("pattern", ["rows", "separated_pair", "slices_around"])
def test_non_contiguous_negative_strides(pattern):
    _check(pattern, "float64", strided=True)


@pytest.mark.parametrize("idx_dtype", ["int8", "int16", "int32", "uint8", "uint16", "uint64"])
def test_index_dtypes(idx_dtype):
    _check("rows", "float64", idx_dtype=idx_dtype)


@pytest.mark.parametrize("mode", ["set", "inc"])
def test_scalar_y_broadcasts(mode):
    x, i = kt.matrix("x", dtype="float64"), kt.lvector("i")
    y = kt.scalar("y", dtype="float64")
    upd = kt.set_subtensor(x[:, i], y) if mode == "set" else kt.inc_subtensor(x[:, i], y)
    f = kiln.function([x, y, i], upd, mode=C)
    assert _in_c(f) == 1
    xv, iv = np.arange(12.0).reshape(3, 4), np.array([1, -1, 1])
    want = xv.copy()
    if mode == "set":
        want[:, iv] = 2.5
    else:
        np.add.at(want, (slice(None), iv), 2.5)
    np.testing.assert_array_equal(f(xv, 2.5, iv), want)


def test_y_broadcasts_along_rows():
    x, i, y = kt.dmatrix("x"), kt.lvector("i"), kt.dvector("y")
    f = kiln.function([x, y, i], kt.inc_subtensor(x[i], y), mode=C)
    xv, yv, iv = np.zeros((4, 3)), np.array([1.0, 2.0, 3.0]), np.array([0, 0, 3, -1])
    want = xv.copy()
    np.add.at(want, iv, yv)
    np.testing.assert_array_equal(f(xv, yv, iv), want)


@pytest.mark.parametrize("mode", ["get", "set", "inc"])
def test_empty_index(mode):
    ins, out, _ = _build("rows", mode, "float64")
    f = kiln.function(ins, out, mode=C)
    xv = np.arange(12.0).reshape(6, 2)
    iv = np.zeros(0, dtype="int64")
    args = [xv] if mode == "get" else [xv, np.zeros((0, 2))]
    got = f(*args, iv)
    np.testing.assert_array_equal(got, xv[iv] if mode == "get" else xv)
    # an empty broadcast block reads no index, so no bound is checked (as NumPy)
    x, i, j = kt.dmatrix("x"), kt.lvector("i"), kt.lvector("j")
    g = kiln.function([x, i, j], x[i, j], mode=C)
    assert g(xv, np.array([99]), iv).shape == (0,) == xv[np.array([99]), iv].shape


def test_repeated_indices_accumulate_sequentially():
    """float32 sums of many repeated indices: the same rounding as np.add.at's sequential order."""
    rng = np.random.default_rng(5)
    x, i, y = kt.fmatrix("x"), kt.lvector("i"), kt.fmatrix("y")
    f = kiln.function([x, y, i], kt.inc_subtensor(x[i], y), mode=C)
    xv = rng.standard_normal((3, 5)).astype("float32")
    iv = rng.integers(-3, 3, size=400)
    yv = (rng.standard_normal((400, 5)) * 1e3).astype("float32")
    want = xv.copy()
    np.add.at(want, iv, yv)
    np.testing.assert_array_equal(f(xv, yv, iv), want)


def test_set_last_write_wins():
    x, i, y = kt.dvector("x"), kt.lvector("i"), kt.dvector("y")
    f = kiln.function([x, y, i], kt.set_subtensor(x[i], y), mode=C)
    iv, yv = np.array([1, 1, -1, 3]), np.array([5.0, 6.0, 7.0, 8.0])
    want = np.zeros(4)
    want[iv] = yv
    np.testing.assert_array_equal(f(np.zeros(4), yv, iv), want)


@pytest.mark.parametrize("bad", [6, -7])
@pytest.mark.parametrize("mode", ["get", "set", "inc"])
def test_out_of_bounds_raises_index_error(mode, bad):
    ins, out, _ = _build("cols", mode, "float64")
    f = kiln.function(ins, out, mode=C)
    xv = np.zeros((3, 6))
    iv = np.array([0, bad, 1])
    args = [xv] if mode == "get" else [xv, np.ones((3, 3))]
    with pytest.raises(IndexError, match="index out of bounds in Advanced"):
        f(*args, iv)
    np.testing.assert_array_equal(xv, 0.0)
    # unsigned indices never wrap: 255 is out of bounds, not -1
    x, i = kt.dmatrix("x"), kt.vector("i", dtype="uint8")
    with pytest.raises(IndexError):
        kiln.function([x, i], x[i], mode=C)(np.zeros((4, 2)), np.array([255], dtype="uint8"))


@pytest.mark.parametrize("set_", [False, True])
def test_inplace_kernel_writes_into_x_and_leaves_it_intact_on_error(set_):
    x, y, i = kt.dmatrix("x"), kt.dmatrix("y"), kt.lvector("i")
    node = AdvancedIncSubtensorInplace(x[i].owner.op.idx_list, set_).make_node(x, y, i)
    run = CLinker().make_runner(FunctionGraph([x, y, i], node.outputs))
    xv = np.arange(8.0).reshape(4, 2)
    want = xv.copy()
    iv, yv = np.array([3, -1, 0]), np.ones((3, 2))
    if set_:
        want[iv] = yv
    else:
        np.add.at(want, iv, yv)
    (got,) = run([xv, yv, iv])
    assert got is xv   # written in place
    np.testing.assert_array_equal(xv, want)
    before = xv.copy()
    with pytest.raises(IndexError):
        run([xv, yv, np.array([0, 1, 4])])   # the last index is bad: nothing may be written
    np.testing.assert_array_equal(xv, before)


def test_inplace_update_from_a_view_of_itself():
    """x[1:] = x[:-1] in place: y overlaps the output, so the kernel must read a copy of y."""
    x = kt.dvector("x")
    sub = x[1:]
    node = IncSubtensorInplace(sub.owner.op.idx_list, True).make_node(x, x[:-1], *sub.owner.inputs[1:])
    run = CLinker().make_runner(FunctionGraph([x], node.outputs))
    xv = np.arange(6.0)
    want = xv.copy()
    want[1:] = want[:-1].copy()
    (got,) = run([xv])
    np.testing.assert_array_equal(got, want)


def test_rewrites_make_the_inplace_variant_and_it_runs_in_c():
    x, i, y = kt.dmatrix("x"), kt.lvector("i"), kt.dmatrix("y")
    t = kt.exp(x)
    outs = [kt.inc_subtensor(t[i], y) * 2, kt.set_subtensor((x * 3)[1:, ::2], 1.5)]
    f = kiln.function([x, y, i], outs, mode=C)
    ops = {type(n.op) for n in f.fgraph.apply_nodes}
    assert AdvancedIncSubtensorInplace in ops and IncSubtensorInplace in ops
    assert _in_c(f) == 2
    g = kiln.function([x, y, i], outs, mode=PY)
    rng = np.random.default_rng(1)
    xv, yv, iv = rng.standard_normal((4, 3)), rng.standard_normal((5, 3)), np.array([0, 2, 2, -1, 0])
    for a, b in zip(f(xv, yv, iv), g(xv, yv, iv)):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    with pytest.raises(IndexError):
        f(xv, yv, np.array([0, 9, 0, 0, 0]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_basic_inc_and_set_subtensor(dtype):
    """IncSubtensor: integer and slice indices (symbolic bounds too), y broadcast to the region."""
    rng = np.random.default_rng(3)
    x = kt.tensor("x", dtype=dtype, shape=(None, None, None))
    y = kt.tensor("y", dtype=dtype, shape=(None,))
    k, s = kt.lscalar("k"), kt.lscalar("s")
    outs = [kt.inc_subtensor(x[1, k:, ::s], y), kt.set_subtensor(x[-1, :2, 1:3], y[:2]),
            kt.inc_subtensor(x[:, 0, 0], y[0]), kt.set_subtensor(x[2, 0, -1], y[1])]   # the last: a 0-d region
    fc = kiln.function([x, y, k, s], outs, mode=C)
    fp = kiln.function([x, y, k, s], outs, mode=PY)
    assert _in_c(fc) == 4
    xv = _strided(_values((3, 4, 5), dtype, rng))
    for kv, sv in [(1, 2), (-2, -1), (9, 1)]:
        n = len(range(*slice(None, None, sv).indices(5)))
        yv = _values((n,), dtype, rng)
        w0, w1, w2, w3 = xv.copy(), xv.copy(), xv.copy(), xv.copy()
        w3[2, 0, -1] = yv[1]
        w0[1, kv:, ::sv] += yv
        w1[-1, :2, 1:3] = yv[:2]
        w2[:, 0, 0] += yv[0]
        got = fc(xv, yv, kv, sv)
        for g, w, p in zip(got, [w0, w1, w2, w3], fp(xv, yv, kv, sv)):
            np.testing.assert_array_equal(g, w)
            np.testing.assert_array_equal(g, p)


def test_basic_errors_before_the_call():
    x, y, k, s = kt.dmatrix("x"), kt.dvector("y"), kt.lscalar("k"), kt.lscalar("s")
    f = kiln.function([x, y, k, s], kt.inc_subtensor(x[k, ::s], y), mode=C)
    assert _in_c(f) == 1
    with pytest.raises(IndexError, match="out of bounds"):
        f(np.zeros((2, 3)), np.zeros(3), 2, 1)
    with pytest.raises(ValueError, match="step cannot be zero"):
        f(np.zeros((2, 3)), np.zeros(3), 0, 0)
    with pytest.raises(ValueError, match="could not be broadcast"):
        f(np.zeros((2, 3)), np.zeros(2), 0, 1)


def test_index_arrays_that_do_not_broadcast():
    x, i, j = kt.dmatrix("x"), kt.lvector("i"), kt.lvector("j")
    f = kiln.function([x, i, j], x[i, j], mode=C)
    with pytest.raises(IndexError, match="could not be broadcast"):
        f(np.zeros((3, 3)), np.array([0, 1]), np.array([0, 1, 2]))


def test_boolean_masks_stay_on_perform():
    x = kt.dvector("x")
    f = kiln.function([x], x[x > 0], mode=C)
    np.testing.assert_array_equal(f(np.array([1.0, -1.0, 2.0])), [1.0, 2.0])
    assert not any(isinstance(n.op, AdvancedSubtensor) and tag == "s"
                   for tag, ns in _group(canonical_order(f.fgraph)) for n in ns)


def test_embedding_gradient_matches_np_add_at():
    """The bench workload: W[idx] and its gradient (an inc over repeated ids) fully in C."""
    rng = np.random.default_rng(7)
    W, idx, Cm = kt.dmatrix("W"), kt.lvector("idx"), kt.dmatrix("C")
    emb = W[idx]
    dW = kiln.grad(kt.sum(emb * Cm), W)
    f = kiln.function([W, idx, Cm], [emb, dW], mode=C)
    assert _in_c(f) == 2
    Wv, iv, Cv = rng.standard_normal((50, 8)), np.minimum(rng.zipf(1.3, 300) - 1, 49), rng.standard_normal((300, 8))
    e, d = f(Wv, iv, Cv)
    want = np.zeros_like(Wv)
    np.add.at(want, iv, Cv)
    np.testing.assert_array_equal(e, Wv[iv])
    np.testing.assert_array_equal(d, want)


def test_index_computed_in_the_same_segment():
    """An index made by a kernel of the open segment (its values are read before the call)."""
    x, w = kt.dmatrix("x"), kt.dmatrix("w")
    ids = kt.argmax(x * 2, axis=1)
    outs = [w[ids] + 1, kt.inc_subtensor(w[ids], x[:, :1] * 3)]
    f = kiln.function([x, w], outs, mode=C)
    assert _in_c(f) == 2
    xv, wv = np.random.default_rng(0).standard_normal((5, 3)), np.arange(6.0).reshape(3, 2)
    ids_v = np.argmax(xv, axis=1)
    want = wv.copy()
    np.add.at(want, ids_v, xv[:, :1] * 3)
    got = f(xv, wv)
    np.testing.assert_array_equal(got[0], wv[ids_v] + 1)
    np.testing.assert_array_equal(got[1], want)


@pytest.mark.parametrize("mode", ["get", "inc"])
def test_kernel_checks_bounds_itself(mode):
    """The native kernel refuses a bad index (KILN_EINDEX) even without the shape rule's check,
    before writing anything: an in-place update (output = x) leaves x intact."""
    from kiln.linkers.c.compiler import compile_source
    from kiln.linkers.c.ir import Segment
    from kiln.linkers.c.lower import lower_node
    from kiln.linkers.c.render import render_segment
    from kiln.linkers.c.runtime import CModule
    from kiln.linkers.cache import get_cache

    x, y, i = kt.dmatrix("x"), kt.dmatrix("y"), kt.lvector("i")
    node = (x[i] if mode == "get" else
            AdvancedIncSubtensorInplace(x[i].owner.op.idx_list).make_node(x, y, i).outputs[0]).owner
    bufs = {}
    k = lower_node(node, lambda v: bufs.setdefault(v, len(bufs)))
    seg = Segment("t", tuple((v.type.ndim, v.type.dtype) for v in bufs), (k,))
    _, so = compile_source(render_segment(seg), get_cache())
    mod = CModule(so)
    xv, yv = np.arange(8.0).reshape(4, 2), np.ones((3, 2))
    arrays = {x: xv, y: yv, node.outputs[0]: np.empty((3, 2)) if mode == "get" else xv}
    for bad in (4, -5):
        arrays[i] = np.array([0, 1, bad])
        assert mod([arrays[v] for v in bufs])[0] == 6   # KILN_EINDEX
        np.testing.assert_array_equal(xv, np.arange(8.0).reshape(4, 2))
    arrays[i] = np.array([0, -1, 0])
    assert mod([arrays[v] for v in bufs])[0] == 0
    if mode == "get":
        np.testing.assert_array_equal(arrays[node.outputs[0]], xv[[0, -1, 0]])
    else:
        want = np.arange(8.0).reshape(4, 2)
        np.add.at(want, [0, -1, 0], 1.0)
        np.testing.assert_array_equal(xv, want)


def _random_key(rng, shape):
    """A random NumPy index of `shape`: integer arrays (broadcast-compatible shapes, at least
    one not 0-d), slices with random bounds and steps, new axes."""
    family = [(3,), (2, 1), (2, 3), (1, 3), ()]
    while True:
        key, d = [], 0
        while d < len(shape) and rng.random() < 0.85:
            r = rng.random()
            if r < 0.45:
                s = family[rng.integers(len(family))]
                key.append(rng.integers(-shape[d], shape[d], size=s))
                d += 1
            elif r < 0.85:
                b = [None if rng.random() < 0.3 else int(rng.integers(-6, 7)) for _ in range(2)]
                key.append(slice(*b, [None, -2, -1, 1, 2, 3][rng.integers(6)]))
                d += 1
            else:
                key.append(None)
        if any(isinstance(k, np.ndarray) and k.ndim for k in key):
            return tuple(key)


@pytest.mark.parametrize("seed", range(4))
def test_random_index_structures_match_numpy(seed):
    """Random mixes of arrays, slices and new axes (NumPy's placement of the advanced block)."""
    rng = np.random.default_rng(seed)
    shape = (4, 3, 5, 2)
    x = kt.tensor("x", dtype="float64", shape=(None,) * 4)
    xv = rng.standard_normal(shape)
    keys = [_random_key(rng, shape) for _ in range(4)]
    outs, wants = [], []
    for key in keys:
        region = xv[key].shape
        yv = rng.standard_normal(region[1:] if region and rng.random() < 0.5 else region)  # y broadcast too
        outs += [x[key], kt.set_subtensor(x[key], yv), kt.inc_subtensor(x[key], yv)]
        w_set, w_inc = xv.copy(), xv.copy()
        w_set[key] = yv
        np.add.at(w_inc, key, yv)
        wants += [xv[key], w_set, w_inc]
    f = kiln.function([x], outs, mode=C)
    assert _in_c(f) == len(outs)
    for k, (g, w) in enumerate(zip(f(xv), wants)):
        np.testing.assert_array_equal(g, w, err_msg=f"{keys[k // 3]} output {k % 3}")
