"""PyTensor's mode and linker spellings map onto kiln's modes, computing the same values."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt
from kiln.compile.mode import Mode, get_default_mode, get_mode


@pytest.mark.parametrize("linker,expected", [("vm", "auto"), ("cvm", "c"), ("c|py", "c"), ("cvm_nogc", "c"),
                                             ("c|py_nogc", "c"), ("numba", "auto"), ("jax", "auto"),
                                             ("py", "py"), ("c", "c"), (None, "auto")])
def test_linker_aliases(linker, expected):
    m = Mode(linker=linker)
    assert m.linker == expected
    x = kt.dvector("x")
    np.testing.assert_allclose(kiln.function([x], kt.exp(x) * 2, mode=m)(np.zeros(2)), [2.0, 2.0])


@pytest.mark.parametrize("optimizer,expected", [("fast_run", "fast_run"), ("fast_compile", "fast_compile"),
                                                (None, "none"), ("None", "none"), ("merge", "fast_compile"),
                                                ("o4", "fast_run")])
def test_optimizer_keyword(optimizer, expected):
    assert Mode(linker="py", optimizer=optimizer).rewrites == expected


def test_mode_names_and_errors():
    for name in ("FAST_RUN", "FAST_COMPILE", "DebugMode", "NanGuardMode", "NUMBA", "JAX", "PYTORCH", "CVM", "C"):
        x = kt.dscalar("x")
        assert float(kiln.function([x], x * 3, mode=name)(2.0)) == 6.0
    assert get_mode("DebugMode").linker == "py" and get_default_mode() == get_mode(None)
    with pytest.raises(ValueError, match="unknown mode"):
        get_mode("NoSuchMode")
    with pytest.raises(ValueError, match="unknown optimizer"):
        Mode(optimizer="nope")
    assert Mode(linker="cvm").including("x").linker == "c"


def test_rop_checks_the_eval_point_shape_and_uses_wrt():
    W, V, x = kt.dmatrix("W"), kt.dmatrix("V"), kt.dvector("x")
    f = kiln.function([W, V, x], kiln.gradient.Rop(kt.dot(x, W), W, V))      # PyTensor's tutorial
    np.testing.assert_allclose(f([[1, 1], [1, 1]], [[2, 2], [2, 2]], [0, 1]), [2.0, 2.0])
    with pytest.raises(ValueError, match="must have the shape of wrt 0"):
        f(np.ones((2, 2)), np.ones((3, 2)), np.ones(2))



def test_gradient_through_rop_with_respect_to_the_eval_point():
    x, v = kt.dvector("x"), kt.dvector("v")
    jv = kiln.gradient.Rop(kt.sin(x) * x, x, v)            # (cos(x) x + sin(x)) * v
    g = kiln.function([x, v], kiln.grad(jv.sum(), v))
    a = np.array([0.3, -1.2])
    np.testing.assert_allclose(g(a, np.ones(2)), np.cos(a) * a + np.sin(a), rtol=1e-12)


def test_config_mode_and_optimizer_choose_the_default_mode():
    x = kt.dvector("x")
    with kiln.config.change_flags(optimizer="fast_compile"):
        assert get_default_mode() == Mode(rewrites="fast_compile")
        assert kiln.function([x], x + 1).mode.rewrites == "fast_compile"
    with kiln.config.change_flags(mode="PY"):
        assert kiln.function([x], x + 1).mode.linker == "py"
    with kiln.config.change_flags(optimizer="None"):
        assert get_default_mode().rewrites == "none"
    assert get_default_mode() == Mode()
    kiln.config.compute_test_value = "off"          # PyTensor settings a ported script may set
    kiln.config.exception_verbosity = "high"
    kiln.config.exception_verbosity = "low"
    with pytest.raises(ValueError, match="device"):
        kiln.config.device = "cuda"
