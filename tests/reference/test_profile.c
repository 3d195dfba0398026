/* test_profile.c — profile-likelihood intervals (engine/infer/profile.c) against lme4 1.1-31
 * confint(m, method = "profile") and against an oracle-free property.
 *
 * For every case in tests/reference/profile_reference.json (made by profile_reference.R)
 * this reads the CSV through the public API, fits the same model and computes the
 * intervals with evm__profile_ci, then checks:
 *  1. names exactly as lme4's confint rows (.sig01.., .sigma, fixed effects);
 *  2. every limit within 1e-3 of lme4's, relative to max(|lme4|, 1) (so absolute for
 *     values below 1 in magnitude: correlations, limits at 0); infinite limits equal.
 *     Where lme4 warned while profiling (profile_warned: non-monotonic profile, bad
 *     spline fit) only its limits on the boundary (sd 0, correlation ±1) are compared:
 *     its interpolated limits are then off (hsb_slopes: by up to 0.17, as lme4's own
 *     devfun2 minimised at fixed values shows) and check 3 carries the case;
 *  3. oracle-free: at every limit inside the parameter space the profiled ML deviance,
 *     recomputed independently of profile.c, exceeds the ML minimum by qchisq(level, 1)
 *     within 1e-6; at a limit on the boundary (sd 0, correlation ±1) the deviance there
 *     is at most the minimum + qchisq(level, 1) (the profile never reached the cutoff).
 *     The minimum is that of a separate ML fit with tight optimiser tolerances, polished.
 *     Fixed effects: a new model for y − xⱼb on the other columns of X (as new frame
 *     columns), fitted by ML through the public API (tight tolerances, polished).  Variance parameters: the deviance at (θ, σ) of the
 *     ML fit
 *     (evm__lmm_deviance_vp), minimised over the other sd/cor/σ from a cold start at the
 *     ML estimates with NLopt's Sbplx and then BOBYQA (profile.c warm-starts BOBYQA
 *     along the profile);
 *  4. the fitted model is unchanged afterwards (θ, β, σ, objective, Var(β), the corner
 *     factor: bit for bit).
 * Prints one line per case with the largest differences and the time taken.
 * Run from the repository root:  test_profile [-v] [id-substring]
 * (-v prints every limit with lme4's and the deviance check). */
#include <math.h>
#include <nlopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "evalmix/evalmix.h"
#include "infer/infer_internal.h"
#include "json.h"

#define REF_JSON "tests/reference/profile_reference.json"
#define TOL_LME4 1e-3
#define TOL_DEV 1e-6

static int verbose = 0;   /* -v: one line per limit */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------- model helpers */

/* tight: optimiser tolerances far below the defaults, for the oracle-free fits */
static evm_lmm *fit_model(const char *formula, const evm_frame *f, int reml, int tight,
                          evm_ctx *c)
{
    evm_lmm_opts o;
    evm_lmm_opts_default(&o);
    o.reml = reml;
    if (tight) {
        o.ftol_rel = 1e-15;
        o.xtol_abs = 1e-13;
    }
    evm_lmm *m = NULL;
    if (evm_lmm_create(formula, f, &o, &m, c) < 0) {
        fprintf(stderr, "evm_lmm_create(%s): %s\n", formula, evm_ctx_message(c));
        return NULL;
    }
    if (evm_lmm_fit(m, c) < 0) {
        fprintf(stderr, "evm_lmm_fit(%s): %s\n", formula, evm_ctx_message(c));
        evm_lmm_destroy(&m);
    }
    return m;
}

static evm_frame *read_frame(const char *csv, const char *formula, evm_ctx *c)
{
    evm_colreq *req = NULL;
    int nreq = 0;
    evm_frame *f = NULL;
    evm_lmm_opts o;
    evm_lmm_opts_default(&o);
    if (evm_formula_columns(formula, &o, &req, &nreq, c) < 0 ||
        evm_csv_read(csv, req, nreq, &f, c) < 0)
        fprintf(stderr, "reading %s: %s\n", csv, evm_ctx_message(c));
    evm_colreq_free(&req, nreq);
    return f;
}

/* For fixed effect j at b: a copy of frame f plus numeric columns profile_y = y − Xⱼb and
 * profile_x<i> = column i of X for i ≠ j (from the model frame of m, whose rows must be
 * all of f's), and the formula "profile_y ~ 0 + profile_x<i> ... + <random part>". */
static evm_frame *offset_model(const evm_frame *f, const evm_lmm *m, const char *formula,
                               int j, double b, char *out, size_t len, evm_ctx *c)
{
    const evm__modelframe *mf = m->mf;
    const int64_t n = evm_frame_nrows(f);
    evm_frame *g = NULL;
    double *col = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    const char *re = strchr(formula, '|');
    while (re && re > formula && *re != '(') re--;   /* the first "(... | ...)" term */
    if (!col || !re || *re != '(' || mf->n != n || !(g = evm_frame_create(n, c))) goto fail;
    for (int k = 0; k < evm_frame_ncols(f); k++) {
        int st;
        if (evm_frame_type(f, k) == EVM_COL_NUMERIC) {
            st = evm_frame_add_numeric(g, evm_frame_name(f, k), evm_frame_numeric(f, k), c);
        } else {
            int32_t nl = evm_frame_nlevels(f, k);
            const char **lev = malloc(sizeof(char *) * (size_t)(nl > 0 ? nl : 1));
            if (!lev) goto fail;
            for (int32_t l = 0; l < nl; l++) lev[l] = evm_frame_level(f, k, l);
            st = evm_frame_add_factor(g, evm_frame_name(f, k), evm_frame_codes(f, k), lev, nl, c);
            free(lev);
        }
        if (st < 0) goto fail;
    }
    for (int64_t r = 0; r < n; r++) col[r] = mf->y[r] - b * mf->X[r + (size_t)j * n];
    if (evm_frame_add_numeric(g, "profile_y", col, c) < 0) goto fail;
    size_t o = (size_t)snprintf(out, len, "profile_y ~ 0");
    for (int i = 0; i < mf->p; i++) {
        if (i == j) continue;
        char name[32];
        snprintf(name, sizeof name, "profile_x%d", i);
        if (evm_frame_add_numeric(g, name, mf->X + (size_t)i * n, c) < 0) goto fail;
        o += (size_t)snprintf(out + o, len > o ? len - o : 0, " + %s", name);
    }
    snprintf(out + o, len > o ? len - o : 0, " + %s", re);
    free(col);
    return g;
fail:
    free(col);
    evm_frame_destroy(&g);
    return NULL;
}

/* ---------------------------------------------------------------- independent profile of a
 * variance parameter: the deviance at (θ, σ) of the ML model, minimised over the others */

typedef struct {
    evm_lmm *ml;
    int nth, w;
    double x;
} vp_prob;

/* θ from (sd, cor, σ) for terms of one or two columns (the reference cases). */
static int sdcor_to_theta(const evm_lmm *m, const double *phi, double *theta)
{
    const double s = phi[m->ntheta];
    for (int k = 0; k < m->K; k++) {
        const int o = m->t[k].theta_off;
        if (m->t[k].q == 1) {
            theta[o] = phi[o] / s;
        } else if (m->t[k].q == 2) {
            const double s1 = phi[o], r = phi[o + 1], s2 = phi[o + 2];
            if (fabs(r) > 1.0) return -1;
            theta[o] = s1 / s;
            theta[o + 1] = r * s2 / s;
            theta[o + 2] = s2 * sqrt(1.0 - r * r) / s;
        } else {
            return -1;
        }
    }
    return 0;
}

typedef struct {
    evm_lmm *m;
    evm_ctx *c;
} ml_prob;

/* The public objective (profiled ML deviance) of an ML model at θ. */
static double ml_obj(unsigned n, const double *x, double *grad, void *data)
{
    ml_prob *pr = data;
    (void)n;
    (void)grad;
    double d = evm_lmm_objective(pr->m, x, pr->c);
    return isfinite(d) ? d : HUGE_VAL;
}

/* An ML fit's objective polished by Sbplx and BOBYQA from its θ̂ (the fit stops on a
 * relative change of the objective, which can leave ~1e-7 on the table). */
static double polish_ml(evm_lmm *m, evm_ctx *c)
{
    const int nth = evm_lmm_ntheta(m);
    ml_prob pr = {m, c};
    double th[64], step[64], fmin = m->objective, best = m->objective;
    memcpy(th, m->theta, sizeof(double) * (size_t)nth);
    for (int i = 0; i < nth; i++) step[i] = 0.03 * fmax(fabs(th[i]), 0.05);
    for (int pass = 0; pass < 2; pass++) {
        nlopt_opt opt = nlopt_create(pass == 0 ? NLOPT_LN_SBPLX : NLOPT_LN_BOBYQA, (unsigned)nth);
        nlopt_set_lower_bounds(opt, m->lower);
        nlopt_set_min_objective(opt, ml_obj, &pr);
        nlopt_set_initial_step(opt, step);
        nlopt_set_xtol_rel(opt, 1e-12);
        nlopt_set_ftol_abs(opt, 1e-13);
        nlopt_set_maxeval(opt, 100000);
        if (nlopt_optimize(opt, th, &fmin) > 0 && fmin < best) best = fmin;
        nlopt_destroy(opt);
    }
    evm__lmm_restore(m);
    return best;
}

static double vp_dev(unsigned n, const double *x, double *grad, void *data)
{
    vp_prob *pr = data;
    double phi[64], theta[64];
    (void)n;
    (void)grad;
    for (int i = 0, f = 0; i <= pr->nth; i++) phi[i] = i == pr->w ? pr->x : x[f++];
    if (!(phi[pr->nth] > 0.0) || sdcor_to_theta(pr->ml, phi, theta)) return HUGE_VAL;
    double d = evm__lmm_deviance_vp(pr->ml, theta, phi[pr->nth], NULL);
    return isfinite(d) ? d : HUGE_VAL;
}

/* ML estimates (sd, cor, σ) of the ML model, for terms of one or two columns. */
static void ml_sdcor(const evm_lmm *m, double *phi)
{
    const double s = m->sigma;
    for (int k = 0; k < m->K; k++) {
        const int o = m->t[k].theta_off;
        const double *t = m->theta + o;
        if (m->t[k].q == 1) {
            phi[o] = s * t[0];
        } else {
            double s1 = s * fabs(t[0]), s2 = s * sqrt(t[1] * t[1] + t[2] * t[2]);
            phi[o] = s1;
            phi[o + 2] = s2;
            phi[o + 1] = s1 > 0 && s2 > 0 ? s * s * t[0] * t[1] / (s1 * s2) : 0.0;
        }
    }
    phi[m->ntheta] = s;
}

/* min over the variance parameters but w (w < 0: over all) of the ML deviance at (θ, σ),
 * w fixed at x, from the ML estimates */
static double vp_profile(evm_lmm *ml, int w, double x)
{
    const int nth = ml->ntheta, nf = w < 0 ? nth + 1 : nth;
    double phi[64], xs[64], lo[64], hi[64], step[64];
    ml_sdcor(ml, phi);
    for (int i = 0, f = 0; i <= nth; i++) {
        if (i == w) continue;
        int cor = i < nth && ml->lower[i] < 0.0;
        xs[f] = phi[i];
        lo[f] = cor ? -1.0 : (i == nth ? 1e-6 * phi[nth] : 0.0);
        hi[f] = cor ? 1.0 : HUGE_VAL;
        step[f] = cor ? 0.1 : 0.1 * (phi[i] > 0 ? phi[i] : phi[nth]);
        f++;
    }
    vp_prob pr = {ml, nth, w, x};
    double fmin = HUGE_VAL;
    for (int pass = 0; pass < 3; pass++) {
        nlopt_opt opt = nlopt_create(pass == 0 ? NLOPT_LN_SBPLX : NLOPT_LN_BOBYQA, (unsigned)nf);
        nlopt_set_lower_bounds(opt, lo);
        nlopt_set_upper_bounds(opt, hi);
        nlopt_set_min_objective(opt, vp_dev, &pr);
        for (int f = 0; f < nf; f++) step[f] *= 0.3;
        nlopt_set_initial_step(opt, step);
        nlopt_set_xtol_rel(opt, 1e-12);
        nlopt_set_ftol_abs(opt, 1e-12);
        nlopt_set_maxeval(opt, 100000);
        nlopt_optimize(opt, xs, &fmin);
        nlopt_destroy(opt);
    }
    return fmin;
}

/* ---------------------------------------------------------------- one case */

static void cmp_limit(const char *id, const char *what, double got, double want, double *maxd)
{
    double s = fabs(want) > 1.0 ? fabs(want) : 1.0;
    if (isinf(want) || isinf(got)) {
        if (got == want) check_passed_++;
        else {
            check_failed_++;
            printf("    %s: %s evalmix %.10g, lme4 %.10g\n", id, what, got, want);
        }
        return;
    }
    double d = fabs(got - want) / s;
    if (d > *maxd) *maxd = d;
    if (d <= TOL_LME4) check_passed_++;
    else {
        check_failed_++;
        printf("    %s: %s evalmix %.10g, lme4 %.10g (diff %.3g of max(|lme4|,1) > %g)\n", id,
               what, got, want, d, TOL_LME4);
    }
}

static void run_case(const json_value *cs)
{
    const char *id = json_str(json_get(cs, "id"));
    const char *csv = json_str(json_get(cs, "csv"));
    const char *formula = json_str(json_get(cs, "formula"));
    const int reml = json_bool(json_get(cs, "reml"));
    const double level = json_num(json_get(cs, "level"));
    const int warned = json_bool(json_get(cs, "profile_warned")) == 1;
    const json_value *param = json_get(cs, "param"), *jlo = json_get(cs, "lower"),
                     *jup = json_get(cs, "upper");
    evm_ctx *c = evm_ctx_create();
    evm_frame *f = NULL;
    evm_lmm *m = NULL, *ml = NULL;
    evm_result *before = NULL, *after = NULL;
    char **names = NULL;
    double *lo = NULL, *up = NULL, *lxx = NULL;
    int np = 0, fails0 = check_failed_;
    if (!c || !id || !csv || !formula || reml < 0 || !(level > 0 && level < 1)) {
        CHECK(!"malformed case");
        goto cleanup;
    }
    f = read_frame(csv, formula, c);
    CHECK(f != NULL);
    if (!f) goto cleanup;
    m = fit_model(formula, f, reml, 0, c);
    CHECK(m != NULL);
    if (!m) goto cleanup;
    CHECK(evm_lmm_result(m, &before, c) >= 0);
    const size_t nlxx = (size_t)m->px * m->px;
    lxx = malloc(sizeof(double) * nlxx);
    memcpy(lxx, m->LXX, sizeof(double) * nlxx);

    double t0 = now();
    int st = evm__profile_ci(m, level, &np, &names, &lo, &up, c);
    double secs = now() - t0;
    CHECK_INT(st, EVM_OK);
    if (st < 0) {
        printf("%s: evm__profile_ci: %s\n", id, evm_ctx_message(c));
        goto cleanup;
    }

    /* 4. the fitted state is unchanged */
    CHECK(evm_lmm_result(m, &after, c) >= 0);
    if (before && after) {
        CHECK(memcmp(before->theta, after->theta, sizeof(double) * (size_t)before->ntheta) == 0);
        CHECK(memcmp(before->beta, after->beta, sizeof(double) * (size_t)before->p) == 0);
        CHECK(memcmp(before->vcov, after->vcov, sizeof(double) * (size_t)before->p * before->p) == 0);
        CHECK(before->sigma == after->sigma && before->objective == after->objective);
    }
    CHECK(memcmp(lxx, m->LXX, sizeof(double) * nlxx) == 0);
    CHECK(evm_lmm_objective(m, m->theta, c) == m->objective);

    /* 1, 2. names and limits against lme4 */
    double maxd = 0.0;
    CHECK_INT(np, (long long)json_len(param));
    for (int i = 0; i < np && (size_t)i < json_len(param); i++) {
        char what[160];
        CHECK_STR(names[i], json_str(json_at(param, (size_t)i)));
        for (int side = 0; side < 2; side++) {
            const double want = json_num(json_at(side ? jup : jlo, (size_t)i));
            /* where lme4 warned, only its limits on the boundary are trusted */
            const int cor = i < m->ntheta && m->lower[i] < 0.0;
            const int on_bound = i < m->ntheta && (cor ? fabs(want) == 1.0 : want == 0.0);
            if (warned && !on_bound) continue;
            snprintf(what, sizeof what, "%s %s", names[i], side ? "upper" : "lower");
            cmp_limit(id, what, side ? up[i] : lo[i], want, &maxd);
        }
    }

    /* 3. oracle-free: the deviance change at each limit */
    ml = fit_model(formula, f, 0, 1, c);
    evm_lmm *mm = ml;
    CHECK(mm != NULL);
    if (!mm) goto cleanup;
    double base = polish_ml(mm, c);
    const double base_vp = vp_profile(mm, -1, 0.0);
    evm__lmm_restore(mm);
    if (base_vp < base) base = base_vp;
    const double cut = evm_qchisq(level, 1.0, 1);
    const int nth = mm->ntheta;
    double maxdev = 0.0;
    for (int i = 0; i < np; i++)
        for (int side = 0; side < 2; side++) {
            const double x = side ? up[i] : lo[i];
            double dev;
            int boundary = 0;
            if (i <= nth) {
                const int cor = i < nth && mm->lower[i] < 0.0;
                boundary = (cor && fabs(x) == 1.0) || (!cor && x == 0.0);
                dev = vp_profile(mm, i, x);
                evm__lmm_restore(mm);
            } else {
                char f2[1024];
                evm_frame *g = offset_model(f, mm, formula, i - nth - 1, x, f2, sizeof f2, c);
                evm_lmm *m2 = g ? fit_model(f2, g, 0, 1, c) : NULL;
                dev = m2 ? polish_ml(m2, c) : NAN;
                evm_lmm_destroy(&m2);
                evm_frame_destroy(&g);
            }
            const double delta = dev - base;
            if (verbose)
                printf("    %-12s %s %.12g  lme4 %.12g  deviance change - qchisq %.3g%s\n",
                       names[i], side ? "upper" : "lower", x,
                       json_num(json_at(side ? jup : jlo, (size_t)i)), delta - cut,
                       boundary ? " (boundary)" : "");
            if (boundary) {
                if (delta <= cut + TOL_DEV) check_passed_++;
                else {
                    check_failed_++;
                    printf("    %s: %s %s at the boundary %g: deviance change %.10g > %.10g\n", id,
                           names[i], side ? "upper" : "lower", x, delta, cut);
                }
                continue;
            }
            if (fabs(delta - cut) > maxdev) maxdev = fabs(delta - cut);
            if (fabs(delta - cut) <= TOL_DEV) check_passed_++;
            else {
                check_failed_++;
                printf("    %s: %s %s %.10g: deviance change %.10g, qchisq %.10g (diff %.3g)\n", id,
                       names[i], side ? "upper" : "lower", x, delta, cut, delta - cut);
            }
        }
    printf("%s: %s  max |diff| to lme4 %.2e (of max(|lme4|,1))%s, max |dev change - qchisq| "
           "%.1e, %.2f s (lme4 %.2f s)\n",
           id, check_failed_ == fails0 ? "ok" : "FAILED", maxd,
           warned ? " [lme4 warned: boundary limits only]" : "", maxdev, secs,
           json_num(json_get(cs, "seconds")));

cleanup:
    if (names)
        for (int i = 0; i < np; i++) free(names[i]);
    free(names);
    free(lo);
    free(up);
    free(lxx);
    evm_result_free(&before);
    evm_result_free(&after);
    evm_lmm_destroy(&ml);
    evm_lmm_destroy(&m);
    evm_frame_destroy(&f);
    evm_ctx_destroy(&c);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *only = NULL;
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-v") == 0) verbose = 1;
        else only = argv[a];
    }
    char *err = NULL;
    json_value *root = json_parse_file(REF_JSON, &err);
    if (!root) {
        fprintf(stderr, "test_profile: %s (run from the repository root)\n",
                err ? err : "out of memory");
        free(err);
        CHECK(root != NULL);
        return check_summary("test_profile");
    }
    const json_value *cases = json_get(root, "cases");
    CHECK(json_len(cases) > 0);
    int ran = 0;
    for (size_t i = 0; i < json_len(cases); i++) {
        const char *id = json_str(json_get(json_at(cases, i), "id"));
        if (only && (!id || !strstr(id, only))) continue;
        run_case(json_at(cases, i));
        ran++;
    }
    CHECK(ran > 0);
    json_free(&root);
    return check_summary("test_profile");
}
