/* linalg.h — thin checked wrappers over BLAS/LAPACKE and the small dense kernels the
 * blocked Cholesky uses on q×q blocks (q = columns of a random-effects term, 1–4
 * typically; a BLAS call would cost more than the arithmetic).
 * All matrices are column-major with an explicit leading dimension. */
#ifndef EVM_LINALG_H
#define EVM_LINALG_H

#include <stdint.h>

/* BLAS runs on one thread: evalmix parallelises in its own code with a fixed partition,
 * so results are identical for any thread count (docs/architecture.md). */
void evm__blas_single_thread(void);

/* C (m×n, ldc) -= A (m×k, lda) * B(n×k, ldb)ᵀ */
void evm__gemm_nt_sub(int64_t m, int64_t n, int64_t k, const double *a, int64_t lda,
                      const double *b, int64_t ldb, double *c, int64_t ldc);
/* lower triangle of C (n×n) -= A (n×k) Aᵀ */
void evm__syrk_sub(int64_t n, int64_t k, const double *a, int64_t lda, double *c,
                   int64_t ldc);
/* lower triangle of C (n×n) += A (n×k) Aᵀ  (beta = 1) */
void evm__syrk_add(int64_t n, int64_t k, const double *a, int64_t lda, double *c,
                   int64_t ldc);
/* lower triangle of C (n×n) += Aᵀ A, A (k×n) */
void evm__syrk_t_add(int64_t n, int64_t k, const double *a, int64_t lda, double *c,
                     int64_t ldc);
/* Cholesky of the lower triangle in place; 0 ok, > 0 the (1-based) column where the
 * matrix is not positive definite. */
int evm__potrf(int64_t n, double *a, int64_t lda);
/* B (m×n) <- B L⁻ᵀ with L (n×n) lower triangular. */
void evm__trsm_right_lt(int64_t m, int64_t n, const double *l, int64_t ldl, double *b,
                        int64_t ldb);
/* B (n×m) <- L⁻¹ B  and  B <- L⁻ᵀ B,  L (n×n) lower. */
void evm__trsm_left_ln(int64_t n, int64_t m, const double *l, int64_t ldl, double *b,
                       int64_t ldb);
void evm__trsm_left_lt(int64_t n, int64_t m, const double *l, int64_t ldl, double *b,
                       int64_t ldb);

/* ---- the same, split over `threads` of evalmix's own with a fixed partition, so that the
 * result is bit-identical for any thread count (parallel.c) ---- */
int evm__potrf_par(int64_t n, double *a, int64_t lda, int threads);
void evm__trsm_right_lt_par(int64_t m, int64_t n, const double *l, int64_t ldl, double *b,
                            int64_t ldb, int threads);
void evm__trsm_left_ln_par(int64_t n, int64_t m, const double *l, int64_t ldl, double *b,
                           int64_t ldb, int threads);

/* ---- small kernels (q ≤ ~8), no BLAS ---- */
/* Cholesky of a q×q lower block in place; returns 0 or the failing column (1-based). */
int evm__chol_small(int q, double *a);
/* B (m×q, ldb) <- B L⁻ᵀ for a q×q lower L */
void evm__rsolve_lt_small(int64_t m, int q, const double *l, double *b, int64_t ldb);
/* x (q) <- L⁻ᵀ x  and  x <- L⁻¹ x */
void evm__solve_lt_small(int q, const double *l, double *x);
void evm__solve_ln_small(int q, const double *l, double *x);

#endif
