/* An entry point (segment: ${label}): B holds the descriptors of every buffer of the segment.
 * Returns 0, or an error code with *failed set to the index of the failing kernel. */
int ${entry}(kiln_buf *B, int64_t nbuf, int64_t *failed) {
    static const int64_t ndims[] = { ${ndims} }, dtypes[] = { ${dtypes} };
    if (nbuf != ${nbuf}) { *failed = -1; return KILN_EDTYPE; }
    for (int64_t k = 0; k < nbuf; k++)
        if (B[k].ndim != ndims[k] || B[k].dtype != dtypes[k]) { *failed = -1 - k; return KILN_EDTYPE; }
    int rc;
${calls}
    return 0;
}
