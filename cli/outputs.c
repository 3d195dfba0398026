/* outputs.c — the output files of a command: every check that can be made before any
 * work (cli_check_outputs), and the removal of their temporary files when a signal stops
 * the process.
 *
 * Every writer (engine/h5, models/) builds its file under a temporary name in the
 * output's folder, "PATH.tmp.<pid>" or "PATH.tmp.<pid>.<suffix>", and renames it over
 * PATH when it is complete, so an error never leaves PATH half-written.  A signal stops
 * the process before the writer can remove that temporary file: the handler here does.
 * The rename also means that an output must be a regular file (renaming over a device
 * or a FIFO would replace it) and must not be an input or another output. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---------------------------------------------------------------- identity */
/* Where a path points: its device and inode when it exists; else its canonical folder
 * (realpath) and name, or the path as given when even the folder does not resolve. */
typedef struct {
    int exists;
    dev_t dev;
    ino_t ino;
    char *canon;
} file_id;

/* The folder part of a path ("." when it has none, "/" for "/x"); NULL out of memory. */
static char *folder_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return !slash ? strdup(".") : strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

static int file_id_get(const char *path, file_id *id)
{
    struct stat s;
    memset(id, 0, sizeof *id);
    if (stat(path, &s) == 0) {
        id->exists = 1;
        id->dev = s.st_dev;
        id->ino = s.st_ino;
        return 0;
    }
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *dir = folder_of(path);
    char *real = dir ? realpath(dir, NULL) : NULL;
    if (!dir) return -1;
    if (real && *base) {
        size_t n = strlen(real) + strlen(base) + 2;
        if ((id->canon = malloc(n)))
            snprintf(id->canon, n, "%s%s%s", real, strcmp(real, "/") ? "/" : "", base);
    } else {
        id->canon = strdup(path);
    }
    free(real);
    free(dir);
    return id->canon ? 0 : -1;
}

static int file_id_same(const file_id *a, const file_id *b)
{
    if (a->exists || b->exists)
        return a->exists && b->exists && a->dev == b->dev && a->ino == b->ino;
    return strcmp(a->canon, b->canon) == 0;
}

int cli_same_file(const char *a, const char *b)
{
    file_id ia, ib;
    if (strcmp(a, b) == 0) return 1;
    int st = -1;
    if (file_id_get(a, &ia) == 0) {
        if (file_id_get(b, &ib) == 0) st = file_id_same(&ia, &ib);
        free(ib.canon);
    }
    free(ia.canon);
    return st;
}

/* ---------------------------------------------------------------- removal on a signal */
/* Async-signal-safe: the handler reads only these fixed buffers, filled before `ntemps`
 * counts them, and calls only open, getdents64, lseek, unlinkat, close, signal and
 * raise. */
#define MAX_TEMPS 16
static struct {
    char folder[PATH_MAX];
    char prefix[NAME_MAX + 32];   /* "name.tmp.<pid>" */
} temps[MAX_TEMPS];
static volatile sig_atomic_t ntemps;
static const int stop_signals[] = {SIGINT, SIGTERM, SIGHUP};

/* Is `name` "<prefix>" or "<prefix>.<anything>"? */
static int is_temp_name(const char *name, const char *prefix)
{
    while (*prefix)
        if (*name++ != *prefix++) return 0;
    return *name == '\0' || *name == '.';
}

#ifdef SYS_getdents64
struct dirent64_raw {   /* the kernel's record, as getdents64(2) documents it */
    uint64_t ino;
    int64_t off;
    unsigned short reclen;
    unsigned char type;
    char name[];
};

/* Remove the temporary files of one output: every entry of its folder whose name
 * starts with the prefix.  Another pass when one removed something, as entries removed
 * while the folder is read may hide others from the same read. */
static void remove_temps_in(const char *folder, const char *prefix)
{
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    for (int pass = 0, removed = 1; pass < 4 && removed; pass++) {
        removed = 0;
        if (pass > 0 && lseek(fd, 0, SEEK_SET) != 0) break;
        _Alignas(8) char buf[4096];
        long n;
        while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
            for (long off = 0; off < n;) {
                const struct dirent64_raw *d = (const struct dirent64_raw *)(buf + off);
                if (is_temp_name(d->name, prefix) && unlinkat(fd, d->name, 0) == 0) removed = 1;
                off += d->reclen;
            }
    }
    close(fd);
}
#else
/* Without getdents64: the names the writers use first ("PATH.tmp.<pid>", "....0"). */
static void remove_temps_in(const char *folder, const char *prefix)
{
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    char name[sizeof temps[0].prefix + 2];
    size_t n = 0;
    for (; prefix[n] && n + 3 < sizeof name; n++) name[n] = prefix[n];
    name[n] = '\0';
    unlinkat(fd, name, 0);
    name[n] = '.';
    name[n + 1] = '0';
    name[n + 2] = '\0';
    unlinkat(fd, name, 0);
    close(fd);
}
#endif

static void on_stop_signal(int sig)
{
    int saved = errno;
    for (int i = 0; i < ntemps; i++) remove_temps_in(temps[i].folder, temps[i].prefix);
    signal(sig, SIG_DFL);
    errno = saved;
    raise(sig);   /* blocked until the handler returns; then the default action: stop */
}

static void install_handlers(void)
{
    static int installed;
    if (installed) return;
    installed = 1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof stop_signals / sizeof *stop_signals; i++)
        sigaddset(&sa.sa_mask, stop_signals[i]);   /* one removal at a time */
    for (size_t i = 0; i < sizeof stop_signals / sizeof *stop_signals; i++) {
        struct sigaction old;
        /* "nohup" and background jobs ignore some signals: so do we */
        if (sigaction(stop_signals[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN)
            sigaction(stop_signals[i], &sa, NULL);
    }
}

/* Register the temporary files of `path` for removal; -1 when it cannot be (path too
 * long, table full: the output is then not covered, which is no reason to fail). */
static int remove_temps_on_signal(const char *path)
{
    const int k = ntemps;
    if (k >= MAX_TEMPS) return -1;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const size_t dlen = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    if (!*base || dlen >= sizeof temps[k].folder) return -1;
    memcpy(temps[k].folder, slash ? path : ".", dlen);
    temps[k].folder[dlen] = '\0';
    int n = snprintf(temps[k].prefix, sizeof temps[k].prefix, "%s.tmp.%ld", base,
                     (long)getpid());
    if (n < 0 || (size_t)n >= sizeof temps[k].prefix) return -1;
    atomic_signal_fence(memory_order_seq_cst);   /* the slot is complete before it counts */
    ntemps = k + 1;
    install_handlers();
    return 0;
}

/* ---------------------------------------------------------------- checks */
/* "PATH: cannot write WHAT: why" or "OPT PATH: cannot write: why". */
static int out_error(const cli_output *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int out_error(const cli_output *o, const char *fmt, ...)
{
    char why[PATH_MAX + 128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (o->what) cli_error("%s: cannot write %s: %s", o->path, o->what, why);
    else cli_error("%s %s: cannot write: %s", o->opt, o->path, why);
    return CLI_EXIT_ERROR;
}

static int nomem(void)
{
    cli_error("out of memory");
    return CLI_EXIT_ERROR;
}

/* One output on its own: not a folder, device or input; a folder that takes files. */
static int check_one(const cli_output *o, const file_id *out, const file_id *in, int nin)
{
    struct stat s;
    if (stat(o->path, &s) == 0) {
        if (S_ISDIR(s.st_mode)) return out_error(o, "it is a folder");
        if (!S_ISREG(s.st_mode)) return out_error(o, "not a regular file");
        for (int i = 0; i < nin; i++)
            if (in[i].exists && file_id_same(out, &in[i]))
                return out_error(o, "it is the input file");
    }
    char *dir = folder_of(o->path);
    if (!dir) return nomem();
    int st = CLI_EXIT_OK;
    struct stat sd;
    if (stat(dir, &sd) != 0)
        st = out_error(o, "folder '%s': %s", dir, strerror(errno));
    else if (!S_ISDIR(sd.st_mode))
        st = out_error(o, "'%s' is not a folder", dir);
    else if (access(dir, W_OK | X_OK) != 0)
        st = out_error(o, "folder '%s': %s", dir, strerror(errno));
    free(dir);
    return st;
}

int cli_check_outputs(const char *cmd, const char *const *inputs, int ninputs,
                      const cli_output *outs, int nouts)
{
    file_id *in = calloc((size_t)ninputs + 1, sizeof *in);
    file_id *out = calloc((size_t)nouts + 1, sizeof *out);
    int st = CLI_EXIT_OK;
    if (!in || !out) {
        st = nomem();
        goto cleanup;
    }
    for (int i = 0; i < ninputs && st == CLI_EXIT_OK; i++)
        if (inputs[i] && file_id_get(inputs[i], &in[i]) < 0) st = nomem();
    for (int i = 0; i < nouts && st == CLI_EXIT_OK; i++)
        if (outs[i].path && file_id_get(outs[i].path, &out[i]) < 0) st = nomem();
    /* usage errors first: two options naming one file is a mistake on the command line */
    for (int i = 0; i < nouts && st == CLI_EXIT_OK; i++)
        for (int j = 0; j < i && st == CLI_EXIT_OK && outs[i].path; j++)
            if (outs[j].path && file_id_same(&out[j], &out[i]))
                st = cli_usage_error(cmd, "%s and %s name the same file '%s'", outs[j].opt,
                                     outs[i].opt, outs[j].path);
    for (int i = 0; i < nouts && st == CLI_EXIT_OK; i++)
        if (outs[i].path) st = check_one(&outs[i], &out[i], in, ninputs);
    for (int i = 0; i < nouts && st == CLI_EXIT_OK; i++)
        if (outs[i].path) (void)remove_temps_on_signal(outs[i].path);
cleanup:
    for (int i = 0; in && i < ninputs; i++) free(in[i].canon);
    for (int i = 0; out && i < nouts; i++) free(out[i].canon);
    free(in);
    free(out);
    return st;
}
