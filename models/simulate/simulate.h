/* simulate.h — evaluation datasets with known truth (`evalmix simulate`, tests).
 *
 * Schools come in pairs: an implementing school (part of its classrooms treated, the
 * others comparison classrooms) and a comparison school (all students comparison) matched
 * to it, so the comparison school's `site` is the implementing school.  Pairs alternate
 * between implementation cohorts 1 and 2.  Students sit in classrooms of about 25.  The
 * outcome, in units of the comparison students' conditional SD (so effects are effect
 * sizes), is
 *
 *   score = 0.10 + 0.60 prior - 0.10 frl - 0.10 ell - 0.05 black + 0.05 [cohort 2]
 *           + treat * (effect_c + v_s) + u_s + w_class + e
 *
 * with effect_c the cohort's mean effect, (u_s, v_s) the school's random intercept and
 * slope on treat (independent, SDs sqrt(icc_school) and effect_sd), w_class ~ N(0,
 * icc_class) and e ~ N(0, 1 - icc_school - icc_class).  docs/simulate.md gives the
 * whole design.  Everything is a function of the options: one xoshiro256** stream draws
 * the schools, stream 1 + s the students of school s, so a dataset is the same for any
 * thread count, and the same seed with the same number of schools gives the same
 * schools whatever the number of students. */
#ifndef EVM_SIMULATE_H
#define EVM_SIMULATE_H

#include "evalmix/evalmix.h"

typedef struct {
    int64_t students;   /* rows; at least 2 per school */
    int32_t schools;    /* at least 2 */
    uint64_t seed;
    double effect;      /* mean effect of treatment in cohort 1 */
    double effect2;     /* mean effect in cohort 2 */
    double effect_sd;   /* SD of the school effects around their cohort mean (>= 0) */
    double icc_school;  /* share of the comparison outcome's conditional variance between */
    double icc_class;   /* schools / between classrooms within schools (>= 0, sum < 1) */
} evm_sim_opts;

/* students 5000, schools 40, seed 1, effect 0.20, effect2 0.30, effect_sd 0.10,
 * icc_school 0.15, icc_class 0.05. */
void evm_sim_opts_default(evm_sim_opts *o);

/* The truth about one school. */
typedef struct {
    char label[16];      /* "S01": zero-padded so byte order is numeric order */
    int cohort;          /* 1 or 2 */
    int implementing;    /* 1: has treated classrooms; 0: comparison school */
    int32_t site;        /* index of the implementing school it is compared for (itself
                            when implementing; a comparison school without a partner, which
                            never happens, would be its own site) */
    int64_t first;       /* row of its first student (0-based); students are contiguous */
    int64_t nstudents, ntreated;
    int32_t nclass, ntreated_class;
    double intercept;    /* u_s */
    double slope;        /* v_s */
    double effect;       /* true school effect effect_c + v_s (for a comparison school the
                            effect it would have had: never expressed in its data) */
} evm_sim_school;

typedef struct evm_sim_s evm_sim;

/* Check the options and draw the schools (no student is drawn yet).
 * Errors: EVM_ERR_ARG naming the option ("--icc-school 1.2: ..."), EVM_ERR_NOMEM. */
int evm_sim_create(const evm_sim_opts *o, evm_sim **out, evm_ctx *c);
void evm_sim_destroy(evm_sim **s);

const evm_sim_opts *evm_sim_options(const evm_sim *s);
const evm_sim_school *evm_sim_schools(const evm_sim *s, int32_t *nschools);

/* The true parameters of the model
 *   score ~ prior + frl + ell + black + treat*factor(cohort)
 *           + (1 + treat|school) + (1|school:classroom)
 * named as evalmix (and lme4) name them: fixed effects, then the rows of
 * as.data.frame(VarCorr(m)) (group, var1, var2, sd or correlation; "" where R has NA). */
#define EVM_SIM_NPARAMS 13
typedef struct {
    const char *group;   /* "" for fixed effects */
    const char *var1, *var2;
    double value;
} evm_sim_param;
void evm_sim_params(const evm_sim *s, evm_sim_param out[EVM_SIM_NPARAMS]);

/* The dataset as an in-memory frame with the columns of the CSV file: student (numeric),
 * school and site (factors), classroom, cohort, treat, prior, frl, ell, black, score
 * (numeric).  Numbers are those the CSV file holds (prior and score to 3 decimals), so a
 * fit of the frame equals a fit of the file. */
int evm_sim_frame(const evm_sim *s, evm_frame **out, evm_ctx *c);

/* Write the dataset as CSV to path ("-": stdout), atomically for a file, using the
 * context's threads.  Errors: EVM_ERR_IO naming the path, EVM_ERR_NOMEM. */
int evm_sim_write_csv(const evm_sim *s, const char *path, evm_ctx *c);
/* The school table: school, cohort, true_effect, role, site, students, treated,
 * classrooms, true_intercept.  Errors as evm_sim_write_csv. */
int evm_sim_write_truth(const evm_sim *s, const char *path, evm_ctx *c);
/* The parameter table: group, var1, var2, value (fixed effects have group ""). */
int evm_sim_write_params(const evm_sim *s, const char *path, evm_ctx *c);

#endif
