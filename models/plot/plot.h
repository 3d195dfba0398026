/* plot.h — the figures evalmix draws, as standalone SVG files (UTF-8, no scripts, no
 * external fonts; they open in any browser).  Written atomically (temporary name, then
 * rename); errors on the context as the engine's.  Part of models/ (evaluation layer). */
#ifndef EVM_PLOT_H
#define EVM_PLOT_H

#include "evalmix/evalmix.h"

/* Forest (caterpillar) plot of school-specific effects, schools ordered by estimate:
 * a point and an interval per school, a vertical line at the pooled effect (and at 0),
 * rows coloured by group (e.g. implementation cohort) with a legend.
 * label[n], est[n], lo[n], hi[n]; group[n] may be NULL (one colour). title may be NULL. */
int evm_plot_forest(const char *path, int64_t n, const char *const *label, const double *est,
                    const double *lo, const double *hi, const char *const *group,
                    double pooled, const char *xlabel, const char *title, evm_ctx *c);

/* Love plot of covariate balance: absolute standardized mean differences before (open
 * circle) and after (filled) matching, one row per covariate, with dashed reference lines
 * at the thresholds (e.g. WWC's 0.05 and 0.25).  smd_after may be NULL. */
int evm_plot_love(const char *path, int n, const char *const *covariate,
                  const double *smd_before, const double *smd_after, int nthresh,
                  const double *thresholds, const char *title, evm_ctx *c);

#endif
