"""The public derivative API (PyTensor's names): grad, Lop/pullback/vjp, Rop/pushforward/jvp,
and `linearize`, all built from the jvp pass and the transposer.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

from kiln.graph.basic import Variable
from kiln.gradient.forward import differentiable, push_tangents
from kiln.gradient.transpose import LinearGraph, linearize_graph, transpose_graph
from kiln.gradient.values import (ZERO, DisconnectedInputError, Null, NullTypeGradError,
                                  disconnected_type, is_zero)

__all__ = ["grad", "Lop", "Rop", "pullback", "pushforward", "vjp", "jvp", "linearize", "Linearized"]

_MODES = ("raise", "warn", "ignore")


def _as_list(x: Any, who: str) -> tuple[list, Any]:
    """(list of items, a function rebuilding the caller's structure)."""
    if isinstance(x, (list, tuple)):
        kind = type(x)
        return list(x), (lambda items: kind(items))
    return [x], (lambda items: items[0])


def _check_vars(vs: Sequence[Any], who: str, what: str) -> list[Variable]:
    from kiln.tensor.basic import as_tensor_variable

    out = []
    for i, v in enumerate(vs):
        if not isinstance(v, Variable):
            raise TypeError(f"{who}: {what} {i} is {v!r}, not a symbolic variable")
        out.append(v if hasattr(v.type, "dtype") else as_tensor_variable(v))
    return out


def _paired_points(who: str, vs: list, eps: list, plural: str, singular: str,
                   entry: str) -> tuple[list, list]:
    """Check that `eps` gives one eval point per variable of `vs`, with the same ndim."""
    from kiln.tensor.basic import as_tensor_variable

    if len(vs) != len(eps):
        raise ValueError(f"{who}: {len(vs)} {plural} but {len(eps)} eval_points")
    vs = _check_vars(vs, who, entry)
    eps = [as_tensor_variable(e) for e in eps]
    for v, e in zip(vs, eps):
        if e.ndim != v.type.ndim:
            raise ValueError(f"{who}: eval point {e} has {e.ndim} dims but {singular} {v} has {v.type.ndim}")
    return vs, eps


def _shaped_like(e: Variable, w: Variable, k: int) -> Variable:
    """Eval point `e`, checked at run time to have the shape of `w` (unless both static shapes
    say so): a tangent of another shape would broadcast silently.  The check also makes the
    result use `w`, so a function given `w` as an input does not find it unused (PyTensor)."""
    if None not in w.type.shape and w.type.shape == e.type.shape:
        return e
    import kiln.tensor as kt
    from kiln.raise_op import CheckAndRaise

    same = kt.all(kt.eq(kt.shape(e), kt.shape(w)))
    return CheckAndRaise(ValueError, f"Rop: eval point {k} ({e}) must have the shape of wrt {k} ({w})")(e, same)


def _float_zeros(w: Variable):
    from kiln.configuration import config
    from kiln.tensor.creation import zeros_like

    dt = w.type.dtype if differentiable(w) else config.floatX
    return zeros_like(w, dtype=dt)


def _reverse(outputs, cotangents, wrt, consider_constant=(), known_grads=None):
    """Reverse mode: (cotangents of wrt or Zero, connected wrt indices, {wrt index: Null})."""
    from kiln.graph.replace import graph_replace
    from kiln.graph.traversal import ancestors

    known = dict(known_grads or {})
    tins = [w.type() if differentiable(w) else ZERO for w in wrt]
    for t, w in zip(tins, wrt):
        if not is_zero(t):
            t.name = f"d{w.name}" if w.name else None
    st = push_tangents(outputs, wrt, tins, consider_constant, cut=list(known))
    seeds = [(st.tangent(o), ct) for o, ct in zip(outputs, cotangents)]
    seeds += [(st.cut.get(v, ZERO), g) for v, g in known.items()]
    seeds = [(t, ct) for t, ct in seeds if not is_zero(t) and not is_zero(ct)]
    live = [t for t in tins if not is_zero(t)]
    lin = linearize_graph(live, [t for t, _ in seeds])
    cts = dict(zip(live, transpose_graph(lin, seeds, st.like)))
    res = [cts.get(t, ZERO) if not is_zero(t) else ZERO for t in tins]
    # shapes of linear variables come from primals, but a user op's transpose may still read
    # a tangent's shape: tangents and primals have equal shapes, so swap them in
    real = [r for r in res if not is_zero(r)]
    if real:
        anc = set(map(id, ancestors(real)))
        swap = {t: w for t, w in zip(tins, wrt) if not is_zero(t) and id(t) in anc}
        if swap:
            new = iter(graph_replace(real, swap))
            res = [r if is_zero(r) else next(new) for r in res]
    connected = frozenset().union(*[st.conn.get(o, frozenset()) for o in outputs],
                                  *[st.cut_conn.get(v, frozenset()) for v in known])
    nulls: dict[int, Null] = {}
    for o in list(outputs) + list(known):
        n = st.nulls.get(o)
        if n is not None:
            for i in n.wrt:
                nulls.setdefault(i, n)
    return res, connected, nulls


def _finish(w, i, r, connected, nulls, who, disconnected_inputs, return_disconnected, null_gradients,
            name=None):
    if i in nulls:
        if null_gradients == "raise":
            raise NullTypeGradError(f"{who}: the gradient with respect to {w} is undefined: {nulls[i].reason}")
        return nulls[i]
    if i not in connected:
        msg = (f"{who}: the cost does not depend on input {i} ({w}) of wrt (it is disconnected); "
               f"pass disconnected_inputs='ignore' (or 'warn') to allow it")
        if disconnected_inputs == "raise":
            raise DisconnectedInputError(msg)
        if disconnected_inputs == "warn":
            warnings.warn(msg, stacklevel=3)
        if return_disconnected == "None":
            return None
        if return_disconnected == "Disconnected":
            return disconnected_type()
        return _float_zeros(w)
    if is_zero(r):
        return _float_zeros(w)
    if name and r.name is None:
        r.name = name
    return r


_RETURN_DISCONNECTED = {"zero": "zero", "none": "None", "disconnected": "Disconnected"}


def _norm_rd(return_disconnected: str) -> str:
    """PyTensor spells these 'zero'/'None'/'Disconnected' (older) and 'zero'/'none'/'disconnected'."""
    return _RETURN_DISCONNECTED.get(str(return_disconnected).lower(), return_disconnected)


def _check_opts(who, disconnected_inputs, return_disconnected="zero", null_gradients="raise"):
    if disconnected_inputs not in _MODES:
        raise ValueError(f"{who}: disconnected_inputs must be one of {_MODES}, not {disconnected_inputs!r}")
    if return_disconnected not in ("zero", "None", "Disconnected"):
        raise ValueError(f"{who}: return_disconnected must be 'zero', 'None' or 'Disconnected', "
                         f"not {return_disconnected!r}")
    if null_gradients not in ("raise", "return"):
        raise ValueError(f"{who}: null_gradients must be 'raise' or 'return', not {null_gradients!r}")


def grad(cost: Any, wrt: Any, consider_constant: Sequence[Variable] | None = None,
         disconnected_inputs: str = "raise", add_names: bool = True,
         known_grads: dict | None = None, return_disconnected: str = "zero",
         null_gradients: str = "raise"):
    """Gradient of the scalar `cost` with respect to `wrt` (a variable or a list/tuple of them);
    the result mirrors `wrt`.  Reverse mode: linearize, then transpose.

    consider_constant: variables treated as constants (no gradient flows through them).
    disconnected_inputs: what to do when the cost does not depend on a wrt: 'raise', 'warn', 'ignore'.
    known_grads: {variable: its gradient}; replaces the cotangent of those variables (cost may be None).
    return_disconnected: 'zero' (zeros like wrt), 'None', or 'Disconnected' (a marker variable).
    null_gradients: 'raise' or 'return' (the Null object) for undefined gradients.

    >>> import numpy as np, kiln, kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> g = kiln.grad((x ** 2).sum(), x)
    >>> g.eval({x: np.array([1.0, 2.0])})
    array([2., 4.])
    """
    from kiln.tensor.basic import as_tensor_variable, constant

    return_disconnected = _norm_rd(return_disconnected)
    _check_opts("grad", disconnected_inputs, return_disconnected, null_gradients)
    if cost is None and not known_grads:
        raise ValueError("grad: cost is None and no known_grads are given")
    wrt_list, rebuild = _as_list(wrt, "grad")
    wrt_list = _check_vars(wrt_list, "grad", "wrt entry")
    outputs, cts = [], []
    if cost is not None:
        cost = as_tensor_variable(cost)
        if cost.ndim != 0:
            raise TypeError(f"grad: cost must be a scalar (0-d), got a {cost.ndim}-d {cost.type}; "
                            f"sum it, or use kiln.gradient.jacobian / Lop")
        outputs, cts = [cost], [constant(1, dtype=cost.dtype) if differentiable(cost) else ZERO]
    known = None
    if known_grads:
        known = {}
        for v, g in known_grads.items():
            if not isinstance(v, Variable):
                raise TypeError(f"grad: known_grads key {v!r} is not a variable")
            g = as_tensor_variable(g)
            if g.ndim != v.type.ndim:
                raise ValueError(f"grad: known gradient for {v} has {g.ndim} dims, expected {v.type.ndim}")
            known[v] = g
    res, connected, nulls = _reverse(outputs, cts, wrt_list, consider_constant or (), known)
    out = []
    for i, (w, r) in enumerate(zip(wrt_list, res)):
        name = None
        if add_names and cost is not None and w.name:
            name = f"(d{cost.name or 'cost'}/d{w.name})"
        out.append(_finish(w, i, r, connected, nulls, "grad", disconnected_inputs, return_disconnected,
                           null_gradients, name))
    return rebuild(out)


def Lop(f: Any, wrt: Any, eval_points: Any, consider_constant: Sequence[Variable] | None = None,
        disconnected_inputs: str = "raise", return_disconnected: str = "zero"):
    """The vector-Jacobian product: eval_points^T . d f / d wrt (PyTensor's Lop).

    f and eval_points may be lists (one cotangent per output); the result mirrors `wrt`.

    >>> import numpy as np, kiln.tensor as kt
    >>> x, v = kt.vector("x"), kt.vector("v")
    >>> Lop(x ** 2, x, v).eval({x: np.array([1.0, 3.0]), v: np.array([1.0, 1.0])})
    array([2., 6.])
    """
    return_disconnected = _norm_rd(return_disconnected)
    _check_opts("Lop", disconnected_inputs, return_disconnected)
    fs, _ = _as_list(f, "Lop")
    eps, _ = _as_list(eval_points, "Lop")
    fs, eps = _paired_points("Lop", fs, eps, "outputs", "output", "output")
    wrt_list, rebuild = _as_list(wrt, "Lop")
    wrt_list = _check_vars(wrt_list, "Lop", "wrt entry")
    res, connected, nulls = _reverse(fs, eps, wrt_list, consider_constant or ())
    return rebuild([_finish(w, i, r, connected, nulls, "Lop", disconnected_inputs, return_disconnected, "raise")
                    for i, (w, r) in enumerate(zip(wrt_list, res))])


def Rop(f: Any, wrt: Any, eval_points: Any, disconnected_outputs: str = "raise",
        return_disconnected: str = "zero", use_op_rop_implementation: bool = False,
        use_op_pushforward: bool = False):
    """The Jacobian-vector product: d f / d wrt . eval_points (PyTensor's Rop), by the jvp pass.

    The result mirrors `f`.  (`use_op_rop_implementation`/`use_op_pushforward` are accepted
    for PyTensor compatibility and ignored: kiln has one rule set, the jvp rules.)

    >>> import numpy as np, kiln.tensor as kt
    >>> x, v = kt.vector("x"), kt.vector("v")
    >>> Rop(kt.sin(x), x, v).eval({x: np.array([0.0]), v: np.array([2.0])})
    array([2.])
    """
    return_disconnected = _norm_rd(return_disconnected)
    _check_opts("Rop", disconnected_outputs, return_disconnected)
    fs, rebuild = _as_list(f, "Rop")
    fs = _check_vars(fs, "Rop", "output")
    wrt_list, _ = _as_list(wrt, "Rop")
    eps, _ = _as_list(eval_points, "Rop")
    wrt_list, eps = _paired_points("Rop", wrt_list, eps, "wrt variables", "wrt", "wrt entry")
    eps = [_shaped_like(e, w, k) for k, (w, e) in enumerate(zip(wrt_list, eps))]
    st = push_tangents(fs, wrt_list, eps)
    out = []
    for k, o in enumerate(fs):
        n = st.nulls.get(o)
        if n is not None:
            raise NullTypeGradError(f"Rop: the derivative of output {k} ({o}) is undefined: {n.reason}")
        if not st.conn.get(o):
            msg = f"Rop: output {k} ({o}) does not depend on any wrt variable"
            if disconnected_outputs == "raise":
                raise DisconnectedInputError(msg + "; pass disconnected_outputs='ignore' to allow it")
            if disconnected_outputs == "warn":
                warnings.warn(msg, stacklevel=2)
            if return_disconnected == "None":
                out.append(None)
                continue
            if return_disconnected == "Disconnected":
                out.append(disconnected_type())
                continue
        t = st.tangent(o)
        out.append(_float_zeros(o) if is_zero(t) else t)
    return rebuild(out)


def pushforward(f: Any, wrt: Any, tangents: Any, **kwargs):
    """Alias of `Rop` (forward mode: push tangents of `wrt` to tangents of `f`)."""
    return Rop(f, wrt, tangents, **kwargs)


def pullback(f: Any, wrt: Any, cotangents: Any, **kwargs):
    """Alias of `Lop` (reverse mode: pull cotangents of `f` back to `wrt`)."""
    return Lop(f, wrt, cotangents, **kwargs)


def jvp(f: Any, wrt: Any, tangents: Any):
    """Tangents of `f` given `tangents` of `wrt` (disconnected outputs get zeros).

    >>> import numpy as np, kiln.tensor as kt
    >>> x = kt.scalar("x")
    >>> float(jvp(x ** 3, x, kt.constant(1.0)).eval({x: 2.0}))
    12.0
    """
    return Rop(f, wrt, tangents, disconnected_outputs="ignore")


def vjp(f: Any, wrt: Any, cotangents: Any):
    """Cotangents of `wrt` given `cotangents` of `f` (disconnected inputs get zeros).

    >>> import numpy as np, kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> vjp(x * 3.0, x, kt.constant(np.ones(2))).eval({x: np.zeros(2)})
    array([3., 3.])
    """
    return Lop(f, wrt, cotangents, disconnected_inputs="ignore")


@dataclass
class Linearized:
    """A graph split by `linearize`: f's outputs, the tangent graph's inputs and outputs,
    its linear part (`linear.nodes`) and the residuals (primal values the linear part reads)."""

    outputs: list
    wrt: list
    tangent_inputs: list
    tangent_outputs: list
    linear: LinearGraph
    residuals: list
    like: dict

    def jvp(self, tangents: Sequence[Any]) -> list:
        """The linear map applied to `tangents` (one per wrt)."""
        from kiln.graph.replace import clone_replace

        outs = [t for t in self.tangent_outputs if not is_zero(t)]
        new = iter(clone_replace(outs, dict(zip(self.tangent_inputs, tangents))) if outs else [])
        return [_float_zeros(o) if is_zero(t) else next(new) for o, t in zip(self.outputs, self.tangent_outputs)]

    def transpose(self, cotangents: Sequence[Any]) -> list:
        """The transposed linear map: cotangents of the outputs -> cotangents of wrt."""
        seeds = [(t, c) for t, c in zip(self.tangent_outputs, cotangents) if not is_zero(t)]
        cts = transpose_graph(self.linear, seeds, self.like)
        return [_float_zeros(w) if is_zero(c) else c for w, c in zip(self.wrt, cts)]


def linearize(f: Any, wrt: Any) -> Linearized:
    """Split the derivative of `f` w.r.t. `wrt` into residuals and a linear part.

    >>> import numpy as np, kiln.tensor as kt
    >>> x = kt.vector("x")
    >>> lz = linearize(kt.sin(x), x)
    >>> [str(r) for r in lz.residuals]
    ['cos.out']
    >>> lz.transpose([kt.constant(np.ones(1))])[0].eval({x: np.zeros(1)})
    array([1.])
    """
    fs, _ = _as_list(f, "linearize")
    fs = _check_vars(fs, "linearize", "output")
    wrt_list, _ = _as_list(wrt, "linearize")
    wrt_list = _check_vars(wrt_list, "linearize", "wrt entry")
    for w in wrt_list:
        if not differentiable(w):
            raise TypeError(f"linearize: wrt {w} has the discrete dtype {w.type.dtype}")
    tins = [w.type() for w in wrt_list]
    st = push_tangents(fs, wrt_list, tins)
    touts = [st.tangent(o) for o in fs]
    lin = linearize_graph(tins, touts)
    residuals, seen = [], set()
    for node, mask in lin.nodes:
        for i, m in zip(node.inputs, mask):
            if not m and i.owner is not None and id(i) not in seen:
                seen.add(id(i))
                residuals.append(i)
    return Linearized(fs, wrt_list, tins, touts, lin, residuals, st.like)
