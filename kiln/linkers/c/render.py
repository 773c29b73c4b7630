"""Render kernel IR to C text from the templates in kiln/c_templates (a table kernel -> renderer)."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Callable

from kiln.linkers.c.ir import JoinKernel, LoopKernel, MatMulKernel, MatVecPairKernel, ReduceKernel, Segment, SliceKernel
from kiln.linkers.c.ir_fused import FusedReduceKernel
from kiln.linkers.c.render_blas import render_matmul, render_matvec_pair
from kiln.linkers.c.render_slice import render_join, render_slice
from kiln.linkers.c.render_shape_ops import SHAPE_RENDERERS
from kiln.linkers.c.ir_index import IndexKernel
from kiln.linkers.c.ir_shape_ops import FillKernel, SumToShapeKernel
from kiln.linkers.c.render_index import render_index
from kiln.linkers.c.driver import library_reductions, reduction_name
from kiln.linkers.c.runtime import entry_name
from kiln.linkers.c.types import CTYPE, DTYPE_CODE

__all__ = ["render_segment", "render_modules", "RENDERERS", "template"]

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "c_templates"


@functools.lru_cache(maxsize=None)
def template(name: str) -> Template:
    """A template file of kiln/c_templates as a string.Template."""
    return Template((TEMPLATE_DIR / name).read_text(encoding="utf-8"))


def _comment(text: str) -> str:
    return text.replace("*/", "* /").replace("\n", " ")


@functools.lru_cache(maxsize=None)
def _vector_math() -> re.Pattern:
    """Calls of the libm functions the prelude declares `simd` (KILN_VEC1/KILN_VEC2): a loop
    computes them with libmvec's vector variants and its scalar tail with libm's, which may
    differ in the last bit, so where such a loop is split changes its results."""
    prelude = (TEMPLATE_DIR / "kiln_prelude.h").read_text(encoding="utf-8")
    names = [n for n in re.findall(r"\bKILN_VEC[12]\((\w+)\)", prelude) if n != "fn"]   # not the macros' parameter
    return re.compile(r"\b(?:" + "|".join(names) + r")f?\s*\(")


def _render_loop(k: LoopKernel, name: str) -> str:
    """An elementwise kernel: its scalar expression once, in a row function over unit-stride
    operands (elemwise_row.c), handed to the module's one loop driver (elemwise.c)."""
    outs, ins = k.outputs, k.inputs
    ops = list(outs) + list(ins)
    nout = len(outs)
    # without vector libm calls, where the driver splits the loop cannot change results
    exact = _vector_math().search("\n".join(k.body)) is None
    # an input whose last axis has static length 1 while the output's has not (a column
    # broadcast along the rows: x * col) is one value per row: loaded once, and the driver
    # hands its element instead of filling a row of copies (bit nout + j of `scalars`)
    scalar = [bool(k.inner_bcast) and k.inner_bcast[j] and nout + j < 64 for j in range(len(ins))]
    decls = [f"{CTYPE[o.dtype]} *restrict r{j} = ({CTYPE[o.dtype]} *)q[{j}];" for j, o in enumerate(outs)]
    decls += [f"const {CTYPE[o.dtype]} x{j} = *(const {CTYPE[o.dtype]} *)q[{nout + j}];" if scalar[j] else
              f"const {CTYPE[o.dtype]} *restrict a{j} = (const {CTYPE[o.dtype]} *)q[{nout + j}];"
              for j, o in enumerate(ins)]
    sep = "\n        "
    return template("elemwise_row.c").substitute(
        label=_comment(k.label), name=name, nout=nout, nop=len(ops), nd=k.ndim,
        bufs=", ".join(f"&B[{o.buf}]" for o in ops),
        sizes=", ".join(f"(int64_t)sizeof({CTYPE[o.dtype]})" for o in ops),
        row_decls="\n    ".join(decls),
        row_loads=sep.join(f"const {CTYPE[o.dtype]} x{j} = a{j}[i];" for j, o in enumerate(ins) if not scalar[j]),
        body=sep.join(k.body), row_stores=sep.join(f"r{j}[i] = y{j};" for j in range(nout)),
        exact=int(exact),
        # a memory-bound row (no vector libm): four vectors per iteration keep enough loads in
        # flight when input and output are not aligned alike (one per iteration: 1.5x slower)
        unroll='_Pragma("GCC unroll 4")' if exact else "",
        scalars=f"{sum(1 << (nout + j) for j in range(len(ins)) if scalar[j])}ULL")


@functools.lru_cache(maxsize=None)
def _text(name: str) -> str:
    """A file of kiln/c_templates as it is (C text instantiated by the preprocessor, no `$`)."""
    return (TEMPLATE_DIR / name).read_text(encoding="utf-8")


def _render_reduce(k: ReduceKernel, name: str) -> str:
    """A reduction kernel: a call of the one body for its kind and dtypes (reduce.c), with its
    axes as data.  The body is in kiln's library for the common combinations (driver_lib.c's
    list): the module then only declares a pointer to it, set when the module is loaded (a
    `kiln: import`); any other combination is instantiated in the module (a shared definition,
    `SHARED`, so the module's reductions of that kind and those dtypes share it)."""
    combo = (k.kind, k.input.dtype, k.output.dtype)
    fn = reduction_name(*combo)
    if combo in library_reductions():
        body = f"static kiln_reduce_fn {fn};   {IMPORT}\n"
    else:
        body = f"#define KILN_R(X) X({', '.join(combo)})\n{_text('reduce.c')}"
    reduced = ", ".join("1" if d in k.axes else "0" for d in range(k.ndim)) or "0"
    return (f"{SHARED}{body}{SHARED_END}/* {_comment(k.label)} */\n"
            f"static int {name}(kiln_buf *B) {{\n"
            f"    static const int reduced[KILN_MAXDIM + 1] = {{ {reduced} }};   /* 1 for reduced input axes */\n"
            f"    return {fn}(&B[{k.input.buf}], &B[{k.output.buf}], {k.ndim}, {k.ndim - len(k.axes)}, reduced,\n"
            f"                KILN_NT, KILN_PAR_MIN);\n}}\n")


#: kernel IR class -> C renderer (a CUDA renderer table will sit beside this one)
RENDERERS: dict[type, Callable] = {LoopKernel: _render_loop, ReduceKernel: _render_reduce,
                                   MatMulKernel: render_matmul, MatVecPairKernel: render_matvec_pair,
                                   SliceKernel: render_slice,
                                   JoinKernel: render_join, **SHAPE_RENDERERS}
RENDERERS[IndexKernel] = render_index   # gather/scatter (AdvancedSubtensor, IncSubtensor, ...)
from kiln.linkers.c.render_fused import render_fused  # noqa: E402  (imports helpers from here)

RENDERERS[FusedReduceKernel] = render_fused   # fused elementwise + (nested) reductions
#: kernel IR classes whose C needs a support template (included once per module)
SUPPORT: dict[type, str] = {MatMulKernel: "blas.c", MatVecPairKernel: "blas.c", LoopKernel: "elemwise_decl.c",
                            ReduceKernel: "reduce.h", FusedReduceKernel: "reduce.h", IndexKernel: "index_decl.c",
                            SumToShapeKernel: "shape_decl.c", FillKernel: "shape_decl.c"}


#: A kernel's text may start with definitions shared by kernels of the same kind (a reduction
#: body per kind and dtypes), each between these two lines: a module holds one copy of each
#: (by exact text), before the kernels that use it.
SHARED = "/* kiln: shared definition */\n"
SHARED_END = "/* kiln: end of shared definition */\n"


#: Marks the declaration of a pointer to a function of kiln's library (`static T name;   /* kiln:
#: import */`, in a support template or a shared definition): the module lists the names in
#: `kiln_imports` and the runtime hands the addresses to `kiln_set_imports` when it loads it
#: (kiln/linkers/c/driver.py).
IMPORT = "/* kiln: import */"
_IMPORT_DECL = re.compile(r"^static \w+ (\w+);[ \t]*" + re.escape(IMPORT), re.M)


def _imports(defs: list[str]) -> str:
    """The module's list of library functions and the function that sets its pointers to them
    (nothing when it calls none)."""
    names = [n for d in defs for n in _IMPORT_DECL.findall(d)]
    if not names:
        return ""
    quoted = ", ".join(f'"{n}"' for n in names)
    sets = "".join(f"\n    {n} = (__typeof__({n}))fn[{i}];" for i, n in enumerate(names))
    return ("\n/* the functions of kiln's library this module calls, in the order kiln_set_imports gets them */\n"
            f"const char *const kiln_imports[] = {{ {quoted}, 0 }};\n"
            f"void kiln_set_imports(void *const *fn) {{{sets}\n}}\n")


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


@dataclass(frozen=True)
class _Call:
    """One kernel call of an entry point: the body to call (by dedup key, or by name for a
    kernel without an index table), its index table, and the kernel's position and label."""

    index: int
    body: str
    table: tuple[int, ...] | None
    label: str


@dataclass(frozen=True)
class _Parts:
    """One segment rendered but not yet placed in a module: the definitions it needs
    (support templates, shared blocks, kernel bodies by dedup key) and its entry's calls."""

    segment: Segment
    support: tuple[str, ...]
    shared: tuple[str, ...]
    bodies: dict[str, tuple[str, str]]   # dedup key -> (the name it is defined under, its text)
    calls: tuple[_Call, ...]

    @property
    def size(self) -> int:
        """The C text it brings, a measure of the compiler's time on it."""
        return sum(map(len, self.shared)) + sum(len(text) for _, text in self.bodies.values())


def _render_parts(seg: Segment, prefix: str) -> _Parts:
    """Render each kernel of `seg` (named `kernel_<prefix><i>`) and find the bodies that
    differ only in their buffers (see `render_segment`)."""
    shared: list[str] = []
    bodies: dict[str, tuple[str, str]] = {}
    calls: list[_Call] = []
    for i, k in enumerate(seg.kernels):
        name = f"kernel_{prefix}{i}"
        blocks, text = _split_shared(RENDERERS[type(k)](k, name))
        shared += [b for b in blocks if b not in shared]
        label = _comment(getattr(k, "label", type(k).__name__))
        abstract = _abstract(text, name)
        if abstract is None:   # called as name(B): its own definition, keyed by its name
            bodies[name] = (name, text)
            calls.append(_Call(i, name, None, label))
            continue
        body, table = abstract
        # the dedup key: the text without its label comment, under a neutral name
        key = re.sub(rf"\b{name}(?!\d)", "kernel_", _LINE_COMMENT.sub("", body, count=1)
                     if body.startswith("/*") else body)
        bodies.setdefault(key, (name, body))
        calls.append(_Call(i, key, table, label))
    support = tuple(sorted({SUPPORT[type(k)] for k in seg.kernels if type(k) in SUPPORT}))
    return _Parts(seg, support, tuple(shared), bodies, tuple(calls))


def _assemble(entries: list[tuple[str, _Parts]], label: str) -> str:
    """One module's C source: each definition once (support templates, shared blocks, kernel
    bodies: by exact text or dedup key, across all the segments), then one entry point per
    segment, named as given."""
    support = sorted({s for _, p in entries for s in p.support})
    defs = [(TEMPLATE_DIR / s).read_text(encoding="utf-8") for s in support]
    seen: set[str] = set()
    called: dict[str, str] = {}   # body key -> the name it is defined under in this module
    entry_text = []
    for entry, parts in entries:
        for block in parts.shared:
            if block not in seen:
                seen.add(block)
                defs.append(block)
        for key, (name, body) in parts.bodies.items():
            if key not in called:
                called[key] = name
                defs.append(body)
        lines = []
        for c in parts.calls:
            if c.table is None:
                lines.append(f"    if ((rc = {called[c.body]}(B)) != 0) {{ *failed = {c.index}; return rc; }}"
                             f"   /* {c.label} */")
            else:
                ix = "{ " + ", ".join(map(str, c.table)) + " }" if c.table else "{ 0 }"
                lines.append(f"    {{ static const int ix[] = {ix};   /* {c.label} */\n"
                             f"      if ((rc = {called[c.body]}(B, ix)) != 0) {{ *failed = {c.index}; return rc; }} }}")
        bufs = parts.segment.buffers
        entry_text.append(template("entry.c").substitute(
            label=_comment(parts.segment.label), entry=entry, nbuf=len(bufs),
            ndims=", ".join(str(n) for n, _ in bufs) or "0",
            dtypes=", ".join(str(DTYPE_CODE[d]) for _, d in bufs) or "0", calls="\n".join(lines)))
    return template("module.c").substitute(
        label=_comment(label), prelude=(TEMPLATE_DIR / "kiln_prelude.h").read_text(encoding="utf-8"),
        kernels="\n".join(defs), entries="\n".join(entry_text) + _imports(defs))


def render_segment(seg: Segment) -> str:
    """The complete C source of one module holding one segment, entry point `kiln_entry`.

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
    return _assemble([("kiln_entry", _render_parts(seg, ""))], seg.label)


def render_modules(segments: list[Segment], n: int) -> list[tuple[str, list[int]]]:
    """The segments of one function packed into at most `n` modules: [(C source, indices of
    the segments it holds)].  Segment k's entry point is `entry_name(k)`.

    Each module is one compiler process, which costs 30-50 ms before any kernel (starting
    the compiler, the headers, the assembler and the linker), and bodies shared between
    segments (a reduction, a layer's forward and backward loops) are compiled once per
    module.  So `n` is the number of compiler processes that can run at once: the
    segments are spread over them largest first, each to the module with the least C so far.

    >>> from kiln.linkers.c.ir import Operand
    >>> k = LoopKernel("neg", (Operand(0, "float64"),), (Operand(1, "float64"),), 1, ("const double y0 = -x0;",))
    >>> segs = [Segment("a", ((1, "float64"),) * 2, (k,))] * 3
    >>> [(src.count("int kiln_entry_"), src.count("const double y0 = -x0;"), held)
    ...  for src, held in render_modules(segs, 2)]
    [(2, 1, [0, 2]), (1, 1, [1])]
    """
    parts = [_render_parts(seg, f"{k}_") for k, seg in enumerate(segments)]
    bins: list[list[int]] = [[] for _ in range(min(max(n, 1), len(parts)))]
    load = [0] * len(bins)
    for k in sorted(range(len(parts)), key=lambda k: -parts[k].size):
        b = load.index(min(load))
        bins[b].append(k)
        load[b] += parts[k].size
    out = []
    for held in bins:
        held.sort()
        label = "; ".join(segments[k].label for k in held)[:200]
        out.append((_assemble([(entry_name(k), parts[k]) for k in held], label), held))
    return out
