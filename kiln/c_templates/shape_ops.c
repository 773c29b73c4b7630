/*@@ recurrence */
/* ${label} */
/* LinearRecurrence: e_i = x_i * e_(i-1) + b_i along AXIS (e_(-1) = 0), in the output dtype
 * (two roundings, as NumPy).  The operands are walked in C order, so e_(i-1) (one step back
 * along AXIS) is always computed before e_i and is read back from the output. */
static int ${name}(kiln_buf *B) {
    enum { ND = ${nd}, AXIS = ${axis} };
    const kiln_buf *bx = &B[${xbuf}], *bb = &B[${bbuf}];
    kiln_buf *out = &B[${obuf}];
    int64_t n = 1;
    for (int d = 0; d < ND; d++) {
        if (bx->shape[d] != out->shape[d] || bb->shape[d] != out->shape[d]) return KILN_ESHAPE;
        n *= out->shape[d];
    }
    if (n == 0) return 0;
    const int64_t inner = out->shape[ND - 1], outer = n / inner;
    const int64_t sx = bx->strides[ND - 1], sb = bb->strides[ND - 1], so = out->strides[ND - 1];
    const int64_t back = out->strides[AXIS];
    int64_t idx[KILN_MAXDIM + 1] = {0};
    const char *px = bx->data, *pb = bb->data;
    char *po = out->data;
    for (int64_t it = 0; it < outer; it++) {
        if (AXIS == ND - 1) {
            ${t} acc = 0;
            for (int64_t j = 0; j < inner; j++) {
                const ${t} x = (${t})*(const ${xt} *)(px + j * sx), b = (${t})*(const ${bt} *)(pb + j * sb);
                acc = ${step};
                *(${t} *)(po + j * so) = acc;
            }
        } else {
            const int first = idx[AXIS] == 0;
            for (int64_t j = 0; j < inner; j++) {
                const ${t} x = (${t})*(const ${xt} *)(px + j * sx), b = (${t})*(const ${bt} *)(pb + j * sb);
                const ${t} acc = first ? (${t})0 : *(const ${t} *)(po + j * so - back);
                *(${t} *)(po + j * so) = ${step};
            }
        }
        for (int d = ND - 2; d >= 0; d--) {
            px += bx->strides[d]; pb += bb->strides[d]; po += out->strides[d];
            if (++idx[d] < out->shape[d]) break;
            px -= bx->strides[d] * out->shape[d]; pb -= bb->strides[d] * out->shape[d];
            po -= out->strides[d] * out->shape[d];
            idx[d] = 0;
        }
    }
    return 0;
}
/*@@ diagonal */
/* ${label} */
/* Diagonal / DiagonalEmbed: the offset diagonal of axes (A1, A2) of the big array is a
 * strided view (the other axes in order, then the diagonal with stride s1 + s2) built
 * here from the descriptor; it is copied into the small array (EMBED 0) or the big array
 * is zeroed and the small one copied onto it (EMBED 1). */
static int ${name}(kiln_buf *B) {
    enum { ND = ${nd}, A1 = ${axis1}, A2 = ${axis2}, EMBED = ${embed} };
    const int64_t OFFSET = ${offset};
    kiln_buf *big = &B[${bigbuf}], *small = &B[${smallbuf}];
    int64_t vshp[KILN_MAXDIM + 1] = {0}, vst[KILN_MAXDIM + 1] = {0};
    for (int d = 0, k = 0; d < ND; d++)
        if (d != A1 && d != A2) { vshp[k] = big->shape[d]; vst[k] = big->strides[d]; k++; }
    const int64_t n1 = big->shape[A1], n2 = big->shape[A2];
    int64_t len = OFFSET >= 0 ? (n1 < n2 - OFFSET ? n1 : n2 - OFFSET) : (n1 + OFFSET < n2 ? n1 + OFFSET : n2);
    if (len < 0) len = 0;
    vshp[ND - 2] = len;
    vst[ND - 2] = big->strides[A1] + big->strides[A2];
    char *vbase = big->data;
    if (len > 0) vbase += OFFSET >= 0 ? OFFSET * big->strides[A2] : -OFFSET * big->strides[A1];
    int64_t n = 1, nbig = 1;
    for (int d = 0; d < ND - 1; d++) {
        if (small->shape[d] != vshp[d]) return KILN_ESHAPE;
        n *= vshp[d];
    }
    if (EMBED) {
        for (int d = 0; d < ND; d++) nbig *= big->shape[d];
        if (!kiln_is_contig(big, ND, sizeof(${t}))) return KILN_ELAYOUT;
        for (int64_t i = 0; i < nbig; i++) ((${t} *)big->data)[i] = 0;
    }
    if (n == 0) return 0;
    enum { VD = ND - 1 };
    const int64_t inner = vshp[VD - 1], outer = n / inner, sv = vst[VD - 1], ss = small->strides[VD - 1];
    int64_t idx[KILN_MAXDIM + 1] = {0};
    char *pv = vbase, *ps = small->data;
    for (int64_t it = 0; it < outer; it++) {
        for (int64_t j = 0; j < inner; j++) {
            if (EMBED) *(${t} *)(pv + j * sv) = *(const ${t} *)(ps + j * ss);
            else *(${t} *)(ps + j * ss) = *(const ${t} *)(pv + j * sv);
        }
        for (int d = VD - 2; d >= 0; d--) {
            pv += vst[d]; ps += small->strides[d];
            if (++idx[d] < vshp[d]) break;
            pv -= vst[d] * vshp[d]; ps -= small->strides[d] * vshp[d];
            idx[d] = 0;
        }
    }
    return 0;
}
/*@@ eye */
/* ${label} */
/* Eye: zeros, then ones at (i, i + k). */
static int ${name}(kiln_buf *B) {
    kiln_buf *out = &B[${obuf}];
    const int64_t k = (int64_t)*(const ${kt} *)B[${kbuf}].data;
    const int64_t n = out->shape[0], m = out->shape[1];
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < m; j++) *(${t} *)(out->data + i * out->strides[0] + j * out->strides[1]) = 0;
    if (k < m && k > -n)   /* else the diagonal misses the array (no overflow below) */
        for (int64_t i = k < 0 ? -k : 0; i < n && i + k < m; i++)
            *(${t} *)(out->data + i * out->strides[0] + (i + k) * out->strides[1]) = 1;
    return 0;
}
