/* design.c — covariate matrices (numeric columns and factor indicators, with R's column
 * names) and exact-matching cells. */
#include "match_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void evm__mt_design_free(evm__mt_design *d)
{
    if (!d) return;
    if (d->name)
        for (int j = 0; j < d->p; j++) free(d->name[j]);
    free(d->name);
    free(d->col);
    free(d->own);
    free(d->binary);
    memset(d, 0, sizeof *d);
}

int evm__mt_col(const evm_frame *f, const char *name, const char *option, evm_ctx *c)
{
    int j = evm_frame_find(f, name, -1);
    if (j < 0)
        return evm__fail(c, EVM_ERR_COLUMN, "%s: no column '%s' in the data", option, name);
    return j;
}

static int add_column(evm__mt_design *d, int j, const char *name, evm_ctx *c)
{
    d->name[j] = evm__strdup(name);
    if (!d->name[j]) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    const double *x = d->col[j];
    int bin = 1;
    for (int64_t i = 0; i < d->n && bin; i++) bin = x[i] == 0 || x[i] == 1;
    d->binary[j] = bin;
    return 0;
}

int evm__mt_design_build(const evm_frame *f, int nvar, const char *const *vars, int intercept,
                      int all_levels, evm__mt_design *d, evm_ctx *c)
{
    memset(d, 0, sizeof *d);
    d->n = evm_frame_nrows(f);
    int p = intercept ? 1 : 0, nnum = 0;
    for (int v = 0; v < nvar; v++) {
        int col = evm__mt_col(f, vars[v], "--covariates", c);
        if (col < 0) return col;
        if (evm_frame_type(f, col) == EVM_COL_NUMERIC) {
            p++, nnum++;
            continue;
        }
        const int32_t nl = evm_frame_nlevels(f, col);
        if (d->n > 2 && nl >= d->n)
            return evm__fail(c, EVM_ERR_VALUE,
                             "--covariates: '%s' has a different value in each of the %lld "
                             "rows (an identifier?): it cannot be a covariate",
                             vars[v], (long long)d->n);
        p += nl - (all_levels ? 0 : 1);
    }
    d->p = p;
    int nown = p - nnum;   /* generated columns */
    d->own = evm__calloc((size_t)(d->n > 0 ? d->n : 1) * (size_t)(nown > 0 ? nown : 1),
                         sizeof *d->own);
    d->col = evm__calloc((size_t)(p > 0 ? p : 1), sizeof *d->col);
    d->name = evm__calloc((size_t)(p > 0 ? p : 1), sizeof *d->name);
    d->binary = evm__calloc((size_t)(p > 0 ? p : 1), sizeof *d->binary);
    if (!d->own || !d->col || !d->name || !d->binary) {
        evm__mt_design_free(d);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    }
    int j = 0, st = 0, k = 0;
    if (intercept) {
        double *x = d->own + (int64_t)k++ * d->n;
        for (int64_t i = 0; i < d->n; i++) x[i] = 1.0;
        d->col[j] = x;
        if ((st = add_column(d, j++, "(Intercept)", c)) < 0) goto fail;
    }
    for (int v = 0; v < nvar; v++) {
        int col = evm_frame_find(f, vars[v], -1);
        if (evm_frame_type(f, col) == EVM_COL_NUMERIC) {
            d->col[j] = evm_frame_numeric(f, col);
            if ((st = add_column(d, j++, vars[v], c)) < 0) goto fail;
            continue;
        }
        const int32_t *code = evm_frame_codes(f, col);
        int32_t nl = evm_frame_nlevels(f, col);
        for (int32_t l = all_levels ? 0 : 1; l < nl; l++) {
            double *x = d->own + (int64_t)k++ * d->n;
            for (int64_t i = 0; i < d->n; i++) x[i] = code[i] == l ? 1.0 : 0.0;
            d->col[j] = x;
            char *nm = evm__asprintf("%s%s", vars[v], evm_frame_level(f, col, l));
            if (!nm) {
                st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
                goto fail;
            }
            st = add_column(d, j++, nm, c);
            free(nm);
            if (st < 0) goto fail;
        }
    }
    return 0;
fail:
    evm__mt_design_free(d);
    return st;
}

/* Codes 0..L-1 of one column: factor codes, or ranks of the distinct numbers. */
static int column_codes(const evm_frame *f, int col, int64_t n, int64_t *code, int64_t *nl,
                        uint64_t *kbuf, evm__mt_ws *ws, evm_ctx *c)
{
    if (evm_frame_type(f, col) == EVM_COL_FACTOR) {
        const int32_t *k = evm_frame_codes(f, col);
        for (int64_t i = 0; i < n; i++) code[i] = k[i];
        *nl = evm_frame_nlevels(f, col);
        return 0;
    }
    const double *x = evm_frame_numeric(f, col);
    for (int64_t i = 0; i < n; i++) kbuf[i] = evm__mt_double_key(x[i]);
    return evm__mt_dense_codes(ws, n, kbuf, code, nl, c);
}

int evm__mt_cells(const evm_frame *f, int nvar, const char *const *vars, int32_t *cell,
                  int64_t *ncells, evm__mt_ws *ws, evm_ctx *c)
{
    int64_t n = evm_frame_nrows(f);
    int st = 0;
    int64_t *key = evm__calloc((size_t)(n > 0 ? n : 1), sizeof *key);
    int64_t *code = evm__malloc((size_t)(n > 0 ? n : 1), sizeof *code);
    uint64_t *u = evm__malloc((size_t)(n > 0 ? n : 1), sizeof *u);
    if (!key || !code || !u) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    int64_t nk = 1;   /* key[i] in 0..nk-1 */
    for (int v = 0; v < nvar; v++) {
        int col = evm__mt_col(f, vars[v], "--exact", c);
        if (col < 0) {
            st = col;
            goto cleanup;
        }
        int64_t nl = 0;
        if ((st = column_codes(f, col, n, code, &nl, u, ws, c)) < 0) goto cleanup;
        /* renumber densely so that the next product cannot overflow */
        for (int64_t i = 0; i < n; i++) u[i] = (uint64_t)(key[i] * nl + code[i]);
        if ((st = evm__mt_dense_codes(ws, n, u, key, &nk, c)) < 0) goto cleanup;
    }
    if (nk > INT32_MAX) {
        st = evm__fail(c, EVM_ERR_VALUE, "--exact: more than %d cells", INT32_MAX);
        goto cleanup;
    }
    for (int64_t i = 0; i < n; i++) cell[i] = (int32_t)key[i];
    *ncells = n > 0 ? nk : 0;
cleanup:
    free(key);
    free(code);
    free(u);
    return st;
}
