/* rng.c — xoshiro256** streams keyed by (seed, stream), and normal deviates. */
#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void evm__rng_seed(evm__rng *g, uint64_t seed, uint64_t stream)
{
    /* Hash the seed first, then offset by the stream index and hash again: nearby seeds
     * and nearby streams give unrelated keys, and (seed, stream) pairs do not alias as
     * they would with seed + stream. */
    uint64_t x = seed;
    uint64_t key = splitmix64(&x) ^ stream * 0xd1342543de82ef95ULL;
    x = key;
    for (int i = 0; i < 4; i++) g->s[i] = splitmix64(&x);
    if (!(g->s[0] | g->s[1] | g->s[2] | g->s[3])) g->s[0] = 1;   /* never all zero */
    g->has_spare = 0;
    g->spare = 0.0;
}

uint64_t evm__rng_u64(evm__rng *g)
{
    uint64_t *s = g->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double evm__rng_unif(evm__rng *g)
{
    return ((double)(evm__rng_u64(g) >> 11) + 0.5) * 0x1.0p-53;
}

double evm__rng_norm(evm__rng *g)
{
    if (g->has_spare) {
        g->has_spare = 0;
        return g->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * evm__rng_unif(g) - 1.0;
        v = 2.0 * evm__rng_unif(g) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double f = sqrt(-2.0 * log(s) / s);
    g->spare = v * f;
    g->has_spare = 1;
    return u * f;
}
