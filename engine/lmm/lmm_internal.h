/* lmm_internal.h — the linear mixed model as a set of cross-product blocks and their
 * blocked Cholesky factor (Bates et al. 2015; the blocked evaluation of MixedModels.jl).
 *
 * Terms are sorted by decreasing number of levels (stable, as lme4).  Term k has nl
 * levels and q columns; its block has n = nl*q rows, index level*q + column.  The
 * symmetric matrix [ΛᵀZᵀWZΛ+I, ΛᵀZᵀWX̃; X̃ᵀWZΛ, X̃ᵀWX̃] with X̃ = [X y] is factored as
 * L Lᵀ, blockwise:
 *   diagonal of term k : BLOCKDIAG (nl blocks q×q) or DENSE (n×n)
 *   below it, term i>k : NESTED (one q_i×q_k block per level of k: each level of k lies
 *                        in one level of i), SPARSE (block CSC, only under the first
 *                        term, which is block-diagonal) or DENSE (n_i × n_k)
 *   X̃ rows             : dense (p+1) × n_k, and the dense (p+1)×(p+1) corner.
 * The objective is read off the diagonal; nothing per evaluation touches the n rows. */
#ifndef EVM_LMM_INTERNAL_H
#define EVM_LMM_INTERNAL_H

#include "evalmix/evalmix.h"
#include "formula/modelframe.h"

enum { EVM__BLK_NESTED = 1, EVM__BLK_SPARSE = 2, EVM__BLK_DENSE = 3 };

typedef struct {
    int src;          /* index of the term in the model frame's re[] */
    int q;
    int64_t nl, n;    /* levels, n = nl*q */
    int theta_off;    /* first θ of this term; q(q+1)/2 of them, column-wise lower */
    double *T;        /* q×q relative covariance factor at the current θ */
    double *A;        /* nl blocks q×q: ZₖᵀWZₖ per level */
    int dense;        /* diagonal block of L dense? */
    double *L;        /* BLOCKDIAG: nl blocks q×q; DENSE: n×n */
    double *AX, *LX;  /* (p+1) × n: X̃ᵀWZₖ, and its L block */
} evm__term;

/* Block (i,k), i > k.  The cross-product ZᵢᵀWZₖ is stored as a block CSC over the
 * levels of k: entries colptr[c]..colptr[c+1]-1 of level c have a row level rowlev[e]
 * of term i and a q_i×q_k block A + e*q_i*q_k. */
typedef struct {
    int type;
    int64_t *colptr;  /* [nl_k + 1] */
    int64_t *rowlev;  /* [nnz] */
    double *A;        /* [nnz] blocks */
    double *L;        /* NESTED/SPARSE: [nnz] blocks (same pattern); DENSE: n_i × n_k */
    /* SPARSE only, the same entries by row level: rowptr[l]..rowptr[l+1]-1 list the entry
     * rowent[x] of column rowcol[x], columns ascending (factor.c updates the dense block
     * below column by column of it) */
    int64_t *rowptr, *rowent, *rowcol;
} evm__offblk;

struct evm_lmm_s {
    evm__modelframe *mf;
    evm_lmm_opts opts;
    char *weights;            /* copy of opts.weights */
    char *cluster;            /* copy of opts.cluster */
    int threads;              /* evalmix's own threads for dense blocks */
    int K;
    evm__term *t;
    evm__offblk *off;         /* off[i*K + k], i > k */
    int p, px;                /* px = p + 1 (the response is the last column of X̃) */
    double *AXX, *LXX;        /* px × px */
    double sumlogw;           /* Σ log wᵢ */
    int ntheta;
    double *theta, *lower;
    /* state of the last evaluation */
    double logdetL, logdetRX, pwrss;
    int last_ok;
    /* fit results */
    int fitted, converged, nevals, opt_status, singular;
    double objective, sigma;
    double *beta;             /* [p] */
    double *vcov;             /* p × p */
    double **b;               /* per term: nl × q conditional modes (level-major) */
    double **condvar;         /* per term: nl blocks q×q of Var(b|y) */
    double resid_q[5];
    double *cw_gram;          /* workspace */
};

/* structure.c: cross-product blocks from the model frame and the fill analysis. */
int evm__lmm_build(evm_lmm *m, evm_ctx *c);
void evm__lmm_free_blocks(evm_lmm *m);
/* factor.c: set θ, factor, and return the objective (HUGE_VAL if not finite). */
double evm__lmm_factor(evm_lmm *m, const double *theta);
/* postfit.c: β, σ, vcov, modes, conditional variances, residual quantiles. */
int evm__lmm_postfit(evm_lmm *m, evm_ctx *c);

/* vp.c: the deviance at (θ, σ) not profiled over σ — REML or ML as the fit — with Var(β)
 * at (θ, σ) into vcov (p×p, may be NULL); HUGE_VAL where not finite.  It refactors at θ:
 * call evm__lmm_restore(m) afterwards to put the factor back at the fitted θ̂. */
double evm__lmm_deviance_vp(evm_lmm *m, const double *theta, double sigma, double *vcov);
int evm__lmm_restore(evm_lmm *m);

/* fit.c: minimise the objective over θ from `theta` (overwritten with the solution) as
 * the fit does: BOBYQA with the fit's bounds and tolerances, then (polish != 0) a
 * restart with a small trust region that closes the last ~1e-5 in θ on flat objectives.
 * step: initial trust-region steps per θ element (NULL: NLopt's default); max_eval: at
 * most this many evaluations, the polish included (at least 1).  Returns the NLopt result
 * code (negative: failure); *fmin the objective; m->nevals counts. */
int evm__lmm_minimise(evm_lmm *m, double *theta, const double *step, int polish, int max_eval,
                      double *fmin);
/* fit.c: the optimiser's return code as NLopt names it. */
const char *evm__lmm_opt_message(const evm_lmm *m);

/* helpers shared by factor.c and postfit.c */
static inline evm__offblk *evm__off(const evm_lmm *m, int i, int k)
{
    return &m->off[(int64_t)i * m->K + k];
}

/* predict.c: for every level l of term k (an index into m->t), the prediction x'β̂ + z'b̂ₗ
 * and its prediction-error variance σ²[Λᵀz; x]ᵀM⁻¹[Λᵀz; x] from the joint covariance of the
 * mixed-model equations (Var(x'β̂) + Var(z'bₗ|y) + their covariance).  x: p weights on the
 * fixed effects, row l at x + l*ldx (ldx 0: the same for every level); z: q weights on the
 * term's columns.  Outputs [nl], each may be NULL: est, var, and condvar = z'Var(bₗ|y)z
 * (lme4's condVar part).  Refactors at θ̂ first.  Nested chains cost O(levels); others a
 * dense solve per level.  Errors: EVM_ERR_ARG, EVM_ERR_NOMEM, EVM_ERR_NUMERIC. */
int evm__lmm_predvar(evm_lmm *m, int k, const double *x, int64_t ldx, const double *z,
                     double *est, double *var, double *condvar, evm_ctx *c);
/* predict.c: the variance that estimating θ adds to each of those predictions (Kackar &
 * Harville 1984; the first-order term of Prasad & Rao 1990 and Kenward & Roger 1997):
 * extra[l] = g_lᵀ V g_l with g_l = ∂(x_l'β̂ + z'b̂_l)/∂θ and V = 2H⁻¹, H the Hessian of the
 * objective in θ, both by central differences; elements of θ at their bound 0 are held
 * fixed.  Restores the fit at θ̂ afterwards.  Returns 0; 1 (extra all 0) when H is not
 * positive definite; errors as evm__lmm_predvar.  Needs ntheta ≤ 64. */
int evm__lmm_predvar_theta(evm_lmm *m, int k, const double *x, int64_t ldx, const double *z,
                           double *extra, evm_ctx *c);

#endif
