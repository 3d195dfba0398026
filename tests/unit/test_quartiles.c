/* test_quartiles.c — the residual five-number summary equals R's quantile(type = 7)
 * computed from a full sort, bit for bit, on both of its paths (histogram and
 * selection): shapes that the histogram handles and ones that force the fallback. */
#include "check.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void by_sort(const double *x, int64_t n, double q[5])
{
    double *s = malloc(sizeof *s * (size_t)n);
    memcpy(s, x, sizeof *s * (size_t)n);
    qsort(s, (size_t)n, sizeof *s, cmp);
    const double p[3] = {0.25, 0.5, 0.75};
    q[0] = s[0], q[4] = s[n - 1];
    for (int j = 0; j < 3; j++) {
        const double h = (double)(n - 1) * p[j];
        const int64_t k = (int64_t)floor(h);
        const double next = k + 1 < n ? s[k + 1] : s[k];
        q[j + 1] = s[k] + (h - (double)k) * (next - s[k]);
    }
    free(s);
}

static unsigned long long state = 88172645463325252ull;
static double unif(void)   /* xorshift64, (0, 1) */
{
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return ((double)(state >> 11) + 0.5) / 9007199254740992.0;
}

/* PERIODIC fools the strided sample when n is a multiple of 1,024: every sampled value
 * is one of the small ones, so the quartiles fall outside the histogram's range. */
enum { NORMAL, EXPONENTIAL, SORTED, REVERSED, TIES, OUTLIERS, CONSTANT, PERIODIC, NSHAPES };
static const char *shape_name[NSHAPES] = {"normal",   "exponential", "sorted",  "reversed",
                                          "ties",     "outliers",    "constant", "periodic"};

static void fill(double *x, int64_t n, int shape)
{
    for (int64_t i = 0; i < n; i++) {
        const double z = sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif());
        switch (shape) {
        case NORMAL: x[i] = z; break;
        case EXPONENTIAL: x[i] = -log(unif()); break;
        case SORTED: x[i] = (double)i / 7.0; break;
        case REVERSED: x[i] = (double)(n - i); break;
        case TIES: x[i] = floor(2 * z); break;
        case OUTLIERS: x[i] = i % 97 == 0 ? 1e300 * (i % 2 ? 1 : -1) : z; break;
        case PERIODIC: x[i] = i % 16 == 0 ? (double)i * 1e-9 : 1000 + z; break;
        default: x[i] = 3.25; break;
        }
    }
}

int main(void)
{
    const int64_t sizes[] = {1, 2, 3, 10, 1001, 16383, 16384, 50000, 200001};
    enum { NSIZES = sizeof sizes / sizeof *sizes };
    int hist[NSHAPES][NSIZES];
    for (size_t si = 0; si < sizeof sizes / sizeof *sizes; si++)
        for (int shape = 0; shape < NSHAPES; shape++) {
            const int64_t n = sizes[si];
            double *x = malloc(sizeof *x * (size_t)n), want[5], got[5];
            fill(x, n, shape);
            by_sort(x, n, want);
            hist[shape][si] = evm__quartiles(x, n, got);
            int same = 1;
            for (int k = 0; k < 5; k++) same &= memcmp(&want[k], &got[k], sizeof(double)) == 0;
            if (!same)
                printf("  %s, n = %lld: got %.17g %.17g %.17g %.17g %.17g\n", shape_name[shape],
                       (long long)n, got[0], got[1], got[2], got[3], got[4]);
            CHECK(same);
            free(x);
        }
    /* which path answered: the histogram from 16,384 values on, except for a constant
     * (no range) and the periodic shape at n = 16,384 (quartiles outside the range) */
    for (int si = 0; si < NSIZES; si++)
        for (int shape = 0; shape < NSHAPES; shape++) {
            int want = sizes[si] >= 16384 && shape != CONSTANT;
            if (shape == PERIODIC && sizes[si] == 16384) want = 0;
            if (shape == TIES) continue;   /* either, by how many values share the bins */
            if (hist[shape][si] != want)
                printf("  %s, n = %lld: path %d\n", shape_name[shape], (long long)sizes[si],
                       hist[shape][si]);
            CHECK_INT(hist[shape][si], want);
        }
    double q[5];
    CHECK_INT(evm__quartiles(NULL, 0, q), 0);
    CHECK(isnan(q[2]));
    return check_summary("test_quartiles");
}
