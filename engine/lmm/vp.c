/* vp.c — the deviance as a function of all variance parameters (θ, σ), not profiled over
 * σ (lmerTest's devfun_vp), and Var(β) at any (θ, σ): what Satterthwaite's method and
 * the likelihood profiles differentiate and search over. */
#include "lmm_internal.h"

#include <lapacke.h>
#include <math.h>

double evm__lmm_deviance_vp(evm_lmm *m, const double *theta, double sigma, double *vcov)
{
    if (!(sigma > 0.0) || !isfinite(evm__lmm_factor(m, theta))) return HUGE_VAL;
    const int p = m->p, px = m->px;
    const double n = (double)m->mf->n, s2 = sigma * sigma;
    const double dof = m->opts.reml ? n - p : n;
    double dev = m->logdetL + dof * log(2.0 * M_PI * s2) + m->pwrss / s2 - m->sumlogw;
    if (m->opts.reml) dev += m->logdetRX;
    if (vcov && p > 0) {
        for (int b = 0; b < p; b++)
            for (int a = 0; a < p; a++) vcov[a + b * p] = a >= b ? m->LXX[a + b * px] : 0.0;
        if (LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', p, vcov, p) != 0) return HUGE_VAL;
        for (int b = 0; b < p; b++)
            for (int a = b; a < p; a++) {
                vcov[a + b * p] *= s2;
                vcov[b + a * p] = vcov[a + b * p];
            }
    }
    return dev;
}

int evm__lmm_restore(evm_lmm *m)
{
    return isfinite(evm__lmm_factor(m, m->theta)) ? 0 : -1;
}
