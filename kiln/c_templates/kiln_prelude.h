/* kiln generated module prelude: plain C11, no Python C-API.
 * Buffer descriptors, error codes, and scalar helpers whose semantics follow NumPy
 * (Python-sign integer division/modulo, NaN-propagating max/min).  Compiled without
 * -ffast-math and with -ffp-contract=off so results are IEEE-exact per operation. */
#include <stdint.h>
#include <stdlib.h>
#include <stdbool.h>
#include <math.h>

/* With glibc's vector math library (x86-64), declaring its functions `simd` lets the
 * compiler vectorize loops that call them, without -ffast-math: libmvec is accurate to a
 * few ulp and handles NaN, infinities and signed zeros.  KILN_LIBMVEC is set by the
 * compiler driver only when libmvec is found (it is part of the cache key's flags). */
#ifdef KILN_LIBMVEC
#define KILN_VEC1(fn) __attribute__((simd("notinbranch"))) double fn(double); \
                      __attribute__((simd("notinbranch"))) float fn##f(float);
#define KILN_VEC2(fn) __attribute__((simd("notinbranch"))) double fn(double, double); \
                      __attribute__((simd("notinbranch"))) float fn##f(float, float);
KILN_VEC1(exp) KILN_VEC1(exp2) KILN_VEC1(expm1) KILN_VEC1(log) KILN_VEC1(log2) KILN_VEC1(log10)
KILN_VEC1(log1p) KILN_VEC1(sin) KILN_VEC1(cos) KILN_VEC1(tan) KILN_VEC1(asin) KILN_VEC1(acos)
KILN_VEC1(atan) KILN_VEC1(sinh) KILN_VEC1(cosh) KILN_VEC1(tanh) KILN_VEC1(asinh) KILN_VEC1(acosh)
KILN_VEC1(atanh) KILN_VEC1(erf) KILN_VEC1(erfc) KILN_VEC2(atan2) KILN_VEC2(pow)
#endif

/* Threads: KILN_NT (KILN_FLAGS=threads=N, passed as -DKILN_NT=N with -fopenmp) splits
 * elementwise loops and reductions of at least KILN_PAR_MIN elements into contiguous
 * chunks (kiln_nchunk: KILN_NT to 8 KILN_NT of them) that threads take one at a time.
 * Chunks depend only on the size and the thread count, so results are reproducible for a
 * given count. */
#ifndef KILN_NT
#define KILN_NT 1
#endif
#ifndef KILN_PAR_MIN   /* KILN_FLAGS=par_min=N overrides it (tests thread every loop with 1) */
#define KILN_PAR_MIN 32768
#endif
#if KILN_NT > 1
#include <omp.h>
#endif

/* The number of chunks of a threaded loop over n elements in `rows` rows (at most rows):
 * threads take chunks one at a time (a dynamic schedule), so when a core is busy with other
 * work its thread's share goes to the others instead of everyone waiting for it; enough
 * chunks for that, few enough to stay long (at least KILN_PAR_MIN / 2 elements).  Chunks
 * depend only on the sizes and KILN_NT, never on which thread runs them. */
static inline int64_t kiln_nchunk_of(int64_t n, int64_t rows, int nt, int64_t par_min) {
    int64_t c = n / ((par_min + 1) / 2);
    if (c > 8 * nt) c = 8 * nt;
    if (c < nt) c = nt;
    return c < rows ? c : rows;
}
#define kiln_nchunk(n, rows) kiln_nchunk_of((n), (rows), KILN_NT, KILN_PAR_MIN)

/* An elementwise kernel's scalar expression over n elements of unit-stride operands
 * (elemwise_row.c), called by the elementwise driver (elemwise.c) */
typedef void (*kiln_row_fn)(int64_t n, char *const *q);

/* [lo, hi) of part t of nt over n items; inner boundaries rounded down to a multiple of
 * (mask + 1) items so each chunk starts on a vector boundary */
static inline void kiln_chunk(int64_t n, int t, int nt, int64_t mask, int64_t *lo, int64_t *hi) {
    *lo = t == 0 ? 0 : (n / nt * t + (n % nt) * t / nt) & ~mask;
    *hi = t == nt - 1 ? n : (n / nt * (t + 1) + (n % nt) * (t + 1) / nt) & ~mask;
    if (*hi < *lo) *hi = *lo;
}

/* Non-temporal (streaming) stores for loops bigger than the last-level cache: they write
 * whole lines without first reading them (no read-for-ownership), as memcpy does for big
 * copies.  Compiler builtins, not <immintrin.h>, whose parsing alone costs ~0.5 s a module.
 * KILN_STREAM_MIN is the size in bytes of all the operands of an elementwise loop (inputs
 * and outputs) from which it streams its outputs: below it they are likely still in the
 * cache (measured: streaming a 4 MB output that fits is 1.5x slower; an 80 MB one is 1.3x
 * faster).  The runtime hands a function the output of its previous call when the caller has
 * dropped it, so a loop's working set is its operands: at 16 MB of operands (an 8 MB float64
 * output) the 1e6-element arithmetic chain takes 150-180 us with plain stores into that
 * cached output, as fast as np.copyto, against 250-290 us streamed; so the line is 24 MiB,
 * three quarters of this machine's 32 MB L3.  (It was 12 MiB while the bench kept the
 * previous result alive during the next call, three 8 MB buffers.)  KILN_BLOCK elements
 * are computed into a buffer on the stack, then streamed. */
#ifndef KILN_STREAM_MIN
#define KILN_STREAM_MIN (24 << 20)
#endif
/* a multiple of 64 bytes for every item size; 256 rather than 64 since each block is one call
 * of the kernel's row function (measured on the 1e6 float64 arithmetic chain: 64 was ~10%
 * slower than the inlined block loop it replaced, 256 is not) */
#define KILN_BLOCK 256
#if defined(__clang__) && (defined(__SSE2__) || defined(__aarch64__))
#define KILN_STREAM 1
typedef long long kiln_vnt __attribute__((vector_size(16), aligned(16)));
#define KILN_NT_BYTES 16
#define KILN_NT_STORE(p, v) __builtin_nontemporal_store((v), (kiln_vnt *)(p))
#elif defined(__GNUC__) && defined(__AVX512F__)
#define KILN_STREAM 1
typedef long long kiln_vnt __attribute__((vector_size(64), aligned(64)));
#define KILN_NT_BYTES 64
#define KILN_NT_STORE(p, v) __builtin_ia32_movntdq512((kiln_vnt *)(p), (v))
#elif defined(__GNUC__) && defined(__AVX__)
#define KILN_STREAM 1
typedef long long kiln_vnt __attribute__((vector_size(32), aligned(32)));
#define KILN_NT_BYTES 32
#define KILN_NT_STORE(p, v) __builtin_ia32_movntdq256((kiln_vnt *)(p), (v))
#elif defined(__GNUC__) && defined(__SSE2__)
#define KILN_STREAM 1
typedef long long kiln_vnt __attribute__((vector_size(16), aligned(16)));
#define KILN_NT_BYTES 16
#define KILN_NT_STORE(p, v) __builtin_ia32_movntdq((kiln_vnt *)(p), (v))
#else
#define KILN_STREAM 0
#endif
#if KILN_STREAM
/* copy `bytes` from src to dst, streaming the aligned middle (plain stores at the ends); like
 * kiln_is_contig and kiln_same_shape, noinline: compiled once per module, not at each use */
static __attribute__((noinline)) void kiln_stream(char *dst, const char *src, int64_t bytes) {
    if ((((uintptr_t)dst | (uintptr_t)bytes) % KILN_NT_BYTES) == 0) {   /* the usual case: no memcpy call */
        for (; bytes > 0; bytes -= KILN_NT_BYTES, dst += KILN_NT_BYTES, src += KILN_NT_BYTES) {
            kiln_vnt v;
            __builtin_memcpy(&v, src, KILN_NT_BYTES);
            KILN_NT_STORE(dst, v);
        }
        return;
    }
    int64_t head = (int64_t)((KILN_NT_BYTES - ((uintptr_t)dst % KILN_NT_BYTES)) % KILN_NT_BYTES);
    if (head > bytes) head = bytes;
    __builtin_memcpy(dst, src, (size_t)head);
    dst += head; src += head; bytes -= head;
    for (; bytes >= KILN_NT_BYTES; bytes -= KILN_NT_BYTES, dst += KILN_NT_BYTES, src += KILN_NT_BYTES) {
        kiln_vnt v;
        __builtin_memcpy(&v, src, KILN_NT_BYTES);
        KILN_NT_STORE(dst, v);
    }
    __builtin_memcpy(dst, src, (size_t)bytes);
}
/* streaming stores are weakly ordered: fence before other threads (or the caller) read */
#if defined(__x86_64__) || defined(__i386__)
#define kiln_sfence() __builtin_ia32_sfence()
#else
#define kiln_sfence() __sync_synchronize()
#endif
#endif
/* elements before p (of `itemsize` bytes) reaches a 64-byte boundary; 0 when it never does */
static inline int64_t kiln_peel(const void *p, int64_t itemsize) {
    const int64_t gap = (int64_t)((64 - (uintptr_t)p % 64) % 64);
    return gap % itemsize ? 0 : gap / itemsize;
}
/* the first point at or after x of the block grid {0, p, p + KILN_BLOCK, ...} capped at n */
static inline int64_t kiln_grid(int64_t x, int64_t p, int64_t n) {
    if (x > p) x = p + (x - p + KILN_BLOCK - 1) / KILN_BLOCK * KILN_BLOCK;
    else if (x > 0) x = p;
    return x < n ? x : n;
}

/* Elementwise rows with non-unit strides go through the kernel's unit-stride row function by
 * blocks of KILN_GBLOCK elements: strided operands are gathered into stack buffers first (and
 * outputs scattered back), bit patterns copied as they are (NaN payloads included). */
#define KILN_GBLOCK 256   /* at least KILN_BLOCK: the streaming path uses the same buffers */
/* n items of `size` bytes from src (`sstride` bytes apart) to dst (`dstride` bytes apart):
 * gathers a strided operand into a packed buffer, or scatters one back (a stride of 0
 * repeats one item) */
static void kiln_copy_items(char *restrict dst, int64_t dstride, const char *restrict src, int64_t sstride,
                            int64_t n, int64_t size) {
    switch (size) {   /* one loop per item size: each copy is a plain load and store */
    case 8: for (int64_t i = 0; i < n; i++) __builtin_memcpy(dst + i * dstride, src + i * sstride, 8); break;
    case 4: for (int64_t i = 0; i < n; i++) __builtin_memcpy(dst + i * dstride, src + i * sstride, 4); break;
    case 2: for (int64_t i = 0; i < n; i++) __builtin_memcpy(dst + i * dstride, src + i * sstride, 2); break;
    default: for (int64_t i = 0; i < n; i++) dst[i * dstride] = src[i * sstride];
    }
}

/* n copies of the item of `size` bytes at src, packed into dst (room for n * size bytes rounded
 * up to 8): an input broadcast along a row, stored by 8-byte words (a vectorized fill) */
static void kiln_fill(char *restrict dst, const char *restrict src, int64_t n, int64_t size) {
    char pattern[8];
    for (int i = 0; i < 8; i++) pattern[i] = src[i % size];
    for (int64_t i = 0; i < (n * size + 7) / 8; i++) __builtin_memcpy(dst + 8 * i, pattern, 8);
}

#define KILN_MAXDIM 16
#define KILN_ESHAPE 1   /* operand shapes do not match the iteration shape */
#define KILN_EDTYPE 2   /* a descriptor's ndim or dtype differs from the compiled one */
#define KILN_ELAYOUT 3  /* an output buffer is not C-contiguous */
#define KILN_ENOMEM 4   /* a temporary buffer could not be allocated */
#define KILN_EBIG 5     /* a dimension does not fit BLAS's 32-bit integers */
#define KILN_EINDEX 6   /* an index is out of bounds (IndexError) */
#define KILN_LANES 16   /* independent partial results in inner-axis reductions */
#define KILN_LANE_ITERS 32   /* elements per lane in a block of an inner-axis reduction */

typedef struct {
    char *data;
    int64_t ndim;
    int64_t dtype;                  /* index into kiln.linkers.c.types.DTYPES */
    int64_t shape[KILN_MAXDIM];
    int64_t strides[KILN_MAXDIM];   /* in bytes, may be negative or zero */
} kiln_buf;

static __attribute__((noinline)) int kiln_is_contig(const kiln_buf *b, int nd, int64_t itemsize) {
    int64_t expect = itemsize;
    for (int d = 0; d < nd; d++) if (b->shape[d] == 0) return 1;   /* empty: any strides do */
    for (int d = nd - 1; d >= 0; d--) {
        if (b->shape[d] != 1 && b->strides[d] != expect) return 0;
        expect *= b->shape[d];
    }
    return 1;
}

/* NaN-propagating max/min (NumPy's maximum/minimum); also right for integers */
#define KILN_DEF_MAXMIN(T, N) \
    static inline T kiln_max_##N(T a, T b) { return (a > b || a != a) ? a : b; } \
    static inline T kiln_min_##N(T a, T b) { return (a < b || a != a) ? a : b; }
KILN_DEF_MAXMIN(bool, bool) KILN_DEF_MAXMIN(int8_t, int8) KILN_DEF_MAXMIN(int16_t, int16)
KILN_DEF_MAXMIN(int32_t, int32) KILN_DEF_MAXMIN(int64_t, int64) KILN_DEF_MAXMIN(uint8_t, uint8)
KILN_DEF_MAXMIN(uint16_t, uint16) KILN_DEF_MAXMIN(uint32_t, uint32) KILN_DEF_MAXMIN(uint64_t, uint64)
KILN_DEF_MAXMIN(float, float32) KILN_DEF_MAXMIN(double, float64)

/* Python-sign floor division and modulo; x // 0 == x % 0 == 0 as in NumPy;
 * b == -1 is special-cased because INT_MIN / -1 traps in C (NumPy wraps). */
#define KILN_DEF_SINT(T, N) \
    static inline T kiln_floordiv_##N(T a, T b) { \
        if (b == 0) return 0; \
        if (b == -1) return (T)(0 - a); \
        T q = (T)(a / b); \
        if ((a % b != 0) && ((a < 0) != (b < 0))) q--; \
        return q; } \
    static inline T kiln_mod_##N(T a, T b) { \
        if (b == 0 || b == -1) return 0; \
        T r = (T)(a % b); \
        if (r != 0 && ((r < 0) != (b < 0))) r = (T)(r + b); \
        return r; }
#define KILN_DEF_UINT(T, N) \
    static inline T kiln_floordiv_##N(T a, T b) { return b == 0 ? 0 : (T)(a / b); } \
    static inline T kiln_mod_##N(T a, T b) { return b == 0 ? 0 : (T)(a % b); }
KILN_DEF_SINT(int8_t, int8) KILN_DEF_SINT(int16_t, int16) KILN_DEF_SINT(int32_t, int32)
KILN_DEF_SINT(int64_t, int64) KILN_DEF_UINT(uint8_t, uint8) KILN_DEF_UINT(uint16_t, uint16)
KILN_DEF_UINT(uint32_t, uint32) KILN_DEF_UINT(uint64_t, uint64)

/* NumPy's float divmod: fmod, then fix the sign to Python's convention and snap the
 * quotient to the nearest integer. */
#define KILN_DEF_FLOAT(T, N, S) \
    static inline T kiln_divmod_##N(T a, T b, T *modulus) { \
        T mod = fmod##S(a, b), div, fl; \
        if (!b) { *modulus = mod; return a / b; } \
        div = (a - mod) / b; \
        if (mod) { if ((b < 0) != (mod < 0)) { mod += b; div -= (T)1; } } \
        else mod = copysign##S((T)0, b); \
        if (div) { fl = floor##S(div); if (div - fl > (T)0.5) fl += (T)1; } \
        else fl = copysign##S((T)0, a / b); \
        *modulus = mod; return fl; } \
    static inline T kiln_floordiv_##N(T a, T b) { T m; return kiln_divmod_##N(a, b, &m); } \
    static inline T kiln_mod_##N(T a, T b) { T m; if (!b) return fmod##S(a, b); kiln_divmod_##N(a, b, &m); return m; } \
    static inline T kiln_sigmoid_##N(T x) { return (T)1 / ((T)1 + exp##S(-x)); }  /* as scipy's expit */ \
    static inline T kiln_softplus_##N(T x) { \
        if (x != x) return x; \
        return x > 0 ? x + log1p##S(exp##S(-x)) : log1p##S(exp##S(x)); } \
    static inline T kiln_gammaln_##N(T x) { return (isinf(x) && x < 0) ? x : lgamma##S(x); } /* scipy: -inf */ \
    static inline T kiln_sign_##N(T x) { return x > 0 ? (T)1 : (x < 0 ? (T)-1 : (x == 0 ? (T)0 : x)); } \
    /* scipy.special.xlogy/xlog1py: 0 where x == 0 unless y is NaN */ \
    static inline T kiln_xlogy_##N(T x, T y) { return (x == 0 && y == y) ? (T)0 : x * log##S(y); } \
    static inline T kiln_xlog1py_##N(T x, T y) { return (x == 0 && y == y) ? (T)0 : x * log1p##S(y); } \
    /* numpy's npy_logaddexp: equal arguments (infinities too) give x + log 2 */ \
    static inline T kiln_logaddexp_##N(T x, T y) { \
        if (x == y) return x + (T)0.693147180559945309417232121458176568; \
        T d = x - y; \
        return d > 0 ? x + log1p##S(exp##S(-d)) : (d <= 0 ? y + log1p##S(exp##S(d)) : d); } \
    /* kiln.scalar.special.Log1mexp: Maechler's switch at -log 2 */ \
    static inline T kiln_log1mexp_##N(T x) { \
        return x > -(T)0.693147180559945309417232121458176568 ? log##S(-expm1##S(x)) : log1p##S(-exp##S(x)); }
KILN_DEF_FLOAT(float, float32, f) KILN_DEF_FLOAT(double, float64, )

static __attribute__((noinline)) int kiln_same_shape(const kiln_buf *b, const int64_t *shape, int nd) {
    for (int d = 0; d < nd; d++) if (b->shape[d] != shape[d]) return 0;
    return 1;
}
