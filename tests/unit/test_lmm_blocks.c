/* test_lmm_blocks.c — the blocked Cholesky against a brute-force dense computation.
 *
 * For random designs that exercise every block type (nested, sparse, dense fill; random
 * slopes; several terms on one factor; weights), the objective, the conditional modes
 * and the conditional variances from the blocked factorisation must equal those from one
 * dense Cholesky of the whole penalised system [ΛᵀZᵀWZΛ+I, ΛᵀZᵀWX̃; X̃ᵀWZΛ, X̃ᵀWX̃] at random
 * θ (an oracle that shares no code with the blocked path).  Model frames are built by
 * hand so that this test covers engine/lmm alone. */
#include "check.h"
#include "handframe.h"
#include "internal.h"
#include "lmm/lmm_internal.h"

#include <lapacke.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Dense oracle: objective, modes b (concatenated in term order of m->t) and the diagonal
 * of Var(b|y), from one Cholesky of the full penalised system. */
static double dense_oracle(evm_lmm *m, const double *theta, double *b, double *vdiag)
{
    const evm__modelframe *mf = m->mf;
    const int64_t n = mf->n;
    int64_t nz = 0;
    for (int k = 0; k < m->K; k++) nz += m->t[k].n;
    const int p = mf->p, px = p + 1;
    const int64_t N = nz + px;
    double *G = calloc(n * N, sizeof(double));   /* rows: √w [ZΛ X y] */
    int64_t off = 0;
    for (int k = 0; k < m->K; k++) {
        const evm__term *t = &m->t[k];
        const evm__reterm *re = &mf->re[t->src];
        const int q = t->q;
        int o = t->theta_off;
        double T[64] = {0};
        for (int j = 0; j < q; j++)
            for (int i = j; i < q; i++) T[i + j * q] = theta[o++];
        for (int64_t r = 0; r < n; r++)
            for (int b2 = 0; b2 < q; b2++) {
                double s = 0;
                for (int a = b2; a < q; a++) s += re->Z[r + a * n] * T[a + b2 * q];
                G[r + (off + re->codes[r] * q + b2) * n] = s;
            }
        off += t->n;
    }
    for (int64_t r = 0; r < n; r++) {
        for (int j = 0; j < p; j++) G[r + (nz + j) * n] = mf->X[r + j * n];
        G[r + (nz + p) * n] = mf->y[r];
        const double sw = mf->w ? sqrt(mf->w[r]) : 1.0;
        for (int64_t c = 0; c < N; c++) G[r + c * n] *= sw;
    }
    double *M = calloc(N * N, sizeof(double));
    for (int64_t a = 0; a < N; a++)
        for (int64_t c = 0; c <= a; c++) {
            double s = 0;
            for (int64_t r = 0; r < n; r++) s += G[r + a * n] * G[r + c * n];
            M[a + c * N] = M[c + a * N] = s;
        }
    for (int64_t a = 0; a < nz; a++) M[a + a * N] += 1.0;
    double *Mzz = malloc(sizeof(double) * nz * nz);
    for (int64_t a = 0; a < nz; a++)
        for (int64_t c = 0; c < nz; c++) Mzz[a + c * nz] = M[a + c * N];
    double *L = malloc(sizeof(double) * N * N);
    memcpy(L, M, sizeof(double) * N * N);
    LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', N, L, N);
    double ldL = 0, ldRX = 0;
    for (int64_t a = 0; a < nz; a++) ldL += 2 * log(L[a + a * N]);
    for (int64_t a = nz; a < nz + p; a++) ldRX += 2 * log(L[a + a * N]);
    const double pwrss = L[(N - 1) + (N - 1) * N] * L[(N - 1) + (N - 1) * N];
    double slw = 0;
    for (int64_t r = 0; r < n && mf->w; r++) slw += log(mf->w[r]);
    const double dof = m->opts.reml ? n - p : n;
    double obj = ldL + dof * (1 + log(2 * M_PI * pwrss / dof)) - slw + (m->opts.reml ? ldRX : 0);
    /* [u; β] = (top-left block)⁻¹ rhs */
    const int64_t nb = nz + p;
    double *sol = malloc(sizeof(double) * nb);
    for (int64_t a = 0; a < nb; a++) sol[a] = M[a + (N - 1) * N];
    double *Mt = malloc(sizeof(double) * nb * nb);
    for (int64_t a = 0; a < nb; a++)
        for (int64_t c = 0; c < nb; c++) Mt[a + c * nb] = M[a + c * N];
    LAPACKE_dposv(LAPACK_COL_MAJOR, 'L', nb, 1, Mt, nb, sol, nb);
    LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', nz, Mzz, nz);
    LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', nz, Mzz, nz);
    const double s2 = pwrss / dof;
    off = 0;
    for (int k = 0; k < m->K; k++) {
        const evm__term *t = &m->t[k];
        const int q = t->q;
        int o = t->theta_off;
        double T[64] = {0};
        for (int j = 0; j < q; j++)
            for (int i = j; i < q; i++) T[i + j * q] = theta[o++];
        for (int64_t l = 0; l < t->nl; l++)
            for (int a = 0; a < q; a++) {
                double s = 0, v = 0;
                for (int c = 0; c <= a; c++) s += T[a + c * q] * sol[off + l * q + c];
                for (int c = 0; c <= a; c++)
                    for (int e = 0; e <= a; e++) {
                        int64_t i1 = off + l * q + c, i2 = off + l * q + e;
                        double mij = i1 >= i2 ? Mzz[i1 + i2 * nz] : Mzz[i2 + i1 * nz];
                        v += T[a + c * q] * mij * T[a + e * q];
                    }
                b[off + l * q + a] = s;
                vdiag[off + l * q + a] = s2 * v;
            }
        off += t->n;
    }
    free(G), free(M), free(Mzz), free(L), free(sol), free(Mt);
    return obj;
}

static void run_design(const char *name, const hf_design *d, int64_t n, int p, int reml)
{
    evm_ctx *c = evm_ctx_create();
    evm_lmm *m = calloc(1, sizeof *m);
    evm_lmm_opts_default(&m->opts);
    m->opts.reml = reml;
    m->mf = hf_make_frame(d, n, p);
    CHECK_INT(evm__lmm_build(m, c), 0);
    /* objective at several random θ */
    double *theta = malloc(sizeof(double) * m->ntheta);
    for (int rep = 0; rep < 3; rep++) {
        for (int i = 0; i < m->ntheta; i++)
            theta[i] = m->lower[i] == 0 ? 0.2 + 1.5 * hf_unif() : 0.8 * (hf_unif() - 0.5);
        double *bd = calloc(10000, sizeof(double)), *vd = calloc(10000, sizeof(double));
        const double got = evm_lmm_objective(m, theta, c);
        const double want = dense_oracle(m, theta, bd, vd);
        CHECK_REL(got, want, 1e-10, 1.0);
        free(bd), free(vd);
    }
    /* fitted modes and conditional variances */
    int st = evm_lmm_fit(m, c);
    CHECK(st >= 0);
    double *bd = calloc(10000, sizeof(double)), *vd = calloc(10000, sizeof(double));
    const double want = dense_oracle(m, m->theta, bd, vd);
    CHECK_REL(m->objective, want, 1e-10, 1.0);
    CHECK_REL(evm_lmm_objective(m, m->theta, c), m->objective, 1e-13, 1.0);
    int64_t off = 0, bad = 0;
    for (int k = 0; k < m->K; k++) {
        const evm__term *t = &m->t[k];
        for (int64_t j = 0; j < t->n; j++) {
            const double v = m->condvar[k][(j / t->q) * t->q * t->q + (j % t->q) * (t->q + 1)];
            if (fabs(m->b[k][j] - bd[off + j]) > 1e-7 * (1 + fabs(bd[off + j]))) bad++;
            if (fabs(v - vd[off + j]) > 1e-7 * (1 + fabs(vd[off + j]))) bad++;
        }
        off += t->n;
    }
    CHECK_INT(bad, 0);
    printf("%s: %d terms, block types:", name, m->K);
    for (int k = 0; k < m->K; k++) {
        printf(" [%s", m->t[k].dense ? "D" : "B");
        for (int i = k + 1; i < m->K; i++) printf(" %d", evm__off(m, i, k)->type);
        printf("]");
    }
    printf(" objective %.6f\n", m->objective);
    evm__modelframe *mf = m->mf;
    m->mf = NULL;
    evm_lmm_destroy(&m);
    hf_free_frame(mf);
    free(theta), free(bd), free(vd);
    evm_ctx_destroy(&c);
}

int main(void)
{
    /* 3-level nesting with a slope on the middle level: every block nested.  The top
     * term's sums come from the bottom term's per-level sums (structure.c, sum_levels and
     * nested_cross: same columns, nested levels), without and with weights. */
    hf_design nested = {3, {36, 9, 3}, {1, 2, 1}, {1, 2, -1}, {-1, -1, -1}, 0};
    hf_design nested_w = {3, {36, 9, 3}, {1, 2, 1}, {1, 2, -1}, {-1, -1, -1}, 1};
    /* crossed: sparse under the first term, dense fill below */
    hf_design crossed = {3, {30, 24, 8}, {1, 1, 2}, {-1, 2, -1}, {-1, -1, -1}, 0};
    /* crossed with a random slope on the first term: its conditional variances come from
     * the gather over the inverse of the dense tail (postfit.c, condvar_dense_tail) */
    hf_design crossed_slope = {3, {40, 15, 6}, {2, 1, 1}, {-1, -1, -1}, {-1, -1, -1}, 1};
    /* (x || g) with a crossed factor, weighted */
    hf_design zerocorr = {3, {25, 25, 6}, {1, 1, 1}, {-1, -1, -1}, {-1, 0, -1}, 1};
    /* nested factor under a crossed first term: mixes NESTED and DENSE */
    hf_design mixed = {4, {50, 20, 12, 4}, {1, 2, 1, 1}, {-1, 3, -1, -1}, {-1, -1, -1, -1}, 1};
    run_design("nested_reml", &nested, 400, 3, 1);
    run_design("nested_ml", &nested, 400, 3, 0);
    run_design("nested_weighted_reml", &nested_w, 400, 3, 1);
    run_design("crossed_reml", &crossed, 400, 2, 1);
    run_design("crossed_slope_weighted_reml", &crossed_slope, 400, 2, 1);
    run_design("zerocorr_weighted_ml", &zerocorr, 300, 2, 0);
    run_design("mixed_weighted_reml", &mixed, 500, 3, 1);
    return check_summary("test_lmm_blocks");
}
