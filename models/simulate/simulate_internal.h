/* simulate_internal.h — what simulate.c shares with the CSV writers (models/simulate). */
#ifndef EVM_SIMULATE_INTERNAL_H
#define EVM_SIMULATE_INTERNAL_H

#include "simulate.h"

#include "../../engine/par/rng.h"   /* xoshiro256** streams keyed by (seed, stream) */

#define EVM_SIM_MAX_SCHOOLS 10000000
#define EVM_SIM_MAX_STUDENTS 100000000000LL   /* 1e11 rows: some 6 TB of CSV */

/* School-level draws that only the student generator needs. */
typedef struct {
    double prior_mean, frl_rate, ell_rate, black_rate;
    int64_t first_class;   /* global index of its first classroom (for the streams) */
} evm__sim_school_ctx;

struct evm_sim_s {
    evm_sim_opts o;
    int32_t n;
    evm_sim_school *school;
    evm__sim_school_ctx *ctx;
    int64_t nclass;        /* classrooms in all */
};

/* One student.  prior and score in thousandths (the CSV holds 3 decimals). */
typedef struct {
    int64_t student;     /* 1-based, unique over the file */
    int32_t classroom;   /* 1-based within the school */
    int treat, frl, ell, black;
    int64_t prior_milli, score_milli;
} evm__sim_row;

/* The students of classroom j of school k, one at a time, in file order.  Each classroom
 * draws from its own stream (1 + its global index), so any range of classrooms can be
 * generated on its own, by any thread. */
typedef struct {
    const evm_sim *s;
    int32_t k, j;
    int64_t left, next;
    double w_class, sd_e;
    evm__rng g;
} evm__sim_gen;

/* Start classroom j of school k; gen->left is its number of students. */
void evm__sim_class_begin(evm__sim_gen *gen, const evm_sim *s, int32_t k, int32_t j);
/* The next student of the classroom (gen->left > 0). */
void evm__sim_gen_row(evm__sim_gen *gen, evm__sim_row *r);
/* Students in classroom j (0-based) of a school: as even as possible. */
int64_t evm__sim_class_size(const evm_sim_school *sc, int32_t j);

#endif
