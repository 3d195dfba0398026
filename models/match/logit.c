/* logit.c — the propensity-score model: logistic regression by IRLS, as R's glm.fit
 * with family = quasibinomial(link = "logit") (what MatchIt's distance = "glm" fits).
 *
 * The least-squares step of each iteration is a Householder QR written here rather than
 * LAPACK's dgeqrf: with a tall matrix (millions of rows, a few columns) OpenBLAS splits
 * the reflections' dot products over its own threads, and the last bits of the
 * propensity scores (which decide ties and the order of treated units) would then
 * depend on the machine's core count.  The loops below run in one fixed order. */
#include "match_internal.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* R's C_logit_linkinv, C_logit_mu_eta and binomial deviance residuals. */
static double linkinv(double eta)
{
    double t = eta < -30 ? DBL_EPSILON : (eta > 30 ? 1 / DBL_EPSILON : exp(eta));
    return t / (1 + t);
}

static double mu_eta(double eta)
{
    double opexp = 1 + exp(eta);
    return (eta > 30 || eta < -30) ? DBL_EPSILON : exp(eta) / (opexp * opexp);
}

static double y_log_y(double y, double mu) { return y != 0 ? y * log(y / mu) : 0; }

static double deviance(int64_t n, const double *y, const double *mu)
{
    long double s = 0;   /* R's sum() accumulates in long double */
    for (int64_t i = 0; i < n; i++)
        s += 2 * (y_log_y(y[i], mu[i]) + y_log_y(1 - y[i], 1 - mu[i]));
    return (double)s;
}

static void linear_predictor(int64_t n, int p, const double *const *x, const double *b,
                             double *eta)
{
    for (int64_t i = 0; i < n; i++) eta[i] = 0;
    for (int j = 0; j < p; j++) {
        const double *xj = x[j];
        for (int64_t i = 0; i < n; i++) eta[i] += xj[i] * b[j];
    }
}

static double dot(int64_t n, const double *a, const double *b)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Reflect column a[k..n-1] to (alpha, 0, ..., 0); v is stored in place of the column
 * (a[k] holds v[0]); returns alpha, and *beta = v'v (0 when the column is already 0). */
static double householder(int64_t n, int64_t k, double *a, double *beta)
{
    double s = dot(n - k, a + k, a + k);
    double norm = sqrt(s);
    if (norm == 0) {
        *beta = 0;
        return 0;
    }
    double alpha = a[k] > 0 ? -norm : norm;
    a[k] -= alpha;
    *beta = s - 2 * alpha * (a[k] + alpha) + alpha * alpha;  /* |v|^2 with v0 = a_k - alpha */
    return alpha;
}

static void reflect(int64_t n, int64_t k, const double *v, double beta, double *a)
{
    if (beta == 0) return;
    double s = dot(n - k, v + k, a + k) * (2 / beta);
    for (int64_t i = k; i < n; i++) a[i] -= s * v[i];
}

/* The weighted least-squares step of one IRLS iteration, min |W^1/2 (x b - z)|, by an
 * incremental Householder QR over blocks of BLOCK rows: the q x q triangle R of
 * [X w, z w] (q = p + 1) is updated with each block in turn, so the work space is one
 * block, whatever n is.  Returns 0, -1 (a zero pivot) or -2 with *aliased = the first
 * column whose pivot falls below glm.fit's tolerance 1e-11 times its norm (R's dqrdc2
 * rule; checked when `aliased` is not NULL).  Column j enters multiplied by sc[j], a
 * power of two, and b is returned for the scaled columns. */
#define BLOCK 4096

static int irls_step(int64_t n, int p, const double *const *x, const double *sc,
                     const double *y, const double *eta, const double *mu, double *m, double *r,
                     double *b, int *aliased)
{
    const int q = p + 1;
    memset(r, 0, (size_t)q * (size_t)q * sizeof *r);
    int have = 0;   /* rows of r in use (< q only before enough rows were seen) */
    for (int64_t i0 = 0; i0 < n; i0 += BLOCK) {
        int64_t nb = n - i0 < BLOCK ? n - i0 : BLOCK;
        int64_t ld = have + nb;
        /* M = [R; this block of [x w, z w]] */
        for (int j = 0; j < q; j++) {
            double *mj = m + (int64_t)j * ld;
            for (int k = 0; k < have; k++) mj[k] = r[(int64_t)j * q + k];
        }
        for (int64_t t = 0; t < nb; t++) {
            int64_t i = i0 + t;
            double me = mu_eta(eta[i]), var = mu[i] * (1 - mu[i]);
            double w = sqrt(me * me / var);
            for (int j = 0; j < p; j++) m[(int64_t)j * ld + have + t] = x[j][i] * sc[j] * w;
            m[(int64_t)p * ld + have + t] = (eta[i] + (y[i] - mu[i]) / me) * w;
        }
        int kmax = ld < q ? (int)ld : q;
        for (int j = 0; j < kmax; j++) {
            double beta;
            double *mj = m + (int64_t)j * ld;
            double alpha = householder(ld, j, mj, &beta);
            for (int k = j + 1; k < q; k++) reflect(ld, j, mj, beta, m + (int64_t)k * ld);
            mj[j] = alpha;
        }
        have = kmax;
        memset(r, 0, (size_t)q * (size_t)q * sizeof *r);
        for (int j = 0; j < q; j++)
            for (int k = 0; k <= j && k < have; k++) r[(int64_t)j * q + k] = m[(int64_t)j * ld + k];
    }
    for (int j = 0; j < p; j++) {
        double norm = 0;
        for (int k = 0; k <= j; k++) norm += r[(int64_t)j * q + k] * r[(int64_t)j * q + k];
        norm = sqrt(norm);
        if (aliased && (j >= have || !(fabs(r[(int64_t)j * q + j]) > 1e-11 * norm))) {
            *aliased = j;
            return -2;
        }
        if (r[(int64_t)j * q + j] == 0) return -1;
    }
    for (int j = p - 1; j >= 0; j--) {
        double s = r[(int64_t)p * q + j];
        for (int k = j + 1; k < p; k++) s -= r[(int64_t)k * q + j] * b[k];
        b[j] = s / r[(int64_t)j * q + j];
    }
    for (int j = 0; j < p; j++)
        if (!isfinite(b[j])) return -1;
    return 0;
}

int evm__mt_logit_fit(int64_t n, int p, const double *const *x, const double *y, double *coef,
                      double *eta, double *mu, evm__mt_logit_info *info, int *aliased,
                      evm_ctx *c)
{
    const int maxit = 25;
    const double epsilon = 1e-8;
    int st = 0;
    double *m = evm__malloc((size_t)(BLOCK + p + 1) * (size_t)(p + 1), sizeof *m);
    double *rq = evm__malloc((size_t)(p + 1) * (size_t)(p + 1), sizeof *rq);
    double *start = evm__calloc((size_t)p, sizeof *start);
    double *coefold = evm__calloc((size_t)p, sizeof *coefold);
    double *sc = evm__malloc((size_t)p, sizeof *sc);
    *aliased = -1;
    if (!m || !rq || !start || !coefold || !sc) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    memset(info, 0, sizeof *info);
    /* Each column scaled by the power of two that brings its largest value into [0.5, 1):
     * exact, so the fit is bit for bit what it is unscaled, but covariates near 1e±200
     * no longer overflow the QR's sums of squares. */
    for (int j = 0; j < p; j++) {
        double big = 0;
        for (int64_t i = 0; i < n; i++)
            if (fabs(x[j][i]) > big) big = fabs(x[j][i]);
        int e = 0;
        if (big > 0 && isfinite(big)) frexp(big, &e);
        sc[j] = ldexp(1.0, e > 1000 ? -1000 : (e < -1000 ? 1000 : -e));
    }
    for (int64_t i = 0; i < n; i++) {
        double m0 = (y[i] + 0.5) / 2;   /* binomial()$initialize with unit weights */
        eta[i] = log(m0 / (1 - m0));
        mu[i] = linkinv(eta[i]);
    }
    double devold = deviance(n, y, mu), dev = devold;
    int have_coefold = 0;
    for (int iter = 1; iter <= maxit; iter++) {
        info->iterations = iter;
        int ls = irls_step(n, p, x, sc, y, eta, mu, m, rq, start, iter == 1 ? aliased : NULL);
        for (int j = 0; ls == 0 && j < p; j++) start[j] *= sc[j];
        if (ls == -2) {
            st = EVM_ERR_MODEL;   /* the caller names the column */
            goto cleanup;
        }
        if (ls < 0) {
            if (!have_coefold) {
                st = evm__fail(c, EVM_ERR_NUMERIC,
                               "propensity model: no valid coefficients at iteration %d", iter);
                goto cleanup;
            }
            memcpy(start, coefold, (size_t)p * sizeof *start);  /* keep the last good fit */
            linear_predictor(n, p, x, start, eta);
            for (int64_t i = 0; i < n; i++) mu[i] = linkinv(eta[i]);
            break;
        }
        linear_predictor(n, p, x, start, eta);
        for (int64_t i = 0; i < n; i++) mu[i] = linkinv(eta[i]);
        dev = deviance(n, y, mu);
        info->boundary = 0;
        if (!isfinite(dev)) {
            if (!have_coefold) {
                st = evm__fail(c, EVM_ERR_NUMERIC,
                               "propensity model: no valid set of coefficients has been found");
                goto cleanup;
            }
            for (int ii = 1; !isfinite(dev); ii++) {
                if (ii > maxit) {
                    st = evm__fail(c, EVM_ERR_NUMERIC,
                                   "propensity model: cannot correct the step size");
                    goto cleanup;
                }
                for (int j = 0; j < p; j++) start[j] = (start[j] + coefold[j]) / 2;
                linear_predictor(n, p, x, start, eta);
                for (int64_t i = 0; i < n; i++) mu[i] = linkinv(eta[i]);
                dev = deviance(n, y, mu);
            }
            info->boundary = 1;
        }
        if (fabs(dev - devold) / (0.1 + fabs(dev)) < epsilon) {
            info->converged = 1;
            break;
        }
        devold = dev;
        memcpy(coefold, start, (size_t)p * sizeof *start);
        have_coefold = 1;
    }
    memcpy(coef, start, (size_t)p * sizeof *coef);
    info->deviance = dev;
cleanup:
    free(m);
    free(rq);
    free(start);
    free(coefold);
    free(sc);
    return st;
}
