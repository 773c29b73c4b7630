/* The body of one reduction: kind, input dtype and output dtype given by
 *     #define KILN_R(X) X(sum, float64, float64)
 * before this file is included (reduce.h, included first, explains why and where); it defines
 * kiln_reduce_<kind>_<in>_<out> (kiln_reduce_fn) and #undefs KILN_R.  With KILN_R_LIBRARY
 * (kiln's library, driver_lib.c) the body is exported, else it is static to the module.  The
 * axes are data (nd input axes, ond output axes, reduced[d] = 1 for reduced input axes), so
 * every reduction of this kind and these dtypes shares it. */
#define KILN_R_IT KILN_R(KILN_R_ITYPE_)
#define KILN_R_OT KILN_R(KILN_R_OTYPE_)
#define KILN_R_INIT KILN_R(KILN_R_INIT_)
#define KILN_R_COMBINE(acc, x) KILN_R(KILN_R_COMBINE_)(acc, x)
/* Elements per lane in a block of an inner-axis row (see the summation order below).  Results
 * of max/min/any/all do not depend on the order of combination (they pick an element or are
 * logical), so they skip the blocked pairwise merging that keeps sums accurate: one pass of
 * lanes and one merge per row (a blocked max ran at half a sum's speed). */
#if KILN_R(KILN_R_KIND_) == KILN_R_K_sum || KILN_R(KILN_R_KIND_) == KILN_R_K_prod
#define KILN_R_LANE_ITERS KILN_LANE_ITERS
#else
#define KILN_R_LANE_ITERS ((int64_t)1 << 40)
#endif
/* input rows combined per pass over the output row when reducing an outer axis */
#define KILN_R_ROWS 4

/* g contiguous rows of `inner` elements, `rs` bytes apart from `pi` on, combined into one
 * contiguous output row py, KILN_R_ROWS rows at a time (one load and store of the output row
 * per KILN_R_ROWS input rows, several streams for the prefetcher), each element still combined
 * in row order, so the result is that of a row at a time.  A function of its own: the loop
 * then keeps all it needs in registers. */
static __attribute__((noinline)) void KILN_R(KILN_R_OUTER_)(KILN_R_OT *restrict py, const char *pi, int64_t rs,
                                                            int64_t g, int64_t inner) {
    int64_t r = 0;
    for (; r + KILN_R_ROWS <= g; r += KILN_R_ROWS) {
        const KILN_R_IT *restrict px = (const KILN_R_IT *)(pi + r * rs);
        const KILN_R_IT *restrict px1 = (const KILN_R_IT *)(pi + (r + 1) * rs);
        const KILN_R_IT *restrict px2 = (const KILN_R_IT *)(pi + (r + 2) * rs);
        const KILN_R_IT *restrict px3 = (const KILN_R_IT *)(pi + (r + 3) * rs);
        for (int64_t j = 0; j < inner; j++) {
            KILN_R_OT acc = py[j];
            KILN_R_COMBINE(acc, px[j]);
            KILN_R_COMBINE(acc, px1[j]);
            KILN_R_COMBINE(acc, px2[j]);
            KILN_R_COMBINE(acc, px3[j]);
            py[j] = acc;
        }
    }
    for (; r < g; r++) {
        const KILN_R_IT *restrict px = (const KILN_R_IT *)(pi + r * rs);
        for (int64_t j = 0; j < inner; j++) {
            KILN_R_OT acc = py[j];
            KILN_R_COMBINE(acc, px[j]);
            py[j] = acc;
        }
    }
}

/* The total of one block of KILN_LANES * KILN_R_LANE_ITERS contiguous elements: KILN_LANES
 * independent partial results (vector registers) take every KILN_LANES-th element, then a tree
 * merges them. */
static inline KILN_R_OT KILN_R(KILN_R_BLOCK_)(const KILN_R_IT *restrict px) {
    KILN_R_OT part[KILN_LANES];
    for (int u = 0; u < KILN_LANES; u++) part[u] = KILN_R_INIT;
    for (int64_t q = 0; q < KILN_LANES * KILN_R_LANE_ITERS; q += KILN_LANES)
        for (int u = 0; u < KILN_LANES; u++) {
            KILN_R_OT acc = part[u];
            KILN_R_COMBINE(acc, px[q + u]);
            part[u] = acc;
        }
    for (int w = KILN_LANES / 2; w >= 1; w /= 2)
        for (int u = 0; u < w; u++) {
            KILN_R_OT acc = part[u];
            KILN_R_COMBINE(acc, part[u + w]);
            part[u] = acc;
        }
    return part[0];
}

/* One row of `inner` elements, `si` bytes apart from pi on, combined into *pa (its value is the
 * start).  Summation order (no reassociation flags, so it is written out): the row is cut into
 * blocks (KILN_R_BLOCK_ above); block totals are merged pairwise by a binary counter (level[l]
 * holds the total of 2^l blocks), so rounding errors grow with log(n), as in NumPy's pairwise
 * sum, not with n.  The last partial block's lanes and then the remaining elements follow.  A
 * function of its own: inlined into the odometer's loop it ran ~6% slower.  (Several rows
 * advancing together, a block of each in turn, ran at 60% of this speed.) */
static __attribute__((noinline)) void KILN_R(KILN_R_INNER_)(const char *pi, int64_t si, int64_t inner,
                                                            KILN_R_OT *pa) {
    KILN_R_OT acc = *pa;
    int64_t j = 0;
    if (si == (int64_t)sizeof(KILN_R_IT) && inner >= 2 * KILN_LANES) {
        const KILN_R_IT *restrict px = (const KILN_R_IT *)pi;
        KILN_R_OT level[64];
        int64_t nblk = 0;
        for (; j + KILN_LANES * KILN_R_LANE_ITERS <= inner; j += KILN_LANES * KILN_R_LANE_ITERS) {
            KILN_R_OT tot = KILN_R(KILN_R_BLOCK_)(px + j);
            int l = 0;
            for (int64_t cnt = nblk++; cnt & 1; cnt >>= 1, l++) {
                KILN_R_OT a = level[l];
                KILN_R_COMBINE(a, tot);
                tot = a;
            }
            level[l] = tot;
        }
        for (int l = 0; nblk >> l; l++)
            if ((nblk >> l) & 1) KILN_R_COMBINE(acc, level[l]);
        if (j + KILN_LANES <= inner) {
            KILN_R_OT part[KILN_LANES];
            for (int u = 0; u < KILN_LANES; u++) part[u] = KILN_R_INIT;
            for (; j + KILN_LANES <= inner; j += KILN_LANES)
                for (int u = 0; u < KILN_LANES; u++) {
                    KILN_R_OT a = part[u];
                    KILN_R_COMBINE(a, px[j + u]);
                    part[u] = a;
                }
            for (int u = 0; u < KILN_LANES; u++) KILN_R_COMBINE(acc, part[u]);
        }
    }
    for (; j < inner; j++) KILN_R_COMBINE(acc, *(const KILN_R_IT *)(pi + j * si));
    *pa = acc;
}

/* Chunk c of nchunk of the outer rows (an odometer over the outer axes); chunks c > 0 write
 * into their private partial output when the job has them.  Each step takes the rows left
 * along the last outer axis dr (in this chunk): they differ only along it, so one loop over
 * them replaces the odometer's steps, which cost more than a short row. */
static __attribute__((noinline)) void KILN_R(KILN_R_PART_)(const kiln_reduce_job *job, int64_t c, int64_t nchunk) {
    const kiln_buf *in = job->in;
    const int ND = job->nd, dr = ND >= 2 ? ND - 2 : 0;
    const int64_t *ist = job->ist, *ost = job->ost, inner = job->inner, si = job->si, so = job->so;
    const int64_t rs = ND >= 2 ? ist[dr] : 0, os = ND >= 2 ? ost[dr] : 0;   /* from row to row along dr */
    int64_t lo = 0, hi = job->outer;
    kiln_chunk(job->outer, (int)c, (int)nchunk, 0, &lo, &hi);
    int64_t idx[KILN_MAXDIM + 1] = {0};
    const char *pi = in->data;
    char *po = (c == 0 || !job->priv) ? job->out->data
                                      : job->priv + (size_t)((c - 1) * job->nout) * sizeof(KILN_R_OT);
    int64_t rem = lo;   /* the odometer's position at row lo */
    for (int d = ND - 2; d >= 0; d--) {
        idx[d] = rem % in->shape[d];
        rem /= in->shape[d];
        pi += idx[d] * ist[d]; po += idx[d] * ost[d];
    }
    for (int64_t it = lo; it < hi; ) {
        int64_t g = ND >= 2 ? in->shape[dr] - idx[dr] : 1;   /* rows in this step */
        if (g > hi - it) g = hi - it;
        if (so == 0) {   /* reducing along the inner axis: each row into one output element */
            for (int64_t r = 0; r < g; r++) KILN_R(KILN_R_INNER_)(pi + r * rs, si, inner, (KILN_R_OT *)(po + r * os));
        } else if (si == (int64_t)sizeof(KILN_R_IT) && so == (int64_t)sizeof(KILN_R_OT) && os == 0) {
            /* reducing along outer axes of contiguous data, dr among them: every row of this
             * step updates the same output row */
            KILN_R(KILN_R_OUTER_)((KILN_R_OT *)po, pi, rs, g, inner);
        } else if (si == (int64_t)sizeof(KILN_R_IT) && so == (int64_t)sizeof(KILN_R_OT)) {
            for (int64_t r = 0; r < g; r++) {   /* contiguous rows into distinct output rows */
                const KILN_R_IT *restrict px = (const KILN_R_IT *)(pi + r * rs);
                KILN_R_OT *restrict py = (KILN_R_OT *)(po + r * os);
                for (int64_t j = 0; j < inner; j++) {
                    KILN_R_OT acc = py[j];
                    KILN_R_COMBINE(acc, px[j]);
                    py[j] = acc;
                }
            }
        } else {
            for (int64_t r = 0; r < g; r++) {   /* any strides */
                const char *pr = pi + r * rs;
                char *pw = po + r * os;
                for (int64_t j = 0; j < inner; j++) {
                    KILN_R_OT acc = *(KILN_R_OT *)(pw + j * so);
                    KILN_R_COMBINE(acc, *(const KILN_R_IT *)(pr + j * si));
                    *(KILN_R_OT *)(pw + j * so) = acc;
                }
            }
        }
        /* the odometer moves g rows on (never past the end of axis dr), carrying into the axes
         * before it */
        it += g;
        if (ND >= 2) {
            int d = dr;
            pi += g * rs; po += g * os; idx[d] += g;
            while (idx[d] == in->shape[d]) {
                pi -= ist[d] * in->shape[d]; po -= ost[d] * in->shape[d];
                idx[d] = 0;
                if (--d < 0) break;
                pi += ist[d]; po += ost[d]; idx[d]++;
            }
        }
    }
}

#ifdef KILN_R_LIBRARY
__attribute__((visibility("default"), noinline)) int
#else
static __attribute__((noinline)) int
#endif
KILN_R(KILN_R_NAME_)(const kiln_buf *in, kiln_buf *out, const int nd, const int ond, const int *reduced,
                     const int nt, const int64_t par_min) {
    kiln_reduce_job job = {.in = in, .out = out, .nd = nd};
    int64_t n = 1, nout = 1, *ist = job.ist, *ost = job.ost;
    for (int d = 0, k = 0; d < nd; d++) {
        n *= in->shape[d];
        ist[d] = in->shape[d] == 1 ? 0 : in->strides[d];
        if (!reduced[d]) {
            if (out->shape[k] != in->shape[d]) return KILN_ESHAPE;
            ost[d] = out->shape[k] == 1 ? 0 : out->strides[k];
            k++;
        }
    }
    for (int k = 0; k < ond; k++) nout *= out->shape[k];
    if (!kiln_is_contig(out, ond, sizeof(KILN_R_OT))) return KILN_ELAYOUT;
    for (int64_t i = 0; i < nout; i++) ((KILN_R_OT *)out->data)[i] = KILN_R_INIT;
    if (n == 0) return 0;
    job.nout = nout;
    job.inner = nd ? in->shape[nd - 1] : 1;
    job.outer = n / job.inner;
    job.si = nd ? ist[nd - 1] : 0;
    job.so = nd ? ost[nd - 1] : 0;
    /* Threads take chunks of outer rows (a dynamic schedule, see kiln_nchunk_of).  When a
     * reduced axis is an outer one, rows of different chunks reach the same output element:
     * chunks c > 0 then accumulate into private copies, merged in chunk order after the loop,
     * so the result depends only on the sizes and the thread count, never on which thread ran
     * which chunk.  When those copies would be large next to the work, stay serial. */
    int64_t nchunk = 1;
    if (nt > 1 && n >= par_min && job.outer > 1) {
        nchunk = kiln_nchunk_of(n, job.outer, nt, par_min);
        int outer_reduced = 0;   /* a reduced axis is an outer one */
        for (int d = 0; d < nd - 1; d++) outer_reduced |= reduced[d];
        if (outer_reduced) {
            if (nout * (nchunk - 1) > n / 4) nchunk = nt < job.outer ? nt : job.outer;
            if (nout * (nchunk - 1) > n / 4
                    || (job.priv = (char *)malloc((size_t)(nout * (nchunk - 1)) * sizeof(KILN_R_OT))) == NULL)
                nchunk = 1;
            else
                for (int64_t i = 0; i < nout * (nchunk - 1); i++) ((KILN_R_OT *)job.priv)[i] = KILN_R_INIT;
        }
    }
    kiln_reduce_chunks(KILN_R(KILN_R_PART_), &job, nchunk, nt);
    if (job.priv) {   /* merge the private partial results in chunk order */
        KILN_R_OT *o = (KILN_R_OT *)out->data;
        for (int64_t c = 1; c < nchunk; c++)
            for (int64_t i = 0; i < nout; i++) {
                KILN_R_OT acc = o[i];
                KILN_R_COMBINE(acc, ((KILN_R_OT *)job.priv)[(c - 1) * nout + i]);
                o[i] = acc;
            }
        free(job.priv);
    }
    return 0;
}
#undef KILN_R_IT
#undef KILN_R_OT
#undef KILN_R_INIT
#undef KILN_R_COMBINE
#undef KILN_R_LANE_ITERS
#undef KILN_R_ROWS
#undef KILN_R
