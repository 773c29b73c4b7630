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
    const int64_t inner = ND ? in->shape[ND > 0 ? ND - 1 : 0] : 1, outer = n / inner;
    const int64_t si = ND ? ist[ND > 0 ? ND - 1 : 0] : 0, so = ND ? ost[ND > 0 ? ND - 1 : 0] : 0;
    /* Threads split the outer rows.  When a reduced axis is an outer one, rows of different
     * threads reach the same output element: threads t > 0 then accumulate into private
     * copies, merged in thread order after the loop (so the result depends only on the
     * thread count).  When those copies would be large next to the work, stay serial. */
    char *priv = NULL;
    int nt_used = 1;
#if KILN_NT > 1
    int kiln_par = n >= KILN_PAR_MIN && outer > 1;
    if (kiln_par && ${outer_reduced}) {
        if (nout * (KILN_NT - 1) > n / 4) kiln_par = 0;
        else if ((priv = (char *)malloc((size_t)(nout * (KILN_NT - 1)) * sizeof(${otype}))) == NULL) kiln_par = 0;
        else for (int64_t i = 0; i < nout * (KILN_NT - 1); i++) ((${otype} *)priv)[i] = ${init};
    }
    #pragma omp parallel num_threads(KILN_NT) if(kiln_par)
#endif
    {
    int t = 0, nt = 1;
#if KILN_NT > 1
    t = omp_get_thread_num(); nt = omp_get_num_threads();
    if (t == 0) nt_used = nt;
#endif
    int64_t lo = 0, hi = outer;
    kiln_chunk(outer, t, nt, 0, &lo, &hi);
    int64_t idx[KILN_MAXDIM + 1] = {0};
    const char *pi = in->data;
    char *po = (t == 0 || !priv) ? out->data : priv + (size_t)((t - 1) * nout) * sizeof(${otype});
    int64_t rem = lo;   /* the odometer's position at row lo */
    for (int d = ND - 2; d >= 0; d--) {
        idx[d] = rem % in->shape[d];
        rem /= in->shape[d];
        pi += idx[d] * ist[d]; po += idx[d] * ost[d];
    }
    for (int64_t it = lo; it < hi; it++) {
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
    }
    if (priv) {   /* merge the private partial results in thread order */
        ${otype} *o = (${otype} *)out->data;
        for (int t = 1; t < nt_used; t++)
            for (int64_t i = 0; i < nout; i++) {
                ${otype} acc = o[i];
                const ${otype} x = ((${otype} *)priv)[(t - 1) * nout + i];
                ${combine}
                o[i] = acc;
            }
        free(priv);
    }
    return 0;
}
