/* dist.c — distribution functions for tests and intervals: normal, Student t, F and χ²,
 * with R's conventions (lower_tail = 1: P[X <= x]; NaN for invalid parameters).
 *
 * Accuracy: against 45-digit mpmath, ~1e-15 relative for ordinary arguments and at worst
 * ~2e-13 for probabilities near 1e-300 (where the exponent, ~ -690, carries a rounding
 * error), for df from 0.5 to 1e7; quantiles to ~4e-14.  tests/reference/test_dist.c
 * checks against R.  The methods:
 *  - pnorm: glibc's erfc, which keeps full relative accuracy in the tail, plus a
 *    first-order correction for the rounding of x/√2 (that rounding alone would cost
 *    ~x²·eps, 1.5e-13 at x = -37).
 *  - qnorm: Abramowitz & Stegun 26.2.23 as a start (error < 4.5e-4), then Newton steps on
 *    the accurate CDF: on 0.5·erf(z/√2) in the centre (so a quantile near 0 keeps its
 *    relative accuracy) and on log Q(z) in the tails.
 *  - t and F: the regularized incomplete beta I_x(a, b) by its continued fraction
 *    (modified Lentz), on whichever of I_x(a, b) and I_{1-x}(b, a) converges (the other
 *    by difference, where it is the larger).  The prefactor x^a (1-x)^b / B(a, b) is
 *    where accuracy is lost for large df, so it is built from log x and log(1-x) that the
 *    callers compute with log1p from t or f (not from a rounded x), Stirling's series for
 *    the gamma functions of large arguments, and log(1+u) - u evaluated without
 *    cancellation (Temme; DiDonato & Morris, ACM TOMS 708, use the same devices).  The
 *    fraction itself runs in double-double arithmetic: for the t with many df its levels
 *    nearly cancel, which in double precision cost up to 2e-10 at df = 1e7.
 *  - χ²: the regularized incomplete gamma by its power series (x < a + 1) or Legendre's
 *    continued fraction, with the same care in the prefactor x^a e^-x / Γ(a).
 *  - qt, qchisq: a starting value (Cornish-Fisher / Wilson-Hilferty, or the small-p power
 *    law of the tail), then Newton steps on the log of the smaller tail probability,
 *    kept inside a bracket that shrinks by bisection whenever a step would leave it.
 * Infinite df: the t is normal; F with df2 = Inf is χ²_{df1}/df1. */
#include "internal.h"

#include <float.h>
#include <math.h>

#define INV_SQRT_2PI 0.398942280401432677939946059934  /* 1/√(2π) */
#define SQRT_PI 1.77245385090551602729816748334        /* √π */
#define SQRT1_2_LO (-4.8336466567264565e-17)           /* 1/√2 − (double)M_SQRT1_2 */

/* Arguments from which the Stirling series replaces lgamma/tgamma. */
#define BIG 15.0
/* Continued fractions and series converge in O(√max(a, b)) steps near the centre; this
 * bound is far above what df = 1e10 needs and only stops a runaway on garbage input. */
#define MAX_ITER 2000000

/* ---------------------------------------------------------------- helpers */

/* δ(z) = lgamma(z) − [(z − ½) log z − z + log √(2π)], Stirling's series, z >= BIG:
 * the omitted term is below 2e-21. */
static double stirlerr(double z)
{
    static const double c[8] = {1.0 / 12,       -1.0 / 360,       1.0 / 1260,
                                -1.0 / 1680,     1.0 / 1188,       -691.0 / 360360,
                                1.0 / 156,       -3617.0 / 122400};
    double r = 1.0 / z, r2 = r * r, s = c[7];
    for (int k = 6; k >= 0; k--) s = c[k] + r2 * s;
    return r * s;
}

/* log(1 + u) − u without cancellation for small |u|.  With w = u / (2 + u),
 * log(1 + u) = 2 atanh w, and log(1 + u) − u = −u·w + 2 (w³/3 + w⁵/5 + ...). */
static double log1pmx(double u)
{
    if (fabs(u) > 0.5) return log1p(u) - u;
    double w = u / (2.0 + u), w2 = w * w, term = w * w2, sum = 0.0;
    for (int k = 3; k < 200; k += 2) {
        double add = term / k;
        sum += add;
        if (fabs(add) <= 1e-18 * fabs(sum)) break;
        term *= w2;
    }
    return -u * w + 2.0 * sum;
}

/* log Γ(L + S) − log Γ(L) for L >= BIG, any S > 0:
 * S log L + (L + S − ½) log1p(S/L) − S + δ(L + S) − δ(L), rearranged with log1pmx so
 * that nothing of size L cancels. */
static double lgamma_ratio(double L, double S)
{
    double r = S / L;
    return S * log(L) + L * log1pmx(r) + (S - 0.5) * log1p(r) + stirlerr(L + S) -
           stirlerr(L);
}

/* ---------------------------------------------------------------- normal */

/* Q(z) = P[Z > z] for z >= 0, with full relative accuracy. */
static double norm_upper(double z)
{
    double s = z * M_SQRT1_2;
    double q = 0.5 * erfc(s);
    if (q == 0.0 || z < 1.0) return q;
    /* erfc(s + ds) ≈ erfc(s)·(1 − r·ds), r = 2 e^{−s²} / (√π erfc(s)). */
    double ds = fma(z, M_SQRT1_2, -s) + z * SQRT1_2_LO;
    double r;
    if (s <= 20.0) {
        r = 2.0 * exp(-s * s) / (SQRT_PI * erfc(s));
    } else {
        double i2 = 1.0 / (s * s);
        r = 2.0 * s / (1.0 - 0.5 * i2 + 0.75 * i2 * i2);
    }
    return q * (1.0 - r * ds);
}

static double dnorm(double z) { return INV_SQRT_2PI * exp(-0.5 * z * z); }

double evm_pnorm(double x, int lower_tail)
{
    if (isnan(x)) return NAN;
    double q = norm_upper(fabs(x));
    /* q is the probability of the tail beyond |x|. */
    if ((x < 0) == (lower_tail != 0)) return q;
    return 1.0 - q;
}

/* The z >= 0 with Q(z) = s, 0 < s <= 0.5. */
static double norm_upper_quantile(double s)
{
    if (s == 0.5) return 0.0;
    double t = sqrt(-2.0 * log(s));
    double z = t - (2.515517 + t * (0.802853 + t * 0.010328)) /
                       (1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308)));
    if (z < 0) z = 0;
    if (s > 0.075) {
        /* centre: Φ(z) − ½ = ½ erf(z/√2) = ½ − s (exact or nearly so for s here) */
        double target = 0.5 - s;
        for (int it = 0; it < 20; it++) {
            double g = 0.5 * erf(z * M_SQRT1_2) - target;
            double u = g / dnorm(z);
            double step = u / (1.0 + 0.5 * z * u);   /* Halley */
            z -= step;
            if (fabs(step) <= 2 * DBL_EPSILON * fabs(z)) break;
        }
        return z;
    }
    /* tail: Newton on log Q(z) − log s, d/dz log Q = −φ/Q */
    double ls = log(s);
    for (int it = 0; it < 50; it++) {
        double q = norm_upper(z);
        double step = (log(q) - ls) * q / dnorm(z);
        z += step;
        if (fabs(step) <= 2 * DBL_EPSILON * z) break;
    }
    return z;
}

/* Split a probability p of tail `lower_tail` into the smaller tail s (exactly: 1 − p is
 * exact for p >= ½) and whether the quantile lies above the median (+1) or below (−1). */
static double smaller_tail(double p, int lower_tail, int *side)
{
    if (p <= 0.5) {
        *side = lower_tail ? -1 : 1;
        return p;
    }
    *side = lower_tail ? 1 : -1;
    return 1.0 - p;
}

double evm_qnorm(double p, int lower_tail)
{
    if (isnan(p) || p < 0 || p > 1) return NAN;
    int side;
    double s = smaller_tail(p, lower_tail, &side);
    if (s == 0) return side * INFINITY;
    return side * norm_upper_quantile(s);
}

/* ---------------------------------------------------------------- incomplete beta */

/* A point of the beta distribution's support with what the prefactor needs:
 * x + y = 1, lx = log x, ly = log y, each to full relative accuracy, and dx = x − a/(a+b)
 * (NaN: derive it from x or y). */
typedef struct {
    double x, y, lx, ly, dx;
} beta_pt;

/* x^a y^b / B(a, b). */
static double beta_front(double a, double b, const beta_pt *z)
{
    if (a >= BIG && b >= BIG) {
        /* √(ab/(2π(a+b))) (x/x0)^a (y/y0)^b e^{δ(a+b)−δ(a)−δ(b)} with x0 = a/(a+b):
         * a log(x/x0) + b log(y/y0) = a·log1pmx(u) + b·log1pmx(v), since a u + b v = 0. */
        double s = a + b, x0 = a / s, y0 = b / s;
        double dx = z->dx;
        if (isnan(dx))
            dx = z->x <= z->y ? fma(z->x, s, -a) / s : -(fma(z->y, s, -b) / s);
        double u = dx / x0, v = -dx / y0;
        double lu = u < -0.5 ? z->lx + log1p(b / a) - u : log1pmx(u);
        double lv = v < -0.5 ? z->ly + log1p(a / b) - v : log1pmx(v);
        double e = a * lu + b * lv + stirlerr(s) - stirlerr(a) - stirlerr(b);
        return sqrt(x0 * b / (2 * M_PI)) * exp(e);
    }
    if (a >= BIG || b >= BIG) {
        /* L large, S small: Γ(L+S)/Γ(L) by lgamma_ratio; S log(v_S L) keeps the two
         * logs of moderate size from cancelling. */
        int a_large = a >= b;
        double L = a_large ? a : b, S = a_large ? b : a;
        double vS = a_large ? z->y : z->x, lS = a_large ? z->ly : z->lx;
        double lL = a_large ? z->lx : z->ly;
        double vL_ = vS * L;
        double sterm = (vL_ > DBL_MIN && isfinite(vL_)) ? S * log(vL_) : S * (lS + log(L));
        double e = L * lL + sterm + L * log1pmx(S / L) + (S - 0.5) * log1p(S / L) +
                   stirlerr(L + S) - stirlerr(L);
        return exp(e) / tgamma(S);
    }
    double ea = a * z->lx, eb = b * z->ly;
    if (z->x >= DBL_MIN && z->y >= DBL_MIN && ea > -700 && eb > -700)
        return pow(z->x, a) * pow(z->y, b) * (tgamma(a + b) / (tgamma(a) * tgamma(b)));
    return exp(ea + eb + lgamma(a + b) - lgamma(a) - lgamma(b));
}

/* ---- double-double arithmetic (value = hi + lo, |lo| <= ulp(hi)/2), enough for the
 * continued fraction below; fma gives the exact error of a product. */
typedef struct {
    double hi, lo;
} dd;

static dd dd_fast_sum(double a, double b)   /* |a| >= |b| */
{
    double s = a + b;
    dd r = {s, b - (s - a)};
    return r;
}

static dd dd_sum(double a, double b)
{
    double s = a + b, bb = s - a;
    dd r = {s, (a - (s - bb)) + (b - bb)};
    return r;
}

static dd dd_add(dd x, dd y)
{
    dd s = dd_sum(x.hi, y.hi), t = dd_sum(x.lo, y.lo);
    s.lo += t.hi;
    s = dd_fast_sum(s.hi, s.lo);
    s.lo += t.lo;
    return dd_fast_sum(s.hi, s.lo);
}

static dd dd_mul(dd x, dd y)
{
    double p = x.hi * y.hi;
    double e = fma(x.hi, y.hi, -p) + (x.hi * y.lo + x.lo * y.hi);
    return dd_fast_sum(p, e);
}

static dd dd_div(dd x, dd y)
{
    double q1 = x.hi / y.hi;
    dd r = dd_add(x, dd_mul(y, (dd){-q1, 0}));
    double q2 = r.hi / y.hi;
    r = dd_add(r, dd_mul(y, (dd){-q2, 0}));
    double q3 = r.hi / y.hi;
    dd q = dd_fast_sum(q1, q2);
    return dd_add(q, (dd){q3, 0});
}

static dd dd_d(double a) { return (dd){a, 0}; }

/* The continued fraction of I_x(a, b) without its prefactor x^a y^b / (a B(a, b)):
 * 1/(1 + d1/(1 + d2/(1 + ...))), d_{2m+1} = −(a+m)(a+b+m) x / ((a+2m)(a+2m+1)),
 * d_{2m} = m(b−m) x / ((a+2m−1)(a+2m)); modified Lentz (Thompson & Barnett).  Converges for
 * x < (a+1)/(a+b+2).  Evaluated in double-double: with b < 1 and a large (the t
 * distribution with many df) every odd level nearly cancels (d_{2m+1} ≈ −1), and in
 * double precision that alone cost up to 1e-10 at df = 1e7.  x is passed as x and
 * y = 1 − x so that x near 1 is known to the accuracy of y. */
static double beta_cf(double a, double b, double x, double y)
{
    const double tiny = 1e-300;
    dd X = x <= 0.5 ? dd_d(x) : dd_sum(1.0, -y);
    dd A = dd_d(a), AB = dd_sum(a, b), one = dd_d(1.0);
    dd f = one, C = one, D = dd_d(0.0);
    int small = 0;
    for (int j = 1; j < MAX_ITER; j++) {
        int m = j / 2;
        dd d;
        if (j & 1) {
            dd num = dd_mul(dd_mul(dd_add(A, dd_d(m)), dd_add(AB, dd_d(m))), X);
            dd den = dd_mul(dd_add(A, dd_d(2.0 * m)), dd_add(A, dd_d(2.0 * m + 1)));
            d = dd_div(num, den);
            d.hi = -d.hi, d.lo = -d.lo;
        } else {
            dd num = dd_mul(dd_mul(dd_d(m), dd_sum(b, -m)), X);
            dd den = dd_mul(dd_add(A, dd_d(2.0 * m - 1)), dd_add(A, dd_d(2.0 * m)));
            d = dd_div(num, den);
        }
        D = dd_add(one, dd_mul(d, D));
        if (fabs(D.hi) < tiny) D = dd_d(tiny);
        D = dd_div(one, D);
        C = dd_add(one, dd_div(d, C));
        if (fabs(C.hi) < tiny) C = dd_d(tiny);
        dd delta = dd_mul(C, D);
        f = dd_mul(f, delta);
        /* The even steps of a large-a fraction change f by little even far from
         * convergence: stop only after an odd and an even step both left f alone. */
        small = fabs((delta.hi - 1.0) + delta.lo) <= 0.25 * DBL_EPSILON ? small + 1 : 0;
        if (small >= 2) break;
    }
    return 1.0 / (f.hi + f.lo);
}

/* I_x(a, b) in *p and 1 − I_x(a, b) = I_y(b, a) in *q, each accurate where it is small. */
static void ibeta(double a, double b, const beta_pt *z, double *p, double *q)
{
    /* x itself may have underflowed while x^a / B(a, b) has not: ends by the logs */
    if (z->lx == -INFINITY) {
        *p = 0, *q = 1;
        return;
    }
    if (z->ly == -INFINITY) {
        *p = 1, *q = 0;
        return;
    }
    if (z->x < (a + 1) / (a + b + 2)) {
        double w = beta_front(a, b, z) / a * beta_cf(a, b, z->x, z->y);
        *p = w, *q = 1.0 - w;
    } else {
        beta_pt sw = {z->y, z->x, z->ly, z->lx, -z->dx};
        double w = beta_front(b, a, &sw) / b * beta_cf(b, a, z->y, z->x);
        *q = w, *p = 1.0 - w;
    }
}

/* x = r/(1+r), y = 1/(1+r) for r >= 0 (r = ∞ allowed), logs from log1p. `lr` is log r
 * when r may have underflowed (NaN: take log r). */
static beta_pt beta_point_ratio(double r, double lr)
{
    beta_pt z;
    if (isinf(r)) {
        z.x = 1, z.y = 0, z.lx = 0, z.ly = -INFINITY;
    } else {
        double l1 = log1p(r);
        z.x = r / (1 + r);
        z.y = 1 / (1 + r);
        z.lx = (isnan(lr) ? log(r) : lr) - l1;
        z.ly = -l1;
    }
    z.dx = NAN;
    return z;
}

static beta_pt beta_pt_swap(beta_pt z)
{
    beta_pt s = {z.y, z.x, z.ly, z.lx, -z.dx};
    return s;
}

/* ---------------------------------------------------------------- Student t */

/* P[|T| > |t|] in *two and P[|T| < |t|] in *inner, df finite. */
static void t_two_sided(double t, double df, double *two, double *inner)
{
    /* P[|T| > |t|] = I_x(df/2, ½), x = df/(df + t²) */
    double at = fabs(t);
    beta_pt z;
    if (at <= sqrt(df)) {
        /* r = t²/df <= 1; x = 1/(1+r) */
        double r = (at / df) * at;
        double lr = r > DBL_MIN ? NAN : 2 * log(at) - log(df);
        if (r == 0 && at == 0) lr = -INFINITY;
        z = beta_pt_swap(beta_point_ratio(r, lr));
    } else {
        /* r = df/t² < 1; x = r/(1+r) */
        double r = (df / at) / at;
        double lr = r > DBL_MIN ? NAN : log(df) - 2 * log(at);
        z = beta_point_ratio(r, lr);
    }
    ibeta(0.5 * df, 0.5, &z, two, inner);
}

double evm_pt(double t, double df, int lower_tail)
{
    if (isnan(t) || isnan(df) || !(df > 0)) return NAN;
    if (df > 1e300) return evm_pnorm(t, lower_tail);
    if (isinf(t)) return (t < 0) == (lower_tail != 0) ? 0.0 : 1.0;
    double two, inner;
    t_two_sided(t, df, &two, &inner);
    /* the tail beyond t on t's side has probability two/2 */
    if ((t < 0) == (lower_tail != 0)) return 0.5 * two;
    return 0.5 + 0.5 * inner;
}

/* log of the t density's constant Γ((df+1)/2) / (√(df π) Γ(df/2)) */
static double t_log_const(double df)
{
    double a = 0.5 * df;
    double lr = a >= BIG ? lgamma_ratio(a, 0.5) : lgamma(a + 0.5) - lgamma(a);
    return lr - 0.5 * log(df * M_PI);
}

/* log(1 + t²/df) without overflow */
static double log1p_t2(double t, double df)
{
    double at = fabs(t);
    if (at <= sqrt(df)) return log1p((at / df) * at);
    return 2 * log(at) - log(df) + log1p((df / at) / at);
}

static double dt_from(double t, double df, double lconst)
{
    return exp(lconst - 0.5 * (df + 1) * log1p_t2(t, df));
}

/* Newton on a monotone function with a bracket: `lo < x < hi` always holds for the
 * iterate; a proposal xn that leaves the bracket is replaced by bisection (geometric when
 * the bracket spans orders of magnitude, growing fourfold while there is no upper end). */
static double safeguard(double x, double xn, double lo, double hi)
{
    if (xn == x || (xn > lo && xn < hi)) return xn;   /* xn == x: converged */
    if (isinf(hi)) return x > 0 ? 4 * x : 1.0;
    if (lo > 0 && hi > 4 * lo) return sqrt(lo) * sqrt(hi);
    return lo + 0.5 * (hi - lo);
}

/* The t >= 0 with P[T > t] = s, 0 < s < ½, df finite. */
static double t_upper_quantile(double s, double df)
{
    double lconst = t_log_const(df);
    /* Starting values: Cornish-Fisher around the normal quantile (A&S 26.7.5), and the
     * power law of the tail, P[T > t] ≈ e^{lconst} df^{(df−1)/2} t^{−df}; keep the one
     * whose tail probability is closer (in log) to s. */
    double zn = norm_upper_quantile(s), z2 = zn * zn;
    double g1 = (z2 + 1) * zn / 4, g2 = ((5 * z2 + 16) * z2 + 3) * zn / 96;
    double g3 = (((3 * z2 + 19) * z2 + 17) * z2 - 15) * zn / 384;
    double t1 = zn + g1 / df + g2 / (df * df) + g3 / (df * df * df);
    double lt2 = (lconst + 0.5 * (df - 1) * log(df) - log(s)) / df;
    double two, inner;
    if (lt2 > 700) {
        /* the power law puts the quantile near or beyond the largest double */
        t_two_sided(DBL_MAX, df, &two, &inner);
        if (0.5 * two > s) return INFINITY;
    }
    double t2 = exp(lt2);
    double ls = log(s), best = NAN, bestd = INFINITY;
    double cand[2] = {t1, t2};
    for (int k = 0; k < 2; k++) {
        double c = cand[k];
        if (!(c > 0) || !isfinite(c)) continue;
        t_two_sided(c, df, &two, &inner);
        double d = fabs(log(0.5 * two) - ls);
        if (d < bestd) bestd = d, best = c;
    }
    if (isnan(best)) best = isinf(t2) ? DBL_MAX : 1.0;
    /* Near the median solve P[0 < T < t] = ½ − s, which keeps relative accuracy as t→0;
     * elsewhere Newton on log P[T > t] − log s. */
    int centre = s > 0.25;
    double target = 0.5 - s, lo = 0, hi = INFINITY, t = best;
    for (int it = 0; it < 200; it++) {
        t_two_sided(t, df, &two, &inner);
        double up = 0.5 * two, dens = dt_from(t, df, lconst);
        double step, resid;
        if (centre) {
            resid = 0.5 * inner - target;           /* increasing in t */
            step = -resid / dens;
            if (resid > 0) hi = t;
            else lo = t;
        } else {
            resid = log(up) - ls;                   /* decreasing in t */
            step = resid * up / dens;
            if (resid > 0) lo = t;
            else hi = t;
        }
        if (resid == 0 || !(dens > 0)) break;
        double tn = safeguard(t, t + step, lo, hi);
        if (tn == INFINITY || isnan(tn)) break;
        double change = fabs(tn - t);
        t = tn;
        if (change <= 2 * DBL_EPSILON * t) break;
        if (!(hi - lo > 2 * DBL_EPSILON * t)) break;
    }
    return t;
}

double evm_qt(double p, double df, int lower_tail)
{
    if (isnan(p) || isnan(df) || !(df > 0) || p < 0 || p > 1) return NAN;
    if (df > 1e300) return evm_qnorm(p, lower_tail);
    int side;
    double s = smaller_tail(p, lower_tail, &side);
    if (s == 0) return side * INFINITY;
    if (s == 0.5) return 0.0;
    return side * t_upper_quantile(s, df);
}

/* ---------------------------------------------------------------- F */

double evm_pf(double f, double df1, double df2, int lower_tail)
{
    if (isnan(f) || isnan(df1) || isnan(df2) || !(df1 > 0) || !(df2 > 0)) return NAN;
    if (f <= 0) return lower_tail ? 0.0 : 1.0;
    if (isinf(f)) return lower_tail ? 1.0 : 0.0;
    if (isinf(df2)) {
        if (isinf(df1)) return (f < 1) == (lower_tail != 0) ? 0.0 : 1.0;
        return evm_pchisq(f * df1, df1, lower_tail);
    }
    if (isinf(df1)) return evm_pchisq(df2 / f, df2, !lower_tail);
    /* P[F <= f] = I_x(df1/2, df2/2), x = df1 f / (df1 f + df2) */
    beta_pt z;
    double q = df2 / df1;
    if (f <= q) {
        double r = (df1 / df2) * f;   /* x = r/(1+r) */
        z = beta_point_ratio(r, r > DBL_MIN ? NAN : log(df1) + log(f) - log(df2));
    } else {
        double r = q / f;             /* y = r/(1+r) */
        z = beta_pt_swap(beta_point_ratio(r, r > DBL_MIN ? NAN : log(q) - log(f)));
    }
    /* x − a/(a+b) = (f − 1) · y · df1/(df1 + df2), with f − 1 exact near the centre */
    z.dx = (f - 1) * z.y * (df1 / (df1 + df2));
    double p, c;
    ibeta(0.5 * df1, 0.5 * df2, &z, &p, &c);
    return lower_tail ? p : c;
}

/* ---------------------------------------------------------------- incomplete gamma */

/* x^a e^{−x} / Γ(a) */
static double gamma_front(double a, double x)
{
    if (a >= BIG) {
        /* √(a/(2π)) exp(a·(log(x/a) − u) − δ(a)), u = (x − a)/a */
        double u = (x - a) / a;
        double l = u < -0.5 ? log(x / a) - u : log1pmx(u);
        return sqrt(a / (2 * M_PI)) * exp(a * l - stirlerr(a));
    }
    double ea = a * log(x);
    if (x >= DBL_MIN && ea > -700 && ea < 700 && x < 1400) {
        /* e^{−x} in two halves so that it does not underflow before x^a scales it */
        double h = exp(-0.5 * x);
        return pow(x, a) * h / tgamma(a) * h;
    }
    return exp(ea - x - lgamma(a));
}

/* P(a, x) in *p and Q(a, x) = 1 − P in *q, each accurate where it is small. */
static void igamma(double a, double x, double *p, double *q)
{
    if (x <= 0) {
        *p = 0, *q = 1;
        return;
    }
    if (isinf(x)) {
        *p = 1, *q = 0;
        return;
    }
    double front = gamma_front(a, x);
    if (x < a + 1) {
        /* P = front/a · Σ x^n / ((a+1)···(a+n)) */
        double sum = 1.0, term = 1.0;
        for (int n = 1; n < MAX_ITER; n++) {
            term *= x / (a + n);
            sum += term;
            if (term <= 0.5 * DBL_EPSILON * sum) break;
        }
        double w = front / a * sum;
        *p = w, *q = 1.0 - w;
        return;
    }
    /* Q = front / (x+1−a − 1(1−a)/(x+3−a − 2(2−a)/(x+5−a − ...))), modified Lentz */
    const double tiny = 1e-300;
    double f = x + 1 - a, C = f, D = 0.0;
    if (fabs(f) < tiny) f = C = tiny;
    int small = 0;
    for (int n = 1; n < MAX_ITER; n++) {
        double an = -n * (n - a), bn = x + 2 * n + 1 - a;
        D = bn + an * D;
        if (fabs(D) < tiny) D = tiny;
        D = 1.0 / D;
        C = bn + an / C;
        if (fabs(C) < tiny) C = tiny;
        double delta = C * D;
        f *= delta;
        small = fabs(delta - 1.0) <= 0.5 * DBL_EPSILON ? small + 1 : 0;
        if (small >= 2) break;
    }
    double w = front / f;
    *q = w, *p = 1.0 - w;
}

double evm_pchisq(double x, double df, int lower_tail)
{
    if (isnan(x) || isnan(df) || df < 0) return NAN;
    if (x <= 0) return lower_tail ? 0.0 : 1.0;
    if (df == 0) return lower_tail ? 1.0 : 0.0;   /* point mass at 0, as R */
    if (isinf(df)) return lower_tail ? 0.0 : 1.0;
    double p, q;
    igamma(0.5 * df, 0.5 * x, &p, &q);
    return lower_tail ? p : q;
}

/* The x with P[χ²_df <= x] = p (lower = 1) or P[χ²_df > x] = p (lower = 0), 0 < p <= ½. */
static double chisq_quantile(double pr, int lower, double df)
{
    double a = 0.5 * df, lpr = log(pr);
    /* Starting values: Wilson-Hilferty; for a small lower tail P ≈ (x/2)^a / Γ(a+1);
     * keep the one whose probability is closer in log. */
    double zq = norm_upper_quantile(pr) * (lower ? -1 : 1);
    double c = 2.0 / (9.0 * df), w = 1 - c + zq * sqrt(c);
    double cand[3];
    cand[0] = w > 0 ? df * w * w * w : NAN;
    cand[1] = lower ? 2 * exp((lpr + lgamma(a + 1)) / a) : NAN;
    cand[2] = lower ? NAN : 2 * (a - lpr - lgamma(a));   /* Q ≈ e^{−x/2}(x/2)^{a−1}/Γ(a) */
    double x = NAN, bestd = INFINITY, p, q;
    for (int k = 0; k < 3; k++) {
        double v = cand[k];
        if (!(v > 0) || !isfinite(v)) continue;
        igamma(a, 0.5 * v, &p, &q);
        double d = fabs(log(lower ? p : q) - lpr);
        if (d < bestd) bestd = d, x = v;
    }
    if (isnan(x)) {
        if (lower && cand[1] == 0) return 0.0;   /* below the smallest double */
        x = df;
    }
    /* Newton on log P − log pr in log x (exact for the power law P ∝ x^a of the lower
     * tail), on log Q − log pr in x for the upper tail; f = density of χ². */
    double lo = 0, hi = INFINITY;
    for (int it = 0; it < 300; it++) {
        igamma(a, 0.5 * x, &p, &q);
        double tail = lower ? p : q;
        double dens = 0.5 * gamma_front(a, 0.5 * x) / (0.5 * x);
        double resid = log(tail) - lpr;
        /* lower: P increases with x; upper: Q decreases */
        if ((resid > 0) == (lower != 0)) hi = x;
        else lo = x;
        if (resid == 0) break;
        double xn;
        if (!isfinite(resid) || !(dens > 0))
            xn = NAN;   /* bisect */
        else if (lower)
            xn = x * exp(-resid * tail / (x * dens));
        else
            xn = x + resid * tail / dens;
        xn = safeguard(x, xn, lo, hi);
        double change = fabs(xn - x);
        x = xn;
        if (change <= 2 * DBL_EPSILON * x) break;
        if (!(hi - lo > 2 * DBL_EPSILON * x)) break;
    }
    return x;
}

double evm_qchisq(double p, double df, int lower_tail)
{
    if (isnan(p) || isnan(df) || df < 0 || p < 0 || p > 1) return NAN;
    if (p == (lower_tail ? 0.0 : 1.0)) return 0.0;
    if (p == (lower_tail ? 1.0 : 0.0)) return INFINITY;
    if (df == 0) return 0.0;
    if (isinf(df)) return INFINITY;
    /* work on the smaller tail, which is known to full relative accuracy */
    if (p <= 0.5) return chisq_quantile(p, lower_tail, df);
    return chisq_quantile(1.0 - p, !lower_tail, df);
}
