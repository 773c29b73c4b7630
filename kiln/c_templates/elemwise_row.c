/* ${label} */
static __attribute__((noinline, noclone)) void ${name}_row(int64_t n, char *const *q) {
    ${row_decls}
    ${unroll}
    for (int64_t i = 0; i < n; i++) {
        ${row_loads}
        ${body}
        ${row_stores}
    }
}
static int ${name}(kiln_buf *B) {
    static const int64_t sz[] = { ${sizes} };   /* item sizes: outputs, then inputs */
    kiln_buf *const op[] = { ${bufs} };
    return kiln_elemwise(op, ${nop}, ${nout}, ${nd}, sz, ${name}_row, ${exact}, ${scalars},
                         KILN_NT, KILN_PAR_MIN, KILN_STREAM_MIN);
}
