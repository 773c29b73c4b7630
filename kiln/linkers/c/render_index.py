"""Render IndexKernel (gather/scatter with integer arrays and slices) to C from
kiln/c_templates/index.c: a call of kiln's library function `kiln_index`
(kiln/c_templates/index_lib.c, compiled once) with a description of the key -- which x axis
each index array indexes, where each region axis comes from, the slice bounds (0-d operands
of any integer dtype, read here) -- so a module compiles a few lines per indexing op."""
from __future__ import annotations

from kiln.linkers.c.ir import Operand
from kiln.linkers.c.ir_index import IndexKernel
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


def render_index(k: IndexKernel, name: str) -> str:
    """C for one gather/scatter kernel (kiln/c_templates/index.c)."""
    from kiln.linkers.c.render import _comment, template

    slices = []
    for d, sl in enumerate(k.slices):
        if sl is None:
            continue
        start, stop, step = sl
        vals = (1, int(start is not None), "0" if start is None else _scalar(start), int(stop is not None),
                "0" if stop is None else _scalar(stop), "1" if step is None else _scalar(step))
        slices.append("    " + " ".join(f"sl[{d}][{j}] = {v};" for j, v in enumerate(vals)))
    value = k.out if k.mode == "get" else k.y
    return template("index.c").substitute(
        label=_comment(k.label), name=name, xnd=k.x_ndim, xnd1=max(k.x_ndim, 1), rnd=len(k.region),
        ni=len(k.indices), bnd=k.block_ndim, mode=_MODE[k.mode], xbuf=k.x.buf, obuf=k.out.buf, vbuf=value.buf,
        ixbufs="".join(f", &B[{o.buf}]" for o in k.indices),
        iaxes=", ".join(str(d) for d in k.index_axes) or "0",
        rsrc=", ".join(str(r) for r in k.region) or "0", slices="\n".join(slices))
