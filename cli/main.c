/* main.c — `evalmix`: dispatch to a subcommand; global --help and --version. */
#include "cli.h"

#include <stdio.h>
#include <malloc.h>
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
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
    "  3  with --strict (fit, effects, match): there were warnings (the files are\n"
    "     still written)\n"
    "\n"
    "Example:\n"
    "  evalmix fit hsb.csv --formula 'MathAch ~ SES*Sector + (SES|School)' --out hsb.h5\n"
    "  evalmix show hsb.h5\n";

/* The process's memory policy (glibc).  On a virtual machine a first-touch fault of a
 * 4 KB page costs ~10 µs, so pages are reused and, where possible, 2 MB pages are used:
 * - blocks up to 32 MB come from the heap and freed memory stays there, so the read
 *   buffers and the frame's columns are reused by the model instead of being unmapped
 *   and faulted in again (200,000-row fit ~6 ms faster); larger blocks are still mapped
 *   on their own and given back;
 * - one arena: helper threads allocate from the same heap;
 * - the heap grows with 64 MB to spare, and that room is advised to use transparent huge
 *   pages, as glibc's glibc.malloc.hugetlb=1 tunable does for a whole heap: ~450 fewer
 *   faults and ~4 ms less for a 200,000-row fit.  (Blocks of 512 KB and more get huge
 *   pages wherever they are: engine/core/mem.c.) */
static void memory_policy(void)
{
#ifdef M_MMAP_THRESHOLD
    const uintptr_t huge = (uintptr_t)2 << 20;
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_TOP_PAD, 64 << 20);
    void *p = malloc(1 << 20);   /* grows the heap now, by the block and the pad */
    if (!p) return;
    const uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    const uintptr_t hi = (uintptr_t)sbrk(0) & ~(huge - 1);
    free(p);
#ifdef MADV_HUGEPAGE
    if (hi > lo) madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#endif
#endif
}

int main(int argc, char **argv)
{
    memory_policy();
    /* libcrypto serves only the input's SHA-256: without openssl.cnf and the error
     * strings its start-up takes ~0.7 ms instead of ~1.8 ms. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS, NULL);
    if (argc < 2)
        return cli_usage_error(NULL, "missing command");
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0) {
        fputs(main_help, stdout);
        return cli_finish_stdout(CLI_EXIT_OK);
    }
    if (strcmp(cmd, "--version") == 0) {
        if (argc > 2) return cli_usage_error(NULL, "unexpected argument '%s'", argv[2]);
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
    if (strncmp(cmd, "--help=", 7) == 0 || strncmp(cmd, "--version=", 10) == 0)
        return cli_usage_error(NULL, "option '%.*s' takes no value",
                               (int)(strchr(cmd, '=') - cmd), cmd);
    if (cmd[0] == '-') return cli_usage_error(NULL, "unknown option '%s'", cmd);
    return cli_usage_error(NULL, "unknown command '%s'", cmd);
}
