"""Render IndexKernel (gather/scatter with integer arrays and slices) to C from
kiln/c_templates/index.c.  The per-dtype parts are generated here: the bounds check of each
index array (in its own integer dtype: unsigned indices never wrap), the loads of slice
bounds, and the element statement of the mode (copy, assign, or add in x's dtype)."""
from __future__ import annotations

from kiln.linkers.c.ir import Operand
from kiln.linkers.c.ir_index import NEWAXIS_SRC, IndexKernel
from kiln.linkers.c.types import CTYPE

__all__ = ["render_index"]

_MODE = {"get": 0, "set": 1, "inc": 2}


def _scalar(o: Operand) -> str:
    """A 0-d integer operand's value as int64 (huge uint64 values saturate, as Python's
    slice clamps them to the axis anyway)."""
    t = CTYPE[o.dtype]
    load = f"*(const {t} *)B[{o.buf}].data"
    if o.dtype == "uint64":
        return f"({load} > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t){load})"
    return f"(int64_t){load}"


def _check_fn(name: str, k: int, o: Operand) -> str:
    t = CTYPE[o.dtype]
    oob = "(uint64_t)q >= (uint64_t)n" if o.dtype.startswith("uint") else "(int64_t)q < -n || (int64_t)q >= n"
    return f"""static int {name}_chk{k}(const kiln_buf *b, int64_t n) {{
    int64_t cnt = 1;
    for (int d = 0; d < b->ndim; d++) cnt *= b->shape[d];
    int64_t idx[KILN_MAXDIM + 1] = {{0}};
    const char *p = b->data;
    for (int64_t i = 0; i < cnt; i++) {{
        const {t} q = *(const {t} *)p;
        if ({oob}) return 1;
        for (int d = (int)b->ndim - 1; d >= 0; d--) {{
            p += b->strides[d];
            if (++idx[d] < b->shape[d]) break;
            p -= b->strides[d] * b->shape[d];
            idx[d] = 0;
        }}
    }}
    return 0;
}}"""


def _offsets(k: IndexKernel, per_elem: bool, indent: str) -> str:
    lines = []
    for j, (o, d) in enumerate(zip(k.indices, k.index_axes)):
        at = f"(pk[{j}] + j * ks[{j}][in])" if per_elem else f"pk[{j}]"
        lines.append(f"{indent}{{ int64_t q = (int64_t)*(const {CTYPE[o.dtype]} *){at}; "
                     f"if (q < 0) q += x->shape[{d}]; off += q * t->strides[{d}]; }}")
    return "\n".join(lines)


def _elem(mode: str, t: str) -> tuple[str, str]:
    """(statement on element pointers P (target) and V (value), unit-stride row loop)."""
    if mode == "get":
        return (f"*({t} *)V = *(const {t} *)P;",
                f"{t} *restrict o = ({t} *)pv; const {t} *restrict s = (const {t} *)p; "
                f"for (int64_t j = 0; j < m; j++) o[j] = s[j];")
    if mode == "set":
        return (f"*({t} *)P = *(const {t} *)V;",
                f"{t} *restrict o = ({t} *)p; const {t} *restrict s = (const {t} *)pv; "
                f"for (int64_t j = 0; j < m; j++) o[j] = s[j];")
    # np.add.at: out = out + y in x's dtype, one index position after the other
    return (f"*({t} *)P = ({t})(*({t} *)P + *(const {t} *)V);",
            f"{t} *restrict o = ({t} *)p; const {t} *restrict s = (const {t} *)pv; "
            f"for (int64_t j = 0; j < m; j++) o[j] = ({t})(o[j] + s[j]);")


def render_index(k: IndexKernel, name: str) -> str:
    """C for one gather/scatter kernel (kiln/c_templates/index.c)."""
    from kiln.linkers.c.render import _comment, template

    t = CTYPE[k.x.dtype]
    slices = []
    for d, s in enumerate(k.slices):
        if s is None:
            continue
        start, stop, step = s
        st = "1" if step is None else _scalar(step)
        slices.append(
            f"    {{ const int64_t st = {st}; if (st == 0) return KILN_ESHAPE; step[{d}] = st;\n"
            f"      {name}_slice(x->shape[{d}], {int(start is not None)}, {'0' if start is None else _scalar(start)}, "
            f"{int(stop is not None)}, {'0' if stop is None else _scalar(stop)}, st, &start[{d}], &len[{d}]); }}")
    checks = "\n".join(f"        if ({name}_chk{j}(ix[{j}], x->shape[{d}])) return KILN_EINDEX;"
                       for j, d in enumerate(k.index_axes))
    elem, unit = _elem(k.mode, t)
    value = k.out if k.mode == "get" else k.y
    return template("index.c").substitute(
        label=_comment(k.label), name=name, t=t, xnd=k.x_ndim, rnd=len(k.region), ni=len(k.indices),
        bnd=k.block_ndim, mode=_MODE[k.mode], xbuf=k.x.buf, obuf=k.out.buf, vbuf=value.buf,
        ixbufs=", ".join(f"&B[{o.buf}]" for o in k.indices) or "NULL",
        iaxes=", ".join(str(d) for d in k.index_axes) or "0",
        rsrc=", ".join(str(r) for r in k.region) or "0", newaxis=NEWAXIS_SRC,
        index_checks="\n".join(_check_fn(name, j, o) for j, o in enumerate(k.indices)),
        slices="\n".join(slices), checks=checks, row_offsets=_offsets(k, False, " " * 12),
        elem_offsets=_offsets(k, True, " " * 16), elem=elem, unit_loop=unit)
