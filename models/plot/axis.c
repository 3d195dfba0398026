/* axis.c — the furniture shared by the figures: a horizontal scale with nice ticks, grid
 * lines, row bands, the axis with its labels, and the colour palette. */
#include "svg.h"

#include <math.h>
#include <string.h>

#define AXIS_COLOUR "#333333"
#define GRID_COLOUR "#e3e3e3"
#define BAND_COLOUR "#f4f4f4"

void evm__panel_scale(evm__panel *p, double lo, double hi, int target)
{
    if (!(hi > lo)) {   /* one value: a unit-wide window around it */
        double half = fabs(lo) > 0 ? 0.5 * fabs(lo) : 0.5;
        lo -= half;
        hi += half;
    }
    evm__nice_ticks(lo, hi, target, &p->first, &p->step, &p->nticks, &p->decimals);
    p->d0 = p->first;
    p->d1 = p->first + (p->nticks - 1) * p->step;
}

double evm__panel_x(const evm__panel *p, double v)
{
    return p->x0 + (v - p->d0) / (p->d1 - p->d0) * (p->x1 - p->x0);
}

char *evm__tick_label(char *buf, double v, int decimals)
{
    char num[40];
    evm__svg_fixed(num, v, decimals);
    if (num[0] == '-')
        snprintf(buf, 48, "\xE2\x88\x92%s", num + 1);   /* U+2212 minus sign */
    else
        snprintf(buf, 48, "%s", num);
    return buf;
}

/* Whole multiples of the step, so labels never drift (0.30000000000000004). */
static double tick_value(const evm__panel *p, int k)
{
    return (round(p->first / p->step) + k) * p->step;
}

void evm__panel_grid(evm__svg *s, const evm__panel *p, int nrows, double row_h)
{
    for (int r = 1; r < nrows; r += 2)
        evm__svg_rect(s, p->x0, p->y0 + r * row_h, p->x1 - p->x0, row_h, BAND_COLOUR, NULL);
    for (int k = 0; k < p->nticks; k++) {
        double x = evm__panel_x(p, tick_value(p, k));
        evm__svg_line(s, x, p->y0, x, p->y1, GRID_COLOUR, 1, NULL);
    }
}

void evm__panel_axis(evm__svg *s, const evm__panel *p, const char *label, double size,
                     int top_labels)
{
    char buf[48];
    evm__svg_line(s, p->x0, p->y1, p->x1, p->y1, AXIS_COLOUR, 1, NULL);
    for (int k = 0; k < p->nticks; k++) {
        double v = tick_value(p, k), x = evm__panel_x(p, v);
        evm__tick_label(buf, v, p->decimals);
        evm__svg_line(s, x, p->y1, x, p->y1 + 5, AXIS_COLOUR, 1, NULL);
        evm__svg_text(s, x, p->y1 + 7 + size, buf, size, EVM__MIDDLE, 0, AXIS_COLOUR, NULL);
        if (top_labels) {
            evm__svg_line(s, x, p->y0 - 4, x, p->y0, AXIS_COLOUR, 1, NULL);
            evm__svg_text(s, x, p->y0 - 7, buf, size, EVM__MIDDLE, 0, AXIS_COLOUR, NULL);
        }
    }
    if (top_labels) evm__svg_line(s, p->x0, p->y0, p->x1, p->y0, AXIS_COLOUR, 1, NULL);
    if (label)
        evm__svg_text(s, 0.5 * (p->x0 + p->x1), p->y1 + 14 + 2.2 * size, label, size + 1,
                      EVM__MIDDLE, 0, "#000000", NULL);
}

const char *evm__palette(int k)
{
    static const char *const okabe_ito[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                            "#E69F00", "#56B4E9", "#000000"};
    return okabe_ito[k % 7];
}
