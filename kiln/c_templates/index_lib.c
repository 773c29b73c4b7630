/* Gather and scatter with integer arrays and slices, in kiln's library (driver_lib.c): the one
 * implementation behind every IndexKernel (see index_decl.c and kiln/linkers/c/ir_index.py).
 *
 * MODE 0 gathers out = x[key]; MODE 1 (set) and 2 (inc) scatter y into out = a copy of x (none
 * when out is x itself: an in-place op).  The region (x[key]'s shape) is walked in C order with
 * an odometer carrying the target pointer (slice axes), the value pointer (out for a gather, y
 * broadcast for a scatter) and one pointer per index array; each index adds its x axis' stride
 * times its value.  Every index is checked before anything is read or written, so a failing
 * in-place update leaves its input intact.  inc adds one index position after the other in
 * the region's C order, in x's dtype, so repeated indices accumulate exactly as np.add.at.
 * The element type is the descriptors' (one loop per dtype below); index arrays may have any
 * integer dtype (one load per index, or per row when the indices do not change along it). */
/* after index_decl.c, with KILN_LIBRARY_BUILD defined (driver_lib.c) */
#include <string.h>

/* X(dtype code, C type) for every dtype of the descriptors (kiln/linkers/c/types.py) */
#define KILN_IX_DTYPES(X) X(0, bool) X(1, int8_t) X(2, int16_t) X(3, int32_t) X(4, int64_t) \
    X(5, uint8_t) X(6, uint16_t) X(7, uint32_t) X(8, uint64_t) X(9, float) X(10, double)
#define KILN_IX_INTS(X) X(1, int8_t) X(2, int16_t) X(3, int32_t) X(4, int64_t) \
    X(5, uint8_t) X(6, uint16_t) X(7, uint32_t) X(8, uint64_t)

static int64_t kiln_ix_itemsize(int64_t code) {
    switch (code) {
#define KILN_IX_SIZE(c, T) case c: return (int64_t)sizeof(T);
    KILN_IX_DTYPES(KILN_IX_SIZE)
#undef KILN_IX_SIZE
    }
    return 0;
}

/* One index value as int64 (huge uint64 values saturate: they are out of bounds anyway) */
static inline int64_t kiln_ix_load(const char *p, int64_t code) {
    switch (code) {
    case 4: return *(const int64_t *)p;
    case 3: return *(const int32_t *)p;
    case 1: return *(const int8_t *)p;
    case 2: return *(const int16_t *)p;
    case 5: return *(const uint8_t *)p;
    case 6: return *(const uint16_t *)p;
    case 7: return *(const uint32_t *)p;
    default: { const uint64_t q = *(const uint64_t *)p; return q > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)q; }
    }
}

/* 1 when an index of b is outside [-n, n) (unsigned indices never wrap) */
static int kiln_ix_check(const kiln_buf *b, int64_t n) {
    int64_t cnt = 1;
    for (int d = 0; d < b->ndim; d++) cnt *= b->shape[d];
    int64_t idx[KILN_MAXDIM + 1] = {0};
    const char *p = b->data;
    const int64_t code = b->dtype;
    for (int64_t i = 0; i < cnt; i++) {
        const int64_t q = kiln_ix_load(p, code);
        if (code >= 5 ? (uint64_t)q >= (uint64_t)n : (q < -n || q >= n)) return 1;
        for (int d = (int)b->ndim - 1; d >= 0; d--) {
            p += b->strides[d];
            if (++idx[d] < b->shape[d]) break;
            p -= b->strides[d] * b->shape[d];
            idx[d] = 0;
        }
    }
    return 0;
}

/* Python's slice.indices(n): the start and length of a slice with optional bounds */
static void kiln_ix_slice(int64_t n, int hs, int64_t s, int he, int64_t e, int64_t st,
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
static void kiln_ix_extent(const kiln_buf *b, int64_t itemsize, const char **lo, const char **hi) {
    int64_t a = 0, z = itemsize;
    for (int d = 0; d < b->ndim; d++) {
        if (b->shape[d] == 0) { *lo = *hi = b->data; return; }
        const int64_t span = (b->shape[d] - 1) * b->strides[d];
        if (span < 0) a += span; else z += span;
    }
    *lo = b->data + a; *hi = b->data + z;
}

/* copy src into dst (same shape, any strides), items of `size` bytes */
static void kiln_ix_copy(const kiln_buf *src, kiln_buf *dst, int64_t size) {
    int64_t n = 1;
    const int nd = (int)src->ndim;
    for (int d = 0; d < nd; d++) n *= src->shape[d];
    if (n == 0) return;
    if (nd == 0) { memcpy(dst->data, src->data, (size_t)size); return; }
    const int64_t inner = src->shape[nd - 1], ss = src->strides[nd - 1], ds = dst->strides[nd - 1];
    int64_t idx[KILN_MAXDIM + 1] = {0};
    const char *ps = src->data;
    char *pd = dst->data;
    for (int64_t r = 0; r < n / inner; r++) {
        if (ss == size && ds == size) memcpy(pd, ps, (size_t)(inner * size));
        else kiln_copy_items(pd, ds, ps, ss, inner, size);
        for (int d = nd - 2; d >= 0; d--) {
            ps += src->strides[d]; pd += dst->strides[d];
            if (++idx[d] < src->shape[d]) break;
            ps -= src->strides[d] * src->shape[d]; pd -= dst->strides[d] * src->shape[d];
            idx[d] = 0;
        }
    }
}

/* m elements of a row: target p (byte stride ts), value pv (byte stride vs); a gather copies
 * target -> value, set copies value -> target, inc adds value into target in its dtype */
#define KILN_IX_ROW(c, T) \
static void kiln_ix_row_##c(int mode, char *p, int64_t ts, char *pv, int64_t vs, int64_t m) { \
    if (ts == (int64_t)sizeof(T) && vs == (int64_t)sizeof(T)) { \
        T *restrict t = (T *)p; T *restrict v = (T *)pv; \
        if (mode == 0) for (int64_t j = 0; j < m; j++) v[j] = t[j]; \
        else if (mode == 1) for (int64_t j = 0; j < m; j++) t[j] = v[j]; \
        else for (int64_t j = 0; j < m; j++) t[j] = (T)(t[j] + v[j]); \
        return; \
    } \
    if (mode == 0) for (int64_t j = 0; j < m; j++) *(T *)(pv + j * vs) = *(const T *)(p + j * ts); \
    else if (mode == 1) for (int64_t j = 0; j < m; j++) *(T *)(p + j * ts) = *(const T *)(pv + j * vs); \
    else for (int64_t j = 0; j < m; j++) { T *q = (T *)(p + j * ts); *q = (T)(*q + *(const T *)(pv + j * vs)); } \
}
KILN_IX_DTYPES(KILN_IX_ROW)
#undef KILN_IX_ROW

/* The byte offset the index arrays give at element j of a row (their pointers pk, their
 * byte strides along the row ks, the x axes' lengths and strides) */
typedef struct { int ni; const char *const *pk; const int64_t *ks, *code, *xdim, *xstr; } kiln_ix_at;
static inline int64_t kiln_ix_offset(const kiln_ix_at *a, int64_t j) {
    int64_t off = 0;
    for (int k = 0; k < a->ni; k++) {
        int64_t q = kiln_ix_load(a->pk[k] + j * a->ks[k], a->code[k]);
        if (q < 0) q += a->xdim[k];
        off += q * a->xstr[k];
    }
    return off;
}

/* m elements of a row along which the indices change (x[idx] of a vector, say): the same
 * operations, each at its own offset; one int64 index array is the common case */
#define KILN_IX_ELEMS(c, T) \
static void kiln_ix_elems_##c(int mode, char *p, int64_t ts, char *pv, int64_t vs, int64_t m, \
                              const kiln_ix_at *a) { \
    const int fast = a->ni == 1 && a->code[0] == 4; \
    const int64_t *restrict q1 = (const int64_t *)a->pk[0]; \
    const int64_t qs = a->ks[0] / 8, n1 = a->xdim[0], s1 = a->xstr[0]; \
    for (int64_t j = 0; j < m; j++) { \
        int64_t off; \
        if (fast) { const int64_t q = q1[j * qs]; off = (q < 0 ? q + n1 : q) * s1; } \
        else off = kiln_ix_offset(a, j); \
        T *P = (T *)(p + j * ts + off), *V = (T *)(pv + j * vs); \
        if (mode == 0) *V = *P; \
        else if (mode == 1) *P = *V; \
        else *P = (T)(*P + *V); \
    } \
}
KILN_IX_DTYPES(KILN_IX_ELEMS)
#undef KILN_IX_ELEMS

typedef void (*kiln_ix_row_fn)(int, char *, int64_t, char *, int64_t, int64_t);
typedef void (*kiln_ix_elems_fn)(int, char *, int64_t, char *, int64_t, int64_t, const kiln_ix_at *);

__attribute__((visibility("default")))
int kiln_index(kiln_buf *const *op, const kiln_index_spec *s) {
    const int XND = s->xnd, RND = s->rnd, NI = s->ni, BND = s->bnd, MODE = s->mode;
    const kiln_buf *x = op[0];
    kiln_buf *out = op[1];
    const kiln_buf *v = op[2];   /* the value operand: out (gather) or y (scatter) */
    const kiln_buf *const *ix = (const kiln_buf *const *)op + 3;
    const int64_t size = kiln_ix_itemsize(x->dtype);
    kiln_ix_row_fn row = NULL;
    kiln_ix_elems_fn elems = NULL;
    switch (x->dtype) {
#define KILN_IX_PICK(c, T) case c: row = kiln_ix_row_##c; elems = kiln_ix_elems_##c; break;
    KILN_IX_DTYPES(KILN_IX_PICK)
#undef KILN_IX_PICK
    default: return KILN_EDTYPE;
    }
    if (out->dtype != x->dtype || v->dtype != x->dtype) return KILN_EDTYPE;
    int64_t start[KILN_MAXDIM + 1], step[KILN_MAXDIM + 1], len[KILN_MAXDIM + 1];
    for (int d = 0; d < XND; d++) {
        start[d] = 0; step[d] = 1; len[d] = x->shape[d];
        if (s->slice[d][0]) {
            const int64_t st = s->slice[d][5];
            if (st == 0) return KILN_ESHAPE;
            step[d] = st;
            kiln_ix_slice(x->shape[d], (int)s->slice[d][1], s->slice[d][2], (int)s->slice[d][3],
                          s->slice[d][4], st, &start[d], &len[d]);
        }
    }
    if (MODE != 0) {   /* a scatter's output has x's shape */
        for (int d = 0; d < XND; d++) if (out->shape[d] != x->shape[d]) return KILN_ESHAPE;
    }
    const kiln_buf *t = MODE == 0 ? x : out;   /* the indexed array */
    /* the block: the index arrays broadcast together (right-aligned) */
    int64_t bshape[KILN_MAXDIM + 1], nb = 1;
    for (int j = 0; j < BND; j++) bshape[j] = 1;
    for (int k = 0; k < NI; k++) {
        if (ix[k]->dtype < 1 || ix[k]->dtype > 8) return KILN_EDTYPE;
        const int off = BND - (int)ix[k]->ndim;
        if (off < 0) return KILN_ESHAPE;
        for (int a = 0; a < ix[k]->ndim; a++) {
            const int64_t sz = ix[k]->shape[a];
            if (sz == 1) continue;
            if (bshape[off + a] == 1) bshape[off + a] = sz;
            else if (bshape[off + a] != sz) return KILN_ESHAPE;
        }
    }
    for (int j = 0; j < BND; j++) nb *= bshape[j];
    /* NumPy checks every index (even for an empty subspace) unless the block is empty */
    if (nb > 0)
        for (int k = 0; k < NI; k++)
            if (kiln_ix_check(ix[k], x->shape[s->iax[k]])) return KILN_EINDEX;
    int64_t rshape[KILN_MAXDIM + 1], ts[KILN_MAXDIM + 1], vs[KILN_MAXDIM + 1], total = 1;
    int64_t ks[KILN_MAXDIM + 1][KILN_MAXDIM + 1];   /* per index array and region axis: its byte stride */
    for (int a = 0; a < RND; a++) {
        const int src = s->rsrc[a];
        for (int k = 0; k < NI; k++) ks[k][a] = 0;
        if (src >= 0) { rshape[a] = len[src]; ts[a] = step[src] * t->strides[src]; }
        else if (src == KILN_NEWAXIS) { rshape[a] = 1; ts[a] = 0; }
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
    if (MODE != 0 && out->data != x->data) kiln_ix_copy(x, out, size);
    if (total == 0) return 0;
    char *tbase = t->data;
    for (int d = 0; d < XND; d++) tbase += start[d] * t->strides[d];
    /* a scatter from a y that overlaps the output (an in-place update by a view of itself)
     * reads a copy of y, as NumPy does */
    char *vdata = v->data;
    void *tmp = NULL;
    if (MODE != 0) {
        const char *vlo, *vhi, *olo, *ohi;
        kiln_ix_extent(v, size, &vlo, &vhi);
        kiln_ix_extent(out, size, &olo, &ohi);
        if (vlo < ohi && olo < vhi) {
            int64_t n = 1;
            kiln_buf c = *v;
            for (int d = (int)v->ndim - 1; d >= 0; d--) { c.strides[d] = n * size; n *= v->shape[d]; }
            tmp = malloc((size_t)((n > 0 ? n : 1) * size));
            if (tmp == NULL) return KILN_ENOMEM;
            c.data = (char *)tmp;
            kiln_ix_copy(v, &c, size);
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
    int64_t ridx[KILN_MAXDIM + 1] = {0}, xdim[KILN_MAXDIM + 1], xstr[KILN_MAXDIM + 1];
    int64_t code[KILN_MAXDIM + 1], kin[KILN_MAXDIM + 1];
    const char *pk[KILN_MAXDIM + 1];
    for (int k = 0; k < NI; k++) {
        pk[k] = ix[k]->data;
        xdim[k] = x->shape[s->iax[k]];
        xstr[k] = t->strides[s->iax[k]];
        code[k] = ix[k]->dtype;
        kin[k] = RND > 0 ? ks[k][in] : 0;
    }
    const kiln_ix_at at = { NI, pk, kin, code, xdim, xstr };
    char *pt = tbase, *pv = vdata;
    for (int64_t it = 0; it < nouter; it++) {
        if (inv) row(MODE, pt + kiln_ix_offset(&at, 0), tsi, pv, vsi, m);
        else elems(MODE, pt, tsi, pv, vsi, m, &at);
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

/* the declaration modules see (index_decl.c) matches this definition: a mismatch fails the build */
static const kiln_index_fn kiln_index_decl_check __attribute__((unused)) = kiln_index;
