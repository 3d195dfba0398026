/* handframe.h — hand-built model frames for tests of engine/lmm (no CSV, no formula):
 * random designs with nested, crossed and shared-factor terms, random slopes and
 * optional weights, and the random stream the tests draw from. */
#ifndef EVM_HANDFRAME_H
#define EVM_HANDFRAME_H

#include "formula/modelframe.h"

#include <stdint.h>

typedef struct {
    int nterms;
    int64_t nlev[6];
    int q[6];
    int parent[6];   /* -1: levels drawn at random (crossed); else nested in term parent */
    int same[6];     /* -1, or: use the codes of this earlier term (as (x||g)) */
    int weighted;
} hf_design;

void hf_seed(uint64_t seed);   /* the stream starts at 12345 */
double hf_unif(void);
double hf_gauss(void);
/* A frame of n rows and p fixed-effect columns for the design; free with hf_free_frame. */
evm__modelframe *hf_make_frame(const hf_design *d, int64_t n, int p);
void hf_free_frame(evm__modelframe *mf);

#endif
