/* opts.c — a small long-option parser shared by the subcommands.
 *
 * Accepted forms: --name VALUE, --name=VALUE, --flag, -h/--help, "--" to end options.
 * No abbreviations (scripts must keep meaning the same thing when options are added).
 * A value that itself starts with "--" must be given as --name=VALUE: in the separate
 * form it is taken as a forgotten value ("--weights --ml" is an error, not a column). */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int find_spec(const cli_args *a, const char *name, size_t len)
{
    for (int i = 0; i < a->nspec; i++)
        if (strlen(a->spec[i].name) == len && strncmp(a->spec[i].name, name, len) == 0)
            return i;
    return -1;
}

static int push(char ***v, int *n, const char *s, size_t len)
{
    char **nv = realloc(*v, (size_t)(*n + 1) * sizeof **v);
    if (!nv) return -1;
    *v = nv;
    char *d = malloc(len + 1);
    if (!d) return -1;
    memcpy(d, s, len);
    d[len] = '\0';
    nv[(*n)++] = d;
    return 0;
}

static int nomem(void)
{
    cli_error("out of memory");
    return CLI_EXIT_ERROR;
}

/* Store the value of option i; list options split at commas. */
static int store_value(cli_args *a, int i, const char *val)
{
    const char *name = a->spec[i].name;
    if (a->spec[i].kind != CLI_LIST)
        return push(&a->vals[i], &a->nvals[i], val, strlen(val)) ? nomem() : CLI_EXIT_OK;
    for (const char *p = val;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0)
            return cli_usage_error(a->cmd, "option '--%s': empty item in '%s'", name, val);
        if (push(&a->vals[i], &a->nvals[i], p, len)) return nomem();
        if (!comma) break;
        p = comma + 1;
    }
    return CLI_EXIT_OK;
}

static int is_help(const char *s)
{
    return strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0;
}

/* One option argument argv[*k]; may consume argv[*k + 1]. */
static int parse_option(cli_args *a, int argc, char **argv, int *k)
{
    const char *arg = argv[*k] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    int i = find_spec(a, arg, len);
    if (i < 0 && eq && len == 4 && strncmp(arg, "help", 4) == 0)
        return cli_usage_error(a->cmd, "option '--help' takes no value");
    if (i < 0) {
        if (eq)
            return cli_usage_error(a->cmd, "unknown option '--%.*s'", (int)len, arg);
        return cli_usage_error(a->cmd, "unknown option '%s'", argv[*k]);
    }
    const char *name = a->spec[i].name;
    if (a->count[i] > 0 && !a->spec[i].repeat)
        return cli_usage_error(a->cmd, "option '--%s' given more than once", name);
    a->count[i]++;
    if (a->spec[i].kind == CLI_FLAG) {
        if (eq) return cli_usage_error(a->cmd, "option '--%s' takes no value", name);
        return CLI_EXIT_OK;
    }
    const char *val;
    if (eq) {
        val = eq + 1;
    } else {
        if (*k + 1 >= argc || (strncmp(argv[*k + 1], "--", 2) == 0 && argv[*k + 1][2]))
            return cli_usage_error(a->cmd, "option '--%s' needs a value", name);
        val = argv[++*k];
    }
    if (!*val) return cli_usage_error(a->cmd, "option '--%s' needs a value", name);
    return store_value(a, i, val);
}

int cli_parse(const char *cmd, const cli_optspec *spec, int nspec, int argc, char **argv,
              cli_args *a)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    a->spec = spec;
    a->nspec = nspec;
    a->count = calloc((size_t)nspec + 1, sizeof *a->count);
    a->nvals = calloc((size_t)nspec + 1, sizeof *a->nvals);
    a->vals = calloc((size_t)nspec + 1, sizeof *a->vals);
    a->pos = calloc((size_t)argc + 1, sizeof *a->pos);
    if (!a->count || !a->nvals || !a->vals || !a->pos) return nomem();

    /* Help wins over everything else, as in most tools: "evalmix fit x.csv --bogus -h"
     * shows the help. */
    for (int k = 0; k < argc && strcmp(argv[k], "--") != 0; k++)
        if (is_help(argv[k])) {
            a->help = 1;
            return CLI_EXIT_OK;
        }

    int options_done = 0;
    for (int k = 0; k < argc; k++) {
        const char *arg = argv[k];
        if (!options_done && strcmp(arg, "--") == 0) {
            options_done = 1;
        } else if (!options_done && strncmp(arg, "--", 2) == 0) {
            int st = parse_option(a, argc, argv, &k);
            if (st != CLI_EXIT_OK) return st;
        } else if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            return cli_usage_error(cmd, "unknown option '%s'", arg);
        } else {
            a->pos[a->npos++] = argv[k];
        }
    }
    return CLI_EXIT_OK;
}

void cli_args_free(cli_args *a)
{
    if (a->vals)
        for (int i = 0; i < a->nspec; i++) {
            for (int j = 0; j < a->nvals[i]; j++) free(a->vals[i][j]);
            free(a->vals[i]);
        }
    free(a->vals);
    free(a->nvals);
    free(a->count);
    free(a->pos);
    memset(a, 0, sizeof *a);
}

static int index_of(const cli_args *a, const char *name)
{
    return find_spec(a, name, strlen(name));
}

int cli_count(const cli_args *a, const char *name)
{
    int i = index_of(a, name);
    return i < 0 ? 0 : a->count[i];
}

const char *cli_value(const cli_args *a, const char *name)
{
    int i = index_of(a, name);
    return (i < 0 || a->nvals[i] == 0) ? NULL : a->vals[i][a->nvals[i] - 1];
}

int cli_values(const cli_args *a, const char *name, char *const **vals)
{
    int i = index_of(a, name);
    *vals = i < 0 ? NULL : a->vals[i];
    return i < 0 ? 0 : a->nvals[i];
}

int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9') return -1;  /* no sign, no blanks */
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end) return -1;
    if (errno == ERANGE || v > max) return 1;   /* all digits, too many of them */
    if (errno || v < min) return -1;
    *out = v;
    return 0;
}

int cli_parse_posint(const char *s, int max, int *out)
{
    uint64_t v;
    if (max < 1 || cli_parse_u64(s, 1, (uint64_t)max, &v) != 0) return -1;
    *out = (int)v;
    return 0;
}

int cli_read_seed(const cli_args *a, uint64_t *seed)
{
    const char *s = cli_value(a, "seed");
    if (s && cli_parse_u64(s, 0, UINT64_MAX, seed) != 0)
        return cli_usage_error(a->cmd, "--seed '%s' is not a whole number from 0 to 2^64-1", s);
    return CLI_EXIT_OK;
}

int cli_read_threads(const cli_args *a, int *threads)
{
    const char *s = cli_value(a, "threads");
    uint64_t v;
    int r = s ? cli_parse_u64(s, 1, CLI_MAX_THREADS, &v) : 0;
    if (r > 0)
        return cli_usage_error(a->cmd, "--threads '%s' is too many: at most %d", s,
                               CLI_MAX_THREADS);
    if (r < 0) return cli_usage_error(a->cmd, "--threads '%s' is not a positive whole number", s);
    if (s) *threads = (int)v;
    return CLI_EXIT_OK;
}
