/* levels.c — from first-appearance codes to factor levels in their final order:
 * strings in byte order (as strcmp in the C locale), or numbers in numeric order with
 * equal values merged ("01" and "1") and labels as R prints them. */
#include "data_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s;
    uint32_t len;
    int32_t code;
} str_item;

typedef struct {
    double v;
    int32_t code;
} num_item;

static int cmp_bytes(const char *a, size_t na, const char *b, size_t nb)
{
    int r = memcmp(a, b, na < nb ? na : nb);
    return r ? r : (na > nb) - (na < nb);
}

static int cmp_str_item(const void *pa, const void *pb)
{
    const str_item *a = pa, *b = pb;
    return cmp_bytes(a->s, a->len, b->s, b->len);
}

static int cmp_num_item(const void *pa, const void *pb)
{
    const num_item *a = pa, *b = pb;
    if (a->v != b->v) return a->v < b->v ? -1 : 1;
    return (a->code > b->code) - (a->code < b->code);
}

/* rank[code] = level of string `code`; labels in byte order.  Returns nlevels or -1. */
static int32_t order_strings(const evm__strtab *t, int32_t *rank, char **labels_out,
                             char ***levels_out)
{
    int32_t k = evm__strtab_count(t);
    str_item *it = evm__malloc((size_t)k, sizeof *it);
    size_t bytes = 0;
    if (!it) return -1;
    int sorted = 1;
    for (int32_t i = 0; i < k; i++) {
        size_t len;
        it[i].s = evm__strtab_str(t, i, &len);
        it[i].len = (uint32_t)len;
        it[i].code = i;
        bytes += len + 1;
        if (i && sorted && cmp_str_item(&it[i - 1], &it[i]) > 0) sorted = 0;
    }
    if (!sorted) qsort(it, (size_t)k, sizeof *it, cmp_str_item);
    char *labels = evm__malloc(bytes, 1);
    char **levels = evm__malloc((size_t)k, sizeof *levels);
    if (!labels || !levels) {
        free(it);
        free(labels);
        free(levels);
        return -1;
    }
    char *p = labels;
    for (int32_t i = 0; i < k; i++) {
        memcpy(p, it[i].s, (size_t)it[i].len + 1);
        levels[i] = p;
        p += it[i].len + 1;
        rank[it[i].code] = i;
    }
    free(it);
    *labels_out = labels;
    *levels_out = levels;
    return k;
}

/* Same for numbers: equal values share a level.  Returns nlevels or -1. */
static int32_t order_numbers(int32_t k, const double *values, int32_t *rank,
                             char **labels_out, char ***levels_out)
{
    num_item *it = evm__malloc((size_t)k, sizeof *it);
    char *labels = evm__malloc((size_t)k, 32);
    char **levels = evm__malloc((size_t)k, sizeof *levels);
    if (!it || !labels || !levels) goto fail;
    int sorted = 1;
    for (int32_t i = 0; i < k; i++) {
        it[i].v = values[i];
        it[i].code = i;
        if (i && it[i - 1].v >= it[i].v) sorted = 0;
    }
    if (!sorted) qsort(it, (size_t)k, sizeof *it, cmp_num_item);
    int32_t nlev = 0;
    char *p = labels;
    for (int32_t i = 0; i < k; i++) {
        if (i == 0 || it[i].v != it[i - 1].v) {
            levels[nlev++] = p;
            p += evm__format_r_double(it[i].v, p, 32) + 1;
        }
        rank[it[i].code] = nlev - 1;
    }
    free(it);
    /* Give back the unused label space: keep offsets while the block may move. */
    for (int32_t i = 0; i < nlev; i++) levels[i] = (char *)(uintptr_t)(levels[i] - labels);
    char *shrunk = realloc(labels, (size_t)(p - labels) + 1);
    if (shrunk) labels = shrunk;
    for (int32_t i = 0; i < nlev; i++) levels[i] = labels + (uintptr_t)levels[i];
    *labels_out = labels;
    *levels_out = levels;
    return nlev;
fail:
    free(it);
    free(labels);
    free(levels);
    return -1;
}

int evm__levels_finish(const evm__strtab *t, const double *values, int32_t *codes,
                       int64_t n, char **labels, char ***levels, int32_t *nlevels)
{
    int32_t k = evm__strtab_count(t);
    int32_t *rank = evm__malloc((size_t)k, sizeof *rank);
    if (!rank) return EVM_ERR_NOMEM;
    int32_t nlev = values ? order_numbers(k, values, rank, labels, levels)
                          : order_strings(t, rank, labels, levels);
    if (nlev < 0) {
        free(rank);
        return EVM_ERR_NOMEM;
    }
    int identity = 1;
    for (int32_t i = 0; i < k && identity; i++) identity = rank[i] == i;
    if (!identity)
        for (int64_t i = 0; i < n; i++)
            if (codes[i] >= 0) codes[i] = rank[codes[i]];
    free(rank);
    *nlevels = nlev;
    return EVM_OK;
}
