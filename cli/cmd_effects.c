/* cmd_effects.c — `evalmix effects`: programme effects school by school, by cohort and by
 * subgroup from one fitted model (models/effects).  Outputs are written first (--out,
 * --table, --plot: all of them or none), then the compact table is printed; warnings
 * follow on stderr. */
#include "cli.h"
#include "effects/effects.h"
#include "effsize/effsize.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The one place the options of `effects` are described (docs/cli.md repeats it). */
static const char effects_help[] =
    "Usage: evalmix effects FILE.csv --formula FORMULA --treatment VAR [options]\n"
    "\n"
    "Fit the model, then report the treatment effect (treated - comparison) overall,\n"
    "in each level of the --by and --subgroup variables (as emmeans does from the same\n"
    "model), and school by school (the random treatment slope, with prediction intervals,\n"
    "beside no-pooling estimates with CR2 standard errors clustered by classroom), with\n"
    "effect sizes (the effect over the model's SD of the comparison condition, over the\n"
    "comparison group's SD, Hedges' g as the WWC computes it, improvement indices) and the\n"
    "intra-class correlations of the random intercepts.\n"
    "\n"
    "Options:\n"
    "  --formula FORMULA  the model, e.g. 'score ~ prior + treat*factor(cohort) +\n"
    "                     (1 + treat|school) + (1|school:classroom)' (required)\n"
    "  --treatment VAR    the treatment: numeric 0/1, or a factor of two levels whose\n"
    "                     second level is the treated one (required)\n"
    "  --by VAR           effects in each level of VAR (e.g. cohort); repeatable, or\n"
    "                     several at once: --by cohort,grade\n"
    "  --subgroup VAR     effects in each level of a student subgroup (e.g. black);\n"
    "                     repeatable or comma-separated\n"
    "  --site VAR         the school factor of the school-by-school effects (default: the\n"
    "                     grouping factor of the random treatment slope)\n"
    "  --cluster VAR      clusters of the no-pooling CR2 SEs (default: the finest grouping\n"
    "                     factor nested in the schools, e.g. the classroom)\n"
    "  --adjust METHOD    p-value adjustment over the by/subgroup family: holm (default),\n"
    "                     bh (Benjamini-Hochberg) or none\n"
    "  --min-cell N       leave out of printed, tabled and plotted school results every\n"
    "                     school with fewer than N students in an arm (default 10)\n"
    "  --sd-ref SD        also give each effect divided by this reference SD (e.g. a\n"
    "                     national norm's)\n"
    "  --level L          confidence and prediction level (default 0.95)\n"
    "  --ddf METHOD       df of the contrasts: satterthwaite (default), kenward-roger,\n"
    "                     residual or none (normal)\n"
    "  --no-profile       skip the profile intervals of the SD of school effects and of\n"
    "                     the intra-class correlations\n"
    "  --out FILE.h5      write the fit and /effects to FILE.h5\n"
    "  --table FILE       write the contrast and school tables as CSV, or Markdown when\n"
    "                     FILE ends in .md\n"
    "  --plot FILE.svg    write the forest plot of the school effects\n"
    "                     (--out, --table and --plot are written all or none; they\n"
    "                     must be regular files, differ from each other and from the\n"
    "                     input, and be in folders that exist)\n"
    "  --ml, --reml       fit by ML or REML (default REML)\n"
    "  --weights COL      prior weights from the numeric column COL\n"
    "  --ref VAR=LEVEL    make LEVEL the reference level of factor VAR (repeatable)\n"
    "  --threads N        use N threads, 1 to 65536 (default: all cores)\n"
    "  --strict           exit with status 3 if there was any warning\n"
    "  --quiet            do not print the table\n"
    "  -h, --help         show this help and exit\n"
    "\n"
    "Exit status: 0 success; 1 error in the input, the model or a file (nothing is\n"
    "written); 2 usage error; 3 with --strict: warnings.\n"
    "\n"
    "Example:\n"
    "  evalmix effects data.csv --formula 'score ~ prior + frl + treat*factor(cohort) +\n"
    "    treat*black + (1 + treat|school) + (1|school:classroom)' --treatment treat \\\n"
    "    --by cohort --subgroup black --out effects.h5 --plot effects.svg --table effects.csv\n";

static const cli_optspec effects_opts[] = {
    {"formula", CLI_VALUE, 0},   {"treatment", CLI_VALUE, 0}, {"by", CLI_LIST, 1},
    {"subgroup", CLI_LIST, 1},   {"site", CLI_VALUE, 0},      {"adjust", CLI_VALUE, 0},
    {"cluster", CLI_VALUE, 0},
    {"min-cell", CLI_VALUE, 0},  {"sd-ref", CLI_VALUE, 0},    {"level", CLI_VALUE, 0},
    {"ddf", CLI_VALUE, 0},       {"no-profile", CLI_FLAG, 0}, {"out", CLI_VALUE, 0},
    {"table", CLI_VALUE, 0},     {"plot", CLI_VALUE, 0},      {"ml", CLI_FLAG, 0},
    {"reml", CLI_FLAG, 0},       {"weights", CLI_VALUE, 0},   {"ref", CLI_LIST, 1},
    {"threads", CLI_VALUE, 0},   {"strict", CLI_FLAG, 0},     {"quiet", CLI_FLAG, 0},
};

typedef struct {
    const char *input, *out, *table, *plot;
    int strict, quiet, threads;
    evm_effects_opts o;
    char **ref_var, **ref_level;
} effects_request;

static void request_free(effects_request *q)
{
    for (int i = 0; i < q->o.lmm.nref; i++) {
        free(q->ref_var[i]);
        free(q->ref_level[i]);
    }
    free(q->ref_var);
    free(q->ref_level);
}

static int parse_double(const char *s, double *out)
{
    char *end;
    if (!s || !*s) return -1;
    *out = strtod(s, &end);
    return *end || !isfinite(*out) ? -1 : 0;
}

static int read_refs(const cli_args *a, effects_request *q)
{
    char *const *refs;
    const int n = cli_values(a, "ref", &refs);
    if (n == 0) return CLI_EXIT_OK;
    q->ref_var = calloc((size_t)n, sizeof *q->ref_var);
    q->ref_level = calloc((size_t)n, sizeof *q->ref_level);
    if (!q->ref_var || !q->ref_level) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(refs[i], '=');
        if (!eq || eq == refs[i] || !eq[1])
            return cli_usage_error("effects", "--ref '%s' is not VAR=LEVEL", refs[i]);
        q->ref_var[i] = strndup(refs[i], (size_t)(eq - refs[i]));
        q->ref_level[i] = strdup(eq + 1);
        q->o.lmm.nref = i + 1;
        if (!q->ref_var[i] || !q->ref_level[i]) {
            cli_error("out of memory");
            return CLI_EXIT_ERROR;
        }
    }
    q->o.lmm.ref_var = (const char *const *)q->ref_var;
    q->o.lmm.ref_level = (const char *const *)q->ref_level;
    return CLI_EXIT_OK;
}

static int read_request(const cli_args *a, effects_request *q)
{
    evm_effects_opts_default(&q->o);
    if (a->npos == 0) return cli_usage_error("effects", "missing input file FILE.csv");
    if (a->npos > 1) return cli_usage_error("effects", "unexpected argument '%s'", a->pos[1]);
    q->input = a->pos[0];
    if (!(q->o.formula = cli_value(a, "formula")))
        return cli_usage_error("effects", "missing required option '--formula'");
    if (!(q->o.treatment = cli_value(a, "treatment")))
        return cli_usage_error("effects", "missing required option '--treatment'");
    if (cli_count(a, "ml") && cli_count(a, "reml"))
        return cli_usage_error("effects", "options '--ml' and '--reml' exclude each other");
    q->o.lmm.reml = cli_count(a, "ml") ? 0 : 1;
    q->o.lmm.weights = cli_value(a, "weights");
    q->o.nby = cli_values(a, "by", (char *const **)&q->o.by);
    q->o.nsubgroup = cli_values(a, "subgroup", (char *const **)&q->o.subgroup);
    q->o.site = cli_value(a, "site");
    q->o.cluster = cli_value(a, "cluster");
    q->o.sd_profile = cli_count(a, "no-profile") == 0;
    q->out = cli_value(a, "out");
    q->table = cli_value(a, "table");
    q->plot = cli_value(a, "plot");
    q->strict = cli_count(a, "strict") > 0;
    q->quiet = cli_count(a, "quiet") > 0;
    const char *s;
    if ((s = cli_value(a, "adjust"))) {
        evm_es_adjust m;
        evm_ctx *c = evm_ctx_create();
        int bad = evm_es_adjust_parse(s, &m, c) < 0;
        evm_ctx_destroy(&c);
        if (bad) return cli_usage_error("effects", "--adjust '%s' is not holm, bh or none", s);
        q->o.adjust = (int)m;
    }
    if ((s = cli_value(a, "min-cell"))) {
        if (strcmp(s, "0") == 0) q->o.min_cell = 0;
        else if (cli_parse_posint(s, INT_MAX, &q->o.min_cell))
            return cli_usage_error("effects", "--min-cell '%s' is not a whole number >= 0", s);
    }
    if ((s = cli_value(a, "sd-ref")) && (parse_double(s, &q->o.sd_ref) || !(q->o.sd_ref > 0)))
        return cli_usage_error("effects", "--sd-ref '%s' is not a positive number", s);
    if ((s = cli_value(a, "level")) &&
        (parse_double(s, &q->o.level) || !(q->o.level > 0 && q->o.level < 1)))
        return cli_usage_error("effects", "--level '%s' is not a number between 0 and 1", s);
    if ((s = cli_value(a, "ddf"))) {
        evm_ctx *dc = evm_ctx_create();
        const int bad = !dc || evm_ddf_parse(s, &q->o.ddf, dc) != EVM_OK;
        evm_ctx_destroy(&dc);
        if (bad)
            return cli_usage_error("effects", "--ddf '%s' is not one of satterthwaite, "
                                              "kenward-roger, residual, none", s);
    }
    const int st = cli_read_threads(a, &q->threads);
    return st != CLI_EXIT_OK ? st : read_refs(a, q);
}

static int report_warnings(const evm_ctx *c, int status)
{
    int n = cli_report_warnings(c);
    if (n == 0 && status > 0) {
        fprintf(stderr, "evalmix: warning: %s\n", evm_status_str(status));
        n = 1;
    }
    return n;
}

static int run_effects(const effects_request *q, int full_argc, char **full_argv)
{
    int st = CLI_EXIT_ERROR, status = 0;
    evm_ctx *c = evm_ctx_create();
    evm_colreq *req = NULL;
    int nreq = 0;
    evm_frame *frame = NULL;
    evm_effects *e = NULL;
    if (!c) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    evm_ctx_set_threads(c, q->threads);
    if (evm_effects_columns(&q->o, &req, &nreq, c) < 0) goto engine_error;
    /* before the data are read and the model is fitted */
    const cli_output outs[3] = {{"--out", q->out, "the result file"},
                                {"--table", q->table, "the table"},
                                {"--plot", q->plot, "the plot"}};
    if ((st = cli_check_outputs("effects", &q->input, 1, outs, 3)) != CLI_EXIT_OK) goto cleanup;
    st = CLI_EXIT_ERROR;
    if (evm_csv_read(q->input, req, nreq, &frame, c) < 0) goto engine_error;
    if ((status = evm_effects_run(frame, &q->o, &e, c)) < 0) goto engine_error;
    if (cli_set_provenance(e->fit, full_argc, full_argv, q->input, evm_frame_sha256(frame),
                           evm_ctx_threads(c))) {
        cli_error("out of memory");
        goto cleanup;
    }
    /* all of --out, --table and --plot, or none of them */
    if (evm_effects_write_outputs(q->out, q->table, q->plot, e, c) < 0) goto engine_error;
    if (!q->quiet) evm_effects_print(stdout, e);
    st = cli_finish_stdout(CLI_EXIT_OK);
    if (report_warnings(c, status) > 0 && q->strict && st == CLI_EXIT_OK) st = CLI_EXIT_STRICT;
    goto cleanup;
engine_error:
    cli_report_error(c);
    st = CLI_EXIT_ERROR;
cleanup:
    evm_effects_free(&e);
    evm_frame_destroy(&frame);
    evm_colreq_free(&req, nreq);
    evm_ctx_destroy(&c);
    return st;
}

int cli_cmd_effects(int argc, char **argv, int full_argc, char **full_argv)
{
    cli_args a;
    effects_request q;
    memset(&q, 0, sizeof q);
    int st = cli_parse("effects", effects_opts, (int)(sizeof effects_opts / sizeof *effects_opts),
                       argc - 1, argv + 1, &a);
    if (st != CLI_EXIT_OK) goto cleanup;
    if (a.help) {
        fputs(effects_help, stdout);
        st = cli_finish_stdout(CLI_EXIT_OK);
        goto cleanup;
    }
    if ((st = read_request(&a, &q)) != CLI_EXIT_OK) goto cleanup;
    st = run_effects(&q, full_argc, full_argv);
cleanup:
    request_free(&q);
    cli_args_free(&a);
    return st;
}
