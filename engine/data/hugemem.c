/* hugemem.c — blocks for millions of rows, backed by transparent huge pages.
 *
 * Filling a fresh 200 MB of columns costs about 0.5 s of 4 KB first-touch page faults on
 * a virtual machine and 0.02 s with 2 MB pages, so large blocks ask for huge pages
 * (madvise on the 2 MB-aligned interior; a no-op where unsupported).  Advised blocks are
 * grown by copying into a new advised block, never by realloc: madvise splits the
 * mapping, which stops realloc from moving it cheaply anyway. */
#include "data_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE ((uintptr_t)2 << 20)
#define HUGE_MIN ((size_t)4 << 20)

static void advise_huge(void *p, size_t bytes)
{
#ifdef MADV_HUGEPAGE
    if (!p || bytes < HUGE_MIN) return;
    uintptr_t start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    uintptr_t end = ((uintptr_t)p + bytes) & ~(HUGE_PAGE - 1);
    if (end > start) madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p;
    (void)bytes;
#endif
}

void *evm__malloc_huge(size_t count, size_t size)
{
    void *q = evm__malloc(count, size);
    if (q) advise_huge(q, count * size);
    return q;
}

void *evm__calloc_huge(size_t count, size_t size)
{
    void *q = evm__calloc(count, size);
    if (q) advise_huge(q, count * size);
    return q;
}

void *evm__grow_huge(void *p, size_t old_count, size_t new_count, size_t size)
{
    if (size && new_count > SIZE_MAX / size) return NULL;
    size_t bytes = new_count * size;
    if (bytes < HUGE_MIN) return realloc(p, bytes ? bytes : 1);
    void *q = evm__malloc_huge(new_count, size);
    if (!q) return NULL;
    size_t keep = old_count < new_count ? old_count : new_count;
    if (p && keep) memcpy(q, p, keep * size);
    free(p);
    return q;
}
