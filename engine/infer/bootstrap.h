/* bootstrap.h — what bootstrap.c offers beyond evm__bootstrap (infer_internal.h): the
 * simulated response of one replicate, for tests that refit it from scratch. */
#ifndef EVM_BOOTSTRAP_H
#define EVM_BOOTSTRAP_H

#include "lmm/lmm_internal.h"

/* The response y* = Xβ̂ + Zb* + ε* of replicate r (0-based) of
 * evm__bootstrap(m, nboot, seed, ...), for the rows of the model frame in order.
 * input:  m (fitted), seed, r.   output: y [n].
 * Errors: EVM_ERR_ARG (not fitted, r < 0), EVM_ERR_NOMEM. */
int evm__bootstrap_response(const evm_lmm *m, uint64_t seed, int64_t r, double *y, evm_ctx *c);

#endif
