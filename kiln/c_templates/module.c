/* kiln module: ${label} */
${prelude}

${kernels}

${entries}

int64_t kiln_desc_size(void) { return (int64_t)sizeof(kiln_buf); }
