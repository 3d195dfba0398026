/* profile.c — profile-likelihood confidence intervals, as lme4's
 * confint(m, method = "profile") (lme4 1.1-31: profile.merMod, devfun2, confint.thpr;
 * Bates et al. 2015, JSS 67(1), §5.1).
 *
 * What is profiled.  lme4 profiles the ML deviance whatever the fit's criterion (devfun2
 * starts with refitML), so evalmix does too: a REML and an ML fit of one model get the
 * same intervals.  The parameters are lme4's: per random-effects term the standard
 * deviations and correlations in the positions of θ (Cv_to_Sv; named .sig01, .sig02, ...
 * in θ order), the residual σ (.sigma), then the fixed effects.
 *  - A variance parameter fixed at x: the deviance at all variance parameters φ = (sd,
 *    cor, σ) with β profiled out (devfun2),
 *        d(φ) = log|L_θ|² − Σ log wᵢ + n log(2πσ²) + r²(θ)/σ²,   Λ_θ = chol(Σ(sd,cor))/σ,
 *    is minimised over the other components of φ (sd ≥ 0, −1 ≤ cor ≤ 1, σ > 0).
 *  - A fixed effect βⱼ = b (lme4 moves xⱼb into the offset and drops column j): with the
 *    corner factor [R_Xᵀ 0; lᵀ r] at θ, β̂(θ) = R_X⁻¹l and the penalised residual sum of
 *    squares with βⱼ fixed is r² + (β̂ⱼ(θ) − b)² / (R_X⁻¹R_X⁻ᵀ)ⱼⱼ exactly, so the profiled
 *    ML deviance log|L_θ|² − Σ log wᵢ + n(1 + log(2π r²_b/n)) is minimised over θ without
 *    touching the data or the cross-product blocks.
 * The signed root ζ(x) = sign(x − x̂) √(d_min(x) − d̂) is found equal to ±qnorm((1+level)/2)
 * by a root search (secant steps until bracketed, then Brent's zeroin) on the exactly
 * re-optimised profile (NLopt BOBYQA, warm-started from the nearest point already
 * profiled), where lme4 interpolates ζ on a grid with splines.
 * Boundaries as lme4's confint.thpr: an sd whose profile does not reach −z before 0 (or
 * whose estimate is 0) has lower limit 0; a correlation whose profile does not reach ±z
 * before ±1 has limit ±1; an sd whose profile never reaches +z has upper limit +Inf
 * (with a warning).
 *
 * The model's fitted state is untouched: only the factor is recomputed at other θ, and
 * evm__lmm_restore puts it back at the fitted θ̂ before returning. */
#include "infer_internal.h"

#include "internal.h"

#include <math.h>
#include <nlopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PAR_SD = 0, PAR_COR = 1, PAR_SIGMA = 2, PAR_FIXEF = 3 };

#define MAXPTS 160          /* profile points kept per limit search */
#define MAXEXPAND 60        /* secant steps looking for a bracket */
#define MAXBRENT 60         /* zeroin iterations */
#define ZETA_TOL 1e-10      /* |ζ − target| accepted as a root */
#define X_TOL_REL 1e-11     /* bracket width accepted, relative to the parameter's scale */
#define INNER_XTOL_REL 1e-11  /* BOBYQA's final trust radius, relative to its first */
#define INNER_MAXEVAL 50000
#define LOWER_DEV_TOL 1e-6  /* a profile point this far below the optimum is reported */

typedef struct {
    evm_lmm *m;
    int nth, nv, p, np;     /* θ entries, variance parameters (nth + 1), fixed effects, all */
    double n;
    double base;            /* ML deviance at the ML optimum */
    double *theta_ml;       /* [nth] */
    double *est;            /* [np] ML estimates: sd/cor/σ then β */
    double *scale;          /* [np] typical size of each parameter (steps, tolerances) */
    int *kind;              /* [np] PAR_* */
    double *lo, *hi;        /* [nv] bounds of the variance parameters */
    /* the profile under way */
    int w;                  /* parameter fixed */
    double value;           /* at this value */
    int nfree;
    double *flo, *fhi, *fstep;   /* [max(nv, nth)] bounds and steps of the free parameters */
    /* profile points of the current limit search */
    int npts;
    double *px, *pz, *pfree;     /* [MAXPTS], [MAXPTS], [(MAXPTS + 1) × nfree] */
    /* workspace */
    double *phi, *theta, *vec;   /* [nv], [nth], [p] */
    double lowest;          /* lowest deviance met (below base: the fit was not optimal) */
    int64_t nopt, nevals;
    int status;             /* first error met inside callbacks */
} prof;

/* ---------------------------------------------------------------- parametrisation */

/* position of (i, j), i >= j, in a term's column-wise lower triangle */
static inline int tri_pos(int q, int i, int j) { return j * q - j * (j - 1) / 2 + (i - j); }

/* θ from (sd, cor, σ) as lme4's Sv_to_Cv: per term Λ = diag(sd) chol(R) / σ, with a
 * Cholesky of the correlation matrix R that accepts semi-definite R (|cor| = 1).
 * Returns -1 where R is not positive semi-definite. */
static int phi_to_theta(const prof *P, const double *phi, double *theta)
{
    const evm_lmm *m = P->m;
    const double sigma = phi[P->nth];
    for (int k = 0; k < m->K; k++) {
        const int q = m->t[k].q, o = m->t[k].theta_off;
        if (q == 1) {
            theta[o] = phi[o] / sigma;
            continue;
        }
        double C[64];
        if (q > 8) return -1;
        for (int j = 0; j < q; j++)
            for (int i = j; i < q; i++) {
                double s = i == j ? 1.0 : phi[o + tri_pos(q, i, j)];
                for (int l = 0; l < j; l++) s -= C[i + l * q] * C[j + l * q];
                if (i == j) {
                    if (s < -1e-12) return -1;
                    C[j + j * q] = s > 1e-14 ? sqrt(s) : 0.0;
                } else if (C[j + j * q] > 0.0) {
                    C[i + j * q] = s / C[j + j * q];
                } else {
                    if (fabs(s) > 1e-7) return -1;
                    C[i + j * q] = 0.0;
                }
            }
        for (int j = 0; j < q; j++)
            for (int i = j; i < q; i++)
                theta[o + tri_pos(q, i, j)] = phi[o + tri_pos(q, i, i)] / sigma * C[i + j * q];
    }
    return 0;
}

/* (sd, cor, σ) from θ and σ, as lme4's Cv_to_Sv (a correlation with a zero sd is 0). */
static void theta_to_phi(const prof *P, const double *theta, double sigma, double *phi)
{
    const evm_lmm *m = P->m;
    for (int k = 0; k < m->K; k++) {
        const int q = m->t[k].q, o = m->t[k].theta_off;
        double V[64], T[64];
        for (int j = 0; j < q; j++)
            for (int i = 0; i < q; i++) T[i + j * q] = i >= j ? theta[o + tri_pos(q, i, j)] : 0.0;
        for (int j = 0; j < q; j++)
            for (int i = j; i < q; i++) {
                double s = 0.0;
                for (int l = 0; l <= j; l++) s += T[i + l * q] * T[j + l * q];
                V[i + j * q] = s * sigma * sigma;
            }
        for (int j = 0; j < q; j++)
            for (int i = j; i < q; i++) {
                double d = sqrt(V[i + i * q] * V[j + j * q]);
                phi[o + tri_pos(q, i, j)] =
                    i == j ? sqrt(V[i + i * q]) : (d > 0.0 ? V[i + j * q] / d : 0.0);
            }
    }
    phi[P->nth] = sigma;
}

/* ---------------------------------------------------------------- deviances */

/* Factor at θ; 0 when the factor is usable. */
static int factor_at(prof *P, const double *theta)
{
    P->nevals++;
    double f = evm__lmm_factor(P->m, theta);
    return isfinite(f) && P->m->last_ok && P->m->pwrss > 0.0 ? 0 : -1;
}

/* ML deviance with σ and β profiled out, at the current factor, for the penalised
 * residual sum of squares r2. */
static double ml_profiled(const prof *P, double r2)
{
    return P->m->logdetL - P->m->sumlogw + P->n * (1.0 + log(2.0 * M_PI * r2 / P->n));
}

/* β̂(θ) into beta (may be NULL) and (R_X⁻¹R_X⁻ᵀ)ⱼⱼ for j >= 0, from the current factor. */
static double beta_and_vjj(const prof *P, double *beta, int j)
{
    const evm_lmm *m = P->m;
    const int p = m->p, px = m->px;
    const double *L = m->LXX;
    if (beta) {   /* R_X β = l with R_X = L_Xᵀ: back substitution */
        for (int i = p - 1; i >= 0; i--) {
            double s = L[p + i * px];
            for (int r = i + 1; r < p; r++) s -= L[r + i * px] * beta[r];
            beta[i] = s / L[i + i * px];
        }
    }
    if (j < 0) return NAN;
    double *z = P->vec, v = 0.0;   /* L_X z = e_j, z_i = 0 for i < j */
    for (int i = j; i < p; i++) {
        double s = i == j ? 1.0 : 0.0;
        for (int r = j; r < i; r++) s -= L[i + r * px] * z[r];
        z[i] = s / L[i + i * px];
        v += z[i] * z[i];
    }
    return v;
}

/* devfun2: the ML deviance at (sd, cor, σ), β profiled out. */
static double dev_vp(prof *P, const double *phi)
{
    const double sigma = phi[P->nth];
    if (!(sigma > 0.0) || phi_to_theta(P, phi, P->theta) || factor_at(P, P->theta))
        return HUGE_VAL;
    const evm_lmm *m = P->m;
    const double s2 = sigma * sigma;
    double d = m->logdetL - m->sumlogw + P->n * log(2.0 * M_PI * s2) + m->pwrss / s2;
    return isfinite(d) ? d : HUGE_VAL;
}

/* The profiled ML deviance at θ with fixed effect j fixed at b. */
static double dev_fixef(prof *P, const double *theta, int j, double b)
{
    if (factor_at(P, theta)) return HUGE_VAL;
    double *beta = P->vec + P->p;
    double v = beta_and_vjj(P, beta, j);
    double db = beta[j] - b;
    double d = ml_profiled(P, P->m->pwrss + db * db / v);
    return isfinite(d) ? d : HUGE_VAL;
}

/* ---------------------------------------------------------------- inner optimisation */

static double obj_ml(unsigned n, const double *x, double *grad, void *data)
{
    prof *P = data;
    (void)n;
    (void)grad;
    if (factor_at(P, x)) return HUGE_VAL;
    double d = ml_profiled(P, P->m->pwrss);
    return isfinite(d) ? d : HUGE_VAL;
}

static double obj_profile(unsigned n, const double *x, double *grad, void *data)
{
    prof *P = data;
    (void)n;
    (void)grad;
    double d;
    if (P->w < P->nv) {
        for (int i = 0, f = 0; i < P->nv; i++) P->phi[i] = i == P->w ? P->value : x[f++];
        d = dev_vp(P, P->phi);
    } else {
        d = dev_fixef(P, x, P->w - P->nv, P->value);
    }
    if (d < P->lowest) P->lowest = d;
    return d;
}

/* BOBYQA from x (overwritten by the minimiser); the minimum, or HUGE_VAL. */
static double minimise(prof *P, nlopt_func f, int n, double *x, const double *lo,
                       const double *hi, const double *step)
{
    nlopt_opt opt = nlopt_create(NLOPT_LN_BOBYQA, (unsigned)n);
    if (!opt) {
        P->status = EVM_ERR_NOMEM;
        return HUGE_VAL;
    }
    for (int i = 0; i < n; i++) {   /* start inside the bounds */
        if (x[i] < lo[i]) x[i] = lo[i];
        if (x[i] > hi[i]) x[i] = hi[i];
    }
    nlopt_set_lower_bounds(opt, lo);
    nlopt_set_upper_bounds(opt, hi);
    nlopt_set_min_objective(opt, f, P);
    nlopt_set_initial_step(opt, step);
    nlopt_set_xtol_rel(opt, INNER_XTOL_REL);
    nlopt_set_maxeval(opt, INNER_MAXEVAL);
    double fmin = HUGE_VAL;
    nlopt_result r = nlopt_optimize(opt, x, &fmin);
    nlopt_destroy(opt);
    P->nopt++;
    if (r == NLOPT_OUT_OF_MEMORY) P->status = EVM_ERR_NOMEM;
    return isfinite(fmin) ? fmin : HUGE_VAL;   /* the best point even when r < 0 */
}

/* Set up the free parameters of the profile of parameter w. */
static void begin_profile(prof *P, int w)
{
    P->w = w;
    P->npts = 0;
    if (w < P->nv) {
        P->nfree = P->nv - 1;
        for (int i = 0, f = 0; i < P->nv; i++) {
            if (i == w) continue;
            P->flo[f] = P->lo[i];
            P->fhi[f] = P->hi[i];
            P->fstep[f] = P->kind[i] == PAR_COR ? 0.05 : 0.05 * P->scale[i];
            f++;
        }
    } else {
        P->nfree = P->nth;
        for (int i = 0; i < P->nth; i++) {
            P->flo[i] = P->m->lower[i];
            P->fhi[i] = HUGE_VAL;
            P->fstep[i] = 0.05 * fmax(fabs(P->theta_ml[i]), 0.1);
        }
    }
}

/* ζ at x for the parameter of the current profile; the free parameters' optimum is kept
 * as a profile point (warm start for the next values). */
static double zeta_at(prof *P, double x)
{
    const int nf = P->nfree;
    int near = 0;
    for (int i = 1; i < P->npts; i++)
        if (fabs(P->px[i] - x) < fabs(P->px[near] - x)) near = i;
    /* slot npts, or the scratch slot MAXPTS once the table is full */
    double *start = P->pfree + (size_t)(P->npts < MAXPTS ? P->npts : MAXPTS) * nf;
    memcpy(start, P->pfree + (size_t)near * nf, sizeof(double) * nf);
    P->value = x;
    double d = minimise(P, obj_profile, nf, start, P->flo, P->fhi, P->fstep);
    double dd = d - P->base;
    double z = isfinite(d) ? (x >= P->est[P->w] ? 1.0 : -1.0) * sqrt(dd > 0.0 ? dd : 0.0)
                           : (x >= P->est[P->w] ? 1e10 : -1e10);
    if (P->npts < MAXPTS) {
        P->px[P->npts] = x;
        P->pz[P->npts] = z;
        P->npts++;
    }
    return z;
}

/* ---------------------------------------------------------------- limit search */

/* Brent's zeroin (as R's R_zeroin2) of ζ(x) − target on [a, b] with f(a), f(b) of
 * opposite signs. */
static double zeroin(prof *P, double a, double b, double fa, double fb, double target,
                     double tol)
{
    double c = a, fc = fa;
    if (fa == 0.0) return a;
    if (fb == 0.0) return b;
    for (int it = 0; it < MAXBRENT; it++) {
        double prev_step = b - a;
        if (fabs(fc) < fabs(fb)) {
            a = b; b = c; c = a;
            fa = fb; fb = fc; fc = fa;
        }
        double tol_act = 2.0 * 2.220446e-16 * fabs(b) + tol / 2.0;
        double new_step = (c - b) / 2.0;
        if (fabs(new_step) <= tol_act || fabs(fb) <= ZETA_TOL) return b;
        if (fabs(prev_step) >= tol_act && fabs(fa) > fabs(fb)) {
            double t1, cb = c - b, t2, p, q;
            if (a == c) {
                t1 = fb / fa;
                p = cb * t1;
                q = 1.0 - t1;
            } else {
                q = fa / fc;
                t1 = fb / fc;
                t2 = fb / fa;
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0));
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0);
            }
            if (p > 0.0) q = -q;
            else p = -p;
            if (p < (0.75 * cb * q - fabs(tol_act * q) / 2.0) && p < fabs(prev_step * q / 2.0))
                new_step = p / q;
        }
        if (fabs(new_step) < tol_act) new_step = new_step > 0.0 ? tol_act : -tol_act;
        a = b;
        fa = fb;
        b += new_step;
        fb = zeta_at(P, b) - target;
        if (P->status < 0) return NAN;
        if ((fb > 0.0 && fc > 0.0) || (fb < 0.0 && fc < 0.0)) {
            c = a;
            fc = fa;
        }
    }
    return b;
}

/* The limit of parameter w on side dir (-1 lower, +1 upper) where ζ = dir·z.
 * Returns 0, or 1 when the profile never reached the target before an infinite bound
 * (the limit is then the bound). */
static int find_limit(prof *P, int w, int dir, double z, double *limit)
{
    const double x0 = P->est[w], target = dir * z;
    const int kind = P->kind[w];
    double bound = w < P->nv ? (dir < 0 ? P->lo[w] : P->hi[w]) : dir * HUGE_VAL;
    begin_profile(P, w);
    /* the optimum as the first profile point */
    if (w < P->nv) {
        for (int i = 0, f = 0; i < P->nv; i++)
            if (i != w) P->pfree[f++] = P->est[i];
    } else {
        memcpy(P->pfree, P->theta_ml, sizeof(double) * P->nth);
    }
    P->px[0] = x0;
    P->pz[0] = 0.0;
    P->npts = 1;
    if (x0 == bound || (kind == PAR_SD && dir < 0 && x0 <= 0.0)) {
        *limit = bound;
        return 0;
    }
    /* first trial: a Wald-like step for fixed effects; a 1% probe for variance parameters
     * (ζ is close to linear near the optimum, so the secant from it aims well), at least
     * 1e-6 of the parameter's scale, or straight to a bound closer than that */
    const int probe = kind != PAR_FIXEF;
    const double hmin = 1e-6 * P->scale[w];
    double h = kind == PAR_FIXEF ? z * P->scale[w]
             : kind == PAR_COR   ? fmax(0.01 * (dir > 0 ? 1.0 - x0 : 1.0 + x0), hmin)
             : x0 > 0.0          ? fmax(0.01 * x0, hmin)
                                 : 0.05 * P->scale[w];
    double xa = x0, za = 0.0, x = x0 + dir * h;
    if (dir * (x - bound) > 0.0) x = bound;
    double zx;
    for (int it = 0;; it++) {
        zx = zeta_at(P, x);
        if (P->status < 0) return P->status;
        if (dir * (zx - target) >= 0.0) break;   /* bracketed between xa and x */
        if (x == bound) {   /* the profile stays inside the interval up to the bound */
            *limit = bound;
            return isinf(bound) ? 1 : 0;
        }
        if (it >= MAXEXPAND) {
            *limit = dir * HUGE_VAL;
            return 1;
        }
        const double d = fabs(x - x0);
        double slope = (zx - za) / (x - xa), step;   /* ζ increases with x */
        if (slope > 0.0 && isfinite(slope))
            step = 1.1 * (target - zx) / slope;   /* overshoot a little to bracket */
        else
            step = dir * 2.0 * d;
        double cap = (it == 0 && probe ? 60.0 : 4.0) * d;
        if (fabs(step) > cap) step = dir * cap;
        if (fabs(step) < 0.05 * d) step = dir * 0.05 * d;
        if (fabs(step) < hmin) step = dir * hmin;   /* always move: x0 + tiny == x0 */
        xa = x;
        za = zx;
        x += step;
        if (kind == PAR_SIGMA && dir < 0 && x <= 0.5 * xa) x = 0.5 * xa;  /* σ > 0 */
        if (dir * (x - bound) > 0.0) x = bound;
    }
    double tol = X_TOL_REL * fmax(P->scale[w], fabs(x));
    double r = zeroin(P, xa, x, za - target, zx - target, target, tol);
    if (P->status < 0) return P->status;
    *limit = r;
    return 0;
}

/* ---------------------------------------------------------------- setup and driver */

static void prof_free(prof *P)
{
    free(P->theta_ml);
    free(P->est);
    free(P->scale);
    free(P->kind);
    free(P->lo);
    free(P->hi);
    free(P->flo);
    free(P->fhi);
    free(P->fstep);
    free(P->px);
    free(P->pz);
    free(P->pfree);
    free(P->phi);
    free(P->theta);
    free(P->vec);
}

/* The ML optimum (lme4's refitML for a REML fit), from the fitted θ. */
static int ml_fit(prof *P, evm_ctx *c)
{
    evm_lmm *m = P->m;
    const int nth = P->nth, p = P->p;
    memcpy(P->theta_ml, m->theta, sizeof(double) * nth);
    for (int i = 0; i < nth; i++) {
        P->fstep[i] = 0.05 * fmax(fabs(m->theta[i]), 0.1);
        P->fhi[i] = HUGE_VAL;
    }
    P->base = minimise(P, obj_ml, nth, P->theta_ml, m->lower, P->fhi, P->fstep);
    if (P->status < 0) return evm__fail(c, P->status, "out of memory in the ML refit for profiling");
    if (!isfinite(P->base) || factor_at(P, P->theta_ml))
        return evm__fail(c, EVM_ERR_NUMERIC, "profile: the ML refit failed");
    const double sigma = sqrt(m->pwrss / P->n);
    theta_to_phi(P, P->theta_ml, sigma, P->est);
    double *beta = P->est + P->nv;
    if (p > 0) beta_and_vjj(P, beta, -1);
    for (int j = 0; j < p; j++) P->scale[P->nv + j] = sigma * sqrt(beta_and_vjj(P, NULL, j));
    for (int i = 0; i < P->nv; i++) {
        if (P->kind[i] == PAR_COR) P->scale[i] = 1.0;
        else P->scale[i] = fmax(P->est[i], 0.01 * sigma);
    }
    P->lo[nth] = 1e-8 * sigma;   /* σ > 0: d(φ) -> ∞ as σ -> 0 */
    P->lowest = P->base;
    return EVM_OK;
}

static int prof_alloc(prof *P, evm_lmm *m)
{
    const int nth = m->ntheta, nv = nth + 1, p = m->p, np = nv + p;
    const int nf = nv > nth ? nv : nth;
    P->m = m;
    P->nth = nth;
    P->nv = nv;
    P->p = p;
    P->np = np;
    P->n = (double)m->mf->n;
    P->theta_ml = evm__malloc((size_t)nth, sizeof(double));
    P->est = evm__malloc((size_t)np, sizeof(double));
    P->scale = evm__malloc((size_t)np, sizeof(double));
    P->kind = evm__malloc((size_t)np, sizeof(int));
    P->lo = evm__malloc((size_t)nv, sizeof(double));
    P->hi = evm__malloc((size_t)nv, sizeof(double));
    P->flo = evm__malloc((size_t)nf, sizeof(double));
    P->fhi = evm__malloc((size_t)nf, sizeof(double));
    P->fstep = evm__malloc((size_t)nf, sizeof(double));
    P->px = evm__malloc(MAXPTS, sizeof(double));
    P->pz = evm__malloc(MAXPTS, sizeof(double));
    P->pfree = evm__malloc((size_t)(MAXPTS + 1) * nf, sizeof(double));
    P->phi = evm__malloc((size_t)nv, sizeof(double));
    P->theta = evm__malloc((size_t)nth, sizeof(double));
    P->vec = evm__malloc((size_t)2 * (p > 0 ? p : 1), sizeof(double));
    if (!P->theta_ml || !P->est || !P->scale || !P->kind || !P->lo || !P->hi || !P->flo ||
        !P->fhi || !P->fstep || !P->px || !P->pz || !P->pfree || !P->phi || !P->theta || !P->vec)
        return EVM_ERR_NOMEM;
    for (int k = 0; k < m->K; k++) {
        const int q = m->t[k].q, o = m->t[k].theta_off;
        for (int j = 0; j < q; j++)
            for (int i = j; i < q; i++) {
                const int pos = o + tri_pos(q, i, j);
                P->kind[pos] = i == j ? PAR_SD : PAR_COR;
                P->lo[pos] = i == j ? 0.0 : -1.0;
                P->hi[pos] = i == j ? HUGE_VAL : 1.0;
            }
    }
    P->kind[nth] = PAR_SIGMA;
    P->hi[nth] = HUGE_VAL;
    for (int j = 0; j < p; j++) P->kind[nv + j] = PAR_FIXEF;
    return EVM_OK;
}

static const char *par_label(const prof *P, int w, char *buf, size_t len)
{
    if (w < P->nth) snprintf(buf, len, ".sig%02d", w + 1);
    else if (w == P->nth) snprintf(buf, len, ".sigma");
    else snprintf(buf, len, "%s", P->m->mf->xnames[w - P->nv]);
    return buf;
}

/* input:  m, a fitted model (REML or ML); level in (0, 1)
 * output: *npar = length(θ) + 1 + p intervals in lme4's order and names; *names (each
 *         string and the array), *lower and *upper are malloc'd, freed by the caller
 * Returns EVM_OK; EVM_WARN_NOCONV with a warning line when a limit was not reached (an
 * sd's upper limit is then +Inf) or the profile met a deviance below the ML optimum;
 * EVM_ERR_ARG (not fitted, bad level, a term of more than 8 columns), EVM_ERR_NOMEM,
 * EVM_ERR_NUMERIC.  The fitted state of m is unchanged on every path. */
int evm__profile_ci(evm_lmm *m, double level, int *npar, char ***names, double **lower,
                    double **upper, evm_ctx *c)
{
    prof P;
    char **nm = NULL;
    double *lw = NULL, *up = NULL;
    int st = EVM_OK, warned = 0;
    memset(&P, 0, sizeof P);
    if (!m || !npar || !names || !lower || !upper)
        return evm__fail(c, EVM_ERR_ARG, "evm__profile_ci: NULL argument");
    *npar = 0;
    *names = NULL;
    *lower = *upper = NULL;
    if (!m->fitted) return evm__fail(c, EVM_ERR_ARG, "profile intervals need a fitted model");
    if (!(level > 0.0 && level < 1.0))
        return evm__fail(c, EVM_ERR_ARG, "confidence level %g is not between 0 and 1", level);
    for (int k = 0; k < m->K; k++)
        if (m->t[k].q > 8)
            return evm__fail(c, EVM_ERR_ARG,
                             "profile intervals: the term of '%s' has %d columns (at most 8)",
                             m->mf->re[m->t[k].src].group, m->t[k].q);
    const double z = evm_qnorm(0.5 * (1.0 + level), 1);
    if (prof_alloc(&P, m) < 0) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    const int np = P.np;
    nm = evm__calloc((size_t)np, sizeof(char *));
    lw = evm__malloc((size_t)np, sizeof(double));
    up = evm__malloc((size_t)np, sizeof(double));
    if (!nm || !lw || !up) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    char buf[32];
    for (int w = 0; w < np; w++)
        if (!(nm[w] = evm__strdup(par_label(&P, w, buf, sizeof buf)))) {
            st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
    if ((st = ml_fit(&P, c)) < 0) goto cleanup;
    for (int w = 0; w < np; w++)
        for (int dir = -1; dir <= 1; dir += 2) {
            double lim = NAN;
            int r = find_limit(&P, w, dir, z, &lim);
            if (r < 0) {
                st = r == EVM_ERR_NOMEM ? evm__fail(c, r, "out of memory")
                                        : evm__fail(c, r, "profile of %s failed", nm[w]);
                goto cleanup;
            }
            if (r > 0) {
                evm__warn(c, "profile of %s: the %s limit was not reached (reported as %g)",
                          nm[w], dir < 0 ? "lower" : "upper", lim);
                warned = 1;
            }
            (dir < 0 ? lw : up)[w] = lim;
        }
    if (P.lowest < P.base - LOWER_DEV_TOL) {
        evm__warn(c, "profiling found a deviance %.6g below the ML optimum %.6g: the "
                     "intervals may be too narrow", P.lowest, P.base);
        warned = 1;
    }
    *npar = np;
    *names = nm;
    *lower = lw;
    *upper = up;
    nm = NULL;
    lw = up = NULL;
    st = warned ? EVM_WARN_NOCONV : EVM_OK;

cleanup:
    if (nm)
        for (int w = 0; w < P.np; w++) free(nm[w]);
    free(nm);
    free(lw);
    free(up);
    prof_free(&P);
    if (evm__lmm_restore(m) && st >= 0)
        st = evm__fail(c, EVM_ERR_NUMERIC, "could not restore the fitted factor");
    return st;
}
