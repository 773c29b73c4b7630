/* Indexing with integer arrays and slices (kiln/linkers/c/ir_index.py) is done by one
 * function of kiln's library (index_lib.c), compiled once: a module's index kernel only
 * describes its key (which x axis each index array indexes, where each region axis comes
 * from, the slice bounds) and calls it.  The element types come from the descriptors. */
typedef struct {
    int xnd, rnd, ni, bnd;
    int mode;                 /* 0 gather out = x[key]; 1 set, 2 inc: out = x with y scattered */
    const int *iax;           /* per index array: the x axis it indexes */
    const int *rsrc;          /* per region axis: its x axis, -1 - its block axis, or KILN_NEWAXIS */
    const int64_t (*slice)[6];   /* per x axis: sliced?, has start, start, has stop, stop, step */
} kiln_index_spec;
#define KILN_NEWAXIS (-1000)   /* kiln.linkers.c.ir_index.NEWAXIS_SRC */
/* op: x, out, the value (out for a gather, y for a scatter), then the index arrays */
typedef int (*kiln_index_fn)(kiln_buf *const *op, const kiln_index_spec *s);
#ifndef KILN_LIBRARY_BUILD
static kiln_index_fn kiln_index;   /* kiln: import */
#endif
