/* csv.c — the CSV reader: header, requested columns, row tokenizer and the read loop.
 *
 * The file streams through evm__chunkrd (hashed on the way); each piece gets a '\n'
 * sentinel after its last byte so the field scan needs no bounds check.  A row cut by
 * the end of a piece is carried into the next piece and tokenized again from its start.
 * Rows are tokenized into (pointer, length) spans without copying; only the requested
 * fields are looked at further: in batches of rows, column by column (evm__csvcol). */
#include "data_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define MAX_FIELDS 1000000     /* header fields the reader accepts */
#define LIST_MAX 20            /* header names listed in an unknown-column message */

enum { TOK_ROW, TOK_MORE, TOK_OPEN_QUOTE, TOK_AFTER_QUOTE };

typedef struct {
    char *s;            /* field content (inside the quotes when quoted) */
    uint32_t n;
    uint8_t quoted, esc;   /* esc: contains "" pairs still to collapse */
} fld;

typedef struct {
    int nf;             /* fields in the row */
    int lines;          /* newlines inside quoted fields */
    int any_esc;
    char *next;         /* start of the next row */
    int bad_field;      /* quote errors: 0-based field, its line offset, the byte */
    int bad_line;
    char bad_char;
} tok_row;

typedef struct {
    int64_t n;          /* rows */
    uint32_t *row_off;  /* [bcap] where each row starts in the piece */
    int64_t *row_line;  /* [bcap] its physical line */
    evm__span *spans;   /* [nreq][bcap] the requested fields */
    char *end;          /* scan position after the last row */
} rowbuf;

typedef struct {
    const char *path;
    evm_ctx *c;
    int ncols;          /* header fields */
    char **names;       /* [ncols] header names */
    fld *f;             /* [fcap] spans of the current row */
    int fcap;
    int nreq;
    evm__csvcol *cols;  /* [nreq] */
    int64_t nrows, cap; /* rows stored, room in the columns */
    int64_t line;       /* physical line where the current row starts */
    int64_t nblank, blank_line;   /* blank lines waiting to see whether data follows */
    int64_t file_size, data_start, piece_off;
    char *piece;        /* start of the current piece */
    int grown;
    size_t hdr_checked; /* bytes of the header line checked so far (check_header_bytes) */
    int hdr_quoted;     /* and whether they end inside quotes */
    /* batches: rows of the current piece, spans of the requested fields; one is filled
     * while the columns store the other */
    int64_t bcap;
    rowbuf buf[2];
    rowbuf *fill, *inflight;
    evm__batch batch;   /* the batch in flight, as the columns see it */
    evm__pool *pool;
    /* the column pass: per column its own context (columns may run in parallel),
     * error row, status, time spent (to start the slowest first) */
    evm_ctx **cctx;
    int64_t *bad_row;
    int *status;
    double *cost;
    int *order;
} csv_reader;

static int count_newlines(const char *s, size_t n)
{
    int k = 0;
    for (const char *e = s + n; (s = memchr(s, '\n', (size_t)(e - s))) != NULL; s++) k++;
    return k;
}

/* Closing quote of the quoted field whose content starts at s: NULL with *more set
 * when the piece ends first.  Sets *esc when the field holds "" pairs. */
static char *closing_quote(char *s, const char *end, int eof, int *esc, int *more)
{
    for (char *q = s;;) {
        q = memchr(q, '"', (size_t)(end - q));
        if (!q) {
            *more = !eof;
            return NULL;
        }
        if (q + 1 < end && q[1] == '"') {
            *esc = 1;
            q += 2;
            continue;
        }
        if (q + 1 == end && !eof) {   /* cannot tell a closing quote from "" yet */
            *more = 1;
            return NULL;
        }
        return q;
    }
}

#ifdef __SSE2__
/* Bit i set when byte p[i] is ',', '\n' or '"' (16 bytes; the piece's spare bytes after
 * its sentinel make the load safe up to the sentinel). */
static inline unsigned specials16(const char *p)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    const __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')),
                                                _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))),
                                   _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
    return (unsigned)_mm_movemask_epi8(m);
}

/* A row without any '"': fields from the positions of its separators, 16 bytes at a
 * time.  Returns -1 at the first quote (the general tokenizer then takes the row), else
 * what tokenize returns for the row. */
static int tokenize_plain(char *p, const char *end, int eof, fld *f, int cap, tok_row *t)
{
    char *s = p;
    int k = 0;
    for (char *blk = p;; blk += 16) {
        for (unsigned m = specials16(blk); m; m &= m - 1) {
            char *x = blk + __builtin_ctz(m);
            if (*x == '"') return -1;
            if (k < cap) {
                f[k].s = s;
                f[k].n = (uint32_t)(x - s);
                f[k].quoted = f[k].esc = 0;
            }
            k++;
            if (*x == ',') {
                s = x + 1;
                continue;
            }
            if (x == end && !eof) return TOK_MORE;
            if (x > s && x[-1] == '\r' && k <= cap) f[k - 1].n--;   /* CR LF */
            t->next = x < end ? x + 1 : x;
            t->nf = k;
            t->lines = t->any_esc = 0;
            return TOK_ROW;
        }
    }
}
#endif

/* Split the row at p into fields; spans of the first `cap` are stored in f.
 * Returns TOK_ROW, TOK_MORE (the piece ends inside the row) or a quote error. */
static int tokenize(char *p, const char *end, int eof, fld *f, int cap, tok_row *t)
{
#ifdef __SSE2__
    const int plain = tokenize_plain(p, end, eof, f, cap, t);
    if (plain >= 0) return plain;
#endif
    int k = 0, lines = 0, any_esc = 0;
    for (;;) {
        char *s = p;
        size_t n;
        int quoted = *p == '"', esc = 0, lineoff = lines;
        if (!quoted) {
            while (*p != ',' && *p != '\n') p++;   /* (a word-at-a-time scan was slower) */
            n = (size_t)(p - s);
        } else {
            int more = 0;
            char *q = closing_quote(++s, end, eof, &esc, &more);
            if (!q) {
                if (more) return TOK_MORE;
                t->bad_field = k;
                t->bad_line = lineoff;
                return TOK_OPEN_QUOTE;
            }
            n = (size_t)(q - s);
            lines += count_newlines(s, n);
            for (p = q + 1; *p == ' ' || *p == '\t'; p++) continue;
            if (*p == '\r' && p + 1 == end) {
                if (!eof) return TOK_MORE;
                p++;
            } else if (*p == '\r' && p[1] == '\n') p++;
            if (*p != ',' && *p != '\n') {
                t->bad_field = k;
                t->bad_line = lines;
                t->bad_char = *p;
                return TOK_AFTER_QUOTE;
            }
            any_esc |= esc;
        }
        if (k < cap) {
            f[k].s = s;
            f[k].n = (uint32_t)n;
            f[k].quoted = (uint8_t)quoted;
            f[k].esc = (uint8_t)esc;
        }
        k++;
        if (*p == ',') {
            p++;
            continue;
        }
        if (p == end && !eof) return TOK_MORE;
        if (!quoted && n && s[n - 1] == '\r' && k <= cap) f[k - 1].n--;   /* CR LF */
        t->next = p < end ? p + 1 : p;
        t->nf = k;
        t->lines = lines;
        t->any_esc = any_esc;
        return TOK_ROW;
    }
}

/* Collapse "" to " inside a quoted field (the piece belongs to us).  The bytes freed at
 * the end become spaces: line numbers are found later by counting the newlines of the
 * row, and a stale copy of one must not count twice. */
static void unescape(fld *fl)
{
    char *w = fl->s;
    const char *e = fl->s + fl->n;
    for (const char *r = fl->s; r < e; r++) {
        *w++ = *r;
        if (*r == '"') r++;
    }
    memset(w, ' ', (size_t)(e - w));
    fl->n = (uint32_t)(w - fl->s);
}

static int quote_error(const csv_reader *r, int tk, const tok_row *t)
{
    long long line = (long long)(r->line + t->bad_line);
    if (tk == TOK_OPEN_QUOTE)
        return evm__fail(r->c, EVM_ERR_CSV, "%s:%lld:%d: unterminated quoted field "
                         "(no closing '\"' before the end of the file)",
                         r->path, line, t->bad_field + 1);
    unsigned char ch = (unsigned char)t->bad_char;
    if (ch >= 0x20 && ch < 0x7f)
        return evm__fail(r->c, EVM_ERR_CSV, "%s:%lld:%d: unexpected '%c' after a closing quote",
                         r->path, line, t->bad_field + 1, ch);
    return evm__fail(r->c, EVM_ERR_CSV, "%s:%lld:%d: unexpected byte 0x%02x after a closing "
                     "quote", r->path, line, t->bad_field + 1, ch);
}

/* ---------------------------------------------------------------- header */

#define CR_ONLY "line ends are CR only (classic Mac); convert them to LF or CRLF"

/* A CR followed by anything but LF in [s, e): the line ends of a classic Mac file. */
static int bare_cr(const char *s, const char *e)
{
    for (; (s = memchr(s, '\r', (size_t)(e - s))) != NULL; s++)
        if (s + 1 < e && s[1] != '\n') return 1;
    return 0;
}

/* Files that are not CSV text, known by their first bytes. */
static const struct {
    const char *magic;
    size_t n;
    const char *what;
} binary_kinds[] = {
    {"\x89HDF\r\n\x1a\n", 8, "an HDF5 file?"},
    {"\x1f\x8b", 2, "a gzip-compressed file? decompress it first"},
    {"PK\x03\x04", 4, "a ZIP archive or an Excel .xlsx workbook? export the sheet as CSV"},
    {"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8, "an Excel .xls workbook? export the sheet as CSV"},
    {"\xff\xfe", 2, "UTF-16 text? save it as UTF-8"},
    {"\xfe\xff", 2, "UTF-16 text? save it as UTF-8"},
    {"\xfd""7zXZ\0", 6, "an xz-compressed file? decompress it first"},
    {"\x28\xb5\x2f\xfd", 4, "a zstd-compressed file? decompress it first"},
    {"\x89PNG\r\n\x1a\n", 8, "a PNG image?"},
    {"SQLite format 3", 16, "an SQLite database?"},
};

static int check_signature(const csv_reader *r, const char *buf, size_t len)
{
    for (size_t k = 0; k < sizeof binary_kinds / sizeof binary_kinds[0]; k++)
        if (len >= binary_kinds[k].n && memcmp(buf, binary_kinds[k].magic, binary_kinds[k].n) == 0)
            return evm__fail(r->c, EVM_ERR_CSV, "%s: not a CSV text file (%s)", r->path,
                             binary_kinds[k].what);
    return EVM_OK;
}

/* The bytes of the header line, before it is split: control bytes mean a binary file, a
 * CR inside the line (outside quotes) CR-only line ends.  Either would otherwise show up
 * as one long header of strange names.  [p, end) is what the piece holds of the file
 * from the header on; bytes checked before are not checked again. */
static int check_header_bytes(csv_reader *r, const char *p, const char *end)
{
    const char *nl = memchr(p + r->hdr_checked, '\n', (size_t)(end - p - r->hdr_checked));
    const char *e = nl ? nl : end, *q = p + r->hdr_checked;
    for (; q < e; q++) {
        unsigned char ch = (unsigned char)*q;
        if (ch >= 0x20 || ch == '\t') {
            if (ch == '"') r->hdr_quoted = !r->hdr_quoted;
        } else if (ch != '\r') {
            return evm__fail(r->c, EVM_ERR_CSV, "%s: not a CSV text file (%s byte in the "
                             "header line)", r->path, ch ? "a control" : "a NUL");
        } else if (!r->hdr_quoted && q + 1 < end && q + 1 != nl) {
            return evm__fail(r->c, EVM_ERR_CSV, "%s:1: " CR_ONLY, r->path);
        } else if (q + 1 == end) {
            break;   /* a CR at the end of the piece: its LF may follow in the next */
        }
    }
    r->hdr_checked = (size_t)(q - p);
    return EVM_OK;
}

static int grow_fields(csv_reader *r, int n)
{
    fld *f = realloc(r->f, (size_t)n * sizeof *f);
    if (!f) return evm__fail(r->c, EVM_ERR_NOMEM, "%s: out of memory", r->path);
    r->f = f;
    r->fcap = n;
    return EVM_OK;
}

static char *field_string(fld *fl)
{
    if (fl->esc) unescape(fl);
    const char *s = fl->s;
    size_t n = fl->n;
    if (!fl->quoted) {
        while (n && (*s == ' ' || *s == '\t')) s++, n--;
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    }
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* Parse the header row at *pp.  Returns 1 when the piece ends inside it. */
static int parse_header(csv_reader *r, char **pp, char *end, int eof)
{
    tok_row t;
    int tk = check_header_bytes(r, *pp, end);
    if (tk < 0) return tk;
    while ((tk = tokenize(*pp, end, eof, r->f, r->fcap, &t)) == TOK_ROW && t.nf > r->fcap) {
        if (t.nf > MAX_FIELDS)
            return evm__fail(r->c, EVM_ERR_CSV, "%s:1: the header has more than %d fields",
                             r->path, MAX_FIELDS);
        int st = grow_fields(r, t.nf);
        if (st < 0) return st;
    }
    if (tk == TOK_MORE) return 1;
    if (tk != TOK_ROW) return quote_error(r, tk, &t);
    if (t.nf == 1 && !r->f[0].quoted && r->f[0].n == 0)
        return evm__fail(r->c, EVM_ERR_CSV, "%s:1: the header row is blank", r->path);
    r->names = calloc((size_t)t.nf, sizeof *r->names);
    if (!r->names) return evm__fail(r->c, EVM_ERR_NOMEM, "%s: out of memory", r->path);
    r->ncols = t.nf;
    for (int k = 0; k < t.nf; k++)
        if (!(r->names[k] = field_string(&r->f[k])))
            return evm__fail(r->c, EVM_ERR_NOMEM, "%s: out of memory", r->path);
    r->line = 2 + t.lines;
    *pp = t.next;
    return EVM_OK;
}

/* "a, b, c" (at most LIST_MAX names, then ", ...") */
static void list_names(const csv_reader *r, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < r->ncols && used < size; k++) {
        int w = k == LIST_MAX ? snprintf(buf + used, size - used, ", ...")
                              : snprintf(buf + used, size - used, "%s%s", k ? ", " : "",
                                         r->names[k]);
        if (w < 0 || k == LIST_MAX) break;
        used += (size_t)w;
    }
}

/* Field index of each requested column. */
static int resolve(csv_reader *r, const evm_colreq *req)
{
    r->cols = calloc((size_t)(r->nreq ? r->nreq : 1), sizeof *r->cols);
    if (!r->cols) return evm__fail(r->c, EVM_ERR_NOMEM, "%s: out of memory", r->path);
    for (int i = 0; i < r->nreq; i++) {
        int field = -1, count = 0, second = -1;
        for (int k = 0; k < r->ncols; k++) {
            if (strcmp(r->names[k], req[i].name) != 0) continue;
            if (count++ == 0) field = k;
            else if (second < 0) second = k;
        }
        if (count == 0) {
            char list[800];
            list_names(r, list, sizeof list);
            return evm__fail(r->c, EVM_ERR_COLUMN, "%s:1: no column '%s' in the header "
                             "(columns: %s)", r->path, req[i].name, list);
        }
        if (count > 1)
            return evm__fail(r->c, EVM_ERR_COLUMN, "%s:1: column '%s' is ambiguous: the "
                             "header has it %d times (fields %d and %d)", r->path,
                             req[i].name, count, field + 1, second + 1);
        evm__csvcol_init(&r->cols[i], r->path, req[i].name, field, req[i].as);
    }
    return EVM_OK;
}

/* ---------------------------------------------------------------- rows */

#define BATCH_ROWS ((int64_t)1 << 15)
#define SPAN_BYTES_MAX ((int64_t)32 << 20)
enum { SCAN_PIECE = 0, SCAN_FULL = 1 };

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Batch buffers, helper threads and the per-column state of the column pass. */
static int setup_batches(csv_reader *r, int threads)
{
    int nq = r->nreq ? r->nreq : 1;
    /* rows per batch: at most BATCH_ROWS, 32 MB of spans, or the rows the file can hold */
    r->bcap = BATCH_ROWS;
    if (r->bcap > SPAN_BYTES_MAX / ((int64_t)nq * (int64_t)sizeof(evm__span)))
        r->bcap = SPAN_BYTES_MAX / ((int64_t)nq * (int64_t)sizeof(evm__span));
    if (r->file_size >= 0 && r->bcap > r->file_size / 2 + 16) r->bcap = r->file_size / 2 + 16;
    if (r->bcap < 16) r->bcap = 16;
    int ok = 1;
    for (int b = 0; b < 2; b++) {
        rowbuf *rb = &r->buf[b];
        rb->row_off = evm__malloc((size_t)r->bcap, sizeof *rb->row_off);
        rb->row_line = evm__malloc((size_t)r->bcap, sizeof *rb->row_line);
        rb->spans = evm__malloc((size_t)r->bcap * (size_t)nq, sizeof *rb->spans);
        ok &= rb->row_off && rb->row_line && rb->spans;
    }
    r->cctx = calloc((size_t)nq, sizeof *r->cctx);
    r->bad_row = calloc((size_t)nq, sizeof *r->bad_row);
    r->status = calloc((size_t)nq, sizeof *r->status);
    r->cost = calloc((size_t)nq, sizeof *r->cost);
    r->order = calloc((size_t)nq, sizeof *r->order);
    if (!ok || !r->cctx || !r->bad_row || !r->status || !r->cost || !r->order)
        return evm__fail(r->c, EVM_ERR_NOMEM, "%s: out of memory", r->path);
    for (int i = 0; i < r->nreq; i++) {
        r->order[i] = i;
        if (!(r->cctx[i] = evm_ctx_create()))
            return evm__fail(r->c, EVM_ERR_NOMEM, "%s: out of memory", r->path);
    }
    /* Helpers store columns while this thread tokenizes the next batch; without them
     * (one thread, or none could be started) everything runs here, in the same order. */
    int helpers = threads - 1 < r->nreq ? threads - 1 : r->nreq;
    r->pool = evm__pool_create(helpers);
    return EVM_OK;
}

/* One more row in the batch being filled: where it starts and its requested fields. */
static void batch_row(csv_reader *r, const char *row_start, int64_t line, const fld *f)
{
    rowbuf *rb = r->fill;
    int64_t k = rb->n++;
    rb->row_off[k] = (uint32_t)(row_start - r->piece);
    rb->row_line[k] = line;
    for (int i = 0; i < r->nreq; i++) {
        const fld *fl = &f[r->cols[i].field];
        evm__span *sp = &rb->spans[(int64_t)i * r->bcap + k];
        sp->off = (uint32_t)(fl->s - r->piece);
        sp->len = fl->n | (fl->quoted ? EVM__SPAN_QUOTED : 0);
    }
}

/* Blank lines followed by data: rows of one missing value in a one-column file (as many
 * as the batch has room for, keeping one slot), an error otherwise. */
static int flush_blanks(csv_reader *r, char *row_start)
{
    if (r->ncols != 1)
        return evm__fail(r->c, EVM_ERR_CSV, "%s:%lld:1: blank line, the header has %d "
                         "fields", r->path, (long long)r->blank_line, r->ncols);
    fld empty = {row_start, 0, 0, 0};
    while (r->nblank > 0 && r->fill->n < r->bcap - 1) {
        batch_row(r, row_start, r->blank_line++, &empty);
        r->nblank--;
    }
    return r->nblank ? SCAN_FULL : EVM_OK;
}

/* Check a tokenized row and add it to the batch.  SCAN_FULL: not taken, no room. */
static int take_row(csv_reader *r, const tok_row *t, char *row_start)
{
    fld *f = r->f;
    if (t->nf == 1 && !f[0].quoted && f[0].n == 0) {
        if (r->nblank++ == 0) r->blank_line = r->line;
        return EVM_OK;
    }
    int st;
    if (r->nblank && (st = flush_blanks(r, row_start)) != EVM_OK) return st;
    if (t->nf != r->ncols && bare_cr(row_start, t->next))
        return evm__fail(r->c, EVM_ERR_CSV, "%s:%lld: " CR_ONLY, r->path, (long long)r->line);
    if (t->nf != r->ncols)
        return evm__fail(r->c, EVM_ERR_CSV, "%s:%lld:%d: row has %d field%s, the header has %d",
                         r->path, (long long)r->line, t->nf < r->ncols ? t->nf : r->ncols + 1,
                         t->nf, t->nf == 1 ? "" : "s", r->ncols);
    if (t->any_esc)
        for (int k = 0; k < r->ncols; k++)
            if (f[k].esc) unescape(&f[k]);
    batch_row(r, row_start, r->line, f);
    return EVM_OK;
}

/* Tokenize rows from *pp into the batch rb until the piece ends inside a row
 * (SCAN_PIECE), the batch is full (SCAN_FULL) or a row is malformed (error). */
static int scan_batch(csv_reader *r, rowbuf *rb, char **pp, char *end, int eof)
{
    char *p = *pp;
    int st = SCAN_PIECE;
    r->fill = rb;
    rb->n = 0;
    while (p < end) {
        if (rb->n == r->bcap) {
            st = SCAN_FULL;
            break;
        }
        tok_row t;
        int tk = tokenize(p, end, eof, r->f, r->ncols, &t);
        if (tk == TOK_MORE) break;
        if (tk != TOK_ROW) {
            st = quote_error(r, tk, &t);
            break;
        }
        if ((st = take_row(r, &t, p)) != EVM_OK) break;
        st = SCAN_PIECE;
        r->line += 1 + t.lines;
        p = t.next;
    }
    *pp = rb->end = p;
    return st;
}

/* Room for batch rb in every column.  The first time, estimate the total from the bytes
 * per row so far, bounded by the file size (a row takes at least one byte). */
static int reserve_rows(csv_reader *r, const rowbuf *rb)
{
    int64_t need = r->nrows + rb->n;
    if (need <= r->cap && r->cap > 0) return EVM_OK;
    int64_t cap = need > r->cap + r->cap / 2 ? need : r->cap + r->cap / 2;
    int64_t done = r->piece_off + (int64_t)(rb->end - r->piece) - r->data_start;
    if (!r->grown && r->file_size > 0 && done > 0) {
        double rows = (double)need * (double)(r->file_size - r->data_start) / (double)done;
        int64_t est = (int64_t)(rows * 1.03) + 1024;
        if (est > r->file_size) est = r->file_size;
        if (est > cap) cap = est;
    }
    r->grown = 1;
    for (int i = 0; i < r->nreq; i++) {
        int st = evm__csvcol_reserve(&r->cols[i], cap, r->c);
        if (st < 0) return st;
    }
    r->cap = cap;
    return EVM_OK;
}

static void column_task(void *arg, int task)
{
    csv_reader *r = arg;
    int i = r->order[task];
    double t0 = now_seconds();
    r->status[i] = evm__csvcol_put_batch(&r->cols[i], &r->batch,
                                         r->inflight->spans + (int64_t)i * r->bcap,
                                         &r->bad_row[i], r->cctx[i]);
    r->cost[i] = now_seconds() - t0;
}

/* Start storing batch rb in every column, on the helpers (slowest column first). */
static int start_pass(csv_reader *r, rowbuf *rb)
{
    r->inflight = rb;
    if (rb->n == 0) return EVM_OK;
    int st = reserve_rows(r, rb);
    if (st < 0) return st;
    r->batch = (evm__batch){r->piece, rb->n, r->nrows, rb->row_off, rb->row_line};
    for (int i = 0; i < r->nreq; i++) {       /* insertion sort by cost, descending */
        int j = i;
        for (; j > 0 && r->cost[r->order[j - 1]] < r->cost[i]; j--) r->order[j] = r->order[j - 1];
        r->order[j] = i;
    }
    evm__pool_start(r->pool, r->nreq, column_task, r);
    return EVM_OK;
}

/* Join the pass and wait for it.  The error of the earliest row wins (then the first
 * request), as if the file were read row by row. */
static int end_pass(csv_reader *r)
{
    rowbuf *rb = r->inflight;
    if (rb->n == 0) return EVM_OK;
    evm__pool_finish(r->pool, r->nreq, column_task, r);
    int worst = -1;
    for (int i = 0; i < r->nreq; i++)
        if (r->status[i] < 0 && (worst < 0 || r->bad_row[i] < r->bad_row[worst])) worst = i;
    if (worst >= 0)
        return evm__fail(r->c, r->status[worst], "%s", evm_ctx_message(r->cctx[worst]));
    r->nrows += rb->n;
    rb->n = 0;
    return EVM_OK;
}

/* Every row of the piece from *pp on; stops at a row the piece cuts (*pp points to it).
 * While the columns store one batch, this thread tokenizes the next.  A malformed row
 * is reported after the rows before it are stored (their errors come first). */
static int parse_rows(csv_reader *r, char **pp, char *end, int eof)
{
    rowbuf *cur = &r->buf[0], *next = &r->buf[1];
    int scan = scan_batch(r, cur, pp, end, eof);
    for (;;) {
        int st = start_pass(r, cur);
        if (st < 0) return st;
        int next_scan = SCAN_PIECE;
        next->n = 0;
        if (scan == SCAN_FULL) next_scan = scan_batch(r, next, pp, end, eof);
        if ((st = end_pass(r)) < 0) return st;
        if (scan != SCAN_FULL) return scan;   /* piece done, or the malformed row */
        rowbuf *t = cur;
        cur = next;
        next = t;
        scan = next_scan;
    }
}

/* ---------------------------------------------------------------- read loop */

static void reader_free(csv_reader *r)
{
    for (int i = 0; i < r->nreq && r->cols; i++) evm__csvcol_free(&r->cols[i]);
    for (int i = 0; i < r->nreq && r->cctx; i++) evm_ctx_destroy(&r->cctx[i]);
    free(r->cols);
    free(r->cctx);
    free(r->bad_row);
    free(r->status);
    free(r->cost);
    free(r->order);
    evm__pool_destroy(&r->pool);
    for (int b = 0; b < 2; b++) {
        free(r->buf[b].row_off);
        free(r->buf[b].row_line);
        free(r->buf[b].spans);
    }
    if (r->names) evm_strv_free(&r->names, r->ncols);
    free(r->f);
}

/* Start of a piece: the sentinel, and on the first piece the BOM and the empty check. */
static int begin_piece(csv_reader *r, char *buf, size_t len, int eof, char **p)
{
    buf[len] = '\n';
    *p = buf;
    if (r->piece) return EVM_OK;
    int st = check_signature(r, buf, len);
    if (st < 0) return st;
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) *p += 3;
    if (eof && *p == buf + len)
        return evm__fail(r->c, EVM_ERR_CSV, "%s: empty file (no header row)", r->path);
    return EVM_OK;
}

/* Stream the file: the header, then (unless header_only) every row. */
static int read_file(csv_reader *r, evm__chunkrd *rd, const evm_colreq *req, int threads,
                     int header_only)
{
    size_t keep = 0, len = 0;
    int have_header = 0, eof = 0;
    while (!eof) {
        char *buf, *p;
        int64_t off = r->piece ? r->piece_off + (int64_t)(len - keep) : 0;
        int st = evm__chunkrd_next(rd, keep, &buf, &len, &eof, r->c);
        if (st >= 0) st = begin_piece(r, buf, len, eof, &p);
        if (st < 0) return st;
        r->piece = buf;
        r->piece_off = off;
        if (!have_header) {
            if ((st = parse_header(r, &p, buf + len, eof)) < 0) return st;
            have_header = st == 0;
            if (have_header && header_only) return EVM_OK;
            if (have_header) {
                r->data_start = off + (p - buf);
                if ((st = resolve(r, req)) < 0 || (st = setup_batches(r, threads)) < 0) return st;
            }
        }
        if (have_header && (st = parse_rows(r, &p, buf + len, eof)) < 0) return st;
        keep = (size_t)(buf + len - p);
        if (keep > EVM__MAX_CARRY)
            return evm__fail(r->c, EVM_ERR_CSV, "%s:%lld: row longer than %d MB (an "
                             "unterminated quoted field?)", r->path,
                             (long long)(have_header ? r->line : 1),
                             (int)(EVM__MAX_CARRY >> 20));
    }
    return EVM_OK;
}

static void finish_task(void *arg, int task)
{
    csv_reader *r = arg;
    int i = r->order[task];
    r->status[i] = evm__csvcol_finish(&r->cols[i], r->nrows, r->cctx[i]);
}

/* Everything read: levels in their final order (columns in parallel), then the frame
 * with the columns and the file's provenance. */
static int build_frame(csv_reader *r, evm__chunkrd *rd, evm_frame **out)
{
    char hex[65];
    int st = evm__chunkrd_sha256(rd, hex, r->c);
    if (st < 0) return st;
    evm__pool_start(r->pool, r->nreq, finish_task, r);
    evm__pool_finish(r->pool, r->nreq, finish_task, r);
    for (int i = 0; i < r->nreq; i++)
        if (r->status[i] < 0)
            return evm__fail(r->c, r->status[i], "%s", evm_ctx_message(r->cctx[i]));
    evm_frame *f = evm_frame_create(r->nrows, r->c);
    if (!f) return EVM_ERR_NOMEM;
    for (int i = 0; i < r->nreq && st >= 0; i++) st = evm__csvcol_adopt(&r->cols[i], f, r->c);
    if (st >= 0) st = evm__frame_set_source(f, r->path, hex, r->nrows, r->c);
    if (st < 0) {
        evm_frame_destroy(&f);
        return st;
    }
    *out = f;
    return EVM_OK;
}

int evm_csv_read(const char *path, const evm_colreq *req, int nreq, evm_frame **out,
                 evm_ctx *c)
{
    if (out) *out = NULL;
    if (!path || !out || nreq < 0 || (nreq > 0 && !req))
        return evm__fail(c, EVM_ERR_ARG, "evm_csv_read: invalid arguments");
    for (int i = 0; i < nreq; i++)
        if (!req[i].name || (req[i].as != EVM_AS_AUTO && req[i].as != EVM_AS_FACTOR))
            return evm__fail(c, EVM_ERR_ARG, "evm_csv_read: request %d is invalid", i + 1);
    int threads = c ? evm_ctx_threads(c) : 1;
    csv_reader r = {.path = path, .c = c, .nreq = nreq, .line = 1};
    evm__chunkrd *rd = NULL;
    int st = evm__chunkrd_open(path, threads, EVM__CHUNK_BYTES, &rd, c);
    if (st >= 0) {
        r.file_size = evm__chunkrd_size(rd);
        st = read_file(&r, rd, req, threads, 0);
    }
    /* Said here, naming the file, rather than by each model as "no rows". */
    if (st >= 0 && r.nrows == 0)
        st = evm__fail(c, EVM_ERR_CSV, "%s: no data rows (only a header)", path);
    if (st >= 0) st = build_frame(&r, rd, out);
    evm__chunkrd_close(&rd);
    reader_free(&r);
    return st < 0 ? st : EVM_OK;
}

int evm_csv_header(const char *path, char ***names, int *n, evm_ctx *c)
{
    if (names) *names = NULL;
    if (n) *n = 0;
    if (!path || !names || !n)
        return evm__fail(c, EVM_ERR_ARG, "evm_csv_header: invalid arguments");
    csv_reader r = {.path = path, .c = c, .line = 1};
    evm__chunkrd *rd = NULL;
    int st = evm__chunkrd_open(path, 1, EVM__HEADER_CHUNK_BYTES, &rd, c);
    if (st >= 0) st = read_file(&r, rd, NULL, 1, 1);
    evm__chunkrd_close(&rd);
    if (st >= 0) {
        *names = r.names;
        *n = r.ncols;
        r.names = NULL;
    }
    reader_free(&r);
    return st < 0 ? st : EVM_OK;
}

void evm_strv_free(char ***v, int n)
{
    if (!v || !*v) return;
    for (int i = 0; i < n; i++) free((*v)[i]);
    free(*v);
    *v = NULL;
}
