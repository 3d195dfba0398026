/* test_satterthwaite.c — Satterthwaite df, t/F tests and type-3 hypotheses against
 * lmerTest 3.1-3 (tests/reference/lmertest_reference.json, made by lmertest_reference.R
 * from the CSV files in datasets/).
 *
 * Every case is read and fitted through the public API, then checked twice:
 *  - "ref-θ": the model is put at lmerTest's θ̂ (β̂, σ̂ and Var(β̂) recomputed there), so
 *    that the inference is compared at the same estimates: this is the test of the
 *    Satterthwaite and anova code itself, to the tolerances below;
 *  - "default": at evalmix's own estimates.  Its stopping rule (relative f tolerance
 *    1e-12) leaves θ̂ up to ~1e-5 (relative) from the tight optimum on flat objectives
 *    (hsb_slopes_reml: 3.7e-8 in the REML criterion), and even a tight optimiser pins θ̂
 *    of penicillin's plate/sample split only to ~3e-6, which moves t by up to ~1e-5:
 *    here t and p are held to 1e-4 (TOL_T_DEFAULT), df, F and DenDF to the 1e-3 of the
 *    acceptance as everywhere.
 * The inference pieces are called through their internal interfaces
 * (engine/infer/infer_internal.h).  Tolerances:
 *   df of coefficients and contrasts, F, DenDF                1e-3 relative (acceptance)
 *   t of coefficients and contrasts                           1e-6 relative
 *   p of coefficients and contrasts                           1e-6 relative, times the
 *                                                             relative change of p per
 *                                                             relative change of t or df
 *                                                             when that exceeds 1 (a
 *                                                             p-value of 1e-80 cannot be
 *                                                             closer than its t allows)
 *   Pr(>F)                                                    1e-3, scaled likewise
 *   NumDF                                                     exactly
 *   type-3 hypothesis matrices                                1e-6 absolute (lmerTest
 *                                                             rounds them to 7 digits)
 * Prints one line per case with the largest relative error of each quantity, and the
 * time of evm__satt_create.  An optional argument selects the cases whose id contains it. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "evalmix/evalmix.h"
#include "infer/infer_internal.h"
#include "json.h"

#define REF_JSON "tests/reference/lmertest_reference.json"

#define TOL_DF 1e-3
#define TOL_F 1e-3
#define TOL_T 1e-6
#define TOL_P 1e-6
#define TOL_L 1e-6
/* at evalmix's own θ̂ (see the top) */
#define TOL_T_DEFAULT 1e-4
#define TOL_P_DEFAULT 1e-4

typedef struct {
    const char *id;
    const char *mode;   /* "ref-θ" or "default" */
    double tol_t, tol_p;
    int nfail;
    double df, t, p, F, ddf, fp;   /* largest relative errors seen */
} caselog;

static void failf(caselog *L, const char *fmt, ...)
{
    check_failed_++;
    if (L->nfail++ == 0) printf("%s (%s fit): FAILED\n", L->id, L->mode);
    va_list ap;
    va_start(ap, fmt);
    printf("    ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static double relerr(double got, double want)
{
    if (got == want) return 0.0;
    return fabs(got - want) / fabs(want);
}

/* compare with relative tolerance `tol`, tracking the largest error in *worst */
static void cmp(caselog *L, const char *what, double got, double want, double tol, double *worst)
{
    double e = relerr(got, want);
    if (!(e <= tol)) {
        failf(L, "%s: evalmix %.12g, lmerTest %.12g (rel %.3g > %g)", what, got, want, e, tol);
        return;
    }
    check_passed_++;
    if (e > *worst) *worst = e;
}

/* compare a p-value: its relative error divided by `scale` within tol */
static void cmp_p(caselog *L, const char *what, double got, double want, double scale,
                  double tol, double *worst)
{
    if (!(scale >= 1.0)) scale = 1.0;   /* p underflowed to 0: no sensitivity to speak of */
    double e = relerr(got, want) / scale;
    if (!(e <= tol)) {
        failf(L, "%s: evalmix %.12g, lmerTest %.12g (rel %.3g > %g x %.3g)", what, got, want,
              e * scale, tol, scale);
        return;
    }
    check_passed_++;
    if (e > *worst) *worst = e;
}

/* p-values: allowed relative error = tol * max(1, |d log p / d log stat|,
 * |d log p / d log df|): the change in p that a relative change tol of the statistic or
 * of its df makes (estimated numerically).  Far in the tail p is that sensitive: the
 * df of sleepstudy's contrasts (17.00001) carry ~7e-7 of finite-difference noise in
 * lmerTest and in evalmix alike, which moves p = 5.9e-17 by 2e-5. */
static double p_t(double t, double df) { return 2.0 * evm_pt(-fabs(t), df, 1); }
static double p_f(double F, double ndf, double ddf) { return evm_pf(F, ndf, ddf, 0); }

static double max3(double a, double b, double c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

static double p_scale_t(double t, double df)
{
    double p0 = p_t(t, df), p1 = p_t(t * (1 + 1e-6), df), p2 = p_t(t, df * (1 + 1e-6));
    return max3(1.0, fabs(p1 - p0) / p0 / 1e-6, fabs(p2 - p0) / p0 / 1e-6);
}

static double p_scale_f(double F, double ndf, double ddf)
{
    double p0 = p_f(F, ndf, ddf), p1 = p_f(F * (1 + 1e-6), ndf, ddf);
    double p2 = p_f(F, ndf, ddf * (1 + 1e-6));
    return max3(1.0, fabs(p1 - p0) / p0 / 1e-6, fabs(p2 - p0) / p0 / 1e-6);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------- parts of a case */

static void check_coefs(caselog *L, const evm_lmm *m, const evm__satt *s, const json_value *cf)
{
    const json_value *names = json_get(cf, "name");
    const int p = m->p;
    if ((size_t)p != json_len(names)) {
        failf(L, "number of coefficients: evalmix %d, lmerTest %zu", p, json_len(names));
        return;
    }
    double *l = calloc((size_t)p, sizeof *l);
    char what[200];
    for (int j = 0; j < p; j++) {
        const char *nm = json_str(json_at(names, (size_t)j));
        if (!nm || strcmp(nm, m->mf->xnames[j]) != 0) {
            failf(L, "coefficient %d: evalmix %s, lmerTest %s", j, m->mf->xnames[j], nm);
            continue;
        }
        memset(l, 0, (size_t)p * sizeof *l);
        l[j] = 1.0;
        double df = NAN;
        CHECK(evm__satt_df(s, l, 1, &df, NULL) == EVM_OK);
        double t = m->beta[j] / sqrt(m->vcov[j + (int64_t)j * p]), pv = p_t(t, df);
        snprintf(what, sizeof what, "df of %s", nm);
        cmp(L, what, df, json_num(json_at(json_get(cf, "df"), (size_t)j)), TOL_DF, &L->df);
        snprintf(what, sizeof what, "t of %s", nm);
        cmp(L, what, t, json_num(json_at(json_get(cf, "t"), (size_t)j)), L->tol_t, &L->t);
        snprintf(what, sizeof what, "p of %s", nm);
        cmp_p(L, what, pv, json_num(json_at(json_get(cf, "p"), (size_t)j)), p_scale_t(t, df),
              L->tol_p, &L->p);
    }
    free(l);
}

static void check_contrasts(caselog *L, const evm_lmm *m, const evm__satt *s,
                            const json_value *cons)
{
    const int p = m->p;
    char what[200];
    for (size_t i = 0; i < json_len(cons); i++) {
        const json_value *cn = json_at(cons, i), *lj = json_get(cn, "L");
        if (json_len(lj) != (size_t)p) {
            failf(L, "contrast %zu: %zu weights for %d coefficients", i, json_len(lj), p);
            continue;
        }
        double l[256], est = 0.0, var = 0.0, df = NAN;
        for (int j = 0; j < p && j < 256; j++) l[j] = json_num(json_at(lj, (size_t)j));
        for (int a = 0; a < p; a++) {
            est += l[a] * m->beta[a];
            for (int b = 0; b < p; b++) var += l[a] * m->vcov[a + (int64_t)b * p] * l[b];
        }
        CHECK(evm__satt_df(s, l, 1, &df, NULL) == EVM_OK);
        double t = est / sqrt(var), pv = p_t(t, df);
        snprintf(what, sizeof what, "contrast %zu df", i);
        cmp(L, what, df, json_num(json_get(cn, "df")), TOL_DF, &L->df);
        snprintf(what, sizeof what, "contrast %zu t", i);
        cmp(L, what, t, json_num(json_get(cn, "t")), L->tol_t, &L->t);
        snprintf(what, sizeof what, "contrast %zu p", i);
        cmp_p(L, what, pv, json_num(json_get(cn, "p")), p_scale_t(t, df), L->tol_p, &L->p);
    }
}

static void check_anova(caselog *L, const evm_lmm *m, const evm__satt *s, const json_value *an)
{
    int nt = 0, *k = NULL;
    char **names = NULL, what[200];
    double **Lt = NULL;
    evm_ctx *c = evm_ctx_create();
    int st = evm__anova_terms(m, &nt, &names, &Lt, &k, c);
    if (st < 0) {
        failf(L, "evm__anova_terms: %s: %s", evm_status_str(st), evm_ctx_message(c));
        evm_ctx_destroy(&c);
        return;
    }
    if ((size_t)nt != json_len(an))
        failf(L, "anova terms: evalmix %d, lmerTest %zu", nt, json_len(an));
    /* lmerTest lists terms without a testable row last (as NAs): match by name */
    for (int t = 0; t < nt; t++) {
        const json_value *row = NULL;
        for (size_t i = 0; i < json_len(an) && !row; i++) {
            const char *term = json_str(json_get(json_at(an, i), "term"));
            if (term && strcmp(term, names[t]) == 0) row = json_at(an, i);
        }
        if (!row) {
            failf(L, "anova term %s: not in lmerTest's table", names[t]);
            continue;
        }
        check_passed_++;
        const char *term = names[t];
        const json_value *lj = json_get(row, "L");
        /* the hypothesis matrix */
        if ((size_t)k[t] != json_len(lj)) {
            failf(L, "anova %s: %d hypothesis rows, lmerTest %zu", term, k[t], json_len(lj));
        } else {
            double worst = 0.0;
            for (int r = 0; r < k[t]; r++)
                for (int j = 0; j < m->p; j++) {
                    double d = fabs(Lt[t][(int64_t)r * m->p + j] -
                                    json_num(json_at(json_at(lj, (size_t)r), (size_t)j)));
                    if (d > worst) worst = d;
                }
            if (worst <= TOL_L) check_passed_++;
            else failf(L, "anova %s: hypothesis matrix differs by %.3g", term, worst);
        }
        double F = NAN, ndf = NAN, ddf = NAN;
        st = evm__satt_ftest(s, m->beta, Lt[t], k[t], &F, &ndf, &ddf, c);
        if (st < 0) {
            failf(L, "evm__satt_ftest(%s): %s", term, evm_ctx_message(c));
            continue;
        }
        if (json_is_na(json_get(row, "F"))) {   /* nothing testable */
            CHECK(isnan(F) && isnan(ddf) && ndf == 0);
            continue;
        }
        CHECK_INT(ndf, json_num(json_get(row, "NumDF")));
        snprintf(what, sizeof what, "anova %s F", term);
        cmp(L, what, F, json_num(json_get(row, "F")), TOL_F, &L->F);
        snprintf(what, sizeof what, "anova %s DenDF", term);
        cmp(L, what, ddf, json_num(json_get(row, "DenDF")), TOL_F, &L->ddf);
        /* Pr(>F): the 1e-3 of F and DenDF carry over */
        snprintf(what, sizeof what, "anova %s Pr(>F)", term);
        cmp_p(L, what, p_f(F, ndf, ddf), json_num(json_get(row, "p")), p_scale_f(F, ndf, ddf),
              TOL_F, &L->fp);
    }
    for (int t = 0; t < nt; t++) {
        free(names[t]);
        free(Lt[t]);
    }
    free(names);
    free(Lt);
    free(k);
    evm_ctx_destroy(&c);
}

/* ---------------------------------------------------------------- one case */

static void run_case(const json_value *cs, int at_ref)
{
    const char *id = json_str(json_get(cs, "id"));
    const char *csv = json_str(json_get(cs, "csv"));
    const char *formula = json_str(json_get(cs, "formula"));
    int reml = json_bool(json_get(cs, "reml"));
    const char *weights = json_str(json_get(cs, "weights"));   /* NULL for none */
    caselog L = {.id = id ? id : "(no id)", .mode = at_ref ? "ref-θ" : "default",
                 .tol_t = at_ref ? TOL_T : TOL_T_DEFAULT,
                 .tol_p = at_ref ? TOL_P : TOL_P_DEFAULT};
    evm_ctx *c = evm_ctx_create();
    evm_colreq *req = NULL;
    int nreq = 0, st;
    evm_frame *f = NULL;
    evm_lmm *m = NULL;
    evm__satt *s = NULL;
    double secs = NAN;
    evm_lmm_opts o;
    evm_lmm_opts_default(&o);
    o.reml = reml;
    o.weights = weights;
    if (!c || !id || !csv || !formula || reml < 0) {
        failf(&L, "malformed case");
        goto cleanup;
    }
    if ((st = evm_formula_columns(formula, &o, &req, &nreq, c)) < 0 ||
        (st = evm_csv_read(csv, req, nreq, &f, c)) < 0 ||
        (st = evm_lmm_create(formula, f, &o, &m, c)) < 0 || (st = evm_lmm_fit(m, c)) < 0) {
        failf(&L, "fit: %s: %s", evm_status_str(st), evm_ctx_message(c));
        goto cleanup;
    }
    if (at_ref) {
        const json_value *th = json_get(cs, "theta");
        if (json_len(th) != (size_t)m->ntheta) {
            failf(&L, "length of theta: evalmix %d, lmerTest %zu", m->ntheta, json_len(th));
            goto cleanup;
        }
        for (int i = 0; i < m->ntheta; i++) m->theta[i] = json_num(json_at(th, (size_t)i));
        m->objective = evm__lmm_factor(m, m->theta);
        if ((st = evm__lmm_postfit(m, c)) < 0) {
            failf(&L, "postfit at lmerTest's theta: %s", evm_ctx_message(c));
            goto cleanup;
        }
        CHECK_REL(m->sigma, json_num(json_get(cs, "sigma")), 1e-9, 0.0);
    }
    double t0 = now();
    st = evm__satt_create(m, &s, c);
    secs = now() - t0;
    if (st < 0) {
        failf(&L, "evm__satt_create: %s: %s", evm_status_str(st), evm_ctx_message(c));
        goto cleanup;
    }
    /* lmerTest's warnings about the Hessian's eigenvalues, and evalmix's */
    {
        int nw = 0, nref = 0;
        for (int i = 0; i < evm_ctx_nwarnings(c); i++)
            nw += strncmp(evm_ctx_warning(c, i), "Satterthwaite:", 14) == 0;
        const json_value *w = json_get(cs, "warnings");
        for (size_t i = 0; i < json_len(w); i++)
            nref += json_str(json_at(w, i)) && strstr(json_str(json_at(w, i)), "eigenvalue");
        CHECK_INT(nw, nref);
    }
    /* the model is left at its estimates: objective as fitted */
    CHECK_REL(evm_lmm_objective(m, m->theta, c), m->objective, 1e-12, 1.0);

    check_coefs(&L, m, s, json_get(cs, "coef"));
    check_contrasts(&L, m, s, json_get(cs, "contrasts"));
    check_anova(&L, m, s, json_get(cs, "anova"));

cleanup:
    if (L.nfail == 0)
        printf("%-24s %-8s ok  max rel err: df %.1e  t %.1e  p %.1e  F %.1e  DenDF %.1e  Pr(>F) %.1e"
               "  [satt_create %.2g ms]\n",
               L.id, L.mode, L.df, L.t, L.p, L.F, L.ddf, L.fp, secs * 1e3);
    fflush(stdout);
    evm__satt_destroy(&s);
    evm_lmm_destroy(&m);
    evm_frame_destroy(&f);
    evm_colreq_free(&req, nreq);
    evm_ctx_destroy(&c);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    char *err = NULL;
    json_value *root = json_parse_file(REF_JSON, &err);
    if (!root) {
        fprintf(stderr, "test_satterthwaite: %s (run from the repository root)\n",
                err ? err : "out of memory");
        free(err);
        CHECK(root != NULL);
        return check_summary("test_satterthwaite");
    }
    const json_value *cases = json_get(root, "cases");
    CHECK(json_len(cases) > 0);
    int ran = 0;
    for (size_t i = 0; i < json_len(cases); i++) {
        const char *id = json_str(json_get(json_at(cases, i), "id"));
        if (only && (!id || !strstr(id, only))) continue;
        run_case(json_at(cases, i), 1);
        run_case(json_at(cases, i), 0);
        ran++;
    }
    if (only && ran == 0) {
        fprintf(stderr, "test_satterthwaite: no case id contains \"%s\"\n", only);
        CHECK(ran > 0);
    }
    json_free(&root);
    return check_summary("test_satterthwaite");
}
