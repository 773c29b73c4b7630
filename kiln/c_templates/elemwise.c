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
#if KILN_NT > 1
        const int kiln_par = n >= KILN_PAR_MIN;
        #pragma omp parallel num_threads(KILN_NT) if(kiln_par)
#endif
        {
            int64_t lo = 0, hi = n;
#if KILN_NT > 1
            kiln_chunk(n, omp_get_thread_num(), omp_get_num_threads(), 63, &lo, &hi);
#endif
            ${contig_decls}
            for (int64_t i = lo; i < hi; i++) {
                ${contig_loads}
                ${body}
                ${contig_stores}
            }
        }
        return 0;
    }
    /* general case: byte strides, zero on broadcast axes; an odometer over the outer axes */
    int64_t st[NOP][KILN_MAXDIM + 1], ss[NOP];
    for (int k = 0; k < NOP; k++) {
        for (int d = 0; d < ND; d++) st[k][d] = op[k]->shape[d] == 1 ? 0 : op[k]->strides[d];
        ss[k] = ND ? st[k][ND > 0 ? ND - 1 : 0] : 0;
    }
    const int64_t inner = ND ? shape[ND > 0 ? ND - 1 : 0] : 1, outer = n / inner;
    /* unit inner strides (e.g. a matrix plus a row vector): a vectorizable inner loop */
    const int unit = ${unit_test};
#if KILN_NT > 1
    const int kiln_par = n >= KILN_PAR_MIN && outer > 1;
    #pragma omp parallel num_threads(KILN_NT) if(kiln_par)
#endif
    {
        int64_t lo = 0, hi = outer, idx[KILN_MAXDIM + 1] = {0};
#if KILN_NT > 1
        kiln_chunk(outer, omp_get_thread_num(), omp_get_num_threads(), 0, &lo, &hi);
#endif
        char *p[NOP];
        for (int k = 0; k < NOP; k++) p[k] = op[k]->data;
        int64_t rem = lo;   /* the odometer's position at row lo */
        for (int d = ND - 2; d >= 0; d--) {
            idx[d] = rem % shape[d];
            rem /= shape[d];
            for (int k = 0; k < NOP; k++) p[k] += idx[d] * st[k][d];
        }
        for (int64_t it = lo; it < hi; it++) {
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
    }
    return 0;
}
