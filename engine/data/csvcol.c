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
enum { PUT_OK = 0, PUT_MIX = -1, PUT_NONFINITE = -2, PUT_NOMEM = -3 };

void evm__csvcol_init(evm__csvcol *col, const char *path, const char *name, int field,
                      evm_as as)
{
    memset(col, 0, sizeof *col);
    col->path = path;
    col->name = name;
    col->field = field;
    col->as = as;
    col->kind = as == EVM_AS_FACTOR ? EVM__KIND_FACTOR : EVM__KIND_UNDECIDED;
    col->all_numeric = 1;
    col->last_code = -1;
}

void evm__csvcol_free(evm__csvcol *col)
{
    free(col->num);
    free(col->codes);
    free(col->vals);
    evm__strtab_destroy(&col->tab);
    col->num = NULL;
    col->codes = NULL;
    col->vals = NULL;
}

static int grow(void **p, int64_t old, int64_t cap, size_t size)
{
    void *q = evm__grow_huge(*p, (size_t)old, (size_t)cap, size);
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
    if (col->kind == EVM__KIND_FACTOR && !col->tab && !(col->tab = evm__strtab_create()))
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

/* Record that string `code` is (or is not) a finite number, for EVM_AS_FACTOR. */
static int note_value(evm__csvcol *col, int32_t code, const char *s, size_t n)
{
    double v = 0;
    int r = evm__parse_number(s, n, &v);
    if (r < 0) return PUT_NOMEM;
    if (r == 0 || !isfinite(v)) {
        col->all_numeric = 0;
        free(col->vals);
        col->vals = NULL;
        return PUT_OK;
    }
    if (code >= col->vals_cap) {
        int32_t cap = col->vals_cap > INT32_MAX / 2 ? INT32_MAX
                      : col->vals_cap             ? 2 * col->vals_cap
                                                  : 256;
        double *vals = evm__grow_huge(col->vals, (size_t)col->vals_cap, (size_t)cap,
                                      sizeof *vals);
        if (!vals) return PUT_NOMEM;
        col->vals = vals;
        col->vals_cap = cap;
    }
    col->vals[code] = v;
    return PUT_OK;
}

static int put_factor(evm__csvcol *col, int64_t row, const char *s, size_t n)
{
    if (col->last_code >= 0) {
        size_t len;
        const char *last = evm__strtab_str(col->tab, col->last_code, &len);
        if (len == n && memcmp(last, s, n) == 0) {
            col->codes[row] = col->last_code;
            return PUT_OK;
        }
    }
    int is_new = 0;
    int32_t code = evm__strtab_intern(col->tab, s, n, &is_new);
    if (code < 0) return PUT_NOMEM;
    if (is_new && col->as == EVM_AS_AUTO) {
        /* text column: a number (or NaN/Inf) among the values is a mix */
        double v;
        int r = evm__parse_number(s, n, &v);
        if (r < 0) return PUT_NOMEM;
        if (r == 1 || evm__is_nonfinite_word(s, n)) return PUT_MIX;
    } else if (is_new && col->all_numeric) {
        int st = note_value(col, code, s, n);
        if (st < 0) return st;
    }
    col->codes[row] = code;
    col->last_code = code;
    return PUT_OK;
}

/* A value that is not a finite number, in a numeric or undecided column. */
static int bad_number(const char *s, size_t n, int parsed)
{
    if (parsed < 0) return PUT_NOMEM;
    return parsed == 1 || evm__is_nonfinite_word(s, n) ? PUT_NONFINITE : PUT_MIX;
}

/* First non-missing value of an AUTO column: fix the type, fill earlier rows missing. */
static int decide(evm__csvcol *col, int64_t row, const char *s, size_t n, int64_t line)
{
    double v;
    int r = evm__parse_number(s, n, &v);
    if ((r == 1 && !isfinite(v)) || r < 0 || (r == 0 && evm__is_nonfinite_word(s, n)))
        return bad_number(s, n, r);
    col->kind = r == 1 ? EVM__KIND_NUMERIC : EVM__KIND_FACTOR;
    col->first_line = line;
    int64_t cap = col->cap;
    col->cap = 0;
    if (evm__csvcol_reserve(col, cap, NULL) < 0) return PUT_NOMEM;
    if (col->kind == EVM__KIND_NUMERIC) {
        for (int64_t i = 0; i < row; i++) col->num[i] = NAN;
        col->num[row] = v;
        return PUT_OK;
    }
    for (int64_t i = 0; i < row; i++) col->codes[i] = -1;
    return put_factor(col, row, s, n);
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
        return put_factor(col, row, s, n);
    default:
        return is_missing(s, n) ? PUT_OK : decide(col, row, s, n, field_line(b, k, s));
    }
}

/* The message for a failed value. */
static int fail_value(const evm__csvcol *col, int why, const char *s, size_t n, int64_t line,
                      evm_ctx *c)
{
    char v[SHOW_MAX + 8];
    if (n > SHOW_MAX) snprintf(v, sizeof v, "%.*s...", SHOW_MAX, s);
    else snprintf(v, sizeof v, "%.*s", (int)n, s);
    if (why == PUT_MIX)
        return evm__fail(c, EVM_ERR_TYPE, "%s:%lld:%d: column '%s' mixes numbers and text: "
                         "'%s' (first %s at line %lld)", col->path, (long long)line,
                         col->field + 1, col->name, v,
                         col->kind == EVM__KIND_NUMERIC ? "number" : "text",
                         (long long)col->first_line);
    if (why == PUT_NONFINITE)
        return evm__fail(c, EVM_ERR_VALUE, "%s:%lld:%d: column '%s': value '%s' is not a "
                         "finite number", col->path, (long long)line, col->field + 1,
                         col->name, v);
    return evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory (or too many distinct values) in "
                     "column '%s'", col->path, col->name);
}

int evm__csvcol_put_batch(evm__csvcol *col, const evm__batch *b, const evm__span *spans,
                          int64_t *bad_row, evm_ctx *c)
{
    for (int64_t k = 0; k < b->n; k++) {
        const char *s = b->piece + spans[k].off;
        size_t n = spans[k].len & ~EVM__SPAN_QUOTED;
        if (!(spans[k].len & EVM__SPAN_QUOTED)) {
            while (n && (*s == ' ' || *s == '\t')) {
                s++;
                n--;
            }
            while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
        }
        int why = put_value(col, b->row0 + k, s, n, b, k);
        if (why != PUT_OK) {
            *bad_row = k;
            return fail_value(col, why, s, n, field_line(b, k, s), c);
        }
    }
    return EVM_OK;
}

/* Shrink an array to n elements (at least one, so realloc never frees). */
static void *shrink(void *p, int64_t n, size_t size)
{
    void *q = realloc(p, (size_t)(n > 0 ? n : 1) * size);
    return q ? q : p;
}

int evm__csvcol_finish(evm__csvcol *col, int64_t nrows, evm_frame *f, evm_ctx *c)
{
    if (col->kind == EVM__KIND_UNDECIDED) {        /* no value at all: numeric, all NaN */
        double *x = evm__malloc((size_t)nrows, sizeof *x);
        if (!x) return fail_value(col, PUT_NOMEM, "", 0, 0, c);
        for (int64_t i = 0; i < nrows; i++) x[i] = NAN;
        return evm__frame_adopt_numeric(f, col->name, x, c);
    }
    if (col->kind == EVM__KIND_NUMERIC) {
        double *x = shrink(col->num, nrows, sizeof *x);
        col->num = NULL;
        return evm__frame_adopt_numeric(f, col->name, x, c);
    }
    char *labels = NULL;
    char **levels = NULL;
    int32_t nlevels = 0;
    if (!col->tab && !(col->tab = evm__strtab_create()))   /* no rows were stored */
        return fail_value(col, PUT_NOMEM, "", 0, 0, c);
    const double *vals = col->as == EVM_AS_FACTOR && col->all_numeric ? col->vals : NULL;
    if (evm__strtab_count(col->tab) == 0) vals = NULL;
    if (evm__levels_finish(col->tab, vals, col->codes, nrows, &labels, &levels, &nlevels) < 0)
        return fail_value(col, PUT_NOMEM, "", 0, 0, c);
    int32_t *codes = shrink(col->codes, nrows, sizeof *codes);
    col->codes = NULL;
    evm__strtab_destroy(&col->tab);
    return evm__frame_adopt_factor(f, col->name, codes, labels, levels, nlevels, c);
}
