/* ${label} */
static int ${name}(kiln_buf *B) {
    static const int iax[] = { ${iaxes} }, rsrc[] = { ${rsrc} };   /* see index_decl.c */
    int64_t sl[${xnd1}][6] = {{0}};
${slices}
    kiln_buf *const op[] = { &B[${xbuf}], &B[${obuf}], &B[${vbuf}]${ixbufs} };
    const kiln_index_spec s = { ${xnd}, ${rnd}, ${ni}, ${bnd}, ${mode}, iax, rsrc, (const int64_t (*)[6])sl };
    return kiln_index(op, &s);
}
