"""Render kernel IR to C text from the templates in kiln/c_templates (a table kernel -> renderer)."""
from __future__ import annotations

import functools
import re
from pathlib import Path
from string import Template
from typing import Callable

from kiln.linkers.c.ir import JoinKernel, LoopKernel, MatMulKernel, ReduceKernel, Segment, SliceKernel
from kiln.linkers.c.ir_fused import FusedReduceKernel
from kiln.linkers.c.render_blas import render_matmul
from kiln.linkers.c.render_slice import render_join, render_slice
from kiln.linkers.c.render_shape_ops import SHAPE_RENDERERS
from kiln.linkers.c.ir_index import IndexKernel
from kiln.linkers.c.render_index import render_index
from kiln.linkers.c.types import CTYPE, DTYPE_CODE

__all__ = ["render_segment", "RENDERERS", "template"]

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "c_templates"


@functools.lru_cache(maxsize=None)
def template(name: str) -> Template:
    """A template file of kiln/c_templates as a string.Template."""
    return Template((TEMPLATE_DIR / name).read_text(encoding="utf-8"))


def _comment(text: str) -> str:
    return text.replace("*/", "* /").replace("\n", " ")


def _render_loop(k: LoopKernel, name: str) -> str:
    """An elementwise kernel: its scalar expression once, in a row function over unit-stride
    operands (elemwise_row.c), handed to the module's one loop driver (elemwise.c)."""
    outs, ins = k.outputs, k.inputs
    ops = list(outs) + list(ins)
    nout = len(outs)
    decls = [f"{CTYPE[o.dtype]} *restrict r{j} = ({CTYPE[o.dtype]} *)q[{j}];" for j, o in enumerate(outs)]
    decls += [f"const {CTYPE[o.dtype]} *restrict a{j} = (const {CTYPE[o.dtype]} *)q[{nout + j}];"
              for j, o in enumerate(ins)]
    sep = "\n        "
    return template("elemwise_row.c").substitute(
        label=_comment(k.label), name=name, nout=nout, nop=len(ops), nd=k.ndim,
        bufs=", ".join(f"&B[{o.buf}]" for o in ops),
        sizes=", ".join(f"(int64_t)sizeof({CTYPE[o.dtype]})" for o in ops),
        row_decls="\n    ".join(decls),
        row_loads=sep.join(f"const {CTYPE[o.dtype]} x{j} = a{j}[i];" for j, o in enumerate(ins)),
        body=sep.join(k.body), row_stores=sep.join(f"r{j}[i] = y{j};" for j in range(nout)))


_LIMITS = {"int8": ("INT8_MIN", "INT8_MAX"), "int16": ("INT16_MIN", "INT16_MAX"),
           "int32": ("INT32_MIN", "INT32_MAX"), "int64": ("INT64_MIN", "INT64_MAX"),
           "uint8": ("0", "UINT8_MAX"), "uint16": ("0", "UINT16_MAX"), "uint32": ("0", "UINT32_MAX"),
           "uint64": ("0", "UINT64_MAX"), "float32": ("-INFINITY", "INFINITY"),
           "float64": ("-INFINITY", "INFINITY"), "bool": ("false", "true")}


def _reduce_parts(kind: str, o: str) -> tuple[str, str]:
    """(initial value, statement updating `acc` with `x`) of a reduction into dtype o."""
    t = CTYPE[o]
    if kind == "sum":
        return "0", f"acc = ({t})(acc + ({t})x);"
    if kind == "prod":
        return "1", f"acc = ({t})(acc * ({t})x);"
    if kind == "max":
        return _LIMITS[o][0], f"acc = kiln_max_{o}(acc, ({t})x);"
    if kind == "min":
        return _LIMITS[o][1], f"acc = kiln_min_{o}(acc, ({t})x);"
    if kind == "any":
        return "false", "acc = acc || (x != 0);"
    if kind == "all":
        return "true", "acc = acc && (x != 0);"
    raise ValueError(f"unknown reduction {kind!r}")


#: inner-axis reductions whose result does not depend on the order of combination (max/min
#: pick an element; any/all are logical) skip the blocked pairwise merging that keeps sums
#: accurate: one pass of lanes and one merge per row (a blocked max ran at half a sum's speed)
_LANE_ITERS = {kind: "((int64_t)1 << 40)" for kind in ("max", "min", "any", "all")}

#: input rows combined per pass over the output row when reducing an outer axis (`rows` in reduce.c)
_ROWS = 4


def _render_reduce(k: ReduceKernel, name: str) -> str:
    """A reduction kernel: a call of the module's one body for its kind and dtypes (shared,
    see `SHARED`), with its axes as data."""
    init, combine = _reduce_parts(k.kind, k.output.dtype)
    it = CTYPE[k.input.dtype]
    fn = f"kiln_reduce_{k.kind}_{k.input.dtype}_{k.output.dtype}"
    rows_decls = "\n                ".join(
        f"const {it} *restrict px{r} = (const {it} *)(pi + {r} * rs);" for r in range(1, _ROWS))
    rows_body = "\n                    ".join(
        f"{{ const {it} x = {'px' if r == 0 else f'px{r}'}[j]; {combine} }}" for r in range(_ROWS))
    body = template("reduce.c").substitute(
        rows=_ROWS, rows_decls=rows_decls, rows_body=rows_body, fn=fn, kind=k.kind,
        otype=CTYPE[k.output.dtype], itype=it, init=init, combine=combine,
        lane_iters=_LANE_ITERS.get(k.kind, "KILN_LANE_ITERS"))
    reduced = ", ".join("1" if d in k.axes else "0" for d in range(k.ndim)) or "0"
    return (f"{SHARED}{body}{SHARED_END}/* {_comment(k.label)} */\n"
            f"static int {name}(kiln_buf *B) {{\n"
            f"    static const int reduced[KILN_MAXDIM + 1] = {{ {reduced} }};   /* 1 for reduced input axes */\n"
            f"    return {fn}(&B[{k.input.buf}], &B[{k.output.buf}], {k.ndim}, {k.ndim - len(k.axes)}, reduced);\n}}\n")


#: kernel IR class -> C renderer (a CUDA renderer table will sit beside this one)
RENDERERS: dict[type, Callable] = {LoopKernel: _render_loop, ReduceKernel: _render_reduce,
                                   MatMulKernel: render_matmul, SliceKernel: render_slice,
                                   JoinKernel: render_join, **SHAPE_RENDERERS}
RENDERERS[IndexKernel] = render_index   # gather/scatter (AdvancedSubtensor, IncSubtensor, ...)
from kiln.linkers.c.render_fused import render_fused  # noqa: E402  (imports helpers from here)

RENDERERS[FusedReduceKernel] = render_fused   # fused elementwise + (nested) reductions
#: kernel IR classes whose C needs a support template (included once per module)
SUPPORT: dict[type, str] = {MatMulKernel: "blas.c", LoopKernel: "elemwise_decl.c"}


#: A kernel's text may start with definitions shared by kernels of the same kind (a reduction
#: body per kind and dtypes), each between these two lines: a module holds one copy of each
#: (by exact text), before the kernels that use it.
SHARED = "/* kiln: shared definition */\n"
SHARED_END = "/* kiln: end of shared definition */\n"


def _split_shared(text: str) -> tuple[list[str], str]:
    """(the shared definitions at the start of a kernel's text, the kernel itself)."""
    shared = []
    while text.startswith(SHARED):
        head, _, text = text[len(SHARED):].partition(SHARED_END)
        shared.append(head)
    return shared, text


#: a buffer of the segment named by its index inside a kernel's C text
_BUF_REF = re.compile(r"(?<![\w\]])B\[(\d+)\]")
_LINE_COMMENT = re.compile(r"/\*[^\n]*?\*/\n")


def _abstract(text: str, name: str) -> tuple[str, tuple[int, ...]] | None:
    """A kernel's C text with its buffer indices made data: `B[7]` -> `B[kiln_ix[0]]` (indices
    numbered in order of first appearance) and `name(kiln_buf *B)` -> `name(kiln_buf *B,
    const int *kiln_ix)`; returns (text, the index table), or None for a kernel text without
    that one signature (it is then called as `name(B)`)."""
    sig = f"{name}(kiln_buf *B)"
    if text.count(sig) != 1:
        return None
    table: list[int] = []

    def sub(m: re.Match) -> str:
        b = int(m.group(1))
        if b not in table:
            table.append(b)
        return f"B[kiln_ix[{table.index(b)}]]"

    text = _BUF_REF.sub(sub, text).replace(sig, f"{name}(kiln_buf *B, const int *kiln_ix)")
    return text, tuple(table)


def render_segment(seg: Segment) -> str:
    """The complete C source of one module.

    Kernels whose C text differs only in the buffers they use (two layers of an MLP, the
    Dots of a backward pass) are compiled once: a kernel takes its buffer indices as data
    (`kernel_K(B, kiln_ix)`) and the entry point calls one body with several index tables, so
    the C compiler, whose time goes to optimizing kernel bodies, sees each body once.

    >>> from kiln.linkers.c.ir import Operand
    >>> k = LoopKernel("neg", (Operand(0, "float64"),), (Operand(1, "float64"),), 1, ("const double y0 = -x0;",))
    >>> k2 = LoopKernel("neg", (Operand(2, "float64"),), (Operand(0, "float64"),), 1, ("const double y0 = -x0;",))
    >>> src = render_segment(Segment("demo", ((1, "float64"),) * 3, (k, k2)))
    >>> "int kiln_entry(" in src and src.count("const double y0 = -x0;"), "kernel_1" in src
    (1, False)
    """
    kernels, calls, bodies, seen_shared = [], [], {}, set()
    for i, k in enumerate(seg.kernels):
        name = f"kernel_{i}"
        shared, text = _split_shared(RENDERERS[type(k)](k, name))
        for block in shared:
            if block not in seen_shared:
                seen_shared.add(block)
                kernels.append(block)
        abstract = _abstract(text, name)
        label = _comment(getattr(k, "label", type(k).__name__))
        if abstract is None:
            kernels.append(text)
            calls.append(f"    if ((rc = {name}(B)) != 0) {{ *failed = {i}; return rc; }}   /* {label} */")
            continue
        body, table = abstract
        # the dedup key: the text without its label comment, under a neutral name
        key = re.sub(rf"\b{name}(?!\d)", "kernel_", _LINE_COMMENT.sub("", body, count=1)
                     if body.startswith("/*") else body)
        if key not in bodies:
            bodies[key] = name
            kernels.append(body)
        ix = "{ " + ", ".join(map(str, table)) + " }" if table else "{ 0 }"
        calls.append(f"    {{ static const int ix[] = {ix};   /* {label} */\n"
                     f"      if ((rc = {bodies[key]}(B, ix)) != 0) {{ *failed = {i}; return rc; }} }}")
    support = sorted({SUPPORT[type(k)] for k in seg.kernels if type(k) in SUPPORT})
    kernels = [(TEMPLATE_DIR / s).read_text(encoding="utf-8") for s in support] + kernels
    return template("module.c").substitute(
        label=_comment(seg.label), prelude=(TEMPLATE_DIR / "kiln_prelude.h").read_text(encoding="utf-8"),
        kernels="\n".join(kernels), ndims=", ".join(str(n) for n, _ in seg.buffers) or "0",
        dtypes=", ".join(str(DTYPE_CODE[d]) for _, d in seg.buffers) or "0", nbuf=len(seg.buffers),
        calls="\n".join(calls))
