/* bootstrap.c — parametric bootstrap as lme4's bootMer(type = "parametric",
 * use.u = FALSE), recording what confint(method = "boot") records.
 *
 * Replicate r simulates y* = Xβ̂ + Zb* + ε* with b* = σ̂ Λ̂ u*, u* ~ N(0, I) and
 * εᵢ* ~ N(0, σ̂²/wᵢ), and refits θ by the fit's criterion (REML or ML) with BOBYQA started
 * at θ̂, as lme4's refit(), with the fit's tolerances.  A refit that ends on the boundary
 * (some diagonal θ < 1e-4) is repeated from lme4's cold start θ = (1, 0, ...) and the
 * better optimum kept: on sleepstudy about 2% of refits are singular, and a warm start
 * alone was trapped at a boundary point (REML criterion 0.09 above the optimum) in 1 of
 * 2,000.  Only the response changes, so the symbolic structure and every y-free
 * cross-product block are shared with the fitted model; per replicate only the y row of
 * each X̃ᵀWZₖ and of X̃ᵀWX̃ is recomputed, O(n·(Σq + p)).
 *
 * Replicates run on `threads` threads, each with its own copy of the numeric blocks
 * (the factor, the y rows) and its own optimiser.  Replicate r draws from the random
 * stream (seed, r) only, starts from θ̂ and overwrites every block it reads, so its
 * result does not depend on the thread that ran it or on what that thread ran before:
 * the output is bit-identical for any thread count.
 *
 * A replicate whose refit ends at a non-finite objective gets a row of NaN and is not
 * counted in nok.  A singular refit is a result; a correlation with a zero SD (0/0) is
 * recorded as 0, as lme4's cov2sdcor does.  No warning is added here: the caller
 * reports nok. */
#include "infer_internal.h"

#include "bootstrap.h"
#include "internal.h"
#include "linalg/linalg.h"
#include "par/par.h"
#include "par/rng.h"

#include <math.h>
#include <nlopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Progress reports at most this often (seconds). */
#define EVM__PROGRESS_INTERVAL 0.1
/* A refit with a diagonal θ below this is on the boundary (isSingular(tol = 1e-4)). */
#define EVM__BOUNDARY_TOL 1e-4

/* ---------------------------------------------------------------- a model workspace */

/* A shallow copy of the fitted model that owns the blocks an evaluation writes (T, L,
 * the y-dependent AX and AXX, LX, LXX, θ) and shares the read-only ones with the model:
 * the model frame, ZₖᵀWZₖ, ZᵢᵀWZₖ and its pattern, the lower bounds. */
typedef struct {
    evm_lmm w;
    double *y;        /* [n] simulated response */
    double *u;        /* [max nl*q] spherical random effects of one term */
    double *bk;       /* [max nl*q] b* of one term */
    double *step;     /* [ntheta] BOBYQA's initial steps (initial_steps) */
    double *theta_cold;   /* [ntheta] the second start of a boundary refit */
} workspace;

static double *dup_array(const double *x, int64_t n)
{
    double *y = evm__malloc((size_t)(n > 0 ? n : 1), sizeof *y);
    if (y && n > 0) memcpy(y, x, sizeof *y * (size_t)n);
    return y;
}

static int64_t offblk_lsize(const evm_lmm *m, int i, int k)
{
    const evm__offblk *ob = evm__off(m, i, k);
    if (ob->type == EVM__BLK_DENSE) return m->t[i].n * m->t[k].n;
    return ob->colptr[m->t[k].nl] * m->t[i].q * m->t[k].q;
}

static void workspace_free(workspace *ws)
{
    evm_lmm *w = &ws->w;
    if (w->t)
        for (int k = 0; k < w->K; k++) {
            free(w->t[k].T);
            free(w->t[k].L);
            free(w->t[k].AX);
            free(w->t[k].LX);
        }
    if (w->off)
        for (int64_t i = 0; i < (int64_t)w->K * w->K; i++) free(w->off[i].L);
    free(w->t);
    free(w->off);
    free(w->AXX);
    free(w->LXX);
    free(w->theta);
    free(w->beta);
    free(ws->y);
    free(ws->u);
    free(ws->bk);
    free(ws->step);
    free(ws->theta_cold);
    memset(ws, 0, sizeof *ws);
}


/* BOBYQA's initial trust region for a refit from θ̂: a fifth of the size of each term's
 * θ̂ (its largest diagonal element; 1 for a term estimated at zero) for all of that term's
 * elements.  NLopt's default, a fraction of each |θ̂ᵢ| separately, lets a near-zero
 * element (a small correlation) scale the search so finely that 4 in 2,000 refits of
 * sleepstudy stopped at a boundary point up to 1.4 above the replicate's optimum; these
 * steps left 1 in 2,000 (0.09 above; the boundary restart in refit() catches it) and cut
 * the evaluations per refit from 73 to 56. */
static void initial_steps(const evm_lmm *m, double *step)
{
    for (int k = 0; k < m->K; k++) {
        const evm__term *t = &m->t[k];
        const int q = t->q, nt = q * (q + 1) / 2;
        double r = 0.0;
        int o = t->theta_off;
        for (int j = 0; j < q; j++)
            for (int i = j; i < q; i++, o++)
                if (i == j && fabs(m->theta[o]) > r) r = fabs(m->theta[o]);
        if (!(r > 0.0)) r = 1.0;
        for (int a = 0; a < nt; a++) step[t->theta_off + a] = 0.2 * r;
    }
}

static int workspace_init(workspace *ws, const evm_lmm *m)
{
    const int K = m->K, px = m->px;
    memset(ws, 0, sizeof *ws);
    evm_lmm *w = &ws->w;
    *w = *m;
    w->t = NULL;
    w->off = NULL;
    w->AXX = w->LXX = w->theta = w->beta = w->vcov = w->cw_gram = NULL;
    w->b = w->condvar = NULL;
    w->threads = 1;   /* one level of parallelism: the replicates */
    w->fitted = 0;
    w->t = evm__calloc((size_t)K, sizeof *w->t);
    w->off = evm__calloc((size_t)K * K + 1, sizeof *w->off);
    if (!w->t || !w->off) return EVM_ERR_NOMEM;
    int64_t maxn = 1;
    for (int k = 0; k < K; k++) {
        const evm__term *src = &m->t[k];
        evm__term *t = &w->t[k];
        *t = *src;   /* shares A */
        t->T = t->L = t->AX = t->LX = NULL;
        const int64_t lsz = src->dense ? src->n * src->n : src->nl * src->q * src->q;
        t->T = dup_array(src->T, (int64_t)src->q * src->q);
        t->L = evm__calloc((size_t)(lsz > 0 ? lsz : 1), sizeof(double));
        t->AX = dup_array(src->AX, src->n * px);
        t->LX = evm__calloc((size_t)(src->n * px > 0 ? src->n * px : 1), sizeof(double));
        if (!t->T || !t->L || !t->AX || !t->LX) return EVM_ERR_NOMEM;
        if (src->n > maxn) maxn = src->n;
    }
    for (int k = 0; k < K; k++)
        for (int i = k + 1; i < K; i++) {
            evm__offblk *ob = &w->off[(int64_t)i * K + k];
            *ob = *evm__off(m, i, k);   /* shares colptr, rowlev, A */
            const int64_t lsz = offblk_lsize(m, i, k);
            ob->L = evm__calloc((size_t)(lsz > 0 ? lsz : 1), sizeof(double));
            if (!ob->L) return EVM_ERR_NOMEM;
        }
    w->AXX = dup_array(m->AXX, (int64_t)px * px);
    w->LXX = evm__calloc((size_t)px * px, sizeof(double));
    w->theta = dup_array(m->theta, m->ntheta);
    w->beta = evm__calloc((size_t)(m->p > 0 ? m->p : 1), sizeof(double));
    ws->y = evm__malloc((size_t)m->mf->n, sizeof(double));
    ws->u = evm__malloc((size_t)maxn, sizeof(double));
    ws->bk = evm__malloc((size_t)maxn, sizeof(double));
    ws->step = evm__malloc((size_t)(m->ntheta > 0 ? m->ntheta : 1), sizeof(double));
    ws->theta_cold = evm__malloc((size_t)(m->ntheta > 0 ? m->ntheta : 1), sizeof(double));
    if (!w->AXX || !w->LXX || !w->theta || !w->beta || !ws->y || !ws->u || !ws->bk ||
        !ws->step || !ws->theta_cold)
        return EVM_ERR_NOMEM;
    initial_steps(m, ws->step);
    return EVM_OK;
}

/* ---------------------------------------------------------------- simulation */

/* y <- Xβ̂ + Zb* + ε* for replicate r.  xb: Xβ̂ [n]; u, bk: [max nl*q] workspace.
 * Draws: u* term by term (sorted term order), level by level, column by column; then ε*
 * row by row. */
static void simulate(const evm_lmm *m, const double *xb, uint64_t seed, int64_t r, double *u,
                     double *bk, double *y)
{
    const evm__modelframe *mf = m->mf;
    const int64_t n = mf->n;
    const double sigma = m->sigma;
    evm__rng g;
    evm__rng_seed(&g, seed, (uint64_t)r);
    memcpy(y, xb, sizeof(double) * (size_t)n);
    for (int k = 0; k < m->K; k++) {
        const evm__term *t = &m->t[k];
        const evm__reterm *re = &mf->re[t->src];
        const int q = t->q;
        const double *th = m->theta + t->theta_off;
        for (int64_t a = 0; a < t->n; a++) u[a] = evm__rng_norm(&g);
        /* b*_c = σ̂ T̂ u*_c with T̂ lower triangular, θ column-wise */
        for (int64_t c = 0; c < t->nl; c++) {
            const double *uc = u + c * q;
            double *bc = bk + c * q;
            for (int a = 0; a < q; a++) bc[a] = 0.0;
            int o = 0;
            for (int j = 0; j < q; j++)
                for (int i = j; i < q; i++) bc[i] += th[o++] * uc[j];
            for (int a = 0; a < q; a++) bc[a] *= sigma;
        }
        for (int64_t row = 0; row < n; row++) {
            const double *bc = bk + (int64_t)re->codes[row] * q;
            double s = 0.0;
            for (int a = 0; a < q; a++) s += re->Z[row + (int64_t)a * n] * bc[a];
            y[row] += s;
        }
    }
    for (int64_t row = 0; row < n; row++) {
        const double sd = mf->w ? sigma / sqrt(mf->w[row]) : sigma;
        y[row] += sd * evm__rng_norm(&g);
    }
}

/* Xβ̂ of the fitted model, [n]. */
static double *fixed_part(const evm_lmm *m)
{
    const evm__modelframe *mf = m->mf;
    const int64_t n = mf->n;
    double *xb = evm__calloc((size_t)(n > 0 ? n : 1), sizeof *xb);
    if (!xb) return NULL;
    for (int j = 0; j < m->p; j++) {
        const double bj = m->beta[j], *xj = mf->X + (int64_t)j * n;
        for (int64_t row = 0; row < n; row++) xb[row] += xj[row] * bj;
    }
    return xb;
}

int evm__bootstrap_response(const evm_lmm *m, uint64_t seed, int64_t r, double *y, evm_ctx *c)
{
    if (!m || !y || !m->fitted || r < 0)
        return evm__fail(c, EVM_ERR_ARG,
                         "evm__bootstrap_response: needs a fitted model and r >= 0");
    int64_t maxn = 1;
    for (int k = 0; k < m->K; k++)
        if (m->t[k].n > maxn) maxn = m->t[k].n;
    double *xb = fixed_part(m);
    double *u = evm__malloc((size_t)maxn, sizeof *u);
    double *bk = evm__malloc((size_t)maxn, sizeof *bk);
    int st = EVM_OK;
    if (!xb || !u || !bk) st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    else simulate(m, xb, (uint64_t)seed, r, u, bk, y);
    free(xb);
    free(u);
    free(bk);
    return st;
}

/* The y rows of the cross-products for a new response: the last entry of every column of
 * X̃ᵀWZₖ (in row order, as structure.c accumulates it; a term that structure.c sums from a
 * finer term's blocks gets the same sums up to rounding) and the last row/column of X̃ᵀWX̃. */
static void set_response(evm_lmm *w, const double *y)
{
    const evm__modelframe *mf = w->mf;
    const int64_t n = mf->n;
    const int p = w->p, px = w->px;
    for (int k = 0; k < w->K; k++) {
        evm__term *t = &w->t[k];
        const evm__reterm *re = &mf->re[t->src];
        const int q = t->q;
        for (int64_t col = 0; col < t->n; col++) t->AX[col * px + p] = 0.0;
        for (int64_t row = 0; row < n; row++) {
            const double wr = mf->w ? mf->w[row] : 1.0;
            double *ax = t->AX + (int64_t)re->codes[row] * q * px + p;
            for (int b = 0; b < q; b++)
                ax[(int64_t)b * px] += y[row] * (wr * re->Z[row + (int64_t)b * n]);
        }
    }
    for (int j = 0; j <= p; j++) {
        const double *xj = j < p ? mf->X + (int64_t)j * n : y;
        double s = 0.0;
        if (mf->w)
            for (int64_t row = 0; row < n; row++) s += mf->w[row] * xj[row] * y[row];
        else
            for (int64_t row = 0; row < n; row++) s += xj[row] * y[row];
        w->AXX[p + (int64_t)j * px] = s;
        w->AXX[j + (int64_t)p * px] = s;
    }
}

/* ---------------------------------------------------------------- one replicate */

static int set_failed(double *row, int npar)
{
    for (int a = 0; a < npar; a++) row[a] = NAN;
    return 0;
}

/* Some diagonal element of a Λ template below lme4's isSingular tolerance (as fit.c). */
static int on_boundary(const evm_lmm *m, const double *theta)
{
    for (int i = 0; i < m->ntheta; i++)
        if (m->lower[i] == 0.0 && theta[i] < EVM__BOUNDARY_TOL) return 1;
    return 0;
}

/* Refit from θ̂ and write the row: per term the SDs (diagonal) and correlations of σ²TTᵀ
 * in the column-wise lower-triangle order of θ, then σ, then β.  Returns 1 if the refit
 * ended at a finite objective, 0 if not (row of NaN), -1 when out of memory. */
static int refit(workspace *ws, const evm_lmm *m, double *row, int npar)
{
    evm_lmm *w = &ws->w;
    const int p = w->p, px = w->px;
    memcpy(w->theta, m->theta, sizeof(double) * (size_t)m->ntheta);
    double fmin = HUGE_VAL;
    /* set every time, so that no optimiser state carries over from the replicate this
     * workspace ran before */
    /* No polishing restart for replicates: it would double the cost of each refit to move
     * θ* by ~1e-5, far below the Monte-Carlo error of any bootstrap summary. */
    int res = evm__lmm_minimise(w, w->theta, ws->step, 0, w->opts.max_eval, &fmin);
    if (res == NLOPT_OUT_OF_MEMORY) return -1;
    if (res == NLOPT_INVALID_ARGS) fmin = HUGE_VAL;
    if (!(fmin < HUGE_VAL) || on_boundary(m, w->theta)) {
        /* A boundary refit may be a trap of the warm start: try lme4's cold start too and
         * keep the better optimum. */
        double *th = ws->theta_cold, f2 = HUGE_VAL;
        for (int i = 0; i < m->ntheta; i++) th[i] = m->lower[i] == 0.0 ? 1.0 : 0.0;
        const int r2 = evm__lmm_minimise(w, th, NULL, 0, w->opts.max_eval, &f2);
        if (r2 == NLOPT_OUT_OF_MEMORY) return -1;
        if (r2 != NLOPT_INVALID_ARGS && f2 < fmin)
            memcpy(w->theta, th, sizeof(double) * (size_t)m->ntheta);
        else if (!(fmin < HUGE_VAL))
            return set_failed(row, npar);
    }
    const double f = evm__lmm_factor(w, w->theta);
    if (!isfinite(f) || !w->last_ok) return set_failed(row, npar);
    const double nobs = (double)w->mf->n;
    const double sigma = sqrt(w->pwrss / (w->opts.reml ? nobs - p : nobs));
    int o = 0;
    for (int k = 0; k < w->K; k++) {
        const evm__term *t = &w->t[k];
        const int q = t->q;
        double S[64];   /* σ² T Tᵀ, q ≤ 8 (structure.c) */
        for (int a = 0; a < q; a++)
            for (int b = 0; b < q; b++) {
                double s = 0.0;
                for (int l = 0; l <= (a < b ? a : b); l++) s += t->T[a + l * q] * t->T[b + l * q];
                S[a + b * q] = sigma * sigma * s;
            }
        for (int j = 0; j < q; j++)
            for (int i = j; i < q; i++) {
                double v = i == j ? sqrt(S[i + i * q])
                                  : S[i + j * q] / sqrt(S[i + i * q] * S[j + j * q]);
                row[o++] = isnan(v) ? 0.0 : v;   /* 0/0 at a zero SD: 0, as lme4 */
            }
    }
    row[o++] = sigma;
    for (int a = 0; a < p; a++) w->beta[a] = w->LXX[p + (int64_t)a * px];
    if (p > 0) evm__trsm_left_lt(p, 1, w->LXX, px, w->beta, p);
    for (int a = 0; a < p; a++) row[o++] = w->beta[a];
    return 1;
}

/* ---------------------------------------------------------------- the parallel loop */

typedef struct {
    const evm_lmm *m;
    const double *xb;
    uint64_t seed;
    int64_t nboot;
    int npar;
    double *est;
    workspace *ws;
    int64_t *nok;             /* per slot */
    atomic_int_fast64_t next, done;
    atomic_int oom;
    pthread_t caller;
    void (*progress)(void *, int64_t, int64_t);
    void *progress_arg;
    double last_report;       /* touched by the calling thread only */
} boot_job;

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void maybe_report(boot_job *j)
{
    if (!j->progress || !pthread_equal(pthread_self(), j->caller)) return;
    const double t = now_seconds();
    if (t - j->last_report < EVM__PROGRESS_INTERVAL) return;
    j->last_report = t;
    j->progress(j->progress_arg, (int64_t)atomic_load(&j->done), j->nboot);
}

/* One slot: a workspace that claims replicates until none is left.  Slots, not
 * replicates, are the tasks of evm__parallel_for, so a workspace is never used by two
 * threads at once. */
static void slot_task(void *arg, int slot)
{
    boot_job *j = arg;
    workspace *ws = &j->ws[slot];
    int64_t r;
    while ((r = (int64_t)atomic_fetch_add(&j->next, 1)) < j->nboot) {
        if (atomic_load(&j->oom)) break;
        double *row = j->est + r * j->npar;
        simulate(j->m, j->xb, j->seed, r, ws->u, ws->bk, ws->y);
        set_response(&ws->w, ws->y);
        const int ok = refit(ws, j->m, row, j->npar);
        if (ok < 0) atomic_store(&j->oom, 1);
        else j->nok[slot] += ok;
        atomic_fetch_add(&j->done, 1);
        maybe_report(j);
    }
}

static int param_names(const evm_lmm *m, int npar, char ***names)
{
    char **nm = evm__calloc((size_t)npar, sizeof *nm);
    if (!nm) return EVM_ERR_NOMEM;
    int o = 0;
    for (; o < m->ntheta; o++) nm[o] = evm__asprintf(".sig%02d", o + 1);
    nm[o++] = evm__strdup(".sigma");
    for (int a = 0; a < m->p; a++) nm[o++] = evm__strdup(m->mf->xnames[a]);
    for (int a = 0; a < npar; a++)
        if (!nm[a]) {
            evm_strv_free(&nm, npar);
            return EVM_ERR_NOMEM;
        }
    *names = nm;
    return EVM_OK;
}

int evm__bootstrap(evm_lmm *m, int64_t nboot, uint64_t seed, int threads,
                   void (*progress)(void *, int64_t, int64_t), void *progress_arg,
                   int *npar, char ***names, double **est, int64_t *nok, evm_ctx *c)
{
    if (!m || !npar || !names || !est || !nok)
        return evm__fail(c, EVM_ERR_ARG, "evm__bootstrap: NULL argument");
    *npar = 0;
    *names = NULL;
    *est = NULL;
    *nok = 0;
    if (!m->fitted) return evm__fail(c, EVM_ERR_ARG, "bootstrap: the model has not been fitted");
    if (nboot <= 0)
        return evm__fail(c, EVM_ERR_ARG, "bootstrap: the number of replicates must be positive");
    const int np = m->ntheta + 1 + m->p;
    if (nboot > INT64_MAX / np / (int64_t)sizeof(double))
        return evm__fail(c, EVM_ERR_ARG, "bootstrap: %lld replicates are too many",
                         (long long)nboot);
    if (threads <= 0) threads = evm_ctx_threads(c);
    if (threads < 1) threads = 1;
    const int nslots = nboot < threads ? (int)nboot : threads;

    int status = EVM_ERR_NOMEM;
    boot_job j;
    memset(&j, 0, sizeof j);
    j.m = m;
    j.seed = seed;
    j.nboot = nboot;
    j.npar = np;
    j.caller = pthread_self();
    j.progress = progress;
    j.progress_arg = progress_arg;
    j.last_report = now_seconds();
    atomic_init(&j.next, 0);
    atomic_init(&j.done, 0);
    atomic_init(&j.oom, 0);
    double *xb = fixed_part(m);
    j.xb = xb;
    j.est = evm__malloc((size_t)nboot * np, sizeof(double));
    j.ws = evm__calloc((size_t)nslots, sizeof *j.ws);
    j.nok = evm__calloc((size_t)nslots, sizeof *j.nok);
    char **nm = NULL;
    if (!xb || !j.est || !j.ws || !j.nok || param_names(m, np, &nm)) goto cleanup;
    for (int s = 0; s < nslots; s++)
        if (workspace_init(&j.ws[s], m)) goto cleanup;

    evm__parallel_for(nslots, nslots, slot_task, &j);   /* falls back to this thread */
    if (atomic_load(&j.oom)) goto cleanup;
    if (progress) progress(progress_arg, nboot, nboot);
    for (int s = 0; s < nslots; s++) *nok += j.nok[s];
    *npar = np;
    *names = nm;
    *est = j.est;
    nm = NULL;
    j.est = NULL;
    status = EVM_OK;
cleanup:
    if (j.ws)
        for (int s = 0; s < nslots; s++) workspace_free(&j.ws[s]);
    free(j.ws);
    free(j.nok);
    free(j.est);
    free(xb);
    if (nm) evm_strv_free(&nm, np);
    if (status) return evm__fail(c, status, "out of memory in the bootstrap");
    return EVM_OK;
}
