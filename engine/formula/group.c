/* group.c — grouping factors that are interactions of factors (a:b, and the b:a of a
 * nested (1|a/b)), as R's `a:b` followed by factor() (which drops unused combinations):
 * levels are the combinations that occur, ordered with the first factor varying slowest;
 * labels "la:lb".  Linear time: factors are combined pairwise; a pair whose first factor
 * is nested in the second keeps the first's codes, others are combined by a direct table
 * when the product of level counts is small, else by a two-pass counting sort. */
#include "formula_internal.h"

#include <stdlib.h>
#include <string.h>

/* Combine codes a (na levels) and b (nb levels) into codes of (a, b) pairs in
 * lexicographic order; a is overwritten with the result.  Returns the level count or -1
 * when out of memory. */
static int64_t combine_table(int32_t *a, int64_t na, const int32_t *b, int64_t nb, int64_t n)
{
    int32_t *tab = evm__calloc((size_t)(na * nb), sizeof *tab);
    if (!tab) return -1;
    for (int64_t i = 0; i < n; i++) tab[(int64_t)a[i] * nb + b[i]] = 1;
    int32_t next = 0;
    for (int64_t k = 0; k < na * nb; k++)
        if (tab[k]) tab[k] = ++next;
    for (int64_t i = 0; i < n; i++) a[i] = tab[(int64_t)a[i] * nb + b[i]] - 1;
    free(tab);
    return next;
}

/* 1 when each level of a (na levels, all occurring) occurs with one level of b only
 * (classrooms within schools): then the (a, b) pairs in lexicographic order are the
 * levels of a, and a's codes are already the result.  0 when not, -1 out of memory. */
static int is_nested_in(const int32_t *a, int64_t na, const int32_t *b, int64_t n)
{
    int32_t *of = evm__malloc((size_t)(na ? na : 1), sizeof *of);
    if (!of) return -1;
    for (int64_t l = 0; l < na; l++) of[l] = -1;
    int nested = 1;
    for (int64_t i = 0; i < n && nested; i++) {
        if (of[a[i]] < 0) of[a[i]] = b[i];
        else nested = of[a[i]] == b[i];
    }
    free(of);
    return nested;
}

/* Stable counting sort of the rows `in` by key[row] (0..nk-1) into `out`. */
static int counting_sort(const int64_t *in, int64_t n, const int32_t *key, int64_t nk,
                         int64_t *out)
{
    int64_t *start = evm__calloc((size_t)nk + 1, sizeof *start);
    if (!start) return -1;
    for (int64_t i = 0; i < n; i++) start[key[in ? in[i] : i] + 1]++;
    for (int64_t k = 0; k < nk; k++) start[k + 1] += start[k];
    for (int64_t i = 0; i < n; i++) {
        int64_t row = in ? in[i] : i;
        out[start[key[row]]++] = row;
    }
    free(start);
    return 0;
}

static int64_t combine_sort(int32_t *a, int64_t na, const int32_t *b, int64_t nb, int64_t n)
{
    int64_t *p1 = evm__malloc((size_t)n, sizeof *p1);
    int64_t *p2 = evm__malloc((size_t)n, sizeof *p2);
    int64_t next = -1;
    /* LSD radix: by b, then stably by a: rows ordered by (a, b). */
    if (p1 && p2 && counting_sort(NULL, n, b, nb, p1) == 0 &&
        counting_sort(p1, n, a, na, p2) == 0) {
        int32_t pa = -1, pb = -1;
        next = 0;
        /* p1 is free again: it keeps the new code of each row until a is overwritten. */
        for (int64_t i = 0; i < n; i++) {
            int64_t row = p2[i];
            if (a[row] != pa || b[row] != pb) {
                pa = a[row];
                pb = b[row];
                next++;
            }
            p1[row] = next - 1;
        }
        for (int64_t i = 0; i < n; i++) a[i] = (int32_t)p1[i];
    }
    free(p1);
    free(p2);
    return next;
}

static int join_labels(const evm__mvar *const *f, int nf, const int32_t *codes, int64_t n,
                       int64_t nlev, char **labels)
{
    int st = EVM_OK;
    int64_t *rep = evm__malloc((size_t)nlev, sizeof *rep);
    if (!rep) return EVM_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++) rep[codes[i]] = i;
    for (int64_t l = 0; l < nlev && st == EVM_OK; l++) {
        size_t len = 0;
        for (int k = 0; k < nf; k++) len += strlen(f[k]->label[f[k]->code[rep[l]]]) + 1;
        char *s = malloc(len);
        if (!s) {
            st = EVM_ERR_NOMEM;
            break;
        }
        char *w = s;
        for (int k = 0; k < nf; k++) {
            const char *lab = f[k]->label[f[k]->code[rep[l]]];
            size_t m = strlen(lab);
            if (k) *w++ = ':';
            memcpy(w, lab, m);
            w += m;
        }
        *w = '\0';
        labels[l] = s;
    }
    free(rep);
    return st;
}

int evm__group_codes(const evm__mvar *const *f, int nf, int64_t n, int32_t **codes_out,
                     int64_t *nlevels_out, char ***labels_out)
{
    int st = EVM_OK;
    char **labels = NULL;
    int64_t nlev = f[0]->nlev;
    int32_t *codes = evm__malloc((size_t)n, sizeof *codes);
    if (!codes) return EVM_ERR_NOMEM;
    memcpy(codes, f[0]->code, (size_t)n * sizeof *codes);
    for (int k = 1; k < nf && nlev >= 0; k++) {
        int64_t nb = f[k]->nlev;
        int nested = is_nested_in(codes, nlev, f[k]->code, n);
        if (nested < 0) goto nomem;
        if (nested) continue;
        int small = nb > 0 && nlev <= (n + 65536) / nb;
        nlev = small ? combine_table(codes, nlev, f[k]->code, nb, n)
                     : combine_sort(codes, nlev, f[k]->code, nb, n);
    }
    if (nlev < 0) goto nomem;
    labels = evm__calloc((size_t)nlev, sizeof *labels);
    if (!labels) goto nomem;
    if (nf == 1) {
        for (int64_t l = 0; l < nlev; l++)
            if (!(labels[l] = evm__strdup(f[0]->label[l]))) goto nomem;
    } else if (join_labels(f, nf, codes, n, nlev, labels) < 0) {
        goto nomem;
    }
    *codes_out = codes;
    *nlevels_out = nlev;
    *labels_out = labels;
    return EVM_OK;
nomem:
    st = EVM_ERR_NOMEM;
    for (int64_t l = 0; labels && l < nlev; l++) free(labels[l]);
    free(labels);
    free(codes);
    return st;
}
