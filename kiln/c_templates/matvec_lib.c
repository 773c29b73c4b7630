/* MatVecPair in kiln's library (driver_lib.c): y1 = A x1 and y2 = A x2 in one pass over A, for a
 * matrix whose rows are contiguous (lda elements apart) and contiguous vectors; render_blas.py
 * calls BLAS twice for any other layout.  A matrix-vector product is bound by reading the
 * matrix, and BLAS reads it once per product (a 1000 x 1000 float64 A: 117 us here against
 * 180 us for two dgemv calls; a dgemm with two columns took 390 us).
 *
 * Each dot product keeps KILN_MV_W partial sums in one vector (GCC's vector extension: the loop
 * is written in vectors because, without reassociation flags, gcc does not vectorize a sum),
 * two rows at a time, so A's rows stream once and each vector of x1 and x2 loaded serves both
 * rows.  The partial sums are then added in lane order, then the tail of the row. */
#include <string.h>

#define KILN_MV_BYTES 64

#define KILN_DEF_MV2(T, N) \
typedef T kiln_mv_vec_##N __attribute__((vector_size(KILN_MV_BYTES), aligned(sizeof(T)))); \
enum { KILN_MV_W_##N = KILN_MV_BYTES / sizeof(T) }; \
static inline kiln_mv_vec_##N kiln_mv_load_##N(const T *p) { \
    kiln_mv_vec_##N v; \
    memcpy(&v, p, sizeof v); \
    return v; \
} \
static inline T kiln_mv_total_##N(kiln_mv_vec_##N v) { \
    T t = 0; \
    for (int u = 0; u < KILN_MV_W_##N; u++) t += v[u]; \
    return t; \
} \
/* rows [lo, hi) of both products */ \
static void kiln_mv2_rows_##N(int64_t lo, int64_t hi, int64_t n, const T *A, int64_t lda, const T *restrict x1, \
                              const T *restrict x2, T *restrict y1, T *restrict y2) { \
    const int W = KILN_MV_W_##N; \
    int64_t i = lo; \
    for (; i + 2 <= hi; i += 2) { \
        const T *restrict a0 = A + i * lda, *restrict a1 = a0 + lda; \
        kiln_mv_vec_##N s00 = {0}, s01 = {0}, s10 = {0}, s11 = {0}; \
        int64_t j = 0; \
        for (; j + W <= n; j += W) { \
            const kiln_mv_vec_##N p = kiln_mv_load_##N(x1 + j), q = kiln_mv_load_##N(x2 + j); \
            const kiln_mv_vec_##N r0 = kiln_mv_load_##N(a0 + j), r1 = kiln_mv_load_##N(a1 + j); \
            s00 += r0 * p; s01 += r0 * q; s10 += r1 * p; s11 += r1 * q; \
        } \
        T t00 = kiln_mv_total_##N(s00), t01 = kiln_mv_total_##N(s01); \
        T t10 = kiln_mv_total_##N(s10), t11 = kiln_mv_total_##N(s11); \
        for (; j < n; j++) { \
            t00 += a0[j] * x1[j]; t01 += a0[j] * x2[j]; t10 += a1[j] * x1[j]; t11 += a1[j] * x2[j]; \
        } \
        y1[i] = t00; y2[i] = t01; y1[i + 1] = t10; y2[i + 1] = t11; \
    } \
    for (; i < hi; i++) { \
        const T *restrict a0 = A + i * lda; \
        kiln_mv_vec_##N s0 = {0}, s1 = {0}; \
        int64_t j = 0; \
        for (; j + W <= n; j += W) { \
            const kiln_mv_vec_##N r0 = kiln_mv_load_##N(a0 + j); \
            s0 += r0 * kiln_mv_load_##N(x1 + j); s1 += r0 * kiln_mv_load_##N(x2 + j); \
        } \
        T t0 = kiln_mv_total_##N(s0), t1 = kiln_mv_total_##N(s1); \
        for (; j < n; j++) { t0 += a0[j] * x1[j]; t1 += a0[j] * x2[j]; } \
        y1[i] = t0; y2[i] = t1; \
    } \
} \
/* m x n A; nt threads take chunks of rows when m * n >= par_min (an OpenMP region costs ~0.7 us \
 * even when its `if` keeps it on one thread, so a small product never enters one) */ \
__attribute__((visibility("default"))) int kiln_matvec2_##N(int64_t m, int64_t n, const void *A, int64_t lda, \
                                                          const void *x1, const void *x2, void *y1, void *y2, \
                                                          int nt, int64_t par_min) { \
    if (nt > 1 && m * n >= par_min && m >= 2 * nt) { \
        _Pragma("omp parallel for schedule(static) num_threads(nt)") \
        for (int c = 0; c < nt; c++) { \
            const int64_t lo = m * c / nt / 2 * 2, hi = c == nt - 1 ? m : m * (c + 1) / nt / 2 * 2; \
            kiln_mv2_rows_##N(lo, hi, n, (const T *)A, lda, (const T *)x1, (const T *)x2, (T *)y1, (T *)y2); \
        } \
    } else { \
        kiln_mv2_rows_##N(0, m, n, (const T *)A, lda, (const T *)x1, (const T *)x2, (T *)y1, (T *)y2); \
    } \
    return 0; \
}
KILN_DEF_MV2(double, float64)
KILN_DEF_MV2(float, float32)
