/* linalg.c — wrappers over CBLAS/LAPACKE and small-block kernels (see linalg.h). */
#include "linalg.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>

void openblas_set_num_threads(int num_threads);

void evm__blas_single_thread(void) { openblas_set_num_threads(1); }

/* With OpenBLAS linked statically (CMakeLists.txt, EVM_STATIC_BLAS) this runs before
 * OpenBLAS's own constructor, which reads OPENBLAS_NUM_THREADS and would otherwise start
 * worker threads that spin idle for ~0.1 s.  A value the user set is left alone. */
__attribute__((constructor(101))) static void evm__blas_preinit(void)
{
    setenv("OPENBLAS_NUM_THREADS", "1", 0);
}

/* Sizes reaching BLAS are bounded by the model (block sizes); they fit in int by
 * construction (checked when blocks are sized in lmm/structure.c). */
/* Below these sizes a BLAS call costs more than the arithmetic (and OpenBLAS takes a lock
 * for its buffers, which serialises the bootstrap's threads): plain loops instead.  The
 * loops' summation order is fixed, so results stay independent of the thread count. */
#define EVM__SMALL_DIM 16
#define EVM__SMALL_WORK 4096

void evm__gemm_nt_sub(int64_t m, int64_t n, int64_t k, const double *a, int64_t lda,
                      const double *b, int64_t ldb, double *c, int64_t ldc)
{
    if (m <= 0 || n <= 0 || k <= 0) return;
    if (m * n * k <= EVM__SMALL_WORK) {
        for (int64_t j = 0; j < n; j++)
            for (int64_t i = 0; i < m; i++) {
                double s = 0.0;
                for (int64_t l = 0; l < k; l++) s += a[i + l * lda] * b[j + l * ldb];
                c[i + j * ldc] -= s;
            }
        return;
    }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)m, (int)n, (int)k, -1.0, a,
                (int)lda, b, (int)ldb, 1.0, c, (int)ldc);
}

void evm__syrk_sub(int64_t n, int64_t k, const double *a, int64_t lda, double *c,
                   int64_t ldc)
{
    if (n <= 0 || k <= 0) return;
    if (n <= EVM__SMALL_DIM && n * n * k <= 64 * EVM__SMALL_WORK) {
        for (int64_t j = 0; j < n; j++)
            for (int64_t i = j; i < n; i++) {
                double s = 0.0;
                for (int64_t l = 0; l < k; l++) s += a[i + l * lda] * a[j + l * lda];
                c[i + j * ldc] -= s;
            }
        return;
    }
    cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, (int)n, (int)k, -1.0, a, (int)lda,
                1.0, c, (int)ldc);
}

void evm__syrk_add(int64_t n, int64_t k, const double *a, int64_t lda, double *c,
                   int64_t ldc)
{
    if (n <= 0 || k <= 0) return;
    cblas_dsyrk(CblasColMajor, CblasLower, CblasNoTrans, (int)n, (int)k, 1.0, a, (int)lda,
                1.0, c, (int)ldc);
}

void evm__syrk_t_add(int64_t n, int64_t k, const double *a, int64_t lda, double *c,
                     int64_t ldc)
{
    if (n <= 0 || k <= 0) return;
    cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, (int)n, (int)k, 1.0, a, (int)lda, 1.0,
                c, (int)ldc);
}

int evm__potrf(int64_t n, double *a, int64_t lda)
{
    if (n <= 0) return 0;
    if (n <= EVM__SMALL_DIM) {   /* the (p+1)×(p+1) corner: plain column Cholesky */
        for (int64_t j = 0; j < n; j++) {
            double d = a[j + j * lda];
            for (int64_t l = 0; l < j; l++) d -= a[j + l * lda] * a[j + l * lda];
            if (!(d > 0.0)) return (int)j + 1;
            d = sqrt(d);
            a[j + j * lda] = d;
            for (int64_t i = j + 1; i < n; i++) {
                double t = a[i + j * lda];
                for (int64_t l = 0; l < j; l++) t -= a[i + l * lda] * a[j + l * lda];
                a[i + j * lda] = t / d;
            }
        }
        return 0;
    }
    lapack_int info = LAPACKE_dpotrf_work(LAPACK_COL_MAJOR, 'L', (lapack_int)n, a,
                                          (lapack_int)lda);
    return info > 0 ? (int)info : (info < 0 ? 1 : 0);
}

void evm__trsm_right_lt(int64_t m, int64_t n, const double *l, int64_t ldl, double *b,
                        int64_t ldb)
{
    if (m <= 0 || n <= 0) return;
    cblas_dtrsm(CblasColMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int)m,
                (int)n, 1.0, l, (int)ldl, b, (int)ldb);
}

void evm__trsm_left_ln(int64_t n, int64_t m, const double *l, int64_t ldl, double *b,
                       int64_t ldb)
{
    if (m <= 0 || n <= 0) return;
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans, CblasNonUnit, (int)n,
                (int)m, 1.0, l, (int)ldl, b, (int)ldb);
}

void evm__trsm_left_lt(int64_t n, int64_t m, const double *l, int64_t ldl, double *b,
                       int64_t ldb)
{
    if (m <= 0 || n <= 0) return;
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasTrans, CblasNonUnit, (int)n,
                (int)m, 1.0, l, (int)ldl, b, (int)ldb);
}

int evm__chol_small(int q, double *a)
{
    for (int j = 0; j < q; j++) {
        double d = a[j + j * q];
        for (int k = 0; k < j; k++) d -= a[j + k * q] * a[j + k * q];
        if (!(d > 0.0)) return j + 1;
        d = sqrt(d);
        a[j + j * q] = d;
        for (int i = j + 1; i < q; i++) {
            double s = a[i + j * q];
            for (int k = 0; k < j; k++) s -= a[i + k * q] * a[j + k * q];
            a[i + j * q] = s / d;
        }
        for (int i = 0; i < j; i++) a[i + j * q] = 0.0;
    }
    return 0;
}

void evm__rsolve_lt_small(int64_t m, int q, const double *l, double *b, int64_t ldb)
{
    /* X Lᵀ = B: column j of X = (B_j - sum_{k<j} X_k L_jk) / L_jj */
    for (int j = 0; j < q; j++) {
        double *bj = b + (int64_t)j * ldb;
        for (int k = 0; k < j; k++) {
            double ljk = l[j + k * q];
            if (ljk == 0.0) continue;
            const double *bk = b + (int64_t)k * ldb;
            for (int64_t i = 0; i < m; i++) bj[i] -= bk[i] * ljk;
        }
        double d = l[j + j * q];
        for (int64_t i = 0; i < m; i++) bj[i] /= d;
    }
}

void evm__solve_lt_small(int q, const double *l, double *x)
{
    for (int j = q - 1; j >= 0; j--) {
        double s = x[j];
        for (int k = j + 1; k < q; k++) s -= l[k + j * q] * x[k];
        x[j] = s / l[j + j * q];
    }
}

void evm__solve_ln_small(int q, const double *l, double *x)
{
    for (int j = 0; j < q; j++) {
        double s = x[j];
        for (int k = 0; k < j; k++) s -= l[j + k * q] * x[k];
        x[j] = s / l[j + j * q];
    }
}
