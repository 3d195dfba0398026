/* contrast.c — evm_contrast_parse: "treat + treat:year2" or
 * "0.5*treat:year1 + 0.5*treat:year2" into weights on the fixed-effect coefficients
 * (grammar and examples: docs/contrasts.md).
 *
 *   expr   := [sign] term { sign term }          sign := '+' | '-'
 *   term   := number '*' name | name [ '*' [sign] number | '/' decimal ]
 *   number := decimal [ '/' decimal ]            (a fraction such as 2/3)
 *   decimal:= digits [ '.' digits ] [ (e|E) [sign] digits ]  |  '.' digits ...
 *   name   := `anything but a backquote`  |  a coefficient name as evalmix prints it
 *
 * Whitespace may stand between any two tokens.  A bare name is the longest coefficient
 * name that starts there and is followed by the end, a blank or an operator, so names
 * with ':', '(', ')', ',', '-' or blanks ("factor(year)2", "RaceBlack, non-Hispanic")
 * need no quoting; backquotes settle anything else.  A name given twice adds its weights.
 * Errors are one line "--contrast: <what>: <expr>" with the caret under the fault. */
#include "internal.h"
#include "data/data_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LISTED 12   /* coefficient names listed in an "unknown coefficient" error */

typedef struct {
    const char *expr;
    char *const *names;
    int p;
    double *w;
    size_t i;          /* current byte */
    evm_ctx *c;
} parser;

static int fail_at(parser *ps, size_t at, const char *what)
{
    char *prefix = evm__asprintf("--contrast: %s: ", what);
    if (!prefix) return evm__fail(ps->c, EVM_ERR_NOMEM, "out of memory");
    int caret = (int)(strlen(prefix) + at);
    int st = evm__fail_caret(ps->c, EVM_ERR_ARG, caret, "%s%s", prefix, ps->expr);
    free(prefix);
    return st;
}

static int is_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

static int is_delim(char ch)
{
    return ch == '\0' || is_blank(ch) || ch == '+' || ch == '-' || ch == '*' || ch == '/';
}

static void skip_blanks(parser *ps)
{
    while (is_blank(ps->expr[ps->i])) ps->i++;
}

static int starts_number(const char *s)
{
    return isdigit((unsigned char)s[0]) || (s[0] == '.' && isdigit((unsigned char)s[1]));
}

/* ---------------------------------------------------------------- numbers */

/* An unsigned decimal at ps->i; *out its value. */
static int parse_decimal(parser *ps, double *out)
{
    const char *s = ps->expr + ps->i;
    if (!starts_number(s)) return fail_at(ps, ps->i, "expected a number");
    size_t n = 0;
    while (isdigit((unsigned char)s[n])) n++;
    if (s[n] == '.') {
        n++;
        while (isdigit((unsigned char)s[n])) n++;
    }
    if (s[n] == 'e' || s[n] == 'E') {
        size_t k = n + 1;
        if (s[k] == '+' || s[k] == '-') k++;
        if (!isdigit((unsigned char)s[k]))
            return fail_at(ps, ps->i + n, "expected digits of the exponent");
        while (isdigit((unsigned char)s[k])) k++;
        n = k;
    }
    int st = evm__parse_number(s, n, out);
    if (st < 0) return evm__fail(ps->c, EVM_ERR_NOMEM, "out of memory");
    if (st == 0) return fail_at(ps, ps->i, "expected a number");
    if (!isfinite(*out)) return fail_at(ps, ps->i, "number out of range");
    ps->i += n;
    return EVM_OK;
}

/* decimal [ '/' decimal ], optionally signed when `allow_sign`. */
static int parse_number(parser *ps, int allow_sign, double *out)
{
    double sign = 1.0;
    if (allow_sign && (ps->expr[ps->i] == '-' || ps->expr[ps->i] == '+')) {
        if (ps->expr[ps->i] == '-') sign = -1.0;
        ps->i++;
        skip_blanks(ps);
    }
    int st = parse_decimal(ps, out);
    if (st) return st;
    size_t save = ps->i;
    skip_blanks(ps);
    if (ps->expr[ps->i] == '/') {
        ps->i++;
        skip_blanks(ps);
        size_t at = ps->i;
        double den;
        if ((st = parse_decimal(ps, &den))) return st;
        if (den == 0) return fail_at(ps, at, "division by zero");
        *out /= den;
        if (!isfinite(*out)) return fail_at(ps, at, "number out of range");
    } else {
        ps->i = save;
    }
    *out *= sign;
    return EVM_OK;
}

/* ---------------------------------------------------------------- suggestions */

static int lower(int ch) { return tolower((unsigned char)ch); }

/* Edit distance, letters compared without case; -1 when out of memory. */
static int edit_distance(const char *a, size_t na, const char *b)
{
    size_t nb = strlen(b);
    int *row = evm__malloc(nb + 1, sizeof *row);
    if (!row) return -1;
    for (size_t j = 0; j <= nb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int up = row[j];
            int best = diag + (lower(a[i - 1]) != lower(b[j - 1]));
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    int d = row[nb];
    free(row);
    return d;
}

/* Do the ':'-separated parts of [a, a+na) and b agree as multisets ("year2:treat" and
 * "treat:year2")? */
static int same_interaction(const char *a, size_t na, const char *b)
{
    if (!memchr(a, ':', na) || strlen(b) != na) return 0;
    char used[64] = {0};
    int nparts = 0;
    for (const char *pa = a, *end = a + na; pa <= end;) {
        const char *ca = memchr(pa, ':', (size_t)(end - pa));
        size_t la = ca ? (size_t)(ca - pa) : (size_t)(end - pa);
        int found = 0, k = 0;
        for (const char *pb = b;; k++) {
            const char *cb = strchr(pb, ':');
            size_t lb = cb ? (size_t)(cb - pb) : strlen(pb);
            if (k >= 64) return 0;
            if (!used[k] && lb == la && memcmp(pa, pb, la) == 0) {
                used[k] = 1;
                found = 1;
                break;
            }
            if (!cb) break;
            pb = cb + 1;
        }
        if (!found) return 0;
        nparts++;
        if (!ca) break;
        pa = ca + 1;
    }
    return nparts > 1;
}

/* "unknown coefficient 'x' (did you mean 'y'?)" or "... (coefficients: a, b, ...)". */
static char *unknown_message(const parser *ps, const char *tok, size_t n)
{
    /* the nearest name by edit distance; a name that the word starts with, or that
     * starts with the word ("treatment", "treat"), also counts as near */
    int best = -1, bestd = 0, near = 0;
    for (int k = 0; k < ps->p; k++) {
        const char *nm = ps->names[k];
        if (!nm) continue;
        if (same_interaction(tok, n, nm)) {
            best = k, near = 1;
            break;
        }
        int d = edit_distance(tok, n, nm);
        size_t common = strlen(nm) < n ? strlen(nm) : n;
        int prefix = common >= 3 && strncmp(tok, nm, common) == 0;
        if (d < 0) continue;
        int limit = (int)(n / 3) > 1 ? (int)(n / 3) : 1;
        int is_near = d <= limit || prefix;
        if (is_near && (!near || d < bestd)) best = k, bestd = d, near = 1;
    }
    if (near)
        return evm__asprintf("unknown coefficient '%.*s' (did you mean '%s'?)", (int)n, tok,
                             ps->names[best]);
    if (ps->p == 0)
        return evm__asprintf("unknown coefficient '%.*s' (the model has no coefficients)",
                             (int)n, tok);
    size_t len = 64 + n;
    for (int k = 0; k < ps->p && k < MAX_LISTED; k++)
        len += (ps->names[k] ? strlen(ps->names[k]) : 0) + 2;
    char *msg = evm__malloc(len, 1);
    if (!msg) return NULL;
    int w = snprintf(msg, len, "unknown coefficient '%.*s' (coefficients: ", (int)n, tok);
    for (int k = 0; k < ps->p && k < MAX_LISTED; k++)
        w += snprintf(msg + w, len - (size_t)w, "%s%s", k ? ", " : "",
                      ps->names[k] ? ps->names[k] : "");
    if (ps->p > MAX_LISTED)
        w += snprintf(msg + w, len - (size_t)w, ", and %d more", ps->p - MAX_LISTED);
    snprintf(msg + w, len - (size_t)w, ")");
    return msg;
}

static int fail_unknown(parser *ps, size_t at, const char *tok, size_t n)
{
    char *what = unknown_message(ps, tok, n);
    if (!what) return evm__fail(ps->c, EVM_ERR_NOMEM, "out of memory");
    int st = fail_at(ps, at, what);
    free(what);
    return st;
}

/* ---------------------------------------------------------------- names */

static int parse_name(parser *ps, int *index)
{
    const char *s = ps->expr + ps->i;
    size_t at = ps->i;
    if (*s == '`') {
        const char *close = strchr(s + 1, '`');
        if (!close) return fail_at(ps, at, "unterminated backquote");
        size_t n = (size_t)(close - s - 1);
        if (n == 0) return fail_at(ps, at, "empty name");
        for (int k = 0; k < ps->p; k++)
            if (ps->names[k] && strlen(ps->names[k]) == n &&
                memcmp(ps->names[k], s + 1, n) == 0) {
                *index = k;
                ps->i += n + 2;
                return EVM_OK;
            }
        return fail_unknown(ps, at, s + 1, n);
    }
    /* the longest coefficient name that ends at a delimiter */
    size_t bestn = 0;
    for (int k = 0; k < ps->p; k++) {
        const char *nm = ps->names[k];
        size_t n = nm ? strlen(nm) : 0;
        if (n > bestn && strncmp(s, nm, n) == 0 && is_delim(s[n])) {
            bestn = n;
            *index = k;
        }
    }
    if (bestn > 0) {
        ps->i += bestn;
        return EVM_OK;
    }
    /* not a coefficient: take the word for the message (parentheses may hold anything) */
    size_t n = 0;
    int depth = 0;
    while (s[n] && (depth > 0 || (!is_delim(s[n]) && s[n] != '`'))) {
        if (s[n] == '(') depth++;
        else if (s[n] == ')' && depth > 0) depth--;
        n++;
    }
    if (n == 0) return fail_at(ps, at, "expected a coefficient name");
    return fail_unknown(ps, at, s, n);
}

/* ---------------------------------------------------------------- terms */

static int parse_term(parser *ps, double sign)
{
    double coef = 1.0;
    int index = -1, st;
    size_t start = ps->i;
    if (starts_number(ps->expr + ps->i)) {
        if ((st = parse_number(ps, 0, &coef))) return st;
        skip_blanks(ps);
        if (ps->expr[ps->i] != '*')
            return fail_at(ps, ps->i, "expected '*' and a name after the number");
        size_t star = ps->i++;
        skip_blanks(ps);
        char next = ps->expr[ps->i];
        if (!next || next == '+' || next == '-' || next == '*' || next == '/')
            return fail_at(ps, star, "expected a coefficient name after '*'");
        if ((st = parse_name(ps, &index))) return st;
    } else {
        if ((st = parse_name(ps, &index))) return st;
        size_t save = ps->i;
        skip_blanks(ps);
        char op = ps->expr[ps->i];
        if (op == '*' || op == '/') {
            size_t at = ps->i;
            ps->i++;
            skip_blanks(ps);
            if (!ps->expr[ps->i])
                return fail_at(ps, at, op == '*' ? "expected a number after '*'"
                                                 : "expected a number after '/'");
            if (op == '*') {
                if ((st = parse_number(ps, 1, &coef))) return st;
            } else {
                size_t dat = ps->i;
                double den;
                if ((st = parse_decimal(ps, &den))) return st;
                if (den == 0) return fail_at(ps, dat, "division by zero");
                coef = 1.0 / den;
            }
        } else {
            ps->i = save;
        }
    }
    ps->w[index] += sign * coef;
    if (!isfinite(ps->w[index])) return fail_at(ps, start, "number out of range");
    return EVM_OK;
}

int evm_contrast_parse(const char *expr, char *const *names, int p, double *weights,
                       evm_ctx *c)
{
    if (!expr || (p > 0 && (!names || !weights)) || p < 0)
        return evm__fail(c, EVM_ERR_ARG, "evm_contrast_parse: missing argument");
    parser ps = {expr, names, p, NULL, 0, c};
    int st = EVM_OK;
    if (!(ps.w = evm__calloc((size_t)(p ? p : 1), sizeof *ps.w)))
        return evm__fail(c, EVM_ERR_NOMEM, "out of memory");
    skip_blanks(&ps);
    if (!expr[ps.i]) {
        st = fail_at(&ps, ps.i, "empty expression");
        goto cleanup;
    }
    double sign = 1.0;
    char op = expr[ps.i];
    if (op == '+' || op == '-') {
        size_t at = ps.i++;
        sign = op == '-' ? -1.0 : 1.0;
        skip_blanks(&ps);
        if (!expr[ps.i]) {
            st = fail_at(&ps, at, op == '+' ? "expected a term after '+'"
                                            : "expected a term after '-'");
            goto cleanup;
        }
    }
    for (;;) {
        if ((st = parse_term(&ps, sign))) goto cleanup;
        skip_blanks(&ps);
        op = expr[ps.i];
        if (!op) break;
        if (op != '+' && op != '-') {
            st = fail_at(&ps, ps.i, "expected '+', '-' or the end");
            goto cleanup;
        }
        size_t at = ps.i;
        sign = op == '-' ? -1.0 : 1.0;
        ps.i++;
        skip_blanks(&ps);
        if (!expr[ps.i]) {
            st = fail_at(&ps, at, op == '+' ? "expected a term after '+'"
                                            : "expected a term after '-'");
            goto cleanup;
        }
    }
    int nonzero = 0;
    for (int k = 0; k < p; k++) nonzero |= ps.w[k] != 0.0;
    if (!nonzero) {
        st = fail_at(&ps, 0, "the weights cancel to zero");
        goto cleanup;
    }
    memcpy(weights, ps.w, (size_t)p * sizeof *weights);
cleanup:
    free(ps.w);
    return st;
}
