/* test_h5.c — HDF5 result files and the printed summary.
 *
 *  - round trips: a hand-made result with NaN df/t/p, a two-term random-effects group,
 *    dropped columns, names with ':', '/', '%' and UTF-8, ranef groups out of name order;
 *    an empty result (every pointer NULL, every count 0);
 *  - atomic writes: a missing folder, a failure part-way, an existing file replaced only
 *    on success, never a temporary file left behind;
 *  - reading what is not a result file (text, a directory, a foreign or truncated HDF5
 *    file) fails with one line and HDF5 prints nothing;
 *  - the file itself (when hdf5.h is at hand): UTF-8 strings, int64, creation order,
 *    escaped link names;
 *  - the inference sections (/fixef/vcov_adj, /contrasts, /anova, /ci, /bootstrap,
 *    /robust): all together in the exotic result, each alone (the others absent from the
 *    file and read back as 0 / NULL), their shapes and types, and edited files;
 *  - golden summaries: sleepstudy fits whose numbers come from lme4 1.1-31 / lmerTest
 *    3.1-3 (R 4.2.2); the expected text is R's own print(summary(fit)); the inference
 *    sections checked against R's printing of the same numbers (printCoefmat,
 *    print.anova, print of confint's matrix, lme4's title wrapping).
 *
 * Run from the repository root: build/test_h5 */
#include "check.h"
#include "evalmix/evalmix.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "have_hdf5.h"

/* ---------------------------------------------------------------- building results */
static char *S(const char *s) { return s ? strdup(s) : NULL; }

static char **SV(int n, ...)
{
    char **v = calloc(n ? (size_t)n : 1, sizeof *v);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) v[i] = S(va_arg(ap, const char *));
    va_end(ap);
    return v;
}

static double *DV(int n, ...)
{
    double *v = calloc(n ? (size_t)n : 1, sizeof *v);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) v[i] = va_arg(ap, double);
    va_end(ap);
    return v;
}

static void set_ranef(evm_ranef *re, const char *name, int64_t nlevels, int nterms)
{
    re->name = S(name);
    re->nlevels = nlevels;
    re->nterms = nterms;
    re->level = calloc((size_t)nlevels + 1, sizeof *re->level);
    re->term = calloc((size_t)nterms + 1, sizeof *re->term);
    re->mode = calloc((size_t)(nlevels * nterms) + 1, sizeof *re->mode);
    re->condsd = calloc((size_t)(nlevels * nterms) + 1, sizeof *re->condsd);
    for (int64_t l = 0; l < nlevels; l++)
        for (int t = 0; t < nterms; t++) {
            re->mode[l * nterms + t] = (double)(l + 1) * (t ? -0.5 : 1.25) + 1e-300 * t;
            re->condsd[l * nterms + t] = 0.1 * (double)(l + 1) + t;
        }
}

static void add_exotic_inference(evm_result *r);

/* Everything a writer might trip over. */
static evm_result *make_exotic(void)
{
    evm_result *r = calloc(1, sizeof *r);
    r->evalmix_version = S("0.1.0");
    r->command = S("evalmix fit 'données élèves.csv' --formula 'y ~ x + (1|a/b)'");
    r->created = S("2024-05-01T12:34:56Z");
    r->input = S("données/élèves.csv");
    r->input_sha256 = S("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    r->threads = 2;
    r->seed = UINT64_MAX - 1234567890123u;
    r->formula = S("score ~ treat:cohort + élève + (1 + prior | cask:batch) + (1 | a/b)");
    r->reml = 1;
    r->objective = 1743.6282719599519;
    r->loglik = -871.81413597997596;
    r->aic = 1755.6282719599519;
    r->bic = 1774.7860130652932;
    r->sigma = 25.59179572167535;
    r->n_obs = 4000000000LL;
    r->converged = 0;
    r->singular = 1;
    r->n_evaluations = 321;
    r->optimizer = S("bobyqa");
    r->message = S("NLOPT_MAXEVAL_REACHED: stopped at 321 evaluations");
    double q[5] = {-3.95, -0.46, 0.02, 0.46, 5.18};
    memcpy(r->resid_quantiles, q, sizeof q);
    r->ntheta = 4;
    r->theta = DV(4, 0.96674177396741234, 0.015169058896036137, 0.0, 1e-310);
    r->p = 3;
    r->fixef_name = SV(3, "(Intercept)", "treat:cohort2", "élève");
    r->beta = DV(3, 251.40510484848497, -0.0, 1e300);
    r->se = DV(3, 6.8245966949549057, 1.5457896439059811, INFINITY);
    r->df = DV(3, NAN, NAN, NAN);
    r->t = DV(3, 36.838089646284388, NAN, -INFINITY);
    r->pval = DV(3, NAN, NAN, NAN);
    r->vcov = DV(9, 46.575, -1.451, 0.1, -1.451, 2.389, 0.2, 0.1, 0.2, 3.0);
    r->ddf = S("none");
    r->ndropped = 2;
    r->dropped = SV(2, "x2", "cohort3:treat");
    r->nvc = 5;
    r->vc_group = SV(5, "cask:batch", "cask:batch", "cask:batch", "a/b", "Residual");
    r->vc_var1 = SV(5, "(Intercept)", "prior", "(Intercept)", "(Intercept)", "");
    r->vc_var2 = SV(5, "", "", "prior", "", "");
    r->vc_vcov = DV(5, 612.1, 35.07, 9.6, 0.0, 654.9);
    r->vc_sdcor = DV(5, 24.74, 5.922, 0.0656, 0.0, 25.59);
    /* Not in name order; a '/' and a '%' in names; an empty-named and a "." group. */
    r->nranef = 5;
    r->ranef = calloc(5, sizeof *r->ranef);
    set_ranef(&r->ranef[0], "zeta", 2, 1);
    set_ranef(&r->ranef[1], "cask:batch", 3, 2);
    set_ranef(&r->ranef[2], "a/b%2F", 2, 1);
    set_ranef(&r->ranef[3], ".", 1, 1);
    set_ranef(&r->ranef[4], "", 0, 2);
    const char *lv[3] = {"A:1", "ü:2", "x/y"};
    for (int i = 0; i < 5; i++) {
        for (int64_t l = 0; l < r->ranef[i].nlevels; l++) r->ranef[i].level[l] = S(lv[l]);
        for (int t = 0; t < r->ranef[i].nterms; t++)
            r->ranef[i].term[t] = S(t ? "prior" : "(Intercept)");
    }
    r->ngroups = 2;
    r->group_name = SV(2, "cask:batch", "a/b");
    r->group_nlevels = calloc(2, sizeof *r->group_nlevels);
    r->group_nlevels[0] = 3;
    r->group_nlevels[1] = 5000000000LL;
    r->nicc = 0;
    r->rows_read = 4000000100LL;
    r->rows_used = 4000000000LL;
    r->rows_dropped = 100;
    r->drop_reason = S("missing values in score, prior");
    add_exotic_inference(r);
    return r;
}

/* Every inference section of a p = 3 result, with what a writer might trip over: NaN,
 * -0.0 and Inf, a failed (NaN) bootstrap row, UTF-8 and punctuation in names, an int64
 * cluster count. */
static void add_exotic_inference(evm_result *r)
{
    r->vcov_adj = DV(9, 47.0, -1.5, 0.1, -1.5, 2.4, 0.2, 0.1, 0.2, 3.1);
    r->ncontrasts = 2;
    r->con_name = SV(2, "treat effect, year 1", "é/ü%");
    r->con_expr = SV(2, "treat:cohort2", "0.5*(Intercept) - élève");
    r->con_L = DV(6, 0.0, 1.0, 0.0, 0.5, -0.0, -1.0);
    r->con_est = DV(2, 1.5, -0.0);
    r->con_se = DV(2, 0.5, NAN);
    r->con_df = DV(2, NAN, 12.5);
    r->con_t = DV(2, 3.0, INFINITY);
    r->con_p = DV(2, 0.0027, NAN);
    r->has_anova = 1;
    r->nanova = 1;
    r->anova_term = SV(1, "treat:cohort");
    r->anova_F = DV(1, 4.0);
    r->anova_ndf = DV(1, 2.0);
    r->anova_ddf = DV(1, NAN);
    r->anova_p = DV(1, 0.0183);
    r->nci = 3;
    r->ci_method = S("wald");
    r->ci_level = 0.9;
    r->ci_param = SV(3, ".sig01", ".sigma", "(Intercept)");
    r->ci_lower = DV(3, NAN, 1.0, 2.0);
    r->ci_upper = DV(3, NAN, 3.0, INFINITY);
    r->nboot = 3;
    r->nboot_ok = 2;
    r->boot_seed = UINT64_MAX - 6;
    r->nbootpar = 2;
    r->boot_param = SV(2, "(Intercept)", ".sigma");
    r->boot_est = DV(6, 250.0, 25.0, NAN, NAN, 252.5, 26.0);
    r->boot_lower = DV(2, 250.125, 25.05);
    r->boot_upper = DV(2, 252.375, 25.95);
    r->robust_cluster = S("école");
    r->robust_nclusters = 3000000000LL;
    r->robust_se = DV(3, 7.0, 1.25, NAN);
    r->robust_df = DV(3, 2999999999.0, 17.5, NAN);
    r->robust_t = DV(3, 35.9, -0.0, NAN);
    r->robust_p = DV(3, 1e-300, 1.0, NAN);
    r->robust_vcov = DV(9, 49.0, 0.5, 0.0, 0.5, 1.5625, 0.0, 0.0, 0.0, NAN);
}

/* ---------------------------------------------------------------- comparing results */
static int same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || (a == b && signbit(a) == signbit(b));
}

static int same_doubles(const double *a, const double *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!same_double(a ? a[i] : NAN, b ? b[i] : NAN)) return 0;
    return 1;
}

static const char *nz(const char *s) { return s ? s : ""; }

static int same_strings(char *const *a, char *const *b, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (strcmp(nz(a ? a[i] : NULL), nz(b ? b[i] : NULL))) return 0;
    return 1;
}

#define CHECK_SAME_STR(f) CHECK_STR(nz(b->f), nz(a->f))
#define CHECK_SAME_NUM(f) CHECK(same_double((double)b->f, (double)a->f))

/* The inference sections: absent ones (count 0, NULL) read back absent. */
static void check_same_inference(const evm_result *a, const evm_result *b)
{
    const int64_t p = a->p, pp = (int64_t)a->p * a->p;
    CHECK(!a->vcov_adj == !b->vcov_adj);
    if (a->vcov_adj) CHECK(same_doubles(b->vcov_adj, a->vcov_adj, pp));
    CHECK_INT(b->ncontrasts, a->ncontrasts);
    if (a->ncontrasts > 0) {
        const int k = a->ncontrasts;
        CHECK(same_strings(b->con_name, a->con_name, k));
        CHECK(same_strings(b->con_expr, a->con_expr, k));
        CHECK(same_doubles(b->con_L, a->con_L, k * p));
        CHECK(same_doubles(b->con_est, a->con_est, k));
        CHECK(same_doubles(b->con_se, a->con_se, k));
        CHECK(same_doubles(b->con_df, a->con_df, k));
        CHECK(same_doubles(b->con_t, a->con_t, k));
        CHECK(same_doubles(b->con_p, a->con_p, k));
    } else {
        CHECK(!b->con_name && !b->con_L && !b->con_p);
    }
    CHECK_INT(b->has_anova, a->has_anova);
    CHECK_INT(b->nanova, a->nanova);
    if (a->nanova > 0) {
        CHECK(same_strings(b->anova_term, a->anova_term, a->nanova));
        CHECK(same_doubles(b->anova_F, a->anova_F, a->nanova));
        CHECK(same_doubles(b->anova_ndf, a->anova_ndf, a->nanova));
        CHECK(same_doubles(b->anova_ddf, a->anova_ddf, a->nanova));
        CHECK(same_doubles(b->anova_p, a->anova_p, a->nanova));
    } else {
        CHECK(!b->anova_term && !b->anova_F);
    }
    CHECK_INT(b->nci, a->nci);
    if (a->nci > 0) {
        CHECK_SAME_STR(ci_method);
        CHECK_SAME_NUM(ci_level);
        CHECK(same_strings(b->ci_param, a->ci_param, a->nci));
        CHECK(same_doubles(b->ci_lower, a->ci_lower, a->nci));
        CHECK(same_doubles(b->ci_upper, a->ci_upper, a->nci));
    } else {
        CHECK(!b->ci_method && !b->ci_param && !b->ci_lower);
    }
    CHECK_INT(b->nboot, a->nboot > 0 ? a->nboot : 0);
    if (a->nboot > 0) {
        CHECK_INT(b->nboot_ok, a->nboot_ok);
        CHECK(b->boot_seed == a->boot_seed);
        CHECK_INT(b->nbootpar, a->nbootpar);
        CHECK_SAME_NUM(ci_level);
        CHECK(same_strings(b->boot_param, a->boot_param, a->nbootpar));
        CHECK(same_doubles(b->boot_est, a->boot_est, a->nboot * a->nbootpar));
        CHECK(same_doubles(b->boot_lower, a->boot_lower, a->nbootpar));
        CHECK(same_doubles(b->boot_upper, a->boot_upper, a->nbootpar));
    } else {
        CHECK(!b->boot_param && !b->boot_est && b->nbootpar == 0);
    }
    CHECK(!a->robust_cluster == !b->robust_cluster);
    if (a->robust_cluster) {
        CHECK_SAME_STR(robust_cluster);
        CHECK_INT(b->robust_nclusters, a->robust_nclusters);
        CHECK(same_doubles(b->robust_se, a->robust_se, p));
        CHECK(same_doubles(b->robust_df, a->robust_df, p));
        CHECK(same_doubles(b->robust_t, a->robust_t, p));
        CHECK(same_doubles(b->robust_p, a->robust_p, p));
        CHECK(same_doubles(b->robust_vcov, a->robust_vcov, pp));
    } else {
        CHECK(!b->robust_se && !b->robust_vcov && b->robust_nclusters == 0);
    }
}

static void check_same(const evm_result *a, const evm_result *b)
{
    CHECK_SAME_STR(command);
    CHECK_SAME_STR(input);
    CHECK_SAME_STR(input_sha256);
    CHECK_INT(b->threads, a->threads);
    CHECK(b->seed == a->seed);
    CHECK_SAME_STR(formula);
    CHECK_INT(b->reml, a->reml);
    CHECK_SAME_NUM(objective);
    CHECK_SAME_NUM(loglik);
    CHECK_SAME_NUM(aic);
    CHECK_SAME_NUM(bic);
    CHECK_SAME_NUM(sigma);
    CHECK_INT(b->n_obs, a->n_obs);
    CHECK_INT(b->converged, a->converged != 0);
    CHECK_INT(b->singular, a->singular != 0);
    CHECK_INT(b->n_evaluations, a->n_evaluations);
    CHECK_SAME_STR(optimizer);
    CHECK_SAME_STR(message);
    CHECK(same_doubles(b->resid_quantiles, a->resid_quantiles, 5));
    CHECK_INT(b->ntheta, a->ntheta);
    CHECK(same_doubles(b->theta, a->theta, a->ntheta));
    CHECK_INT(b->p, a->p);
    CHECK(same_strings(b->fixef_name, a->fixef_name, a->p));
    CHECK(same_doubles(b->beta, a->beta, a->p));
    CHECK(same_doubles(b->se, a->se, a->p));
    CHECK(same_doubles(b->df, a->df, a->p));
    CHECK(same_doubles(b->t, a->t, a->p));
    CHECK(same_doubles(b->pval, a->pval, a->p));
    CHECK(same_doubles(b->vcov, a->vcov, (int64_t)a->p * a->p));
    CHECK_STR(b->ddf, a->ddf && *a->ddf ? a->ddf : "none");
    CHECK_INT(b->ndropped, a->ndropped);
    CHECK(same_strings(b->dropped, a->dropped, a->ndropped));
    CHECK_INT(b->nvc, a->nvc);
    CHECK(same_strings(b->vc_group, a->vc_group, a->nvc));
    CHECK(same_strings(b->vc_var1, a->vc_var1, a->nvc));
    CHECK(same_strings(b->vc_var2, a->vc_var2, a->nvc));
    CHECK(same_doubles(b->vc_vcov, a->vc_vcov, a->nvc));
    CHECK(same_doubles(b->vc_sdcor, a->vc_sdcor, a->nvc));
    CHECK_INT(b->nranef, a->nranef);
    for (int i = 0; i < a->nranef && i < b->nranef; i++) {
        const evm_ranef *x = &a->ranef[i], *y = &b->ranef[i];
        CHECK_STR(nz(y->name), nz(x->name));
        CHECK_INT(y->nlevels, x->nlevels);
        CHECK_INT(y->nterms, x->nterms);
        CHECK(same_strings(y->level, x->level, x->nlevels));
        CHECK(same_strings(y->term, x->term, x->nterms));
        CHECK(same_doubles(y->mode, x->mode, x->nlevels * x->nterms));
        CHECK(same_doubles(y->condsd, x->condsd, x->nlevels * x->nterms));
    }
    CHECK_INT(b->ngroups, a->ngroups);
    CHECK(same_strings(b->group_name, a->group_name, a->ngroups));
    for (int i = 0; i < a->ngroups; i++)
        CHECK_INT(b->group_nlevels[i], a->group_nlevels ? a->group_nlevels[i] : 0);
    CHECK_INT(b->nicc, a->nicc);
    CHECK(same_strings(b->icc_group, a->icc_group, a->nicc));
    CHECK(same_doubles(b->icc, a->icc, a->nicc));
    CHECK_INT(b->rows_read, a->rows_read);
    CHECK_INT(b->rows_used, a->rows_used);
    CHECK_INT(b->rows_dropped, a->rows_dropped);
    CHECK_SAME_STR(drop_reason);
    check_same_inference(a, b);
}

/* ---------------------------------------------------------------- files */
static char tmpdir[64];

static char *tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

/* Entries in the scratch folder whose name contains `part`. */
static int count_entries(const char *part)
{
    int n = 0;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, part)) n++;
    if (d) closedir(d);
    return n;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void rm_rf(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) rm_rf(p);
        else unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
}

/* stderr captured to a file while HDF5 is given chances to print. */
static int saved_stderr = -1;
static void capture_stderr(void)
{
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(tmp_path("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 2);
    close(fd);
}
static long release_stderr(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    struct stat sb;
    return stat(tmp_path("stderr.txt"), &sb) == 0 ? (long)sb.st_size : -1;
}

static int one_line(const char *s) { return s && *s && !strchr(s, '\n'); }

/* ---------------------------------------------------------------- tests */
static void test_round_trip(evm_ctx *c)
{
    evm_result *a = make_exotic(), *b = NULL;
    const char *path = tmp_path("exotic.h5");
    CHECK_INT(evm_h5_write_fit(path, a, c), EVM_OK);
    CHECK_INT(evm_h5_read_fit(path, &b, c), EVM_OK);
    CHECK(b != NULL);
    if (b) {
        check_same(a, b);
        CHECK_STR(b->evalmix_version, "0.1.0");
        CHECK_STR(b->created, "2024-05-01T12:34:56Z");
    }
    CHECK_INT(count_entries(".tmp."), 0);

    /* ML, inference present, ICC present; the same file name is replaced. */
    a->reml = 0;
    free(a->ddf);
    a->ddf = S("Satterthwaite");
    for (int i = 0; i < 3; i++) {
        a->df[i] = 17.0 + i;
        a->pval[i] = 1e-3 * i;
    }
    a->nicc = 2;
    a->icc_group = SV(2, "cask:batch", "a/b");
    a->icc = DV(2, 0.18, NAN);
    evm_result_free(&b);
    CHECK_INT(evm_h5_write_fit(path, a, c), EVM_OK);
    CHECK_INT(evm_h5_read_fit(path, &b, c), EVM_OK);
    if (b) check_same(a, b);

    /* The summary of what was read equals the summary of what was written. */
    char *s1 = NULL, *s2 = NULL;
    size_t n1 = 0, n2 = 0;
    FILE *f1 = open_memstream(&s1, &n1), *f2 = open_memstream(&s2, &n2);
    evm_result_print(f1, a);
    evm_result_print(f2, b);
    fclose(f1);
    fclose(f2);
    CHECK_STR(s2, s1);
    CHECK(strstr(s1, "Intra-class correlation: cask:batch 0.180") != NULL);
    CHECK(strstr(s1, "dropping 2 columns / coefficients: x2, cohort3:treat") != NULL);
    CHECK(strstr(s1, "boundary (singular) fit") != NULL);
    CHECK(strstr(s1, "optimizer (bobyqa) did not converge after 321 evaluations") != NULL);
    free(s1);
    free(s2);
    evm_result_free(&a);
    evm_result_free(&b);
    CHECK(a == NULL && b == NULL);
    evm_result_free(&a); /* NULL-safe */
    evm_result_free(NULL);
}

static void test_empty(evm_ctx *c)
{
    evm_result *a = calloc(1, sizeof *a), *b = NULL;
    const char *path = tmp_path("empty.h5");
    CHECK_INT(evm_h5_write_fit(path, a, c), EVM_OK);
    CHECK_INT(evm_h5_read_fit(path, &b, c), EVM_OK);
    if (b) {
        check_same(a, b);
        CHECK_STR(b->evalmix_version, EVM_VERSION);
        CHECK(b->created && strlen(b->created) == 20); /* filled in: 2024-05-01T12:34:56Z */
        CHECK_INT(b->reml, 0);
        CHECK_INT(b->ndropped, 0);
        CHECK_INT(b->nicc, 0);
        CHECK_INT(b->nranef, 0);
    }
    /* Printing never trips over NULL or empty fields. */
    FILE *devnull = fopen("/dev/null", "w");
    evm_result_print(devnull, a);
    evm_result_print(devnull, b);
    evm_result_print(devnull, NULL);
    a->reml = 1;
    a->p = 2; /* counts without arrays */
    a->nvc = 3;
    a->ngroups = 1;
    a->nicc = 1;
    a->ndropped = 1;
    a->ddf = S("Kenward-Roger");
    a->ncontrasts = 1; /* inference counts without arrays too */
    a->has_anova = 1;
    a->nanova = 2;
    a->nci = 1;
    a->nboot = 2;
    a->nbootpar = 1;
    a->robust_cluster = S("");
    evm_result_print(devnull, a);
    fclose(devnull);
    /* Counts without arrays are written as NaN / "" (graceful), negative ones refused. */
    evm_result_free(&b);
    CHECK_INT(evm_h5_write_fit(path, a, c), EVM_OK);
    CHECK_INT(evm_h5_read_fit(path, &b, c), EVM_OK);
    if (b) {
        CHECK_INT(b->p, 2);
        CHECK(isnan(b->beta[1]) && isnan(b->vcov[3]));
        CHECK_STR(b->fixef_name[1], "");
        CHECK_INT(b->group_nlevels[0], 0);
        CHECK_INT(b->ncontrasts, 1);
        CHECK(isnan(b->con_L[1]) && isnan(b->con_p[0]));
        CHECK_INT(b->nanova, 2);
        CHECK_INT(b->nboot, 2);
        CHECK(isnan(b->boot_est[1]));
        CHECK_STR(b->ci_method, "");
        CHECK_STR(b->robust_cluster, "");
        CHECK(isnan(b->robust_vcov[3]));
    }
    a->nboot = -1;
    CHECK_INT(evm_h5_write_fit(tmp_path("neg.h5"), a, c), EVM_ERR_ARG);
    CHECK(strstr(evm_ctx_message(c), "nboot = -1") != NULL);
    a->nboot = 0;
    a->p = -1;
    CHECK_INT(evm_h5_write_fit(tmp_path("neg.h5"), a, c), EVM_ERR_ARG);
    CHECK_INT(count_entries("neg.h5"), 0);
    a->p = 0;
    CHECK_INT(evm_h5_write_fit(NULL, a, c), EVM_ERR_ARG);
    CHECK_INT(evm_h5_write_fit(path, NULL, c), EVM_ERR_ARG);
    CHECK_INT(evm_h5_read_fit(path, NULL, c), EVM_ERR_ARG);
    evm_result_free(&a);
    evm_result_free(&b);
}

/* Free one inference section of r and mark it absent (0 / NULL). */
static void drop_section(evm_result *r, int k)
{
    switch (k) {
    case 0:
        free(r->vcov_adj);
        r->vcov_adj = NULL;
        break;
    case 1:
        for (int i = 0; i < r->ncontrasts; i++) free(r->con_name[i]), free(r->con_expr[i]);
        free(r->con_name), free(r->con_expr), free(r->con_L), free(r->con_est);
        free(r->con_se), free(r->con_df), free(r->con_t), free(r->con_p);
        r->con_name = r->con_expr = NULL;
        r->con_L = r->con_est = r->con_se = r->con_df = r->con_t = r->con_p = NULL;
        r->ncontrasts = 0;
        break;
    case 2:
        for (int i = 0; i < r->nanova; i++) free(r->anova_term[i]);
        free(r->anova_term), free(r->anova_F), free(r->anova_ndf), free(r->anova_ddf);
        free(r->anova_p);
        r->anova_term = NULL;
        r->anova_F = r->anova_ndf = r->anova_ddf = r->anova_p = NULL;
        r->nanova = 0;
        r->has_anova = 0;
        break;
    case 3:
        for (int i = 0; i < r->nci; i++) free(r->ci_param[i]);
        free(r->ci_param), free(r->ci_method), free(r->ci_lower), free(r->ci_upper);
        r->ci_param = NULL;
        r->ci_method = NULL;
        r->ci_lower = r->ci_upper = NULL;
        r->nci = 0;
        break;
    case 4:
        for (int i = 0; i < r->nbootpar; i++) free(r->boot_param[i]);
        free(r->boot_param), free(r->boot_est), free(r->boot_lower), free(r->boot_upper);
        r->boot_param = NULL;
        r->boot_est = r->boot_lower = r->boot_upper = NULL;
        r->nboot = r->nboot_ok = r->boot_seed = 0;
        r->nbootpar = 0;
        break;
    case 5:
        free(r->robust_cluster), free(r->robust_se), free(r->robust_df), free(r->robust_t);
        free(r->robust_p), free(r->robust_vcov);
        r->robust_cluster = NULL;
        r->robust_se = r->robust_df = r->robust_t = r->robust_p = r->robust_vcov = NULL;
        r->robust_nclusters = 0;
        break;
    }
}

/* Each inference section alone: written, read back, and the others absent. */
static void test_sections_alone(evm_ctx *c)
{
    for (int k = 0; k < 6; k++) {
        evm_result *a = make_exotic(), *b = NULL;
        for (int j = 0; j < 6; j++)
            if (j != k) drop_section(a, j);
        const char *path = tmp_path("alone.h5");
        CHECK_INT(evm_h5_write_fit(path, a, c), EVM_OK);
        CHECK_INT(evm_h5_read_fit(path, &b, c), EVM_OK);
        if (b) check_same(a, b);
        if (k == 4 && b) CHECK(b->ci_level == 0.9); /* from /bootstrap@level alone */
#ifdef HAVE_HDF5_H
        static const char *paths[6] = {"/fixef/vcov_adj", "/contrasts", "/anova", "/ci",
                                       "/bootstrap",      "/robust"};
        hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        for (int j = 0; j < 6; j++)
            CHECK((H5Lexists(f, paths[j], H5P_DEFAULT) > 0) == (j == k));
        H5Fclose(f);
#endif
        evm_result_free(&a);
        evm_result_free(&b);
    }
}

static void test_atomic(evm_ctx *c)
{
    evm_result *a = make_exotic();
    long err;

    /* A folder that does not exist: EVM_ERR_IO naming the path, nothing created. */
    char *missing = tmp_path("nodir/fit.h5");
    capture_stderr();
    int st = evm_h5_write_fit(missing, a, c);
    err = release_stderr();
    CHECK_INT(st, EVM_ERR_IO);
    CHECK(strstr(evm_ctx_message(c), missing) != NULL);
    CHECK(strstr(evm_ctx_message(c), "No such file or directory") != NULL);
    CHECK(access(tmp_path("nodir"), F_OK) != 0);
    CHECK_INT(err, 0);

    /* A failure part-way (two ranef groups with one name): no file, no temporary file. */
    const char *path = tmp_path("atomic.h5");
    free(a->ranef[2].name);
    a->ranef[2].name = S("zeta");
    capture_stderr();
    st = evm_h5_write_fit(path, a, c);
    err = release_stderr();
    CHECK_INT(st, EVM_ERR_HDF5);
    CHECK(strstr(evm_ctx_message(c), path) != NULL);
    CHECK(strstr(evm_ctx_message(c), "/ranef/zeta") != NULL);
    CHECK(one_line(evm_ctx_message(c)));
    CHECK_INT(err, 0);
    CHECK(access(path, F_OK) != 0);
    CHECK_INT(count_entries(".tmp."), 0);

    /* An existing file is replaced only by a complete one. */
    write_text(path, "precious\n");
    CHECK_INT(evm_h5_write_fit(path, a, c), EVM_ERR_HDF5);
    CHECK_STR(read_text(path), "precious\n");
    CHECK_INT(count_entries(".tmp."), 0);
    free(a->ranef[2].name);
    a->ranef[2].name = S("a/b");
    CHECK_INT(evm_h5_write_fit(path, a, c), EVM_OK);
    evm_result *b = NULL;
    CHECK_INT(evm_h5_read_fit(path, &b, c), EVM_OK);
    if (b) CHECK_STR(b->ranef[2].name, "a/b");
    CHECK_INT(count_entries(".tmp."), 0);

    /* A file mode as any new file gets (0666 less the umask), not a temp file's 0600. */
    mode_t um = umask(022);
    umask(um);
    struct stat sb;
    CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == (0666 & ~um));

    /* The target is a folder: the rename fails, the temporary file goes. */
    mkdir(tmp_path("adir.h5"), 0755);
    CHECK_INT(evm_h5_write_fit(tmp_path("adir.h5"), a, c), EVM_ERR_IO);
    CHECK_INT(count_entries(".tmp."), 0);
    evm_result_free(&a);
    evm_result_free(&b);
}

static void test_read_errors(evm_ctx *c)
{
    evm_result *r = NULL;
    char expect[512];
    long err;

    capture_stderr();
    const char *txt = tmp_path("notes.txt");
    write_text(txt, "a text file, not HDF5\n");
    int st = evm_h5_read_fit(txt, &r, c);
    CHECK_INT(st, EVM_ERR_HDF5);
    snprintf(expect, sizeof expect, "%s: not an evalmix result file (not an HDF5 file)",
             txt);
    CHECK_STR(evm_ctx_message(c), expect);
    CHECK(r == NULL);

    const char *none = tmp_path("absent.h5");
    CHECK_INT(evm_h5_read_fit(none, &r, c), EVM_ERR_IO);
    snprintf(expect, sizeof expect, "%s: cannot open: No such file or directory", none);
    CHECK_STR(evm_ctx_message(c), expect);

    CHECK_INT(evm_h5_read_fit(tmpdir, &r, c), EVM_ERR_IO);
    CHECK(one_line(evm_ctx_message(c)));

    /* A result file cut short. */
    evm_result *a = make_exotic();
    const char *cut = tmp_path("cut.h5");
    CHECK_INT(evm_h5_write_fit(cut, a, c), EVM_OK);
    struct stat sb;
    stat(cut, &sb);
    CHECK(truncate(cut, sb.st_size / 2) == 0);
    st = evm_h5_read_fit(cut, &r, c);
    CHECK(st == EVM_ERR_HDF5);
    CHECK(strncmp(evm_ctx_message(c), cut, strlen(cut)) == 0);
    CHECK(one_line(evm_ctx_message(c)));
    CHECK(r == NULL);
    evm_result_free(&a);

#ifdef HAVE_HDF5_H
    /* An HDF5 file of someone else's. */
    const char *foreign = tmp_path("foreign.h5");
    hid_t f = H5Fcreate(foreign, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(f, "fit", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    H5Fclose(f);
    CHECK_INT(evm_h5_read_fit(foreign, &r, c), EVM_ERR_HDF5);
    snprintf(expect, sizeof expect, "%s: not an evalmix result file", foreign);
    CHECK_STR(evm_ctx_message(c), expect);
#endif
    err = release_stderr();
    CHECK_INT(err, 0);
}

#ifdef HAVE_HDF5_H
static int is_utf8_vlen(hid_t t)
{
    return H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0 &&
           H5Tget_cset(t) == H5T_CSET_UTF8;
}

/* The file as other programs see it. */
static void test_layout(evm_ctx *c)
{
    evm_result *a = make_exotic();
    const char *path = tmp_path("layout.h5");
    CHECK_INT(evm_h5_write_fit(path, a, c), EVM_OK);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CHECK(f >= 0);
    if (f < 0) return;

    hid_t at = H5Aopen(f, "input", H5P_DEFAULT), t = H5Aget_type(at);
    CHECK(is_utf8_vlen(t));
    H5Tclose(t);
    H5Aclose(at);
    at = H5Aopen(f, "seed", H5P_DEFAULT);
    t = H5Aget_type(at);
    CHECK(H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == 8);
    H5Tclose(t);
    H5Aclose(at);

    hid_t d = H5Dopen2(f, "/fixef/name", H5P_DEFAULT);
    t = H5Dget_type(d);
    CHECK(is_utf8_vlen(t));
    H5Tclose(t);
    H5Dclose(d);
    d = H5Dopen2(f, "/groups/nlevels", H5P_DEFAULT);
    t = H5Dget_type(d);
    CHECK(H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == 8);
    H5Tclose(t);
    H5Dclose(d);
    d = H5Dopen2(f, "/fixef/estimate", H5P_DEFAULT);
    t = H5Dget_type(d);
    CHECK(H5Tget_class(t) == H5T_FLOAT && H5Tget_size(t) == 8);
    H5Tclose(t);
    H5Dclose(d);

    /* Zero-length datasets exist. */
    hsize_t dims[2] = {99, 99};
    d = H5Dopen2(f, "/icc/value", H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    CHECK(H5Sget_simple_extent_ndims(sp) == 1 &&
          H5Sget_simple_extent_dims(sp, dims, NULL) == 1 && dims[0] == 0);
    H5Sclose(sp);
    H5Dclose(d);

    /* [levels x terms], levels first. */
    d = H5Dopen2(f, "/ranef/cask:batch/mode", H5P_DEFAULT);
    sp = H5Dget_space(d);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    CHECK(dims[0] == 3 && dims[1] == 2);
    double m[6];
    H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, m);
    CHECK(m[1 * 2 + 1] == a->ranef[1].mode[1 * 2 + 1] && m[2 * 2 + 0] == 3.75);
    H5Sclose(sp);
    H5Dclose(d);

    /* Escaped link names, creation order, and the order attribute. */
    CHECK(H5Lexists(f, "/ranef/a%2Fb%252F", H5P_DEFAULT) > 0);
    CHECK(H5Lexists(f, "/ranef/%2E", H5P_DEFAULT) > 0);
    CHECK(H5Lexists(f, "/ranef/%00", H5P_DEFAULT) > 0);
    char name[64] = "";
    H5Lget_name_by_idx(f, "/ranef", H5_INDEX_CRT_ORDER, H5_ITER_INC, 1, name, sizeof name,
                       H5P_DEFAULT);
    CHECK_STR(name, "cask:batch");
    H5Lget_name_by_idx(f, "/", H5_INDEX_CRT_ORDER, H5_ITER_INC, 0, name, sizeof name,
                       H5P_DEFAULT);
    CHECK_STR(name, "fit");
    hid_t rg = H5Gopen2(f, "/ranef", H5P_DEFAULT);
    at = H5Aopen(rg, "order", H5P_DEFAULT);
    t = H5Aget_type(at);
    char *order[5] = {0};
    CHECK(H5Aread(at, t, order) >= 0);
    CHECK_STR(order[2], "a/b%2F");
    CHECK_STR(order[4], "");
    sp = H5Aget_space(at);
    H5Dvlen_reclaim(t, sp, H5P_DEFAULT, order);
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(at);
    H5Gclose(rg);

    /* Method and ddf as documented. */
    hid_t g = H5Gopen2(f, "/fixef", H5P_DEFAULT);
    at = H5Aopen(g, "ddf", H5P_DEFAULT);
    t = H5Aget_type(at);
    char *ddf = NULL;
    H5Aread(at, t, &ddf);
    CHECK_STR(ddf, "none");
    sp = H5Aget_space(at);
    H5Dvlen_reclaim(t, sp, H5P_DEFAULT, &ddf);
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(at);
    H5Gclose(g);

    /* The inference sections: shapes (rows first), types, and after the core ones. */
    static const struct {
        const char *path;
        int rank;
        hsize_t d0, d1;
        H5T_class_t cls;
    } shapes[] = {{"/fixef/vcov_adj", 2, 3, 3, H5T_FLOAT},
                  {"/contrasts/name", 1, 2, 0, H5T_STRING},
                  {"/contrasts/L", 2, 2, 3, H5T_FLOAT},
                  {"/contrasts/p", 1, 2, 0, H5T_FLOAT},
                  {"/anova/den_df", 1, 1, 0, H5T_FLOAT},
                  {"/ci/param", 1, 3, 0, H5T_STRING},
                  {"/bootstrap/estimates", 2, 3, 2, H5T_FLOAT},
                  {"/bootstrap/upper", 1, 2, 0, H5T_FLOAT},
                  {"/robust/vcov", 2, 3, 3, H5T_FLOAT},
                  {"/robust/df", 1, 3, 0, H5T_FLOAT}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        d = H5Dopen2(f, shapes[k].path, H5P_DEFAULT);
        sp = H5Dget_space(d);
        t = H5Dget_type(d);
        dims[0] = dims[1] = 99;
        int rank = H5Sget_simple_extent_dims(sp, dims, NULL);
        if (rank != shapes[k].rank || dims[0] != shapes[k].d0 ||
            (rank == 2 && dims[1] != shapes[k].d1) || H5Tget_class(t) != shapes[k].cls ||
            (shapes[k].cls == H5T_STRING && !is_utf8_vlen(t)) ||
            (shapes[k].cls == H5T_FLOAT && H5Tget_size(t) != 8)) {
            fprintf(stderr, "layout of %s\n", shapes[k].path);
            CHECK(!"inference layout");
        }
        H5Tclose(t);
        H5Sclose(sp);
        H5Dclose(d);
    }
    int64_t n64 = 0;
    double lev = 0;
    at = H5Aopen_by_name(f, "/robust", "n_clusters", H5P_DEFAULT, H5P_DEFAULT);
    t = H5Aget_type(at);
    CHECK(H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == 8);
    H5Aread(at, H5T_NATIVE_INT64, &n64);
    CHECK_INT(n64, 3000000000LL);
    H5Tclose(t);
    H5Aclose(at);
    at = H5Aopen_by_name(f, "/bootstrap", "n", H5P_DEFAULT, H5P_DEFAULT);
    t = H5Aget_type(at);
    CHECK(H5Tget_class(t) == H5T_INTEGER && H5Tget_size(t) == 8);
    H5Tclose(t);
    H5Aclose(at);
    at = H5Aopen_by_name(f, "/bootstrap", "level", H5P_DEFAULT, H5P_DEFAULT);
    H5Aread(at, H5T_NATIVE_DOUBLE, &lev);
    CHECK(lev == 0.9);
    H5Aclose(at);
    at = H5Aopen_by_name(f, "/ci", "method", H5P_DEFAULT, H5P_DEFAULT);
    t = H5Aget_type(at);
    CHECK(is_utf8_vlen(t));
    H5Tclose(t);
    H5Aclose(at);
    static const char *order_root[12] = {"fit",    "fixef", "varcomp",   "ranef",
                                         "groups", "icc",   "data",      "contrasts",
                                         "anova",  "ci",    "bootstrap", "robust"};
    for (int k = 0; k < 12; k++) {
        name[0] = '\0';
        H5Lget_name_by_idx(f, "/", H5_INDEX_CRT_ORDER, H5_ITER_INC, (hsize_t)k, name,
                           sizeof name, H5P_DEFAULT);
        CHECK_STR(name, order_root[k]);
    }
    H5Fclose(f);
    evm_result_free(&a);
}

/* A result file edited by someone else: each defect is one line naming the object. */
static void check_edited(evm_ctx *c, const char *what, void (*edit)(hid_t),
                         const char *want)
{
    evm_result *a = make_exotic(), *b = NULL;
    const char *path = tmp_path("edited.h5");
    CHECK_INT(evm_h5_write_fit(path, a, c), EVM_OK);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    edit(f);
    H5Fclose(f);
    int st = evm_h5_read_fit(path, &b, c);
    CHECK_INT(st, EVM_ERR_HDF5);
    CHECK(b == NULL);
    char expect[512];
    snprintf(expect, sizeof expect, "%s: %s", path, want);
    if (strcmp(evm_ctx_message(c), expect)) {
        fprintf(stderr, "edited file (%s): message \"%s\", want \"%s\"\n", what,
                evm_ctx_message(c), expect);
        CHECK(!"message for an edited file");
    }
    evm_result_free(&a);
}

static void drop_se(hid_t f) { H5Ldelete(f, "/fixef/se", H5P_DEFAULT); }
static void short_se(hid_t f)
{
    H5Ldelete(f, "/fixef/se", H5P_DEFAULT);
    hsize_t n = 2;
    double x[2] = {1, 2};
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "/fixef/se", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    H5Dclose(d);
    H5Sclose(sp);
}
/* A variable-length string attribute `name` = v on loc, as the writer makes them. */
static void put_str_attr(hid_t loc, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t at = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, t, &v);
    H5Aclose(at);
    H5Sclose(sp);
    H5Tclose(t);
}

static void bad_method(hid_t f)
{
    hid_t g = H5Gopen2(f, "/fit", H5P_DEFAULT);
    H5Adelete(g, "method");
    put_str_attr(g, "method", "Bayes");
    H5Gclose(g);
}
static void numeric_name(hid_t f)
{
    H5Ldelete(f, "/groups/name", H5P_DEFAULT);
    hsize_t n = 2;
    double x[2] = {1, 2};
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "/groups/name", H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    H5Dclose(d);
    H5Sclose(sp);
}

/* Replace dataset `path` with a float64 [d0 x d1] (d1 = 0: [d0]) or string [d0] one. */
static void replace_dset(hid_t f, const char *path, int is_str, hsize_t d0, hsize_t d1)
{
    H5Ldelete(f, path, H5P_DEFAULT);
    hsize_t dims[2] = {d0, d1};
    double x[16] = {0};
    const char *v[16] = {"a", "b", "c", "d"};
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t sp = H5Screate_simple(d1 ? 2 : 1, dims, NULL);
    hid_t d = H5Dcreate2(f, path, is_str ? t : H5T_IEEE_F64LE, sp, H5P_DEFAULT, H5P_DEFAULT,
                         H5P_DEFAULT);
    if (is_str) H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    else H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
}
static void narrow_L(hid_t f) { replace_dset(f, "/contrasts/L", 0, 2, 2); }
static void short_expr(hid_t f) { replace_dset(f, "/contrasts/expr", 1, 1, 0); }
static void drop_robust_se(hid_t f) { H5Ldelete(f, "/robust/se", H5P_DEFAULT); }
static void anova_dataset(hid_t f) { replace_dset(f, "/anova", 0, 1, 0); }
static void set_boot_attr(hid_t f, const char *name, hid_t type, const void *v)
{
    hid_t g = H5Gopen2(f, "/bootstrap", H5P_DEFAULT), sp = H5Screate(H5S_SCALAR);
    H5Adelete(g, name);
    hid_t at = H5Acreate2(g, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(at, type == H5T_IEEE_F64LE ? H5T_NATIVE_DOUBLE : H5T_NATIVE_INT64, v);
    H5Aclose(at);
    H5Sclose(sp);
    H5Gclose(g);
}
static void too_many_ok(hid_t f)
{
    int64_t v = 4;
    set_boot_attr(f, "n_ok", H5T_STD_I64LE, &v);
}
static void float_boot_n(hid_t f)
{
    double v = 3;
    set_boot_attr(f, "n", H5T_IEEE_F64LE, &v);
}

static void test_edited(evm_ctx *c)
{
    long err;
    capture_stderr();
    check_edited(c, "no se", drop_se,
                 "missing /fixef/se (not a complete evalmix result file)");
    check_edited(c, "short se", short_se, "/fixef/se has 2 entries, expected 3");
    check_edited(c, "method", bad_method, "/fit/method is not \"REML\" or \"ML\"");
    check_edited(c, "numeric names", numeric_name,
                 "/groups/name is not a 1-d string dataset");
    check_edited(c, "narrow L", narrow_L, "/contrasts/L is 2 x 2, expected 2 x 3");
    check_edited(c, "short expr", short_expr, "/contrasts/expr has 1 entries, expected 2");
    check_edited(c, "n_ok > n", too_many_ok, "/bootstrap/n_ok is not a count in [0, n]");
    check_edited(c, "no robust se", drop_robust_se,
                 "missing /robust/se (not a complete evalmix result file)");
    check_edited(c, "float n", float_boot_n, "/bootstrap/n is not an int64");
    check_edited(c, "anova a dataset", anova_dataset,
                 "not a valid evalmix result file (cannot read group /anova: not a group)");
    err = release_stderr();
    CHECK_INT(err, 0);
}
#endif

/* A damaged copy of file `src`: the bytes at `at` replaced by n bytes of `with`. */
static const char *damaged_copy(const char *src, const char *name, long at,
                                const void *with, size_t n)
{
    static unsigned char buf[1 << 20];
    FILE *f = fopen(src, "rb");
    size_t len = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    if (at >= 0 && (size_t)at + n <= len) memcpy(buf + at, with, n);
    const char *dst = tmp_path(name);
    f = fopen(dst, "wb");
    if (f) {
        fwrite(buf, 1, len, f);
        fclose(f);
    }
    return dst;
}

/* Offset of the k-th (from 0) occurrence of `sig` in file `path`, -1 if none. */
static long find_in_file(const char *path, const char *sig, int k)
{
    static unsigned char buf[1 << 20];
    FILE *f = fopen(path, "rb");
    size_t len = f ? fread(buf, 1, sizeof buf, f) : 0, m = strlen(sig);
    if (f) fclose(f);
    for (size_t i = 0; i + m <= len; i++)
        if (!memcmp(buf + i, sig, m) && k-- == 0) return (long)i;
    return -1;
}

static uint64_t le_at(const char *path, long at, int n)
{
    unsigned char b[8] = {0};
    FILE *f = fopen(path, "rb");
    if (f && fseek(f, at, SEEK_SET) == 0 && fread(b, 1, (size_t)n, f) != (size_t)n) b[0] = 0;
    if (f) fclose(f);
    uint64_t v = 0;
    for (int i = n; i-- > 0;) v = v << 8 | b[i];
    return v;
}

/* The read fails with one line "PATH: not a valid evalmix result file (...WHAT...)". */
static void expect_damaged(evm_ctx *c, const char *label, const char *path, const char *what)
{
    evm_result *r = NULL;
    int st = evm_h5_read_fit(path, &r, c);
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s: not a valid evalmix result file (", path);
    const char *msg = evm_ctx_message(c);
    int ok = st == EVM_ERR_HDF5 && !r && !strncmp(msg, prefix, strlen(prefix)) &&
             (!what || strstr(msg, what)) && one_line(msg);
    if (!ok) fprintf(stderr, "damaged file (%s): status %d, message \"%s\"\n", label, st, msg);
    CHECK(ok);
    evm_result_free(&r);
}

/* Damaged files.  The metadata carry checksums (HDF5 1.8 format); the global heap that
 * holds the strings does not, and libhdf5 1.10 crashes or hangs on a damaged one unless
 * the reader checks it first (read_heap.c). */
static void test_damaged(evm_ctx *c)
{
    capture_stderr();
    evm_result *a = make_exotic();
    char good[256];   /* (tmp_path reuses its buffers) */
    snprintf(good, sizeof good, "%s", tmp_path("intact.h5"));
    CHECK_INT(evm_h5_write_fit(good, a, c), EVM_OK);
    evm_result_free(&a);
    hid_t f = H5Fopen(good, H5F_ACC_RDONLY, H5P_DEFAULT);
    H5F_info2_t info;
    CHECK(H5Fget_info2(f, &info) >= 0);
    CHECK_INT(info.super.version, 2);   /* checksummed superblock and object headers */
    hid_t d = H5Dopen2(f, "/fixef/name", H5P_DEFAULT);
    long names = (long)H5Dget_offset(d);  /* the references of /fixef/name */
    H5Dclose(d);
    H5Fclose(f);

    /* the first global heap collection: header 16 bytes, then objects (index 2 bytes,
     * count 2, reserved 4, size 8, data padded to 8) */
    long g = find_in_file(good, "GCOL", 0);
    CHECK(g > 0);
    uint64_t s1 = le_at(good, g + 16 + 8, 8);
    long second = g + 16 + 16 + (long)((s1 + 7) & ~(uint64_t)7);
    char where[64];
    snprintf(where, sizeof where, "damaged string storage at byte %ld", g);
    const uint16_t one = 1;
    const uint64_t zero64 = 0, huge = (uint64_t)1 << 40;
    expect_damaged(c, "object size", damaged_copy(good, "d1.h5", g + 24, &huge, 8), where);
    expect_damaged(c, "object size +8",
                   damaged_copy(good, "d2.h5", g + 24, &(uint64_t){s1 + 8}, 8), where);
    expect_damaged(c, "duplicate index", damaged_copy(good, "d3.h5", second, &one, 2), where);
    char zeros[16] = {0};   /* an object turned into free space of size 0: HDF5 loops */
    expect_damaged(c, "empty free space", damaged_copy(good, "d4.h5", g + 16, zeros, 16), where);
    expect_damaged(c, "collection size",
                   damaged_copy(good, "d5.h5", g + 8, &(uint64_t){4095}, 8), where);

    /* a string dataset's references: length, index, collection address */
    CHECK(names > 0);
    uint32_t len0 = (uint32_t)le_at(good, names, 4);
    snprintf(where, sizeof where, "damaged string 1 of /fixef/name at byte %ld", names);
    expect_damaged(c, "reference length",
                   damaged_copy(good, "d6.h5", names, &(uint32_t){len0 + 1000000}, 4), where);
    expect_damaged(c, "reference index",
                   damaged_copy(good, "d7.h5", names + 12, &(uint32_t){999}, 4), where);
    expect_damaged(c, "reference address",
                   damaged_copy(good, "d8.h5", names + 4, &(uint64_t){100}, 8), where);
    expect_damaged(c, "null reference with a length",
                   damaged_copy(good, "d9.h5", names + 4, &zero64, 8), where);

    /* metadata: the checksum catches it (whichever object header it is) */
    for (int k = 0; k < 6; k++) {
        long o = find_in_file(good, "OHDR", k);
        if (o < 0) break;
        char name[16];
        snprintf(name, sizeof name, "m%d.h5", k);
        unsigned char x = 0x5a;
        expect_damaged(c, "object header", damaged_copy(good, name, o + 21, &x, 1), NULL);
    }
    /* the superblock */
    unsigned char x = 0x77;
    expect_damaged(c, "superblock", damaged_copy(good, "sb.h5", 20, &x, 1), NULL);

    /* the intact file still reads */
    evm_result *b = NULL;
    CHECK_INT(evm_h5_read_fit(good, &b, c), EVM_OK);
    evm_result_free(&b);
    CHECK_INT(release_stderr(), 0);
}

/* evalmix files of other kinds are named, not reported as fits with parts missing. */
static void test_other_kinds(evm_ctx *c)
{
    static const char *groups[2] = {"match", "compare"};
    static const char *want[2] = {
        "a match report (evalmix match --report), not a model fit (see docs/hdf5.md)",
        "a model comparison (evalmix compare --out), not a model fit (see docs/hdf5.md)"};
    for (int k = 0; k < 2; k++) {
        const char *path = tmp_path(k ? "cmp.h5" : "rep.h5");
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        put_str_attr(f, "evalmix_version", "0.1.0");
        H5Gclose(H5Gcreate2(f, groups[k], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
        H5Fclose(f);
        evm_result *r = NULL;
        CHECK_INT(evm_h5_read_fit(path, &r, c), EVM_ERR_HDF5);
        CHECK(r == NULL);
        char expect[512];
        snprintf(expect, sizeof expect, "%s: %s", path, want[k]);
        CHECK_STR(evm_ctx_message(c), expect);
    }
}

/* ---------------------------------------------------------------- golden summaries */
/* sleepstudy, Reaction ~ Days + (Days|Subject): numbers from lme4 (see file header). */
static evm_result *make_sleepstudy(int reml, int lmertest)
{
    evm_result *r = calloc(1, sizeof *r);
    r->formula = S("Reaction ~ Days + (Days | Subject)");
    r->input = S("sleepstudy");
    r->reml = reml;
    r->n_obs = 180;
    r->converged = 1;
    r->n_evaluations = 40;
    r->optimizer = S("bobyqa");
    r->ntheta = 3;
    r->p = 2;
    r->fixef_name = SV(2, "(Intercept)", "Days");
    r->nvc = 4;
    r->vc_group = SV(4, "Subject", "Subject", "Subject", "Residual");
    r->vc_var1 = SV(4, "(Intercept)", "Days", "(Intercept)", "");
    r->vc_var2 = SV(4, "", "", "Days", "");
    r->ngroups = 1;
    r->group_name = SV(1, "Subject");
    r->group_nlevels = calloc(1, sizeof *r->group_nlevels);
    r->group_nlevels[0] = 18;
    r->ddf = S(lmertest ? "Satterthwaite" : "none");
    if (reml) {
        r->objective = 1743.6282719599519;
        r->loglik = -871.81413597997596;
        r->aic = 1755.6282719599519;
        r->bic = 1774.7860130652932;
        r->sigma = 25.59179572167535;
        r->theta = DV(3, 0.96674177396741234, 0.015169058896036137, 0.23090995320779453);
        double q[5] = {-3.9535673453670297, -0.46339768312706581, 0.023117664779438673,
                       0.46340207815026713, 5.1792603734114504};
        memcpy(r->resid_quantiles, q, sizeof q);
        r->beta = DV(2, 251.40510484848497, 10.467285959595987);
        r->se = DV(2, 6.8245966949549057, 1.5457896439059811);
        r->t = DV(2, 36.838089646284388, 6.7714814889991812);
        r->vcov = DV(4, 46.575120048789422, -1.4510884166325206, -1.4510884166325206,
                     2.3894656232069797);
        r->vc_vcov = DV(4, 612.1001580247688, 35.071714450938842, 9.6044089511577564,
                        654.94000825996079);
        r->vc_sdcor = DV(4, 24.740657994984062, 5.9221376588980812, 0.065551238238128209,
                         25.59179572167535);
    } else {
        r->objective = 1751.9393444889909;
        r->loglik = -875.96967224449543;
        r->aic = 1763.9393444889909;
        r->bic = 1783.0970855943322;
        r->sigma = 25.591907036486965;
        r->theta = DV(3, 0.92919060527824848, 0.018165754720411969, 0.22264320561261811);
        double q[5] = {-3.9415524167215854, -0.46558937562800795, 0.028944755265825697,
                       0.463614465396744, 5.1793234291929489};
        memcpy(r->resid_quantiles, q, sizeof q);
        r->beta = DV(2, 251.40510484848565, 10.467285959595767);
        r->se = DV(2, 6.6321227421902904, 1.5022302138320407);
        r->t = DV(2, 37.907185168508796, 6.9678308046372965);
        r->vcov = DV(4, 43.98505206747766, -1.3705104906415944, -1.3705104906415944,
                     2.2566956153498587);
        r->vc_vcov = DV(4, 565.47696613241919, 32.681785248852677, 11.055122391953331,
                        654.94570576419108);
        r->vc_sdcor = DV(4, 23.779759589457989, 5.7167985139282873, 0.081321093426634475,
                         25.591907036486965);
    }
    if (lmertest) {
        r->df = DV(2, 16.99972628849271, 16.99998372559174);
        r->pval = DV(2, 1.1715581112082853e-17, 3.2638244699273644e-06);
    } else {
        r->df = DV(2, NAN, NAN);
        r->pval = DV(2, NAN, NAN);
    }
    return r;
}

/* print(summary(lmer(Reaction ~ Days + (Days | Subject), sleepstudy))) */
static const char golden_reml[] = "Linear mixed model fit by REML ['lmerMod']\n"
                                  "Formula: Reaction ~ Days + (Days | Subject)\n"
                                  "   Data: sleepstudy\n"
                                  "\n"
                                  "REML criterion at convergence: 1743.6\n"
                                  "\n"
                                  "Scaled residuals: \n"
                                  "    Min      1Q  Median      3Q     Max \n"
                                  "-3.9536 -0.4634  0.0231  0.4634  5.1793 \n"
                                  "\n"
                                  "Random effects:\n"
                                  " Groups   Name        Variance Std.Dev. Corr\n"
                                  " Subject  (Intercept) 612.10   24.741       \n"
                                  "          Days         35.07    5.922   0.07\n"
                                  " Residual             654.94   25.592       \n"
                                  "Number of obs: 180, groups:  Subject, 18\n"
                                  "\n"
                                  "Fixed effects:\n"
                                  "            Estimate Std. Error t value\n"
                                  "(Intercept)  251.405      6.825  36.838\n"
                                  "Days          10.467      1.546   6.771\n"
                                  "\n"
                                  "Correlation of Fixed Effects:\n"
                                  "     (Intr)\n"
                                  "Days -0.138\n";

/* The same with REML = FALSE. */
static const char golden_ml[] =
    "Linear mixed model fit by maximum likelihood  ['lmerMod']\n"
    "Formula: Reaction ~ Days + (Days | Subject)\n"
    "   Data: sleepstudy\n"
    "\n"
    "     AIC      BIC   logLik deviance df.resid \n"
    "  1763.9   1783.1   -876.0   1751.9      174 \n"
    "\n"
    "Scaled residuals: \n"
    "    Min      1Q  Median      3Q     Max \n"
    "-3.9416 -0.4656  0.0289  0.4636  5.1793 \n"
    "\n"
    "Random effects:\n"
    " Groups   Name        Variance Std.Dev. Corr\n"
    " Subject  (Intercept) 565.48   23.780       \n"
    "          Days         32.68    5.717   0.08\n"
    " Residual             654.95   25.592       \n"
    "Number of obs: 180, groups:  Subject, 18\n"
    "\n"
    "Fixed effects:\n"
    "            Estimate Std. Error t value\n"
    "(Intercept)  251.405      6.632  37.907\n"
    "Days          10.467      1.502   6.968\n"
    "\n"
    "Correlation of Fixed Effects:\n"
    "     (Intr)\n"
    "Days -0.138\n";

/* lmerTest::lmer, the same model: Satterthwaite df and p-values. */
static const char golden_lmertest[] =
    "Linear mixed model fit by REML. t-tests use Satterthwaite's method [\n"
    "lmerModLmerTest]\n"
    "Formula: Reaction ~ Days + (Days | Subject)\n"
    "   Data: sleepstudy\n"
    "\n"
    "REML criterion at convergence: 1743.6\n"
    "\n"
    "Scaled residuals: \n"
    "    Min      1Q  Median      3Q     Max \n"
    "-3.9536 -0.4634  0.0231  0.4634  5.1793 \n"
    "\n"
    "Random effects:\n"
    " Groups   Name        Variance Std.Dev. Corr\n"
    " Subject  (Intercept) 612.10   24.741       \n"
    "          Days         35.07    5.922   0.07\n"
    " Residual             654.94   25.592       \n"
    "Number of obs: 180, groups:  Subject, 18\n"
    "\n"
    "Fixed effects:\n"
    "            Estimate Std. Error      df t value Pr(>|t|)    \n"
    "(Intercept)  251.405      6.825  17.000  36.838  < 2e-16 ***\n"
    "Days          10.467      1.546  17.000   6.771 3.26e-06 ***\n"
    "---\n"
    "Signif. codes:  0 \xe2\x80\x98***\xe2\x80\x99 0.001 \xe2\x80\x98**\xe2\x80\x99 0.01 "
    "\xe2\x80\x98*\xe2\x80\x99 0.05 \xe2\x80\x98.\xe2\x80\x99 0.1 \xe2\x80\x98 "
    "\xe2\x80\x99 1\n"
    "\n"
    "Correlation of Fixed Effects:\n"
    "     (Intr)\n"
    "Days -0.138\n";

/* Reaction ~ Days + x2 + z + (Days + z | Subject) + (1 | g2), REML = FALSE, x2 = 2 Days
 * (dropped), g2 = rep(1:6, 30), z = rnorm(180) after set.seed(1): three correlated terms,
 * a negative correlation, a zero variance, a singular fit.  Above the extras, R's text;
 * below, evalmix's lines for ICC, dropped columns, boundary fit and non-convergence. */
static evm_result *make_complex(void)
{
    evm_result *r = calloc(1, sizeof *r);
    r->formula = S("Reaction ~ Days + x2 + z + (Days + z | Subject) + (1 | g2)");
    r->input = S("d");
    r->reml = 0;
    r->objective = 1750.1081134749334;
    r->loglik = -875.05405673746668;
    r->aic = 1772.1081134749334;
    r->bic = 1807.2306388347256;
    r->sigma = 25.265740886696328;
    r->n_obs = 180;
    r->singular = 1;
    r->converged = 0;
    r->n_evaluations = 1000;
    r->optimizer = S("bobyqa");
    r->message = S("maximum number of evaluations reached");
    double q[5] = {-3.9451103101673759, -0.4620014331125431, 0.0048810509914012888,
                   0.48857778343171071, 5.2299182773477737};
    memcpy(r->resid_quantiles, q, sizeof q);
    r->ntheta = 7;
    r->theta = DV(7, 0.97865275786595329, 0.0063226870213642103, 0.046667694451286608,
                  0.23119982517658119, -0.12642819422244844, 0.0, 0.0);
    r->p = 3;
    r->fixef_name = SV(3, "(Intercept)", "Days", "z");
    r->beta = DV(3, 251.2145933554678, 10.467225099591907, -0.44086949492861788);
    r->se = DV(3, 6.8007934433395327, 1.5259349564853217, 2.3547291653580991);
    r->t = DV(3, 36.939012403251105, 6.8595486689033018, -0.18722726223233063);
    r->df = DV(3, NAN, NAN, NAN);
    r->pval = DV(3, NAN, NAN, NAN);
    r->vcov = DV(9, 46.250791458969978, -1.7183424863479269, 1.4932145296568382,
                 -1.7183424863479269, 2.3284774914238611, -1.0626893855673116,
                 1.4932145296568382, -1.0626893855673116, 5.5447494421880501);
    r->ddf = S("none");
    r->ndropped = 1;
    r->dropped = SV(1, "x2");
    r->nvc = 8;
    r->vc_group = SV(8, "Subject", "Subject", "Subject", "Subject", "Subject", "Subject",
                     "g2", "Residual");
    r->vc_var1 = SV(8, "(Intercept)", "Days", "z", "(Intercept)", "(Intercept)", "Days",
                    "(Intercept)", "");
    r->vc_var2 = SV(8, "", "", "", "Days", "z", "z", "", "");
    r->vc_vcov =
        DV(8, 611.39421398930051, 34.14788063295093, 11.593827609547734, 3.9499753417716361,
           29.15473147999376, -18.470949935784791, 0.0, 638.35766255367855);
    r->vc_sdcor = DV(8, 24.726386998291936, 5.8436187959988395, 3.4049710144945045,
                     0.027337062455005778, 0.34628602439388739, -0.928311936186759, 0.0,
                     25.265740886696328);
    r->ngroups = 2;
    r->group_name = SV(2, "Subject", "g2");
    r->group_nlevels = calloc(2, sizeof *r->group_nlevels);
    r->group_nlevels[0] = 18;
    r->group_nlevels[1] = 6;
    r->nicc = 2;
    r->icc_group = SV(2, "Subject", "g2");
    r->icc = DV(2, 0.4892, 0.0);
    return r;
}

static const char golden_complex[] =
    "Linear mixed model fit by maximum likelihood  ['lmerMod']\n"
    "Formula: Reaction ~ Days + x2 + z + (Days + z | Subject) + (1 | g2)\n"
    "   Data: d\n"
    "\n"
    "     AIC      BIC   logLik deviance df.resid \n"
    "  1772.1   1807.2   -875.1   1750.1      169 \n"
    "\n"
    "Scaled residuals: \n"
    "    Min      1Q  Median      3Q     Max \n"
    "-3.9451 -0.4620  0.0049  0.4886  5.2299 \n"
    "\n"
    "Random effects:\n"
    " Groups   Name        Variance Std.Dev. Corr       \n"
    " Subject  (Intercept) 611.39   24.726              \n"
    "          Days         34.15    5.844    0.03      \n"
    "          z            11.59    3.405    0.35 -0.93\n"
    " g2       (Intercept)   0.00    0.000              \n"
    " Residual             638.36   25.266              \n"
    "Number of obs: 180, groups:  Subject, 18; g2, 6\n"
    "\n"
    "Fixed effects:\n"
    "            Estimate Std. Error t value\n"
    "(Intercept) 251.2146     6.8008  36.939\n"
    "Days         10.4672     1.5259   6.860\n"
    "z            -0.4409     2.3547  -0.187\n"
    "\n"
    "Correlation of Fixed Effects:\n"
    "     (Intr) Days  \n"
    "Days -0.166       \n"
    "z     0.093 -0.296\n"
    /* evalmix's extras */
    "\n"
    "Intra-class correlation: Subject 0.489\n"
    "Intra-class correlation: g2 0.000\n"
    "fit warnings:\n"
    "fixed-effect model matrix is rank deficient so dropping 1 column / coefficient: x2\n"
    "boundary (singular) fit: see help('isSingular')\n"
    "optimizer (bobyqa) did not converge after 1000 evaluations: maximum number of "
    "evaluations reached\n";

/* The inference sections of the lmerTest fit above, numbers from R 4.2.2 (lmerTest 3.1-3,
 * clubSandwich 0.5.8): contest(m, rbind(slope = c(0, 1), day5 = c(1, 5)), joint = FALSE);
 * anova(m); confint(m, method = "profile", oldNames = TRUE); coef_test(m, vcov = "CR2",
 * cluster = sleepstudy$Subject, test = "Satterthwaite").  The bootstrap numbers are made
 * up (the summary prints only its counts and seed). */
static evm_result *make_inference(void)
{
    evm_result *r = make_sleepstudy(1, 1);
    r->ncontrasts = 2;
    r->con_name = SV(2, "slope", "day5");
    r->con_expr = SV(2, "Days", "(Intercept) + 5*Days");
    r->con_L = DV(4, 0.0, 1.0, 1.0, 5.0);
    r->con_est = DV(2, 10.467285959595987, 303.74153464646491);
    r->con_se = DV(2, 1.5457896439059811, 9.5812773920098309);
    r->con_df = DV(2, 16.99998372559174, 16.999799390321147);
    r->con_t = DV(2, 6.7714814889991812, 31.701569865805766);
    r->con_p = DV(2, 3.2638244699273644e-06, 1.4529418332384176e-16);
    r->has_anova = 1;
    r->nanova = 1;
    r->anova_term = SV(1, "Days");
    r->anova_F = DV(1, 45.85296155585857);
    r->anova_ndf = DV(1, 1.0);
    r->anova_ddf = DV(1, 16.99998372559174);
    r->anova_p = DV(1, 3.2638244699273644e-06);
    r->nci = 6;
    r->ci_method = S("profile");
    r->ci_level = 0.95;
    r->ci_param = SV(6, ".sig01", ".sig02", ".sig03", ".sigma", "(Intercept)", "Days");
    r->ci_lower = DV(6, 14.381473226452481, -0.4815007593806867, 3.8011642690423915,
                     22.898266882081039, 237.68069550523418, 7.3586532751169935);
    r->ci_upper = DV(6, 37.715991719427443, 0.68498625015103021, 8.7533850633131713,
                     28.857996511408729, 265.12951468017417, 13.575918751708203);
    r->nboot = 4;
    r->nboot_ok = 3;
    r->boot_seed = 42;
    r->nbootpar = 2;
    r->boot_param = SV(2, "(Intercept)", "Days");
    r->boot_est = DV(8, 250.1, 10.2, NAN, NAN, 252.3, 10.9, 249.0, 9.8);
    r->boot_lower = DV(2, 249.1, 9.8);
    r->boot_upper = DV(2, 252.2, 10.9);
    r->robust_cluster = S("Subject");
    r->robust_nclusters = 18;
    r->robust_se = DV(2, 6.8245565320690691, 1.5457888962947051);
    r->robust_df = DV(2, 17.000000000000004, 17.000000000000028);
    r->robust_t = DV(2, 36.838306440442651, 6.7714847639844837);
    r->robust_p = DV(2, 1.1708875409155897e-17, 3.2637880713311361e-06);
    r->robust_vcov = DV(4, 46.574571859406596, -1.4510957058544887, -1.4510957058544884,
                        2.3894633119080022);
    return r;
}

#define LEGEND                                                                             \
    "---\n"                                                                                \
    "Signif. codes:  0 \xe2\x80\x98***\xe2\x80\x99 0.001 \xe2\x80\x98**\xe2\x80\x99 0.01 " \
    "\xe2\x80\x98*\xe2\x80\x99 0.05 \xe2\x80\x98.\xe2\x80\x99 0.1 \xe2\x80\x98 "           \
    "\xe2\x80\x99 1\n"

/* What R prints for each (the contrasts and the robust table through printCoefmat(tab,
 * digits = 4), the F tests through print.anova() of anova(m)[, 3:6] with its heading),
 * after golden_lmertest. */
static const char golden_inference_sections[] =
    "\n"
    "Contrasts:\n"
    "      Estimate Std. Error      df t value Pr(>|t|)    \n"
    "slope   10.467      1.546  17.000   6.771 3.26e-06 ***\n"
    "day5   303.742      9.581  17.000  31.702  < 2e-16 ***\n" LEGEND "\n"
    "Type III Analysis of Variance Table with Satterthwaite's method\n"
    "     NumDF DenDF F value    Pr(>F)    \n"
    "Days     1    17  45.853 3.264e-06 ***\n" LEGEND "\n"
    "Confidence intervals (profile, 95%):\n"
    "                  2.5 %      97.5 %\n"
    ".sig01       14.3814732  37.7159917\n"
    ".sig02       -0.4815008   0.6849863\n"
    ".sig03        3.8011643   8.7533851\n"
    ".sigma       22.8982669  28.8579965\n"
    "(Intercept) 237.6806955 265.1295147\n"
    "Days          7.3586533  13.5759188\n"
    "\n"
    "Parametric bootstrap: 4 replicates (1 failed), seed 42\n"
    "\n"
    "Cluster-robust (CR2) standard errors by Subject (18 clusters):\n"
    "            Estimate Robust SE      df t value Pr(>|t|)    \n"
    "(Intercept)  251.405     6.825  17.000  36.838  < 2e-16 ***\n"
    "Days          10.467     1.546  17.000   6.771 3.26e-06 ***\n" LEGEND;

/* The summary of r contains `want` (a whole section, from its leading blank line). */
static void check_section(const char *what, const evm_result *r, const char *want)
{
    char *got = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&got, &n);
    evm_result_print(f, r);
    fclose(f);
    if (!strstr(got, want)) {
        fprintf(stderr, "section %s missing; got:\n%s---- want:\n%s----\n", what, got,
                want);
        CHECK(!"golden section");
    } else {
        CHECK(1);
    }
    free(got);
}

/* Free r's F tests and give it k new rows. */
static void set_anova(evm_result *r, int k)
{
    for (int i = 0; i < r->nanova; i++) free(r->anova_term[i]);
    free(r->anova_term), free(r->anova_F), free(r->anova_ndf), free(r->anova_ddf);
    free(r->anova_p);
    r->nanova = k;
    r->anova_term = calloc((size_t)k, sizeof *r->anova_term);
    r->anova_F = calloc((size_t)k, sizeof(double));
    r->anova_ndf = calloc((size_t)k, sizeof(double));
    r->anova_ddf = calloc((size_t)k, sizeof(double));
    r->anova_p = calloc((size_t)k, sizeof(double));
}

static void set_ddf(evm_result *r, const char *ddf)
{
    free(r->ddf);
    r->ddf = S(ddf);
}

/* Layouts checked one section at a time against R's printing of the same numbers. */
static void test_golden_sections(void)
{
    evm_result *r = make_inference();

    /* lmerTest's ham example: anova(lmer(Informed.liking ~ Product * Information * Gender
     * + (1 | Consumer) + (1 | Consumer:Product), data = ham)) */
    set_anova(r, 7);
    const char *terms[7] = {"Product",
                            "Information",
                            "Gender",
                            "Product:Information",
                            "Product:Gender",
                            "Information:Gender",
                            "Product:Information:Gender"};
    const double ndf[7] = {3, 1, 1, 3, 3, 1, 3},
                 ddf[7] = {236.99989589361400, 315.99998496638375, 79.000006403474714,
                           315.99998500294430, 236.99989588682880, 315.99998499674666,
                           315.99998497881779},
                 F[7] = {3.8192770648176695, 3.8701703193288535,  0.87893856699249417,
                         2.0890734904055703, 0.34837493342623577, 0.84523125251554099,
                         1.1993855295781295},
                 pv[7] = {0.010628370769265420, 0.050026008621601017, 0.35134993987692997,
                          0.10157601404042736,  0.79035961920666897,  0.35860614592961093,
                          0.31009613418764548};
    for (int i = 0; i < 7; i++) {
        r->anova_term[i] = S(terms[i]);
        r->anova_ndf[i] = ndf[i];
        r->anova_ddf[i] = ddf[i];
        r->anova_F[i] = F[i];
        r->anova_p[i] = pv[i];
    }
    check_section("ham anova", r,
                  "\nType III Analysis of Variance Table with Satterthwaite's method\n"
                  "                           NumDF DenDF F value  Pr(>F)  \n"
                  "Product                        3   237  3.8193 0.01063 *\n"
                  "Information                    1   316  3.8702 0.05003 .\n"
                  "Gender                         1    79  0.8789 0.35135  \n"
                  "Product:Information            3   316  2.0891 0.10158  \n"
                  "Product:Gender                 3   237  0.3484 0.79036  \n"
                  "Information:Gender             1   316  0.8452 0.35861  \n"
                  "Product:Information:Gender     3   316  1.1994 0.31010  \n" LEGEND);

    /* A tiny p, a missing DenDF (printed blank, as na.print = ""), an F that rounds to
     * zero: print.anova of data.frame(NumDF = c(1, 2, 3), DenDF = c(17.00001, NA, 120.5),
     * `F value` = c(250.3, 1.2, 1e-5), `Pr(>F)` = c(1e-20, 0.31, 0.99999)). */
    set_anova(r, 3);
    const char *t3[3] = {"Days", "grp", "Days:grp"};
    const double n3[3] = {1, 2, 3}, d3[3] = {17.00001, NAN, 120.5},
                 F3[3] = {250.3, 1.2, 1e-5}, p3[3] = {1e-20, 0.31, 0.99999};
    for (int i = 0; i < 3; i++) {
        r->anova_term[i] = S(t3[i]);
        r->anova_ndf[i] = n3[i];
        r->anova_ddf[i] = d3[i];
        r->anova_F[i] = F3[i];
        r->anova_p[i] = p3[i];
    }
    check_section("anova edges", r,
                  "\nType III Analysis of Variance Table with Satterthwaite's method\n"
                  "         NumDF DenDF F value Pr(>F)    \n"
                  "Days         1  17.0   250.3 <2e-16 ***\n"
                  "grp          2           1.2   0.31    \n"
                  "Days:grp     3 120.5     0.0   1.00    \n" LEGEND);

    /* printCoefmat(digits = 4) of a table needing scientific notation, NAs and "<2e-16". */
    free(r->con_est), free(r->con_se), free(r->con_df), free(r->con_t), free(r->con_p);
    for (int i = 0; i < 2; i++) free(r->con_name[i]), free(r->con_expr[i]);
    free(r->con_name), free(r->con_expr), free(r->con_L);
    r->ncontrasts = 3;
    r->con_name = SV(3, "a", "b", "c");
    r->con_expr = SV(3, "Days", "Days", "Days");
    r->con_L = DV(6, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0);
    r->con_est = DV(3, 1e-5, 2.5, -300.0);
    r->con_se = DV(3, 3e-6, 0.1, NAN);
    r->con_df = DV(3, 10.5, 100.25, 3.0);
    r->con_t = DV(3, 3.333333, 25.0, NAN);
    r->con_p = DV(3, 0.00757, 1e-30, NAN);
    check_section("contrast edges", r,
                  "\nContrasts:\n"
                  "    Estimate Std. Error         df t value Pr(>|t|)    \n"
                  "a  1.000e-05  3.000e-06  1.050e+01   3.333  0.00757 ** \n"
                  "b  2.500e+00  1.000e-01  1.002e+02  25.000  < 2e-16 ***\n"
                  "c -3.000e+02         NA  3.000e+00      NA       NA    \n" LEGEND);
    evm_result_free(&r);

    /* Kenward-Roger: pbkrtest's numbers through anova(m, ddf = "Kenward-Roger"); the title
     * as summary(m, ddf = "Kenward-Roger") prints it. */
    r = make_inference();
    set_ddf(r, "Kenward-Roger");
    r->anova_ddf[0] = 17.000000000000512;
    r->anova_p[0] = 3.2638080181476218e-06;
    check_section("KR title", r,
                  "Linear mixed model fit by REML. t-tests use Kenward-Roger's method [\n"
                  "lmerModLmerTest]\n");
    check_section("KR anova", r,
                  "\nType III Analysis of Variance Table with Kenward-Roger's method\n"
                  "     NumDF DenDF F value    Pr(>F)    \n"
                  "Days     1    17  45.853 3.264e-06 ***\n" LEGEND);
    r->reml = 0; /* lme4:::.prt.methTit() of the title an ML fit would have */
    check_section(
        "KR ML title", r,
        "Linear mixed model fit by maximum likelihood . t-tests use Kenward-Roger's\n"
        "  method [lmerModLmerTest]\n");
    r->reml = 1;

    /* Residual df: no lmerTest equivalent; its title wrapped as lme4 wraps. */
    set_ddf(r, "residual");
    check_section(
        "residual title", r,
        "Linear mixed model fit by REML. t-tests use residual degrees of freedom [\n"
        "lmerModLmerTest]\n");
    check_section(
        "residual anova", r,
        "\nType III Analysis of Variance Table with residual degrees of freedom\n");

    /* No ddf: lme4's columns for the contrasts; chi-square F tests with a blank DenDF. */
    set_ddf(r, "none");
    free(r->df), free(r->pval);
    r->df = DV(2, NAN, NAN);
    r->pval = DV(2, NAN, NAN);
    r->con_df[0] = r->con_df[1] = r->con_p[0] = r->con_p[1] = NAN;
    r->anova_ddf[0] = NAN;
    r->anova_p[0] = 1.2747027300346498e-11;
    check_section("lme4 title", r, "Linear mixed model fit by REML ['lmerMod']\n");
    check_section("lme4 contrasts", r,
                  "\nContrasts:\n"
                  "      Estimate Std. Error t value\n"
                  "slope   10.467      1.546   6.771\n"
                  "day5   303.742      9.581  31.702\n"
                  "\nType III Analysis of Variance Table with Wald chi-square tests (no "
                  "denominator df)\n"
                  "     NumDF DenDF F value    Pr(>F)    \n"
                  "Days     1        45.853 1.275e-11 ***\n" LEGEND);

    /* Wald intervals as confint(m, method = "Wald", level = 0.9) and level = 0.99. */
    free(r->ci_method);
    r->ci_method = S("wald");
    r->ci_level = 0.9;
    for (int i = 0; i < 4; i++) r->ci_lower[i] = r->ci_upper[i] = NAN;
    r->ci_lower[4] = 240.17964222230736, r->ci_upper[4] = 262.6305674746626;
    r->ci_lower[5] = 7.9246882573132087, r->ci_upper[5] = 13.009883661878764;
    check_section("wald 90", r,
                  "\nConfidence intervals (wald, 90%):\n"
                  "                   5 %      95 %\n"
                  ".sig01              NA        NA\n"
                  ".sig02              NA        NA\n"
                  ".sig03              NA        NA\n"
                  ".sigma              NA        NA\n"
                  "(Intercept) 240.179642 262.63057\n"
                  "Days          7.924688  13.00988\n");
    r->ci_level = 0.99;
    r->ci_lower[4] = 233.826109, r->ci_upper[4] = 268.98410;
    r->ci_lower[5] = 6.485596, r->ci_upper[5] = 14.44898;
    check_section("wald 99", r,
                  "\nConfidence intervals (wald, 99%):\n"
                  "                 0.5 %    99.5 %\n"
                  ".sig01              NA        NA\n"
                  ".sig02              NA        NA\n"
                  ".sig03              NA        NA\n"
                  ".sigma              NA        NA\n"
                  "(Intercept) 233.826109 268.98410\n"
                  "Days          6.485596  14.44898\n");

    r->nboot = r->nboot_ok = 1;
    r->boot_seed = UINT64_MAX - 2;   /* seeds are uint64: all 64 bits print */
    check_section("one replicate", r,
                  "\nParametric bootstrap: 1 replicate (0 failed), seed 18446744073709551613\n");
    evm_result_free(&r);
}

static void check_golden(const char *what, evm_result *r, const char *want)
{
    char *got = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&got, &n);
    evm_result_print(f, r);
    fclose(f);
    if (strcmp(got, want)) {
        fprintf(stderr, "golden %s differs; got:\n%s---- want:\n%s----\n", what, got, want);
        CHECK(!"golden summary");
    } else {
        CHECK(1);
    }
    free(got);
    evm_result_free(&r);
}

static void test_golden(void)
{
    check_golden("REML", make_sleepstudy(1, 0), golden_reml);
    check_golden("ML", make_sleepstudy(0, 0), golden_ml);
    check_golden("lmerTest", make_sleepstudy(1, 1), golden_lmertest);
    check_golden("complex", make_complex(), golden_complex);
    char *want = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&want, &n);
    fputs(golden_lmertest, f);
    fputs(golden_inference_sections, f);
    fclose(f);
    check_golden("inference", make_inference(), want);
    free(want);
    test_golden_sections();
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_h5.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    evm_ctx *c = evm_ctx_create();
    test_round_trip(c);
    test_empty(c);
    test_sections_alone(c);
    test_atomic(c);
    test_read_errors(c);
#ifdef HAVE_HDF5_H
    test_layout(c);
    test_edited(c);
    test_damaged(c);
    test_other_kinds(c);
#endif
    test_golden();
    evm_ctx_destroy(&c);
    if (!getenv("TEST_H5_KEEP")) rm_rf(tmpdir);
    return check_summary("test_h5");
}
