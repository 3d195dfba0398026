/* nopool.c — the no-pooling estimate of a school: OLS of the outcome on the model's
 * fixed-effects columns within the school's rows, aliased columns dropped as R's lm does
 * (pivoted QR, tolerance 1e-7), a contrast l of the kept coefficients (a dropped column's
 * weight is ignored, as predict.lm uses the kept coefficients), with CR2 standard errors
 * clustered by classroom as clubSandwich 0.5.8's vcovCR(lm, cluster, type = "CR2") and
 * linear_contrast(test = "Satterthwaite") (Bell & McCaffrey 2002; Pustejovsky & Tipton
 * 2018).  For an unweighted lm the working and target covariances are the identity:
 *   M = (XᵀX)⁻¹,  A_j = (I − X_j M X_jᵀ)^{−1/2} (eigenvalues ≤ 1e-12 give 0),
 *   Var = M [Σ_j X_jᵀA_je_j e_jᵀA_jX_j] M,
 *   df = (Σ_j g_j − |h_j|²)² / (‖Σ_j h_jh_jᵀ‖²_F − 2Σ_j g_j|h_j|² + Σ_j g_j²)
 * with m = M l, h_j = Cᵀ(X_jᵀA_jX_j)ᵀm (CCᵀ = M) and g_j = |A_jX_j m|², the formula of
 * engine/infer/robust.c with V = W = I.  A_j is applied through the rank-≤p part of
 * X_jMX_jᵀ (thin QR of X_j, eigenvectors of R M Rᵀ): O(n_j p²) per classroom. */
#include "effects_internal.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CR2_EIG_TOL 1e-12

typedef struct {
    double *tau, *Q, *S, *mu, *VtX, *Vte, *AX, *Ae;
} cl_work;

/* A_j X_j and A_j e_j for one cluster: Xj (nj × pk) and e (nj). */
static int cluster_apply(int nj, int pk, const double *Xj, const double *e, const double *M,
                         cl_work *w)
{
    const int kq = nj < pk ? nj : pk;
    memcpy(w->Q, Xj, sizeof(double) * (size_t)nj * pk);
    if (LAPACKE_dgeqrf(LAPACK_COL_MAJOR, nj, pk, w->Q, nj, w->tau) != 0) return -1;
    /* R (kq × pk, upper trapezoidal) M Rᵀ */
    double *R = w->VtX;   /* scratch kq × pk */
    for (int b = 0; b < pk; b++)
        for (int a = 0; a < kq; a++) R[a + b * kq] = a <= b ? w->Q[a + b * nj] : 0.0;
    double *RM = w->AX;   /* scratch kq × pk */
    for (int b = 0; b < pk; b++)
        for (int a = 0; a < kq; a++) {
            double s = 0.0;
            for (int l = 0; l < pk; l++) s += R[a + l * kq] * M[l + b * pk];
            RM[a + b * kq] = s;
        }
    for (int b = 0; b < kq; b++)
        for (int a = 0; a < kq; a++) {
            double s = 0.0;
            for (int l = 0; l < pk; l++) s += RM[a + l * kq] * R[b + l * kq];
            w->S[a + b * kq] = s;
        }
    if (LAPACKE_dorgqr(LAPACK_COL_MAJOR, nj, kq, kq, w->Q, nj, w->tau) != 0) return -1;
    if (LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'L', kq, w->S, kq, w->mu) != 0) return -1;
    /* V = Q W (nj × kq): orthonormal eigenvectors of X_j M X_jᵀ */
    double *V = evm__malloc((size_t)nj * kq, sizeof *V);
    if (!V) return -1;
    for (int b = 0; b < kq; b++)
        for (int a = 0; a < nj; a++) {
            double s = 0.0;
            for (int l = 0; l < kq; l++) s += w->Q[a + l * nj] * w->S[l + b * kq];
            V[a + b * nj] = s;
        }
    for (int b = 0; b < kq; b++) {
        const double lam = 1.0 - w->mu[b];
        w->mu[b] = lam > CR2_EIG_TOL ? 1.0 / sqrt(lam) - 1.0 : -1.0;   /* φ */
    }
    /* AX = X + V φ VᵀX,  Ae = e + V φ Vᵀe */
    for (int b = 0; b < pk; b++)
        for (int l = 0; l < kq; l++) {
            double s = 0.0;
            for (int a = 0; a < nj; a++) s += V[a + l * nj] * Xj[a + b * nj];
            w->VtX[l + b * kq] = s * w->mu[l];
        }
    for (int l = 0; l < kq; l++) {
        double s = 0.0;
        for (int a = 0; a < nj; a++) s += V[a + l * nj] * e[a];
        w->Vte[l] = s * w->mu[l];
    }
    for (int b = 0; b < pk; b++)
        for (int a = 0; a < nj; a++) {
            double s = Xj[a + b * nj];
            for (int l = 0; l < kq; l++) s += V[a + l * nj] * w->VtX[l + b * kq];
            w->AX[a + b * nj] = s;
        }
    for (int a = 0; a < nj; a++) {
        double s = e[a];
        for (int l = 0; l < kq; l++) s += V[a + l * nj] * w->Vte[l];
        w->Ae[a] = s;
    }
    free(V);
    return 0;
}

int evx_nopool(const double *X, int64_t ldx, int p, const double *y, const int64_t *rows,
               int64_t n, const int32_t *cluster, const double *l, double *est, double *se,
               double *df, int64_t *nclusters, evm_ctx *c)
{
    *est = *se = *df = NAN;
    *nclusters = 0;
    if (n < 1 || p < 1) return EVM_OK;
    int st = EVM_ERR_NOMEM;
    int *keep = evm__malloc((size_t)p, sizeof *keep);
    double *Xs = evm__malloc((size_t)n * p, sizeof *Xs), *ys = evm__malloc((size_t)n, sizeof *ys);
    double *Xk = NULL, *M = NULL, *C = NULL, *beta = NULL, *e = NULL, *lk = NULL, *m = NULL;
    double *meat = NULL, *F = NULL, *h = NULL, *tau = NULL, *Xj = NULL, *ej = NULL;
    int32_t *cl = NULL;
    int64_t *order = NULL, *start = NULL;
    cl_work w = {0};
    if (!keep || !Xs || !ys) goto cleanup;
    for (int b = 0; b < p; b++)
        for (int64_t i = 0; i < n; i++) Xs[i + b * n] = X[rows[i] + b * ldx];
    for (int64_t i = 0; i < n; i++) ys[i] = y[rows[i]];
    if (evm__rank_keep(Xs, n, p, 1e-7, 1, keep) < 0) goto cleanup;
    int pk = 0;
    for (int b = 0; b < p; b++) pk += keep[b] != 0;
    if (pk == 0 || n <= pk) {
        st = EVM_OK;
        goto cleanup;
    }
    Xk = evm__malloc((size_t)n * pk, sizeof *Xk);
    M = evm__calloc((size_t)pk * pk, sizeof *M);
    C = evm__calloc((size_t)pk * pk, sizeof *C);
    beta = evm__malloc((size_t)n, sizeof *beta);
    e = evm__malloc((size_t)n, sizeof *e);
    lk = evm__malloc((size_t)pk, sizeof *lk);
    m = evm__malloc((size_t)pk, sizeof *m);
    tau = evm__malloc((size_t)pk, sizeof *tau);
    if (!Xk || !M || !C || !beta || !e || !lk || !m || !tau) goto cleanup;
    for (int b = 0, k = 0; b < p; b++) {
        if (!keep[b]) continue;
        memcpy(Xk + (int64_t)k * n, Xs + (int64_t)b * n, sizeof(double) * (size_t)n);
        lk[k++] = l[b];
    }
    /* QR: β = R⁻¹Qᵀy, M = (RᵀR)⁻¹ */
    memcpy(Xs, Xk, sizeof(double) * (size_t)n * pk);
    memcpy(beta, ys, sizeof(double) * (size_t)n);
    if (LAPACKE_dgels(LAPACK_COL_MAJOR, 'N', (lapack_int)n, pk, 1, Xs, (lapack_int)n, beta,
                      (lapack_int)n) != 0) {
        st = EVM_OK;   /* numerically singular within the school: no estimate */
        goto cleanup;
    }
    for (int b = 0; b < pk; b++)
        for (int a = 0; a <= b; a++) M[a + b * pk] = Xs[a + b * n];
    if (LAPACKE_dpotri(LAPACK_COL_MAJOR, 'U', pk, M, pk) != 0) {
        st = EVM_OK;
        goto cleanup;
    }
    for (int b = 0; b < pk; b++)
        for (int a = b + 1; a < pk; a++) M[a + b * pk] = M[b + a * pk];
    double ee = 0.0, e0 = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double s = ys[i];
        for (int b = 0; b < pk; b++) s -= Xk[i + (int64_t)b * n] * beta[b];
        e[i] = s;
        ee += s * s;
    }
    for (int b = 0; b < pk; b++) e0 += lk[b] * beta[b];
    for (int a = 0; a < pk; a++) {
        double s = 0.0;
        for (int b = 0; b < pk; b++) s += M[a + b * pk] * lk[b];
        m[a] = s;
    }
    double lml = 0.0;
    for (int a = 0; a < pk; a++) lml += lk[a] * m[a];
    *est = e0;

    /* clusters among the rows */
    int64_t J = 0;
    if (cluster) {
        int32_t cmax = -1;
        for (int64_t i = 0; i < n; i++) cmax = cluster[rows[i]] > cmax ? cluster[rows[i]] : cmax;
        cl = evm__malloc((size_t)cmax + 1, sizeof *cl);
        if (!cl) goto cleanup;
        for (int32_t k = 0; k <= cmax; k++) cl[k] = -1;
        for (int64_t i = 0; i < n; i++)
            if (cl[cluster[rows[i]]] < 0) cl[cluster[rows[i]]] = (int32_t)J++;
    }
    if (J < 2) {   /* conventional OLS standard error */
        *se = sqrt(ee / (double)(n - pk) * lml);
        *df = (double)(n - pk);
        st = EVM_OK;
        goto cleanup;
    }
    *nclusters = J;
    order = evm__malloc((size_t)n, sizeof *order);
    start = evm__calloc((size_t)J + 1, sizeof *start);
    if (!order || !start) goto cleanup;
    for (int64_t i = 0; i < n; i++) start[cl[cluster[rows[i]]] + 1]++;
    for (int64_t j = 0; j < J; j++) start[j + 1] += start[j];
    {
        int64_t *pos = evm__malloc((size_t)J, sizeof *pos);
        if (!pos) goto cleanup;
        memcpy(pos, start, sizeof(int64_t) * (size_t)J);
        for (int64_t i = 0; i < n; i++) order[pos[cl[cluster[rows[i]]]]++] = i;
        free(pos);
    }
    /* C: lower Cholesky factor of M */
    memcpy(C, M, sizeof(double) * (size_t)pk * pk);
    if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', pk, C, pk) != 0) goto numeric;
    for (int b = 0; b < pk; b++)
        for (int a = 0; a < b; a++) C[a + b * pk] = 0.0;
    int64_t nmax = 0;
    for (int64_t j = 0; j < J; j++) nmax = start[j + 1] - start[j] > nmax ? start[j + 1] - start[j] : nmax;
    meat = evm__calloc((size_t)pk, sizeof *meat);   /* Σ (mᵀX_jᵀA_je_j)² needs only mᵀ u_j */
    F = evm__calloc((size_t)pk * pk, sizeof *F);
    h = evm__malloc((size_t)pk, sizeof *h);
    Xj = evm__malloc((size_t)nmax * pk, sizeof *Xj);
    ej = evm__malloc((size_t)nmax, sizeof *ej);
    w.tau = evm__malloc((size_t)pk, sizeof(double));
    w.Q = evm__malloc((size_t)nmax * pk, sizeof(double));
    w.S = evm__malloc((size_t)pk * pk, sizeof(double));
    w.mu = evm__malloc((size_t)pk, sizeof(double));
    w.VtX = evm__malloc((size_t)pk * pk, sizeof(double));
    w.Vte = evm__malloc((size_t)pk, sizeof(double));
    w.AX = evm__malloc((size_t)nmax * pk, sizeof(double));
    w.Ae = evm__malloc((size_t)nmax, sizeof(double));
    if (!meat || !F || !h || !Xj || !ej || !w.tau || !w.Q || !w.S || !w.mu || !w.VtX ||
        !w.Vte || !w.AX || !w.Ae)
        goto cleanup;
    double var = 0.0, E = 0.0, S2 = 0.0;
    for (int64_t j = 0; j < J; j++) {
        const int nj = (int)(start[j + 1] - start[j]);
        for (int b = 0; b < pk; b++)
            for (int a = 0; a < nj; a++) Xj[a + (int64_t)b * nj] = Xk[order[start[j] + a] + (int64_t)b * n];
        for (int a = 0; a < nj; a++) ej[a] = e[order[start[j] + a]];
        if (cluster_apply(nj, pk, Xj, ej, M, &w) < 0) goto numeric;
        /* mᵀ X_jᵀ A_j e_j */
        double u = 0.0;
        for (int a = 0; a < nj; a++) {
            double xm = 0.0;
            for (int b = 0; b < pk; b++) xm += Xj[a + (int64_t)b * nj] * m[b];
            u += xm * w.Ae[a];
        }
        var += u * u;
        /* g_j = |A_j X_j m|²;  h_j = Cᵀ (X_jᵀ A_j X_j)ᵀ m = Cᵀ (A_jX_j)ᵀ X_j m */
        double g = 0.0;
        for (int a = 0; a < nj; a++) {
            double s = 0.0;
            for (int b = 0; b < pk; b++) s += w.AX[a + (int64_t)b * nj] * m[b];
            g += s * s;
        }
        double *t = w.Vte;   /* reuse: t = (A_jX_j)ᵀ (X_j m), pk long */
        for (int b = 0; b < pk; b++) {
            double s = 0.0;
            for (int a = 0; a < nj; a++) {
                double xm = 0.0;
                for (int d = 0; d < pk; d++) xm += Xj[a + (int64_t)d * nj] * m[d];
                s += w.AX[a + (int64_t)b * nj] * xm;
            }
            t[b] = s;
        }
        double hh = 0.0;
        for (int a = 0; a < pk; a++) {
            double s = 0.0;
            for (int b = a; b < pk; b++) s += C[b + a * pk] * t[b];
            h[a] = s;
            hh += s * s;
        }
        E += g - hh;
        S2 += g * g - 2.0 * g * hh;
        for (int b = 0; b < pk; b++)
            for (int a = 0; a < pk; a++) F[a + b * pk] += h[a] * h[b];
    }
    double f2 = 0.0;
    for (int64_t k = 0; k < (int64_t)pk * pk; k++) f2 += F[k] * F[k];
    *se = sqrt(var);
    *df = E * E / (f2 + S2);
    st = EVM_OK;
    goto cleanup;
numeric:
    *se = *df = NAN;
    st = EVM_OK;
cleanup:
    if (st == EVM_ERR_NOMEM) evm__fail(c, st, "out of memory in the no-pooling estimates");
    free(keep), free(Xs), free(ys), free(Xk), free(M), free(C), free(beta), free(e), free(lk);
    free(m), free(meat), free(F), free(h), free(tau), free(Xj), free(ej), free(cl), free(order);
    free(start);
    free(w.tau), free(w.Q), free(w.S), free(w.mu), free(w.VtX), free(w.Vte), free(w.AX);
    free(w.Ae);
    return st;
}
