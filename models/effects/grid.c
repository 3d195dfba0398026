/* grid.c — the variables of the fixed part for the rows the model used, and emmeans'
 * reference grid on them: a grid point sets each variable to a value (numeric covariates
 * at their means, factors averaged with equal weights unless fixed), and the row of the
 * fixed-effects design at that point is the product, column by column, of its variables'
 * entries (a factor's indicator averaged over its levels is 1/nlevels).  Averaging over the
 * full grid of factor combinations with equal weights factorises this way because each
 * column holds at most one indicator per factor.  As emmeans' default cov.keep = "2", a
 * numeric variable with two distinct values (a 0/1 indicator) is averaged over them with
 * equal weights, not set to its mean. */
#include "effects_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *evx_fmt_num(double x)
{
    char buf[40];
    if (x == floor(x) && fabs(x) < 1e15) snprintf(buf, sizeof buf, "%.0f", x);
    else snprintf(buf, sizeof buf, "%.15g", x);
    return evm__strdup(buf);
}

int evx_vars_build(const char *formula, const evm_frame *f, const evm_lmm_opts *o,
                   const evm__modelframe *mf, evx_vars *V, evm_ctx *c)
{
    memset(V, 0, sizeof *V);
    int st = evm__formula_parse(formula, &V->F, c);
    if (st < 0) return st;
    V->P.F = V->F;
    V->P.f = f;
    V->P.o = o;
    V->P.c = c;
    if ((st = evm__prep_columns(&V->P)) < 0 || (st = evm__prep_rows(&V->P)) < 0) return st;
    if (V->P.n != mf->n || V->F->fixed.nvars != mf->fx.nvars)
        return evm__fail(c, EVM_ERR_NUMERIC, "effects: the model frame and its variables disagree");
    const int nv = V->nv = V->F->fixed.nvars;
    V->name = evm__calloc((size_t)(nv ? nv : 1), sizeof *V->name);
    V->mv = evm__calloc((size_t)(nv ? nv : 1), sizeof *V->mv);
    V->mean = evm__calloc((size_t)(nv ? nv : 1), sizeof *V->mean);
    if (!V->name || !V->mv || !V->mean) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    for (int v = 0; v < nv; v++) {
        const int fv = V->F->fixed.var[v];
        V->name[v] = V->F->var[fv].name;
        V->mv[v] = &V->P.mv[fv];
        if (!V->mv[v]->is_factor) {
            /* emmeans' cov.keep = "2": a covariate with at most two distinct values is
               a factor of the grid (its values averaged with equal weights), any other
               is set to its mean */
            const double *x = V->mv[v]->x;
            double s = 0.0, d[2] = {NAN, NAN};
            int nd = 0;
            for (int64_t i = 0; i < V->P.n; i++) {
                s += x[i];
                if (nd < 3 && !(nd > 0 && x[i] == d[0]) && !(nd > 1 && x[i] == d[1])) {
                    if (nd < 2) d[nd] = x[i];
                    nd++;
                }
            }
            V->mean[v] = V->P.n ? s / (double)V->P.n : NAN;
            if (nd == 2) V->mean[v] = 0.5 * (d[0] + d[1]);
        }
    }
    return EVM_OK;
}

void evx_vars_free(evx_vars *V)
{
    evm__prep_free(&V->P);
    evm__formula_free(&V->F);
    free(V->name);
    free(V->mv);
    free(V->mean);
    memset(V, 0, sizeof *V);
}

int evx_point_init(const evx_vars *V, evx_point *g)
{
    const int nv = V->nv ? V->nv : 1;
    g->num = evm__malloc((size_t)nv, sizeof *g->num);
    g->lev = evm__malloc((size_t)nv, sizeof *g->lev);
    if (!g->num || !g->lev) {
        evx_point_free(g);
        return EVM_ERR_NOMEM;
    }
    for (int v = 0; v < V->nv; v++) {
        g->num[v] = V->mean[v];
        g->lev[v] = -1;
    }
    return EVM_OK;
}

void evx_point_free(evx_point *g)
{
    free(g->num);
    free(g->lev);
    g->num = NULL;
    g->lev = NULL;
}

void evx_point_set(const evx_vars *V, evx_point *g, const char *name, const char *label,
                   double num)
{
    for (int v = 0; v < V->nv; v++) {
        if (strcmp(V->name[v], name) != 0) continue;
        const evm__mvar *mv = V->mv[v];
        if (!mv->is_factor) {
            g->num[v] = isnan(num) && label ? strtod(label, NULL) : num;
            continue;
        }
        int32_t k = -1;
        for (int32_t l = 0; l < mv->nlev && k < 0 && label; l++)
            if (strcmp(mv->label[l], label) == 0) k = l;
        for (int32_t l = 0; l < mv->nlev && k < 0 && !isnan(num); l++) {
            char *end;
            double x = strtod(mv->label[l], &end);
            if (end != mv->label[l] && !*end && x == num) k = l;
        }
        g->lev[v] = k;
    }
}

int evx_point_row(const evm__modelframe *mf, const evx_vars *V, const evx_point *g, double *row)
{
    const evm__fixterms *fx = &mf->fx;
    const int p = mf->p, nv = V->nv;
    double *full = evm__malloc((size_t)(fx->ncol ? fx->ncol : 1), sizeof *full);
    if (!full) return -1;
    for (int j = 0; j < fx->ncol; j++) {
        double val = 1.0;
        const int t = fx->term[j];
        for (int v = 0; t >= 0 && v < nv; v++) {
            if (!(fx->vars[t] >> v & 1)) continue;
            const evm__mvar *mv = V->mv[v];
            if (mv->is_factor) {
                const int32_t lev = fx->level[(int64_t)j * nv + v];
                val *= g->lev[v] < 0 ? 1.0 / (double)mv->nlev : (double)(g->lev[v] == lev);
            } else {
                val *= g->num[v];
            }
        }
        full[j] = val;
    }
    for (int a = 0; a < p; a++) row[a] = 0.0;
    double big = 1.0;
    for (int j = 0; j < fx->ncol; j++)
        if (fx->xcol[j] >= 0) {
            row[fx->xcol[j]] = full[j];
            if (fabs(full[j]) > big) big = fabs(full[j]);
        }
    int nonest = 0;
    for (int j = 0; j < fx->ncol && fx->alias; j++) {
        if (fx->xcol[j] >= 0) continue;
        double d = full[j];
        for (int a = 0; a < p; a++) d -= fx->alias[(int64_t)j * p + a] * row[a];
        if (fabs(d) > 1e-8 * big) nonest = 1;
    }
    free(full);
    return nonest;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Distinct numbers of x[0..n-1] (NaN skipped) as levels; codes by binary search. */
static int numeric_levels(const double *x, int64_t n, evx_levels *L, const char *name,
                          evm_ctx *c)
{
    double *s = evm__malloc((size_t)(n ? n : 1), sizeof *s);
    if (!s) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(x[i])) s[m++] = x[i];
    qsort(s, (size_t)m, sizeof *s, cmp_double);
    int64_t u = 0;
    for (int64_t i = 0; i < m; i++)
        if (u == 0 || s[i] != s[u - 1]) s[u++] = s[i];
    if (u > 100) {
        free(s);
        return evm__fail(c, EVM_ERR_VALUE,
                         "variable '%s' has %lld distinct values: use a grouping with fewer "
                         "levels (at most 100)", name, (long long)u);
    }
    L->n = (int)u;
    L->label = evm__calloc((size_t)(u ? u : 1), sizeof *L->label);
    L->num = evm__malloc((size_t)(u ? u : 1), sizeof *L->num);
    if (!L->label || !L->num) {
        free(s);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    }
    for (int64_t k = 0; k < u; k++) {
        L->num[k] = s[k];
        if (!(L->label[k] = evx_fmt_num(s[k]))) {
            free(s);
            return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        }
    }
    for (int64_t i = 0; i < n; i++) {
        if (isnan(x[i])) {
            L->code[i] = -1;
            continue;
        }
        int64_t lo = 0, hi = u - 1;
        while (lo < hi) {
            int64_t mid = (lo + hi) / 2;
            if (s[mid] < x[i]) lo = mid + 1;
            else hi = mid;
        }
        L->code[i] = (int32_t)lo;
    }
    free(s);
    return EVM_OK;
}

int evx_levels_of(const evx_vars *V, const evm_frame *f, const char *name, int64_t n,
                  evx_levels *L, evm_ctx *c)
{
    memset(L, 0, sizeof *L);
    if (!(L->code = evm__malloc((size_t)(n ? n : 1), sizeof *L->code)))
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    int vf = -1;
    for (int v = 0; v < V->nv && vf < 0; v++)
        if (strcmp(V->name[v], name) == 0 && V->mv[v]->is_factor) vf = v;
    for (int v = 0; v < V->nv && vf < 0; v++)
        if (strcmp(V->name[v], name) == 0) vf = v;
    if (vf >= 0) {
        const evm__mvar *mv = V->mv[vf];
        L->in_fixed = 1;
        if (!mv->is_factor) return numeric_levels(mv->x, n, L, name, c);
        L->n = mv->nlev;
        L->label = evm__calloc((size_t)(mv->nlev ? mv->nlev : 1), sizeof *L->label);
        L->num = evm__malloc((size_t)(mv->nlev ? mv->nlev : 1), sizeof *L->num);
        if (!L->label || !L->num) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        for (int32_t k = 0; k < mv->nlev; k++) {
            char *end;
            L->num[k] = strtod(mv->label[k], &end);
            if (end == mv->label[k] || *end) L->num[k] = NAN;
            if (!(L->label[k] = evm__strdup(mv->label[k])))
                return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        }
        memcpy(L->code, mv->code, sizeof(int32_t) * (size_t)n);
        return EVM_OK;
    }
    /* not in the fixed part: the frame column at the rows used */
    const int col = evm_frame_find(f, name, -1);
    if (col < 0) return evm__fail(c, EVM_ERR_COLUMN, "unknown column '%s'", name);
    const int64_t *rows = V->P.rows;
    if (evm_frame_type(f, col) == EVM_COL_NUMERIC) {
        const double *x = evm_frame_numeric(f, col);
        double *g = evm__malloc((size_t)(n ? n : 1), sizeof *g);
        if (!g) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        for (int64_t i = 0; i < n; i++) g[i] = x[rows ? rows[i] : i];
        int st = numeric_levels(g, n, L, name, c);
        free(g);
        return st;
    }
    const int32_t *code = evm_frame_codes(f, col), nl = evm_frame_nlevels(f, col);
    int32_t *map = evm__malloc((size_t)(nl ? nl : 1), sizeof *map);
    if (!map) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    for (int32_t k = 0; k < nl; k++) map[k] = -1;
    for (int64_t i = 0; i < n; i++) {
        const int32_t k = code[rows ? rows[i] : i];
        if (k >= 0) map[k] = 0;
    }
    int32_t u = 0;
    for (int32_t k = 0; k < nl; k++)
        if (map[k] == 0) map[k] = u++;
    L->n = u;
    L->label = evm__calloc((size_t)(u ? u : 1), sizeof *L->label);
    L->num = evm__malloc((size_t)(u ? u : 1), sizeof *L->num);
    int st = EVM_OK;
    if (!L->label || !L->num) st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    for (int32_t k = 0; k < nl && st == EVM_OK; k++) {
        if (map[k] < 0) continue;
        L->num[map[k]] = NAN;
        if (!(L->label[map[k]] = evm__strdup(evm_frame_level(f, col, k))))
            st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n && st == EVM_OK; i++) {
        const int32_t k = code[rows ? rows[i] : i];
        L->code[i] = k >= 0 ? map[k] : -1;
    }
    free(map);
    return st;
}

void evx_levels_free(evx_levels *L)
{
    for (int k = 0; k < L->n && L->label; k++) free(L->label[k]);
    free(L->label);
    free(L->num);
    free(L->code);
    memset(L, 0, sizeof *L);
}

int evx_treat_build(const evx_vars *V, const char *name, int64_t n, evx_treat *T, evm_ctx *c)
{
    memset(T, 0, sizeof *T);
    T->name = name;
    int vf = -1, vn = -1;
    for (int v = 0; v < V->nv; v++)
        if (strcmp(V->name[v], name) == 0) {
            if (V->mv[v]->is_factor && vf < 0) vf = v;
            if (!V->mv[v]->is_factor && vn < 0) vn = v;
        }
    if (vf < 0 && vn < 0)
        return evm__fail(c, EVM_ERR_MODEL,
                         "--treatment '%s' is not a variable of the fixed part of the formula",
                         name);
    if (!(T->arm = evm__malloc((size_t)(n ? n : 1), sizeof *T->arm)))
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    if (vn >= 0) {
        const double *x = V->mv[vn]->x;
        for (int64_t i = 0; i < n; i++) {
            if (x[i] != 0.0 && x[i] != 1.0)
                return evm__fail(c, EVM_ERR_VALUE,
                                 "--treatment '%s': value %g is not 0 (comparison) or 1 "
                                 "(treated)", name, x[i]);
            T->arm[i] = x[i] == 1.0;
        }
        int64_t nt = 0;
        for (int64_t i = 0; i < n; i++) nt += T->arm[i];
        if (nt == 0 || nt == n)
            return evm__fail(c, EVM_ERR_VALUE,
                             "--treatment '%s' is %d in all %lld rows used: no %s students", name,
                             nt == 0 ? 0 : 1, (long long)n, nt == 0 ? "treated" : "comparison");
        T->num1 = 1.0, T->num0 = 0.0;
        T->treated = evm__strdup("1");
        T->comparison = evm__strdup("0");
    } else {
        const evm__mvar *mv = V->mv[vf];
        if (mv->nlev != 2)
            return evm__fail(c, EVM_ERR_VALUE,
                             "--treatment '%s' has %d levels; it needs two (comparison, then "
                             "treated: set the comparison level with --ref %s=LEVEL)",
                             name, (int)mv->nlev, name);
        for (int64_t i = 0; i < n; i++) T->arm[i] = mv->code[i] == 1;
        T->num1 = T->num0 = NAN;
        T->treated = evm__strdup(mv->label[1]);
        T->comparison = evm__strdup(mv->label[0]);
    }
    if (!T->treated || !T->comparison) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    return EVM_OK;
}

void evx_treat_free(evx_treat *T)
{
    free(T->treated);
    free(T->comparison);
    free(T->arm);
    memset(T, 0, sizeof *T);
}

int evx_treat_contrast(const evm__modelframe *mf, const evx_vars *V, const evx_treat *T,
                       evx_point *g, double *L, double *work)
{
    evx_point_set(V, g, T->name, T->treated, T->num1);
    int ne = evx_point_row(mf, V, g, L);
    evx_point_set(V, g, T->name, T->comparison, T->num0);
    ne |= evx_point_row(mf, V, g, work);
    for (int a = 0; a < mf->p; a++) L[a] -= work[a];
    return ne;
}
