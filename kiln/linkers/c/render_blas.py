"""Render MatMulKernel (Dot, MatMul, Gemm, Gemv) to C calling BLAS through the pointers the
runtime hands the module at load time (kiln/c_templates/blas.c)."""
from __future__ import annotations

from kiln.linkers.c.ir import MatMulKernel, MatVecPairKernel
from kiln.linkers.c.types import CTYPE

__all__ = ["render_matmul", "render_matvec_pair"]


def _comment(text: str) -> str:
    return text.replace("*/", "* /").replace("\n", " ")


def render_matmul(k: MatMulKernel, name: str) -> str:
    """C for one product kernel; the batch axes are walked with an odometer, each batch
    element being one kiln_mm_<dtype> call (gemm, gemv or dot)."""
    t, dt = CTYPE[k.output.dtype], k.output.dtype
    xnd, ynd, ond = k.x_ndim, k.y_ndim, k.out_ndim
    gemm = k.c is not None
    L = [f"/* {_comment(k.label)} */", f"static int {name}(kiln_buf *B) {{",
         f"    const kiln_buf *x = &B[{k.x.buf}], *y = &B[{k.y.buf}];",
         f"    kiln_buf *out = &B[{k.output.buf}];",
         f"    const int64_t z = (int64_t)sizeof({t});"]
    # x as (batch.., m, k) and y as (batch.., k, n); a 1-d operand has a unit axis, stride 0
    if xnd > 1:
        L.append(f"    const int64_t m = x->shape[{xnd - 2}], kk = x->shape[{xnd - 1}], "
                 f"sa0 = x->strides[{xnd - 2}], sa1 = x->strides[{xnd - 1}];")
    else:
        L.append("    const int64_t m = 1, kk = x->shape[0], sa0 = 0, sa1 = x->strides[0];")
    if ynd > 1:
        L.append(f"    const int64_t k2 = y->shape[{ynd - 2}], n = y->shape[{ynd - 1}], "
                 f"sb0 = y->strides[{ynd - 2}], sb1 = y->strides[{ynd - 1}];")
    else:
        L.append("    const int64_t k2 = y->shape[0], n = 1, sb0 = y->strides[0], sb1 = 0;")
    L.append("    if (kk != k2) return KILN_ESHAPE;")
    L.append(f"    if (!kiln_is_contig(out, {ond}, z)) return KILN_ELAYOUT;")
    if gemm:
        # out = beta * c (broadcast), then out += alpha * (x @ y); a product smaller than
        # out (a length-1 axis broadcast by c) goes through a temporary
        cnd = ond
        M = "out->shape[0]" if ond >= 1 else "1"
        N = "out->shape[1]" if ond == 2 else "1"
        L.append(f"    const {t} alpha = *(const {t} *)B[{k.alpha.buf}].data, "
                 f"beta = *(const {t} *)B[{k.beta.buf}].data;")
        L.append(f"    const kiln_buf *c = &B[{k.c.buf}];")
        L.append(f"    const int64_t M = {M}, N = {N};")
        L.append("    if ((m != M && m != 1) || (n != N && n != 1)) return KILN_ESHAPE;")
        c0 = "c->shape[0]" if cnd >= 1 else "1"
        c1 = "c->shape[1]" if cnd == 2 else "1"
        cs0 = "c->strides[0]" if cnd >= 1 else "0"
        cs1 = "c->strides[1]" if cnd == 2 else "0"
        L.append(f"    const int64_t cm = {c0}, cn = {c1};")
        L.append("    if ((cm != M && cm != 1) || (cn != N && cn != 1)) return KILN_ESHAPE;")
        L.append(f"    const int64_t cs0 = cm == 1 ? 0 : {cs0}, cs1 = cn == 1 ? 0 : {cs1};")
        L.append(f"    {t} *o = ({t} *)out->data;")
        L.append("    for (int64_t i = 0; i < M; i++) for (int64_t j = 0; j < N; j++)")
        L.append(f"        o[i * N + j] = beta * *(const {t} *)(c->data + i * cs0 + j * cs1);")
        L.append("    if (m == M && n == N)")
        L.append(f"        return kiln_mm_{dt}(m, n, kk, alpha, x->data, sa0, sa1, y->data, sb0, sb1, o, 1);")
        L.append(f"    {t} *tmp = ({t} *)malloc((size_t)(m * n > 0 ? m * n : 1) * sizeof({t}));")
        L.append("    if (!tmp) return KILN_ENOMEM;")
        L.append(f"    int rc = kiln_mm_{dt}(m, n, kk, alpha, x->data, sa0, sa1, y->data, sb0, sb1, tmp, 0);")
        L.append("    if (!rc) for (int64_t i = 0; i < M; i++) for (int64_t j = 0; j < N; j++)")
        L.append("        o[i * N + j] += tmp[(m == 1 ? 0 : i) * n + (n == 1 ? 0 : j)];")
        L.append("    free(tmp);")
        L.append("    return rc;")
        L.append("}")
        return "\n".join(L)
    # the output's axes: batch.., then m if x is not 1-d, then n if y is not 1-d
    nb = ond - (xnd > 1) - (ynd > 1)
    xb, yb = max(xnd - 2, 0), max(ynd - 2, 0)
    if xnd > 1:
        L.append(f"    if (out->shape[{nb}] != m) return KILN_ESHAPE;")
    if ynd > 1:
        L.append(f"    if (out->shape[{ond - 1}] != n) return KILN_ESHAPE;")
    L.append(f"    {t} *o = ({t} *)out->data;")
    if nb == 0:
        L.append(f"    return kiln_mm_{dt}(m, n, kk, ({t})1, x->data, sa0, sa1, y->data, sb0, sb1, o, 0);")
        L.append("}")
        return "\n".join(L)
    L.append(f"    enum {{ NB = {nb} }};")
    L.append("    int64_t xs[NB], ys[NB], idx[NB], nbatch = 1;")
    L.append("    for (int d = 0; d < NB; d++) {")
    L.append("        const int64_t s = out->shape[d];")
    L.append("        nbatch *= s; idx[d] = 0; xs[d] = ys[d] = 0;")
    L.append(f"        const int dx = d - (NB - {xb}), dy = d - (NB - {yb});")
    L.append("        if (dx >= 0) { if (x->shape[dx] != s && x->shape[dx] != 1) return KILN_ESHAPE;"
             " xs[d] = x->shape[dx] == 1 ? 0 : x->strides[dx]; }")
    L.append("        if (dy >= 0) { if (y->shape[dy] != s && y->shape[dy] != 1) return KILN_ESHAPE;"
             " ys[d] = y->shape[dy] == 1 ? 0 : y->strides[dy]; }")
    L.append("    }")
    L.append("    const char *px = x->data, *py = y->data;")
    L.append("    for (int64_t b = 0; b < nbatch; b++) {")
    L.append(f"        int rc = kiln_mm_{dt}(m, n, kk, ({t})1, px, sa0, sa1, py, sb0, sb1, o + b * m * n, 0);")
    L.append("        if (rc) return rc;")
    L.append("        for (int d = NB - 1; d >= 0; d--) {")
    L.append("            px += xs[d]; py += ys[d];")
    L.append("            if (++idx[d] < out->shape[d]) break;")
    L.append("            px -= xs[d] * out->shape[d]; py -= ys[d] * out->shape[d]; idx[d] = 0;")
    L.append("        }")
    L.append("    }")
    L.append("    return 0;")
    L.append("}")
    return "\n".join(L)


def render_matvec_pair(k: MatVecPairKernel, name: str) -> str:
    """C for MatVecPair: kiln's library's one pass over A (matvec_lib.c, a `kiln: import`
    declared as a shared definition) when A's rows and the vectors are contiguous, else two
    products through BLAS (kiln_mm, blas.c)."""
    from kiln.linkers.c.render import IMPORT, SHARED, SHARED_END   # render.py imports this module

    t, dt = CTYPE[k.a.dtype], k.a.dtype
    fn = f"kiln_matvec2_{dt}"
    return "\n".join([
        f"{SHARED}static kiln_matvec2_fn {fn};   {IMPORT}\n{SHARED_END}/* {_comment(k.label)} */",
        f"static int {name}(kiln_buf *B) {{",
        f"    const kiln_buf *a = &B[{k.a.buf}], *x1 = &B[{k.x1.buf}], *x2 = &B[{k.x2.buf}];",
        f"    kiln_buf *y1 = &B[{k.out1.buf}], *y2 = &B[{k.out2.buf}];",
        f"    const int64_t z = (int64_t)sizeof({t}), m = a->shape[0], n = a->shape[1];",
        "    if (x1->shape[0] != n || x2->shape[0] != n || y1->shape[0] != m || y2->shape[0] != m) return KILN_ESHAPE;",
        "    if (!kiln_is_contig(y1, 1, z) || !kiln_is_contig(y2, 1, z)) return KILN_ELAYOUT;",
        "    if ((a->strides[1] == z || n <= 1) && a->strides[0] % z == 0 && (x1->strides[0] == z || n <= 1)",
        "            && (x2->strides[0] == z || n <= 1))",
        f"        return {fn}(m, n, a->data, a->strides[0] / z, x1->data, x2->data, y1->data, y2->data, "
        "KILN_NT, KILN_PAR_MIN);",
        f"    const int rc = kiln_mm_{dt}(m, 1, n, ({t})1, a->data, a->strides[0], a->strides[1], x1->data, "
        "x1->strides[0], 0, (" + t + " *)y1->data, 0);",
        f"    return rc ? rc : kiln_mm_{dt}(m, 1, n, ({t})1, a->data, a->strides[0], a->strides[1], x2->data, "
        "x2->strides[0], 0, (" + t + " *)y2->data, 0);",
        "}"])
