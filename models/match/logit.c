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

static void linear_predictor(int64_t n, int p, const double *x, const double *b, double *eta)
{
    for (int64_t i = 0; i < n; i++) eta[i] = 0;
    for (int j = 0; j < p; j++) {
        const double *xj = x + (int64_t)j * n;
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

int evm__mt_first_aliased(int64_t n, int p, const double *x, evm_ctx *c)
{
    double *a = evm__malloc((size_t)n * (size_t)p, sizeof *a);
    double *beta = evm__malloc((size_t)p, sizeof *beta);
    int *kept = evm__malloc((size_t)p, sizeof *kept);
    if (!a || !beta || !kept) {
        free(a);
        free(beta);
        free(kept);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    }
    memcpy(a, x, (size_t)n * (size_t)p * sizeof *a);
    int r = 0, aliased = -1;
    for (int j = 0; j < p && aliased < 0; j++) {
        double *aj = a + (int64_t)j * n;
        double norm0 = sqrt(dot(n, aj, aj));
        for (int q = 0; q < r; q++) reflect(n, q, a + (int64_t)kept[q] * n, beta[q], aj);
        double rest = sqrt(dot(n - r, aj + r, aj + r));
        if (r >= n || !(rest > 1e-7 * norm0)) {
            aliased = j;
            break;
        }
        householder(n, r, aj, &beta[r]);
        kept[r++] = j;
    }
    free(a);
    free(beta);
    free(kept);
    return aliased;
}

/* Least squares min |a b - z| by Householder QR; a (n x p) and z are overwritten. */
static int lsq(int64_t n, int p, double *a, double *z, double *b, double *diag)
{
    for (int j = 0; j < p; j++) {
        double beta;
        double *aj = a + (int64_t)j * n;
        diag[j] = householder(n, j, aj, &beta);
        if (diag[j] == 0) return -1;
        for (int k = j + 1; k < p; k++) reflect(n, j, aj, beta, a + (int64_t)k * n);
        reflect(n, j, aj, beta, z);
    }
    for (int j = p - 1; j >= 0; j--) {
        double s = z[j];
        for (int k = j + 1; k < p; k++) s -= a[(int64_t)k * n + j] * b[k];
        b[j] = s / diag[j];
    }
    for (int j = 0; j < p; j++)
        if (!isfinite(b[j])) return -1;
    return 0;
}

int evm__mt_logit_fit(int64_t n, int p, const double *x, const double *y, double *coef,
                   double *eta, double *mu, evm__mt_logit_info *info, evm_ctx *c)
{
    const int maxit = 25;
    const double epsilon = 1e-8;
    int st = 0;
    double *a = evm__malloc((size_t)n * (size_t)p, sizeof *a);
    double *z = evm__malloc((size_t)n, sizeof *z);
    double *start = evm__calloc((size_t)p, sizeof *start);
    double *coefold = evm__calloc((size_t)p, sizeof *coefold);
    double *diag = evm__malloc((size_t)p, sizeof *diag);
    if (!a || !z || !start || !coefold || !diag) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    memset(info, 0, sizeof *info);
    for (int64_t i = 0; i < n; i++) {
        double m0 = (y[i] + 0.5) / 2;   /* binomial()$initialize with unit weights */
        eta[i] = log(m0 / (1 - m0));
        mu[i] = linkinv(eta[i]);
    }
    double devold = deviance(n, y, mu), dev = devold;
    int have_coefold = 0;
    for (int iter = 1; iter <= maxit; iter++) {
        info->iterations = iter;
        for (int64_t i = 0; i < n; i++) {
            double me = mu_eta(eta[i]), var = mu[i] * (1 - mu[i]);
            double w = sqrt(me * me / var);
            z[i] = (eta[i] + (y[i] - mu[i]) / me) * w;
            for (int j = 0; j < p; j++) a[(int64_t)j * n + i] = x[(int64_t)j * n + i] * w;
        }
        if (lsq(n, p, a, z, start, diag) < 0) {
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
    free(a);
    free(z);
    free(start);
    free(coefold);
    free(diag);
    return st;
}
