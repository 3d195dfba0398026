/* predict.c — prediction-error variances of linear combinations of the fixed effects and
 * one level's random effects, x'β̂ + z'b̂ₗ (e.g. a school's treatment effect
 * β_treat + b_school,treat), from the joint covariance of the mixed-model equations.
 *
 * With M = [ΛᵀZᵀWZΛ + I, ΛᵀZᵀWX; XᵀWZΛ, XᵀWX] = L Lᵀ (the blocked factor without the y
 * row), the prediction errors (û − u, β̂ − β) have covariance σ²M⁻¹ (Henderson 1975), and
 * b = Λu.  For the vector a = [Λᵀz; x] (z on one level of one term):
 *   σ² aᵀM⁻¹a = σ² (‖w‖² + ‖C⁻¹(x − L_XZ w)‖²),   w = L_Z⁻¹ Λᵀz,
 * C the fixed-effects corner R_Xᵀ of L and L_XZ its X rows.  The first part, σ²‖w‖², is
 * lme4's conditional variance z'Var(bₗ|y)z; the second adds Var(x'β̂) and the covariance
 * of β̂ with b̂ₗ.  Only the blocks of w below level l are nonzero: for nested designs one
 * q×q block per later term (the level's ancestors), so all levels cost O(levels·(Σq·p+p²)). */
#include "lmm_internal.h"

#include "internal.h"
#include "linalg/linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Every block from term k on is block-diagonal or nested (w has one block per term). */
static int chain_nested(const evm_lmm *m, int k)
{
    for (int i = k; i < m->K; i++) {
        if (m->t[i].dense) return 0;
        for (int j = k; j < i; j++)
            if (evm__off(m, i, j)->type != EVM__BLK_NESTED) return 0;
    }
    return 1;
}

/* g (p) -= LX_i[:, cols] w for the q_i columns starting at col0. */
static void sub_lx(const evm_lmm *m, const evm__term *ti, int64_t col0, const double *w, int qi,
                   double *g)
{
    const int p = m->p, px = m->px;
    for (int b = 0; b < qi; b++) {
        if (w[b] == 0.0) continue;
        const double *lx = ti->LX + (col0 + b) * px;
        for (int a = 0; a < p; a++) g[a] -= lx[a] * w[b];
    }
}

/* Nested chain: w_k = L_kk[l]⁻¹ a, then w_i at the ancestor level of term i. */
static double wnorm_nested(const evm_lmm *m, int k, int64_t l, const double *a, double *g,
                           double (*W)[64], int64_t *lev)
{
    const int K = m->K;
    double ss = 0.0;
    const int qk = m->t[k].q;
    memcpy(W[k], a, sizeof(double) * qk);
    evm__solve_ln_small(qk, m->t[k].L + l * qk * qk, W[k]);
    lev[k] = l;
    for (int i = k + 1; i < K; i++) {
        const evm__term *ti = &m->t[i];
        const int qi = ti->q;
        lev[i] = evm__off(m, i, i - 1)->rowlev[lev[i - 1]];
        for (int r = 0; r < qi; r++) W[i][r] = 0.0;
        for (int j = k; j < i; j++) {
            const int qj = m->t[j].q;
            const double *B = evm__off(m, i, j)->L + lev[j] * qi * qj;
            for (int c = 0; c < qj; c++)
                for (int r = 0; r < qi; r++) W[i][r] -= B[r + c * qi] * W[j][c];
        }
        evm__solve_ln_small(qi, ti->L + lev[i] * qi * qi, W[i]);
    }
    for (int i = k; i < K; i++) {
        const int qi = m->t[i].q;
        for (int r = 0; r < qi; r++) ss += W[i][r] * W[i][r];
        sub_lx(m, &m->t[i], lev[i] * qi, W[i], qi, g);
    }
    return ss;
}

/* X_i (n_i) -= L_ij x_j for any block type; x_j dense (n_j), zeros skipped. */
static void sub_block(const evm__offblk *ob, const evm__term *ti, const evm__term *tj,
                      const double *xj, double *xi)
{
    const int qi = ti->q, qj = tj->q;
    if (ob->type == EVM__BLK_DENSE) {
        for (int64_t c = 0; c < tj->n; c++) {
            if (xj[c] == 0.0) continue;
            const double *lc = ob->L + c * ti->n;
            for (int64_t r = 0; r < ti->n; r++) xi[r] -= lc[r] * xj[c];
        }
        return;
    }
    for (int64_t c = 0; c < tj->nl; c++) {
        const double *x = xj + c * qj;
        int nz = 0;
        for (int b = 0; b < qj; b++) nz |= x[b] != 0.0;
        if (!nz) continue;
        for (int64_t e = ob->colptr[c]; e < ob->colptr[c + 1]; e++) {
            const double *B = ob->L + e * qi * qj;
            double *out = xi + ob->rowlev[e] * qi;
            for (int b = 0; b < qj; b++)
                for (int r = 0; r < qi; r++) out[r] -= B[r + b * qi] * x[b];
        }
    }
}

/* General path (crossed designs): dense vectors w_i of length n_i. */
static double wnorm_general(const evm_lmm *m, int k, int64_t l, const double *a, double *g,
                            double **X)
{
    const int K = m->K;
    const evm__term *tk = &m->t[k];
    const int qk = tk->q;
    memset(X[k], 0, sizeof(double) * tk->n);
    memcpy(X[k] + l * qk, a, sizeof(double) * qk);
    if (tk->dense) evm__trsm_left_ln(tk->n, 1, tk->L, tk->n, X[k], tk->n);
    else evm__solve_ln_small(qk, tk->L + l * qk * qk, X[k] + l * qk);
    for (int i = k + 1; i < K; i++) {
        const evm__term *ti = &m->t[i];
        memset(X[i], 0, sizeof(double) * ti->n);
        for (int j = k; j < i; j++) sub_block(evm__off(m, i, j), ti, &m->t[j], X[j], X[i]);
        if (ti->dense) evm__trsm_left_ln(ti->n, 1, ti->L, ti->n, X[i], ti->n);
        else
            for (int64_t c = 0; c < ti->nl; c++)
                evm__solve_ln_small(ti->q, ti->L + c * ti->q * ti->q, X[i] + c * ti->q);
    }
    double ss = 0.0;
    for (int i = k; i < K; i++) {
        const evm__term *ti = &m->t[i];
        for (int64_t r = 0; r < ti->n; r++) ss += X[i][r] * X[i][r];
        for (int64_t c = 0; c < ti->nl; c++) sub_lx(m, ti, c * ti->q, X[i] + c * ti->q, ti->q, g);
    }
    return ss;
}

int evm__lmm_predvar(evm_lmm *m, int k, const double *x, int64_t ldx, const double *z,
                     double *est, double *var, double *condvar, evm_ctx *c)
{
    if (!m || !m->fitted || k < 0 || k >= m->K || !z || (m->p > 0 && !x))
        return evm__fail(c, EVM_ERR_ARG, "evm__lmm_predvar: no fitted model, term or weights");
    if (m->K - k > 8)
        return evm__fail(c, EVM_ERR_ARG, "evm__lmm_predvar: more than 8 terms below term %d", k);
    if (evm__lmm_restore(m) < 0)
        return evm__fail(c, EVM_ERR_NUMERIC, "cannot refactor the model at its estimates");
    const evm__term *tk = &m->t[k];
    const int q = tk->q, p = m->p, K = m->K;
    const double s2 = m->sigma * m->sigma;
    const int nested = chain_nested(m, k);
    double a[8] = {0}, W[8][64];
    int64_t lev[8];
    double **X = NULL;
    double *g = evm__malloc((size_t)(p ? p : 1), sizeof *g);
    int status = EVM_ERR_NOMEM;
    if (!g) goto cleanup;
    if (!nested) {
        if (!(X = evm__calloc((size_t)K, sizeof *X))) goto cleanup;
        for (int i = k; i < K; i++)
            if (!(X[i] = evm__malloc((size_t)m->t[i].n, sizeof(double)))) goto cleanup;
    }
    /* a = Tᵀz: z'b = z'T u */
    for (int j = 0; j < q; j++)
        for (int i = j; i < q; i++) a[j] += tk->T[i + j * q] * z[i];
    for (int64_t l = 0; l < tk->nl; l++) {
        const double *xl = x ? x + l * ldx : NULL;
        for (int r = 0; r < p; r++) g[r] = xl[r];
        const double ww = nested ? wnorm_nested(m, k, l, a, g, W, lev)
                                 : wnorm_general(m, k, l, a, g, X);
        if (p > 0) evm__trsm_left_ln(p, 1, m->LXX, m->px, g, p);
        double gg = 0.0, e = 0.0;
        for (int r = 0; r < p; r++) gg += g[r] * g[r], e += xl[r] * m->beta[r];
        for (int i = 0; i < q; i++) e += z[i] * m->b[k][l * q + i];
        if (est) est[l] = e;
        if (var) var[l] = s2 * (ww + gg);
        if (condvar) condvar[l] = s2 * ww;
    }
    status = EVM_OK;
cleanup:
    if (X)
        for (int i = k; i < K; i++) free(X[i]);
    free(X);
    free(g);
    if (status == EVM_ERR_NOMEM) evm__fail(c, status, "out of memory computing prediction variances");
    return status;
}

/* ---------------------------------------------------------------- θ̂'s share */
#define EVM__KH_STEP 1e-3      /* relative central-difference step in θ */
#define EVM__KH_BOUND 1e-4     /* θ elements this close to their bound 0 are held fixed */

/* x'β̂(θ) + z'b̂ₗ(θ) for every level at the current factor (after evm__lmm_postfit). */
static void predictions(const evm_lmm *m, int k, const double *x, int64_t ldx,
                        const double *z, double *est)
{
    const int q = m->t[k].q, p = m->p;
    for (int64_t l = 0; l < m->t[k].nl; l++) {
        double v = 0.0;
        for (int r = 0; r < p; r++) v += x[l * ldx + r] * m->beta[r];
        for (int j = 0; j < q; j++) v += z[j] * m->b[k][l * q + j];
        est[l] = v;
    }
}

static int postfit_at(evm_lmm *m, const double *theta, evm_ctx *c)
{
    if (!isfinite(evm__lmm_factor(m, theta)))
        return evm__fail(c, EVM_ERR_NUMERIC, "cannot factor the model near its estimates");
    return evm__lmm_postfit(m, c);
}

int evm__lmm_predvar_theta(evm_lmm *m, int k, const double *x, int64_t ldx, const double *z,
                           double *extra, evm_ctx *c)
{
    if (!m || !m->fitted || k < 0 || k >= m->K || !z || !extra || (m->p > 0 && !x))
        return evm__fail(c, EVM_ERR_ARG, "evm__lmm_predvar_theta: no fitted model or weights");
    const int nt = m->ntheta;
    const int64_t nl = m->t[k].nl;
    for (int64_t l = 0; l < nl; l++) extra[l] = 0.0;
    int *fr = evm__malloc((size_t)nt, sizeof *fr);
    double *h = evm__malloc((size_t)nt, sizeof *h), *th = evm__malloc((size_t)nt, sizeof *th);
    double *H = evm__calloc((size_t)nt * nt, sizeof *H);
    double *G = evm__malloc((size_t)nt * (size_t)nl, sizeof *G);
    double *e2 = evm__malloc((size_t)nl, sizeof *e2);
    int st = EVM_OK, nf = 0;
    if (!fr || !h || !th || !H || !G || !e2) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    for (int i = 0; i < nt; i++) {
        const double t = m->theta[i], step = EVM__KH_STEP * (fabs(t) > 0.05 ? fabs(t) : 0.05);
        if (m->lower[i] == 0.0 && (t < EVM__KH_BOUND || t - step < 0.0)) continue;
        h[nf] = step;
        fr[nf++] = i;
    }
    if (nf == 0 || nf > 64) goto restore;
    /* Hessian of the objective in the free elements, by central differences */
    memcpy(th, m->theta, sizeof(double) * nt);
    const double f0 = evm__lmm_factor(m, th);
    for (int a = 0; a < nf && st == EVM_OK; a++)
        for (int b = 0; b <= a; b++) {
            double f[4];
            const double sa[4] = {1, 1, -1, -1}, sb[4] = {1, -1, 1, -1};
            for (int s = 0; s < 4; s++) {
                memcpy(th, m->theta, sizeof(double) * nt);
                th[fr[a]] += sa[s] * h[a];
                if (b != a) th[fr[b]] += sb[s] * h[b];
                f[s] = (a == b && (s == 1 || s == 2)) ? f0 : evm__lmm_factor(m, th);
            }
            const double v = a == b ? (f[0] - 2.0 * f0 + f[3]) / (h[a] * h[a])
                                    : (f[0] - f[1] - f[2] + f[3]) / (4.0 * h[a] * h[b]);
            if (!isfinite(v)) st = 1;
            H[a + b * nf] = H[b + a * nf] = v;
        }
    if (st != EVM_OK || evm__potrf(nf, H, nf) != 0) {   /* not a minimum in every direction */
        st = 1;
        goto restore;
    }
    /* the predictions' gradient in the free elements */
    for (int a = 0; a < nf && st == EVM_OK; a++) {
        memcpy(th, m->theta, sizeof(double) * nt);
        th[fr[a]] = m->theta[fr[a]] + h[a];
        if ((st = postfit_at(m, th, c)) < 0) goto restore;
        predictions(m, k, x, ldx, z, G + (int64_t)a * nl);
        th[fr[a]] = m->theta[fr[a]] - h[a];
        if ((st = postfit_at(m, th, c)) < 0) goto restore;
        predictions(m, k, x, ldx, z, e2);
        for (int64_t l = 0; l < nl; l++)
            G[a * nl + l] = (G[a * nl + l] - e2[l]) / (2.0 * h[a]);
    }
    /* g'(2H⁻¹)g = 2‖L⁻¹g‖² with H = LLᵀ */
    for (int64_t l = 0; l < nl; l++) {
        double w[64], s = 0.0;
        for (int a = 0; a < nf && a < 64; a++) {
            double v = G[a * nl + l];
            for (int b = 0; b < a; b++) v -= H[a + b * nf] * w[b];
            w[a] = v / H[a + a * nf];
            s += w[a] * w[a];
        }
        extra[l] = 2.0 * s;
    }
restore:
    if (st >= 0) {
        const int r = postfit_at(m, m->theta, c);
        if (r < 0) st = r;
    }
cleanup:
    free(fr), free(h), free(th), free(H), free(G), free(e2);
    return st;
}
