/* ${label} */
/* Concatenation: each input is copied into its slab of the output (the output's data
 * pointer moved along `axis`), walking the input with an odometer over the outer axes and
 * a strided inner loop; the other axes must match the output's (else KILN_ESHAPE). */
static int ${name}(kiln_buf *B) {
    enum { ND = ${nd}, AXIS = ${axis} };
    static const int64_t ins[] = { ${ins} };
    kiln_buf *out = &B[${obuf}];
    int64_t off = 0;
    for (size_t k = 0; k < sizeof(ins) / sizeof(ins[0]); k++) {
        const kiln_buf *a = &B[ins[k]];
        int64_t n = 1;
        for (int d = 0; d < ND; d++) {
            if (d != AXIS && a->shape[d] != out->shape[d]) return KILN_ESHAPE;
            n *= a->shape[d];
        }
        if (off + a->shape[AXIS] > out->shape[AXIS]) return KILN_ESHAPE;
        char *base = out->data + off * out->strides[AXIS];
        off += a->shape[AXIS];
        if (n == 0) continue;
        const int64_t inner = a->shape[ND - 1], sa = a->strides[ND - 1], so = out->strides[ND - 1];
        int64_t idx[KILN_MAXDIM + 1] = {0};
        const char *pa = a->data;
        char *po = base;
        for (int64_t r = 0; r < n / inner; r++) {
            if (sa == (int64_t)sizeof(${t}) && so == (int64_t)sizeof(${t})) {
                const ${t} *restrict x = (const ${t} *)pa;
                ${t} *restrict y = (${t} *)po;
                for (int64_t j = 0; j < inner; j++) y[j] = x[j];
            } else {
                for (int64_t j = 0; j < inner; j++) *(${t} *)(po + j * so) = *(const ${t} *)(pa + j * sa);
            }
            for (int d = ND - 2; d >= 0; d--) {
                pa += a->strides[d]; po += out->strides[d];
                if (++idx[d] < a->shape[d]) break;
                pa -= a->strides[d] * a->shape[d]; po -= out->strides[d] * a->shape[d];
                idx[d] = 0;
            }
        }
    }
    return off == out->shape[AXIS] ? 0 : KILN_ESHAPE;
}
