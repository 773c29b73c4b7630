/* ${label} */
/* Indexing with integer arrays and slices (see kiln/linkers/c/ir_index.py): MODE 0 gathers
 * out = x[key]; MODE 1 (set) and 2 (inc) scatter y into out = a copy of x (none when out
 * is x itself: an in-place op).  The region (x[key]'s shape) is walked in C order with an
 * odometer carrying the target pointer (slice axes), the value pointer (out for a gather,
 * y broadcast for a scatter) and one pointer per index array; each index adds its x axis'
 * stride times its value.  Every index is checked before anything is read or written. */
${index_checks}
/* Python's slice.indices(n): the start and length of a slice with optional bounds */
static void ${name}_slice(int64_t n, int hs, int64_t s, int he, int64_t e, int64_t st,
                         int64_t *start, int64_t *len) {
    if (!hs) s = st > 0 ? 0 : n - 1;
    else if (s < 0) { s += n; if (s < 0) s = st > 0 ? 0 : -1; }
    else if (s >= n) s = st > 0 ? n : n - 1;
    if (!he) e = st > 0 ? n : -1;
    else if (e < 0) { e += n; if (e < 0) e = st > 0 ? 0 : -1; }
    else if (e >= n) e = st > 0 ? n : n - 1;
    *start = s;
    if (st > 0) *len = s < e ? (e - s - 1) / st + 1 : 0;
    else *len = e < s ? (s - e - 1) / (-st) + 1 : 0;
}

/* byte range [lo, hi) a buffer's elements occupy */
static void ${name}_extent(const kiln_buf *b, int64_t itemsize, const char **lo, const char **hi) {
    int64_t a = 0, z = itemsize;
    for (int d = 0; d < b->ndim; d++) {
        if (b->shape[d] == 0) { *lo = *hi = b->data; return; }
        const int64_t span = (b->shape[d] - 1) * b->strides[d];
        if (span < 0) a += span; else z += span;
    }
    *lo = b->data + a; *hi = b->data + z;
}

/* copy src into dst (same shape, any strides) */
static void ${name}_copy(const kiln_buf *src, kiln_buf *dst) {
    int64_t n = 1;
    const int nd = (int)src->ndim;
    for (int d = 0; d < nd; d++) n *= src->shape[d];
    if (n == 0) return;
    if (nd == 0) { *(${t} *)dst->data = *(const ${t} *)src->data; return; }
    const int64_t inner = src->shape[nd - 1], ss = src->strides[nd - 1], ds = dst->strides[nd - 1];
    int64_t idx[KILN_MAXDIM + 1] = {0};
    const char *ps = src->data;
    char *pd = dst->data;
    for (int64_t r = 0; r < n / inner; r++) {
        if (ss == (int64_t)sizeof(${t}) && ds == (int64_t)sizeof(${t})) {
            const ${t} *restrict a = (const ${t} *)ps;
            ${t} *restrict b = (${t} *)pd;
            for (int64_t j = 0; j < inner; j++) b[j] = a[j];
        } else {
            for (int64_t j = 0; j < inner; j++) *(${t} *)(pd + j * ds) = *(const ${t} *)(ps + j * ss);
        }
        for (int d = nd - 2; d >= 0; d--) {
            ps += src->strides[d]; pd += dst->strides[d];
            if (++idx[d] < src->shape[d]) break;
            ps -= src->strides[d] * src->shape[d]; pd -= dst->strides[d] * src->shape[d];
            idx[d] = 0;
        }
    }
}

static int ${name}(kiln_buf *B) {
    enum { XND = ${xnd}, RND = ${rnd}, NI = ${ni}, BND = ${bnd}, MODE = ${mode} };
    const kiln_buf *x = &B[${xbuf}];
    kiln_buf *out = &B[${obuf}];
    const kiln_buf *v = &B[${vbuf}];   /* the value operand: out (gather) or y (scatter) */
    const kiln_buf *ix[NI + 1] = { ${ixbufs} };
    static const int iax[NI + 1] = { ${iaxes} };   /* the x axis each index array indexes */
    static const int rsrc[RND + 1] = { ${rsrc} };  /* per region axis: x axis, -1 - block axis, or new */
    int64_t start[XND + 1], step[XND + 1], len[XND + 1];
    for (int d = 0; d < XND; d++) { start[d] = 0; step[d] = 1; len[d] = x->shape[d]; }
    (void)iax;
${slices}
    if (MODE != 0) {   /* a scatter's output has x's shape */
        for (int d = 0; d < XND; d++) if (out->shape[d] != x->shape[d]) return KILN_ESHAPE;
    }
    const kiln_buf *t = MODE == 0 ? x : out;   /* the indexed array */
    /* the block: the index arrays broadcast together (right-aligned) */
    int64_t bshape[BND + 1], nb = 1;
    for (int j = 0; j < BND; j++) bshape[j] = 1;
    for (int k = 0; k < NI; k++) {
        const int off = BND - (int)ix[k]->ndim;
        if (off < 0) return KILN_ESHAPE;
        for (int a = 0; a < ix[k]->ndim; a++) {
            const int64_t s = ix[k]->shape[a];
            if (s == 1) continue;
            if (bshape[off + a] == 1) bshape[off + a] = s;
            else if (bshape[off + a] != s) return KILN_ESHAPE;
        }
    }
    for (int j = 0; j < BND; j++) nb *= bshape[j];
    /* NumPy checks every index (even for an empty subspace) unless the block is empty */
    if (nb > 0) {
${checks}
    }
    int64_t rshape[RND + 1], ts[RND + 1], vs[RND + 1], ks[NI + 1][RND + 1], total = 1;
    for (int a = 0; a < RND; a++) {
        const int src = rsrc[a];
        for (int k = 0; k < NI; k++) ks[k][a] = 0;
        if (src >= 0) { rshape[a] = len[src]; ts[a] = step[src] * t->strides[src]; }
        else if (src == ${newaxis}) { rshape[a] = 1; ts[a] = 0; }
        else {
            const int j = -1 - src;
            rshape[a] = bshape[j]; ts[a] = 0;
            for (int k = 0; k < NI; k++) {
                const int ak = j - (BND - (int)ix[k]->ndim);
                if (ak >= 0 && ix[k]->shape[ak] != 1) ks[k][a] = ix[k]->strides[ak];
            }
        }
        total *= rshape[a];
    }
    if (MODE == 0) {
        if (out->ndim != RND) return KILN_ESHAPE;
        for (int a = 0; a < RND; a++) {
            if (out->shape[a] != rshape[a]) return KILN_ESHAPE;
            vs[a] = out->strides[a];
        }
    } else {
        const int lead = RND - (int)v->ndim;
        if (lead < 0) return KILN_ESHAPE;
        for (int a = 0; a < RND; a++) {
            if (a < lead || v->shape[a - lead] == 1) { vs[a] = 0; continue; }
            if (v->shape[a - lead] != rshape[a]) return KILN_ESHAPE;
            vs[a] = v->strides[a - lead];
        }
    }
    if (MODE != 0 && out->data != x->data) ${name}_copy(x, out);
    if (total == 0) return 0;
    char *tbase = t->data;
    for (int d = 0; d < XND; d++) tbase += start[d] * t->strides[d];
    /* a scatter from a y that overlaps the output (an in-place update by a view of itself)
     * reads a copy of y, as NumPy does */
    const char *vdata = v->data;
    void *tmp = NULL;
    if (MODE != 0) {
        const char *vlo, *vhi, *olo, *ohi;
        ${name}_extent(v, sizeof(${t}), &vlo, &vhi);
        ${name}_extent(out, sizeof(${t}), &olo, &ohi);
        if (vlo < ohi && olo < vhi) {
            int64_t n = 1;
            kiln_buf c = *v;
            for (int d = (int)v->ndim - 1; d >= 0; d--) { c.strides[d] = n * (int64_t)sizeof(${t}); n *= v->shape[d]; }
            tmp = malloc((size_t)(n > 0 ? n : 1) * sizeof(${t}));
            if (tmp == NULL) return KILN_ENOMEM;
            c.data = (char *)tmp;
            ${name}_copy(v, &c);
            vdata = c.data;
            for (int a = 0; a < RND; a++) {
                const int av = a - (RND - (int)v->ndim);
                if (vs[a] != 0) vs[a] = c.strides[av];
            }
        }
    }
    const int in = RND > 0 ? RND - 1 : 0;
    const int64_t m = RND > 0 ? rshape[RND - 1] : 1;
    const int64_t tsi = RND > 0 ? ts[in] : 0, vsi = RND > 0 ? vs[in] : 0;
    int inv = 1;   /* the indices do not change along the inner axis: one offset per row */
    for (int k = 0; k < NI; k++) if (RND > 0 && ks[k][in] != 0) inv = 0;
    const int64_t nouter = total / m;
    int64_t ridx[KILN_MAXDIM + 1] = {0};
    const char *pk[NI + 1];
    for (int k = 0; k < NI; k++) pk[k] = ix[k]->data;
    char *pt = tbase;
    const char *pv = vdata;
    for (int64_t it = 0; it < nouter; it++) {
        if (inv) {
            int64_t off = 0;
${row_offsets}
            char *p = pt + off;
            if (tsi == (int64_t)sizeof(${t}) && vsi == (int64_t)sizeof(${t})) {
                ${unit_loop}
            } else {
                for (int64_t j = 0; j < m; j++) {
                    char *P = p + j * tsi;
                    const char *V = pv + j * vsi;
                    ${elem}
                }
            }
        } else {
            for (int64_t j = 0; j < m; j++) {
                int64_t off = 0;
${elem_offsets}
                char *P = pt + j * tsi + off;
                const char *V = pv + j * vsi;
                ${elem}
            }
        }
        for (int d = RND - 2; d >= 0; d--) {   /* next row of the region */
            pt += ts[d]; pv += vs[d];
            for (int k = 0; k < NI; k++) pk[k] += ks[k][d];
            if (++ridx[d] < rshape[d]) break;
            pt -= ts[d] * rshape[d]; pv -= vs[d] * rshape[d];
            for (int k = 0; k < NI; k++) pk[k] -= ks[k][d] * rshape[d];
            ridx[d] = 0;
        }
    }
    free(tmp);
    return 0;
}
