/* svg.h — a small SVG writer for the figures of plot.h (internal to models/plot).
 *
 * A figure is built in memory (evm__svg, a growing buffer) and written in one piece by
 * evm__svg_save, atomically.  Numbers are printed with a fixed number of decimals from
 * the double alone (no locale, no shortest-round-trip search), so the same input gives
 * byte-identical files on every run.  Out of memory is sticky: the buffer stops growing,
 * remembers it, and evm__svg_save reports EVM_ERR_NOMEM. */
#ifndef EVM_PLOT_SVG_H
#define EVM_PLOT_SVG_H

#include "evalmix/evalmix.h"

#include <stddef.h>

typedef struct {
    char *buf;
    size_t len, cap;
    int nomem;
} evm__svg;

/* An empty document of width x height pixels (the <svg> element is opened, with a
 * white background, system sans-serif fonts and the accessible <title>, which may be
 * NULL); evm__svg_end closes it.  Returns 0 or -1 when out of memory. */
int evm__svg_begin(evm__svg *s, double width, double height, const char *title);
void evm__svg_end(evm__svg *s);
void evm__svg_free(evm__svg *s);

/* Raw markup (tags written by the caller; never user text). */
void evm__svg_raw(evm__svg *s, const char *markup);
/* User text escaped for XML character data and attribute values: & < > " ' become
 * entities, control characters and malformed UTF-8 become U+FFFD. */
void evm__svg_escaped(evm__svg *s, const char *text);
/* x with `decimals` digits after the point (0..6); "-0" is written "0", trailing zeros
 * are kept (tick labels line up).  buf must hold 40 bytes; returns buf. */
char *evm__svg_fixed(char *buf, double x, int decimals);

/* Shapes.  Coordinates in pixels, printed with 2 decimals (trailing zeros dropped).
 * Colours are CSS colour strings chosen by the caller; dash may be NULL (solid). */
void evm__svg_line(evm__svg *s, double x1, double y1, double x2, double y2,
                   const char *stroke, double width, const char *dash);
void evm__svg_rect(evm__svg *s, double x, double y, double w, double h, const char *fill,
                   const char *stroke);
/* fill NULL: an open circle (white inside). */
void evm__svg_circle(evm__svg *s, double cx, double cy, double r, const char *fill,
                     const char *stroke, double stroke_width);

typedef enum { EVM__START = 0, EVM__MIDDLE = 1, EVM__END = 2 } evm__anchor;

/* Text at (x, y) (the baseline), escaped; bold when `bold`; `tooltip` (may be NULL) is a
 * <title> child that browsers show on hover (e.g. the full form of a shortened label). */
void evm__svg_text(evm__svg *s, double x, double y, const char *text, double size,
                   evm__anchor anchor, int bold, const char *fill, const char *tooltip);

#define EVM__TITLE_SIZE 16.0   /* px, bold, at the top left of a figure */
#define EVM__BOLD_WIDTH 1.08   /* bold glyphs are about this much wider */

/* Approximate width in pixels of `text` in the sans-serif font at `size` px (Helvetica
 * advance widths by character class; a UTF-8 sequence counts as one average glyph). */
double evm__svg_text_width(const char *text, double size);
/* A copy of `text` cut to at most max_width pixels at `size`, ending in "…" when cut.
 * NULL when out of memory. */
char *evm__svg_fit_text(const char *text, double size, double max_width);

/* "Nice" axis ticks covering [lo, hi]: a step of 1, 2 or 5 times a power of ten giving
 * about `target` intervals; the first and last tick enclose [lo, hi].  *decimals is the
 * number of decimals the labels need.  lo < hi, both finite. */
void evm__nice_ticks(double lo, double hi, int target, double *first, double *step,
                     int *nticks, int *decimals);

/* Write the document to `path` atomically: "<path>.tmp.<pid>.<n>" in the same folder,
 * written, synced and renamed over path; on any failure the temporary file is removed and
 * the error (EVM_ERR_IO naming the path and the cause, or EVM_ERR_NOMEM) is on c. */
int evm__svg_save(const evm__svg *s, const char *path, evm_ctx *c);

/* ---------------------------------------------------------------- axis.c */
/* A plotting panel: pixels [x0, x1] x [y0, y1] showing data values [d0, d1] on the
 * horizontal axis, with ticks first + k*step (k < nticks) labelled with `decimals`. */
typedef struct {
    double x0, x1, y0, y1;
    double d0, d1;
    double first, step;
    int nticks, decimals;
} evm__panel;

/* Lay out the horizontal scale of a panel to show [lo, hi] with about `target` ticks
 * (the domain is widened to whole ticks; an empty range is widened around its value). */
void evm__panel_scale(evm__panel *p, double lo, double hi, int target);
double evm__panel_x(const evm__panel *p, double v);
/* A tick label: fixed decimals, with a typographic minus sign (U+2212).  buf[48]. */
char *evm__tick_label(char *buf, double v, int decimals);
/* Light vertical grid lines at the ticks and alternate row bands (nrows rows of height
 * row_h from y0; 0 rows: none). */
void evm__panel_grid(evm__svg *s, const evm__panel *p, int nrows, double row_h);
/* The horizontal axis under the panel: line, ticks, tick labels and `label` (may be NULL)
 * centred below; with top_labels the tick values are repeated above the panel (for tall
 * figures). */
void evm__panel_axis(evm__svg *s, const evm__panel *p, const char *label, double size,
                     int top_labels);

/* The colour-blind-safe palette of Okabe & Ito (2008) without yellow (too light on
 * white): colour k, cycling after 7. */
const char *evm__palette(int k);

#endif
