/* design.c — the model matrix of a term list, as R's model.matrix() with treatment
 * contrasts.
 *
 * Coding of a factor in a term (R's TermCode, src/library/stats/src/model.c): contrasts
 * (drop the first level) when the term without that factor is empty or is contained in a
 * preceding term, else full indicator coding.  Without an intercept, the first factor of
 * the first term holding a factor is coded by indicators.  Columns of a term: every
 * combination of the columns of its variables, the first variable varying fastest, named
 * by joining the parts with ':' (a factor's part is its name followed by the level label). */
#include "formula_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_COLS (1 << 20)

enum { ABSENT = 0, CONTRAST = 1, FULL = 2 };

/* code[t * nvars + v]: how local variable v enters term t. */
static int *term_codes(const evm__design *d, const evm__mvar *mv)
{
    int nv = d->nvars;
    int *code = evm__calloc((size_t)d->nterms * (size_t)(nv ? nv : 1), sizeof *code);
    if (!code) return NULL;
    for (int t = 0; t < d->nterms; t++)
        for (int v = 0; v < nv; v++) {
            if (!(d->term[t] >> v & 1)) continue;
            uint64_t rest = d->term[t] & ~((uint64_t)1 << v);
            int c = rest == 0 ? CONTRAST : FULL;
            for (int u = 0; u < t && c == FULL; u++)
                if ((rest & ~d->term[u]) == 0) c = CONTRAST;
            code[t * nv + v] = c;
        }
    if (!d->intercept) {
        for (int t = 0; t < d->nterms; t++)
            for (int v = 0; v < nv; v++)
                if (code[t * nv + v] && mv[d->var[v]].is_factor) {
                    code[t * nv + v] = FULL;
                    return code;
                }
    }
    return code;
}

/* Columns of variable v coded as c: 1 for a number, levels (minus one for contrasts). */
static int64_t var_ncol(const evm__mvar *m, int c)
{
    if (!c) return 1;
    if (!m->is_factor) return 1;
    return c == FULL ? m->nlev : m->nlev - 1;
}

static int64_t count_cols(const evm__design *d, const evm__mvar *mv, const int *code,
                          int64_t *tcols)
{
    int64_t total = d->intercept ? 1 : 0;
    for (int t = 0; t < d->nterms; t++) {
        int64_t k = 1;
        for (int v = 0; v < d->nvars; v++)
            if (code[t * d->nvars + v]) {
                k *= var_ncol(&mv[d->var[v]], code[t * d->nvars + v]);
                if (k > MAX_COLS) k = MAX_COLS + 1;
            }
        if (tcols) tcols[t] = k;
        total += k;
        if (total > MAX_COLS) return MAX_COLS + 1;
    }
    return total;
}

int evm__design_ncol(const evm__design *d, const evm__mvar *mv, int64_t *ncol)
{
    int *code = term_codes(d, mv);
    if (!code) return EVM_ERR_NOMEM;
    *ncol = count_cols(d, mv, code, NULL);
    free(code);
    return EVM_OK;
}

/* Names of the columns of term t, written to names[0..]. */
static int term_names(const evm__formula *F, const evm__design *d, const evm__mvar *mv,
                      const int *code, int t, int64_t ncols, char **names)
{
    int nv = d->nvars, st = EVM_OK;
    for (int64_t j = 0; j < ncols; j++) names[j] = evm__strdup("");
    for (int64_t j = 0; j < ncols; j++)
        if (!names[j]) return EVM_ERR_NOMEM;
    int64_t stride = 1;   /* the first variable varies fastest */
    for (int v = 0; v < nv && st == EVM_OK; v++) {
        int c = code[t * nv + v];
        if (!c) continue;
        const evm__mvar *m = &mv[d->var[v]];
        int64_t k = var_ncol(m, c);
        char *disp = evm__var_display(F, d->var[v]);
        if (!disp) return EVM_ERR_NOMEM;
        for (int64_t j = 0; j < ncols && st == EVM_OK; j++) {
            const char *lab = m->is_factor ? m->label[(j / stride) % k + (c == CONTRAST)] : "";
            char *s = evm__asprintf("%s%s%s%s", names[j], *names[j] ? ":" : "", disp, lab);
            if (!s) st = EVM_ERR_NOMEM;
            else {
                free(names[j]);
                names[j] = s;
            }
        }
        free(disp);
        stride *= k;
    }
    return st;
}

/* Fill the n x ncols block M of term t (every cell: a factor's block is zeroed first). */
static void term_fill(const evm__design *d, const evm__mvar *mv, const int *code, int t,
                      int64_t n, int64_t ncols, double *M)
{
    int nv = d->nvars, nnum = 0, nfac = 0;
    const double *num[EVM__MAX_LOCAL_VARS];
    const int32_t *fac[EVM__MAX_LOCAL_VARS];
    int32_t off[EVM__MAX_LOCAL_VARS];
    int64_t stride[EVM__MAX_LOCAL_VARS], s = 1;
    for (int v = 0; v < nv; v++) {
        int c = code[t * nv + v];
        if (!c) continue;
        const evm__mvar *m = &mv[d->var[v]];
        if (!m->is_factor) {
            num[nnum++] = m->x;
            continue;
        }
        fac[nfac] = m->code;
        off[nfac] = c == CONTRAST;
        stride[nfac++] = s;
        s *= var_ncol(m, c);
    }
    if (nfac == 0 && nnum == 1) {
        memcpy(M, num[0], (size_t)n * sizeof *M);
        return;
    }
    if (nfac > 0) memset(M, 0, (size_t)n * (size_t)ncols * sizeof *M);
    for (int64_t i = 0; i < n; i++) {
        int64_t col = 0;
        int skip = 0;
        for (int f = 0; f < nfac; f++) {
            int32_t l = fac[f][i] - off[f];
            skip |= l < 0;   /* the reference level of a contrast-coded factor */
            col += (int64_t)l * stride[f];
        }
        if (skip) continue;
        double x = 1.0;
        for (int k = 0; k < nnum; k++) x *= num[k][i];
        M[col * n + i] = x;
    }
}

int evm__design_build(const evm__formula *F, const evm__design *d, const evm__mvar *mv,
                      int64_t n, int fill, char ***names_out, double **M_out, int *ncol_out,
                      evm_ctx *c)
{
    int st = EVM_OK;
    char **names = NULL;
    double *M = NULL;
    int64_t *tcols = evm__malloc((size_t)d->nterms, sizeof *tcols);
    int *code = term_codes(d, mv);
    int64_t ncol = 0;
    if (!tcols || !code) goto nomem;
    ncol = count_cols(d, mv, code, tcols);
    if (ncol > MAX_COLS) {
        st = evm__fail(c, EVM_ERR_MODEL, "model matrix would have more than %d columns",
                       MAX_COLS);
        goto cleanup;
    }
    names = evm__calloc((size_t)ncol, sizeof *names);
    if (!names) goto nomem;
    if (fill) {
        M = evm__malloc((size_t)n * (size_t)ncol, sizeof *M);   /* term_fill sets every cell */
        if (!M && n > 0 && ncol > 0) goto nomem;
    }
    int64_t j = 0;
    if (d->intercept) {
        if (!(names[j] = evm__strdup("(Intercept)"))) goto nomem;
        for (int64_t i = 0; fill && i < n; i++) M[i] = 1.0;
        j++;
    }
    for (int t = 0; t < d->nterms; t++) {
        if (term_names(F, d, mv, code, t, tcols[t], names + j) < 0) goto nomem;
        if (fill) term_fill(d, mv, code, t, n, tcols[t], M + j * n);
        j += tcols[t];
    }
    *names_out = names;
    *ncol_out = (int)ncol;
    if (M_out) *M_out = M;
    names = NULL;
    M = NULL;
    goto cleanup;
nomem:
    st = evm__fail(c, EVM_ERR_NOMEM, "out of memory building a model matrix");
cleanup:
    if (names)
        for (int64_t k = 0; k < ncol; k++) free(names[k]);
    free(names);
    free(M);
    free(tcols);
    free(code);
    return st;
}

/* Added for engine/infer/anova.c (type-3 hypotheses): where each column comes from, in
 * the same order as evm__design_build's columns. */
int evm__design_cells(const evm__design *d, const evm__mvar *mv, int *term, int32_t *level)
{
    int *code = term_codes(d, mv);
    int64_t *tcols = evm__malloc((size_t)(d->nterms ? d->nterms : 1), sizeof *tcols);
    if (!code || !tcols) {
        free(code);
        free(tcols);
        return EVM_ERR_NOMEM;
    }
    int64_t ncol = count_cols(d, mv, code, tcols), j = 0;
    const int nv = d->nvars;
    for (int64_t e = 0; e < ncol * nv; e++) level[e] = -1;
    if (d->intercept) term[j++] = -1;
    for (int t = 0; t < d->nterms; t++) {
        for (int64_t jj = 0; jj < tcols[t]; jj++) term[j + jj] = t;
        int64_t stride = 1;   /* the first variable varies fastest, as term_names */
        for (int v = 0; v < nv; v++) {
            int c = code[t * nv + v];
            if (!c) continue;
            const evm__mvar *m = &mv[d->var[v]];
            int64_t k = var_ncol(m, c);
            if (m->is_factor)
                for (int64_t jj = 0; jj < tcols[t]; jj++)
                    level[(j + jj) * nv + v] = (int32_t)((jj / stride) % k + (c == CONTRAST));
            stride *= k;
        }
        j += tcols[t];
    }
    free(code);
    free(tcols);
    return EVM_OK;
}
