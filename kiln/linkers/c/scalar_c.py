"""C expressions of scalar ops: a table keyed by scalar-op class.

Each rule gets the op, the input C expressions (already of their own dtypes), the input
dtypes and the output dtypes, and returns one C expression per output, or None when the
op/dtype combination has no C form (the node then runs through `perform`).  Semantics
follow the op's `nfunc` (NumPy's): arithmetic happens in the output dtype, comparisons
in the inputs' common dtype, integer // and % with Python's signs, NaN propagates.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from kiln.scalar import math as sm
from kiln.scalar import special as ss
from kiln.scalar import special_more as ssm
from kiln.linkers.c.types import CTYPE, supported

__all__ = ["SCALAR_C", "scalar_c_exprs", "register_scalar_c"]

Rule = Callable[[object, Sequence[str], Sequence[str], Sequence[str]], "list[str] | None"]
SCALAR_C: dict[type, Rule] = {}


def register_scalar_c(*classes: type) -> Callable[[Rule], Rule]:
    """Register a C rule for scalar-op classes (users may add their own)."""
    def deco(rule: Rule) -> Rule:
        for c in classes:
            SCALAR_C[c] = rule
        return rule
    return deco


def scalar_c_exprs(op, xs: Sequence[str], in_dtypes: Sequence[str], out_dtypes: Sequence[str]) -> list[str] | None:
    """C expressions for `op` applied to `xs`, or None if it has no C implementation here.

    >>> scalar_c_exprs(sm.add, ["a", "b"], ["float64", "float64"], ["float64"])
    ['((double)(((double)(a)) + ((double)(b))))']
    """
    if not all(supported(d) for d in (*in_dtypes, *out_dtypes)):
        return None
    rule = SCALAR_C.get(type(op))
    return None if rule is None else rule(op, list(xs), list(in_dtypes), list(out_dtypes))


def _c(x: str, dtype: str) -> str:
    return f"(({CTYPE[dtype]})({x}))"


def _is_float(d: str) -> bool:
    return d in ("float32", "float64")


def _sfx(d: str) -> str:
    return "f" if d == "float32" else ""


def _infix(sym: str) -> Rule:
    def rule(op, xs, ins, outs):
        o = outs[0]
        if o == "bool" and sym in "+*":  # NumPy: bool + is or, bool * is and
            return [_c(f" {'||' if sym == '+' else '&&'} ".join(xs), o)]
        return [_c(f" {sym} ".join(_c(x, o) for x in xs), o)]
    return rule


register_scalar_c(sm.Add)(_infix("+"))
register_scalar_c(sm.Mul)(_infix("*"))
register_scalar_c(sm.Sub)(_infix("-"))


@register_scalar_c(sm.TrueDiv)
def _truediv(op, xs, ins, outs):
    o = outs[0]
    return [_c(f"{_c(xs[0], o)} / {_c(xs[1], o)}", o)] if _is_float(o) else None


def _helper(name: str, floats_only: bool = False) -> Rule:
    def rule(op, xs, ins, outs):
        o = outs[0]
        if o == "bool" or (floats_only and not _is_float(o)):
            return None
        return [f"kiln_{name}_{o}({', '.join(_c(x, o) for x in xs)})"]
    return rule


register_scalar_c(sm.IntDiv)(_helper("floordiv"))
register_scalar_c(sm.Mod)(_helper("mod"))
register_scalar_c(sm.Sigmoid)(_helper("sigmoid", floats_only=True))
register_scalar_c(sm.Softplus)(_helper("softplus", floats_only=True))
register_scalar_c(sm.GammaLn)(_helper("gammaln", floats_only=True))
# special functions with a short exact C form (the others call SciPy through perform)
register_scalar_c(ss.XLogY)(_helper("xlogy", floats_only=True))
register_scalar_c(ss.XLog1py)(_helper("xlog1py", floats_only=True))
register_scalar_c(ss.Log1mexp)(_helper("log1mexp", floats_only=True))
register_scalar_c(ssm.LogAddExp)(_helper("logaddexp", floats_only=True))


@register_scalar_c(sm.Maximum, sm.Minimum)
def _maxmin(op, xs, ins, outs):
    o = outs[0]
    name = "max" if isinstance(op, sm.Maximum) else "min"
    return [f"kiln_{name}_{o}({_c(xs[0], o)}, {_c(xs[1], o)})"]


@register_scalar_c(sm.Clip)
def _clip(op, xs, ins, outs):
    o = outs[0]
    return [f"kiln_min_{o}(kiln_max_{o}({_c(xs[0], o)}, {_c(xs[1], o)}), {_c(xs[2], o)})"]


@register_scalar_c(sm.Pow)
def _pow(op, xs, ins, outs):
    o = outs[0]  # integer powers raise on negative exponents in NumPy: leave them to perform
    return [f"pow{_sfx(o)}({_c(xs[0], o)}, {_c(xs[1], o)})"] if _is_float(o) else None


@register_scalar_c(sm.Neg)
def _neg(op, xs, ins, outs):
    return [_c(f"-{_c(xs[0], outs[0])}", outs[0])] if outs[0] != "bool" else None


@register_scalar_c(sm.Abs)
def _abs(op, xs, ins, outs):
    o, x = outs[0], _c(xs[0], outs[0])
    if _is_float(o):
        return [f"fabs{_sfx(o)}({x})"]
    if o == "bool" or o.startswith("uint"):
        return [x]
    return [_c(f"({x} < 0 ? -{x} : {x})", o)]


@register_scalar_c(sm.Sign)
def _sign(op, xs, ins, outs):
    o, x = outs[0], _c(xs[0], outs[0])
    if _is_float(o):
        return [f"kiln_sign_{o}({x})"]
    if o == "bool":
        return None
    return [_c(f"({x} > 0) - ({x} < 0)", o)]


@register_scalar_c(sm.Sqr)
def _sqr(op, xs, ins, outs):
    o, x = outs[0], _c(xs[0], outs[0])
    return [_c(f"{x} * {x}", o)] if o != "bool" else None


@register_scalar_c(sm.Reciprocal)
def _reciprocal(op, xs, ins, outs):
    o = outs[0]
    return [_c(f"1 / {_c(xs[0], o)}", o)] if _is_float(o) else None


@register_scalar_c(sm.Identity, sm.Cast)
def _cast(op, xs, ins, outs):
    o = outs[0]
    if o == "bool":
        return [f"({xs[0]} != 0)"]
    return [_c(xs[0], o)]


@register_scalar_c(sm.Switch)
def _switch(op, xs, ins, outs):
    o = outs[0]
    return [f"({xs[0]} ? {_c(xs[1], o)} : {_c(xs[2], o)})"]


def _libm(name: str) -> Rule:
    def rule(op, xs, ins, outs):
        o = outs[0]
        if not _is_float(o):
            return None
        return [f"{name}{_sfx(o)}({', '.join(_c(x, o) for x in xs)})"]
    return rule


for _cls, _name in [(sm.Exp, "exp"), (sm.Exp2, "exp2"), (sm.Expm1, "expm1"), (sm.Log, "log"),
                    (sm.Log2, "log2"), (sm.Log10, "log10"), (sm.Log1p, "log1p"), (sm.Sqrt, "sqrt"),
                    (sm.Sin, "sin"), (sm.Cos, "cos"), (sm.Tan, "tan"), (sm.ArcSin, "asin"),
                    (sm.ArcCos, "acos"), (sm.ArcTan, "atan"), (sm.ArcTan2, "atan2"), (sm.Sinh, "sinh"),
                    (sm.Cosh, "cosh"), (sm.Tanh, "tanh"), (sm.ArcSinh, "asinh"), (sm.ArcCosh, "acosh"),
                    (sm.ArcTanh, "atanh"), (sm.Erf, "erf"), (sm.Erfc, "erfc")]:
    register_scalar_c(_cls)(_libm(_name))


def _rounding(name: str) -> Rule:
    def rule(op, xs, ins, outs):
        o = outs[0]
        if _is_float(o):
            return [f"{name}{_sfx(o)}({_c(xs[0], o)})"]
        return [_c(xs[0], o)] if o != "bool" else None  # NumPy 2: rounding an integer is the integer
    return rule


for _cls, _name in [(sm.Floor, "floor"), (sm.Ceil, "ceil"), (sm.Trunc, "trunc"),
                    (sm.RoundHalfToEven, "rint")]:  # rint rounds half to even in the default mode
    register_scalar_c(_cls)(_rounding(_name))


def _predicate(name: str, for_ints: str) -> Rule:
    def rule(op, xs, ins, outs):
        return [f"({name}({xs[0]}) != 0)" if _is_float(ins[0]) else for_ints]
    return rule


register_scalar_c(sm.IsNan)(_predicate("isnan", "false"))
register_scalar_c(sm.IsInf)(_predicate("isinf", "false"))
register_scalar_c(sm.IsFinite)(_predicate("isfinite", "true"))


def _compare(sym: str) -> Rule:
    def rule(op, xs, ins, outs):
        common = np.result_type(*ins).name
        if not supported(common) or ({"int64", "uint64"} <= set(ins)):
            return None  # NumPy compares int64 with uint64 exactly; C would not
        return [f"({_c(xs[0], common)} {sym} {_c(xs[1], common)})"]
    return rule


for _cls, _sym in [(sm.LT, "<"), (sm.GT, ">"), (sm.LE, "<="), (sm.GE, ">="), (sm.EQ, "=="), (sm.NEQ, "!=")]:
    register_scalar_c(_cls)(_compare(_sym))


@register_scalar_c(sm.LogicalAnd, sm.LogicalOr, sm.LogicalXor)
def _logical(op, xs, ins, outs):
    sym = {sm.LogicalAnd: "&&", sm.LogicalOr: "||", sm.LogicalXor: "!="}[type(op)]
    return [f"(({xs[0]} != 0) {sym} ({xs[1]} != 0))"]


@register_scalar_c(sm.LogicalNot)
def _not(op, xs, ins, outs):
    return [f"({xs[0]} == 0)"]


def _bitwise(sym: str) -> Rule:
    def rule(op, xs, ins, outs):
        o = outs[0]
        return None if _is_float(o) else [_c(f"{_c(xs[0], o)} {sym} {_c(xs[1], o)}", o)]
    return rule


register_scalar_c(sm.BitwiseAnd)(_bitwise("&"))
register_scalar_c(sm.BitwiseOr)(_bitwise("|"))
register_scalar_c(sm.BitwiseXor)(_bitwise("^"))


@register_scalar_c(sm.Invert)
def _invert(op, xs, ins, outs):
    o = outs[0]
    if o == "bool":
        return [f"(!{xs[0]})"]
    return None if _is_float(o) else [_c(f"~{_c(xs[0], o)}", o)]


# -- blocks: ops whose C form needs statements (Composite, the fused scalar graphs) ------
def c_literal(value, dtype: str) -> str:
    """An exact C literal of `value` in `dtype` (hex floats, so no decimal rounding).

    >>> c_literal(0.1, "float64"), c_literal(-np.inf, "float32"), c_literal(2**63, "uint64")
    ('((double)(0x1.999999999999ap-4))', '((float)(-INFINITY))', '((uint64_t)(9223372036854775808ULL))')
    """
    v = np.asarray(value, dtype=dtype)[()]
    if dtype == "bool":
        return "true" if v else "false"
    if dtype in ("float32", "float64"):
        f = float(v)
        text = "NAN" if f != f else ("INFINITY" if f == np.inf else "-INFINITY" if f == -np.inf else f.hex())
        return _c(text, dtype)
    i = int(v)
    if dtype.startswith("uint"):
        return _c(f"{i}ULL", dtype)
    if i == np.iinfo(np.int64).min:
        return _c("INT64_MIN", dtype)
    return _c(f"{i}LL", dtype)


def scalar_c_block(op, xs: Sequence[str], in_dtypes: Sequence[str], out_dtypes: Sequence[str],
                   fresh: Callable[[], str]) -> tuple[list[str], list[str]] | None:
    """(statements, output expressions) computing `op`; `fresh()` names temporaries.

    Plain scalar ops give no statements; a Composite gives one statement per inner node,
    so shared subexpressions of the fused graph are computed once.
    """
    from kiln.scalar.composite import Composite

    if not isinstance(op, Composite):
        exprs = scalar_c_exprs(op, xs, in_dtypes, out_dtypes)
        return None if exprs is None else ([], exprs)
    if not all(supported(d) for d in (*in_dtypes, *out_dtypes)):
        return None
    names = dict(zip(op.inner_inputs, xs))
    stmts: list[str] = []

    def ref(v) -> str:
        if v in names:
            return names[v]
        if getattr(v, "owner", None) is None and hasattr(v, "data"):
            if not supported(v.type.dtype):
                raise _NoC
            return c_literal(v.data, v.type.dtype)
        raise _NoC

    try:
        for node in op.fgraph.toposort():
            ins = [ref(i) for i in node.inputs]
            sub = scalar_c_block(node.op, ins, [i.type.dtype for i in node.inputs],
                                 [o.type.dtype for o in node.outputs], fresh)
            if sub is None:
                return None
            stmts += sub[0]
            for o, e in zip(node.outputs, sub[1]):
                t = fresh()
                stmts.append(f"const {CTYPE[o.type.dtype]} {t} = {e};")
                names[o] = t
        return stmts, [ref(o) for o in op.inner_outputs]
    except _NoC:
        return None


class _NoC(Exception):
    pass
