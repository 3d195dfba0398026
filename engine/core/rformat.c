/* rformat.c — numbers, names and tables laid out as R prints them (rformat.h).
 *
 * Each function names the R function it follows (R 4.2: base's formatReal, encodeReal,
 * round, zapsmall, abbreviate, format.pval, print.default; stats' printCoefmat). */
#include "rformat.h"

#include "internal.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int cnt(int n) { return n > 0 ? n : 0; }
static const char *sat(char *const *s, int64_t i) { return s && s[i] ? s[i] : ""; }

/* ---------------------------------------------------------------- widths */
/* Display width of UTF-8 text: one column per code point. */
int evm__width_of(const char *s)
{
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

void evm__put_pad(FILE *out, const char *s, int width, int right)
{
    int n = evm__width_of(s);
    if (right)
        for (; n < width; n++) fputc(' ', out);
    fputs(s, out);
    if (!right)
        for (; n < width; n++) fputc(' ', out);
}

/* round(x, d) as R: to the nearest decimal with d digits after the point. */
double evm__r_round(double x, int d)
{
    if (!isfinite(x) || d > 300) return x;
    char buf[400];
    if (d >= 0) {
        snprintf(buf, sizeof buf, "%.*f", d, x);
        return strtod(buf, NULL);
    }
    double p = pow(10.0, -d);
    return nearbyint(x / p) * p;
}

/* zapsmall(x, digits) of R 4.2: round(x, max(0, digits - log10(max|x|))), where round()
 * takes the nearest whole number of digits. */
void evm__r_zapsmall(double *x, int n, int digits)
{
    double mx = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && fabs(x[i]) > mx) mx = fabs(x[i]);
    int d = mx > 0 ? (int)floor(fmax(0.0, digits - log10(mx)) + 0.5) : digits;
    for (int i = 0; i < n; i++) x[i] = evm__r_round(x[i], d);
}

/* R's scientific(): sign, decimal exponent, significant digits (<= digits, trailing
 * zeros dropped) and whether rounding to `digits` reaches the next power of ten. */
static void r_scientific(double x, int digits, int *neg, int *kpower, int *nsig,
                         int *widens)
{
    *neg = x < 0;
    *widens = 0;
    if (x == 0) {
        *kpower = 0;
        *nsig = 1;
        *neg = 0;
        return;
    }
    double a = fabs(x);
    char buf[64];
    snprintf(buf, sizeof buf, "%.*e", digits - 1, a);
    char *e = strchr(buf, 'e');
    *kpower = e ? atoi(e + 1) : 0;
    int ns = digits;
    for (char *p = e ? e - 1 : buf; ns > 1 && (*p == '0' || *p == '.'); p--)
        if (*p == '0') ns--;
    *nsig = ns;
    int rgt = digits - *kpower;
    rgt = rgt < 0 ? 0 : rgt > 22 ? 22 : rgt;
    *widens = *kpower > 0 && *kpower <= 22 && a < pow(10.0, *kpower) - 0.5 / pow(10.0, rgt);
}

/* formatReal(): one common format for n numbers with `digits` significant digits; fixed
 * notation unless scientific is narrower; at least nsmall decimals in fixed notation. */
evm__rfmt evm__r_format(const double *x, int n, int digits, int nsmall)
{
    int na = 0, pinf = 0, ninf = 0, neg = 0, any = 0;
    int rgt = INT_MIN, mxl = INT_MIN, mxsl = INT_MIN, mxns = INT_MIN, mxe = INT_MIN,
        mne = INT_MAX;
    for (int i = 0; i < n; i++) {
        if (isnan(x[i])) na = 1;
        else if (isinf(x[i])) *(x[i] > 0 ? &pinf : &ninf) = 1;
        else {
            int ng, kp, ns, wid;
            r_scientific(x[i], digits, &ng, &kp, &ns, &wid);
            int left = kp + 1 - wid, sleft = ng + (left <= 0 ? 1 : left), right = ns - left;
            any = 1;
            neg |= ng;
            if (right > rgt) rgt = right;
            if (left > mxl) mxl = left;
            if (sleft > mxsl) mxsl = sleft;
            if (ns > mxns) mxns = ns;
            if (kp > mxe) mxe = kp;
            if (kp < mne) mne = kp;
        }
    }
    evm__rfmt f = {0, 0, 0};
    if (any) {
        if (mxl < 0) mxsl = 1 + neg;
        if (rgt < 0) rgt = 0;
        int wF = mxsl + rgt + (rgt != 0);
        f.e = (mxe >= 100 || mne <= -99) ? 2 : 1;
        f.d = mxns - 1;
        f.w = neg + (f.d > 0) + f.d + 4 + f.e;
        if (wF <= f.w) {
            if (nsmall > rgt) {
                rgt = nsmall;
                wF = mxsl + rgt + (rgt != 0);
            }
            f.e = 0;
            f.d = rgt;
            f.w = wF;
        }
    }
    if (na && f.w < 2) f.w = 2;
    if (pinf && f.w < 3) f.w = 3;
    if (ninf && f.w < 4) f.w = 4;
    return f;
}

/* encodeReal(): x in format f, right-justified to f.w. */
void evm__r_encode(char *buf, double x, evm__rfmt f)
{
    if (isnan(x)) snprintf(buf, EVM__NUM, "%*s", f.w, "NA");
    else if (isinf(x)) snprintf(buf, EVM__NUM, "%*s", f.w, x > 0 ? "Inf" : "-Inf");
    else if (f.e) snprintf(buf, EVM__NUM, "%*.*e", f.w, f.d, x == 0 ? 0.0 : x);
    else snprintf(buf, EVM__NUM, "%*.*f", f.w, f.d, x == 0 ? 0.0 : x);
}

/* format(x, digits, nsmall) of a vector: common width. */
void evm__r_format_vec(const double *x, int n, int digits, int nsmall, evm__numstr *out)
{
    evm__rfmt f = evm__r_format(x, n, digits, nsmall);
    for (int i = 0; i < n; i++) evm__r_encode(out[i], x[i], f);
}

/* One number as cat() prints it (7 significant digits). */
void evm__r_cat_num(char *buf, double x)
{
    evm__r_encode(buf, x, evm__r_format(&x, 1, 7, 0));
}

/* ---------------------------------------------------------------- evm__abbreviate() */
static int is_space(uint32_t c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static int is_lower(uint32_t c) { return c >= 'a' && c <= 'z'; }

static int is_vowel(uint32_t c, int wide)
{
    /* R's list for non-ASCII strings: English vowels, accented ones, and '.'. */
    static const uint32_t v[] = {
        0x61,  0x65,  0x69,  0x6f,  0x75,  0xe0,  0xe1,  0x2e,  0xe3,  0xe4,  0xe5,
        0xe8,  0xe9,  0xea,  0xeb,  0xec,  0xed,  0xee,  0xef,  0xf2,  0xf3,  0xf4,
        0xf5,  0xf6,  0xf8,  0xf9,  0xfa,  0xfb,  0xfc,  0x101, 0x103, 0x105, 0x113,
        0x115, 0x117, 0x118, 0x11b, 0x129, 0x12b, 0x12d, 0x12f, 0x131, 0x14d, 0x14f,
        0x151, 0x169, 0x16b, 0x16d, 0x16f, 0x171, 0x173};
    int n = wide ? (int)(sizeof v / sizeof v[0]) : 5;
    for (int i = 0; i < n; i++)
        if (c == v[i]) return 1;
    return 0;
}

static int ulen(const uint32_t *s)
{
    int n = 0;
    while (s[n]) n++;
    return n;
}

static void udel(uint32_t *s, int i)
{
    memmove(s + i, s + i + 1, sizeof *s * (size_t)ulen(s + i));
}

/* R's stripchars(): drop lower-case vowels, then lower-case letters, then anything but
 * a word's first letter, from the end, until minlen characters remain. */
static void strip_chars(uint32_t *s, int minlen, int wide)
{
#define FIRSTCHAR(i) (is_space(s[(i)-1]))
#define LASTCHAR(i) (!is_space(s[(i)-1]) && (!s[(i) + 1] || is_space(s[(i) + 1])))
#define DONE() (ulen(s) - nspace <= minlen)
    int i, j, nspace = 0;
    if (ulen(s) < minlen) goto done;
    for (i = ulen(s) - 1, j = 1; i > 0; i--) {
        if (is_space(s[i])) {
            if (j) s[i] = 0;
            else nspace++;
        } else j = 0;
        if (DONE()) goto done;
    }
    for (i = ulen(s) - 1; i > 0; i--) {
        if (is_vowel(s[i], wide) && LASTCHAR(i)) udel(s, i);
        if (DONE()) goto done;
    }
    for (i = ulen(s) - 1; i > 0; i--) {
        if (is_vowel(s[i], wide) && !FIRSTCHAR(i)) udel(s, i);
        if (DONE()) goto done;
    }
    for (i = ulen(s) - 1; i > 0; i--) {
        if (is_lower(s[i]) && LASTCHAR(i)) udel(s, i);
        if (DONE()) goto done;
    }
    for (i = ulen(s) - 1; i > 0; i--) {
        if (is_lower(s[i]) && !FIRSTCHAR(i)) udel(s, i);
        if (DONE()) goto done;
    }
    for (i = ulen(s) - 1; i > 0; i--) {
        if (!FIRSTCHAR(i) && !is_space(s[i])) udel(s, i);
        if (DONE()) goto done;
    }
done:
    if (ulen(s) > minlen)
        for (i = ulen(s) - 1; i > 0; i--)
            if (is_space(s[i])) udel(s, i);
#undef FIRSTCHAR
#undef LASTCHAR
#undef DONE
}

/* evm__abbreviate() of one name (leading/trailing blanks removed) into a fresh string. */
static char *abbrev_one(const char *name, int minlen)
{
    size_t n = strlen(name);
    uint32_t *u = evm__malloc(n + 1, sizeof *u);
    char *out = evm__malloc(4 * n + 1, 1);
    if (!u || !out) {
        free(u);
        free(out);
        return NULL;
    }
    int k = 0, wide = 0;
    const unsigned char *p = (const unsigned char *)name;
    while (*p == ' ') p++;
    while (*p) { /* decode UTF-8 (a stray byte stands for itself) */
        uint32_t c = *p++;
        int more = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : c >= 0xC0 ? 1 : 0;
        if (more) c &= 0x3F >> more;
        for (; more && (*p & 0xC0) == 0x80; more--) c = (c << 6) | (*p++ & 0x3F);
        wide |= c > 0x7F;
        u[k++] = c;
    }
    while (k > 0 && u[k - 1] == ' ') k--;
    u[k] = 0;
    if (k > minlen) strip_chars(u, minlen, wide);
    char *d = out;
    for (int i = 0; u[i]; i++) { /* encode back */
        uint32_t c = u[i];
        if (c < 0x80) *d++ = (char)c;
        else if (c < 0x800) *d++ = (char)(0xC0 | c >> 6), *d++ = (char)(0x80 | (c & 0x3F));
        else if (c < 0x10000)
            *d++ = (char)(0xE0 | c >> 12), *d++ = (char)(0x80 | ((c >> 6) & 0x3F)),
            *d++ = (char)(0x80 | (c & 0x3F));
        else
            *d++ = (char)(0xF0 | c >> 18), *d++ = (char)(0x80 | ((c >> 12) & 0x3F)),
            *d++ = (char)(0x80 | ((c >> 6) & 0x3F)), *d++ = (char)(0x80 | (c & 0x3F));
    }
    *d = '\0';
    free(u);
    return out;
}

/* evm__abbreviate(names, minlength): unique abbreviations, lengthening the clashing ones.
 */
char **evm__abbreviate(char *const *names, int n, int minlen)
{
    char **x = evm__calloc((size_t)n, sizeof *x);
    int *redo = evm__malloc((size_t)n, sizeof *redo);
    int maxlen = 0, ok = x && redo;
    for (int i = 0; ok && i < n; i++) {
        redo[i] = 1;
        if (evm__width_of(sat(names, i)) > maxlen) maxlen = evm__width_of(sat(names, i));
    }
    for (int len = minlen; ok; len++) {
        for (int i = 0; ok && i < n; i++)
            if (redo[i]) {
                free(x[i]);
                ok = (x[i] = abbrev_one(sat(names, i), len)) != NULL;
            }
        if (!ok || len > maxlen) break; /* identical names stay identical */
        int any = 0;
        for (int i = 0; i < n; i++) redo[i] = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++)
                if (!strcmp(x[i], x[j])) redo[i] = redo[j] = any = 1;
        if (!any) break;
    }
    free(redo);
    if (!ok && x) {
        for (int i = 0; i < n; i++) free(x[i]);
        free(x);
        x = NULL;
    }
    return x;
}

/* ---------------------------------------------------------------- layouts */

void evm__table_print(FILE *out, const evm__table *t)
{
    int wr = 0;
    int *wc = evm__calloc((size_t)cnt(t->ncol), sizeof *wc);
    if (!wc) return;
    for (int i = 0; t->rowname && i < t->nrow; i++)
        if (evm__width_of(t->rowname[i]) > wr) wr = evm__width_of(t->rowname[i]);
    for (int j = 0; j < t->ncol; j++) {
        wc[j] = evm__width_of(t->colname[j]);
        for (int i = 0; i < t->nrow; i++)
            if (evm__width_of(t->cell[i * t->ncol + j]) > wc[j])
                wc[j] = evm__width_of(t->cell[i * t->ncol + j]);
    }
    for (int j0 = 0, j1; j0 < t->ncol; j0 = j1) {
        int w = wr + 1 + wc[j0];
        for (j1 = j0 + 1; j1 < t->ncol && w + 1 + wc[j1] <= EVM__LINE_WIDTH; j1++)
            w += 1 + wc[j1];
        evm__put_pad(out, "", wr, 0);
        for (int j = j0; j < j1; j++) {
            fputc(' ', out);
            evm__put_pad(out, t->colname[j], wc[j], t->right);
        }
        fputc('\n', out);
        for (int i = 0; i < t->nrow; i++) {
            evm__put_pad(out, t->rowname ? t->rowname[i] : "", wr, 0);
            for (int j = j0; j < j1; j++) {
                fputc(' ', out);
                evm__put_pad(out, t->cell[i * t->ncol + j], wc[j], t->right);
            }
            fputc('\n', out);
        }
    }
    free(wc);
}

/* A named vector as print() shows it: names over values, all right-justified to one
 * common width, each followed by a space. */
void evm__named_print(FILE *out, const char *const *name, const char *const *val, int n)
{
    int w = 0;
    for (int i = 0; i < n; i++) {
        if (evm__width_of(name[i]) > w) w = evm__width_of(name[i]);
        if (evm__width_of(val[i]) > w) w = evm__width_of(val[i]);
    }
    int per = EVM__LINE_WIDTH / (w + 1) > 0 ? EVM__LINE_WIDTH / (w + 1) : 1;
    for (int i0 = 0; i0 < n; i0 += per) {
        for (int pass = 0; pass < 2; pass++) {
            for (int i = i0; i < n && i < i0 + per; i++) {
                evm__put_pad(out, pass ? val[i] : name[i], w, 1);
                fputc(' ', out);
            }
            fputc('\n', out);
        }
    }
}

/* cat(..., sep = sep, fill = TRUE): items on a line until the next would pass the width. */
void evm__cat_fill(FILE *out, const char *const *item, int n, const char *sep)
{
    int width = 0, sepw = evm__width_of(sep);
    for (int i = 0; i < n; i++) {
        int w = evm__width_of(item[i]);
        if (i > 0 && width + w + sepw > EVM__LINE_WIDTH) {
            fputc('\n', out);
            width = 0;
        } else if (i > 0) {
            fputs(sep, out);
        }
        fputs(item[i], out);
        width += w + sepw;
    }
    fputc('\n', out);
}
/* format.pval(pv, digits): the p-values at or above machine epsilon formatted in two
 * groups (fixed notation for exponents >= -3, or -4 when digits > 1; the others), each
 * with one common format; the tiny ones as "<" eps with the digits and separator R picks
 * from the width of the others. */
void evm__format_pvals(const double *pv, int n, int digits, evm__numstr *out)
{
    const double eps = 2.220446049250313e-16;
    double *x = evm__malloc((size_t)n, sizeof *x);
    int *idx = evm__malloc((size_t)n, sizeof *idx);
    if (!x || !idx) goto done;
    int any_small = 0, any_other = 0, nc = 0;
    for (int pass = 0; pass < 2; pass++) { /* 0: fixed-notation group, 1: the others */
        int m = 0;
        for (int i = 0; i < n; i++) {
            if (isnan(pv[i]) || pv[i] < eps) continue;
            double e = floor(log10(pv[i] > 0 ? pv[i] : 1e-50));
            int fixp = e >= -3 || (e == -4 && digits > 1);
            if (fixp == (pass == 0)) {
                idx[m] = i;
                x[m++] = pv[i];
            }
        }
        evm__rfmt f = evm__r_format(x, m, digits, 0);
        for (int k = 0; k < m; k++) {
            evm__r_encode(out[idx[k]], x[k], f);
            if (evm__width_of(out[idx[k]]) > nc) nc = evm__width_of(out[idx[k]]);
            any_other = 1;
        }
    }
    for (int i = 0; i < n; i++) {
        if (isnan(pv[i])) snprintf(out[i], EVM__NUM, "NA");
        else if (pv[i] < eps) any_small = 1;
    }
    if (any_small) {
        int d = digits - 2 > 1 ? digits - 2 : 1;
        const char *sep;
        if (any_other) {
            if (d > 1 && d + 6 > nc) d = nc - 7 > 1 ? nc - 7 : 1;
            sep = d == 1 && nc <= 6 ? "" : " ";
        } else {
            sep = d == 1 ? "" : " ";
        }
        evm__numstr e;
        evm__r_encode(e, eps, evm__r_format(&eps, 1, d, 0));
        for (int i = 0; i < n; i++)
            if (!isnan(pv[i]) && pv[i] < eps)
                snprintf(out[i], EVM__NUM, "<%s%.40s", sep, e);
    }
done:
    free(x);
    free(idx);
}

/* printCoefmat()'s cs.ind columns; R rounds to max(1, digits - digmin) decimals, digmin
 * taken at the smallest nonzero |value|. */
void evm__format_coef_cols(const double *x, int n, int digits, evm__numstr *out)
{
    double *rx = evm__malloc((size_t)n, sizeof *rx), *z = evm__malloc((size_t)n, sizeof *z);
    int *zi = evm__malloc((size_t)n, sizeof *zi);
    evm__numstr *sz = evm__malloc((size_t)n, sizeof *sz);
    if (!rx || !z || !zi || !sz) goto done;
    double amin = INFINITY;
    int any_finite = 0, m = 0;
    for (int i = 0; i < n; i++) {
        double a = fabs(x[i]);
        any_finite |= isfinite(a);
        if (isfinite(a) && a != 0 && a < amin) amin = a;
    }
    int dec = (int)fmax(1.0, digits - (1 + (isfinite(amin) ? floor(log10(amin)) : 0)));
    for (int i = 0; i < n; i++) rx[i] = evm__r_round(x[i], dec);
    evm__rfmt f = evm__r_format(rx, n, digits, 0);
    for (int i = 0; i < n; i++) {
        if (isnan(x[i])) snprintf(out[i], EVM__NUM, "NA");
        else if (!any_finite) snprintf(out[i], EVM__NUM, "%s", x[i] > 0 ? "Inf" : "-Inf");
        else {
            evm__r_encode(out[i], rx[i], f);
            if ((x[i] == 0) != (strtod(out[i], NULL) == 0)) {
                zi[m] = i;
                z[m++] = x[i];
            }
        }
    }
    evm__r_format_vec(z, m, digits - 1, 0, sz);
    for (int q = 0; q < m; q++) snprintf(out[zi[q]], EVM__NUM, "%s", sz[q]);
done:
    free(rx);
    free(z);
    free(zi);
    free(sz);
}

/* symnum(p, cutpoints = c(0, .001, .01, .05, .1, 1)) ("" for NaN). */
const char *evm__stars_of(double p)
{
    if (isnan(p)) return "";
    if (p <= 0.001) return "***";
    if (p <= 0.01) return "**";
    if (p <= 0.05) return "*";
    if (p <= 0.1) return ".";
    return " ";
}

/* ---------------------------------------------------------------- printCoefmat() */
static void signif_legend(FILE *out)
{
    fputs("---\nSignif. codes:  0 \xe2\x80\x98***\xe2\x80\x99 0.001 "
          "\xe2\x80\x98**\xe2\x80\x99 0.01 \xe2\x80\x98*\xe2\x80\x99 0.05 "
          "\xe2\x80\x98.\xe2\x80\x99 0.1 \xe2\x80\x98 \xe2\x80\x99 1\n",
          out);
}

/* The columns that are neither cs.ind, tst.ind nor p-values: zapsmall() where asked,
 * format(x, digits), and then, as printCoefmat does, every value that is not zero but
 * prints as zero (or the reverse) formatted again, together, with digits - 1.  x is
 * column-major [nrow x ncol] and is zapped in place. */
static int format_other_cols(const evm__coefmat *m, double *x, evm__numstr *s)
{
    const int n = m->nrow, pcol = m->has_p ? m->ncol - 1 : -1;
    const size_t nn = (size_t)n * (size_t)m->ncol;
    double *z = evm__malloc(nn, sizeof *z);
    size_t *zi = evm__malloc(nn, sizeof *zi);
    evm__numstr *sz = evm__malloc(nn, sizeof *sz);
    int m0 = 0;
    if (!z || !zi || !sz) {
        free(z);
        free(zi);
        free(sz);
        return -1;
    }
    for (int j = m->ncs; j < m->ncol; j++) {
        if (j == m->tst || j == pcol) continue;
        double *xj = x + (size_t)j * (size_t)n;
        if (j < 32 && (m->zap >> j & 1u)) evm__r_zapsmall(xj, n, m->digits);
        evm__r_format_vec(xj, n, m->digits, 0, s + (size_t)j * (size_t)n);
        for (int i = 0; i < n; i++) {
            size_t k = (size_t)j * (size_t)n + (size_t)i;
            if (!isnan(x[k]) && (x[k] == 0) != (strtod(s[k], NULL) == 0)) {
                zi[m0] = k;
                z[m0++] = x[k];
            }
        }
    }
    evm__r_format_vec(z, m0, m->digits > 1 ? m->digits - 1 : 1, 0, sz);
    for (int q = 0; q < m0; q++) snprintf(s[zi[q]], EVM__NUM, "%s", sz[q]);
    free(z);
    free(zi);
    free(sz);
    return 0;
}

void evm__print_coefmat(FILE *out, const evm__coefmat *m)
{
    const int n = cnt(m->nrow), nc = cnt(m->ncol);
    const int dig_tst = m->digits - 1 < 1 ? 1 : m->digits - 1 > 5 ? 5 : m->digits - 1;
    const int pcol = m->has_p && nc > 0 ? nc - 1 : -1;
    const char *na = m->na_print ? m->na_print : "NA";
    const size_t nn = (size_t)n * (size_t)nc;
    double *x = evm__malloc(nn, sizeof *x), *tv = evm__malloc((size_t)n, sizeof *tv);
    evm__numstr *s = evm__malloc(nn, sizeof *s);
    char(*star)[4] = evm__malloc((size_t)n, sizeof *star);
    const char **cell = evm__calloc((size_t)n * (size_t)(nc + 1), sizeof *cell);
    const char **coln = evm__calloc((size_t)nc + 1, sizeof *coln);
    if (!x || !tv || !s || !star || !cell || !coln || n == 0 || nc == 0) goto done;

    for (int j = 0; j < nc; j++)
        for (int i = 0; i < n; i++)
            x[(size_t)j * (size_t)n + (size_t)i] = m->col[j] ? m->col[j][i] : NAN;
    /* column-major: the cs.ind columns are the first n * ncs values */
    if (m->ncs > 0) evm__format_coef_cols(x, n * m->ncs, m->digits, s);
    if (m->tst >= 0 && m->tst < nc) {
        for (int i = 0; i < n; i++)
            tv[i] = evm__r_round(x[(size_t)m->tst * n + i], dig_tst);
        evm__r_format_vec(tv, n, m->digits, 0, s + (size_t)m->tst * (size_t)n);
    }
    if (format_other_cols(m, x, s) < 0) goto done;
    int stars = 0;
    if (pcol >= 0) {
        const double *pv = x + (size_t)pcol * (size_t)n;
        evm__format_pvals(pv, n, dig_tst, s + (size_t)pcol * (size_t)n);
        int w = 0;
        for (int i = 0; i < n; i++) {
            stars |= !isnan(pv[i]) && pv[i] < 0.1;
            if ((int)strlen(evm__stars_of(pv[i])) > w)
                w = (int)strlen(evm__stars_of(pv[i]));
        }
        for (int i = 0; i < n; i++) /* format(): left-justified to the widest */
            snprintf(star[i], sizeof star[i], "%-*s", w, evm__stars_of(pv[i]));
    }
    const int ncol = nc + stars;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < nc; j++) {
            size_t k = (size_t)j * (size_t)n + (size_t)i;
            cell[(size_t)i * (size_t)ncol + (size_t)j] = isnan(x[k]) ? na : s[k];
        }
        if (stars) cell[(size_t)i * (size_t)ncol + (size_t)nc] = star[i];
    }
    for (int j = 0; j < nc; j++) coln[j] = m->colname[j];
    coln[nc] = "";
    evm__table t = {n, ncol, (const char **)m->rowname, coln, cell, 1};
    evm__table_print(out, &t);
    if (stars) signif_legend(out);
done:
    free(x);
    free(tv);
    free(s);
    free(star);
    free(cell);
    free(coln);
}
