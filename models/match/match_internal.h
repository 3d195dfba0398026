/* match_internal.h — pieces shared by the files of models/match (not installed).
 *
 * The matching model reports errors and warnings on the engine's context with the
 * engine's own helpers (evm__fail, evm__warn from engine/core/internal.h): evalmix.h has
 * no public setter yet, and a second error channel for models/ would be worse. */
#ifndef EVM_MATCH_INTERNAL_H
#define EVM_MATCH_INTERNAL_H

#include "match.h"
#include "../../engine/core/internal.h"

#include <stdint.h>

/* ---------------------------------------------------------------- sort.c */
/* Buffers reused by the sorts of one match: allocating and freeing arrays of millions of
 * rows again and again costs more in page faults than the sorting itself. */
typedef struct {
    uint64_t *k0, *k1;
    int64_t *i1, *order;
    int64_t cap;
} evm__mt_ws;

void evm__mt_ws_free(evm__mt_ws *ws);
/* A key whose unsigned order is the order of the doubles (-0.0 as 0.0; no NaN). */
uint64_t evm__mt_double_key(double x);
/* Stably reorder order[0..n-1] (row numbers) by key[row]: sort by the least significant
 * key first for several keys.  ws may be NULL (buffers of this call only). */
int evm__mt_radix_order(evm__mt_ws *ws, int64_t n, const uint64_t *key, int64_t *order,
                        evm_ctx *c);
/* code[i] = rank of key[i] among the distinct keys (0-based); *ncodes distinct keys. */
int evm__mt_dense_codes(evm__mt_ws *ws, int64_t n, const uint64_t *key, int64_t *code,
                        int64_t *ncodes, evm_ctx *c);

/* ---------------------------------------------------------------- design.c */
/* One covariate column expanded for a use: numeric as is, a factor as indicator columns
 * (all levels, or levels 2.. for the propensity model as R's treatment contrasts). */
typedef struct {
    int64_t n;
    int p;               /* columns */
    const double **col;  /* [p] column j (n values): a numeric column of the frame itself,
                            or generated (intercept, indicators) in `own` */
    double *own;
    char **name;         /* R's names: "age", "racehispan" */
    int *binary;         /* every value 0 or 1 */
} evm__mt_design;

void evm__mt_design_free(evm__mt_design *d);
/* Intercept (if asked) and the covariates; factors with all levels (all_levels = 1,
 * for balance and Mahalanobis) or without the first (the propensity model).  Numeric
 * columns must be complete (evm_match_run checks them first). */
int evm__mt_design_build(const evm_frame *f, int n, const char *const *vars, int intercept,
                      int all_levels, evm__mt_design *d, evm_ctx *c);

/* Find a column of the frame or fail with EVM_ERR_COLUMN naming the option. */
int evm__mt_col(const evm_frame *f, const char *name, const char *option, evm_ctx *c);

/* Exact cells: cell[n] in 0..ncells-1 for the combination of the columns' values
 * (numbers or factor levels), numbered in the order of the sorted combinations. */
int evm__mt_cells(const evm_frame *f, int nvar, const char *const *vars, int32_t *cell,
                  int64_t *ncells, evm__mt_ws *ws, evm_ctx *c);

/* ---------------------------------------------------------------- logit.c */
typedef struct {
    int iterations, converged, boundary;
    double deviance;
} evm__mt_logit_info;

/* Logistic regression of y (0/1) on the columns x[0..p-1] (n values each, the first the
 * intercept) by iteratively reweighted least squares, step for step as R's glm.fit
 * (start mu = (y + 0.5)/2, deviance criterion 1e-8, at most 25 iterations, step halving
 * when the deviance is not finite), each least-squares step by a Householder QR in a fixed
 * order.  Output: coef[p], eta[n] (linear predictor), mu[n] (fitted probability).
 * A column that is a linear combination of the ones before it (R's QR rule: its norm
 * falls below 1e-7 of its own norm; the first step's weights are all equal, so this is
 * the check on x itself) sets *aliased to its index and returns EVM_ERR_MODEL without a
 * message.  Errors: EVM_ERR_NOMEM, EVM_ERR_NUMERIC (no valid coefficients). */
int evm__mt_logit_fit(int64_t n, int p, const double *const *x, const double *y, double *coef,
                      double *eta, double *mu, evm__mt_logit_info *info, int *aliased,
                      evm_ctx *c);

/* ---------------------------------------------------------------- mahal.c */
/* The covariates mapped to a space where Euclidean distance is MatchIt's Mahalanobis
 * distance (columns scaled, pooled within-group covariance, its inverse or generalized
 * inverse): z is n x k column-major, k <= d->p.  Errors: EVM_ERR_NOMEM, EVM_ERR_NUMERIC. */
int evm__mt_mahal_transform(const evm__mt_design *d, const int *treat, double **z, int *k,
                         evm_ctx *c);

/* ---------------------------------------------------------------- nearest.c */
/* The problem a matcher solves: units 0..n-1 with treat[], cell[], and either a 1-D
 * distance (dist != NULL) or points z (n x k) for Euclidean distance.  Ties in distance go
 * to the smaller key[] (row order or a seeded random order). */
typedef struct {
    int64_t n;
    const int *treat;
    const int32_t *cell;
    int64_t ncells;
    const double *dist;       /* 1-D distance, or NULL */
    const double *z;          /* n x k points (Mahalanobis), or NULL */
    int k;
    const uint64_t *key;      /* tie-break order */
    int ratio, replace;
    double caliper;           /* in distance units; <= 0 or NaN: none */
    int order_largest;        /* treated by decreasing distance (else data order) */
    int nwindow;              /* vcg windows */
    const double *const *window_x;
    const double *window_w;
} evm__mt_nn_problem;

/* Matched sets: for each treated unit (0..n1-1, in data order) its comparison units in
 * match order: ctrl[start[i] .. start[i+1]-1].  treated_row[i] is its row. */
typedef struct {
    int64_t n1;
    int64_t *treated_row;
    int64_t *start;           /* [n1 + 1] */
    int64_t *ctrl;
} evm__mt_sets;

void evm__mt_sets_free(evm__mt_sets *s);
int evm__mt_nn_match(const evm__mt_nn_problem *p, evm__mt_sets *s, evm__mt_ws *ws,
                     evm_ctx *c);

/* ---------------------------------------------------------------- cem.c */
/* Coarsened exact matching: stratum[n] (-1: unmatched), numbered as MatchIt (order of
 * first appearance among comparison rows).  Bins as MatchIt's cem (equal width between
 * min and max, outer edges open; Sturges' rule unless cutpoints say otherwise). */
int evm__mt_cem_strata(const evm_frame *f, const evm_match_opts *o, const int *treat,
                       const int32_t *cell, int64_t *stratum, int64_t *nstrata,
                       evm__mt_ws *ws, evm_ctx *c);

/* ---------------------------------------------------------------- balance.c */
/* Balance of the columns of d (and the distance first, if dist != NULL) before
 * (weights 1) and after (weight[]) matching, as MatchIt's summary(), plus WWC effect
 * sizes.  rows[] is allocated. */
int evm__mt_balance(const evm__mt_design *d, const double *dist, const int *treat,
                    const double *weight, int64_t n, evm_balance_row **rows, int *nrows,
                    evm__mt_ws *ws, evm_ctx *c);

/* ---------------------------------------------------------------- rng */
static inline uint64_t evm__mt_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

#endif
