"""An in-place kernel whose destroyed input is not C-contiguous (a LAPACK result, a transposed
view) gets a fresh output buffer: it computes what the python linker computes."""
import numpy as np
import pytest

import kiln
import kiln.tensor as kt

PY = kiln.Mode(linker="py")


@pytest.mark.parametrize("runtime", ["cython", "ctypes"])
def test_gemm_inplace_on_fortran_and_transposed_inputs(runtime):
    with kiln.config.change_flags(c_runtime=runtime):
        a, b, x, y = kt.dmatrix("a"), kt.dmatrix("b"), kt.dmatrix("x"), kt.dmatrix("y")
        out = kt.linalg.solve_triangular(a, b, lower=True) * 0.5 + kt.dot(x, y)   # LAPACK: Fortran order
        rng = np.random.default_rng(0)
        args = (np.tril(rng.random((3, 3))) + 3 * np.eye(3), rng.random((3, 2)), rng.random((3, 4)), rng.random((4, 2)))
        np.testing.assert_allclose(kiln.function([a, b, x, y], out)(*args),
                                   kiln.function([a, b, x, y], out, mode=PY)(*args), rtol=1e-12)
        p, q, r, s = [kt.dvector(n) for n in "pqrs"]
        z = kt.dot(p.dimshuffle(0, "x"), q.dimshuffle("x", 0)).T + kt.dot(r.dimshuffle(0, "x"), s.dimshuffle("x", 0))
        vals = (rng.random(2), rng.random(3), rng.random(3), rng.random(2))
        np.testing.assert_allclose(kiln.function([p, q, r, s], z)(*vals),
                                   np.outer(vals[0], vals[1]).T + np.outer(vals[2], vals[3]), rtol=1e-12)
