/* ${label} */
static int ${name}(kiln_buf *B) {
    enum { ND = ${nd}, OND = ${ond} };
    static const int reduced[KILN_MAXDIM + 1] = { ${reduced} };   /* 1 for reduced input axes */
    const kiln_buf *in = &B[${ibuf}];
    kiln_buf *out = &B[${obuf}];
    int64_t n = 1, nout = 1, ost[KILN_MAXDIM + 1] = {0}, ist[KILN_MAXDIM + 1] = {0};
    for (int d = 0, k = 0; d < ND; d++) {
        n *= in->shape[d];
        ist[d] = in->shape[d] == 1 ? 0 : in->strides[d];
        if (!reduced[d]) {
            if (out->shape[k] != in->shape[d]) return KILN_ESHAPE;
            ost[d] = out->shape[k] == 1 ? 0 : out->strides[k];
            k++;
        }
    }
    for (int k = 0; k < OND; k++) nout *= out->shape[k];
    if (!kiln_is_contig(out, OND, sizeof(${otype}))) return KILN_ELAYOUT;
    for (int64_t i = 0; i < nout; i++) ((${otype} *)out->data)[i] = ${init};
    if (n == 0) return 0;
    int64_t idx[KILN_MAXDIM + 1] = {0};
    const int64_t inner = ND ? in->shape[ND > 0 ? ND - 1 : 0] : 1, outer = n / inner;
    const int64_t si = ND ? ist[ND > 0 ? ND - 1 : 0] : 0, so = ND ? ost[ND > 0 ? ND - 1 : 0] : 0;
    const char *pi = in->data;
    char *po = out->data;
    for (int64_t it = 0; it < outer; it++) {
        if (so == 0) {   /* reducing along the inner axis: keep the accumulator in a register */
            ${otype} acc = *(${otype} *)po;
            int64_t j = 0;
            if (si == (int64_t)sizeof(${itype}) && inner >= 2 * KILN_LANES) {
                /* KILN_LANES independent partial results the compiler can keep in vector
                 * registers (no reassociation flags needed), merged at the end */
                const ${itype} *restrict px = (const ${itype} *)pi;
                ${otype} part[KILN_LANES];
                for (int u = 0; u < KILN_LANES; u++) part[u] = ${init};
                for (; j + KILN_LANES <= inner; j += KILN_LANES)
                    for (int u = 0; u < KILN_LANES; u++) {
                        ${otype} acc = part[u];
                        const ${itype} x = px[j + u];
                        ${combine}
                        part[u] = acc;
                    }
                for (int u = 0; u < KILN_LANES; u++) {
                    const ${otype} x = part[u];
                    ${combine}
                }
            }
            for (; j < inner; j++) {
                const ${itype} x = *(const ${itype} *)(pi + j * si);
                ${combine}
            }
            *(${otype} *)po = acc;
        } else if (si == (int64_t)sizeof(${itype}) && so == (int64_t)sizeof(${otype})) {
            /* reducing along outer axes of contiguous data: a vectorizable row update */
            const ${itype} *restrict px = (const ${itype} *)pi;
            ${otype} *restrict py = (${otype} *)po;
            for (int64_t j = 0; j < inner; j++) {
                const ${itype} x = px[j];
                ${otype} acc = py[j];
                ${combine}
                py[j] = acc;
            }
        } else {
            for (int64_t j = 0; j < inner; j++) {
                const ${itype} x = *(const ${itype} *)(pi + j * si);
                ${otype} acc = *(${otype} *)(po + j * so);
                ${combine}
                *(${otype} *)(po + j * so) = acc;
            }
        }
        for (int d = ND - 2; d >= 0; d--) {
            pi += ist[d]; po += ost[d];
            if (++idx[d] < in->shape[d]) break;
            pi -= ist[d] * in->shape[d]; po -= ost[d] * in->shape[d];
            idx[d] = 0;
        }
    }
    return 0;
}
