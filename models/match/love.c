/* love.c — the Love plot of a match: WWC effect sizes (Hedges' g or Cox index) of every
 * covariate before and after matching, with WWC's thresholds 0.05 and 0.25.  The
 * drawing is models/plot's evm_plot_love. */
#include "match_internal.h"
#include "plot/plot.h"

#include <math.h>
#include <stdlib.h>

int evm_match_plot(const char *path, const evm_match_result *r, evm_ctx *c)
{
    int n = 0;
    for (int j = 0; j < r->nbal; j++) n += r->bal[j].kind != 0;
    size_t m = (size_t)(n > 0 ? n : 1);
    const char **name = evm__calloc(m, sizeof *name);
    double *before = evm__malloc(m, sizeof *before), *after = evm__malloc(m, sizeof *after);
    int st;
    if (!name || !before || !after) {
        st = evm__fail(c, EVM_ERR_NOMEM, "out of memory");
        goto cleanup;
    }
    int k = 0;
    for (int j = 0; j < r->nbal; j++) {
        const evm_balance_row *b = &r->bal[j];
        if (b->kind == 0) continue;
        name[k] = b->name;
        /* a Cox index is infinite when a proportion is 0 or 1: no marker */
        before[k] = isfinite(b->wwc[0]) ? b->wwc[0] : NAN;
        after[k++] = isfinite(b->wwc[1]) ? b->wwc[1] : NAN;
    }
    static const double thresholds[2] = {0.05, 0.25};
    st = evm_plot_love(path, n, name, before, after, 2, thresholds,
                       "Baseline equivalence: |Hedges' g| or |Cox index| (WWC)", c);
cleanup:
    free(name);
    free(before);
    free(after);
    return st;
}
