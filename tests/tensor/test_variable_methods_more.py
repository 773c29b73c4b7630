"""PyTensor's remaining TensorVariable / TensorConstant methods, against NumPy."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt


def test_choose_deg2rad_rad2deg():
    i, a, b = kt.ivector("i"), kt.dvector("a"), kt.dvector("b")
    f = kiln.function([i, a, b], [i.choose([a, b]), a.deg2rad(), a.rad2deg()])
    iv, av, bv = np.array([0, 1, 0], dtype="int32"), np.array([180.0, 90.0, 1.0]), np.array([5.0, 6.0, 7.0])
    c, r, d = f(iv, av, bv)
    np.testing.assert_allclose(c, np.choose(iv, [av, bv]))
    np.testing.assert_allclose(r, np.deg2rad(av))
    np.testing.assert_allclose(d, np.rad2deg(av))


def test_owner_and_constants():
    x = kt.dvector("x")
    y = kt.exp(x)
    assert y.owner_op is y.owner.op and x.owner_op is None
    assert y.owner_op_and_inputs == (y.owner.op, x) and x.owner_op_and_inputs == (None,)
    c = kt.constant(np.array([2.0, 2.0]))
    assert c.value is c.data and c.unique_value == 2.0
    assert kt.constant(np.array([1.0, 2.0])).unique_value is None
    assert kt.constant(np.zeros(0)).unique_value is None
    assert np.isnan(kt.constant(np.array([np.nan, np.nan])).unique_value)
    assert kt.constant(3.0).get_underlying_scalar_constant() == 3.0
    assert x.transfer("cpu") is x
    with pytest.raises(ValueError, match="cpu"):
        x.transfer("gpu")


def test_dprint_prints_the_graph(capsys):
    x = kt.dvector("x")
    kt.exp(x).dprint()
    out = capsys.readouterr().out
    assert "exp" in out and "x" in out
