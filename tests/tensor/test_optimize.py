"""kiln.tensor.optimize: solutions against SciPy and closed forms; implicit gradients against
closed forms and finite differences, under the python linker and the default one."""
import subprocess
import sys

import numpy as np
import pytest
import scipy.optimize as so

import kiln
import kiln.tensor as kt
from kiln.gradient import Rop, verify_grad
from kiln.tensor.optimize import MinimizeOp, minimize, minimize_scalar, root, root_scalar

PY = kiln.Mode(linker="py")
MODES = [pytest.param(PY, id="py"), pytest.param(None, id="default")]


def _spd(rng, n):
    m = rng.standard_normal((n, n))
    return m @ m.T + n * np.eye(n)


def _quadratic(v, A, b):
    return 0.5 * (v @ A @ v) - b @ v


# -- minimize ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_minimize_quadratic_solution_and_gradient_in_b(mode):
    rng = np.random.default_rng(0)
    An, bn, wn = _spd(rng, 3), rng.standard_normal(3), rng.standard_normal(3)
    v, A, b = kt.dvector("v"), kt.dmatrix("A"), kt.dvector("b")
    xs, ok = minimize(_quadratic(v, A, b), v, optimizer_kwargs={"tol": 1e-12})
    gb = kiln.grad(xs @ wn, b)
    got_x, got_ok, got_gb = kiln.function([v, A, b], [xs, ok, gb], mode=mode)(np.zeros(3), An, bn)
    np.testing.assert_allclose(got_x, np.linalg.solve(An, bn), rtol=1e-6, atol=1e-8)
    assert got_ok.dtype == np.bool_ and bool(got_ok)
    # x* = A⁻¹ b, so d(w·x*)/db = A⁻ᵀ w
    np.testing.assert_allclose(got_gb, np.linalg.solve(An.T, wn), rtol=1e-6, atol=1e-8)


def test_minimize_quadratic_gradient_in_A():
    rng = np.random.default_rng(1)
    An, bn, wn = _spd(rng, 3), rng.standard_normal(3), rng.standard_normal(3)
    v, A, b = kt.dvector("v"), kt.dmatrix("A"), kt.dvector("b")
    xs, _ = minimize(_quadratic(v, A, b), v, optimizer_kwargs={"tol": 1e-12})
    gA = kiln.function([v, A, b], kiln.grad(xs @ wn, A), mode=PY)(np.zeros(3), An, bn)
    # the objective sees A's symmetric part only: dx* = -A⁻¹ (dA + dAᵀ)/2 x*
    x, u = np.linalg.solve(An, bn), np.linalg.solve(An.T, wn)
    np.testing.assert_allclose(gA, -0.5 * (np.outer(u, x) + np.outer(x, u)), rtol=1e-6, atol=1e-8)


def test_minimize_quadratic_gradient_in_A_default_linker():
    rng = np.random.default_rng(1)
    An, bn, wn = _spd(rng, 3), rng.standard_normal(3), rng.standard_normal(3)
    v, A, b = kt.dvector("v"), kt.dmatrix("A"), kt.dvector("b")
    xs, _ = minimize(_quadratic(v, A, b), v, optimizer_kwargs={"tol": 1e-12})
    gA = kiln.function([v, A, b], kiln.grad(xs @ wn, A))(np.zeros(3), An, bn)
    x, u = np.linalg.solve(An, bn), np.linalg.solve(An.T, wn)
    np.testing.assert_allclose(gA, -0.5 * (np.outer(u, x) + np.outer(x, u)), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method,hess", [("BFGS", False), ("trust-exact", True), ("Newton-CG", True)])
def test_minimize_rosenbrock_with_parameter(mode, method, hess):
    x, a = kt.dvector("x"), kt.dscalar("a")
    f = (a - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    xs, ok = minimize(f, x, method=method, hess=hess, optimizer_kwargs={"tol": 1e-12})
    da = kiln.grad(xs.sum(), a)
    got, got_ok, got_da = kiln.function([x, a], [xs, ok, da], mode=mode)(np.array([-1.0, 1.0]), 1.3)
    ref = so.minimize(lambda z: (1.3 - z[0]) ** 2 + 100 * (z[1] - z[0] ** 2) ** 2, [-1.0, 1.0],
                      method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-14, "maxiter": 10000})
    assert bool(got_ok)
    np.testing.assert_allclose(got, [1.3, 1.69], rtol=1e-6)   # x* = (a, a²)
    np.testing.assert_allclose(got, ref.x, rtol=1e-5)
    np.testing.assert_allclose(got_da, 1 + 2 * 1.3, rtol=1e-5)   # d(a + a²)/da


def test_minimize_without_jac_and_forward_mode():
    x, a = kt.dvector("x"), kt.dvector("a")
    f = ((x - a) ** 2).sum() + (x ** 4).sum()
    xs, ok = minimize(f, x, method="Nelder-Mead", jac=False,
                      optimizer_kwargs={"options": {"xatol": 1e-12, "fatol": 1e-14, "maxiter": 20000}})
    t = kt.dvector("t")
    jv = Rop(xs, a, t)
    an, tn = np.array([0.5, -1.0]), np.array([1.0, 2.0])
    got, got_jv = kiln.function([x, a, t], [xs, jv], mode=PY)(np.zeros(2), an, tn)
    # stationarity per entry: 2 (x - a) + 4 x³ = 0, so dx/da = 2 / (2 + 12 x²)
    np.testing.assert_allclose(2 * (got - an) + 4 * got ** 3, 0, atol=1e-6)
    np.testing.assert_allclose(got_jv, tn * 2 / (2 + 12 * got ** 2), rtol=1e-5)


def test_minimize_verify_grad():
    rng = np.random.default_rng(2)
    x0 = kiln.shared(np.zeros(2), name="x0")   # the initial guess: a root variable, not a parameter

    def fun(c, s):
        f = (kt.exp(s * x0) * c).sum() + (x0 ** 2).sum()
        return minimize(f, x0, optimizer_kwargs={"tol": 1e-13})[0] @ np.array([1.0, -2.0])

    verify_grad(fun, [np.array([0.7, 1.1]), np.array([0.3, -0.4])], rng=rng, abs_tol=1e-5, rel_tol=1e-4)


def test_minimize_several_variables_and_matrix_x():
    X, y, c = kt.dmatrix("X"), kt.dscalar("y"), kt.dmatrix("c")
    f = ((X - c) ** 2).sum() + (y - c.sum()) ** 2
    (Xs, ys), ok = minimize(f, [X, y])
    cn = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    gc = kiln.grad(Xs.sum() + ys, c)
    got_X, got_y, got_gc = kiln.function([X, y, c], [Xs, ys, gc], mode=PY)(np.zeros((2, 3)), 0.0, cn)
    assert got_X.shape == (2, 3) and got_y.shape == ()
    np.testing.assert_allclose(got_X, cn, rtol=1e-6)
    np.testing.assert_allclose(got_y, cn.sum(), rtol=1e-6)
    np.testing.assert_allclose(got_gc, np.ones((2, 3)) * 2, rtol=1e-5)   # d(sum c + sum c)/dc
    M = kt.dmatrix("M")
    Ms, _ = minimize(((M - c) ** 2).sum(), M)
    np.testing.assert_allclose(kiln.function([M, c], Ms, mode=PY)(np.zeros((2, 3)), cn), cn, rtol=1e-6)


def test_minimize_keeps_float32_and_computed_parameters():
    x, z = kt.fvector("x"), kt.dvector("z")
    b = kt.exp(z)     # a computed parameter: the op gets exp(z), the gradient flows through it
    xs, _ = minimize(((x - b) ** 2).sum(), x, optimizer_kwargs={"tol": 1e-10})
    assert xs.dtype == "float32"
    node = xs.owner
    assert isinstance(node.op, MinimizeOp) and b in node.inputs
    gz = kiln.grad(kt.cast(xs, "float64").sum(), z)
    got, got_gz = kiln.function([x, z], [xs, gz], mode=PY)(np.zeros(2, "float32"), np.array([0.1, 0.2]))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, np.exp([0.1, 0.2]), rtol=1e-5)
    np.testing.assert_allclose(got_gz, np.exp([0.1, 0.2]), rtol=1e-4)


def test_minimize_failure_is_reported():
    x, a = kt.dvector("x"), kt.dscalar("a")
    f = (a - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
    xs, ok = minimize(f, x, optimizer_kwargs={"options": {"maxiter": 2}})
    got, got_ok = kiln.function([x, a], [xs, ok], mode=PY)(np.array([-1.0, 1.0]), 1.0)
    ref = so.minimize(lambda z: (1.0 - z[0]) ** 2 + 100 * (z[1] - z[0] ** 2) ** 2, [-1.0, 1.0],
                      jac=lambda z: np.array([-2 * (1 - z[0]) - 400 * z[0] * (z[1] - z[0] ** 2),
                                              200 * (z[1] - z[0] ** 2)]), options={"maxiter": 2})
    assert not bool(got_ok) and not ref.success
    np.testing.assert_allclose(got, ref.x, rtol=1e-8)   # SciPy's last iterate


# -- minimize_scalar ----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
def test_minimize_scalar(mode):
    x, a = kt.dscalar("x"), kt.dscalar("a")
    xs, ok = minimize_scalar((x - a) ** 2 + kt.exp(x), x, optimizer_kwargs={"tol": 1e-12})
    got, got_ok, got_d = kiln.function([x, a], [xs, ok, kiln.grad(xs, a)], mode=mode)(0.0, 1.0)
    ref = so.minimize_scalar(lambda z: (z - 1.0) ** 2 + np.exp(z), tol=1e-12)
    assert bool(got_ok)
    np.testing.assert_allclose(got, ref.x, rtol=1e-7)
    np.testing.assert_allclose(got_d, 2 / (2 + np.exp(got)), rtol=1e-6)   # from 2 (x - a) + eˣ = 0


# -- root_scalar ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method,jac,hess,kw", [
    ("secant", False, False, {}),
    ("newton", True, False, {}),
    ("halley", True, True, {}),
    ("brentq", False, False, {"bracket": (0.1, 10.0)}),
])
def test_root_scalar_cube_root(mode, method, jac, hess, kw):
    x, a = kt.dscalar("x"), kt.dscalar("a")
    r, ok = root_scalar(x ** 3 - a, x, method=method, jac=jac, hess=hess, optimizer_kwargs={**kw, "xtol": 1e-14})
    d = kiln.grad(r, a)
    got, got_ok, got_d = kiln.function([x, a], [r, ok, d], mode=mode)(1.0, 5.0)
    assert bool(got_ok)
    np.testing.assert_allclose(got, 5.0 ** (1 / 3), rtol=1e-10)
    np.testing.assert_allclose(got_d, 1 / (3 * got ** 2), rtol=1e-8)   # dx*/da = 1/(3x*²)


def test_root_scalar_second_derivative():
    x, a = kt.dscalar("x"), kt.dscalar("a")
    r, _ = root_scalar(x ** 3 - a, x, method="newton", jac=True, optimizer_kwargs={"xtol": 1e-14})
    d2 = kiln.grad(kiln.grad(r, a), a)
    got = kiln.function([x, a], d2, mode=PY)(1.0, 5.0)
    np.testing.assert_allclose(got, -2 / 9 * 5.0 ** (-5 / 3), rtol=1e-7)   # d²(a^⅓)/da²


def test_root_scalar_failure_is_reported():
    x, a = kt.dscalar("x"), kt.dscalar("a")
    r, ok = root_scalar(x ** 2 + a, x, method="newton", jac=True, optimizer_kwargs={"maxiter": 5})
    got, got_ok = kiln.function([x, a], [r, ok], mode=PY)(0.3, 1.0)   # x² + 1 has no real root
    ref = so.root_scalar(lambda z: z ** 2 + 1, x0=0.3, fprime=lambda z: 2 * z, method="newton", maxiter=5)
    assert not bool(got_ok) and not ref.converged
    np.testing.assert_allclose(got, ref.root)


# -- root ------------------------------------------------------------------------------------------
def _system(v, p):
    # a circle of radius p[0] cut by the line x0 = p[1] x1
    return kt.stack([v[0] ** 2 + v[1] ** 2 - p[0] ** 2, v[0] - p[1] * v[1]])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method,jac", [("hybr", True), ("lm", True), ("hybr", False)])
def test_root_vector_system(mode, method, jac):
    v, p = kt.dvector("v"), kt.dvector("p")
    sol, ok = root(_system(v, p), v, method=method, jac=jac, optimizer_kwargs={"tol": 1e-13})
    pn = np.array([2.0, 0.5])
    got, got_ok = kiln.function([v, p], [sol, ok], mode=mode)(np.array([1.0, 1.0]), pn)
    ref = so.root(lambda z: [z[0] ** 2 + z[1] ** 2 - 4.0, z[0] - 0.5 * z[1]], [1.0, 1.0], tol=1e-13)
    assert bool(got_ok)
    np.testing.assert_allclose(got, ref.x, rtol=1e-8)
    x1 = 2.0 / np.sqrt(1.25)
    np.testing.assert_allclose(got, [0.5 * x1, x1], rtol=1e-8)


@pytest.mark.parametrize("mode", MODES)
def test_root_vector_gradient_closed_form(mode):
    v, p = kt.dvector("v"), kt.dvector("p")
    sol, _ = root(_system(v, p), v, optimizer_kwargs={"tol": 1e-13})
    jac_p = kiln.gradient.jacobian(sol, p)
    got = kiln.function([v, p], jac_p, mode=mode)(np.array([1.0, 1.0]), np.array([2.0, 0.5]))
    # x1 = r / sqrt(1 + c²), x0 = c x1
    r, c = 2.0, 0.5
    s = np.sqrt(1 + c * c)
    dx1 = np.array([1 / s, -r * c / s ** 3])
    dx0 = np.array([c / s, r / s - r * c * c / s ** 3])
    np.testing.assert_allclose(got, np.stack([dx0, dx1]), rtol=1e-7)


def test_root_verify_grad():
    v0 = kiln.shared(np.array([1.0, 1.0]), name="v0")

    def fun(p):
        sol, _ = root(_system(v0, p), v0, optimizer_kwargs={"tol": 1e-13})
        return sol @ np.array([1.0, 3.0])

    verify_grad(fun, [np.array([2.0, 0.5])], rng=np.random.default_rng(3), abs_tol=1e-5, rel_tol=1e-4)


def test_root_scalar_equation_through_root():
    x, a = kt.dscalar("x"), kt.dscalar("a")
    r, ok = root(kt.tanh(x) - a, x)
    got, got_ok, d = kiln.function([x, a], [r, ok, kiln.grad(r, a)], mode=PY)(0.0, 0.3)
    assert got.shape == () and bool(got_ok)
    np.testing.assert_allclose(got, np.arctanh(0.3), rtol=1e-8)
    np.testing.assert_allclose(d, 1 / (1 - 0.09), rtol=1e-6)


# -- the op, errors, imports -----------------------------------------------------------------------
def test_same_problem_gives_equal_ops_and_unused_parameter_has_zero_gradient():
    x, a, k = kt.dscalar("x"), kt.dscalar("a"), kt.dscalar("k")
    f = (x - a) ** 2 + k          # k shifts the objective, not its minimizer
    r1, _ = minimize(f, x, optimizer_kwargs={"tol": 1e-9})
    r2, _ = minimize(f, x, optimizer_kwargs={"tol": 1e-9})
    r3, _ = minimize(f, x, optimizer_kwargs={"tol": 1e-8})
    assert r1.owner.op == r2.owner.op and hash(r1.owner.op) == hash(r2.owner.op)
    assert r1.owner.op != r3.owner.op
    gk = kiln.grad(r1, k)
    assert float(kiln.function([x, a, k], gk, mode=PY, on_unused_input="ignore")(0.0, 1.0, 2.0)) == 0.0


def test_pickled_function_runs():
    import pickle

    x, a = kt.dscalar("x"), kt.dscalar("a")
    r, _ = root_scalar(x ** 3 - a, x, method="newton", jac=True)
    f = kiln.function([x, a], [r, kiln.grad(r, a)], mode=PY)
    g = pickle.loads(pickle.dumps(f))
    np.testing.assert_allclose(g(1.0, 8.0), f(1.0, 8.0))


def test_bad_input_errors():
    x, y, a = kt.dvector("x"), kt.dvector("y"), kt.dscalar("a")
    with pytest.raises(ValueError, match="does not depend on x"):
        minimize(((y - a) ** 2).sum(), x)
    with pytest.raises(ValueError, match="scalar"):
        minimize((x - a) ** 2, x)
    with pytest.raises(ValueError, match="root variable"):
        minimize(((2 * x) ** 2).sum(), 2 * x)
    with pytest.raises(ValueError, match="scalar"):
        minimize_scalar((x ** 2).sum(), x)
    with pytest.raises(ValueError, match="scalar"):
        root_scalar(x - a, x)
    with pytest.raises(ValueError, match="hess=True needs jac=True"):
        minimize((x ** 2).sum(), x, jac=False, hess=True)
    with pytest.raises(ValueError, match="same number of dimensions"):
        root((x ** 2).sum() - a, x)
    with pytest.raises(TypeError, match="float dtype"):
        i = kt.ivector("i")
        minimize((i ** 2).sum(), i)


def test_import_kiln_does_not_import_scipy_optimize():
    code = ("import sys, kiln, kiln.tensor, kiln.tensor.optimize, kiln.gradient.rules; "
            "print('scipy.optimize' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_inner_functions_use_the_outer_mode_unless_given_one():
    x, a = kt.dscalar("x"), kt.dscalar("a")
    r, _ = root_scalar(x ** 3 - a, x, method="newton", jac=True)
    for mode, linker in [(PY, "py"), (None, kiln.Mode().linker)]:
        f = kiln.function([x, a], r, mode=mode)
        np.testing.assert_allclose(f(1.0, 8.0), 2.0)
        (op,) = [n.op for n in f.fgraph.apply_nodes]
        assert op.mode.linker == linker and op._inner_fn().mode.linker == linker
    r2, _ = root_scalar(x ** 3 - a, x, method="newton", jac=True, mode=PY)
    f = kiln.function([x, a], r2)
    (op,) = [n.op for n in f.fgraph.apply_nodes]
    assert op.mode is PY
    np.testing.assert_allclose(f(1.0, 27.0), 3.0)


@pytest.mark.parametrize("vectorize", [False, True])
def test_minimize_second_derivative_static_size(vectorize):
    x, a = kt.tensor("x", dtype="float64", shape=(2,)), kt.dscalar("a")
    f = ((x - a) ** 2).sum() + (x ** 4).sum()
    xs, _ = minimize(f, x, hess=True, method="trust-exact", use_vectorized_jac=vectorize,
                     optimizer_kwargs={"tol": 1e-13})
    d1 = kiln.grad(xs[0], a)
    d2 = kiln.grad(d1, a)
    got, g1, g2 = kiln.function([x, a], [xs, d1, d2], mode=PY)(np.zeros(2), 0.7)
    # 2 (x - a) + 4 x³ = 0: x' = 2 / (2 + 12 x²), x'' = -24 x x'² / (2 + 12 x²)
    xv = got[0]
    xp = 2 / (2 + 12 * xv ** 2)
    np.testing.assert_allclose(g1, xp, rtol=1e-7)
    np.testing.assert_allclose(g2, -24 * xv * xp ** 2 / (2 + 12 * xv ** 2), rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_second_derivatives_dynamic_size(mode):
    x, a = kt.dvector("x"), kt.dscalar("a")
    xs, _ = minimize(((x - a) ** 2).sum() + (x ** 4).sum(), x, optimizer_kwargs={"tol": 1e-13})
    v, p = kt.dvector("v"), kt.dvector("p")
    sol, _ = root(_system(v, p), v, optimizer_kwargs={"tol": 1e-13})
    d1 = kiln.grad(xs[0], a)
    h = kiln.gradient.hessian(sol[1], p)
    got, g1, g2, got_h = kiln.function([x, a, v, p], [xs, d1, kiln.grad(d1, a), h], mode=mode)(
        np.zeros(2), 0.7, np.array([1.0, 1.0]), np.array([2.0, 0.5]))
    xv = got[0]
    xp = 2 / (2 + 12 * xv ** 2)
    np.testing.assert_allclose(g1, xp, rtol=1e-7)
    np.testing.assert_allclose(g2, -24 * xv * xp ** 2 / (2 + 12 * xv ** 2), rtol=1e-6)
    # x1 = r / sqrt(1 + c²): its Hessian in (r, c)
    r, c = 2.0, 0.5
    s = 1 + c * c
    ref = np.array([[0.0, -c * s ** -1.5], [-c * s ** -1.5, r * (3 * c * c * s ** -2.5 - s ** -1.5)]])
    np.testing.assert_allclose(got_h, ref, rtol=1e-6, atol=1e-9)


def test_shared_parameter_and_shape_inference():
    b = kiln.shared(np.array([1.0, -2.0, 0.5]), name="b")
    x = kt.dvector("x")
    xs, _ = minimize(((x - b) ** 2).sum() + (x ** 4).sum(), x, optimizer_kwargs={"tol": 1e-12})
    f = kiln.function([x], [xs, xs.shape, kiln.grad(xs.sum(), b)], mode=PY)
    got, shp, gb = f(np.zeros(3))
    assert tuple(shp) == (3,)
    np.testing.assert_allclose(2 * (got - b.get_value()) + 4 * got ** 3, 0, atol=1e-7)
    np.testing.assert_allclose(gb, 2 / (2 + 12 * got ** 2), rtol=1e-6)
    b.set_value(np.array([0.0, 0.0, 0.0]))   # a new parameter value, same compiled function
    np.testing.assert_allclose(f(np.ones(3))[0], 0.0, atol=1e-6)


@pytest.mark.parametrize("name", ["kiln.tensor.optimize", "kiln.tensor.optimize.ops"])
def test_docstring_examples_and_docstrings(name):
    import doctest
    import importlib
    import inspect

    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0
    public = [getattr(mod, n) for n in mod.__all__]
    assert all(inspect.getdoc(obj) for obj in public)
    assert name != "kiln.tensor.optimize" or res.attempted >= 10
