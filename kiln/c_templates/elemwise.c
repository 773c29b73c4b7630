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
        const int64_t nchunk = kiln_par ? kiln_nchunk(n, n) : 1;
        #pragma omp parallel for schedule(dynamic, 1) num_threads(KILN_NT) if(kiln_par)
        for (int64_t c = 0; c < nchunk; c++)
#endif
        {
            int64_t lo = 0, hi = n;
#if KILN_NT > 1
            kiln_chunk(n, (int)c, (int)nchunk, 63, &lo, &hi);
#endif
            ${contig_decls}
#if KILN_STREAM
            /* Operands much larger than the last-level cache (the output is then not in the cache
             * either): compute a block into an L1-resident buffer, then write it out with
             * non-temporal stores, which skip the read-for-ownership of every output line (a
             * third of the memory traffic of a plain store).  Smaller loops store normally: their
             * output, reused by the allocator call after call, is usually still cached. */
            if (n * (${op_bytes}) >= KILN_STREAM_MIN) {
                ${block_decls}
                /* Blocks lie on one grid over the whole array: [0, p) up to the first 64-byte
                 * boundary of output 0 (so full blocks stream without unaligned ends), then
                 * every KILN_BLOCK elements; chunk edges move onto the grid.  A short block
                 * (the first, the last) is computed on padded copies of its inputs by the
                 * same vector loop as a full one: no element goes through a scalar tail,
                 * whose libm results may differ from libmvec's in the last bit, so results
                 * depend neither on the output's address nor on the thread count. */
                const int64_t p = kiln_peel(r0, (int64_t)sizeof(*r0));
                lo = kiln_grid(lo, p, n);
                hi = kiln_grid(hi, p, n);
                for (int64_t b = lo, e; b < hi; b = e) {
                    e = b < p ? p : b + KILN_BLOCK;
                    if (e > hi) e = hi;
                    const int full = e - b == KILN_BLOCK;
                    if (!full)   /* pad with the block's first element: valid for every op */
                        for (int64_t i = 0; i < KILN_BLOCK; i++) {
                            ${pad_fill}
                        }
                    ${src_decls}
                    for (int64_t i = 0; i < KILN_BLOCK; i++) {
                        ${block_loads}
                        ${body}
                        ${block_stores}
                    }
                    ${block_flush}
                }
                kiln_sfence();
            } else
#endif
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
    const int64_t nchunk = kiln_par ? kiln_nchunk(n, outer) : 1;
    #pragma omp parallel for schedule(dynamic, 1) num_threads(KILN_NT) if(kiln_par)
    for (int64_t c = 0; c < nchunk; c++)
#endif
    {
        int64_t lo = 0, hi = outer, idx[KILN_MAXDIM + 1] = {0};
#if KILN_NT > 1
        kiln_chunk(outer, (int)c, (int)nchunk, 0, &lo, &hi);
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
