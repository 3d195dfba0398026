/* bigmem.c — allocations for arrays of millions of rows, advised to use transparent huge
 * pages: on virtual machines first-touch page faults of 4 KB pages dominate filling fresh
 * 40 MB columns (several times the cost of the work itself). */
#include "formula_internal.h"

#include <stdlib.h>
#include <sys/mman.h>

#define HUGE_PAGE ((uintptr_t)2 << 20)
#define HUGE_MIN ((size_t)4 << 20)

static void *advise(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    if (p && bytes >= HUGE_MIN) {
        uintptr_t start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
        uintptr_t end = ((uintptr_t)p + bytes) & ~(HUGE_PAGE - 1);
        if (end > start) madvise((void *)start, end - start, MADV_HUGEPAGE);
    }
#endif
    return p;
}

void *evm__big_malloc(size_t count, size_t size)
{
    void *p = evm__malloc(count, size);
    return advise(p, count * size);
}

void *evm__big_calloc(size_t count, size_t size)
{
    void *p = evm__calloc(count, size);
    return advise(p, count * size);
}
