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

void evm_lmm_opts_default(evm_lmm_opts *o)
{
    memset(o, 0, sizeof *o);
    o->reml = 1;
    o->max_eval = 100000;
    o->ftol_rel = 1e-12;
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
    if (m->opts.ftol_rel <= 0) m->opts.ftol_rel = 1e-12;
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

static nlopt_opt make_optimiser(evm_lmm *m)
{
    nlopt_opt opt = nlopt_create(NLOPT_LN_BOBYQA, (unsigned)m->ntheta);
    if (!opt) return NULL;
    /* Tighter than lme4's nloptwrap (ftol_abs = xtol_abs = 1e-8): boundary fits must reach
     * θ = 0 closely for variance components to match to 1e-3 with a 1e-4 floor. */
    if (nlopt_set_lower_bounds(opt, m->lower) < 0 ||
        nlopt_set_min_objective(opt, nlopt_objective, m) < 0 ||
        nlopt_set_ftol_rel(opt, m->opts.ftol_rel) < 0 ||
        nlopt_set_xtol_abs1(opt, m->opts.xtol_abs) < 0 ||
        nlopt_set_maxeval(opt, m->opts.max_eval) < 0) {
        nlopt_destroy(opt);
        return NULL;
    }
    return opt;
}

int evm__lmm_minimise(evm_lmm *m, double *theta, const double *step, int polish, double *fmin)
{
    nlopt_opt opt = make_optimiser(m);
    if (!opt) return NLOPT_OUT_OF_MEMORY;
    double *start = evm__malloc((size_t)m->ntheta, sizeof(double));
    nlopt_result r = NLOPT_OUT_OF_MEMORY;
    if (!start) goto cleanup;
    const int evals0 = m->nevals;
    *fmin = HUGE_VAL;
    if (step && nlopt_set_initial_step(opt, step) < 0) goto cleanup;
    r = nlopt_optimize(opt, theta, fmin);
    if (polish && r > 0 && r != NLOPT_MAXEVAL_REACHED && r != NLOPT_MAXTIME_REACHED) {
        /* Polish: BOBYQA stops on a small relative change of the objective, which on flat
         * objectives leaves θ ~1e-5 short of the optimum; a restart with a small trust
         * region closes in.  The better point is kept. */
        memcpy(start, theta, sizeof(double) * m->ntheta);
        const double f0 = *fmin;
        const int left = m->opts.max_eval - (m->nevals - evals0);
        nlopt_set_initial_step1(opt, EVM__POLISH_STEP);
        nlopt_set_ftol_rel(opt, 1e-15);
        nlopt_set_maxeval(opt, left > 0 ? left : 1);
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

static int optimise(evm_lmm *m, evm_ctx *c)
{
    double fmin;
    m->nevals = 0;
    nlopt_result r = (nlopt_result)evm__lmm_minimise(m, m->theta, NULL, 1, &fmin);
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

int evm_lmm_fit(evm_lmm *m, evm_ctx *c)
{
    int st = optimise(m, c);
    if (st) return st;
    m->objective = evm__lmm_factor(m, m->theta);
    if (!isfinite(m->objective) || !m->last_ok)
        return evm__fail(c, EVM_ERR_NUMERIC,
                         "the objective is not finite at the optimiser's solution");
    st = evm__lmm_postfit(m, c);
    if (st) return st;
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
