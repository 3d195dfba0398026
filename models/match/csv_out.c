/* csv_out.c — the matched sample as CSV: each input record copied byte for byte (quotes,
 * number formats and columns the match did not read all kept), followed by the fields
 * distance, weights, subclass and site.
 *
 * The input was already read and checked by the engine's CSV reader, so records are found
 * here by the same rules without re-validating them: a line end outside double quotes
 * ends a record, CR LF is accepted, a UTF-8 byte-order mark is skipped and blank lines at
 * the end are ignored (docs/data.md). */
#include "match_internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *buf;
    size_t len;
    size_t *start, *end;   /* [nrec] record bytes, without the line end */
    int64_t nrec;          /* the header is record 0 */
} records;

static void records_free(records *r)
{
    free(r->buf);
    free(r->start);
    free(r->end);
    memset(r, 0, sizeof *r);
}

static int read_all(const char *path, records *r, evm_ctx *c)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return evm__fail(c, EVM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    /* one allocation of the file's size (+1 to see the end) when it is known */
    size_t cap = fstat(fileno(fp), &sb) == 0 && sb.st_size > 0 ? (size_t)sb.st_size + 1 : 1 << 20;
    size_t len = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (len < cap) break;
        char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int err = ferror(fp);
    fclose(fp);
    if (!buf) return evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory reading the file", path);
    if (err) {
        free(buf);
        return evm__fail(c, EVM_ERR_IO, "%s: read error", path);
    }
    r->buf = buf;
    r->len = len;
    return 0;
}

/* Record boundaries; *lines (if not NULL) gets the physical line of record `want`. */
static int scan(records *r, int64_t want, int64_t *line, evm_ctx *c)
{
    size_t i = 0, n = r->len;
    const char *b = r->buf;
    if (n >= 3 && (unsigned char)b[0] == 0xEF && (unsigned char)b[1] == 0xBB &&
        (unsigned char)b[2] == 0xBF)
        i = 3;
    size_t cap = 1024;
    r->start = malloc(cap * sizeof *r->start);
    r->end = malloc(cap * sizeof *r->end);
    if (!r->start || !r->end) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    int64_t phys = 1;
    while (i < n) {
        if ((size_t)r->nrec == cap) {
            cap *= 2;
            size_t *s = realloc(r->start, cap * sizeof *s);
            if (s) r->start = s;
            size_t *e = s ? realloc(r->end, cap * sizeof *e) : NULL;
            if (!s || !e) return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
            r->end = e;
        }
        if (line && r->nrec == want) *line = phys;
        size_t s = i;
        int inq = 0;
        while (i < n) {
            char ch = b[i];
            if (ch == '"') inq = !inq;
            else if (ch == '\n') {
                if (!inq) break;
                phys++;
            }
            i++;
        }
        size_t e = i;
        if (e > s && b[e - 1] == '\r') e--;
        r->start[r->nrec] = s;
        r->end[r->nrec++] = e;
        if (i < n) {
            i++;   /* the line end */
            phys++;
        }
    }
    while (r->nrec > 1 && r->end[r->nrec - 1] == r->start[r->nrec - 1]) r->nrec--;
    return 0;
}

int evm__mt_record_line(const char *path, int64_t row, int64_t *line)
{
    evm_ctx *c = evm_ctx_create();
    records r = {0};
    *line = 0;
    int st = c ? read_all(path, &r, c) : -1;
    if (st == 0) st = scan(&r, row + 1, line, c);
    records_free(&r);
    evm_ctx_destroy(&c);
    return st == 0 && *line > 0 ? 0 : -1;
}

/* Field `k` (0-based) of the record [s, e): its raw bytes [*fs, *fe). */
static int field(const char *b, size_t s, size_t e, int k, size_t *fs, size_t *fe)
{
    int f = 0;
    size_t i = s, begin = s;
    int inq = 0;
    for (;; i++) {
        if (i == e || (!inq && b[i] == ',')) {
            if (f == k) {
                *fs = begin;
                *fe = i;
                return 0;
            }
            if (i == e) return -1;
            f++;
            begin = i + 1;
        } else if (b[i] == '"') {
            inq = !inq;
        }
    }
}

#define DSTR 32   /* room for "%.17g" of any double */

/* The shortest of %.15g, %.16g, %.17g that reads back as x (R's way of writing doubles). */
static void fmt_num(double x, char *buf, size_t size)
{
    if (!isfinite(x)) {
        snprintf(buf, size, "NA");
        return;
    }
    for (int d = 15; d <= 17; d++) {
        snprintf(buf, size, "%.*g", d, x);
        if (strtod(buf, NULL) == x) return;
    }
}

int evm_match_write_csv(const char *in_path, const char *out_path, const evm_match_result *r,
                        const char *site, evm_ctx *c)
{
    records rec = {0};
    char *tmp = NULL, *iobuf = NULL;
    FILE *fp = NULL;
    int st = read_all(in_path, &rec, c);
    if (st < 0) goto cleanup;
    if ((st = scan(&rec, -1, NULL, c)) < 0) goto cleanup;
    if (rec.nrec - 1 != r->n) {
        st = evm__fail(c, EVM_ERR_IO, "%s: has %lld data rows now, %lld when it was read "
                       "(did it change?)", in_path, (long long)(rec.nrec - 1), (long long)r->n);
        goto cleanup;
    }
    int sitefield = -1;
    if (site) {
        /* the header's field named `site` (quoted or not) */
        for (int k = 0; sitefield < 0; k++) {
            size_t fs, fe;
            if (field(rec.buf, rec.start[0], rec.end[0], k, &fs, &fe) < 0) break;
            while (fs < fe && (rec.buf[fs] == ' ' || rec.buf[fs] == '\t')) fs++;
            while (fe > fs && (rec.buf[fe - 1] == ' ' || rec.buf[fe - 1] == '\t')) fe--;
            if (fe - fs >= 2 && rec.buf[fs] == '"' && rec.buf[fe - 1] == '"') {
                fs++;
                fe--;
            }
            if (fe - fs == strlen(site) && memcmp(rec.buf + fs, site, fe - fs) == 0) sitefield = k;
        }
    }
    tmp = evm__asprintf("%s.tmp.%ld", out_path, (long)getpid());
    if (!tmp) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    fp = fopen(tmp, "wb");
    if (!fp) {
        st = evm__fail(c, EVM_ERR_IO, "%s: cannot write: %s", out_path, strerror(errno));
        goto cleanup;
    }
    iobuf = malloc(1 << 20);
    if (iobuf) setvbuf(fp, iobuf, _IOFBF, 1 << 20);
    const char *b = rec.buf;
    fwrite(b + rec.start[0], 1, rec.end[0] - rec.start[0], fp);
    fputs(",distance,weights,subclass,site\n", fp);
    char dbuf[DSTR] = "NA", wbuf[40] = "";
    double last_w = NAN;
    /* with replacement a comparison student is written once per set: format its distance
     * once (calloc'd pages are only touched for the rows written) */
    char *dcache = r->has_distance && r->nout > r->n / 4
                       ? calloc((size_t)(r->n > 0 ? r->n : 1), DSTR) : NULL;
    for (int64_t j = 0; j < r->nout; j++) {
        int64_t row = r->out_row[j];
        fwrite(b + rec.start[row + 1], 1, rec.end[row + 1] - rec.start[row + 1], fp);
        if (r->has_distance) {
            char *d = dcache ? dcache + (size_t)row * DSTR : dbuf;
            if (!dcache || !d[0]) fmt_num(r->distance[row], d, DSTR);
            if (dcache) memcpy(dbuf, d, DSTR);
        }
        if (!(r->out_weight[j] == last_w)) {
            fmt_num(r->out_weight[j], wbuf, sizeof wbuf);
            last_w = r->out_weight[j];
        }
        fprintf(fp, ",%s,%s,%lld,", dbuf, wbuf, (long long)r->out_set[j] + 1);
        int64_t srow = r->out_site_row[j];
        size_t fs, fe;
        if (sitefield >= 0 && srow >= 0 &&
            field(b, rec.start[srow + 1], rec.end[srow + 1], sitefield, &fs, &fe) == 0 &&
            fe > fs)
            fwrite(b + fs, 1, fe - fs, fp);
        else
            fputs("NA", fp);
        fputc('\n', fp);
    }
    free(dcache);
    if (fflush(fp) != 0 || ferror(fp) || fsync(fileno(fp)) != 0) {
        st = evm__fail(c, EVM_ERR_IO, "%s: write error: %s", out_path, strerror(errno));
        goto cleanup;
    }
    int closed = fclose(fp);
    fp = NULL;
    if (closed != 0 || rename(tmp, out_path) != 0) {
        st = evm__fail(c, EVM_ERR_IO, "%s: cannot write: %s", out_path, strerror(errno));
        goto cleanup;
    }
    free(tmp);
    tmp = NULL;
cleanup:
    if (fp) fclose(fp);
    free(iobuf);   /* after the stream that used it is closed */
    if (tmp) {
        remove(tmp);
        free(tmp);
    }
    records_free(&rec);
    return st;
}
