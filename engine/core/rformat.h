/* rformat.h — numbers and tables laid out as R prints them (internal, not installed).
 *
 * The printed summaries of evalmix (evm_result_print) must read like lme4's and lmerTest's,
 * digit for digit.  These helpers follow the R functions they are named after (R 4.2):
 * formatReal() picks one width and one number of decimals (or scientific notation) for a
 * whole vector from `digits` significant digits; printCoefmat() rounds estimates and
 * standard errors together; format.pval() writes tiny p-values as "<2e-16"; abbreviate()
 * shortens names; print.default() lays out a character matrix.  A missing number (NaN)
 * prints as "NA".  The width of the line is R's default getOption("width") = 80.
 *
 * None of these fail loudly: printing is best effort, and a helper that runs out of
 * memory prints nothing (or returns NULL where it returns something). */
#ifndef EVM_RFORMAT_H
#define EVM_RFORMAT_H

#include <stdint.h>
#include <stdio.h>

#define EVM__LINE_WIDTH 80 /* getOption("width") */
#define EVM__NUM 48        /* room for one formatted number */
typedef char evm__numstr[EVM__NUM];

/* Display width of UTF-8 text: one column per code point. */
int evm__width_of(const char *s);
/* s padded with blanks to `width` columns, on the left (right = 1) or on the right. */
void evm__put_pad(FILE *out, const char *s, int width, int right);

/* ---------------------------------------------------------------- numbers */
/* round(x, d) as R: to the nearest decimal with d digits after the point. */
double evm__r_round(double x, int d);
/* zapsmall(x, digits) of R 4.2, in place over x[0..n-1]. */
void evm__r_zapsmall(double *x, int n, int digits);

typedef struct {
    int w, d, e; /* width, digits after the point, exponent digits (0: fixed notation) */
} evm__rfmt;

/* formatReal(): one common format for n numbers with `digits` significant digits; fixed
 * notation unless scientific is narrower; at least nsmall decimals in fixed notation. */
evm__rfmt evm__r_format(const double *x, int n, int digits, int nsmall);
/* encodeReal(): x in format f, right-justified to f.w ("NA" for NaN). */
void evm__r_encode(char *buf, double x, evm__rfmt f);
/* format(x, digits, nsmall) of a vector: out[i] all of one width. */
void evm__r_format_vec(const double *x, int n, int digits, int nsmall, evm__numstr *out);
/* One number as cat() prints it (7 significant digits). */
void evm__r_cat_num(char *buf, double x);

/* format.pval(pv, digits): each of n p-values, "<2e-16"-style below machine epsilon,
 * "NA" for NaN. */
void evm__format_pvals(const double *pv, int n, int digits, evm__numstr *out);
/* printCoefmat()'s coefficient columns (cs.ind: estimates, standard errors, df) formatted
 * together: rounded to the decimals that give `digits` significant digits to the smallest
 * |value|, then one common format; a value that is not zero but would print as zero gets
 * digits - 1 significant digits instead.  x and out are [n] (the columns, any order). */
void evm__format_coef_cols(const double *x, int n, int digits, evm__numstr *out);
/* symnum(p, cutpoints = c(0, .001, .01, .05, .1, 1)): "***" ... " " ("" for NaN). */
const char *evm__stars_of(double p);

/* ---------------------------------------------------------------- names */
/* abbreviate(names, minlength): unique abbreviations as fresh strings, lengthening the
 * clashing ones; NULL names count as "".  NULL when out of memory.  Free each entry and
 * the array. */
char **evm__abbreviate(char *const *names, int n, int minlen);

/* ---------------------------------------------------------------- layouts */
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
} evm__table;

void evm__table_print(FILE *out, const evm__table *t);

/* A named vector as print() shows it: names over values, all right-justified to one
 * common width, each followed by a space. */
void evm__named_print(FILE *out, const char *const *name, const char *const *val, int n);

/* cat(..., sep = sep, fill = TRUE): items on a line until the next would pass the width. */
void evm__cat_fill(FILE *out, const char *const *item, int n, const char *sep);

/* A coefficient or test table as printCoefmat() prints it (stats, R 4.2), for the column
 * roles evalmix uses:
 *   columns 0..ncs-1   cs.ind: estimate, standard error (and df), rounded together;
 *   column  tst        tst.ind: a test statistic, round(x, dig.tst) then `digits`;
 *   other columns      format(x, digits), after zapsmall(x, digits) when bit j of `zap`
 *                      is set (print.anova's zap.ind);
 *   the last column    p-values when has_p: format.pval(p, dig.tst), then the stars
 *                      column and the "Signif. codes" legend when any p < 0.1.
 * dig.tst = max(1, min(5, digits - 1)).  NaN prints as na_print ("NA" for summaries,
 * "" for print.anova). */
typedef struct {
    int nrow;
    const char *const *rowname; /* [nrow] */
    int ncol;
    const char *const *colname; /* [ncol] */
    const double *const *col;   /* [ncol] columns of [nrow]; a NULL column is all NaN */
    int ncs;                    /* the first ncs columns are cs.ind */
    int tst;                    /* tst.ind, or -1 */
    unsigned zap;               /* zap.ind, bit j for column j */
    int has_p;                  /* the last column holds p-values */
    int digits;
    const char *na_print;
} evm__coefmat;

void evm__print_coefmat(FILE *out, const evm__coefmat *m);

#endif
