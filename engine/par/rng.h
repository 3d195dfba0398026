/* rng.h — independent random streams for parallel tasks.
 *
 * A stream is xoshiro256** (Blackman & Vigna 2018) whose 256-bit state is filled by
 * splitmix64 from a key made of (seed, stream index) only, so task i draws the same
 * numbers whichever thread runs it and whatever ran before.  Normal deviates come from
 * Marsaglia's polar method (pairs; the second is kept for the next call).
 * Internal to libevalmix. */
#ifndef EVM_RNG_H
#define EVM_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
    double spare;     /* second deviate of the last polar pair */
    int has_spare;
} evm__rng;

/* Stream `stream` of the family `seed` (any 64-bit values). */
void evm__rng_seed(evm__rng *g, uint64_t seed, uint64_t stream);
uint64_t evm__rng_u64(evm__rng *g);
/* Uniform on the open interval (0, 1), 53 random bits. */
double evm__rng_unif(evm__rng *g);
/* Standard normal. */
double evm__rng_norm(evm__rng *g);

#endif
