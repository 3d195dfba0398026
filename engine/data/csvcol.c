/* csvcol.c — one requested CSV column: decides its type from the values, stores them,
 * and words the errors about values (mixed types, NaN/Inf).
 *
 * An EVM_AS_AUTO column is typed by its first non-missing value: a number makes it
 * numeric, text makes it a factor; a later value of the other kind is an error (so a
 * column never has to be re-typed).  NaN/Inf words count as numbers there, so they are
 * either a non-finite value error or a mix error, never a factor level. */
#include "data_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SHOW_MAX 60   /* longest value quoted in a message */

/* Outcome of storing one value; the caller words the message (it knows the line). */
enum { PUT_OK = 0, PUT_MIX = -1, PUT_NONFINITE = -2, PUT_NOMEM = -3, PUT_NUL = -4 };

/* A NUL byte is never part of a value (a binary file, or UTF-16 text); it is looked for
 * only where a value is new or failed to parse, not in every field. */
static inline int has_nul(const char *s, size_t n)
{
    return n && memchr(s, '\0', n) != NULL;
}

void evm__csvcol_init(evm__csvcol *col, const char *path, const char *name, int field,
                      evm_as as)
{
    memset(col, 0, sizeof *col);
    col->path = path;
    col->name = name;
    col->field = field;
    col->as = as;
    col->kind = as == EVM_AS_FACTOR ? EVM__KIND_FACTOR : EVM__KIND_UNDECIDED;
    col->last_code = -1;
    col->last_n = UINT32_MAX;
}

void evm__csvcol_free(evm__csvcol *col)
{
    free(col->num);
    free(col->codes);
    free(col->hash);
    free(col->labels);
    free(col->levels);
    evm__levelset_destroy(&col->ls);
    col->num = NULL;
    col->codes = NULL;
    col->hash = NULL;
    col->labels = NULL;
    col->levels = NULL;
}

static int grow(void **p, int64_t old, int64_t cap, size_t size)
{
    void *q = evm__grow(*p, (size_t)old, (size_t)cap, size);
    if (!q) return EVM_ERR_NOMEM;
    *p = q;
    return EVM_OK;
}

int evm__csvcol_reserve(evm__csvcol *col, int64_t cap, evm_ctx *c)
{
    int st = EVM_OK;
    if (col->kind == EVM__KIND_NUMERIC) st = grow((void **)&col->num, col->cap, cap, sizeof(double));
    else if (col->kind == EVM__KIND_FACTOR)
        st = grow((void **)&col->codes, col->cap, cap, sizeof(int32_t));
    if (st < 0)
        return evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory for %lld rows of column '%s'",
                         col->path, (long long)cap, col->name);
    if (col->kind == EVM__KIND_FACTOR && !col->ls &&
        !(col->ls = evm__levelset_create(col->as == EVM_AS_FACTOR)))
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    col->cap = cap;
    return EVM_OK;
}

/* Physical line of the field at s in row k of the batch: newlines before it in the row
 * can only come from quoted fields. */
static int64_t field_line(const evm__batch *b, int64_t k, const char *s)
{
    const char *p = b->piece + b->row_off[k];
    int64_t line = b->row_line[k];
    while ((p = memchr(p, '\n', (size_t)(s - p))) != NULL) {
        line++;
        p++;
    }
    return line;
}

/* Store a factor value whose hint (evm__levelset_hint) is known. */
static int put_factor(evm__csvcol *col, int64_t row, const char *s, size_t n, uint64_t hint)
{
    if (n == col->last_n && col->last_code >= 0 && evm__same_bytes(col->last, s, n)) {
        col->codes[row] = col->last_code;
        return PUT_OK;
    }
    int is_new = 0;
    int32_t code = evm__levelset_code(col->ls, s, n, hint, &is_new);
    if (code < 0) return PUT_NOMEM;
    if (is_new && has_nul(s, n)) return PUT_NUL;
    if (is_new && col->as == EVM_AS_AUTO) {
        /* text column: a number (or NaN/Inf) among the values is a mix */
        double v;
        int r = evm__parse_number(s, n, &v);
        if (r < 0) return PUT_NOMEM;
        if (r == 1 || evm__is_nonfinite_word(s, n)) return PUT_MIX;
    }
    col->codes[row] = code;
    col->last_code = code;
    col->last_n = n <= sizeof col->last ? (uint32_t)n : UINT32_MAX;
    if (n <= sizeof col->last) memcpy(col->last, s, n);
    return PUT_OK;
}

/* A value that is not a finite number, in a numeric or undecided column. */
static int bad_number(const char *s, size_t n, int parsed)
{
    if (parsed < 0) return PUT_NOMEM;
    if (has_nul(s, n)) return PUT_NUL;
    return parsed == 1 || evm__is_nonfinite_word(s, n) ? PUT_NONFINITE : PUT_MIX;
}

/* First non-missing value of an AUTO column: fix the type, fill earlier rows missing. */
static int decide(evm__csvcol *col, int64_t row, const char *s, size_t n, int64_t line)
{
    double v;
    if (has_nul(s, n)) return PUT_NUL;
    int r = evm__parse_number(s, n, &v);
    if ((r == 1 && !isfinite(v)) || r < 0 || (r == 0 && evm__is_nonfinite_word(s, n)))
        return bad_number(s, n, r);
    col->kind = r == 1 ? EVM__KIND_NUMERIC : EVM__KIND_FACTOR;
    col->first_line = line;
    if (r == 0) {   /* kept for the message should a number follow */
        col->first_n = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
        memcpy(col->first, s, n < sizeof col->first ? n : sizeof col->first);
    }
    int64_t cap = col->cap;
    col->cap = 0;
    if (evm__csvcol_reserve(col, cap, NULL) < 0) return PUT_NOMEM;
    if (col->kind == EVM__KIND_NUMERIC) {
        for (int64_t i = 0; i < row; i++) col->num[i] = NAN;
        col->num[row] = v;
        return PUT_OK;
    }
    for (int64_t i = 0; i < row; i++) col->codes[i] = -1;
    return put_factor(col, row, s, n, evm__levelset_hint(col->ls, s, n));
}

static inline int is_missing(const char *s, size_t n)
{
    return n == 0 || (n == 2 && s[0] == 'N' && s[1] == 'A');
}

static int put_value(evm__csvcol *col, int64_t row, const char *s, size_t n,
                     const evm__batch *b, int64_t k)
{
    switch (col->kind) {
    case EVM__KIND_NUMERIC: {
        if (is_missing(s, n)) {
            col->num[row] = NAN;
            return PUT_OK;
        }
        double v;
        if (evm__parse_simple(s, n, &v)) {
            col->num[row] = v;
            return PUT_OK;
        }
        int r = evm__parse_number(s, n, &v);
        if (r == 1 && isfinite(v)) {
            col->num[row] = v;
            return PUT_OK;
        }
        return bad_number(s, n, r);
    }
    case EVM__KIND_FACTOR:
        if (is_missing(s, n)) {
            col->codes[row] = -1;
            return PUT_OK;
        }
        return put_factor(col, row, s, n, evm__levelset_hint(col->ls, s, n));
    default:
        return is_missing(s, n) ? PUT_OK : decide(col, row, s, n, field_line(b, k, s));
    }
}

/* A value as quoted in messages: at most SHOW_MAX bytes, then "...". */
static void show_value(char *v, size_t size, const char *s, size_t n)
{
    if (n > SHOW_MAX) snprintf(v, size, "%.*s...", SHOW_MAX, s);
    else snprintf(v, size, "%.*s", (int)n, s);
}

/* The message for a failed value.  A mix always names the text value's cell first: a
 * number among text values is usually fine and the text the mistake ('abc' in a column
 * of scores), so "first text at line 2" would send the reader to the wrong cell. */
static int fail_value(const evm__csvcol *col, int why, const char *s, size_t n, int64_t line,
                      evm_ctx *c)
{
    char v[SHOW_MAX + 8];
    show_value(v, sizeof v, s, n);
    if (why == PUT_MIX && col->kind == EVM__KIND_FACTOR) {
        char t[SHOW_MAX + 8];
        size_t tn = col->first_n < sizeof col->first ? col->first_n : sizeof col->first;
        show_value(t, sizeof t, col->first, tn);   /* (first holds more than SHOW_MAX) */
        return evm__fail(c, EVM_ERR_TYPE, "%s:%lld:%d: column '%s' mixes numbers and text: "
                         "'%s' (first number at line %lld: '%s')", col->path,
                         (long long)col->first_line, col->field + 1, col->name, t,
                         (long long)line, v);
    }
    if (why == PUT_MIX)
        return evm__fail(c, EVM_ERR_TYPE, "%s:%lld:%d: column '%s' mixes numbers and text: "
                         "'%s' (first number at line %lld)", col->path, (long long)line,
                         col->field + 1, col->name, v, (long long)col->first_line);
    if (why == PUT_NUL)
        return evm__fail(c, EVM_ERR_CSV, "%s:%lld:%d: NUL byte in the field (column '%s'; "
                         "a binary file?)", col->path, (long long)line, col->field + 1,
                         col->name);
    if (why == PUT_NONFINITE)
        return evm__fail(c, EVM_ERR_VALUE, "%s:%lld:%d: column '%s': value '%s' is not a "
                         "finite number", col->path, (long long)line, col->field + 1,
                         col->name, v);
    return evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory (or too many distinct values) in "
                     "column '%s'", col->path, col->name);
}

/* Field k of the batch without the quote flag, and without the spaces around it when
 * unquoted. */
static inline const char *span_value(const evm__batch *b, const evm__span *sp, size_t *n)
{
    const char *s = b->piece + sp->off;
    uint32_t len = sp->len;
    if (len & EVM__SPAN_QUOTED) {
        *n = len & ~EVM__SPAN_QUOTED;
        return s;
    }
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    *n = len;
    return s;
}

/* Rows from k on of a numeric column. */
static int put_numeric_rows(evm__csvcol *col, const evm__batch *b, const evm__span *spans,
                            int64_t k, int64_t *bad)
{
    double *x = col->num + b->row0;
    for (int64_t i = k; i < b->n; i++) {
        /* a plain number as it stands (the flag bit makes a quoted span's length fail) */
        if (evm__parse_simple(b->piece + spans[i].off, spans[i].len, &x[i])) continue;
        size_t n;
        const char *s = span_value(b, &spans[i], &n);
        if (evm__parse_simple(s, n, &x[i])) continue;
        if (is_missing(s, n)) {
            x[i] = NAN;
            continue;
        }
        int r = evm__parse_number(s, n, &x[i]);
        if (r != 1 || !isfinite(x[i])) {
            *bad = i;
            return bad_number(s, n, r);
        }
    }
    return PUT_OK;
}

#define AHEAD 16   /* rows between prefetching a table slot and using it */
#define SAME_AS_PREV ((uint64_t)1)

/* Rows from k on of a factor column: hash every value first, then look them up with
 * the slot of the value AHEAD rows later already on its way from memory. */
static int put_factor_rows(evm__csvcol *col, const evm__batch *b, evm__span *spans,
                           int64_t k, int64_t *bad)
{
    if (b->n > col->hash_cap) {
        uint64_t *h = evm__grow(col->hash, 0, (size_t)b->n, sizeof *h);
        if (!h) {
            *bad = k;
            return PUT_NOMEM;
        }
        col->hash = h;
        col->hash_cap = b->n;
    }
    /* Bit 0 of a hint is free: it marks "same value as the row before", which needs
     * neither hash nor lookup (ids come in runs). */
    uint64_t *h = col->hash;
    const char *prev = NULL;
    size_t prev_n = 0;
    for (int64_t i = k; i < b->n; i++) {
        size_t n;
        const char *s = span_value(b, &spans[i], &n);
        spans[i].off = (uint32_t)(s - b->piece);    /* trimmed, for the second pass */
        spans[i].len = (uint32_t)n | (spans[i].len & EVM__SPAN_QUOTED);
        h[i] = prev && n == prev_n && evm__same_bytes(s, prev, n) ? SAME_AS_PREV
                                                                  : evm__levelset_hint(col->ls, s, n);
        prev = s;
        prev_n = n;
    }
    int32_t *codes = col->codes + b->row0;
    for (int64_t i = k; i < b->n; i++) {
        if (i + AHEAD < b->n && h[i + AHEAD] != SAME_AS_PREV)
            evm__levelset_prefetch(col->ls, h[i + AHEAD]);
        if (h[i] == SAME_AS_PREV) {
            codes[i] = codes[i - 1];
            continue;
        }
        const char *s = b->piece + spans[i].off;
        size_t n = spans[i].len & ~EVM__SPAN_QUOTED;
        int why = PUT_OK;
        if (is_missing(s, n)) codes[i] = -1;
        else why = put_factor(col, b->row0 + i, s, n, h[i]);
        if (why != PUT_OK) {
            *bad = i;
            return why;
        }
    }
    return PUT_OK;
}

int evm__csvcol_put_batch(evm__csvcol *col, const evm__batch *b, evm__span *spans,
                          int64_t *bad_row, evm_ctx *c)
{
    int64_t k = 0;
    int why = PUT_OK;
    for (; k < b->n && why == PUT_OK && col->kind == EVM__KIND_UNDECIDED; k++) {
        size_t n;
        const char *s = span_value(b, &spans[k], &n);
        why = put_value(col, b->row0 + k, s, n, b, k);
    }
    if (why != PUT_OK) k--;
    else if (k < b->n && col->kind == EVM__KIND_NUMERIC)
        why = put_numeric_rows(col, b, spans, k, &k);
    else if (k < b->n)
        why = put_factor_rows(col, b, spans, k, &k);
    if (why == PUT_OK) return EVM_OK;
    *bad_row = k;
    size_t n;
    const char *s = span_value(b, &spans[k], &n);
    return fail_value(col, why, s, n, field_line(b, k, s), c);
}

/* Shrink an array to n elements (at least one, so realloc never frees). */
static void *shrink(void *p, int64_t n, size_t size)
{
    void *q = realloc(p, (size_t)(n > 0 ? n : 1) * size);
    return q ? q : p;
}

int evm__csvcol_finish(evm__csvcol *col, int64_t nrows, evm_ctx *c)
{
    free(col->hash);
    col->hash = NULL;
    col->hash_cap = 0;
    if (col->kind == EVM__KIND_UNDECIDED) {        /* no value at all: numeric, all NaN */
        double *x = evm__malloc((size_t)nrows, sizeof *x);
        if (!x) return fail_value(col, PUT_NOMEM, "", 0, 0, c);
        for (int64_t i = 0; i < nrows; i++) x[i] = NAN;
        free(col->num);
        col->num = x;
        col->kind = EVM__KIND_NUMERIC;
        return EVM_OK;
    }
    if (col->kind == EVM__KIND_NUMERIC) {
        col->num = shrink(col->num, nrows, sizeof *col->num);
        return EVM_OK;
    }
    if (!col->ls && !(col->ls = evm__levelset_create(0)))   /* no rows were stored */
        return fail_value(col, PUT_NOMEM, "", 0, 0, c);
    if (evm__levelset_finish(col->ls, col->codes, nrows, &col->labels, &col->levels,
                             &col->nlevels) < 0)
        return fail_value(col, PUT_NOMEM, "", 0, 0, c);
    col->codes = shrink(col->codes, nrows, sizeof *col->codes);
    evm__levelset_destroy(&col->ls);
    return EVM_OK;
}

int evm__csvcol_adopt(evm__csvcol *col, evm_frame *f, evm_ctx *c)
{
    int st;
    if (col->kind == EVM__KIND_NUMERIC) {
        st = evm__frame_adopt_numeric(f, col->name, col->num, c);
        col->num = NULL;
        return st;
    }
    st = evm__frame_adopt_factor(f, col->name, col->codes, col->labels, col->levels,
                                 col->nlevels, c);
    col->codes = NULL;
    col->labels = NULL;
    col->levels = NULL;
    return st;
}
