/* evalmix.h — the public interface of libevalmix, the numerics core of evalmix.
 *
 * Conventions (see docs/architecture.md):
 *  - Every engine call takes an evm_ctx last.  It carries the thread count, the last
 *    status and a one-line message naming the file/line/column or formula term at fault.
 *  - Status: 0 ok, negative error, positive warning (evm_status).  The library never
 *    exits or aborts on user input.
 *  - Opaque handles are created with *_create / *_read and released with *_destroy(T **),
 *    which accepts NULL and sets the pointer to NULL.
 *  - Arrays are column-major unless stated; sizes are int64_t.
 */
#ifndef EVALMIX_H
#define EVALMIX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EVM_VERSION "0.1.0"

/* ---------------------------------------------------------------- status */
typedef enum {
    EVM_OK = 0,
    /* warnings: the result exists and is flagged */
    EVM_WARN_BOUNDARY = 1,  /* singular (boundary) fit */
    EVM_WARN_NOCONV = 2,    /* optimiser stopped before convergence */
    /* errors: nothing was produced */
    EVM_ERR_NOMEM = -1,
    EVM_ERR_IO = -2,        /* cannot open/read/write a file */
    EVM_ERR_CSV = -3,       /* malformed CSV (ragged row, bad quote, no header) */
    EVM_ERR_FORMULA = -4,   /* formula syntax */
    EVM_ERR_COLUMN = -5,    /* unknown column / variable */
    EVM_ERR_TYPE = -6,      /* column mixes numbers and text, wrong type for a use */
    EVM_ERR_VALUE = -7,     /* NaN/Inf, non-positive weight, bad value */
    EVM_ERR_MODEL = -8,     /* unidentifiable model: one-level factor, constant response,
                               fewer rows than parameters, no rows left */
    EVM_ERR_NUMERIC = -9,   /* numerical failure the fit cannot report as a result */
    EVM_ERR_ARG = -10,      /* invalid argument from the caller */
    EVM_ERR_HDF5 = -11      /* HDF5 library failure or not an evalmix result file */
} evm_status;

/* A short name for a status code ("ok", "out of memory", ...). */
const char *evm_status_str(int status);

/* ---------------------------------------------------------------- context */
typedef struct evm_ctx_s evm_ctx;

evm_ctx *evm_ctx_create(void);               /* NULL only when out of memory */
void evm_ctx_destroy(evm_ctx **c);
void evm_ctx_set_threads(evm_ctx *c, int threads);   /* <= 0: number of cores */
int evm_ctx_threads(const evm_ctx *c);
/* Last status and its one-line message, e.g.
 *   "data.csv:17:3: column 'score': value 'abc' is not a number".
 * For formula errors caret() is the byte offset inside message() under which a caret
 * belongs (the message ends with the formula text); -1 when there is none. */
int evm_ctx_status(const evm_ctx *c);
const char *evm_ctx_message(const evm_ctx *c);
int evm_ctx_caret(const evm_ctx *c);
/* Warnings accumulate (one line each) until cleared; fits add e.g. "boundary (singular)
 * fit: see help('isSingular')" or "fixed-effect model matrix is rank deficient so
 * dropping 1 column: x2". */
int evm_ctx_nwarnings(const evm_ctx *c);
const char *evm_ctx_warning(const evm_ctx *c, int i);
void evm_ctx_clear(evm_ctx *c);

/* ---------------------------------------------------------------- data frame */
/* A columnar table.  Numeric columns hold doubles with NaN for missing; factor columns
 * hold int32 codes 0..nlevels-1 with -1 for missing and level labels. */
typedef struct evm_frame_s evm_frame;

typedef enum { EVM_COL_NUMERIC = 0, EVM_COL_FACTOR = 1 } evm_coltype;

/* How the reader should type a requested column. */
typedef enum {
    EVM_AS_AUTO = 0,   /* numeric if every non-missing value is a number, factor if none
                          is; a mix is EVM_ERR_TYPE naming the first offending line/value */
    EVM_AS_FACTOR = 1  /* always a factor (grouping variables, factor(x)): levels ordered
                          numerically when every value is a number (labels as R prints the
                          numbers), otherwise in byte order (C locale) */
} evm_as;

typedef struct {
    const char *name;  /* column name in the header */
    evm_as as;
} evm_colreq;

/* Read the named columns of a CSV file with a header row.  Fields may be quoted ("..."
 * with "" for a quote); NA and empty fields are missing; CR LF line ends are accepted.
 * The same name may be requested twice with different `as` (two frame columns).
 * The SHA-256 of the whole file is computed while reading (evm_frame_sha256).
 * Errors: EVM_ERR_IO (missing file), EVM_ERR_CSV (ragged row, unterminated quote,
 * empty file), EVM_ERR_COLUMN (name not in header), EVM_ERR_TYPE (mixed column),
 * EVM_ERR_VALUE (NaN/Inf/overflow in a numeric column); the message names file:line:col
 * (col = 1-based field number). */
int evm_csv_read(const char *path, const evm_colreq *req, int nreq, evm_frame **out,
                 evm_ctx *c);
/* The header names of a CSV file (for --help style listings and checks). */
int evm_csv_header(const char *path, char ***names, int *n, evm_ctx *c);
void evm_strv_free(char ***v, int n);

/* In-memory construction (simulation, tests).  Data are copied. */
evm_frame *evm_frame_create(int64_t nrows, evm_ctx *c);
int evm_frame_add_numeric(evm_frame *f, const char *name, const double *x, evm_ctx *c);
int evm_frame_add_factor(evm_frame *f, const char *name, const int32_t *codes,
                         const char *const *levels, int32_t nlevels, evm_ctx *c);
void evm_frame_destroy(evm_frame **f);

int64_t evm_frame_nrows(const evm_frame *f);
int evm_frame_ncols(const evm_frame *f);
/* Index of the column `name` of type `type`; -1 if absent.  type < 0: any type, the
 * first match. */
int evm_frame_find(const evm_frame *f, const char *name, int type);
const char *evm_frame_name(const evm_frame *f, int col);
evm_coltype evm_frame_type(const evm_frame *f, int col);
const double *evm_frame_numeric(const evm_frame *f, int col);   /* NULL if factor */
const int32_t *evm_frame_codes(const evm_frame *f, int col);    /* NULL if numeric */
int32_t evm_frame_nlevels(const evm_frame *f, int col);
const char *evm_frame_level(const evm_frame *f, int col, int32_t k);
/* Make `level` the first (reference) level of a factor column. EVM_ERR_VALUE if absent. */
int evm_frame_relevel(evm_frame *f, int col, const char *level, evm_ctx *c);
/* Provenance of a frame read from a file ("" / 0 for in-memory frames). */
const char *evm_frame_path(const evm_frame *f);
const char *evm_frame_sha256(const evm_frame *f);     /* 64 lowercase hex digits */
int64_t evm_frame_rows_read(const evm_frame *f);

/* ---------------------------------------------------------------- linear mixed model */
typedef struct evm_lmm_s evm_lmm;

typedef struct {
    int reml;               /* 1 REML (default), 0 ML */
    const char *weights;    /* prior-weight column, or NULL */
    int nref;               /* --ref VAR=LEVEL settings */
    const char *const *ref_var;
    const char *const *ref_level;
    int max_eval;           /* optimiser evaluation limit; <= 0: default */
    double ftol_rel;        /* <= 0: default 1e-13 */
    double xtol_abs;        /* <= 0: default (1e-10) */
    const char *cluster;    /* extra factor column kept for cluster-robust SEs, or NULL */
} evm_lmm_opts;

void evm_lmm_opts_default(evm_lmm_opts *o);

/* The columns a formula needs, as reader requests (so a caller can read only those).
 * Errors: EVM_ERR_FORMULA with a caret. The array is freed with evm_colreq_free. */
int evm_formula_columns(const char *formula, const evm_lmm_opts *o, evm_colreq **req,
                        int *nreq, evm_ctx *c);
void evm_colreq_free(evm_colreq **req, int nreq);

/* Build a model: parse the formula, make the model frame (dropping rows with missing
 * values in any variable used), the fixed-effects matrix (aliased columns dropped with a
 * warning), the random-effects terms and the cross-product blocks.  `f` is not kept.
 * Errors: EVM_ERR_FORMULA, EVM_ERR_COLUMN, EVM_ERR_TYPE, EVM_ERR_MODEL, EVM_ERR_VALUE. */
int evm_lmm_create(const char *formula, const evm_frame *f, const evm_lmm_opts *o,
                   evm_lmm **out, evm_ctx *c);
void evm_lmm_destroy(evm_lmm **m);

int evm_lmm_ntheta(const evm_lmm *m);
/* Objective at theta (REML criterion or deviance, by opts.reml), as lme4's devfun. */
double evm_lmm_objective(evm_lmm *m, const double *theta, evm_ctx *c);
/* Optimise and compute everything post-fit.  Returns 0, a warning (boundary fit,
 * no convergence: the fit is still complete) or an error. */
int evm_lmm_fit(evm_lmm *m, evm_ctx *c);

/* ---------------------------------------------------------------- fit results */
typedef struct {
    char *name;         /* grouping factor as lme4 names it: "Subject", "cask:batch" */
    int64_t nlevels;
    int nterms;
    char **level;       /* [nlevels] */
    char **term;        /* [nterms] "(Intercept)", "Days" */
    double *mode;       /* [nlevels x nterms], row-major (level slowest): conditional modes */
    double *condsd;     /* [nlevels x nterms], row-major: conditional SDs */
} evm_ranef;

/* Everything a fit reports; what the HDF5 file stores and `evalmix show` prints.
 * Created by evm_lmm_result / evm_h5_read_fit, freed by evm_result_free. */
typedef struct {
    /* provenance (root attributes of the HDF5 file) */
    char *evalmix_version, *command, *created, *input, *input_sha256;
    int threads;
    uint64_t seed;             /* the seed of the run's random numbers; 0: none drawn */
    /* /fit */
    char *formula;
    int reml;
    double objective, loglik, aic, bic, sigma;
    int64_t n_obs;
    int converged, singular, n_evaluations;
    char *optimizer, *message;
    double resid_quantiles[5];  /* min, Q1, median, Q3, max of the scaled (Pearson)
                                   residuals, as lme4's summary prints them */
    int ntheta;
    double *theta;
    /* /fixef */
    int p;
    char **fixef_name;
    double *beta, *se, *df, *t, *pval;   /* t = beta/se; df, pval: NaN when ddf is "none" */
    double *vcov;                        /* p x p */
    char *ddf;                           /* "none" until inference is requested */
    int ndropped;
    char **dropped;                      /* aliased columns that were dropped */
    /* /varcomp: rows of R's as.data.frame(VarCorr(m)); "" where R has NA */
    int nvc;
    char **vc_group, **vc_var1, **vc_var2;
    double *vc_vcov, *vc_sdcor;
    /* /ranef */
    int nranef;
    evm_ranef *ranef;
    /* number of levels per grouping factor, in lme4's summary order */
    int ngroups;
    char **group_name;
    int64_t *group_nlevels;
    /* intra-class correlations (intercept-only models; ngroups entries, else 0) */
    int nicc;
    char **icc_group;
    double *icc;
    /* /data */
    int64_t rows_read, rows_used, rows_dropped;
    char *drop_reason;

    /* ---- inference (present when requested; counts 0 / pointers NULL otherwise) ---- */
    double *vcov_adj;          /* /fixef/vcov_adj: Kenward-Roger adjusted Var(β), p × p */
    /* /contrasts: --contrast NAME=EXPR, one row each */
    int ncontrasts;
    char **con_name, **con_expr;
    double *con_L;             /* [ncontrasts × p] row-major weights on the coefficients */
    double *con_est, *con_se, *con_df, *con_t, *con_p;
    /* /anova: F test of every fixed-effect term (lmerTest's anova(type = 3)) */
    int has_anova;             /* the tests were run (nanova is 0 for an intercept-only model) */
    int nanova;
    char **anova_term;
    double *anova_F, *anova_ndf, *anova_ddf, *anova_p;
    /* /ci: confidence intervals in lme4's confint() order and names
       (".sig01", ..., ".sigma", then the fixed effects) */
    int nci;
    char *ci_method;           /* "profile", "wald" or "boot" */
    double ci_level;
    char **ci_param;
    double *ci_lower, *ci_upper;
    /* /bootstrap: parametric bootstrap replicates */
    int64_t nboot, nboot_ok;
    uint64_t boot_seed;
    int nbootpar;
    char **boot_param;         /* as ci_param */
    double *boot_est;          /* [nboot × nbootpar] row-major; NaN rows for failed refits */
    double *boot_lower, *boot_upper;   /* percentile interval at ci_level */
    /* /robust: cluster-robust (CR2) standard errors of the fixed effects */
    char *robust_cluster;
    int64_t robust_nclusters;
    double *robust_se, *robust_df, *robust_t, *robust_p;
    double *robust_vcov;       /* p × p */
} evm_result;

/* A fresh copy of a fitted model's results (provenance fields left empty). */
int evm_lmm_result(const evm_lmm *m, evm_result **out, evm_ctx *c);
void evm_result_free(evm_result **r);
/* Print the lme4-like summary (as `evalmix fit` and `evalmix show` do). */
void evm_result_print(FILE *out, const evm_result *r);

/* ---------------------------------------------------------------- inference */
/* Denominator degrees of freedom for t and F tests of fixed effects. */
typedef enum {
    EVM_DDF_NONE = 0,          /* no df, t only (lme4) */
    EVM_DDF_SATTERTHWAITE = 1, /* as lmerTest (the default of `fit`) */
    EVM_DDF_KENWARD_ROGER = 2, /* as pbkrtest: adjusted Var(β) and df */
    EVM_DDF_RESIDUAL = 3       /* n - p */
} evm_ddf;

/* "satterthwaite", "kenward-roger", "residual", "none" (any case); EVM_ERR_ARG otherwise,
 * leaving *out alone. */
int evm_ddf_parse(const char *s, evm_ddf *out, evm_ctx *c);
/* The name results and summaries show: "Satterthwaite", "Kenward-Roger", "residual",
 * "none" ("unknown" for a value outside the enum). */
const char *evm_ddf_name(evm_ddf d);

/* What to infer after a fit (evm_lmm_infer). */
typedef struct {
    evm_ddf ddf;
    int ncontrasts;            /* --contrast NAME=EXPR */
    const char *const *contrast_name;
    const char *const *contrast_expr;
    int anova;                 /* F tests per term */
    const char *ci;            /* NULL, "wald", "profile" or "boot" */
    double level;              /* confidence level, default 0.95 */
    int64_t nboot;             /* --bootstrap N (0: none) */
    uint64_t seed;
    const char *robust;        /* cluster variable for CR2 SEs, or NULL */
    void (*progress)(void *arg, int64_t done, int64_t total);   /* may be NULL */
    void *progress_arg;
} evm_infer_opts;

void evm_infer_opts_default(evm_infer_opts *o);

/* Fill the inference parts of r (df, t, p of /fixef, contrasts, anova, intervals,
 * bootstrap, robust SEs) for the fitted model m.  The robust cluster variable must have
 * been named in evm_lmm_opts.cluster when the model was created.
 * Errors: EVM_ERR_ARG (bad contrast expression: message names the position, caret set),
 * EVM_ERR_NUMERIC; warnings as for fits (e.g. failed bootstrap refits). */
int evm_lmm_infer(evm_lmm *m, const evm_infer_opts *o, evm_result *r, evm_ctx *c);

/* Weights of a linear contrast of coefficients, e.g. "0.5*treat:year1 + 0.5*treat:year2"
 * or "treat + treat:year2", over the p coefficient names (grammar: docs/contrasts.md;
 * a name given twice adds its weights).  Errors: EVM_ERR_ARG with the one-line message
 * "--contrast: <what>: <expr>" and the caret under the offending position ("unknown
 * coefficient 'x' (did you mean 'y'?)", "expected a term after '+'", "empty
 * expression", "the weights cancel to zero", ...); weights are untouched on error. */
int evm_contrast_parse(const char *expr, char *const *names, int p, double *weights,
                       evm_ctx *c);

/* Distribution functions, as R's (lower_tail = 1: P[X <= x]; NaN for NaN or invalid
 * parameters; df = Inf allowed).  Relative accuracy ~1e-13 or better for df from 0.5 to
 * 1e7 and probabilities down to 1e-300 (tests/reference/test_dist.c). */
double evm_pnorm(double x, int lower_tail);
double evm_qnorm(double p, int lower_tail);
double evm_pt(double t, double df, int lower_tail);
double evm_qt(double p, double df, int lower_tail);
double evm_pf(double f, double df1, double df2, int lower_tail);
double evm_pchisq(double x, double df, int lower_tail);
double evm_qchisq(double p, double df, int lower_tail);

/* ---------------------------------------------------------------- model comparison */
/* A likelihood-ratio table of fitted models, as lme4's anova(m1, m2, ...) prints it:
 * rows sorted by npar = p + ntheta + 1 (ties in the given order); each row after the first
 * is tested against the row before: chisq = 2·max(0, Δ logLik), df = Δ npar,
 * p = P[χ²_df >= chisq] (NaN when df = 0, and in row 0).  deviance = −2 logLik: for REML
 * fits the REML criterion (they are compared as fitted, not refitted by ML).  p_mixture:
 * where a row adds only random-effect parameters to the row before (same fixed effects,
 * more θ), the p-value of the 50:50 mixture of χ²_df and χ²_{df−1} (null value on the
 * boundary; χ²_0 is the point mass at 0); NaN elsewhere. */
typedef struct {
    int n;                     /* rows (models) */
    int reml;                  /* 1: REML fits, REML criteria compared; 0: ML */
    int64_t n_obs;             /* observations (the same in every fit) */
    char *input, *input_sha256;   /* the data of the first row's fit */
    char **model;              /* [n] row labels */
    char **file;               /* [n] result file of each row ("" if not given) */
    char **formula;            /* [n] */
    int *order;                /* [n] index of each row's model in the caller's arrays */
    int64_t *npar;
    double *aic, *bic, *loglik, *deviance, *chisq, *df, *p, *p_mixture;
} evm_comparison;

/* Compare n >= 2 fits; labels[i] names fit i in the table, files[i] (or files = NULL)
 * where it came from, and messages name files (else labels).  Errors (EVM_ERR_MODEL,
 * naming both models):
 * fits to different data (input_sha256 or n_obs differ), different responses, REML and ML
 * mixed, REML fits with different fixed effects. */
int evm_compare_fits(const evm_result *const *fits, const char *const *labels,
                     const char *const *files, int n, evm_comparison **out, evm_ctx *c);
void evm_comparison_free(evm_comparison **t);
/* Print the table as lme4's anova() prints it (print.anova: heading, the table, the
 * "Signif. codes" legend when some p < 0.1), then notes: that REML criteria were compared,
 * and each boundary mixture p-value. */
void evm_comparison_print(FILE *out, const evm_comparison *t);
/* Write the table to `path` atomically (layout: docs/hdf5.md, "Model comparisons");
 * `command` is recorded as the root attribute command (NULL: "").
 * Errors: EVM_ERR_IO, EVM_ERR_HDF5; no file is left behind on error. */
int evm_h5_write_compare(const char *path, const evm_comparison *t, const char *command,
                         evm_ctx *c);

/* ---------------------------------------------------------------- HDF5 result files */
/* Write one fit to `path` atomically (a temporary name in the same folder, then rename).
 * Errors: EVM_ERR_IO, EVM_ERR_HDF5; no file is left behind on error. */
int evm_h5_write_fit(const char *path, const evm_result *r, evm_ctx *c);
/* Read a result file written by evm_h5_write_fit. */
int evm_h5_read_fit(const char *path, evm_result **out, evm_ctx *c);

#ifdef __cplusplus
}
#endif
#endif
