/* provenance.c — what a result file records about how it was made: the command line
 * (shell-quoted so it can be run again), the time (ISO 8601 UTC), the version, the input
 * and its SHA-256, the thread count and the seed. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Characters that never need quoting in a POSIX shell word. */
static int shell_safe(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                    "_@%+=:,./-", *s))
            return 0;
    return 1;
}

/* Bytes needed for one argument, quoted: 'it'\''s' */
static size_t quoted_len(const char *s)
{
    if (shell_safe(s)) return strlen(s);
    size_t n = 2;
    for (; *s; s++) n += *s == '\'' ? 4 : 1;
    return n;
}

static char *put_quoted(char *d, const char *s)
{
    if (shell_safe(s)) {
        size_t n = strlen(s);
        memcpy(d, s, n);
        return d + n;
    }
    *d++ = '\'';
    for (; *s; s++) {
        if (*s == '\'') {
            memcpy(d, "'\\''", 4);
            d += 4;
        } else {
            *d++ = *s;
        }
    }
    *d++ = '\'';
    return d;
}

char *cli_command_line(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++) n += quoted_len(argv[i]) + 1;
    char *s = malloc(n);
    if (!s) return NULL;
    char *d = s;
    for (int i = 0; i < argc; i++) {
        if (i) *d++ = ' ';
        d = put_quoted(d, argv[i]);
    }
    *d = '\0';
    return s;
}

char *cli_now_iso8601(void)
{
    char buf[32];
    time_t now = time(NULL);
    struct tm tm;
    if (now == (time_t)-1 || !gmtime_r(&now, &tm) ||
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        strcpy(buf, "");
    return strdup(buf);
}

static int replace(char **field, char *value)
{
    if (!value) return -1;
    free(*field);
    *field = value;
    return 0;
}

int cli_set_provenance(evm_result *r, int argc, char **argv, const char *input,
                       const char *input_sha256, int threads)
{
    if (replace(&r->evalmix_version, strdup(EVM_VERSION)) ||
        replace(&r->command, cli_command_line(argc, argv)) ||
        replace(&r->created, cli_now_iso8601()) ||
        replace(&r->input, strdup(input ? input : "")) ||
        replace(&r->input_sha256, strdup(input_sha256 ? input_sha256 : "")))
        return -1;
    r->threads = threads;
    /* the fit itself draws no random numbers; the parametric bootstrap does */
    r->seed = r->nboot > 0 ? r->boot_seed : 0;
    return 0;
}
