/* effsize.h — effect sizes and What Works Clearinghouse (WWC) conventions, for the
 * evaluation models and the `evalmix wwc` subcommand.  Part of models/ (evaluation layer);
 * every formula, its source and which small-sample correction each output uses are in
 * docs/methods.md, "Effect sizes and WWC conventions".
 *
 * Conventions: functions that can fail take an evm_ctx last (NULL allowed), return 0 or a
 * negative evm_status (EVM_ERR_ARG for a caller's mistake such as a NULL pointer,
 * EVM_ERR_VALUE for a value outside the formula's domain) with a one-line message on the
 * context, and leave *out filled with NaN on error.  "T" is the treatment (intervention)
 * group, "C" the comparison group; differences are T − C.  Sample sizes are int64_t. */
#ifndef EVM_EFFSIZE_H
#define EVM_EFFSIZE_H

#include "evalmix/evalmix.h"

/* The WWC's default intra-class correlations for the clustering correction when a study
 * reports none: achievement outcomes, and all other outcomes. */
#define EVM_ES_ICC_ACHIEVEMENT 0.20
#define EVM_ES_ICC_OTHER 0.10
/* Cox's logit-to-SD scale factor (the logistic SD π/√3 ≈ 1.81 rounded by Cox to 1.65). */
#define EVM_ES_COX_SCALE 1.65

/* ---------------------------------------------------------------- small-sample factors */
/* The WWC's correction ω = 1 − 3/(4N − 9), N = n_T + n_C (NaN if 4N − 9 <= 0). */
double evm_es_omega(int64_t n_total);
/* The exact correction J(m) = Γ(m/2) / (√(m/2) Γ((m−1)/2)) with m = n_T + n_C − 2 degrees
 * of freedom (metafor's .cmicalc; NaN for m <= 1).  ω is its approximation 1 − 3/(4m − 1). */
double evm_es_J(double m);

/* ---------------------------------------------------------------- continuous outcomes */
typedef struct {
    int64_t n_total;    /* N = n_T + n_C */
    double diff;        /* mean_T − mean_C */
    double sd_pooled;   /* √{[(n_T−1)s_T² + (n_C−1)s_C²]/(N−2)} */
    double d;           /* diff / sd_pooled: Cohen's d, no small-sample correction */
    /* WWC: Hedges' g with ω (WWC Procedures Handbook) */
    double omega;       /* 1 − 3/(4N − 9) */
    double g;           /* ω·d */
    double se_g;        /* √[N/(n_T n_C) + g²/(2N)]: the SE whose ratio g/se_g is the WWC's
                           t for the clustering correction */
    /* metafor escalc(measure = "SMD"): the exact correction */
    double J;           /* J(N − 2) */
    double g_exact;     /* J·d = escalc's yi */
    double v_exact;     /* escalc's vi, vtype = "LS" (its default): 1/n_T + 1/n_C + g_exact²/(2N) */
    double v_exact_ub;  /* escalc's vi, vtype = "UB": 1/n_T + 1/n_C + (1 − (m−2)/(m J²))·g_exact² */
} evm_es_smd;

/* Standardized mean difference from group statistics (means, SDs, sizes).
 * Errors: EVM_ERR_VALUE for non-finite input, an SD < 0, both SDs 0, n_T or n_C < 1, or
 * N < 4 (N − 2 degrees of freedom must exceed 1 for J). */
int evm_es_smd_groups(double mean_t, double sd_t, int64_t n_t, double mean_c, double sd_c,
                      int64_t n_c,
                      // output:
                      evm_es_smd *out, evm_ctx *c);

/* ---------------------------------------------------------------- binary outcomes */
typedef struct {
    int64_t n_total;    /* N = n_T + n_C */
    double log_or;      /* logit(p_T) − logit(p_C) */
    double d_cox;       /* log_or / 1.65: the Cox index without correction (metafor "OR2DN") */
    double omega;       /* 1 − 3/(4N − 9) */
    double g;           /* ω·d_cox: the WWC's Cox index, on the scale of Hedges' g */
    double v_log_or;    /* 1/(n_T p_T) + 1/(n_T(1−p_T)) + 1/(n_C p_C) + 1/(n_C(1−p_C)) (Woolf) */
    double v_cox;       /* v_log_or / 1.65² = escalc(measure = "OR2DN")'s vi */
    double se_g;        /* ω·√v_cox */
} evm_es_cox;

/* The Cox index from the proportions of successes in each group and the group sizes.
 * Errors: EVM_ERR_VALUE when a proportion is not strictly between 0 and 1 (the log odds is
 * infinite: the WWC then cannot compute the index), n_T or n_C < 1, or N < 3. */
int evm_es_cox_index(double p_t, int64_t n_t, double p_c, int64_t n_c,
                     // output:
                     evm_es_cox *out, evm_ctx *c);

/* ---------------------------------------------------------------- WWC summaries */
/* The improvement index 100·Φ(g) − 50: the expected change in percentile rank of an average
 * comparison-group member had they received the intervention (NaN for NaN). */
double evm_es_improvement_index(double g);

typedef enum {
    EVM_ES_BASELINE_SATISFIED = 0,      /* |g| <= 0.05 */
    EVM_ES_BASELINE_ADJUST = 1,         /* 0.05 < |g| <= 0.25: satisfied only if the impact
                                           model adjusts for the characteristic */
    EVM_ES_BASELINE_NOT_SATISFIED = 2,  /* |g| > 0.25 */
    EVM_ES_BASELINE_UNKNOWN = -1        /* g is NaN */
} evm_es_baseline;

/* The WWC baseline-equivalence verdict for a baseline effect size (Hedges' g, or the Cox
 * index for a binary characteristic), and its name: "satisfied", "requires statistical
 * adjustment", "not satisfied", "unknown". */
evm_es_baseline evm_es_baseline_verdict(double g);
const char *evm_es_baseline_str(evm_es_baseline v);

/* ---------------------------------------------------------------- clustering correction */
typedef struct {
    int64_t n_total;    /* N */
    int64_t clusters;   /* M */
    double n_avg;       /* n = N/M, the average cluster size */
    double rho;         /* the intra-class correlation used */
    double t;           /* g / √[N/(n_T n_C) + g²/(2N)]: t ignoring clustering */
    double df;          /* N − 2 */
    double p;           /* two-sided p of t on N − 2 df (the mismatched analysis) */
    double t_a;         /* t·√{[(N−2) − 2(n−1)ρ] / [(N−2)(1 + (n−1)ρ)]} */
    double h;           /* [(N−2) − 2(n−1)ρ]² / [(N−2)(1−ρ)² + n(N−2n)ρ² + 2(N−2n)ρ(1−ρ)] */
    double p_a;         /* two-sided p of t_a on h df: the clustering-corrected p */
} evm_es_cluster;

/* The WWC clustering correction of a mismatched analysis (clusters assigned, students
 * analysed) for an effect size g (Hedges' g, or the Cox index) from n_t and n_c students in
 * `clusters` clusters in all, with intra-class correlation rho (EVM_ES_ICC_ACHIEVEMENT or
 * EVM_ES_ICC_OTHER when the study reports none).
 * Errors: EVM_ERR_VALUE for a non-finite g, n_T or n_C < 1, N <= 2, clusters < 2 or > N,
 * or rho outside [0, 1).  (With 2 <= M <= N and ρ < 1, (N−2) − 2(n−1)ρ and h are positive.) */
int evm_es_wwc_cluster(double g, int64_t n_t, int64_t n_c, int64_t clusters, double rho,
                       // output:
                       evm_es_cluster *out, evm_ctx *c);

/* ---------------------------------------------------------------- model-based contrasts */
typedef struct {
    double es;          /* est / sd */
    double se;          /* se / sd (the SD is taken as known) */
    double lower, upper;/* es ∓ q·se, q = qt((1 + level)/2, df), or qnorm when df is Inf */
} evm_es_std;

/* The SD of the outcome implied by a model: √(σ² + Σ τ²_k) for the residual variance σ²
 * and the random-intercept variances τ²_k (nvar values in `var`, σ² among them).  NaN when a
 * value is negative or not finite. */
double evm_es_model_sd(int nvar, const double *var);

/* Standardise a model-based contrast `est` (standard error `se`, degrees of freedom `df`,
 * INFINITY for a normal interval) by an SD: (a) evm_es_model_sd of the comparison
 * condition, (b) the comparison group's observed SD, or (c) a reference SD such as a
 * national norm.  Errors: EVM_ERR_VALUE for sd <= 0, se < 0, df <= 0, level outside (0, 1),
 * or a non-finite est/se/sd. */
int evm_es_standardize(double est, double se, double df, double sd, double level,
                       // output:
                       evm_es_std *out, evm_ctx *c);

/* ---------------------------------------------------------------- intra-class correlation */
typedef struct {
    double icc;          /* τ²_j / (Σ_k τ²_k + σ²) */
    double se;           /* delta-method SE (NaN for the plug-in interval) */
    double lower, upper;
} evm_es_icc;

/* The ICC of component j (0 <= j < k) of k random-intercept variances tau2[] with residual
 * variance sigma2; the interval by the delta method from `vcov`, the (k+1)×(k+1) column-major
 * covariance matrix of the estimates (τ²_0, …, τ²_{k−1}, σ²).  The interval is a Wald
 * interval of logit(ICC), back-transformed (so it stays inside (0, 1)); when the ICC is 0
 * (a boundary fit) it is the Wald interval of the ICC itself with its lower limit at 0.
 * vcov may be NULL: ICC only, se and limits NaN.
 * Errors: EVM_ERR_ARG for k < 1, j out of range or a NULL tau2; EVM_ERR_VALUE for negative
 * or non-finite variances, a zero total variance, a vcov with a negative variance of the
 * ICC, or a level outside (0, 1). */
int evm_es_icc_delta(int k, const double *tau2, double sigma2, int j, const double *vcov,
                     double level,
                     // output:
                     evm_es_icc *out, evm_ctx *c);

/* The ICC of component j with an interval carried over from an interval [sd_lo, sd_hi] of
 * that component's standard deviation τ_j (profile or Wald), the other components held at
 * their estimates.  The ICC increases with τ_j, so the limits are the ICC at sd_lo and
 * sd_hi.  This ignores the uncertainty of the other components; it is the exact profile
 * interval of the ICC when k = 1 and the interval is for θ = τ/σ (pass tau2 = θ̂², sigma2 = 1).
 * Errors: as evm_es_icc_delta, and EVM_ERR_VALUE unless 0 <= sd_lo <= sd_hi. */
int evm_es_icc_sd_interval(int k, const double *tau2, double sigma2, int j, double sd_lo,
                           double sd_hi,
                           // output:
                           evm_es_icc *out, evm_ctx *c);

/* ---------------------------------------------------------------- multiple comparisons */
typedef enum {
    EVM_ES_ADJUST_NONE = 0,
    EVM_ES_ADJUST_HOLM = 1,   /* Holm (1979): R's p.adjust(method = "holm") */
    EVM_ES_ADJUST_BH = 2      /* Benjamini–Hochberg (1995), as the WWC uses within a domain:
                                 R's p.adjust(method = "BH") */
} evm_es_adjust;

/* "none", "holm", "bh" (also "BH", "fdr" as R) -> the method; EVM_ERR_ARG otherwise with a
 * message naming the accepted values.  evm_es_adjust_str gives "none", "holm", "bh". */
int evm_es_adjust_parse(const char *s, evm_es_adjust *out, evm_ctx *c);
const char *evm_es_adjust_str(evm_es_adjust m);

/* Adjust a family of n p-values as R's p.adjust: NaN entries stay NaN and do not count in
 * the family size.  `adj` may be `p` (in place).  Allocates O(n) workspace.
 * Errors: EVM_ERR_ARG (n < 0, NULL arrays, unknown method), EVM_ERR_VALUE (a p outside
 * [0, 1]), EVM_ERR_NOMEM. */
int evm_es_p_adjust(evm_es_adjust method, int64_t n, const double *p,
                    // output:
                    double *adj, evm_ctx *c);

#endif
