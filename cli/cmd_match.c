/* cmd_match.c — `evalmix match`: build a matched comparison sample from a CSV file
 * (models/match), write it as CSV (--out), the balance report as HDF5 (--report) and a
 * Love plot (--plot), and print the balance table.
 *
 * Order of work: options; the output paths (cli_check_outputs); the header against the options
 * (a typo fails before a pass over millions of rows); the data; the match; the files;
 * then the summary on stdout and the warnings on stderr. */
#include "cli.h"
#include "match/match.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The one place the options of `match` are described (docs/cli.md repeats it). */
static const char match_help[] =
    "Usage: evalmix match FILE.csv --treatment COL --covariates VARS [options]\n"
    "\n"
    "Match comparison students to treated students (as R's MatchIt), write the matched\n"
    "sample with its weights, and show baseline balance with the What Works\n"
    "Clearinghouse verdict for every covariate.\n"
    "\n"
    "Options:\n"
    "  --treatment COL    the 0/1 treatment column (required)\n"
    "  --covariates VARS  the covariates, e.g. prior,frl,ell (required; numeric or\n"
    "                     categorical; repeatable)\n"
    "  --method M         nearest (default): k:1 nearest neighbour, as MatchIt;\n"
    "                     vcg: virtual comparison groups, the k nearest with\n"
    "                     replacement (k = 51 unless --ratio), within --window;\n"
    "                     cem: coarsened exact matching\n"
    "  --distance D       ps (default): propensity score from a logistic regression;\n"
    "                     logit: its linear predictor; mahalanobis: on the covariates\n"
    "  --exact VARS       match only within cells of these columns (e.g. grade,subject)\n"
    "  --ratio K          comparison students per treated student (default 1; vcg 51)\n"
    "  --replace          match with replacement (nearest)\n"
    "  --caliper C        only matches within C standard deviations of the distance\n"
    "  --window VAR=W     vcg: only comparisons with |VAR - VAR of the treated| <= W;\n"
    "                     repeatable\n"
    "  --cutpoints VAR=N  cem: N equal-width bins for VAR (0: exact; default Sturges);\n"
    "                     repeatable\n"
    "  --id COL           student ids, to list unmatched students (default: row numbers)\n"
    "  --site COL         the school column: the matched file's 'site' is the school of\n"
    "                     each set's treated student\n"
    "  --seed N           break ties in distance in a random order drawn from N,\n"
    "                     0 to 2^64-1 (default: by row order, as MatchIt)\n"
    "  --out FILE.csv     write the matched sample: the input rows plus distance,\n"
    "                     weights, subclass and site (replaced atomically)\n"
    "  --report FILE.h5   write the balance report (HDF5)\n"
    "  --plot FILE.svg    draw the Love plot (WWC effect sizes before and after)\n"
    "  --threads N        use N threads to read the data, 1 to 65536 (default: all\n"
    "                     cores)\n"
    "  --strict           exit with status 3 if there was any warning (files are\n"
    "                     still written)\n"
    "  --quiet            do not print the summary (warnings still go to stderr)\n"
    "  -h, --help         show this help and exit\n"
    "\n"
    "Exit status:\n"
    "  0  success (warnings, if any, on stderr)\n"
    "  1  error in the input or a file; nothing is written\n"
    "  2  usage error (unknown option, missing FILE, --treatment or --covariates,\n"
    "     bad value)\n"
    "  3  with --strict: warnings (unmatched treated students, separation)\n"
    "\n"
    "Examples:\n"
    "  evalmix match lalonde.csv --treatment treat --id id --covariates "
    "age,educ,race,married,nodegree,re74,re75\n"
    "  evalmix match students.csv --treatment treat --exact grade,subject --distance logit \\\n"
    "      --covariates prior,frl,ell,school_frl --caliper 0.2 --ratio 3 --site school \\\n"
    "      --out matched.csv --report balance.h5 --plot love.svg\n";

static const cli_optspec match_opts[] = {
    {"treatment", CLI_VALUE, 0},
    {"covariates", CLI_LIST, 1},
    {"method", CLI_VALUE, 0},
    {"distance", CLI_VALUE, 0},
    {"exact", CLI_LIST, 1},
    {"ratio", CLI_VALUE, 0},
    {"replace", CLI_FLAG, 0},
    {"caliper", CLI_VALUE, 0},
    {"window", CLI_LIST, 1},
    {"cutpoints", CLI_LIST, 1},
    {"id", CLI_VALUE, 0},
    {"site", CLI_VALUE, 0},
    {"seed", CLI_VALUE, 0},
    {"out", CLI_VALUE, 0},
    {"report", CLI_VALUE, 0},
    {"plot", CLI_VALUE, 0},
    {"threads", CLI_VALUE, 0},
    {"strict", CLI_FLAG, 0},
    {"quiet", CLI_FLAG, 0},
};

typedef struct {
    const char *input, *out, *report, *plot;
    int threads, strict, quiet;
    evm_match_opts o;
    char **wvar, **cvar;   /* owned names of --window / --cutpoints */
    double *wwidth;
    int *cbins;
} match_request;

static void request_free(match_request *q)
{
    for (int i = 0; i < q->o.nwindow; i++) free(q->wvar[i]);
    for (int i = 0; i < q->o.ncut; i++) free(q->cvar[i]);
    free(q->wvar);
    free(q->cvar);
    free(q->wwidth);
    free(q->cbins);
}

/* "VAR=NUMBER" into name and value; -1 when not of that form. */
static int split_pair(const char *s, char **name, double *value)
{
    const char *eq = strchr(s, '=');
    if (!eq || eq == s || !eq[1]) return -1;
    char *end;
    errno = 0;
    double v = strtod(eq + 1, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *name = strndup(s, (size_t)(eq - s));
    *value = v;
    return *name ? 0 : -2;
}

static int read_pairs(const cli_args *a, const char *opt, int integer, char ***names,
                      double **dvals, int **ivals, int *count)
{
    char *const *vals;
    int n = cli_values(a, opt, &vals);
    *names = calloc((size_t)n + 1, sizeof **names);
    if (dvals) *dvals = calloc((size_t)n + 1, sizeof **dvals);
    if (ivals) *ivals = calloc((size_t)n + 1, sizeof **ivals);
    if (!*names || (dvals && !*dvals) || (ivals && !*ivals)) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    for (int i = 0; i < n; i++) {
        double v;
        int r = split_pair(vals[i], &(*names)[i], &v);
        if (r == -2) {
            cli_error("out of memory");
            return CLI_EXIT_ERROR;
        }
        if (r < 0 || v < 0 || (integer && (v != floor(v) || v > INT_MAX)))
            return cli_usage_error("match", "--%s '%s' is not VAR=%s", opt, vals[i],
                                   integer ? "N (a whole number >= 0)" : "W (a number >= 0)");
        for (int j = 0; j < i; j++)
            if (strcmp((*names)[j], (*names)[i]) == 0)
                return cli_usage_error("match", "--%s given twice for '%s'", opt, (*names)[i]);
        if (dvals) (*dvals)[i] = v;
        if (ivals) (*ivals)[i] = (int)v;
        *count = i + 1;
    }
    return CLI_EXIT_OK;
}

static int read_request(const cli_args *a, match_request *q)
{
    evm_match_opts *o = &q->o;
    evm_match_opts_default(o);
    if (a->npos == 0) return cli_usage_error("match", "missing input file FILE.csv");
    if (a->npos > 1) return cli_usage_error("match", "unexpected argument '%s'", a->pos[1]);
    q->input = a->pos[0];
    o->treatment = cli_value(a, "treatment");
    if (!o->treatment) return cli_usage_error("match", "missing required option '--treatment'");
    o->ncov = cli_values(a, "covariates", (char *const **)&o->covariates);
    if (o->ncov == 0) return cli_usage_error("match", "missing required option '--covariates'");
    o->nexact = cli_values(a, "exact", (char *const **)&o->exact);
    const char *s = cli_value(a, "method");
    if (s) {
        if (strcmp(s, "nearest") == 0) o->method = EVM_MATCH_NEAREST;
        else if (strcmp(s, "vcg") == 0) o->method = EVM_MATCH_VCG;
        else if (strcmp(s, "cem") == 0) o->method = EVM_MATCH_CEM;
        else return cli_usage_error("match", "--method '%s' is not nearest, vcg or cem", s);
    }
    if ((s = cli_value(a, "distance"))) {
        if (strcmp(s, "ps") == 0) o->distance = EVM_DIST_PS;
        else if (strcmp(s, "logit") == 0) o->distance = EVM_DIST_LOGIT;
        else if (strcmp(s, "mahalanobis") == 0) o->distance = EVM_DIST_MAHALANOBIS;
        else return cli_usage_error("match", "--distance '%s' is not ps, logit or mahalanobis", s);
    }
    if ((s = cli_value(a, "ratio")) && cli_parse_posint(s, 100000, &o->ratio))
        return cli_usage_error("match", "--ratio '%s' is not a positive whole number", s);
    o->replace = cli_count(a, "replace") > 0;
    if ((s = cli_value(a, "caliper"))) {
        char *end;
        errno = 0;
        o->caliper = strtod(s, &end);
        if (errno || *end || !(o->caliper > 0) || !isfinite(o->caliper))
            return cli_usage_error("match", "--caliper '%s' is not a positive number", s);
    }
    int st = read_pairs(a, "window", 0, &q->wvar, &q->wwidth, NULL, &o->nwindow);
    if (st != CLI_EXIT_OK) return st;
    st = read_pairs(a, "cutpoints", 1, &q->cvar, NULL, &q->cbins, &o->ncut);
    if (st != CLI_EXIT_OK) return st;
    o->window_var = (const char *const *)q->wvar;
    o->window_width = q->wwidth;
    o->cut_var = (const char *const *)q->cvar;
    o->cut_bins = q->cbins;
    o->id = cli_value(a, "id");
    o->site = cli_value(a, "site");
    if ((st = cli_read_seed(a, &o->seed)) != CLI_EXIT_OK) return st;
    q->out = cli_value(a, "out");
    q->report = cli_value(a, "report");
    q->plot = cli_value(a, "plot");
    q->threads = 0;
    if ((st = cli_read_threads(a, &q->threads)) != CLI_EXIT_OK) return st;
    q->strict = cli_count(a, "strict") > 0;
    q->quiet = cli_count(a, "quiet") > 0;
    /* combinations the model would refuse, reported as usage errors */
    if (o->method == EVM_MATCH_CEM && (cli_count(a, "ratio") || o->replace || o->caliper > 0))
        return cli_usage_error("match", "--ratio, --replace and --caliper do not apply to "
                               "--method cem");
    if (o->method == EVM_MATCH_CEM && cli_count(a, "distance"))
        return cli_usage_error("match", "--distance does not apply to --method cem");
    if (o->method != EVM_MATCH_CEM && o->ncut)
        return cli_usage_error("match", "--cutpoints applies to --method cem only");
    if (o->method != EVM_MATCH_VCG && o->nwindow)
        return cli_usage_error("match", "--window applies to --method vcg only");
    if (o->method == EVM_MATCH_VCG && o->replace)
        return cli_usage_error("match", "--replace is implied by --method vcg");
    if (o->caliper > 0 && o->distance == EVM_DIST_MAHALANOBIS)
        return cli_usage_error("match", "--caliper needs --distance ps or logit");
    return CLI_EXIT_OK;
}

static int check_outputs(const match_request *q)
{
    const cli_output outs[3] = {
        {"--out", q->out, NULL}, {"--report", q->report, NULL}, {"--plot", q->plot, NULL}};
    return cli_check_outputs("match", &q->input, 1, outs, 3);
}

static int run_match(const match_request *q, int full_argc, char **full_argv)
{
    int st = CLI_EXIT_ERROR, run_status = 0;
    evm_ctx *c = evm_ctx_create();
    evm_colreq *req = NULL;
    int nreq = 0;
    evm_frame *frame = NULL;
    evm_match_result *r = NULL;
    char *command = NULL, *created = NULL;
    const char *written[3];
    int nwritten = 0;
    if (!c) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    evm_ctx_set_threads(c, q->threads);
    if (evm_match_check_header(q->input, &q->o, c) < 0) goto engine_error;
    if (evm_match_columns(&q->o, &req, &nreq, c) < 0) goto engine_error;
    if (evm_csv_read(q->input, req, nreq, &frame, c) < 0) goto engine_error;
    run_status = evm_match_run(frame, &q->o, &r, c);
    if (run_status < 0) goto engine_error;
    /* Every file or none: a failure after a file was written removes it again. */
    if (q->out) {
        if (evm_match_write_csv(q->input, q->out, r, q->o.site, c) < 0) goto engine_error;
        written[nwritten++] = q->out;
    }
    if (q->report) {
        command = cli_command_line(full_argc, full_argv);
        created = cli_now_iso8601();
        if (!command || !created) {
            cli_error("out of memory");
            goto remove_written;
        }
        evm_match_provenance p = {command, created, q->input, evm_frame_sha256(frame),
                                  evm_ctx_threads(c)};
        if (evm_match_write_h5(q->report, r, &q->o, frame, &p, c) < 0) goto engine_error;
        written[nwritten++] = q->report;
    }
    if (q->plot && evm_match_plot(q->plot, r, c) < 0) goto engine_error;
    if (!q->quiet) evm_match_print(stdout, r, &q->o);
    st = cli_finish_stdout(CLI_EXIT_OK);
    if (cli_report_warnings(c) > 0 && q->strict && st == CLI_EXIT_OK) st = CLI_EXIT_STRICT;
    goto cleanup;
engine_error:
    cli_report_error(c);
remove_written:
    st = CLI_EXIT_ERROR;
    for (int i = 0; i < nwritten; i++) unlink(written[i]);
cleanup:
    free(command);
    free(created);
    evm_match_result_free(&r);
    evm_frame_destroy(&frame);
    evm_colreq_free(&req, nreq);
    evm_ctx_destroy(&c);
    return st;
}

int cli_cmd_match(int argc, char **argv, int full_argc, char **full_argv)
{
    cli_args a;
    match_request q = {0};
    int st = cli_parse("match", match_opts, (int)(sizeof match_opts / sizeof *match_opts),
                       argc - 1, argv + 1, &a);
    if (st != CLI_EXIT_OK) goto cleanup;
    if (a.help) {
        fputs(match_help, stdout);
        st = cli_finish_stdout(CLI_EXIT_OK);
        goto cleanup;
    }
    if ((st = read_request(&a, &q)) != CLI_EXIT_OK) goto cleanup;
    if ((st = check_outputs(&q)) != CLI_EXIT_OK) goto cleanup;
    st = run_match(&q, full_argc, full_argv);
cleanup:
    request_free(&q);
    cli_args_free(&a);
    return st;
}
