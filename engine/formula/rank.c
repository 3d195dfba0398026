/* rank.c — which columns of the fixed-effects matrix are aliased, as R's qr() (LINPACK
 * dqrdc2 with tol = 1e-7, which lme4's chkRank.drop.cols uses): going left to right, a
 * column is dropped when the norm of its residual after projection on the kept columns
 * before it is below tol times its own norm.
 *
 * One pass over the rows forms the Gram matrix X'X (in row blocks, four accumulators, so
 * rounding stays near machine precision and the pass is fast; eight fixed row slices,
 * on two threads for long X, summed in order); a sequential Cholesky of
 * the column-scaled Gram matrix then decides each column.  A column whose relative
 * residual is clearly large (> 1e-3) is kept at once; any other is decided on the data:
 * its least-squares residual on the kept columns is computed explicitly (one refinement
 * step) and compared with tol.  So exactly collinear columns are found whatever the
 * rounding in X'X, at O(n p^2) cost overall. */
#include "formula_internal.h"
#include "par/par.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK 512

static double dot(const double *a, const double *b, int64_t n)
{
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

/* Full-length dot product summed by blocks (error ~ (BLOCK + n/BLOCK) eps, not n eps). */
static double dot_blocked(const double *a, const double *b, int64_t n)
{
    double s = 0;
    for (int64_t i0 = 0; i0 < n; i0 += BLOCK)
        s += dot(a + i0, b + i0, n - i0 < BLOCK ? n - i0 : BLOCK);
    return s;
}

/* X'X of the rows [r0, r1) into G (p x p, lower triangle, column-major), by blocks. */
static void gram_rows(const double *X, int64_t n, int p, int64_t r0, int64_t r1, double *G)
{
    memset(G, 0, (size_t)p * (size_t)p * sizeof *G);
    for (int64_t i0 = r0; i0 < r1; i0 += BLOCK) {
        int64_t len = r1 - i0 < BLOCK ? r1 - i0 : BLOCK;
        for (int j = 0; j < p; j++)
            for (int k = j; k < p; k++)
                G[(int64_t)j * p + k] += dot(X + (int64_t)j * n + i0, X + (int64_t)k * n + i0, len);
    }
}

/* A fixed number of row slices (whole blocks), summed in slice order afterwards: the
 * result does not depend on the number of threads. */
#define SLICES 8

typedef struct {
    const double *X;
    int64_t n;
    int p;
    double *part;   /* SLICES partial p x p matrices */
} gram_job;

static void gram_task(void *arg, int s)
{
    const gram_job *g = arg;
    const int64_t nb = (g->n + BLOCK - 1) / BLOCK;
    int64_t r0 = nb * s / SLICES * BLOCK, r1 = nb * (s + 1) / SLICES * BLOCK;
    if (r1 > g->n) r1 = g->n;
    gram_rows(g->X, g->n, g->p, r0, r1, g->part + (int64_t)s * g->p * g->p);
}

/* G = X'X (lower triangle), on up to `threads` threads for long X. */
static int gram(const double *X, int64_t n, int p, int threads, double *G)
{
    const int64_t pp = (int64_t)p * p;
    double *part = evm__malloc((size_t)(SLICES * pp), sizeof *part);
    if (!part) return EVM_ERR_NOMEM;
    gram_job g = {X, n, p, part};
    evm__parallel_for(SLICES, n >= 65536 ? threads : 1, gram_task, &g);
    memset(G, 0, (size_t)pp * sizeof *G);
    for (int s = 0; s < SLICES; s++)
        for (int64_t e = 0; e < pp; e++) G[e] += part[s * pp + e];
    free(part);
    return EVM_OK;
}

/* Solve L y = b (forward) and L' x = y (back) over the kept columns K[0..nk-1] of the
 * lower-triangular factor L (p x p, column-major, L[k*p + j] = L(j,k) for j >= k). */
static void solve_lower(const double *L, int p, const int *K, int nk, double *y)
{
    for (int a = 0; a < nk; a++) {
        double s = y[a];
        for (int b = 0; b < a; b++) s -= L[(int64_t)K[b] * p + K[a]] * y[b];
        y[a] = s / L[(int64_t)K[a] * p + K[a]];
    }
}

static void solve_upper(const double *L, int p, const int *K, int nk, double *y)
{
    for (int a = nk - 1; a >= 0; a--) {
        double s = y[a];
        for (int b = a + 1; b < nk; b++) s -= L[(int64_t)K[a] * p + K[b]] * y[b];
        y[a] = s / L[(int64_t)K[a] * p + K[a]];
    }
}

/* Squared norm of the least-squares residual of column j of the scaled X on the kept
 * columns, computed on the data.  scale[k] = 1 / ||x_k||. */
static double residual2(const double *X, int64_t n, int p, const double *L, const int *K,
                        int nk, int j, const double *scale, double *r, double *b)
{
    const double *xj = X + (int64_t)j * n;
    for (int64_t i = 0; i < n; i++) r[i] = xj[i] * scale[j];
    for (int iter = 0; iter < 2; iter++) {   /* solve, then one refinement step */
        for (int a = 0; a < nk; a++)
            b[a] = dot_blocked(X + (int64_t)K[a] * n, r, n) * scale[K[a]];
        solve_lower(L, p, K, nk, b);
        solve_upper(L, p, K, nk, b);
        for (int a = 0; a < nk; a++) {
            const double *xk = X + (int64_t)K[a] * n;
            double c = b[a] * scale[K[a]];
            for (int64_t i = 0; i < n; i++) r[i] -= c * xk[i];
        }
    }
    return dot_blocked(r, r, n);
}

int evm__rank_keep(const double *X, int64_t n, int p, double tol, int threads, int *keep)
{
    if (p <= 0) return EVM_OK;
    double *G = evm__malloc((size_t)p * (size_t)p, sizeof *G);
    double *L = evm__calloc((size_t)p * (size_t)p, sizeof *L);
    double *scale = evm__malloc((size_t)p, sizeof *scale);
    double *b = evm__malloc((size_t)p, sizeof *b);
    double *w = evm__malloc((size_t)p, sizeof *w);
    int *K = evm__malloc((size_t)p, sizeof *K);
    double *r = NULL;
    int st = EVM_OK, nk = 0;
    if (!G || !L || !scale || !b || !w || !K || gram(X, n, p, threads, G) < 0) goto nomem;
    for (int j = 0; j < p; j++) {
        double g = G[(int64_t)j * p + j];
        scale[j] = g > 0 ? 1.0 / sqrt(g) : 0.0;
    }
    for (int j = 0; j < p; j++) {
        keep[j] = 0;
        if (scale[j] == 0) continue;   /* a zero column */
        /* l = L_K^{-1} (scaled G)[K, j]; d = 1 - ||l||^2: relative squared residual. */
        double d = 1.0;
        for (int a = 0; a < nk; a++)
            b[a] = G[(int64_t)K[a] * p + j] * scale[K[a]] * scale[j];
        solve_lower(L, p, K, nk, b);
        for (int a = 0; a < nk; a++) d -= b[a] * b[a];
        if (!(d > 1e-6)) {
            if (!r && !(r = evm__malloc((size_t)n, sizeof *r))) goto nomem;
            d = residual2(X, n, p, L, K, nk, j, scale, r, w);
            if (!(d >= tol * tol)) continue;   /* aliased: drop */
        }
        for (int a = 0; a < nk; a++) L[(int64_t)K[a] * p + j] = b[a];
        L[(int64_t)j * p + j] = sqrt(d);
        K[nk++] = j;
        keep[j] = 1;
    }
    goto cleanup;
nomem:
    st = EVM_ERR_NOMEM;
cleanup:
    free(G);
    free(L);
    free(scale);
    free(b);
    free(w);
    free(K);
    free(r);
    return st;
}

/* Added for engine/infer/anova.c: R's alias() for the columns evm__rank_keep dropped.
 * alias[j * nk + a] (j over all p columns, a over the nk kept ones in order) holds the
 * least-squares coefficient of kept column a in dropped column j (one refinement step
 * on the data, as residual2); rows of kept columns are zero. */
int evm__rank_alias(const double *X, int64_t n, int p, const int *keep, int threads,
                    double *alias)
{
    int nk = 0;
    for (int j = 0; j < p; j++) nk += keep[j] != 0;
    memset(alias, 0, (size_t)p * (size_t)(nk ? nk : 1) * sizeof *alias);
    if (nk == p || nk == 0) return EVM_OK;
    double *G = evm__malloc((size_t)p * (size_t)p, sizeof *G);
    double *L = evm__calloc((size_t)p * (size_t)p, sizeof *L);
    double *scale = evm__malloc((size_t)p, sizeof *scale);
    double *b = evm__malloc((size_t)p, sizeof *b);
    int *K = evm__malloc((size_t)p, sizeof *K);
    double *r = evm__malloc((size_t)n, sizeof *r);
    int st = EVM_OK;
    if (!G || !L || !scale || !b || !K || !r || gram(X, n, p, threads, G) < 0) {
        st = EVM_ERR_NOMEM;
        goto cleanup;
    }
    for (int j = 0; j < p; j++) {
        double g = G[(int64_t)j * p + j];
        scale[j] = g > 0 ? 1.0 / sqrt(g) : 0.0;
    }
    nk = 0;
    for (int j = 0; j < p; j++) {   /* Cholesky of the scaled Gram matrix of kept columns */
        if (!keep[j]) continue;
        double d = 1.0;
        for (int a = 0; a < nk; a++) b[a] = G[(int64_t)K[a] * p + j] * scale[K[a]] * scale[j];
        solve_lower(L, p, K, nk, b);
        for (int a = 0; a < nk; a++) {
            d -= b[a] * b[a];
            L[(int64_t)K[a] * p + j] = b[a];
        }
        L[(int64_t)j * p + j] = sqrt(d > 0 ? d : 0);
        K[nk++] = j;
    }
    for (int j = 0; j < p; j++) {
        if (keep[j] || scale[j] == 0) continue;   /* a zero column: all coefficients 0 */
        double *cj = alias + (int64_t)j * nk;
        const double *xj = X + (int64_t)j * n;
        memcpy(r, xj, (size_t)n * sizeof *r);
        for (int iter = 0; iter < 2; iter++) {
            for (int a = 0; a < nk; a++)
                b[a] = dot_blocked(X + (int64_t)K[a] * n, r, n) * scale[K[a]];
            solve_lower(L, p, K, nk, b);
            solve_upper(L, p, K, nk, b);
            for (int a = 0; a < nk; a++) {
                const double *xk = X + (int64_t)K[a] * n;
                double cf = b[a] * scale[K[a]];
                cj[a] += cf;
                for (int64_t i = 0; i < n; i++) r[i] -= cf * xk[i];
            }
        }
    }
cleanup:
    free(G);
    free(L);
    free(scale);
    free(b);
    free(K);
    free(r);
    return st;
}
