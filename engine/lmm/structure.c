/* structure.c — the one pass over the data: cross-product blocks of [Z X y]ᵀW[Z X y],
 * blocked by random-effects term, and the symbolic analysis that decides which blocks
 * of the Cholesky factor stay block-diagonal / nested and which fill in (dense). */
#include "lmm_internal.h"

#include "internal.h"
#include "linalg/linalg.h"
#include "par/par.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Dense blocks beyond this many doubles (~2 GB) would not fit the machines evalmix
 * targets; such crossed designs are refused with a message, not attempted. */
#define EVM__DENSE_MAX ((int64_t)256 * 1024 * 1024)
#define EVM__ROW_CHUNK 4096

/* Terms in lme4's order (mkReTrms): when some term has more levels than the one before
 * it, rev(order(nl)) — decreasing levels, ties in reverse formula order; otherwise the
 * formula order.  θ, VarCorr and ranef follow this order. */
static void sort_terms(const evm__modelframe *mf, int *order)
{
    const int K = mf->nre;
    int increase = 0;
    for (int i = 0; i < K; i++) order[i] = i;
    for (int i = 1; i < K; i++)
        if (mf->re[i].nlevels > mf->re[i - 1].nlevels) increase = 1;
    if (!increase) return;
    /* stable ascending insertion sort by levels, then reversed */
    for (int i = 1; i < K; i++)
        for (int j = i; j > 0 && mf->re[order[j - 1]].nlevels > mf->re[order[j]].nlevels; j--) {
            const int tmp = order[j];
            order[j] = order[j - 1];
            order[j - 1] = tmp;
        }
    for (int i = 0; i < K / 2; i++) {
        const int tmp = order[i];
        order[i] = order[K - 1 - i];
        order[K - 1 - i] = tmp;
    }
}

static double wt(const evm__modelframe *mf, int64_t r) { return mf->w ? mf->w[r] : 1.0; }

/* ZₖᵀWZₖ (per level) and X̃ᵀWZₖ. */
static void accumulate_term(const evm__modelframe *mf, const evm__reterm *re, evm__term *t,
                            int px)
{
    const int64_t n = mf->n;
    const int q = t->q, p = px - 1;
    for (int64_t r = 0; r < n; r++) {
        const int64_t lev = re->codes[r];
        const double w = wt(mf, r);
        double *A = t->A + lev * q * q;
        for (int b = 0; b < q; b++) {
            const double zb = w * re->Z[r + (int64_t)b * n];
            for (int a = 0; a < q; a++) A[a + b * q] += re->Z[r + (int64_t)a * n] * zb;
            double *ax = t->AX + (lev * q + b) * px;
            for (int j = 0; j < p; j++) ax[j] += mf->X[r + (int64_t)j * n] * zb;
            ax[p] += mf->y[r] * zb;
        }
    }
}

/* X̃ᵀWX̃ over rows [r0, r1) into a partial (lower triangle), by chunks of √w-scaled rows. */
static int accumulate_xx(const evm__modelframe *mf, int64_t r0, int64_t r1, double *AXX, int px)
{
    const int64_t n = mf->n;
    const int p = px - 1;
    double *buf = evm__malloc((size_t)EVM__ROW_CHUNK * (px + 1), sizeof *buf);
    if (!buf) return EVM_ERR_NOMEM;
    double *sw = buf + (int64_t)EVM__ROW_CHUNK * px;
    for (int64_t c0 = r0; c0 < r1; c0 += EVM__ROW_CHUNK) {
        const int64_t m = r1 - c0 < EVM__ROW_CHUNK ? r1 - c0 : EVM__ROW_CHUNK;
        if (mf->w)
            for (int64_t i = 0; i < m; i++) sw[i] = sqrt(mf->w[c0 + i]);
        for (int j = 0; j <= p; j++) {   /* column by column: contiguous copies */
            const double *x = (j < p ? mf->X + (int64_t)j * n : mf->y) + c0;
            double *b = buf + (int64_t)j * m;
            if (mf->w)
                for (int64_t i = 0; i < m; i++) b[i] = sw[i] * x[i];
            else
                memcpy(b, x, (size_t)m * sizeof *b);
        }
        evm__syrk_t_add(px, m, buf, m, AXX, px);   /* AXX += bufᵀ buf (lower) */
    }
    free(buf);
    return EVM_OK;
}

/* Sort the row levels within each column (insertion sort: columns are short), moving
 * their blocks along, so that later updates walk memory in order and symmetric updates
 * can visit only one triangle. */
static void sort_columns(evm__offblk *ob, int64_t nlk, int qq)
{
    double tmp[64];
    for (int64_t c = 0; c < nlk; c++)
        for (int64_t e = ob->colptr[c] + 1; e < ob->colptr[c + 1]; e++) {
            const int64_t key = ob->rowlev[e];
            memcpy(tmp, ob->A + e * qq, sizeof(double) * qq);
            int64_t f = e - 1;
            for (; f >= ob->colptr[c] && ob->rowlev[f] > key; f--) {
                ob->rowlev[f + 1] = ob->rowlev[f];
                memcpy(ob->A + (f + 1) * qq, ob->A + f * qq, sizeof(double) * qq);
            }
            ob->rowlev[f + 1] = key;
            memcpy(ob->A + (f + 1) * qq, tmp, sizeof(double) * qq);
        }
}

/* ZᵢᵀWZₖ as a block CSC over the levels of k (i > k).  Rows are visited level by level in
 * row order (counting sort), so every sum has a fixed order. */
static int build_cross(const evm__modelframe *mf, const evm__reterm *ri, const evm__term *ti,
                       const evm__reterm *rk, const evm__term *tk, evm__offblk *ob)
{
    const int64_t n = mf->n, nlk = tk->nl, nli = ti->nl;
    const int qi = ti->q, qk = tk->q, qq = qi * qk;
    int status = EVM_ERR_NOMEM;
    int64_t *start = evm__calloc((size_t)nlk + 1, sizeof *start);
    int64_t *perm = evm__malloc((size_t)n, sizeof *perm);
    int64_t *mark = evm__malloc((size_t)nli, sizeof *mark);
    ob->colptr = evm__calloc((size_t)nlk + 1, sizeof *ob->colptr);
    if (!start || !perm || !mark || !ob->colptr) goto cleanup;
    for (int64_t r = 0; r < n; r++) start[rk->codes[r] + 1]++;
    for (int64_t c = 0; c < nlk; c++) start[c + 1] += start[c];
    for (int64_t r = 0; r < n; r++) perm[start[rk->codes[r]]++] = r;
    for (int64_t c = nlk; c > 0; c--) start[c] = start[c - 1];
    start[0] = 0;
    /* pass 1: distinct row levels per column */
    for (int64_t l = 0; l < nli; l++) mark[l] = -1;
    for (int64_t c = 0; c < nlk; c++) {
        int64_t cnt = 0;
        for (int64_t s = start[c]; s < start[c + 1]; s++) {
            int64_t l = ri->codes[perm[s]];
            if (mark[l] != c) mark[l] = c, cnt++;
        }
        ob->colptr[c + 1] = ob->colptr[c] + cnt;
    }
    const int64_t nnz = ob->colptr[nlk];
    ob->rowlev = evm__malloc((size_t)nnz, sizeof *ob->rowlev);
    ob->A = evm__calloc((size_t)nnz * qq, sizeof *ob->A);
    if (!ob->rowlev || !ob->A) goto cleanup;
    /* pass 2: fill; mark[l] now holds the entry index of row level l in column c */
    for (int64_t l = 0; l < nli; l++) mark[l] = -1;
    for (int64_t c = 0; c < nlk; c++) {
        int64_t e = ob->colptr[c];
        const int64_t e0 = e;
        for (int64_t s = start[c]; s < start[c + 1]; s++) {
            const int64_t r = perm[s], l = ri->codes[r];
            if (mark[l] < e0) mark[l] = e, ob->rowlev[e++] = l;
            double *B = ob->A + mark[l] * qq;
            const double w = wt(mf, r);
            for (int b = 0; b < qk; b++) {
                const double zb = w * rk->Z[r + (int64_t)b * n];
                for (int a = 0; a < qi; a++) B[a + b * qi] += ri->Z[r + (int64_t)a * n] * zb;
            }
        }
    }
    sort_columns(ob, nlk, qq);
    status = EVM_OK;
cleanup:
    free(start);
    free(perm);
    free(mark);
    return status;
}

static int is_nested_pattern(const evm__offblk *ob, int64_t nlk)
{
    for (int64_t c = 0; c < nlk; c++)
        if (ob->colptr[c + 1] - ob->colptr[c] != 1) return 0;
    return 1;
}

/* Can block (i,k) keep the nested pattern of ZᵢᵀZₖ?  Needs term k block-diagonal, every
 * level of k inside one level of i, and the fill from each earlier j to land on it. */
static int stays_nested(const evm_lmm *m, int i, int k)
{
    const evm__offblk *ik = evm__off(m, i, k);
    if (m->t[k].dense || !is_nested_pattern(ik, m->t[k].nl)) return 0;
    for (int j = 0; j < k; j++) {
        const evm__offblk *ij = evm__off(m, i, j), *kj = evm__off(m, k, j);
        if (ij->type != EVM__BLK_NESTED || kj->type != EVM__BLK_NESTED) return 0;
        for (int64_t c = 0; c < m->t[j].nl; c++) {
            const int64_t li = ij->rowlev[c], lk = kj->rowlev[c];
            if (ik->rowlev[lk] != li) return 0;
        }
    }
    return 1;
}

/* The row index of a SPARSE block (a counting sort of its entries by row level; entries
 * are visited by column, so each row lists its columns in ascending order). */
static int index_rows(evm__offblk *ob, int64_t nlk, int64_t nli)
{
    const int64_t nnz = ob->colptr[nlk];
    ob->rowptr = evm__calloc((size_t)nli + 1, sizeof *ob->rowptr);
    ob->rowent = evm__malloc((size_t)(nnz ? nnz : 1), sizeof *ob->rowent);
    ob->rowcol = evm__malloc((size_t)(nnz ? nnz : 1), sizeof *ob->rowcol);
    if (!ob->rowptr || !ob->rowent || !ob->rowcol) return -1;
    for (int64_t e = 0; e < nnz; e++) ob->rowptr[ob->rowlev[e] + 1]++;
    for (int64_t l = 0; l < nli; l++) ob->rowptr[l + 1] += ob->rowptr[l];
    for (int64_t c = 0; c < nlk; c++)
        for (int64_t e = ob->colptr[c]; e < ob->colptr[c + 1]; e++) {
            const int64_t x = ob->rowptr[ob->rowlev[e]]++;
            ob->rowent[x] = e;
            ob->rowcol[x] = c;
        }
    for (int64_t l = nli; l > 0; l--) ob->rowptr[l] = ob->rowptr[l - 1];
    ob->rowptr[0] = 0;
    return 0;
}

static int64_t checked_mul(int64_t a, int64_t b)
{
    return (a > 0 && b > EVM__DENSE_MAX / a) ? -1 : a * b;
}

static int analyse_and_allocate(evm_lmm *m, evm_ctx *c)
{
    const int K = m->K;
    for (int k = 0; k < K; k++) {
        evm__term *tk = &m->t[k];
        tk->dense = 0;
        for (int j = 0; j < k; j++)
            if (evm__off(m, k, j)->type != EVM__BLK_NESTED) tk->dense = 1;
        int64_t sz = tk->dense ? checked_mul(tk->n, tk->n) : tk->nl * tk->q * tk->q;
        if (sz < 0)
            return evm__fail(c, EVM_ERR_MODEL,
                             "random-effects term for '%s' is crossed with an earlier term and "
                             "has %lld columns: its dense block would be too large",
                             m->mf->re[tk->src].group, (long long)tk->n);
        tk->L = evm__calloc((size_t)sz, sizeof(double));
        tk->LX = evm__calloc((size_t)tk->n * m->px, sizeof(double));
        if (!tk->L || !tk->LX) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        for (int i = k + 1; i < K; i++) {
            evm__offblk *ob = evm__off(m, i, k);
            const evm__term *ti = &m->t[i];
            if (stays_nested(m, i, k)) ob->type = EVM__BLK_NESTED;
            else if (k == 0) ob->type = EVM__BLK_SPARSE;
            else ob->type = EVM__BLK_DENSE;
            int64_t lsz = ob->type == EVM__BLK_DENSE ? checked_mul(ti->n, tk->n)
                                                     : ob->colptr[tk->nl] * ti->q * tk->q;
            if (lsz < 0)
                return evm__fail(c, EVM_ERR_MODEL,
                                 "random-effects terms for '%s' and '%s' are crossed and too "
                                 "large for a dense block (%lld x %lld)",
                                 m->mf->re[ti->src].group, m->mf->re[tk->src].group,
                                 (long long)ti->n, (long long)tk->n);
            ob->L = evm__calloc((size_t)lsz, sizeof(double));
            if (!ob->L || (ob->type == EVM__BLK_SPARSE && index_rows(ob, tk->nl, ti->nl)))
                return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        }
    }
    return EVM_OK;
}

static int setup_theta(evm_lmm *m)
{
    int nt = 0;
    for (int k = 0; k < m->K; k++) {
        m->t[k].theta_off = nt;
        nt += m->t[k].q * (m->t[k].q + 1) / 2;
    }
    m->ntheta = nt;
    m->theta = evm__malloc((size_t)nt, sizeof(double));
    m->lower = evm__malloc((size_t)nt, sizeof(double));
    if (!m->theta || !m->lower) return EVM_ERR_NOMEM;
    for (int k = 0; k < m->K; k++) {
        int o = m->t[k].theta_off, q = m->t[k].q;
        for (int j = 0; j < q; j++)
            for (int i = j; i < q; i++, o++) {
                m->theta[o] = i == j ? 1.0 : 0.0;   /* lme4's starting values */
                m->lower[o] = i == j ? 0.0 : -HUGE_VAL;
            }
    }
    return EVM_OK;
}

/* A coarser term i whose every level holds whole levels of a finer term k with the same
 * model-matrix columns (school over classroom in (1|school/classroom)) gets ZᵢᵀWZᵢ,
 * X̃ᵀWZᵢ and ZᵢᵀWZₖ from term k's per-level sums, without a pass over the rows.
 * nest_map gives map[level of k] = level of i, or NULL when some level of k meets two
 * levels of i (*status is set only when memory runs out). */
static int same_columns(const evm__reterm *a, const evm__reterm *b)
{
    if (a->q != b->q) return 0;
    for (int j = 0; j < a->q; j++)
        if (strcmp(a->colnames[j], b->colnames[j]) != 0) return 0;
    return 1;
}

static int32_t *nest_map(const evm__modelframe *mf, const evm__reterm *rk, int64_t nlk,
                         const evm__reterm *ri, int *status)
{
    int32_t *map = evm__malloc((size_t)nlk, sizeof *map);
    if (!map) {
        *status = EVM_ERR_NOMEM;
        return NULL;
    }
    for (int64_t l = 0; l < nlk; l++) map[l] = -1;
    for (int64_t r = 0; r < mf->n; r++) {
        int32_t *to = &map[rk->codes[r]];
        if (*to < 0) *to = ri->codes[r];
        else if (*to != ri->codes[r]) {
            free(map);
            return NULL;
        }
    }
    return map;
}

static void sum_levels(const evm_lmm *m, int i, int k, const int32_t *map)
{
    const evm__term *tk = &m->t[k];
    evm__term *ti = &m->t[i];
    const int qq = tk->q * tk->q, qp = tk->q * m->px;
    for (int64_t l = 0; l < tk->nl; l++) {
        const int64_t to = map[l];
        for (int a = 0; a < qq; a++) ti->A[to * qq + a] += tk->A[l * qq + a];
        for (int a = 0; a < qp; a++) ti->AX[to * qp + a] += tk->AX[l * qp + a];
    }
}

/* ZᵢᵀWZₖ of a nested pair: one entry per column, term k's own ZₖᵀWZₖ block. */
static int nested_cross(const evm_lmm *m, int i, int k, const int32_t *map)
{
    const evm__term *tk = &m->t[k];
    evm__offblk *ob = evm__off(m, i, k);
    const int64_t nlk = tk->nl, qq = (int64_t)tk->q * tk->q;
    ob->colptr = evm__malloc((size_t)nlk + 1, sizeof *ob->colptr);
    ob->rowlev = evm__malloc((size_t)(nlk ? nlk : 1), sizeof *ob->rowlev);
    ob->A = evm__malloc((size_t)(nlk ? nlk * qq : 1), sizeof *ob->A);
    if (!ob->colptr || !ob->rowlev || !ob->A) return EVM_ERR_NOMEM;
    for (int64_t c = 0; c <= nlk; c++) ob->colptr[c] = c;
    for (int64_t c = 0; c < nlk; c++) ob->rowlev[c] = map[c];
    memcpy(ob->A, tk->A, (size_t)(nlk * qq) * sizeof *ob->A);
    return EVM_OK;
}

/* The data pass as independent tasks (one per term, one per pair of terms, and a fixed
 * number of row slices of X̃ᵀWX̃ summed afterwards in slice order): the result does not
 * depend on the number of threads.  Terms summed from a finer term (and their pair with
 * it) have no task; their sums follow the pass. */
#define EVM__XX_SLICES 8

typedef struct {
    evm_lmm *m;
    const int *order;
    const int *from;   /* [K] the finer term a term is summed from, or -1 */
    int npairs;
    int (*pairs)[2];
    double *xx;   /* EVM__XX_SLICES partial px×px matrices */
    int *status;
} pass_job;

static void pass_task(void *arg, int task)
{
    pass_job *j = arg;
    evm_lmm *m = j->m;
    const evm__modelframe *mf = m->mf;
    const int K = m->K;
    int st = EVM_OK;
    if (task < K) {
        if (j->from[task] < 0)
            accumulate_term(mf, &mf->re[j->order[task]], &m->t[task], m->px);
    } else if (task < K + j->npairs) {
        const int i = j->pairs[task - K][0], k = j->pairs[task - K][1];
        if (j->from[i] != k)
            st = build_cross(mf, &mf->re[j->order[i]], &m->t[i], &mf->re[j->order[k]],
                             &m->t[k], evm__off(m, i, k));
    } else {
        const int s = task - K - j->npairs;
        const int64_t r0 = mf->n * s / EVM__XX_SLICES, r1 = mf->n * (s + 1) / EVM__XX_SLICES;
        st = accumulate_xx(mf, r0, r1, j->xx + (int64_t)s * m->px * m->px, m->px);
    }
    j->status[task] = st;
}

static int data_pass(evm_lmm *m, const int *order, int threads)
{
    const evm__modelframe *mf = m->mf;
    const int K = m->K, px = m->px;
    const int npairs = K * (K - 1) / 2, ntasks = K + npairs + EVM__XX_SLICES;
    int status = EVM_ERR_NOMEM;
    pass_job j = {m, order, NULL, npairs, NULL, NULL, NULL};
    int *from = evm__malloc((size_t)(K ? K : 1), sizeof *from);
    int32_t **map = evm__calloc((size_t)(K ? K : 1), sizeof *map);
    j.pairs = evm__malloc((size_t)(npairs ? npairs : 1), sizeof *j.pairs);
    j.xx = evm__calloc((size_t)EVM__XX_SLICES * px * px, sizeof(double));
    j.status = evm__calloc((size_t)ntasks, sizeof(int));
    if (!from || !map || !j.pairs || !j.xx || !j.status) goto cleanup;
    /* the term each term can be summed from: the nearest earlier one that nests it (terms
     * run from most levels down, so that is the one with the fewest levels) */
    for (int i = 0; i < K; i++) {
        from[i] = -1;
        for (int k = i - 1; k >= 0 && from[i] < 0; k--) {
            const evm__reterm *ri = &mf->re[order[i]], *rk = &mf->re[order[k]];
            if (!same_columns(ri, rk)) continue;
            int st = EVM_OK;
            map[i] = nest_map(mf, rk, m->t[k].nl, ri, &st);
            if (st) goto cleanup;
            if (map[i]) from[i] = k;
        }
    }
    j.from = from;
    int pi = 0;
    for (int k = 0; k < K; k++)
        for (int i = k + 1; i < K; i++) j.pairs[pi][0] = i, j.pairs[pi++][1] = k;
    evm__parallel_for(ntasks, threads, pass_task, &j);
    for (int t = 0; t < ntasks; t++)
        if (j.status[t]) goto cleanup;
    for (int i = 0; i < K; i++)   /* in term order: a term's source is complete before it */
        if (from[i] >= 0) {
            sum_levels(m, i, from[i], map[i]);
            if (nested_cross(m, i, from[i], map[i])) goto cleanup;
        }
    for (int s = 0; s < EVM__XX_SLICES; s++)
        for (int a = 0; a < px * px; a++) m->AXX[a] += j.xx[(int64_t)s * px * px + a];
    for (int a = 0; a < px; a++)
        for (int b = a + 1; b < px; b++) m->AXX[a + b * px] = m->AXX[b + a * px];
    status = EVM_OK;
cleanup:
    if (map)
        for (int i = 0; i < K; i++) free(map[i]);
    free(map);
    free(from);
    free(j.pairs);
    free(j.xx);
    free(j.status);
    return status;
}

int evm__lmm_build(evm_lmm *m, evm_ctx *c)
{
    const evm__modelframe *mf = m->mf;
    const int K = mf->nre;
    m->K = K;
    m->p = mf->p;
    m->px = mf->p + 1;
    int *order = evm__malloc((size_t)(K ? K : 1), sizeof *order);
    m->t = evm__calloc((size_t)(K ? K : 1), sizeof *m->t);
    m->off = evm__calloc((size_t)K * K + 1, sizeof *m->off);
    m->AXX = evm__calloc((size_t)m->px * m->px, sizeof(double));
    m->LXX = evm__calloc((size_t)m->px * m->px, sizeof(double));
    if (!order || !m->t || !m->off || !m->AXX || !m->LXX) goto nomem;
    sort_terms(mf, order);
    for (int k = 0; k < K; k++) {
        evm__term *t = &m->t[k];
        const evm__reterm *re = &mf->re[order[k]];
        t->src = order[k];
        if (re->q > 8) {
            free(order);
            return evm__fail(c, EVM_ERR_MODEL,
                             "random-effects term for '%s' has %d columns; at most 8 are "
                             "supported", re->group, re->q);
        }
        t->q = re->q;
        t->nl = re->nlevels;
        t->n = t->nl * t->q;
        t->T = evm__calloc((size_t)t->q * t->q, sizeof(double));
        t->A = evm__calloc((size_t)t->nl * t->q * t->q, sizeof(double));
        t->AX = evm__calloc((size_t)t->n * m->px, sizeof(double));
        if (!t->T || !t->A || !t->AX) goto nomem;
    }
    if (data_pass(m, order, evm_ctx_threads(c))) goto nomem;
    m->sumlogw = 0.0;
    if (mf->w)
        for (int64_t r = 0; r < mf->n; r++) m->sumlogw += log(mf->w[r]);
    free(order);
    order = NULL;
    int st = analyse_and_allocate(m, c);
    if (st) return st;
    if (setup_theta(m)) goto nomem;
    return EVM_OK;
nomem:
    free(order);
    return evm__fail(c, EVM_ERR_NOMEM, "out of memory while building the model");
}

void evm__lmm_free_blocks(evm_lmm *m)
{
    if (m->t)
        for (int k = 0; k < m->K; k++) {
            evm__term *t = &m->t[k];
            free(t->T);
            free(t->A);
            free(t->L);
            free(t->AX);
            free(t->LX);
        }
    if (m->off)
        for (int64_t i = 0; i < (int64_t)m->K * m->K; i++) {
            free(m->off[i].colptr);
            free(m->off[i].rowlev);
            free(m->off[i].rowptr);
            free(m->off[i].rowent);
            free(m->off[i].rowcol);
            free(m->off[i].A);
            free(m->off[i].L);
        }
    free(m->t);
    free(m->off);
    free(m->AXX);
    free(m->LXX);
    free(m->theta);
    free(m->lower);
    m->t = NULL;
    m->off = NULL;
    m->AXX = m->LXX = m->theta = m->lower = NULL;
}
