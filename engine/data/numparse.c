/* numparse.c — decimal text to double, correctly rounded.
 *
 * Fast path (Clinger 1990): when the significant digits fit a 53-bit integer m and the
 * decimal exponent e has |e| <= 22, both m and 10^|e| are exact doubles, so the one
 * multiplication or division m * 10^e is correctly rounded by IEEE arithmetic.  Everything
 * else goes to strtod on a normalized copy ("digits" "e" exponent, no decimal point) so the
 * result never depends on the locale's decimal separator. */
#include "data_internal.h"

#include <stdlib.h>
#include <string.h>

static const double pow10_exact[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define TWO53 ((uint64_t)1 << 53)
#define EXP_CLAMP 1000000000LL   /* far beyond any double's range, yet no overflow */

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

/* Strict syntax check and scan.  On success: neg, the first 19 significant digits in *m,
 * *nsig significant digits in total, *e10 the decimal exponent of the last digit kept in
 * *m (value = m * 10^e10 when nsig <= 19).  Returns 0 when not a number. */
static int scan(const char *s, size_t n, int *neg, uint64_t *m, int64_t *nsig,
                int64_t *e10)
{
    const char *p = s, *end = s + n;
    int64_t sig = 0, dropped = 0, frac = 0, digits = 0;
    uint64_t mant = 0;
    *neg = 0;
    if (p < end && (*p == '+' || *p == '-')) *neg = *p++ == '-';
    for (; p < end && is_digit(*p); p++, digits++) {
        if (sig == 0 && *p == '0') continue;
        if (sig < 19) mant = mant * 10 + (uint64_t)(*p - '0');
        else dropped++;
        sig++;
    }
    if (p < end && *p == '.') {
        for (p++; p < end && is_digit(*p); p++, digits++) {
            frac++;
            if (sig == 0 && *p == '0') continue;
            if (sig < 19) mant = mant * 10 + (uint64_t)(*p - '0');
            else dropped++;
            sig++;
        }
    }
    if (digits == 0) return 0;
    int64_t ex = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        int eneg = 0;
        p++;
        if (p < end && (*p == '+' || *p == '-')) eneg = *p++ == '-';
        if (p == end || !is_digit(*p)) return 0;
        for (; p < end && is_digit(*p); p++)
            if (ex < EXP_CLAMP) ex = ex * 10 + (*p - '0');
        if (eneg) ex = -ex;
    }
    if (p != end) return 0;
    *m = mant;
    *nsig = sig;
    *e10 = ex - frac + dropped;
    return 1;
}

/* strtod on "[-]digits" "e" exponent built from the validated text. */
static int slow_path(const char *s, size_t n, double *out)
{
    char stack[256];
    size_t cap = n + 32;
    char *buf = cap <= sizeof stack ? stack : malloc(cap);
    if (!buf) return EVM_ERR_NOMEM;
    const char *p = s, *end = s + n;
    size_t k = 0;
    int64_t frac = 0, ex = 0;
    int infrac = 0;
    if (*p == '+' || *p == '-') {
        if (*p == '-') buf[k++] = '-';
        p++;
    }
    for (; p < end && *p != 'e' && *p != 'E'; p++) {
        if (*p == '.') infrac = 1;
        else {
            buf[k++] = *p;
            frac += infrac;
        }
    }
    if (p < end) {               /* exponent, already validated */
        int eneg = 0;
        p++;
        if (*p == '+' || *p == '-') eneg = *p++ == '-';
        for (; p < end; p++)
            if (ex < EXP_CLAMP) ex = ex * 10 + (*p - '0');
        if (eneg) ex = -ex;
    }
    ex -= frac;
    if (ex > EXP_CLAMP) ex = EXP_CLAMP;
    if (ex < -EXP_CLAMP) ex = -EXP_CLAMP;
    snprintf(buf + k, cap - k, "e%lld", (long long)ex);
    *out = strtod(buf, NULL);
    if (buf != stack) free(buf);
    return 1;
}

int evm__parse_number(const char *s, size_t n, double *out)
{
    int neg;
    uint64_t m;
    int64_t nsig, e10;
    if (!scan(s, n, &neg, &m, &nsig, &e10)) return 0;
    if (m == 0) {
        *out = neg ? -0.0 : 0.0;
        return 1;
    }
    if (nsig <= 19 && m < TWO53) {
        double v = (double)m;
        if (e10 >= 0 && e10 <= 22) {
            v *= pow10_exact[e10];
            *out = neg ? -v : v;
            return 1;
        }
        if (e10 < 0 && e10 >= -22) {
            v /= pow10_exact[-e10];
            *out = neg ? -v : v;
            return 1;
        }
        /* 1e30 = (1 * 10^8) * 10^22: still exact while m * 10^(e10-22) < 2^53. */
        if (e10 > 22 && e10 <= 22 + 15) {
            uint64_t mm = m;
            int64_t k = e10 - 22;
            while (k > 0 && mm < TWO53 / 10) {
                mm *= 10;
                k--;
            }
            if (k == 0) {
                v = (double)mm * pow10_exact[22];
                *out = neg ? -v : v;
                return 1;
            }
        }
    }
    return slow_path(s, n, out);
}

static int ieq(const char *s, size_t n, const char *word)
{
    size_t k = strlen(word);
    if (n != k) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        if (ch != word[i]) return 0;
    }
    return 1;
}

int evm__is_nonfinite_word(const char *s, size_t n)
{
    if (n > 0 && (*s == '+' || *s == '-')) {
        s++;
        n--;
    }
    return ieq(s, n, "nan") || ieq(s, n, "inf") || ieq(s, n, "infinity");
}
