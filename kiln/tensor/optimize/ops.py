"""The scipy.optimize ops behind kiln.tensor.optimize: inner-graph ops whose `perform`
compiles the inner graph once (with the op's mode, inherited from the compiling function by
the `optimize_inherit_mode` rule) and hands it to SciPy; plus the Jacobian builders the
implicit gradient (kiln/gradient/rules/optimize.py) uses."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from kiln.graph.basic import Apply, Variable
from kiln.graph.inner import InnerGraphOp
from kiln.tensor.type import TensorType

__all__ = ["OptimizeOp", "MinimizeOp", "MinimizeScalarOp", "RootOp", "RootScalarOp"]


# -- hashable optimizer options ------------------------------------------------------------
class _Opaque:
    """An option value compared by identity (a callback, a SciPy Bounds object...)."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, _Opaque) and other.value is self.value

    def __hash__(self) -> int:
        return id(self.value)


def _freeze(v: Any) -> Any:
    """A hashable stand-in for an option value, equal for equal values (ops compare by it)."""
    if isinstance(v, dict):
        return ("dict", tuple(sorted((str(k), _freeze(x)) for k, x in v.items())))
    if isinstance(v, (list, tuple)):
        return (type(v).__name__, tuple(_freeze(x) for x in v))
    if isinstance(v, np.ndarray):
        return ("array", v.dtype.str, v.shape, v.tobytes())
    if v is None or isinstance(v, (bool, int, float, complex, str, np.generic)):
        return v
    return _Opaque(v)


# -- the ops ----------------------------------------------------------------------------------
class OptimizeOp(InnerGraphOp):
    """Base of the scipy.optimize ops.  Inner inputs: ``(x, *params)``; inner outputs: the
    objective (or equations) first, then the derivatives handed to SciPy (see each subclass).
    Outer inputs: ``(x0, *params)``; outer outputs: ``(solution, success)``.

    The inner graph is compiled once per op (with `mode`), cached on the op, and evaluated
    by SciPy as often as it asks; value, gradient and Hessian of one point come from one call.
    """

    __props__ = ("signature", "method", "jac", "hess", "options", "mode")
    _derived_attrs = ("_runner", "_fn", "_implicit")
    #: whether the implicit function is the objective's gradient (minimization) or the output
    is_minimization = False

    def __init__(self, inputs: Sequence[Variable], outputs: Sequence[Variable], *, method: str,
                 jac: bool, hess: bool, optimizer_kwargs: dict | None, mode: Any = None):
        super().__init__(list(inputs), list(outputs), name=type(self).__name__)
        self.method = method
        self.jac, self.hess = bool(jac), bool(hess)
        self.optimizer_kwargs = dict(optimizer_kwargs or {})
        self.options = _freeze(self.optimizer_kwargs)
        self.mode = mode

    def __str__(self) -> str:
        return f"{type(self).__name__}(method={self.method}, jac={self.jac}, hess={self.hess})"

    def make_node(self, *inputs: Any) -> Apply:
        node = super().make_node(*inputs)
        x = node.inputs[0]
        return Apply(self, node.inputs, [x.type(), TensorType("bool", ())("success")])

    def infer_shape(self, fgraph, node: Apply, input_shapes: list[tuple]) -> list[tuple]:
        return [input_shapes[0], ()]

    # -- running ------------------------------------------------------------------------
    def _inner_fn(self):
        if self._fn is None:
            import kiln
            from kiln.compile.mode import Mode

            mode = self.mode
            if isinstance(mode, str) and mode in ("py", "c", "auto"):
                mode = Mode(linker=mode)
            self._fn = kiln.function(list(self.inner_inputs), list(self.inner_outputs), mode=mode,
                                     trust_input=True, on_unused_input="ignore")
        return self._fn

    def _evaluator(self, x0: np.ndarray, params: Sequence[Any]) -> "_Evaluator":
        return _Evaluator(self._inner_fn(), x0.shape, self.inner_inputs[0].type.dtype, params)

    def _store(self, output_storage, x0, x, success) -> None:
        output_storage[0][0] = np.asarray(x).reshape(np.shape(x0)).astype(x0.dtype)
        output_storage[1][0] = np.array(bool(success))

    # -- the pieces of the implicit gradient (graphs over the inner inputs) -------------
    def implicit_pieces(self) -> tuple[Variable, Variable]:
        """(F, J): the implicit function F(x, θ), zero at the solution, and its Jacobian in x
        (for a scalar x, the derivative), both graphs over the inner inputs; built once."""
        if self._implicit is None:
            self._implicit = self._build_implicit()
        return self._implicit

    def _build_implicit(self) -> tuple[Variable, Variable]:
        raise NotImplementedError


    def with_mode(self, mode: Any) -> "OptimizeOp":
        """The same op compiling its inner graph with `mode` (the inner graph is shared)."""
        import copy

        new = copy.copy(self)
        new.__dict__.pop("_hash", None)
        new.mode = mode
        for attr in self._derived_attrs:
            setattr(new, attr, None)
        return new


def _register_rules() -> None:
    """An optimize op with no mode of its own compiles its inner functions with the mode of the
    function it is compiled in.  In the "merge" phase, which every rewrite level but "none"
    runs; under "none" the inner functions use kiln's default mode."""
    from kiln.rewrites.db import register
    from kiln.rewrites.inherit_mode import InheritMode

    register(InheritMode("optimize_inherit_mode", OptimizeOp), phase="merge", tags=("optimize_inherit_mode",))


class _Evaluator:
    """Calls the compiled inner function for SciPy: SciPy hands flat float64 arrays (or Python
    floats); the function wants x's shape and dtype.  The last point's results are kept, so a
    value, a gradient and a Hessian at one point cost one call."""

    def __init__(self, fn, shape: tuple, dtype: str, params: Sequence[Any]):
        self.fn, self.shape, self.dtype, self.params = fn, tuple(shape), dtype, list(params)
        self.last_x: np.ndarray | None = None
        self.last: list | None = None

    def __call__(self, x: Any) -> list:
        x = np.asarray(x, dtype=self.dtype).reshape(self.shape)
        if self.last is None or not np.array_equal(x, self.last_x):
            # copy: scipy.optimize.root updates its iterate in place
            self.last_x = x.copy()
            self.last = [np.asarray(o) for o in self.fn(self.last_x, *self.params)]
        return self.last

    def value(self, x: Any) -> float:
        return float(self(x)[0])

    def values(self, x: Any) -> np.ndarray:
        return self(x)[0].astype("float64").ravel()

    def value_and_grad(self, x: Any) -> tuple:
        out = self(x)
        return float(out[0]), out[1].astype("float64").ravel()

    def first(self, x: Any) -> float:
        return float(self(x)[1])

    def second(self, x: Any) -> float:
        return float(self(x)[2])

    def matrix(self, k: int):
        def get(x: Any) -> np.ndarray:
            m = self(x)[k].astype("float64")
            n = int(np.prod(self.shape))
            return m.reshape(n, n)
        return get


class MinimizeOp(OptimizeOp):
    """scipy.optimize.minimize.  Inner outputs: objective, gradient (jac), Hessian (hess)."""

    is_minimization = True

    def perform(self, node, inputs, output_storage):
        from kiln._lazy import scipy_module

        x0, *params = inputs
        ev = self._evaluator(x0, params)
        res = scipy_module("optimize").minimize(
            ev.value_and_grad if self.jac else ev.value, np.asarray(x0, dtype="float64").ravel(),
            method=self.method, jac=True if self.jac else None,
            hess=ev.matrix(2) if self.hess else None, **self.optimizer_kwargs)
        self._store(output_storage, x0, res.x, res.success)

    def _build_implicit(self):
        x = self.inner_inputs[0]
        g = self.inner_outputs[1] if self.jac else _grad(self.inner_outputs[0], x)
        return g, _jacobian(g, x)


class MinimizeScalarOp(OptimizeOp):
    """scipy.optimize.minimize_scalar.  Inner outputs: the objective.  The initial value of x
    is not used (SciPy's scalar methods start from a bracket or bounds)."""

    is_minimization = True

    def perform(self, node, inputs, output_storage):
        from kiln._lazy import scipy_module

        x0, *params = inputs
        ev = self._evaluator(x0, params)
        res = scipy_module("optimize").minimize_scalar(ev.value, method=self.method, **self.optimizer_kwargs)
        self._store(output_storage, x0, res.x, getattr(res, "success", True))

    def _build_implicit(self):
        x = self.inner_inputs[0]
        g = _grad(self.inner_outputs[0], x)
        return g, _grad(g, x)


class RootOp(OptimizeOp):
    """scipy.optimize.root.  Inner outputs: the equations, their Jacobian in x (jac)."""

    def perform(self, node, inputs, output_storage):
        from kiln._lazy import scipy_module

        x0, *params = inputs
        ev = self._evaluator(x0, params)
        if self.jac:
            n = int(np.prod(np.shape(x0)))
            fun = lambda x: (ev.values(x), ev(x)[1].astype("float64").reshape(n, n))
        else:
            fun = ev.values
        res = scipy_module("optimize").root(fun, np.asarray(x0, dtype="float64").ravel(),
                                            method=self.method, jac=self.jac, **self.optimizer_kwargs)
        self._store(output_storage, x0, res.x, res.success)

    def _build_implicit(self):
        x = self.inner_inputs[0]
        f = self.inner_outputs[0]
        return f, _jacobian(f, x)


class RootScalarOp(OptimizeOp):
    """scipy.optimize.root_scalar.  Inner outputs: the equation, its first (jac) and second
    (hess) derivatives."""

    def perform(self, node, inputs, output_storage):
        from kiln._lazy import scipy_module

        x0, *params = inputs
        ev = self._evaluator(x0, params)
        res = scipy_module("optimize").root_scalar(
            ev.value, x0=float(x0), fprime=ev.first if self.jac else None,
            fprime2=ev.second if self.hess else None, method=self.method, **self.optimizer_kwargs)
        self._store(output_storage, x0, res.root, res.converged)

    def _build_implicit(self):
        x = self.inner_inputs[0]
        f = self.inner_outputs[0]
        return f, (self.inner_outputs[1] if self.jac else _grad(f, x))


# -- graph helpers ------------------------------------------------------------------------
def _grad(cost: Variable, x: Variable) -> Variable:
    from kiln.gradient import grad

    return grad(cost, x, disconnected_inputs="ignore")


def _jacobian(f: Variable, x: Variable, vectorize: bool = False) -> Variable:
    """d f / d x for a vector f and vector x.  With static sizes (up to 64 entries, or any with
    `vectorize`) the rows are unrolled into the graph, where rewrites can fuse them; otherwise
    they come from one `Map` node.  Either can be differentiated again (second derivatives of a
    solution: Map's rules are in kiln/gradient/rules/map.py)."""
    from kiln.gradient import jacobian

    if f.ndim == 0:
        return _grad(f, x)
    static = None not in f.type.shape
    unroll = static and (vectorize or int(np.prod(f.type.shape)) <= 64)
    return jacobian(f, x, disconnected_inputs="ignore", vectorize=unroll)


_register_rules()
