/* love.c — evm_plot_love: a Love plot of covariate balance.
 *
 * One row per covariate, in the caller's order from the top; |SMD| before matching as an
 * open circle, after matching as a filled circle, joined by a grey segment so the eye
 * follows the change; dashed vertical lines at the thresholds, each labelled with its
 * value above the panel; a legend for the two markers.  SMDs are drawn as absolute
 * values; a NaN SMD draws no marker. */
#include "plot.h"
#include "svg.h"

#include "../../engine/core/internal.h"   /* evm__fail, allocation helpers */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PANEL_WIDTH 420.0
#define LABEL_MAX_WIDTH 220.0
#define BEFORE_COLOUR "#D55E00"   /* Okabe-Ito vermillion */
#define AFTER_COLOUR "#0072B2"    /* Okabe-Ito blue */
#define LINK_COLOUR "#b0b0b0"
#define THRESHOLD_COLOUR "#555555"
#define AFTER_RADIUS 3.6   /* inside the open circle (r 5), so equal values show both */

static int check_inputs(int n, const char *const *covariate, const double *before,
                        const double *after, int nthresh, const double *thresholds,
                        evm_ctx *c)
{
    if (n < 1) return evm__fail(c, EVM_ERR_ARG, "Love plot: no covariates to plot");
    if (!covariate || !before || nthresh < 0 || (nthresh > 0 && !thresholds))
        return evm__fail(c, EVM_ERR_ARG, "Love plot: covariates and SMDs needed");
    for (int i = 0; i < n; i++)
        if (isinf(before[i]) || (after && isinf(after[i])))
            return evm__fail(c, EVM_ERR_VALUE, "Love plot: '%s': SMD is infinite",
                             covariate[i] ? covariate[i] : "");
    for (int t = 0; t < nthresh; t++)
        if (!isfinite(thresholds[t]) || thresholds[t] < 0)
            return evm__fail(c, EVM_ERR_VALUE,
                             "Love plot: threshold %g is not a non-negative number",
                             thresholds[t]);
    return EVM_OK;
}

static void legend_marker(evm__svg *s, double x, double y, int filled, const char *text,
                          double font)
{
    double yc = y - 0.35 * font;
    if (filled) evm__svg_circle(s, x + 5, yc, AFTER_RADIUS, AFTER_COLOUR, NULL, 0);
    else evm__svg_circle(s, x + 5, yc, 5, NULL, BEFORE_COLOUR, 2);
    evm__svg_text(s, x + 15, y, text, font, EVM__START, 0, "#000000", NULL);
}

int evm_plot_love(const char *path, int n, const char *const *covariate,
                  const double *smd_before, const double *smd_after, int nthresh,
                  const double *thresholds, const char *title, evm_ctx *c)
{
    int st = check_inputs(n, covariate, smd_before, smd_after, nthresh, thresholds, c);
    if (st < 0) return st;
    char **shown = evm__calloc((size_t)n, sizeof *shown);
    evm__svg s = {0};
    if (!shown) goto nomem;

    double row_h = n <= 30 ? 24 : 16, font = n <= 30 ? 12 : 10.5;
    double top = 0.0, label_w = 0.0;
    for (int i = 0; i < n; i++) {
        const char *name = covariate[i] ? covariate[i] : "";
        if (!(shown[i] = evm__svg_fit_text(name, font, LABEL_MAX_WIDTH))) goto nomem;
        label_w = fmax(label_w, evm__svg_text_width(shown[i], font));
        if (!isnan(smd_before[i])) top = fmax(top, fabs(smd_before[i]));
        if (smd_after && !isnan(smd_after[i])) top = fmax(top, fabs(smd_after[i]));
    }
    for (int t = 0; t < nthresh; t++) top = fmax(top, thresholds[t]);
    evm__panel p;
    evm__panel_scale(&p, 0.0, top > 0 ? top * 1.04 : 1.0, 5);

    double legend_font = 12;
    double legend_y = (title ? 30 : 8) + legend_font + 4;
    p.x0 = 16 + label_w + 12;
    p.x1 = p.x0 + PANEL_WIDTH;
    p.y0 = legend_y + 10 + 22;   /* legend, then the threshold labels */
    p.y1 = p.y0 + n * row_h;
    double width = p.x1 + 24, height = p.y1 + 14 + 2.2 * font + 20;
    if (title) width = fmax(width, 32 + evm__svg_text_width(title, EVM__TITLE_SIZE) * EVM__BOLD_WIDTH);

    if (evm__svg_begin(&s, width, height, title ? title : "Covariate balance") < 0) goto nomem;
    if (title) evm__svg_text(&s, 16, 22, title, EVM__TITLE_SIZE, EVM__START, 1, "#000000", NULL);
    double lx = 16;
    legend_marker(&s, lx, legend_y, 0, smd_after ? "Before matching" : "|SMD|", legend_font);
    if (smd_after)
        legend_marker(&s, lx + 30 + evm__svg_text_width("Before matching", legend_font), legend_y,
                      1, "After matching", legend_font);
    evm__panel_grid(&s, &p, n, row_h);
    for (int t = 0; t < nthresh; t++) {
        double x = evm__panel_x(&p, thresholds[t]);
        char buf[48];
        /* enough decimals to show the threshold as given (0.05, 0.25, 0.1) */
        int d = 0;
        while (d < 4 && fabs(thresholds[t] * pow(10, d) - round(thresholds[t] * pow(10, d))) > 1e-9)
            d++;
        evm__svg_line(&s, x, p.y0 - 4, x, p.y1, THRESHOLD_COLOUR, 1.2, "5 4");
        evm__svg_text(&s, x, p.y0 - 8, evm__tick_label(buf, thresholds[t], d), font,
                      EVM__MIDDLE, 0, THRESHOLD_COLOUR, NULL);
    }
    evm__panel_axis(&s, &p, "Absolute standardized mean difference", font, 0);

    for (int i = 0; i < n; i++) {
        double yc = p.y0 + (i + 0.5) * row_h;
        const char *name = covariate[i] ? covariate[i] : "";
        evm__svg_text(&s, p.x0 - 8, yc + 0.35 * font, shown[i], font, EVM__END, 0, "#000000",
                      strcmp(shown[i], name) ? name : NULL);
        int have_b = !isnan(smd_before[i]), have_a = smd_after && !isnan(smd_after[i]);
        double xb = have_b ? evm__panel_x(&p, fabs(smd_before[i])) : 0;
        double xa = have_a ? evm__panel_x(&p, fabs(smd_after[i])) : 0;
        if (have_b && have_a) evm__svg_line(&s, xb, yc, xa, yc, LINK_COLOUR, 1.5, NULL);
        if (have_b) evm__svg_circle(&s, xb, yc, 5, NULL, BEFORE_COLOUR, 2);
        if (have_a) evm__svg_circle(&s, xa, yc, AFTER_RADIUS, AFTER_COLOUR, NULL, 0);
    }
    evm__svg_end(&s);
    st = evm__svg_save(&s, path, c);
    goto cleanup;

nomem:
    st = evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory drawing the Love plot",
                   path ? path : "");
cleanup:
    if (shown)
        for (int i = 0; i < n; i++) free(shown[i]);
    free(shown);
    evm__svg_free(&s);
    return st;
}
