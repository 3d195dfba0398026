/* kenward_roger.c — the Kenward-Roger adjusted covariance of β and F tests (Kenward &
 * Roger 1997, Biometrics 53: 983-997), as pbkrtest 0.5.2's vcovAdj() and KRmodcomp()
 * (Halekoh & Højsgaard 2014, JSS 59(9); R functions vcovAdj_internal, .KR_adjust,
 * force_full_rank).  The N-sized quantities P_r, Q_rs, K_rs come blockwise from
 * kenward_roger_sums.c; here only p×p and n_par×n_par algebra, step by step as pbkrtest:
 *   IE_rs = K_rs - 2 tr(Φ Q_rs) + tr(Φ P_r Φ P_s),  W = 2 IE⁻¹ (MASS::ginv when the
 *   smallest |eigenvalue| is ≤ 1e-10),  U = Σ_rs W_rs (Q_rs - P_r Φ P_s),
 *   Φ_A = Φ + 2 Φ U Φ,  Φ = vcov(m);
 * and for a hypothesis L (q = rank L), Θ = Lᵀ(LΦLᵀ)⁻¹L, u_r = ΘΦP_rΦ,
 *   A1 = Σ_rs W_rs tr(u_r) tr(u_s),  A2 = Σ_rs W_rs tr(u_r u_s),  B = (A1 + 6A2)/(2q),
 *   g = ((q+1)A1 - (q+4)A2)/((q+2)A2),  c1,c2,c3 = g, q-g, q+2-g over 3q + 2(1-g),
 *   ρ = (1 - A2/q)²/(1 - c2B)² (1 + c1B)/(1 - c3B)/q,  m = 4 + (q+2)/(qρ - 1),
 *   λ = m(1 - A2/q)/(m - 2),  F = λ (Lβ)ᵀ(LΦ_ALᵀ)⁻¹(Lβ)/q  on (q, m) df.
 *
 * pbkrtest ignores prior weights (its Σ has σ²I and its X is unweighted while vcov(m) is
 * the weighted fit's), and refits ML models by REML; evalmix refuses both rather than
 * give a number that is not Kenward-Roger for the model that was fitted. */
#include "kenward_roger.h"

#include "internal.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct evm__kr_s {
    int p, npar;     /* npar: variance parameters, σ² last */
    double *phi;     /* p×p: Var(β) of the fit (pbkrtest's Phi = vcov(m)) */
    double *phia;    /* p×p: adjusted */
    double *P;       /* npar blocks p×p */
    double *W;       /* npar×npar: 2 IE⁻¹ (pbkrtest's attr(, "W")) */
    double *beta;    /* p */
};

/* ---------------------------------------------------------------- small dense helpers */

/* C (n×n) = A B */
static void mm(int n, const double *A, const double *B, double *C)
{
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, A, n, B, n, 0.0, C, n);
}

static double sum_prod(int64_t len, const double *a, const double *b)
{
    double s = 0.0;
    for (int64_t i = 0; i < len; i++) s += a[i] * b[i];
    return s;
}

/* tr(A B) for p×p A, B */
static double trace_ab(int p, const double *A, const double *B)
{
    double s = 0.0;
    for (int a = 0; a < p; a++)
        for (int b = 0; b < p; b++) s += A[a + b * p] * B[b + a * p];
    return s;
}

/* W = 2 IE⁻¹ as pbkrtest: solve() (LU) when the smallest |eigenvalue| exceeds 1e-10, else
 * MASS::ginv (singular values below √eps of the largest dropped); the upper triangle is
 * kept (forceSymmetric). */
static int two_inverse(int n, const double *IE, double *W)
{
    int status = EVM_ERR_NOMEM;
    double *E = evm__malloc((size_t)n * n, sizeof *E), *ev = evm__malloc((size_t)n, sizeof *ev);
    lapack_int *ipiv = evm__malloc((size_t)n, sizeof *ipiv);
    if (!E || !ev || !ipiv) goto cleanup;
    memcpy(E, IE, sizeof(double) * (size_t)n * n);
    status = EVM_ERR_NUMERIC;
    if (LAPACKE_dsyev(LAPACK_COL_MAJOR, 'V', 'U', n, E, n, ev) != 0) goto cleanup;
    double condi = HUGE_VAL, big = 0.0;
    for (int i = 0; i < n; i++) {
        if (fabs(ev[i]) < condi) condi = fabs(ev[i]);
        if (fabs(ev[i]) > big) big = fabs(ev[i]);
    }
    if (condi > 1e-10) {
        double *LU = evm__malloc((size_t)n * n, sizeof *LU);
        if (!LU) { status = EVM_ERR_NOMEM; goto cleanup; }
        memcpy(LU, IE, sizeof(double) * (size_t)n * n);
        for (int b = 0; b < n; b++)
            for (int a = 0; a < n; a++) W[a + b * n] = a == b;
        int info = LAPACKE_dgesv(LAPACK_COL_MAJOR, n, n, LU, n, ipiv, W, n);
        free(LU);
        if (info != 0) goto cleanup;
        for (int i = 0; i < n * n; i++) W[i] *= 2.0;
    } else {
        const double tol = sqrt(2.220446049250313e-16) * big;
        memset(W, 0, sizeof(double) * (size_t)n * n);
        for (int e = 0; e < n; e++) {
            if (!(fabs(ev[e]) > tol)) continue;
            const double *v = E + (int64_t)e * n;
            for (int b = 0; b < n; b++)
                for (int a = 0; a < n; a++) W[a + b * n] += 2.0 * v[a] * v[b] / ev[e];
        }
    }
    for (int b = 0; b < n; b++)
        for (int a = b + 1; a < n; a++) W[a + b * n] = W[b + a * n];
    status = EVM_OK;
cleanup:
    free(E), free(ev), free(ipiv);
    return status;
}

/* UU += w (Q - P_i (ΦP_j)); T: p×p workspace */
static void add_uu(int p, double w, const double *Qij, const double *Pi, const double *PhiPj,
                   double *T, double *UU)
{
    mm(p, Pi, PhiPj, T);
    for (int64_t e = 0; e < (int64_t)p * p; e++) UU[e] += w * (Qij[e] - T[e]);
}

/* pbkrtest's vcovAdj_internal from P, Q, K: IE2, W, UU and Φ_A = Φ + 2ΦUUΦ. */
static int adjust(evm__kr *kr, const double *Q, const double *Kt)
{
    const int p = kr->p, npar = kr->npar;
    const int64_t pp = (int64_t)p * p;
    int status = EVM_ERR_NOMEM;
    double *IE = evm__malloc((size_t)npar * npar, sizeof *IE);
    double *PhiP = evm__malloc((size_t)(npar * pp), sizeof *PhiP);   /* Φ P_i */
    double *UU = evm__calloc((size_t)pp, sizeof *UU), *T1 = evm__malloc((size_t)pp, sizeof *T1);
    double *T2 = evm__malloc((size_t)pp, sizeof *T2);
    if (!IE || !PhiP || !UU || !T1 || !T2) goto cleanup;
    for (int i = 0; i < npar; i++) mm(p, kr->phi, kr->P + i * pp, PhiP + i * pp);
    for (int i = 0; i < npar; i++)
        for (int j = i; j < npar; j++) {
            const double *Qij = Q + evm__kr_qindex(i, j, npar) * pp;
            double v = Kt[i + j * npar] - 2.0 * sum_prod(pp, kr->phi, Qij) +
                       trace_ab(p, PhiP + i * pp, PhiP + j * pp);
            IE[i + j * npar] = IE[j + i * npar] = v;
        }
    if ((status = two_inverse(npar, IE, kr->W)) != EVM_OK) goto cleanup;
    /* UU = Σ_{i<j} W_ij (Q_ij - P_iΦP_j), plus its transpose, plus Σ_i W_ii (Q_ii - P_iΦP_i) */
    for (int i = 0; i < npar; i++)
        for (int j = i + 1; j < npar; j++)
            add_uu(p, kr->W[i + j * npar], Q + evm__kr_qindex(i, j, npar) * pp, kr->P + i * pp,
                   PhiP + j * pp, T1, UU);
    for (int b = 0; b < p; b++)
        for (int a = b; a < p; a++) UU[a + b * p] = UU[b + a * p] = UU[a + b * p] + UU[b + a * p];
    for (int i = 0; i < npar; i++)
        add_uu(p, kr->W[i + i * npar], Q + evm__kr_qindex(i, i, npar) * pp, kr->P + i * pp,
               PhiP + i * pp, T1, UU);
    mm(p, kr->phi, UU, T1);
    mm(p, T1, kr->phi, T2);
    for (int b = 0; b < p; b++)
        for (int a = 0; a < p; a++)
            kr->phia[a + b * p] = kr->phi[a + b * p] + (T2[a + b * p] + T2[b + a * p]);
    status = EVM_OK;
cleanup:
    free(IE), free(PhiP), free(UU), free(T1), free(T2);
    return status;
}

static int check_model(const evm_lmm *m, evm_ctx *c)
{
    if (!m->fitted) return evm__fail(c, EVM_ERR_ARG, "Kenward-Roger: the model has not been fitted");
    if (!m->opts.reml)
        return evm__fail(c, EVM_ERR_ARG,
                         "Kenward-Roger needs a REML fit (pbkrtest refits ML models by REML): "
                         "fit the model by REML");
    if (m->mf->w)
        return evm__fail(c, EVM_ERR_ARG,
                         "Kenward-Roger is not available with prior weights: pbkrtest "
                         "ignores them (its covariance is sigma^2 I plus the random effects), "
                         "so its values would not belong to the weighted model; use "
                         "Satterthwaite df");
    if (m->p < 1) return evm__fail(c, EVM_ERR_ARG, "Kenward-Roger: the model has no fixed effects");
    if (!(m->sigma > 0.0)) return evm__fail(c, EVM_ERR_NUMERIC, "Kenward-Roger: sigma is zero");
    return EVM_OK;
}

int evm__kr_create(evm_lmm *m, evm__kr **out, evm_ctx *c)
{
    *out = NULL;
    int status = check_model(m, c);
    if (status) return status;
    if (evm__lmm_restore(m))   /* T and the blocks at the fitted θ */
        return evm__fail(c, EVM_ERR_NUMERIC, "Kenward-Roger: cannot refactor at the fitted theta");
    const int p = m->p, npar = m->ntheta + 1, nq = npar * (npar + 1) / 2;
    const int64_t pp = (int64_t)p * p;
    double *Q = evm__malloc((size_t)(nq * pp), sizeof(double));
    double *Kt = evm__malloc((size_t)npar * npar, sizeof(double));
    evm__kr *kr = evm__calloc(1, sizeof *kr);
    if (!Q || !Kt || !kr) goto nomem;
    kr->p = p, kr->npar = npar;
    kr->phi = evm__malloc((size_t)pp, sizeof(double));
    kr->phia = evm__malloc((size_t)pp, sizeof(double));
    kr->P = evm__malloc((size_t)(npar * pp), sizeof(double));
    kr->W = evm__malloc((size_t)npar * npar, sizeof(double));
    kr->beta = evm__malloc((size_t)p, sizeof(double));
    if (!kr->phi || !kr->phia || !kr->P || !kr->W || !kr->beta) goto nomem;
    memcpy(kr->phi, m->vcov, sizeof(double) * (size_t)pp);
    memcpy(kr->beta, m->beta, sizeof(double) * (size_t)p);
    if ((status = evm__kr_sums(m, evm_ctx_threads(c), kr->P, Q, Kt, c)) != EVM_OK) goto cleanup;
    if ((status = adjust(kr, Q, Kt)) != EVM_OK) {
        if (status == EVM_ERR_NOMEM) goto nomem;
        evm__fail(c, status, "Kenward-Roger: the information matrix of the variance "
                             "parameters could not be inverted");
        goto cleanup;
    }
    *out = kr;
    kr = NULL;
    goto cleanup;
nomem:
    status = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
cleanup:
    free(Q), free(Kt);
    evm__kr_destroy(&kr);
    return status;
}

void evm__kr_destroy(evm__kr **k)
{
    if (!k || !*k) return;
    free((*k)->phi), free((*k)->phia), free((*k)->P), free((*k)->W), free((*k)->beta);
    free(*k);
    *k = NULL;
}

const double *evm__kr_vcov_adj(const evm__kr *k) { return k ? k->phia : NULL; }

/* ---------------------------------------------------------------- F test */

/* Rows of L (k×p row-major) to a basis of their row space when they are dependent, as
 * pbkrtest's force_full_rank; the rank as Matrix::rankMatrix (singular values at least
 * max(k, p)·eps times the largest).  Lf: q×p row-major, q returned. */
static int full_rank(const double *L, int k, int p, double *Lf, int *q)
{
    const int mn = k < p ? k : p;
    int status = EVM_ERR_NOMEM;
    double *A = evm__malloc((size_t)k * p, sizeof *A), *s = evm__malloc((size_t)mn, sizeof *s);
    double *U = evm__malloc((size_t)p * mn, sizeof *U), *sup = evm__malloc((size_t)mn + 1, sizeof *sup);
    if (!A || !s || !U || !sup) goto cleanup;
    memcpy(A, L, sizeof(double) * (size_t)k * p);   /* row-major L = column-major Lᵀ (p×k) */
    status = EVM_ERR_NUMERIC;
    if (LAPACKE_dgesvd(LAPACK_COL_MAJOR, 'S', 'N', p, k, A, p, s, U, p, NULL, 1, sup) != 0)
        goto cleanup;
    const double tol = (k > p ? k : p) * 2.220446049250313e-16 * s[0];
    int r = 0;
    for (int i = 0; i < mn; i++) r += s[i] > 0.0 && s[i] >= tol;
    *q = r;
    if (r == k) memcpy(Lf, L, sizeof(double) * (size_t)k * p);
    else   /* left singular vectors of Lᵀ: an orthonormal basis of the row space of L */
        for (int i = 0; i < r; i++)
            for (int a = 0; a < p; a++) Lf[(int64_t)i * p + a] = U[a + (int64_t)i * p];
    status = EVM_OK;
cleanup:
    free(A), free(s), free(U), free(sup);
    return status;
}

/* X (p×p) = Lᵀ (L V Lᵀ)⁻¹ L and the Wald form (Lb)ᵀ(LVLᵀ)⁻¹(Lb), L q×p row-major. */
static int wald_parts(const double *L, int q, int p, const double *V, const double *b,
                      double *Theta, double *wald)
{
    int status = EVM_ERR_NOMEM;
    double *S = evm__calloc((size_t)q * q, sizeof *S), *R = evm__malloc((size_t)q * p, sizeof *R);
    double *lb = evm__calloc((size_t)q, sizeof *lb);
    if (!S || !R || !lb) goto cleanup;
    for (int i = 0; i < q; i++) {
        for (int a = 0; a < p; a++) lb[i] += L[(int64_t)i * p + a] * b[a];
        for (int jj = 0; jj <= i; jj++) {
            double s = 0.0;
            for (int a = 0; a < p; a++)
                for (int c = 0; c < p; c++) s += L[(int64_t)i * p + a] * V[a + c * p] * L[(int64_t)jj * p + c];
            S[i + jj * q] = S[jj + i * q] = s;
        }
    }
    status = EVM_ERR_NUMERIC;
    if (LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', q, S, q) != 0) goto cleanup;
    /* R = S⁻¹ L  (L as a q×p column-major matrix) */
    for (int i = 0; i < q; i++)
        for (int a = 0; a < p; a++) R[i + (int64_t)a * q] = L[(int64_t)i * p + a];
    if (LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'L', q, p, S, q, R, q) != 0) goto cleanup;
    for (int c = 0; c < p; c++)
        for (int a = 0; a < p; a++) {
            double s = 0.0;
            for (int i = 0; i < q; i++) s += L[(int64_t)i * p + a] * R[i + (int64_t)c * q];
            Theta[a + c * p] = s;
        }
    double w = 0.0;
    for (int a = 0; a < p; a++)
        for (int cc = 0; cc < p; cc++) w += b[a] * Theta[a + cc * p] * b[cc];
    *wald = w;
    status = EVM_OK;
cleanup:
    free(S), free(R), free(lb);
    return status;
}

static double div_zero(double x, double y)
{
    return fabs(x) < 1e-14 && fabs(y) < 1e-14 ? 1.0 : x / y;
}

int evm__kr_ftest(const evm__kr *k, const double *beta, const double *L, int nrow, double *F,
                  double *ndf, double *ddf, evm_ctx *c)
{
    if (!k || !L || nrow < 1) return evm__fail(c, EVM_ERR_ARG, "Kenward-Roger: no hypothesis");
    const int p = k->p, npar = k->npar;
    const int64_t pp = (int64_t)p * p;
    if (!beta) beta = k->beta;
    int status = EVM_ERR_NOMEM, q = 0;
    double *Lf = evm__malloc((size_t)nrow * p, sizeof *Lf), *Theta = evm__malloc((size_t)pp, sizeof *Theta);
    double *TP = evm__malloc((size_t)pp, sizeof *TP), *T1 = evm__malloc((size_t)pp, sizeof *T1);
    double *u = evm__malloc((size_t)(npar * pp), sizeof *u), *tru = evm__malloc((size_t)npar, sizeof *tru);
    if (!Lf || !Theta || !TP || !T1 || !u || !tru) goto cleanup;
    if ((status = full_rank(L, nrow, p, Lf, &q)) != EVM_OK) goto cleanup;
    if (q == 0) {
        status = evm__fail(c, EVM_ERR_ARG, "Kenward-Roger: the hypothesis matrix is zero");
        goto cleanup;
    }
    double waldU, wald;
    if ((status = wald_parts(Lf, q, p, k->phi, beta, Theta, &waldU)) != EVM_OK) goto cleanup;
    mm(p, Theta, k->phi, TP);   /* ΘΦ */
    for (int i = 0; i < npar; i++) {   /* u_i = ΘΦ P_i Φ */
        mm(p, TP, k->P + i * pp, T1);
        mm(p, T1, k->phi, u + i * pp);
        tru[i] = 0.0;
        for (int a = 0; a < p; a++) tru[i] += u[i * pp + a + a * p];
    }
    double A1 = 0.0, A2 = 0.0;
    for (int i = 0; i < npar; i++)
        for (int jj = i; jj < npar; jj++) {
            const double e = i == jj ? 1.0 : 2.0, wij = k->W[i + jj * npar];
            A1 += e * wij * tru[i] * tru[jj];
            A2 += e * wij * trace_ab(p, u + i * pp, u + jj * pp);
        }
    const double qd = q;
    const double B = (A1 + 6.0 * A2) / (2.0 * qd);
    const double g = ((qd + 1.0) * A1 - (qd + 4.0) * A2) / ((qd + 2.0) * A2);
    const double den = 3.0 * qd + 2.0 * (1.0 - g);
    const double c1 = g / den, c2 = (qd - g) / den, c3 = (qd + 2.0 - g) / den;
    double V0 = 1.0 + c1 * B;
    const double V1 = 1.0 - c2 * B, V2 = 1.0 - c3 * B;
    if (fabs(V0) < 1e-10) V0 = 0.0;
    const double x = div_zero(1.0 - A2 / qd, V1);
    const double rho = 1.0 / qd * x * x * V0 / V2;
    const double df2 = 4.0 + (qd + 2.0) / (qd * rho - 1.0);
    const double scaling = fabs(df2 - 2.0) < 0.01 ? 1.0 : df2 * (1.0 - A2 / qd) / (df2 - 2.0);
    if ((status = wald_parts(Lf, q, p, k->phia, beta, Theta, &wald)) != EVM_OK) goto cleanup;
    *F = scaling * wald / qd;
    *ndf = qd;
    *ddf = df2;
    status = EVM_OK;
cleanup:
    if (status == EVM_ERR_NOMEM) evm__fail(c, status, "out of memory");
    else if (status == EVM_ERR_NUMERIC)
        evm__fail(c, status, "Kenward-Roger: L Var(beta) L' is not positive definite");
    free(Lf), free(Theta), free(TP), free(T1), free(u), free(tru);
    return status;
}
