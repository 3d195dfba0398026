/* main.c — `evalmix`: dispatch to a subcommand; global --help and --version. */
#include "cli.h"

#include <stdio.h>
#include <malloc.h>
#include <string.h>

int cli_cmd_match(int argc, char **argv, int full_argc, char **full_argv);   /* cmd_match.c */

int cli_cmd_simulate(int argc, char **argv);   /* cmd_simulate.c */

/* cli/cmd_wwc.c (declared here rather than in cli.h: one registration point). */
int cli_cmd_wwc(int argc, char **argv);
int cli_cmd_effects(int argc, char **argv, int full_argc, char **full_argv);   /* cmd_effects.c */
int cli_cmd_compare(int argc, char **argv, int full_argc, char **full_argv);   /* cmd_compare.c */

/* The one place the global usage is described (docs/cli.md repeats it). */
static const char main_help[] =
    "Usage: evalmix COMMAND [options]\n"
    "\n"
    "Mixed-effects models for education evaluation.\n"
    "\n"
    "Commands:\n"
    "  compare   likelihood-ratio tests between saved fits, as lme4's anova(m1, m2)\n"
    "  effects   programme effects school by school, by cohort and by subgroup\n"
    "  fit       fit a linear mixed model to a CSV file; print and save the result\n"
    "  match     match comparison students to treated ones; weights and balance\n"
    "  show      print the summary stored in a result file (.h5)\n"
    "  simulate  write a simulated evaluation dataset with known truth (CSV)\n"
    "  wwc       WWC effect size and clustering correction from group statistics\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help and exit ('evalmix COMMAND --help' for a command)\n"
    "  --version   show the version and exit\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  error in the input, the model or a file; nothing is written\n"
    "  2  usage error (unknown command or option, missing argument, bad value)\n"
    "  3  'fit --strict' only: the fit gave warnings (the result file is written)\n"
    "\n"
    "Example:\n"
    "  evalmix fit hsb.csv --formula 'MathAch ~ SES*Sector + (SES|School)' --out hsb.h5\n"
    "  evalmix show hsb.h5\n";

int main(int argc, char **argv)
{
#ifdef M_MMAP_THRESHOLD
    /* Blocks up to 32 MB come from the heap and freed memory stays there, so the read
     * buffers and the frame's columns are reused by the model instead of being unmapped
     * and faulted in again (a first-touch fault costs ~10 µs on a VM): 200,000-row fit
     * ~6 ms faster.  Larger blocks are still mapped on their own and given back. */
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
    if (argc < 2)
        return cli_usage_error(NULL, "missing command");
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        fputs(main_help, stdout);
        return cli_finish_stdout(CLI_EXIT_OK);
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("evalmix %s\n", EVM_VERSION);
        return cli_finish_stdout(CLI_EXIT_OK);
    }
    if (strcmp(cmd, "fit") == 0) return cli_cmd_fit(argc - 1, argv + 1, argc, argv);
    if (strcmp(cmd, "show") == 0) return cli_cmd_show(argc - 1, argv + 1);
    if (strcmp(cmd, "match") == 0) return cli_cmd_match(argc - 1, argv + 1, argc, argv);
    if (strcmp(cmd, "simulate") == 0) return cli_cmd_simulate(argc - 1, argv + 1);
    if (strcmp(cmd, "wwc") == 0) return cli_cmd_wwc(argc - 1, argv + 1);
    if (strcmp(cmd, "effects") == 0) return cli_cmd_effects(argc - 1, argv + 1, argc, argv);
    if (strcmp(cmd, "compare") == 0) return cli_cmd_compare(argc - 1, argv + 1, argc, argv);
    if (cmd[0] == '-') return cli_usage_error(NULL, "unknown option '%s'", cmd);
    return cli_usage_error(NULL, "unknown command '%s'", cmd);
}
