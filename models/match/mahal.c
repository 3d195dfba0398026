/* mahal.c — Mahalanobis distance as MatchIt 4.5's distance = "mahalanobis": covariates
 * (factor levels as indicators) scaled to unit SD, the pooled within-group covariance S
 * (each group centred on its own means, divided by n - 2), and S^-1, or the generalized
 * inverse when det(S) <= 1e-8 (eigenvalues below 1e-8 times the largest dropped).
 * Points are mapped to z = Λ^-1/2 Vᵀ x (S = V Λ Vᵀ) so that the Euclidean distance
 * between two rows of z is the Mahalanobis distance between the students. */
#include "match_internal.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int evm__mt_mahal_transform(const evm__mt_design *d, const int *treat, double **zout, int *kout,
                         evm_ctx *c)
{
    const int64_t n = d->n;
    const int p = d->p;
    int st = 0;
    double *x = evm__malloc((size_t)n * (size_t)(p > 0 ? p : 1), sizeof *x);
    double *s = evm__calloc((size_t)p * (size_t)p, sizeof *s);
    double *lambda = evm__malloc((size_t)p, sizeof *lambda);
    double *z = NULL;
    if (!x || !s || !lambda) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    if (n < 3) {
        st = evm__fail(c, EVM_ERR_VALUE, "Mahalanobis distance: fewer than 3 rows");
        goto cleanup;
    }
    /* scale(): centre and divide by the SD of the whole sample */
    for (int j = 0; j < p; j++) {
        const double *xj = d->col[j];
        double *yj = x + (int64_t)j * n;
        long double m = 0, v = 0;
        for (int64_t i = 0; i < n; i++) m += xj[i];
        double mean = (double)(m / n);
        for (int64_t i = 0; i < n; i++) v += (long double)(xj[i] - mean) * (xj[i] - mean);
        double sd = sqrt((double)(v / (n - 1)));
        for (int64_t i = 0; i < n; i++) yj[i] = sd > 0 ? (xj[i] - mean) / sd : 0;
    }
    /* pooled within-group covariance */
    double *xc = evm__malloc((size_t)n * (size_t)(p > 0 ? p : 1), sizeof *xc);
    if (!xc) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (int j = 0; j < p; j++) {
        const double *yj = x + (int64_t)j * n;
        long double sum[2] = {0, 0};
        int64_t cnt[2] = {0, 0};
        for (int64_t i = 0; i < n; i++) {
            sum[treat[i]] += yj[i];
            cnt[treat[i]]++;
        }
        double mean[2] = {cnt[0] ? (double)(sum[0] / cnt[0]) : 0,
                          cnt[1] ? (double)(sum[1] / cnt[1]) : 0};
        for (int64_t i = 0; i < n; i++) xc[(int64_t)j * n + i] = yj[i] - mean[treat[i]];
    }
    for (int j = 0; j < p; j++)
        for (int k = 0; k <= j; k++) {
            long double acc = 0;
            const double *a = xc + (int64_t)j * n, *b = xc + (int64_t)k * n;
            for (int64_t i = 0; i < n; i++) acc += (long double)a[i] * b[i];
            s[(int64_t)k * p + j] = s[(int64_t)j * p + k] = (double)(acc / (n - 2));
        }
    free(xc);
    /* S = V Λ Vᵀ (eigenvalues ascending, vectors in the columns of s) */
    if (LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U', p, s, p, lambda) != 0) {
        st = evm__fail(c, EVM_ERR_NUMERIC, "Mahalanobis distance: eigen decomposition failed");
        goto cleanup;
    }
    double det = 1, lmax = lambda[p - 1];
    for (int j = 0; j < p; j++) det *= lambda[j];
    int k = 0;
    int *keep = evm__malloc((size_t)p, sizeof *keep);
    if (!keep) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (int j = p - 1; j >= 0; j--)   /* largest first: the first coordinate spreads most */
        if (det > 1e-8 ? lambda[j] > 0 : lambda[j] > 1e-8 * lmax) keep[k++] = j;
    if (k == 0) {
        free(keep);
        st = evm__fail(c, EVM_ERR_NUMERIC, "Mahalanobis distance: the covariates do not vary");
        goto cleanup;
    }
    z = evm__calloc((size_t)n * (size_t)k, sizeof *z);
    if (!z) {
        free(keep);
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (int q = 0; q < k; q++) {
        int e = keep[q];
        double scale = 1 / sqrt(lambda[e]);
        double *zq = z + (int64_t)q * n;
        for (int j = 0; j < p; j++) {
            double v = s[(int64_t)e * p + j] * scale;
            const double *yj = x + (int64_t)j * n;
            for (int64_t i = 0; i < n; i++) zq[i] += yj[i] * v;
        }
    }
    free(keep);
    *zout = z;
    *kout = k;
    z = NULL;
cleanup:
    free(x);
    free(s);
    free(lambda);
    free(z);
    return st;
}
