/* cmd_simulate.c — `evalmix simulate`: write an evaluation dataset with known truth
 * (models/simulate) as CSV, and optionally the true school effects and parameters. */
#include "cli.h"
#include "simulate/simulate.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The one place the options of `simulate` are described (docs/simulate.md repeats it). */
static const char simulate_help[] =
    "Usage: evalmix simulate --out FILE.csv [options]\n"
    "\n"
    "Simulate an education evaluation with known truth: schools in implementation\n"
    "cohorts 1 and 2, in pairs of an implementing school (about half of its classrooms\n"
    "treated) and a comparison school matched to it; classrooms of about 25 students\n"
    "with a prior score and the subgroups frl, ell and black; school-varying treatment\n"
    "effects (a random slope on treat by school).  The outcome is in units of the\n"
    "comparison students' SD given the covariates, so effects are effect sizes.  The same\n"
    "options and seed give a byte-identical file for any number of threads.\n"
    "\n"
    "Options:\n"
    "  --out FILE.csv     write the students here ('-': standard output) (required)\n"
    "                     columns: student, school, classroom (within school), site\n"
    "                     (the implementing school a student is compared for), cohort,\n"
    "                     treat, prior, frl, ell, black, score\n"
    "  --truth FILE.csv   write the true school effects: school, cohort, true_effect,\n"
    "                     role, site, students, treated, classrooms, true_intercept\n"
    "  --params FILE.csv  write the true parameters (fixed effects and the SDs of\n"
    "                     the model's random effects, named as 'evalmix fit' names them)\n"
    "  --students N       number of students (rows) (default 5000; >= 2 per school;\n"
    "                     at most 2147483647, i.e. 2^31-1)\n"
    "  --schools S        number of schools, >= 2 (default 40; half implementing)\n"
    "  --seed N           seed of the random streams, 0 to 2^64-1 (default 1)\n"
    "  --effect X         mean treatment effect in cohort 1 (default 0.20)\n"
    "  --effect2 X        mean treatment effect in cohort 2 (default: --effect + 0.10)\n"
    "  --effect-sd X      SD of the school effects around their cohort mean (default 0.10)\n"
    "  --icc-school X     share of the outcome's variance (given the covariates) between\n"
    "                     schools (default 0.15)\n"
    "  --icc-class X      share between classrooms within schools (default 0.05); the\n"
    "                     two shares add up to less than 1, the rest is within classrooms\n"
    "  --threads N        use N threads, 1 to 65536 (default: all cores; the file does\n"
    "                     not change)\n"
    "  --quiet            do not print the summary of the truth\n"
    "  -h, --help         show this help and exit\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  a file could not be written; nothing is left half-written\n"
    "  2  usage error (unknown option, missing --out, bad value)\n"
    "\n"
    "Examples:\n"
    "  evalmix simulate --students 5000 --schools 40 --seed 2024 --out data.csv \\\n"
    "      --truth truth.csv\n"
    "  evalmix fit data.csv --formula 'score ~ prior + frl + treat*factor(cohort) +\n"
    "      (1 + treat|school) + (1|school:classroom)'\n";

int cli_cmd_simulate(int argc, char **argv);   /* called from main.c */

static const cli_optspec simulate_opts[] = {
    {"out", CLI_VALUE, 0},        {"truth", CLI_VALUE, 0},     {"params", CLI_VALUE, 0},
    {"students", CLI_VALUE, 0},   {"schools", CLI_VALUE, 0},   {"seed", CLI_VALUE, 0},
    {"effect", CLI_VALUE, 0},     {"effect2", CLI_VALUE, 0},   {"effect-sd", CLI_VALUE, 0},
    {"icc-school", CLI_VALUE, 0}, {"icc-class", CLI_VALUE, 0}, {"threads", CLI_VALUE, 0},
    {"quiet", CLI_FLAG, 0},
};

/* Rows of --students: 2^31 - 1, a 100 GB file; beyond, a typo rather than a plan. */
#define MAX_STUDENTS 2147483647

typedef struct {
    evm_sim_opts o;
    const char *out, *truth, *params;
    int threads, quiet;
} simulate_request;

/* A finite number ("0.2", "-1e-1"); 0 on success. */
static int parse_number(const char *s, double *out)
{
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int read_number(const cli_args *a, const char *name, double *x)
{
    const char *s = cli_value(a, name);
    if (s && parse_number(s, x))
        return cli_usage_error("simulate", "--%s '%s' is not a number", name, s);
    return CLI_EXIT_OK;
}

static int read_request(const cli_args *a, simulate_request *q)
{
    if (a->npos > 0) return cli_usage_error("simulate", "unexpected argument '%s'", a->pos[0]);
    evm_sim_opts_default(&q->o);
    q->out = cli_value(a, "out");
    q->truth = cli_value(a, "truth");
    q->params = cli_value(a, "params");
    q->quiet = cli_count(a, "quiet") > 0;
    if (!q->out) return cli_usage_error("simulate", "missing required option '--out'");
    const char *s;
    uint64_t u;
    if ((s = cli_value(a, "students"))) {
        const int r = cli_parse_u64(s, 1, MAX_STUDENTS, &u);
        if (r > 0)
            return cli_usage_error("simulate", "--students '%s' is too many: at most %d",
                                   s, MAX_STUDENTS);
        if (r < 0)
            return cli_usage_error("simulate", "--students '%s' is not a positive whole number",
                                   s);
        q->o.students = (int64_t)u;
    }
    int n;
    if ((s = cli_value(a, "schools"))) {
        if (cli_parse_posint(s, INT32_MAX, &n))
            return cli_usage_error("simulate", "--schools '%s' is not a positive whole number",
                                   s);
        q->o.schools = n;
    }
    int st;
    if ((st = cli_read_seed(a, &q->o.seed)) != CLI_EXIT_OK) return st;
    q->threads = 0;
    if ((st = cli_read_threads(a, &q->threads)) != CLI_EXIT_OK) return st;
    if ((st = read_number(a, "effect", &q->o.effect)) != CLI_EXIT_OK) return st;
    q->o.effect2 = q->o.effect + 0.10;
    if ((st = read_number(a, "effect2", &q->o.effect2)) != CLI_EXIT_OK ||
        (st = read_number(a, "effect-sd", &q->o.effect_sd)) != CLI_EXIT_OK ||
        (st = read_number(a, "icc-school", &q->o.icc_school)) != CLI_EXIT_OK ||
        (st = read_number(a, "icc-class", &q->o.icc_class)) != CLI_EXIT_OK)
        return st;
    if ((q->truth && strcmp(q->truth, "-") == 0) || (q->params && strcmp(q->params, "-") == 0))
        return cli_usage_error("simulate", "only --out may be '-' (standard output)");
    return CLI_EXIT_OK;
}

static void print_summary(const evm_sim *s, const simulate_request *q)
{
    int32_t n;
    const evm_sim_school *sc = evm_sim_schools(s, &n);
    int64_t nclass = 0, ntreated = 0;
    int nimpl = 0;
    for (int32_t k = 0; k < n; k++) {
        nclass += sc[k].nclass;
        ntreated += sc[k].ntreated;
        nimpl += sc[k].implementing;
    }
    printf("Simulated %" PRId64 " students (%" PRId64 " treated) in %" PRId64
           " classrooms of %d schools\n(%d implementing, %d comparison), seed %" PRIu64
           ": %s\n",
           q->o.students, ntreated, nclass, (int)n, nimpl, (int)n - nimpl, q->o.seed, q->out);
    if (q->truth) printf("True school effects: %s\n", q->truth);
    if (q->params) printf("True parameters: %s\n", q->params);
    printf("\nTrue parameters of score ~ prior + frl + ell + black + treat*factor(cohort) +\n"
           "    (1 + treat|school) + (1|school:classroom):\n");
    evm_sim_param p[EVM_SIM_NPARAMS];
    evm_sim_params(s, p);
    for (int i = 0; i < EVM_SIM_NPARAMS; i++) {
        char name[96];
        if (!*p[i].group)
            snprintf(name, sizeof name, "%s", p[i].var1);
        else if (!*p[i].var1)
            snprintf(name, sizeof name, "sd %s", p[i].group);
        else if (!*p[i].var2)
            snprintf(name, sizeof name, "sd %s %s", p[i].group, p[i].var1);
        else
            snprintf(name, sizeof name, "cor %s %s.%s", p[i].group, p[i].var1, p[i].var2);
        printf("  %-34s %9.4f\n", name, p[i].value);
    }
}

static int run_simulate(const simulate_request *q)
{
    int st = CLI_EXIT_ERROR;
    evm_sim *s = NULL;
    const char *written[2];
    int nwritten = 0;
    evm_ctx *c = evm_ctx_create();
    if (!c) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    evm_ctx_set_threads(c, q->threads);
    if (evm_sim_create(&q->o, &s, c) < 0) {
        st = evm_ctx_status(c) == EVM_ERR_ARG
                 ? cli_usage_error("simulate", "%s", evm_ctx_message(c))
                 : (cli_report_error(c), CLI_EXIT_ERROR);
        goto cleanup;
    }
    /* every output, before the first is written (they are written one after another) */
    const int to_stdout = strcmp(q->out, "-") == 0;
    const cli_output outs[3] = {{"--out", to_stdout ? NULL : q->out, "the simulated data"},
                                {"--truth", q->truth, "the true school effects"},
                                {"--params", q->params, "the true parameters"}};
    if ((st = cli_check_outputs("simulate", NULL, 0, outs, 3)) != CLI_EXIT_OK) goto cleanup;
    /* all files or none: one written before a later failure is removed again */
    if (evm_sim_write_csv(s, q->out, c) < 0) goto engine_error;
    if (!to_stdout) written[nwritten++] = q->out;
    if (q->truth) {
        if (evm_sim_write_truth(s, q->truth, c) < 0) goto engine_error;
        written[nwritten++] = q->truth;
    }
    if (q->params && evm_sim_write_params(s, q->params, c) < 0) goto engine_error;
    if (!q->quiet && !to_stdout) print_summary(s, q);
    st = cli_finish_stdout(CLI_EXIT_OK);
    goto cleanup;
engine_error:
    cli_report_error(c);
    st = CLI_EXIT_ERROR;
    for (int i = 0; i < nwritten; i++) unlink(written[i]);
cleanup:
    evm_sim_destroy(&s);
    evm_ctx_destroy(&c);
    return st;
}

int cli_cmd_simulate(int argc, char **argv)
{
    cli_args a;
    simulate_request q = {0};
    int st = cli_parse("simulate", simulate_opts,
                       (int)(sizeof simulate_opts / sizeof *simulate_opts), argc - 1, argv + 1,
                       &a);
    if (st != CLI_EXIT_OK) goto cleanup;
    if (a.help) {
        fputs(simulate_help, stdout);
        st = cli_finish_stdout(CLI_EXIT_OK);
        goto cleanup;
    }
    st = read_request(&a, &q);
    if (st == CLI_EXIT_OK) st = run_simulate(&q);
cleanup:
    cli_args_free(&a);
    return st;
}
