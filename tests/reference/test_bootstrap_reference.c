/* test_bootstrap_reference.c — evalmix's parametric bootstrap against lme4's bootMer on
 * sleepstudy, Reaction ~ Days + (Days|Subject) (REML), 2,000 replicates each
 * (tests/reference/bootmer_reference.json, made by bootmer_reference.R).
 *
 * The two runs use different random number generators, so they agree only within
 * Monte-Carlo error.  For each parameter (.sig01 .sig02 .sig03 .sigma (Intercept) Days),
 * with n = 2,000 draws per run and s the bootstrap SD:
 *   2.5% and 97.5% percentile limits (quantile type 7 on both sides):
 *     the SE of a p-quantile estimate is sqrt(p(1-p)/n) / f(q).  f is estimated two
 *     ways and the smaller density (the larger SE) is used:
 *       normal approximation  f = φ(z_p)/s              -> SE = 0.0597 s for p = 0.025
 *       order statistics      SE = (x_(np+√(np(1-p))) - x_(np-√(np(1-p)))) / 2
 *     (the second is distribution-free and matters for the skewed SDs and the
 *     correlation, whose tails are not normal).  The difference of two independent runs
 *     has SE √2·SE; the tolerance is 4·√2·SE (≈ 0.34 s under the normal approximation).
 *   bootstrap mean:  4·√2·s/√n.
 *   bootstrap SD:    4·√2·s·sqrt((κ-1)/(4n)), κ the kurtosis of evalmix's draws (the SE of
 *                    a sample SD; (κ-1)/4 = 1/2 for normal data).
 * s and κ come from evalmix's draws, both SEs from the pooled s.  Each comparison fails a
 * correct implementation with probability ≈ 6e-5 (|N(0,1)| > 4); the test is
 * deterministic (fixed seeds on both sides).  Also: no failed refits on either side, the
 * parameter names equal lme4's, and t0 equals lme4's estimates to 1e-3 relative (the
 * fit's own acceptance tolerance). */
#include "check.h"
#include "json.h"

#include "evalmix/evalmix.h"
#include "infer/infer_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_JSON "tests/reference/bootmer_reference.json"
#define SEED 1
#define NSE 4.0

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* R's quantile(type = 7) of sorted x[0..n-1] */
static double quantile7(const double *x, int64_t n, double p)
{
    const double h = (double)(n - 1) * p;
    const int64_t lo = (int64_t)floor(h);
    const int64_t hi = lo + 1 < n ? lo + 1 : n - 1;
    return x[lo] + (h - (double)lo) * (x[hi] - x[lo]);
}

/* standard normal density at its p-quantile, for p = 0.025 / 0.975 */
static double dnorm_at_quantile(double level)
{
    const double z = 1.959963984540054;   /* qnorm(0.975) */
    (void)level;
    return exp(-0.5 * z * z) / sqrt(2.0 * M_PI);
}

static double vec(const json_value *root, const char *key, int i)
{
    return json_num(json_at(json_get(root, key), (size_t)i));
}

int main(void)
{
    char *err = NULL;
    json_value *ref = json_parse_file(REF_JSON, &err);
    if (!ref) {
        fprintf(stderr, "%s\n", err ? err : "out of memory");
        free(err);
        return 1;
    }
    const char *csv = json_str(json_get(ref, "csv"));
    const char *formula = json_str(json_get(ref, "formula"));
    const double level = json_num(json_get(ref, "level"));
    const int64_t nsim = (int64_t)json_num(json_get(ref, "nsim"));
    CHECK_INT(json_num(json_get(ref, "nfail")), 0);

    evm_ctx *c = evm_ctx_create();
    evm_colreq *req = NULL;
    int nreq = 0;
    evm_frame *f = NULL;
    evm_lmm *m = NULL;
    double *est = NULL, *x = NULL;
    char **names = NULL;
    int npar = 0;
    int64_t nok = 0;
    if (evm_formula_columns(formula, NULL, &req, &nreq, c) || evm_csv_read(csv, req, nreq, &f, c) ||
        evm_lmm_create(formula, f, NULL, &m, c) < 0 || evm_lmm_fit(m, c) < 0 ||
        evm__bootstrap(m, nsim, SEED, 2, NULL, NULL, &npar, &names, &est, &nok, c)) {
        fprintf(stderr, "setup failed: %s\n", evm_ctx_message(c));
        CHECK(0);
        goto cleanup;
    }
    CHECK_INT(npar, (int64_t)json_len(json_get(ref, "param")));
    CHECK_INT(nok, nsim);
    x = malloc(sizeof(double) * (size_t)nsim);
    const double plo = (1.0 - level) / 2.0, phi = (1.0 + level) / 2.0;
    printf("%-12s %-6s %12s %12s %9s %9s\n", "param", "what", "evalmix", "lme4", "diff/SE",
           "tol/SE");
    for (int a = 0; a < npar && a < (int)json_len(json_get(ref, "param")); a++) {
        const char *pname = json_str(json_at(json_get(ref, "param"), (size_t)a));
        CHECK_STR(names[a], pname);
        int64_t n = 0;
        for (int64_t r = 0; r < nsim; r++)
            if (isfinite(est[r * npar + a])) x[n++] = est[r * npar + a];
        CHECK_INT(n, nsim);
        qsort(x, (size_t)n, sizeof *x, cmp_double);
        double mean = 0.0, m2 = 0.0, m4 = 0.0;
        for (int64_t i = 0; i < n; i++) mean += x[i];
        mean /= (double)n;
        for (int64_t i = 0; i < n; i++) {
            const double d2 = (x[i] - mean) * (x[i] - mean);
            m2 += d2;
            m4 += d2 * d2;
        }
        const double s = sqrt(m2 / (double)(n - 1));
        const double kurt = (m4 / (double)n) / ((m2 / (double)n) * (m2 / (double)n));
        const double s_pool = 0.5 * (s + vec(ref, "boot_sd", a));

        /* t0: the fitted model's own estimate */
        double t0;
        if (a < m->ntheta + 1) {
            evm_result *res = NULL;
            evm_lmm_result(m, &res, c);
            /* varcomp rows for (Days|Subject): sd1, sd2, cor, residual; confint order is
             * sd1, cor, sd2, sigma */
            static const int vc_row[4] = {0, 2, 1, 3};
            t0 = res ? res->vc_sdcor[vc_row[a]] : NAN;
            evm_result_free(&res);
        } else {
            t0 = m->beta[a - m->ntheta - 1];
        }
        CHECK_REL(t0, vec(ref, "estimate", a), 1e-3, 1e-4);

        const double se_mean = s_pool / sqrt((double)n);
        const double se_sd = s_pool * sqrt((kurt - 1.0) / (4.0 * (double)n));
        const struct {
            const char *what, *key;
            double got, se;
        } cmp[4] = {
            {"mean", "boot_mean", mean, se_mean},
            {"sd", "boot_sd", s, se_sd},
            {"lower", "lower_q7", quantile7(x, n, plo), 0.0},
            {"upper", "upper_q7", quantile7(x, n, phi), 0.0},
        };
        for (int k = 0; k < 4; k++) {
            double se = cmp[k].se;
            if (k >= 2) {
                const double p = k == 2 ? plo : phi;
                const double se_norm = sqrt(p * (1.0 - p) / (double)n) * s_pool /
                                       dnorm_at_quantile(level);
                const double np = (double)n * p, w = sqrt(np * (1.0 - p));
                int64_t i1 = (int64_t)floor(np - w), i2 = (int64_t)ceil(np + w);
                if (i1 < 0) i1 = 0;
                if (i2 > n - 1) i2 = n - 1;
                const double se_os = (x[i2] - x[i1]) / 2.0;
                se = se_os > se_norm ? se_os : se_norm;
            }
            const double want = vec(ref, cmp[k].key, a);
            const double tol = NSE * sqrt(2.0) * se;
            printf("%-12s %-6s %12.6g %12.6g %9.2f %9.2f\n", pname, cmp[k].what, cmp[k].got,
                   want, (cmp[k].got - want) / (sqrt(2.0) * se), NSE);
            CHECK_ABS(cmp[k].got, want, tol);
        }
    }
cleanup:
    free(x);
    free(est);
    evm_strv_free(&names, npar);
    evm_lmm_destroy(&m);
    evm_frame_destroy(&f);
    evm_colreq_free(&req, nreq);
    evm_ctx_destroy(&c);
    json_free(&ref);
    return check_summary("test_bootstrap_reference");
}
