/* The elementwise driver as a library of its own (kiln/linkers/c/driver.py): built by setup.py
 * as kiln/linkers/c/_driver*.so, or through the module cache when that build is missing.
 * Plain C: the prelude (descriptors, helpers) and the driver. */
#include "kiln_prelude.h"
#include "elemwise.c"

/* the descriptor layout this library was built for (checked against the runtime's) */
__attribute__((visibility("default"))) int64_t kiln_driver_desc_size(void) { return (int64_t)sizeof(kiln_buf); }

/* the CPU this library was built for (setup.py: -march=native plus a hash of the CPU's flags;
 * empty for a portable build): the runtime uses the library only on a CPU with that hash */
#ifndef KILN_DRIVER_CPU
#define KILN_DRIVER_CPU ""
#endif
__attribute__((visibility("default"))) const char *kiln_driver_cpu(void) { return KILN_DRIVER_CPU; }
