/* The elementwise driver (elemwise.c) is not compiled into modules: it is built once (when
 * kiln is installed, or once per module cache) in kiln's library, and the runtime sets this
 * pointer when it loads a module with elementwise kernels (a `kiln: import`, see render.py). */
typedef int (*kiln_elemwise_fn)(kiln_buf *const *op, int nop, int nout, int nd, const int64_t *sz,
                                kiln_row_fn row, int exact, uint64_t scalars, int nt, int64_t par_min,
                                int64_t stream_min);
static kiln_elemwise_fn kiln_elemwise;   /* kiln: import */
