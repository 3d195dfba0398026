/* write.c — the CSV files of a simulated evaluation: the students (fast: rows formatted
 * with integer arithmetic, ranges of classrooms formatted on several threads and written
 * in order), the school truth and the parameters.  Files are written atomically. */
#include "simulate_internal.h"

#include "../../engine/core/internal.h"   /* evm__fail, allocation helpers */
#include "../../engine/par/par.h"         /* evm__parallel_for */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define UNIT_ROWS 65536   /* rows per unit of work: big enough to amortise, small in RAM */
#define MAX_ROW 192       /* bytes of the longest possible row */

static const char header[] = "student,school,classroom,site,cohort,treat,prior,frl,ell,black,"
                             "score\n";

/* ---------------------------------------------------------------- atomic output */
typedef struct {
    const char *path;
    char *tmp;   /* NULL when writing to stdout */
    int fd;
    int err;     /* first errno */
} sink;

static int sink_open(sink *k, const char *path, const char *what, evm_ctx *c)
{
    *k = (sink){path, NULL, -1, 0};
    if (strcmp(path, "-") == 0) {
        k->fd = STDOUT_FILENO;
        return EVM_OK;
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))   /* never rename over a device */
        return evm__fail(c, EVM_ERR_IO, "%s: cannot write the %s: %s", path, what,
                         S_ISDIR(st.st_mode) ? "it is a folder" : "not a regular file");
    for (unsigned n = 0; n < 1000; n++) {
        free(k->tmp);
        if (!(k->tmp = evm__asprintf("%s.tmp.%ld.%u", path, (long)getpid(), n)))
            return evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory", path);
        k->fd = open(k->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (k->fd >= 0) return EVM_OK;
        if (errno != EEXIST) break;
    }
    int e = errno;
    free(k->tmp);
    k->tmp = NULL;
    return evm__fail(c, EVM_ERR_IO, "%s: cannot write the %s: %s", path, what, strerror(e));
}

static void sink_write(sink *k, const char *p, size_t n)
{
    while (n > 0 && !k->err) {
        ssize_t w = write(k->fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            k->err = w < 0 ? errno : EIO;
            break;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Finish: sync, close and rename (or remove the temporary file after an error). */
static int sink_close(sink *k, const char *what, int status, evm_ctx *c)
{
    if (k->tmp) {
        if (!k->err && fsync(k->fd) != 0 && errno != EINVAL) k->err = errno;
        if (close(k->fd) != 0 && !k->err) k->err = errno;
        if (!k->err && status == EVM_OK && rename(k->tmp, k->path) != 0) k->err = errno;
        if (k->err || status != EVM_OK) unlink(k->tmp);
        free(k->tmp);
        k->tmp = NULL;
    }
    if (k->err && status == EVM_OK)
        status = evm__fail(c, EVM_ERR_IO, "%s: cannot write the %s: %s", k->path, what,
                           strerror(k->err));
    return status;
}

/* ---------------------------------------------------------------- row formatting */
static char *put_uint(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n) *p++ = tmp[--n];
    return p;
}

/* A number held in thousandths, as "-1.234" (three decimals always). */
static char *put_milli(char *p, int64_t m)
{
    uint64_t u = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
    if (m < 0) *p++ = '-';
    p = put_uint(p, u / 1000);
    unsigned f = (unsigned)(u % 1000);
    p[0] = '.';
    p[1] = (char)('0' + f / 100);
    p[2] = (char)('0' + f / 10 % 10);
    p[3] = (char)('0' + f % 10);
    return p + 4;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

/* A unit of work: whole classrooms, starting at classroom j of school k. */
typedef struct {
    int32_t k, j;
    int64_t rows;
    char *buf;
    size_t len;
} unit;

static void format_unit(const evm_sim *s, unit *u)
{
    char *p = u->buf;
    int32_t k = u->k, j = u->j;
    evm__sim_gen gen;
    for (int64_t done = 0; done < u->rows;) {
        const evm_sim_school *sc = &s->school[k];
        evm__sim_class_begin(&gen, s, k, j);
        const char *school = sc->label, *site = s->school[sc->site].label;
        const char cohort = (char)('0' + sc->cohort);
        while (gen.left > 0) {
            evm__sim_row r;
            evm__sim_gen_row(&gen, &r);
            p = put_uint(p, (uint64_t)r.student);
            *p++ = ',';
            p = put_str(p, school);
            *p++ = ',';
            p = put_uint(p, (uint64_t)r.classroom);
            *p++ = ',';
            p = put_str(p, site);
            *p++ = ',';
            *p++ = cohort;
            *p++ = ',';
            *p++ = (char)('0' + r.treat);
            *p++ = ',';
            p = put_milli(p, r.prior_milli);
            *p++ = ',';
            *p++ = (char)('0' + r.frl);
            *p++ = ',';
            *p++ = (char)('0' + r.ell);
            *p++ = ',';
            *p++ = (char)('0' + r.black);
            *p++ = ',';
            p = put_milli(p, r.score_milli);
            *p++ = '\n';
            done++;
        }
        if (++j == sc->nclass) {
            k++;
            j = 0;
        }
    }
    u->len = (size_t)(p - u->buf);
}

typedef struct {
    const evm_sim *s;
    unit *units;
} batch;

static void format_task(void *arg, int task)
{
    batch *b = arg;
    format_unit(b->s, &b->units[task]);
}

/* Cut the classrooms, in file order, into units of about UNIT_ROWS rows. */
static unit *make_units(const evm_sim *s, int64_t *nunits, evm_ctx *c)
{
    int64_t cap = s->o.students / UNIT_ROWS + 2, n = 0;
    unit *u = evm__calloc((size_t)cap, sizeof *u);
    if (!u) return NULL;
    for (int32_t k = 0; k < s->n; k++)
        for (int32_t j = 0; j < s->school[k].nclass; j++) {
            if (n == 0 || u[n - 1].rows >= UNIT_ROWS) {
                if (n == cap) {   /* cannot happen: each full unit holds >= UNIT_ROWS */
                    free(u);
                    return NULL;
                }
                u[n++] = (unit){k, j, 0, NULL, 0};
            }
            u[n - 1].rows += evm__sim_class_size(&s->school[k], j);
        }
    *nunits = n;
    return u;
}

int evm_sim_write_csv(const evm_sim *s, const char *path, evm_ctx *c)
{
    const char *what = "simulated data";
    int threads = evm_ctx_threads(c), st = EVM_OK;
    int64_t nunits = 0;
    unit *units = make_units(s, &nunits, c);
    int nslots = 2 * (threads > 0 ? threads : 1);
    char **bufs = evm__calloc((size_t)nslots, sizeof *bufs);
    size_t bufsize = 0;
    for (int64_t i = 0; units && i < nunits; i++)
        if ((size_t)units[i].rows * MAX_ROW > bufsize) bufsize = (size_t)units[i].rows * MAX_ROW;
    for (int i = 0; bufs && i < nslots; i++) bufs[i] = evm__malloc(bufsize, 1);
    for (int i = 0; bufs && i < nslots; i++)
        if (!bufs[i]) st = EVM_ERR_NOMEM;
    if (!units || !bufs || st < 0) {
        st = evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    sink k;
    if ((st = sink_open(&k, path, what, c)) < 0) goto cleanup;
    sink_write(&k, header, sizeof header - 1);
    for (int64_t first = 0; first < nunits && !k.err; first += nslots) {
        int n = (int)(nunits - first < nslots ? nunits - first : nslots);
        for (int i = 0; i < n; i++) units[first + i].buf = bufs[i];
        batch b = {s, units + first};
        evm__parallel_for(n, threads, format_task, &b);   /* falls back to one thread */
        for (int i = 0; i < n; i++) sink_write(&k, units[first + i].buf, units[first + i].len);
    }
    st = sink_close(&k, what, EVM_OK, c);
cleanup:
    for (int i = 0; bufs && i < nslots; i++) free(bufs[i]);
    free(bufs);
    free(units);
    return st;
}

/* ---------------------------------------------------------------- small tables */
/* Write a small table built in memory. */
static int write_table(const char *path, const char *what, const char *text, size_t len,
                       evm_ctx *c)
{
    sink k;
    int st = sink_open(&k, path, what, c);
    if (st < 0) return st;
    sink_write(&k, text, len);
    return sink_close(&k, what, EVM_OK, c);
}

int evm_sim_write_truth(const evm_sim *s, const char *path, evm_ctx *c)
{
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) return evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory", path);
    fputs("school,cohort,true_effect,role,site,students,treated,classrooms,true_intercept\n", m);
    for (int32_t k = 0; k < s->n; k++) {
        const evm_sim_school *sc = &s->school[k];
        fprintf(m, "%s,%d,%.6f,%s,%s,%lld,%lld,%d,%.6f\n", sc->label, sc->cohort, sc->effect,
                sc->implementing ? "implementing" : "comparison", s->school[sc->site].label,
                (long long)sc->nstudents, (long long)sc->ntreated, (int)sc->nclass,
                sc->intercept);
    }
    int st = fclose(m) != 0 ? evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory", path)
                            : write_table(path, "truth table", text, len, c);
    free(text);
    return st;
}

int evm_sim_write_params(const evm_sim *s, const char *path, evm_ctx *c)
{
    evm_sim_param p[EVM_SIM_NPARAMS];
    evm_sim_params(s, p);
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    if (!m) return evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory", path);
    fputs("group,var1,var2,value\n", m);
    for (int i = 0; i < EVM_SIM_NPARAMS; i++)
        fprintf(m, "%s,%s,%s,%.10g\n", p[i].group, p[i].var1, p[i].var2, p[i].value);
    int st = fclose(m) != 0 ? evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory", path)
                            : write_table(path, "parameter table", text, len, c);
    free(text);
    return st;
}
