"""Symbolic wrappers of scipy.optimize whose solutions are differentiable (PyTensor's
`pytensor.tensor.optimize`): `minimize`, `minimize_scalar`, `root`, `root_scalar`.

Each function takes a graph (the objective or the equations) and the variable `x` it is
solved for; every other free variable of the graph is a *parameter*.  The call returns
``(solution, success)``: the solution has x's type; `success` is a boolean scalar saying
whether SciPy reported convergence (when False, the solution is SciPy's last iterate).  The
value `x` takes in a call is the initial guess (`minimize_scalar` ignores it).

The solution is differentiable with respect to the parameters by the implicit function
theorem: at a root, F(x*, θ) = 0, so dx* = -J_x⁻¹ (J_θ dθ); at a minimum the gradient of the
objective is that F, and J_x is the Hessian.  The jvp rule (kiln/gradient/rules/optimize.py)
builds these as kiln graphs, so forward mode, reverse mode (`kiln.grad`) and, where the pieces
are differentiable, higher orders all work.  `success` and the initial guess have no
derivative.

>>> import numpy as np, kiln, kiln.tensor as kt
>>> x, a = kt.dscalar("x"), kt.dscalar("a")
>>> x_star, ok = minimize((x - a) ** 2 + kt.exp(x), x)   # x* solves 2 (x - a) + e^x = 0
>>> f = kiln.function([x, a], [x_star, ok, kiln.grad(x_star, a)])
>>> xs, success, dxs_da = f(0.0, 1.0)
>>> bool(success), round(float(xs), 5), round(float(dxs_da), 5)   # dx*/da = 2 / (2 + e^x*)
(True, 0.31492, 0.59345)

Options: `method`, `jac`/`hess` (give SciPy the symbolic gradient/Hessian or Jacobian) and
`optimizer_kwargs` (passed on to SciPy) as in PyTensor; kiln adds `mode`, the mode the inner
functions (objective, gradient, ...) are compiled with (default: kiln's default mode).  `x`
may be a list of variables, or have any number of dimensions, for `minimize` and `root`: they
are packed into one vector for SciPy and unpacked afterwards (the result mirrors `x`).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Constant, Variable
from kiln.tensor.optimize.ops import (MinimizeOp, MinimizeScalarOp, OptimizeOp, RootOp, RootScalarOp, _grad,
                                      _jacobian)
from kiln.tensor.type import TensorType

__all__ = ["minimize", "minimize_scalar", "root", "root_scalar", "OptimizeOp", "MinimizeOp",
           "MinimizeScalarOp", "RootOp", "RootScalarOp"]


def _parameters(graph: Variable, x: Variable) -> list[Variable]:
    """The variables besides x the graph needs: the ones closest to it that do not depend on
    x (so work independent of x is done once, outside the solver), constants left out."""
    from kiln.graph.traversal import graph_inputs
    from kiln.graph.walk import truncated_graph_inputs

    def constant_only(v: Variable) -> bool:
        return isinstance(v, Constant) or (v.owner is not None and
                                           all(isinstance(r, Constant) for r in graph_inputs([v])))

    return [v for v in truncated_graph_inputs([graph], [x]) if v is not x and not constant_only(v)]


def _check(who: str, graph: Any, x: Any, *, graph_ndim: tuple | None, what: str) -> Variable:
    from kiln.graph.traversal import ancestors
    from kiln.tensor.basic import as_tensor_variable

    graph = as_tensor_variable(graph)
    if graph_ndim is not None and graph.ndim not in graph_ndim:
        raise ValueError(f"{who}: the {what} must be a {'scalar (0-d)' if graph_ndim == (0,) else 'vector'} "
                         f"tensor, got {graph.type}")
    if not (isinstance(x, Variable) and isinstance(x.type, TensorType)):
        raise TypeError(f"{who}: x must be a tensor variable, got {x!r}")
    if isinstance(x, Constant) or x.owner is not None:
        raise ValueError(f"{who}: x ({x}) must be a root variable (an input such as kt.vector('x')), "
                         f"not a constant or a computed variable")
    if x not in set(ancestors([graph])):
        raise ValueError(f"{who}: the {what} does not depend on x ({x}); x must be an input of its graph")
    if x.dtype not in ("float16", "float32", "float64"):
        raise TypeError(f"{who}: x ({x}) must have a float dtype, got {x.dtype}")
    return graph


def _pack(graph: Variable, xs: Sequence[Variable]) -> tuple[Variable, Variable, Variable, Any]:
    """Several x (or one with ndim > 1) as one vector: (graph on the vector, the inner vector
    variable, the outer initial vector, unpack(solution) -> values mirroring xs)."""
    import kiln.tensor.math as km
    from kiln.graph.replace import graph_replace
    from kiln.scalar.dtypes import upcast
    from kiln.tensor.basic import constant
    from kiln.tensor.join import join
    from kiln.tensor.shape import reshape, shape

    dtype = upcast(*[x.dtype for x in xs])
    sizes = []
    for x in xs:
        if None not in x.type.shape:
            sizes.append(constant(int(np.prod(x.type.shape)), dtype="int64"))
        else:
            sizes.append(km.prod(shape(x)))
    stops = [sizes[0]]
    for s in sizes[1:]:
        stops.append(stops[-1] + s)
    starts = [constant(0, dtype="int64")] + stops[:-1]
    static = sum(int(np.prod(x.type.shape)) for x in xs) if all(None not in x.type.shape for x in xs) else None
    v = TensorType(dtype, (static,))("x_packed")

    def unpack(vec: Variable) -> list[Variable]:
        out = []
        for x, a, b in zip(xs, starts, stops):
            piece = reshape(vec[a:b], shape(x), ndim=x.ndim)
            out.append(km.cast(piece, x.dtype) if piece.dtype != x.dtype else piece)
        return out

    packed_graph = graph_replace(graph, dict(zip(xs, unpack(v))), strict=False)
    x0 = join(0, *[km.cast(x.flatten(), dtype) if x.dtype != dtype else x.flatten() for x in xs])
    return packed_graph, v, x0, unpack


def _solve(op_class, who: str, graph: Any, x: Any, extra_outputs, *, graph_ndim, what, method, jac, hess,
           optimizer_kwargs, mode, packable: bool):
    multi = isinstance(x, (list, tuple))
    xs = list(x) if multi else [x]
    if not xs:
        raise ValueError(f"{who}: x is an empty list")
    for xi in xs:
        graph = _check(who, graph, xi, graph_ndim=graph_ndim, what=what)
    if hess and not jac:
        raise ValueError(f"{who}: hess=True needs jac=True (no SciPy method uses second derivatives "
                         f"without first ones)")
    if not packable and xs[0].ndim != 0:
        raise ValueError(f"{who}: x ({xs[0]}) must be a scalar (0-d) tensor, got {xs[0].type}")
    unpack = None
    if multi or xs[0].ndim > 1:
        graph, inner_x, x0, unpack = _pack(graph, xs)
    else:
        inner_x = x0 = xs[0]
    if op_class is RootOp and graph.ndim != inner_x.ndim:
        raise ValueError(f"{who}: the equations ({graph.type}) and the variables ({inner_x.type}) must have "
                         f"the same number of dimensions")
    params = _parameters(graph, inner_x)
    # the op's inner inputs are fresh plain variables: x or a parameter may be a shared
    # variable (or a computed one), which an inner graph cannot take as an input
    from kiln.graph.replace import clone_replace

    fresh = [v.type(name=v.name) for v in [inner_x] + params]
    graph = clone_replace(graph, dict(zip([inner_x] + params, fresh)))
    outputs = [graph] + extra_outputs(graph, fresh[0])
    op = op_class(fresh, outputs, method=method, jac=jac, hess=hess,
                  optimizer_kwargs=optimizer_kwargs, mode=mode)
    solution, success = op(x0, *params)
    if unpack is not None:
        parts = unpack(solution)
        solution = parts if multi else parts[0]
        if multi and isinstance(x, tuple):
            solution = tuple(solution)
    return solution, success


# -- the public functions -------------------------------------------------------------------
def minimize(objective: Any, x: Variable | Sequence[Variable], method: str = "BFGS", jac: bool = True,
             hess: bool = False, optimizer_kwargs: dict | None = None, *, use_vectorized_jac: bool = False,
             mode: Any = None):
    """Minimize the scalar `objective` over `x` with scipy.optimize.minimize: ``(x_star, success)``.

    `x`'s value in a call is the initial guess; every other free variable of the objective is
    a parameter, and x_star is differentiable with respect to them.  jac/hess: hand SciPy the
    symbolic gradient/Hessian.  optimizer_kwargs go to scipy.optimize.minimize (tol, options,
    bounds, ...).  use_vectorized_jac (PyTensor's): build the Hessian one unrolled row per
    entry when x's size is static (kiln does so by default up to 64 entries).

    >>> import numpy as np, kiln, kiln.tensor as kt
    >>> x, b = kt.dvector("x"), kt.dvector("b")
    >>> x_star, ok = minimize(((x - b) ** 2).sum(), x)
    >>> np.round(x_star.eval({x: np.zeros(2), b: np.array([1.0, 2.0])}), 6)
    array([1., 2.])
    """
    def extra(f, v):
        outs = []
        if jac:
            outs.append(_grad(f, v))
            if hess:
                outs.append(_jacobian(outs[0], v, use_vectorized_jac))
        return outs

    return _solve(MinimizeOp, "minimize", objective, x, extra, graph_ndim=(0,), what="objective",
                  method=method, jac=jac, hess=hess, optimizer_kwargs=optimizer_kwargs, mode=mode,
                  packable=True)


def minimize_scalar(objective: Any, x: Variable, method: str = "brent", optimizer_kwargs: dict | None = None,
                    *, mode: Any = None):
    """Minimize the scalar `objective` over the scalar `x` with scipy.optimize.minimize_scalar:
    ``(x_star, success)``.  x's value is not used (give a bracket or bounds in optimizer_kwargs).

    >>> import kiln.tensor as kt
    >>> x, a = kt.dscalar("x"), kt.dscalar("a")
    >>> x_star, ok = minimize_scalar((x - a) ** 2, x)
    >>> round(float(x_star.eval({x: 0.0, a: 3.0})), 6)
    3.0
    """
    return _solve(MinimizeScalarOp, "minimize_scalar", objective, x, lambda f, v: [], graph_ndim=(0,),
                  what="objective", method=method, jac=False, hess=False, optimizer_kwargs=optimizer_kwargs,
                  mode=mode, packable=False)


def root(equations: Any, variables: Variable | Sequence[Variable], method: str = "hybr", jac: bool = True,
         optimizer_kwargs: dict | None = None, *, use_vectorized_jac: bool = False, mode: Any = None):
    """Solve ``equations(variables, *params) = 0`` with scipy.optimize.root: ``(solution, success)``.
    The equations and the variables have the same number of dimensions (a vector system, or
    one scalar equation); jac hands SciPy the symbolic Jacobian.

    >>> import numpy as np, kiln.tensor as kt
    >>> v, a = kt.dvector("v"), kt.dscalar("a")
    >>> sol, ok = root(kt.stack([v[0] + v[1] - a, v[0] - v[1]]), v)
    >>> np.round(sol.eval({v: np.zeros(2), a: 4.0}), 6)
    array([2., 2.])
    """
    def extra(f, v):
        return [_jacobian(f, v, use_vectorized_jac)] if jac else []

    return _solve(RootOp, "root", equations, variables, extra, graph_ndim=None, what="equations",
                  method=method, jac=jac, hess=False, optimizer_kwargs=optimizer_kwargs, mode=mode,
                  packable=True)


def root_scalar(equation: Any, variable: Variable, method: str = "secant", jac: bool = False,
                hess: bool = False, optimizer_kwargs: dict | None = None, *, mode: Any = None):
    """Solve the scalar ``equation(variable, *params) = 0`` with scipy.optimize.root_scalar:
    ``(root, converged)``.  jac/hess hand SciPy the first/second derivative (needed by 'newton'
    and 'halley'); bracketing methods take ``bracket`` in optimizer_kwargs.

    >>> import kiln.tensor as kt
    >>> x, a = kt.dscalar("x"), kt.dscalar("a")
    >>> r, ok = root_scalar(x ** 3 - a, x, method="newton", jac=True)
    >>> round(float(r.eval({x: 1.0, a: 8.0})), 6)
    2.0
    """
    def extra(f, v):
        outs = []
        if jac:
            outs.append(_grad(f, v))
            if hess:
                outs.append(_grad(outs[0], v))
        return outs

    return _solve(RootScalarOp, "root_scalar", equation, variable, extra, graph_ndim=(0,), what="equation",
                  method=method, jac=jac, hess=hess, optimizer_kwargs=optimizer_kwargs, mode=mode,
                  packable=False)
