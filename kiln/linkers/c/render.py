"""Render kernel IR to C text from the templates in kiln/c_templates (a table kernel -> renderer)."""
from __future__ import annotations

import functools
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
    outs, ins = k.outputs, k.inputs
    ops = list(outs) + list(ins)
    nout = len(outs)
    bufs = ", ".join(f"&B[{o.buf}]" for o in ops)
    contig = " && ".join(f"kiln_is_contig(op[{j}], ND, sizeof({CTYPE[o.dtype]}))" for j, o in enumerate(ops))
    # the contiguous fast path also needs every input to have the full shape (no broadcasting)
    same_shape = " && ".join(f"kiln_same_shape(op[{nout + j}], shape, ND)" for j in range(len(ins)))
    all_contig = contig + (f" && {same_shape}" if same_shape else "")
    decls = [f"{CTYPE[o.dtype]} *restrict r{j} = ({CTYPE[o.dtype]} *)op[{j}]->data;" for j, o in enumerate(outs)]
    decls += [f"const {CTYPE[o.dtype]} *restrict a{j} = (const {CTYPE[o.dtype]} *)op[{nout + j}]->data;"
              for j, o in enumerate(ins)]
    cload = [f"const {CTYPE[o.dtype]} x{j} = a{j}[i];" for j, o in enumerate(ins)]
    cstore = [f"r{j}[i] = y{j};" for j in range(nout)]
    sload = [f"const {CTYPE[o.dtype]} x{j} = *(const {CTYPE[o.dtype]} *)(p[{nout + j}] + j * ss[{nout + j}]);"
             for j, o in enumerate(ins)]
    sstore = [f"*({CTYPE[o.dtype]} *)(p[{j}] + j * ss[{j}]) = y{j};" for j, o in enumerate(outs)]
    # inputs broadcast along the inner axis (static length 1) are loaded once per row
    hoisted = [bool(k.inner_bcast and k.inner_bcast[j]) for j in range(len(ins))]
    unit_test = " && ".join([f"ss[{j}] == (int64_t)sizeof({CTYPE[o.dtype]})" for j, o in enumerate(outs)]
                            + [f"ss[{nout + j}] == (int64_t)sizeof({CTYPE[o.dtype]})"
                               for j, o in enumerate(ins) if not hoisted[j]])
    udecls = [f"{CTYPE[o.dtype]} *restrict r{j} = ({CTYPE[o.dtype]} *)p[{j}];" for j, o in enumerate(outs)]
    udecls += [f"const {CTYPE[o.dtype]} x{j} = *(const {CTYPE[o.dtype]} *)p[{nout + j}];" if hoisted[j] else
               f"const {CTYPE[o.dtype]} *restrict a{j} = (const {CTYPE[o.dtype]} *)p[{nout + j}];"
               for j, o in enumerate(ins)]
    uload = [f"const {CTYPE[o.dtype]} x{j} = a{j}[j];" for j, o in enumerate(ins) if not hoisted[j]]
    ustore = [f"r{j}[j] = y{j};" for j in range(nout)]
    sep = "\n            "
    usep = "\n                "
    # streaming path: a block of each output computed into a stack buffer, then streamed out
    # (bytes per element of every operand: the loop streams when all it touches exceeds the cache)
    op_bytes = " + ".join(f"(int64_t)sizeof({CTYPE[o.dtype]})" for o in ops)
    bdecls = [f"{CTYPE[o.dtype]} blk{j}[KILN_BLOCK] __attribute__((aligned(64)));" for j, o in enumerate(outs)]
    bdecls += [f"{CTYPE[o.dtype]} pad{j}[KILN_BLOCK] __attribute__((aligned(64)));" for j, o in enumerate(ins)]
    pfill = [f"pad{j}[i] = a{j}[i < e - b ? b + i : b];" for j in range(len(ins))]
    srcs = [f"const {CTYPE[o.dtype]} *restrict s{j} = full ? a{j} + b : pad{j};" for j, o in enumerate(ins)]
    bload = [f"const {CTYPE[o.dtype]} x{j} = s{j}[i];" for j, o in enumerate(ins)]
    bstore = [f"blk{j}[i] = y{j};" for j in range(nout)]
    bflush = [f"kiln_stream((char *)(r{j} + b), (const char *)blk{j}, (e - b) * (int64_t)sizeof({CTYPE[o.dtype]}));"
              for j, o in enumerate(outs)]
    return template("elemwise.c").substitute(
        op_bytes=op_bytes, block_decls=usep.join(bdecls), block_stores=sep.join(bstore),
        pad_fill=usep.join(pfill), src_decls=usep.join(srcs), block_loads=sep.join(bload),
        block_flush=sep.join(bflush), unit_test=unit_test, unit_decls="\n            ".join(udecls),
        unit_loads=usep.join(uload),
        unit_stores=usep.join(ustore), label=_comment(k.label), name=name, nout=nout, nop=len(ops),
        nd=k.ndim, bufs=bufs, all_contig=all_contig, contig_decls="\n        ".join(decls),
        contig_loads=sep.join(cload),
        body=sep.join(k.body), contig_stores=sep.join(cstore), strided_loads=sep.join(sload),
        strided_stores=sep.join(sstore))


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
    init, combine = _reduce_parts(k.kind, k.output.dtype)
    reduced = ", ".join("1" if d in k.axes else "0" for d in range(k.ndim)) or "0"
    it = CTYPE[k.input.dtype]
    rows_decls = "\n                ".join(
        f"const {it} *restrict px{r} = (const {it} *)(pi + {r} * rs);" for r in range(1, _ROWS))
    rows_body = "\n                    ".join(
        f"{{ const {it} x = {'px' if r == 0 else f'px{r}'}[j]; {combine} }}" for r in range(_ROWS))
    return template("reduce.c").substitute(
        rows=_ROWS, rows_decls=rows_decls, rows_body=rows_body, label=_comment(k.label), name=name,
        nd=k.ndim, ond=k.ndim - len(k.axes), reduced=reduced,
        ibuf=k.input.buf, obuf=k.output.buf, otype=CTYPE[k.output.dtype], itype=CTYPE[k.input.dtype],
        init=init, combine=combine, lane_iters=_LANE_ITERS.get(k.kind, "KILN_LANE_ITERS"),
        outer_reduced="1" if any(d < k.ndim - 1 for d in k.axes) else "0")


#: kernel IR class -> C renderer (a CUDA renderer table will sit beside this one)
RENDERERS: dict[type, Callable] = {LoopKernel: _render_loop, ReduceKernel: _render_reduce,
                                   MatMulKernel: render_matmul, SliceKernel: render_slice,
                                   JoinKernel: render_join, **SHAPE_RENDERERS}
RENDERERS[IndexKernel] = render_index   # gather/scatter (AdvancedSubtensor, IncSubtensor, ...)
from kiln.linkers.c.render_fused import render_fused  # noqa: E402  (imports helpers from here)

RENDERERS[FusedReduceKernel] = render_fused   # fused elementwise + (nested) reductions
#: kernel IR classes whose C needs a support template (included once per module)
SUPPORT: dict[type, str] = {MatMulKernel: "blas.c"}


def render_segment(seg: Segment) -> str:
    """The complete C source of one module.

    >>> from kiln.linkers.c.ir import Operand
    >>> k = LoopKernel("neg", (Operand(0, "float64"),), (Operand(1, "float64"),), 1, ("const double y0 = -x0;",))
    >>> src = render_segment(Segment("demo", ((1, "float64"), (1, "float64")), (k,)))
    >>> "int kiln_entry(" in src and "const double y0 = -x0;" in src
    True
    """
    kernels, calls = [], []
    for i, k in enumerate(seg.kernels):
        kernels.append(RENDERERS[type(k)](k, f"kernel_{i}"))
        calls.append(f"    if ((rc = kernel_{i}(B)) != 0) {{ *failed = {i}; return rc; }}")
    support = sorted({SUPPORT[type(k)] for k in seg.kernels if type(k) in SUPPORT})
    kernels = [(TEMPLATE_DIR / s).read_text(encoding="utf-8") for s in support] + kernels
    return template("module.c").substitute(
        label=_comment(seg.label), prelude=(TEMPLATE_DIR / "kiln_prelude.h").read_text(encoding="utf-8"),
        kernels="\n".join(kernels), ndims=", ".join(str(n) for n, _ in seg.buffers) or "0",
        dtypes=", ".join(str(DTYPE_CODE[d]) for _, d in seg.buffers) or "0", nbuf=len(seg.buffers),
        calls="\n".join(calls))
