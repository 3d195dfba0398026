/* kenward_roger.h — between kenward_roger.c (pbkrtest's algebra on p×p matrices: the
 * adjusted covariance and the F test) and kenward_roger_sums.c (the N-sized sums, from
 * the cross-product blocks).  Internal to engine/infer. */
#ifndef EVM_KENWARD_ROGER_H
#define EVM_KENWARD_ROGER_H

#include "infer_internal.h"

/* Position of Q_rs (r ≤ s) among the npar(npar+1)/2 blocks, as pbkrtest's
 * .indexSymmat2vec (0-based): row by row of the upper triangle. */
static inline int64_t evm__kr_qindex(int r, int s, int npar)
{
    return (int64_t)r * npar - (int64_t)r * (r - 1) / 2 + (s - r);
}

/* pbkrtest's P_r = -XᵀΣ⁻¹G_rΣ⁻¹X (npar blocks p×p), Q_rs = XᵀΣ⁻¹G_rΣ⁻¹G_sΣ⁻¹X for
 * r ≤ s (npar(npar+1)/2 blocks p×p, evm__kr_qindex) and K_rs = tr(Σ⁻¹G_rΣ⁻¹G_s)
 * (npar×npar) at the fitted θ̂, σ̂ of m (unit weights; the factor's T at θ̂), npar =
 * ntheta + 1 with σ² last.  All column-major.  Work is split over `threads` with a
 * result independent of their number.
 * Errors: EVM_ERR_NOMEM; EVM_ERR_MODEL when crossed factors link more random-effects
 * columns than a dense block may hold; EVM_ERR_NUMERIC. */
int evm__kr_sums(const evm_lmm *m, int threads, double *P, double *Q, double *K, evm_ctx *c);

#endif
