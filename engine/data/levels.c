/* levels.c — from first-appearance codes to factor levels in their final order:
 * strings in byte order (as strcmp in the C locale), or numbers in numeric order with
 * equal values merged ("01" and "1") and labels as R prints them.
 *
 * Id columns can have millions of levels, so the order comes from an LSD radix sort on
 * 64-bit keys (order-preserving bits of a double; or 8 bytes of a string, big-endian,
 * refined 8 bytes further within runs that tie), not from comparison sorting. */
#define _GNU_SOURCE   /* qsort_r */
#include "data_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t key;
    int32_t code;
} kv;

#define DEEP_MAX 256   /* string bytes the radix refinement looks at; then qsort_r */

static void insertion_sort(kv *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        kv x = a[i];
        size_t j = i;
        for (; j > 0 && a[j - 1].key > x.key; j--) a[j] = a[j - 1];
        a[j] = x;
    }
}

/* Stable sort of a[0..n) by key: LSD radix with 16-bit digits (digits that are equal in
 * every key are skipped).  tmp has room for n.  Returns -1 when out of memory. */
static int radix_sort(kv *a, kv *tmp, size_t n)
{
    if (n < 64) {
        insertion_sort(a, n);
        return 0;
    }
    uint32_t *count = malloc(65536 * sizeof *count);
    if (!count) return -1;
    for (int sh = 0; sh < 64; sh += 16) {
        memset(count, 0, 65536 * sizeof *count);
        for (size_t i = 0; i < n; i++) count[(a[i].key >> sh) & 0xffff]++;
        if (count[(a[0].key >> sh) & 0xffff] == n) continue;
        uint32_t sum = 0;
        for (int b = 0; b < 65536; b++) {
            uint32_t c = count[b];
            count[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++) tmp[count[(a[i].key >> sh) & 0xffff]++] = a[i];
        memcpy(a, tmp, n * sizeof *a);
    }
    free(count);
    return 0;
}

/* ---------------------------------------------------------------- strings */

typedef struct {
    const char *const *str;
    const uint32_t *len;
} spelling;

/* Bytes [depth, depth+8) of a string as a big-endian number (zeros past its end). */
static uint64_t string_key(const spelling *sp, int32_t code, size_t depth)
{
    const unsigned char *s = (const unsigned char *)sp->str[code];
    size_t len = sp->len[code];
    uint64_t k = 0;
    for (size_t i = 0; i < 8; i++) k = k << 8 | (depth + i < len ? s[depth + i] : 0);
    return k;
}

static int cmp_strings(const void *pa, const void *pb, void *arg)
{
    const spelling *sp = arg;
    int32_t a = ((const kv *)pa)->code, b = ((const kv *)pb)->code;
    size_t na = sp->len[a], nb = sp->len[b];
    int r = memcmp(sp->str[a], sp->str[b], na < nb ? na : nb);
    return r ? r : (na > nb) - (na < nb);
}

/* Sort a[0..n) by the string bytes from `depth` on (the bytes before are equal). */
static int sort_strings(const spelling *sp, kv *a, kv *tmp, size_t n, size_t depth)
{
    if (depth >= DEEP_MAX) {
        qsort_r(a, n, sizeof *a, cmp_strings, (void *)sp);
        return 0;
    }
    for (size_t i = 0; i < n; i++) a[i].key = string_key(sp, a[i].code, depth);
    if (radix_sort(a, tmp, n) < 0) return -1;
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && a[j].key == a[i].key; j++) continue;
        if (j - i < 2) continue;
        /* A tie on these 8 bytes.  Strings that end within them are prefixes of the
         * others (the key pads with zeros) and differ only in length: they come first,
         * by length; the rest are ordered by their next 8 bytes. */
        for (size_t m = i; m < j; m++) {
            size_t len = sp->len[a[m].code];
            a[m].key = len <= depth + 8 ? len : UINT64_MAX;
        }
        if (radix_sort(a + i, tmp, j - i) < 0) return -1;
        size_t lo = i;
        while (lo < j && a[lo].key != UINT64_MAX) lo++;
        if (j - lo > 1 && sort_strings(sp, a + lo, tmp, j - lo, depth + 8) < 0) return -1;
    }
    return 0;
}

/* rank[code] = level of string `code`; labels in byte order.  Returns nlevels or -1. */
static int32_t order_strings(int32_t k, const spelling *sp, int32_t *rank, char **labels_out,
                             char ***levels_out)
{
    kv *it = evm__malloc((size_t)k, sizeof *it);
    kv *tmp = evm__malloc((size_t)k, sizeof *tmp);
    char *labels = NULL;
    char **levels = evm__malloc((size_t)k, sizeof *levels);
    size_t bytes = 0;
    int sorted = 1;
    if (!it || !tmp || !levels) goto fail;
    for (int32_t i = 0; i < k; i++) {
        it[i].code = i;
        bytes += sp->len[i] + 1;
        if (i && sorted && cmp_strings(&it[i - 1], &it[i], (void *)sp) > 0) sorted = 0;
    }
    if (!sorted && sort_strings(sp, it, tmp, (size_t)k, 0) < 0) goto fail;
    if (!(labels = evm__malloc(bytes, 1))) goto fail;
    char *p = labels;
    for (int32_t i = 0; i < k; i++) {
        int32_t code = it[i].code;
        memcpy(p, sp->str[code], sp->len[code]);
        p[sp->len[code]] = '\0';
        levels[i] = p;
        p += sp->len[code] + 1;
        rank[code] = i;
    }
    free(it);
    free(tmp);
    *labels_out = labels;
    *levels_out = levels;
    return k;
fail:
    free(it);
    free(tmp);
    free(labels);
    free(levels);
    return -1;
}

/* ---------------------------------------------------------------- numbers */

static uint64_t double_key(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return (u >> 63) ? ~u : u | 0x8000000000000000ULL;
}

/* Same for numbers: equal values share a level.  Returns nlevels or -1. */
static int32_t order_numbers(int32_t k, const double *values, int32_t *rank,
                             char **labels_out, char ***levels_out)
{
    kv *it = evm__malloc((size_t)k, sizeof *it);
    kv *tmp = evm__malloc((size_t)k, sizeof *tmp);
    char *labels = evm__malloc((size_t)k, 32);
    char **levels = evm__malloc((size_t)k, sizeof *levels);
    if (!it || !tmp || !labels || !levels) goto fail;
    int sorted = 1;
    for (int32_t i = 0; i < k; i++) {
        it[i].key = double_key(values[i]);
        it[i].code = i;
        if (i && it[i - 1].key >= it[i].key) sorted = 0;
    }
    if (!sorted && radix_sort(it, tmp, (size_t)k) < 0) goto fail;
    free(tmp);
    tmp = NULL;
    int32_t nlev = 0;
    size_t used = 0;
    for (int32_t i = 0; i < k; i++) {
        double v = values[it[i].code];
        if (i == 0 || v != values[it[i - 1].code]) {    /* -0 == 0: one level */
            levels[nlev++] = (char *)(uintptr_t)used;  /* an offset until labels settle */
            used += (size_t)evm__format_r_double(v, labels + used, 32) + 1;
        }
        rank[it[i].code] = nlev - 1;
    }
    free(it);
    char *shrunk = realloc(labels, used ? used : 1);   /* give back the unused space */
    if (shrunk) labels = shrunk;
    for (int32_t i = 0; i < nlev; i++) levels[i] = labels + (uintptr_t)levels[i];
    *labels_out = labels;
    *levels_out = levels;
    return nlev;
fail:
    free(it);
    free(tmp);
    free(labels);
    free(levels);
    return -1;
}

/* Rewrite codes through rank (skipped when rank is the identity). */
static void remap(const int32_t *rank, int32_t k, int32_t *codes, int64_t n)
{
    int identity = 1;
    for (int32_t i = 0; i < k && identity; i++) identity = rank[i] == i;
    if (identity) return;
    for (int64_t i = 0; i < n; i++)
        if (codes[i] >= 0) codes[i] = rank[codes[i]];
}

int evm__levels_numeric(int32_t k, const double *values, int32_t *codes, int64_t n,
                        char **labels, char ***levels, int32_t *nlevels)
{
    int32_t *rank = evm__malloc((size_t)k, sizeof *rank);
    int32_t nlev = rank ? order_numbers(k, values, rank, labels, levels) : -1;
    if (nlev >= 0) remap(rank, k, codes, n);
    free(rank);
    if (nlev < 0) return EVM_ERR_NOMEM;
    *nlevels = nlev;
    return EVM_OK;
}

int evm__levels_bytes(int32_t k, const char *const *str, const uint32_t *len, int32_t *codes,
                      int64_t n, char **labels, char ***levels, int32_t *nlevels)
{
    spelling sp = {str, len};
    int32_t *rank = evm__malloc((size_t)k, sizeof *rank);
    int32_t nlev = rank ? order_strings(k, &sp, rank, labels, levels) : -1;
    if (nlev >= 0) remap(rank, k, codes, n);
    free(rank);
    if (nlev < 0) return EVM_ERR_NOMEM;
    *nlevels = nlev;
    return EVM_OK;
}
