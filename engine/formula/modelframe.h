/* modelframe.h — from an lme4 formula and a data frame to the numbers a mixed model
 * needs: y, X (with lme4's column names), prior weights and the random-effects terms.
 * Internal to libevalmix. */
#ifndef EVM_MODELFRAME_H
#define EVM_MODELFRAME_H

#include "evalmix/evalmix.h"

/* One random-effects term, e.g. (1 + Days | Subject) or the two terms of (x || g).
 * The term's model matrix has q columns (as model.matrix(~ 1 + Days) would give). */
typedef struct {
    char *group;          /* grouping factor's name as lme4 prints it: "Subject",
                             "cask:batch" (from (1|batch/cask)), "a:b" (from (1|a:b)) */
    int64_t nlevels;      /* levels that occur in the rows used (unused levels dropped) */
    char **levels;        /* [nlevels] labels; for a:b interactions "a1:b1" */
    int32_t *codes;       /* [n] level of each used row, 0..nlevels-1 */
    int q;                /* columns of the term's model matrix */
    char **colnames;      /* [q] "(Intercept)", "Days", "treat", "fB" ... */
    double *Z;            /* [n x q] column-major; for q == 1 an intercept column is all 1 */
    int z_shared;         /* Z is not the term's own: an intercept-only term's column of
                             ones is X's intercept column or the frame's `ones` */
    int pos;              /* byte offset of the term in the formula text (for messages) */
} evm__reterm;

/* The fixed part as R's terms() sees it, and the origin of every column of the full
 * fixed-effects matrix (before aliased columns are dropped).  Added for the type-3
 * hypotheses of engine/infer/anova.c (lmerTest's anova). */
typedef struct {
    int intercept;        /* the fixed part has an intercept */
    int nvars;            /* variables of the fixed part, in R's order */
    int32_t *nlev;        /* [nvars] levels of a factor (used levels); 0 for a number */
    int nterms;
    char **label;         /* [nterms] R's term labels: "SES", "Sector", "SES:Sector",
                             "factor(cohort)" */
    uint64_t *vars;       /* [nterms] the term's variables (bit v: variable v) */
    int ncol;             /* columns of the full matrix: p + ndropped */
    int *term;            /* [ncol] term of each column; -1 for the intercept */
    int32_t *level;       /* [ncol * nvars] level (0-based) of factor v in column j; -1
                             where v is a number or not in the column's term */
    int *xcol;            /* [ncol] index of the column in X; -1 when dropped */
    double *alias;        /* [ncol * p] row j: coefficients of dropped column j on X's
                             columns (R's alias()); NULL when nothing was dropped */
} evm__fixterms;

typedef struct {
    char *formula;        /* the formula text as given */
    char *response;       /* name of the response variable */
    int64_t n;            /* rows used */
    int64_t rows_read;    /* rows in the frame */
    char *drop_reason;    /* e.g. "missing values in: prior, score" ("" if none dropped) */
    double *y;            /* [n] */
    double *w;            /* [n] prior weights, or NULL for unit weights */
    int p;                /* fixed-effect columns after dropping aliased ones */
    char **xnames;        /* [p] lme4 names: "(Intercept)", "SES", "SectorPublic",
                             "SES:SectorPublic", "factor(cohort)2" */
    double *X;            /* [n x p] column-major */
    int ndropped;         /* aliased columns dropped (as R's pivoted QR, tol 1e-7) */
    char **dropped;
    evm__fixterms fx;     /* term structure of X (for type-3 hypotheses) */
    char *cluster;        /* evm_lmm_opts.cluster: a factor kept for cluster-robust
                             standard errors (NULL if none) */
    int64_t ncluster;     /* its levels among the rows used */
    int32_t *cluster_codes;   /* [n] 0..ncluster-1 */
    char **cluster_levels;    /* [ncluster] */
    double *ones;         /* [n] all 1: the Z of intercept-only terms when X has no
                             intercept column (NULL otherwise) */
    int nre;              /* random-effects terms in lme4's findbars order: (1|a/b)
                             gives (1|b:a) then (1|a); (x||g) gives (1|g) then (0+x|g) */
    evm__reterm *re;
} evm__modelframe;

/* Parse `formula`, check it against the frame and build the model frame.
 * Rows with a missing value in any variable used (response, fixed, random, grouping,
 * weights) are dropped.  opts supplies the weights column name and --ref settings.
 * Errors (message on the context, caret into the formula for formula/column errors):
 *   EVM_ERR_FORMULA  syntax ("expected ')'", "random term needs '|'", ...)
 *   EVM_ERR_COLUMN   a variable that is not a frame column
 *   EVM_ERR_TYPE     a factor response, a factor used where a number is needed (weights)
 *   EVM_ERR_VALUE    non-positive or missing weights, --ref level that does not exist
 *   EVM_ERR_MODEL    no rows left; grouping factor with fewer than 2 levels; constant
 *                    response; fewer rows than fixed-effect columns */
int evm__modelframe_build(const char *formula, const evm_frame *f, const evm_lmm_opts *o,
                          evm__modelframe **out, evm_ctx *c);
void evm__modelframe_free(evm__modelframe **mf);

/* The columns the formula reads, typed for evm_csv_read: grouping variables and
 * factor(x) as EVM_AS_FACTOR, everything else EVM_AS_AUTO (weights too). */
int evm__formula_columns(const char *formula, const evm_lmm_opts *o, evm_colreq **req,
                         int *nreq, evm_ctx *c);

#endif
