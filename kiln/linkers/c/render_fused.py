"""Render a FusedReduceKernel (kiln/linkers/c/ir_fused.py) to C from c_templates/fused_reduce.c.

Loops are nested scalar code; values varying along the blocked axis are KILN_LANES-long
arrays filled by `for (int u = 0; u < NB; u++)` loops (NB = KILN_LANES on full blocks, the
remainder on the last one), which gcc vectorizes at -O2 -ftree-vectorize without
-ffast-math.  The blocked loop is emitted twice for full blocks: once with unit-stride
loads (typed pointers, plain vector loads) when every operand is contiguous along the
blocked axis, once with byte strides.

Summation order (also for prod/max/min/any/all): a reduction over the blocked axis keeps
KILN_LANES partial results; element j of the blocked axis goes to partial j mod KILN_LANES
(the last, partial block to the first lanes), each partial accumulates in loop order (the
reduction's other axes outer, in axis order), and the partials are merged in lane order
0..KILN_LANES-1 at the end.  Other reductions accumulate sequentially in loop order.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from kiln.linkers.c.ir_fused import FLevel, FLoop, FReduce, FusedReduceKernel, FValue
from kiln.linkers.c.types import CTYPE

__all__ = ["render_fused"]


@dataclass(frozen=True)
class _Ctx:
    unit: bool      # operands have unit stride along the blocked axis (this copy of the block)
    nb: str         # lanes in this block: "W" (the kernel's block width) or "nb"


def _indent(lines: list[str], n: int = 1) -> list[str]:
    return [("    " * n + s) if s and not s.startswith("#") else s for s in lines]


#: block width when the blocked axis is an output axis (any width gives the same results; 32, 64
#: and 128 measured no faster than 16 for sum(exp(x), axis=0) of a 4000x4000 matrix)
OUTPUT_BLOCK = "KILN_LANES"


def _text(chunk: tuple) -> str:
    return "\n".join(chunk[1]) if chunk[0] == "plain" else "\n".join(chunk[3])


def _emit(chunks: list[tuple], nb: str) -> list[str]:
    """Chunks ("plain", lines) or ("lane", name, ctype, body) (name "" for a lane statement).

    Consecutive lane chunks share one u-loop; a lane value lives in a scalar local there
    and is also stored to its W array only when later chunks read it."""
    out: list[str] = []
    i = 0
    while i < len(chunks):
        if chunks[i][0] == "plain":
            out += chunks[i][1]
            i += 1
            continue
        j = i
        while j < len(chunks) and chunks[j][0] == "lane":
            j += 1
        group = chunks[i:j]
        rest = "\n".join(_text(c) for k, c in enumerate(chunks) if not i <= k < j)
        decls, body = [], []
        for _, name, t, lines in group:
            text = "\n".join(lines)
            for _, other, _, _ in group:   # inside the loop, read the local
                if other:
                    text = re.sub(rf"\b{other}\[u\]", f"l{other}", text)
            lines = text.split("\n")
            if not name:
                body += lines
                continue
            body += lines[:-1] + [f"const {t} l{name} = {lines[-1]};"]
            if re.search(rf"\b{name}\[u\]", rest):
                decls.append(f"{t} {name}[W];")
                body.append(f"{name}[u] = l{name};")
        out += decls + [f"for (int u = 0; u < {nb}; u++) {{", *_indent(body), "}"]
        i = j
    return out


def _reduce_parts(kind: str, o: str) -> tuple[str, str]:
    """(initial value, statement updating `acc` with `x`) of a reduction into dtype o: reduce.h's
    macros, which reduce.c's bodies use too (so these kernels need reduce.h, render.SUPPORT)."""
    if kind not in ("sum", "prod", "max", "min", "any", "all"):
        raise ValueError(f"unknown reduction {kind!r}")
    return f"KILN_INIT_{kind}(KILN_LOWEST_{o}, KILN_HIGHEST_{o})", f"KILN_COMBINE_{kind}(acc, x);"


class _Renderer:
    def __init__(self, k: FusedReduceKernel):
        self.k = k
        self.vec = k.vec_axis

    def load(self, v: FValue, ctx: _Ctx) -> str:
        k, t = v.input, CTYPE[v.dtype]
        axes = self.k.input_axes[k]
        other = [a for a in axes if a >= 0 and not (v.lane and a == self.vec)]
        off = " + ".join(f"i{a} * st{k}_{a}" for a in other) or "0"
        if not v.lane:
            return f"*(const {t} *)(base{k} + {off})"
        if ctx.unit:
            return f"((const {t} *)(base{k} + {off}))[i{self.vec} + u]"
        return f"*(const {t} *)(base{k} + {off} + (i{self.vec} + u) * st{k}_{self.vec})"

    def level(self, lvl: FLevel, ctx: _Ctx, final, root: bool = False) -> list[str]:
        chunks: list[tuple] = []
        for it in lvl.items:
            if isinstance(it, FValue):
                t = CTYPE[it.dtype]
                expr = self.load(it, ctx) if it.kind == "load" else it.expr
                if it.lane:   # the last line is the value's expression (see _emit)
                    chunks.append(("lane", it.name, t, [*it.stmts, expr]))
                else:
                    chunks.append(("plain", [*it.stmts, f"const {t} {it.name} = {expr};"]))
            else:
                chunks.append(("plain", self.reduce(it, ctx)))
        if lvl.loop is not None:
            chunks.append(("plain", self.loop(lvl.loop, ctx, final, root)))
        else:   # the store of the root chain depends on the copy (unit or strided) it lands in
            chunks += final(ctx) if callable(final) else final
        return _emit(chunks, ctx.nb)

    def loop(self, lp: FLoop, ctx: _Ctx, final: list[tuple], root: bool) -> list[str]:
        a = lp.axis
        # the outermost root loop (an output axis): threads take contiguous ranges of it; every
        # output element is computed by one thread, so results do not depend on the count
        par = ["#if KILN_NT > 1",
               f"#pragma omp parallel for num_threads(KILN_NT) if(kiln_work >= KILN_PAR_MIN && n{a} > 1) "
               "schedule(static)", "#endif"] if root else []
        if not lp.blocked:
            return par + [f"for (int64_t i{a} = 0; i{a} < n{a}; i{a}++) {{",
                          *_indent(self.level(lp.level, ctx, final)), "}"]
        unit = [f"st{k}_{a} == (int64_t)sizeof({CTYPE[o.dtype]})"
                for k, (o, axes) in enumerate(zip(self.k.inputs, self.k.input_axes)) if a in axes]
        if a in self.k.output_axes:
            unit.append(f"so_{a} == (int64_t)sizeof({CTYPE[self.k.output.dtype]})")
        full_u = self.level(lp.level, _Ctx(True, "W"), final)
        full_s = self.level(lp.level, _Ctx(False, "W"), final)
        tail = self.level(lp.level, _Ctx(False, "nb"), final)
        # the layout test sits outside the block loops: with a branch inside, gcc keeps
        # the lane accumulators in memory instead of vector registers
        loop = [*par, f"for (int64_t b{a} = 0; b{a} < n{a} / W; b{a}++) {{", f"    const int64_t i{a} = b{a} * W;"]
        return ["{", f"    if ({' && '.join(unit) or '1'}) {{", *_indent(loop, 2), *_indent(full_u, 3), "        }",
                "    } else {", *_indent(loop, 2), *_indent(full_s, 3), "        }", "    }",
                f"    const int64_t i{a} = n{a} / W * W;",
                f"    if (i{a} < n{a}) {{", f"        const int nb = (int)(n{a} - i{a});", *_indent(tail, 2),
                "    }", "}"]

    def reduce(self, r: FReduce, ctx: _Ctx) -> list[str]:
        init, combine = _reduce_parts(r.kind, r.dtype)
        t, at = CTYPE[r.dtype], CTYPE[r.arg_dtype]
        if r.lane or r.partial:
            acc = r.name if r.lane else r.name + "_p"
            pre = [f"{t} {acc}[W];", f"for (int u = 0; u < W; u++) {acc}[u] = {init};"]
            final = [("lane", "", t, [f"{{ {t} acc = {acc}[u]; const {at} x = {r.arg}; {combine} {acc}[u] = acc; }}"])]
            post = [] if r.lane else [
                f"{t} {r.name} = {init};",
                f"for (int u = 0; u < W; u++) {{ {t} acc = {r.name}; const {t} x = {acc}[u]; {combine} "
                f"{r.name} = acc; }}"]
        else:
            pre = [f"{t} {r.name} = {init};"]
            final = [("plain", [f"{{ {t} acc = {r.name}; const {at} x = {r.arg}; {combine} {r.name} = acc; }}"])]
            post = []
        return pre + self.level(r.chain, ctx, final) + post

    def render(self, name: str) -> str:
        from kiln.linkers.c.render import _comment, template   # render.py imports this module

        k = self.k
        # block width: KILN_LANES partial results for a reduction over the blocked axis (this fixes
        # the summation order); OUTPUT_BLOCK when the blocked axis is an output axis
        width = OUTPUT_BLOCK if self.vec in k.output_axes else "KILN_LANES"
        setup = [f"enum {{ W = {width} }};", f"kiln_buf *out = &B[{k.output.buf}];"]
        setup += [f"int64_t n{a} = 1; int seen{a} = 0; (void)seen{a};" for a in range(k.n_axes)]
        for j, (o, axes) in enumerate(zip(k.inputs, k.input_axes)):
            setup.append(f"const kiln_buf *in{j} = &B[{o.buf}];")
            setup.append(f"const char *const base{j} = in{j}->data; (void)base{j};")
            for d, a in enumerate(axes):
                if a < 0:
                    continue
                setup.append(f"if (in{j}->shape[{d}] != 1) {{ if (seen{a} && n{a} != in{j}->shape[{d}]) "
                             f"return KILN_ESHAPE; n{a} = in{j}->shape[{d}]; seen{a} = 1; }}")
        for j, axes in enumerate(k.input_axes):
            for d, a in enumerate(axes):
                if a >= 0:
                    setup.append(f"const int64_t st{j}_{a} = in{j}->shape[{d}] == 1 ? 0 : in{j}->strides[{d}];")
        for d, a in enumerate(k.output_axes):
            setup.append(f"if (out->shape[{d}] != {f'n{a}' if a >= 0 else 1}) return KILN_ESHAPE;")
            if a >= 0:
                setup.append(f"const int64_t so_{a} = out->strides[{d}];")
        to = CTYPE[k.output.dtype]
        res = f"{k.result}[u]" if k.result_lane else k.result
        work = " * ".join(f"(double)n{a}" for a in range(k.n_axes)) or "1.0"

        def store(ctx: _Ctx) -> list[tuple]:
            axes = [a for a in k.output_axes if a >= 0 and not (k.result_lane and a == self.vec)]
            off = " + ".join(f"i{a} * so_{a}" for a in axes) or "0"
            if not k.result_lane:
                return [("plain", [f"*({to} *)(out->data + {off}) = ({to}){res};"])]
            if ctx.unit:
                return [("lane", "", to, [f"(({to} *)(out->data + {off}))[i{self.vec} + u] = ({to}){res};"])]
            at = f"out->data + {off} + (i{self.vec} + u) * so_{self.vec}"
            return [("lane", "", to, [f"*({to} *)({at}) = ({to}){res};"])]

        body = self.level(k.root, _Ctx(False, "W"), store, root=True)
        return template("fused_reduce.c").substitute(
            label=_comment(k.label), name=name, setup="\n    ".join(setup), work=work,
            body="\n    ".join(body))


def render_fused(k: FusedReduceKernel, name: str) -> str:
    """C text of one fused-reduction kernel named `name`."""
    return _Renderer(k).render(name)
