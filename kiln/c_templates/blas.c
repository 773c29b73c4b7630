/* BLAS through SciPy's cython_blas: the runtime hands the module its function pointers at
 * load time (kiln_set_blas), so nothing is discovered or linked at build time.  The
 * pointers take Fortran-style arguments (all by pointer, column-major, 32-bit ints). */
#include <stdlib.h>
#include <string.h>
#include <limits.h>

typedef void (*kiln_gemm_float32_t)(char *, char *, int *, int *, int *, float *, float *, int *, float *,
                                    int *, float *, float *, int *);
typedef void (*kiln_gemm_float64_t)(char *, char *, int *, int *, int *, double *, double *, int *, double *,
                                    int *, double *, double *, int *);
typedef void (*kiln_gemv_float32_t)(char *, int *, int *, float *, float *, int *, float *, int *, float *,
                                    float *, int *);
typedef void (*kiln_gemv_float64_t)(char *, int *, int *, double *, double *, int *, double *, int *, double *,
                                    double *, int *);
/* kiln's library's MatVecPair (matvec_lib.c): y1 = A x1, y2 = A x2 for row-contiguous A */
typedef int (*kiln_matvec2_fn)(int64_t m, int64_t n, const void *A, int64_t lda, const void *x1, const void *x2,
                               void *y1, void *y2, int nt, int64_t par_min);
typedef float (*kiln_dot_float32_t)(int *, float *, int *, float *, int *);
typedef double (*kiln_dot_float64_t)(int *, double *, int *, double *, int *);

static kiln_gemm_float32_t kiln_gemm_float32;
static kiln_gemm_float64_t kiln_gemm_float64;
static kiln_gemv_float32_t kiln_gemv_float32;
static kiln_gemv_float64_t kiln_gemv_float64;
static kiln_dot_float32_t kiln_dot_float32;
static kiln_dot_float64_t kiln_dot_float64;

/* called once by the runtime after loading: sgemm, dgemm, sgemv, dgemv, sdot, ddot */
void kiln_set_blas(void **p) {
    kiln_gemm_float32 = (kiln_gemm_float32_t)p[0]; kiln_gemm_float64 = (kiln_gemm_float64_t)p[1];
    kiln_gemv_float32 = (kiln_gemv_float32_t)p[2]; kiln_gemv_float64 = (kiln_gemv_float64_t)p[3];
    kiln_dot_float32 = (kiln_dot_float32_t)p[4]; kiln_dot_float64 = (kiln_dot_float64_t)p[5];
}

/* How BLAS can read an r x c matrix with element strides (s0, s1): 'N' when rows are
 * contiguous (row-major, leading dimension s0), 'T' when columns are (leading dimension
 * s1), 0 when it must be copied (negative, zero or unaligned strides). */
static char kiln_blas_layout(int64_t r, int64_t c, int64_t s0, int64_t s1, int *ld) {
    const int64_t one_c = c > 1 ? c : 1, one_r = r > 1 ? r : 1;
    if ((s1 == 1 || c <= 1) && (r <= 1 || s0 >= one_c) && (r <= 1 ? one_c : s0) <= INT_MAX) {
        *ld = (int)(r <= 1 ? one_c : s0);
        return 'N';
    }
    if ((s0 == 1 || r <= 1) && (c <= 1 || s1 >= one_r) && (c <= 1 ? one_r : s1) <= INT_MAX) {
        *ld = (int)(c <= 1 ? one_r : s1);
        return 'T';
    }
    return 0;
}

/* C (m x n, C-contiguous) = alpha * A @ B (+ C when acc); A: m x k, B: k x n, byte strides.
 * Matrix-vector and vector-vector products go to gemv and dot as NumPy's do. */
#define KILN_DEF_MM(T, N) \
static int kiln_mm_##N(int64_t m, int64_t n, int64_t k, T alpha, const char *A, int64_t sa0, int64_t sa1, \
                       const char *B, int64_t sb0, int64_t sb1, T *C, int acc) { \
    const int64_t z = (int64_t)sizeof(T); \
    if (m == 0 || n == 0) return 0; \
    if (k == 0) { if (!acc) memset(C, 0, (size_t)(m * n) * sizeof(T)); return 0; } \
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX) return KILN_EBIG; \
    T *ta = NULL, *tb = NULL; \
    int lda = 0, ldb = 0, im = (int)m, in = (int)n, ik = (int)k, one = 1; \
    char la = (sa0 % z || sa1 % z) ? 0 : kiln_blas_layout(m, k, sa0 / z, sa1 / z, &lda); \
    char lb = (sb0 % z || sb1 % z) ? 0 : kiln_blas_layout(k, n, sb0 / z, sb1 / z, &ldb); \
    if (!la) { /* copy A to row-major */ \
        ta = (T *)malloc((size_t)(m * k) * sizeof(T)); \
        if (!ta) return KILN_ENOMEM; \
        for (int64_t i = 0; i < m; i++) for (int64_t j = 0; j < k; j++) \
            ta[i * k + j] = *(const T *)(A + i * sa0 + j * sa1); \
        A = (const char *)ta; sa0 = k * z; sa1 = z; la = kiln_blas_layout(m, k, k, 1, &lda); \
    } \
    if (!lb) { \
        tb = (T *)malloc((size_t)(k * n) * sizeof(T)); \
        if (!tb) { free(ta); return KILN_ENOMEM; } \
        for (int64_t i = 0; i < k; i++) for (int64_t j = 0; j < n; j++) \
            tb[i * n + j] = *(const T *)(B + i * sb0 + j * sb1); \
        B = (const char *)tb; sb0 = n * z; sb1 = z; lb = kiln_blas_layout(k, n, n, 1, &ldb); \
    } \
    T beta = acc ? (T)1 : (T)0; \
    if (m == 1 && n == 1) { /* a dot product of A's row and B's column */ \
        int ia = (int)(sa1 / z), ib = (int)(sb0 / z); \
        if (k == 1) ia = ib = 1; \
        if (ia > 0 && ib > 0) { \
            T d = kiln_dot_##N(&ik, (T *)A, &ia, (T *)B, &ib); \
            C[0] = acc ? (T)(C[0] + alpha * d) : (T)(alpha * d); \
            free(ta); free(tb); return 0; \
        } \
    } \
    if (n == 1 && sb0 > 0 && sb0 / z <= INT_MAX) { /* C = A x: column-major gemv */ \
        int inc = k == 1 ? 1 : (int)(sb0 / z); \
        if (la == 'N') kiln_gemv_##N("T", &ik, &im, &alpha, (T *)A, &lda, (T *)B, &inc, &beta, C, &one); \
        else kiln_gemv_##N("N", &im, &ik, &alpha, (T *)A, &lda, (T *)B, &inc, &beta, C, &one); \
    } else if (m == 1 && sa1 > 0 && sa1 / z <= INT_MAX) { /* C = x B = B^T x */ \
        int inc = k == 1 ? 1 : (int)(sa1 / z); \
        if (lb == 'N') kiln_gemv_##N("N", &in, &ik, &alpha, (T *)B, &ldb, (T *)A, &inc, &beta, C, &one); \
        else kiln_gemv_##N("T", &ik, &in, &alpha, (T *)B, &ldb, (T *)A, &inc, &beta, C, &one); \
    } else { \
        /* row-major C = A B is column-major C^T = B^T A^T */ \
        char tb_ = lb == 'N' ? 'N' : 'T', ta_ = la == 'N' ? 'N' : 'T'; \
        kiln_gemm_##N(&tb_, &ta_, &in, &im, &ik, &alpha, (T *)B, &ldb, (T *)A, &lda, &beta, C, &in); \
    } \
    free(ta); free(tb); \
    return 0; \
}
KILN_DEF_MM(float, float32)
KILN_DEF_MM(double, float64)
