"""Render SliceKernel (softmax, log_softmax, argmax, argmin over axes) to C from
kiln/c_templates/slice.c.  Each kind is a list of passes over one slice: C text run before
the pass, the statement run per element ({x}: the input element, {y}: the output element
as an lvalue) and C text run after it."""
from __future__ import annotations

from kiln.linkers.c.ir import JoinKernel, SliceKernel
from kiln.linkers.c.types import CTYPE

__all__ = ["render_slice", "render_join", "SLICE_PASSES"]


def _softmax(t: str, n: str, log: bool) -> list[tuple[str, str, str]]:
    sfx = "f" if n == "float32" else ""
    # the same operations as Softmax.perform: shift by the maximum (0 when it is not
    # finite), exponentiate, sum; only the order of the sum's additions differs
    first = (f"{t} mx = -INFINITY;", f"mx = kiln_max_{n}(mx, ({t}){{x}});", "if (!isfinite(mx)) mx = 0;")
    if log:
        return [first, (f"{t} s = 0;", f"s += exp{sfx}(({t}){{x}} - mx);", f"const {t} ls = log{sfx}(s);"),
                ("", "{y} = (" + t + "){x} - mx - ls;", "")]
    return [first, (f"{t} s = 0;", f"const {t} e = exp{sfx}(({t}){{x}} - mx); {{y}} = e; s += e;", ""),
            ("", "{y} = {y} / s;", "")]


def _argext(it: str, cmp: str) -> list[tuple[str, str, str]]:
    # NumPy: the first extremum wins, and the first NaN wins over everything
    return [(f"{it} best = 0; int64_t bi = 0;",
             f"if (j == 0 || (best == best && ({{x}} {cmp} best || {{x}} != {{x}}))) {{{{ best = {{x}}; bi = j; }}}}",
             "*(int64_t *)po = bi;")]


def _scan(t: str, mode: str) -> list[tuple[str, str, str]]:
    # NumPy's cumsum/cumprod accumulate sequentially in the output dtype: the same order here
    init, op = ("0", "+") if mode == "add" else ("1", "*")
    return [(f"{t} acc = {init};", f"acc = ({t})(acc {op} ({t}){{x}}); {{y}} = acc;", "")]


#: kind -> passes(input C type, output C type, output dtype)
SLICE_PASSES = {
    "softmax": lambda it, t, n: _softmax(t, n, False),
    "log_softmax": lambda it, t, n: _softmax(t, n, True),
    "argmax": lambda it, t, n: _argext(it, ">"),
    "argmin": lambda it, t, n: _argext(it, "<"),
    "cumsum": lambda it, t, n: _scan(t, "add"),
    "cumprod": lambda it, t, n: _scan(t, "mul"),
}


def _loops(passes, x: str, y: str, head: str, step: str) -> str:
    lines = []
    for before, stmt, after in passes:
        body = stmt.format(x=x, y=y).replace("{{", "{").replace("}}", "}")
        lines += [before, "{ " + head, f"    for (int64_t j = 0; j < m; j++) {{ {body} {step} }}", "}", after]
    return "\n            ".join(s for s in lines if s)


def render_slice(k: SliceKernel, name: str) -> str:
    """C for one slice kernel (a unit-stride fast path and a general strided path)."""
    from kiln.linkers.c.render import _comment, template

    it, ot = CTYPE[k.input.dtype], CTYPE[k.output.dtype]
    passes = SLICE_PASSES[k.kind](it, ot, k.output.dtype)
    same = "0" if k.kind in ("argmax", "argmin") else "1"   # else the output has the input's shape
    unit = _loops(passes, "xs[j]", "ys[j]", "", "")
    strided = _loops(passes, f"(*(const {it} *)px)", f"(*({ot} *)py)",
                     "int64_t ridx[KILN_MAXDIM + 1] = {0}; const char *px = pi; char *py = po; (void)py;",
                     "for (int d = nr - 1; d >= 0; d--) { px += rist[d]; py += rost[d]; "
                     "if (++ridx[d] < rshp[d]) break; px -= rist[d] * rshp[d]; py -= rost[d] * rshp[d]; "
                     "ridx[d] = 0; }")
    inslice = ", ".join("1" if d in k.axes else "0" for d in range(k.ndim)) or "0"
    return template("slice.c").substitute(
        label=_comment(k.label), name=name, nd=k.ndim, inslice=inslice, ibuf=k.input.buf,
        obuf=k.output.buf, itype=it, otype=ot, same_shape=same,
        empty_rc="0" if same == "1" else "KILN_ESHAPE", unit_body=unit, strided_body=strided)


def render_join(k: JoinKernel, name: str) -> str:
    """C for one concatenation (kiln/c_templates/join.c)."""
    from kiln.linkers.c.render import _comment, template

    return template("join.c").substitute(
        label=_comment(k.label), name=name, nd=k.ndim, axis=k.axis, obuf=k.output.buf,
        ins=", ".join(str(o.buf) for o in k.inputs), t=CTYPE[k.output.dtype])
