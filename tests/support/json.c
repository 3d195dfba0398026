/* json.c — a small, strict JSON (RFC 8259) reader for the tests.  See json.h. */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct json_value {
    json_type type;
    double num;          /* JSON_NUMBER */
    char *str;           /* JSON_STRING: NUL-terminated copy */
    size_t slen;
    size_t n, cap;       /* JSON_ARRAY / JSON_OBJECT */
    json_value **item;
    char **key;          /* JSON_OBJECT: NUL-terminated keys */
    size_t *keylen;
};

typedef struct {
    const char *start, *p, *end;
    int depth;
    const char *err_at;  /* position of the first error */
    char msg[160];
    int nomem;
} parser;

static void fail(parser *ps, const char *at, const char *fmt, ...)
{
    if (ps->err_at || ps->nomem) return;  /* keep the first error */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->msg, sizeof ps->msg, fmt, ap);
    va_end(ap);
    ps->err_at = at;
}

static void fail_nomem(parser *ps)
{
    if (!ps->err_at) ps->nomem = 1;
}

static int failed(const parser *ps) { return ps->err_at != NULL || ps->nomem; }

static void value_free(json_value *v)
{
    if (!v) return;
    free(v->str);
    for (size_t i = 0; i < v->n; i++) {
        value_free(v->item[i]);
        if (v->key) free(v->key[i]);
    }
    free(v->item);
    free(v->key);
    free(v->keylen);
    free(v);
}

void json_free(json_value **v)
{
    if (!v) return;
    value_free(*v);
    *v = NULL;
}

static json_value *new_value(parser *ps, json_type t)
{
    json_value *v = calloc(1, sizeof *v);
    if (!v) fail_nomem(ps);
    else v->type = t;
    return v;
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Append a child (and its key, for objects), growing the arrays geometrically. */
static int push(parser *ps, json_value *parent, char *key, size_t keylen, json_value *child)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 4;
        if (cap > SIZE_MAX / sizeof(void *) / 2) { fail_nomem(ps); return -1; }
        json_value **item = realloc(parent->item, cap * sizeof *item);
        if (!item) { fail_nomem(ps); return -1; }
        parent->item = item;
        if (parent->type == JSON_OBJECT) {
            char **k = realloc(parent->key, cap * sizeof *k);
            if (!k) { fail_nomem(ps); return -1; }
            parent->key = k;
            size_t *kl = realloc(parent->keylen, cap * sizeof *kl);
            if (!kl) { fail_nomem(ps); return -1; }
            parent->keylen = kl;
        }
        parent->cap = cap;
    }
    parent->item[parent->n] = child;
    if (parent->type == JSON_OBJECT) {
        parent->key[parent->n] = key;
        parent->keylen[parent->n] = keylen;
    }
    parent->n++;
    return 0;
}

/* ---------------------------------------------------------------- strings */

typedef struct {
    char *buf;
    size_t len, cap;
} sbuf;

static int sb_put(parser *ps, sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 32;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2) { fail_nomem(ps); return -1; }
            cap *= 2;
        }
        char *nb = realloc(b->buf, cap);
        if (!nb) { fail_nomem(ps); return -1; }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
    return 0;
}

static int sb_put_cp(parser *ps, sbuf *b, uint32_t cp)
{
    char u[4];
    size_t n;
    if (cp < 0x80) { u[0] = (char)cp; n = 1; }
    else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return sb_put(ps, b, u, n);
}

static int hex4(const char *s, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
        else return -1;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp, min;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) { n = 2; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if ((size_t)(end - s) < n) return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return n;
}

/* Parse a string starting at the opening quote; the result is a malloc'd NUL-terminated
 * buffer (possibly containing NULs) with its length in *len. */
static char *parse_string_raw(parser *ps, size_t *len)
{
    sbuf b = {0};
    const char *p = ps->p + 1;  /* past the quote */
    if (sb_put(ps, &b, "", 0)) goto fail;
    for (;;) {
        const char *run = p;
        while (p < ps->end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20) {
            if ((unsigned char)*p < 0x80) { p++; continue; }
            size_t n = utf8_len((const unsigned char *)p, (const unsigned char *)ps->end);
            if (!n) { fail(ps, p, "invalid UTF-8 in string"); goto fail; }
            p += n;
        }
        if (p > run && sb_put(ps, &b, run, (size_t)(p - run))) goto fail;
        if (p >= ps->end) { fail(ps, ps->p, "unterminated string"); goto fail; }
        if (*p == '"') { p++; break; }
        if ((unsigned char)*p < 0x20) {
            fail(ps, p, "unescaped control character 0x%02x in string", (unsigned)*p);
            goto fail;
        }
        /* backslash */
        if (p + 1 >= ps->end) { fail(ps, ps->p, "unterminated string"); goto fail; }
        char e = p[1], c;
        switch (e) {
        case '"': c = '"'; break;
        case '\\': c = '\\'; break;
        case '/': c = '/'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u': {
            uint32_t cp, lo;
            if (ps->end - p < 6 || hex4(p + 2, &cp)) {
                fail(ps, p, "bad \\u escape (want 4 hex digits)");
                goto fail;
            }
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                fail(ps, p, "lone low surrogate \\u%04X", (unsigned)cp);
                goto fail;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (ps->end - p < 12 || p[6] != '\\' || p[7] != 'u' || hex4(p + 8, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF) {
                    fail(ps, p, "high surrogate \\u%04X not followed by a low surrogate",
                         (unsigned)cp);
                    goto fail;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                p += 6;
            }
            if (sb_put_cp(ps, &b, cp)) goto fail;
            p += 6;
            continue;
        }
        default:
            fail(ps, p, "invalid escape '\\%c'", e);
            goto fail;
        }
        if (sb_put(ps, &b, &c, 1)) goto fail;
        p += 2;
    }
    ps->p = p;
    *len = b.len;
    return b.buf;
fail:
    free(b.buf);
    return NULL;
}

/* ---------------------------------------------------------------- numbers */

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static json_value *parse_number(parser *ps)
{
    const char *s = ps->p, *p = s, *e = ps->end;
    if (p < e && *p == '-') p++;
    if (p >= e || !is_digit(*p)) { fail(ps, s, "invalid number"); return NULL; }
    if (*p == '0') {
        p++;
        if (p < e && is_digit(*p)) { fail(ps, s, "number with a leading zero"); return NULL; }
    } else {
        while (p < e && is_digit(*p)) p++;
    }
    if (p < e && *p == '.') {
        p++;
        if (p >= e || !is_digit(*p)) { fail(ps, p, "digit expected after '.'"); return NULL; }
        while (p < e && is_digit(*p)) p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (p >= e || !is_digit(*p)) { fail(ps, p, "digit expected in exponent"); return NULL; }
        while (p < e && is_digit(*p)) p++;
    }
    /* strtod needs a NUL-terminated copy: the text may end right after the number. */
    size_t n = (size_t)(p - s);
    char small[64], *tok = n < sizeof small ? small : malloc(n + 1);
    if (!tok) { fail_nomem(ps); return NULL; }
    memcpy(tok, s, n);
    tok[n] = '\0';
    errno = 0;
    double x = strtod(tok, NULL);
    int range = errno == ERANGE && isinf(x);
    if (tok != small) free(tok);
    if (range) { fail(ps, s, "number out of range for a double"); return NULL; }
    json_value *v = new_value(ps, JSON_NUMBER);
    if (!v) return NULL;
    v->num = x;
    ps->p = p;
    return v;
}

/* ---------------------------------------------------------------- values */

static json_value *parse_value(parser *ps);

static int match_word(parser *ps, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, w, n) == 0) {
        ps->p += n;
        return 1;
    }
    return 0;
}

static json_value *parse_array(parser *ps)
{
    json_value *v = new_value(ps, JSON_ARRAY);
    if (!v) return NULL;
    ps->p++;  /* [ */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == ']') { ps->p++; return v; }
    for (;;) {
        json_value *item = parse_value(ps);
        if (!item) goto fail;
        if (push(ps, v, NULL, 0, item)) { value_free(item); goto fail; }
        skip_ws(ps);
        if (ps->p >= ps->end) { fail(ps, ps->p, "unterminated array"); goto fail; }
        if (*ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            if (ps->p < ps->end && *ps->p == ']') {
                fail(ps, ps->p, "trailing comma in array");
                goto fail;
            }
            continue;
        }
        if (*ps->p == ']') { ps->p++; return v; }
        fail(ps, ps->p, "',' or ']' expected in array");
        goto fail;
    }
fail:
    value_free(v);
    return NULL;
}

static json_value *parse_object(parser *ps)
{
    json_value *v = new_value(ps, JSON_OBJECT);
    if (!v) return NULL;
    ps->p++;  /* { */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') { ps->p++; return v; }
    for (;;) {
        if (ps->p >= ps->end || *ps->p != '"') {
            fail(ps, ps->p, ps->p < ps->end && *ps->p == '}' ? "trailing comma in object"
                                                             : "string key expected");
            goto fail;
        }
        const char *key_at = ps->p;
        size_t keylen;
        char *key = parse_string_raw(ps, &keylen);
        if (!key) goto fail;
        for (size_t i = 0; i < v->n; i++) {
            if (v->keylen[i] == keylen && memcmp(v->key[i], key, keylen) == 0) {
                fail(ps, key_at, "duplicate key \"%.60s\"", key);
                free(key);
                goto fail;
            }
        }
        skip_ws(ps);
        if (ps->p >= ps->end || *ps->p != ':') {
            fail(ps, ps->p, "':' expected after key");
            free(key);
            goto fail;
        }
        ps->p++;
        json_value *item = parse_value(ps);
        if (!item) { free(key); goto fail; }
        if (push(ps, v, key, keylen, item)) { free(key); value_free(item); goto fail; }
        skip_ws(ps);
        if (ps->p >= ps->end) { fail(ps, ps->p, "unterminated object"); goto fail; }
        if (*ps->p == ',') { ps->p++; skip_ws(ps); continue; }
        if (*ps->p == '}') { ps->p++; return v; }
        fail(ps, ps->p, "',' or '}' expected in object");
        goto fail;
    }
fail:
    value_free(v);
    return NULL;
}

static json_value *parse_value(parser *ps)
{
    json_value *v = NULL;
    skip_ws(ps);
    if (ps->p >= ps->end) { fail(ps, ps->p, "value expected"); return NULL; }
    if (++ps->depth > JSON_MAX_DEPTH) {
        fail(ps, ps->p, "nesting deeper than %d", JSON_MAX_DEPTH);
        return NULL;
    }
    char c = *ps->p;
    if (c == '{') v = parse_object(ps);
    else if (c == '[') v = parse_array(ps);
    else if (c == '"') {
        size_t len;
        char *s = parse_string_raw(ps, &len);
        if (s && (v = new_value(ps, JSON_STRING))) {
            v->str = s;
            v->slen = len;
        } else {
            free(s);
        }
    } else if (c == '-' || is_digit(c)) v = parse_number(ps);
    else if (match_word(ps, "true")) v = new_value(ps, JSON_TRUE);
    else if (match_word(ps, "false")) v = new_value(ps, JSON_FALSE);
    else if (match_word(ps, "null")) v = new_value(ps, JSON_NULL);
    else if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7F)
        fail(ps, ps->p, "unexpected character '%c'", c);
    else
        fail(ps, ps->p, "unexpected byte 0x%02x", (unsigned)(unsigned char)c);
    ps->depth--;
    return v;
}

static char *format_error(const parser *ps, const char *prefix)
{
    if (ps->nomem && !ps->err_at) {
        const char *m = "out of memory";
        size_t n = (prefix ? strlen(prefix) + 2 : 0) + strlen(m) + 1;
        char *s = malloc(n);
        if (s) snprintf(s, n, "%s%s%s", prefix ? prefix : "", prefix ? ": " : "", m);
        return s;
    }
    long line = 1, col = 1;
    for (const char *q = ps->start; q < ps->err_at; q++) {
        if (*q == '\n') { line++; col = 1; }
        else col++;
    }
    size_t n = (prefix ? strlen(prefix) : 0) + strlen(ps->msg) + 64;
    char *s = malloc(n);
    if (!s) return NULL;
    if (prefix) snprintf(s, n, "%s:%ld:%ld: %s", prefix, line, col, ps->msg);
    else snprintf(s, n, "line %ld, column %ld: %s", line, col, ps->msg);
    return s;
}

static json_value *parse_all(const char *text, size_t len, char **err, const char *prefix)
{
    parser ps;
    memset(&ps, 0, sizeof ps);
    ps.start = ps.p = text;
    ps.end = text + len;
    if (err) *err = NULL;
    json_value *v = text ? parse_value(&ps) : NULL;
    if (!text) fail(&ps, ps.p, "no text");
    if (v) {
        skip_ws(&ps);
        if (ps.p < ps.end) fail(&ps, ps.p, "trailing characters after the JSON value");
    }
    if (failed(&ps)) {
        value_free(v);
        if (err) *err = format_error(&ps, prefix);
        return NULL;
    }
    return v;
}

json_value *json_parse(const char *text, size_t len, char **err)
{
    return parse_all(text, len, err, NULL);
}

json_value *json_parse_file(const char *path, char **err)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    json_value *v = NULL;
    if (err) *err = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) goto io_error;
    for (;;) {
        if (cap - len < 65536) {
            size_t ncap = cap ? cap * 2 : 1 << 16;
            if (ncap < cap) goto nomem;
            char *nb = realloc(buf, ncap);
            if (!nb) goto nomem;
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    if (ferror(f)) goto io_error;
    fclose(f);
    f = NULL;
    v = parse_all(buf ? buf : "", len, err, path);
    free(buf);
    return v;
io_error:
    if (err) {
        const char *why = strerror(errno);
        size_t n = strlen(path) + strlen(why) + 3;
        if ((*err = malloc(n))) snprintf(*err, n, "%s: %s", path, why);
    }
    goto cleanup;
nomem:
    if (err && (*err = malloc(strlen(path) + 16))) sprintf(*err, "%s: out of memory", path);
cleanup:
    if (f) fclose(f);
    free(buf);
    return NULL;
}

/* ---------------------------------------------------------------- accessors */

json_type json_type_of(const json_value *v) { return v ? v->type : JSON_NULL; }

const json_value *json_get(const json_value *v, const char *key)
{
    if (!v || v->type != JSON_OBJECT || !key) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < v->n; i++)
        if (v->keylen[i] == n && memcmp(v->key[i], key, n) == 0) return v->item[i];
    return NULL;
}

size_t json_len(const json_value *v)
{
    return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) ? v->n : 0;
}

const json_value *json_at(const json_value *v, size_t i)
{
    return v && (v->type == JSON_ARRAY || v->type == JSON_OBJECT) && i < v->n ? v->item[i]
                                                                             : NULL;
}

const char *json_key(const json_value *v, size_t i)
{
    return v && v->type == JSON_OBJECT && i < v->n ? v->key[i] : NULL;
}

static int str_is(const json_value *v, const char *s)
{
    return v && v->type == JSON_STRING && v->slen == strlen(s) && strcmp(v->str, s) == 0;
}

int json_is_na(const json_value *v)
{
    return (v && v->type == JSON_NULL) || str_is(v, "NA") || str_is(v, "NaN");
}

int json_is_num(const json_value *v)
{
    return v && (v->type == JSON_NUMBER || json_is_na(v) || str_is(v, "Inf") ||
                 str_is(v, "-Inf"));
}

double json_num(const json_value *v)
{
    if (v && v->type == JSON_NUMBER) return v->num;
    if (str_is(v, "Inf")) return HUGE_VAL;
    if (str_is(v, "-Inf")) return -HUGE_VAL;
    return NAN;
}

const char *json_str(const json_value *v)
{
    return v && v->type == JSON_STRING ? v->str : NULL;
}

size_t json_str_len(const json_value *v)
{
    return v && v->type == JSON_STRING ? v->slen : 0;
}

int json_bool(const json_value *v)
{
    if (v && v->type == JSON_TRUE) return 1;
    if (v && v->type == JSON_FALSE) return 0;
    return -1;
}
