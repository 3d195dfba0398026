/* satterthwaite.c — Satterthwaite degrees of freedom for contrasts of the fixed effects,
 * as lmerTest 3.1 computes them (Kuznetsova, Brockhoff & Christensen 2017, JSS 82(13)):
 *
 *   varpar = (θ, σ);  A = 2 H⁺, H the Hessian of the (RE)ML deviance in varpar, not
 *   profiled over σ (lmerTest's devfun_vp), at the fit;  J_i = ∂Var(β)/∂varpar_i.
 *   One contrast l:  df = 2 (l V lᵀ)² / (gᵀ A g),  g_i = l J_i lᵀ,  V = Var(β̂).
 *
 * H and J are computed exactly as lmerTest asks numDeriv for them: hessian() (genD:
 * central differences with relative step d = 0.1, Richardson extrapolation over r = 4
 * halvings) and jacobian() (relative step d = 1e-4, r = 4).  A coordinate with
 * |x| < zero.tol = sqrt(DBL_EPSILON / 7e-7) gets the absolute step eps = 1e-4 instead,
 * which is what happens at a boundary fit (θ_j = 0): the differences then straddle the
 * boundary and evaluate the deviance at θ_j = -h (a valid point: Λ with a negative
 * diagonal entry gives the same covariance as its absolute value), as lme4's devfun
 * does for lmerTest.  H⁺ is lmerTest's pseudo-inverse: eigenvalues <= 1e-8 are left out
 * (with warnings, as lmerTest's, for negative and near-zero ones).
 *
 * The F test of several contrasts is lmerTest's contestMD: with L V Lᵀ = P D Pᵀ and q its
 * positive eigenvalues (> sqrt(DBL_EPSILON) d_1), F = Σ_m (P_mᵀ L β)² / d_m / q and each
 * row P_mᵀ L has its own df ν_m; the denominator df is 2E / (E - q), E = Σ ν_m / (ν_m - 2)
 * (2 if any ν_m <= 2; the mean when all ν_m agree to 1e-8; ν_1 when q = 1). */
#include "infer/infer_internal.h"
#include "internal.h"

#include <float.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* numDeriv's defaults (hessian: genD with d = 0.1; jacobian: d = 1e-4). */
#define ND_EPS 1e-4
#define ND_D_HESS 0.1
#define ND_D_JAC 1e-4
#define ND_R 4
#define ND_V 2.0
#define EIG_TOL 1e-8   /* lmerTest's as_lmerModLT(tol = 1e-8) */

struct evm__satt_s {
    int p, nv;        /* nv = ntheta + 1 variance parameters (θ, σ) */
    double *varpar;   /* [nv] (θ̂, σ̂) */
    double *H;        /* nv × nv Hessian of the deviance */
    double *A;        /* nv × nv: 2 H⁺, the asymptotic covariance of varpar */
    double *J;        /* nv blocks p × p: ∂Var(β)/∂varpar_i */
    double *V;        /* p × p Var(β̂) */
    int nneg, nzero;  /* eigenvalues of H < -1e-8 and within ±1e-8 */
};

static double zero_tol(void) { return sqrt(DBL_EPSILON / 7e-7); }

/* numDeriv's step: |d x| + eps where |x| < zero.tol */
static double nd_step(double x, double d)
{
    return fabs(d * x) + ND_EPS * (fabs(x) < zero_tol() ? 1.0 : 0.0);
}

/* The deviance at varpar = (θ, σ); vcov (p × p) may be NULL. */
static double dev_vp(evm_lmm *m, const double *vp, double *vcov)
{
    return evm__lmm_deviance_vp(m, vp, vp[m->ntheta], vcov);
}

/* Richardson extrapolation over r terms, in place; a[0] is the result (numDeriv). */
static void richardson(double *a, int r)
{
    for (int mm = 1; mm < r; mm++) {
        double f = pow(4.0, mm);
        for (int k = 0; k < r - mm; k++) a[k] = (a[k + 1] * f - a[k]) / (f - 1.0);
    }
}

/* H (nv × nv) as numDeriv::hessian(method = "Richardson") via genD. */
static int hessian(evm_lmm *m, const double *x, int nv, double *H, double *xt, double f0)
{
    double h0[64], hdiag[64], a[ND_R];
    if (nv > 64) return -1;
    for (int i = 0; i < nv; i++) h0[i] = nd_step(x[i], ND_D_HESS);
    for (int i = 0; i < nv; i++) {
        double h = h0[i];
        for (int k = 0; k < ND_R; k++) {
            memcpy(xt, x, (size_t)nv * sizeof *xt);
            xt[i] = x[i] + h;
            double f1 = dev_vp(m, xt, NULL);
            xt[i] = x[i] - h;
            double f2 = dev_vp(m, xt, NULL);
            if (!isfinite(f1) || !isfinite(f2)) return -1;
            a[k] = (f1 - 2.0 * f0 + f2) / (h * h);
            h /= ND_V;
        }
        richardson(a, ND_R);
        hdiag[i] = a[0];
        H[i + i * nv] = a[0];
    }
    for (int i = 0; i < nv; i++)
        for (int j = 0; j < i; j++) {
            double hi = h0[i], hj = h0[j];
            for (int k = 0; k < ND_R; k++) {
                memcpy(xt, x, (size_t)nv * sizeof *xt);
                xt[i] = x[i] + hi;
                xt[j] = x[j] + hj;
                double f1 = dev_vp(m, xt, NULL);
                xt[i] = x[i] - hi;
                xt[j] = x[j] - hj;
                double f2 = dev_vp(m, xt, NULL);
                if (!isfinite(f1) || !isfinite(f2)) return -1;
                a[k] = (f1 - 2.0 * f0 + f2 - hdiag[i] * hi * hi - hdiag[j] * hj * hj) /
                       (2.0 * hi * hj);
                hi /= ND_V;
                hj /= ND_V;
            }
            richardson(a, ND_R);
            H[i + j * nv] = H[j + i * nv] = a[0];
        }
    return 0;
}

/* J (nv blocks of p × p) as numDeriv::jacobian(method = "Richardson") of Var(β). */
static int jacobian(evm_lmm *m, const double *x, int nv, int p, double *J, double *xt,
                    double *v1, double *v2, double *work)
{
    const int64_t pp = (int64_t)p * p;
    for (int i = 0; i < nv; i++) {
        double h = nd_step(x[i], ND_D_JAC);
        for (int k = 0; k < ND_R; k++) {
            memcpy(xt, x, (size_t)nv * sizeof *xt);
            xt[i] = x[i] + h;
            double f1 = dev_vp(m, xt, v1);
            xt[i] = x[i] - h;
            double f2 = dev_vp(m, xt, v2);
            if (!isfinite(f1) || !isfinite(f2)) return -1;
            for (int64_t e = 0; e < pp; e++) work[e * ND_R + k] = (v1[e] - v2[e]) / (2.0 * h);
            h /= ND_V;
        }
        for (int64_t e = 0; e < pp; e++) {
            richardson(work + e * ND_R, ND_R);
            J[i * pp + e] = work[e * ND_R];
        }
    }
    return 0;
}

/* A = 2 H⁺ over the eigenvalues > EIG_TOL (lmerTest's h_inv); counts the others. */
static int pseudo_inverse(const double *H, int nv, double *A, int *nneg, int *nzero,
                          double *evals_out)
{
    double *Z = malloc((size_t)nv * nv * sizeof *Z), *Hc = malloc((size_t)nv * nv * sizeof *Hc);
    double *w = malloc((size_t)nv * sizeof *w);
    lapack_int *isuppz = malloc((size_t)2 * nv * sizeof *isuppz);
    lapack_int nfound = 0;
    int st = -1;
    if (!Z || !Hc || !w || !isuppz) goto cleanup;
    memcpy(Hc, H, (size_t)nv * nv * sizeof *Hc);
    if (LAPACKE_dsyevr(LAPACK_COL_MAJOR, 'V', 'A', 'L', nv, Hc, nv, 0.0, 0.0, 0, 0, 0.0,
                       &nfound, w, Z, nv, isuppz) != 0)
        goto cleanup;
    *nneg = *nzero = 0;
    memset(A, 0, (size_t)nv * nv * sizeof *A);
    for (int e = 0; e < nv; e++) {
        evals_out[e] = w[e];
        if (w[e] < -EIG_TOL) (*nneg)++;
        if (w[e] > -EIG_TOL && w[e] < EIG_TOL) (*nzero)++;
        if (!(w[e] > EIG_TOL)) continue;
        const double *z = Z + (int64_t)e * nv;
        for (int b = 0; b < nv; b++)
            for (int a = 0; a < nv; a++) A[a + b * nv] += 2.0 * z[a] * z[b] / w[e];
    }
    st = 0;
cleanup:
    free(Z);
    free(Hc);
    free(w);
    free(isuppz);
    return st;
}

static int warn_eigen(evm_ctx *c, const double *ev, int nv, int neg)
{
    char list[512];
    int len = 0, n = 0;
    list[0] = '\0';
    for (int e = nv - 1; e >= 0; e--) {   /* decreasing, as R's eigen() lists them */
        int hit = neg ? ev[e] < -EIG_TOL : (ev[e] > -EIG_TOL && ev[e] < EIG_TOL);
        if (!hit || len > (int)sizeof list - 32) continue;
        len += snprintf(list + len, sizeof list - (size_t)len, "%s%.1e", n ? " " : "", ev[e]);
        n++;
    }
    if (neg)
        return evm__warn(c, "Satterthwaite: model failed to converge with %d negative "
                            "eigenvalue%s of the deviance Hessian: %s", n, n > 1 ? "s" : "", list);
    return evm__warn(c, "Satterthwaite: model may not have converged with %d eigenvalue%s of "
                        "the deviance Hessian close to zero: %s", n, n > 1 ? "s" : "", list);
}

int evm__satt_create(evm_lmm *m, evm__satt **out, evm_ctx *c)
{
    if (!out) return evm__fail(c, EVM_ERR_ARG, "evm__satt_create: no output pointer");
    *out = NULL;
    if (!m || !m->fitted)
        return evm__fail(c, EVM_ERR_ARG, "Satterthwaite df need a fitted model");
    const int p = m->p, nv = m->ntheta + 1;
    const int64_t pp = (int64_t)p * p;
    if (nv > 64)
        return evm__fail(c, EVM_ERR_ARG, "Satterthwaite df: %d variance parameters (at most 64)",
                         nv);
    int st = EVM_OK;
    evm__satt *s = calloc(1, sizeof *s);
    double *xt = evm__malloc((size_t)nv, sizeof *xt);
    double *v1 = evm__malloc((size_t)(pp ? pp : 1), sizeof *v1);
    double *v2 = evm__malloc((size_t)(pp ? pp : 1), sizeof *v2);
    double *work = evm__malloc((size_t)(pp ? pp : 1) * ND_R, sizeof *work);
    double ev[64];
    if (!s || !xt || !v1 || !v2 || !work) goto nomem;
    s->p = p;
    s->nv = nv;
    s->varpar = evm__malloc((size_t)nv, sizeof *s->varpar);
    s->H = evm__calloc((size_t)nv * nv, sizeof *s->H);
    s->A = evm__calloc((size_t)nv * nv, sizeof *s->A);
    s->J = evm__calloc((size_t)nv * (size_t)(pp ? pp : 1), sizeof *s->J);
    s->V = evm__malloc((size_t)(pp ? pp : 1), sizeof *s->V);
    if (!s->varpar || !s->H || !s->A || !s->J || !s->V) goto nomem;
    memcpy(s->varpar, m->theta, (size_t)m->ntheta * sizeof *s->varpar);
    s->varpar[m->ntheta] = m->sigma;
    if (pp) memcpy(s->V, m->vcov, (size_t)pp * sizeof *s->V);

    double f0 = dev_vp(m, s->varpar, NULL);
    if (!isfinite(f0) || hessian(m, s->varpar, nv, s->H, xt, f0) < 0 ||
        (p > 0 && jacobian(m, s->varpar, nv, p, s->J, xt, v1, v2, work) < 0)) {
        st = evm__fail(c, EVM_ERR_NUMERIC,
                       "Satterthwaite df: the deviance is not finite near the estimates");
        goto cleanup;
    }
    if (pseudo_inverse(s->H, nv, s->A, &s->nneg, &s->nzero, ev) < 0) {
        st = evm__fail(c, EVM_ERR_NUMERIC,
                       "Satterthwaite df: eigen-decomposition of the deviance Hessian failed");
        goto cleanup;
    }
    if (s->nneg && (st = warn_eigen(c, ev, nv, 1)) < 0) goto cleanup;
    if (s->nzero && (st = warn_eigen(c, ev, nv, 0)) < 0) goto cleanup;
    st = s->nneg ? EVM_WARN_NOCONV : EVM_OK;
    *out = s;
    s = NULL;
    goto cleanup;
nomem:
    st = evm__fail(c, EVM_ERR_NOMEM, "out of memory computing Satterthwaite df");
cleanup:
    if (evm__lmm_restore(m) < 0 && st >= 0)
        st = evm__fail(c, EVM_ERR_NUMERIC, "cannot refactor the model at its estimates");
    if (st < 0 && *out) evm__satt_destroy(out);
    evm__satt_destroy(&s);
    free(xt);
    free(v1);
    free(v2);
    free(work);
    return st;
}

void evm__satt_destroy(evm__satt **sp)
{
    if (!sp || !*sp) return;
    evm__satt *s = *sp;
    free(s->varpar);
    free(s->H);
    free(s->A);
    free(s->J);
    free(s->V);
    free(s);
    *sp = NULL;
}

/* xᵀ M x for a symmetric n × n M (lmerTest's qform). */
static double qform(const double *x, const double *M, int n)
{
    double s = 0.0;
    for (int b = 0; b < n; b++) {
        double t = 0.0;
        for (int a = 0; a < n; a++) t += M[a + (int64_t)b * n] * x[a];
        s += x[b] * t;
    }
    return s;
}

/* Variance of lβ and its Satterthwaite df (lmerTest's contest1D). */
static void contrast1(const evm__satt *s, const double *l, double *var, double *df)
{
    double g[64];
    const int64_t pp = (int64_t)s->p * s->p;
    *var = qform(l, s->V, s->p);
    for (int i = 0; i < s->nv; i++) g[i] = qform(l, s->J + i * pp, s->p);
    *df = 2.0 * *var * *var / qform(g, s->A, s->nv);
}

int evm__satt_df(const evm__satt *s, const double *L, int k, double *df, evm_ctx *c)
{
    if (!s || (k > 0 && (!L || !df)) || k < 0)
        return evm__fail(c, EVM_ERR_ARG, "evm__satt_df: bad arguments");
    for (int r = 0; r < k; r++) {
        double var;
        contrast1(s, L + (int64_t)r * s->p, &var, &df[r]);
    }
    return EVM_OK;
}

/* lmerTest's get_Fstat_ddf */
static double fstat_ddf(const double *nu, int q)
{
    if (q == 1) return nu[0];
    int same = 1;
    for (int m = 1; m < q; m++) same &= fabs(nu[m] - nu[m - 1]) < 1e-8;
    if (same) {
        double s = 0.0;
        for (int m = 0; m < q; m++) s += nu[m];
        return s / q;
    }
    double E = 0.0;
    for (int m = 0; m < q; m++) {
        if (nu[m] <= 2.0) return 2.0;
        E += nu[m] / (nu[m] - 2.0);
    }
    return 2.0 * E / (E - q);
}

int evm__satt_ftest(const evm__satt *s, const double *beta, const double *L, int k, double *F,
                    double *ndf, double *ddf, evm_ctx *c)
{
    if (!s || !beta || !F || !ndf || !ddf || k < 0 || (k > 0 && !L))
        return evm__fail(c, EVM_ERR_ARG, "evm__satt_ftest: bad arguments");
    const int p = s->p;
    *F = *ddf = NAN;
    *ndf = 0;
    if (k == 0) return EVM_OK;
    if (k == 1) {   /* contest1D: F = t² */
        double var, df, est = 0.0;
        for (int j = 0; j < p; j++) est += L[j] * beta[j];
        contrast1(s, L, &var, &df);
        *F = est * est / var;
        *ndf = 1;
        *ddf = df;
        return EVM_OK;
    }
    int st = EVM_OK;
    double *VL = evm__malloc((size_t)k * k, sizeof *VL), *Z = evm__malloc((size_t)k * k, sizeof *Z);
    double *w = evm__malloc((size_t)k, sizeof *w), *PtL = evm__malloc((size_t)k * p, sizeof *PtL);
    double *nu = evm__malloc((size_t)k, sizeof *nu), *tmp = evm__malloc((size_t)p, sizeof *tmp);
    lapack_int *isuppz = evm__malloc((size_t)2 * k, sizeof *isuppz);
    lapack_int nfound = 0;
    if (!VL || !Z || !w || !PtL || !nu || !tmp || !isuppz) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory in an F test");
        goto cleanup;
    }
    /* VL = L V Lᵀ (k × k) */
    for (int a = 0; a < k; a++) {
        const double *la = L + (int64_t)a * p;
        for (int j = 0; j < p; j++) {
            double t = 0.0;
            for (int i = 0; i < p; i++) t += la[i] * s->V[i + (int64_t)j * p];
            tmp[j] = t;
        }
        for (int b = 0; b < k; b++) {
            double t = 0.0;
            for (int j = 0; j < p; j++) t += tmp[j] * L[(int64_t)b * p + j];
            VL[a + (int64_t)b * k] = t;
        }
    }
    if (LAPACKE_dsyevr(LAPACK_COL_MAJOR, 'V', 'A', 'L', k, VL, k, 0.0, 0.0, 0, 0, 0.0, &nfound,
                       w, Z, k, isuppz) != 0) {
        st = evm__fail(c, EVM_ERR_NUMERIC, "F test: eigen-decomposition of L V L' failed");
        goto cleanup;
    }
    /* decreasing order, as R's eigen(): index e = k-1-m */
    double d1 = w[k - 1], tol = sqrt(DBL_EPSILON) * d1;
    if (tol < 0) tol = 0;
    int q = 0;
    for (int m = 0; m < k; m++) q += w[k - 1 - m] > tol;
    if (q == 0) goto cleanup;   /* nothing testable: F, ddf NaN, ndf 0 */
    for (int m = 0; m < q; m++) {
        const double *z = Z + (int64_t)(k - 1 - m) * k;
        for (int j = 0; j < p; j++) {
            double t = 0.0;
            for (int a = 0; a < k; a++) t += z[a] * L[(int64_t)a * p + j];
            PtL[(int64_t)m * p + j] = t;
        }
    }
    if (q == 1) {
        double var, df, est = 0.0;
        for (int j = 0; j < p; j++) est += PtL[j] * beta[j];
        contrast1(s, PtL, &var, &df);
        *F = est * est / var;
        *ndf = 1;
        *ddf = df;
        goto cleanup;
    }
    double t2 = 0.0;
    for (int m = 0; m < q; m++) {
        double est = 0.0, var;
        for (int j = 0; j < p; j++) est += PtL[(int64_t)m * p + j] * beta[j];
        double dm = w[k - 1 - m];
        t2 += est * est / dm;
        /* ν_m = 2 d_m² / (g_mᵀ A g_m): lmerTest uses d_m, not the recomputed variance */
        contrast1(s, PtL + (int64_t)m * p, &var, &nu[m]);
        nu[m] *= dm * dm / (var * var);
    }
    *F = t2 / q;
    *ndf = q;
    *ddf = fstat_ddf(nu, q);
cleanup:
    free(VL);
    free(Z);
    free(w);
    free(PtL);
    free(nu);
    free(tmp);
    free(isuppz);
    return st;
}
