/* effsizes.c — effect sizes of `evalmix effects` (docs/methods.md, "Effect sizes of the
 * contrasts and schools"): every contrast and every school's model-based effect divided by
 *   (a) the model's SD of the outcome in the comparison condition, √(σ² + Σ τ²) over the
 *       random-intercept variances (the slope variances do not enter at treatment 0);
 *   (b) the observed SD of the comparison rows the model used (Glass's Δ);
 *   (g) the observed pooled SD of those rows, times ω = 1 − 3/(4N − 9): Hedges' g as the
 *       WWC computes it for a covariate-adjusted difference (Procedures Handbook v4.1
 *       App. E: the adjusted difference over the unadjusted pooled SD);
 *   (c) --sd-ref;
 * with the WWC improvement index of each, and the intra-class correlations of the
 * random-intercept terms with intervals from the profile interval of their SDs.  One SD
 * for every row, so that the effect sizes of the levels of a variable and of their
 * difference are on one scale. */
#include "effects_internal.h"

#include "effsize/effsize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *const evm_effects_es_name[EVM_EFFECTS_NES] = {"model", "comparison", "g", "ref"};

static void es_free(evm_effects_es *x)
{
    free(x->es), free(x->se), free(x->lower), free(x->upper), free(x->ii);
    memset(x, 0, sizeof *x);
}

void evx_effect_sizes_free(evm_effects *e)
{
    for (int k = 0; k < EVM_EFFECTS_NES; k++) {
        es_free(&e->con_es[k]);
        es_free(&e->site_es[k]);
    }
    for (int j = 0; j < e->nicc && e->icc_group; j++) free(e->icc_group[j]);
    free(e->icc_group), free(e->icc_var), free(e->icc), free(e->icc_lower), free(e->icc_upper);
    free(e->icc_ci);
    e->icc_group = NULL;
    e->icc_var = e->icc = e->icc_lower = e->icc_upper = NULL;
    e->icc_ci = NULL;
    e->nicc = 0;
}

static int es_alloc(evm_effects_es *x, int64_t n)
{
    double **col[] = {&x->es, &x->se, &x->lower, &x->upper, &x->ii};
    for (size_t a = 0; a < sizeof col / sizeof *col; a++) {
        if (!(*col[a] = evm__malloc((size_t)(n ? n : 1), sizeof(double)))) return -1;
        for (int64_t r = 0; r < n; r++) (*col[a])[r] = NAN;
    }
    return 0;
}

/* Row r of x: est/sd with its SE and interval (df INFINITY: normal), all times `mult`
 * (ω for Hedges' g).  A missing SD, estimate or df leaves what cannot be computed NaN. */
static void put(evm_effects_es *x, int64_t r, double est, double se, double df, double sd,
                double mult, double level, int with_ii)
{
    if (!(sd > 0) || !isfinite(sd) || isnan(est)) return;
    evm_es_std s;
    if (evm_es_standardize(est, se, df, sd, level, &s, NULL) == EVM_OK) {
        x->es[r] = mult * s.es;
        x->se[r] = mult * s.se;
        x->lower[r] = mult * s.lower;
        x->upper[r] = mult * s.upper;
    } else {   /* no df (a zero difference) or no SE: the point estimate only */
        x->es[r] = mult * est / sd;
        if (se >= 0 && isfinite(se)) x->se[r] = mult * se / sd;
    }
    if (with_ii) x->ii[r] = evm_es_improvement_index(x->es[r]);
}

/* Outcome mean and SD (n − 1) of the rows used in each arm. */
static void observed(const evm_lmm *m, const evx_treat *T, evm_effects *e)
{
    const int64_t n = m->mf->n;
    const double *y = m->mf->y;
    double sum[2] = {0, 0}, ss[2] = {0, 0};
    int64_t cnt[2] = {0, 0};
    for (int64_t i = 0; i < n; i++) {
        sum[T->arm[i] != 0] += y[i];
        cnt[T->arm[i] != 0]++;
    }
    double mean[2];
    for (int a = 0; a < 2; a++) mean[a] = cnt[a] ? sum[a] / (double)cnt[a] : NAN;
    for (int64_t i = 0; i < n; i++) {
        const int a = T->arm[i] != 0;
        ss[a] += (y[i] - mean[a]) * (y[i] - mean[a]);
    }
    e->n_c = cnt[0], e->n_t = cnt[1];
    e->mean_c = mean[0], e->mean_t = mean[1];
    e->sd_c = cnt[0] > 1 ? sqrt(ss[0] / (double)(cnt[0] - 1)) : NAN;
    e->sd_t = cnt[1] > 1 ? sqrt(ss[1] / (double)(cnt[1] - 1)) : NAN;
    const int64_t N = cnt[0] + cnt[1];
    e->sd[EVM_EFFECTS_ES_COMPARISON] = e->sd_c > 0 ? e->sd_c : NAN;
    e->sd[EVM_EFFECTS_ES_G] = N > 2 && cnt[0] > 0 && cnt[1] > 0
                                  ? sqrt((ss[0] + ss[1]) / (double)(N - 2)) : NAN;
    if (!(e->sd[EVM_EFFECTS_ES_G] > 0)) e->sd[EVM_EFFECTS_ES_G] = NAN;
    e->omega = evm_es_omega(N);
}

/* The random-intercept terms: group names and variances σ²·(TTᵀ)_aa of the
 * "(Intercept)" column a, in lme4's term order; with their ICCs. */
static int intercepts(const evm_lmm *m, const evm_effects_opts *o, const evx_profile *P,
                      evm_effects *e, evm_ctx *c)
{
    const int K = m->K;
    const double s2 = m->sigma * m->sigma;
    int *col = evm__malloc((size_t)(K ? K : 1), sizeof *col);
    double *var = evm__malloc((size_t)K + 1, sizeof *var);
    int st = EVM_OK, k_icc = 0;
    e->icc_group = evm__calloc((size_t)(K ? K : 1), sizeof *e->icc_group);
    double **d[] = {&e->icc_var, &e->icc, &e->icc_lower, &e->icc_upper};
    for (size_t a = 0; a < sizeof d / sizeof *d; a++)
        *d[a] = evm__malloc((size_t)(K ? K : 1), sizeof(double));
    if (!col || !var || !e->icc_group || !e->icc_var || !e->icc || !e->icc_lower || !e->icc_upper)
        goto oom;
    for (int k = 0; k < K; k++) {
        const evm__term *t = &m->t[k];
        const evm__reterm *re = &m->mf->re[t->src];
        int a = -1;
        for (int j = 0; j < re->q && a < 0; j++)
            if (strcmp(re->colnames[j], "(Intercept)") == 0) a = j;
        if (a < 0) continue;
        double v = 0.0;
        for (int b = 0; b <= a; b++) v += t->T[a + b * t->q] * t->T[a + b * t->q];
        col[k_icc] = k;
        var[k_icc] = s2 * v;
        e->icc_var[k_icc] = s2 * v;
        if (!(e->icc_group[k_icc] = evm__strdup(re->group))) goto oom;
        e->nicc = ++k_icc;
    }
    var[k_icc] = e->resid_var = s2;
    e->sd[EVM_EFFECTS_ES_MODEL] = evm_es_model_sd(k_icc + 1, var);
    int profiled = 0;
    for (int j = 0; j < k_icc; j++) {
        evm_es_icc r = {NAN, NAN, NAN, NAN};
        const int k = col[j];
        const evm__reterm *re = &m->mf->re[m->t[k].src];
        int a = 0;
        while (strcmp(re->colnames[a], "(Intercept)") != 0) a++;
        const int pos = evx_profile_sd_pos(m, k, a);
        int ok = pos < P->npar &&
                 evm_es_icc_sd_interval(k_icc, var, s2, j, P->lower[pos], P->upper[pos], &r,
                                        NULL) == EVM_OK;
        if (ok) profiled = 1;
        else evm_es_icc_delta(k_icc, var, s2, j, NULL, o->level, &r, NULL);
        e->icc[j] = r.icc;
        e->icc_lower[j] = r.lower;
        e->icc_upper[j] = r.upper;
    }
    if (!(e->icc_ci = evm__strdup(profiled ? "profile" : "none"))) goto oom;
    goto cleanup;
oom:
    st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
cleanup:
    free(col), free(var);
    return st;
}

int evx_effect_sizes(const evm_lmm *m, const evx_treat *T, const evm_effects_opts *o,
                     const evx_profile *P, evm_effects *e, evm_ctx *c)
{
    for (int k = 0; k < EVM_EFFECTS_NES; k++) e->sd[k] = NAN;
    observed(m, T, e);
    e->sd[EVM_EFFECTS_ES_REF] = o->sd_ref;
    int st = intercepts(m, o, P, e, c);
    if (st < 0) return st;
    for (int k = 0; k < EVM_EFFECTS_NES; k++) {
        if (es_alloc(&e->con_es[k], e->ncon) || es_alloc(&e->site_es[k], e->nsite))
            return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        const double mult = k == EVM_EFFECTS_ES_G ? e->omega : 1.0;
        /* The improvement index describes one effect, not a difference between two. */
        for (int r = 0; r < e->ncon; r++)
            put(&e->con_es[k], r, e->estimate[r], e->se[r], e->df[r], e->sd[k], mult, o->level,
                strcmp(e->kind[r], "difference") != 0);
        for (int64_t s = 0; s < e->nsite; s++)
            put(&e->site_es[k], s, e->est[s], e->pred_se_adj[s], INFINITY, e->sd[k], mult, o->level, 1);
    }
    return EVM_OK;
}
