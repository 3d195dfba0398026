/* cmd_fit.c — `evalmix fit`: read the columns a formula needs from a CSV file, fit the
 * linear mixed model, write the HDF5 result file (--out) and print the summary.
 *
 * Order of output: the result file is written first and the summary printed after it,
 * so a failed write leaves nothing on stdout that looks like success.  Warnings follow
 * the summary on stderr. */
#include "cli.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The one place the options of `fit` are described (docs/cli.md repeats it). */
static const char fit_help[] =
    "Usage: evalmix fit FILE.csv --formula FORMULA [options]\n"
    "\n"
    "Fit a linear mixed model (lme4 formula syntax) to the columns of a CSV file,\n"
    "print an lme4-like summary and optionally save the fit in an HDF5 result file.\n"
    "\n"
    "Options:\n"
    "  --formula FORMULA  the model, e.g. 'y ~ x + (x|g)' (required)\n"
    "  --reml             fit by restricted maximum likelihood (the default)\n"
    "  --ml               fit by maximum likelihood (to compare fixed effects by LRT)\n"
    "  --weights COL      prior weights from the numeric column COL (all positive)\n"
    "  --ref VAR=LEVEL    make LEVEL the reference level of factor VAR; repeatable,\n"
    "                     or several at once: --ref Sector=Public,Grade=3\n"
    "  --out FILE.h5      write the fit to FILE.h5 (replaced atomically; its folder\n"
    "                     must exist; nothing is written on error)\n"
    "  --threads N        use N threads, 1 to 65536 (default: all cores)\n"
    "\n"
    "Inference (see docs/methods.md):\n"
    "  --ddf METHOD       denominator df for t and F tests: satterthwaite (default,\n"
    "                     as lmerTest), kenward-roger (as pbkrtest), residual, none\n"
    "  --contrast NAME=EXPR  a linear contrast of coefficients, e.g.\n"
    "                     'year2=treat + treat:factor(year)2'; repeatable\n"
    "                     (grammar: docs/contrasts.md)\n"
    "  --anova            F test of every fixed-effect term (lmerTest's type III)\n"
    "  --ci METHOD        confidence intervals: profile, wald or boot\n"
    "  --level L          confidence level for --ci and --bootstrap (default 0.95)\n"
    "  --bootstrap N      parametric bootstrap with N replicates, in parallel\n"
    "  --seed S           seed of the bootstrap's random streams, 0 to 2^64-1\n"
    "                     (default 1); the results are identical for any --threads\n"
    "  --robust VAR       cluster-robust (CR2) standard errors by the factor VAR\n"
    "  --max-eval N       stop the optimiser after N objective evaluations\n"
    "  --strict           exit with status 3 if there was any warning (the file is\n"
    "                     still written)\n"
    "  --quiet            do not print the summary (warnings still go to stderr)\n"
    "  --timings          print the wall time of each stage (read, model, fit,\n"
    "                     inference, write) to stderr\n"
    "  -h, --help         show this help and exit\n"
    "\n"
    "Exit status:\n"
    "  0  success (warnings, if any, on stderr)\n"
    "  1  error in the input, the model or a file; nothing is written\n"
    "  2  usage error (unknown option, missing FILE or --formula, bad value)\n"
    "  3  with --strict: the fit gave warnings (boundary fit, no convergence,\n"
    "     dropped columns)\n"
    "\n"
    "Examples:\n"
    "  evalmix fit hsb.csv --formula 'MathAch ~ SES*Sector + (SES|School)' --out hsb.h5\n"
    "  evalmix fit sleepstudy.csv --formula 'Reaction ~ Days + (Days|Subject)' --ml\n";

static const cli_optspec fit_opts[] = {
    {"formula", CLI_VALUE, 0},
    {"reml", CLI_FLAG, 0},
    {"ml", CLI_FLAG, 0},
    {"weights", CLI_VALUE, 0},
    {"ref", CLI_VALUE, 1},   /* split at commas by split_refs, not by the parser */
    {"out", CLI_VALUE, 0},
    {"threads", CLI_VALUE, 0},
    {"max-eval", CLI_VALUE, 0},
    {"strict", CLI_FLAG, 0},
    {"quiet", CLI_FLAG, 0},
    {"timings", CLI_FLAG, 0},
    {"ddf", CLI_VALUE, 0},
    {"contrast", CLI_VALUE, 1},
    {"anova", CLI_FLAG, 0},
    {"ci", CLI_VALUE, 0},
    {"level", CLI_VALUE, 0},
    {"bootstrap", CLI_VALUE, 0},
    {"seed", CLI_VALUE, 0},
    {"robust", CLI_VALUE, 0},
};

typedef struct {
    const char *input, *formula, *weights, *out;
    int reml, strict, quiet, timings, threads, max_eval;
    int nref;
    char **ref_var, **ref_level;
    evm_infer_opts infer;
    char **con_name, **con_expr;
} fit_request;

static void fit_request_free(fit_request *q)
{
    for (int i = 0; i < q->nref; i++) {
        free(q->ref_var[i]);
        free(q->ref_level[i]);
    }
    free(q->ref_var);
    free(q->ref_level);
    for (int i = 0; i < q->infer.ncontrasts; i++) {
        free(q->con_name[i]);
        free(q->con_expr[i]);
    }
    free(q->con_name);
    free(q->con_expr);
}

static int add_ref(fit_request *q, const char *s, size_t len)
{
    const char *eq = memchr(s, '=', len);
    if (!eq || eq == s || eq + 1 == s + len)
        return cli_usage_error("fit", "--ref '%.*s' is not VAR=LEVEL", (int)len, s);
    size_t vlen = (size_t)(eq - s);
    for (int i = 0; i < q->nref; i++)
        if (strlen(q->ref_var[i]) == vlen && strncmp(q->ref_var[i], s, vlen) == 0)
            return cli_usage_error("fit", "--ref given twice for '%.*s'", (int)vlen, s);
    char **v = realloc(q->ref_var, (size_t)(q->nref + 1) * sizeof *v);
    if (v) q->ref_var = v;
    char **l = realloc(q->ref_level, (size_t)(q->nref + 1) * sizeof *l);
    if (l) q->ref_level = l;
    char *var = v ? strndup(s, vlen) : NULL;
    char *lev = l ? strndup(eq + 1, len - vlen - 1) : NULL;
    if (!var || !lev) {
        free(var);
        free(lev);
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    q->ref_var[q->nref] = var;
    q->ref_level[q->nref++] = lev;
    return CLI_EXIT_OK;
}

/* "--ref a=x,b=y" is two settings, but a level may itself contain commas
 * ("--ref Race=Black, non-Hispanic"): split only when every part is VAR=LEVEL. */
static int split_refs(fit_request *q, const char *val)
{
    int all_pairs = 1;
    for (const char *p = val;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (!eq || eq == p) all_pairs = 0;
        if (!comma) break;
        p = comma + 1;
    }
    if (!all_pairs || !strchr(val, ',')) return add_ref(q, val, strlen(val));
    for (const char *p = val;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int st = add_ref(q, p, len);
        if (st != CLI_EXIT_OK) return st;
        if (!comma) break;
        p = comma + 1;
    }
    return CLI_EXIT_OK;
}

/* --ddf, --contrast, --anova, --ci, --level, --bootstrap, --seed, --robust */
static int read_inference(const cli_args *a, fit_request *q)
{
    evm_infer_opts *io = &q->infer;
    evm_infer_opts_default(io);
    io->seed = 1;
    const char *s = cli_value(a, "ddf");
    if (s) {
        evm_ctx *c = evm_ctx_create();
        int bad = !c || evm_ddf_parse(s, &io->ddf, c) != EVM_OK;
        evm_ctx_destroy(&c);
        if (bad)
            return cli_usage_error("fit", "--ddf '%s' is not one of satterthwaite, "
                                          "kenward-roger, residual, none", s);
    }
    char *const *cons;
    const int ncon = cli_values(a, "contrast", &cons);
    q->con_name = calloc((size_t)(ncon ? ncon : 1), sizeof(char *));
    q->con_expr = calloc((size_t)(ncon ? ncon : 1), sizeof(char *));
    if (!q->con_name || !q->con_expr) return cli_usage_error("fit", "out of memory");
    for (int i = 0; i < ncon; i++) {
        const char *eq = strchr(cons[i], '=');
        if (!eq || eq == cons[i] || !eq[1])
            return cli_usage_error("fit", "--contrast '%s' is not NAME=EXPRESSION", cons[i]);
        q->con_name[i] = strndup(cons[i], (size_t)(eq - cons[i]));
        q->con_expr[i] = strdup(eq + 1);
        io->ncontrasts = i + 1;
        if (!q->con_name[i] || !q->con_expr[i]) return cli_usage_error("fit", "out of memory");
    }
    io->contrast_name = (const char *const *)q->con_name;
    io->contrast_expr = (const char *const *)q->con_expr;
    io->anova = cli_count(a, "anova") > 0;
    io->ci = cli_value(a, "ci");
    if (io->ci && strcmp(io->ci, "profile") && strcmp(io->ci, "wald") && strcmp(io->ci, "boot"))
        return cli_usage_error("fit", "--ci '%s' is not one of profile, wald, boot", io->ci);
    if ((s = cli_value(a, "level"))) {
        char *end;
        io->level = strtod(s, &end);
        if (*end || !(io->level > 0 && io->level < 1))
            return cli_usage_error("fit", "--level '%s' is not a number between 0 and 1", s);
    }
    int n = 0;
    if ((s = cli_value(a, "bootstrap"))) {
        if (cli_parse_posint(s, INT_MAX, &n))
            return cli_usage_error("fit", "--bootstrap '%s' is not a positive whole number", s);
        io->nboot = n;
    }
    uint64_t seed = 1;
    int st = cli_read_seed(a, &seed);
    if (st != CLI_EXIT_OK) return st;
    io->seed = seed;
    if (io->ci && strcmp(io->ci, "boot") == 0 && io->nboot == 0)
        return cli_usage_error("fit", "--ci boot needs --bootstrap N");
    io->robust = cli_value(a, "robust");
    return CLI_EXIT_OK;
}

/* Turn parsed options into a fit request; usage errors are printed here. */
static int read_request(const cli_args *a, fit_request *q)
{
    if (a->npos == 0) return cli_usage_error("fit", "missing input file FILE.csv");
    if (a->npos > 1) return cli_usage_error("fit", "unexpected argument '%s'", a->pos[1]);
    q->input = a->pos[0];
    q->formula = cli_value(a, "formula");
    if (!q->formula) return cli_usage_error("fit", "missing required option '--formula'");
    if (cli_count(a, "ml") && cli_count(a, "reml"))
        return cli_usage_error("fit", "options '--ml' and '--reml' exclude each other");
    q->reml = cli_count(a, "ml") ? 0 : 1;
    q->weights = cli_value(a, "weights");
    q->out = cli_value(a, "out");
    q->strict = cli_count(a, "strict") > 0;
    q->quiet = cli_count(a, "quiet") > 0;
    q->timings = cli_count(a, "timings") > 0;
    q->threads = 0;  /* all cores */
    int st = cli_read_threads(a, &q->threads);
    if (st != CLI_EXIT_OK) return st;
    q->max_eval = 0;
    const char *s = cli_value(a, "max-eval");
    if (s && cli_parse_posint(s, INT_MAX, &q->max_eval))
        return cli_usage_error("fit", "--max-eval '%s' is not a positive whole number", s);
    char *const *refs;
    int nrefs = cli_values(a, "ref", &refs);
    for (int i = 0; i < nrefs; i++) {
        st = split_refs(q, refs[i]);
        if (st != CLI_EXIT_OK) return st;
    }
    return read_inference(a, q);
}

/* The reader requests: the formula's columns plus the weights column and the robust
 * cluster column (as a factor) when the formula does not already read them so. */
static evm_colreq *with_extra(const evm_colreq *req, int nreq, const char *weights,
                              const char *cluster, int *n)
{
    evm_colreq *all = malloc((size_t)(nreq + 2) * sizeof *all);
    if (!all) return NULL;
    int have_w = 0, have_c = 0;
    for (int i = 0; i < nreq; i++) {
        all[i] = req[i];
        if (weights && strcmp(req[i].name, weights) == 0) have_w = 1;
        if (cluster && strcmp(req[i].name, cluster) == 0 && req[i].as == EVM_AS_FACTOR) have_c = 1;
    }
    *n = nreq;
    if (weights && !have_w) all[(*n)++] = (evm_colreq){weights, EVM_AS_AUTO};
    if (cluster && !have_c) all[(*n)++] = (evm_colreq){cluster, EVM_AS_FACTOR};
    return all;
}

/* Fail fast, before any row is read, when the formula or --weights names a column the
 * file does not have (a typo should not cost a pass over ten million rows).  The engine
 * checks the model against a frame with the header's columns and no rows, so the message
 * quotes the formula with a caret, as other formula errors do.  Returns 0 when every
 * column is there, or when the check cannot tell (the reader then reports the problem),
 * and -1 with the error on the context. */
static int check_columns(const char *input, const evm_colreq *req, int nreq,
                         const char *formula, const evm_lmm_opts *o, evm_ctx *c)
{
    static const double no_rows[1] = {0};
    char **names = NULL;
    int n = 0, missing = 0, st = 0;
    evm_frame *f = NULL;
    evm_lmm *m = NULL;
    if (evm_csv_header(input, &names, &n, c) < 0) return -1;
    for (int i = 0; i < nreq && !missing; i++) {
        missing = 1;
        for (int k = 0; k < n && missing; k++) missing = strcmp(req[i].name, names[k]) != 0;
    }
    if (!missing || !(f = evm_frame_create(0, c))) goto cleanup;
    for (int k = 0; k < n; k++)
        if (evm_frame_find(f, names[k], -1) < 0 &&
            evm_frame_add_numeric(f, names[k], no_rows, c) < 0)
            goto cleanup;
    if (evm_lmm_create(formula, f, o, &m, c) == EVM_ERR_COLUMN) st = -1;
cleanup:
    if (st == 0 && missing) evm_ctx_clear(c);  /* whatever failed here, the reader says */
    evm_lmm_destroy(&m);
    evm_frame_destroy(&f);
    evm_strv_free(&names, n);
    return st;
}

/* Report a warning status that left no line on the context (so --strict never exits 3
 * silently); returns how many warnings were shown. */
static int report_fit_warnings(const evm_ctx *c, int fit_status)
{
    int n = cli_report_warnings(c);
    if (n == 0 && fit_status > 0) {
        fprintf(stderr, "evalmix: warning: %s\n", evm_status_str(fit_status));
        n = 1;
    }
    return n;
}

/* --timings: wall time of each stage, printed to stderr at the end. */
enum { ST_READ, ST_MODEL, ST_FIT, ST_INFER, ST_WRITE, ST_N };
typedef struct {
    struct timespec start, last;
    double sec[ST_N];
} stage_clock;

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + 1e-9 * (double)(b->tv_nsec - a->tv_nsec);
}

static void stage_done(stage_clock *k, int stage)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    k->sec[stage] += seconds_between(&k->last, &now);
    k->last = now;
}

static void print_timings(const stage_clock *k, const evm_result *r)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    fprintf(stderr,
            "evalmix: timings: read %.3f s, model %.3f s, fit %.3f s (%d evaluations), "
            "inference %.3f s, write %.3f s; total %.3f s\n",
            k->sec[ST_READ], k->sec[ST_MODEL], k->sec[ST_FIT], r->n_evaluations,
            k->sec[ST_INFER], k->sec[ST_WRITE], seconds_between(&k->start, &now));
}

static int run_fit(const fit_request *q, int full_argc, char **full_argv)
{
    stage_clock clk = {0};
    clock_gettime(CLOCK_MONOTONIC, &clk.start);
    clk.last = clk.start;
    int st = CLI_EXIT_ERROR, fit_status = 0;
    evm_ctx *c = evm_ctx_create();
    evm_colreq *req = NULL, *all = NULL;
    int nreq = 0, nall = 0;
    evm_frame *frame = NULL;
    evm_lmm *m = NULL;
    evm_result *r = NULL;
    char sha[65] = "";
    if (!c) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    evm_ctx_set_threads(c, q->threads);

    evm_lmm_opts o;
    evm_lmm_opts_default(&o);
    o.reml = q->reml;
    o.weights = q->weights;
    o.nref = q->nref;
    o.ref_var = (const char *const *)q->ref_var;
    o.ref_level = (const char *const *)q->ref_level;
    if (q->max_eval > 0) o.max_eval = q->max_eval;
    o.cluster = q->infer.robust;

    if (evm_formula_columns(q->formula, &o, &req, &nreq, c) < 0) goto engine_error;
    /* before the data are read: a long fit should not fail at the end for a typo */
    const cli_output out = {"--out", q->out, "the result file"};
    if ((st = cli_check_outputs("fit", &q->input, 1, &out, 1)) != CLI_EXIT_OK) goto cleanup;
    st = CLI_EXIT_ERROR;
    if (!(all = with_extra(req, nreq, q->weights, q->infer.robust, &nall))) goto nomem;
    if (check_columns(q->input, all, nall, q->formula, &o, c) < 0) goto engine_error;
    if (evm_csv_read(q->input, all, nall, &frame, c) < 0) goto engine_error;
    if (evm_frame_sha256(frame)) snprintf(sha, sizeof sha, "%s", evm_frame_sha256(frame));
    stage_done(&clk, ST_READ);
    if (evm_lmm_create(q->formula, frame, &o, &m, c) < 0) goto engine_error;
    evm_frame_destroy(&frame);  /* the model keeps what it needs */
    stage_done(&clk, ST_MODEL);
    fit_status = evm_lmm_fit(m, c);
    if (fit_status < 0) goto engine_error;
    if (evm_lmm_result(m, &r, c) < 0) goto engine_error;
    stage_done(&clk, ST_FIT);
    evm_infer_opts io = q->infer;
    if (io.nboot > 0 && isatty(STDERR_FILENO)) io.progress = cli_progress, io.progress_arg = "bootstrap";
    int inf_status = evm_lmm_infer(m, &io, r, c);
    if (inf_status < 0) goto engine_error;
    if (inf_status > 0 && fit_status == 0) fit_status = inf_status;
    evm_lmm_destroy(&m);
    stage_done(&clk, ST_INFER);
    if (cli_set_provenance(r, full_argc, full_argv, q->input, sha, evm_ctx_threads(c)))
        goto nomem;
    if (q->out && evm_h5_write_fit(q->out, r, c) < 0) goto engine_error;
    stage_done(&clk, ST_WRITE);
    if (q->timings) print_timings(&clk, r);

    if (!q->quiet) evm_result_print(stdout, r);
    st = cli_finish_stdout(CLI_EXIT_OK);  /* the summary before the warnings */
    if (report_fit_warnings(c, fit_status) > 0 && q->strict && st == CLI_EXIT_OK)
        st = CLI_EXIT_STRICT;
    goto cleanup;

nomem:
    cli_error("out of memory");
    st = CLI_EXIT_ERROR;
    goto cleanup;
engine_error:
    cli_report_error(c);
    st = CLI_EXIT_ERROR;
cleanup:
    evm_result_free(&r);
    evm_lmm_destroy(&m);
    evm_frame_destroy(&frame);
    free(all);
    evm_colreq_free(&req, nreq);
    evm_ctx_destroy(&c);
    return st;
}

int cli_cmd_fit(int argc, char **argv, int full_argc, char **full_argv)
{
    cli_args a;
    fit_request q = {0};
    int st = cli_parse("fit", fit_opts, (int)(sizeof fit_opts / sizeof *fit_opts),
                       argc - 1, argv + 1, &a);
    if (st != CLI_EXIT_OK) goto cleanup;
    if (a.help) {
        fputs(fit_help, stdout);
        st = cli_finish_stdout(CLI_EXIT_OK);
        goto cleanup;
    }
    st = read_request(&a, &q);
    if (st != CLI_EXIT_OK) goto cleanup;
    st = run_fit(&q, full_argc, full_argv);
cleanup:
    fit_request_free(&q);
    cli_args_free(&a);
    return st;
}
