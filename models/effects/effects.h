/* effects.h — programme effects school by school, by cohort and by subgroup from one
 * fitted linear mixed model (`evalmix effects`).  Part of models/ (evaluation layer).
 * docs/methods.md ("Programme effects by school, cohort and subgroup") gives every
 * formula and the R function each output reproduces.
 *
 * From the user's model, e.g.
 *   score ~ prior + frl + treat*factor(cohort) + treat*black + (1 + treat|school)
 *           + (1|school:classroom)
 * with treatment variable `treat` (numeric 0/1, or a factor of two levels: the second is
 * the treated one):
 *  - contrasts: the treatment effect (treated − comparison) overall and in each level of
 *    the --by/--subgroup variables, and each later level minus the first, as emmeans 1.8
 *    computes them from the same model (reference grid: other factors averaged with equal
 *    weights, numeric covariates at their means), with Satterthwaite df (lmerTest), t, p,
 *    CI and p-values adjusted over the family (every row but the overall one);
 *  - schools: per level of the site factor (the grouping factor of the random treatment
 *    slope, or --site), the model-based effect x_s'β̂ + b̂_s with its prediction interval
 *    from the joint covariance of the mixed-model equations plus the variance θ̂ adds
 *    (Kackar-Harville, evm__lmm_predvar_theta), the no-pooling OLS estimate
 *    within the school with CR2 standard errors clustered by classroom (clubSandwich), the
 *    shrinkage factor τ²/(τ² + SE²), the privacy flag (fewer than min_cell students in an
 *    arm), and a heterogeneity summary (τ with its profile CI, share of schools with a
 *    positive effect, prediction intervals excluding 0);
 *  - effect sizes (effsizes.c): every contrast and school effect over the model's SD of
 *    the comparison condition, the comparison group's observed SD, the observed pooled SD
 *    with ω (Hedges' g as the WWC) and --sd-ref, with improvement indices; the ICCs of
 *    the random intercepts with profile intervals.
 * Every call takes an evm_ctx last; status 0 ok, negative error, positive warning. */
#ifndef EVM_EFFECTS_H
#define EVM_EFFECTS_H

#include "evalmix/evalmix.h"

typedef struct {
    const char *formula;
    evm_lmm_opts lmm;          /* REML/ML, weights, --ref settings */
    const char *treatment;     /* required */
    int nby;                   /* --by variables (implementation cohort, grade, ...) */
    const char *const *by;
    int nsubgroup;             /* --subgroup variables (black, frl, ...) */
    const char *const *subgroup;
    const char *site;          /* NULL: the grouping factor of the random treatment slope */
    const char *cluster;       /* CR2 clusters of the no-pooling SEs (NULL: the finest
                                  grouping factor nested in the sites, >= 5 rows a level) */
    int adjust;                /* evm_es_adjust (models/effsize): 0 none, 1 holm, 2 bh */
    int min_cell;              /* privacy: fewest students per arm shown (default 10) */
    double level;              /* confidence / prediction level (default 0.95) */
    evm_ddf ddf;               /* EVM_DDF_SATTERTHWAITE (default), EVM_DDF_KENWARD_ROGER,
                                  EVM_DDF_NONE (normal: emmeans' asymptotic df) */
    int sd_profile;            /* 1: profile CI of the SD of school effects (default) */
    double sd_ref;             /* reference SD for standardised effects (NaN: none) */
} evm_effects_opts;

void evm_effects_opts_default(evm_effects_opts *o);

/* The columns to read: the formula's, the weights, --site, --by and --subgroup (each
 * once; by/subgroup/site as EVM_AS_AUTO unless the formula already asks for them).
 * Free with evm_colreq_free. */
int evm_effects_columns(const evm_effects_opts *o, evm_colreq **req, int *nreq, evm_ctx *c);

/* Effect sizes: an effect divided by an SD (docs/methods.md, "Effect sizes of the
 * contrasts and schools"), one set per standardizer. */
enum {
    EVM_EFFECTS_ES_MODEL = 0,       /* √(σ² + Σ τ²) over the random-intercept variances:
                                       the model's SD in the comparison condition */
    EVM_EFFECTS_ES_COMPARISON = 1,  /* the observed SD of the comparison rows used
                                       (Glass's Δ, no small-sample correction) */
    EVM_EFFECTS_ES_G = 2,           /* Hedges' g as the WWC: ω × effect / the observed pooled
                                       SD of the rows used, ω = 1 − 3/(4N − 9) */
    EVM_EFFECTS_ES_REF = 3,         /* --sd-ref (NaN without it) */
    EVM_EFFECTS_NES = 4
};
extern const char *const evm_effects_es_name[EVM_EFFECTS_NES];  /* "model", "comparison",
                                                                   "g", "ref" */
typedef struct {
    double *es, *se;      /* [rows] effect / SD, SE / SD (× ω for g); the SD is taken as known */
    double *lower, *upper;/* the effect's interval, standardized the same way */
    double *ii;           /* WWC improvement index 100·Φ(es) − 50 */
} evm_effects_es;

typedef struct {
    /* the fit (as `evalmix fit` stores it, with Satterthwaite df for /fixef) */
    evm_result *fit;
    char *treatment, *treated_label, *comparison_label, *adjust, *ddf, *site;
    double level;
    int min_cell;
    double sd_ref;
    /* ---- contrasts: ncon rows ---- */
    int ncon;
    char **kind;          /* "overall", "level", "difference" */
    char **variable;      /* "" for the overall row */
    char **con_level;     /* level, or "2 - 1" for a difference; "" overall */
    char **label;         /* "overall", "cohort = 2", "cohort: 2 - 1" */
    int *in_model;        /* the variable interacts with the treatment in the model */
    double *estimate, *se, *df, *t, *p, *p_adj, *lower, *upper;
    int p_coef;
    char **coef;          /* [p_coef] fixed-effect names */
    double *L;            /* [ncon × p_coef] row-major contrast weights */
    /* ---- schools: nsite rows (all of them; `suppressed` marks the private ones) ---- */
    int64_t nsite;
    char *site_term;      /* the random term of the slope, e.g. "treat | school"; "" none */
    char *group_var;      /* the --by variable used for colours ("" none) */
    char *np_cluster;     /* grouping factor of the CR2 clusters ("" OLS SEs) */
    char **site_id, **site_group;
    int64_t *n_treated, *n_comparison, *np_nclusters;
    int *suppressed;
    double *fixed;        /* x_s'β̂ */
    double *mode;         /* b̂_s (conditional mode of the slope) */
    double *condsd;       /* its conditional SD (lme4's condVar) */
    double *est, *pred_se;   /* prediction SE at θ̂ (the mixed-model equations) */
    double *pred_se_adj;     /* with θ̂'s own uncertainty added (Kackar-Harville) */
    double *pred_lower, *pred_upper;   /* est ± z·pred_se_adj */
    double *np_est, *np_se, *np_df, *np_lower, *np_upper, *shrinkage;
    /* ---- heterogeneity ---- */
    double tau, tau_lower, tau_upper, pooled, share_positive;
    int64_t n_pi_above, n_pi_below, n_suppressed;
    /* ---- effect sizes (effsizes.c) ---- */
    double sd[EVM_EFFECTS_NES];   /* the standardizers; sd[G] is the pooled SD (NaN: none) */
    double omega;                 /* 1 − 3/(4N − 9), N = n_t + n_c */
    int64_t n_t, n_c;             /* rows used in each arm */
    double mean_t, mean_c, sd_t, sd_c;   /* observed outcome statistics of those rows */
    evm_effects_es con_es[EVM_EFFECTS_NES];    /* per contrast (ncon) */
    evm_effects_es site_es[EVM_EFFECTS_NES];   /* per school (nsite): the model-based
                                                  effect and its prediction interval */
    /* intra-class correlations of the random-intercept terms (lme4's term order) */
    double resid_var;             /* σ² */
    int nicc;
    char **icc_group;             /* grouping factor of the term */
    double *icc_var;              /* its intercept variance τ² */
    double *icc, *icc_lower, *icc_upper;
    char *icc_ci;                 /* "profile" (from τ's profile interval), or "none" */
} evm_effects;

/* Fit the model to the frame and compute everything above.  Errors: those of
 * evm_lmm_create/evm_lmm_fit, EVM_ERR_COLUMN (a --by/--subgroup/--site/--treatment
 * column), EVM_ERR_VALUE (a treatment that is not 0/1 or two levels), EVM_ERR_MODEL (no
 * treatment term in the fixed part).  Warnings as for fits (boundary, no convergence),
 * plus notes on the context. */
int evm_effects_run(const evm_frame *f, const evm_effects_opts *o, evm_effects **out,
                    evm_ctx *c);
void evm_effects_free(evm_effects **e);

/* report.c: the compact table on stdout (schools flagged for privacy left out); the
 * contrast, school, standardizer and variance-component tables as CSV, or Markdown when
 * the path ends in ".md" (flagged schools left out); the forest plot (models/plot); the
 * /effects sections of an HDF5 result file together with the fit.  Each file is written
 * atomically (a temporary name, then a rename). */
void evm_effects_print(FILE *out, const evm_effects *e);
int evm_effects_write_table(const char *path, const evm_effects *e, evm_ctx *c);
int evm_effects_plot(const char *path, const evm_effects *e, evm_ctx *c);
int evm_effects_write_h5(const char *path, const evm_effects *e, evm_ctx *c);
/* The /effects sections of a result file read back, with its fit (what `evalmix show`
 * prints).  *out is NULL, with status 0, for a file without /effects (a plain fit).
 * Errors: those of evm_h5_read_fit; EVM_ERR_HDF5 naming the missing or malformed object. */
int evm_effects_read_h5(const char *path, evm_effects **out, evm_ctx *c);
/* All three outputs or none (each path may be NULL): every one is written to
 * "<path>.tmp.<pid>" in its own folder, and only when all were written are they renamed
 * over the user's paths; on an error the temporary files are removed and no path is
 * touched.  Errors: those of the writers (the message names the user's path),
 * EVM_ERR_ARG for one path given for two outputs. */
int evm_effects_write_outputs(const char *h5, const char *table, const char *plot,
                              const evm_effects *e, evm_ctx *c);

#endif
