/* ${label} */
static int ${name}(kiln_buf *B) {
    /* loop-axis lengths (each input dim on a loop axis sets it unless it is 1, a broadcast),
     * byte strides per operand and loop axis (0 on broadcast axes), output shape checks */
    ${setup}
#if KILN_NT > 1
    const double kiln_work = ${work};   /* elements visited by the whole nest */
    (void)kiln_work;
#endif
    ${body}
    return 0;
}
