/* test_lmm_properties.c — oracle-free properties of `fit`, through the public API:
 *  - data simulated from known parameters (students in classrooms in schools) recover
 *    them within their standard errors;
 *  - the objective recomputed at the returned θ equals the reported one;
 *  - shuffling rows and relabelling group levels changes nothing;
 *  - constant prior weights c rescale θ by 1/√c and leave β and the objective unchanged;
 *  - reading the same CSV with 1 and 2 threads gives bit-identical fits. */
#include "check.h"

#include "evalmix/evalmix.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t rng = 2026;
static double unif(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((rng >> 11) + 0.5) / 9007199254740992.0;
}
static double gauss(void) { return sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif()); }

#define NSCH 60
#define NCLS 6   /* classrooms per school */
#define NSTU 20  /* students per classroom */
#define N ((int64_t)NSCH * NCLS * NSTU)

static const double TRUE_BETA[3] = {50.0, 4.0, 0.7};   /* (Intercept), treat, prior */
static const double SD_SCHOOL = 3.0, SD_CLASS = 2.0, SD_E = 6.0;

typedef struct {
    double y[N], treat[N], prior[N], w[N];
    int32_t school[N], cls[N];
} sim;

static void simulate(sim *s)
{
    int64_t r = 0;
    for (int j = 0; j < NSCH; j++) {
        const double us = SD_SCHOOL * gauss();
        const double tr = j % 2;
        for (int c = 0; c < NCLS; c++) {
            const double uc = SD_CLASS * gauss();
            for (int i = 0; i < NSTU; i++, r++) {
                s->prior[r] = 10 * gauss();
                s->treat[r] = tr;
                s->school[r] = j;
                s->cls[r] = j * NCLS + c;
                s->w[r] = 1.0;
                s->y[r] = TRUE_BETA[0] + TRUE_BETA[1] * tr + TRUE_BETA[2] * s->prior[r] + us + uc +
                          SD_E * gauss();
            }
        }
    }
}

/* Frame from the simulation, rows in the order perm (NULL: as simulated); level labels
 * "S<j>"/"C<k>", or reversed labels when relabel is set (so level order changes). */
static evm_frame *make_frame(const sim *s, const int64_t *perm, int relabel, double wconst,
                             evm_ctx *c)
{
    static char sl[NSCH][16], cl[NSCH * NCLS][16];
    const char *sp[NSCH], *cp[NSCH * NCLS];
    for (int j = 0; j < NSCH; j++) {
        snprintf(sl[j], sizeof sl[j], relabel ? "Z%03d" : "S%03d", relabel ? NSCH - j : j);
        sp[j] = sl[j];
    }
    for (int k = 0; k < NSCH * NCLS; k++) {
        snprintf(cl[k], sizeof cl[k], relabel ? "Q%04d" : "C%04d", relabel ? 5000 - k : k);
        cp[k] = cl[k];
    }
    double *y = malloc(sizeof(double) * N), *tr = malloc(sizeof(double) * N),
           *pr = malloc(sizeof(double) * N), *w = malloc(sizeof(double) * N);
    int32_t *sc = malloc(sizeof(int32_t) * N), *cc = malloc(sizeof(int32_t) * N);
    for (int64_t i = 0; i < N; i++) {
        const int64_t r = perm ? perm[i] : i;
        y[i] = s->y[r], tr[i] = s->treat[r], pr[i] = s->prior[r], w[i] = wconst;
        sc[i] = s->school[r], cc[i] = s->cls[r];
    }
    evm_frame *f = evm_frame_create(N, c);
    evm_frame_add_numeric(f, "score", y, c);
    evm_frame_add_numeric(f, "treat", tr, c);
    evm_frame_add_numeric(f, "prior", pr, c);
    evm_frame_add_numeric(f, "w", w, c);
    evm_frame_add_factor(f, "school", sc, sp, NSCH, c);
    evm_frame_add_factor(f, "classroom", cc, cp, NSCH * NCLS, c);
    free(y), free(tr), free(pr), free(w), free(sc), free(cc);
    return f;
}

static const char *FORMULA = "score ~ treat + prior + (1|school/classroom)";

static evm_result *fit(evm_frame *f, int reml, const char *weights, evm_ctx *c, double *obj_again)
{
    evm_lmm_opts o;
    evm_lmm_opts_default(&o);
    o.reml = reml;
    o.weights = weights;
    evm_lmm *m = NULL;
    evm_result *r = NULL;
    int st = evm_lmm_create(FORMULA, f, &o, &m, c);
    CHECK_INT(st, 0);
    if (st) {
        fprintf(stderr, "%s\n", evm_ctx_message(c));
        return NULL;
    }
    CHECK(evm_lmm_fit(m, c) >= 0);
    CHECK_INT(evm_lmm_result(m, &r, c), 0);
    if (obj_again && r) *obj_again = evm_lmm_objective(m, r->theta, c);
    evm_lmm_destroy(&m);
    return r;
}

static const double *mode_of(const evm_result *r, const char *group, const char *level)
{
    for (int g = 0; g < r->nranef; g++)
        if (strcmp(r->ranef[g].name, group) == 0)
            for (int64_t l = 0; l < r->ranef[g].nlevels; l++)
                if (strcmp(r->ranef[g].level[l], level) == 0) return &r->ranef[g].mode[l];
    return NULL;
}

static void test_recovery_and_invariance(const sim *s, evm_ctx *c)
{
    evm_frame *f = make_frame(s, NULL, 0, 1.0, c);
    double again = 0;
    evm_result *r = fit(f, 1, NULL, c, &again);
    if (!r) return;
    CHECK_REL(again, r->objective, 1e-12, 1.0);
    CHECK_INT(r->p, 3);
    for (int a = 0; a < 3; a++) CHECK(fabs(r->beta[a] - TRUE_BETA[a]) < 3.0 * r->se[a]);
    /* variance components: within 30% (60 schools: the school SD has ~10% sampling error) */
    CHECK_STR(r->vc_group[0], "classroom:school");
    CHECK_STR(r->vc_group[1], "school");
    CHECK_REL(r->vc_sdcor[0], SD_CLASS, 0.3, 0.0);
    CHECK_REL(r->vc_sdcor[1], SD_SCHOOL, 0.3, 0.0);
    CHECK_REL(r->sigma, SD_E, 0.05, 0.0);

    /* shuffled rows, relabelled levels */
    int64_t *perm = malloc(sizeof(int64_t) * N);
    for (int64_t i = 0; i < N; i++) perm[i] = i;
    for (int64_t i = N - 1; i > 0; i--) {
        int64_t j = (int64_t)(unif() * (i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    evm_frame *g = make_frame(s, perm, 1, 1.0, c);
    evm_result *q = fit(g, 1, NULL, c, NULL);
    if (q) {
        CHECK_REL(q->objective, r->objective, 1e-10, 1.0);
        for (int i = 0; i < r->ntheta; i++) CHECK_ABS(q->theta[i], r->theta[i], 1e-6);
        for (int a = 0; a < 3; a++) CHECK_ABS(q->beta[a], r->beta[a], 1e-6 * r->se[a]);
        int bad = 0;
        char lab[32], lab2[32];
        for (int j = 0; j < NSCH; j++) {
            snprintf(lab, sizeof lab, "S%03d", j);
            snprintf(lab2, sizeof lab2, "Z%03d", NSCH - j);
            const double *m1 = mode_of(r, "school", lab), *m2 = mode_of(q, "school", lab2);
            /* 1e-5 (~3e-6 of the school SD): the optimiser stops on ftol_rel 1e-12,
             * which fixes θ to ~1e-6; the modes follow θ */
            if (!m1 || !m2 || fabs(*m1 - *m2) > 1e-5) bad++;
        }
        CHECK_INT(bad, 0);
    }
    evm_result_free(&q);
    evm_frame_destroy(&g);
    free(perm);

    /* constant weights c: θ/√c, same β and objective (ML and REML) */
    evm_frame *h = make_frame(s, NULL, 0, 4.0, c);
    evm_result *wr = fit(h, 1, "w", c, NULL);
    if (wr) {
        CHECK_REL(wr->objective, r->objective, 1e-9, 1.0);
        for (int i = 0; i < r->ntheta; i++) CHECK_ABS(wr->theta[i], r->theta[i] / 2.0, 1e-6);
        for (int a = 0; a < 3; a++) CHECK_ABS(wr->beta[a], r->beta[a], 1e-6 * r->se[a]);
    }
    evm_result_free(&wr);
    evm_frame_destroy(&h);
    evm_result_free(&r);
    evm_frame_destroy(&f);
}

static void test_threads_identical(const sim *s, evm_ctx *c)
{
    char path[] = "/tmp/evm_props_XXXXXX";
    int fd = mkstemp(path);
    FILE *fp = fdopen(fd, "w");
    fprintf(fp, "score,treat,prior,school,classroom\n");
    for (int64_t i = 0; i < N; i++)
        fprintf(fp, "%.17g,%g,%.17g,S%d,C%d\n", s->y[i], s->treat[i], s->prior[i], s->school[i],
                s->cls[i]);
    fclose(fp);
    evm_result *res[2] = {NULL, NULL};
    for (int t = 0; t < 2; t++) {
        evm_ctx_set_threads(c, t + 1);
        evm_colreq *req = NULL;
        int nreq = 0;
        evm_frame *f = NULL;
        CHECK_INT(evm_formula_columns(FORMULA, NULL, &req, &nreq, c), 0);
        CHECK_INT(evm_csv_read(path, req, nreq, &f, c), 0);
        if (f) res[t] = fit(f, 0, NULL, c, NULL);
        evm_colreq_free(&req, nreq);
        evm_frame_destroy(&f);
    }
    if (res[0] && res[1]) {
        CHECK(memcmp(&res[0]->objective, &res[1]->objective, sizeof(double)) == 0);
        CHECK(memcmp(res[0]->beta, res[1]->beta, sizeof(double) * res[0]->p) == 0);
        CHECK(memcmp(res[0]->theta, res[1]->theta, sizeof(double) * res[0]->ntheta) == 0);
        CHECK(memcmp(res[0]->ranef[0].condsd, res[1]->ranef[0].condsd,
                     sizeof(double) * res[0]->ranef[0].nlevels) == 0);
    }
    evm_result_free(&res[0]);
    evm_result_free(&res[1]);
    unlink(path);
}

int main(void)
{
    sim *s = malloc(sizeof *s);
    simulate(s);
    evm_ctx *c = evm_ctx_create();
    test_recovery_and_invariance(s, c);
    test_threads_identical(s, c);
    evm_ctx_destroy(&c);
    free(s);
    return check_summary("test_lmm_properties");
}
