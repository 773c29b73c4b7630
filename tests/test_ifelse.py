"""ifelse (PyTensor's pytensor.ifelse.ifelse): values, shapes, errors and derivatives, on the
python and C linkers."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.gradient import verify_grad
from kiln.ifelse import IfElse, ifelse

MODES = [kiln.Mode(linker="py"), kiln.Mode(linker="auto")]


@pytest.mark.parametrize("mode", MODES, ids=["py", "auto"])
@pytest.mark.parametrize("cond_dtype", ["bool", "int8", "float64"])
def test_chooses_the_branch(mode, cond_dtype):
    c = kt.scalar("c", dtype=cond_dtype)
    x = kt.dvector("x")
    f = kiln.function([c, x], ifelse(c, kt.exp(x), x * 2), mode=mode)
    v = np.array([0.5, -1.0, 0.0])
    np.testing.assert_allclose(f(np.array(1, dtype=cond_dtype), v), np.exp(v))
    np.testing.assert_allclose(f(np.array(0, dtype=cond_dtype), v), v * 2)


@pytest.mark.parametrize("mode", MODES, ids=["py", "auto"])
def test_branches_of_different_shapes_and_several_outputs(mode):
    c = kt.bscalar("c")
    x, y = kt.dvector("x"), kt.dmatrix("y")
    a, b = ifelse(c, [x, y], [x[:2], y.T])
    assert a.type.shape == (None,) and b.type.shape == (None, None)
    f = kiln.function([c, x, y], [a, b, a.shape[0]], mode=mode)
    xv, yv = np.arange(3.0), np.arange(6.0).reshape(2, 3)
    r = f(1, xv, yv)
    np.testing.assert_array_equal(r[0], xv)
    np.testing.assert_array_equal(r[1], yv)
    assert r[2] == 3
    r = f(0, xv, yv)
    np.testing.assert_array_equal(r[0], xv[:2])
    np.testing.assert_array_equal(r[1], yv.T)
    assert r[2] == 2


def test_static_shape_kept_where_branches_agree_and_the_result_is_a_copy():
    x = kt.tensor(dtype="float64", shape=(3, None))
    y = kt.tensor(dtype="float64", shape=(3, 4))
    out = ifelse(kt.bscalar(), x, y)
    assert out.type.shape == (3, None)
    c = kt.bscalar("c")
    v = kt.dvector("v")
    f = kiln.function([c, v], ifelse(c, v, v), mode=kiln.Mode(linker="py"))
    arr = np.ones(2)
    res = f(1, arr)
    res[0] = 5.0
    assert arr[0] == 1.0


def test_errors_name_the_problem():
    x, i = kt.dvector(), kt.lvector()
    with pytest.raises(TypeError, match="scalar"):
        ifelse(kt.dvector(), x, x)
    with pytest.raises(TypeError, match="dtype and number of dimensions"):
        ifelse(kt.bscalar(), x, i)
    with pytest.raises(TypeError, match="dtype and number of dimensions"):
        ifelse(kt.bscalar(), x, kt.dmatrix())
    with pytest.raises(ValueError, match="as many"):
        ifelse(kt.bscalar(), [x, x], [x])


@pytest.mark.parametrize("take_then", [True, False])
def test_gradients_follow_the_chosen_branch(take_then):
    a, x = kt.dscalar("a"), kt.dvector("x")
    out = ifelse(kt.gt(a, 0), x ** 2 * a, kt.sin(x))
    ga, gx = kiln.grad(out.sum(), [a, x])
    av = 2.0 if take_then else -1.0
    xv = np.array([0.3, -1.2, 2.0])
    got_a, got_x = kiln.function([a, x], [ga, gx])(av, xv)
    if take_then:
        np.testing.assert_allclose(got_a, (xv ** 2).sum())
        np.testing.assert_allclose(got_x, 2 * av * xv)
    else:
        assert got_a == 0.0
        np.testing.assert_allclose(got_x, np.cos(xv))


@pytest.mark.parametrize("cond", [1, 0])
def test_verify_grad_and_rop(cond):
    c = kt.constant(np.int8(cond))
    rng = np.random.default_rng(0)
    verify_grad(lambda x, y: ifelse(c, kt.tanh(x) * y, x / (1 + y ** 2)), [rng.normal(size=3), rng.normal(size=3)],
                rng=rng)
    x = kt.dvector("x")
    out = ifelse(c, kt.exp(x), x ** 3)
    xv = np.array([0.2, 0.7])
    rop = kiln.function([x], kiln.Rop(out, x, kt.ones_like(x)))(xv)
    np.testing.assert_allclose(rop, np.exp(xv) if cond else 3 * xv ** 2)


def test_transpose_is_the_adjoint():
    """<ifelse(c, u, w), ct> == <u, ct_u> + <w, ct_w> for the transposed cotangents."""
    c = kt.bscalar("c")
    u, w, ct = kt.dvector("u"), kt.dvector("w"), kt.dvector("ct")
    out = ifelse(c, u, w)
    cu, cw = kiln.gradient.Lop(out, [u, w], ct)
    f = kiln.function([c, u, w, ct], [kt.sum(out * ct), kt.sum(u * cu) + kt.sum(w * cw)])
    rng = np.random.default_rng(1)
    for cv in (0, 1):
        lhs, rhs = f(cv, *rng.normal(size=(3, 4)))
        np.testing.assert_allclose(lhs, rhs)


def test_top_level_name_and_op_identity():
    assert kiln.ifelse is ifelse
    assert IfElse(2) == IfElse(2) and IfElse(1) != IfElse(2)
