/* match.h — matched comparison samples (`evalmix match`): propensity-score, logit and
 * Mahalanobis distances, nearest-neighbour matching as R's MatchIt, "virtual comparison
 * groups", coarsened exact matching, ATT weights, and balance before and after matching
 * with the What Works Clearinghouse baseline-equivalence verdict.  Part of models/
 * (evaluation layer); methods and formulas in docs/matching.md.
 *
 * Errors are reported as the engine's: a negative evm_status with a one-line message on
 * the context; warnings (unmatched treated students, separation in the propensity model)
 * are lines on the context and a positive return value. */
#ifndef EVM_MATCH_H
#define EVM_MATCH_H

#include "evalmix/evalmix.h"

typedef enum {
    EVM_MATCH_NEAREST = 0, /* k:1 nearest neighbour, MatchIt's method = "nearest" */
    EVM_MATCH_VCG = 1,     /* virtual comparison group: k nearest with replacement, in a
                              baseline window */
    EVM_MATCH_CEM = 2      /* coarsened exact matching, MatchIt's method = "cem" */
} evm_match_method;

typedef enum {
    EVM_DIST_PS = 0,          /* propensity score from a logistic regression */
    EVM_DIST_LOGIT = 1,       /* its linear predictor (MatchIt's link = "linear.logit") */
    EVM_DIST_MAHALANOBIS = 2  /* Mahalanobis distance on the covariates */
} evm_match_distance;

/* Warning statuses of evm_match_run (the result is complete). */
enum {
    EVM_MATCH_WARN = 3 /* unmatched treated, fewer than k matches, separation, ... */
};

typedef struct {
    const char *treatment;          /* numeric 0/1 column */
    int ncov;
    const char *const *covariates;  /* numeric or categorical columns */
    int nexact;
    const char *const *exact;       /* match only within cells of these columns */
    evm_match_method method;
    evm_match_distance distance;
    int ratio;                      /* k (comparisons per treated); <= 0: 1, or 51 for vcg */
    int replace;                    /* nearest: with replacement (vcg always is) */
    double caliper;                 /* in SDs of the distance over the whole sample; <= 0:
                                       none.  Not with Mahalanobis or cem. */
    int nwindow;                    /* vcg: |x_c - x_t| <= width for each window */
    const char *const *window_var;
    const double *window_width;
    int ncut;                       /* cem: equal-width bins per variable (0: exact,
                                       1: not used); others: Sturges' rule */
    const char *const *cut_var;
    const int *cut_bins;
    const char *id;                 /* student id column (reports), or NULL: row numbers */
    const char *site;               /* the treated student's school, or NULL */
    uint64_t seed;                  /* 0: ties broken by row order (as MatchIt); else a
                                       random order drawn from the seed */
} evm_match_opts;

void evm_match_opts_default(evm_match_opts *o);

/* The columns a match needs, as reader requests (treatment, covariates, exact, window and
 * cutpoint variables, id, site; each once).  Freed with evm_colreq_free. */
int evm_match_columns(const evm_match_opts *o, evm_colreq **req, int *nreq, evm_ctx *c);

/* Check the options against the header of `path` before any row is read: every column
 * named exists ("FILE:1: --covariates: no column 'x' in the header (columns: ...)"),
 * and the output columns distance, weights, subclass, site are not already there.
 * Errors: EVM_ERR_COLUMN, EVM_ERR_IO, EVM_ERR_CSV. */
int evm_match_check_header(const char *path, const evm_match_opts *o, evm_ctx *c);

/* One row of the balance table (a covariate, a level of a categorical covariate, or the
 * distance).  Statistics as MatchIt's summary(): means, standardized mean difference
 * (difference / SD of the treated group in the full sample), variance ratio (NaN for
 * binary), eCDF mean and max; "after" with the matching weights.  WWC effect size:
 * Hedges' g (continuous) or the Cox index (binary), before and after. */
typedef struct {
    char *name;
    int kind;                  /* 0 distance, 1 continuous, 2 binary */
    double mean_t[2], mean_c[2], smd[2], var_ratio[2], ecdf_mean[2], ecdf_max[2];
    double wwc[2];             /* NaN for the distance */
    int verdict;               /* after matching: 0 satisfied (|es| <= 0.05), 1 needs
                                  statistical adjustment (<= 0.25), 2 not satisfied,
                                  -1 none (distance) */
} evm_balance_row;

/* Everything a match produces.  Row numbers are 0-based rows of the input frame. */
typedef struct {
    int64_t n, n1, n0;            /* rows, treated, comparison */
    int has_distance;
    double *distance;             /* [n] ps or logit; NULL for Mahalanobis and cem */
    double caliper_width;         /* caliper in distance units; NaN when none */
    /* unit level, as match.data(): weights (0: not matched) and the matched set
     * (0-based; -1: none; with replacement a comparison row may be in several sets, see
     * the pairs) */
    double *weight;               /* [n] */
    int64_t *subclass;            /* [n] */
    int64_t nsets;
    int64_t *set_treated;         /* [nsets] the treated row of each set (nearest, vcg);
                                     for cem the row whose site the set carries, or -1 */
    /* output rows: as match.data() without replacement (each matched row once, in data
     * order), as get_matches() with replacement (one row per set and student, sets in
     * order, the treated row first; weights 1 and 1/k) */
    int64_t nout;
    int64_t *out_row, *out_set;
    double *out_weight;
    int64_t *out_site_row;        /* row whose --site value the output row carries: the
                                     set's treated student (own row for treated cem rows),
                                     -1 when the students of a cem stratum differ */
    /* sample sizes */
    int64_t n1_matched, n0_matched, n1_unmatched, n1_short;  /* short: < k matches */
    double ess0;                  /* effective comparison sample size (sum w)^2/sum w^2 */
    int64_t *unmatched_row;       /* [n1_unmatched] treated rows without a match */
    int64_t ncells;               /* exact cells (nearest, vcg) or strata (cem) */
    /* propensity model (ps and logit distances) */
    int nterm;
    char **term;                  /* R's coefficient names: "(Intercept)", "racehispan" */
    double *coef;
    int iterations, converged, separation;
    double deviance;
    /* balance */
    int nbal;
    evm_balance_row *bal;
    /* copies of the settings, for reports */
    evm_match_method method;
    evm_match_distance distance_kind;
    int ratio, replace;
    double caliper;
    uint64_t seed;
} evm_match_result;

/* Match: fit the distance, form the matched sets, compute weights and balance.
 * Errors: EVM_ERR_COLUMN (a column the options name is not in f), EVM_ERR_TYPE (a
 * categorical treatment or window variable), EVM_ERR_VALUE (treatment not 0/1, missing
 * values, a constant covariate, no treated or no comparison rows, nobody matched),
 * EVM_ERR_MODEL (collinear covariates), EVM_ERR_ARG (bad options).
 * Returns 0, EVM_MATCH_WARN (with warning lines on the context) or an error. */
int evm_match_run(const evm_frame *f, const evm_match_opts *o, evm_match_result **out,
                  evm_ctx *c);
void evm_match_result_free(evm_match_result **r);

/* The WWC verdict as a word: "satisfied", "adjust", "not satisfied" (or ""). */
const char *evm_match_verdict_str(int verdict);

/* Print the summary: settings, sample sizes, balance before and after, WWC verdicts. */
void evm_match_print(FILE *out, const evm_match_result *r, const evm_match_opts *o);

/* Write the matched sample as CSV to `out_path` atomically: each output row is the input
 * record of `in_path` exactly as written, plus the fields distance, weights, subclass
 * (1-based set number) and site (the set's treated student's `site` field, or NA).
 * Errors: EVM_ERR_IO. */
int evm_match_write_csv(const char *in_path, const char *out_path, const evm_match_result *r,
                        const char *site, evm_ctx *c);

/* Provenance written as root attributes of the report. */
typedef struct {
    const char *command, *created, *input, *input_sha256;
    int threads;
} evm_match_provenance;

/* Write the HDF5 report (/match, /balance; layout in docs/hdf5.md) atomically.
 * `id` labels the unmatched rows (NULL: row numbers).  Errors: EVM_ERR_IO, EVM_ERR_HDF5. */
int evm_match_write_h5(const char *path, const evm_match_result *r, const evm_match_opts *o,
                       const evm_frame *f, const evm_match_provenance *p, evm_ctx *c);

/* Draw the Love plot (WWC effect sizes before and after, thresholds 0.05 and 0.25). */
int evm_match_plot(const char *path, const evm_match_result *r, evm_ctx *c);

#endif
