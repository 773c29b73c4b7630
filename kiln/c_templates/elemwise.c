/* Elementwise loops: the driver.  Each elementwise kernel of a module is its scalar expression
 * over n elements of unit-stride operands, a "row function" (elemwise_row.c), plus a call of
 * this one driver, which owns every loop path: contiguous operands (one call over [lo, hi)),
 * the streaming blocks of very large loops, and the general strided/broadcast case.  The
 * driver does no arithmetic of its own (it moves bytes and calls the row function), so it is
 * compiled once, when kiln is installed (driver_lib.c, built by setup.py; or once per module
 * cache where that build is missing), and handed to every module as a pointer when the module
 * is loaded (elemwise_decl.c): a module's C compiler sees each expression once and no loop
 * paths at all.  The thread count, the threading threshold and the streaming size are
 * arguments, from the calling module's compile-time settings (KILN_NT, KILN_PAR_MIN,
 * KILN_STREAM_MIN). */

/* Elements [lo, hi) of one row by blocks: operand k starts at p[k] with byte stride ss[k];
 * direct operands (unit stride) are used in place, the others go through stack buffers:
 * inputs gathered (or, broadcast along the row, filled once), outputs scattered back (or,
 * with `stream`, written out with non-temporal stores).  Blocks end on the grid {p0, p0 +
 * blk, ...}; with `stream` every block is computed at its full length blk, a short one on
 * inputs padded with its first element (valid for every op), so no element goes through the
 * row loop's scalar tail. */
static __attribute__((noinline, noclone)) void kiln_blocks(
        kiln_row_fn row, int nop, int nout, const int64_t *sz, char *const *p, const int64_t *ss,
        const int *direct, int64_t lo, int64_t hi, int64_t p0, int64_t blk, int stream) {
    char *q[nop], g[nop][KILN_GBLOCK * 8] __attribute__((aligned(64)));
    for (int k = nout; k < nop; k++)   /* an input broadcast along the row: one value, filled once */
        if (!direct[k] && ss[k] == 0) kiln_fill(g[k], p[k], hi - lo < blk ? hi - lo : blk, sz[k]);
    for (int64_t b = lo, e; b < hi; b = e) {
        e = b < p0 ? p0 : p0 + (b - p0) / blk * blk + blk;
        if (e > hi) e = hi;
        const int64_t nb = e - b, m = stream ? blk : nb;
        for (int k = 0; k < nop; k++) {
            q[k] = direct[k] && nb == m ? p[k] + b * ss[k] : g[k];
            if (k >= nout && q[k] == g[k] && ss[k] != 0) {
                kiln_copy_items(g[k], sz[k], p[k] + b * ss[k], ss[k], nb, sz[k]);
                if (m > nb) kiln_copy_items(g[k] + nb * sz[k], sz[k], g[k], 0, m - nb, sz[k]);   /* the padding */
            }
        }
        row(m, q);
        for (int k = 0; k < nout; k++) {
            if (q[k] != g[k]) continue;
#if KILN_STREAM
            if (stream) { kiln_stream(p[k] + b * ss[k], g[k], nb * sz[k]); continue; }
#endif
            kiln_copy_items(p[k] + b * ss[k], ss[k], g[k], sz[k], nb, sz[k]);
        }
    }
}

/* One elementwise loop, digested by kiln_elemwise for the parts that run it (one per chunk) */
typedef struct {
    kiln_buf *const *op;
    int nop, nout, nd, unit;
    const int64_t *sz, *shape, *ss;
    kiln_row_fn row;
    char *const *p;
    const int *direct;
    int64_t n, op_bytes, stream_min, inner, outer;
    int exact;   /* the row's results do not depend on where a loop is split (no vector libm) */
    const int64_t (*st)[KILN_MAXDIM + 1];
} kiln_ew;

/* Chunk c of nchunk of a loop over contiguous operands */
static void kiln_ew_contig(const kiln_ew *e, int64_t c, int64_t nchunk) {
    int64_t lo = 0, hi = e->n;
    if (nchunk > 1) kiln_chunk(e->n, (int)c, (int)nchunk, 63, &lo, &hi);
#if KILN_STREAM
    /* Operands much larger than the last-level cache (the output is then not in the cache
     * either): compute a block into an L1-resident buffer, then write it out with
     * non-temporal stores, which skip the read-for-ownership of every output line (a
     * third of the memory traffic of a plain store).  Smaller loops store normally: their
     * output, reused by the allocator call after call, is usually still cached.
     * Blocks lie on one grid over the whole array: [0, p0) up to the first 64-byte
     * boundary of output 0 (so full blocks stream without unaligned ends), then every
     * KILN_BLOCK elements; chunk edges move onto the grid.  Short blocks (the first,
     * the last) are computed padded by the same vector loop as full ones: no element
     * goes through a scalar tail, whose libm results may differ from libmvec's in the
     * last bit, so results depend neither on the output's address nor on the thread
     * count. */
    if (e->n * e->op_bytes >= e->stream_min) {
        const int64_t p0 = kiln_peel(e->op[0]->data, e->sz[0]);
        kiln_blocks(e->row, e->nop, e->nout, e->sz, e->p, e->sz, e->direct, kiln_grid(lo, p0, e->n),
                    kiln_grid(hi, p0, e->n), p0, KILN_BLOCK, 1);
        kiln_sfence();
        return;
    }
#endif
    char *q[e->nop];
    if (e->exact) {
        /* start the vector loop on a 64-byte boundary of output 0 (NumPy's big arrays start 16
         * bytes past one: every unaligned 64-byte store would straddle two cache lines);
         * only for a row whose results do not depend on where the loop is split */
        int64_t pe = kiln_peel(e->p[0] + lo * e->sz[0], e->sz[0]);
        if (pe > hi - lo) pe = hi - lo;
        if (pe > 0) {
            for (int k = 0; k < e->nop; k++) q[k] = e->p[k] + lo * e->sz[k];
            e->row(pe, q);
            lo += pe;
        }
    }
    for (int k = 0; k < e->nop; k++) q[k] = e->p[k] + lo * e->sz[k];
    e->row(hi - lo, q);
}

/* Chunk c of nchunk of the outer rows of a strided/broadcast loop: an odometer over the
 * outer axes.  Rows whose operands all have unit inner strides go to the row function whole
 * (a row of one element counts as unit); other rows go by blocks (kiln_blocks), their non-unit
 * operands gathered into (outputs scattered from) stack buffers, so no strided copy of the
 * expression is compiled. */
static void kiln_ew_general(const kiln_ew *e, int64_t c, int64_t nchunk) {
    const int nop = e->nop, nd = e->nd;
    const int64_t *shape = e->shape;
    int64_t lo = 0, hi = e->outer, idx[KILN_MAXDIM + 1] = {0};
    if (nchunk > 1) kiln_chunk(e->outer, (int)c, (int)nchunk, 0, &lo, &hi);
    char *pr[nop];
    for (int k = 0; k < nop; k++) pr[k] = e->p[k];
    int64_t rem = lo;   /* the odometer's position at row lo */
    for (int d = nd - 2; d >= 0 && rem; d--) {
        idx[d] = rem % shape[d];
        rem /= shape[d];
        for (int k = 0; k < nop; k++) pr[k] += idx[d] * e->st[k][d];
    }
    for (int64_t it = lo; it < hi; it++) {
        if (e->unit) e->row(e->inner, pr);
        else kiln_blocks(e->row, nop, e->nout, e->sz, pr, e->ss, e->direct, 0, e->inner, 0, KILN_GBLOCK, 0);
        for (int d = nd - 2; d >= 0; d--) {
            for (int k = 0; k < nop; k++) pr[k] += e->st[k][d];
            if (++idx[d] < shape[d]) break;
            for (int k = 0; k < nop; k++) pr[k] -= e->st[k][d] * shape[d];
            idx[d] = 0;
        }
    }
}

/* Every chunk of a loop: on nt threads when there are several chunks, else called directly
 * (an OpenMP region, even one its `if` keeps on one thread, costs ~0.7 us: twice the whole
 * call of a one-element `x + 1`). */
static void kiln_ew_run(void (*part)(const kiln_ew *, int64_t, int64_t), const kiln_ew *e, int64_t nchunk,
                        int nt) {
    if (nchunk > 1) {
        #pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
        for (int64_t c = 0; c < nchunk; c++) part(e, c, nchunk);
    } else {
        part(e, 0, 1);
    }
}

__attribute__((visibility("default"))) int kiln_elemwise(
        kiln_buf *const *op, int nop, int nout, int nd, const int64_t *sz, kiln_row_fn row, int exact,
        uint64_t scalars, int nt, int64_t par_min, int64_t stream_min) {
    /* op: outputs first, then inputs; sz: their item sizes; bit k of `scalars`: the row function
     * reads operand k only at its first element (an input broadcast along the rows, whose last
     * axis has static length 1: it gets the row's element, never a filled row) */
    const int64_t *shape = op[0]->shape;
    int64_t n = 1;
    for (int d = 0; d < nd; d++) n *= shape[d];
    for (int k = 1; k < nop; k++)
        for (int d = 0; d < nd; d++)
            if (op[k]->shape[d] != shape[d] && !(k >= nout && op[k]->shape[d] == 1)) return KILN_ESHAPE;
    if (n == 0) return 0;
    int contig = 1, direct[nop];   /* the contiguous path also needs every input to have the full shape */
    int64_t op_bytes = 0;   /* bytes per element of all operands: the loop streams past the cache */
    char *p[nop];
    for (int k = 0; k < nop; k++) {
        contig &= kiln_is_contig(op[k], nd, sz[k]) && (k < nout || kiln_same_shape(op[k], shape, nd));
        op_bytes += sz[k];
        direct[k] = k >= nout;
        p[k] = op[k]->data;
    }
    /* a row spanning several rows of an input the row function reads once: not contiguous */
    if (scalars && nd > 0 && shape[nd - 1] == 1 && n > 1) contig = 0;
    kiln_ew e = {.op = op, .nop = nop, .nout = nout, .nd = nd, .sz = sz, .shape = shape, .row = row, .p = p,
                 .direct = direct, .n = n, .op_bytes = op_bytes, .stream_min = stream_min, .exact = exact};
    if (contig) {
        const int par = nt > 1 && n >= par_min;
        kiln_ew_run(kiln_ew_contig, &e, par ? kiln_nchunk_of(n, n, nt, par_min) : 1, nt);
        return 0;
    }
    /* general case: byte strides, zero on broadcast axes */
    int64_t st[nop][KILN_MAXDIM + 1], ss[nop];
    for (int k = 0; k < nop; k++) {
        for (int d = 0; d < nd; d++) st[k][d] = op[k]->shape[d] == 1 ? 0 : op[k]->strides[d];
        ss[k] = nd ? st[k][nd - 1] : 0;
    }
    e.inner = nd ? shape[nd - 1] : 1;
    e.outer = n / e.inner;
    e.unit = 1;
    for (int k = 0; k < nop; k++) e.unit &= direct[k] = ss[k] == sz[k] || e.inner == 1 || (k < 64 && (scalars >> k & 1));
    e.st = (const int64_t (*)[KILN_MAXDIM + 1])st;
    e.ss = ss;
    const int par = nt > 1 && n >= par_min && e.outer > 1;
    kiln_ew_run(kiln_ew_general, &e, par ? kiln_nchunk_of(n, e.outer, nt, par_min) : 1, nt);
    return 0;
}
