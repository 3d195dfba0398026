/* effects_internal.h — the pieces of models/effects: the variables of the fixed part for
 * the rows the model used (grid.c), the emmeans-style reference grid and contrasts
 * (contrasts.c), school effects (schools.c) and the no-pooling OLS with CR2 (nopool.c). */
#ifndef EVM_EFFECTS_INTERNAL_H
#define EVM_EFFECTS_INTERNAL_H

#include "effects/effects.h"
#include "formula/formula_internal.h"
#include "lmm/lmm_internal.h"

/* The variables of the fixed part (mf->fx order) with their values for the rows used. */
typedef struct {
    evm__formula *F;
    evm__prep P;              /* the same rows as the model frame */
    int nv;
    const char **name;        /* [nv] column names */
    const evm__mvar **mv;     /* [nv] values of the rows used */
    double *mean;             /* [nv] numeric: mean over the rows used */
} evx_vars;

int evx_vars_build(const char *formula, const evm_frame *f, const evm_lmm_opts *o,
                   const evm__modelframe *mf, evx_vars *V, evm_ctx *c);
void evx_vars_free(evx_vars *V);

/* A point of the reference grid: per variable a numeric value, or a factor level (-1:
 * averaged with equal weights). */
typedef struct {
    double *num;              /* [nv] */
    int32_t *lev;             /* [nv] */
} evx_point;

int evx_point_init(const evx_vars *V, evx_point *g);   /* means, averaged factors */
void evx_point_free(evx_point *g);
/* Set every variable named `name` to a level given as label (factors) / number. */
void evx_point_set(const evx_vars *V, evx_point *g, const char *name, const char *label,
                   double num);
/* The row of the kept columns of X at the point (full columns mapped as lme4 drops
 * aliased ones); returns 0, or 1 when the function is not estimable. */
int evx_point_row(const evm__modelframe *mf, const evx_vars *V, const evx_point *g, double *row);

/* Levels of a variable among the rows used: labels and numbers (NaN for text). */
typedef struct {
    int n;
    char **label;
    double *num;
    int32_t *code;            /* [rows used] level of each row (-1 missing) */
    int in_fixed;             /* the variable is in the fixed part */
} evx_levels;

int evx_levels_of(const evx_vars *V, const evm_frame *f, const char *name, int64_t nrows_used,
                  evx_levels *L, evm_ctx *c);
void evx_levels_free(evx_levels *L);

/* The treatment: its contrast (row 1 − row 0) at a grid point. */
typedef struct {
    const char *name;
    char *treated, *comparison;   /* labels */
    double num1, num0;
    int32_t *arm;                 /* [rows used] 1 treated, 0 comparison */
} evx_treat;

int evx_treat_build(const evx_vars *V, const char *name, int64_t n, evx_treat *T, evm_ctx *c);
void evx_treat_free(evx_treat *T);
/* L = row(treated) − row(comparison) at g (g's treatment entries are overwritten);
 * returns 1 when not estimable. */
int evx_treat_contrast(const evm__modelframe *mf, const evx_vars *V, const evx_treat *T,
                       evx_point *g, double *L, double *work);

/* The profile intervals of every parameter in confint's order (evm__profile_ci), computed
 * once when opts.sd_profile (npar 0 otherwise): the SD of the school effects and the ICCs
 * read theirs from it. */
typedef struct {
    int npar;
    char **names;
    double *lower, *upper;
} evx_profile;

/* The position in evx_profile of the SD of column `col` of term k (lme4's .sigNN). */
int evx_profile_sd_pos(const evm_lmm *m, int k, int col);

/* contrasts.c */
int evx_contrasts(evm_lmm *m, const evx_vars *V, const evm_frame *f, const evx_treat *T,
                  const evm_effects_opts *o, evm_effects *e, evm_ctx *c);
/* se and df of k contrasts (rows of L, k × p row-major) by the chosen method */
int evx_inference(evm_lmm *m, const evm_effects_opts *o, const double *L, int k, double *est,
                  double *se, double *df, evm_ctx *c);

/* schools.c */
int evx_schools(evm_lmm *m, const evx_vars *V, const evm_frame *f, const evx_treat *T,
                const evm_effects_opts *o, const evx_profile *P, evm_effects *e, evm_ctx *c);

/* effsizes.c: the standardizers, the effect sizes of the contrasts and of the schools'
 * model-based effects, and the ICCs of the random-intercept terms (after evx_contrasts and
 * evx_schools). */
int evx_effect_sizes(const evm_lmm *m, const evx_treat *T, const evm_effects_opts *o,
                     const evx_profile *P, evm_effects *e, evm_ctx *c);
void evx_effect_sizes_free(evm_effects *e);

/* nopool.c: OLS of y on the columns of X within the rows `rows` (n), aliased columns
 * dropped (R's lm), the contrast l (p weights; dropped columns get weight 0, as
 * predict.lm), with CR2 standard errors clustered by `cluster` codes (NULL or fewer than 2
 * clusters: the OLS SE with n − rank df), as clubSandwich's vcovCR(lm, type = "CR2") and
 * linear_contrast(test = "Satterthwaite"). */
int evx_nopool(const double *X, int64_t ldx, int p, const double *y, const int64_t *rows,
               int64_t n, const int32_t *cluster, const double *l, double *est, double *se,
               double *df, int64_t *nclusters, evm_ctx *c);

char *evx_fmt_num(double x);   /* R-like label of a number: "1", "2.5" */

#endif
