/* robust.c — cluster-robust (CR2) covariance of β̂ and Satterthwaite df, as clubSandwich
 * 0.5.8's vcovCR(m, cluster, type = "CR2") and coef_test(m, vcov, test = "Satterthwaite")
 * for an lmerMod (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018, JBES 36(4)).
 *
 * What clubSandwich computes for a lmer fit.  Per cluster j (rows of the cluster), with
 * the working and target covariance both V_j = Z_jΛΛᵀZ_jᵀ + I (Var(y)/σ², blocks of the
 * fit's V, which are cluster-diagonal because every grouping factor nests within the
 * clusters), W_j = V_j⁻¹, M = (Σ_j X_jᵀW_jX_j)⁻¹ = vcov(m)/σ², e_j = y_j − X_jβ̂:
 *   B_j = R_j(V_j − X_jMX_jᵀ)R_jᵀ  with R_jᵀR_j = V_j (chol)
 *   A_j = R_jᵀ B_j^{+1/2} R_j      (eigenvalues of B_j ≤ 1e-12 give 0, its matrix_power)
 *   vcov = M [Σ_j X_jᵀW_jA_je_j e_jᵀA_jW_jX_j] M
 * and for coefficient i, with L Lᵀ = M, h_ij = row i of M X_jᵀW_jA_jX_j L and
 * g_ij = (M X_jᵀW_jA_jV_jA_jW_jX_j M)_ii, the J×J matrix P_i = diag(g_i) − [h_ij·h_ij'],
 *   df_i = (tr P_i)² / Σ P_i²   (get_GH, get_P_array and Satterthwaite of clubSandwich)
 *        = (Σ_j g_ij − |h_ij|²)² / (|Σ_j h_ij h_ijᵀ|²_F − 2Σ_j g_ij|h_ij|² + Σ_j g_ij²).
 *
 * How it is computed here, without n_j×n_j matrices.  A_j does not depend on which factor
 * F of V_j = FᵀF is used (F = QS with Q orthogonal, S = V_j^{1/2}, gives B_F = QB_SQᵀ, the
 * same eigenvalues and the same A).  With S: A = S T^{+1/2} S, T = V² − SXMXᵀS.  With
 * U = Z_jΛ (n_j × r_j: the cluster's random effects) V = I + UUᵀ is the identity plus a
 * rank-r_j part, so with U = QR and the eigenvectors of RRᵀ, V = I + V_u diag(μ) V_uᵀ,
 * V_u orthonormal, and every power V^a = I + V_u diag((1+μ)^a − 1) V_uᵀ.  Then
 * T = I + C D Cᵀ with C = [V_u, SX], D = diag(μ(2+μ)) ⊕ (−M): again the identity plus
 * rank ≤ r_j + p, whose eigenvalues are 1 and 1 + eig(R_C D R_Cᵀ).  With Y = T^{+1/2}S⁻¹X:
 *   X_jᵀW_jA_je_j = Yᵀ(Se),  X_jᵀW_jA_jX_j = Yᵀ(SX),  X_jᵀW_jA_jVA_jW_jX_j = (VY)ᵀ(VY).
 * Cost per cluster O(n_j (r_j + p)²) instead of O(n_j³): schools of thousands of students
 * are fine; a single cluster of 10⁵ rows with 10⁴ random effects is not.
 *
 * Prior weights (lmer's weights = w) make V_j = diag(1/w) + Z_jΛΛᵀZ_jᵀ; clubSandwich
 * refuses them for lmerMod but computes the same CR2 for nlme's lme with
 * weights = varFixed(~1/w) (the same model), which is the reference; those clusters are
 * done densely (cluster_products_weighted).
 * Refused, as clubSandwich refuses them: grouping factors that are not nested within the
 * clusters (a level of a grouping factor in two clusters, e.g. clusters
 * that are matched sets cutting across schools, or clusters finer than the groups).
 * Clusters are processed in a fixed number of slices with their own sums, added in slice
 * order: the result does not depend on the thread count. */
#include "infer_internal.h"

#include "internal.h"
#include "par/par.h"

#include <cblas.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define CR2_SLICES 16
/* Each slice keeps p³ sums for the df; with many coefficients fewer slices (fixed by p,
 * not by the threads) keep them under this many doubles (128 MB). */
#define CR2_ACC_MAX ((int64_t)16 * 1024 * 1024)
#define CR2_EIG_TOL 1e-12   /* clubSandwich's matrix_power: eigenvalues <= 1e-12 dropped */
/* A cluster whose three dense n_j × (r_j + p) work arrays exceed this many doubles in all
 * (~2 GB) is refused rather than attempted. */
#define CR2_DENSE_MAX ((int64_t)256 * 1024 * 1024)
/* With prior weights each cluster costs two dense eigendecompositions of n_j × n_j: beyond
 * this many rows (~1 minute per cluster on one core) the cluster is refused (the message in
 * check_sizes states the number). */
#define CR2_WEIGHTED_MAX 4000

typedef struct {
    const evm_lmm *m;
    int p, K;
    int64_t n, J;        /* rows, clusters (levels of the cluster factor) */
    int64_t J_used;      /* clusters with rows (clubSandwich drops unused levels) */
    int64_t *start;      /* [J+1] rows of cluster j: rows[start[j] .. start[j+1]-1] */
    int64_t *rows;       /* [n] row numbers sorted by cluster (stable) */
    int32_t **loc;       /* [K][levels] index of a level among its cluster's levels */
    int64_t *off;        /* [J*K] first column of term k in cluster j's U */
    int64_t *r;          /* [J] columns of U (random effects in the cluster) */
    double *T;           /* K blocks qmax×qmax: relative covariance factors at θ̂ */
    int qmax;
    double *M, *L;       /* p×p: vcov/σ² and its Cholesky factor (lower) */
    double *e;           /* [n] marginal residuals y − Xβ̂ */
    /* per slice sums: meat p×p, E p, S2 p, F p×p×p (lower triangles of Σ_j h_ij h_ijᵀ) */
    int nslices;
    int64_t accsize;
    double *acc;
    int status[CR2_SLICES];
    int64_t bad_cluster[CR2_SLICES];
} cr2_job;

typedef struct {
    double *X, *e, *U, *Vu, *Vt, *SX, *SiX, *Se, *Y, *W;   /* U also holds C */
    double *tau, *D, *R, *RD, *Kk, *mu, *lam, *phi;
    double *Hm, *Gm, *cv, *a, *h, *B;
} cr2_work;

/* ---------------------------------------------------------------- the plan */

static int fail_nest(evm_ctx *c, const evm__modelframe *mf, const evm__reterm *re, int64_t l,
                     int64_t c1, int64_t c2)
{
    return evm__fail(c, EVM_ERR_MODEL,
                     "cluster-robust SEs: grouping factor '%s' is not nested within the "
                     "clusters of '%s' (level '%s' is in clusters '%s' and '%s'); CR2 needs "
                     "every grouping factor nested within the clusters, as clubSandwich's "
                     "vcovCR",
                     re->group, mf->cluster, re->levels[l], mf->cluster_levels[c1],
                     mf->cluster_levels[c2]);
}

/* Rows sorted by cluster; each level of each term numbered within its cluster, refusing
 * a level that occurs in two clusters. */
static int plan_rows(cr2_job *j, evm_ctx *c)
{
    const evm__modelframe *mf = j->m->mf;
    const int64_t n = j->n, J = j->J;
    for (int64_t i = 0; i < n; i++) j->start[mf->cluster_codes[i] + 1]++;
    int64_t used = 0;
    for (int64_t g = 0; g < J; g++) {
        used += j->start[g + 1] > 0;
        j->start[g + 1] += j->start[g];
    }
    if (used < 2)
        return evm__fail(c, EVM_ERR_MODEL, "cluster-robust SEs need at least 2 clusters; "
                         "'%s' has %lld", mf->cluster, (long long)used);
    j->J_used = used;
    int64_t *next = evm__malloc((size_t)J, sizeof *next);
    if (!next) return EVM_ERR_NOMEM;
    memcpy(next, j->start, (size_t)J * sizeof *next);
    for (int64_t i = 0; i < n; i++) j->rows[next[mf->cluster_codes[i]]++] = i;
    free(next);

    for (int k = 0; k < j->K; k++) {
        const evm__term *t = &j->m->t[k];
        const evm__reterm *re = &mf->re[t->src];
        int64_t *owner = evm__malloc((size_t)(re->nlevels ? re->nlevels : 1), sizeof *owner);
        if (!owner || !(j->loc[k] = evm__malloc((size_t)(re->nlevels ? re->nlevels : 1),
                                                sizeof(int32_t)))) {
            free(owner);
            return EVM_ERR_NOMEM;
        }
        for (int64_t l = 0; l < re->nlevels; l++) owner[l] = -1;
        for (int64_t g = 0; g < J; g++) {
            int32_t cnt = 0;
            for (int64_t s = j->start[g]; s < j->start[g + 1]; s++) {
                const int32_t l = re->codes[j->rows[s]];
                if (owner[l] < 0) {
                    owner[l] = g;
                    j->loc[k][l] = cnt++;
                } else if (owner[l] != g) {
                    int st = fail_nest(c, mf, re, l, owner[l], g);
                    free(owner);
                    return st;
                }
            }
            j->off[g * j->K + k] = j->r[g];
            j->r[g] += (int64_t)cnt * t->q;
        }
        free(owner);
    }
    return EVM_OK;
}

/* M = vcov/σ² and its Cholesky factor, T_k from θ̂, residuals. */
static int plan_model(cr2_job *j, evm_ctx *c)
{
    const evm_lmm *m = j->m;
    const evm__modelframe *mf = m->mf;
    const int p = j->p;
    const double s2 = m->sigma * m->sigma;
    for (int64_t i = 0; i < (int64_t)p * p; i++) j->M[i] = m->vcov[i] / s2;
    memcpy(j->L, j->M, sizeof(double) * p * p);
    if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', p, j->L, p) != 0)
        return evm__fail(c, EVM_ERR_NUMERIC,
                         "cluster-robust SEs: Var(beta) of the fit is not positive definite");
    for (int b = 0; b < p; b++)
        for (int a = 0; a < b; a++) j->L[a + b * p] = 0.0;
    for (int k = 0; k < j->K; k++) {
        const evm__term *t = &m->t[k];
        double *T = j->T + (int64_t)k * j->qmax * j->qmax;
        int o = t->theta_off;
        for (int b = 0; b < t->q; b++)
            for (int a = 0; a < t->q; a++) T[a + b * t->q] = a >= b ? m->theta[o++] : 0.0;
    }
    for (int64_t i = 0; i < j->n; i++) {
        double fit = 0.0;
        for (int a = 0; a < p; a++) fit += mf->X[i + a * j->n] * m->beta[a];
        j->e[i] = mf->y[i] - fit;
    }
    return EVM_OK;
}

/* ---------------------------------------------------------------- low-rank algebra */

static int lapack_status(lapack_int info)
{
    return info == LAPACK_WORK_MEMORY_ERROR ? EVM_ERR_NOMEM : EVM_ERR_NUMERIC;
}

/* I + C D Cᵀ = I + V diag(lam) Vᵀ for C (n×k, destroyed) and symmetric D (k×k; NULL: the
 * identity), V (n×mt) orthonormal, mt = min(n, k): C = QR, eig(R D Rᵀ) = P diag(lam) Pᵀ,
 * V = QP.  Workspace: tau (mt), R and RD (mt×k), Kk (mt×mt). */
static int lowrank_eig(int n, int k, double *C, const double *D, double *V, double *lam,
                       cr2_work *w)
{
    const int mt = n < k ? n : k;
    lapack_int info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, n, k, C, n, w->tau);
    if (info) return lapack_status(info);
    for (int b = 0; b < k; b++)
        for (int a = 0; a < mt; a++) w->R[a + b * mt] = a <= b ? C[a + (int64_t)b * n] : 0.0;
    if (D) {
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, mt, k, k, 1.0, w->R, mt, D, k,
                    0.0, w->RD, mt);
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, mt, mt, k, 1.0, w->RD, mt, w->R,
                    mt, 0.0, w->Kk, mt);
        for (int b = 0; b < mt; b++)
            for (int a = b + 1; a < mt; a++)
                w->Kk[a + b * mt] = 0.5 * (w->Kk[a + b * mt] + w->Kk[b + a * mt]);
    } else {
        cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, mt, k, 1.0, w->R, mt, 0.0, w->Kk,
                    mt);
    }
    if ((info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'L', mt, w->Kk, mt, lam)))
        return lapack_status(info);
    for (int b = 0; b < mt; b++)
        for (int a = 0; a < n; a++) V[a + (int64_t)b * n] = a < mt ? w->Kk[a + b * mt] : 0.0;
    info = LAPACKE_dormqr(LAPACK_COL_MAJOR, 'L', 'N', n, mt, mt, C, n, w->tau, V, n);
    return info ? lapack_status(info) : EVM_OK;
}

/* B (n×ncol) += V diag(phi) Vᵀ B, V (n×mt); workspace W (mt×ncol). */
static void lowrank_apply(int n, int mt, const double *V, const double *phi, double *B,
                          int ncol, double *W)
{
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, mt, ncol, n, 1.0, V, n, B, n, 0.0, W,
                mt);
    for (int b = 0; b < ncol; b++)
        for (int a = 0; a < mt; a++) W[a + b * mt] *= phi[a];
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, ncol, mt, 1.0, V, n, W, mt, 1.0,
                B, n);
}

/* ---------------------------------------------------------------- one cluster */

/* X_j, e_j and U = Z_jΛ (n×r) of cluster g. */
static void gather(const cr2_job *j, int64_t g, cr2_work *w)
{
    const evm__modelframe *mf = j->m->mf;
    const int64_t s0 = j->start[g], n = j->start[g + 1] - s0, r = j->r[g], N = j->n;
    for (int64_t s = 0; s < n; s++) {
        const int64_t i = j->rows[s0 + s];
        for (int a = 0; a < j->p; a++) w->X[s + a * n] = mf->X[i + a * N];
        w->e[s] = j->e[i];
    }
    memset(w->U, 0, sizeof(double) * (size_t)(n * r));
    for (int k = 0; k < j->K; k++) {
        const evm__term *t = &j->m->t[k];
        const evm__reterm *re = &mf->re[t->src];
        const double *T = j->T + (int64_t)k * j->qmax * j->qmax;
        const int q = t->q;
        for (int64_t s = 0; s < n; s++) {
            const int64_t i = j->rows[s0 + s];
            const int64_t col0 = j->off[g * j->K + k] + (int64_t)j->loc[k][re->codes[i]] * q;
            for (int b = 0; b < q; b++) {   /* (z T)_b, T lower triangular */
                double v = 0.0;
                for (int a = b; a < q; a++) v += re->Z[i + a * N] * T[a + b * q];
                w->U[s + (col0 + b) * n] = v;
            }
        }
    }
}

/* X_jᵀW_jA_je_j (cv), X_jᵀW_jA_jX_j (Hm) and X_jᵀW_jA_jV_jA_jW_jX_j (Gm) of cluster g. */
static int cluster_products(const cr2_job *j, int64_t g, cr2_work *w)
{
    const int n = (int)(j->start[g + 1] - j->start[g]), r = (int)j->r[g], p = j->p;
    const int mu_n = n < r ? n : r, k = mu_n + p, mt = n < k ? n : k;
    int st;
    gather(j, g, w);
    if ((st = lowrank_eig(n, r, w->U, NULL, w->Vu, w->mu, w))) return st;
    /* V^(1/2) X, V^(-1/2) X, V^(1/2) e */
    memcpy(w->SX, w->X, sizeof(double) * n * p);
    memcpy(w->SiX, w->X, sizeof(double) * n * p);
    memcpy(w->Se, w->e, sizeof(double) * n);
    for (int a = 0; a < mu_n; a++) w->phi[a] = expm1(0.5 * log1p(w->mu[a]));
    lowrank_apply(n, mu_n, w->Vu, w->phi, w->SX, p, w->W);
    lowrank_apply(n, mu_n, w->Vu, w->phi, w->Se, 1, w->W);
    for (int a = 0; a < mu_n; a++) w->phi[a] = expm1(-0.5 * log1p(w->mu[a]));
    lowrank_apply(n, mu_n, w->Vu, w->phi, w->SiX, p, w->W);

    /* T = V² − SXMXᵀS = I + C D Cᵀ,  C = [V_u, SX],  D = diag(μ(2+μ)) ⊕ (−M) */
    double *C = w->U;   /* U's QR is no longer needed */
    memcpy(C, w->Vu, sizeof(double) * n * mu_n);
    memcpy(C + (int64_t)n * mu_n, w->SX, sizeof(double) * n * p);
    memset(w->D, 0, sizeof(double) * k * k);
    for (int a = 0; a < mu_n; a++) w->D[a + a * k] = w->mu[a] * (2.0 + w->mu[a]);
    for (int b = 0; b < p; b++)
        for (int a = 0; a < p; a++) w->D[(mu_n + a) + (mu_n + b) * k] = -j->M[a + b * p];
    if ((st = lowrank_eig(n, k, C, w->D, w->Vt, w->lam, w))) return st;
    /* eigenvalue 1 + λ of T: its power −1/2, 0 at or below the tolerance (matrix_power) */
    for (int a = 0; a < mt; a++)
        w->phi[a] = 1.0 + w->lam[a] > CR2_EIG_TOL ? expm1(-0.5 * log1p(w->lam[a])) : -1.0;
    memcpy(w->Y, w->SiX, sizeof(double) * n * p);
    lowrank_apply(n, mt, w->Vt, w->phi, w->Y, p, w->W);

    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, p, p, n, 1.0, w->Y, n, w->SX, n, 0.0,
                w->Hm, p);
    cblas_dgemv(CblasColMajor, CblasTrans, n, p, 1.0, w->Y, n, w->Se, 1, 0.0, w->cv, 1);
    lowrank_apply(n, mu_n, w->Vu, w->mu, w->Y, p, w->W);   /* Y <- V Y */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, p, p, n, 1.0, w->Y, n, w->Y, n, 0.0,
                w->Gm, p);
    return EVM_OK;
}

/* Q diag(f(lam)) Qᵀ B (n×ncol) into out, Q n×n orthonormal; tmp n×ncol. */
static void eig_apply(int n, const double *Q, const double *f, const double *B, int ncol,
                      double *out, double *tmp)
{
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, n, ncol, n, 1.0, Q, n, B, n, 0.0, tmp,
                n);
    for (int b = 0; b < ncol; b++)
        for (int a = 0; a < n; a++) tmp[a + (int64_t)b * n] *= f[a];
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, ncol, n, 1.0, Q, n, tmp, n, 0.0,
                out, n);
}

/* The same products for a fit with prior weights.  V_j = diag(1/w) + UUᵀ (Var(y)/σ², as
 * nlme's lme with weights = varFixed(~1/w), the model of lmer's weights = w) is no longer
 * the identity plus a low-rank part, so V_j and T = V_j² − SXMXᵀS are eigendecomposed as
 * dense n_j × n_j matrices: O(n_j³) per cluster (check_sizes bounds n_j). */
static int cluster_products_weighted(const cr2_job *j, int64_t g, cr2_work *w)
{
    const evm__modelframe *mf = j->m->mf;
    const int64_t s0 = j->start[g];
    const int n = (int)(j->start[g + 1] - s0), r = (int)j->r[g], p = j->p;
    const size_t nn = (size_t)n * n;
    double *V = evm__malloc(nn, sizeof *V), *Q = evm__malloc(nn, sizeof *Q);
    double *T = evm__malloc(nn, sizeof *T), *ev = evm__malloc((size_t)n, sizeof *ev);
    double *f = evm__malloc((size_t)n, sizeof *f);
    double *tmp = evm__malloc((size_t)n * (p + 1), sizeof *tmp);
    int st = EVM_ERR_NOMEM;
    if (!V || !Q || !T || !ev || !f || !tmp) goto done;
    gather(j, g, w);
    cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, n, r, 1.0, w->U, n, 0.0, V, n);
    for (int a = 0; a < n; a++) V[a + (int64_t)a * n] += 1.0 / mf->w[j->rows[s0 + a]];
    for (int b = 0; b < n; b++)
        for (int a = 0; a < b; a++) V[a + (int64_t)b * n] = V[b + (int64_t)a * n];
    memcpy(Q, V, nn * sizeof *Q);
    lapack_int info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'L', n, Q, n, ev);
    if (info) {
        st = lapack_status(info);
        goto done;
    }
    for (int a = 0; a < n; a++) f[a] = sqrt(ev[a]);
    eig_apply(n, Q, f, w->X, p, w->SX, tmp);
    eig_apply(n, Q, f, w->e, 1, w->Se, tmp);
    for (int a = 0; a < n; a++) f[a] = 1.0 / sqrt(ev[a]);
    eig_apply(n, Q, f, w->X, p, w->SiX, tmp);
    /* T = V² − SX M SXᵀ */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, V, n, V, n, 0.0, T, n);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, p, p, 1.0, w->SX, n, j->M, p, 0.0,
                tmp, n);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, n, p, -1.0, tmp, n, w->SX, n, 1.0, T,
                n);
    if ((info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'L', n, T, n, ev))) {
        st = lapack_status(info);
        goto done;
    }
    for (int a = 0; a < n; a++) f[a] = ev[a] > CR2_EIG_TOL ? 1.0 / sqrt(ev[a]) : 0.0;
    eig_apply(n, T, f, w->SiX, p, w->Y, tmp);   /* Y = T^{+1/2} S⁻¹X */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, p, p, n, 1.0, w->Y, n, w->SX, n, 0.0,
                w->Hm, p);
    cblas_dgemv(CblasColMajor, CblasTrans, n, p, 1.0, w->Y, n, w->Se, 1, 0.0, w->cv, 1);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, p, n, 1.0, V, n, w->Y, n, 0.0, tmp,
                n);   /* V Y */
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, p, p, n, 1.0, tmp, n, tmp, n, 0.0,
                w->Gm, p);
    st = EVM_OK;
done:
    free(V), free(Q), free(T), free(ev), free(f), free(tmp);
    return st;
}

/* Add cluster g to the slice's sums: meat, tr P_i, and the two parts of Σ P_i². */
static void cluster_accumulate(const cr2_job *j, cr2_work *w, double *acc)
{
    const int p = j->p;
    double *meat = acc, *E = acc + p * p, *S2 = E + p, *F = S2 + p;
    cblas_dsyr(CblasColMajor, CblasLower, p, 1.0, w->cv, 1, meat, p);
    /* h = M Hm L (row i: h_ij), g_i = (M Gm M)_ii */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, p, p, p, 1.0, j->M, p, w->Hm, p,
                0.0, w->a, p);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, p, p, p, 1.0, w->a, p, j->L, p,
                0.0, w->h, p);
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, p, p, p, 1.0, w->Gm, p, j->M, p,
                0.0, w->B, p);
    for (int i = 0; i < p; i++) {
        double gi = 0.0, hh = 0.0;
        for (int a = 0; a < p; a++) {
            gi += j->M[i + a * p] * w->B[a + i * p];
            hh += w->h[i + a * p] * w->h[i + a * p];
        }
        E[i] += gi - hh;
        S2[i] += gi * gi - 2.0 * gi * hh;
        cblas_dsyr(CblasColMajor, CblasLower, p, 1.0, w->h + i, p, F + (int64_t)i * p * p, p);
    }
}

/* ---------------------------------------------------------------- slices */

static void work_free(cr2_work *w)
{
    double **v[] = {&w->X, &w->e, &w->U, &w->Vu, &w->Vt, &w->SX, &w->SiX, &w->Se,
                    &w->Y, &w->W, &w->tau, &w->D, &w->R, &w->RD, &w->Kk, &w->mu, &w->lam,
                    &w->phi, &w->Hm, &w->Gm, &w->cv, &w->a, &w->h, &w->B};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        free(*v[i]);
        *v[i] = NULL;
    }
}

/* Workspace for clusters of at most nmax rows and rmax random effects. */
static int work_alloc(cr2_work *w, int64_t nmax, int64_t rmax, int p)
{
    memset(w, 0, sizeof *w);
    const int64_t kmax = (nmax < rmax ? nmax : rmax) + p, pp = (int64_t)p * p;
    const int64_t rk = kmax > rmax ? kmax : rmax;   /* R is min(n,r)×r for V, mt×k for T */
    const size_t nz = (size_t)nmax;
#define ALLOC(ptr, cnt) (((ptr) = evm__malloc((size_t)((cnt) > 0 ? (cnt) : 1), sizeof(double))) == NULL)
    if (ALLOC(w->X, nz * p) || ALLOC(w->e, nz) || ALLOC(w->U, nz * rk) ||
        ALLOC(w->Vu, nz * kmax) || ALLOC(w->Vt, nz * kmax) ||
        ALLOC(w->SX, nz * p) || ALLOC(w->SiX, nz * p) || ALLOC(w->Se, nz) ||
        ALLOC(w->Y, nz * p) || ALLOC(w->W, kmax * (p + 1)) || ALLOC(w->tau, kmax) ||
        ALLOC(w->D, kmax * kmax) || ALLOC(w->R, kmax * rk) || ALLOC(w->RD, kmax * kmax) ||
        ALLOC(w->Kk, kmax * kmax) || ALLOC(w->mu, kmax) || ALLOC(w->lam, kmax) ||
        ALLOC(w->phi, kmax) || ALLOC(w->Hm, pp) || ALLOC(w->Gm, pp) || ALLOC(w->cv, p) ||
        ALLOC(w->a, pp) || ALLOC(w->h, pp) || ALLOC(w->B, pp)) {
        work_free(w);
        return EVM_ERR_NOMEM;
    }
#undef ALLOC
    return EVM_OK;
}

/* Slice s: clusters with cumulative row counts in [n s/S, n (s+1)/S) (a partition fixed by
 * the data, not by the threads). */
static void slice_range(const cr2_job *j, int s, int64_t *g0, int64_t *g1)
{
    const int64_t lo = j->n * s / j->nslices, hi = j->n * (s + 1) / j->nslices;
    int64_t a = 0;
    while (a < j->J && j->start[a] < lo) a++;
    int64_t b = a;
    while (b < j->J && j->start[b] < hi) b++;
    *g0 = a;
    *g1 = b;
}

static void slice_task(void *arg, int task)
{
    cr2_job *j = arg;
    int64_t g0, g1, nmax = 0, rmax = 0;
    slice_range(j, task, &g0, &g1);
    j->status[task] = EVM_OK;
    j->bad_cluster[task] = -1;
    if (g1 <= g0) return;
    for (int64_t g = g0; g < g1; g++) {
        const int64_t n = j->start[g + 1] - j->start[g];
        if (n > nmax) nmax = n;
        if (j->r[g] > rmax) rmax = j->r[g];
    }
    cr2_work w;
    if (work_alloc(&w, nmax, rmax, j->p)) {
        j->status[task] = EVM_ERR_NOMEM;
        return;
    }
    double *acc = j->acc + (int64_t)task * j->accsize;
    for (int64_t g = g0; g < g1; g++) {
        if (j->start[g + 1] == j->start[g]) continue;   /* unused level */
        j->status[task] = j->m->mf->w ? cluster_products_weighted(j, g, &w)
                                       : cluster_products(j, g, &w);
        if (j->status[task]) {
            j->bad_cluster[task] = g;
            break;
        }
        cluster_accumulate(j, &w, acc);
    }
    work_free(&w);
}

/* ---------------------------------------------------------------- entry */

static int check_model(const evm_lmm *m, evm_ctx *c)
{
    if (!m || !m->fitted)
        return evm__fail(c, EVM_ERR_ARG, "cluster-robust SEs need a fitted model");
    const evm__modelframe *mf = m->mf;
    if (!mf->cluster || !mf->cluster_codes)
        return evm__fail(c, EVM_ERR_ARG,
                         "cluster-robust SEs: no cluster variable (name it in "
                         "evm_lmm_opts.cluster when the model is created)");
    if (mf->ncluster < 2)
        return evm__fail(c, EVM_ERR_MODEL,
                         "cluster-robust SEs need at least 2 clusters; '%s' has %lld",
                         mf->cluster, (long long)mf->ncluster);
    return EVM_OK;
}

/* Largest cluster's work arrays: refuse what cannot be allocated sensibly. */
static int check_sizes(const cr2_job *j, evm_ctx *c)
{
    const evm__modelframe *mf = j->m->mf;
    for (int64_t g = 0; g < j->J; g++) {
        const int64_t n = j->start[g + 1] - j->start[g];
        const int64_t k = (n < j->r[g] ? n : j->r[g]) + j->p;
        const double dense = mf->w ? 3.0 * (double)n * (double)n   /* V, Q, T */
                                   : (double)n * (double)(2 * k + (k > j->r[g] ? k : j->r[g]));
        if (n > INT_MAX || j->r[g] > INT_MAX || dense > (double)CR2_DENSE_MAX ||
            (mf->w && n > CR2_WEIGHTED_MAX))
            return evm__fail(c, EVM_ERR_MODEL,
                             "cluster-robust SEs: cluster '%s' of '%s' is too large (%lld rows, "
                             "%lld random effects%s)",
                             mf->cluster_levels[g], mf->cluster, (long long)n,
                             (long long)j->r[g],
                             mf->w ? "; with prior weights at most 4000 rows" : "");
    }
    return EVM_OK;
}

static void job_free(cr2_job *j)
{
    if (j->loc)
        for (int k = 0; k < j->K; k++) free(j->loc[k]);
    free(j->loc);
    free(j->start);
    free(j->rows);
    free(j->off);
    free(j->r);
    free(j->T);
    free(j->M);
    free(j->L);
    free(j->e);
    free(j->acc);
}

static int job_alloc(cr2_job *j, const evm_lmm *m)
{
    memset(j, 0, sizeof *j);
    j->m = m;
    j->p = m->p;
    j->K = m->K;
    j->n = m->mf->n;
    j->J = m->mf->ncluster;
    for (int k = 0; k < m->K; k++)
        if (m->t[k].q > j->qmax) j->qmax = m->t[k].q;
    const int64_t p = j->p;
    j->accsize = p * p + 2 * p + p * p * p;
    j->nslices = (int)(CR2_ACC_MAX / j->accsize);
    if (j->nslices > CR2_SLICES) j->nslices = CR2_SLICES;
    if (j->nslices < 1) j->nslices = 1;
    j->start = evm__calloc((size_t)j->J + 1, sizeof *j->start);
    j->rows = evm__malloc((size_t)(j->n ? j->n : 1), sizeof *j->rows);
    j->loc = evm__calloc((size_t)(j->K ? j->K : 1), sizeof *j->loc);
    const int64_t noff = j->J * j->K;
    j->off = evm__calloc((size_t)(noff > 0 ? noff : 1), sizeof *j->off);
    j->r = evm__calloc((size_t)j->J, sizeof *j->r);
    j->T = evm__calloc((size_t)(j->K * j->qmax * j->qmax + 1), sizeof *j->T);
    j->M = evm__malloc((size_t)(p * p + 1), sizeof *j->M);
    j->L = evm__malloc((size_t)(p * p + 1), sizeof *j->L);
    j->e = evm__malloc((size_t)(j->n ? j->n : 1), sizeof *j->e);
    j->acc = evm__calloc((size_t)(j->nslices * j->accsize + 1), sizeof *j->acc);
    return j->start && j->rows && j->loc && j->off && j->r && j->T && j->M && j->L && j->e &&
                   j->acc
               ? EVM_OK
               : EVM_ERR_NOMEM;
}

/* vcov = M meat M; df_i = (tr P_i)² / Σ P_i². */
static void finish(cr2_job *j, double *vcov, double *df)
{
    const int p = j->p;
    double *meat = j->acc, *E = meat + p * p, *S2 = E + p, *F = S2 + p;
    for (int b = 0; b < p; b++)
        for (int a = 0; a < b; a++) meat[a + b * p] = meat[b + a * p];
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, p, p, p, 1.0, j->M, p, meat, p,
                0.0, j->L, p);   /* L is no longer needed: reuse it */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, p, p, p, 1.0, j->L, p, j->M, p,
                0.0, vcov, p);
    for (int b = 0; b < p; b++)   /* exactly symmetric */
        for (int a = b + 1; a < p; a++) {
            const double v = 0.5 * (vcov[a + b * p] + vcov[b + a * p]);
            vcov[a + b * p] = vcov[b + a * p] = v;
        }
    for (int i = 0; i < p; i++) {
        const double *Fi = F + (int64_t)i * p * p;
        double f2 = 0.0;
        for (int b = 0; b < p; b++) {
            f2 += Fi[b + b * p] * Fi[b + b * p];
            for (int a = b + 1; a < p; a++) f2 += 2.0 * Fi[a + b * p] * Fi[a + b * p];
        }
        df[i] = E[i] * E[i] / (f2 + S2[i]);
    }
}

int evm__cr2(evm_lmm *m, double *vcov, double *df, int64_t *nclusters, evm_ctx *c)
{
    if (!vcov || !df || !nclusters)
        return evm__fail(c, EVM_ERR_ARG, "evm__cr2: no output pointer");
    int st = check_model(m, c);
    if (st) return st;
    if (m->p == 0) {   /* nothing to estimate */
        *nclusters = m->mf->ncluster;
        return EVM_OK;
    }
    cr2_job j;
    if ((st = job_alloc(&j, m)) || (st = plan_rows(&j, c)) || (st = plan_model(&j, c)) ||
        (st = check_sizes(&j, c)))
        goto cleanup;
    evm__parallel_for(j.nslices, evm_ctx_threads(c), slice_task, &j);
    for (int s = 0; s < j.nslices; s++)
        if (j.status[s] == EVM_ERR_NUMERIC) {
            st = evm__fail(c, EVM_ERR_NUMERIC,
                           "cluster-robust SEs: eigen/QR decomposition failed in cluster '%s'",
                           m->mf->cluster_levels[j.bad_cluster[s]]);
            goto cleanup;
        } else if (j.status[s]) {
            st = j.status[s];
            goto cleanup;
        }
    for (int s = 1; s < j.nslices; s++)   /* fixed order: independent of the threads */
        for (int64_t i = 0; i < j.accsize; i++) j.acc[i] += j.acc[s * j.accsize + i];
    finish(&j, vcov, df);
    *nclusters = j.J_used;

cleanup:
    if (st == EVM_ERR_NOMEM) st = evm__fail(c, st, "out of memory computing cluster-robust SEs");
    job_free(&j);
    return st;
}
