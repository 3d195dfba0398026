/* balance.c — covariate balance before and after matching.
 *
 * MatchIt 4.5's summary() (bal1var, ATT): weighted means; standardized mean difference
 * = difference / SD of the treated group in the unmatched sample (the same SD before and
 * after; the variance of a binary variable is p(1 - p)); a difference below sqrt(eps) is
 * left unstandardized; variance ratio with weighted variances (not for binary
 * variables); eCDF mean and max differences.  R's sums accumulate in long double; so do
 * these.
 *
 * WWC effect sizes (What Works Clearinghouse, Procedures Handbook v5.0): Hedges' g for
 * continuous variables, g = ω (m_T - m_C) / S_pooled with ω = 1 - 3 / (4N - 9) and
 * S_pooled^2 = ((n_T - 1) s_T^2 + (n_C - 1) s_C^2) / (N - 2); the Cox index for binary
 * ones, d = ω (logit p_T - logit p_C) / 1.65.  After matching, means, proportions and
 * variances are weighted, and n_T, n_C count the students with a positive weight. */
#include "match_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Weighted moments of each group (w NULL: unit weights): MatchIt's wm() for the mean and
 * wvar() for the variance (weights normalized to sum 1; a binary variable's variance is
 * m (1 - m)); nz counts the positive weights. */
typedef struct {
    double sw, mean, var;
    int64_t nz;
} moments;

static void group_moments(const double *x, const int *treat, const double *w, int64_t n,
                          int binary, moments m[2])
{
    long double sw[2] = {0, 0}, sx[2] = {0, 0};
    int64_t nz[2] = {0, 0};
    for (int64_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        int g = treat[i];
        sw[g] += wi;
        sx[g] += x[i] * wi;
        nz[g] += wi != 0;
    }
    double mean[2], swd[2];
    for (int g = 0; g < 2; g++) {
        swd[g] = (double)sw[g];
        mean[g] = (double)(sx[g] / sw[g]);
    }
    long double ss[2] = {0, 0}, sw2[2] = {0, 0};
    if (!binary)
        for (int64_t i = 0; i < n; i++) {
            int g = treat[i];
            double wi = (w ? w[i] : 1.0) / swd[g], d = x[i] - mean[g];
            ss[g] += wi * (d * d);
            sw2[g] += wi * wi;
        }
    for (int g = 0; g < 2; g++) {
        m[g].sw = swd[g];
        m[g].mean = mean[g];
        m[g].nz = nz[g];
        m[g].var = !(swd[g] > 0) ? NAN
                   : binary      ? mean[g] * (1 - mean[g])
                                 : (double)ss[g] / (1 - (double)sw2[g]);
    }
}

static double wmean(const double *x, const int *treat, int group, const double *w, int64_t n)
{
    long double sw = 0, sx = 0;
    for (int64_t i = 0; i < n; i++) {
        if (treat[i] != group) continue;
        double wi = w ? w[i] : 1.0;
        sw += wi;
        sx += x[i] * wi;
    }
    return (double)(sx / sw);
}

/* MatchIt's pooled_sd(contribution = "proportional") with unit sampling weights: the
 * fallback denominator when the treated SD is 0. */
static double pooled_sd(const double *x, const int *treat, int64_t n, int binary)
{
    if (binary) {
        long double v = 0;
        for (int g = 0; g < 2; g++) {
            long double sx = 0, ni = 0;
            for (int64_t i = 0; i < n; i++)
                if (treat[i] == g) {
                    sx += x[i];
                    ni += 1;
                }
            if (ni > 0) v += sx * (1 - sx / ni) / n;
        }
        return sqrt((double)v);
    }
    double m[2] = {wmean(x, treat, 0, NULL, n), wmean(x, treat, 1, NULL, n)};
    long double ss = 0, sw2 = 0;
    const double wi = 1.0 / (double)n;
    for (int64_t i = 0; i < n; i++) {
        double d = x[i] - m[treat[i]];
        ss += wi * (d * d);
        sw2 += wi * wi;
    }
    return sqrt((double)ss / (1 - (double)sw2));
}

/* qqsum(standardize = TRUE): |cumulative weight difference| at the last of each run of
 * equal values, over the rows in increasing order of x (all rows, weight-0 rows
 * included, as MatchIt). */
static void ecdf_stats(const double *x, const int *treat, const double *w, int64_t n,
                       const int64_t *order, const moments m[2], double *mean, double *max)
{
    long double cum = 0, tot = 0;
    double mx = 0;
    int64_t cnt = 0;
    for (int64_t j = 0; j < n; j++) {
        int64_t i = order[j];
        double wi = (w ? w[i] : 1.0) / m[treat[i]].sw;
        cum += treat[i] ? wi : -wi;
        if (j + 1 < n && x[order[j + 1]] == x[i]) continue;
        double e = fabs((double)cum);
        tot += e;
        if (e > mx) mx = e;
        cnt++;
    }
    *mean = cnt ? (double)(tot / cnt) : NAN;
    *max = mx;
}

static double cox_or_g(double mt, double mc, double vt, double vc, double nt, double nc,
                       int binary)
{
    double big_n = nt + nc;
    double omega = 1 - 3 / (4 * big_n - 9);
    if (binary) {
        if (mt == mc) return 0;
        double lt = log(mt / (1 - mt)), lc = log(mc / (1 - mc));
        return omega * (lt - lc) / 1.65;
    }
    double s = sqrt(((nt - 1) * vt + (nc - 1) * vc) / (big_n - 2));
    if (mt == mc) return 0;
    if (!(s > 0)) return mt > mc ? INFINITY : -INFINITY;
    return omega * (mt - mc) / s;
}

/* One variable: statistics before (k = 0, unit weights) and after (k = 1). */
static int one_row(const double *x, const int *treat, const double *weight, int64_t n,
                   int binary, int kind, evm_balance_row *r, uint64_t *key, int64_t *order,
                   evm__mt_ws *ws, evm_ctx *c)
{
    r->kind = kind;
    if (!binary) {
        for (int64_t i = 0; i < n; i++) {
            key[i] = evm__mt_double_key(x[i]);
            order[i] = i;
        }
        int st = evm__mt_radix_order(ws, n, key, order, c);
        if (st < 0) return st;
    }
    moments m[2][2];
    group_moments(x, treat, NULL, n, binary, m[0]);
    group_moments(x, treat, weight, n, binary, m[1]);
    double std = sqrt(m[0][1].var);
    if (!isfinite(std) || std < sqrt(DBL_EPSILON)) std = pooled_sd(x, treat, n, binary);
    for (int k = 0; k < 2; k++) {
        const double *w = k ? weight : NULL;
        const moments *g = m[k];
        int too_small = g[1].nz < 2 && g[0].nz < 2;
        r->mean_t[k] = g[1].mean;
        r->mean_c[k] = g[0].mean;
        double md = r->mean_t[k] - r->mean_c[k];
        if (fabs(md) > sqrt(DBL_EPSILON))
            r->smd[k] = too_small ? NAN : md / std;
        else
            r->smd[k] = md;   /* no difference: left unstandardized, as MatchIt */
        r->var_ratio[k] = r->ecdf_mean[k] = r->ecdf_max[k] = NAN;
        if (binary) {
            r->ecdf_mean[k] = r->ecdf_max[k] = fabs(md);
        } else if (!too_small) {
            r->var_ratio[k] = g[1].var / g[0].var;
            ecdf_stats(x, treat, w, n, order, g, &r->ecdf_mean[k], &r->ecdf_max[k]);
        }
        r->wwc[k] = NAN;
        if (kind != 0) {
            /* Hedges' g uses the sample variances of the continuous variable */
            double vt = binary ? NAN : g[1].var, vc = binary ? NAN : g[0].var;
            r->wwc[k] = cox_or_g(g[1].mean, g[0].mean, vt, vc, (double)g[1].nz,
                                 (double)g[0].nz, binary);
        }
    }
    r->verdict = -1;
    if (kind != 0) {
        double a = fabs(r->wwc[1]);
        r->verdict = a <= 0.05 ? 0 : (a <= 0.25 ? 1 : 2);
    }
    return 0;
}

int evm__mt_balance(const evm__mt_design *d, const double *dist, const int *treat,
                    const double *weight, int64_t n, evm_balance_row **rows, int *nrows,
                    evm__mt_ws *ws, evm_ctx *c)
{
    int nr = d->p + (dist ? 1 : 0);
    evm_balance_row *r = evm__calloc((size_t)(nr > 0 ? nr : 1), sizeof *r);
    uint64_t *key = evm__malloc((size_t)(n > 0 ? n : 1), sizeof *key);
    int64_t *order = evm__malloc((size_t)(n > 0 ? n : 1), sizeof *order);
    if (!r || !key || !order) {
        free(r);
        free(key);
        free(order);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    }
    int k = 0, st = 0;
    if (dist) {
        r[k].name = evm__strdup("distance");
        if (!r[k].name) goto nomem;
        if ((st = one_row(dist, treat, weight, n, 0, 0, &r[k], key, order, ws, c)) < 0) goto fail;
        k++;
    }
    for (int j = 0; j < d->p; j++, k++) {
        r[k].name = evm__strdup(d->name[j]);
        if (!r[k].name) goto nomem;
        if ((st = one_row(d->col[j], treat, weight, n, d->binary[j],
                          d->binary[j] ? 2 : 1, &r[k], key, order, ws, c)) < 0)
            goto fail;
    }
    *rows = r;
    *nrows = nr;
    free(key);
    free(order);
    return 0;
nomem:
    st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
fail:
    for (int j = 0; j < nr; j++) free(r[j].name);
    free(r);
    free(key);
    free(order);
    return st;
}
