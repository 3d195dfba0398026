/* test_dist.c — evm_pnorm … evm_qchisq against R 4.2 on the grid of dist_reference.R
 * (tests/reference/dist_reference.json): df from 0.5 to 1e7, probabilities down to
 * 1e-300, both tails.
 *
 * Tolerances.  Probabilities: 1e-12 relative.  Measured against 45-digit mpmath on this
 * grid evalmix's own error is below 2e-13; the largest errors are at probabilities near
 * 1e-300, where the exponent (~ -690) carries a rounding error of ~1e-13 relative.
 * Looser, and why:
 *  - pf with df1 and df2 both >= 1e6: 1e-11.  R (TOMS 708's asymptotic expansion) is off
 *    by up to 6e-12 there (pf(1.01, 1e7, 1e7, lower = FALSE): R 4.50523113434853e-56,
 *    mpmath quadrature 4.50523113432276e-56, evalmix 4.50523113432462e-56).
 *  - Quantiles: 1e-12 relative plus 1e-15 absolute.  Near the median R forms 1 − p (or
 *    2·min(p, 1 − p)) before solving, which costs it ~1e-16 absolute (qnorm(0.4999999,
 *    lower = FALSE): R 2.50662827609457e-07, exact 2.50662827470311e-07).
 *  - Quantiles where R's own round trip fails (column r_consistent = 0: R's qt is off by
 *    up to 1% for df < 11 at p = 1e-300 and for df = 0.5 in the upper tail): evalmix's
 *    round trip must give back s = min(p, 1 − p) to 1e-12·max(1, κ) relative, κ = q f(q)/s
 *    the condition number from the JSON — i.e. the quantile is right to ~1e-12 as far as
 *    the CDF (itself checked against R above) can tell.
 *
 * Also properties that need no oracle: P + Q = 1, symmetry of t, quantile(CDF(x)) = x
 * on the smaller tail, closed forms (df = 1 Cauchy, df = 2, F(1, ν) = t², χ²_2
 * exponential), the ends and invalid arguments as R.
 *
 * Prints the largest relative difference from R per function. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "evalmix/evalmix.h"
#include "json.h"

#define REF_JSON "tests/reference/dist_reference.json"
#define TOL 1e-12

static double call(const char *fn, const double *a, int lower)
{
    if (!strcmp(fn, "pnorm")) return evm_pnorm(a[0], lower);
    if (!strcmp(fn, "qnorm")) return evm_qnorm(a[0], lower);
    if (!strcmp(fn, "pt")) return evm_pt(a[0], a[1], lower);
    if (!strcmp(fn, "qt")) return evm_qt(a[0], a[1], lower);
    if (!strcmp(fn, "pf")) return evm_pf(a[0], a[1], a[2], lower);
    if (!strcmp(fn, "pchisq")) return evm_pchisq(a[0], a[1], lower);
    return evm_qchisq(a[0], a[1], lower);
}

static double cdf_of(const char *fn, double q, double df, int lower)
{
    if (!strcmp(fn, "qnorm")) return evm_pnorm(q, lower);
    if (!strcmp(fn, "qt")) return evm_pt(q, df, lower);
    return evm_pchisq(q, df, lower);
}

/* Compare one table {arg1: [...], ..., lower_tail: [...], value: [...]}. */
static void check_table(const json_value *root, const char *fn, const char *const *args,
                        int nargs)
{
    const json_value *t = json_get(root, fn);
    const json_value *lt = json_get(t, "lower_tail"), *val = json_get(t, "value");
    const json_value *consistent = json_get(t, "r_consistent"), *kappa = json_get(t, "kappa");
    int quantile = fn[0] == 'q';
    size_t n = json_len(val);
    CHECK(n > 0);
    CHECK_INT(json_len(lt), n);
    if (quantile) CHECK(json_len(consistent) == n && json_len(kappa) == n);
    double worst = 0;
    size_t nbad = 0, nroundtrip = 0;
    for (size_t i = 0; i < n; i++) {
        double a[3];
        for (int k = 0; k < nargs; k++) a[k] = json_num(json_at(json_get(t, args[k]), i));
        int lower = (int)json_num(json_at(lt, i));
        double want = json_num(json_at(val, i)), got = call(fn, a, lower), err, tol = TOL;
        if (got == want) {
            err = 0;
        } else if (quantile && json_num(json_at(consistent, i)) == 0) {
            /* R's quantile is off: evalmix's round trip on the smaller tail instead */
            double p = a[0], s = p <= 0.5 ? p : 1 - p, k = json_num(json_at(kappa, i));
            int small_lower = (lower == 1) == (p <= 0.5);
            err = fabs(cdf_of(fn, got, a[1], small_lower) - s) / s;
            tol = TOL * (k > 1 ? k : 1);
            nroundtrip++;
        } else if (isinf(want) || want == 0) {
            err = got == want ? 0 : INFINITY;
        } else {
            err = fabs(got - want) / fabs(want);
            if (quantile) tol = TOL + 1e-15 / fabs(want);
            if (!strcmp(fn, "pf") && a[1] >= 1e6 && a[2] >= 1e6) tol = 1e-11;
            /* the report leaves out quantiles so near 0 that the absolute part rules */
            if (err > worst && !(quantile && fabs(want) < 1e-3)) worst = err;
        }
        if (err <= tol) {
            check_passed_++;
            continue;
        }
        check_failed_++;
        if (nbad++ < 20) {
            fprintf(stderr, "%s(", fn);
            for (int k = 0; k < nargs; k++) fprintf(stderr, "%s%.17g", k ? ", " : "", a[k]);
            fprintf(stderr, ", lower=%d) = %.17g, R %.17g (rel %.3g > %.3g)\n", lower, got,
                    want, err, tol);
        }
    }
    printf("%-7s %5zu values, largest relative difference from R %.2g%s", fn, n, worst,
           quantile ? " (|q| >= 1e-3)" : "");
    if (nroundtrip) printf(" (%zu checked by round trip)", nroundtrip);
    printf("\n");
}

static void properties(void)
{
    /* P + Q = 1 and the symmetry of t */
    const double ts[] = {-7.5, -2, -0.3, 0.0, 0.01, 1.7, 25};
    const double dfs[] = {0.5, 1, 3.5, 29, 1e4, 1e7};
    for (int i = 0; i < 7; i++)
        for (int j = 0; j < 6; j++) {
            double t = ts[i], df = dfs[j];
            CHECK_REL(evm_pt(t, df, 1) + evm_pt(t, df, 0), 1.0, 1e-15, 1.0);
            CHECK_REL(evm_pt(t, df, 1), evm_pt(-t, df, 0), 1e-15, 1e-300);
            CHECK_REL(evm_pchisq(fabs(t) * df, df, 1) + evm_pchisq(fabs(t) * df, df, 0), 1.0,
                      1e-15, 1.0);
        }
    /* quantile(CDF(x)) = x, on the smaller tail (the other one has lost digits to 1 − P) */
    for (int j = 0; j < 6; j++)
        for (int i = 0; i < 7; i++) {
            double t = ts[i], df = dfs[j];
            if (t < 0) CHECK_REL(evm_qt(evm_pt(t, df, 1), df, 1), t, 1e-13, 1e-300);
            double x = (fabs(t) + 0.1) * df;
            int upper = evm_pchisq(x, df, 0) < 0.5;
            double s = evm_pchisq(x, df, !upper);
            if (s > 1e-300) CHECK_REL(evm_qchisq(s, df, !upper), x, 1e-13, 1e-300);
        }
    for (double z = -37; z < 37; z += 1.37)
        CHECK_REL(evm_qnorm(evm_pnorm(z, z < 0), z < 0), z, 1e-14, 1e-300);
    /* closed forms: Cauchy, t with 2 df, F(1, ν) = t², χ²_2 exponential */
    for (double t = -1e6; t < -1e-3; t /= 7.3) {
        double r = sqrt(2 + t * t);
        CHECK_REL(evm_pt(t, 1, 1), atan2(1.0, -t) / M_PI, 1e-14, 1e-300);
        CHECK_REL(evm_pt(t, 2, 1), 1 / (r * (r - t)), 1e-14, 1e-300);
        CHECK_REL(evm_pf(t * t, 1, 7.5, 0), 2 * evm_pt(t, 7.5, 1), 1e-13, 1e-300);
        CHECK_REL(evm_pchisq(-t, 2, 0), exp(t / 2), 1e-14, 1e-300);
    }
    CHECK_REL(evm_qt(1e-300, 1, 1), -1 / (M_PI * 1e-300), 1e-13, 1e-300);
    /* ends and bad arguments, as R */
    CHECK(evm_qnorm(0, 1) == -INFINITY && evm_qnorm(1, 1) == INFINITY);
    CHECK(evm_qt(0, 3, 1) == -INFINITY && evm_qt(0, 3, 0) == INFINITY);
    CHECK(evm_qt(0.5, 3, 1) == 0 && evm_qt(0.5, 1e7, 0) == 0);
    CHECK(evm_qchisq(0, 3, 1) == 0 && evm_qchisq(1, 3, 1) == INFINITY);
    CHECK(evm_pchisq(0, 0, 1) == 0 && evm_pchisq(1, 0, 1) == 1);
    CHECK(evm_pt(INFINITY, 3, 1) == 1 && evm_pt(-INFINITY, 3, 1) == 0);
    CHECK(evm_pf(0, 2, 3, 1) == 0 && evm_pf(INFINITY, 2, 3, 0) == 0);
    CHECK(isnan(evm_pt(1, 0, 1)) && isnan(evm_pt(1, -1, 1)) && isnan(evm_pt(NAN, 1, 1)));
    CHECK(isnan(evm_qt(1.5, 3, 1)) && isnan(evm_qchisq(-0.1, 3, 1)));
    CHECK(isnan(evm_pf(1, 0, 3, 1)) && isnan(evm_pchisq(1, -2, 1)));
    /* infinite df: the normal limit */
    CHECK(evm_pt(-2, INFINITY, 1) == evm_pnorm(-2, 1));
    CHECK(evm_qt(0.025, INFINITY, 1) == evm_qnorm(0.025, 1));
    CHECK_REL(evm_pf(2, 3, INFINITY, 0), evm_pchisq(6, 3, 0), 1e-15, 1e-300);
}

int main(void)
{
    char *err = NULL;
    json_value *root = json_parse_file(REF_JSON, &err);
    if (!root) {
        fprintf(stderr, "%s (run from the repository root)\n", err ? err : REF_JSON);
        return 1;
    }
    const char *const a_norm[] = {"q"}, *const a_qnorm[] = {"p"};
    const char *const a_t[] = {"q", "df"}, *const a_qt[] = {"p", "df"};
    const char *const a_f[] = {"q", "df1", "df2"};
    check_table(root, "pnorm", a_norm, 1);
    check_table(root, "qnorm", a_qnorm, 1);
    check_table(root, "pt", a_t, 2);
    check_table(root, "qt", a_qt, 2);
    check_table(root, "pf", a_f, 3);
    check_table(root, "pchisq", a_t, 2);
    check_table(root, "qchisq", a_qt, 2);
    properties();
    json_free(&root);
    return check_summary("test_dist");
}
