/* SumToShape and Alloc are done by functions of kiln's library (shape_lib.c), compiled once;
 * their ranks and element types come from the descriptors.  SumToShape: cand[k] = 1 for the
 * output axes that may be summed (kept with length 1), bcast = 1 when input axes of length 1
 * may be stretched. */
typedef int (*kiln_sum_to_shape_fn)(const kiln_buf *in, kiln_buf *out, const int *cand, int bcast);
typedef int (*kiln_fill_nd_fn)(const kiln_buf *in, kiln_buf *out);
#ifndef KILN_LIBRARY_BUILD
static kiln_sum_to_shape_fn kiln_sum_to_shape;   /* kiln: import */
static kiln_fill_nd_fn kiln_fill_nd;   /* kiln: import */
#endif
