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
/* A whole decimal number without sign or blanks in [min, max]: 0 (and *out set) on
 * success; 1 when s has only digits but is above max (however many); -1 otherwise. */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Parse a whole positive integer in [1, max]; 0 on success, -1 otherwise. */
int cli_parse_posint(const char *s, int max, int *out);
/* The most threads any --threads accepts (their stacks and buffers are allocated). */
#define CLI_MAX_THREADS 65536
/* --seed (0 to 2^64-1) and --threads (1 to CLI_MAX_THREADS) of a command, the same for
 * every command: the value, if the option was given, goes to *seed or *threads (left
 * alone otherwise).  CLI_EXIT_OK, or CLI_EXIT_USAGE after printing the usage error. */
int cli_read_seed(const cli_args *a, uint64_t *seed);
int cli_read_threads(const cli_args *a, int *threads);

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

/* ---------------------------------------------------------------- outputs.c */
/* An output file of a command, for cli_check_outputs. */
typedef struct {
    const char *opt;    /* "--out", as errors name the option */
    const char *path;   /* as given; NULL: the option was not given */
    const char *what;   /* "the result file": errors read "PATH: cannot write WHAT: why";
                           NULL: "OPT PATH: cannot write: why" */
} cli_output;

/* Check, before anything is read or written, that every output can be written and
 * replaced atomically (a temporary file in its folder renamed over it):
 * - no two outputs name the same file, however spelled ("x.h5", "./x.h5", a symbolic
 *   link): a usage error "--a and --b name the same file 'x.h5'";
 * - none is a folder, a device or another file that is not a regular file (the rename
 *   would replace it), or one of the inputs (same device and inode);
 * - the folder of each exists and may be written in.
 * Creates nothing.  When every check passes, the outputs' temporary files
 * ("PATH.tmp.<pid>" and "PATH.tmp.<pid>.*": engine/h5 and models/ name them so) are
 * registered, in this one place, to be removed if SIGINT, SIGTERM or SIGHUP stops the
 * process (a signal that was ignored stays ignored; the others take their default
 * action after the removal).
 * input:  cmd (for usage errors), inputs[ninputs] (NULL entries skipped), outs[nouts]
 *         (entries with a NULL path skipped).
 * Returns CLI_EXIT_OK, CLI_EXIT_USAGE or CLI_EXIT_ERROR; the error has been printed. */
int cli_check_outputs(const char *cmd, const char *const *inputs, int ninputs,
                      const cli_output *outs, int nouts);
/* 1 when a and b name the same file: the same device and inode when both exist, the same
 * canonical folder and name when neither does; 0 otherwise (-1: out of memory). */
int cli_same_file(const char *a, const char *b);

/* ---------------------------------------------------------------- provenance.c */
/* The command line as one string, each argument shell-quoted where needed, so that it
 * can be pasted back into a POSIX shell.  NULL when out of memory. */
char *cli_command_line(int argc, char **argv);
/* The current time as ISO 8601 UTC, "2026-11-22T11:30:00Z", in a fresh string. */
char *cli_now_iso8601(void);
/* Fill the provenance fields of r (replacing what is there).  The seed is the one of the
 * random numbers the run drew (the bootstrap's, r->boot_seed), 0 when it drew none.
 * 0, or -1 out of memory. */
int cli_set_provenance(evm_result *r, int argc, char **argv, const char *input,
                       const char *input_sha256, int threads);

/* ---------------------------------------------------------------- subcommands */
/* argv[0] is the subcommand name; full_argc/full_argv the whole command line (for
 * provenance).  Each returns an exit status. */
int cli_cmd_fit(int argc, char **argv, int full_argc, char **full_argv);
int cli_cmd_show(int argc, char **argv);

#endif
