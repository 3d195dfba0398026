/* numformat.c — a double printed as R's as.character() prints it (R 4.2), so that factor
 * levels of numeric columns read as levels(factor(x)) do in R.
 *
 * R formats each value with 15 significant digits and scipen 0:
 *  1. digit count: scale |x| into [1e14, 1e15) in long double (by R's table of powers of
 *     ten, double constants), round to an integer and drop its trailing zeros: nsig
 *     digits and the decimal exponent k;
 *  2. fixed notation takes neg + max(left, 1) + rgt + (rgt > 0) characters, with
 *     left = k + 1 (one less when the 15-digit rounding carried into a digit fixed
 *     notation would not show) and rgt = max(0, nsig - left); scientific takes
 *     neg + nsig + (nsig > 1) + 4 (+1 for a three-digit exponent);
 *  3. fixed wins ties; the text comes from sprintf ("%.*f" / "%.*e") and trailing zeros
 *     of the mantissa are dropped.
 * Checked against R 4.2.2 on 100,000 values, many of them rounding ties. */
#include "data_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIGITS 15
#define TABLE_MAX 27

/* Powers of ten as R tabulates them: double constants widened to long double (so 1e23
 * and above carry the double's rounding error, and R's digit count depends on it). */
static const double pow10_table[TABLE_MAX + 1] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11, 1e12, 1e13,
    1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27};

typedef struct {
    int nsig;           /* significant digits, 1..15 */
    int kpower;         /* decimal exponent: |x| ~ d.ddd * 10^kpower */
    int widens;         /* 15-digit rounding carried into a digit fixed notation lacks */
} sig_info;

static sig_info significant(double r)
{
    sig_info s;
    int kp = (int)floor(log10(r)) - DIGITS + 1;
    long double scaled = r;
    if (kp > 0 && kp <= TABLE_MAX) scaled /= (long double)pow10_table[kp];
    else if (kp < 0 && -kp <= TABLE_MAX) scaled *= (long double)pow10_table[-kp];
    else if (kp != 0) scaled /= powl(10.0L, (long double)kp);
    if (scaled < (long double)pow10_table[DIGITS - 1]) {
        scaled *= 10;
        kp--;
    }
    double alpha = (double)nearbyintl(scaled);
    s.nsig = DIGITS;
    for (int j = 1; j <= DIGITS; j++) {
        alpha /= 10.0;
        if (alpha != floor(alpha)) break;
        s.nsig--;
    }
    if (s.nsig == 0) {
        s.nsig = 1;
        kp++;
    }
    s.kpower = kp + DIGITS - 1;
    int rgt = DIGITS - s.kpower;
    rgt = rgt < 0 ? 0 : rgt > TABLE_MAX ? TABLE_MAX : rgt;
    double fuzz = 0.5 / pow10_table[rgt];
    s.widens = s.kpower > 0 && s.kpower <= TABLE_MAX && r < pow10_table[s.kpower] - fuzz;
    return s;
}

/* Drop trailing zeros of the mantissa ("2.50" -> "2.5", "1.0e+05" -> "1e+05"), as R's
 * as.character does after formatting. */
static void drop0(char *buf, int len)
{
    char *dot = strchr(buf, '.');
    if (!dot) return;
    char *e = strchr(dot, 'e');
    char *end = e ? e : buf + len;
    char *p = end;
    while (p > dot + 1 && p[-1] == '0') p--;
    if (p == dot + 1) p = dot;
    memmove(p, end, strlen(end) + 1);
}

/* Integers below 1e15 need no scaling (15 digits hold them exactly, and rounding never
 * widens them): the same rule with integer arithmetic, because numeric id columns can
 * have millions of levels. */
static int format_integer(double x, char *buf, size_t size)
{
    char d[24], out[32];
    int neg = x < 0, nd = 0, w = 0;
    uint64_t u = (uint64_t)(neg ? -x : x);
    do {
        d[nd++] = (char)('0' + u % 10);    /* least significant first */
        u /= 10;
    } while (u);
    int tz = 0;
    while (tz < nd - 1 && d[tz] == '0') tz++;
    int nsig = nd - tz;
    if (neg) out[w++] = '-';
    if (nd <= nsig + (nsig > 1) + 4) {
        for (int i = nd - 1; i >= 0; i--) out[w++] = d[i];
    } else {
        out[w++] = d[nd - 1];
        if (nsig > 1) out[w++] = '.';
        for (int i = nd - 2; i >= tz; i--) out[w++] = d[i];
        out[w++] = 'e';
        out[w++] = '+';
        out[w++] = (char)('0' + (nd - 1) / 10);
        out[w++] = (char)('0' + (nd - 1) % 10);
    }
    if (size) {
        size_t n = (size_t)w < size ? (size_t)w : size - 1;
        memcpy(buf, out, n);
        buf[n] = '\0';
    }
    return w;
}

int evm__format_r_double(double x, char *buf, size_t size)
{
    if (x == 0) return snprintf(buf, size, "0");   /* also -0 */
    if (x > -1e15 && x < 1e15 && x == (double)(int64_t)x) return format_integer(x, buf, size);
    int neg = x < 0;
    sig_info s = significant(neg ? -x : x);
    int left = s.kpower + 1 - s.widens;
    int rgt = s.nsig - left > 0 ? s.nsig - left : 0;
    int wfixed = neg + (left > 0 ? left : 1) + rgt + (rgt > 0);
    int three = left > 100 || left <= -99;
    int wsci = neg + s.nsig + (s.nsig > 1) + 4 + three;
    char out[400];
    int len = wfixed <= wsci ? snprintf(out, sizeof out, "%.*f", rgt, x)
                             : snprintf(out, sizeof out, "%.*e", s.nsig - 1, x);
    if (len < 0) return snprintf(buf, size, "NaN");
    drop0(out, len);
    return snprintf(buf, size, "%s", out);
}
