/* Reduction of ${kind} over ${itype} into ${otype}: one body per module for every reduction
 * of this kind and these dtypes (the axes are data: nd input axes, ond output axes,
 * reduced[d] = 1 for reduced input axes); each kernel calls it with its own axes. */
static __attribute__((noinline)) int ${fn}(const kiln_buf *in, kiln_buf *out, const int ND, const int OND,
                                           const int *reduced) {
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
    /* Threads take chunks of outer rows (a dynamic schedule, see kiln_nchunk).  When a reduced
     * axis is an outer one, rows of different chunks reach the same output element: chunks
     * c > 0 then accumulate into private copies, merged in chunk order after the loop, so the
     * result depends only on the sizes and the thread count, never on which thread ran which
     * chunk.  When those copies would be large next to the work, stay serial. */
    char *priv = NULL;
    int64_t nchunk = 1;
#if KILN_NT > 1
    int kiln_par = n >= KILN_PAR_MIN && outer > 1;
    if (kiln_par) nchunk = kiln_nchunk(n, outer);
    int outer_reduced = 0;   /* a reduced axis is an outer one */
    for (int d = 0; d < ND - 1; d++) outer_reduced |= reduced[d];
    if (kiln_par && outer_reduced) {
        if (nout * (nchunk - 1) > n / 4) nchunk = KILN_NT < outer ? KILN_NT : outer;
        if (nout * (nchunk - 1) > n / 4) kiln_par = 0;
        else if ((priv = (char *)malloc((size_t)(nout * (nchunk - 1)) * sizeof(${otype}))) == NULL) kiln_par = 0;
        else for (int64_t i = 0; i < nout * (nchunk - 1); i++) ((${otype} *)priv)[i] = ${init};
        if (!kiln_par) nchunk = 1;
    }
    #pragma omp parallel for schedule(dynamic, 1) num_threads(KILN_NT) if(kiln_par)
#endif
    for (int64_t c = 0; c < nchunk; c++) {
    int64_t lo = 0, hi = outer;
    kiln_chunk(outer, (int)c, (int)nchunk, 0, &lo, &hi);
    int64_t idx[KILN_MAXDIM + 1] = {0};
    const char *pi = in->data;
    char *po = (c == 0 || !priv) ? out->data : priv + (size_t)((c - 1) * nout) * sizeof(${otype});
    int64_t rem = lo;   /* the odometer's position at row lo */
    for (int d = ND - 2; d >= 0; d--) {
        idx[d] = rem % in->shape[d];
        rem /= in->shape[d];
        pi += idx[d] * ist[d]; po += idx[d] * ost[d];
    }
    for (int64_t it = lo; it < hi; ) {
        int64_t g = 1;   /* input rows done in this step */
        if (so == 0) {   /* reducing along the inner axis: keep the accumulator in a register */
            ${otype} acc = *(${otype} *)po;
            int64_t j = 0;
            if (si == (int64_t)sizeof(${itype}) && inner >= 2 * KILN_LANES) {
                /* Summation order (no reassociation flags, so it is written out): the row is cut
                 * into blocks of KILN_LANES * KILN_LANE_ITERS elements; in a block, KILN_LANES
                 * independent partial results (vector registers) take every KILN_LANES-th
                 * element, then a tree merges them into the block's total; block totals are
                 * merged pairwise by a binary counter (level[l] holds the total of 2^l blocks),
                 * so rounding errors grow with log(n), as in NumPy's pairwise sum, not with n.
                 * The last partial block's lanes and then the remaining elements follow. */
                const ${itype} *restrict px = (const ${itype} *)pi;
                ${otype} part[KILN_LANES], level[64];
                int64_t nblk = 0;
                for (; j + KILN_LANES * ${lane_iters} <= inner; j += KILN_LANES * ${lane_iters}) {
                    for (int u = 0; u < KILN_LANES; u++) part[u] = ${init};
                    for (int64_t q = j; q < j + KILN_LANES * ${lane_iters}; q += KILN_LANES)
                        for (int u = 0; u < KILN_LANES; u++) {
                            ${otype} acc = part[u];
                            const ${itype} x = px[q + u];
                            ${combine}
                            part[u] = acc;
                        }
                    for (int w = KILN_LANES / 2; w >= 1; w /= 2)
                        for (int u = 0; u < w; u++) {
                            ${otype} acc = part[u];
                            const ${otype} x = part[u + w];
                            ${combine}
                            part[u] = acc;
                        }
                    ${otype} tot = part[0];
                    int l = 0;
                    for (int64_t cnt = nblk++; cnt & 1; cnt >>= 1, l++) {
                        ${otype} acc = level[l];
                        const ${otype} x = tot;
                        ${combine}
                        tot = acc;
                    }
                    level[l] = tot;
                }
                for (int l = 0; nblk >> l; l++)
                    if ((nblk >> l) & 1) {
                        const ${otype} x = level[l];
                        ${combine}
                    }
                if (j + KILN_LANES <= inner) {
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
            if (ND >= 2 && reduced[ND >= 2 ? ND - 2 : 0] && hi - it >= ${rows}
                    && in->shape[ND >= 2 ? ND - 2 : 0] - idx[ND >= 2 ? ND - 2 : 0] >= ${rows}) {
                /* the next ${rows} rows differ only along the reduced axis ND-2, so they update
                 * the same output row: read them together (one load and store of the output
                 * row per ${rows} input rows, several streams for the prefetcher), each
                 * element still combined in row order, so the result is that of a row at a time */
                const int64_t rs = ist[ND >= 2 ? ND - 2 : 0];
                ${rows_decls}
                for (int64_t j = 0; j < inner; j++) {
                    ${otype} acc = py[j];
                    ${rows_body}
                    py[j] = acc;
                }
                g = ${rows};
            } else {
                for (int64_t j = 0; j < inner; j++) {
                    const ${itype} x = px[j];
                    ${otype} acc = py[j];
                    ${combine}
                    py[j] = acc;
                }
            }
        } else {
            for (int64_t j = 0; j < inner; j++) {
                const ${itype} x = *(const ${itype} *)(pi + j * si);
                ${otype} acc = *(${otype} *)(po + j * so);
                ${combine}
                *(${otype} *)(po + j * so) = acc;
            }
        }
        for (it += g; g > 0; g--)
            for (int d = ND - 2; d >= 0; d--) {
                pi += ist[d]; po += ost[d];
                if (++idx[d] < in->shape[d]) break;
                pi -= ist[d] * in->shape[d]; po -= ost[d] * in->shape[d];
                idx[d] = 0;
            }
    }
    }
    if (priv) {   /* merge the private partial results in chunk order */
        ${otype} *o = (${otype} *)out->data;
        for (int64_t c = 1; c < nchunk; c++)
            for (int64_t i = 0; i < nout; i++) {
                ${otype} acc = o[i];
                const ${otype} x = ((${otype} *)priv)[(c - 1) * nout + i];
                ${combine}
                o[i] = acc;
            }
        free(priv);
    }
    return 0;
}
