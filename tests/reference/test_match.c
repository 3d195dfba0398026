/* test_match.c — `evalmix match` (models/match) against MatchIt 4.5.1
 * (tests/reference/matchit_reference.json, made by matchit_reference.R from
 * datasets/lalonde.csv and tests/data/match_eval.csv), plus properties without an oracle.
 *
 * Per reference case (nearest 1:1 and 3:1 on ps and logit, exact cells, calipers, with
 * replacement, Mahalanobis, cem):
 *  - the distance of every row and the propensity-model coefficients, to 1e-8;
 *  - the matched sets: for every treated student the same comparison students (as sets;
 *    cases whose reference flags tied distances are reported, and must agree too);
 *  - the weights of every row (match.data()), the subclass partition, the sample sizes;
 *  - summary(): means, SMD, variance ratio, eCDF mean and max before and after, to 1e-8;
 *  - calipers by definition: every matched pair within the caliper width, which is the
 *    caliper times the SD of the distance over the whole sample.
 * Properties: the fast matcher (sorted cells, outward search) gives the sets of a naive
 * all-pairs greedy matcher on random problems with ties, cells, calipers, ratios and
 * windows, for 1-D and Mahalanobis distances; the sets do not depend on the row order
 * (eval data, no ties); error and warning cases. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "evalmix/evalmix.h"
#include "json.h"
#include "match/match.h"
#include "match/match_internal.h"

#define REF_JSON "tests/reference/matchit_reference.json"
#define TOL 1e-8

static int case_fail;

static void failf(const char *id, const char *fmt, ...)
{
    check_failed_++;
    if (case_fail++ < 12) {
        va_list ap;
        va_start(ap, fmt);
        printf("  %s: ", id);
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
}

static void near(const char *id, const char *what, double got, double want, double *worst)
{
    if (isnan(want) && isnan(got)) {
        check_passed_++;
        return;
    }
    double scale = fabs(want) > 1 ? fabs(want) : 1;
    double err = fabs(got - want) / scale;
    if (!(err <= TOL)) {
        failf(id, "%s: evalmix %.12g, MatchIt %.12g (err %.3g)", what, got, want, err);
        return;
    }
    check_passed_++;
    if (err > *worst) *worst = err;
}

/* ---------------------------------------------------------------- reference cases */
typedef struct {
    char *names[32];
    int n;
} strlist;

static void strlist_free(strlist *l)
{
    for (int i = 0; i < l->n; i++) free(l->names[i]);
    l->n = 0;
}

/* The right-hand side of "treat ~ a + b + c". */
static void formula_covariates(const char *f, strlist *out)
{
    const char *p = strchr(f, '~');
    out->n = 0;
    for (p = p ? p + 1 : f; *p && out->n < 32;) {
        while (*p == ' ' || *p == '+') p++;
        const char *s = p;
        while (*p && *p != ' ' && *p != '+') p++;
        if (p > s) out->names[out->n++] = strndup(s, (size_t)(p - s));
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* My sets as, per row of a treated student, the sorted comparison rows (count in nc). */
static void my_sets(const evm_match_result *r, int64_t **ctrl, int *nc, int k)
{
    for (int64_t i = 0; i < r->n; i++) nc[i] = 0;
    for (int64_t j = 0; j < r->nout; j++) {
        int64_t row = r->out_row[j], t = r->set_treated[r->out_set[j]];
        if (row == t) continue;
        if (nc[t] < k) ctrl[t][nc[t]] = row;
        nc[t]++;
    }
    for (int64_t i = 0; i < r->n; i++)
        if (nc[i] > 1 && nc[i] <= k) qsort(ctrl[i], (size_t)nc[i], sizeof **ctrl, cmp_i64);
}

static int64_t row_of(const json_value *ids, const char *id)
{
    for (size_t i = 0; i < json_len(ids); i++)
        if (strcmp(json_str(json_at(ids, i)), id) == 0) return (int64_t)i;
    return -1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Two sets of comparison rows for treated row t are equally good when their sorted
 * distances to t, in MatchIt's own distances, agree to rounding (1e-12): a tie. */
static int tied_sets(const json_value *jd, int64_t t, const int64_t *a, const int64_t *b,
                     int na, int nb)
{
    if (!jd || na != nb || na > 64) return 0;
    double da[64], db[64], dt = json_num(json_at(jd, (size_t)t));
    for (int q = 0; q < na; q++) {
        da[q] = fabs(json_num(json_at(jd, (size_t)a[q])) - dt);
        db[q] = fabs(json_num(json_at(jd, (size_t)b[q])) - dt);
    }
    qsort(da, (size_t)na, sizeof *da, cmp_double);
    qsort(db, (size_t)na, sizeof *db, cmp_double);
    for (int q = 0; q < na; q++)
        if (fabs(da[q] - db[q]) > 1e-12 * (fabs(dt) > 1 ? fabs(dt) : 1)) return 0;
    return 1;
}

static void compare_summary(const char *id, const char *which, const json_value *s,
                            const evm_match_result *r, int k, double *worst)
{
    static const char *cols[] = {"Means Treated", "Means Control", "Std. Mean Diff.",
                                 "Var. Ratio", "eCDF Mean", "eCDF Max"};
    const json_value *rows = json_get(s, "rows");
    if (json_len(rows) != (size_t)r->nbal)
        failf(id, "%s: %zu rows in MatchIt's summary, %d in evalmix's", which,
              json_len(rows), r->nbal);
    for (size_t i = 0; i < json_len(rows); i++) {
        const char *name = json_str(json_at(rows, i));
        const evm_balance_row *b = NULL;
        for (int j = 0; j < r->nbal && !b; j++)
            if (strcmp(r->bal[j].name, name) == 0) b = &r->bal[j];
        if (!b) {
            failf(id, "%s: no balance row '%s'", which, name);
            continue;
        }
        const double mine[6] = {b->mean_t[k], b->mean_c[k], b->smd[k], b->var_ratio[k],
                                b->ecdf_mean[k], b->ecdf_max[k]};
        for (int c = 0; c < 6; c++) {
            char what[160];
            snprintf(what, sizeof what, "%s %s %s", which, name, cols[c]);
            near(id, what, mine[c], json_num(json_at(json_get(s, cols[c]), i)), worst);
        }
    }
}

static void run_case(const json_value *cs)
{
    const char *id = json_str(json_get(cs, "id"));
    const char *data = json_str(json_get(cs, "data"));
    const char *method = json_str(json_get(cs, "method"));
    const char *dk = json_str(json_get(cs, "distance_kind"));
    int lal = strcmp(data, "lalonde") == 0;
    case_fail = 0;
    strlist cov = {0}, ex = {0}, cutv = {0};
    int cutn[32];
    formula_covariates(json_str(json_get(cs, "formula")), &cov);
    const json_value *jex = json_get(cs, "exact");
    for (size_t i = 0; i < json_len(jex); i++) ex.names[ex.n++] = strdup(json_str(json_at(jex, i)));
    const json_value *jcut = json_get(cs, "cutpoints");
    for (size_t i = 0; i < json_len(jcut); i++) {
        cutv.names[cutv.n] = strdup(json_key(jcut, i));
        cutn[cutv.n++] = (int)json_num(json_at(jcut, i));
    }
    evm_match_opts o;
    evm_match_opts_default(&o);
    o.treatment = "treat";
    o.ncov = cov.n;
    o.covariates = (const char *const *)cov.names;
    o.nexact = ex.n;
    o.exact = (const char *const *)ex.names;
    o.method = strcmp(method, "cem") == 0 ? EVM_MATCH_CEM : EVM_MATCH_NEAREST;
    o.distance = strcmp(dk, "logit") == 0         ? EVM_DIST_LOGIT
                 : strcmp(dk, "mahalanobis") == 0 ? EVM_DIST_MAHALANOBIS
                                                  : EVM_DIST_PS;
    if (o.method != EVM_MATCH_CEM) {
        o.ratio = (int)json_num(json_get(cs, "ratio"));
        o.replace = json_bool(json_get(cs, "replace")) == 1;
        if (json_get(cs, "caliper")) o.caliper = json_num(json_get(cs, "caliper"));
    }
    o.ncut = cutv.n;
    o.cut_var = (const char *const *)cutv.names;
    o.cut_bins = cutn;
    o.id = lal ? "id" : "student";
    const char *path = lal ? "datasets/lalonde.csv" : "tests/data/match_eval.csv";

    evm_ctx *c = evm_ctx_create();
    evm_colreq *req = NULL;
    int nreq = 0;
    evm_frame *f = NULL;
    evm_match_result *r = NULL;
    int st = evm_match_columns(&o, &req, &nreq, c);
    if (st == 0) st = evm_csv_read(path, req, nreq, &f, c);
    if (st == 0) st = evm_match_run(f, &o, &r, c);
    if (st < 0) {
        failf(id, "evm_match_run: %s", evm_ctx_message(c));
        goto done;
    }
    check_passed_++;
    double wd = 0, wc = 0, ww = 0, wsa = 0, wsm = 0;
    const json_value *ids = json_get(cs, "ids");
    CHECK_INT(r->n, json_len(ids));

    /* distance and the propensity model */
    const json_value *jd = json_get(cs, "distance");
    if (jd) {
        for (int64_t i = 0; i < r->n; i++) {
            char what[64];
            snprintf(what, sizeof what, "distance[%lld]", (long long)i + 1);
            near(id, what, r->distance[i], json_num(json_at(jd, (size_t)i)), &wd);
        }
        const json_value *jc = json_get(cs, "coef");
        CHECK_INT(r->nterm, json_len(jc));
        for (int j = 0; j < r->nterm && (size_t)j < json_len(jc); j++) {
            CHECK_STR(r->term[j], json_str(json_at(json_get(cs, "coef_names"), (size_t)j)));
            near(id, r->term[j], r->coef[j], json_num(json_at(jc, (size_t)j)), &wc);
        }
        CHECK_INT(r->iterations, json_num(json_get(cs, "iter")));
    }

    /* matched sets, per treated row */
    int nset_diff = 0, ntied = 0;
    const json_value *sets = json_get(cs, "sets");
    if (sets) {
        int k = r->ratio;
        int *nc = calloc((size_t)r->n, sizeof *nc);
        int64_t **ctrl = calloc((size_t)r->n, sizeof *ctrl);
        for (int64_t i = 0; i < r->n; i++) ctrl[i] = calloc((size_t)k, sizeof **ctrl);
        my_sets(r, ctrl, nc, k);
        const json_value *tr = json_get(cs, "treat");
        size_t t = 0;
        for (int64_t i = 0; i < r->n; i++) {
            if (json_num(json_at(tr, (size_t)i)) != 1) continue;
            const json_value *js = json_at(sets, t++);
            int64_t want[64];
            int nw = (int)json_len(js);
            for (int q = 0; q < nw && q < 64; q++) want[q] = row_of(ids, json_str(json_at(js, (size_t)q)));
            qsort(want, (size_t)nw, sizeof *want, cmp_i64);
            int same = nw == nc[i];
            for (int q = 0; same && q < nw; q++) same = want[q] == ctrl[i][q];
            if (!same && tied_sets(jd, i, want, ctrl[i], nw, nc[i])) {
                ntied++;   /* equally distant by MatchIt's own distances */
                check_passed_++;
                continue;
            }
            if (!same) {
                nset_diff++;
                failf(id, "treated %s: %d comparison students in evalmix's set, %d in "
                      "MatchIt's (first %lld vs %lld)", json_str(json_at(ids, (size_t)i)),
                      nc[i], nw, nc[i] ? (long long)ctrl[i][0] + 1 : -1LL,
                      nw ? (long long)want[0] + 1 : -1LL);
            } else {
                check_passed_++;
            }
        }
        CHECK_INT(t, json_len(sets));
        /* calipers by definition */
        if (r->caliper_width > 0) {
            near(id, "caliper width", r->caliper_width, json_num(json_get(cs, "caliper_width")), &wd);
            for (int64_t i = 0; i < r->n; i++)
                for (int q = 0; q < nc[i] && q < k; q++)
                    CHECK(fabs(r->distance[i] - r->distance[ctrl[i][q]]) <= r->caliper_width);
        }
        for (int64_t i = 0; i < r->n; i++) free(ctrl[i]);
        free(ctrl);
        free(nc);
    }

    /* weights, subclasses, sample sizes: only where the sets are the same (a different
     * choice among tied comparison students changes the weights) */
    const json_value *jw = json_get(cs, "weights");
    for (int64_t i = 0; i < r->n && ntied == 0; i++) {
        char what[64];
        snprintf(what, sizeof what, "weight[%lld]", (long long)i + 1);
        near(id, what, r->weight[i], json_num(json_at(jw, (size_t)i)), &ww);
    }
    const json_value *jsub = json_get(cs, "subclass");
    if (jsub && !r->replace) {
        int64_t *map = malloc((size_t)(r->n + 2) * sizeof *map);
        for (int64_t i = 0; i < r->n + 2; i++) map[i] = -9;
        int bad = 0;
        for (int64_t i = 0; i < r->n; i++) {
            const json_value *v = json_at(jsub, (size_t)i);
            int64_t want = json_is_na(v) ? -1 : (int64_t)json_num(v), got = r->subclass[i];
            if (want < 0 || got < 0) {
                bad += (want < 0) != (got < 0);
                continue;
            }
            if (map[want] == -9) map[want] = got;
            bad += map[want] != got;
        }
        if (bad) failf(id, "subclass partition differs in %d rows", bad);
        else check_passed_++;
        free(map);
    }
    const json_value *nn = json_get(cs, "nn");
    near(id, "matched treated", (double)r->n1_matched, json_num(json_at(json_get(nn, "treated"), 3)), &ww);
    if (ntied == 0) {
        near(id, "matched control", (double)r->n0_matched,
             json_num(json_at(json_get(nn, "control"), 3)), &ww);
        near(id, "control ESS", r->ess0, json_num(json_at(json_get(nn, "control"), 2)), &ww);
    }

    compare_summary(id, "all", json_get(cs, "sum_all"), r, 0, &wsa);
    if (ntied == 0) compare_summary(id, "matched", json_get(cs, "sum_matched"), r, 1, &wsm);
    printf("%-28s %s  sets differ %d, by ties %d%s  max err: distance %.1e coef %.1e weights %.1e "
           "summary %.1e/%.1e\n", id, case_fail ? "FAIL" : "ok  ", nset_diff, ntied,
           json_num(json_get(cs, "ties")) == 1 ? " (ties in distance)" : "", wd, wc, ww, wsa,
           wsm);
done:
    evm_match_result_free(&r);
    evm_frame_destroy(&f);
    evm_colreq_free(&req, nreq);
    evm_ctx_destroy(&c);
    strlist_free(&cov);
    strlist_free(&ex);
    strlist_free(&cutv);
}

/* ---------------------------------------------------------------- naive matcher */
typedef struct {
    double d;
    uint64_t key;
    int64_t row;
} nc_cand;

static int nc_less(const nc_cand *a, const nc_cand *b)
{
    if (a->d != b->d) return a->d < b->d;
    if (a->key != b->key) return a->key < b->key;
    return a->row < b->row;
}

static double naive_dist(const evm__mt_nn_problem *p, int64_t a, int64_t b)
{
    if (p->dist) return fabs(p->dist[a] - p->dist[b]);
    double s = 0;
    for (int q = 0; q < p->k; q++) {
        double d = p->z[(int64_t)q * p->n + a] - p->z[(int64_t)q * p->n + b];
        s += d * d;
    }
    return sqrt(s);
}

static int naive_ok(const evm__mt_nn_problem *p, int64_t t, int64_t c)
{
    if (p->treat[c] || p->cell[c] != p->cell[t]) return 0;
    for (int w = 0; w < p->nwindow; w++)
        if (!(fabs(p->window_x[w][c] - p->window_x[w][t]) <= p->window_w[w])) return 0;
    if (p->caliper > 0 && !(naive_dist(p, t, c) <= p->caliper)) return 0;
    return 1;
}

/* All pairs: mm[t * k + r] (t in data order among treated), -1 empty. */
static void naive_match(const evm__mt_nn_problem *p, int64_t *mm, int64_t *trow, int64_t n1)
{
    const int k = p->ratio;
    char *used = calloc((size_t)p->n, 1);
    for (int64_t i = 0; i < n1 * k; i++) mm[i] = -1;
    /* processing order: by cell, then decreasing distance (key) or data order */
    int64_t *ord = malloc((size_t)n1 * sizeof *ord);
    for (int64_t i = 0; i < n1; i++) ord[i] = i;
    for (int64_t i = 1; i < n1; i++)   /* insertion sort, small n */
        for (int64_t j = i; j > 0; j--) {
            int64_t a = trow[ord[j - 1]], b = trow[ord[j]];
            int before;
            if (p->cell[a] != p->cell[b]) before = p->cell[a] < p->cell[b];
            else if (p->order_largest && p->dist[a] != p->dist[b]) before = p->dist[a] > p->dist[b];
            else if (p->order_largest && p->key[a] != p->key[b]) before = p->key[a] < p->key[b];
            else before = a < b;
            if (before) break;
            int64_t tmp = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = tmp;
        }
    if (p->replace) {
        nc_cand *buf = malloc((size_t)p->n * sizeof *buf);
        for (int64_t ti = 0; ti < n1; ti++) {
            int64_t t = trow[ti];
            int nb = 0;
            for (int64_t c = 0; c < p->n; c++)
                if (naive_ok(p, t, c)) buf[nb++] = (nc_cand){naive_dist(p, t, c), p->key[c], c};
            for (int i = 1; i < nb; i++)
                for (int j = i; j > 0 && nc_less(&buf[j], &buf[j - 1]); j--) {
                    nc_cand tmp = buf[j];
                    buf[j] = buf[j - 1];
                    buf[j - 1] = tmp;
                }
            for (int q = 0; q < k && q < nb; q++) mm[ti * k + q] = buf[q].row;
        }
        free(buf);
    } else {
        for (int r = 0; r < k; r++)
            for (int64_t oi = 0; oi < n1; oi++) {
                int64_t ti = ord[oi], t = trow[ti];
                nc_cand best = {INFINITY, 0, -1};
                for (int64_t c = 0; c < p->n; c++) {
                    if (used[c] || !naive_ok(p, t, c)) continue;
                    nc_cand x = {naive_dist(p, t, c), p->key[c], c};
                    if (best.row < 0 || nc_less(&x, &best)) best = x;
                }
                if (best.row >= 0) {
                    mm[ti * k + r] = best.row;
                    used[best.row] = 1;
                }
            }
    }
    free(ord);
    free(used);
}

static uint64_t rng_state = 12345;
static double unif(void) { return (double)(evm__mt_splitmix64(&rng_state) >> 11) * 0x1.0p-53; }

static void property_naive(int trial)
{
    const int64_t n = 120 + trial * 7;
    int *treat = malloc((size_t)n * sizeof *treat);
    int32_t *cell = malloc((size_t)n * sizeof *cell);
    double *dist = malloc((size_t)n * sizeof *dist), *z = malloc((size_t)n * 2 * sizeof *z);
    double *wx = malloc((size_t)n * sizeof *wx);
    uint64_t *key = malloc((size_t)n * sizeof *key);
    int ncells = 1 + trial % 3;
    int points = trial % 4 == 3;
    for (int64_t i = 0; i < n; i++) {
        treat[i] = unif() < 0.3;
        cell[i] = (int32_t)(unif() * ncells);
        /* rounded: many ties in distance */
        dist[i] = floor(unif() * (trial % 2 ? 40 : 1000)) / 100;
        z[i] = floor(unif() * 20) / 4;
        z[n + i] = floor(unif() * 20) / 4;
        wx[i] = floor(unif() * 10);
        key[i] = trial % 5 == 4 ? evm__mt_splitmix64(&rng_state) : (uint64_t)i;
    }
    const double *wxs[1] = {wx};
    double ww[1] = {2};
    evm__mt_nn_problem p = {
        .n = n, .treat = treat, .cell = cell, .ncells = ncells,
        .dist = points ? NULL : dist, .z = points ? z : NULL, .k = 2, .key = key,
        .ratio = 1 + trial % 3, .replace = trial % 6 >= 3,
        .caliper = trial % 7 == 2 && !points ? 0.05 : 0,
        .order_largest = !points, .nwindow = trial % 8 == 5, .window_x = wxs, .window_w = ww,
    };
    if (p.nwindow) p.replace = 1;
    evm_ctx *c = evm_ctx_create();
    evm__mt_sets s;
    CHECK_INT(evm__mt_nn_match(&p, &s, NULL, c), 0);
    int64_t n1 = s.n1, k = p.ratio;
    int64_t *mm = malloc((size_t)(n1 * k + 1) * sizeof *mm);
    naive_match(&p, mm, s.treated_row, n1);
    int bad = 0;
    for (int64_t t = 0; t < n1; t++) {
        int64_t cnt = s.start[t + 1] - s.start[t];
        int64_t want = 0;
        for (int q = 0; q < k; q++) want += mm[t * k + q] >= 0;
        if (cnt != want) {
            bad++;
            continue;
        }
        /* same rows, in the same order (rounds, or nearest first) */
        for (int q = 0; q < cnt; q++) bad += s.ctrl[s.start[t] + q] != mm[t * k + q];
    }
    if (bad) {
        check_failed_++;
        printf("  naive matcher, trial %d (ratio %d, replace %d, caliper %g, window %d, "
               "points %d): %d differences\n", trial, p.ratio, p.replace, p.caliper,
               p.nwindow, points, bad);
    } else {
        check_passed_++;
    }
    free(mm);
    evm__mt_sets_free(&s);
    evm_ctx_destroy(&c);
    free(treat);
    free(cell);
    free(dist);
    free(z);
    free(wx);
    free(key);
}

/* ---------------------------------------------------------------- errors */
static int run_frame(evm_frame *f, evm_match_opts *o, evm_ctx *c, evm_match_result **r)
{
    evm_ctx_clear(c);
    int st = evm_match_run(f, o, r, c);
    return st;
}

static void errors(void)
{
    evm_ctx *c = evm_ctx_create();
    const int64_t n = 8;
    double t[8] = {1, 1, 0, 0, 0, 0, 0, 0}, x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    double k[8] = {5, 5, 5, 5, 5, 5, 5, 5}, m[8] = {1, 2, NAN, 4, 5, 6, 7, 8};
    double t0[8] = {0}, t2[8] = {1, 2, 0, 0, 0, 0, 0, 0};
    evm_frame *f = evm_frame_create(n, c);
    evm_frame_add_numeric(f, "t", t, c);
    evm_frame_add_numeric(f, "x", x, c);
    evm_frame_add_numeric(f, "k", k, c);
    evm_frame_add_numeric(f, "m", m, c);
    evm_frame_add_numeric(f, "t0", t0, c);
    evm_frame_add_numeric(f, "t2", t2, c);
    evm_match_result *r = NULL;
    evm_match_opts o;
    const char *xs[1] = {"x"}, *ks[1] = {"k"}, *ms[1] = {"m"}, *nos[1] = {"nope"};
    evm_match_opts_default(&o);
    o.treatment = "t";
    o.ncov = 1;
    o.covariates = xs;

    o.treatment = "t0";
    CHECK_INT(run_frame(f, &o, c, &r), EVM_ERR_VALUE);
    CHECK(strstr(evm_ctx_message(c), "no treated rows") != NULL);
    o.treatment = "t2";
    CHECK_INT(run_frame(f, &o, c, &r), EVM_ERR_VALUE);
    CHECK(strstr(evm_ctx_message(c), "must be 0") != NULL);
    CHECK(strstr(evm_ctx_message(c), "row 2") != NULL);
    o.treatment = "t";
    o.covariates = ks;
    CHECK_INT(run_frame(f, &o, c, &r), EVM_ERR_VALUE);
    CHECK(strstr(evm_ctx_message(c), "'k' is constant") != NULL);
    o.covariates = ms;
    CHECK_INT(run_frame(f, &o, c, &r), EVM_ERR_VALUE);
    CHECK(strstr(evm_ctx_message(c), "missing") != NULL);
    CHECK(strstr(evm_ctx_message(c), "row 3") != NULL);
    o.covariates = nos;
    CHECK_INT(run_frame(f, &o, c, &r), EVM_ERR_COLUMN);
    CHECK(strstr(evm_ctx_message(c), "'nope'") != NULL);
    o.covariates = xs;
    o.caliper = 1e-6;
    CHECK_INT(run_frame(f, &o, c, &r), EVM_ERR_VALUE);
    CHECK(strstr(evm_ctx_message(c), "caliper") != NULL);
    CHECK(r == NULL);
    /* a caliper that leaves one treated student unmatched: a warning, not an error */
    o.caliper = 0.0;
    double t3[8] = {1, 0, 0, 0, 0, 0, 0, 1}, x3[8] = {1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 9};
    evm_frame_add_numeric(f, "t3", t3, c);
    evm_frame_add_numeric(f, "x3", x3, c);
    const char *x3s[1] = {"x3"};
    o.treatment = "t3";
    o.covariates = x3s;
    o.distance = EVM_DIST_LOGIT;
    o.caliper = 0.1;
    int st = run_frame(f, &o, c, &r);
    CHECK_INT(st, EVM_MATCH_WARN);
    if (r) {
        CHECK_INT(r->n1_unmatched, 1);
        CHECK_INT(r->unmatched_row[0], 7);
        int seen = 0;
        for (int i = 0; i < evm_ctx_nwarnings(c); i++)
            seen |= strstr(evm_ctx_warning(c, i), "1 of 2 treated students have no match") != NULL;
        CHECK(seen);
    }
    evm_match_result_free(&r);
    evm_frame_destroy(&f);
    evm_ctx_destroy(&c);
}

/* The sets do not depend on the row order (no ties: the eval data). */
static void row_order(void)
{
    evm_ctx *c = evm_ctx_create();
    const char *cov[] = {"prior", "frl", "ell", "school_frl", "urban"};
    evm_match_opts o;
    evm_match_opts_default(&o);
    o.treatment = "treat";
    o.ncov = 5;
    o.covariates = cov;
    o.distance = EVM_DIST_LOGIT;
    o.ratio = 2;
    evm_colreq *req = NULL;
    int nreq = 0;
    evm_frame *f = NULL, *g = NULL;
    evm_match_result *r1 = NULL, *r2 = NULL;
    evm_match_columns(&o, &req, &nreq, c);
    if (evm_csv_read("tests/data/match_eval.csv", req, nreq, &f, c) < 0) {
        printf("  %s\n", evm_ctx_message(c));
        check_failed_++;
        goto done;
    }
    int64_t n = evm_frame_nrows(f);
    g = evm_frame_create(n, c);
    double *buf = malloc((size_t)n * sizeof *buf);
    for (int j = 0; j < evm_frame_ncols(f); j++) {
        const double *x = evm_frame_numeric(f, j);
        for (int64_t i = 0; i < n; i++) buf[i] = x[n - 1 - i];
        evm_frame_add_numeric(g, evm_frame_name(f, j), buf, c);
    }
    free(buf);
    CHECK(evm_match_run(f, &o, &r1, c) >= 0);
    CHECK(evm_match_run(g, &o, &r2, c) >= 0);
    if (r1 && r2) {
        int bad = 0;
        for (int64_t i = 0; i < n; i++) {
            bad += fabs(r1->weight[i] - r2->weight[n - 1 - i]) > 1e-12;
            int64_t s1 = r1->subclass[i], s2 = r2->subclass[n - 1 - i];
            if ((s1 < 0) != (s2 < 0)) bad++;
            else if (s1 >= 0)
                bad += r1->set_treated[s1] != n - 1 - r2->set_treated[s2];
        }
        CHECK_INT(bad, 0);
    }
done:
    evm_match_result_free(&r1);
    evm_match_result_free(&r2);
    evm_frame_destroy(&f);
    evm_frame_destroy(&g);
    evm_colreq_free(&req, nreq);
    evm_ctx_destroy(&c);
}

int main(int argc, char **argv)
{
    char *err = NULL;
    json_value *doc = json_parse_file(REF_JSON, &err);
    if (!doc) {
        fprintf(stderr, "%s\n", err ? err : "cannot read " REF_JSON);
        free(err);
        return 1;
    }
    CHECK_STR(json_str(json_get(json_get(doc, "packages"), "MatchIt")), "4.5.1");
    CHECK_INT(json_num(json_get(doc, "stock_demo")), 2);   /* the abs(int) truncation */
    const json_value *cases = json_get(doc, "cases");
    for (size_t i = 0; i < json_len(cases); i++) {
        const json_value *cs = json_at(cases, i);
        if (argc > 1 && !strstr(json_str(json_get(cs, "id")), argv[1])) continue;
        run_case(cs);
    }
    json_free(&doc);
    if (argc <= 1) {
        for (int trial = 0; trial < 48; trial++) property_naive(trial);
        row_order();
        errors();
    }
    return check_summary("test_match");
}
