"""kiln.tensor.blockwise.Blockwise: a core op vectorized over batch axes, against NumPy; shapes,
errors, and derivatives (vectorized core jvp) against finite differences."""
from __future__ import annotations

import doctest

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.graph.basic import Apply
from kiln.graph.op import Op
from kiln.gradient import verify_grad
from kiln.gradient.values import NullTypeGradError
from kiln.tensor.blas import Dot
from kiln.tensor.blockwise import Blockwise
from kiln.tensor.linalg import Det
from kiln.tensor.type import TensorType

PY = kiln.Mode(linker="py")
MODES = [PY, None]    # the python linker, and the default mode (C linker where available)


class MatVec(Op):
    """A user's core op: A @ x for a matrix and a vector, with infer_shape and a jvp method."""

    gufunc_signature = "(m,n),(n)->(m)"

    def make_node(self, A, x):
        A, x = kt.as_tensor_variable(A), kt.as_tensor_variable(x)
        if A.ndim != 2 or x.ndim != 1:
            raise TypeError("MatVec: needs a matrix and a vector")
        return Apply(self, [A, x], [TensorType(A.dtype, (A.type.shape[0],))()])

    def perform(self, node, inputs, output_storage):
        A, x = inputs
        assert A.ndim == 2 and x.ndim == 1       # the core op only ever sees core slices
        output_storage[0][0] = A @ x

    def infer_shape(self, fgraph, node, input_shapes):
        return [(input_shapes[0][0],)]

    def jvp(self, node, tangents):
        from kiln.gradient.values import is_zero

        A, x = node.inputs
        dA, dx = tangents
        # written with kt.dot, whose rules transpose, so reverse mode works too
        terms = ([] if is_zero(dA) else [kt.dot(dA, x)]) + ([] if is_zero(dx) else [kt.dot(A, dx)])
        return [terms[0] if len(terms) == 1 else terms[0] + terms[1]]


class PadOne(Op):
    """(n)->(p): x with a 1 appended; p = n + 1 comes only from infer_shape (not the signature)."""

    def make_node(self, x):
        x = kt.as_tensor_variable(x)
        n = x.type.shape[0]
        return Apply(self, [x], [TensorType(x.dtype, (None if n is None else n + 1,))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = np.append(inputs[0], 1.0).astype(node.outputs[0].dtype)

    def infer_shape(self, fgraph, node, input_shapes):
        return [(input_shapes[0][0] + 1,)]


class NoShapeNoGrad(Op):
    """(n)->(p): reversed x with no infer_shape and no derivative."""

    def make_node(self, x):
        x = kt.as_tensor_variable(x)
        return Apply(self, [x], [TensorType(x.dtype, (None,))()])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = inputs[0][::-1].copy()


def _rng():
    return np.random.default_rng(7)


# -- values ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES, ids=["py", "default"])
@pytest.mark.parametrize("ashape,xshape", [
    ((2, 3, 4), (2, 4)),           # matching batch
    ((5, 2, 3, 4), (2, 4)),        # x has fewer batch axes
    ((2, 1, 3, 4), (5, 4)),        # both broadcast
    ((3, 4), (6, 4)),              # A unbatched
    ((3, 4), (4,)),                # 0-d batch
])
def test_matvec_against_numpy(mode, ashape, xshape):
    rng = _rng()
    a, x = rng.normal(size=ashape), rng.normal(size=xshape)
    A = kt.tensor("A", dtype="float64", shape=(None,) * len(ashape))
    X = kt.tensor("X", dtype="float64", shape=(None,) * len(xshape))
    for op in (Blockwise(MatVec()), Blockwise(Dot(), signature="(m,n),(n)->(m)")):
        f = kiln.function([A, X], op(A, X), mode=mode)
        np.testing.assert_allclose(f(a, x), np.matmul(a, x[..., None])[..., 0], rtol=1e-12)


@pytest.mark.parametrize("mode", MODES, ids=["py", "default"])
def test_det_and_runtime_broadcast(mode):
    rng = _rng()
    det = Blockwise(Det(), signature="(m,m)->()")
    M = kt.dtensor3("M")
    f = kiln.function([M], det(M), mode=mode)
    m = rng.normal(size=(4, 3, 3))
    np.testing.assert_allclose(f(m), np.linalg.det(m), rtol=1e-10)
    # a batch axis of run-time length 1 broadcasts as in NumPy
    A, X = kt.dtensor3("A"), kt.dmatrix("X")
    g = kiln.function([A, X], Blockwise(MatVec())(A, X), mode=mode)
    a, x = rng.normal(size=(1, 2, 3)), rng.normal(size=(4, 3))
    np.testing.assert_allclose(g(a, x), np.einsum("mn,bn->bm", a[0], x), rtol=1e-12)
    with pytest.raises(ValueError, match="do not broadcast"):
        g(rng.normal(size=(2, 2, 3)), rng.normal(size=(3, 3)))


@pytest.mark.parametrize("mode", MODES, ids=["py", "default"])
def test_empty_batch(mode):
    A, X = kt.dtensor3("A"), kt.dmatrix("X")
    f = kiln.function([A, X], Blockwise(MatVec())(A, X), mode=mode)
    assert f(np.zeros((0, 3, 4)), np.zeros((0, 4))).shape == (0, 3)
    # p (the output's core length) from the core op's infer_shape
    V = kt.dmatrix("V")
    g = kiln.function([V], Blockwise(PadOne(), "(n)->(p)")(V), mode=mode)
    np.testing.assert_array_equal(g(np.arange(6.0).reshape(2, 3)), [[0, 1, 2, 1], [3, 4, 5, 1]])
    assert g(np.zeros((0, 3))).shape == (0, 4)
    # neither the signature, the static type nor an infer_shape gives p: a clear error
    h = kiln.function([V], Blockwise(NoShapeNoGrad(), "(n)->(p)")(V), mode=PY)
    np.testing.assert_array_equal(h(np.arange(4.0).reshape(2, 2)), [[1, 0], [3, 2]])
    with pytest.raises(ValueError, match="batch is empty.*'p'"):
        h(np.zeros((0, 3)))


def test_ragged_core_results_are_an_error():
    class Nonzero(Op):
        def make_node(self, x):
            return Apply(self, [kt.as_tensor_variable(x)], [kt.dvector()])

        def perform(self, node, inputs, output_storage):
            output_storage[0][0] = inputs[0][inputs[0] != 0]

    V = kt.dmatrix("V")
    f = kiln.function([V], Blockwise(Nonzero(), "(n)->(k)")(V), mode=PY)
    with pytest.raises(ValueError, match="ragged"):
        f(np.array([[1.0, 0.0], [1.0, 2.0]]))


# -- static shapes, infer_shape, str ----------------------------------------------------------
def test_static_shapes_and_str():
    op = Blockwise(MatVec())
    assert op.signature == "(m,n),(n)->(m)"          # taken from core_op.gufunc_signature
    assert str(op) == "Blockwise{MatVec, (m,n),(n)->(m)}"
    assert str(Blockwise(MatVec(), name="batched_mv")) == "batched_mv"
    A = kt.tensor("A", dtype="float32", shape=(5, 1, 3, 4))
    X = kt.tensor("X", dtype="float32", shape=(2, 4))
    y = op(A, X)
    assert y.type == TensorType("float32", (5, 2, 3))
    assert [i.ndim for i in y.owner.inputs] == [4, 3]   # lower-rank inputs padded on the left
    z = Blockwise(PadOne(), "(n)->(p)")(kt.tensor("v", dtype="float64", shape=(None, 3)))
    assert z.type.shape == (None, 4)
    assert Blockwise(MatVec()) == Blockwise(MatVec(), "(m,n),(n)->(m)")
    assert Blockwise(MatVec()) != Blockwise(Dot(), "(m,n),(n)->(m)")


@pytest.mark.parametrize("op,ins,vals,expected", [
    (Blockwise(MatVec()), [kt.dtensor3("A"), kt.dvector("x")], [np.zeros((2, 3, 4)), np.zeros(4)], [2, 3]),
    (Blockwise(PadOne(), "(n)->(p)"), [kt.dmatrix("V")], [np.zeros((5, 2))], [5, 3]),
    (Blockwise(NoShapeNoGrad(), "(n)->(p)"), [kt.dmatrix("V")], [np.zeros((5, 2))], [5, 2]),
])
def test_infer_shape_matches_run(op, ins, vals, expected):
    out = op(*ins)
    f = kiln.function(ins, out.shape, mode=PY)
    assert f(*vals).tolist() == expected
    node = out.owner
    in_shapes = [tuple(kt.shape_i(i, d) for d in range(i.ndim)) for i in node.inputs]
    if isinstance(op.core_op, NoShapeNoGrad):
        with pytest.raises(NotImplementedError, match="no infer_shape"):
            op.infer_shape(None, node, in_shapes)
    else:
        (shp,) = op.infer_shape(None, node, in_shapes)
        assert [int(kt.as_tensor_variable(d).eval({i: v for i, v in zip(ins, vals)}))
                for d in shp] == expected


def test_errors_name_the_op():
    op = Blockwise(MatVec())
    with pytest.raises(ValueError, match=r"Blockwise\{MatVec.*input 1 .*fewer than its 1 core"):
        op(kt.dmatrix("A"), kt.dscalar("x"))
    with pytest.raises(ValueError, match="incompatible batch shapes"):
        op(kt.tensor("A", dtype="float64", shape=(2, 3, 4)), kt.tensor("x", dtype="float64", shape=(3, 4)))
    with pytest.raises(ValueError, match="core dimension 'n' has lengths 4 and 5"):
        op(kt.tensor("A", dtype="float64", shape=(3, 4)), kt.tensor("x", dtype="float64", shape=(5,)))
    with pytest.raises(TypeError, match="takes 2 inputs, got 1"):
        op(kt.dmatrix("A"))
    with pytest.raises(ValueError, match="no gufunc_signature"):
        Blockwise(Dot())
    with pytest.raises(ValueError, match="signature"):
        Blockwise(Dot(), signature="(m,n),(n)")
    with pytest.raises(TypeError, match="already a Blockwise"):
        Blockwise(op)
    with pytest.raises(ValueError, match="gives it 2 core dimensions"):
        Blockwise(MatVec(), "(m,n),(n)->(m,k)")(kt.dtensor3("A"), kt.dmatrix("x"))


# -- derivatives ------------------------------------------------------------------------------
@pytest.mark.parametrize("core", [MatVec(), Dot()], ids=["jvp-method", "kiln-Dot"])
def test_verify_grad_with_broadcasting(core):
    rng = _rng()
    op = Blockwise(core, "(m,n),(n)->(m)")
    verify_grad(lambda A, x: op(A, x), [rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 4))], rng=rng)
    verify_grad(lambda A, x: op(A, x), [rng.normal(size=(3, 2, 3)), rng.normal(size=(3,))], rng=rng)
    verify_grad(lambda A, x: op(A, x), [rng.normal(size=(3, 2)), rng.normal(size=(2, 1, 2))], rng=rng)
    verify_grad(lambda A, x: op(A, x), [rng.normal(size=(3, 2)), rng.normal(size=(2,))], rng=rng)   # 0-d batch


def test_grad_uses_core_outputs_and_default_mode():
    """Det's jvp reads its output (d det = det * tr(A^-1 dA)): the batched rule feeds it the
    Blockwise's own outputs; checked against the closed form, compiled in the default mode."""
    rng = _rng()
    det = Blockwise(Det(), signature="(m,m)->()")
    M = kt.dtensor3("M")
    g = kiln.grad(det(M).sum(), M)
    m = rng.normal(size=(3, 2, 2)) + 2 * np.eye(2)
    got = kiln.function([M], g)(m)
    want = np.linalg.det(m)[:, None, None] * np.linalg.inv(m).transpose(0, 2, 1)
    np.testing.assert_allclose(got, want, rtol=1e-9)
    verify_grad(lambda a: det(a), [m], rng=rng)
    verify_grad(lambda a: det(a), [m[0]], rng=rng)      # 0-d batch: the core tangent graph as it is


@pytest.mark.parametrize("mode", MODES, ids=["py", "default"])
def test_rop_against_finite_differences(mode):
    rng = _rng()
    op = Blockwise(MatVec())
    A, X = kt.dtensor3("A"), kt.dvector("x")
    dA, dX = kt.dtensor3("dA"), kt.dvector("dx")
    y = op(A, X) ** 2
    jv = kiln.Rop(y, [A, X], [dA, dX])
    f = kiln.function([A, X, dA, dX], jv, mode=mode)
    a, x = rng.normal(size=(2, 3, 4)), rng.normal(size=4)
    da, dx = rng.normal(size=a.shape), rng.normal(size=x.shape)

    def fy(a, x):
        return np.matmul(a, x) ** 2

    eps = 1e-6
    fd = (fy(a + eps * da, x + eps * dx) - fy(a - eps * da, x - eps * dx)) / (2 * eps)
    np.testing.assert_allclose(f(a, x, da, dx), fd, rtol=1e-6, atol=1e-8)


def test_core_op_without_derivative_gives_the_usual_error():
    V = kt.dmatrix("V")
    y = Blockwise(NoShapeNoGrad(), "(n)->(p)")(V)
    with pytest.raises(NullTypeGradError, match="NoShapeNoGrad has no derivative rule"):
        kiln.grad(y.sum(), V)
    # an integer input carries no tangent; the float one still differentiates
    op = Blockwise(Dot(), "(m,n),(n)->(m)")
    A, Iv = kt.dtensor3("A"), kt.lvector("i")
    g = kiln.grad(op(A, Iv).sum(), A)
    i = np.array([1, 2, 3])
    np.testing.assert_allclose(kiln.function([A, Iv], g, mode=PY)(np.ones((2, 4, 3)), i),
                               np.broadcast_to(i, (2, 4, 3)))


def test_docstring_examples():
    import kiln.tensor.blockwise as mod

    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0


def test_scalar_core_and_pickled_function():
    import pickle

    rng = _rng()
    a, b = kt.dmatrix("a"), kt.dvector("b")
    mul = Blockwise((kt.dscalar() * kt.dscalar()).owner.op, "(),()->()")
    y = mul(a, b)
    f = kiln.function([a, b], [y, kiln.grad((y * y).sum(), a)])
    av, bv = rng.normal(size=(2, 3)), rng.normal(size=3)
    f2 = pickle.loads(pickle.dumps(f))
    for fn in (f, f2):
        out, ga = fn(av, bv)
        np.testing.assert_allclose(out, av * bv, rtol=1e-12)
        np.testing.assert_allclose(ga, 2 * av * bv ** 2, rtol=1e-12)


def test_second_order_through_blockwise():
    """d/dA of sum(d/dx sum((A x)^2)) = d/dA sum(2 A^T A x) = 2 (y_i + c_i x_j), c = A's row sums."""
    rng = _rng()
    op = Blockwise(Dot(), "(m,n),(n)->(m)")
    A, X = kt.dtensor3("A"), kt.dmatrix("x")
    h = kiln.grad(kiln.grad((op(A, X) ** 2).sum(), X).sum(), A)
    a, x = rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 2))
    y = np.einsum("bmn,bn->bm", a, x)
    want = 2 * (y[:, :, None] + a.sum(2)[:, :, None] * x[:, None, :])
    np.testing.assert_allclose(kiln.function([A, X], h, mode=PY)(a, x), want, rtol=1e-10)
