"""infer_shape of every op: the symbolic shapes from `infer_graph_shapes`, compiled and run,
equal the actual output shapes, and are computed without computing the output itself."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph.basic import Variable
from kiln.graph.traversal import ancestors
from kiln.tensor.shape import infer_graph_shapes

RNG = np.random.default_rng(17)
PY = kiln.Mode(linker="py")


def m(name="x"):
    return kt.matrix(name)


def t3(name="x"):
    return kt.tensor3(name)


def v(name="x"):
    return kt.vector(name)


def i(name):
    return kt.lscalar(name)


# (id, input makers, builder, input values)
CASES = [
    ("elemwise_bcast", [m, lambda: m("y")], lambda x, y: kt.exp(x) * y,
     [np.ones((3, 1)), np.ones((1, 4))]),
    ("elemwise_vec_mat", [v, lambda: m("y")], lambda x, y: x + y, [np.ones(4), np.ones((3, 4))]),
    ("elemwise_empty", [m, lambda: m("y")], lambda x, y: x - y, [np.ones((0, 1)), np.ones((1, 5))]),
    ("switch", [m, v, lambda: kt.scalar("s")], lambda c, a, b: kt.switch(c > 0, a, b),
     [RNG.normal(size=(2, 3)), np.ones(3), np.array(1.0)]),
    ("sum_axis", [t3], lambda x: x.sum(axis=(0, 2)), [np.ones((2, 3, 4))]),
    ("max_keepdims", [t3], lambda x: x.max(axis=1, keepdims=True), [np.ones((2, 3, 4))]),
    ("mean_none", [t3], lambda x: x.mean(), [np.ones((2, 3, 4))]),
    ("var_keep", [t3], lambda x: x.var(axis=-1, keepdims=True, ddof=1), [np.ones((2, 3, 4))]),
    ("argmax", [t3], lambda x: kt.argmax(x, axis=1), [np.ones((2, 3, 4))]),
    ("argmax_none_keep", [t3], lambda x: kt.argmax(x, keepdims=True), [np.ones((2, 3, 4))]),
    ("logsumexp", [t3], lambda x: kt.logsumexp(x, axis=0), [np.ones((2, 3, 4))]),
    ("dot_mm", [m, lambda: m("y")], kt.dot, [np.ones((2, 3)), np.ones((3, 5))]),
    ("dot_mv", [m, v], kt.dot, [np.ones((2, 3)), np.ones(3)]),
    ("dot_vm", [v, m], kt.dot, [np.ones(3), np.ones((3, 5))]),
    ("dot_vv", [v, lambda: v("y")], kt.dot, [np.ones(3), np.ones(3)]),
    ("dot_3d", [t3, m], kt.dot, [np.ones((2, 3, 4)), np.ones((4, 5))]),
    ("matmul_batched", [t3, lambda: t3("y")], kt.matmul, [np.ones((1, 2, 3)), np.ones((4, 3, 5))]),
    ("matmul_vec", [v, t3], kt.matmul, [np.ones(3), np.ones((4, 3, 5))]),
    ("matmul_tvec", [t3, v], kt.matmul, [np.ones((4, 5, 3)), np.ones(3)]),
    ("tensordot", [t3, lambda: t3("y")], lambda a, b: kt.tensordot(a, b, [[1, 2], [0, 1]]),
     [np.ones((2, 3, 4)), np.ones((3, 4, 5))]),
    ("outer", [v, lambda: v("y")], kt.outer, [np.ones(3), np.ones(5)]),
    ("reshape_minus1", [t3], lambda x: x.reshape((-1, 4)), [np.ones((2, 3, 4))]),
    ("reshape_minus1_first", [t3], lambda x: x.reshape((4, -1)), [np.ones((2, 3, 4))]),
    ("reshape_sym", [t3, lambda: i("n")], lambda x, n: x.reshape((n, -1)), [np.ones((2, 3, 4)), 4]),
    ("reshape_sym_all", [t3, lambda: i("n")], lambda x, n: x.reshape((n, 12 // 1, -1)),
     [np.ones((2, 3, 4)), 2]),
    ("flatten", [t3], lambda x: x.flatten(), [np.ones((2, 3, 4))]),
    ("flatten2", [t3], lambda x: kt.flatten(x, 2), [np.ones((2, 3, 4))]),
    ("dimshuffle", [t3], lambda x: x.dimshuffle(2, "x", 0, 1), [np.ones((2, 3, 4))]),
    ("transpose", [t3], lambda x: x.T, [np.ones((2, 3, 4))]),
    ("squeeze", [t3], lambda x: kt.squeeze(x, 1), [np.ones((2, 1, 4))]),
    ("expand_dims", [m], lambda x: kt.expand_dims(x, (0, 3)), [np.ones((2, 3))]),
    ("broadcast_to", [v, lambda: i("n")], lambda x, n: kt.broadcast_to(x, (n, 2, 3)),
     [np.ones(3), 5]),
    ("specify_shape", [m], lambda x: kt.specify_shape(x, (None, 3)), [np.ones((2, 3))]),
    ("alloc", [v, lambda: i("n")], lambda x, n: kt.alloc(x, n, 3), [np.ones(3), 4]),
    ("zeros_like", [t3], lambda x: kt.zeros_like(x), [np.ones((2, 3, 4))]),
    ("arange_int", [lambda: i("a"), lambda: i("b"), lambda: i("c")], kt.arange, [2, 11, 3]),
    ("arange_neg", [lambda: i("a"), lambda: i("b"), lambda: i("c")], kt.arange, [10, 1, -4]),
    ("arange_empty", [lambda: i("a"), lambda: i("b"), lambda: i("c")], kt.arange, [5, 1, 1]),
    ("arange_float", [lambda: kt.dscalar("a"), lambda: kt.dscalar("b"), lambda: kt.dscalar("c")],
     kt.arange, [0.0, 1.0, 0.3]),
    ("eye", [lambda: i("a"), lambda: i("b")], lambda a, b: kt.eye(a, b), [3, 5]),
    ("join", [m, lambda: m("y")], lambda a, b: kt.join(1, a, b, a), [np.ones((2, 3)), np.ones((2, 5))]),
    ("stack", [m, lambda: m("y")], lambda a, b: kt.stack([a, b], axis=1), [np.ones((2, 3))] * 2),
    ("stack_scalars", [lambda: i("a"), lambda: kt.dscalar("b")], lambda a, b: kt.stack([a, b]),
     [1, 2.0]),
    ("shape", [t3], lambda x: x.shape, [np.ones((2, 3, 4))]),
    ("shape_i", [t3], lambda x: kt.shape_i(x, 1), [np.ones((2, 3, 4))]),
    ("size", [t3], lambda x: x.size, [np.ones((2, 3, 4))]),
    ("cast", [m], lambda x: kt.cast(x, "int8"), [np.ones((2, 3))]),
    ("softmax", [t3], lambda x: kt.softmax(x, axis=1), [np.ones((2, 3, 4))]),
    ("log_softmax", [t3], lambda x: kt.log_softmax(x, axis=None), [np.ones((2, 0, 4))]),
    ("clip", [m, v], lambda x, y: kt.clip(x, y, 2.0), [np.ones((2, 1)), np.ones(3)]),
    ("tensor_from_scalar", [lambda: kt.lscalar("a")],
     lambda a: kt.elemwise.tensor_from_scalar(kt.elemwise.scalar_from_tensor(a)), [3]),
]


def _slice_cases():
    """Subtensor with symbolic bounds, including negative steps and out-of-range bounds."""
    rows = []
    for start, stop, step in [(1, 4, 1), (None, None, -1), (4, 1, -1), (-2, None, 1), (None, -2, 2),
                              (10, None, 1), (-10, 3, 1), (3, 1, 1), (1, 100, 3), (-1, -100, -2),
                              (None, None, -2), (5, None, -3), (None, 0, -1), (0, 0, 1), (-3, -1, 1),
                              (-100, None, -1), (100, None, -1), (None, 100, 1)]:
        rows.append((start, stop, step))
    return rows


CASES += [(f"slice_{a}_{b}_{c}", [v] + [lambda k=k: i(k) for k, e in zip("abc", (a, b, c)) if e is not None],
           (lambda a, b, c: lambda x, *s: x[_mk(s, (a, b, c))])(a, b, c),  # noqa: B023 (bound by the call)
           [np.ones(7)] + [e for e in (a, b, c) if e is not None]) for a, b, c in _slice_cases()]
CASES += [("subtensor_mixed", [t3, lambda: i("a"), lambda: i("b")],
           lambda x, a, b: x[a, ::b, None, 1:], [np.ones((4, 5, 6)), -1, -2]),
          ("subtensor_empty", [m, lambda: i("a")], lambda x, a: x[a:, 1], [np.ones((0, 3)), 2])]


def _mk(syms, pattern):
    it = iter(syms)
    return slice(*[next(it) if p is not None else None for p in pattern])


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_infer_shape(case, run):
    _, makers, build, values = case
    ins = [mk() for mk in makers]
    out = build(*ins)
    in_shapes = [tuple(kt.shape_i(x, d) for d in range(x.ndim)) for x in ins]
    (shp,) = infer_graph_shapes(ins, [out], in_shapes)
    assert len(shp) == out.ndim
    sym_entries = [s for s in shp if isinstance(s, Variable)]
    # the shape graph must not need the output's own value (that is the point of infer_shape)
    assert out not in ancestors(sym_entries) if sym_entries else True
    actual = run(ins, out, *values, on_unused_input="ignore")
    if sym_entries:
        got = kiln.function(ins, sym_entries, mode=PY, on_unused_input="ignore")(*values)
        it = iter(got)
        inferred = tuple(int(next(it)) if isinstance(s, Variable) else int(s) for s in shp)
    else:
        inferred = tuple(int(s) for s in shp)
    assert inferred == np.shape(actual)
    for s in sym_entries:
        assert s.ndim == 0 and s.dtype.startswith(("int", "uint"))


def _plain_constant(value, dtype="float64"):
    """A bare graph `Constant` (no TensorVariable methods such as `.ndim`): rewrites may build these."""
    from kiln.graph.basic import Constant
    from kiln.tensor.type import TensorType

    value = np.asarray(value, dtype=dtype)
    return Constant(TensorType(dtype, value.shape), value)


@pytest.mark.parametrize("xshape, yshape", [((2, 3), (3,)), ((3,), (3, 4)), ((5, 2, 3), (3, 4))])
def test_matmul_infer_shape_plain_constants(xshape, yshape):
    # infer_shape must read `.type.ndim`: inputs may be plain Constants without `.ndim`
    from kiln.tensor.blas import MatMul

    a, b = _plain_constant(np.ones(xshape)), _plain_constant(np.ones(yshape))
    node = MatMul().make_node(kt.as_tensor_variable(np.ones(xshape)), kt.as_tensor_variable(np.ones(yshape)))
    node.inputs[:] = [a, b]
    (shp,) = MatMul().infer_shape(None, node, [xshape, yshape])
    assert tuple(int(s) for s in shp) == np.matmul(np.ones(xshape), np.ones(yshape)).shape


def test_repeat_infer_shape_plain_constant_repeats():
    from kiln.tensor.joining import Repeat

    x = kt.vector("x")
    node = kt.repeat(x, kt.lvector("r"), axis=0).owner
    assert isinstance(node.op, Repeat) and node.outputs[0].type.shape == (None,)
    node.inputs[1] = _plain_constant([1, 2, 3], "int64")
    (shp,) = node.op.infer_shape(None, node, [(3,), (3,)])
    got = kiln.function([], shp[0], mode=PY)()
    assert int(got) == np.repeat(np.zeros(3), [1, 2, 3]).size
