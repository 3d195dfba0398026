/* factor.c — one evaluation of the profiled objective: scale the stored cross-product
 * blocks by Λ(θ), factor blockwise, read the objective off the diagonal.
 * Cost per evaluation: O(Σ levels·q²·p + p³) for nested designs, independent of n. */
#include "lmm_internal.h"

#include "internal.h"
#include "linalg/linalg.h"
#include "par/par.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static void set_T(evm_lmm *m, const double *theta)
{
    for (int k = 0; k < m->K; k++) {
        evm__term *t = &m->t[k];
        const int q = t->q;
        int o = t->theta_off;
        memset(t->T, 0, sizeof(double) * q * q);
        for (int j = 0; j < q; j++)
            for (int i = j; i < q; i++) t->T[i + j * q] = theta[o++];
    }
}

/* out (qi×qk) = Tiᵀ A Tk for a qi×qk block A. */
static void scale_block(int qi, int qk, const double *Ti, const double *A, const double *Tk,
                        double *out)
{
    if (qi == 1 && qk == 1) {
        out[0] = Ti[0] * A[0] * Tk[0];
        return;
    }
    double tmp[64];   /* A Tk, qi×qk ≤ 8×8 handled here; larger terms are rare */
    double *at = qi * qk <= 64 ? tmp : out;  /* fall back: compute in place row by row */
    if (at == out) {
        /* generic, slower: out = Tiᵀ (A Tk) computed entry by entry */
        for (int a = 0; a < qi; a++)
            for (int b = 0; b < qk; b++) {
                double s = 0.0;
                for (int r = a; r < qi; r++)
                    for (int c = b; c < qk; c++) s += Ti[r + a * qi] * A[r + c * qi] * Tk[c + b * qk];
                out[a + b * qi] = s;
            }
        return;
    }
    for (int r = 0; r < qi; r++)
        for (int b = 0; b < qk; b++) {
            double s = 0.0;
            for (int c = b; c < qk; c++) s += A[r + c * qi] * Tk[c + b * qk];
            at[r + b * qi] = s;
        }
    for (int a = 0; a < qi; a++)
        for (int b = 0; b < qk; b++) {
            double s = 0.0;
            for (int r = a; r < qi; r++) s += Ti[r + a * qi] * at[r + b * qi];
            out[a + b * qi] = s;
        }
}

/* C (ni×nk, ldc) -= B1 (ni×qj) B2ᵀ (B2: nk×qj); B1 with leading dim ld1, B2 with ld2. */
static void sub_outer(int ni, int nk, int qj, const double *B1, int64_t ld1, const double *B2,
                      int64_t ld2, double *C, int64_t ldc)
{
    for (int b = 0; b < nk; b++)
        for (int a = 0; a < ni; a++) {
            double s = 0.0;
            for (int l = 0; l < qj; l++) s += B1[a + l * ld1] * B2[b + l * ld2];
            C[a + b * ldc] -= s;
        }
}

/* M (rows × n_k, ldm) -= Left Rightᵀ where Left (rows × n_j) is either dense (ld, with
 * q_i = rows per "level" irrelevant) or the block `lo` of term i, and Right is block (k,j).
 * Handles every combination of NESTED/SPARSE/DENSE. */
static void sub_product(double *M, int64_t ldm, int64_t rows, const evm__offblk *lo,
                        const double *Ld, int64_t ldl, int qi, const evm__offblk *ro,
                        const evm__term *tj, const evm__term *tk)
{
    const int qj = tj->q, qk = tk->q;
    const int dense_left = lo == NULL || lo->type == EVM__BLK_DENSE;
    if (lo && lo->type == EVM__BLK_DENSE) Ld = lo->L, ldl = rows;
    if (ro->type == EVM__BLK_DENSE) {
        if (dense_left) {
            evm__gemm_nt_sub(rows, tk->n, tj->n, Ld, ldl, ro->L, tk->n, M, ldm);
            return;
        }
        for (int64_t c = 0; c < tj->nl; c++)
            for (int64_t e = lo->colptr[c]; e < lo->colptr[c + 1]; e++)
                sub_outer(qi, (int)tk->n, qj, lo->L + e * qi * qj, qi, ro->L + c * qj * tk->n,
                          tk->n, M + lo->rowlev[e] * qi, ldm);
        return;
    }
    if (!dense_left && qi == 1 && qj == 1 && qk == 1) {   /* scalar terms: the common case */
        for (int64_t c = 0; c < tj->nl; c++)
            for (int64_t f = ro->colptr[c]; f < ro->colptr[c + 1]; f++) {
                const double rv = ro->L[f];
                double *Mc = M + ro->rowlev[f] * ldm;
                for (int64_t e = lo->colptr[c]; e < lo->colptr[c + 1]; e++)
                    Mc[lo->rowlev[e]] -= lo->L[e] * rv;
            }
        return;
    }
    if (dense_left && qj == 1 && qk == 1) {
        for (int64_t c = 0; c < tj->nl; c++) {
            const double *Lc = Ld + c * ldl;
            for (int64_t f = ro->colptr[c]; f < ro->colptr[c + 1]; f++) {
                const double rv = ro->L[f];
                double *Mc = M + ro->rowlev[f] * ldm;
                for (int64_t r = 0; r < rows; r++) Mc[r] -= Lc[r] * rv;
            }
        }
        return;
    }
    for (int64_t c = 0; c < tj->nl; c++)
        for (int64_t f = ro->colptr[c]; f < ro->colptr[c + 1]; f++) {
            const double *C = ro->L + f * qk * qj;
            double *Mc = M + ro->rowlev[f] * qk * ldm;
            if (dense_left) {
                sub_outer((int)rows, qk, qj, Ld + c * qj * ldl, ldl, C, qk, Mc, ldm);
            } else {
                for (int64_t e = lo->colptr[c]; e < lo->colptr[c + 1]; e++)
                    sub_outer(qi, qk, qj, lo->L + e * qi * qj, qi, C, qk,
                              Mc + lo->rowlev[e] * qi, ldm);
            }
        }
}

/* Lower triangle of the dense D (n×n) -= B Bᵀ for a SPARSE block B (rows of the dense
 * term with q columns per level, columns of term j).  Row levels are sorted within each
 * column (structure.c), so only pairs e >= f are visited.  Column rf of D takes, through
 * the block's row index, the columns of B with an entry in row rf, in ascending order —
 * the writes stay in one column of D, and each entry of D gets its updates in the same
 * order whatever the number of threads; task t does the columns of D of row levels
 * [bound[t], bound[t+1]). */
typedef struct {
    double *D;
    int64_t n;
    const evm__offblk *ob;
    const evm__term *tj;
    int q;
    int64_t *bound;   /* [ntasks + 1] row-level boundaries, balanced for a triangle */
} symsub_job;

static void sub_sym_task(void *arg, int t)
{
    const symsub_job *s = arg;
    const evm__offblk *ob = s->ob;
    const int q = s->q, qj = s->tj->q;
    const int64_t n = s->n;
    for (int64_t rf = s->bound[t]; rf < s->bound[t + 1]; rf++) {
        double *Dc = s->D + rf * q * n;
        for (int64_t x = ob->rowptr[rf]; x < ob->rowptr[rf + 1]; x++) {
            const int64_t f = ob->rowent[x], e1 = ob->colptr[ob->rowcol[x] + 1];
            if (q == 1 && qj == 1) {
                const double rv = ob->L[f];
                for (int64_t e = f; e < e1; e++) Dc[ob->rowlev[e]] -= ob->L[e] * rv;
                continue;
            }
            for (int64_t e = f; e < e1; e++)
                sub_outer(q, q, qj, ob->L + e * q * qj, q, ob->L + f * q * qj, q,
                          Dc + ob->rowlev[e] * q, n);
        }
    }
}

static void sub_sym_sparse(double *D, int64_t n, const evm__offblk *ob, const evm__term *tj, int q,
                           int threads)
{
    enum { TASKS = 16, SERIAL_BELOW = 32768 };   /* entries of B: small blocks stay serial */
    int64_t bound[TASKS + 1];
    if (ob->colptr[tj->nl] < SERIAL_BELOW) threads = 1;
    const int64_t nlev = n / q;
    /* boundaries at equal areas of the lower triangle: column j carries ~ (nlev - j) */
    for (int t = 0; t <= TASKS; t++)
        bound[t] = nlev - (int64_t)((double)nlev * sqrt(1.0 - (double)t / TASKS) + 0.5);
    bound[TASKS] = nlev;
    symsub_job s = {D, n, ob, tj, q, bound};
    evm__parallel_for(TASKS, threads, sub_sym_task, &s);
}

/* B (rows × n_k, ldb) <- B L_kkᵀ⁻¹ */
static void right_solve(const evm__term *tk, double *B, int64_t rows, int64_t ldb, int threads)
{
    if (tk->dense) {
        evm__trsm_right_lt_par(rows, tk->n, tk->L, tk->n, B, ldb, threads);
        return;
    }
    const int q = tk->q;
    if (q == 1) {
        for (int64_t c = 0; c < tk->nl; c++) {
            const double d = 1.0 / tk->L[c];
            double *col = B + c * ldb;
            for (int64_t r = 0; r < rows; r++) col[r] *= d;
        }
        return;
    }
    for (int64_t c = 0; c < tk->nl; c++)
        evm__rsolve_lt_small(rows, q, tk->L + c * q * q, B + c * q * ldb, ldb);
}

/* The first term's levels are independent of each other (nothing is subtracted from
 * them), so its per-level work runs in fixed chunks of levels on the model's threads;
 * every value is computed the same way whatever the number of threads. */
#define EVM__LEVEL_CHUNK 8192
typedef struct {
    evm_lmm *m;
    const evm__term *tk;
    evm__offblk *ob;
    double tt;
    atomic_int bad;
} chunk_job;

static void chunk_range(int t, int64_t n, int64_t *c0, int64_t *c1)
{
    *c0 = (int64_t)t * EVM__LEVEL_CHUNK;
    *c1 = n - *c0 < EVM__LEVEL_CHUNK ? n : *c0 + EVM__LEVEL_CHUNK;
}

static void run_chunks(chunk_job *j, int64_t n, void (*fn)(void *, int))
{
    const int tasks = (int)((n + EVM__LEVEL_CHUNK - 1) / EVM__LEVEL_CHUNK);
    evm__parallel_for(tasks, j->m->threads, fn, j);
}

static void diag0_task(void *arg, int t)
{
    chunk_job *j = arg;
    const evm__term *tk = j->tk;
    int64_t c0, c1;
    chunk_range(t, tk->nl, &c0, &c1);
    const double t2 = tk->T[0] * tk->T[0];
    for (int64_t c = c0; c < c1; c++) {
        const double d = t2 * tk->A[c] + 1.0;
        if (!(d > 0.0)) j->bad = 1;
        tk->L[c] = sqrt(d);
    }
}

static void below0_task(void *arg, int t)
{
    chunk_job *j = arg;
    const evm__term *tk = j->tk;
    evm__offblk *ob = j->ob;
    int64_t c0, c1;
    chunk_range(t, tk->nl, &c0, &c1);
    for (int64_t c = c0; c < c1; c++) {
        const double d = tk->L[c];
        for (int64_t e = ob->colptr[c]; e < ob->colptr[c + 1]; e++)
            ob->L[e] = j->tt * ob->A[e] / d;
    }
}

static void xrows0_task(void *arg, int t)
{
    chunk_job *j = arg;
    const evm__term *tk = j->tk;
    const int px = j->m->px;
    int64_t c0, c1;
    chunk_range(t, tk->nl, &c0, &c1);
    const double th = tk->T[0];
    for (int64_t c = c0; c < c1; c++) {
        const double f = th / tk->L[c];
        const double *in = tk->AX + c * px;
        double *out = tk->LX + c * px;
        for (int r = 0; r < px; r++) out[r] = in[r] * f;
    }
}

static int factor_diag(evm_lmm *m, int k)
{
    evm__term *tk = &m->t[k];
    const int q = tk->q;
    if (!tk->dense && q == 1 && k == 0) {   /* first scalar term: independent levels */
        chunk_job j = {m, tk, NULL, 0, 0};
        run_chunks(&j, tk->nl, diag0_task);
        return j.bad ? -1 : 0;
    }
    if (!tk->dense && q == 1) {   /* scalar random intercepts: the common case */
        const double t2 = tk->T[0] * tk->T[0];
        for (int64_t c = 0; c < tk->nl; c++) tk->L[c] = t2 * tk->A[c] + 1.0;
        for (int j = 0; j < k; j++) {
            const evm__offblk *kj = evm__off(m, k, j);
            if (m->t[j].q == 1)
                for (int64_t c = 0; c < m->t[j].nl; c++) tk->L[kj->rowlev[c]] -= kj->L[c] * kj->L[c];
            else
                for (int64_t c = 0; c < m->t[j].nl; c++)
                    sub_outer(1, 1, m->t[j].q, kj->L + c * m->t[j].q, 1, kj->L + c * m->t[j].q, 1,
                              tk->L + kj->rowlev[c], 1);
        }
        for (int64_t c = 0; c < tk->nl; c++) {
            if (!(tk->L[c] > 0.0)) return -1;
            tk->L[c] = sqrt(tk->L[c]);
        }
        return 0;
    }
    if (!tk->dense) {
        for (int64_t c = 0; c < tk->nl; c++) {
            double *D = tk->L + c * q * q;
            scale_block(q, q, tk->T, tk->A + c * q * q, tk->T, D);
            for (int a = 0; a < q; a++) D[a + a * q] += 1.0;
        }
        for (int j = 0; j < k; j++) {   /* all NESTED by construction */
            const evm__offblk *kj = evm__off(m, k, j);
            const int qj = m->t[j].q;
            for (int64_t c = 0; c < m->t[j].nl; c++)
                sub_outer(q, q, qj, kj->L + c * q * qj, q, kj->L + c * q * qj, q,
                          tk->L + kj->rowlev[c] * q * q, q);
        }
        for (int64_t c = 0; c < tk->nl; c++)
            if (evm__chol_small(q, tk->L + c * q * q)) return -1;
        return 0;
    }
    const int64_t n = tk->n;
    memset(tk->L, 0, sizeof(double) * n * n);
    for (int64_t c = 0; c < tk->nl; c++) {
        double D[64], *Dp = D;
        if (q * q > 64) return -1;
        scale_block(q, q, tk->T, tk->A + c * q * q, tk->T, Dp);
        for (int b = 0; b < q; b++)
            for (int a = 0; a < q; a++)
                tk->L[(c * q + a) + (c * q + b) * n] = D[a + b * q] + (a == b);
    }
    for (int j = 0; j < k; j++) {
        const evm__offblk *kj = evm__off(m, k, j);
        if (kj->type == EVM__BLK_DENSE)
            evm__syrk_sub(n, m->t[j].n, kj->L, n, tk->L, n);
        else
            sub_sym_sparse(tk->L, n, kj, &m->t[j], q, m->threads);
    }
    return evm__potrf_par(n, tk->L, n, m->threads) ? -1 : 0;
}

static void factor_below(evm_lmm *m, int i, int k)
{
    evm__offblk *ob = evm__off(m, i, k);
    const evm__term *ti = &m->t[i], *tk = &m->t[k];
    const int qi = ti->q, qk = tk->q, qq = qi * qk;
    if (ob->type != EVM__BLK_DENSE && qq == 1 && k == 0) {   /* independent columns */
        chunk_job j = {m, tk, ob, ti->T[0] * tk->T[0], 0};
        run_chunks(&j, tk->nl, below0_task);
        return;
    }
    if (ob->type != EVM__BLK_DENSE && qq == 1) {   /* scalar terms */
        const double tt = ti->T[0] * tk->T[0];
        for (int64_t e = 0; e < ob->colptr[tk->nl]; e++) ob->L[e] = tt * ob->A[e];
        if (ob->type == EVM__BLK_NESTED)
            for (int j = 0; j < k; j++) {
                const evm__offblk *ij = evm__off(m, i, j), *kj = evm__off(m, k, j);
                const int qj = m->t[j].q;
                for (int64_t c = 0; c < m->t[j].nl; c++) {
                    double s = 0.0;
                    for (int l = 0; l < qj; l++) s += ij->L[c * qj + l] * kj->L[c * qj + l];
                    ob->L[kj->rowlev[c]] -= s;
                }
            }
        for (int64_t c = 0; c < tk->nl; c++) {
            const double d = tk->L[c];
            for (int64_t e = ob->colptr[c]; e < ob->colptr[c + 1]; e++) ob->L[e] /= d;
        }
        return;
    }
    if (ob->type != EVM__BLK_DENSE) {
        for (int64_t e = 0; e < ob->colptr[tk->nl]; e++)
            scale_block(qi, qk, ti->T, ob->A + e * qq, tk->T, ob->L + e * qq);
        if (ob->type == EVM__BLK_NESTED)
            for (int j = 0; j < k; j++) {
                const evm__offblk *ij = evm__off(m, i, j), *kj = evm__off(m, k, j);
                const int qj = m->t[j].q;
                for (int64_t c = 0; c < m->t[j].nl; c++)
                    sub_outer(qi, qk, qj, ij->L + c * qi * qj, qi, kj->L + c * qk * qj, qk,
                              ob->L + kj->rowlev[c] * qq, qi);
            }
        for (int64_t c = 0; c < tk->nl; c++)
            for (int64_t e = ob->colptr[c]; e < ob->colptr[c + 1]; e++) {
                if (qq == 1) ob->L[e] /= tk->L[c];
                else evm__rsolve_lt_small(qi, qk, tk->L + c * qk * qk, ob->L + e * qq, qi);
            }
        return;
    }
    const int64_t ni = ti->n;
    memset(ob->L, 0, sizeof(double) * ni * tk->n);
    for (int64_t c = 0; c < tk->nl; c++)
        for (int64_t e = ob->colptr[c]; e < ob->colptr[c + 1]; e++) {
            double B[64];
            if (qq > 64) continue;
            scale_block(qi, qk, ti->T, ob->A + e * qq, tk->T, B);
            for (int b = 0; b < qk; b++)
                for (int a = 0; a < qi; a++)
                    ob->L[(ob->rowlev[e] * qi + a) + (c * qk + b) * ni] = B[a + b * qi];
        }
    for (int j = 0; j < k; j++)
        sub_product(ob->L, ni, ni, evm__off(m, i, j), NULL, 0, qi, evm__off(m, k, j), &m->t[j],
                    tk);
    right_solve(tk, ob->L, ni, ni, m->threads);
}

static void factor_xrows(evm_lmm *m, int k)
{
    evm__term *tk = &m->t[k];
    const int q = tk->q, px = m->px;
    if (q == 1 && k == 0 && !tk->dense) {   /* first scalar term: scale and solve in one pass */
        chunk_job j = {m, tk, NULL, 0, 0};
        run_chunks(&j, tk->nl, xrows0_task);
        return;
    }
    if (q == 1) {
        const double t = tk->T[0];
        for (int64_t a = 0; a < tk->nl * px; a++) tk->LX[a] = tk->AX[a] * t;
    } else
    for (int64_t c = 0; c < tk->nl; c++)
        for (int b = 0; b < q; b++) {
            double *out = tk->LX + (c * q + b) * px;
            for (int r = 0; r < px; r++) out[r] = 0.0;
            for (int a = b; a < q; a++) {
                const double tab = tk->T[a + b * q];
                const double *in = tk->AX + (c * q + a) * px;
                for (int r = 0; r < px; r++) out[r] += in[r] * tab;
            }
        }
    for (int j = 0; j < k; j++)
        sub_product(tk->LX, px, px, NULL, m->t[j].LX, px, 0, evm__off(m, k, j), &m->t[j], tk);
    right_solve(tk, tk->LX, px, px, m->threads);
}

/* LXX -= LX LXᵀ over the term's columns: one BLAS call for small terms; for long terms,
 * partial products of fixed chunks of columns on the threads, subtracted in chunk order
 * (the same sums whatever the number of threads). */
typedef struct {
    const evm__term *tk;
    int px;
    double *part;   /* [tasks][px * px] */
} lxx_job;

static void lxx_task(void *arg, int t)
{
    const lxx_job *j = arg;
    const int64_t c0 = (int64_t)t * EVM__LEVEL_CHUNK;
    const int64_t w = j->tk->n - c0 < EVM__LEVEL_CHUNK ? j->tk->n - c0 : EVM__LEVEL_CHUNK;
    double *P = j->part + (int64_t)t * j->px * j->px;
    memset(P, 0, sizeof(double) * j->px * j->px);
    evm__syrk_add(j->px, w, j->tk->LX + c0 * j->px, j->px, P, j->px);
}

static int sub_lx_products(evm_lmm *m, const evm__term *tk)
{
    const int px = m->px;
    const int tasks = (int)((tk->n + EVM__LEVEL_CHUNK - 1) / EVM__LEVEL_CHUNK);
    if (tasks < 2) {
        evm__syrk_sub(px, tk->n, tk->LX, px, m->LXX, px);
        return 0;
    }
    lxx_job j = {tk, px, evm__malloc((size_t)tasks * px * px, sizeof(double))};
    if (!j.part) return -1;
    evm__parallel_for(tasks, m->threads, lxx_task, &j);
    for (int t = 0; t < tasks; t++)
        for (int b = 0; b < px; b++)
            for (int a = b; a < px; a++)
                m->LXX[a + b * px] -= j.part[(int64_t)t * px * px + a + b * px];
    free(j.part);
    return 0;
}

/* Σ log of the diagonal of L_kk, as the log of a product kept in range with frexp (one
 * log per term instead of one per level). */
static double log_diag_product(const evm__term *tk)
{
    const int q = tk->q;
    const int64_t nd = tk->dense ? tk->n : tk->nl * q;
    double mant = 1.0;
    long expo = 0;
    for (int64_t d = 0; d < nd; d++) {
        const double v = tk->dense ? tk->L[d + d * tk->n]
                                   : tk->L[(d / q) * q * q + (d % q) * (q + 1)];
        int e;
        mant *= frexp(v, &e);
        expo += e;
        if (mant < 1e-200) {   /* renormalise before underflow */
            mant = frexp(mant, &e);
            expo += e;
        }
    }
    return log(mant) + (double)expo * M_LN2;
}

double evm__lmm_factor(evm_lmm *m, const double *theta)
{
    const int K = m->K, px = m->px, p = m->p;
    const double n = (double)m->mf->n;
    m->last_ok = 0;
    set_T(m, theta);
    double logdetL = 0.0;
    for (int k = 0; k < K; k++) {
        evm__term *tk = &m->t[k];
        if (factor_diag(m, k)) return HUGE_VAL;
        for (int i = k + 1; i < K; i++) factor_below(m, i, k);
        factor_xrows(m, k);
        logdetL += log_diag_product(tk);
    }
    memcpy(m->LXX, m->AXX, sizeof(double) * px * px);
    for (int k = 0; k < K; k++)
        if (sub_lx_products(m, &m->t[k])) return HUGE_VAL;
    if (evm__potrf(px, m->LXX, px)) return HUGE_VAL;
    double logdetRX = 0.0;
    for (int a = 0; a < p; a++) logdetRX += log(m->LXX[a + a * px]);
    const double r = m->LXX[p + p * px];
    m->logdetL = 2.0 * logdetL;
    m->logdetRX = 2.0 * logdetRX;
    m->pwrss = r * r;
    const double dof = m->opts.reml ? n - p : n;
    double obj = m->logdetL + dof * (1.0 + log(2.0 * M_PI * m->pwrss / dof)) - m->sumlogw;
    if (m->opts.reml) obj += m->logdetRX;
    if (!isfinite(obj)) return HUGE_VAL;
    m->last_ok = 1;
    return obj;
}
