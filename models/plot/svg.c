/* svg.c — the SVG writer behind plot.h: an in-memory document, escaped text, numbers with
 * fixed decimals, text-width estimates for layout, nice axis ticks and an atomic save. */
#include "svg.h"

#include "../../engine/core/internal.h"   /* evm__fail, evm__asprintf: errors on the ctx */

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- buffer */
static void put(evm__svg *s, const char *p, size_t n)
{
    if (s->nomem) return;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->len + n + 1) cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b) {
            s->nomem = 1;
            return;
        }
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, p, n);
    s->len += n;
    s->buf[s->len] = '\0';
}

void evm__svg_raw(evm__svg *s, const char *markup) { put(s, markup, strlen(markup)); }

static void putf(evm__svg *s, const char *fmt, ...) EVM__PRINTF(2, 3);
static void putf(evm__svg *s, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof small) {
        put(s, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        s->nomem = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    put(s, big, (size_t)n);
    free(big);
}

void evm__svg_free(evm__svg *s)
{
    free(s->buf);
    memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------- numbers */
char *evm__svg_fixed(char *buf, double x, int decimals)
{
    if (!isfinite(x)) x = 0.0;   /* callers never pass these; keep the file valid */
    if (decimals < 0) decimals = 0;
    if (decimals > 6) decimals = 6;
    snprintf(buf, 40, "%.*f", decimals, x);
    /* "-0.00" would read as a different number from "0.00" to a human */
    int zero = 1;
    for (const char *p = buf; *p; p++)
        if (*p >= '1' && *p <= '9') zero = 0;
    if (zero && buf[0] == '-') memmove(buf, buf + 1, strlen(buf));
    return buf;
}

/* A coordinate: 2 decimals, trailing zeros and point dropped. */
static const char *coord(char *buf, double x)
{
    evm__svg_fixed(buf, x, 2);
    char *dot = strchr(buf, '.');
    if (dot) {
        char *end = buf + strlen(buf) - 1;
        while (end > dot && *end == '0') *end-- = '\0';
        if (end == dot) *end = '\0';
    }
    return buf;
}

/* ---------------------------------------------------------------- text */
/* Length of the well-formed UTF-8 sequence at p that is also an XML 1.0 character, or 0. */
static int utf8_len(const unsigned char *p)
{
    unsigned c = p[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80) return 0;
        if (c == 0xEF && p[1] == 0xBF && (p[2] == 0xBE || p[2] == 0xBF)) return 0; /* FFFE/F */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        if (p[1] < lo || p[1] > hi || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        return 4;
    }
    return 0;
}

void evm__svg_escaped(evm__svg *s, const char *text)
{
    static const char replacement[] = "\xEF\xBF\xBD";   /* U+FFFD */
    const unsigned char *p = (const unsigned char *)(text ? text : "");
    while (*p) {
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x7F && !strchr("&<>\"'", *p)) p++;
        put(s, (const char *)run, (size_t)(p - run));
        if (!*p) break;
        switch (*p) {
        case '&': evm__svg_raw(s, "&amp;"); p++; continue;
        case '<': evm__svg_raw(s, "&lt;"); p++; continue;
        case '>': evm__svg_raw(s, "&gt;"); p++; continue;
        case '"': evm__svg_raw(s, "&quot;"); p++; continue;
        case '\'': evm__svg_raw(s, "&#39;"); p++; continue;
        case '\t': case '\n': case '\r': evm__svg_raw(s, " "); p++; continue;
        default: break;
        }
        int n = *p == 0x7F ? 0 : utf8_len(p);
        if (n <= 1) {   /* control character or malformed byte */
            put(s, replacement, 3);
            p++;
        } else {
            put(s, (const char *)p, (size_t)n);
            p += n;
        }
    }
}

/* Helvetica (= Arial, Liberation Sans) advance widths, 1/1000 em, for ' ' .. '~'. */
static const short helvetica_width[95] = {
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, /*  ./ */
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, /* 0-? */
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, /* @-O */
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, /* P-_ */
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, /* `-o */
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584};     /* p-~ */

double evm__svg_text_width(const char *text, double size)
{
    double w = 0.0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p >= 0x20 && *p < 0x7F) w += helvetica_width[*p - 0x20];
        else if ((*p & 0xC0) != 0x80) w += 600;   /* first byte of a non-ASCII glyph */
    }
    /* Fallback fonts (DejaVu Sans) run about 8% wider than Helvetica: lay out for them. */
    return w * size * 1.08 / 1000.0;
}

char *evm__svg_fit_text(const char *text, double size, double max_width)
{
    if (evm__svg_text_width(text, size) <= max_width) return evm__strdup(text);
    static const char ellipsis[] = "\xE2\x80\xA6";
    double room = max_width - evm__svg_text_width(ellipsis, size);
    size_t cut = 0;
    double w = 0.0;
    for (size_t i = 0; text[i];) {
        size_t n = 1;
        while (text[i + n] && ((unsigned char)text[i + n] & 0xC0) == 0x80) n++;
        char glyph[8] = {0};
        memcpy(glyph, text + i, n < 7 ? n : 7);
        w += evm__svg_text_width(glyph, size);
        if (w > room) break;
        i += n;
        cut = i;
    }
    char *out = evm__malloc(cut + sizeof ellipsis, 1);
    if (!out) return NULL;
    memcpy(out, text, cut);
    memcpy(out + cut, ellipsis, sizeof ellipsis);
    return out;
}

/* ---------------------------------------------------------------- elements */
int evm__svg_begin(evm__svg *s, double width, double height, const char *title)
{
    char w[40], h[40];
    memset(s, 0, sizeof *s);
    coord(w, width);
    coord(h, height);
    evm__svg_raw(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    putf(s,
         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%s\" height=\"%s\" "
         "viewBox=\"0 0 %s %s\" font-family=\"Helvetica, Arial, 'Liberation Sans', "
         "'DejaVu Sans', sans-serif\">\n",
         w, h, w, h);
    if (title) {
        evm__svg_raw(s, "<title>");
        evm__svg_escaped(s, title);
        evm__svg_raw(s, "</title>\n");
    }
    putf(s, "<rect x=\"0\" y=\"0\" width=\"%s\" height=\"%s\" fill=\"#ffffff\"/>\n", w, h);
    return s->nomem ? -1 : 0;
}

void evm__svg_end(evm__svg *s) { evm__svg_raw(s, "</svg>\n"); }

void evm__svg_line(evm__svg *s, double x1, double y1, double x2, double y2,
                   const char *stroke, double width, const char *dash)
{
    char a[40], b[40], c[40], d[40], w[40];
    putf(s, "<line x1=\"%s\" y1=\"%s\" x2=\"%s\" y2=\"%s\" stroke=\"%s\" stroke-width=\"%s\"",
         coord(a, x1), coord(b, y1), coord(c, x2), coord(d, y2), stroke, coord(w, width));
    if (dash) putf(s, " stroke-dasharray=\"%s\"", dash);
    evm__svg_raw(s, "/>\n");
}

void evm__svg_rect(evm__svg *s, double x, double y, double w, double h, const char *fill,
                   const char *stroke)
{
    char a[40], b[40], c[40], d[40];
    putf(s, "<rect x=\"%s\" y=\"%s\" width=\"%s\" height=\"%s\" fill=\"%s\"", coord(a, x),
         coord(b, y), coord(c, w), coord(d, h), fill ? fill : "none");
    if (stroke) putf(s, " stroke=\"%s\"", stroke);
    evm__svg_raw(s, "/>\n");
}

void evm__svg_circle(evm__svg *s, double cx, double cy, double r, const char *fill,
                     const char *stroke, double stroke_width)
{
    char a[40], b[40], c[40], w[40];
    putf(s, "<circle cx=\"%s\" cy=\"%s\" r=\"%s\" fill=\"%s\"", coord(a, cx), coord(b, cy),
         coord(c, r), fill ? fill : "#ffffff");
    if (stroke) putf(s, " stroke=\"%s\" stroke-width=\"%s\"", stroke, coord(w, stroke_width));
    evm__svg_raw(s, "/>\n");
}

void evm__svg_text(evm__svg *s, double x, double y, const char *text, double size,
                   evm__anchor anchor, int bold, const char *fill, const char *tooltip)
{
    static const char *const anchors[] = {"start", "middle", "end"};
    char a[40], b[40], c[40];
    putf(s, "<text x=\"%s\" y=\"%s\" font-size=\"%s\"", coord(a, x), coord(b, y),
         coord(c, size));
    if (anchor != EVM__START) putf(s, " text-anchor=\"%s\"", anchors[anchor]);
    if (bold) evm__svg_raw(s, " font-weight=\"bold\"");
    putf(s, " fill=\"%s\">", fill ? fill : "#000000");
    if (tooltip) {
        evm__svg_raw(s, "<title>");
        evm__svg_escaped(s, tooltip);
        evm__svg_raw(s, "</title>");
    }
    evm__svg_escaped(s, text);
    evm__svg_raw(s, "</text>\n");
}

/* ---------------------------------------------------------------- axis ticks */
void evm__nice_ticks(double lo, double hi, int target, double *first, double *step,
                     int *nticks, int *decimals)
{
    if (target < 1) target = 1;
    double raw = (hi - lo) / target;
    double mag = pow(10.0, floor(log10(raw)));
    double frac = raw / mag;
    double st = (frac < 1.5 ? 1.0 : frac < 3.5 ? 2.0 : frac < 7.5 ? 5.0 : 10.0) * mag;
    /* Tick values are i * step for whole i, so labels never drift (0.30000000000000004). */
    double i0 = floor(lo / st + 1e-9), i1 = ceil(hi / st - 1e-9);
    *step = st;
    *first = i0 * st;
    *nticks = (int)(i1 - i0) + 1;
    int d = (int)-floor(log10(st) + 1e-9);
    *decimals = d > 0 ? d : 0;
}

/* ---------------------------------------------------------------- saving */
/* Create "<path>.tmp.<pid>.<n>" exclusively (so two writers never share a name). */
static int create_temp(const char *path, char **tmp, evm_ctx *c)
{
    for (unsigned n = 0; n < 1000; n++) {
        free(*tmp);
        if (!(*tmp = evm__asprintf("%s.tmp.%ld.%u", path, (long)getpid(), n)))
            return evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory", path);
        int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) return fd;
        if (errno != EEXIST) break;
    }
    int e = errno;
    free(*tmp);
    *tmp = NULL;
    return evm__fail(c, EVM_ERR_IO, "%s: cannot write the figure: %s", path, strerror(e));
}

int evm__svg_save(const evm__svg *s, const char *path, evm_ctx *c)
{
    if (s->nomem) return evm__fail(c, EVM_ERR_NOMEM, "%s: out of memory", path);
    if (!path || !*path) return evm__fail(c, EVM_ERR_ARG, "no file name for the figure");
    /* Renaming over a folder fails anyway; over a device (/dev/null as root) it would
     * replace the device. */
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return evm__fail(c, EVM_ERR_IO, "%s: cannot write the figure: %s", path,
                         S_ISDIR(st.st_mode) ? "it is a folder" : "not a regular file");
    char *tmp = NULL;
    int fd = create_temp(path, &tmp, c);
    if (fd < 0) return fd;
    int status = EVM_OK, e = 0;
    for (size_t done = 0; done < s->len;) {
        ssize_t n = write(fd, s->buf + done, s->len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            e = n < 0 ? errno : EIO;
            break;
        }
        done += (size_t)n;
    }
    if (!e && fsync(fd) != 0 && errno != EINVAL) e = errno;
    if (close(fd) != 0 && !e) e = errno;
    if (!e && rename(tmp, path) != 0) e = errno;
    if (e) {
        unlink(tmp);
        status = evm__fail(c, EVM_ERR_IO, "%s: cannot write the figure: %s", path,
                           strerror(e));
    }
    free(tmp);
    return status;
}
