/* kiln's library (kiln/linkers/c/driver.py): the code that does no per-graph specialization,
 * compiled once instead of into every module: built by setup.py as kiln/linkers/c/_driver*.so,
 * or through the module cache when that build is missing.  Plain C: the prelude (descriptors,
 * helpers), the elementwise driver and the common reduction bodies.  The runtime resolves the
 * names a module lists in its `kiln_imports` here when it loads the module. */
#include "kiln_prelude.h"
/* An include marked `kiln: defines NAMES` holds those functions only: a cache build of some
 * functions (driver.py) leaves out the marked includes that define none of them, and the
 * reduction bodies it does not need. */
#include "elemwise.c"   /* kiln: defines kiln_elemwise */
#include "reduce.h"

/* The reduction bodies compiled here, one line `#define KILN_R(X) X(kind, input, output)` each
 * (driver.py reads these lines: render.py compiles any other combination into the module that
 * needs it).  The output dtypes are those of kiln's Sum/Prod/... (NumPy 2's): sums and
 * products of signed integers and bool accumulate in int64, of unsigned ones in uint64. */
#define KILN_R_LIBRARY
#define KILN_R(X) X(sum, float64, float64)
#include "reduce.c"
#define KILN_R(X) X(sum, float32, float32)
#include "reduce.c"
#define KILN_R(X) X(sum, int64, int64)
#include "reduce.c"
#define KILN_R(X) X(sum, int32, int64)
#include "reduce.c"
#define KILN_R(X) X(sum, int16, int64)
#include "reduce.c"
#define KILN_R(X) X(sum, int8, int64)
#include "reduce.c"
#define KILN_R(X) X(sum, uint8, uint64)
#include "reduce.c"
#define KILN_R(X) X(sum, bool, int64)
#include "reduce.c"
#define KILN_R(X) X(prod, float64, float64)
#include "reduce.c"
#define KILN_R(X) X(prod, float32, float32)
#include "reduce.c"
#define KILN_R(X) X(prod, int64, int64)
#include "reduce.c"
#define KILN_R(X) X(prod, int32, int64)
#include "reduce.c"
#define KILN_R(X) X(max, float64, float64)
#include "reduce.c"
#define KILN_R(X) X(max, float32, float32)
#include "reduce.c"
#define KILN_R(X) X(max, int64, int64)
#include "reduce.c"
#define KILN_R(X) X(max, int32, int32)
#include "reduce.c"
#define KILN_R(X) X(min, float64, float64)
#include "reduce.c"
#define KILN_R(X) X(min, float32, float32)
#include "reduce.c"
#define KILN_R(X) X(min, int64, int64)
#include "reduce.c"
#define KILN_R(X) X(min, int32, int32)
#include "reduce.c"
#define KILN_R(X) X(any, bool, bool)
#include "reduce.c"
#define KILN_R(X) X(all, bool, bool)
#include "reduce.c"
#undef KILN_R_LIBRARY

/* Gather/scatter (index_lib.c) and SumToShape/Alloc (shape_lib.c): their *_decl.c give the
 * types; KILN_LIBRARY_BUILD leaves out the pointers a module declares instead. */
#define KILN_LIBRARY_BUILD
#include "index_decl.c"
#include "index_lib.c"   /* kiln: defines kiln_index */
#include "shape_decl.c"
#include "shape_lib.c"   /* kiln: defines kiln_sum_to_shape kiln_fill_nd */
#include "matvec_lib.c"   /* kiln: defines kiln_matvec2_float64 kiln_matvec2_float32 */

/* the descriptor layout this library was built for (checked against the runtime's) */
__attribute__((visibility("default"))) int64_t kiln_driver_desc_size(void) { return (int64_t)sizeof(kiln_buf); }

/* the CPU this library was built for (setup.py: -march=native plus a hash of the CPU's flags;
 * empty for a portable build): the runtime uses the library only on a CPU with that hash */
#ifndef KILN_DRIVER_CPU
#define KILN_DRIVER_CPU ""
#endif
__attribute__((visibility("default"))) const char *kiln_driver_cpu(void) { return KILN_DRIVER_CPU; }
