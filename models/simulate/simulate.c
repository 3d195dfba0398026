/* simulate.c — the design of a simulated evaluation (schools, classrooms, the truth) and
 * the students of each school, drawn from one random stream per school. */
#include "simulate_internal.h"

#include "../../engine/core/internal.h"   /* evm__fail, allocation helpers */

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fixed effects of the generating model (outcome in SD units; see simulate.h). */
#define B_INTERCEPT 0.10
#define B_PRIOR 0.60
#define B_FRL (-0.10)
#define B_ELL (-0.10)
#define B_BLACK (-0.05)
#define B_COHORT2 0.05
#define CLASS_SIZE 25

void evm_sim_opts_default(evm_sim_opts *o)
{
    *o = (evm_sim_opts){.students = 5000,
                        .schools = 40,
                        .seed = 1,
                        .effect = 0.20,
                        .effect2 = 0.30,
                        .effect_sd = 0.10,
                        .icc_school = 0.15,
                        .icc_class = 0.05};
}

static int check_opts(const evm_sim_opts *o, evm_ctx *c)
{
    if (o->schools < 2 || o->schools > EVM_SIM_MAX_SCHOOLS)
        return evm__fail(c, EVM_ERR_ARG, "--schools %d: must be between 2 and %d",
                         (int)o->schools, EVM_SIM_MAX_SCHOOLS);
    if (o->students < 2 * (int64_t)o->schools || o->students > EVM_SIM_MAX_STUDENTS)
        return evm__fail(c, EVM_ERR_ARG,
                         "--students %lld: must be between 2 per school (%lld) and %lld",
                         (long long)o->students, 2 * (long long)o->schools,
                         (long long)EVM_SIM_MAX_STUDENTS);
    if (!isfinite(o->effect) || fabs(o->effect) > 100)
        return evm__fail(c, EVM_ERR_ARG, "--effect %g: must be a number in [-100, 100]",
                         o->effect);
    if (!isfinite(o->effect2) || fabs(o->effect2) > 100)
        return evm__fail(c, EVM_ERR_ARG, "--effect2 %g: must be a number in [-100, 100]",
                         o->effect2);
    if (!(o->effect_sd >= 0 && o->effect_sd <= 100))
        return evm__fail(c, EVM_ERR_ARG, "--effect-sd %g: must be a number in [0, 100]",
                         o->effect_sd);
    if (!(o->icc_school >= 0 && o->icc_school < 1))
        return evm__fail(c, EVM_ERR_ARG, "--icc-school %g: must be in [0, 1)", o->icc_school);
    if (!(o->icc_class >= 0 && o->icc_class < 1))
        return evm__fail(c, EVM_ERR_ARG, "--icc-class %g: must be in [0, 1)", o->icc_class);
    if (!(o->icc_school + o->icc_class < 1))
        return evm__fail(c, EVM_ERR_ARG,
                         "--icc-school %g + --icc-class %g: must add up to less than 1 (the "
                         "rest is the student-level variance)",
                         o->icc_school, o->icc_class);
    return EVM_OK;
}

/* Order of the largest remainders: fraction descending, ties to the lower index. */
typedef struct {
    double frac;
    int32_t k;
} share_rest;

static int by_remainder(const void *pa, const void *pb)
{
    const share_rest *a = pa, *b = pb;
    if (a->frac != b->frac) return a->frac > b->frac ? -1 : 1;
    return (a->k > b->k) - (a->k < b->k);
}

/* School sizes: 2 each, the rest shared in proportion to weights in [0.5, 1.5) by
 * largest share_rest, so they add up to exactly o->students. */
static int allocate_students(evm_sim *s, const double *weight, evm_ctx *c)
{
    const int32_t n = s->n;
    double total = 0.0;
    for (int32_t k = 0; k < n; k++) total += weight[k];
    int64_t rest = s->o.students - 2 * (int64_t)n, given = 0;
    share_rest *r = evm__malloc((size_t)n, sizeof *r);
    if (!r) return evm__fail(c, EVM_ERR_NOMEM, "out of memory drawing %d schools", (int)n);
    for (int32_t k = 0; k < n; k++) {
        double share = (double)rest * weight[k] / total;
        int64_t whole = (int64_t)floor(share);
        s->school[k].nstudents = 2 + whole;
        r[k] = (share_rest){share - (double)whole, k};
        given += whole;
    }
    qsort(r, (size_t)n, sizeof *r, by_remainder);
    /* 0 <= rest - given < n up to rounding; clamp so the total is exact in any case */
    for (int64_t i = 0, left = rest - given; left != 0; i = (i + 1) % n) {
        int64_t step = left > 0 ? 1 : -1;
        if (step < 0 && s->school[r[i].k].nstudents <= 2) continue;
        s->school[r[i].k].nstudents += step;
        left -= step;
    }
    free(r);
    return EVM_OK;
}

static void layout_school(evm_sim *s, int32_t k)
{
    evm_sim_school *sc = &s->school[k];
    int64_t nc = (sc->nstudents + CLASS_SIZE / 2) / CLASS_SIZE;
    if (nc < 1) nc = 1;
    if (sc->implementing && nc < 2) nc = 2;   /* both arms inside an implementing school */
    if (nc > sc->nstudents) nc = sc->nstudents;
    if (nc > INT32_MAX) nc = INT32_MAX;
    sc->nclass = (int32_t)nc;
    sc->ntreated_class = sc->implementing ? (sc->nclass + 1) / 2 : 0;
    sc->ntreated = 0;
    for (int32_t j = 0; j < sc->ntreated_class; j++) sc->ntreated += evm__sim_class_size(sc, j);
}

/* "S" and the number zero-padded to `width` digits (at most 8: 10 million schools). */
static void label_school(char label[16], int width, int32_t number)
{
    label[0] = 'S';
    for (int d = width; d >= 1; d--, number /= 10) label[d] = (char)('0' + number % 10);
    label[width + 1] = '\0';
}

int evm_sim_create(const evm_sim_opts *o, evm_sim **out, evm_ctx *c)
{
    *out = NULL;
    int st = check_opts(o, c);
    if (st < 0) return st;
    evm_sim *s = evm__calloc(1, sizeof *s);
    double *weight = NULL;
    if (!s) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    s->o = *o;
    s->n = o->schools;
    s->school = evm__calloc((size_t)s->n, sizeof *s->school);
    s->ctx = evm__calloc((size_t)s->n, sizeof *s->ctx);
    weight = evm__malloc((size_t)s->n, sizeof *weight);
    if (!s->school || !s->ctx || !weight) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory drawing %d schools", (int)s->n);
        goto cleanup;
    }
    int width = 2;
    for (int32_t m = s->n; m >= 100; m /= 10) width++;
    const double sd_u = sqrt(o->icc_school);
    evm__rng g;
    evm__rng_seed(&g, o->seed, 0);
    for (int32_t k = 0; k < s->n; k++) {
        evm_sim_school *sc = &s->school[k];
        evm__sim_school_ctx *x = &s->ctx[k];
        label_school(sc->label, width, k + 1);
        /* Pairs (implementing, comparison) alternate between the cohorts. */
        sc->implementing = k % 2 == 0;
        sc->cohort = 1 + (k / 2) % 2;
        sc->site = sc->implementing ? k : k - 1;
        /* The same draws for every school, in a fixed order. */
        weight[k] = 0.5 + evm__rng_unif(&g);
        sc->intercept = sd_u * evm__rng_norm(&g);
        sc->slope = o->effect_sd * evm__rng_norm(&g);
        sc->effect = (sc->cohort == 1 ? o->effect : o->effect2) + sc->slope;
        x->prior_mean = 0.3 * evm__rng_norm(&g);
        x->frl_rate = 0.15 + 0.70 * evm__rng_unif(&g);
        x->ell_rate = 0.02 + 0.23 * evm__rng_unif(&g);
        x->black_rate = 0.05 + 0.55 * evm__rng_unif(&g);
    }
    if ((st = allocate_students(s, weight, c)) < 0) goto cleanup;
    int64_t first = 0;
    for (int32_t k = 0; k < s->n; k++) {
        s->school[k].first = first;
        first += s->school[k].nstudents;
        layout_school(s, k);
        s->ctx[k].first_class = s->nclass;
        s->nclass += s->school[k].nclass;
    }
    *out = s;
    s = NULL;
cleanup:
    free(weight);
    evm_sim_destroy(&s);
    return st;
}

void evm_sim_destroy(evm_sim **s)
{
    if (!s || !*s) return;
    free((*s)->school);
    free((*s)->ctx);
    free(*s);
    *s = NULL;
}

const evm_sim_opts *evm_sim_options(const evm_sim *s) { return &s->o; }

const evm_sim_school *evm_sim_schools(const evm_sim *s, int32_t *nschools)
{
    if (nschools) *nschools = s->n;
    return s->school;
}

void evm_sim_params(const evm_sim *s, evm_sim_param out[EVM_SIM_NPARAMS])
{
    const evm_sim_opts *o = &s->o;
    const evm_sim_param p[EVM_SIM_NPARAMS] = {
        {"", "(Intercept)", "", B_INTERCEPT},
        {"", "prior", "", B_PRIOR},
        {"", "frl", "", B_FRL},
        {"", "ell", "", B_ELL},
        {"", "black", "", B_BLACK},
        {"", "treat", "", o->effect},
        {"", "factor(cohort)2", "", B_COHORT2},
        {"", "treat:factor(cohort)2", "", o->effect2 - o->effect},
        {"school:classroom", "(Intercept)", "", sqrt(o->icc_class)},
        {"school", "(Intercept)", "", sqrt(o->icc_school)},
        {"school", "treat", "", o->effect_sd},
        {"school", "(Intercept)", "treat", 0.0},
        {"Residual", "", "", sqrt(1.0 - o->icc_school - o->icc_class)},
    };
    memcpy(out, p, sizeof p);
}

/* ---------------------------------------------------------------- students */
int64_t evm__sim_class_size(const evm_sim_school *sc, int32_t j)
{
    return sc->nstudents / sc->nclass + (j < sc->nstudents % sc->nclass);
}

void evm__sim_class_begin(evm__sim_gen *gen, const evm_sim *s, int32_t k, int32_t j)
{
    const evm_sim_school *sc = &s->school[k];
    const int64_t base = sc->nstudents / sc->nclass, extra = sc->nstudents % sc->nclass;
    gen->s = s;
    gen->k = k;
    gen->j = j;
    gen->left = evm__sim_class_size(sc, j);
    gen->next = sc->first + j * base + (j < extra ? j : extra);   /* rows before it */
    gen->sd_e = sqrt(1.0 - s->o.icc_school - s->o.icc_class);
    evm__rng_seed(&gen->g, s->o.seed, 1 + (uint64_t)(s->ctx[k].first_class + j));
    gen->w_class = sqrt(s->o.icc_class) * evm__rng_norm(&gen->g);
}

void evm__sim_gen_row(evm__sim_gen *gen, evm__sim_row *r)
{
    const evm_sim *s = gen->s;
    const evm_sim_school *sc = &s->school[gen->k];
    const evm__sim_school_ctx *x = &s->ctx[gen->k];
    gen->left--;
    r->student = ++gen->next;
    r->classroom = gen->j + 1;
    r->treat = gen->j < sc->ntreated_class;
    r->frl = evm__rng_unif(&gen->g) < x->frl_rate;
    r->ell = evm__rng_unif(&gen->g) < x->ell_rate;
    r->black = evm__rng_unif(&gen->g) < x->black_rate;
    double prior = x->prior_mean - 0.25 * r->frl - 0.20 * r->ell - 0.15 * r->black +
                   0.9 * evm__rng_norm(&gen->g);
    r->prior_milli = llround(prior * 1000.0);
    /* The recorded (rounded) prior enters the outcome, so the model holds for the file. */
    double score = B_INTERCEPT + B_PRIOR * ((double)r->prior_milli / 1000.0) + B_FRL * r->frl +
                   B_ELL * r->ell + B_BLACK * r->black + B_COHORT2 * (sc->cohort == 2) +
                   r->treat * sc->effect + sc->intercept + gen->w_class +
                   gen->sd_e * evm__rng_norm(&gen->g);
    r->score_milli = llround(score * 1000.0);
}

/* ---------------------------------------------------------------- frame */
int evm_sim_frame(const evm_sim *s, evm_frame **out, evm_ctx *c)
{
    enum { STUDENT, CLASSROOM, COHORT, TREAT, PRIOR, FRL, ELL, BLACK, SCORE, NNUM };
    static const char *const num_name[NNUM] = {"student", "classroom", "cohort", "treat",
                                               "prior",   "frl",       "ell",    "black",
                                               "score"};
    const int64_t n = s->o.students;
    double *col[NNUM] = {0};
    int32_t *school = evm__malloc((size_t)n, sizeof *school);
    int32_t *site = evm__malloc((size_t)n, sizeof *site);
    const char **label = evm__malloc((size_t)s->n, sizeof *label);
    /* Sites are the implementing schools only (as a CSV reader would find them). */
    const char **site_label = evm__malloc((size_t)s->n, sizeof *site_label);
    int32_t *site_code = evm__malloc((size_t)s->n, sizeof *site_code);
    int32_t nsites = 0;
    evm_frame *f = NULL;
    int st = EVM_OK, ok = school && site && label && site_label && site_code;
    for (int j = 0; j < NNUM; j++) ok = ok && (col[j] = evm__malloc((size_t)n, sizeof **col));
    if (!ok) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory simulating %lld students",
                       (long long)n);
        goto cleanup;
    }
    for (int32_t k = 0; k < s->n; k++) {
        label[k] = s->school[k].label;
        if (s->school[k].site == k) {
            site_code[k] = nsites;
            site_label[nsites++] = s->school[k].label;
        }
    }
    for (int32_t k = 0; k < s->n; k++) {
        const evm_sim_school *sc = &s->school[k];
        evm__sim_gen gen = {0};
        for (int64_t i = sc->first; i < sc->first + sc->nstudents; i++) {
            evm__sim_row r;
            if (gen.left == 0) evm__sim_class_begin(&gen, s, k, i == sc->first ? 0 : gen.j + 1);
            evm__sim_gen_row(&gen, &r);
            school[i] = k;
            site[i] = site_code[sc->site];
            col[STUDENT][i] = (double)r.student;
            col[CLASSROOM][i] = r.classroom;
            col[COHORT][i] = sc->cohort;
            col[TREAT][i] = r.treat;
            col[PRIOR][i] = (double)r.prior_milli / 1000.0;   /* = strtod of the CSV text */
            col[FRL][i] = r.frl;
            col[ELL][i] = r.ell;
            col[BLACK][i] = r.black;
            col[SCORE][i] = (double)r.score_milli / 1000.0;
        }
    }
    if (!(f = evm_frame_create(n, c))) {
        st = evm_ctx_status(c) < 0 ? evm_ctx_status(c) : EVM_ERR_NOMEM;
        goto cleanup;
    }
    if ((st = evm_frame_add_numeric(f, "student", col[STUDENT], c)) < 0 ||
        (st = evm_frame_add_factor(f, "school", school, label, s->n, c)) < 0 ||
        (st = evm_frame_add_numeric(f, "classroom", col[CLASSROOM], c)) < 0 ||
        (st = evm_frame_add_factor(f, "site", site, site_label, nsites, c)) < 0)
        goto cleanup;
    for (int j = COHORT; j < NNUM; j++)
        if ((st = evm_frame_add_numeric(f, num_name[j], col[j], c)) < 0) goto cleanup;
    *out = f;
    f = NULL;
cleanup:
    evm_frame_destroy(&f);
    for (int j = 0; j < NNUM; j++) free(col[j]);
    free(site_code);
    free(site_label);
    free(label);
    free(site);
    free(school);
    return st;
}
