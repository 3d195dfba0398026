/* test_robust.c — cluster-robust (CR2) covariance and Satterthwaite df against clubSandwich
 * 0.5.8 (tests/reference/clubsandwich_reference.json, made by clubsandwich_reference.R from
 * the CSV files in datasets/).
 *
 * Every case is read and fitted through the public API (the cluster column named in
 * evm_lmm_opts.cluster), then evm__cr2 (engine/infer/infer_internal.h) is checked twice:
 *  - "ref-θ": the model is put at lme4's θ̂ (β̂, σ̂ and Var(β̂) recomputed there), so CR2
 *    itself is compared at the same estimates: to TOL_REF;
 *  - "default": at evalmix's own estimates, to the acceptance tolerance 1e-4 relative.
 * Compared: the CR2 SEs and Satterthwaite df of every coefficient (relative), and every
 * entry of the CR2 covariance matrix (relative to se_i·se_j).  Weighted cases come from
 * nlme's lme with varFixed weights (clubSandwich refuses lmer fits with weights) and are
 * compared in the same way.  Cases that clubSandwich refuses (a grouping factor not
 * nested within the clusters) must be refused with EVM_ERR_MODEL.
 * Properties without an oracle: the result is bit-identical for 1 and 2 threads, and a
 * model without a cluster variable is refused with EVM_ERR_ARG.
 * Prints one line per case and mode with the largest relative errors.  An optional argument
 * selects the cases whose id contains it. */
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

#define REF_JSON "tests/reference/clubsandwich_reference.json"
#define TOL_REF 1e-9       /* at lme4's θ̂ (observed: up to 1e-12) */
#define TOL_DEFAULT 1e-4   /* at evalmix's θ̂: the acceptance */

typedef struct {
    const char *id, *mode;
    double tol;
    int nfail;
    double se, df, vcov;   /* largest relative errors seen */
} caselog;

static void failf(caselog *L, const char *fmt, ...)
{
    check_failed_++;
    if (L->nfail++ == 0) printf("%s %s: FAILED\n", L->id, L->mode);
    if (L->nfail > 25) return;
    va_list ap;
    va_start(ap, fmt);
    printf("    ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static void cmp(caselog *L, double *worst, const char *what, int i, double got, double want,
                double scale)
{
    const double rel = fabs(got - want) / scale;
    if (!(rel <= L->tol)) {   /* NaN fails */
        failf(L, "%s[%d]: evalmix %.10g, clubSandwich %.10g (rel %.3g > %g)", what, i, got,
              want, rel, L->tol);
        return;
    }
    check_passed_++;
    if (rel > *worst) *worst = rel;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Read the case's CSV and build its model with the cluster variable; fit it. */
static int build(const json_value *cs, evm_ctx *c, evm_frame **f, evm_lmm **m)
{
    const char *csv = json_str(json_get(cs, "csv"));
    const char *formula = json_str(json_get(cs, "formula"));
    evm_lmm_opts o;
    evm_lmm_opts_default(&o);
    o.reml = json_bool(json_get(cs, "reml"));
    o.cluster = json_str(json_get(cs, "cluster"));
    o.weights = json_str(json_get(cs, "weights"));
    evm_colreq *req = NULL;
    int nreq = 0, st;
    if ((st = evm_formula_columns(formula, &o, &req, &nreq, c)) >= 0 &&
        (st = evm_csv_read(csv, req, nreq, f, c)) >= 0 &&
        (st = evm_lmm_create(formula, *f, &o, m, c)) >= 0)
        st = evm_lmm_fit(*m, c);
    evm_colreq_free(&req, nreq);
    return st;
}

static int at_reference_theta(caselog *L, const json_value *cs, evm_lmm *m, evm_ctx *c)
{
    const json_value *th = json_get(cs, "theta");
    if (json_len(th) != (size_t)m->ntheta) {
        failf(L, "length of theta: evalmix %d, lme4 %zu", m->ntheta, json_len(th));
        return -1;
    }
    for (int i = 0; i < m->ntheta; i++) m->theta[i] = json_num(json_at(th, (size_t)i));
    m->objective = evm__lmm_factor(m, m->theta);
    if (evm__lmm_postfit(m, c) < 0) {
        failf(L, "postfit at lme4's theta: %s", evm_ctx_message(c));
        return -1;
    }
    CHECK_REL(m->sigma, json_num(json_get(cs, "sigma")), 1e-9, 0.0);
    return 0;
}

static void compare(caselog *L, const json_value *cs, const evm_lmm *m, const double *V,
                    const double *df, int64_t J)
{
    const json_value *names = json_get(cs, "fixef_names"), *se = json_get(cs, "se"),
                     *dfr = json_get(cs, "df"), *vc = json_get(cs, "vcov_cr2");
    const int p = m->p;
    if ((size_t)p != json_len(names)) {
        failf(L, "number of coefficients: evalmix %d, clubSandwich %zu", p, json_len(names));
        return;
    }
    CHECK_INT(J, (long long)json_num(json_get(cs, "nclusters")));
    for (int i = 0; i < p; i++) {
        CHECK_STR(m->mf->xnames[i], json_str(json_at(names, (size_t)i)));
        const double s = json_num(json_at(se, (size_t)i));
        cmp(L, &L->se, "se", i, sqrt(V[i + i * p]), s, s);
        const double d = json_num(json_at(dfr, (size_t)i));
        cmp(L, &L->df, "df", i, df[i], d, d);
    }
    for (int i = 0; i < p; i++)
        for (int k = 0; k < p; k++) {
            const double si = json_num(json_at(se, (size_t)i)), sk = json_num(json_at(se, (size_t)k));
            cmp(L, &L->vcov, "vcov", i * p + k, V[i + k * p],
                json_num(json_at(json_at(vc, (size_t)i), (size_t)k)), si * sk);
        }
}

/* A case clubSandwich refuses: evalmix must refuse it too. */
static void run_refused(const json_value *cs, const char *id)
{
    caselog L = {.id = id, .mode = "refused"};
    evm_ctx *c = evm_ctx_create();
    evm_frame *f = NULL;
    evm_lmm *m = NULL;
    int st = build(cs, c, &f, &m);
    if (st < 0) {
        failf(&L, "fit: %s: %s", evm_status_str(st), evm_ctx_message(c));
    } else {
        double V[64], df[8];
        int64_t J = 0;
        st = m->p <= 8 ? evm__cr2(m, V, df, &J, c) : EVM_ERR_ARG;
        if (st != EVM_ERR_MODEL)
            failf(&L, "evm__cr2 returned %d (%s), expected EVM_ERR_MODEL", st,
                  evm_ctx_message(c));
        else {
            check_passed_++;
            printf("%-28s refused  ok  (%s)\n", id, evm_ctx_message(c));
        }
    }
    evm_lmm_destroy(&m);
    evm_frame_destroy(&f);
    evm_ctx_destroy(&c);
}

static void run_case(const json_value *cs, const char *id, int at_ref)
{
    caselog L = {.id = id, .mode = at_ref ? "ref-θ" : "default",
                 .tol = at_ref ? TOL_REF : TOL_DEFAULT};
    evm_ctx *c = evm_ctx_create();
    evm_frame *f = NULL;
    evm_lmm *m = NULL;
    double *V = NULL, *V2 = NULL, *df = NULL, *df2 = NULL, secs = NAN;
    int st = build(cs, c, &f, &m);
    if (st < 0) {
        failf(&L, "fit: %s: %s", evm_status_str(st), evm_ctx_message(c));
        goto cleanup;
    }
    if (at_ref && at_reference_theta(&L, cs, m, c)) goto cleanup;
    const int p = m->p;
    V = calloc((size_t)p * p + 1, sizeof *V);
    V2 = calloc((size_t)p * p + 1, sizeof *V2);
    df = calloc((size_t)p + 1, sizeof *df);
    df2 = calloc((size_t)p + 1, sizeof *df2);
    if (!V || !V2 || !df || !df2) {
        failf(&L, "out of memory");
        goto cleanup;
    }
    int64_t J = 0, J2 = 0;
    evm_ctx_set_threads(c, 1);
    double t0 = now();
    st = evm__cr2(m, V, df, &J, c);
    secs = now() - t0;
    if (st != EVM_OK) {
        failf(&L, "evm__cr2: %s: %s", evm_status_str(st), evm_ctx_message(c));
        goto cleanup;
    }
    compare(&L, cs, m, V, df, J);
    /* the same bits on two threads */
    evm_ctx_set_threads(c, 2);
    st = evm__cr2(m, V2, df2, &J2, c);
    CHECK_INT(st, EVM_OK);
    CHECK(J2 == J && memcmp(V, V2, sizeof(double) * p * p) == 0 &&
          memcmp(df, df2, sizeof(double) * p) == 0);

cleanup:
    if (L.nfail == 0)
        printf("%-28s %-8s ok  max rel err: se %.1e  df %.1e  vcov %.1e  [cr2 %.3g ms]\n", L.id,
               L.mode, L.se, L.df, L.vcov, secs * 1e3);
    fflush(stdout);
    free(V);
    free(V2);
    free(df);
    free(df2);
    evm_lmm_destroy(&m);
    evm_frame_destroy(&f);
    evm_ctx_destroy(&c);
}

/* No cluster variable named when the model was created: EVM_ERR_ARG. */
static void no_cluster(void)
{
    evm_ctx *c = evm_ctx_create();
    evm_frame *f = NULL;
    evm_lmm *m = NULL;
    evm_colreq req[] = {{"Reaction", EVM_AS_AUTO}, {"Days", EVM_AS_AUTO},
                        {"Subject", EVM_AS_FACTOR}};
    const char *formula = "Reaction ~ Days + (Days|Subject)";
    CHECK_INT(evm_csv_read("datasets/sleepstudy.csv", req, 3, &f, c), EVM_OK);
    CHECK_INT(evm_lmm_create(formula, f, NULL, &m, c), EVM_OK);
    if (m) {
        CHECK(evm_lmm_fit(m, c) >= 0);
        double V[4], df[2];
        int64_t J = 0;
        CHECK_INT(evm__cr2(m, V, df, &J, c), EVM_ERR_ARG);
    }
    evm_lmm_destroy(&m);
    evm_frame_destroy(&f);
    evm_ctx_destroy(&c);
}

int main(int argc, char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    char *err = NULL;
    json_value *root = json_parse_file(REF_JSON, &err);
    if (!root) {
        fprintf(stderr, "test_robust: %s (run from the repository root)\n",
                err ? err : "out of memory");
        free(err);
        CHECK(root != NULL);
        return check_summary("test_robust");
    }
    const json_value *cases = json_get(root, "cases");
    CHECK(json_len(cases) > 0);
    int ran = 0;
    for (size_t i = 0; i < json_len(cases); i++) {
        const json_value *cs = json_at(cases, i);
        const char *id = json_str(json_get(cs, "id"));
        if (!id || (only && !strstr(id, only))) continue;
        if (json_get(cs, "error")) {
            run_refused(cs, id);
        } else {
            run_case(cs, id, 1);
            run_case(cs, id, 0);
        }
        ran++;
    }
    if (only && ran == 0) {
        fprintf(stderr, "test_robust: no case id contains \"%s\"\n", only);
        CHECK(ran > 0);
    }
    if (!only) no_cluster();
    json_free(&root);
    return check_summary("test_robust");
}
