/* The elementwise driver (elemwise.c) is not compiled into modules: it is built once (when
 * kiln is installed, or once per module cache) and the runtime hands its address to each
 * module that has elementwise kernels when it loads the module, as it hands BLAS's. */
typedef int (*kiln_elemwise_fn)(kiln_buf *const *op, int nop, int nout, int nd, const int64_t *sz,
                                kiln_row_fn row, int nt, int64_t par_min, int64_t stream_min);
static kiln_elemwise_fn kiln_elemwise;
void kiln_set_driver(void *fn) { kiln_elemwise = (kiln_elemwise_fn)fn; }
