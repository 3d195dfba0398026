/* test_plot.c — the SVG figures of models/plot: well-formed XML, every label present and
 * escaped, byte-identical output for the same input, clean failures.
 *
 * With --figures DIR it draws instead the example figures of the documentation from the
 * bundled example (datasets/evaluation_example.csv is `evalmix simulate --seed 2024` with
 * the default design): DIR/forest.svg and DIR/love.svg; --figures-large DIR draws
 * DIR/forest-300.svg (300 implementing schools, to check that tall figures stay legible).
 *   build/tests/test_plot --figures docs/figures */
#include "check.h"
#include "plot/plot.h"
#include "simulate/simulate.h"

#include <dirent.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = 2 * cap + 8192;
            char *b = realloc(buf, cap);
            if (!b) break;
            buf = b;
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got == 0) break;
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Files in dir whose name contains ".tmp." (left-over temporary files). */
static int temp_files_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* ---------------------------------------------------------------- a tiny XML checker */
/* Well-formedness as far as these files need it: an XML declaration, one root element,
 * balanced and properly nested tags, quoted attribute values without '<', '&' only as a
 * known entity, no stray '>' in text, valid UTF-8.  Returns NULL if fine, else why. */
static const char *entity_ok(const char *p)
{
    static const char *const named[] = {"&amp;", "&lt;", "&gt;", "&quot;", "&apos;"};
    for (int i = 0; i < 5; i++)
        if (strncmp(p, named[i], strlen(named[i])) == 0) return NULL;
    if (p[1] == '#') {
        const char *q = p + 2;
        while (*q >= '0' && *q <= '9') q++;
        if (q > p + 2 && *q == ';') return NULL;
    }
    return "'&' that does not start an entity";
}

static const char *utf8_ok(const unsigned char *p)
{
    while (*p) {
        int n = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3
                : (*p & 0xF8) == 0xF0 ? 4 : 0;
        if (!n || (*p < 0x20 && *p != '\n' && *p != '\t' && *p != '\r'))
            return "bad byte";
        for (int i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80) return "truncated UTF-8 sequence";
        p += n;
    }
    return NULL;
}

static const char *xml_check(const char *doc)
{
    const char *why = utf8_ok((const unsigned char *)doc);
    if (why) return why;
    if (strncmp(doc, "<?xml ", 6) != 0) return "no XML declaration";
    const char *p = strstr(doc, "?>");
    if (!p) return "unterminated declaration";
    p += 2;
    char stack[64][32];
    int depth = 0, roots = 0;
    while (*p) {
        if (*p != '<') {
            if (*p == '&' && (why = entity_ok(p))) return why;
            if (*p == '>') return "'>' in text";
            if (depth == 0 && !strchr(" \n\r\t", *p)) return "text outside the root element";
            p++;
            continue;
        }
        if (strncmp(p, "<!--", 4) == 0) {
            const char *e = strstr(p, "-->");
            if (!e) return "unterminated comment";
            p = e + 3;
            continue;
        }
        int closing = p[1] == '/';
        const char *name = p + 1 + closing;
        size_t len = strcspn(name, " \t\n/>");
        if (len == 0 || len >= sizeof stack[0]) return "bad tag name";
        const char *q = name + len;
        if (closing) {
            while (*q == ' ') q++;
            if (*q != '>') return "junk in an end tag";
            if (depth == 0 || strlen(stack[depth - 1]) != len ||
                strncmp(stack[depth - 1], name, len) != 0)
                return "end tag does not match the open element";
            depth--;
            p = q + 1;
            continue;
        }
        /* attributes: name="value" */
        for (;;) {
            while (*q == ' ' || *q == '\n') q++;
            if (*q == '>' || (q[0] == '/' && q[1] == '>')) break;
            size_t alen = strcspn(q, "= \t\n/>");
            if (alen == 0 || q[alen] != '=' || q[alen + 1] != '"') return "bad attribute";
            q += alen + 2;
            for (; *q != '"'; q++) {
                if (!*q) return "unterminated attribute value";
                if (*q == '<') return "'<' in an attribute value";
                if (*q == '&' && (why = entity_ok(q))) return why;
            }
            q++;
        }
        if (depth == 0 && roots++ > 0) return "more than one root element";
        if (*q == '/') {
            p = q + 2;
        } else {
            if (depth == 64) return "nested too deep";
            memcpy(stack[depth], name, len);
            stack[depth++][len] = '\0';
            p = q + 1;
        }
    }
    if (depth != 0) return "unclosed element";
    if (roots != 1) return "no root element";
    return NULL;
}

static void check_xml(const char *path)
{
    char *doc = slurp(path, NULL);
    CHECK(doc != NULL);
    if (!doc) return;
    const char *why = xml_check(doc);
    if (why) fprintf(stderr, "%s: not well-formed XML: %s\n", path, why);
    CHECK(why == NULL);
    free(doc);
}

/* The checker itself must reject what it is meant to catch. */
static void test_checker(void)
{
    CHECK(xml_check("<?xml version=\"1.0\"?>\n<svg><g></g></svg>\n") == NULL);
    CHECK(xml_check("<?xml version=\"1.0\"?>\n<svg><g></svg>") != NULL);
    CHECK(xml_check("<?xml version=\"1.0\"?>\n<svg><text>a & b</text></svg>") != NULL);
    CHECK(xml_check("<?xml version=\"1.0\"?>\n<svg><text>a &lt; b</text></svg>") == NULL);
    CHECK(xml_check("<?xml version=\"1.0\"?>\n<svg a=\"x<y\"/>") != NULL);
    CHECK(xml_check("<?xml version=\"1.0\"?>\n<svg/><svg/>") != NULL);
    CHECK(xml_check("<?xml version=\"1.0\"?>\n<svg>\xff</svg>") != NULL);
}

/* ---------------------------------------------------------------- forest plot */
static char tmpdir[] = "/tmp/test_plot.XXXXXX";

static char *in_tmp(const char *name)
{
    static char buf[8][256];
    static int k = 0;
    char *b = buf[k++ % 8];
    snprintf(b, 256, "%s/%s", tmpdir, name);
    return b;
}

static const char *const tricky_label[] = {"A&B <Academy>", "\"Quoted\" High", "O'Neil Prep",
                                           "Plain School", "Dupont & Sons \"<x>\""};
static const char *const tricky_escaped[] = {
    "A&amp;B &lt;Academy&gt;", "&quot;Quoted&quot; High", "O&#39;Neil Prep", "Plain School",
    "Dupont &amp; Sons &quot;&lt;x&gt;&quot;"};

static void test_forest_labels(evm_ctx *c)
{
    const double est[] = {0.12, -0.30, 0.45, 0.05, 0.20};
    const double lo[] = {-0.10, -0.62, 0.15, NAN, -0.05};
    const double hi[] = {0.34, 0.02, 0.75, NAN, 0.45};
    const char *const group[] = {"Cohort 2", "Cohort 1", "Cohort <2>", "Cohort 1", "Cohort 2"};
    const char *path = in_tmp("forest.svg");
    int st = evm_plot_forest(path, 5, tricky_label, est, lo, hi, group, 0.1,
                             "Effect on \"score\" (SD units) & more", "Title <&> 'x'", c);
    CHECK_INT(st, EVM_OK);
    check_xml(path);
    char *doc = slurp(path, NULL);
    CHECK(doc != NULL);
    if (!doc) return;
    for (int i = 0; i < 5; i++) {
        if (!strstr(doc, tricky_escaped[i])) fprintf(stderr, "missing: %s\n", tricky_escaped[i]);
        CHECK(strstr(doc, tricky_escaped[i]) != NULL);
    }
    CHECK(strstr(doc, "Effect on &quot;score&quot; (SD units) &amp; more") != NULL);
    CHECK(strstr(doc, "Title &lt;&amp;&gt; &#39;x&#39;") != NULL);
    CHECK(strstr(doc, ">Cohort 1</text>") != NULL);
    CHECK(strstr(doc, ">Cohort &lt;2&gt;</text>") != NULL);
    CHECK(strstr(doc, "Pooled effect 0.10") != NULL);
    CHECK(strstr(doc, "stroke-dasharray") != NULL);   /* the line at 0 */
    CHECK(strstr(doc, "0.45 [0.15, 0.75]") != NULL);   /* value column */
    CHECK(strstr(doc, "\xE2\x88\x92" "0.30 [\xE2\x88\x92" "0.62, 0.02]") != NULL);
    /* Ordered by estimate, largest on top: S3 (0.45) above S1 (0.12) above S2 (-0.30). */
    const char *a = strstr(doc, tricky_escaped[2]), *b = strstr(doc, tricky_escaped[0]),
               *d = strstr(doc, tricky_escaped[1]);
    CHECK(a && b && d && a < b && b < d);
    /* Three groups, three colours in the legend; group colours from Okabe-Ito. */
    CHECK(strstr(doc, "#0072B2") && strstr(doc, "#D55E00") && strstr(doc, "#009E73"));
    free(doc);

    /* Control characters and broken UTF-8 in a label become U+FFFD, never raw bytes. */
    const char *const odd[] = {"bell\x07school", "broken \xC3 utf8", "ok \xC3\xA9" "cole"};
    const double e3[] = {0, 1, 2}, l3[] = {-1, 0, 1}, h3[] = {1, 2, 3};
    st = evm_plot_forest(path, 3, odd, e3, l3, h3, NULL, NAN, NULL, NULL, c);
    CHECK_INT(st, EVM_OK);
    check_xml(path);
    doc = slurp(path, NULL);
    CHECK(doc && strstr(doc, "bell\xEF\xBF\xBDschool") && strstr(doc, "ok \xC3\xA9" "cole"));
    CHECK(doc && !strstr(doc, "Pooled effect"));   /* NaN pooled: no pooled line */
    free(doc);
}

static void test_forest_identical(evm_ctx *c)
{
    enum { N = 57 };
    const char *label[N];
    char names[N][16];
    double est[N], lo[N], hi[N];
    const char *group[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "School %02d", i + 1);
        label[i] = names[i];
        est[i] = sin(i * 1.7) * 0.3;
        lo[i] = est[i] - 0.1 - 0.01 * i;
        hi[i] = est[i] + 0.1 + 0.01 * i;
        group[i] = i % 3 ? "Cohort 1" : "Cohort 2";
    }
    const char *p1 = in_tmp("same1.svg"), *p2 = in_tmp("same2.svg");
    CHECK_INT(evm_plot_forest(p1, N, label, est, lo, hi, group, 0.03, "Effect", "T", c), 0);
    CHECK_INT(evm_plot_forest(p2, N, label, est, lo, hi, group, 0.03, "Effect", "T", c), 0);
    size_t n1, n2;
    char *a = slurp(p1, &n1), *b = slurp(p2, &n2);
    CHECK(a && b && n1 == n2 && memcmp(a, b, n1) == 0);
    /* Writing over an existing file replaces it (atomically) with the same bytes. */
    CHECK_INT(evm_plot_forest(p1, N, label, est, lo, hi, group, 0.03, "Effect", "T", c), 0);
    char *a2 = slurp(p1, &n2);
    CHECK(a2 && n1 == n2 && memcmp(a, a2, n1) == 0);
    free(a);
    free(b);
    free(a2);
}

/* 300 schools: every label is drawn and the figure grows in height, not in density. */
static void test_forest_tall(evm_ctx *c)
{
    enum { N = 300 };
    const char *label[N];
    char names[N][16];
    double est[N], lo[N], hi[N];
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof names[i], "S%03d", i + 1);
        label[i] = names[i];
        est[i] = 0.2 + 0.15 * sin(i * 0.37);
        lo[i] = est[i] - 0.2;
        hi[i] = est[i] + 0.2;
    }
    const char *path = in_tmp("tall.svg");
    CHECK_INT(evm_plot_forest(path, N, label, est, lo, hi, NULL, 0.2, "Effect", NULL, c), 0);
    check_xml(path);
    char *doc = slurp(path, NULL);
    CHECK(doc != NULL);
    if (!doc) return;
    for (int i = 0; i < N; i++) CHECK(strstr(doc, names[i]) != NULL);
    const char *h = strstr(doc, "height=\"");
    double height = h ? atof(h + 8) : 0;
    CHECK(height >= N * 10 && height <= N * 12);   /* 10 px rows and a little furniture */
    CHECK_INT(count_of(doc, "<circle"), N);
    free(doc);
}

static void test_forest_errors(evm_ctx *c)
{
    const char *const label[] = {"a", "b"};
    const double est[] = {0.1, 0.2}, lo[] = {0, 0.1}, hi[] = {0.2, 0.3};
    const double bad_est[] = {0.1, NAN}, bad_lo[] = {0.3, 0.1};

    const char *path = in_tmp("never.svg");
    CHECK_INT(evm_plot_forest(path, 0, label, est, lo, hi, NULL, 0, NULL, NULL, c),
              EVM_ERR_ARG);
    CHECK_INT(evm_plot_forest(path, 2, label, bad_est, lo, hi, NULL, 0, NULL, NULL, c),
              EVM_ERR_VALUE);
    CHECK(strstr(evm_ctx_message(c), "'b'") != NULL);
    CHECK_INT(evm_plot_forest(path, 2, label, est, bad_lo, hi, NULL, 0, NULL, NULL, c),
              EVM_ERR_VALUE);
    CHECK(!exists(path));

    /* A folder that does not exist: one line naming the path; nothing created. */
    const char *missing = in_tmp("no/such/folder/f.svg");
    CHECK_INT(evm_plot_forest(missing, 2, label, est, lo, hi, NULL, 0, NULL, NULL, c),
              EVM_ERR_IO);
    CHECK(strstr(evm_ctx_message(c), missing) == evm_ctx_message(c));
    CHECK(strchr(evm_ctx_message(c), '\n') == NULL);
    /* A path whose "folder" is a file, and a path that is a folder. */
    const char *file = in_tmp("plain.txt");
    FILE *f = fopen(file, "w");
    if (f) fclose(f);
    char under_file[300];
    snprintf(under_file, sizeof under_file, "%s/f.svg", file);
    CHECK_INT(evm_plot_forest(under_file, 2, label, est, lo, hi, NULL, 0, NULL, NULL, c),
              EVM_ERR_IO);
    CHECK(strstr(evm_ctx_message(c), under_file) != NULL);
    CHECK_INT(evm_plot_love(tmpdir, 1, label, est, NULL, 0, NULL, NULL, c), EVM_ERR_IO);
    CHECK(strstr(evm_ctx_message(c), "folder") != NULL);
    CHECK_INT(temp_files_in(tmpdir), 0);
    /* Root can write anywhere, so unwritable folders are tested only for other users. */
    if (geteuid() != 0) {
        const char *ro = in_tmp("readonly");
        mkdir(ro, 0555);
        char inside[300];
        snprintf(inside, sizeof inside, "%s/f.svg", ro);
        CHECK_INT(evm_plot_forest(inside, 2, label, est, lo, hi, NULL, 0, NULL, NULL, c),
                  EVM_ERR_IO);
        CHECK(!exists(inside));
        CHECK_INT(temp_files_in(ro), 0);
        rmdir(ro);
    }
    unlink(file);
}

/* ---------------------------------------------------------------- Love plot */
static void test_love(evm_ctx *c)
{
    const char *const cov[] = {"prior <score>", "frl & ell", "\"black\"", "school's mean"};
    const char *const esc[] = {"prior &lt;score&gt;", "frl &amp; ell", "&quot;black&quot;",
                               "school&#39;s mean"};
    const double before[] = {0.31, -0.12, 0.08, NAN}, after[] = {0.02, 0.04, -0.01, 0.2};
    const double thr[] = {0.05, 0.25};
    const char *path = in_tmp("love.svg");
    CHECK_INT(evm_plot_love(path, 4, cov, before, after, 2, thr, "Balance & <more>", c), 0);
    check_xml(path);
    char *doc = slurp(path, NULL);
    CHECK(doc != NULL);
    if (!doc) return;
    for (int i = 0; i < 4; i++) CHECK(strstr(doc, esc[i]) != NULL);
    CHECK(strstr(doc, "Balance &amp; &lt;more&gt;") != NULL);
    CHECK(strstr(doc, ">0.05</text>") && strstr(doc, ">0.25</text>"));
    CHECK(strstr(doc, "Before matching") && strstr(doc, "After matching"));
    CHECK_INT(count_of(doc, "stroke-dasharray"), 2);
    /* 3 open (before; one NaN) + 4 filled (after) + 2 legend markers */
    CHECK_INT(count_of(doc, "<circle"), 3 + 4 + 2);
    CHECK(strstr(doc, "Absolute standardized mean difference") != NULL);
    /* byte-identical on a second run */
    const char *path2 = in_tmp("love2.svg");
    CHECK_INT(evm_plot_love(path2, 4, cov, before, after, 2, thr, "Balance & <more>", c), 0);
    size_t n1, n2;
    char *a = slurp(path, &n1), *b = slurp(path2, &n2);
    CHECK(a && b && n1 == n2 && memcmp(a, b, n1) == 0);
    free(a);
    free(b);
    free(doc);

    /* A long title widens the figure rather than running off its edge. */
    const char long_title[] = "Baseline equivalence of the matched sample: absolute Hedges' g "
                              "or Cox index of every covariate, before and after matching";
    double plain_w = 0, long_w = 0;
    CHECK_INT(evm_plot_love(path, 4, cov, before, after, 2, thr, "Short", c), 0);
    doc = slurp(path, NULL);
    if (doc && strstr(doc, "width=\"")) plain_w = atof(strstr(doc, "width=\"") + 7);
    free(doc);
    CHECK_INT(evm_plot_love(path, 4, cov, before, after, 2, thr, long_title, c), 0);
    doc = slurp(path, NULL);
    if (doc && strstr(doc, "width=\"")) long_w = atof(strstr(doc, "width=\"") + 7);
    free(doc);
    CHECK(plain_w > 400 && long_w > plain_w + 300);

    /* Without "after": one legend entry; errors. */
    CHECK_INT(evm_plot_love(path, 2, cov, before, NULL, 0, NULL, NULL, c), 0);
    check_xml(path);
    const double inf[] = {INFINITY, 0.1}, neg[] = {-0.1};
    CHECK_INT(evm_plot_love(in_tmp("bad.svg"), 2, cov, inf, NULL, 0, NULL, NULL, c),
              EVM_ERR_VALUE);
    CHECK_INT(evm_plot_love(in_tmp("bad.svg"), 2, cov, before, NULL, 1, neg, NULL, c),
              EVM_ERR_VALUE);
    CHECK_INT(evm_plot_love(in_tmp("bad.svg"), 0, cov, before, NULL, 0, NULL, NULL, c),
              EVM_ERR_ARG);
    CHECK(!exists(in_tmp("bad.svg")));
}

/* ---------------------------------------------------------------- example figures */
/* The documentation's figures from the bundled example's design: fit the README's model,
 * then plot the implementing schools' effects (fixed effect for the cohort + the school's
 * random slope; interval +- 1.96 sqrt(SE^2 + condSD^2)). */
static int coef_index(const evm_result *r, const char *name)
{
    for (int j = 0; j < r->p; j++)
        if (strcmp(r->fixef_name[j], name) == 0) return j;
    return -1;
}

static int forest_example(const char *dir, int32_t schools, int64_t students, const char *name,
                          evm_ctx *c)
{
    evm_sim_opts o;
    evm_sim_opts_default(&o);
    o.schools = schools;
    o.students = students;
    o.seed = 2024;
    evm_sim *s = NULL;
    evm_frame *f = NULL;
    evm_lmm *m = NULL;
    evm_result *r = NULL;
    evm_lmm_opts lo;
    evm_lmm_opts_default(&lo);
    int st = evm_sim_create(&o, &s, c);
    if (st >= 0) st = evm_sim_frame(s, &f, c);
    if (st >= 0)
        st = evm_lmm_create("score ~ prior + frl + treat*factor(cohort) + (1 + treat|school) + "
                            "(1|school:classroom)",
                            f, &lo, &m, c);
    if (st >= 0) st = evm_lmm_fit(m, c);
    if (st >= 0) st = evm_lmm_result(m, &r, c);
    if (st < 0) {
        fprintf(stderr, "example: %s\n", evm_ctx_message(c));
        goto cleanup;
    }
    int jt = coef_index(r, "treat"), ji = coef_index(r, "treat:factor(cohort)2");
    const evm_ranef *re = NULL;
    for (int g = 0; g < r->nranef; g++)
        if (strcmp(r->ranef[g].name, "school") == 0) re = &r->ranef[g];
    int32_t n;
    const evm_sim_school *sc = evm_sim_schools(s, &n);
    const char **label = calloc((size_t)n, sizeof *label), **group = calloc((size_t)n, sizeof *group);
    double *est = calloc((size_t)n, sizeof *est), *lo95 = calloc((size_t)n, sizeof *lo95),
           *hi95 = calloc((size_t)n, sizeof *hi95);
    int64_t k = 0, covered = 0;
    const int p = r->p;
    for (int32_t i = 0; i < n; i++) {
        if (!sc[i].implementing) continue;
        int c2 = sc[i].cohort == 2;
        double b = r->beta[jt] + (c2 ? r->beta[ji] : 0);
        double v = r->vcov[jt * p + jt] +
                   (c2 ? r->vcov[ji * p + ji] + 2 * r->vcov[jt * p + ji] : 0);
        double mode = re->mode[i * re->nterms + 1], csd = re->condsd[i * re->nterms + 1];
        double half = 1.959964 * sqrt(v + csd * csd);
        label[k] = sc[i].label;
        group[k] = c2 ? "Cohort 2 (second year)" : "Cohort 1 (first year)";
        est[k] = b + mode;
        lo95[k] = est[k] - half;
        hi95[k] = est[k] + half;
        covered += fabs(sc[i].effect - est[k]) <= half;
        k++;
    }
    double pooled = r->beta[jt] + 0.5 * r->beta[ji];   /* mean of the two cohorts' effects */
    char path[512], title[160];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(title, sizeof title, "School-by-school effects (%lld implementing schools)",
             (long long)k);
    st = evm_plot_forest(path, k, label, est, lo95, hi95, group, pooled,
                         "Effect on the outcome (SD units), 95% interval", title, c);
    if (st < 0) fprintf(stderr, "example: %s\n", evm_ctx_message(c));
    else printf("%s: %lld of %lld intervals cover the true school effect\n", path,
                (long long)covered, (long long)k);
    free(label);
    free(group);
    free(est);
    free(lo95);
    free(hi95);
cleanup:
    evm_result_free(&r);
    evm_lmm_destroy(&m);
    evm_frame_destroy(&f);
    evm_sim_destroy(&s);
    return st;
}

typedef struct {
    double prior, frl, ell, black, school_prior, school_frl;
    int cohort;
} student;

/* SMD of covariate `off` (a double member) between treated t[nt] and comparison u[nu]
 * (comparison members weighted by w, NULL = 1). */
static double smd(const student *t, int64_t nt, const student *u, int64_t nu, const double *w,
                  size_t off)
{
#define VAL(a, i) (*(const double *)((const char *)&(a)[i] + off))
    double mt = 0, mu = 0, vt = 0, vu = 0, sw = 0;
    for (int64_t i = 0; i < nt; i++) mt += VAL(t, i);
    mt /= nt;
    for (int64_t i = 0; i < nu; i++) {
        mu += (w ? w[i] : 1) * VAL(u, i);
        sw += w ? w[i] : 1;
    }
    mu /= sw;
    for (int64_t i = 0; i < nt; i++) vt += (VAL(t, i) - mt) * (VAL(t, i) - mt);
    for (int64_t i = 0; i < nu; i++) vu += (VAL(u, i) - mu) * (VAL(u, i) - mu);
    vt /= nt - 1;
    vu /= nu - 1;   /* the pooled SD of the unmatched samples, as cobalt's default */
#undef VAL
    return (mt - mu) / sqrt(0.5 * (vt + vu));
}

/* Treated students against the students of comparison schools, before and after a crude
 * 1:1 nearest-neighbour match on the prior score within cohort (with replacement). */
static int love_example(const char *dir, evm_ctx *c)
{
    evm_sim_opts o;
    evm_sim_opts_default(&o);
    o.seed = 2024;
    evm_sim *s = NULL;
    evm_frame *f = NULL;
    int st = evm_sim_create(&o, &s, c);
    if (st >= 0) st = evm_sim_frame(s, &f, c);
    if (st < 0) {
        fprintf(stderr, "example: %s\n", evm_ctx_message(c));
        evm_sim_destroy(&s);
        return st;
    }
    int64_t n = evm_frame_nrows(f);
    const double *prior = evm_frame_numeric(f, evm_frame_find(f, "prior", EVM_COL_NUMERIC));
    const double *frl = evm_frame_numeric(f, evm_frame_find(f, "frl", EVM_COL_NUMERIC));
    const double *ell = evm_frame_numeric(f, evm_frame_find(f, "ell", EVM_COL_NUMERIC));
    const double *black = evm_frame_numeric(f, evm_frame_find(f, "black", EVM_COL_NUMERIC));
    const double *treat = evm_frame_numeric(f, evm_frame_find(f, "treat", EVM_COL_NUMERIC));
    const double *cohort = evm_frame_numeric(f, evm_frame_find(f, "cohort", EVM_COL_NUMERIC));
    const int32_t *school = evm_frame_codes(f, evm_frame_find(f, "school", EVM_COL_FACTOR));
    int32_t ns;
    const evm_sim_school *sc = evm_sim_schools(s, &ns);
    double *sp = calloc((size_t)ns, sizeof *sp), *sf = calloc((size_t)ns, sizeof *sf);
    for (int64_t i = 0; i < n; i++) {
        sp[school[i]] += prior[i] / sc[school[i]].nstudents;
        sf[school[i]] += frl[i] / sc[school[i]].nstudents;
    }
    student *t = calloc((size_t)n, sizeof *t), *u = calloc((size_t)n, sizeof *u);
    double *w = calloc((size_t)n, sizeof *w);
    int64_t nt = 0, nu = 0;
    for (int64_t i = 0; i < n; i++) {
        student x = {prior[i], frl[i], ell[i], black[i], sp[school[i]], sf[school[i]],
                     (int)cohort[i]};
        if (treat[i] == 1) t[nt++] = x;
        else if (!sc[school[i]].implementing) u[nu++] = x;
    }
    for (int64_t i = 0; i < nt; i++) {   /* nearest comparison prior in the same cohort */
        int64_t best = -1;
        for (int64_t j = 0; j < nu; j++)
            if (u[j].cohort == t[i].cohort &&
                (best < 0 || fabs(u[j].prior - t[i].prior) < fabs(u[best].prior - t[i].prior)))
                best = j;
        if (best >= 0) w[best] += 1;
    }
    static const char *const names[] = {"Prior score", "Free/reduced-price lunch",
                                        "English learner", "Black",
                                        "School mean prior score", "School share FRL"};
    const size_t offs[] = {offsetof(student, prior),        offsetof(student, frl),
                           offsetof(student, ell),          offsetof(student, black),
                           offsetof(student, school_prior), offsetof(student, school_frl)};
    double before[6], after[6];
    for (int j = 0; j < 6; j++) {
        before[j] = smd(t, nt, u, nu, NULL, offs[j]);
        after[j] = smd(t, nt, u, nu, w, offs[j]);
    }
    const double thr[] = {0.05, 0.25};
    char path[512];
    snprintf(path, sizeof path, "%s/love.svg", dir);
    st = evm_plot_love(path, 6, names, before, after, 2, thr,
                       "Covariate balance: treated students vs comparison schools", c);
    if (st < 0) fprintf(stderr, "example: %s\n", evm_ctx_message(c));
    free(t);
    free(u);
    free(w);
    free(sp);
    free(sf);
    evm_frame_destroy(&f);
    evm_sim_destroy(&s);
    return st;
}

int main(int argc, char **argv)
{
    evm_ctx *c = evm_ctx_create();
    if (argc == 3 && strcmp(argv[1], "--figures") == 0) {
        int st = forest_example(argv[2], 40, 5000, "forest.svg", c);
        if (st >= 0) st = love_example(argv[2], c);
        evm_ctx_destroy(&c);
        return st < 0;
    }
    if (argc == 3 && strcmp(argv[1], "--figures-large") == 0) {
        int st = forest_example(argv[2], 600, 75000, "forest-300.svg", c);
        evm_ctx_destroy(&c);
        return st < 0;
    }
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_checker();
    test_forest_labels(c);
    test_forest_identical(c);
    test_forest_tall(c);
    test_forest_errors(c);
    test_love(c);
    evm_ctx_destroy(&c);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_summary("test_plot");
}
