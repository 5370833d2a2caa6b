/* pages: memory by the page for large, mostly idle structures (worst-case
 * rings and buffers): a page counts in RSS only once written.  Owns no
 * state; never used for what the steady state allocates. */
#ifndef EMGW_PAGES_H
#define EMGW_PAGES_H

#include <stddef.h>

/* n zeroed bytes in pages of their own (calloc may hand out heap memory it
 * has to clear, making every page resident at once); NULL with errno. */
void *pages_alloc(size_t n);
/* Give back what pages_alloc(n) gave; NULL is a no-op. */
void pages_free(void *p, size_t n);

#endif
