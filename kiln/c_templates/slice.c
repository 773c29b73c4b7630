/* ${label} */
/* A per-slice kernel: the input's axes are split into outer axes (every position gets its
 * own slice) and slice axes (flag 1 below); both are walked with odometers in C order, so
 * any strides (negative, zero, transposed) work and the slice position j is the flat index
 * of the element within its slice (what argmax/argmin return). */
static int ${name}(kiln_buf *B) {
    enum { ND = ${nd} };
    static const int inslice[KILN_MAXDIM + 1] = { ${inslice} };
    const kiln_buf *in = &B[${ibuf}];
    kiln_buf *out = &B[${obuf}];
    int64_t oshp[KILN_MAXDIM + 1], oist[KILN_MAXDIM + 1], oost[KILN_MAXDIM + 1];
    int64_t rshp[KILN_MAXDIM + 1], rist[KILN_MAXDIM + 1], rost[KILN_MAXDIM + 1];
    int no = 0, nr = 0;
    int64_t nouter = 1, m = 1;
    for (int d = 0; d < ND; d++) {
        if (inslice[d]) {
            rshp[nr] = in->shape[d]; rist[nr] = in->strides[d];
            rost[nr] = ${same_shape} ? out->strides[d] : 0;
            m *= in->shape[d]; nr++;
        } else {
            const int od = ${same_shape} ? d : no;
            if (out->shape[od] != in->shape[d]) return KILN_ESHAPE;
            oshp[no] = in->shape[d]; oist[no] = in->strides[d]; oost[no] = out->strides[od];
            nouter *= in->shape[d]; no++;
        }
    }
    if (${same_shape}) { for (int d = 0; d < ND; d++) if (out->shape[d] != in->shape[d]) return KILN_ESHAPE; }
    if (nouter == 0) return 0;
    if (m == 0) return ${empty_rc};
    /* the common case: one slice axis with unit strides (a softmax over rows) */
    const int unit = nr == 1 && rist[0] == (int64_t)sizeof(${itype})
                     && (!${same_shape} || rost[0] == (int64_t)sizeof(${otype}));
    int64_t oidx[KILN_MAXDIM + 1] = {0};
    const char *pi = in->data;
    char *po = out->data;
    for (int64_t it = 0; it < nouter; it++) {
        if (unit) {
            const ${itype} *restrict xs = (const ${itype} *)pi;
            ${otype} *restrict ys = (${otype} *)po;
            (void)ys;
            ${unit_body}
        } else {
            ${strided_body}
        }
        for (int d = no - 1; d >= 0; d--) {   /* next outer position */
            pi += oist[d]; po += oost[d];
            if (++oidx[d] < oshp[d]) break;
            pi -= oist[d] * oshp[d]; po -= oost[d] * oshp[d];
            oidx[d] = 0;
        }
    }
    return 0;
}
