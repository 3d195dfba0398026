/* infer_internal.h — the inference layer (engine/infer), internal interfaces.
 * Each piece works on a fitted evm_lmm (lmm_internal.h) and never changes its fitted
 * state: code that refactors at other θ calls evm__lmm_restore(m) before returning. */
#ifndef EVM_INFER_INTERNAL_H
#define EVM_INFER_INTERNAL_H

#include "lmm/lmm_internal.h"

/* satterthwaite.c (as lmerTest): the asymptotic covariance of the variance parameters
 * (θ, σ) from the Hessian of evm__lmm_deviance_vp, and the Jacobian of Var(β) with
 * respect to them, both by Richardson-extrapolated central differences (as numDeriv). */
typedef struct evm__satt_s evm__satt;
int evm__satt_create(evm_lmm *m, evm__satt **out, evm_ctx *c);
void evm__satt_destroy(evm__satt **s);
/* df of each of the k contrasts in L (k × p, row-major) */
int evm__satt_df(const evm__satt *s, const double *L, int k, double *df, evm_ctx *c);
/* F test of the k rows of L jointly (lmerTest's contestMD): F, numerator df (rank of L),
 * denominator df */
int evm__satt_ftest(const evm__satt *s, const double *beta, const double *L, int k, double *F,
                    double *ndf, double *ddf, evm_ctx *c);

/* kenward_roger.c (as pbkrtest's vcovAdj and KRmodcomp), computed blockwise */
typedef struct evm__kr_s evm__kr;
int evm__kr_create(evm_lmm *m, evm__kr **out, evm_ctx *c);
void evm__kr_destroy(evm__kr **k);
const double *evm__kr_vcov_adj(const evm__kr *k);   /* p × p */
int evm__kr_ftest(const evm__kr *k, const double *beta, const double *L, int nrow, double *F,
                  double *ndf, double *ddf, evm_ctx *c);

/* anova.c: the hypothesis matrix of each fixed-effect term for lmerTest's type-3 tests */
int evm__anova_terms(const evm_lmm *m, int *nterms, char ***names, double ***L, int **k,
                     evm_ctx *c);

/* profile.c (as lme4's confint(method = "profile")): parameter names as confint's */
int evm__profile_ci(evm_lmm *m, double level, int *npar, char ***names, double **lower,
                    double **upper, evm_ctx *c);

/* bootstrap.c (as lme4's bootMer, type "parametric"): replicates in parallel with
 * per-replicate random streams derived from the seed. */
int evm__bootstrap(evm_lmm *m, int64_t nboot, uint64_t seed, int threads,
                   void (*progress)(void *, int64_t, int64_t), void *progress_arg,
                   int *npar, char ***names, double **est, int64_t *nok, evm_ctx *c);

/* robust.c (as clubSandwich's vcovCR(type = "CR2") and coef_test(test = "Satterthwaite")) */
int evm__cr2(evm_lmm *m, double *vcov, double *df, int64_t *nclusters, evm_ctx *c);

#endif
