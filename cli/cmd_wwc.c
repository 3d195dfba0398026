/* cmd_wwc.c — `evalmix wwc`: What Works Clearinghouse effect size, improvement index and
 * clustering correction from group-level statistics a user supplies (a report's table).
 * The numerics are in models/effsize; this file parses, checks and prints. */
#include "cli.h"
#include "effsize/effsize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The one place the options of `wwc` are described (docs/cli.md repeats it). */
static const char wwc_help[] =
    "Usage: evalmix wwc --mean-t X --sd-t S --n-t N --mean-c X --sd-c S --n-c N [options]\n"
    "       evalmix wwc --prop-t P --n-t N --prop-c P --n-c N [options]\n"
    "\n"
    "Effect size and significance by What Works Clearinghouse (WWC) rules from the\n"
    "group-level statistics of a study: Hedges' g (continuous outcome) or the Cox index\n"
    "(binary outcome), its standard error, the improvement index, the t test implied by\n"
    "the effect size and, for a cluster-assigned design analysed at the student level,\n"
    "the WWC clustering correction (t_A on h degrees of freedom).\n"
    "\n"
    "Group statistics (T: treatment/intervention group, C: comparison group):\n"
    "  --mean-t X, --mean-c X  outcome means (continuous outcome)\n"
    "  --sd-t S, --sd-c S      outcome standard deviations (continuous outcome)\n"
    "  --prop-t P, --prop-c P  proportions with the outcome, in [0, 1] (binary outcome)\n"
    "  --n-t N, --n-c N        numbers of students (always required)\n"
    "\n"
    "Options:\n"
    "  --clusters M            clusters (classrooms, schools) in both groups together:\n"
    "                          apply the WWC clustering correction\n"
    "  --icc RHO               intra-class correlation for the correction, in [0, 1)\n"
    "                          (default: 0.20 for achievement outcomes, 0.10 otherwise)\n"
    "  --outcome KIND          'achievement' (the default) or 'other': which default ICC\n"
    "  --alpha A               significance level of the verdict (default 0.05)\n"
    "  --baseline              the statistics are baseline measures: also print the WWC\n"
    "                          baseline-equivalence verdict (0.05 and 0.25 thresholds)\n"
    "  -h, --help              show this help and exit\n"
    "\n"
    "Hedges' g uses the WWC correction omega = 1 - 3/(4N - 9); the line 'exact J' gives\n"
    "metafor's escalc(measure = \"SMD\") value with the gamma-function correction and its\n"
    "sampling variance.  Formulas and sources: docs/methods.md.\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  the statistics admit no effect size (e.g. a proportion of 0 or 1, no variation,\n"
    "     more clusters than students)\n"
    "  2  usage error (unknown option, missing or malformed value, mixed outcome kinds)\n"
    "\n"
    "Examples:\n"
    "  evalmix wwc --mean-t 52.3 --sd-t 9.8 --n-t 120 --mean-c 49.1 --sd-c 10.2 --n-c 118 \\\n"
    "              --clusters 12 --icc 0.2\n"
    "  evalmix wwc --prop-t 0.62 --n-t 150 --prop-c 0.51 --n-c 140 --clusters 10\n";

static const cli_optspec wwc_opts[] = {
    {"mean-t", CLI_VALUE, 0},
    {"sd-t", CLI_VALUE, 0},
    {"n-t", CLI_VALUE, 0},
    {"mean-c", CLI_VALUE, 0},
    {"sd-c", CLI_VALUE, 0},
    {"n-c", CLI_VALUE, 0},
    {"prop-t", CLI_VALUE, 0},
    {"prop-c", CLI_VALUE, 0},
    {"clusters", CLI_VALUE, 0},
    {"icc", CLI_VALUE, 0},
    {"outcome", CLI_VALUE, 0},
    {"alpha", CLI_VALUE, 0},
    {"baseline", CLI_FLAG, 0},
};

typedef struct {
    int binary;
    double mean_t, sd_t, mean_c, sd_c, prop_t, prop_c;
    int n_t, n_c, clusters;   /* clusters 0: no correction */
    double icc, alpha;
    int baseline;
} wwc_request;

/* A finite number; usage error otherwise. */
static int get_num(const cli_args *a, const char *name, double *out)
{
    const char *s = cli_value(a, name);
    char *end;
    if (!s) return cli_usage_error("wwc", "missing required option '--%s'", name);
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v))
        return cli_usage_error("wwc", "--%s '%s' is not a number", name, s);
    *out = v;
    return CLI_EXIT_OK;
}

static int get_count(const cli_args *a, const char *name, int *out)
{
    const char *s = cli_value(a, name);
    if (!s) return cli_usage_error("wwc", "missing required option '--%s'", name);
    if (cli_parse_posint(s, 1000000000, out))
        return cli_usage_error("wwc", "--%s '%s' is not a positive whole number", name, s);
    return CLI_EXIT_OK;
}

static int read_request(const cli_args *a, wwc_request *q)
{
    static const char *const cont[] = {"mean-t", "sd-t", "mean-c", "sd-c"};
    static const char *const bin[] = {"prop-t", "prop-c"};
    int ncont = 0, nbin = 0, st;
    for (int i = 0; i < 4; i++) ncont += cli_count(a, cont[i]) > 0;
    for (int i = 0; i < 2; i++) nbin += cli_count(a, bin[i]) > 0;
    if (a->npos > 0) return cli_usage_error("wwc", "unexpected argument '%s'", a->pos[0]);
    if (ncont && nbin)
        return cli_usage_error("wwc", "give means and SDs (continuous outcome) or "
                               "proportions (binary outcome), not both");
    if (!ncont && !nbin)
        return cli_usage_error("wwc", "missing group statistics: --mean-t/--sd-t/--mean-c/"
                               "--sd-c or --prop-t/--prop-c");
    q->binary = nbin > 0;
    if (q->binary) {
        if ((st = get_num(a, "prop-t", &q->prop_t)) || (st = get_num(a, "prop-c", &q->prop_c)))
            return st;
        if (q->prop_t < 0 || q->prop_t > 1 || q->prop_c < 0 || q->prop_c > 1)
            return cli_usage_error("wwc", "proportions must lie in [0, 1]");
    } else {
        if ((st = get_num(a, "mean-t", &q->mean_t)) || (st = get_num(a, "sd-t", &q->sd_t)) ||
            (st = get_num(a, "mean-c", &q->mean_c)) || (st = get_num(a, "sd-c", &q->sd_c)))
            return st;
        if (q->sd_t < 0 || q->sd_c < 0)
            return cli_usage_error("wwc", "standard deviations must not be negative");
    }
    if ((st = get_count(a, "n-t", &q->n_t)) || (st = get_count(a, "n-c", &q->n_c))) return st;

    const char *outcome = cli_value(a, "outcome");
    if (outcome && strcmp(outcome, "achievement") != 0 && strcmp(outcome, "other") != 0)
        return cli_usage_error("wwc", "--outcome '%s' is not 'achievement' or 'other'",
                               outcome);
    q->clusters = 0;
    q->icc = outcome && strcmp(outcome, "other") == 0 ? EVM_ES_ICC_OTHER
                                                     : EVM_ES_ICC_ACHIEVEMENT;
    if (cli_count(a, "clusters")) {
        if ((st = get_count(a, "clusters", &q->clusters))) return st;
        if (q->clusters < 2)
            return cli_usage_error("wwc", "--clusters must be at least 2");
    } else if (cli_count(a, "icc") || outcome) {
        return cli_usage_error("wwc", "--%s applies to the clustering correction: give "
                               "--clusters too", cli_count(a, "icc") ? "icc" : "outcome");
    }
    if (cli_count(a, "icc")) {
        if ((st = get_num(a, "icc", &q->icc))) return st;
        if (q->icc < 0 || q->icc >= 1)
            return cli_usage_error("wwc", "--icc must lie in [0, 1)");
    }
    q->alpha = 0.05;
    if (cli_count(a, "alpha")) {
        if ((st = get_num(a, "alpha", &q->alpha))) return st;
        if (!(q->alpha > 0 && q->alpha < 1))
            return cli_usage_error("wwc", "--alpha must lie strictly between 0 and 1");
    }
    q->baseline = cli_count(a, "baseline") > 0;
    return CLI_EXIT_OK;
}

/* p-values: four decimals, or "< 0.0001". */
static void print_p(const char *label, double p)
{
    if (p < 0.0001)
        printf("  %-38s < 0.0001\n", label);
    else
        printf("  %-38s %.4f\n", label, p);
}

static int run_wwc(const wwc_request *q)
{
    int st = CLI_EXIT_ERROR;
    evm_ctx *c = evm_ctx_create();
    if (!c) {
        cli_error("out of memory");
        return CLI_EXIT_ERROR;
    }
    double g;
    char label[80];
    evm_es_smd s;
    evm_es_cox x;
    if (q->binary) {
        if (evm_es_cox_index(q->prop_t, q->n_t, q->prop_c, q->n_c, &x, c) < 0) goto error;
        g = x.g;
    } else {
        if (evm_es_smd_groups(q->mean_t, q->sd_t, q->n_t, q->mean_c, q->sd_c, q->n_c, &s, c) < 0)
            goto error;
        g = s.g;
    }
    evm_es_cluster cl;
    /* clusters = 2 with rho = 0 is the uncorrected t test: computed even without --clusters. */
    if (evm_es_wwc_cluster(g, q->n_t, q->n_c, q->clusters ? q->clusters : 2,
                           q->clusters ? q->icc : 0.0, &cl, c) < 0)
        goto error;

    printf("WWC effect size from group statistics: %s outcome\n",
           q->binary ? "binary" : "continuous");
    printf("  %-22s %12s %12s\n", "", "treatment", "comparison");
    if (q->binary) {
        printf("  %-22s %12.6g %12.6g\n", "proportion", q->prop_t, q->prop_c);
    } else {
        printf("  %-22s %12.6g %12.6g\n", "mean", q->mean_t, q->mean_c);
        printf("  %-22s %12.6g %12.6g\n", "SD", q->sd_t, q->sd_c);
    }
    printf("  %-22s %12d %12d\n", "n", q->n_t, q->n_c);
    printf("\n");
    if (q->binary) {
        printf("  %-38s %.4f\n", "log odds ratio", x.log_or);
        snprintf(label, sizeof label, "Cox index (WWC, omega = %.5f)", x.omega);
        printf("  %-38s %.4f  (SE %.4f)\n", label, x.g, x.se_g);
        printf("  %-38s %.4f  (SE %.4f)\n", "Cox index without omega (OR2DN)", x.d_cox,
               sqrt(x.v_cox));
    } else {
        printf("  %-38s %.6g\n", "mean difference", s.diff);
        printf("  %-38s %.6g\n", "pooled SD", s.sd_pooled);
        snprintf(label, sizeof label, "Hedges' g (WWC, omega = %.5f)", s.omega);
        printf("  %-38s %.4f  (SE %.4f)\n", label, s.g, s.se_g);
        printf("  %-38s %.4f  (SE %.4f)\n", "Hedges' g (exact J, as metafor SMD)", s.g_exact,
               sqrt(s.v_exact));
    }
    printf("  %-38s %+.2f\n", "improvement index", evm_es_improvement_index(g));
    if (q->baseline)
        printf("  %-38s %s\n", "baseline equivalence (WWC)",
               evm_es_baseline_str(evm_es_baseline_verdict(g)));
    snprintf(label, sizeof label, "t ignoring clustering (%.0f df)", cl.df);
    printf("  %-38s %.3f\n", label, cl.t);
    print_p("p", cl.p);

    if (q->clusters) {
        printf("\nWWC clustering correction: %d clusters, average size %.2f, ICC %.2f\n",
               q->clusters, cl.n_avg, cl.rho);
        printf("  %-38s %.3f\n", "t_A", cl.t_a);
        printf("  %-38s %.2f\n", "h (degrees of freedom)", cl.h);
        print_p("p", cl.p_a);
        printf("  verdict: %sstatistically significant at the %g level after the clustering "
               "correction\n", cl.p_a < q->alpha ? "" : "not ", q->alpha);
    } else {
        printf("  verdict: %sstatistically significant at the %g level (no clustering "
               "correction: give --clusters for a cluster-assigned design)\n",
               cl.p < q->alpha ? "" : "not ", q->alpha);
    }
    st = cli_finish_stdout(CLI_EXIT_OK);
    goto cleanup;
error:
    cli_report_error(c);
    st = CLI_EXIT_ERROR;
cleanup:
    evm_ctx_destroy(&c);
    return st;
}

int cli_cmd_wwc(int argc, char **argv)
{
    cli_args a;
    wwc_request q = {0};
    int st = cli_parse("wwc", wwc_opts, (int)(sizeof wwc_opts / sizeof *wwc_opts), argc - 1,
                       argv + 1, &a);
    if (st != CLI_EXIT_OK) goto cleanup;
    if (a.help) {
        fputs(wwc_help, stdout);
        st = cli_finish_stdout(CLI_EXIT_OK);
        goto cleanup;
    }
    st = read_request(&a, &q);
    if (st != CLI_EXIT_OK) goto cleanup;
    st = run_wwc(&q);
cleanup:
    cli_args_free(&a);
    return st;
}
