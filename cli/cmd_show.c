/* cmd_show.c — `evalmix show`: print the summary stored in an HDF5 result file. */
#include "cli.h"
#include "effects/effects.h"

#include <stdio.h>

/* The one place the options of `show` are described (docs/cli.md repeats it). */
static const char show_help[] =
    "Usage: evalmix show FILE.h5\n"
    "\n"
    "Print the summary of a fit saved by 'evalmix fit --out FILE.h5', as fit printed it;\n"
    "for a file of 'evalmix effects --out FILE.h5', the fit's summary and then the\n"
    "effects table as effects printed it (schools flagged for privacy left out).\n"
    "\n"
    "Options:\n"
    "  -h, --help  show this help and exit\n"
    "\n"
    "Exit status:\n"
    "  0  success\n"
    "  1  the file is missing or is not an evalmix result file\n"
    "  2  usage error (unknown option, missing FILE)\n"
    "\n"
    "Example:\n"
    "  evalmix show hsb.h5\n"
    "  evalmix show effects.h5\n";

int cli_cmd_show(int argc, char **argv)
{
    cli_args a;
    evm_ctx *c = NULL;
    evm_result *r = NULL;
    evm_effects *e = NULL;
    int st = cli_parse("show", NULL, 0, argc - 1, argv + 1, &a);
    if (st != CLI_EXIT_OK) goto cleanup;
    if (a.help) {
        fputs(show_help, stdout);
        st = cli_finish_stdout(CLI_EXIT_OK);
        goto cleanup;
    }
    if (a.npos == 0) {
        st = cli_usage_error("show", "missing result file FILE.h5");
        goto cleanup;
    }
    if (a.npos > 1) {
        st = cli_usage_error("show", "unexpected argument '%s'", a.pos[1]);
        goto cleanup;
    }
    if (!(c = evm_ctx_create())) {
        cli_error("out of memory");
        st = CLI_EXIT_ERROR;
        goto cleanup;
    }
    if (evm_effects_read_h5(a.pos[0], &e, c) < 0 ||
        (!e && evm_h5_read_fit(a.pos[0], &r, c) < 0)) {
        cli_report_error(c);
        st = CLI_EXIT_ERROR;
        goto cleanup;
    }
    evm_result_print(stdout, e ? e->fit : r);
    if (e) {
        fputc('\n', stdout);
        evm_effects_print(stdout, e);
    }
    st = cli_finish_stdout(CLI_EXIT_OK);
cleanup:
    evm_result_free(&r);
    evm_effects_free(&e);
    evm_ctx_destroy(&c);
    cli_args_free(&a);
    return st;
}
