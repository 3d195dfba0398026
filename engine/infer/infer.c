/* infer.c — evm_lmm_infer: the inference an evaluator asks for after a fit, filled into
 * the result: t tests of the coefficients with the chosen denominator df, contrasts, F
 * tests per term, confidence intervals (Wald, profile, bootstrap percentile), the
 * parametric bootstrap and cluster-robust (CR2) standard errors. */
#include "infer_internal.h"

#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void evm_infer_opts_default(evm_infer_opts *o)
{
    memset(o, 0, sizeof *o);
    o->ddf = EVM_DDF_SATTERTHWAITE;
    o->level = 0.95;
}

/* The df engines a request needs, created once. */
typedef struct {
    evm_lmm *m;
    evm_ddf ddf;
    evm__satt *satt;
    evm__kr *kr;
    const double *V;   /* Var(β) the tests use: Kenward-Roger's adjusted one, or the fit's */
} tester;

static double two_sided_p(double t, double df)
{
    if (isnan(t)) return NAN;
    if (isnan(df)) return NAN;
    return 2.0 * evm_pt(-fabs(t), df, 1);
}

static double quad_form(const double *L, const double *V, int p)
{
    double s = 0.0;
    for (int b = 0; b < p; b++) {
        if (L[b] == 0.0) continue;
        for (int a = 0; a < p; a++) s += L[a] * V[a + b * p] * L[b];
    }
    return s;
}

/* df of the single contrast L (1×p) */
static int contrast_df(tester *te, const double *L, double *df, evm_ctx *c)
{
    const evm_lmm *m = te->m;
    switch (te->ddf) {
    case EVM_DDF_NONE: *df = NAN; return EVM_OK;
    case EVM_DDF_RESIDUAL: *df = (double)(m->mf->n - m->p); return EVM_OK;
    case EVM_DDF_SATTERTHWAITE: return evm__satt_df(te->satt, L, 1, df, c);
    case EVM_DDF_KENWARD_ROGER: {
        double F, ndf;
        return evm__kr_ftest(te->kr, m->beta, L, 1, &F, &ndf, df, c);
    }
    }
    return evm__fail(c, EVM_ERR_ARG, "unknown ddf method");
}

/* Joint F test of the k rows of L. */
static int ftest(tester *te, const double *L, int k, double *F, double *ndf, double *ddf,
                 double *pval, evm_ctx *c)
{
    const evm_lmm *m = te->m;
    int st = EVM_OK;
    if (te->ddf == EVM_DDF_SATTERTHWAITE) st = evm__satt_ftest(te->satt, m->beta, L, k, F, ndf, ddf, c);
    else if (te->ddf == EVM_DDF_KENWARD_ROGER) st = evm__kr_ftest(te->kr, m->beta, L, k, F, ndf, ddf, c);
    else {
        /* Wald F: (Lβ)ᵀ(LVLᵀ)⁻¹(Lβ)/k by a Cholesky of LVLᵀ */
        const int p = m->p;
        double *S = evm__calloc((size_t)k * k, sizeof(double)), *r = evm__calloc((size_t)k, sizeof(double));
        if (!S || !r) {
            free(S), free(r);
            return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        }
        for (int i = 0; i < k; i++) {
            for (int a = 0; a < p; a++) r[i] += L[i * p + a] * m->beta[a];
            for (int j = 0; j <= i; j++) {
                double s = 0.0;
                for (int a = 0; a < p; a++)
                    for (int b = 0; b < p; b++) s += L[i * p + a] * te->V[a + b * p] * L[j * p + b];
                S[i + j * k] = s;
            }
        }
        double stat = 0.0;
        int ok = 1;
        for (int j = 0; j < k && ok; j++) {   /* forward solve with the Cholesky factor */
            double d = S[j + j * k];
            for (int l = 0; l < j; l++) d -= S[j + l * k] * S[j + l * k];
            if (!(d > 0)) ok = 0;
            else {
                d = sqrt(d);
                S[j + j * k] = d;
                for (int i = j + 1; i < k; i++) {
                    double s = S[i + j * k];
                    for (int l = 0; l < j; l++) s -= S[i + l * k] * S[j + l * k];
                    S[i + j * k] = s / d;
                }
                double z = r[j];
                for (int l = 0; l < j; l++) z -= S[j + l * k] * r[l];
                r[j] = z / d;
                stat += r[j] * r[j];
            }
        }
        free(S), free(r);
        if (!ok) return evm__fail(c, EVM_ERR_NUMERIC, "hypothesis matrix is rank deficient");
        *F = stat / k;
        *ndf = k;
        *ddf = te->ddf == EVM_DDF_RESIDUAL ? (double)(m->mf->n - m->p) : NAN;
    }
    if (st) return st;
    *pval = isnan(*ddf) ? evm_pchisq(*F * *ndf, *ndf, 0) : evm_pf(*F, *ndf, *ddf, 0);
    return EVM_OK;
}

static int fill_coefficients(tester *te, evm_result *r, evm_ctx *c)
{
    const int p = r->p;
    double *L = evm__calloc((size_t)(p ? p : 1), sizeof(double));
    if (!L) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    int st = EVM_OK;
    for (int a = 0; a < p && !st; a++) {
        memset(L, 0, sizeof(double) * p);
        L[a] = 1.0;
        r->se[a] = sqrt(te->V[a + a * p]);
        r->t[a] = r->beta[a] / r->se[a];
        st = contrast_df(te, L, &r->df[a], c);
        r->pval[a] = two_sided_p(r->t[a], r->df[a]);
    }
    free(L);
    return st;
}

/* A contrast that failed to parse and names, as a whole term, a coefficient the model
 * dropped as aliased: say that, rather than "unknown coefficient". */
static void dropped_coefficient(const evm_result *r, const char *expr, evm_ctx *c)
{
    static const char delim[] = " \t+-*/";
    for (int k = 0; k < r->ndropped; k++) {
        const char *d = r->dropped[k];
        const size_t n = strlen(d);
        for (const char *at = strstr(expr, d); n && at; at = strstr(at + 1, d)) {
            const int open = at == expr || strchr(delim, at[-1]);
            const int close = !at[n] || strchr(delim, at[n]);
            if (!open || !close) continue;
            char *prefix = evm__asprintf("--contrast: coefficient '%s' was dropped from the "
                                         "model as aliased (the fixed effects are rank "
                                         "deficient): ", d);
            if (!prefix) return;
            evm__fail_caret(c, EVM_ERR_ARG, (int)(strlen(prefix) + (size_t)(at - expr)), "%s%s",
                            prefix, expr);
            free(prefix);
            return;
        }
    }
}

static int fill_contrasts(tester *te, const evm_infer_opts *o, evm_result *r, evm_ctx *c)
{
    const int p = r->p, k = o->ncontrasts;
    r->ncontrasts = k;
    r->con_name = evm__calloc((size_t)k, sizeof(char *));
    r->con_expr = evm__calloc((size_t)k, sizeof(char *));
    r->con_L = evm__calloc((size_t)k * (p ? p : 1), sizeof(double));
    r->con_est = evm__calloc((size_t)k, sizeof(double));
    r->con_se = evm__calloc((size_t)k, sizeof(double));
    r->con_df = evm__calloc((size_t)k, sizeof(double));
    r->con_t = evm__calloc((size_t)k, sizeof(double));
    r->con_p = evm__calloc((size_t)k, sizeof(double));
    if (!r->con_name || !r->con_expr || !r->con_L || !r->con_est || !r->con_se || !r->con_df ||
        !r->con_t || !r->con_p)
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < k; i++) {
        double *L = r->con_L + (int64_t)i * p;
        int st = evm_contrast_parse(o->contrast_expr[i], r->fixef_name, p, L, c);
        if (st == EVM_ERR_ARG) dropped_coefficient(r, o->contrast_expr[i], c);
        if (st) return st;
        r->con_name[i] = evm__strdup(o->contrast_name[i]);
        r->con_expr[i] = evm__strdup(o->contrast_expr[i]);
        if (!r->con_name[i] || !r->con_expr[i]) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        double est = 0.0;
        for (int a = 0; a < p; a++) est += L[a] * r->beta[a];
        r->con_est[i] = est;
        r->con_se[i] = sqrt(quad_form(L, te->V, p));
        r->con_t[i] = est / r->con_se[i];
        if ((st = contrast_df(te, L, &r->con_df[i], c))) return st;
        r->con_p[i] = two_sided_p(r->con_t[i], r->con_df[i]);
    }
    return EVM_OK;
}

static int fill_anova(tester *te, evm_result *r, evm_ctx *c)
{
    int nt = 0, *k = NULL, st;
    char **names = NULL;
    double **L = NULL;
    if ((st = evm__anova_terms(te->m, &nt, &names, &L, &k, c))) return st;
    r->has_anova = 1;
    r->nanova = nt;
    r->anova_term = names;
    r->anova_F = evm__calloc((size_t)(nt ? nt : 1), sizeof(double));
    r->anova_ndf = evm__calloc((size_t)(nt ? nt : 1), sizeof(double));
    r->anova_ddf = evm__calloc((size_t)(nt ? nt : 1), sizeof(double));
    r->anova_p = evm__calloc((size_t)(nt ? nt : 1), sizeof(double));
    if (!r->anova_F || !r->anova_ndf || !r->anova_ddf || !r->anova_p)
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < nt && !st; i++)
        st = ftest(te, L[i], k[i], &r->anova_F[i], &r->anova_ndf[i], &r->anova_ddf[i],
                   &r->anova_p[i], c);
    for (int i = 0; i < nt; i++) free(L[i]);
    free(L);
    free(k);
    return st;
}

/* confint() names: .sig01.. for the variance-component rows (without the residual),
 * .sigma, then the fixed effects. */
static char **confint_names(const evm_result *r, int *n)
{
    const int nsig = r->nvc - 1;
    *n = nsig + 1 + r->p;
    char **v = evm__calloc((size_t)*n, sizeof(char *));
    if (!v) return NULL;
    for (int i = 0; i < nsig; i++) v[i] = evm__asprintf(".sig%02d", i + 1);
    v[nsig] = evm__strdup(".sigma");
    for (int a = 0; a < r->p; a++) v[nsig + 1 + a] = evm__strdup(r->fixef_name[a]);
    for (int i = 0; i < *n; i++)
        if (!v[i]) {
            for (int j = 0; j < *n; j++) free(v[j]);
            free(v);
            return NULL;
        }
    return v;
}

static int wald_ci(const evm_infer_opts *o, evm_result *r, evm_ctx *c)
{
    int n;
    if (!(r->ci_param = confint_names(r, &n))) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    r->nci = n;
    r->ci_lower = evm__malloc((size_t)n, sizeof(double));
    r->ci_upper = evm__malloc((size_t)n, sizeof(double));
    if (!r->ci_lower || !r->ci_upper) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    const double z = evm_qnorm(0.5 + o->level / 2.0, 1);
    const int off = n - r->p;
    for (int i = 0; i < off; i++) r->ci_lower[i] = r->ci_upper[i] = NAN;   /* as lme4 */
    for (int a = 0; a < r->p; a++) {
        r->ci_lower[off + a] = r->beta[a] - z * r->se[a];
        r->ci_upper[off + a] = r->beta[a] + z * r->se[a];
    }
    return EVM_OK;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* R's quantile(type = 7) of the finite values among x[0], x[stride], ... */
static double quantile7(const double *x, int64_t n, int64_t stride, double prob, double *work)
{
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (isfinite(x[i * stride])) work[m++] = x[i * stride];
    if (m == 0) return NAN;
    qsort(work, (size_t)m, sizeof *work, cmp_double);
    const double h = (double)(m - 1) * prob;
    const int64_t lo = (int64_t)floor(h);
    const double hi = lo + 1 < m ? work[lo + 1] : work[lo];
    return work[lo] + (h - (double)lo) * (hi - work[lo]);
}

static int run_bootstrap(evm_lmm *m, const evm_infer_opts *o, evm_result *r, evm_ctx *c)
{
    int npar = 0;
    int st = evm__bootstrap(m, o->nboot, o->seed, evm_ctx_threads(c), o->progress, o->progress_arg,
                            &npar, &r->boot_param, &r->boot_est, &r->nboot_ok, c);
    if (st < 0) return st;
    r->nboot = o->nboot;
    r->boot_seed = o->seed;
    r->nbootpar = npar;
    r->boot_lower = evm__malloc((size_t)(npar ? npar : 1), sizeof(double));
    r->boot_upper = evm__malloc((size_t)(npar ? npar : 1), sizeof(double));
    double *work = evm__malloc((size_t)o->nboot, sizeof(double));
    if (!r->boot_lower || !r->boot_upper || !work) {
        free(work);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    }
    const double a = (1.0 - o->level) / 2.0;
    for (int j = 0; j < npar; j++) {
        r->boot_lower[j] = quantile7(r->boot_est + j, o->nboot, npar, a, work);
        r->boot_upper[j] = quantile7(r->boot_est + j, o->nboot, npar, 1.0 - a, work);
    }
    free(work);
    if (r->nboot_ok < r->nboot)
        evm__warn(c, "%lld of %lld bootstrap refits failed and were left out",
                  (long long)(r->nboot - r->nboot_ok), (long long)r->nboot);
    return st;
}

static int copy_ci(evm_result *r, int n, char **names, const double *lo, const double *hi, evm_ctx *c)
{
    r->nci = n;
    r->ci_param = evm__calloc((size_t)(n ? n : 1), sizeof(char *));
    r->ci_lower = evm__malloc((size_t)(n ? n : 1), sizeof(double));
    r->ci_upper = evm__malloc((size_t)(n ? n : 1), sizeof(double));
    if (!r->ci_param || !r->ci_lower || !r->ci_upper) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        if (!(r->ci_param[i] = evm__strdup(names[i]))) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        r->ci_lower[i] = lo[i];
        r->ci_upper[i] = hi[i];
    }
    return EVM_OK;
}

static int intervals(evm_lmm *m, const evm_infer_opts *o, evm_result *r, evm_ctx *c)
{
    if (!(r->ci_method = evm__strdup(o->ci))) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    r->ci_level = o->level;
    if (strcmp(o->ci, "wald") == 0) return wald_ci(o, r, c);
    if (strcmp(o->ci, "boot") == 0)
        return copy_ci(r, r->nbootpar, r->boot_param, r->boot_lower, r->boot_upper, c);
    int n = 0, st;
    char **names = NULL;
    double *lo = NULL, *hi = NULL;
    if ((st = evm__profile_ci(m, o->level, &n, &names, &lo, &hi, c)) >= 0)
        st = copy_ci(r, n, names, lo, hi, c) ? -1 : st;
    for (int i = 0; i < n && names; i++) free(names[i]);
    free(names), free(lo), free(hi);
    return st < 0 ? evm_ctx_status(c) : st;
}

static int robust(evm_lmm *m, const evm_infer_opts *o, evm_result *r, evm_ctx *c)
{
    const int p = r->p;
    r->robust_cluster = evm__strdup(o->robust);
    r->robust_vcov = evm__calloc((size_t)(p ? p * p : 1), sizeof(double));
    r->robust_se = evm__calloc((size_t)(p ? p : 1), sizeof(double));
    r->robust_df = evm__calloc((size_t)(p ? p : 1), sizeof(double));
    r->robust_t = evm__calloc((size_t)(p ? p : 1), sizeof(double));
    r->robust_p = evm__calloc((size_t)(p ? p : 1), sizeof(double));
    if (!r->robust_cluster || !r->robust_vcov || !r->robust_se || !r->robust_df || !r->robust_t ||
        !r->robust_p)
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    int st = evm__cr2(m, r->robust_vcov, r->robust_df, &r->robust_nclusters, c);
    if (st < 0) return st;
    for (int a = 0; a < p; a++) {
        r->robust_se[a] = sqrt(r->robust_vcov[a + a * p]);
        r->robust_t[a] = r->beta[a] / r->robust_se[a];
        r->robust_p[a] = two_sided_p(r->robust_t[a], r->robust_df[a]);
    }
    return st;
}

static int check_opts(const evm_lmm *m, const evm_infer_opts *o, evm_ctx *c)
{
    if (o->ci && strcmp(o->ci, "wald") && strcmp(o->ci, "profile") && strcmp(o->ci, "boot"))
        return evm__fail(c, EVM_ERR_ARG, "--ci: unknown method '%s' (profile, wald or boot)", o->ci);
    if (o->ci && strcmp(o->ci, "boot") == 0 && o->nboot <= 0)
        return evm__fail(c, EVM_ERR_ARG, "--ci boot needs --bootstrap N");
    if (!(o->level > 0.0 && o->level < 1.0))
        return evm__fail(c, EVM_ERR_ARG, "--level %g is not between 0 and 1", o->level);
    if (o->nboot < 0) return evm__fail(c, EVM_ERR_ARG, "--bootstrap must not be negative");
    if (o->robust && (!m->opts.cluster || strcmp(o->robust, m->opts.cluster) != 0))
        return evm__fail(c, EVM_ERR_ARG, "robust cluster '%s' was not kept in the model frame",
                         o->robust);
    return EVM_OK;
}

int evm_lmm_infer(evm_lmm *m, const evm_infer_opts *o, evm_result *r, evm_ctx *c)
{
    evm_infer_opts def;
    if (!o) {
        evm_infer_opts_default(&def);
        o = &def;
    }
    if (!m->fitted) return evm__fail(c, EVM_ERR_ARG, "the model has not been fitted");
    int st = check_opts(m, o, c), warn = EVM_OK;
    if (st) return st;
    tester te = {m, o->ddf, NULL, NULL, m->vcov};
    if (o->ddf == EVM_DDF_SATTERTHWAITE) st = evm__satt_create(m, &te.satt, c);
    else if (o->ddf == EVM_DDF_KENWARD_ROGER && (st = evm__kr_create(m, &te.kr, c)) == EVM_OK) {
        te.V = evm__kr_vcov_adj(te.kr);
        r->vcov_adj = evm__malloc((size_t)(m->p ? m->p * m->p : 1), sizeof(double));
        if (!r->vcov_adj) st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        else memcpy(r->vcov_adj, te.V, sizeof(double) * m->p * m->p);
    }
    if (st < 0) goto cleanup;
    free(r->ddf);
    if (!(r->ddf = evm__strdup(evm_ddf_name(o->ddf)))) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if ((st = fill_coefficients(&te, r, c)) < 0) goto cleanup;
    if (o->ncontrasts > 0 && (st = fill_contrasts(&te, o, r, c)) < 0) goto cleanup;
    if (o->anova && (st = fill_anova(&te, r, c)) < 0) goto cleanup;
    if (o->nboot > 0) {
        if ((st = run_bootstrap(m, o, r, c)) < 0) goto cleanup;
        if (st > 0) warn = st;
    }
    if (o->ci) {
        if ((st = intervals(m, o, r, c)) < 0) goto cleanup;
        if (st > 0) warn = st;
    }
    if (o->robust && (st = robust(m, o, r, c)) < 0) goto cleanup;
    st = warn;
cleanup:
    evm__satt_destroy(&te.satt);
    evm__kr_destroy(&te.kr);
    if (evm__lmm_restore(m) && st >= 0)
        st = evm__fail(c, EVM_ERR_NUMERIC, "could not restore the fitted model");
    return st;
}
