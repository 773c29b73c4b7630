/* Reductions (sum/prod/max/min/any/all over any set of axes): what reduce.c's bodies and their
 * callers share.  A body is instantiated by the C preprocessor, one per kind, input dtype and
 * output dtype: `#define KILN_R(X) X(sum, float64, float64)`, then reduce.c included.
 * The common ones are compiled once into kiln's library (driver_lib.c, which lists them) and
 * modules only declare a pointer to each one they call (`static kiln_reduce_fn
 * kiln_reduce_sum_float64_float64;`, set when the runtime loads the module); a module that
 * needs another combination gets reduce.c's text after that #define (render.py).  Included
 * once per module (after kiln_prelude.h) and by the library. */
#ifndef KILN_REDUCE_H
#define KILN_REDUCE_H

/* A reduction body: `in` (nd axes) reduced over the axes with reduced[d] != 0 into `out` (ond
 * axes, C-contiguous); nt threads for at least par_min elements (the calling module's
 * KILN_NT and KILN_PAR_MIN).  Returns 0 or a KILN_E* code. */
typedef int (*kiln_reduce_fn)(const kiln_buf *in, kiln_buf *out, int nd, int ond, const int *reduced,
                              int nt, int64_t par_min);

/* C types, limits and NaN-propagating max/min (kiln_prelude.h) by dtype name.  A dtype name
 * only ever reaches C by token pasting (`kiln_t_##o`): `bool` is a macro of <stdbool.h>. */
typedef bool kiln_t_bool;
typedef int8_t kiln_t_int8;
typedef int16_t kiln_t_int16;
typedef int32_t kiln_t_int32;
typedef int64_t kiln_t_int64;
typedef uint8_t kiln_t_uint8;
typedef uint16_t kiln_t_uint16;
typedef uint32_t kiln_t_uint32;
typedef uint64_t kiln_t_uint64;
typedef float kiln_t_float32;
typedef double kiln_t_float64;
#define KILN_LOWEST_bool false
#define KILN_LOWEST_int8 INT8_MIN
#define KILN_LOWEST_int16 INT16_MIN
#define KILN_LOWEST_int32 INT32_MIN
#define KILN_LOWEST_int64 INT64_MIN
#define KILN_LOWEST_uint8 0
#define KILN_LOWEST_uint16 0
#define KILN_LOWEST_uint32 0
#define KILN_LOWEST_uint64 0
#define KILN_LOWEST_float32 (-INFINITY)
#define KILN_LOWEST_float64 (-INFINITY)
#define KILN_HIGHEST_bool true
#define KILN_HIGHEST_int8 INT8_MAX
#define KILN_HIGHEST_int16 INT16_MAX
#define KILN_HIGHEST_int32 INT32_MAX
#define KILN_HIGHEST_int64 INT64_MAX
#define KILN_HIGHEST_uint8 UINT8_MAX
#define KILN_HIGHEST_uint16 UINT16_MAX
#define KILN_HIGHEST_uint32 UINT32_MAX
#define KILN_HIGHEST_uint64 UINT64_MAX
#define KILN_HIGHEST_float32 INFINITY
#define KILN_HIGHEST_float64 INFINITY

/* Each kind's initial value (from its output dtype's lowest and highest values) and update of
 * `acc` with `x` (in acc's type; x is read more than once, so it must be a plain value), by
 * kind: `KILN_INIT_max(KILN_LOWEST_float32, KILN_HIGHEST_float32)`, `KILN_COMBINE_max(acc, x);`.
 * reduce.c's bodies and the fused reductions (render_fused.py) both use them.  max/min
 * propagate NaN as kiln_max/kiln_min (gcc vectorizes this form to two independent compares and a
 * blend; `(acc > x) | (acc != acc)` became dependent compares, 15% slower along axis 1). */
#define KILN_INIT_sum(lo, hi) 0
#define KILN_INIT_prod(lo, hi) 1
#define KILN_INIT_max(lo, hi) lo
#define KILN_INIT_min(lo, hi) hi
#define KILN_INIT_any(lo, hi) false
#define KILN_INIT_all(lo, hi) true
#define KILN_COMBINE_sum(acc, x) acc = (__typeof__(acc))(acc + (__typeof__(acc))(x))
#define KILN_COMBINE_prod(acc, x) acc = (__typeof__(acc))(acc * (__typeof__(acc))(x))
#define KILN_COMBINE_max(acc, x) acc = (acc > (__typeof__(acc))(x) || acc != acc) ? acc : (__typeof__(acc))(x)
#define KILN_COMBINE_min(acc, x) acc = (acc < (__typeof__(acc))(x) || acc != acc) ? acc : (__typeof__(acc))(x)
#define KILN_COMBINE_any(acc, x) acc = acc || ((x) != 0)
#define KILN_COMBINE_all(acc, x) acc = acc && ((x) != 0)

/* the kinds, as numbers for reduce.c's #if */
#define KILN_R_K_sum 1
#define KILN_R_K_prod 2
#define KILN_R_K_max 3
#define KILN_R_K_min 4
#define KILN_R_K_any 5
#define KILN_R_K_all 6
/* the parts of KILN_R(X) = X(kind, input dtype, output dtype) that reduce.c uses, each by one
 * expansion of KILN_R (KILN_R(KILN_R_NAME_) -> kiln_reduce_sum_float64_float64) */
#define KILN_R_NAME_(k, i, o) kiln_reduce_##k##_##i##_##o
#define KILN_R_PART_(k, i, o) kiln_reduce_part_##k##_##i##_##o
#define KILN_R_OUTER_(k, i, o) kiln_reduce_outer_##k##_##i##_##o
#define KILN_R_INNER_(k, i, o) kiln_reduce_inner_##k##_##i##_##o
#define KILN_R_BLOCK_(k, i, o) kiln_reduce_block_##k##_##i##_##o
#define KILN_R_KIND_(k, i, o) KILN_R_K_##k
#define KILN_R_INIT_(k, i, o) KILN_INIT_##k(KILN_LOWEST_##o, KILN_HIGHEST_##o)
#define KILN_R_COMBINE_(k, i, o) KILN_COMBINE_##k
#define KILN_R_ITYPE_(k, i, o) kiln_t_##i
#define KILN_R_OTYPE_(k, i, o) kiln_t_##o

/* One reduction digested by its body for the parts that run it (one per chunk of outer rows) */
typedef struct {
    const kiln_buf *in;
    kiln_buf *out;
    int nd;
    int64_t nout, inner, outer, si, so;   /* si, so: the input's and output's inner byte strides */
    int64_t ist[KILN_MAXDIM + 1], ost[KILN_MAXDIM + 1];   /* byte strides, 0 on length-1 axes and
                                                           * (output) on reduced ones */
    char *priv;   /* private partial outputs of chunks 1.. (see reduce.c) */
} kiln_reduce_job;

/* Every chunk of a reduction: on nt threads when there are several chunks, else called directly
 * (an OpenMP region, even one its `if` keeps on one thread, costs ~0.7 us a call).  Without
 * -fopenmp (a module built for one thread) the pragma is ignored. */
static __attribute__((noinline)) void kiln_reduce_chunks(void (*part)(const kiln_reduce_job *, int64_t, int64_t),
                                                         const kiln_reduce_job *job, int64_t nchunk, int nt) {
    if (nchunk > 1) {
        #pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
        for (int64_t c = 0; c < nchunk; c++) part(job, c, nchunk);
    } else {
        part(job, 0, 1);
    }
}

#endif
