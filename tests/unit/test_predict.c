/* test_predict.c — prediction-error variances of x'β̂ + z'b̂ₗ (engine/lmm/predict.c)
 * against a brute-force dense computation: σ² aᵀM⁻¹a with a = [Λᵀz at level l; x] and M the
 * full penalised system [ΛᵀZᵀWZΛ+I, ΛᵀZᵀWX; XᵀWZΛ, XᵀWX] inverted densely.  Designs cover
 * the nested (O(levels)) path and the general path (sparse/dense fill, crossed factors),
 * random slopes, weights, per-level and shared x.  The condVar part must equal
 * z'Var(bₗ|y)z from m->condvar (lme4's ranef(condVar = TRUE)). */
#include "check.h"
#include "handframe.h"
#include "internal.h"
#include "lmm/lmm_internal.h"

#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Dense M⁻¹ (nz + p square) at the fitted θ̂; the u part in term order of m->t. */
static double *dense_inverse(evm_lmm *m, int64_t *Nout, int64_t *offs)
{
    const evm__modelframe *mf = m->mf;
    const int64_t n = mf->n;
    int64_t nz = 0;
    for (int k = 0; k < m->K; k++) offs[k] = nz, nz += m->t[k].n;
    const int p = mf->p;
    const int64_t N = nz + p;
    double *G = calloc(n * N, sizeof(double));
    for (int k = 0; k < m->K; k++) {
        const evm__term *t = &m->t[k];
        const evm__reterm *re = &mf->re[t->src];
        const int q = t->q;
        for (int64_t r = 0; r < n; r++)
            for (int b2 = 0; b2 < q; b2++) {
                double s = 0;
                for (int a = b2; a < q; a++) s += re->Z[r + a * n] * t->T[a + b2 * q];
                G[r + (offs[k] + re->codes[r] * q + b2) * n] = s;
            }
    }
    for (int64_t r = 0; r < n; r++) {
        for (int j = 0; j < p; j++) G[r + (nz + j) * n] = mf->X[r + j * n];
        const double sw = mf->w ? sqrt(mf->w[r]) : 1.0;
        for (int64_t cc = 0; cc < N; cc++) G[r + cc * n] *= sw;
    }
    double *M = calloc(N * N, sizeof(double));
    for (int64_t a = 0; a < N; a++)
        for (int64_t cc = 0; cc <= a; cc++) {
            double s = 0;
            for (int64_t r = 0; r < n; r++) s += G[r + a * n] * G[r + cc * n];
            M[a + cc * N] = M[cc + a * N] = s;
        }
    for (int64_t a = 0; a < nz; a++) M[a + a * N] += 1.0;
    LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', N, M, N);
    LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', N, M, N);
    for (int64_t a = 0; a < N; a++)
        for (int64_t cc = a + 1; cc < N; cc++) M[a + cc * N] = M[cc + a * N];
    free(G);
    *Nout = N;
    return M;
}

static void run_design(const char *name, const hf_design *d, int64_t n, int p, int reml)
{
    evm_ctx *c = evm_ctx_create();
    evm_lmm *m = calloc(1, sizeof *m);
    evm_lmm_opts_default(&m->opts);
    m->opts.reml = reml;
    m->mf = hf_make_frame(d, n, p);
    CHECK_INT(evm__lmm_build(m, c), 0);
    CHECK(evm_lmm_fit(m, c) >= 0);
    int64_t N, offs[8];
    double *Minv = dense_inverse(m, &N, offs);
    const int64_t nz = N - p;
    const double s2 = m->sigma * m->sigma;
    int64_t bad = 0, checked = 0;
    double worst = 0;
    for (int k = 0; k < m->K; k++) {
        const evm__term *t = &m->t[k];
        const int q = t->q;
        double z[8];
        for (int a = 0; a < q; a++) z[a] = hf_gauss();
        for (int shared = 0; shared < 2; shared++) {
            double *x = malloc(sizeof(double) * t->nl * p);
            for (int64_t i = 0; i < t->nl * p; i++) x[i] = hf_gauss();
            double *est = malloc(sizeof(double) * t->nl), *var = malloc(sizeof(double) * t->nl);
            double *cv = malloc(sizeof(double) * t->nl);
            CHECK_INT(evm__lmm_predvar(m, k, x, shared ? 0 : p, z, est, var, cv, c), 0);
            double *av = calloc(N, sizeof(double));
            for (int64_t l = 0; l < t->nl; l++) {
                const double *xl = x + (shared ? 0 : l * p);
                memset(av, 0, sizeof(double) * N);
                for (int j = 0; j < q; j++)   /* Λᵀz: T lower, (Tᵀz)_j = Σ_{i≥j} T_ij z_i */
                    for (int i = j; i < q; i++) av[offs[k] + l * q + j] += t->T[i + j * q] * z[i];
                for (int r = 0; r < p; r++) av[nz + r] = xl[r];
                double want = 0, wantcv = 0, e = 0;
                for (int64_t a = 0; a < N; a++)
                    for (int64_t b2 = 0; b2 < N; b2++) {
                        want += av[a] * Minv[a + b2 * N] * av[b2];
                    }
                want *= s2;
                /* conditional part from m->condvar */
                const double *V = m->condvar[k] + l * q * q;
                for (int a = 0; a < q; a++)
                    for (int b2 = 0; b2 < q; b2++) wantcv += z[a] * V[a + b2 * q] * z[b2];
                for (int r = 0; r < p; r++) e += xl[r] * m->beta[r];
                for (int a = 0; a < q; a++) e += z[a] * m->b[k][l * q + a];
                const double rel = fabs(var[l] - want) / fabs(want);
                if (rel > worst) worst = rel;
                if (rel > 1e-8) bad++;
                if (fabs(cv[l] - wantcv) > 1e-8 * fabs(wantcv)) bad++;
                if (fabs(est[l] - e) > 1e-12 * (1 + fabs(e))) bad++;
                if (!(var[l] >= cv[l] * (1 - 1e-12))) bad++;
                checked++;
            }
            free(av), free(x), free(est), free(var), free(cv);
        }
    }
    CHECK_INT(bad, 0);
    printf("%s: %lld predictions, worst relative error %.2e\n", name, (long long)checked, worst);
    free(Minv);
    evm__modelframe *mf = m->mf;
    m->mf = NULL;
    evm_lmm_destroy(&m);
    hf_free_frame(mf);
    evm_ctx_destroy(&c);
}

int main(void)
{
    /* 3-level nesting with a slope on the middle level: every block nested. */
    hf_design nested = {3, {36, 9, 3}, {1, 2, 1}, {1, 2, -1}, {-1, -1, -1}, 0};
    /* (1 + x | school) + (1 | school:classroom): the evaluation design */
    hf_design school = {2, {40, 8}, {1, 2}, {1, -1}, {-1, -1}, 1};
    /* crossed: sparse under the first term, dense fill below */
    hf_design crossed = {3, {30, 24, 8}, {1, 1, 2}, {-1, 2, -1}, {-1, -1, -1}, 0};
    /* nested factor under a crossed first term: mixes NESTED and DENSE */
    hf_design mixed = {4, {50, 20, 12, 4}, {1, 2, 1, 1}, {-1, 3, -1, -1}, {-1, -1, -1, -1}, 1};
    run_design("nested_reml", &nested, 400, 3, 1);
    run_design("school_weighted_ml", &school, 500, 3, 0);
    run_design("crossed_reml", &crossed, 400, 2, 1);
    run_design("mixed_weighted_reml", &mixed, 500, 3, 1);
    return check_summary("test_predict");
}
