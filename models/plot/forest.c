/* forest.c — evm_plot_forest: a forest (caterpillar) plot of school-specific effects.
 *
 * Layout, top to bottom: title; legend of the groups (cohorts); the pooled-effect label
 * (and, for tall figures, the tick values); one row per school, largest estimate on top,
 * with its label on the left, a point and interval in the panel, and "est [lo, hi]" on the
 * right; the x axis with its label.  Rows get shorter as schools are added (down to 10 px
 * from 150 schools on), so 300 schools make a figure about 3,200 px tall that still
 * names every school.  A NaN `pooled` draws no pooled line; a school whose lo and hi are
 * both NaN is drawn as a point only. */
#include "plot.h"
#include "svg.h"

#include "../../engine/core/internal.h"   /* evm__fail, allocation helpers */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PANEL_WIDTH 440.0
#define LABEL_MAX_WIDTH 200.0
#define ZERO_COLOUR "#555555"
#define POOLED_COLOUR "#000000"
#define TEXT_COLOUR "#333333"

typedef struct {
    double est, lo, hi;
    const char *label;
    int64_t index;
    int colour;
} row;

static int by_estimate_desc(const void *pa, const void *pb)
{
    const row *a = pa, *b = pb;
    if (a->est != b->est) return a->est > b->est ? -1 : 1;
    int k = strcmp(a->label, b->label);
    if (k) return k;
    return a->index < b->index ? -1 : a->index > b->index;
}

static int by_string(const void *pa, const void *pb)
{
    return strcmp(*(const char *const *)pa, *(const char *const *)pb);
}

/* Row heights and font sizes that keep ~300 schools legible. */
static void row_metrics(int64_t n, double *row_h, double *font)
{
    if (n <= 30) *row_h = 20, *font = 12;
    else if (n <= 80) *row_h = 15, *font = 11;
    else if (n <= 150) *row_h = 12, *font = 10;
    else *row_h = 10, *font = 8.5;
}

static int check_inputs(int64_t n, const char *const *label, const double *est,
                        const double *lo, const double *hi, evm_ctx *c)
{
    if (n < 1) return evm__fail(c, EVM_ERR_ARG, "forest plot: no schools to plot");
    if (!label || !est || !lo || !hi)
        return evm__fail(c, EVM_ERR_ARG, "forest plot: labels, estimates and intervals needed");
    for (int64_t i = 0; i < n; i++) {
        const char *name = label[i] ? label[i] : "";
        if (!isfinite(est[i]))
            return evm__fail(c, EVM_ERR_VALUE, "forest plot: '%s': estimate is not a number",
                             name);
        int have_lo = !isnan(lo[i]), have_hi = !isnan(hi[i]);
        if (have_lo != have_hi || (have_lo && (!isfinite(lo[i]) || !isfinite(hi[i]))))
            return evm__fail(c, EVM_ERR_VALUE,
                             "forest plot: '%s': interval [%g, %g] is not two numbers", name,
                             lo[i], hi[i]);
        if (have_lo && lo[i] > hi[i])
            return evm__fail(c, EVM_ERR_VALUE,
                             "forest plot: '%s': interval lower end %g above upper end %g",
                             name, lo[i], hi[i]);
    }
    return EVM_OK;
}

/* "0.21 [−0.05, 0.47]" with the decimals of the axis plus one. */
static void value_text(char *buf, size_t size, const row *r, int decimals)
{
    char e[48], l[48], h[48];
    evm__tick_label(e, r->est, decimals);
    if (isnan(r->lo)) {
        snprintf(buf, size, "%s", e);
        return;
    }
    snprintf(buf, size, "%s [%s, %s]", e, evm__tick_label(l, r->lo, decimals),
             evm__tick_label(h, r->hi, decimals));
}

/* Legend entries laid left to right from x, wrapping at max_x; returns the height used. */
static double draw_legend(evm__svg *s, double x, double y, double max_x, const char *const *names,
                          int ngroups, double font)
{
    double x0 = x, used = font + 8;
    for (int g = 0; g < ngroups; g++) {
        double w = 26 + evm__svg_text_width(names[g], font) + 18;
        if (x + w > max_x && x > x0) {
            x = x0;
            y += font + 8;
            used += font + 8;
        }
        evm__svg_line(s, x, y - 0.35 * font, x + 18, y - 0.35 * font, evm__palette(g), 2, NULL);
        evm__svg_circle(s, x + 9, y - 0.35 * font, 4, evm__palette(g), NULL, 0);
        evm__svg_text(s, x + 24, y, names[g], font, EVM__START, 0, "#000000", NULL);
        x += w;
    }
    return used;
}

int evm_plot_forest(const char *path, int64_t n, const char *const *label, const double *est,
                    const double *lo, const double *hi, const char *const *group,
                    double pooled, const char *xlabel, const char *title, evm_ctx *c)
{
    int st = check_inputs(n, label, est, lo, hi, c);
    if (st < 0) return st;
    row *rows = evm__malloc((size_t)n, sizeof *rows);
    const char **distinct = group ? evm__malloc((size_t)n, sizeof *distinct) : NULL;
    char **shown = evm__calloc((size_t)n, sizeof *shown);
    evm__svg s = {0};
    if (!rows || !shown || (group && !distinct)) goto nomem;

    /* Groups in byte order ("Cohort 1" before "Cohort 2"), one colour each. */
    int ngroups = 0;
    if (group) {
        for (int64_t i = 0; i < n; i++) distinct[i] = group[i] ? group[i] : "";
        qsort(distinct, (size_t)n, sizeof *distinct, by_string);
        for (int64_t i = 0; i < n; i++)
            if (i == 0 || strcmp(distinct[i], distinct[ngroups - 1]) != 0)
                distinct[ngroups++] = distinct[i];
    }
    double data_lo = 0.0, data_hi = 0.0;   /* the scale always shows 0 */
    if (isfinite(pooled)) {
        data_lo = fmin(data_lo, pooled);
        data_hi = fmax(data_hi, pooled);
    }
    for (int64_t i = 0; i < n; i++) {
        row *r = &rows[i];
        *r = (row){est[i], lo[i], hi[i], label[i] ? label[i] : "", i, 0};
        data_lo = fmin(data_lo, isnan(r->lo) ? r->est : fmin(r->lo, r->est));
        data_hi = fmax(data_hi, isnan(r->hi) ? r->est : fmax(r->hi, r->est));
        if (group) {
            const char *gname = group[i] ? group[i] : "";
            const char **hit = bsearch(&gname, distinct, (size_t)ngroups, sizeof *distinct,
                                       by_string);
            r->colour = (int)(hit - distinct);
        }
    }
    qsort(rows, (size_t)n, sizeof *rows, by_estimate_desc);

    double row_h, font;
    row_metrics(n, &row_h, &font);
    evm__panel p;
    /* A little room beyond the widest interval, so no whisker ends on the panel's edge. */
    double pad = 0.02 * (data_hi - data_lo);
    evm__panel_scale(&p, data_lo - pad, data_hi + pad, 6);
    int decimals = p.decimals + 1;

    /* Column widths from the text they hold. */
    double label_w = 0.0, value_w = evm__svg_text_width("Estimate [interval]", font);
    char buf[160];
    for (int64_t k = 0; k < n; k++) {
        if (!(shown[k] = evm__svg_fit_text(rows[k].label, font, LABEL_MAX_WIDTH))) goto nomem;
        label_w = fmax(label_w, evm__svg_text_width(shown[k], font));
        value_text(buf, sizeof buf, &rows[k], decimals);
        value_w = fmax(value_w, evm__svg_text_width(buf, font));
    }
    double width = 16 + label_w + 12 + PANEL_WIDTH + 14 + value_w + 16;
    if (title) width = fmax(width, 32 + evm__svg_text_width(title, EVM__TITLE_SIZE) * EVM__BOLD_WIDTH);
    double legend_font = 12;
    /* A dry run of the legend on a scratch document tells its height. */
    double legend_h = 0.0;
    if (group) {
        evm__svg scratch = {0};
        legend_h = draw_legend(&scratch, 16, 0, width - 16, distinct, ngroups,
                               legend_font) + 6;
        evm__svg_free(&scratch);
    }
    int top_labels = n > 40;
    double y = title ? 30 : 8;
    double legend_y = y + legend_font + 4;
    double head_h = 30 + (top_labels ? 14 : 0);
    p.x0 = 16 + label_w + 12;
    p.x1 = p.x0 + PANEL_WIDTH;
    p.y0 = legend_y - legend_font + legend_h + head_h;
    p.y1 = p.y0 + (double)n * row_h;
    double height = p.y1 + 14 + 2.2 * font + 20;

    if (evm__svg_begin(&s, width, height, title ? title : "Forest plot") < 0) goto nomem;
    if (title) evm__svg_text(&s, 16, 22, title, EVM__TITLE_SIZE, EVM__START, 1, "#000000", NULL);
    if (group)
        draw_legend(&s, 16, legend_y, width - 16, distinct, ngroups, legend_font);
    evm__panel_grid(&s, &p, (int)(n < 1000000 ? n : 1000000), row_h);
    double x0 = evm__panel_x(&p, 0.0);
    evm__svg_line(&s, x0, p.y0, x0, p.y1, ZERO_COLOUR, 1.2, "5 4");
    if (isfinite(pooled)) {
        double xp = evm__panel_x(&p, pooled);
        char num[48];
        snprintf(buf, sizeof buf, "Pooled effect %s", evm__tick_label(num, pooled, decimals));
        evm__svg_line(&s, xp, p.y0 - 4, xp, p.y1, POOLED_COLOUR, 1.6, NULL);
        /* Keep the label inside the panel's width when the line is near an edge. */
        double half = 0.5 * evm__svg_text_width(buf, font + 1);
        double xl = fmin(fmax(xp, p.x0 + half), p.x1 - half);
        evm__svg_text(&s, xl, p.y0 - (top_labels ? 24 : 8), buf, font + 1, EVM__MIDDLE, 1,
                      POOLED_COLOUR, NULL);
    }
    evm__panel_axis(&s, &p, xlabel, font, top_labels);
    evm__svg_text(&s, p.x1 + 14, p.y0 - (top_labels ? 24 : 8), "Estimate [interval]", font,
                  EVM__START, 1, TEXT_COLOUR, NULL);

    double radius = fmin(4.0, 0.3 * row_h), stroke = row_h >= 15 ? 2.0 : 1.5;
    for (int64_t k = 0; k < n; k++) {
        const row *r = &rows[k];
        const char *colour = evm__palette(r->colour);
        double yc = p.y0 + ((double)k + 0.5) * row_h, ytext = yc + 0.35 * font;
        int cut = strcmp(shown[k], r->label) != 0;
        evm__svg_text(&s, p.x0 - 8, ytext, shown[k], font, EVM__END, 0, "#000000",
                      cut ? r->label : NULL);
        if (!isnan(r->lo))
            evm__svg_line(&s, evm__panel_x(&p, r->lo), yc, evm__panel_x(&p, r->hi), yc, colour,
                          stroke, NULL);
        evm__svg_circle(&s, evm__panel_x(&p, r->est), yc, radius, colour, "#ffffff", 0.8);
        value_text(buf, sizeof buf, r, decimals);
        evm__svg_text(&s, p.x1 + 14, ytext, buf, font, EVM__START, 0, TEXT_COLOUR, NULL);
    }
    evm__svg_end(&s);
    st = evm__svg_save(&s, path, c);
    goto cleanup;

nomem:
    st = evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory drawing the forest plot",
                   path ? path : "");
cleanup:
    if (shown)
        for (int64_t k = 0; k < n; k++) free(shown[k]);
    free(shown);
    free(distinct);
    free(rows);
    evm__svg_free(&s);
    return st;
}
