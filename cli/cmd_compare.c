/* cmd_compare.c — `evalmix compare`: likelihood-ratio tests between fits saved by
 * `evalmix fit --out`, printed as lme4's anova(m1, m2, ...) prints them; --out saves the
 * table.  The checks and the tests are the library's (evm_compare_fits). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The one place the options of `compare` are described (docs/cli.md repeats it). */
static const char compare_help[] =
    "Usage: evalmix compare A.h5 B.h5 [C.h5 ...] [--out FILE.h5]\n"
    "\n"
    "Compare fits saved by 'evalmix fit --out' with likelihood-ratio tests, as lme4's\n"
    "anova(m1, m2): models ordered by npar = p + ntheta + 1, each tested against the one\n"
    "before it (Chisq = 2 x the difference in logLik, Df = the difference in npar).\n"
    "ML fits may differ in fixed and random effects; REML fits are compared by their\n"
    "REML criteria and only when their fixed effects are the same.  All fits must be of\n"
    "the same response on the same data (input file hash and number of observations).\n"
    "When a model adds only random-effect parameters, a note also gives the p-value of\n"
    "the 50:50 mixture of chi-squared(Df) and chi-squared(Df - 1) (boundary test).\n"
    "\n"
    "Options:\n"
    "  --out FILE.h5  also write the table to FILE.h5 (replaced atomically; nothing is\n"
    "                 written on error)\n"
    "  -h, --help     show this help and exit\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  a file is missing or not a result file, or the fits cannot be compared\n"
    "     (different data or response; REML fits with different fixed effects; REML\n"
    "     and ML mixed)\n"
    "  2  usage error (unknown option, fewer than two files)\n"
    "\n"
    "Examples:\n"
    "  evalmix compare ri.h5 rs.h5\n"
    "  evalmix compare m0.h5 m1.h5 m2.h5 --out lrt.h5\n";

static const cli_optspec compare_opts[] = {
    {"out", CLI_VALUE, 0},
};

/* Row labels: file names without folder and ".h5"; the paths as given when two would be
 * the same; MODEL1, MODEL2, ... (as lme4) when even those repeat. */
static char **make_labels(char *const *paths, int n)
{
    char **lab = calloc((size_t)n, sizeof *lab);
    if (!lab) return NULL;
    for (int pass = 0; pass < 3; pass++) {
        for (int i = 0; i < n; i++) {
            free(lab[i]);
            const char *base = strrchr(paths[i], '/');
            base = base && base[1] ? base + 1 : paths[i];
            size_t len = strlen(base);
            if (len > 3 && strcmp(base + len - 3, ".h5") == 0) len -= 3;
            char num[32];
            snprintf(num, sizeof num, "MODEL%d", i + 1);
            lab[i] = pass == 0 ? strndup(base, len) : strdup(pass == 1 ? paths[i] : num);
            if (!lab[i]) goto nomem;
        }
        int dup = 0;
        for (int i = 0; i < n && !dup; i++)
            for (int j = i + 1; j < n; j++)
                if (strcmp(lab[i], lab[j]) == 0) dup = 1;
        if (!dup) break;
    }
    return lab;
nomem:
    for (int i = 0; i < n; i++) free(lab[i]);
    free(lab);
    return NULL;
}

int cli_cmd_compare(int argc, char **argv, int full_argc, char **full_argv)
{
    cli_args a;
    evm_ctx *c = NULL;
    evm_result **fits = NULL;
    evm_comparison *t = NULL;
    char **labels = NULL, *command = NULL;
    int n = 0;
    int st = cli_parse("compare", compare_opts, (int)(sizeof compare_opts / sizeof *compare_opts),
                       argc - 1, argv + 1, &a);
    if (st != CLI_EXIT_OK) goto cleanup;
    if (a.help) {
        fputs(compare_help, stdout);
        st = cli_finish_stdout(CLI_EXIT_OK);
        goto cleanup;
    }
    n = a.npos;
    if (n < 2) {
        st = cli_usage_error("compare", n == 0 ? "missing result files A.h5 B.h5"
                                               : "need at least two result files");
        goto cleanup;
    }
    const char *out = cli_value(&a, "out");
    /* --out naming an input is documented as a usage error here (exit 2) */
    for (int i = 0; out && i < n; i++)
        if (cli_same_file(out, a.pos[i]) > 0) {
            st = cli_usage_error("compare", "--out '%s' is one of the files compared", out);
            goto cleanup;
        }
    const cli_output outs[1] = {{"--out", out, "the comparison table"}};
    if ((st = cli_check_outputs("compare", (const char *const *)a.pos, n, outs, 1)) !=
        CLI_EXIT_OK)
        goto cleanup;
    if (!(c = evm_ctx_create()) || !(fits = calloc((size_t)n, sizeof *fits)) ||
        !(labels = make_labels(a.pos, n)) ||
        (out && !(command = cli_command_line(full_argc, full_argv)))) {
        cli_error("out of memory");
        st = CLI_EXIT_ERROR;
        goto cleanup;
    }
    for (int i = 0; i < n; i++)
        if (evm_h5_read_fit(a.pos[i], &fits[i], c) < 0) {
            cli_report_error(c);
            st = CLI_EXIT_ERROR;
            goto cleanup;
        }
    if (evm_compare_fits((const evm_result *const *)fits, (const char *const *)labels,
                         (const char *const *)a.pos, n, &t, c) < 0 ||
        (out && evm_h5_write_compare(out, t, command, c) < 0)) {
        cli_report_error(c);
        st = CLI_EXIT_ERROR;
        goto cleanup;
    }
    evm_comparison_print(stdout, t);
    st = cli_finish_stdout(CLI_EXIT_OK);
    for (int i = 0; i < n; i++)
        if (!fits[i]->converged)
            fprintf(stderr, "evalmix: warning: %s: the fit did not converge; its logLik may "
                            "not be the maximum\n", a.pos[i]);
cleanup:
    if (fits)
        for (int i = 0; i < n; i++) evm_result_free(&fits[i]);
    free(fits);
    if (labels)
        for (int i = 0; i < n; i++) free(labels[i]);
    free(labels);
    free(command);
    evm_comparison_free(&t);
    evm_ctx_destroy(&c);
    cli_args_free(&a);
    return st;
}
