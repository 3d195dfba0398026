/* parallel.c — dense kernels split over evalmix's own threads with a fixed partition.
 *
 * Each output element is produced by the same single-threaded BLAS call whatever the
 * number of threads (the partition depends only on the matrix size), so results are
 * bit-identical for any thread count — which threaded BLAS does not promise. */
#include "linalg.h"

#include "par/par.h"

#include <cblas.h>
#include <lapacke.h>

#define EVM__NB 96       /* block size of the blocked Cholesky */
#define EVM__ROWS 256    /* rows per task in triangular solves */

typedef struct {
    int64_t n, lda, j, jb;
    double *a;
} chol_step;

static void panel_task(void *arg, int t)   /* A[r0:r1, j:j+jb] <- A L_jjᵀ⁻¹ */
{
    chol_step *s = arg;
    const int64_t r0 = s->j + s->jb + (int64_t)t * EVM__ROWS;
    int64_t r1 = r0 + EVM__ROWS;
    if (r1 > s->n) r1 = s->n;
    evm__trsm_right_lt(r1 - r0, s->jb, s->a + s->j + s->j * s->lda, s->lda,
                       s->a + r0 + s->j * s->lda, s->lda);
}

static void update_task(void *arg, int t)   /* trailing column block t */
{
    chol_step *s = arg;
    const int64_t c0 = s->j + s->jb + (int64_t)t * EVM__NB;
    const int64_t w = s->n - c0 < EVM__NB ? s->n - c0 : EVM__NB;
    const double *P = s->a + s->j * s->lda;   /* the factored panel, rows from 0 */
    evm__syrk_sub(w, s->jb, P + c0, s->lda, s->a + c0 + c0 * s->lda, s->lda);
    if (c0 + w < s->n)
        evm__gemm_nt_sub(s->n - c0 - w, w, s->jb, P + c0 + w, s->lda, P + c0, s->lda,
                         s->a + (c0 + w) + c0 * s->lda, s->lda);
}

int evm__potrf_par(int64_t n, double *a, int64_t lda, int threads)
{
    if (n <= 2 * EVM__NB) return evm__potrf(n, a, lda);   /* same algorithm for any threads */
    for (int64_t j = 0; j < n; j += EVM__NB) {
        chol_step s = {n, lda, j, n - j < EVM__NB ? n - j : EVM__NB, a};
        int info = evm__potrf(s.jb, a + j + j * lda, lda);
        if (info) return (int)(j + info);
        const int64_t rest = n - j - s.jb;
        if (rest <= 0) break;
        evm__parallel_for((int)((rest + EVM__ROWS - 1) / EVM__ROWS), threads, panel_task, &s);
        evm__parallel_for((int)((rest + EVM__NB - 1) / EVM__NB), threads, update_task, &s);
    }
    return 0;
}

typedef struct {
    int64_t m, n, ldl, ldb;
    const double *l;
    double *b;
} solve_job;

/* Rows per task of a right solve: up to 2·EVM__ROWS rows go in two halves (rounded up to
 * a multiple of 8), so that a solve with few rows (the X rows and a small crossed term
 * below a dense one, every evaluation) still uses two threads; the split depends on m only. */
static int64_t right_rows(int64_t m)
{
    return m > 2 * EVM__ROWS ? EVM__ROWS : ((m + 1) / 2 + 7) / 8 * 8;
}

static void right_lt_task(void *arg, int t)
{
    solve_job *s = arg;
    const int64_t rows = right_rows(s->m), r0 = (int64_t)t * rows;
    const int64_t r = s->m - r0 < rows ? s->m - r0 : rows;
    evm__trsm_right_lt(r, s->n, s->l, s->ldl, s->b + r0, s->ldb);
}

void evm__trsm_right_lt_par(int64_t m, int64_t n, const double *l, int64_t ldl, double *b,
                            int64_t ldb, int threads)
{
    solve_job s = {m, n, ldl, ldb, l, b};
    const int64_t rows = right_rows(m);
    evm__parallel_for((int)((m + rows - 1) / rows), threads, right_lt_task, &s);
}

static void left_ln_task(void *arg, int t)   /* columns [t*ROWS, ...) of B */
{
    solve_job s = *(solve_job *)arg;
    const int64_t c0 = (int64_t)t * EVM__ROWS;
    const int64_t c = s.m - c0 < EVM__ROWS ? s.m - c0 : EVM__ROWS;
    evm__trsm_left_ln(s.n, c, s.l, s.ldl, s.b + c0 * s.ldb, s.ldb);
}

void evm__trsm_left_ln_par(int64_t n, int64_t m, const double *l, int64_t ldl, double *b,
                           int64_t ldb, int threads)
{
    solve_job s = {m, n, ldl, ldb, l, b};
    evm__parallel_for((int)((m + EVM__ROWS - 1) / EVM__ROWS), threads, left_ln_task, &s);
}
