/* postfit.c — quantities computed once, after convergence: β, σ, Var(β), the
 * conditional modes b = Λu and the conditional variances σ²Λ(LLᵀ)⁻¹Λᵀ (diagonal blocks,
 * as lme4's ranef(condVar = TRUE)), and the scaled residuals' quantiles. */
#include "lmm_internal.h"

#include "internal.h"
#include "linalg/linalg.h"
#include "par/par.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Work budget for a batch of columns of L⁻¹ in the dense path (doubles). */
#define EVM__CONDVAR_BATCH_DOUBLES ((int64_t)8 * 1024 * 1024)

static int fixed_effects(evm_lmm *m)
{
    const int p = m->p, px = m->px;
    const double n = (double)m->mf->n;
    m->sigma = sqrt(m->pwrss / (m->opts.reml ? n - p : n));
    if (p == 0) return EVM_OK;
    for (int a = 0; a < p; a++) m->beta[a] = m->LXX[p + a * px];
    evm__trsm_left_lt(p, 1, m->LXX, px, m->beta, p);
    double *R = m->vcov;
    for (int b = 0; b < p; b++)
        for (int a = 0; a < p; a++) R[a + b * p] = a >= b ? m->LXX[a + b * px] : 0.0;
    if (LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', p, R, p) != 0) return EVM_ERR_NUMERIC;
    const double s2 = m->sigma * m->sigma;
    for (int b = 0; b < p; b++)
        for (int a = b; a < p; a++) {
            R[a + b * p] *= s2;
            R[b + a * p] = R[a + b * p];
        }
    return EVM_OK;
}

/* v_k -= L_ikᵀ u_i */
static void sub_transpose_times(const evm__offblk *ob, const evm__term *ti, const evm__term *tk,
                                const double *ui, double *vk)
{
    const int qi = ti->q, qk = tk->q;
    if (ob->type == EVM__BLK_DENSE) {
        for (int64_t col = 0; col < tk->n; col++) {
            double s = 0.0;
            const double *lc = ob->L + col * ti->n;
            for (int64_t r = 0; r < ti->n; r++) s += lc[r] * ui[r];
            vk[col] -= s;
        }
        return;
    }
    for (int64_t c = 0; c < tk->nl; c++)
        for (int64_t e = ob->colptr[c]; e < ob->colptr[c + 1]; e++) {
            const double *B = ob->L + e * qi * qk, *u = ui + ob->rowlev[e] * qi;
            for (int b = 0; b < qk; b++) {
                double s = 0.0;
                for (int a = 0; a < qi; a++) s += B[a + b * qi] * u[a];
                vk[c * qk + b] -= s;
            }
        }
}

static int conditional_modes(evm_lmm *m, double **u)
{
    const int K = m->K, p = m->p, px = m->px;
    for (int k = K - 1; k >= 0; k--) {
        const evm__term *tk = &m->t[k];
        double *v = u[k];
        for (int64_t col = 0; col < tk->n; col++) {
            const double *lx = tk->LX + col * px;
            double s = lx[p];
            for (int a = 0; a < p; a++) s -= lx[a] * m->beta[a];
            v[col] = s;
        }
        for (int i = k + 1; i < K; i++) sub_transpose_times(evm__off(m, i, k), &m->t[i], tk, u[i], v);
        if (tk->dense) evm__trsm_left_lt(tk->n, 1, tk->L, tk->n, v, tk->n);
        else
            for (int64_t c = 0; c < tk->nl; c++)
                evm__solve_lt_small(tk->q, tk->L + c * tk->q * tk->q, v + c * tk->q);
    }
    for (int k = 0; k < K; k++) {
        const evm__term *tk = &m->t[k];
        const int q = tk->q;
        for (int64_t c = 0; c < tk->nl; c++)
            for (int a = 0; a < q; a++) {
                double s = 0.0;
                for (int b = 0; b <= a; b++) s += tk->T[a + b * q] * u[k][c * q + b];
                m->b[k][c * q + a] = s;
            }
    }
    return EVM_OK;
}

/* Var(b_c | y) = σ² T G Tᵀ for the q×q Gram block G of L⁻¹'s columns of level c. */
static void store_condvar(evm_lmm *m, int k, int64_t c, const double *G)
{
    const evm__term *tk = &m->t[k];
    const int q = tk->q;
    const double s2 = m->sigma * m->sigma;
    double *V = m->condvar[k] + c * q * q;
    /* V = T G Tᵀ */
    for (int a = 0; a < q; a++)
        for (int b = 0; b < q; b++) {
            double s = 0.0;
            for (int r = 0; r <= a; r++)
                for (int t = 0; t <= b; t++) s += tk->T[a + r * q] * G[r + t * q] * tk->T[b + t * q];
            V[a + b * q] = s2 * s;
        }
}

/* Nested path: every block below term k is block-diagonal or nested, so the column of L⁻¹
 * for a level of k has one nonzero q×q block per later term (its ancestor level). */
static int chain_is_nested(const evm_lmm *m, int k)
{
    if (m->K - k > 8) return 0;   /* fixed-size workspace in condvar_nested */
    for (int i = k; i < m->K; i++) {
        if (m->t[i].dense) return 0;
        for (int j = k; j < i; j++)
            if (evm__off(m, i, j)->type != EVM__BLK_NESTED) return 0;
    }
    return 1;
}

static void condvar_nested(evm_lmm *m, int k)
{
    const evm__term *tk = &m->t[k];
    const int qk = tk->q, K = m->K;
    double X[8][64], G[64];
    int64_t lev[8];
    for (int64_t c = 0; c < tk->nl; c++) {
        /* X_k = L_kk[c]⁻¹ */
        for (int a = 0; a < qk * qk; a++) X[k][a] = 0.0;
        for (int a = 0; a < qk; a++) {
            X[k][a + a * qk] = 1.0;
            evm__solve_ln_small(qk, tk->L + c * qk * qk, X[k] + a * qk);
        }
        lev[k] = c;
        for (int i = k + 1; i < K; i++) {
            const evm__term *ti = &m->t[i];
            const int qi = ti->q;
            lev[i] = evm__off(m, i, i - 1)->rowlev[lev[i - 1]];
            for (int a = 0; a < qi * qk; a++) X[i][a] = 0.0;
            for (int j = k; j < i; j++) {
                const int qj = m->t[j].q;
                const double *B = evm__off(m, i, j)->L + lev[j] * qi * qj;
                for (int b = 0; b < qk; b++)
                    for (int a = 0; a < qi; a++) {
                        double s = 0.0;
                        for (int l = 0; l < qj; l++) s += B[a + l * qi] * X[j][l + b * qj];
                        X[i][a + b * qi] -= s;
                    }
            }
            for (int b = 0; b < qk; b++)
                evm__solve_ln_small(qi, ti->L + lev[i] * qi * qi, X[i] + b * qi);
        }
        for (int a = 0; a < qk * qk; a++) G[a] = 0.0;
        for (int i = k; i < K; i++) {
            const int qi = m->t[i].q;
            for (int b = 0; b < qk; b++)
                for (int a = 0; a < qk; a++) {
                    double s = 0.0;
                    for (int r = 0; r < qi; r++) s += X[i][r + a * qi] * X[i][r + b * qi];
                    G[a + b * qk] += s;
                }
        }
        store_condvar(m, k, c, G);
    }
}

/* X_i (n_i × mcols) -= L_ij X_j for any block type of L_ij. */
static void sub_block_times(const evm__offblk *ob, const evm__term *ti, const evm__term *tj,
                            const double *Xj, double *Xi, int64_t mcols)
{
    const int qi = ti->q, qj = tj->q;
    if (ob->type == EVM__BLK_DENSE) {
        for (int64_t col = 0; col < mcols; col++)
            for (int64_t l = 0; l < tj->n; l++) {
                const double x = Xj[l + col * tj->n];
                if (x == 0.0) continue;
                const double *lc = ob->L + l * ti->n;
                double *out = Xi + col * ti->n;
                for (int64_t r = 0; r < ti->n; r++) out[r] -= lc[r] * x;
            }
        return;
    }
    for (int64_t c = 0; c < tj->nl; c++)
        for (int64_t e = ob->colptr[c]; e < ob->colptr[c + 1]; e++) {
            const double *B = ob->L + e * qi * qj;
            const int64_t r0 = ob->rowlev[e] * qi;
            for (int64_t col = 0; col < mcols; col++) {
                const double *x = Xj + c * qj + col * tj->n;
                double *out = Xi + r0 + col * ti->n;
                for (int l = 0; l < qj; l++) {
                    if (x[l] == 0.0) continue;
                    for (int a = 0; a < qi; a++) out[a] -= B[a + l * qi] * x[l];
                }
            }
        }
}

static void left_solve(const evm__term *t, double *X, int64_t mcols, int threads)
{
    if (t->dense) {
        evm__trsm_left_ln_par(t->n, mcols, t->L, t->n, X, t->n, threads);
        return;
    }
    for (int64_t col = 0; col < mcols; col++)
        for (int64_t c = 0; c < t->nl; c++)
            evm__solve_ln_small(t->q, t->L + c * t->q * t->q, X + c * t->q + col * t->n);
}

/* X_i (n_i × nb·q_k) -= L_ik X_k where X_k is block-diagonal: level c0+l of term k has the
 * q_k×q_k block Kinv[l] in columns l·q_k.. (term k's diagonal is block-diagonal). */
static void sub_block_times_bd(const evm__offblk *ob, const evm__term *ti, const evm__term *tk,
                               int64_t c0, int64_t nb, const double *Kinv, double *Xi)
{
    const int qi = ti->q, qk = tk->q;
    for (int64_t l = 0; l < nb; l++) {
        const int64_t c = c0 + l;
        const double *K = Kinv + l * qk * qk;
        if (ob->type == EVM__BLK_DENSE) {
            for (int b = 0; b < qk; b++) {
                double *out = Xi + (l * qk + b) * ti->n;
                for (int a = b; a < qk; a++) {
                    const double kab = K[a + b * qk];
                    const double *lc = ob->L + (c * qk + a) * ti->n;
                    for (int64_t r = 0; r < ti->n; r++) out[r] -= lc[r] * kab;
                }
            }
            continue;
        }
        for (int64_t e = ob->colptr[c]; e < ob->colptr[c + 1]; e++) {
            const double *B = ob->L + e * qi * qk;
            for (int b = 0; b < qk; b++) {
                double *out = Xi + ob->rowlev[e] * qi + (l * qk + b) * ti->n;
                for (int a = b; a < qk; a++)
                    for (int r = 0; r < qi; r++) out[r] -= B[r + a * qi] * K[a + b * qk];
            }
        }
    }
}

/* Dense path (crossed designs): columns of L⁻¹ for a batch of levels of term k, as dense
 * panels of the later terms (BLAS-3 solves); term k's own part stays block-diagonal when
 * its diagonal block is. */
static int condvar_dense(evm_lmm *m, int k)
{
    const evm__term *tk = &m->t[k];
    const int qk = tk->q, K = m->K;
    int64_t rows = 0;
    for (int i = k; i < K; i++) rows += m->t[i].n;
    int64_t batch = EVM__CONDVAR_BATCH_DOUBLES / (rows * qk);
    if (batch < 1) batch = 1;
    if (batch > tk->nl) batch = tk->nl;
    double **X = evm__calloc((size_t)K, sizeof *X);
    double *Kinv = evm__malloc((size_t)(batch * qk * qk), sizeof(double));
    int status = EVM_ERR_NOMEM;
    if (!X || !Kinv) goto cleanup;
    for (int i = tk->dense ? k : k + 1; i < K; i++)
        if (!(X[i] = evm__malloc((size_t)(m->t[i].n * batch * qk), sizeof(double)))) goto cleanup;
    for (int64_t c0 = 0; c0 < tk->nl; c0 += batch) {
        const int64_t nb = tk->nl - c0 < batch ? tk->nl - c0 : batch, mcols = nb * qk;
        if (tk->dense) {
            memset(X[k], 0, sizeof(double) * tk->n * mcols);
            for (int64_t l = 0; l < nb; l++)
                for (int a = 0; a < qk; a++) X[k][(c0 + l) * qk + a + (l * qk + a) * tk->n] = 1.0;
            left_solve(tk, X[k], mcols, m->threads);
        } else {
            for (int64_t l = 0; l < nb; l++) {   /* Kinv[l] = L_kk[c0+l]⁻¹ */
                double *Kl = Kinv + l * qk * qk;
                memset(Kl, 0, sizeof(double) * qk * qk);
                for (int a = 0; a < qk; a++) {
                    Kl[a + a * qk] = 1.0;
                    evm__solve_ln_small(qk, tk->L + (c0 + l) * qk * qk, Kl + a * qk);
                }
            }
        }
        for (int i = k + 1; i < K; i++) {
            memset(X[i], 0, sizeof(double) * m->t[i].n * mcols);
            if (tk->dense) sub_block_times(evm__off(m, i, k), &m->t[i], tk, X[k], X[i], mcols);
            else sub_block_times_bd(evm__off(m, i, k), &m->t[i], tk, c0, nb, Kinv, X[i]);
            for (int j = k + 1; j < i; j++)
                sub_block_times(evm__off(m, i, j), &m->t[i], &m->t[j], X[j], X[i], mcols);
            left_solve(&m->t[i], X[i], mcols, m->threads);
        }
        for (int64_t l = 0; l < nb; l++) {
            double G[64] = {0};
            for (int i = tk->dense ? k : k + 1; i < K; i++) {
                const int64_t ni = m->t[i].n;
                for (int b = 0; b < qk; b++)
                    for (int a = 0; a < qk; a++) {
                        const double *xa = X[i] + (l * qk + a) * ni, *xb = X[i] + (l * qk + b) * ni;
                        double s = 0.0;
                        for (int64_t r = 0; r < ni; r++) s += xa[r] * xb[r];
                        G[a + b * qk] += s;
                    }
            }
            if (!tk->dense) {   /* the block-diagonal part: Kinvᵀ Kinv */
                const double *Kl = Kinv + l * qk * qk;
                for (int b = 0; b < qk; b++)
                    for (int a = 0; a < qk; a++)
                        for (int r = 0; r < qk; r++) G[a + b * qk] += Kl[r + a * qk] * Kl[r + b * qk];
            }
            store_condvar(m, k, c0 + l, G);
        }
    }
    status = EVM_OK;
cleanup:
    if (X)
        for (int i = k; i < K; i++) free(X[i]);
    free(X);
    free(Kinv);
    return status;
}

/* Crossed designs whose last terms are all dense (InstEval: students, then instructors
 * and departments).  With T the trailing dense terms and L_T their factor, the inverse
 * Σ_T⁻¹ = (L_T L_Tᵀ)⁻¹ (LAPACK's potri, once) holds the conditional variances of every
 * term in T on its diagonal, and for a level c of the term just before T, whose column
 * block of L⁻¹ is [K_c; −L_T⁻¹ B_c K_c] with K_c = L_kk[c]⁻¹ and B_c its few nonzero rows
 * below,  G = K_cᵀK_c + K_cᵀ (B_cᵀ Σ_T⁻¹ B_c) K_c  is a gather over those rows — instead
 * of one dense triangular solve per level.  Returns 1 when the path does not apply (no
 * dense tail, or its inverse would be larger than EVM__TAIL_MAX columns), -1 when out of
 * memory, 0 when the conditional variances of terms k0 - 1 (when it qualifies) to K - 1
 * are stored; *first is the first term done. */
#define EVM__TAIL_MAX 4096
static int condvar_dense_tail(evm_lmm *m, int *first)
{
    const int K = m->K;
    int k0 = K;
    while (k0 > 1 && m->t[k0 - 1].dense) k0--;
    if (k0 == K) return 1;
    int64_t nT = 0;
    for (int i = k0; i < K; i++) nT += m->t[i].n;
    if (nT > EVM__TAIL_MAX) return 1;
    int64_t *off = evm__malloc((size_t)K, sizeof *off);
    double *S = evm__calloc((size_t)(nT * nT), sizeof(double));
    if (!off || !S) {
        free(off), free(S);
        return -1;
    }
    for (int i = k0, o = 0; i < K; i++) off[i] = o, o += (int)m->t[i].n;
    for (int i = k0; i < K; i++) {   /* assemble L_T (lower), then Σ_T⁻¹ in place */
        const evm__term *ti = &m->t[i];
        for (int64_t b = 0; b < ti->n; b++)
            memcpy(S + (off[i] + b) + (off[i] + b) * nT, ti->L + b + b * ti->n,
                   sizeof(double) * (size_t)(ti->n - b));
        for (int j = k0; j < i; j++) {
            const evm__offblk *ob = evm__off(m, i, j);
            for (int64_t b = 0; b < m->t[j].n; b++)
                memcpy(S + off[i] + (off[j] + b) * nT, ob->L + b * ti->n,
                       sizeof(double) * (size_t)ti->n);
        }
    }
    if (LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', (lapack_int)nT, S, (lapack_int)nT) != 0) {
        free(off), free(S);
        return 1;
    }
    for (int i = k0; i < K; i++) {
        const evm__term *ti = &m->t[i];
        const int q = ti->q;
        for (int64_t c = 0; c < ti->nl; c++) {
            double G[64];
            const int64_t r0 = off[i] + c * q;
            for (int b = 0; b < q; b++)
                for (int a = 0; a < q; a++)
                    G[a + b * q] = a >= b ? S[(r0 + a) + (r0 + b) * nT] : S[(r0 + b) + (r0 + a) * nT];
            store_condvar(m, i, c, G);
        }
    }
    *first = k0;
    const int k = k0 - 1;
    const evm__term *tk = &m->t[k];
    const int qk = tk->q;
    int64_t rows = 0;   /* nonzero rows below a level of k, at most */
    for (int i = k0; i < K; i++) {
        const evm__offblk *ob = evm__off(m, i, k);
        if (ob->type == EVM__BLK_DENSE) goto done;
        int64_t most = 0;
        for (int64_t c = 0; c < tk->nl; c++)
            if (ob->colptr[c + 1] - ob->colptr[c] > most) most = ob->colptr[c + 1] - ob->colptr[c];
        rows += most * m->t[i].q;
    }
    int64_t *idx = evm__malloc((size_t)(rows ? rows : 1), sizeof *idx);
    double *B = evm__malloc((size_t)(rows ? rows * qk : 1), sizeof *B);
    double *SB = evm__malloc((size_t)(rows ? rows * qk : 1), sizeof *SB);
    if (!idx || !B || !SB) {
        free(idx), free(B), free(SB), free(off), free(S);
        return -1;
    }
    for (int64_t c = 0; c < tk->nl; c++) {
        int64_t mr = 0;   /* B_c: rows idx[0..mr) of the tail, qk columns (ld rows) */
        for (int i = k0; i < K; i++) {
            const evm__offblk *ob = evm__off(m, i, k);
            const int qi = m->t[i].q;
            for (int64_t e = ob->colptr[c]; e < ob->colptr[c + 1]; e++)
                for (int a = 0; a < qi; a++, mr++) {
                    idx[mr] = off[i] + ob->rowlev[e] * qi + a;
                    for (int l = 0; l < qk; l++) B[mr + l * rows] = ob->L[e * qi * qk + a + l * qi];
                }
        }
        for (int l = 0; l < qk; l++)   /* SB = Σ_T⁻¹[idx, idx] B_c */
            for (int64_t r = 0; r < mr; r++) {
                double sum = 0.0;
                for (int64_t t = 0; t < mr; t++) {
                    const int64_t x = idx[r], y = idx[t];
                    sum += (x >= y ? S[x + y * nT] : S[y + x * nT]) * B[t + l * rows];
                }
                SB[r + l * rows] = sum;
            }
        double Kc[64], H[64], G[64];
        memset(Kc, 0, sizeof(double) * qk * qk);
        for (int a = 0; a < qk; a++) {   /* K_c = L_kk[c]⁻¹ */
            Kc[a + a * qk] = 1.0;
            evm__solve_ln_small(qk, tk->L + c * qk * qk, Kc + a * qk);
        }
        for (int b = 0; b < qk; b++)   /* H = I + B_cᵀ Σ_T⁻¹ B_c */
            for (int a = 0; a < qk; a++) {
                double h = a == b;
                for (int64_t r = 0; r < mr; r++) h += B[r + a * rows] * SB[r + b * rows];
                H[a + b * qk] = h;
            }
        for (int b = 0; b < qk; b++)   /* G = K_cᵀ H K_c */
            for (int a = 0; a < qk; a++) {
                double g = 0.0;
                for (int r = 0; r < qk; r++)
                    for (int t = 0; t < qk; t++) g += Kc[r + a * qk] * H[r + t * qk] * Kc[t + b * qk];
                G[a + b * qk] = g;
            }
        store_condvar(m, k, c, G);
    }
    free(idx), free(B), free(SB);
    *first = k;
done:
    free(off), free(S);
    return 0;
}

/* Scaled (Pearson) residuals of rows [t·CHUNK, (t+1)·CHUNK), one cache-sized chunk per
 * task: each row's value is computed the same way whatever the thread count. */
#define EVM__RESID_CHUNK 16384
typedef struct {
    const evm_lmm *m;
    double *r;
} resid_job;

static void resid_task(void *arg, int t)
{
    const resid_job *j = arg;
    const evm_lmm *m = j->m;
    const evm__modelframe *mf = m->mf;
    const int64_t n = mf->n, r0 = (int64_t)t * EVM__RESID_CHUNK;
    const int64_t r1 = n - r0 < EVM__RESID_CHUNK ? n : r0 + EVM__RESID_CHUNK;
    double *r = j->r;
    for (int64_t i = r0; i < r1; i++) r[i] = mf->y[i];
    for (int a = 0; a < m->p; a++) {
        const double ba = m->beta[a], *x = mf->X + (int64_t)a * n;
        for (int64_t i = r0; i < r1; i++) r[i] -= x[i] * ba;
    }
    for (int k = 0; k < m->K; k++) {
        const evm__reterm *re = &mf->re[m->t[k].src];
        const int q = re->q;
        for (int a = 0; a < q; a++) {
            const double *z = re->Z + (int64_t)a * n, *bk = m->b[k] + a;
            for (int64_t i = r0; i < r1; i++) r[i] -= z[i] * bk[(int64_t)re->codes[i] * q];
        }
    }
    const double inv = 1.0 / m->sigma;
    for (int64_t i = r0; i < r1; i++) r[i] *= (mf->w ? sqrt(mf->w[i]) : 1.0) * inv;
}

static int residual_quantiles(evm_lmm *m)
{
    const int64_t n = m->mf->n;
    double *r = evm__malloc((size_t)n, sizeof *r);
    if (!r) return EVM_ERR_NOMEM;
    resid_job j = {m, r};
    evm__parallel_for((int)((n + EVM__RESID_CHUNK - 1) / EVM__RESID_CHUNK), m->threads,
                      resid_task, &j);
    evm__quartiles(r, n, m->resid_q);
    free(r);
    return EVM_OK;
}

int evm__lmm_postfit(evm_lmm *m, evm_ctx *c)
{
    const int K = m->K;
    int status = EVM_ERR_NOMEM;
    double **u = evm__calloc((size_t)(K ? K : 1), sizeof *u);
    if (!u) goto cleanup;
    free(m->beta);
    free(m->vcov);
    m->beta = evm__calloc((size_t)(m->p ? m->p : 1), sizeof(double));
    m->vcov = evm__calloc((size_t)(m->p ? m->p * m->p : 1), sizeof(double));
    if (!m->b) m->b = evm__calloc((size_t)(K ? K : 1), sizeof *m->b);
    if (!m->condvar) m->condvar = evm__calloc((size_t)(K ? K : 1), sizeof *m->condvar);
    if (!m->beta || !m->vcov || !m->b || !m->condvar) goto cleanup;
    for (int k = 0; k < K; k++) {
        const evm__term *t = &m->t[k];
        u[k] = evm__malloc((size_t)t->n, sizeof(double));
        if (!m->b[k]) m->b[k] = evm__malloc((size_t)t->n, sizeof(double));
        if (!m->condvar[k]) m->condvar[k] = evm__malloc((size_t)(t->nl * t->q * t->q), sizeof(double));
        if (!u[k] || !m->b[k] || !m->condvar[k]) goto cleanup;
    }
    if (fixed_effects(m)) {
        status = evm__fail(c, EVM_ERR_NUMERIC, "fixed-effects covariance matrix is singular");
        goto cleanup;
    }
    conditional_modes(m, u);
    int done_from = K;
    const int tail = condvar_dense_tail(m, &done_from);
    if (tail < 0) goto cleanup;
    for (int k = 0; k < done_from; k++) {
        if (chain_is_nested(m, k)) condvar_nested(m, k);
        else if (condvar_dense(m, k)) goto cleanup;
    }
    if (residual_quantiles(m)) goto cleanup;
    status = EVM_OK;
cleanup:
    if (u)
        for (int k = 0; k < K; k++) free(u[k]);
    free(u);
    if (status == EVM_ERR_NOMEM) evm__fail(c, status, "out of memory after the fit");
    return status;
}
