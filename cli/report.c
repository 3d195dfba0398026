/* report.c — how the command line tells the user about errors and warnings (stderr). */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char error_prefix[] = "evalmix: error: ";

/* The caret line: blanks under the prefix and under message[0..caret-1], then '^'.
 * A tab in the message stays a tab so the caret lines up on a terminal; UTF-8
 * continuation bytes take no column. */
static void print_caret(const char *msg, int caret)
{
    size_t len = strlen(msg);
    if (caret < 0 || (size_t)caret > len) return;
    fprintf(stderr, "%*s", (int)(sizeof error_prefix - 1), "");
    for (int i = 0; i < caret; i++) {
        unsigned char ch = (unsigned char)msg[i];
        if ((ch & 0xC0) == 0x80) continue;
        fputc(ch == '\t' ? '\t' : ' ', stderr);
    }
    fputs("^\n", stderr);
}

void cli_report_error(const evm_ctx *c)
{
    const char *msg = evm_ctx_message(c);
    if (!msg || !*msg) msg = evm_status_str(evm_ctx_status(c));
    fprintf(stderr, "%s%s\n", error_prefix, msg);
    if (msg == evm_ctx_message(c)) print_caret(msg, evm_ctx_caret(c));
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(error_prefix, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(error_prefix, stderr);
    if (cmd) fprintf(stderr, "%s: ", cmd);
    vfprintf(stderr, fmt, ap);
    if (cmd)
        fprintf(stderr, " (see 'evalmix %s --help')\n", cmd);
    else
        fputs(" (see 'evalmix --help')\n", stderr);
    va_end(ap);
    return CLI_EXIT_USAGE;
}

int cli_report_warnings(const evm_ctx *c)
{
    int n = evm_ctx_nwarnings(c);
    for (int i = 0; i < n; i++) {
        const char *w = evm_ctx_warning(c, i);
        if (w) fprintf(stderr, "evalmix: warning: %s\n", w);
    }
    return n;
}

int cli_finish_stdout(int status)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write to standard output");
        return CLI_EXIT_ERROR;
    }
    return status;
}

void cli_progress(void *arg, int64_t done, int64_t total)
{
    const char *label = arg ? arg : "working";
    if (done >= total)
        fprintf(stderr, "\r%*s\r", (int)strlen(label) + 32, "");
    else
        fprintf(stderr, "\r%s: %lld/%lld", label, (long long)done, (long long)total);
    fflush(stderr);
}
