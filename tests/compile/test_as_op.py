"""as_op / wrap_py (PyTensor's pytensor.compile.ops.as_op): ops from Python functions."""
import pickle

import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.compile.ops import FromFunctionOp, as_op, wrap_py
from kiln.tensor.type import TensorType

MODES = {"py": kiln.Mode(linker="py"), "default": None}


@as_op(itypes=[kt.dmatrix, kt.dmatrix], otypes=[kt.dmatrix])
def numpy_dot(a, b):
    return np.dot(a, b)


@wrap_py(itypes=[TensorType("float64", (None,))], otypes=[kt.dvector, kt.dscalar],
         infer_shape=lambda fgraph, node, shapes: [shapes[0], ()])
def centered_and_std(a):
    return a - a.mean(), a.std()


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_single_output_op_inside_a_graph(mode):
    x, y = kt.dmatrix("x"), kt.dmatrix("y")
    f = kiln.function([x, y], kt.exp(numpy_dot(x, y)) + 1, mode=mode)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3)), rng.normal(size=(3, 4))
    np.testing.assert_allclose(f(a, b), np.exp(a @ b) + 1, rtol=1e-12)


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_two_outputs_and_infer_shape(mode):
    x = kt.dvector("x")
    c, s = centered_and_std(x)
    f = kiln.function([x], [c * 2, s, c.shape[0]], mode=mode)
    v = np.array([1.0, 2.0, 6.0])
    got_c, got_s, n = f(v)
    np.testing.assert_allclose(got_c, 2 * (v - v.mean()))
    np.testing.assert_allclose(got_s, v.std())
    assert int(n) == 3


def test_type_checks_and_no_gradient():
    with pytest.raises(TypeError, match="expected"):
        numpy_dot(kt.fmatrix("f"), kt.dmatrix("d"))
    with pytest.raises(TypeError, match="takes 2 inputs"):
        numpy_dot(kt.dmatrix("d"))
    with pytest.raises(TypeError, match="neither a Type"):
        as_op(itypes=[3], otypes=[kt.dvector])(lambda a: a)
    x = kt.dmatrix("x")
    with pytest.raises(Exception, match="undefined|no derivative"):
        kiln.grad(numpy_dot(x, x).sum(), x)


def test_wrong_results_are_reported_with_the_op_name():
    @as_op(itypes=[kt.dvector], otypes=[kt.dmatrix])
    def bad_ndim(a):
        return a

    @as_op(itypes=[kt.dvector], otypes=[kt.dvector, kt.dvector])
    def too_few(a):
        return a

    x = kt.dvector("x")
    with pytest.raises(TypeError, match="bad_ndim"):
        kiln.function([x], bad_ndim(x))(np.ones(2))
    with pytest.raises(ValueError, match="returned 1 values"):
        kiln.function([x], too_few(x)[0])(np.ones(2))


def test_ops_compare_by_function_and_pickle_by_name():
    assert isinstance(numpy_dot, FromFunctionOp) and numpy_dot == numpy_dot
    assert numpy_dot != centered_and_std
    assert pickle.loads(pickle.dumps(numpy_dot)) is numpy_dot
    x, y = kt.dmatrix("x"), kt.dmatrix("y")
    f = pickle.loads(pickle.dumps(kiln.function([x, y], numpy_dot(x, y))))
    np.testing.assert_allclose(f(np.eye(2), np.ones((2, 2))), np.ones((2, 2)))
    local = as_op(itypes=[kt.dvector], otypes=[kt.dvector])(lambda a: a)
    with pytest.raises(pickle.PicklingError):
        pickle.dumps(local)
