/* fit.c — the model's life cycle: create from a formula and a frame, evaluate the
 * objective, optimise θ with NLopt's BOBYQA (lower bound 0 on the diagonal of each
 * relative covariance factor, as lme4), and run the post-fit computations. */
#include "lmm_internal.h"

#include "internal.h"
#include "linalg/linalg.h"

#include <math.h>
#include <nlopt.h>
#include <stdlib.h>
#include <string.h>

/* lme4's isSingular(tol = 1e-4): a diagonal element of some Λ template below tol. */
#define EVM__SINGULAR_TOL 1e-4
#define EVM__POLISH_STEP 1e-3
#define EVM__POLISH_NEAR 1e-2

void evm_lmm_opts_default(evm_lmm_opts *o)
{
    memset(o, 0, sizeof *o);
    o->reml = 1;
    o->max_eval = 100000;
    o->ftol_rel = 1e-13;
    o->xtol_abs = 1e-10;
}

int evm_lmm_create(const char *formula, const evm_frame *f, const evm_lmm_opts *o,
                   evm_lmm **out, evm_ctx *c)
{
    evm_lmm_opts def;
    if (!out || !formula || !f) return evm__fail(c, EVM_ERR_ARG, "evm_lmm_create: NULL argument");
    *out = NULL;
    if (!o) {
        evm_lmm_opts_default(&def);
        o = &def;
    }
    evm_lmm *m = evm__calloc(1, sizeof *m);
    if (!m) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    m->opts = *o;
    m->opts.nref = 0;
    m->opts.ref_var = m->opts.ref_level = NULL;
    if (o->weights && !(m->weights = evm__strdup(o->weights))) {
        evm_lmm_destroy(&m);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    }
    m->opts.weights = m->weights;
    if (o->cluster && !(m->cluster = evm__strdup(o->cluster))) {
        evm_lmm_destroy(&m);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    }
    m->opts.cluster = m->cluster;
    if (m->opts.max_eval <= 0) m->opts.max_eval = 100000;
    if (m->opts.ftol_rel <= 0) m->opts.ftol_rel = 1e-13;
    if (m->opts.xtol_abs <= 0) m->opts.xtol_abs = 1e-10;
    int st = evm__modelframe_build(formula, f, o, &m->mf, c);
    if (st == EVM_OK && m->mf->nre == 0)
        st = evm__fail(c, EVM_ERR_MODEL,
                       "no random-effects terms in the formula: add one such as (1 | school)");
    if (st == EVM_OK) {
        evm__blas_single_thread();
        m->threads = evm_ctx_threads(c);
        st = evm__lmm_build(m, c);
    }
    if (st < 0) {
        evm_lmm_destroy(&m);
        return st;
    }
    *out = m;
    return EVM_OK;
}

void evm_lmm_destroy(evm_lmm **pm)
{
    if (!pm || !*pm) return;
    evm_lmm *m = *pm;
    if (m->b)
        for (int k = 0; k < m->K; k++) free(m->b[k]);
    if (m->condvar)
        for (int k = 0; k < m->K; k++) free(m->condvar[k]);
    free(m->b);
    free(m->condvar);
    free(m->beta);
    free(m->vcov);
    evm__lmm_free_blocks(m);
    evm__modelframe_free(&m->mf);
    free(m->weights);
    free(m->cluster);
    free(m);
    *pm = NULL;
}

int evm_lmm_ntheta(const evm_lmm *m) { return m->ntheta; }

double evm_lmm_objective(evm_lmm *m, const double *theta, evm_ctx *c)
{
    for (int i = 0; i < m->ntheta; i++)
        if (!(theta[i] >= m->lower[i])) {
            evm__fail(c, EVM_ERR_ARG, "theta[%d] = %g is below its lower bound %g", i, theta[i],
                      m->lower[i]);
            return NAN;
        }
    return evm__lmm_factor(m, theta);
}

static double nlopt_objective(unsigned n, const double *x, double *grad, void *data)
{
    evm_lmm *m = data;
    (void)n;
    (void)grad;   /* BOBYQA is derivative-free */
    m->nevals++;
    return evm__lmm_factor(m, x);
}

static const char *nlopt_result_name(nlopt_result r)
{
    switch (r) {
    case NLOPT_SUCCESS: return "NLOPT_SUCCESS";
    case NLOPT_STOPVAL_REACHED: return "NLOPT_STOPVAL_REACHED";
    case NLOPT_FTOL_REACHED: return "NLOPT_FTOL_REACHED";
    case NLOPT_XTOL_REACHED: return "NLOPT_XTOL_REACHED";
    case NLOPT_MAXEVAL_REACHED: return "NLOPT_MAXEVAL_REACHED";
    case NLOPT_MAXTIME_REACHED: return "NLOPT_MAXTIME_REACHED";
    case NLOPT_FAILURE: return "NLOPT_FAILURE";
    case NLOPT_INVALID_ARGS: return "NLOPT_INVALID_ARGS";
    case NLOPT_OUT_OF_MEMORY: return "NLOPT_OUT_OF_MEMORY";
    case NLOPT_ROUNDOFF_LIMITED: return "NLOPT_ROUNDOFF_LIMITED";
    case NLOPT_FORCED_STOP: return "NLOPT_FORCED_STOP";
    default: return "NLOPT_UNKNOWN";
    }
}

static nlopt_opt make_optimiser(evm_lmm *m, int max_eval)
{
    nlopt_opt opt = nlopt_create(NLOPT_LN_BOBYQA, (unsigned)m->ntheta);
    if (!opt) return NULL;
    /* Tighter than lme4's nloptwrap (ftol_abs = xtol_abs = 1e-8): boundary fits must reach
     * θ = 0 closely for variance components to match to 1e-3 with a 1e-4 floor. */
    if (nlopt_set_lower_bounds(opt, m->lower) < 0 ||
        nlopt_set_min_objective(opt, nlopt_objective, m) < 0 ||
        nlopt_set_ftol_rel(opt, m->opts.ftol_rel) < 0 ||
        nlopt_set_xtol_abs1(opt, m->opts.xtol_abs) < 0 ||
        nlopt_set_maxeval(opt, max_eval) < 0) {
        nlopt_destroy(opt);
        return NULL;
    }
    return opt;
}

/* Some diagonal element of Λ within EVM__POLISH_NEAR of its bound 0. */
static int near_boundary(const evm_lmm *m, const double *theta)
{
    for (int i = 0; i < m->ntheta; i++)
        if (m->lower[i] == 0.0 && theta[i] < EVM__POLISH_NEAR) return 1;
    return 0;
}

int evm__lmm_minimise(evm_lmm *m, double *theta, const double *step, int polish, int max_eval,
                      double *fmin)
{
    if (max_eval < 1) max_eval = 1;
    nlopt_opt opt = make_optimiser(m, max_eval);
    if (!opt) return NLOPT_OUT_OF_MEMORY;
    double *start = evm__malloc((size_t)m->ntheta, sizeof(double));
    nlopt_result r = NLOPT_OUT_OF_MEMORY;
    if (!start) goto cleanup;
    const int evals0 = m->nevals;
    *fmin = HUGE_VAL;
    if (step && nlopt_set_initial_step(opt, step) < 0) goto cleanup;
    r = nlopt_optimize(opt, theta, fmin);
    const int left = max_eval - (m->nevals - evals0);
    if (polish && r > 0 && r != NLOPT_MAXEVAL_REACHED && r != NLOPT_MAXTIME_REACHED &&
        left > 0 && near_boundary(m, theta)) {
        /* Polish: BOBYQA stops on a small relative change of the objective, which near the
         * boundary leaves θ ~1e-5 short of 0; a restart with a small trust region closes
         * in.  The better point is kept. */
        memcpy(start, theta, sizeof(double) * m->ntheta);
        const double f0 = *fmin;
        nlopt_set_initial_step1(opt, EVM__POLISH_STEP);
        nlopt_set_ftol_rel(opt, 1e-15);
        nlopt_set_maxeval(opt, left);
        nlopt_result r2 = nlopt_optimize(opt, theta, fmin);
        if (r2 < 0 || !(*fmin <= f0)) {
            memcpy(theta, start, sizeof(double) * m->ntheta);
            *fmin = f0;
        }
    }
cleanup:
    free(start);
    nlopt_destroy(opt);
    return (int)r;
}

/* Moment starting values for the diagonal of each relative covariance factor, from the
 * cross-product blocks alone (no pass over the rows).  For column c of term k, the OLS
 * residuals summed within level l are s_l = (X̃ᵀWz_c)_l·[-β̂; 1] with a_l = (z_cᵀWz_c)_l;
 * the one-way ANOVA estimator of the between-level variance (as for unbalanced groups)
 *   τ̂² = (Σ s_l²/a_l − (J − 1)σ̂²) / (Σ a_l − Σ a_l² / Σ a_l),
 *   σ̂² = (RSS − Σ s_l²/a_l) / (n − p − J)   (the within-level residual variance),
 * gives θ = τ̂/σ̂, clamped to [EVM__START_MIN, EVM__START_MAX].  Off-diagonals start at 0.
 * Crossed and nested factors confound each other in these sums, so this is only a start;
 * the optimiser begins at whichever of it and lme4's start (θ = 1) is lower.  Returns 0,
 * or -1 when X̃ᵀWX̃ cannot be factored (the caller keeps lme4's start). */
#define EVM__START_MIN 0.01
#define EVM__START_MAX 10.0
static int moment_start(const evm_lmm *m, double *theta)
{
    const int p = m->p, px = m->px;
    double *l = evm__malloc((size_t)px * px, sizeof *l);
    double *beta = evm__malloc((size_t)px, sizeof *beta);
    if (!l || !beta) goto fail;
    memcpy(l, m->AXX, sizeof(double) * px * px);
    if (evm__potrf(px, l, px) != 0) goto fail;
    const double rss = l[p + p * px] * l[p + p * px];
    for (int i = p - 1; i >= 0; i--) {   /* L_XXᵀ β = (row p of L)ᵀ */
        double v = l[p + i * px];
        for (int j = i + 1; j < p; j++) v -= l[j + i * px] * beta[j];
        beta[i] = v / l[i + i * px];
    }
    beta[p] = -1.0;
    const double n = (double)m->mf->n;
    for (int k = 0; k < m->K; k++) {
        const evm__term *t = &m->t[k];
        const int q = t->q;
        for (int c = 0; c < q; c++) {
            double between = 0, sa = 0, sa2 = 0, J = 0;
            for (int64_t lev = 0; lev < t->nl; lev++) {
                const double a = t->A[lev * q * q + c * (q + 1)];
                if (!(a > 0)) continue;
                const double *ax = t->AX + (lev * q + c) * px;
                double s = 0;
                for (int j = 0; j < px; j++) s -= ax[j] * beta[j];
                between += s * s / a;
                sa += a;
                sa2 += a * a;
                J += 1;
            }
            double th = EVM__START_MIN;
            const double dfw = n - p - J;
            if (J > 1 && dfw > 0 && sa > 0) {
                const double s2 = (rss - between) / dfw;
                const double tau2 = (between - (J - 1) * s2) / (sa - sa2 / sa);
                if (s2 > 0 && tau2 > 0) th = sqrt(tau2 / s2);
            }
            if (!(th >= EVM__START_MIN)) th = EVM__START_MIN;
            if (th > EVM__START_MAX) th = EVM__START_MAX;
            /* diagonal element c of the term's lower-triangular template, column-wise */
            theta[t->theta_off + c * q - c * (c - 1) / 2] = th;
        }
    }
    free(l);
    free(beta);
    return 0;
fail:
    free(l);
    free(beta);
    return -1;
}

/* Initial trust-region steps for a start at the moment estimate, which is usually within
 * a few tens of per cent of the optimum: a fifth of each diagonal element, a quarter of its
 * column's diagonal for an off-diagonal one (they start at 0), at least EVM__STEP_MIN.
 * NLopt's default (three quarters of each element) spends the first 2·ntheta + 1
 * evaluations far from the optimum (docs/methods.md has the counts). */
#define EVM__STEP_DIAG 0.2
#define EVM__STEP_OFF 0.25
#define EVM__STEP_MIN 0.03
static void moment_steps(const evm_lmm *m, const double *theta, double *step)
{
    for (int k = 0; k < m->K; k++) {
        const evm__term *t = &m->t[k];
        int o = t->theta_off;
        for (int j = 0; j < t->q; j++) {
            const double diag = fabs(theta[o]);
            for (int i = j; i < t->q; i++, o++) {
                const double v = i == j ? EVM__STEP_DIAG * diag : EVM__STEP_OFF * diag;
                step[o] = v > EVM__STEP_MIN ? v : EVM__STEP_MIN;
            }
        }
    }
}

static int optimise(evm_lmm *m, evm_ctx *c)
{
    double fmin;
    m->nevals = 0;
    double *start = evm__malloc((size_t)m->ntheta, sizeof *start);
    if (!start) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    memcpy(start, m->theta, sizeof(double) * m->ntheta);
    double *step = NULL;
    if (moment_start(m, start) == 0) {
        const double f1 = evm__lmm_factor(m, m->theta), f0 = evm__lmm_factor(m, start);
        m->nevals += 2;
        if (f0 < f1) {
            memcpy(m->theta, start, sizeof(double) * m->ntheta);
            step = start;
            moment_steps(m, m->theta, step);
        }
    }
    /* the two evaluations that chose the start count against --max-eval */
    nlopt_result r = (nlopt_result)evm__lmm_minimise(m, m->theta, step, 1,
                                                     m->opts.max_eval - m->nevals, &fmin);
    free(start);
    m->opt_status = (int)r;
    m->converged = (r > 0 && r != NLOPT_MAXEVAL_REACHED && r != NLOPT_MAXTIME_REACHED) ||
                   r == NLOPT_ROUNDOFF_LIMITED;
    if (r == NLOPT_INVALID_ARGS || r == NLOPT_OUT_OF_MEMORY)
        return evm__fail(c, r == NLOPT_OUT_OF_MEMORY ? EVM_ERR_NOMEM : EVM_ERR_NUMERIC,
                         "optimiser failed: %s", nlopt_result_name(r));
    return EVM_OK;
}

const char *evm__lmm_opt_message(const evm_lmm *m)
{
    return nlopt_result_name((nlopt_result)m->opt_status);
}

/* The objective is not finite at the solution: say which input is out of range when one
 * is (values whose squares overflow or underflow a double). */
static int not_finite(const evm_lmm *m, evm_ctx *c)
{
    const evm__modelframe *mf = m->mf;
    double ymax = 0, wmax = 0;
    for (int64_t i = 0; i < mf->n; i++) {
        if (fabs(mf->y[i]) > ymax) ymax = fabs(mf->y[i]);
        if (mf->w && mf->w[i] > wmax) wmax = mf->w[i];
    }
    if (ymax > 1e100 || ymax < 1e-100)
        return evm__fail(c, EVM_ERR_NUMERIC,
                         "the objective is not finite at the optimiser's solution: the "
                         "response '%s' is at most %g in absolute value; rescale it",
                         mf->response, ymax);
    if (wmax > 1e100)
        return evm__fail(c, EVM_ERR_NUMERIC,
                         "the objective is not finite at the optimiser's solution: weights "
                         "reach %g; rescale them",
                         wmax);
    return evm__fail(c, EVM_ERR_NUMERIC, "the objective is not finite at the optimiser's solution");
}

/* A residual SD that is zero next to the response's spread (below 1e-6 of its SD; an exact
 * fit ends near 1e-8 of it, the square root of the rounding of y): the fixed effects
 * reproduce the response exactly, and no standard error, df or interval means anything
 * (lme4 fails on such data with "'sd' slot has non-finite elements"). */
static int exact_fit(const evm_lmm *m, evm_ctx *c)
{
    const evm__modelframe *mf = m->mf;
    double mean = 0, ss = 0;
    for (int64_t i = 0; i < mf->n; i++) mean += mf->y[i];
    mean /= (double)mf->n;
    for (int64_t i = 0; i < mf->n; i++) ss += (mf->y[i] - mean) * (mf->y[i] - mean);
    const double sd = sqrt(ss / (double)(mf->n > 1 ? mf->n - 1 : 1));
    if (m->sigma > 1e-6 * sd) return EVM_OK;
    return evm__fail(c, EVM_ERR_MODEL,
                     "the fixed effects reproduce the response '%s' exactly (residual SD %.3g, "
                     "response SD %.3g): no residual variation to model",
                     mf->response, m->sigma, sd);
}

int evm_lmm_fit(evm_lmm *m, evm_ctx *c)
{
    int st = optimise(m, c);
    if (st) return st;
    m->objective = evm__lmm_factor(m, m->theta);
    if (!isfinite(m->objective) || !m->last_ok) return not_finite(m, c);
    st = evm__lmm_postfit(m, c);
    if (st) return st;
    if ((st = exact_fit(m, c))) return st;
    m->singular = 0;
    for (int i = 0; i < m->ntheta; i++)
        if (m->lower[i] == 0.0 && m->theta[i] < EVM__SINGULAR_TOL) m->singular = 1;
    m->fitted = 1;
    int status = EVM_OK;
    if (!m->converged) {
        evm__warn(c, "optimizer did not converge (%s after %d evaluations)",
                  nlopt_result_name((nlopt_result)m->opt_status), m->nevals);
        status = EVM_WARN_NOCONV;
    }
    if (m->singular) {
        evm__warn(c, "boundary (singular) fit: see help('isSingular')");
        if (status == EVM_OK) status = EVM_WARN_BOUNDARY;
    }
    return status;
}
