/* cem.c — coarsened exact matching as MatchIt's method = "cem" (4.5, without k2k).
 *
 * Each numeric covariate is cut into bins: N equal-width bins between its minimum and
 * maximum over the whole sample, the outer edges open (R: breaks <- seq(min, max,
 * length = N + 1); breaks[c(1, N + 1)] <- c(-Inf, Inf); findInterval(x, breaks)), with
 * N from --cutpoints VAR=N or else Sturges' rule ceil(log2(n) + 1); N = 0 keeps the
 * variable exact and N = 1 leaves it out.  Categorical covariates and --exact variables
 * are exact.  Students whose stratum holds both groups are matched; strata are numbered
 * in the order in which their first comparison student appears (MatchIt's intersect()). */
#include "match_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* key[i] <- dense number of (key[i], code[i]). */
static int combine(int64_t *key, const int64_t *code, int64_t nl, int64_t n, uint64_t *u,
                   evm__mt_ws *ws, evm_ctx *c)
{
    int64_t m;
    for (int64_t i = 0; i < n; i++) u[i] = (uint64_t)(key[i] * nl + code[i]);
    return evm__mt_dense_codes(ws, n, u, key, &m, c);
}

static int bins_of(const evm_match_opts *o, const char *var, int64_t n)
{
    for (int i = 0; i < o->ncut; i++)
        if (strcmp(o->cut_var[i], var) == 0) return o->cut_bins[i];
    return (int)ceil(log2((double)n) + 1);   /* nclass.Sturges */
}

int evm__mt_cem_strata(const evm_frame *f, const evm_match_opts *o, const int *treat,
                       const int32_t *cell, int64_t *stratum, int64_t *nstrata,
                       evm__mt_ws *ws, evm_ctx *c)
{
    const int64_t n = evm_frame_nrows(f);
    int st = 0;
    int64_t *key = evm__malloc((size_t)(n > 0 ? n : 1), sizeof *key);
    int64_t *code = evm__malloc((size_t)(n > 0 ? n : 1), sizeof *code);
    uint64_t *u = evm__malloc((size_t)(n > 0 ? n : 1), sizeof *u);
    int64_t *num = NULL;
    char *has_t = NULL;
    if (!key || !code || !u) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (int64_t i = 0; i < n; i++) key[i] = cell[i];
    for (int v = 0; v < o->ncov; v++) {
        int col = evm__mt_col(f, o->covariates[v], "--covariates", c);
        if (col < 0) {
            st = col;
            goto cleanup;
        }
        int64_t nl = 0;
        if (evm_frame_type(f, col) == EVM_COL_FACTOR) {
            const int32_t *k = evm_frame_codes(f, col);
            for (int64_t i = 0; i < n; i++) code[i] = k[i];
            nl = evm_frame_nlevels(f, col);
        } else {
            const double *x = evm_frame_numeric(f, col);
            int bins = bins_of(o, o->covariates[v], n);
            if (bins == 1) continue;
            if (bins == 0) {   /* exact on the distinct values */
                for (int64_t i = 0; i < n; i++) u[i] = evm__mt_double_key(x[i]);
                if ((st = evm__mt_dense_codes(ws, n, u, code, &nl, c)) < 0) goto cleanup;
            } else {
                double lo = INFINITY, hi = -INFINITY;
                for (int64_t i = 0; i < n; i++) {
                    if (x[i] < lo) lo = x[i];
                    if (x[i] > hi) hi = x[i];
                }
                /* interior breaks lo + j * (hi - lo) / bins, j = 1 .. bins - 1 */
                double by = (hi - lo) / bins;
                for (int64_t i = 0; i < n; i++) {
                    int64_t b = 0;
                    if (lo != hi)
                        for (int j = 1; j < bins; j++) b += lo + j * by <= x[i];
                    code[i] = b;
                }
                nl = bins;
            }
        }
        if ((st = combine(key, code, nl, n, u, ws, c)) < 0) goto cleanup;
    }
    /* number the strata holding both groups by first appearance among comparison rows */
    int64_t nkeys = 0;
    for (int64_t i = 0; i < n; i++)
        if (key[i] + 1 > nkeys) nkeys = key[i] + 1;
    num = evm__malloc((size_t)(nkeys > 0 ? nkeys : 1), sizeof *num);
    has_t = evm__calloc((size_t)(nkeys > 0 ? nkeys : 1), 1);
    if (!num || !has_t) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (int64_t g = 0; g < nkeys; g++) num[g] = -1;
    for (int64_t i = 0; i < n; i++)
        if (treat[i]) has_t[key[i]] = 1;
    int64_t ns = 0;
    for (int64_t i = 0; i < n; i++)
        if (!treat[i] && has_t[key[i]] && num[key[i]] < 0) num[key[i]] = ns++;
    for (int64_t i = 0; i < n; i++) stratum[i] = num[key[i]];
    *nstrata = ns;
cleanup:
    free(key);
    free(code);
    free(u);
    free(num);
    free(has_t);
    return st;
}

