/* SumToShape and Alloc in kiln's library (driver_lib.c), compiled once: their kernels in a
 * module are calls (shape_decl.c, kiln/linkers/c/render_shape_ops.py).  Their element types
 * and ranks come from the descriptors. */
/* after shape_decl.c, with KILN_LIBRARY_BUILD defined (driver_lib.c) */
#include <string.h>

/* X(dtype code, C type, 1 for a sum by independent partial sums) per descriptor dtype; the sum
 * of bools is NumPy's logical or, elsewhere the sum wraps in the dtype (-fwrapv) */
#define KILN_SH_DTYPES(X) X(0, bool, 0) X(1, int8_t, 1) X(2, int16_t, 1) X(3, int32_t, 1) X(4, int64_t, 1) \
    X(5, uint8_t, 1) X(6, uint16_t, 1) X(7, uint32_t, 1) X(8, uint64_t, 1) X(9, float, 1) X(10, double, 1)

/* One row of the input into the output: summed into one value (so == 0, the accumulator in
 * registers, partial sums in vector lanes) or added element by element */
#define KILN_SH_ROW(c, T, LANES) \
static void kiln_sts_row_##c(const char *pi, int64_t si, char *po, int64_t so, int64_t inner) { \
    if (so == 0) { \
        T acc = *(T *)po; \
        int64_t j = 0; \
        if (LANES && si == (int64_t)sizeof(T) && inner >= 2 * KILN_LANES) { \
            const T *restrict px = (const T *)pi; \
            T part[KILN_LANES]; \
            for (int u = 0; u < KILN_LANES; u++) part[u] = 0; \
            for (; j + KILN_LANES <= inner; j += KILN_LANES) \
                for (int u = 0; u < KILN_LANES; u++) part[u] = (T)(part[u] + px[j + u]); \
            for (int u = 0; u < KILN_LANES; u++) acc = (T)(acc + part[u]); \
        } \
        for (; j < inner; j++) { const T x = *(const T *)(pi + j * si); acc = (T)(acc + x); } \
        *(T *)po = acc; \
    } else if (si == (int64_t)sizeof(T) && so == (int64_t)sizeof(T)) { \
        const T *restrict px = (const T *)pi; \
        T *restrict py = (T *)po; \
        for (int64_t j = 0; j < inner; j++) py[j] = (T)(py[j] + px[j]); \
    } else { \
        for (int64_t j = 0; j < inner; j++) { \
            T *q = (T *)(po + j * so); \
            *q = (T)(*q + *(const T *)(pi + j * si)); \
        } \
    } \
}
KILN_SH_DTYPES(KILN_SH_ROW)
#undef KILN_SH_ROW

/* SumToShape: each input axis is classified from the descriptors' shapes at run time: summed
 * away (leading), summed and kept (output length 1, where cand allows it), stretched (bcast:
 * input length 1) or matching.  The output is zeroed, then the input is iterated once with
 * the output's strides zeroed on summed axes and the input's zeroed on stretched ones. */
__attribute__((visibility("default")))
int kiln_sum_to_shape(const kiln_buf *in, kiln_buf *out, const int *cand, int bcast) {
    const int IND = (int)in->ndim, OND = (int)out->ndim, LEAD = IND - OND;
    void (*row)(const char *, int64_t, char *, int64_t, int64_t) = NULL;
    int64_t size = 0;
    switch (out->dtype) {
#define KILN_SH_PICK(c, T, LANES) case c: row = kiln_sts_row_##c; size = (int64_t)sizeof(T); break;
    KILN_SH_DTYPES(KILN_SH_PICK)
#undef KILN_SH_PICK
    default: return KILN_EDTYPE;
    }
    if (LEAD < 0 || in->dtype != out->dtype) return KILN_EDTYPE;
    int64_t shp[KILN_MAXDIM + 1] = {0}, ist[KILN_MAXDIM + 1] = {0}, ost[KILN_MAXDIM + 1] = {0};
    int64_t n = 1, nout = 1;
    int same = LEAD == 0 && out->data == in->data;
    for (int d = 0; d < IND; d++) {
        const int64_t s = in->shape[d];
        if (d < LEAD) {
            shp[d] = s; ist[d] = s == 1 ? 0 : in->strides[d];
        } else {
            const int k = d - LEAD;
            const int64_t t = out->shape[k];
            if (s == t) {
                shp[d] = s; ist[d] = s == 1 ? 0 : in->strides[d]; ost[d] = t == 1 ? 0 : out->strides[k];
                same = same && (s == 1 || out->strides[k] == in->strides[d]);
            } else if (t == 1 && cand[k]) {
                shp[d] = s; ist[d] = in->strides[d]; same = 0;
            } else if (bcast && s == 1) {
                shp[d] = t; ost[d] = out->strides[k]; same = 0;
            } else {
                return KILN_ESHAPE;
            }
        }
        n *= shp[d];
    }
    if (same) return 0;   /* the output is the input itself: nothing to sum or stretch */
    for (int k = 0; k < OND; k++) nout *= out->shape[k];
    if (!kiln_is_contig(out, OND, size)) return KILN_ELAYOUT;
    memset(out->data, 0, (size_t)(nout * size));
    if (n == 0) return 0;
    const int64_t inner = IND ? shp[IND - 1] : 1, outer = n / inner;
    const int64_t si = IND ? ist[IND - 1] : 0, so = IND ? ost[IND - 1] : 0;
    int64_t idx[KILN_MAXDIM + 1] = {0};
    const char *pi = in->data;
    char *po = out->data;
    for (int64_t it = 0; it < outer; it++) {
        row(pi, si, po, so, inner);
        for (int d = IND - 2; d >= 0; d--) {
            pi += ist[d]; po += ost[d];
            if (++idx[d] < shp[d]) break;
            pi -= ist[d] * shp[d]; po -= ost[d] * shp[d];
            idx[d] = 0;
        }
    }
    return 0;
}

/* One output row of Alloc: a value repeated (si == 0), a contiguous row copied, or strided */
#define KILN_FILL_ROW(T) \
static void kiln_fill_row_##T(const char *pi, int64_t si, char *po, int64_t so, int64_t inner) { \
    if (so == (int64_t)sizeof(T) && si == 0) { \
        T v; memcpy(&v, pi, sizeof v); \
        T *restrict y = (T *)po; \
        for (int64_t j = 0; j < inner; j++) y[j] = v; \
    } else if (so == (int64_t)sizeof(T) && si == (int64_t)sizeof(T)) { \
        memcpy(po, pi, (size_t)inner * sizeof(T)); \
    } else { \
        for (int64_t j = 0; j < inner; j++) memcpy(po + j * so, pi + j * si, sizeof(T)); \
    } \
}
KILN_FILL_ROW(uint8_t) KILN_FILL_ROW(uint16_t) KILN_FILL_ROW(uint32_t) KILN_FILL_ROW(uint64_t)
#undef KILN_FILL_ROW

/* Alloc: the input broadcast into the output (new axes on the left, length-1 axes stretched
 * with stride 0), row by row with an odometer over the outer axes; only bytes move, so one
 * loop per item size serves every dtype */
__attribute__((visibility("default")))
int kiln_fill_nd(const kiln_buf *in, kiln_buf *out) {
    const int ND = (int)out->ndim, IND = (int)in->ndim, LEAD = ND - IND;
    if (LEAD < 0 || in->dtype != out->dtype) return KILN_EDTYPE;
    void (*row)(const char *, int64_t, char *, int64_t, int64_t) = NULL;
    switch (out->dtype) {
    case 0: case 1: case 5: row = kiln_fill_row_uint8_t; break;
    case 2: case 6: row = kiln_fill_row_uint16_t; break;
    case 3: case 7: case 9: row = kiln_fill_row_uint32_t; break;
    case 4: case 8: case 10: row = kiln_fill_row_uint64_t; break;
    default: return KILN_EDTYPE;
    }
    int64_t ist[KILN_MAXDIM + 1] = {0}, n = 1;
    for (int d = 0; d < ND; d++) {
        n *= out->shape[d];
        if (d >= LEAD) {
            const int64_t s = in->shape[d - LEAD];
            if (s != out->shape[d] && s != 1) return KILN_ESHAPE;
            ist[d] = s == 1 ? 0 : in->strides[d - LEAD];
        }
    }
    if (n == 0) return 0;
    const int64_t inner = ND ? out->shape[ND - 1] : 1, outer = n / inner;
    const int64_t si = ND ? ist[ND - 1] : 0, so = ND ? out->strides[ND - 1] : 0;
    int64_t idx[KILN_MAXDIM + 1] = {0};
    const char *pi = in->data;
    char *po = out->data;
    for (int64_t it = 0; it < outer; it++) {
        row(pi, si, po, so, inner);
        for (int d = ND - 2; d >= 0; d--) {
            pi += ist[d]; po += out->strides[d];
            if (++idx[d] < out->shape[d]) break;
            pi -= ist[d] * out->shape[d]; po -= out->strides[d] * out->shape[d];
            idx[d] = 0;
        }
    }
    return 0;
}

/* the declarations modules see (shape_decl.c) match these definitions: a mismatch fails the build */
static const kiln_sum_to_shape_fn kiln_sts_decl_check __attribute__((unused)) = kiln_sum_to_shape;
static const kiln_fill_nd_fn kiln_fill_decl_check __attribute__((unused)) = kiln_fill_nd;
