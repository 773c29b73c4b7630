/* ${label} */
static int ${name}(kiln_buf *B) {
    enum { NOUT = ${nout}, NOP = ${nop}, ND = ${nd} };
    kiln_buf *op[NOP] = { ${bufs} };   /* outputs first, then inputs */
    const int64_t *shape = op[0]->shape;
    int64_t n = 1;
    for (int d = 0; d < ND; d++) n *= shape[d];
    for (int k = 1; k < NOP; k++)
        for (int d = 0; d < ND; d++)
            if (op[k]->shape[d] != shape[d] && !(k >= NOUT && op[k]->shape[d] == 1)) return KILN_ESHAPE;
    if (n == 0) return 0;
    if (${all_contig}) {
        ${contig_decls}
        for (int64_t i = 0; i < n; i++) {
            ${contig_loads}
            ${body}
            ${contig_stores}
        }
        return 0;
    }
    /* general case: byte strides, zero on broadcast axes; an odometer over the outer axes */
    int64_t st[NOP][KILN_MAXDIM + 1], ss[NOP], idx[KILN_MAXDIM + 1] = {0};
    char *p[NOP];
    for (int k = 0; k < NOP; k++) {
        for (int d = 0; d < ND; d++) st[k][d] = op[k]->shape[d] == 1 ? 0 : op[k]->strides[d];
        ss[k] = ND ? st[k][ND > 0 ? ND - 1 : 0] : 0;
        p[k] = op[k]->data;
    }
    const int64_t inner = ND ? shape[ND > 0 ? ND - 1 : 0] : 1, outer = n / inner;
    /* unit inner strides (e.g. a matrix plus a row vector): a vectorizable inner loop */
    const int unit = ${unit_test};
    for (int64_t it = 0; it < outer; it++) {
        if (unit) {
            ${unit_decls}
            for (int64_t j = 0; j < inner; j++) {
                ${unit_loads}
                ${body}
                ${unit_stores}
            }
        } else {
            for (int64_t j = 0; j < inner; j++) {
                ${strided_loads}
                ${body}
                ${strided_stores}
            }
        }
        for (int d = ND - 2; d >= 0; d--) {
            for (int k = 0; k < NOP; k++) p[k] += st[k][d];
            if (++idx[d] < shape[d]) break;
            for (int k = 0; k < NOP; k++) p[k] -= st[k][d] * shape[d];
            idx[d] = 0;
        }
    }
    return 0;
}
