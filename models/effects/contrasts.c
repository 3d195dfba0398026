/* contrasts.c — the treatment effect (treated − comparison) overall, in each level of the
 * --by and --subgroup variables, and each later level minus the first, as emmeans 1.8
 * computes them from the fitted model:
 *   contrast(emmeans(m, ~ T | V, at = ...), "revpairwise")  and
 *   contrast(emmeans(m, ~ T * V), interaction = c("revpairwise", "trt.vs.ctrl"))
 * with emm_options(lmer.df = "satterthwaite"): estimate Lβ̂, SE √(L V̂ Lᵀ), df of lmerTest
 * (evm__satt_df), t, two-sided p and the t-based CI; with --ddf kenward-roger the adjusted
 * V̂ and df of pbkrtest (emmeans' lmer.df = "kenward-roger"), residual: n − p.  A variable outside the model, or one
 * that does not interact with the treatment, gives the same effect in every level. */
#include "effects_internal.h"

#include "effsize/effsize.h"
#include "infer/infer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int evx_inference(evm_lmm *m, const evm_effects_opts *o, const double *L, int k, double *est,
                  double *se, double *df, evm_ctx *c)
{
    const int p = m->p;
    evm__satt *s = NULL;
    evm__kr *kr = NULL;
    int st = EVM_OK;
    /* Kenward-Roger tests use its adjusted Var(β) for the SE too (as pbkrtest / lmerTest) */
    const double *V = m->vcov;
    if (o->ddf == EVM_DDF_KENWARD_ROGER) {
        if ((st = evm__kr_create(m, &kr, c)) < 0) return st;
        V = evm__kr_vcov_adj(kr);
    } else if (o->ddf == EVM_DDF_SATTERTHWAITE) {
        if ((st = evm__satt_create(m, &s, c)) < 0) return st;
    }
    for (int r = 0; r < k && st >= 0; r++) {
        const double *l = L + (int64_t)r * p;
        double e = 0.0, v = 0.0, nz = 0.0;
        for (int a = 0; a < p; a++) {
            e += l[a] * m->beta[a];
            nz += fabs(l[a]);
            for (int b = 0; b < p; b++) v += l[a] * V[a + b * p] * l[b];
        }
        est[r] = isnan(l[0]) ? NAN : e;
        se[r] = isnan(l[0]) ? NAN : sqrt(v > 0.0 ? v : 0.0);
        df[r] = o->ddf == EVM_DDF_NONE ? INFINITY : NAN;
        if (!(nz > 0.0) || isnan(l[0])) continue;
        switch (o->ddf) {
        case EVM_DDF_SATTERTHWAITE: st = evm__satt_df(s, l, 1, &df[r], c); break;
        case EVM_DDF_KENWARD_ROGER: {
            double F, ndf;
            st = evm__kr_ftest(kr, m->beta, l, 1, &F, &ndf, &df[r], c);
            break;
        }
        case EVM_DDF_RESIDUAL: df[r] = (double)(m->mf->n - m->p); break;
        case EVM_DDF_NONE: break;
        }
    }
    evm__satt_destroy(&s);
    evm__kr_destroy(&kr);
    evm__lmm_restore(m);
    return st < 0 ? st : EVM_OK;
}

static int strv_push(char ***v, int n, char *s)
{
    char **nv = realloc(*v, (size_t)(n + 1) * sizeof *nv);
    if (!nv) {
        free(s);
        return -1;
    }
    *v = nv;
    nv[n] = s;
    return s ? 0 : -1;
}

typedef struct {
    int n, cap, p;
    char **kind, **var, **lev, **label;
    int *in_model;
    double *L;
} rows_t;

static int rows_add(rows_t *R, const char *kind, const char *var, char *lev, char *label,
                    int in_model, const double *l)
{
    if (R->n == R->cap) {
        const int cap = R->cap ? 2 * R->cap : 16;
        int *im = realloc(R->in_model, (size_t)cap * sizeof *im);
        if (im) R->in_model = im;
        double *L = realloc(R->L, (size_t)cap * (size_t)(R->p ? R->p : 1) * sizeof *L);
        if (L) R->L = L;
        if (!im || !L) {
            free(lev);
            free(label);
            return -1;
        }
        R->cap = cap;
    }
    if (strv_push(&R->kind, R->n, evm__strdup(kind)) || strv_push(&R->var, R->n, evm__strdup(var)) ||
        strv_push(&R->lev, R->n, lev) || strv_push(&R->label, R->n, label)) {
        return -1;
    }
    R->in_model[R->n] = in_model;
    memcpy(R->L + (int64_t)R->n * R->p, l, sizeof(double) * (size_t)R->p);
    R->n++;
    return 0;
}

/* The rows of one variable: the effect in each level, then each later level − the first. */
static int variable_rows(evm_lmm *m, const evx_vars *V, const evm_frame *f, const evx_treat *T,
                         const char *name, const double *L0, rows_t *R, double *work,
                         evm_ctx *c)
{
    const int p = m->p;
    evx_levels lv;
    evx_point g = {0};
    double *Lk = evm__malloc((size_t)(p ? p : 1) * 2, sizeof *Lk);
    int st = evx_levels_of(V, f, name, m->mf->n, &lv, c);
    if (st < 0) goto cleanup;
    if (!Lk || evx_point_init(V, &g)) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if (lv.n < 1) {
        st = evm__fail(c, EVM_ERR_VALUE, "variable '%s' has no values in the rows used", name);
        goto cleanup;
    }
    const int first = R->n;
    int varying = 0;
    for (int k = 0; k < lv.n; k++) {
        int ne = 0;
        if (lv.in_fixed) {
            for (int v = 0; v < V->nv; v++) g.num[v] = V->mean[v], g.lev[v] = -1;
            evx_point_set(V, &g, name, lv.label[k], lv.num[k]);
            ne = evx_treat_contrast(m->mf, V, T, &g, Lk, work);
        } else {
            memcpy(Lk, L0, sizeof(double) * (size_t)p);
        }
        if (ne) {
            evm__warn(c, "effect of '%s' at %s = %s is not estimable (the model dropped a "
                      "column it needs as aliased, e.g. no treated students there): NA",
                      T->name, name, lv.label[k]);
            for (int a = 0; a < p; a++) Lk[a] = NAN;
        }
        for (int a = 0; a < p; a++)
            if (!(fabs(Lk[a] - L0[a]) <= 1e-12 * (1.0 + fabs(L0[a])))) varying = 1;
        if (rows_add(R, "level", name, evm__strdup(lv.label[k]),
                     evm__asprintf("%s = %s", name, lv.label[k]), 0, Lk)) {
            st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
    }
    for (int k = 1; k < lv.n; k++) {
        const double *a1 = R->L + (int64_t)(first + k) * p, *a0 = R->L + (int64_t)first * p;
        for (int a = 0; a < p; a++) Lk[a] = a1[a] - a0[a];
        if (rows_add(R, "difference", name, evm__asprintf("%s - %s", lv.label[k], lv.label[0]),
                     evm__asprintf("%s: %s - %s", name, lv.label[k], lv.label[0]), 0, Lk)) {
            st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
    }
    for (int r = first; r < R->n; r++) R->in_model[r] = varying;
cleanup:
    free(Lk);
    evx_point_free(&g);
    evx_levels_free(&lv);
    return st;
}

static void rows_free(rows_t *R)
{
    for (int r = 0; r < R->n; r++) {
        free(R->kind[r]);
        free(R->var[r]);
        free(R->lev[r]);
        free(R->label[r]);
    }
    free(R->kind), free(R->var), free(R->lev), free(R->label), free(R->in_model), free(R->L);
    memset(R, 0, sizeof *R);
}

static int tests(evm_effects *e, const evm_effects_opts *o, evm_ctx *c)
{
    const int n = e->ncon;
    const double q = 0.5 * (1.0 + o->level);
    for (int r = 0; r < n; r++) {
        const double df = e->df[r];
        e->t[r] = e->se[r] > 0.0 ? e->estimate[r] / e->se[r] : NAN;
        if (isnan(df) || isnan(e->t[r])) {
            e->p[r] = e->lower[r] = e->upper[r] = NAN;
            continue;
        }
        const double crit = isinf(df) ? evm_qnorm(q, 1) : evm_qt(q, df, 1);
        e->p[r] = 2.0 * (isinf(df) ? evm_pnorm(-fabs(e->t[r]), 1) : evm_pt(-fabs(e->t[r]), df, 1));
        e->lower[r] = e->estimate[r] - crit * e->se[r];
        e->upper[r] = e->estimate[r] + crit * e->se[r];
    }
    e->p_adj[0] = e->p[0];   /* the overall effect is its own family */
    if (n > 1) return evm_es_p_adjust((evm_es_adjust)o->adjust, n - 1, e->p + 1, e->p_adj + 1, c);
    return EVM_OK;
}

int evx_contrasts(evm_lmm *m, const evx_vars *V, const evm_frame *f, const evx_treat *T,
                  const evm_effects_opts *o, evm_effects *e, evm_ctx *c)
{
    const int p = m->p;
    rows_t R = {.p = p};
    evx_point g = {0};
    double *L0 = evm__malloc((size_t)(p ? p : 1), sizeof *L0);
    double *work = evm__malloc((size_t)(p ? p : 1), sizeof *work);
    int st = EVM_OK;
    if (!L0 || !work || evx_point_init(V, &g)) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if (evx_treat_contrast(m->mf, V, T, &g, L0, work)) {
        evm__warn(c, "overall effect of '%s' is not estimable (the model dropped a column it "
                  "needs as aliased): NA", T->name);
        for (int a = 0; a < p; a++) L0[a] = NAN;
    }
    if (rows_add(&R, "overall", "", evm__strdup(""), evm__strdup("overall"), 1, L0)) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (int i = 0; i < o->nby + o->nsubgroup && st >= 0; i++) {
        const char *name = i < o->nby ? o->by[i] : o->subgroup[i - o->nby];
        int dup = 0;
        for (int j = 0; j < i; j++)
            dup |= strcmp(name, j < o->nby ? o->by[j] : o->subgroup[j - o->nby]) == 0;
        if (!dup) st = variable_rows(m, V, f, T, name, L0, &R, work, c);
    }
    if (st < 0) goto cleanup;
    const int n = e->ncon = R.n;
    double **cols[] = {&e->estimate, &e->se, &e->df, &e->t, &e->p, &e->p_adj, &e->lower,
                       &e->upper};
    for (size_t k = 0; k < sizeof cols / sizeof *cols; k++)
        if (!(*cols[k] = evm__calloc((size_t)n, sizeof(double)))) {
            st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
    e->kind = R.kind, e->variable = R.var, e->con_level = R.lev, e->label = R.label;
    e->in_model = R.in_model, e->L = R.L;
    memset(&R, 0, sizeof R);
    e->p_coef = p;
    if (!(e->coef = evm__calloc((size_t)(p ? p : 1), sizeof *e->coef))) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (int a = 0; a < p; a++)
        if (!(e->coef[a] = evm__strdup(m->mf->xnames[a]))) {
            st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
    if ((st = evx_inference(m, o, e->L, n, e->estimate, e->se, e->df, c)) < 0) goto cleanup;
    st = tests(e, o, c);
cleanup:
    rows_free(&R);
    evx_point_free(&g);
    free(L0);
    free(work);
    return st;
}
