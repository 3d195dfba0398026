/* test_bootstrap.c — the parametric bootstrap (engine/infer/bootstrap.c) on sleepstudy,
 * Reaction ~ Days + (Days|Subject), without an oracle:
 *  - names and layout as confint(method = "boot"): .sig01 .sig02 .sig03 .sigma, fixef;
 *  - the same seed gives bit-identical estimates on 1, 2 and 3 threads, and replicate r's
 *    row does not depend on how many replicates are run; another seed differs;
 *  - over 2,000 replicates the mean of each bootstrap β is within 4 Monte-Carlo SEs
 *    (bootstrap SD / √nok) of β̂;
 *  - refits against fits from scratch: a model built on a replicate's response and fitted
 *    from lme4's start θ = (1, 0, 1) reaches the same optimum.  For a few replicates its
 *    objective at the recorded θ* (rebuilt from the recorded SDs, correlation and σ)
 *    equals its own optimum to 1e-9 relative and the recorded row matches its
 *    (SDs, correlation, σ, β) to 1e-4 relative (floor 1e-3); for all 2,000 the
 *    objective at θ* is at most 1e-2 above the fresh optimum (REML criterion ≈ 1700:
 *    replicates are refitted from θ̂ without the fit's polishing restart, so they stop a
 *    little short on hard replicates — 7.8e-3 at worst here, replicate 1087, i.e. 5e-6
 *    relative; a refit trapped at a boundary point is 0.02–1.4 above, beyond it);
 *  - progress is reported from the calling thread, ends at (nboot, nboot);
 *  - a crossed design (Penicillin), a nested one (Pastes) and a weighted ML fit (cake):
 *    threads 1 and 2 agree bitwise, all refits succeed, and five replicates each reach
 *    a fresh fit's optimum (objective within 1e-6 relative, β within 1e-4). */
#include "check.h"

#include "evalmix/evalmix.h"
#include "infer/bootstrap.h"
#include "infer/infer_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CSV "datasets/sleepstudy.csv"
#define FORMULA "Reaction ~ Days + (Days|Subject)"
#define NPAR 6

static evm_frame *read_sleepstudy(evm_ctx *c)
{
    evm_colreq *req = NULL;
    int nreq = 0;
    evm_frame *f = NULL;
    if (evm_formula_columns(FORMULA, NULL, &req, &nreq, c) == 0)
        evm_csv_read(CSV, req, nreq, &f, c);
    evm_colreq_free(&req, nreq);
    return f;
}

static evm_lmm *fit(const evm_frame *f, evm_ctx *c)
{
    evm_lmm *m = NULL;
    if (evm_lmm_create(FORMULA, f, NULL, &m, c) < 0) return NULL;
    if (evm_lmm_fit(m, c) < 0) evm_lmm_destroy(&m);
    return m;
}

/* The frame f with the response replaced by y. */
static evm_frame *with_response(const evm_frame *f, const double *y, evm_ctx *c)
{
    const int64_t n = evm_frame_nrows(f);
    const int days = evm_frame_find(f, "Days", EVM_COL_NUMERIC);
    const int subj = evm_frame_find(f, "Subject", EVM_COL_FACTOR);
    if (days < 0 || subj < 0) return NULL;
    const int32_t nl = evm_frame_nlevels(f, subj);
    const char **lev = malloc(sizeof(char *) * (size_t)nl);
    for (int32_t l = 0; l < nl; l++) lev[l] = evm_frame_level(f, subj, l);
    evm_frame *g = evm_frame_create(n, c);
    if (g && (evm_frame_add_numeric(g, "Reaction", y, c) ||
              evm_frame_add_numeric(g, "Days", evm_frame_numeric(f, days), c) ||
              evm_frame_add_factor(g, "Subject", evm_frame_codes(f, subj), lev, nl, c)))
        evm_frame_destroy(&g);
    free(lev);
    return g;
}

typedef struct {
    pthread_t caller;
    int calls, wrong_thread, backwards;
    int64_t last_done, last_total;
} progress_log;

static void on_progress(void *arg, int64_t done, int64_t total)
{
    progress_log *p = arg;
    p->calls++;
    if (!pthread_equal(pthread_self(), p->caller)) p->wrong_thread++;
    if (done < p->last_done || done > total) p->backwards++;
    p->last_done = done;
    p->last_total = total;
}

static int run(evm_lmm *m, int64_t nboot, int64_t seed, int threads, double **est, int64_t *nok,
               char ***names, evm_ctx *c)
{
    int npar = 0;
    char **nm = NULL;
    int st = evm__bootstrap(m, nboot, seed, threads, NULL, NULL, &npar, &nm, est, nok, c);
    CHECK_INT(st, 0);
    CHECK_INT(npar, NPAR);
    if (names) *names = nm;
    else evm_strv_free(&nm, npar);
    return st;
}

static void test_names_and_determinism(evm_lmm *m, evm_ctx *c)
{
    double *e1 = NULL, *e2 = NULL, *e3 = NULL, *e5 = NULL, *eo = NULL;
    int64_t n1 = 0, n2 = 0, n3 = 0, n5 = 0, no = 0;
    char **names = NULL;
    const int64_t NB = 200;
    run(m, NB, 42, 1, &e1, &n1, &names, c);
    run(m, NB, 42, 2, &e2, &n2, NULL, c);
    run(m, NB, 42, 3, &e3, &n3, NULL, c);
    run(m, 5, 42, 4, &e5, &n5, NULL, c);      /* more threads than replicates */
    run(m, NB, 43, 2, &eo, &no, NULL, c);
    if (!e1 || !e2 || !e3 || !e5 || !eo || !names) {
        CHECK(0);
        goto cleanup;
    }
    static const char *want[NPAR] = {".sig01", ".sig02", ".sig03", ".sigma", "(Intercept)",
                                     "Days"};
    for (int a = 0; a < NPAR; a++) CHECK_STR(names[a], want[a]);
    CHECK_INT(n1, NB);
    CHECK_INT(n2, n1);
    CHECK_INT(n3, n1);
    CHECK_INT(n5, 5);
    CHECK(memcmp(e1, e2, sizeof(double) * NB * NPAR) == 0);
    CHECK(memcmp(e1, e3, sizeof(double) * NB * NPAR) == 0);
    CHECK(memcmp(e1, e5, sizeof(double) * 5 * NPAR) == 0);
    int64_t same = 0;
    for (int64_t i = 0; i < NB * NPAR; i++) same += e1[i] == eo[i];
    CHECK_INT(same, 0);
    /* replicates differ from one another and from the estimate */
    CHECK(e1[4] != e1[NPAR + 4]);
    CHECK(e1[4] != m->beta[0]);
cleanup:
    evm_strv_free(&names, NPAR);
    free(e1);
    free(e2);
    free(e3);
    free(e5);
    free(eo);
}

/* θ of a q = 2 term and σ from a recorded row (sd1, cor, sd2, σ): the Cholesky factor of
 * the covariance matrix divided by σ. */
static void theta_from_row(const double *row, double *theta)
{
    const double sd1 = row[0], cor = row[1], sd2 = row[2], s = row[3];
    theta[0] = sd1 / s;
    theta[1] = cor * sd2 / s;
    const double rest = 1.0 - cor * cor;   /* |cor| may round to just above 1 */
    theta[2] = sd2 * sqrt(rest > 0.0 ? rest : 0.0) / s;
}

static void test_mean_and_refits(evm_lmm *m, const evm_frame *f, evm_ctx *c)
{
    const int64_t NB = 2000;
    double *est = NULL;
    int64_t nok = 0;
    int npar = 0;
    char **names = NULL;
    progress_log pl = {pthread_self(), 0, 0, 0, 0, 0};
    CHECK_INT(evm__bootstrap(m, NB, 20260311, 2, on_progress, &pl, &npar, &names, &est, &nok, c),
              0);
    if (!est) return;
    CHECK(pl.calls >= 1);
    CHECK_INT(pl.wrong_thread, 0);
    CHECK_INT(pl.backwards, 0);
    CHECK_INT(pl.last_done, NB);
    CHECK_INT(pl.last_total, NB);
    CHECK(nok >= NB - 5);
    printf("bootstrap: %lld of %lld refits ok\n", (long long)nok, (long long)NB);

    for (int a = 0; a < m->p; a++) {
        const int col = m->ntheta + 1 + a;
        double s = 0.0, ss = 0.0;
        int64_t k = 0;
        for (int64_t r = 0; r < NB; r++) {
            const double v = est[r * npar + col];
            if (isfinite(v)) s += v, k++;
        }
        const double mean = s / k;
        for (int64_t r = 0; r < NB; r++) {
            const double v = est[r * npar + col];
            if (isfinite(v)) ss += (v - mean) * (v - mean);
        }
        const double mcse = sqrt(ss / (k - 1)) / sqrt((double)k);
        printf("  %-12s beta %.6g  bootstrap mean %.6g  MC SE %.3g  (%.2f SE)\n", names[col],
               m->beta[a], mean, mcse, (mean - m->beta[a]) / mcse);
        CHECK_ABS(mean, m->beta[a], 4.0 * mcse);
    }

    /* spot checks against fits from scratch */
    const int64_t n = m->mf->n;
    CHECK_INT(n, evm_frame_nrows(f));   /* no rows dropped: y* is in frame order */
    static const int64_t reps[] = {0, 1, 777, 1999};
    double *y = malloc(sizeof(double) * (size_t)n);
    for (size_t i = 0; i < sizeof reps / sizeof reps[0]; i++) {
        const int64_t r = reps[i];
        const double *row = est + r * npar;
        if (!isfinite(row[0])) continue;
        CHECK_INT(evm__bootstrap_response(m, 20260311, r, y, c), 0);
        evm_frame *g = with_response(f, y, c);
        evm_lmm *fresh = g ? fit(g, c) : NULL;
        CHECK(fresh != NULL);
        if (fresh) {
            double th[3];
            theta_from_row(row, th);
            const double at_star = evm_lmm_objective(fresh, th, c);
            printf("  replicate %lld: objective at recorded theta %.12g, fresh fit %.12g\n",
                   (long long)r, at_star, fresh->objective);
            CHECK_REL(at_star, fresh->objective, 1e-9, 1.0);
            evm_result *res = NULL;
            CHECK_INT(evm_lmm_result(fresh, &res, c), 0);
            if (res) {
                /* varcomp rows: sd(Intercept), sd(Days), cor, Residual */
                CHECK_REL(row[0], res->vc_sdcor[0], 1e-4, 1e-3);
                CHECK_REL(row[1], res->vc_sdcor[2], 1e-4, 1e-3);
                CHECK_REL(row[2], res->vc_sdcor[1], 1e-4, 1e-3);
                CHECK_REL(row[3], res->sigma, 1e-4, 1e-3);
                CHECK_REL(row[4], res->beta[0], 1e-4, 1e-3);
                CHECK_REL(row[5], res->beta[1], 1e-4, 1e-3);
            }
            evm_result_free(&res);
        }
        evm_lmm_destroy(&fresh);
        evm_frame_destroy(&g);
    }

    /* every replicate: the recorded θ* is at least as good an optimum as a fit from
     * scratch finds.  One-sided: a fit from scratch is itself sometimes trapped on the
     * boundary (counted and printed, not a failure of the bootstrap). */
    int64_t worse = 0, fresh_worse = 0, checked = 0;
    double maxdiff = 0.0;
    for (int64_t r = 0; r < NB; r++) {
        const double *row = est + r * npar;
        if (!isfinite(row[0]) || evm__bootstrap_response(m, 20260311, r, y, c)) continue;
        evm_frame *g = with_response(f, y, c);
        evm_lmm *fresh = g ? fit(g, c) : NULL;
        if (fresh) {
            double th[3];
            theta_from_row(row, th);
            const double d = evm_lmm_objective(fresh, th, c) - fresh->objective;
            if (d > maxdiff) maxdiff = d;
            if (!(d <= 1e-2)) {
                worse++;
                printf("    replicate %lld: objective at recorded theta %.6g above a fresh fit\n",
                       (long long)r, d);
            }
            fresh_worse += d < -1e-3;
            checked++;
        }
        evm_lmm_destroy(&fresh);
        evm_frame_destroy(&g);
    }
    printf("  all replicates: objective at recorded theta at most %.3g above a fresh fit; "
           "fresh fit worse by > 1e-3 in %lld\n", maxdiff, (long long)fresh_worse);
    CHECK_INT(checked, nok);
    CHECK_INT(worse, 0);
    free(y);
    evm_strv_free(&names, npar);
    free(est);
}

/* ---------------------------------------------------------------- other designs */

typedef struct {
    const char *csv, *formula, *weights;
    int reml;
} design;

static evm_frame *read_csv_for(const design *d, evm_ctx *c)
{
    evm_lmm_opts o;
    evm_lmm_opts_default(&o);
    o.weights = d->weights;
    evm_colreq *req = NULL;
    int nreq = 0;
    evm_frame *f = NULL;
    if (evm_formula_columns(d->formula, &o, &req, &nreq, c) == 0)
        evm_csv_read(d->csv, req, nreq, &f, c);
    evm_colreq_free(&req, nreq);
    return f;
}

static evm_lmm *fit_design(const design *d, const evm_frame *f, evm_ctx *c)
{
    evm_lmm_opts o;
    evm_lmm_opts_default(&o);
    o.weights = d->weights;
    o.reml = d->reml;
    evm_lmm *m = NULL;
    if (evm_lmm_create(d->formula, f, &o, &m, c) < 0) return NULL;
    if (evm_lmm_fit(m, c) < 0) evm_lmm_destroy(&m);
    return m;
}

/* A copy of f with the numeric column `response` replaced by y. */
static evm_frame *replace_column(const evm_frame *f, const char *response, const double *y,
                                 evm_ctx *c)
{
    evm_frame *g = evm_frame_create(evm_frame_nrows(f), c);
    for (int j = 0; g && j < evm_frame_ncols(f); j++) {
        const char *name = evm_frame_name(f, j);
        int st;
        if (evm_frame_type(f, j) == EVM_COL_NUMERIC) {
            const double *x = strcmp(name, response) ? evm_frame_numeric(f, j) : y;
            st = evm_frame_add_numeric(g, name, x, c);
        } else {
            const int32_t nl = evm_frame_nlevels(f, j);
            const char **lev = malloc(sizeof(char *) * (size_t)(nl > 0 ? nl : 1));
            for (int32_t l = 0; l < nl; l++) lev[l] = evm_frame_level(f, j, l);
            st = evm_frame_add_factor(g, name, evm_frame_codes(f, j), lev, nl, c);
            free(lev);
        }
        if (st) evm_frame_destroy(&g);
    }
    return g;
}

/* Crossed (sparse block), nested, weighted ML: threads 1 and 2 agree bitwise, every refit
 * succeeds, and a few replicates reach a fresh fit's optimum (scalar terms only, so
 * θ*ₖ = SDₖ/σ). */
static void test_designs(evm_ctx *c)
{
    static const design ds[] = {
        {"datasets/Penicillin.csv", "diameter ~ 1 + (1|plate) + (1|sample)", NULL, 1},
        {"datasets/Pastes.csv", "strength ~ 1 + (1|batch/cask)", NULL, 1},
        {"datasets/cake.csv", "angle ~ recipe + temp + (1|recipe:replicate)", "temp", 0},
    };
    const int64_t NB = 100;
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        const design *d = &ds[i];
        evm_frame *f = read_csv_for(d, c);
        evm_lmm *m = f ? fit_design(d, f, c) : NULL;
        CHECK(m != NULL);
        if (!m) {
            fprintf(stderr, "%s: %s\n", d->formula, evm_ctx_message(c));
            evm_frame_destroy(&f);
            continue;
        }
        double *e1 = NULL, *e2 = NULL;
        int64_t n1 = 0, n2 = 0;
        int np1 = 0, np2 = 0;
        char **nm1 = NULL, **nm2 = NULL;
        CHECK_INT(evm__bootstrap(m, NB, 5, 1, NULL, NULL, &np1, &nm1, &e1, &n1, c), 0);
        CHECK_INT(evm__bootstrap(m, NB, 5, 2, NULL, NULL, &np2, &nm2, &e2, &n2, c), 0);
        CHECK_INT(np1, m->ntheta + 1 + m->p);
        CHECK_INT(n1, NB);
        CHECK_INT(n2, NB);
        CHECK(e1 && e2 && memcmp(e1, e2, sizeof(double) * NB * np1) == 0);
        const int64_t n = m->mf->n;
        CHECK_INT(n, evm_frame_nrows(f));
        double *y = malloc(sizeof(double) * (size_t)n), th[8];
        for (int64_t r = 0; e1 && r < 5 && m->ntheta <= 8; r++) {
            const double *row = e1 + r * np1;
            CHECK_INT(evm__bootstrap_response(m, 5, r, y, c), 0);
            evm_frame *g = replace_column(f, m->mf->response, y, c);
            evm_lmm *fresh = g ? fit_design(d, g, c) : NULL;
            CHECK(fresh != NULL);
            if (fresh) {
                for (int k = 0; k < m->ntheta; k++) th[k] = row[k] / row[m->ntheta];
                const double dobj = evm_lmm_objective(fresh, th, c) - fresh->objective;
                if (!(dobj <= 1e-6 * fabs(fresh->objective)))
                    printf("  %s replicate %lld: objective at recorded theta %.6g above a "
                           "fresh fit\n", d->formula, (long long)r, dobj);
                CHECK(dobj <= 1e-6 * fabs(fresh->objective));
                for (int a = 0; a < m->p; a++)
                    CHECK_REL(row[m->ntheta + 1 + a], fresh->beta[a], 1e-4, 1e-3);
            }
            evm_lmm_destroy(&fresh);
            evm_frame_destroy(&g);
        }
        printf("%s%s%s: %lld/%lld refits ok, threads 1 = 2\n", d->formula,
               d->weights ? ", weights " : "", d->weights ? d->weights : "", (long long)n1,
               (long long)NB);
        free(y);
        free(e1);
        free(e2);
        evm_strv_free(&nm1, np1);
        evm_strv_free(&nm2, np2);
        evm_lmm_destroy(&m);
        evm_frame_destroy(&f);
    }
}

static void test_errors(evm_lmm *m, evm_ctx *c)
{
    int npar = 1;
    char **names = NULL;
    double *est = NULL;
    int64_t nok = 1;
    CHECK_INT(evm__bootstrap(m, 0, 1, 1, NULL, NULL, &npar, &names, &est, &nok, c), EVM_ERR_ARG);
    CHECK(est == NULL && names == NULL && npar == 0 && nok == 0);
    CHECK_INT(evm__bootstrap_response(m, 1, -1, NULL, c), EVM_ERR_ARG);
}

int main(void)
{
    evm_ctx *c = evm_ctx_create();
    evm_frame *f = read_sleepstudy(c);
    CHECK(f != NULL);
    evm_lmm *m = f ? fit(f, c) : NULL;
    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "setup failed: %s\n", evm_ctx_message(c));
        return check_summary("test_bootstrap");
    }
    const double *theta_before = m->theta;
    double th0[3];
    memcpy(th0, m->theta, sizeof th0);
    const double obj0 = m->objective;
    test_names_and_determinism(m, c);
    test_mean_and_refits(m, f, c);
    test_errors(m, c);
    test_designs(c);
    /* the fitted model is untouched */
    CHECK(m->theta == theta_before);
    CHECK(memcmp(th0, m->theta, sizeof th0) == 0);
    CHECK(m->objective == obj0);
    CHECK(evm_lmm_objective(m, m->theta, c) == obj0);
    evm_lmm_destroy(&m);
    evm_frame_destroy(&f);
    evm_ctx_destroy(&c);
    return check_summary("test_bootstrap");
}
