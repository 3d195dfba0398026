/* cli.h — shared pieces of the `evalmix` command line: option parsing, reporting,
 * provenance and the subcommands.  Uses only the public engine API (evalmix.h). */
#ifndef EVM_CLI_H
#define EVM_CLI_H

#include "evalmix/evalmix.h"

/* Exit statuses: users' scripts rely on these (docs/cli.md). */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_ERROR = 1,   /* error in the input, the model or a file */
    CLI_EXIT_USAGE = 2,   /* bad option or argument */
    CLI_EXIT_STRICT = 3   /* warnings under --strict */
};

/* ---------------------------------------------------------------- opts.c */
typedef enum {
    CLI_FLAG = 0,   /* --name, no value */
    CLI_VALUE = 1,  /* --name VALUE or --name=VALUE */
    CLI_LIST = 2    /* like CLI_VALUE; repeatable, and "a,b" gives two values */
} cli_optkind;

typedef struct {
    const char *name;   /* long name without the leading "--" */
    cli_optkind kind;
    int repeat;         /* 1: may be given more than once (values accumulate) */
} cli_optspec;

typedef struct {
    const char *cmd;          /* subcommand, for messages */
    const cli_optspec *spec;
    int nspec;
    int *count;               /* [nspec] times each option was given */
    char ***vals;             /* [nspec][nvals] values, in command-line order */
    int *nvals;
    char **pos;               /* positional arguments */
    int npos;
    int help;                 /* -h or --help was given */
} cli_args;

/* Parse argv[0..argc-1] (the arguments after the subcommand) against `spec`.
 * Options and positional arguments may be mixed; "--" ends the options.  -h/--help
 * anywhere before "--" sets a->help and nothing else is checked.
 * Returns CLI_EXIT_OK or CLI_EXIT_USAGE (the usage error has been printed).
 * a is always initialised; free it with cli_args_free. */
int cli_parse(const char *cmd, const cli_optspec *spec, int nspec, int argc,
              char **argv, cli_args *a);
void cli_args_free(cli_args *a);
/* How often option `name` was given; its last value (NULL if absent); all its values. */
int cli_count(const cli_args *a, const char *name);
const char *cli_value(const cli_args *a, const char *name);
int cli_values(const cli_args *a, const char *name, char *const **vals);
/* Parse a whole positive integer in [1, max]; 0 on success, -1 otherwise. */
int cli_parse_posint(const char *s, int max, int *out);

/* ---------------------------------------------------------------- report.c */
/* "evalmix: error: <message>" and, when the context has a caret, a second line with a
 * '^' under the byte of the message it points at. */
void cli_report_error(const evm_ctx *c);
/* A plain error line "evalmix: error: <printf text>". */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A usage error: "evalmix: error: <cmd>: <text> (see 'evalmix <cmd> --help')", or
 * without "<cmd>: " and with 'evalmix --help' when cmd is NULL.  Returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Every warning on the context as "evalmix: warning: <text>"; returns how many. */
int cli_report_warnings(const evm_ctx *c);
/* Progress of long work on stderr ("bootstrap: 1200/10000"), for terminals only;
 * arg is the label.  The line is cleared when done == total. */
void cli_progress(void *arg, int64_t done, int64_t total);
/* Flush stdout; on a write error report it and return CLI_EXIT_ERROR, else `status`. */
int cli_finish_stdout(int status);

/* ---------------------------------------------------------------- provenance.c */
/* The command line as one string, each argument shell-quoted where needed, so that it
 * can be pasted back into a POSIX shell.  NULL when out of memory. */
char *cli_command_line(int argc, char **argv);
/* The current time as ISO 8601 UTC, "2026-11-22T11:30:00Z", in a fresh string. */
char *cli_now_iso8601(void);
/* Fill the provenance fields of r (replacing what is there). 0, or -1 out of memory. */
int cli_set_provenance(evm_result *r, int argc, char **argv, const char *input,
                       const char *input_sha256, int threads);

/* ---------------------------------------------------------------- subcommands */
/* argv[0] is the subcommand name; full_argc/full_argv the whole command line (for
 * provenance).  Each returns an exit status. */
int cli_cmd_fit(int argc, char **argv, int full_argc, char **full_argv);
int cli_cmd_show(int argc, char **argv);

#endif
