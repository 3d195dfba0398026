/* match.c — `evalmix match` as a model: options, checks of the data, the distance, the
 * matching itself (nearest.c, cem.c), MatchIt's weights and the balance table. */
#include "match_internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void evm_match_opts_default(evm_match_opts *o)
{
    memset(o, 0, sizeof *o);
    o->method = EVM_MATCH_NEAREST;
    o->distance = EVM_DIST_PS;
}

const char *evm_match_verdict_str(int verdict)
{
    switch (verdict) {
    case 0: return "satisfied";
    case 1: return "adjust";
    case 2: return "not satisfied";
    default: return "";
    }
}

/* ---------------------------------------------------------------- columns */
static int add_req(evm_colreq **req, int *n, int *cap, const char *name, evm_as as)
{
    for (int i = 0; i < *n; i++)
        if (strcmp((*req)[i].name, name) == 0) return 0;
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 16;
        evm_colreq *r = realloc(*req, (size_t)nc * sizeof *r);
        if (!r) return -1;
        *req = r;
        *cap = nc;
    }
    char *copy = evm__strdup(name);
    if (!copy) return -1;
    (*req)[(*n)++] = (evm_colreq){copy, as};
    return 0;
}

int evm_match_columns(const evm_match_opts *o, evm_colreq **req, int *nreq, evm_ctx *c)
{
    evm_colreq *r = NULL;
    int n = 0, cap = 0, bad = 0;
    bad |= o->treatment && add_req(&r, &n, &cap, o->treatment, EVM_AS_AUTO);
    for (int i = 0; i < o->ncov; i++) bad |= add_req(&r, &n, &cap, o->covariates[i], EVM_AS_AUTO);
    for (int i = 0; i < o->nexact; i++) bad |= add_req(&r, &n, &cap, o->exact[i], EVM_AS_AUTO);
    for (int i = 0; i < o->nwindow; i++)
        bad |= add_req(&r, &n, &cap, o->window_var[i], EVM_AS_AUTO);
    for (int i = 0; i < o->ncut; i++) bad |= add_req(&r, &n, &cap, o->cut_var[i], EVM_AS_AUTO);
    if (o->id) bad |= add_req(&r, &n, &cap, o->id, EVM_AS_AUTO);
    if (o->site) bad |= add_req(&r, &n, &cap, o->site, EVM_AS_FACTOR);
    if (bad) {
        evm_colreq_free(&r, n);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    }
    *req = r;
    *nreq = n;
    return 0;
}

/* "a, b, c" (at most about 400 bytes, then ", ..."), for messages. */
static void join_names(char *const *names, int n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && len + 8 < size; i++) {
        int w = snprintf(buf + len, size - len, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || (size_t)w >= size - len || len + (size_t)w > 400) {
            snprintf(buf + len, size - len, ", ...");
            return;
        }
        len += (size_t)w;
    }
}

int evm_match_check_header(const char *path, const evm_match_opts *o, evm_ctx *c)
{
    char **names = NULL;
    int n = 0, st = 0;
    if ((st = evm_csv_header(path, &names, &n, c)) < 0) return st;
    struct {
        const char *opt;
        int count;
        const char *const *vars;
    } lists[] = {
        {"--treatment", o->treatment ? 1 : 0, &o->treatment},
        {"--covariates", o->ncov, o->covariates},
        {"--exact", o->nexact, o->exact},
        {"--window", o->nwindow, o->window_var},
        {"--cutpoints", o->ncut, o->cut_var},
        {"--id", o->id ? 1 : 0, &o->id},
        {"--site", o->site ? 1 : 0, &o->site},
    };
    for (size_t l = 0; l < sizeof lists / sizeof *lists && st == 0; l++)
        for (int i = 0; i < lists[l].count && st == 0; i++) {
            int found = 0;
            for (int k = 0; k < n && !found; k++) found = strcmp(names[k], lists[l].vars[i]) == 0;
            if (!found) {
                char cols[512];
                join_names(names, n, cols, sizeof cols);
                st = evm__fail(c, EVM_ERR_COLUMN, "%s:1: %s: no column '%s' in the header "
                               "(columns: %s)", path, lists[l].opt, lists[l].vars[i], cols);
            }
        }
    static const char *const added[] = {"distance", "weights", "subclass", "site"};
    for (size_t a = 0; a < 4 && st == 0; a++)
        for (int k = 0; k < n && st == 0; k++)
            if (strcmp(names[k], added[a]) == 0)
                st = evm__fail(c, EVM_ERR_COLUMN,
                               "%s:1: the input already has a column '%s', which the matched "
                               "file adds: rename it first", path, added[a]);
    evm_strv_free(&names, n);
    return st;
}

/* ---------------------------------------------------------------- result */
void evm_match_result_free(evm_match_result **rp)
{
    if (!rp || !*rp) return;
    evm_match_result *r = *rp;
    free(r->distance);
    free(r->weight);
    free(r->subclass);
    free(r->set_treated);
    free(r->out_row);
    free(r->out_set);
    free(r->out_weight);
    free(r->out_site_row);
    free(r->unmatched_row);
    if (r->term)
        for (int j = 0; j < r->nterm; j++) free(r->term[j]);
    free(r->term);
    free(r->coef);
    if (r->bal)
        for (int j = 0; j < r->nbal; j++) free(r->bal[j].name);
    free(r->bal);
    free(r);
    *rp = NULL;
}

/* ---------------------------------------------------------------- checks */
int evm__mt_record_line(const char *path, int64_t row, int64_t *line);

/* "FILE:LINE:COL" of data row `row` (0-based) in column `name`, or "row N" for frames
 * that were not read from a file. */
static void place(const evm_frame *f, int64_t row, const char *name, char *buf, size_t size)
{
    const char *path = evm_frame_path(f);
    int64_t line = 0;
    if (path && *path && evm__mt_record_line(path, row, &line) == 0) {
        char **names = NULL;
        int n = 0, field = 0;
        evm_ctx *c = evm_ctx_create();
        if (c && evm_csv_header(path, &names, &n, c) == 0)
            for (int k = 0; k < n && !field; k++)
                if (strcmp(names[k], name) == 0) field = k + 1;
        evm_strv_free(&names, n);
        evm_ctx_destroy(&c);
        if (field) snprintf(buf, size, "%s:%lld:%d", path, (long long)line, field);
        else snprintf(buf, size, "%s:%lld", path, (long long)line);
    } else {
        snprintf(buf, size, "row %lld", (long long)row + 1);
    }
}

static int check_complete(const evm_frame *f, const char *name, const char *option, int need_numeric,
                          evm_ctx *c)
{
    int col = evm__mt_col(f, name, option, c);
    if (col < 0) return col;
    int64_t n = evm_frame_nrows(f), first = -1, count = 0;
    if (evm_frame_type(f, col) == EVM_COL_NUMERIC) {
        const double *x = evm_frame_numeric(f, col);
        for (int64_t i = 0; i < n; i++)
            if (isnan(x[i]) && count++ == 0) first = i;
    } else {
        if (need_numeric)
            return evm__fail(c, EVM_ERR_TYPE, "%s: column '%s' is not numeric (e.g. '%s')",
                             option, name, evm_frame_level(f, col, 0));
        const int32_t *k = evm_frame_codes(f, col);
        for (int64_t i = 0; i < n; i++)
            if (k[i] < 0 && count++ == 0) first = i;
    }
    if (count) {
        char where[600];
        place(f, first, name, where, sizeof where);
        return evm__fail(c, EVM_ERR_VALUE,
                         "%s: %s: column '%s' is missing (NA) in %lld row%s; matching needs "
                         "complete values: drop or impute them first",
                         where, option, name, (long long)count, count == 1 ? "" : "s");
    }
    return col;
}

static int check_not_constant(const evm_frame *f, int col, const char *name, evm_ctx *c)
{
    int64_t n = evm_frame_nrows(f);
    int constant = 1;
    char value[64] = "";
    if (evm_frame_type(f, col) == EVM_COL_NUMERIC) {
        const double *x = evm_frame_numeric(f, col);
        for (int64_t i = 1; i < n && constant; i++) constant = x[i] == x[0];
        if (n) snprintf(value, sizeof value, "%.15g", x[0]);
    } else {
        const int32_t *k = evm_frame_codes(f, col);
        for (int64_t i = 1; i < n && constant; i++) constant = k[i] == k[0];
        if (n) snprintf(value, sizeof value, "'%.50s'", evm_frame_level(f, col, k[0]));
    }
    if (constant)
        return evm__fail(c, EVM_ERR_VALUE,
                         "--covariates: covariate '%s' is constant (every row has %s): it "
                         "cannot predict treatment or show imbalance; remove it",
                         name, value);
    return 0;
}

static int check_treatment(const evm_frame *f, const char *name, int *treat, int64_t *n1,
                           evm_ctx *c)
{
    int col = check_complete(f, name, "--treatment", 0, c);
    if (col < 0) return col;
    int64_t n = evm_frame_nrows(f);
    if (evm_frame_type(f, col) != EVM_COL_NUMERIC)
        return evm__fail(c, EVM_ERR_TYPE,
                         "--treatment: column '%s' must be 0 (comparison) or 1 (treated), "
                         "not text such as '%s'", name, evm_frame_level(f, col, 0));
    const double *x = evm_frame_numeric(f, col);
    *n1 = 0;
    for (int64_t i = 0; i < n; i++) {
        if (x[i] != 0 && x[i] != 1) {
            char where[600];
            place(f, i, name, where, sizeof where);
            return evm__fail(c, EVM_ERR_VALUE,
                             "%s: --treatment: column '%s' is %.15g; it must be 0 "
                             "(comparison) or 1 (treated)", where, name, x[i]);
        }
        treat[i] = x[i] == 1;
        *n1 += treat[i];
    }
    if (*n1 == 0)
        return evm__fail(c, EVM_ERR_VALUE,
                         "--treatment: no treated rows (column '%s' is 0 in all %lld rows)",
                         name, (long long)n);
    if (*n1 == n)
        return evm__fail(c, EVM_ERR_VALUE,
                         "--treatment: no comparison rows (column '%s' is 1 in all %lld rows)",
                         name, (long long)n);
    return 0;
}

static int check_options(const evm_match_opts *o, evm_ctx *c)
{
    if (!o->treatment) return evm__fail(c, EVM_ERR_ARG, "--treatment: no column given");
    if (o->ncov < 1) return evm__fail(c, EVM_ERR_ARG, "--covariates: no column given");
    for (int j = 0; j < o->ncov; j++) {
        if (strcmp(o->covariates[j], o->treatment) == 0)
            return evm__fail(c, EVM_ERR_ARG, "--covariates: '%s' is the --treatment column",
                             o->treatment);
        for (int k = 0; k < j; k++)
            if (strcmp(o->covariates[k], o->covariates[j]) == 0)
                return evm__fail(c, EVM_ERR_ARG, "--covariates: '%s' is given twice",
                                 o->covariates[j]);
    }
    if (o->method == EVM_MATCH_CEM) {
        if (o->caliper > 0)
            return evm__fail(c, EVM_ERR_ARG, "--caliper does not apply to --method cem");
        if (o->ratio > 0 || o->replace)
            return evm__fail(c, EVM_ERR_ARG,
                             "--ratio and --replace do not apply to --method cem");
    } else if (o->ncut > 0) {
        return evm__fail(c, EVM_ERR_ARG, "--cutpoints applies to --method cem only");
    }
    if (o->nwindow > 0 && o->method != EVM_MATCH_VCG)
        return evm__fail(c, EVM_ERR_ARG, "--window applies to --method vcg only");
    if (o->caliper > 0 && o->distance == EVM_DIST_MAHALANOBIS)
        return evm__fail(c, EVM_ERR_ARG,
                         "--caliper needs a propensity-score distance (ps or logit), not "
                         "mahalanobis");
    for (int i = 0; i < o->nwindow; i++)
        if (!(o->window_width[i] >= 0))
            return evm__fail(c, EVM_ERR_ARG, "--window %s: the width must be >= 0",
                             o->window_var[i]);
    for (int i = 0; i < o->ncut; i++) {
        int found = 0;
        for (int j = 0; j < o->ncov && !found; j++) found = strcmp(o->covariates[j], o->cut_var[i]) == 0;
        if (!found)
            return evm__fail(c, EVM_ERR_ARG, "--cutpoints %s: not one of the --covariates",
                             o->cut_var[i]);
    }
    return 0;
}

static double sample_sd(const double *x, int64_t n)
{
    long double s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    double m = (double)(s / n);
    long double v = 0;
    for (int64_t i = 0; i < n; i++) v += (x[i] - m) * (x[i] - m);
    return sqrt((double)v / (double)(n - 1));
}

/* Label of a row for reports: the --id value, or the 1-based row number. */
static void row_label(const evm_frame *f, int idcol, int64_t row, char *buf, size_t size)
{
    if (idcol >= 0 && evm_frame_type(f, idcol) == EVM_COL_FACTOR) {
        int32_t k = evm_frame_codes(f, idcol)[row];
        snprintf(buf, size, "%s", k >= 0 ? evm_frame_level(f, idcol, k) : "NA");
    } else if (idcol >= 0) {
        snprintf(buf, size, "%.15g", evm_frame_numeric(f, idcol)[row]);
    } else {
        snprintf(buf, size, "row %lld", (long long)row + 1);
    }
}

/* ---------------------------------------------------------------- the distance */
static int propensity(const evm_frame *f, const evm_match_opts *o, const int *treat,
                      evm_match_result *r, evm_ctx *c)
{
    evm__mt_design d;
    int st = evm__mt_design_build(f, o->ncov, o->covariates, 1, 0, &d, c);
    if (st < 0) return st;
    const int64_t n = d.n;
    double *y = evm__malloc((size_t)n, sizeof *y), *eta = evm__malloc((size_t)n, sizeof *eta);
    double *mu = evm__malloc((size_t)n, sizeof *mu);
    r->coef = evm__calloc((size_t)d.p, sizeof *r->coef);
    r->term = evm__calloc((size_t)d.p, sizeof *r->term);
    if (!y || !eta || !mu || !r->coef || !r->term) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    r->nterm = d.p;
    for (int j = 0; j < d.p; j++)
        if (!(r->term[j] = evm__strdup(d.name[j]))) {
            st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
            goto cleanup;
        }
    for (int64_t i = 0; i < n; i++) y[i] = treat[i];
    evm__mt_logit_info info;
    int aliased = -1;
    st = evm__mt_logit_fit(n, d.p, d.col, y, r->coef, eta, mu, &info, &aliased, c);
    if (st == EVM_ERR_MODEL && aliased >= 0) {
        st = evm__fail(c, EVM_ERR_MODEL,
                       "--covariates: '%s' is a linear combination of the covariates before "
                       "it (collinear); remove it or one of them", d.name[aliased]);
        goto cleanup;
    }
    if (st < 0) goto cleanup;
    r->iterations = info.iterations;
    r->converged = info.converged;
    r->deviance = info.deviance;
    int64_t extreme = 0;
    const double eps = 10 * DBL_EPSILON;
    for (int64_t i = 0; i < n; i++) extreme += mu[i] > 1 - eps || mu[i] < eps;
    if (!info.converged)
        evm__warn(c, "propensity model: the logistic regression did not converge in %d "
                  "iterations (separation?); the distances may be unreliable",
                  info.iterations);
    if (extreme > 0) {
        r->separation = 1;
        /* name a covariate that alone separates the groups, when one does */
        const char *sep = NULL;
        for (int j = 1; j < d.p && !sep; j++) {
            double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
            const double *x = d.col[j];
            for (int64_t i = 0; i < n; i++) {
                if (x[i] < lo[treat[i]]) lo[treat[i]] = x[i];
                if (x[i] > hi[treat[i]]) hi[treat[i]] = x[i];
            }
            if (hi[0] <= lo[1] || hi[1] <= lo[0]) sep = d.name[j];
        }
        if (sep)
            evm__warn(c, "propensity model: fitted probabilities numerically 0 or 1 for %lld "
                      "rows: '%s' separates treated from comparison students (separation)",
                      (long long)extreme, sep);
        else
            evm__warn(c, "propensity model: fitted probabilities numerically 0 or 1 for %lld "
                      "rows (quasi-complete separation)", (long long)extreme);
    }
    r->has_distance = 1;
    r->distance = o->distance == EVM_DIST_LOGIT ? eta : mu;
    if (o->distance == EVM_DIST_LOGIT) eta = NULL;
    else mu = NULL;
cleanup:
    evm__mt_design_free(&d);
    free(y);
    free(eta);
    free(mu);
    return st;
}

/* ---------------------------------------------------------------- weights and rows */
/* Scale the comparison weights to sum to the number of weighted comparison units, as
 * MatchIt 4.5.1 does after weights_matrixC and in weights.subclass. */
static void normalize_controls(evm_match_result *r, const int *treat)
{
    long double sum = 0;
    int64_t count = 0;
    for (int64_t i = 0; i < r->n; i++)
        if (!treat[i] && r->weight[i] > 0) {
            sum += r->weight[i];
            count++;
        }
    if (sum > 0)
        for (int64_t i = 0; i < r->n; i++)
            if (!treat[i]) r->weight[i] = r->weight[i] * (double)count / (double)sum;
}

/* Nearest and vcg: MatchIt's weights_matrixC (treated 1; a comparison unit the sum of 1/k
 * over the sets it is in, then normalized), subclasses (without replacement) and the
 * output rows (match.data() or get_matches()). */
static int weights_from_sets(const evm__mt_sets *s, const int *treat, int replace,
                             evm_match_result *r, evm_ctx *c)
{
    const int64_t n = r->n;
    int64_t nsets = 0, total = 0;
    for (int64_t t = 0; t < s->n1; t++)
        if (s->start[t + 1] > s->start[t]) {
            nsets++;
            total += s->start[t + 1] - s->start[t];
        }
    r->nsets = nsets;
    r->set_treated = evm__malloc((size_t)(nsets > 0 ? nsets : 1), sizeof *r->set_treated);
    if (!r->set_treated) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        r->weight[i] = 0;
        r->subclass[i] = -1;
    }
    int64_t set = 0;
    for (int64_t t = 0; t < s->n1; t++) {
        int64_t a = s->start[t], b = s->start[t + 1];
        if (a == b) continue;
        int64_t tr = s->treated_row[t];
        r->set_treated[set] = tr;
        r->weight[tr] += 1;
        r->subclass[tr] = set;
        for (int64_t j = a; j < b; j++) {
            r->weight[s->ctrl[j]] += 1.0 / (double)(b - a);
            if (!replace) r->subclass[s->ctrl[j]] = set;
        }
        set++;
    }
    normalize_controls(r, treat);

    r->nout = replace ? nsets + total : 0;
    if (!replace)
        for (int64_t i = 0; i < n; i++) r->nout += r->weight[i] > 0;
    size_t m = (size_t)(r->nout > 0 ? r->nout : 1);
    r->out_row = evm__malloc(m, sizeof *r->out_row);
    r->out_set = evm__malloc(m, sizeof *r->out_set);
    r->out_weight = evm__malloc(m, sizeof *r->out_weight);
    r->out_site_row = evm__malloc(m, sizeof *r->out_site_row);
    if (!r->out_row || !r->out_set || !r->out_weight || !r->out_site_row)
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    int64_t k = 0;
    if (replace) {   /* get_matches(): the treated row, then its matches; weights 1, 1/k */
        set = 0;
        for (int64_t t = 0; t < s->n1; t++) {
            int64_t a = s->start[t], b = s->start[t + 1];
            if (a == b) continue;
            r->out_row[k] = s->treated_row[t];
            r->out_set[k] = set;
            r->out_weight[k++] = 1;
            for (int64_t j = a; j < b; j++) {
                r->out_row[k] = s->ctrl[j];
                r->out_set[k] = set;
                r->out_weight[k++] = 1.0 / (double)(b - a);
            }
            set++;
        }
    } else {   /* match.data(): matched rows in data order */
        for (int64_t i = 0; i < n; i++)
            if (r->weight[i] > 0) {
                r->out_row[k] = i;
                r->out_set[k] = r->subclass[i];
                r->out_weight[k++] = r->weight[i];
            }
    }
    for (int64_t j = 0; j < r->nout; j++) r->out_site_row[j] = r->set_treated[r->out_set[j]];
    return 0;
}

/* Cem: MatchIt's weights.subclass (ATT): treated 1, comparison n_T / n_C of its stratum,
 * normalized.  The set's site comes from its treated students when they share one. */
static int weights_from_strata(const int64_t *stratum, int64_t nstrata, const int *treat,
                               const evm_frame *f, int sitecol, evm_match_result *r,
                               evm_ctx *c)
{
    const int64_t n = r->n;
    int64_t *cnt = evm__calloc((size_t)(2 * nstrata + 2), sizeof *cnt);
    r->set_treated = evm__malloc((size_t)(nstrata > 0 ? nstrata : 1), sizeof *r->set_treated);
    if (!cnt || !r->set_treated) {
        free(cnt);
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    }
    r->nsets = nstrata;
    for (int64_t g = 0; g < nstrata; g++) r->set_treated[g] = -1;
    const int32_t *site = sitecol >= 0 ? evm_frame_codes(f, sitecol) : NULL;
    for (int64_t i = 0; i < n; i++) {
        r->subclass[i] = stratum[i];
        if (stratum[i] < 0) continue;
        cnt[2 * stratum[i] + treat[i]]++;
        if (!treat[i]) continue;
        int64_t *rep = &r->set_treated[stratum[i]];
        if (*rep == -1) *rep = i;
        else if (*rep >= 0 && site && site[*rep] != site[i]) *rep = -2;   /* several sites */
    }
    for (int64_t g = 0; g < nstrata; g++)
        if (r->set_treated[g] < 0) r->set_treated[g] = -1;
    for (int64_t i = 0; i < n; i++) {
        int64_t g = stratum[i];
        r->weight[i] = g < 0 ? 0 : treat[i] ? 1 : (double)cnt[2 * g + 1] / (double)cnt[2 * g];
    }
    free(cnt);
    normalize_controls(r, treat);
    for (int64_t i = 0; i < n; i++) r->nout += r->weight[i] > 0;
    size_t m = (size_t)(r->nout > 0 ? r->nout : 1);
    r->out_row = evm__malloc(m, sizeof *r->out_row);
    r->out_set = evm__malloc(m, sizeof *r->out_set);
    r->out_weight = evm__malloc(m, sizeof *r->out_weight);
    r->out_site_row = evm__malloc(m, sizeof *r->out_site_row);
    if (!r->out_row || !r->out_set || !r->out_weight || !r->out_site_row)
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++)
        if (r->weight[i] > 0) {
            r->out_row[k] = i;
            r->out_set[k] = r->subclass[i];
            r->out_site_row[k] = treat[i] ? i : r->set_treated[r->subclass[i]];
            r->out_weight[k++] = r->weight[i];
        }
    return 0;
}

/* ---------------------------------------------------------------- balance */
static int balance(const evm_frame *f, const evm_match_opts *o, const int *treat,
                   evm_match_result *r, evm__mt_ws *ws, evm_ctx *c)
{
    /* the covariates, then exact and window variables not among them (MatchIt's X) */
    int nv = 0, cap = o->ncov + o->nexact + o->nwindow;
    const char **vars = evm__malloc((size_t)(cap > 0 ? cap : 1), sizeof *vars);
    if (!vars) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    const char *const *lists[3] = {o->covariates, o->exact, o->window_var};
    int counts[3] = {o->ncov, o->nexact, o->nwindow};
    for (int l = 0; l < 3; l++)
        for (int i = 0; i < counts[l]; i++) {
            int dup = 0;
            for (int j = 0; j < nv && !dup; j++) dup = strcmp(vars[j], lists[l][i]) == 0;
            if (!dup) vars[nv++] = lists[l][i];
        }
    evm__mt_design d;
    int st = evm__mt_design_build(f, nv, vars, 0, 1, &d, c);
    free(vars);
    if (st < 0) return st;
    st = evm__mt_balance(&d, r->has_distance ? r->distance : NULL, treat, r->weight, r->n,
                         &r->bal, &r->nbal, ws, c);
    evm__mt_design_free(&d);
    return st;
}

/* ---------------------------------------------------------------- warnings */
static void warn_unmatched(const evm_frame *f, const evm_match_opts *o, evm_match_result *r,
                           evm_ctx *c)
{
    int idcol = o->id ? evm_frame_find(f, o->id, -1) : -1;
    if (r->n1_unmatched > 0) {
        char list[400] = "";
        size_t len = 0;
        for (int64_t i = 0; i < r->n1_unmatched && i < 10; i++) {
            char lab[128];
            row_label(f, idcol, r->unmatched_row[i], lab, sizeof lab);
            int w = snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", lab);
            if (w < 0 || (size_t)w >= sizeof list - len) break;
            len += (size_t)w;
        }
        char why[160];
        if (o->method == EVM_MATCH_CEM)
            snprintf(why, sizeof why, "no comparison student in their stratum");
        else
            snprintf(why, sizeof why, "no comparison student left%s%s%s",
                     o->nexact ? " in their exact cell" : "",
                     r->caliper_width > 0 ? " within the caliper" : "",
                     o->nwindow ? " inside the window" : "");
        evm__warn(c, "%lld of %lld treated students have no match (%s): %s%s%s",
                  (long long)r->n1_unmatched, (long long)r->n1, why,
                  idcol >= 0 ? "ids " : "", list,
                  r->n1_unmatched > 10 ? ", ... (all in the report: /match/unmatched_id)" : "");
    }
    if (r->n1_short > 0)
        evm__warn(c, "%lld matched treated students have fewer than %d comparison students",
                  (long long)r->n1_short, r->ratio);
}

/* ---------------------------------------------------------------- run */
int evm_match_run(const evm_frame *f, const evm_match_opts *o, evm_match_result **out,
                  evm_ctx *c)
{
    *out = NULL;
    int st = check_options(o, c);
    if (st < 0) return st;
    const int64_t n = evm_frame_nrows(f);
    evm_match_result *r = evm__calloc(1, sizeof *r);
    int *treat = evm__malloc((size_t)(n > 0 ? n : 1), sizeof *treat);
    int32_t *cell = evm__calloc((size_t)(n > 0 ? n : 1), sizeof *cell);
    uint64_t *key = evm__malloc((size_t)(n > 0 ? n : 1), sizeof *key);
    int64_t *stratum = NULL;
    double *z = NULL;
    const double **wx = NULL;
    evm__mt_sets sets = {0};
    evm__mt_ws ws = {0};
    int nwarn0 = evm_ctx_nwarnings(c);
    if (!r || !treat || !cell || !key) goto nomem;
    r->n = n;
    r->method = o->method;
    r->distance_kind = o->distance;
    r->ratio = o->method == EVM_MATCH_CEM ? 0
               : o->ratio > 0             ? o->ratio
               : o->method == EVM_MATCH_VCG ? 51 : 1;
    r->replace = o->method == EVM_MATCH_VCG ? 1 : o->method == EVM_MATCH_CEM ? 0 : o->replace;
    r->caliper = o->caliper > 0 ? o->caliper : NAN;
    r->caliper_width = NAN;
    r->seed = o->seed;

    /* the data */
    if ((st = check_treatment(f, o->treatment, treat, &r->n1, c)) < 0) goto fail;
    r->n0 = n - r->n1;
    for (int i = 0; i < o->ncov; i++) {
        int col = check_complete(f, o->covariates[i], "--covariates", 0, c);
        if (col < 0 || (col = check_not_constant(f, col, o->covariates[i], c)) < 0) {
            st = col;
            goto fail;
        }
    }
    for (int i = 0; i < o->nexact; i++)
        if ((st = check_complete(f, o->exact[i], "--exact", 0, c)) < 0) goto fail;
    for (int i = 0; i < o->nwindow; i++)
        if ((st = check_complete(f, o->window_var[i], "--window", 1, c)) < 0) goto fail;
    if (o->id && (st = evm__mt_col(f, o->id, "--id", c)) < 0) goto fail;
    int sitecol = -1;
    if (o->site && (st = sitecol = evm__mt_col(f, o->site, "--site", c)) < 0) goto fail;
    if (sitecol >= 0 && evm_frame_type(f, sitecol) != EVM_COL_FACTOR) sitecol = -1;
    st = 0;

    /* tie order */
    uint64_t state = o->seed;
    for (int64_t i = 0; i < n; i++) key[i] = o->seed ? evm__mt_splitmix64(&state) : (uint64_t)i;
    if ((st = evm__mt_cells(f, o->nexact, o->exact, cell, &r->ncells, &ws, c)) < 0) goto fail;
    if (o->nexact == 0) r->ncells = n > 0 ? 1 : 0;

    r->weight = evm__malloc((size_t)(n > 0 ? n : 1), sizeof *r->weight);
    r->subclass = evm__malloc((size_t)(n > 0 ? n : 1), sizeof *r->subclass);
    if (!r->weight || !r->subclass) goto nomem;

    if (o->method == EVM_MATCH_CEM) {
        stratum = evm__malloc((size_t)(n > 0 ? n : 1), sizeof *stratum);
        if (!stratum) goto nomem;
        int64_t ns = 0;
        if ((st = evm__mt_cem_strata(f, o, treat, cell, stratum, &ns, &ws, c)) < 0) goto fail;
        if ((st = weights_from_strata(stratum, ns, treat, f, sitecol, r, c)) < 0) goto fail;
        r->ncells = ns;
    } else {
        int k = 0;
        if (o->distance == EVM_DIST_MAHALANOBIS) {
            evm__mt_design d;
            if ((st = evm__mt_design_build(f, o->ncov, o->covariates, 0, 1, &d, c)) < 0) goto fail;
            st = evm__mt_mahal_transform(&d, treat, &z, &k, c);
            evm__mt_design_free(&d);
            if (st < 0) goto fail;
        } else if ((st = propensity(f, o, treat, r, c)) < 0) {
            goto fail;
        }
        if (o->caliper > 0) r->caliper_width = o->caliper * sample_sd(r->distance, n);
        if (o->nwindow) {
            wx = evm__malloc((size_t)o->nwindow, sizeof *wx);
            if (!wx) goto nomem;
            for (int w = 0; w < o->nwindow; w++)
                wx[w] = evm_frame_numeric(f, evm_frame_find(f, o->window_var[w], -1));
        }
        evm__mt_nn_problem p = {
            .n = n, .treat = treat, .cell = cell, .ncells = r->ncells,
            .dist = z ? NULL : r->distance, .z = z, .k = k, .key = key,
            .ratio = r->ratio, .replace = r->replace,
            .caliper = o->caliper > 0 ? r->caliper_width : 0,
            .order_largest = z == NULL, .nwindow = o->nwindow,
            .window_x = wx, .window_w = o->window_width,
        };
        if ((st = evm__mt_nn_match(&p, &sets, &ws, c)) < 0) goto fail;
        if ((st = weights_from_sets(&sets, treat, r->replace, r, c)) < 0) goto fail;
        for (int64_t t = 0; t < sets.n1; t++) {
            int64_t m = sets.start[t + 1] - sets.start[t];
            if (m > 0 && m < r->ratio) r->n1_short++;
        }
    }

    /* sample sizes */
    long double sw = 0, sw2 = 0;
    for (int64_t i = 0; i < n; i++) {
        if (r->weight[i] <= 0) continue;
        if (treat[i]) {
            r->n1_matched++;
        } else {
            r->n0_matched++;
            sw += r->weight[i];
            sw2 += (long double)r->weight[i] * r->weight[i];
        }
    }
    r->ess0 = sw2 > 0 ? (double)(sw * sw / sw2) : 0;
    r->n1_unmatched = r->n1 - r->n1_matched;
    if (r->n1_matched == 0) {
        st = evm__fail(c, EVM_ERR_VALUE, "no treated student could be matched%s",
                       o->method == EVM_MATCH_CEM ? ": no stratum holds both treated and "
                                                    "comparison students; coarsen more "
                                                    "(--cutpoints) or use fewer covariates"
                       : r->caliper_width > 0 ? ": no comparison student is within the caliper; "
                                               "widen --caliper"
                       : o->nwindow ? ": no comparison student is within the window; widen "
                                      "--window"
                                    : ": no exact cell holds both treated and comparison "
                                      "students");
        goto fail;
    }
    r->unmatched_row = evm__malloc((size_t)(r->n1_unmatched > 0 ? r->n1_unmatched : 1),
                                   sizeof *r->unmatched_row);
    if (!r->unmatched_row) goto nomem;
    int64_t u = 0;
    for (int64_t i = 0; i < n; i++)
        if (treat[i] && r->weight[i] <= 0) r->unmatched_row[u++] = i;

    if ((st = balance(f, o, treat, r, &ws, c)) < 0) goto fail;
    warn_unmatched(f, o, r, c);
    st = evm_ctx_nwarnings(c) > nwarn0 ? EVM_MATCH_WARN : 0;
    *out = r;
    r = NULL;
    goto cleanup;
nomem:
    st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
fail:
    evm_match_result_free(&r);
cleanup:
    free(treat);
    free(cell);
    free(key);
    free(stratum);
    free(z);
    free(wx);
    evm__mt_sets_free(&sets);
    evm__mt_ws_free(&ws);
    return st;
}
