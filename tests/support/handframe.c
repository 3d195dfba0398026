/* handframe.c — see handframe.h. */
#include "handframe.h"

#include "internal.h"

#include <math.h>
#include <stdlib.h>

static uint64_t rng = 12345;

void hf_seed(uint64_t seed) { rng = seed; }

double hf_unif(void)
{
    rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((rng >> 11) + 0.5) / 9007199254740992.0;
}
double hf_gauss(void) { return sqrt(-2 * log(hf_unif())) * cos(6.283185307179586 * hf_unif()); }


static char *dup(const char *s) { return evm__strdup(s); }

evm__modelframe *hf_make_frame(const hf_design *d, int64_t n, int p)
{
    evm__modelframe *mf = calloc(1, sizeof *mf);
    mf->formula = dup("y ~ test");
    mf->response = dup("y");
    mf->drop_reason = dup("");
    mf->n = mf->rows_read = n;
    mf->p = p;
    mf->y = malloc(sizeof(double) * n);
    mf->X = malloc(sizeof(double) * n * p);
    mf->xnames = calloc(p, sizeof(char *));
    for (int j = 0; j < p; j++) mf->xnames[j] = evm__asprintf("x%d", j);
    if (d->weighted) {
        mf->w = malloc(sizeof(double) * n);
        for (int64_t i = 0; i < n; i++) mf->w[i] = 0.5 + hf_unif();
    }
    for (int64_t i = 0; i < n; i++) {
        mf->X[i] = 1.0;
        for (int j = 1; j < p; j++) mf->X[i + j * n] = hf_gauss();
        mf->y[i] = hf_gauss() * 3 + mf->X[i + n];
    }
    mf->nre = d->nterms;
    mf->re = calloc(d->nterms, sizeof(evm__reterm));
    for (int k = 0; k < d->nterms; k++) {
        evm__reterm *re = &mf->re[k];
        re->group = evm__asprintf("g%d", d->same[k] >= 0 ? d->same[k] : k);
        re->nlevels = d->nlev[k];
        re->q = d->q[k];
        re->codes = malloc(sizeof(int32_t) * n);
        re->Z = malloc(sizeof(double) * n * re->q);
        re->levels = calloc(re->nlevels, sizeof(char *));
        for (int64_t l = 0; l < re->nlevels; l++) re->levels[l] = evm__asprintf("L%lld", (long long)l);
        re->colnames = calloc(re->q, sizeof(char *));
        for (int a = 0; a < re->q; a++) re->colnames[a] = evm__asprintf("z%d", a);
    }
    /* codes: every level used at least once; nested terms refine their parent */
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < d->nterms; k++) {
            evm__reterm *re = &mf->re[k];
            int32_t code;
            if (d->same[k] >= 0) code = mf->re[d->same[k]].codes[i];
            else if (d->parent[k] >= 0) continue;   /* filled below */
            else code = i < re->nlevels ? (int32_t)i : (int32_t)(hf_unif() * re->nlevels);
            re->codes[i] = code;
        }
    for (int k = d->nterms - 1; k >= 0; k--) {   /* child level c lies in parent level c % np;
                                                    parents (later terms) are filled first */
        if (d->parent[k] < 0 || d->same[k] >= 0) continue;
        const evm__reterm *par = &mf->re[d->parent[k]];
        const int64_t np = par->nlevels, per = d->nlev[k] / np;
        for (int64_t i = 0; i < n; i++) {
            int64_t sub = i < d->nlev[k] ? i / np : (int64_t)(hf_unif() * per);
            mf->re[k].codes[i] = (int32_t)(par->codes[i] + np * (sub % per));
        }
    }
    for (int k = 0; k < d->nterms; k++)
        for (int64_t i = 0; i < n; i++) {
            mf->re[k].Z[i] = 1.0;
            for (int a = 1; a < mf->re[k].q; a++) mf->re[k].Z[i + a * n] = mf->X[i + (a % p) * n] + 0.3 * a;
        }
    return mf;
}

void hf_free_frame(evm__modelframe *mf)
{
    for (int k = 0; k < mf->nre; k++) {
        evm__reterm *re = &mf->re[k];
        for (int64_t l = 0; l < re->nlevels; l++) free(re->levels[l]);
        for (int a = 0; a < re->q; a++) free(re->colnames[a]);
        free(re->levels), free(re->colnames), free(re->codes), free(re->Z), free(re->group);
    }
    for (int j = 0; j < mf->p; j++) free(mf->xnames[j]);
    free(mf->xnames), free(mf->re), free(mf->y), free(mf->X), free(mf->w);
    free(mf->formula), free(mf->response), free(mf->drop_reason), free(mf);
}
