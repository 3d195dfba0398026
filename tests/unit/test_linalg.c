/* test_linalg.c — the threaded dense kernels give bit-identical results for any thread
 * count and agree with LAPACK/BLAS to rounding. */
#include "check.h"
#include "linalg/linalg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static double *spd(int n)
{
    double *a = malloc(sizeof(double) * n * n);
    unsigned s = 7;
    for (int i = 0; i < n * n; i++) {
        s = s * 1103515245u + 12345u;
        a[i] = ((s >> 8) & 0xffff) / 65536.0 - 0.5;
    }
    for (int j = 0; j < n; j++)
        for (int i = 0; i < j; i++) a[j + i * n] = a[i + j * n];
    for (int i = 0; i < n; i++) a[i + i * n] += n;
    return a;
}

int main(void)
{
    evm__blas_single_thread();
    const int n = 700, m = 300;
    double *a = spd(n), *l1 = malloc(sizeof(double) * n * n), *l2 = malloc(sizeof(double) * n * n),
           *l0 = malloc(sizeof(double) * n * n);
    memcpy(l0, a, sizeof(double) * n * n);
    memcpy(l1, a, sizeof(double) * n * n);
    memcpy(l2, a, sizeof(double) * n * n);
    CHECK_INT(evm__potrf(n, l0, n), 0);
    CHECK_INT(evm__potrf_par(n, l1, n, 1), 0);
    CHECK_INT(evm__potrf_par(n, l2, n, 2), 0);
    int same = 1;
    double maxdiff = 0;
    for (int j = 0; j < n; j++)
        for (int i = j; i < n; i++) {
            if (memcmp(&l1[i + j * n], &l2[i + j * n], sizeof(double))) same = 0;
            maxdiff = fmax(maxdiff, fabs(l1[i + j * n] - l0[i + j * n]));
        }
    CHECK(same);
    CHECK(maxdiff < 1e-12);
    /* a matrix that is not positive definite reports the failing column */
    double *bad = spd(n);
    bad[400 + 400 * n] = -1e6;
    CHECK(evm__potrf_par(n, bad, n, 2) == 401);
    /* triangular solves, split by rows / columns */
    double *b1 = malloc(sizeof(double) * m * n), *b2 = malloc(sizeof(double) * m * n);
    for (int i = 0; i < m * n; i++) b1[i] = b2[i] = sin(i);
    evm__trsm_right_lt_par(m, n, l1, n, b1, m, 1);
    evm__trsm_right_lt_par(m, n, l1, n, b2, m, 2);
    CHECK(memcmp(b1, b2, sizeof(double) * m * n) == 0);
    double *c1 = malloc(sizeof(double) * n * m), *c2 = malloc(sizeof(double) * n * m);
    for (int i = 0; i < m * n; i++) c1[i] = c2[i] = cos(i);
    evm__trsm_left_ln_par(n, m, l1, n, c1, n, 1);
    evm__trsm_left_ln_par(n, m, l1, n, c2, n, 2);
    CHECK(memcmp(c1, c2, sizeof(double) * m * n) == 0);
    /* L (L⁻¹ c) = c */
    double resid = 0;
    for (int col = 0; col < 3; col++)
        for (int i = 0; i < n; i++) {
            double s = 0;
            for (int k = 0; k <= i; k++) s += l1[i + k * n] * c1[k + col * n];
            resid = fmax(resid, fabs(s - cos(i + col * n)));
        }
    CHECK(resid < 1e-10);
    free(a), free(l0), free(l1), free(l2), free(bad), free(b1), free(b2), free(c1), free(c2);
    return check_summary("test_linalg");
}
