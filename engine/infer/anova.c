/* anova.c — the hypothesis matrix of each fixed-effect term for lmerTest's
 * anova(type = 3) (lmerTest 3.1: get_contrasts_type3 → extract_contrasts_type3), for the
 * treatment-coded model matrix X evalmix builds; lmerTest's own fallback to its type-1
 * (Doolittle) hypotheses when the model has one term or X one column is reproduced too.
 *
 * Type 3 (Goodnight's hypotheses, as lmerTest builds them):
 *  1. rdX = [1, the model matrix of ~ 0 + term for every term]: each factor coded by all its
 *     levels (cell indicators), numeric variables multiplied in.
 *  2. L0 = zapsmall(ginv(X) rdX)ᵀ: rdX's columns written in X's columns.  evalmix obtains
 *     this exactly, without the data: a cell indicator whose factor is at its reference
 *     level is expanded as 1{f = 1} = 1 - Σ_{l>1} 1{f = l} until every product is a
 *     column of the full design; a column dropped as aliased is replaced by its alias
 *     coefficients on the kept columns (R's alias(), kept by the model frame).  When X
 *     has full rank the representation is unique, so this is ginv(X) rdX.
 *  3. For the terms by decreasing order, the columns of L0 that belong to a term are
 *     replaced by their residuals on the columns of the terms that contain it (all its
 *     variables and more, with the same numeric variables), then zapsmall()ed.
 *  4. The rows of L0 named as X's columns are kept; the hypothesis of term T is the
 *     transpose of its columns, less rows with Σ|l| <= 1e-8. */
#include "infer/infer_internal.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* R 4.2's zapsmall(x, digits = 7): round(x, 7 - log10(max|x|)), digits rounded to an
 * integer as R's fround does. */
static void zapsmall(double *x, int64_t n)
{
    double mx = 0.0;
    for (int64_t i = 0; i < n; i++)
        if (fabs(x[i]) > mx) mx = fabs(x[i]);
    int dig = mx > 0 ? (int)floor(7.0 - log10(mx) + 0.5) : 7;
    if (dig > 308) return;
    double f = pow(10.0, fabs((double)dig));
    for (int64_t i = 0; i < n; i++) {
        if (dig >= 0) {
            double y = nearbyint(x[i] * f) / f;
            x[i] = y == 0 ? 0.0 : y;
        } else {
            x[i] = nearbyint(x[i] / f) * f;
        }
    }
}

static int popcount64(uint64_t v)
{
    int n = 0;
    for (; v; v &= v - 1) n++;
    return n;
}

/* ---------------------------------------------------------------- type 1 (Doolittle) */

/* lmerTest's doolittle(x, eps = 1e-6): unit lower-triangular L of x = L U. */
static void doolittle(const double *x, int n, double *L, double *U)
{
    const double eps = 1e-6;
    memset(L, 0, (size_t)n * n * sizeof *L);
    memset(U, 0, (size_t)n * n * sizeof *U);
    for (int i = 0; i < n; i++) L[i + i * n] = 1.0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            double u = x[i + j * n];
            for (int k = 0; k < i; k++) u -= L[i + k * n] * U[k + j * n];
            U[i + j * n] = u;
        }
        for (int j = i + 1; j < n; j++) {
            double l = x[j + i * n];
            for (int k = 0; k < i; k++) l -= L[j + k * n] * U[k + i * n];
            L[j + i * n] = fabs(U[i + i * n]) < eps ? 0.0 : l / U[i + i * n];
        }
    }
    for (int64_t e = 0; e < (int64_t)n * n; e++)
        if (fabs(L[e]) < eps) L[e] = 0.0;
}

/* Hypotheses of lmerTest's get_contrasts_type1: rows of t(L) for each term's columns,
 * L from doolittle(crossprod(X)). */
static int type1(const evm_lmm *m, double **Lt, int *kt, evm_ctx *c)
{
    const evm__modelframe *mf = m->mf;
    const evm__fixterms *fx = &mf->fx;
    const int p = m->p;
    const int64_t n = mf->n;
    double *G = NULL, *Ld = NULL, *U = NULL;
    if (p == 1) {   /* one column and no intercept (else there is no term): L = 1 */
        for (int t = 0; t < fx->nterms; t++) {
            kt[t] = 0;
            for (int j = 0; j < fx->ncol; j++)
                if (fx->term[j] == t && fx->xcol[j] == 0) kt[t] = 1;
            if (kt[t] && !(Lt[t] = evm__malloc(1, sizeof **Lt))) goto nomem;
            if (kt[t]) Lt[t][0] = 1.0;
        }
        return EVM_OK;
    }
    G = evm__malloc((size_t)p * p, sizeof *G);
    Ld = evm__malloc((size_t)p * p, sizeof *Ld);
    U = evm__malloc((size_t)p * p, sizeof *U);
    if (!G || !Ld || !U) goto nomem;
    for (int a = 0; a < p; a++)   /* crossprod(X): unweighted, as lmerTest */
        for (int b = 0; b <= a; b++) {
            const double *xa = mf->X + (int64_t)a * n, *xb = mf->X + (int64_t)b * n;
            double s = 0.0;
            for (int64_t i = 0; i < n; i++) s += xa[i] * xb[i];
            G[a + b * p] = G[b + a * p] = s;
        }
    doolittle(G, p, Ld, U);
    for (int t = 0; t < fx->nterms; t++) {
        int rows = 0;
        for (int j = 0; j < fx->ncol; j++) rows += fx->term[j] == t && fx->xcol[j] >= 0;
        kt[t] = rows;
        if (!rows) continue;
        if (!(Lt[t] = evm__calloc((size_t)rows * p, sizeof **Lt))) goto nomem;
        int r = 0;
        for (int j = 0; j < fx->ncol; j++) {
            if (fx->term[j] != t || fx->xcol[j] < 0) continue;
            int a = fx->xcol[j];   /* row a of t(L) = column a of L */
            for (int i = 0; i < p; i++) Lt[t][(int64_t)r * p + i] = Ld[i + a * p];
            r++;
        }
    }
    free(G);
    free(Ld);
    free(U);
    return EVM_OK;
nomem:
    free(G);
    free(Ld);
    free(U);
    return evm__fail(c, EVM_ERR_NOMEM, "out of memory building type-1 hypotheses");
}

/* ---------------------------------------------------------------- type 3 */

typedef struct {
    const evm__fixterms *fx;
    int p;
    double *row;      /* [p]: the representation being accumulated */
    int32_t *lev;     /* [nvars] current cell: level of each factor, -1 when absent */
    int depth;
} expander;

/* The full-design column with variables `vars` and the factor levels in e->lev. */
static int find_col(const expander *e, uint64_t vars)
{
    const evm__fixterms *fx = e->fx;
    for (int j = 0; j < fx->ncol; j++) {
        uint64_t tv = fx->term[j] < 0 ? 0 : fx->vars[fx->term[j]];
        if (tv != vars) continue;
        int same = 1;
        for (int v = 0; v < fx->nvars && same; v++)
            same = fx->level[(int64_t)j * fx->nvars + v] == e->lev[v];
        if (same) return j;
    }
    return -1;
}

/* row += coef · (the product of the numeric variables in `vars` and the indicators of
 * e->lev), written in X's columns.  -1 when some product is not in the design. */
static int expand(expander *e, uint64_t vars, double coef)
{
    const evm__fixterms *fx = e->fx;
    int j = find_col(e, vars);
    if (j >= 0) {
        if (fx->xcol[j] >= 0) e->row[fx->xcol[j]] += coef;
        else if (fx->alias)
            for (int a = 0; a < e->p; a++) e->row[a] += coef * fx->alias[(int64_t)j * e->p + a];
        return 0;
    }
    if (++e->depth > 64) return -1;
    for (int v = 0; v < fx->nvars; v++) {
        if (e->lev[v] != 0) continue;
        /* 1{v = first} = 1 - Σ_{l > first} 1{v = l} */
        int st = 0;
        e->lev[v] = -1;
        st |= expand(e, vars & ~((uint64_t)1 << v), coef);
        for (int32_t l = 1; l < fx->nlev[v] && !st; l++) {
            e->lev[v] = l;
            st |= expand(e, vars, -coef);
        }
        e->lev[v] = 0;
        e->depth--;
        return st ? -1 : 0;
    }
    e->depth--;
    return -1;
}

/* Residuals of the ny columns Y (n × ny) on the columns of Xc (n × nx), as lm.fit's
 * (columns of Xc whose residual norm is below 1e-7 of their own norm are left out).
 * Gram-Schmidt twice over; Q (n × nx) workspace. */
static void residualize(int n, const double *Xc, int nx, double *Y, int ny, double *Q)
{
    int nq = 0;
    for (int a = 0; a < nx; a++) {
        double *qa = Q + (int64_t)nq * n, nrm0 = 0.0, nrm = 0.0;
        memcpy(qa, Xc + (int64_t)a * n, (size_t)n * sizeof *qa);
        for (int i = 0; i < n; i++) nrm0 += qa[i] * qa[i];
        for (int pass = 0; pass < 2; pass++)
            for (int b = 0; b < nq; b++) {
                const double *qb = Q + (int64_t)b * n;
                double d = 0.0;
                for (int i = 0; i < n; i++) d += qb[i] * qa[i];
                for (int i = 0; i < n; i++) qa[i] -= d * qb[i];
            }
        for (int i = 0; i < n; i++) nrm += qa[i] * qa[i];
        if (!(nrm > 1e-14 * nrm0) || nrm0 == 0.0) continue;
        nrm = sqrt(nrm);
        for (int i = 0; i < n; i++) qa[i] /= nrm;
        nq++;
    }
    for (int y = 0; y < ny; y++) {
        double *yc = Y + (int64_t)y * n;
        for (int pass = 0; pass < 2; pass++)
            for (int b = 0; b < nq; b++) {
                const double *qb = Q + (int64_t)b * n;
                double d = 0.0;
                for (int i = 0; i < n; i++) d += qb[i] * yc[i];
                for (int i = 0; i < n; i++) yc[i] -= d * qb[i];
            }
    }
}

/* Term t is contained in term u (lmerTest's containment): t's variables are a proper
 * subset of u's and both have the same numeric variables. */
static int contained(const evm__fixterms *fx, int t, int u)
{
    uint64_t vt = fx->vars[t], vu = fx->vars[u], num = 0;
    for (int v = 0; v < fx->nvars; v++)
        if (fx->nlev[v] == 0) num |= (uint64_t)1 << v;
    return (vt & ~vu) == 0 && vt != vu && (vt & num) == (vu & num);
}

static int type3(const evm_lmm *m, double **Lt, int *kt, evm_ctx *c)
{
    const evm__fixterms *fx = &m->mf->fx;
    const int p = m->p, nv = fx->nvars, nt = fx->nterms;
    int st = EVM_OK, nrd = fx->intercept ? 1 : 0;
    /* rdX: count the cells of every term */
    for (int t = 0; t < nt; t++) {
        int64_t cells = 1;
        for (int v = 0; v < nv; v++)
            if (fx->vars[t] >> v & 1 && fx->nlev[v] > 0) cells *= fx->nlev[v];
        if (cells > (1 << 20) - nrd)
            return evm__fail(c, EVM_ERR_MODEL, "type-3 hypotheses: term '%s' has too many cells",
                             fx->label[t]);
        nrd += (int)cells;
    }
    double *L0 = evm__calloc((size_t)nrd * p, sizeof *L0);   /* nrd × p, column-major */
    double *row = evm__malloc((size_t)p, sizeof *row);
    int32_t *lev = evm__malloc((size_t)(nv ? nv : 1), sizeof *lev);
    int *rdterm = evm__malloc((size_t)nrd, sizeof *rdterm);
    int32_t *rdlev = evm__malloc((size_t)nrd * (nv ? nv : 1), sizeof *rdlev);
    int *selrow = evm__malloc((size_t)p, sizeof *selrow);   /* rdX row of each X column */
    int *order = evm__malloc((size_t)(nt ? nt : 1), sizeof *order);
    int *ycols = evm__malloc((size_t)p, sizeof *ycols);
    double *Xc = NULL, *Q = NULL, *Y = NULL;
    if (!L0 || !row || !lev || !rdterm || !rdlev || !selrow || !order || !ycols) goto nomem;

    /* 1-2. rdX's columns in X's columns */
    int r = 0;
    expander e = {.fx = fx, .p = p, .row = row, .lev = lev};
    for (int t = -1; t < nt; t++) {
        if (t < 0 && !fx->intercept) continue;
        uint64_t vars = t < 0 ? 0 : fx->vars[t];
        for (int v = 0; v < nv; v++) lev[v] = (vars >> v & 1) && fx->nlev[v] > 0 ? 0 : -1;
        for (;;) {   /* the cells, first factor fastest (model.matrix's order) */
            memset(row, 0, (size_t)p * sizeof *row);
            rdterm[r] = t;
            memcpy(rdlev + (int64_t)r * nv, lev, (size_t)nv * sizeof *lev);
            e.depth = 0;
            if (expand(&e, vars, 1.0) < 0) {
                st = evm__fail(c, EVM_ERR_MODEL,
                               "type-3 hypotheses: term '%s' is not marginal to the model "
                               "(a cell of it is not a combination of the model's columns)",
                               t < 0 ? "(Intercept)" : fx->label[t]);
                goto cleanup;
            }
            for (int a = 0; a < p; a++) L0[r + (int64_t)a * nrd] = row[a];
            r++;
            int v = 0;
            for (; v < nv; v++) {
                if (lev[v] < 0) continue;
                if (++lev[v] < fx->nlev[v]) break;
                lev[v] = 0;
            }
            if (v == nv) break;
        }
    }
    zapsmall(L0, (int64_t)nrd * p);

    /* 3. orthogonalise each term's columns on those of the terms containing it, higher
     * order first (R's order(decreasing = TRUE) is stable) */
    int no = 0;
    for (int deg = 64; deg >= 0; deg--)
        for (int t = 0; t < nt; t++)
            if (popcount64(fx->vars[t]) == deg) order[no++] = t;
    Xc = evm__malloc((size_t)nrd * p, sizeof *Xc);
    Q = evm__malloc((size_t)nrd * p, sizeof *Q);
    Y = evm__malloc((size_t)nrd * p, sizeof *Y);
    if (!Xc || !Q || !Y) goto nomem;
    for (int oi = 0; oi < no; oi++) {
        int t = order[oi], nx = 0, ny = 0;
        for (int u = 0; u < nt; u++) {   /* containing terms in term order */
            if (!contained(fx, t, u)) continue;
            for (int j = 0; j < fx->ncol; j++)
                if (fx->term[j] == u && fx->xcol[j] >= 0)
                    memcpy(Xc + (int64_t)nx++ * nrd, L0 + (int64_t)fx->xcol[j] * nrd,
                           (size_t)nrd * sizeof *Xc);
        }
        if (nx == 0) continue;
        for (int j = 0; j < fx->ncol; j++)
            if (fx->term[j] == t && fx->xcol[j] >= 0) {
                ycols[ny] = fx->xcol[j];
                memcpy(Y + (int64_t)ny++ * nrd, L0 + (int64_t)fx->xcol[j] * nrd,
                       (size_t)nrd * sizeof *Y);
            }
        if (ny == 0) continue;
        residualize(nrd, Xc, nx, Y, ny, Q);
        zapsmall(Y, (int64_t)ny * nrd);
        for (int y = 0; y < ny; y++)
            memcpy(L0 + (int64_t)ycols[y] * nrd, Y + (int64_t)y * nrd, (size_t)nrd * sizeof *Y);
    }

    /* 4. rows of rdX that are X's columns (same term, same cell) */
    for (int j = 0; j < fx->ncol; j++) {
        int a = fx->xcol[j];
        if (a < 0) continue;
        selrow[a] = -1;
        for (int q = 0; q < nrd && selrow[a] < 0; q++) {
            if (rdterm[q] != fx->term[j]) continue;
            int same = 1;
            for (int v = 0; v < nv && same; v++)
                same = rdlev[(int64_t)q * nv + v] == fx->level[(int64_t)j * nv + v];
            if (same) selrow[a] = q;
        }
        if (selrow[a] < 0) {
            st = evm__fail(c, EVM_ERR_MODEL, "type-3 hypotheses: column %d of X is not a cell "
                                             "of its term", a + 1);
            goto cleanup;
        }
    }
    for (int t = 0; t < nt; t++) {
        int rows = 0;
        kt[t] = 0;
        for (int j = 0; j < fx->ncol; j++) rows += fx->term[j] == t && fx->xcol[j] >= 0;
        if (!rows) continue;
        if (!(Lt[t] = evm__calloc((size_t)rows * p, sizeof **Lt))) goto nomem;
        for (int j = 0; j < fx->ncol; j++) {
            int a = fx->xcol[j];
            if (fx->term[j] != t || a < 0) continue;
            double *out = Lt[t] + (int64_t)kt[t] * p, sum = 0.0;
            for (int i = 0; i < p; i++) {
                out[i] = L0[selrow[i] + (int64_t)a * nrd];
                sum += fabs(out[i]);
            }
            if (sum > 1e-8) kt[t]++;
        }
    }
    goto cleanup;
nomem:
    st = evm__fail(c, EVM_ERR_NOMEM, "out of memory building type-3 hypotheses");
cleanup:
    free(L0);
    free(row);
    free(lev);
    free(rdterm);
    free(rdlev);
    free(selrow);
    free(order);
    free(ycols);
    free(Xc);
    free(Q);
    free(Y);
    return st;
}

/* Outputs: *nterms terms (R's term labels, formula order), names[t] and, for each,
 * L[t] (k[t] × p, row-major) — k[t] = 0 and L[t] = NULL when nothing of the term is
 * testable.  The caller frees names[t], L[t] and the three arrays. */
int evm__anova_terms(const evm_lmm *m, int *nterms, char ***names, double ***L, int **k,
                     evm_ctx *c)
{
    if (!m || !nterms || !names || !L || !k)
        return evm__fail(c, EVM_ERR_ARG, "evm__anova_terms: bad arguments");
    *nterms = 0;
    *names = NULL;
    *L = NULL;
    *k = NULL;
    const evm__fixterms *fx = &m->mf->fx;
    const int nt = fx->nterms;
    if (nt == 0 || m->p == 0) return EVM_OK;
    char **nm = evm__calloc((size_t)nt, sizeof *nm);
    double **Lt = evm__calloc((size_t)nt, sizeof *Lt);
    int *kt = evm__calloc((size_t)nt, sizeof *kt);
    int st = EVM_OK;
    if (!nm || !Lt || !kt) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (int t = 0; t < nt; t++)
        if (!(nm[t] = evm__strdup(fx->label[t]))) {
            st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
    /* lmerTest: get_contrasts_type3 falls back to type 1 for one term or one column */
    st = (m->p <= 1 || nt <= 1) ? type1(m, Lt, kt, c) : type3(m, Lt, kt, c);
    if (st < 0) goto cleanup;
    *nterms = nt;
    *names = nm;
    *L = Lt;
    *k = kt;
    return st;
cleanup:
    for (int t = 0; nm && t < nt; t++) free(nm[t]);
    for (int t = 0; Lt && t < nt; t++) free(Lt[t]);
    free(nm);
    free(Lt);
    free(kt);
    return st;
}
