"""Render the shape-valued ops' kernels to C: SumToShape and Alloc as calls of kiln's library
(kiln/c_templates/shape_lib.c, compiled once), Eye, LinearRecurrence, Diagonal and
DiagonalEmbed from the sections of kiln/c_templates/shape_ops.c (each starts with a line
`/*@@ name */`)."""
from __future__ import annotations

import functools
from string import Template

from kiln.linkers.c.ir_shape_ops import DiagonalKernel, EyeKernel, FillKernel, RecurrenceKernel, SumToShapeKernel
from kiln.linkers.c.types import CTYPE

__all__ = ["SHAPE_RENDERERS", "render_sum_to_shape", "render_fill", "render_recurrence", "render_diagonal",
           "render_eye", "section"]


@functools.lru_cache(maxsize=None)
def section(name: str) -> Template:
    """The section `name` of kiln/c_templates/shape_ops.c as a string.Template."""
    from kiln.linkers.c.render import TEMPLATE_DIR

    text = (TEMPLATE_DIR / "shape_ops.c").read_text(encoding="utf-8")
    parts = {}
    for chunk in text.split("/*@@ ")[1:]:
        head, _, body = chunk.partition("\n")
        parts[head.removesuffix("*/").strip()] = body
    return Template(parts[name])


def render_sum_to_shape(k: SumToShapeKernel, name: str) -> str:
    """C for one SumToShape: a call of kiln's library function `kiln_sum_to_shape`
    (kiln/c_templates/shape_lib.c), which decides the summed axes from the shapes at run time.

    >>> from kiln.linkers.c.ir import Operand
    >>> src = render_sum_to_shape(SumToShapeKernel("s", Operand(0, "float64"), Operand(1, "float64"),
    ...                                            2, 1, (0,), False), "kernel_0")
    >>> "static int kernel_0(kiln_buf *B)" in src, "kiln_sum_to_shape(&B[1], &B[0], cand, 0)" in src
    (True, True)
    """
    from kiln.linkers.c.render import _comment

    cand = ", ".join("1" if d in k.axes else "0" for d in range(k.out_ndim)) or "0"
    return (
        f"/* {_comment(k.label)} */\n"
        f"static int {name}(kiln_buf *B) {{\n"
        f"    static const int cand[] = {{ {cand} }};   /* 1: output axes that may be summed */\n"
        f"    return kiln_sum_to_shape(&B[{k.input.buf}], &B[{k.output.buf}], cand, {int(k.broadcast)});\n}}\n")


def render_fill(k: FillKernel, name: str) -> str:
    """C for one Alloc: a call of kiln's library function `kiln_fill_nd` (shape_lib.c)."""
    from kiln.linkers.c.render import _comment

    return (
        f"/* {_comment(k.label)} */\n"
        f"static int {name}(kiln_buf *B) {{ return kiln_fill_nd(&B[{k.input.buf}], &B[{k.output.buf}]); }}\n")


def render_recurrence(k: RecurrenceKernel, name: str) -> str:
    """C for one LinearRecurrence (a first-order linear scan along one axis)."""
    from kiln.linkers.c.render import _comment

    t = CTYPE[k.output.dtype]
    return section("recurrence").substitute(
        label=_comment(k.label), name=name, nd=k.ndim, axis=k.axis, xbuf=k.x.buf, bbuf=k.b.buf,
        obuf=k.output.buf, t=t, xt=CTYPE[k.x.dtype], bt=CTYPE[k.b.dtype],
        step=f"({t})(({t})(x * acc) + b)")


def render_diagonal(k: DiagonalKernel, name: str) -> str:
    """C for one Diagonal (copy a diagonal out) or DiagonalEmbed (write one into zeros)."""
    from kiln.linkers.c.render import _comment

    return section("diagonal").substitute(
        label=_comment(k.label), name=name, nd=k.ndim, axis1=k.axis1, axis2=k.axis2, embed=int(k.embed),
        offset=k.offset, bigbuf=k.big.buf, smallbuf=k.small.buf, t=CTYPE[k.big.dtype])


def render_eye(k: EyeKernel, name: str) -> str:
    """C for one Eye."""
    from kiln.linkers.c.render import _comment

    return section("eye").substitute(label=_comment(k.label), name=name, obuf=k.output.buf,
                                     kbuf=k.k.buf, kt=CTYPE[k.k.dtype], t=CTYPE[k.output.dtype])


#: kernel IR class -> renderer, merged into kiln.linkers.c.render.RENDERERS
SHAPE_RENDERERS = {SumToShapeKernel: render_sum_to_shape, FillKernel: render_fill,
                   RecurrenceKernel: render_recurrence, DiagonalKernel: render_diagonal, EyeKernel: render_eye}
