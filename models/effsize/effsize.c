/* effsize.c — effect sizes and WWC conventions (see effsize.h; formulas and sources in
 * docs/methods.md, "Effect sizes and WWC conventions"). */
#include "effsize/effsize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The models layer records errors on the context the way the engine does. */
#include "../../engine/core/internal.h"

static int finite3(double a, double b, double c) { return isfinite(a) && isfinite(b) && isfinite(c); }

double evm_es_omega(int64_t n_total)
{
    const double den = 4.0 * (double)n_total - 9.0;
    return den > 0 ? 1.0 - 3.0 / den : NAN;
}

double evm_es_J(double m)
{
    /* As metafor's .cmicalc, so that g_exact agrees with escalc to rounding. */
    if (!(m > 1)) return NAN;
    return exp(lgamma(m / 2) - log(sqrt(m / 2)) - lgamma((m - 1) / 2));
}

/* ---------------------------------------------------------------- continuous outcomes */

static void smd_nan(evm_es_smd *o)
{
    o->n_total = 0;
    o->diff = o->sd_pooled = o->d = o->omega = o->g = o->se_g = NAN;
    o->J = o->g_exact = o->v_exact = o->v_exact_ub = NAN;
}

int evm_es_smd_groups(double mean_t, double sd_t, int64_t n_t, double mean_c, double sd_c,
                      int64_t n_c, evm_es_smd *out, evm_ctx *c)
{
    if (!out) return evm__fail(c, EVM_ERR_ARG, "effect size: no output");
    smd_nan(out);
    if (!finite3(mean_t, sd_t, mean_c) || !isfinite(sd_c))
        return evm__fail(c, EVM_ERR_VALUE, "effect size: means and SDs must be finite numbers");
    if (sd_t < 0 || sd_c < 0)
        return evm__fail(c, EVM_ERR_VALUE, "effect size: a standard deviation is negative");
    if (n_t < 1 || n_c < 1)
        return evm__fail(c, EVM_ERR_VALUE, "effect size: each group needs at least 1 member");
    const int64_t N = n_t + n_c;
    if (N < 4)
        return evm__fail(c, EVM_ERR_VALUE,
                         "effect size: %lld members in all; Hedges' g needs at least 4",
                         (long long)N);
    const double nt = (double)n_t, nc = (double)n_c, m = (double)(N - 2);
    /* scaled by the larger SD, so that SDs near 1e±300 neither overflow nor underflow */
    const double big = sd_t > sd_c ? sd_t : sd_c;
    const double rt = big > 0 ? sd_t / big : 0, rc = big > 0 ? sd_c / big : 0;
    const double sp = big * sqrt(((nt - 1) * rt * rt + (nc - 1) * rc * rc) / m);
    if (!(sp > 0))
        return evm__fail(c, EVM_ERR_VALUE,
                         "effect size: the pooled standard deviation is 0 (no variation)");
    const double diff = mean_t - mean_c, d = diff / sp, omega = evm_es_omega(N);
    const double se_g = sqrt((double)N / (nt * nc) + omega * d * omega * d / (2.0 * (double)N));
    if (!isfinite(diff) || !isfinite(d) || !isfinite(se_g))
        return evm__fail(c, EVM_ERR_VALUE,
                         "effect size: the difference of means (%g - %g) over the pooled SD "
                         "(%g) is too large to compute: check the units of the inputs",
                         mean_t, mean_c, sp);
    out->n_total = N;
    out->diff = diff;
    out->sd_pooled = sp;
    out->d = d;
    out->omega = omega;
    out->g = omega * d;
    out->se_g = se_g;
    out->J = evm_es_J(m);
    out->g_exact = out->J * out->d;
    /* Written in escalc's order of operations (1/n1 + 1/n2 + ...) for bitwise closeness. */
    out->v_exact = 1 / nt + 1 / nc + out->g_exact * out->g_exact / (2 * (double)N);
    out->v_exact_ub = 1 / nt + 1 / nc +
                      (1 - (m - 2) / (m * out->J * out->J)) * out->g_exact * out->g_exact;
    return EVM_OK;
}

/* ---------------------------------------------------------------- binary outcomes */

int evm_es_cox_index(double p_t, int64_t n_t, double p_c, int64_t n_c, evm_es_cox *out,
                     evm_ctx *c)
{
    if (!out) return evm__fail(c, EVM_ERR_ARG, "Cox index: no output");
    out->n_total = 0;
    out->log_or = out->d_cox = out->omega = out->g = NAN;
    out->v_log_or = out->v_cox = out->se_g = NAN;
    if (!(p_t > 0 && p_t < 1 && p_c > 0 && p_c < 1))
        return evm__fail(c, EVM_ERR_VALUE,
                         "Cox index: proportions must lie strictly between 0 and 1 "
                         "(got %g and %g; at 0 or 1 the log odds is infinite)",
                         p_t, p_c);
    if (n_t < 1 || n_c < 1)
        return evm__fail(c, EVM_ERR_VALUE, "Cox index: each group needs at least 1 member");
    const int64_t N = n_t + n_c;
    if (N < 3)
        return evm__fail(c, EVM_ERR_VALUE, "Cox index: %lld members in all; need at least 3",
                         (long long)N);
    const double nt = (double)n_t, nc = (double)n_c;
    out->n_total = N;
    /* metafor's form: log(p/(1 - p)) of each group, then the difference. */
    out->log_or = log(p_t / (1 - p_t)) - log(p_c / (1 - p_c));
    out->d_cox = out->log_or / EVM_ES_COX_SCALE;
    out->omega = evm_es_omega(N);
    out->g = out->omega * out->d_cox;
    out->v_log_or = 1 / (nt * p_t) + 1 / (nt * (1 - p_t)) + 1 / (nc * p_c) + 1 / (nc * (1 - p_c));
    if (!isfinite(out->v_log_or))
        return evm__fail(c, EVM_ERR_VALUE,
                         "Cox index: proportions this close to 0 or 1 (%g and %g) give an "
                         "infinite variance", p_t, p_c);
    out->v_cox = out->v_log_or / (EVM_ES_COX_SCALE * EVM_ES_COX_SCALE);
    out->se_g = out->omega * sqrt(out->v_cox);
    return EVM_OK;
}

/* ---------------------------------------------------------------- WWC summaries */

double evm_es_improvement_index(double g)
{
    return isnan(g) ? NAN : 100.0 * evm_pnorm(g, 1) - 50.0;
}

evm_es_baseline evm_es_baseline_verdict(double g)
{
    if (isnan(g)) return EVM_ES_BASELINE_UNKNOWN;
    const double a = fabs(g);
    if (a <= 0.05) return EVM_ES_BASELINE_SATISFIED;
    if (a <= 0.25) return EVM_ES_BASELINE_ADJUST;
    return EVM_ES_BASELINE_NOT_SATISFIED;
}

const char *evm_es_baseline_str(evm_es_baseline v)
{
    switch (v) {
    case EVM_ES_BASELINE_SATISFIED: return "satisfied";
    case EVM_ES_BASELINE_ADJUST: return "requires statistical adjustment";
    case EVM_ES_BASELINE_NOT_SATISFIED: return "not satisfied";
    default: return "unknown";
    }
}

/* ---------------------------------------------------------------- clustering correction */

int evm_es_wwc_cluster(double g, int64_t n_t, int64_t n_c, int64_t clusters, double rho,
                       evm_es_cluster *out, evm_ctx *c)
{
    if (!out) return evm__fail(c, EVM_ERR_ARG, "clustering correction: no output");
    memset(out, 0, sizeof *out);
    out->n_avg = out->rho = out->t = out->df = out->p = NAN;
    out->t_a = out->h = out->p_a = NAN;
    if (!isfinite(g * g))
        return evm__fail(c, EVM_ERR_VALUE, "clustering correction: the effect size %g is not a "
                         "finite number of standard deviations that can be squared", g);
    if (n_t < 1 || n_c < 1)
        return evm__fail(c, EVM_ERR_VALUE,
                         "clustering correction: each group needs at least 1 member");
    const int64_t N = n_t + n_c;
    if (N <= 2)
        return evm__fail(c, EVM_ERR_VALUE, "clustering correction: %lld members in all; need "
                         "more than 2", (long long)N);
    if (clusters < 2 || clusters > N)
        return evm__fail(c, EVM_ERR_VALUE,
                         "clustering correction: %lld clusters for %lld members; need 2 to %lld",
                         (long long)clusters, (long long)N, (long long)N);
    if (!(rho >= 0 && rho < 1))
        return evm__fail(c, EVM_ERR_VALUE,
                         "clustering correction: intra-class correlation %g is not in [0, 1)",
                         rho);
    const double Nd = (double)N, nt = (double)n_t, nc = (double)n_c;
    const double n = Nd / (double)clusters;
    const double a = (Nd - 2) - 2 * (n - 1) * rho;
    if (!(a > 0))
        return evm__fail(c, EVM_ERR_VALUE,
                         "clustering correction: (N-2) - 2(n-1)rho = %g <= 0 with N = %lld, "
                         "average cluster size %g and rho %g: too few clusters for the "
                         "correction",
                         a, (long long)N, n, rho);
    out->n_total = N;
    out->clusters = clusters;
    out->n_avg = n;
    out->rho = rho;
    out->t = g / sqrt((nt + nc) / (nt * nc) + g * g / (2 * Nd));
    out->df = Nd - 2;
    out->p = 2 * evm_pt(-fabs(out->t), out->df, 1);
    out->t_a = out->t * sqrt(a / ((Nd - 2) * (1 + (n - 1) * rho)));
    out->h = a * a / ((Nd - 2) * (1 - rho) * (1 - rho) + n * (Nd - 2 * n) * rho * rho +
                      2 * (Nd - 2 * n) * rho * (1 - rho));
    if (!(out->h > 0))
        return evm__fail(c, EVM_ERR_VALUE,
                         "clustering correction: the corrected degrees of freedom are not "
                         "positive (N = %lld, average cluster size %g, rho %g)",
                         (long long)N, n, rho);
    out->p_a = 2 * evm_pt(-fabs(out->t_a), out->h, 1);
    return EVM_OK;
}

/* ---------------------------------------------------------------- model-based contrasts */

double evm_es_model_sd(int nvar, const double *var)
{
    if (nvar < 1 || !var) return NAN;
    double s = 0;
    for (int i = 0; i < nvar; i++) {
        if (!(var[i] >= 0) || !isfinite(var[i])) return NAN;
        s += var[i];
    }
    return sqrt(s);
}

/* Two-sided quantile for a confidence level: t on df, normal for infinite df. */
static double crit(double level, double df)
{
    const double p = (1 + level) / 2;
    return isinf(df) ? evm_qnorm(p, 1) : evm_qt(p, df, 1);
}

int evm_es_standardize(double est, double se, double df, double sd, double level,
                       evm_es_std *out, evm_ctx *c)
{
    if (!out) return evm__fail(c, EVM_ERR_ARG, "standardized effect: no output");
    out->es = out->se = out->lower = out->upper = NAN;
    if (!finite3(est, se, sd))
        return evm__fail(c, EVM_ERR_VALUE,
                         "standardized effect: estimate, SE and SD must be finite numbers");
    if (!(sd > 0))
        return evm__fail(c, EVM_ERR_VALUE, "standardized effect: the SD %g is not positive", sd);
    if (se < 0)
        return evm__fail(c, EVM_ERR_VALUE, "standardized effect: the SE %g is negative", se);
    if (!(df > 0))
        return evm__fail(c, EVM_ERR_VALUE,
                         "standardized effect: degrees of freedom %g are not positive", df);
    if (!(level > 0 && level < 1))
        return evm__fail(c, EVM_ERR_VALUE,
                         "standardized effect: confidence level %g is not in (0, 1)", level);
    const double q = crit(level, df);
    out->es = est / sd;
    out->se = se / sd;
    out->lower = out->es - q * out->se;
    out->upper = out->es + q * out->se;
    return EVM_OK;
}

/* ---------------------------------------------------------------- intra-class correlation */

static void icc_nan(evm_es_icc *o) { o->icc = o->se = o->lower = o->upper = NAN; }

/* Common checks; the total variance in *total. */
static int icc_check(int k, const double *tau2, double sigma2, int j, double *total,
                     evm_ctx *c)
{
    if (k < 1 || !tau2) return evm__fail(c, EVM_ERR_ARG, "ICC: no variance components");
    if (j < 0 || j >= k)
        return evm__fail(c, EVM_ERR_ARG, "ICC: component %d is not in 0..%d", j, k - 1);
    double s = sigma2;
    if (!(sigma2 >= 0) || !isfinite(sigma2))
        return evm__fail(c, EVM_ERR_VALUE, "ICC: residual variance %g is not a variance", sigma2);
    for (int i = 0; i < k; i++) {
        if (!(tau2[i] >= 0) || !isfinite(tau2[i]))
            return evm__fail(c, EVM_ERR_VALUE, "ICC: variance component %d (%g) is not a "
                             "variance", i, tau2[i]);
        s += tau2[i];
    }
    if (!(s > 0)) return evm__fail(c, EVM_ERR_VALUE, "ICC: the total variance is 0");
    *total = s;
    return EVM_OK;
}

int evm_es_icc_delta(int k, const double *tau2, double sigma2, int j, const double *vcov,
                     double level, evm_es_icc *out, evm_ctx *c)
{
    if (!out) return evm__fail(c, EVM_ERR_ARG, "ICC: no output");
    icc_nan(out);
    double T = NAN;   /* set by icc_check on success */
    int st = icc_check(k, tau2, sigma2, j, &T, c);
    if (st) return st;
    const double rho = tau2[j] / T;
    out->icc = rho;
    if (!vcov) return EVM_OK;
    if (!(level > 0 && level < 1))
        return evm__fail(c, EVM_ERR_VALUE, "ICC: confidence level %g is not in (0, 1)", level);
    /* Gradient of ρ = τ²_j / T over (τ²_0..τ²_{k-1}, σ²): (δ_ij − ρ)/T, and −ρ/T for σ². */
    const int q = k + 1;
    double var = 0;
    for (int a = 0; a < q; a++) {
        const double ga = ((a == j) - rho) / T;
        for (int b = 0; b < q; b++) {
            const double gb = ((b == j) - rho) / T;
            const double v = vcov[(size_t)a + (size_t)b * (size_t)q];
            if (!isfinite(v))
                return evm__fail(c, EVM_ERR_VALUE, "ICC: the covariance matrix is not finite");
            var += ga * v * gb;
        }
    }
    if (var < 0)
        return evm__fail(c, EVM_ERR_VALUE,
                         "ICC: the covariance matrix gives a negative variance (%g)", var);
    const double se = sqrt(var), z = evm_qnorm((1 + level) / 2, 1);
    out->se = se;
    if (rho > 0 && rho < 1) {
        /* Wald on the logit scale: d logit(ρ)/dρ = 1/(ρ(1−ρ)). */
        const double l = log(rho / (1 - rho)), sl = se / (rho * (1 - rho));
        out->lower = 1 / (1 + exp(-(l - z * sl)));
        out->upper = 1 / (1 + exp(-(l + z * sl)));
    } else {
        out->lower = fmax(0.0, rho - z * se);
        out->upper = fmin(1.0, rho + z * se);
    }
    return EVM_OK;
}

int evm_es_icc_sd_interval(int k, const double *tau2, double sigma2, int j, double sd_lo,
                           double sd_hi, evm_es_icc *out, evm_ctx *c)
{
    if (!out) return evm__fail(c, EVM_ERR_ARG, "ICC: no output");
    icc_nan(out);
    double T = NAN;   /* set by icc_check on success */
    int st = icc_check(k, tau2, sigma2, j, &T, c);
    if (st) return st;
    if (!(sd_lo >= 0 && sd_lo <= sd_hi) || isnan(sd_hi))
        return evm__fail(c, EVM_ERR_VALUE, "ICC: the SD interval [%g, %g] is not an interval "
                         "of non-negative values", sd_lo, sd_hi);
    const double rest = T - tau2[j];
    out->icc = tau2[j] / T;
    out->lower = sd_lo * sd_lo / (sd_lo * sd_lo + rest);
    /* An infinite upper limit (an SD profile that never reaches the bound) gives ICC 1. */
    out->upper = isinf(sd_hi) ? 1.0 : sd_hi * sd_hi / (sd_hi * sd_hi + rest);
    if (isnan(out->lower)) out->lower = 0;   /* 0/0 when everything else is 0 */
    return EVM_OK;
}

/* ---------------------------------------------------------------- multiple comparisons */

int evm_es_adjust_parse(const char *s, evm_es_adjust *out, evm_ctx *c)
{
    if (s && out) {
        if (strcmp(s, "none") == 0) { *out = EVM_ES_ADJUST_NONE; return EVM_OK; }
        if (strcmp(s, "holm") == 0) { *out = EVM_ES_ADJUST_HOLM; return EVM_OK; }
        if (strcasecmp(s, "bh") == 0 || strcmp(s, "fdr") == 0) {
            *out = EVM_ES_ADJUST_BH;
            return EVM_OK;
        }
    }
    return evm__fail(c, EVM_ERR_ARG, "unknown p-value adjustment '%s' (use holm, bh or none)",
                     s ? s : "");
}

const char *evm_es_adjust_str(evm_es_adjust m)
{
    switch (m) {
    case EVM_ES_ADJUST_NONE: return "none";
    case EVM_ES_ADJUST_HOLM: return "holm";
    case EVM_ES_ADJUST_BH: return "bh";
    }
    return "unknown";
}

typedef struct {
    double p;
    int64_t i;
} pv;

/* Ascending p, ties by position: R's order() is stable.  (Holm and BH give tied p-values
 * the same adjusted value whatever the order among them.) */
static int pv_cmp(const void *a, const void *b)
{
    const pv *x = a, *y = b;
    if (x->p < y->p) return -1;
    if (x->p > y->p) return 1;
    return (x->i > y->i) - (x->i < y->i);
}

int evm_es_p_adjust(evm_es_adjust method, int64_t n, const double *p, double *adj,
                    evm_ctx *c)
{
    if (n < 0 || (n > 0 && (!p || !adj)))
        return evm__fail(c, EVM_ERR_ARG, "p-value adjustment: bad arguments");
    if (method != EVM_ES_ADJUST_NONE && method != EVM_ES_ADJUST_HOLM &&
        method != EVM_ES_ADJUST_BH)
        return evm__fail(c, EVM_ERR_ARG, "p-value adjustment: unknown method %d", (int)method);
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(p[i])) continue;
        if (!(p[i] >= 0 && p[i] <= 1))
            return evm__fail(c, EVM_ERR_VALUE, "p-value adjustment: p-value %lld (%g) is not "
                             "in [0, 1]", (long long)(i + 1), p[i]);
        m++;
    }
    if (method == EVM_ES_ADJUST_NONE || m <= 1) {
        /* R returns p unchanged for a family of one. */
        if (adj != p) memcpy(adj, p, (size_t)n * sizeof *p);
        return EVM_OK;
    }
    pv *s = evm__malloc((size_t)m, sizeof *s);
    if (!s) return evm__fail(c, EVM_ERR_NOMEM, "p-value adjustment: out of memory");
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (!isnan(p[i])) s[k++] = (pv){p[i], i};
    qsort(s, (size_t)m, sizeof *s, pv_cmp);
    const double md = (double)m;
    if (method == EVM_ES_ADJUST_HOLM) {
        /* pmin(1, cummax((n - i + 1) * p[o])) over ascending p, i = 1..n */
        double run = -INFINITY;
        for (int64_t r = 0; r < m; r++) {
            const double v = (md - (double)r) * s[r].p;
            if (v > run) run = v;
            s[r].p = run < 1 ? run : 1;
        }
    } else {
        /* pmin(1, cummin(n/i * p[o])) over descending p, i = n..1 */
        double run = INFINITY;
        for (int64_t r = m - 1; r >= 0; r--) {
            const double v = md / (double)(r + 1) * s[r].p;
            if (v < run) run = v;
            s[r].p = run < 1 ? run : 1;
        }
    }
    if (adj != p) memcpy(adj, p, (size_t)n * sizeof *p);   /* NaN stay NaN */
    for (int64_t r = 0; r < m; r++) adj[s[r].i] = s[r].p;
    free(s);
    return EVM_OK;
}
