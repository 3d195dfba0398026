/* result.c — evm_result_free, and evm_result_print: lme4's print(summary(fit)) plus the
 * lines evaluators need (ICC, boundary fit, convergence, dropped columns).
 *
 * The numbers are laid out as R lays them out: formatReal() picks one width and one
 * number of decimals (or scientific notation) for a whole column from `digits`
 * significant digits, printCoefmat() rounds estimates and standard errors together,
 * format.pval() writes tiny p-values as "<2e-16", abbreviate() shortens the names of the
 * correlation table.  Each helper below names the R function it follows (R 4.2, lme4
 * 1.1-31, lmerTest 3.1-3).  A missing number (NaN) prints as "NA". */
#include "internal.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- free */
static void free_strv(char **v, int64_t n)
{
    if (!v) return;
    for (int64_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void evm_result_free(evm_result **rp)
{
    if (!rp || !*rp) return;
    evm_result *r = *rp;
    free(r->evalmix_version);
    free(r->command);
    free(r->created);
    free(r->input);
    free(r->input_sha256);
    free(r->formula);
    free(r->optimizer);
    free(r->message);
    free(r->theta);
    free_strv(r->fixef_name, r->p);
    free(r->beta);
    free(r->se);
    free(r->df);
    free(r->t);
    free(r->pval);
    free(r->vcov);
    free(r->ddf);
    free_strv(r->dropped, r->ndropped);
    free_strv(r->vc_group, r->nvc);
    free_strv(r->vc_var1, r->nvc);
    free_strv(r->vc_var2, r->nvc);
    free(r->vc_vcov);
    free(r->vc_sdcor);
    if (r->ranef) {
        for (int i = 0; i < r->nranef; i++) {
            evm_ranef *re = &r->ranef[i];
            free(re->name);
            free_strv(re->level, re->nlevels);
            free_strv(re->term, re->nterms);
            free(re->mode);
            free(re->condsd);
        }
        free(r->ranef);
    }
    free_strv(r->group_name, r->ngroups);
    free(r->group_nlevels);
    free_strv(r->icc_group, r->nicc);
    free(r->icc);
    free(r->drop_reason);
    free(r);
    *rp = NULL;
}

/* ---------------------------------------------------------------- R's number formats */
#define LINE_WIDTH 80 /* getOption("width") */
#define NUM 48        /* room for one formatted number */
typedef char numstr[NUM];

static const char *str_or(const char *s, const char *dflt) { return s ? s : dflt; }
static int cnt(int n) { return n > 0 ? n : 0; }
static double at(const double *x, int64_t i) { return x ? x[i] : NAN; }
static const char *sat(char *const *s, int64_t i) { return s && s[i] ? s[i] : ""; }

/* Display width of UTF-8 text: one column per code point. */
static int width_of(const char *s)
{
    int n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void put_pad(FILE *out, const char *s, int width, int right)
{
    int n = width_of(s);
    if (right)
        for (; n < width; n++) fputc(' ', out);
    fputs(s, out);
    if (!right)
        for (; n < width; n++) fputc(' ', out);
}

/* round(x, d) as R: to the nearest decimal with d digits after the point. */
static double r_round(double x, int d)
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
static void r_zapsmall(double *x, int n, int digits)
{
    double mx = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i]) && fabs(x[i]) > mx) mx = fabs(x[i]);
    int d = mx > 0 ? (int)floor(fmax(0.0, digits - log10(mx)) + 0.5) : digits;
    for (int i = 0; i < n; i++) x[i] = r_round(x[i], d);
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

typedef struct {
    int w, d, e; /* width, digits after the point, exponent digits (0: fixed notation) */
} rfmt;

/* formatReal(): one common format for n numbers with `digits` significant digits; fixed
 * notation unless scientific is narrower; at least nsmall decimals in fixed notation. */
static rfmt r_format(const double *x, int n, int digits, int nsmall)
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
    rfmt f = {0, 0, 0};
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
static void r_encode(char *buf, double x, rfmt f)
{
    if (isnan(x)) snprintf(buf, NUM, "%*s", f.w, "NA");
    else if (isinf(x)) snprintf(buf, NUM, "%*s", f.w, x > 0 ? "Inf" : "-Inf");
    else if (f.e) snprintf(buf, NUM, "%*.*e", f.w, f.d, x == 0 ? 0.0 : x);
    else snprintf(buf, NUM, "%*.*f", f.w, f.d, x == 0 ? 0.0 : x);
}

/* format(x, digits, nsmall) of a vector: common width. */
static void r_format_vec(const double *x, int n, int digits, int nsmall, numstr *out)
{
    rfmt f = r_format(x, n, digits, nsmall);
    for (int i = 0; i < n; i++) r_encode(out[i], x[i], f);
}

/* One number as cat() prints it (7 significant digits). */
static void r_cat_num(char *buf, double x) { r_encode(buf, x, r_format(&x, 1, 7, 0)); }

/* ---------------------------------------------------------------- abbreviate() */
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

/* abbreviate() of one name (leading/trailing blanks removed) into a fresh string. */
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

/* abbreviate(names, minlength): unique abbreviations, lengthening the clashing ones. */
static char **abbreviate(char *const *names, int n, int minlen)
{
    char **x = evm__calloc((size_t)n, sizeof *x);
    int *redo = evm__malloc((size_t)n, sizeof *redo);
    int maxlen = 0, ok = x && redo;
    for (int i = 0; ok && i < n; i++) {
        redo[i] = 1;
        if (width_of(sat(names, i)) > maxlen) maxlen = width_of(sat(names, i));
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

/* ---------------------------------------------------------------- printing tables */
/* A character matrix printed as print.default(quote = FALSE) prints it: a column as wide
 * as its widest entry, one space between columns, row names left-justified, cells and
 * column names left- or right-justified, columns that pass the line width wrapped into
 * further blocks. */
typedef struct {
    int nrow, ncol;
    const char **rowname; /* [nrow] or NULL (an empty row-name column) */
    const char **colname; /* [ncol] */
    const char **cell;    /* [nrow x ncol], row-major */
    int right;
} table;

static void table_print(FILE *out, const table *t)
{
    int wr = 0;
    int *wc = evm__calloc((size_t)cnt(t->ncol), sizeof *wc);
    if (!wc) return;
    for (int i = 0; t->rowname && i < t->nrow; i++)
        if (width_of(t->rowname[i]) > wr) wr = width_of(t->rowname[i]);
    for (int j = 0; j < t->ncol; j++) {
        wc[j] = width_of(t->colname[j]);
        for (int i = 0; i < t->nrow; i++)
            if (width_of(t->cell[i * t->ncol + j]) > wc[j])
                wc[j] = width_of(t->cell[i * t->ncol + j]);
    }
    for (int j0 = 0, j1; j0 < t->ncol; j0 = j1) {
        int w = wr + 1 + wc[j0];
        for (j1 = j0 + 1; j1 < t->ncol && w + 1 + wc[j1] <= LINE_WIDTH; j1++)
            w += 1 + wc[j1];
        put_pad(out, "", wr, 0);
        for (int j = j0; j < j1; j++) {
            fputc(' ', out);
            put_pad(out, t->colname[j], wc[j], t->right);
        }
        fputc('\n', out);
        for (int i = 0; i < t->nrow; i++) {
            put_pad(out, t->rowname ? t->rowname[i] : "", wr, 0);
            for (int j = j0; j < j1; j++) {
                fputc(' ', out);
                put_pad(out, t->cell[i * t->ncol + j], wc[j], t->right);
            }
            fputc('\n', out);
        }
    }
    free(wc);
}

/* A named vector as print() shows it: names over values, all right-justified to one
 * common width, each followed by a space. */
static void named_print(FILE *out, const char *const *name, const char *const *val, int n)
{
    int w = 0;
    for (int i = 0; i < n; i++) {
        if (width_of(name[i]) > w) w = width_of(name[i]);
        if (width_of(val[i]) > w) w = width_of(val[i]);
    }
    int per = LINE_WIDTH / (w + 1) > 0 ? LINE_WIDTH / (w + 1) : 1;
    for (int i0 = 0; i0 < n; i0 += per) {
        for (int pass = 0; pass < 2; pass++) {
            for (int i = i0; i < n && i < i0 + per; i++) {
                put_pad(out, pass ? val[i] : name[i], w, 1);
                fputc(' ', out);
            }
            fputc('\n', out);
        }
    }
}

/* cat(..., sep = sep, fill = TRUE): items on a line until the next would pass the width. */
static void cat_fill(FILE *out, const char *const *item, int n, const char *sep)
{
    int width = 0, sepw = width_of(sep);
    for (int i = 0; i < n; i++) {
        int w = width_of(item[i]);
        if (i > 0 && width + w + sepw > LINE_WIDTH) {
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

/* ---------------------------------------------------------------- summary sections */
static int has_ddf(const evm_result *r)
{
    return r->ddf && *r->ddf && strcmp(r->ddf, "none");
}

/* .prt.methTit(): "<title> ['<class>']", wrapped as lme4 wraps a long one. */
static void print_title(FILE *out, const evm_result *r)
{
    const char *meth = r->reml ? "Linear mixed model fit by REML"
                               : "Linear mixed model fit by maximum likelihood ";
    const char *cls = has_ddf(r) ? "lmerModLmerTest" : "lmerMod";
    char *title = has_ddf(r) ? evm__asprintf("%s. t-tests use %s's method", meth, r->ddf)
                             : evm__strdup(meth);
    if (!title) return;
    if (width_of(title) + 5 + width_of(cls) <= LINE_WIDTH) {
        fprintf(out, "%s ['%s']\n", title, cls);
        free(title);
        return;
    }
    /* strwrap(title, width = 78, exdent = 2), then cat(lines, " [", class, "]", sep = "",
     * fill = TRUE). */
    int n = 0, cap = 8;
    const char **item = evm__malloc((size_t)cap + 3, sizeof *item);
    char *buf = evm__malloc(2 * strlen(title) + 8, 1), *d = buf;
    if (item && buf) {
        int len = 0;
        char *line = d;
        for (char *w = strtok(title, " "); w; w = strtok(NULL, " ")) {
            int wl = width_of(w);
            if (len > 0 && len + 1 + wl >= 78) {
                *d++ = '\0';
                if (n == cap) break;
                item[n++] = line;
                line = d;
                d += sprintf(d, "  ");
                len = 2;
            } else if (len > 0) {
                *d++ = ' ';
                len++;
            }
            d += sprintf(d, "%s", w);
            len += wl;
        }
        *d = '\0';
        item[n++] = line;
        item[n++] = " [";
        item[n++] = cls;
        item[n++] = "]";
        cat_fill(out, item, n, "");
    }
    free(item);
    free(buf);
    free(title);
}

/* .prt.aictab(): the REML criterion, or AIC, BIC, logLik, deviance and df.resid. */
static void print_criteria(FILE *out, const evm_result *r)
{
    numstr s[5];
    if (r->reml) {
        r_cat_num(s[0], r_round(r->objective, 1));
        fprintf(out, "REML criterion at convergence: %s\n", s[0]);
        return;
    }
    double v[5] = {r->aic, r->bic, r->loglik, r->objective,
                   (double)r->n_obs - (cnt(r->p) + cnt(r->ntheta) + 1)};
    for (int i = 0; i < 5; i++) v[i] = r_round(v[i], 1);
    r_format_vec(v, 5, 7, 0, s);
    r_cat_num(s[4], v[4]);
    const char *name[5] = {"AIC", "BIC", "logLik", "deviance", "df.resid"};
    const char *val[5] = {s[0], s[1], s[2], s[3], s[4]};
    named_print(out, name, val, 5);
}

/* .prt.resids(): zapsmall(quantiles, 5) printed with 4 digits. */
static void print_resids(FILE *out, const evm_result *r)
{
    double q[5];
    numstr s[5];
    memcpy(q, r->resid_quantiles, sizeof q);
    r_zapsmall(q, 5, 5);
    r_format_vec(q, 5, 4, 0, s);
    const char *name[5] = {"Min", "1Q", "Median", "3Q", "Max"};
    const char *val[5] = {s[0], s[1], s[2], s[3], s[4]};
    fputs("Scaled residuals: \n", out);
    named_print(out, name, val, 5);
    fputc('\n', out);
}

/* The position of var1 == name among a group's variance rows, or -1. */
static int term_index(const evm_result *r, const int *rows, int k, const char *name)
{
    for (int i = 0; i < k; i++)
        if (!strcmp(sat(r->vc_var1, rows[i]), name)) return i;
    return -1;
}

/* The variance rows of the varcomp table (var2 == ""), grouped by group in order of first
 * appearance: group g's rows are row[gstart[g]] .. row[gstart[g + 1] - 1].  Returns the
 * number of groups; *nrow the number of rows. */
static int varcomp_groups(const evm_result *r, int *row, int *gstart, int *nrow)
{
    int ngrp = 0, n = 0;
    for (int i = 0; i < cnt(r->nvc); i++) {
        if (*sat(r->vc_var2, i)) continue;
        int seen = 0;
        for (int g = 0; g < ngrp && !seen; g++)
            seen = !strcmp(sat(r->vc_group, row[gstart[g]]), sat(r->vc_group, i));
        if (seen) continue;
        gstart[ngrp++] = n;
        for (int k = i; k < r->nvc; k++)
            if (!*sat(r->vc_var2, k) && !strcmp(sat(r->vc_group, k), sat(r->vc_group, i)))
                row[n++] = k;
    }
    gstart[ngrp] = n;
    *nrow = n;
    return ngrp;
}

/* One group's correlations as formatVC() shows them: format(round(cor, 2), nsmall = 2)
 * of the whole k x k matrix, its lower triangle into columns 4.. of the group's k table
 * rows (fresh strings).  `cor` is k x k workspace.  0, or -1 when out of memory. */
static int put_group_cor(const evm_result *r, const int *rows, int k, const char **cell,
                         int ncol, double *cor)
{
    const char *gname = sat(r->vc_group, rows[0]);
    for (int i = 0; i < k * k; i++) cor[i] = i % (k + 1) == 0 ? 1.0 : NAN;
    for (int v = 0; v < cnt(r->nvc); v++) {
        if (!*sat(r->vc_var2, v) || strcmp(sat(r->vc_group, v), gname)) continue;
        int a = term_index(r, rows, k, sat(r->vc_var1, v));
        int b = term_index(r, rows, k, sat(r->vc_var2, v));
        if (a >= 0 && b >= 0)
            cor[a * k + b] = cor[b * k + a] = r_round(at(r->vc_sdcor, v), 2);
    }
    rfmt f = r_format(cor, k * k, 7, 2);
    for (int i = 1; i < k; i++)
        for (int j = 0; j < i; j++) {
            numstr s;
            r_encode(s, cor[i * k + j], f);
            if (!(cell[(size_t)i * (size_t)ncol + 4 + (size_t)j] = evm__strdup(s)))
                return -1;
        }
    return 0;
}

/* .prt.VC() / formatVC(): Groups, Name, Variance, Std.Dev. and the lower triangle of each
 * group's correlations, from the rows of as.data.frame(VarCorr()). */
static void print_varcomp(FILE *out, const evm_result *r)
{
    static const char *head[4] = {"Groups", "Name", "Variance", "Std.Dev."};
    const size_t nvc = (size_t)cnt(r->nvc);
    int *row = evm__malloc(nvc, sizeof *row),
        *gstart = evm__malloc(nvc + 1, sizeof *gstart);
    double *var = evm__malloc(nvc, sizeof *var), *sd = evm__malloc(nvc, sizeof *sd);
    numstr *svar = evm__malloc(nvc, sizeof *svar), *ssd = evm__malloc(nvc, sizeof *ssd);
    const char **cell = NULL, **colname = NULL;
    double *cor = NULL;
    int nrow = 0, maxlen = 1, ncol = 4;
    fputs("Random effects:\n", out);
    if (!row || !gstart || !var || !sd || !svar || !ssd) goto done;

    int ngrp = varcomp_groups(r, row, gstart, &nrow);
    for (int g = 0; g < ngrp; g++)
        if (gstart[g + 1] - gstart[g] > maxlen) maxlen = gstart[g + 1] - gstart[g];
    for (int i = 0; i < nrow; i++) {
        var[i] = at(r->vc_vcov, row[i]);
        sd[i] = at(r->vc_sdcor, row[i]);
    }
    r_format_vec(var, nrow, 4, 0, svar);
    r_format_vec(sd, nrow, 4, 0, ssd);

    ncol = 4 + maxlen - 1;
    cell = evm__calloc((size_t)nrow * (size_t)ncol, sizeof *cell);
    colname = evm__calloc((size_t)ncol, sizeof *colname);
    cor = evm__malloc((size_t)maxlen * (size_t)maxlen, sizeof *cor);
    if (!cell || !colname || !cor) goto done;
    for (int j = 0; j < ncol; j++) colname[j] = j < 4 ? head[j] : j == 4 ? "Corr" : "";
    for (int i = 0; i < nrow; i++) {
        const char **c = cell + (size_t)i * (size_t)ncol;
        int first = 0;
        for (int g = 0; g < ngrp; g++) first |= gstart[g] == i;
        c[0] = first ? sat(r->vc_group, row[i]) : "";
        c[1] = sat(r->vc_var1, row[i]);
        c[2] = svar[i];
        c[3] = ssd[i];
    }
    for (int g = 0; g < ngrp; g++) {
        int k = gstart[g + 1] - gstart[g];
        if (k > 1 && put_group_cor(r, row + gstart[g], k,
                                   cell + (size_t)gstart[g] * (size_t)ncol, ncol, cor) < 0)
            goto done;
    }
    for (int i = 0; i < nrow * ncol; i++)
        if (!cell[i]) cell[i] = "";
    table t = {nrow, ncol, NULL, colname, cell, 0};
    table_print(out, &t);
done:
    if (cell) /* the correlations are the strings allocated here; "" is not */
        for (int i = 0; i < nrow; i++)
            for (int j = 4; j < ncol; j++) {
                const char *c = cell[(size_t)i * (size_t)ncol + (size_t)j];
                if (c && *c) free((char *)c);
            }
    free(cell);
    free(colname);
    free(cor);
    free(row);
    free(gstart);
    free(var);
    free(sd);
    free(svar);
    free(ssd);
}

/* .prt.grps() */
static void print_groups(FILE *out, const evm_result *r)
{
    size_t size = 64;
    for (int i = 0; i < cnt(r->ngroups); i++) size += strlen(sat(r->group_name, i)) + 32;
    char *first = evm__asprintf("Number of obs: %lld, groups: ", (long long)r->n_obs);
    char *rest = evm__malloc(size, 1);
    if (first && rest) {
        char *d = rest;
        *d = '\0';
        for (int i = 0; i < cnt(r->ngroups); i++)
            d += sprintf(d, "%s%s, %lld", i ? "; " : "", sat(r->group_name, i),
                         (long long)(r->group_nlevels ? r->group_nlevels[i] : 0));
        const char *item[2] = {first, rest};
        cat_fill(out, item, 2, " ");
    }
    free(first);
    free(rest);
}

/* format.pval(pv, digits = 3): "<2e-16" below machine epsilon. */
static void format_pvals(const double *pv, int n, numstr *out)
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
            if ((e >= -4) == (pass == 0)) {
                idx[m] = i;
                x[m++] = pv[i];
            }
        }
        rfmt f = r_format(x, m, 3, 0);
        for (int k = 0; k < m; k++) {
            r_encode(out[idx[k]], x[k], f);
            if (width_of(out[idx[k]]) > nc) nc = width_of(out[idx[k]]);
            any_other = 1;
        }
    }
    for (int i = 0; i < n; i++) {
        if (isnan(pv[i])) snprintf(out[i], NUM, "NA");
        else if (pv[i] < eps) any_small = 1;
    }
    if (any_small) {
        const char *sep = any_other && nc > 6 ? " " : "";
        for (int i = 0; i < n; i++)
            if (!isnan(pv[i]) && pv[i] < eps) snprintf(out[i], NUM, "<%s2e-16", sep);
    }
done:
    free(x);
    free(idx);
}

/* printCoefmat()'s first k columns (estimate, standard error, and df): rounded to the
 * decimals that give `digits` significant digits to the smallest |value|, then one common
 * format; a value that is not zero but would print as zero gets digits - 1 significant
 * digits instead.  x and out are [n] (the k columns, any order). */
static void format_coef_cols(const double *x, int n, int digits, numstr *out)
{
    double *rx = evm__malloc((size_t)n, sizeof *rx), *z = evm__malloc((size_t)n, sizeof *z);
    int *zi = evm__malloc((size_t)n, sizeof *zi);
    numstr *sz = evm__malloc((size_t)n, sizeof *sz);
    if (!rx || !z || !zi || !sz) goto done;
    double amin = INFINITY;
    int any_finite = 0, m = 0;
    for (int i = 0; i < n; i++) {
        double a = fabs(x[i]);
        any_finite |= isfinite(a);
        if (isfinite(a) && a != 0 && a < amin) amin = a;
    }
    int dec = (int)fmax(1.0, digits - (1 + (isfinite(amin) ? floor(log10(amin)) : 0)));
    for (int i = 0; i < n; i++) rx[i] = r_round(x[i], dec);
    rfmt f = r_format(rx, n, digits, 0);
    for (int i = 0; i < n; i++) {
        if (isnan(x[i])) snprintf(out[i], NUM, "NA");
        else if (!any_finite) snprintf(out[i], NUM, "%s", x[i] > 0 ? "Inf" : "-Inf");
        else {
            r_encode(out[i], rx[i], f);
            if ((x[i] == 0) != (strtod(out[i], NULL) == 0)) {
                zi[m] = i;
                z[m++] = x[i];
            }
        }
    }
    r_format_vec(z, m, digits - 1, 0, sz);
    for (int q = 0; q < m; q++) snprintf(out[zi[q]], NUM, "%s", sz[q]);
done:
    free(rx);
    free(z);
    free(zi);
    free(sz);
}

/* symnum(p, cutpoints = c(0, .001, .01, .05, .1, 1)), formatted to a common width. */
static const char *stars_of(double p)
{
    if (isnan(p)) return "";
    if (p <= 0.001) return "***";
    if (p <= 0.01) return "** ";
    if (p <= 0.05) return "*  ";
    if (p <= 0.1) return ".  ";
    return "   ";
}

/* printCoefmat(coefs, digits = 4) of lme4's table (Estimate, Std. Error, t value) or, with
 * inference, lmerTest's (Estimate, Std. Error, df, t value, Pr(>|t|) and stars). */
static void print_fixef(FILE *out, const evm_result *r)
{
    static const char *colname[6] = {"Estimate", "Std. Error", "df",
                                     "t value",  "Pr(>|t|)",   ""};
    static const char *colname_lme4[3] = {"Estimate", "Std. Error", "t value"};
    const int p = cnt(r->p), ddf = has_ddf(r), k = ddf ? 3 : 2;
    double *cs = evm__malloc((size_t)p * 3, sizeof *cs),
           *tv = evm__malloc((size_t)p, sizeof *tv);
    double *pv = evm__malloc((size_t)p, sizeof *pv);
    numstr *scs = evm__malloc((size_t)p * 3, sizeof *scs),
           *st = evm__malloc((size_t)p, sizeof *st);
    numstr *sp = evm__malloc((size_t)p, sizeof *sp);
    const char **cell = evm__calloc((size_t)p * 6, sizeof *cell);
    const char **rown = evm__calloc((size_t)p, sizeof *rown);
    if (!cs || !tv || !pv || !scs || !st || !sp || !cell || !rown) goto done;

    int stars = 0;
    for (int i = 0; i < p; i++) {
        cs[i * k + 0] = at(r->beta, i);
        cs[i * k + 1] = at(r->se, i);
        if (ddf) cs[i * k + 2] = at(r->df, i);
        tv[i] = r_round(at(r->t, i), 3);
        pv[i] = at(r->pval, i);
        stars |= ddf && !isnan(pv[i]) && pv[i] < 0.1;
        rown[i] = sat(r->fixef_name, i);
    }
    format_coef_cols(cs, p * k, 4, scs);
    r_format_vec(tv, p, 4, 0, st);
    if (ddf) format_pvals(pv, p, sp);

    const int ncol = ddf ? 5 + stars : 3;
    for (int i = 0; i < p; i++) {
        const char **c = cell + (size_t)i * (size_t)ncol;
        for (int j = 0; j < k; j++) c[j] = scs[i * k + j];
        c[k] = st[i];
        if (ddf) c[k + 1] = sp[i];
        if (stars) c[k + 2] = stars_of(pv[i]);
    }
    table t = {p, ncol, rown, ddf ? colname : colname_lme4, cell, 1};
    table_print(out, &t);
    if (stars)
        fputs("---\nSignif. codes:  0 \xe2\x80\x98***\xe2\x80\x99 0.001 "
              "\xe2\x80\x98**\xe2\x80\x99 0.01 \xe2\x80\x98*\xe2\x80\x99 0.05 "
              "\xe2\x80\x98.\xe2\x80\x99 0.1 \xe2\x80\x98 \xe2\x80\x99 1\n",
              out);
done:
    free(cs);
    free(tv);
    free(pv);
    free(scs);
    free(st);
    free(sp);
    free(cell);
    free(rown);
}

/* "Correlation of Fixed Effects:" as lme4: the lower triangle of cov2cor(vcov), rounded to
 * 3 decimals, rows named abbreviate(name, 11), columns abbreviate(name, 6). */
static void print_fixef_cor(FILE *out, const evm_result *r)
{
    const int p = cnt(r->p);
    if (p < 2 || !r->vcov) return;
    if (p > 12) {
        fprintf(out,
                "\nCorrelation matrix not shown by default, as p = %d > 12.\n"
                "It can be computed from /fixef/vcov of the result file.\n",
                p);
        return;
    }
    double cor[144];
    numstr s[144];
    const char *cell[144], *rown[12], *coln[12];
    char **rabb = abbreviate(r->fixef_name, p, 11),
         **cabb = abbreviate(r->fixef_name, p, 6);
    if (rabb && cabb) {
        for (int i = 0; i < p; i++)
            for (int j = 0; j < p; j++)
                cor[i * p + j] = r_round(
                    r->vcov[i * p + j] / sqrt(r->vcov[i * p + i] * r->vcov[j * p + j]), 3);
        r_format_vec(cor, p * p, 7, 3, s);
        for (int i = 1; i < p; i++) {
            rown[i - 1] = rabb[i];
            coln[i - 1] = cabb[i - 1];
            for (int j = 0; j < p - 1; j++)
                cell[(i - 1) * (p - 1) + j] = j < i ? s[i * p + j] : "";
        }
        fputs("\nCorrelation of Fixed Effects:\n", out);
        table t = {p - 1, p - 1, rown, coln, cell, 0};
        table_print(out, &t);
    }
    for (int i = 0; i < p; i++) {
        if (rabb) free(rabb[i]);
        if (cabb) free(cabb[i]);
    }
    free(rabb);
    free(cabb);
}

/* What evaluators need beyond lme4's summary. */
static void print_extras(FILE *out, const evm_result *r)
{
    for (int i = 0; i < cnt(r->nicc); i++) {
        numstr v;
        double x = at(r->icc, i);
        if (isnan(x)) snprintf(v, NUM, "NA");
        else snprintf(v, NUM, "%.3f", x);
        fprintf(out, "%sIntra-class correlation: %s %s\n", i ? "" : "\n",
                sat(r->icc_group, i), v);
    }
    if (cnt(r->ndropped) > 0) {
        int n = r->ndropped;
        fprintf(out,
                "fit warnings:\nfixed-effect model matrix is rank deficient so dropping "
                "%d column%s / coefficient%s:",
                n, n > 1 ? "s" : "", n > 1 ? "s" : "");
        for (int i = 0; i < n; i++) fprintf(out, "%s %s", i ? "," : "", sat(r->dropped, i));
        fputc('\n', out);
    }
    if (r->singular) fputs("boundary (singular) fit: see help('isSingular')\n", out);
    if (!r->converged) {
        const char *msg = str_or(r->message, "");
        fprintf(out, "optimizer (%s) did not converge after %d evaluations%s%s\n",
                *str_or(r->optimizer, "") ? r->optimizer : "?", r->n_evaluations,
                *msg ? ": " : "", msg);
    }
}

void evm_result_print(FILE *out, const evm_result *r)
{
    if (!out) return;
    if (!r) {
        fputs("(no result)\n", out);
        return;
    }
    print_title(out, r);
    fprintf(out, "Formula: %s\n", str_or(r->formula, ""));
    if (r->input && *r->input) fprintf(out, "   Data: %s\n", r->input);
    fputc('\n', out);
    print_criteria(out, r);
    fputc('\n', out);
    print_resids(out, r);
    print_varcomp(out, r);
    print_groups(out, r);
    if (cnt(r->p) > 0) {
        fputs("\nFixed effects:\n", out);
        print_fixef(out, r);
        print_fixef_cor(out, r);
    }
    print_extras(out, r);
}
