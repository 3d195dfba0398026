/* test_csv.c — the CSV reader and the data frame: typing, quoting, missing values,
 * factor levels, every error message, SHA-256, thread invariance, the number parser. */
#include "check.h"
#include "data/data_internal.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- helpers */

#define MAX_TMP 256
static char tmp_paths[MAX_TMP][64];
static int ntmp;

/* A temporary file holding exactly n bytes; removed at the end of main. */
static const char *tmp_file(const char *data, size_t n)
{
    char *path = tmp_paths[ntmp++];
    snprintf(path, 64, "/tmp/evm_csv_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || (n && write(fd, data, n) != (ssize_t)n)) {
        perror("tmp_file");
        exit(2);
    }
    close(fd);
    return path;
}
#define TMP(lit) tmp_file(lit, sizeof(lit) - 1)

static evm_ctx *ctx;

static evm_frame *read_ok(const char *path, const evm_colreq *req, int nreq)
{
    evm_frame *f = NULL;
    evm_ctx_clear(ctx);
    int st = evm_csv_read(path, req, nreq, &f, ctx);
    CHECK_INT(st, EVM_OK);
    if (st != EVM_OK) fprintf(stderr, "  message: %s\n", evm_ctx_message(ctx));
    return f;
}

/* Read `content` and expect status st with the message fmt (its %s is the path). */
static void expect_err_at(int line, const char *content, size_t n, const evm_colreq *req,
                          int nreq, int st, const char *fmt)
{
    const char *path = tmp_file(content, n);
    char want[1024];
    snprintf(want, sizeof want, fmt, path);
    evm_frame *f = (evm_frame *)&f;   /* must come back NULL */
    evm_ctx_clear(ctx);
    int got = evm_csv_read(path, req, nreq, &f, ctx);
    if (got != st || f != NULL || strcmp(evm_ctx_message(ctx), want) != 0)
        fprintf(stderr, "  (expect_err called from line %d)\n", line);
    CHECK_INT(got, st);
    CHECK(f == NULL);
    CHECK_INT(evm_ctx_status(ctx), st);
    CHECK_STR(evm_ctx_message(ctx), want);
}
#define EXPECT_ERR(lit, req, nreq, st, fmt) \
    expect_err_at(__LINE__, lit, sizeof(lit) - 1, req, nreq, st, fmt)

static const char *level(const evm_frame *f, int col, int32_t k)
{
    return evm_frame_level(f, col, k);
}

/* "a|b|c": the levels of a factor column joined, for compact checks. */
static const char *levels_str(const evm_frame *f, int col)
{
    static char buf[1024];
    size_t used = 0;
    buf[0] = '\0';
    for (int32_t k = 0; k < evm_frame_nlevels(f, col); k++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", k ? "|" : "",
                                 level(f, col, k));
    return buf;
}

/* ---------------------------------------------------------------- typing */

static void test_basic(void)
{
    const char *path = TMP("id,name,score,empty\n1,b,2.5,\n2,a,,NA\n3,b,-1e-3,\n");
    evm_colreq req[] = {{"score", EVM_AS_AUTO}, {"name", EVM_AS_AUTO}, {"id", EVM_AS_AUTO},
                        {"empty", EVM_AS_AUTO}};
    evm_frame *f = read_ok(path, req, 4);
    if (!f) return;
    CHECK_INT(evm_frame_nrows(f), 3);
    CHECK_INT(evm_frame_rows_read(f), 3);
    CHECK_INT(evm_frame_ncols(f), 4);
    CHECK_STR(evm_frame_path(f), path);
    CHECK_STR(evm_frame_name(f, 0), "score");
    CHECK_INT(evm_frame_type(f, 0), EVM_COL_NUMERIC);
    const double *x = evm_frame_numeric(f, 0);
    CHECK(x && x[0] == 2.5 && isnan(x[1]) && x[2] == -1e-3);
    CHECK(evm_frame_codes(f, 0) == NULL);
    CHECK_INT(evm_frame_type(f, 1), EVM_COL_FACTOR);
    CHECK_STR(levels_str(f, 1), "a|b");
    const int32_t *k = evm_frame_codes(f, 1);
    CHECK(k && k[0] == 1 && k[1] == 0 && k[2] == 1);
    CHECK(evm_frame_numeric(f, 1) == NULL);
    CHECK_INT(evm_frame_type(f, 2), EVM_COL_NUMERIC);
    CHECK(evm_frame_numeric(f, 2)[2] == 3);
    /* no value at all: numeric, all missing */
    CHECK_INT(evm_frame_type(f, 3), EVM_COL_NUMERIC);
    CHECK(isnan(evm_frame_numeric(f, 3)[0]) && isnan(evm_frame_numeric(f, 3)[2]));
    CHECK_INT(evm_frame_find(f, "name", -1), 1);
    CHECK_INT(evm_frame_find(f, "name", EVM_COL_NUMERIC), -1);
    CHECK_INT(evm_frame_find(f, "nope", -1), -1);
    CHECK(evm_frame_name(f, 4) == NULL);
    CHECK(evm_frame_level(f, 1, 2) == NULL);
    evm_frame_destroy(&f);
    CHECK(f == NULL);
    evm_frame_destroy(&f);   /* NULL: no-op */
    evm_frame_destroy(NULL);
}

static void test_numbers_in_text(void)
{
    /* spaces around unquoted values are dropped; signs, exponents, leading dots */
    const char *path = TMP("x,y\n  7 ,+.5\n-0,5.\n 1E+2,\t2e-1\n");
    evm_colreq req[] = {{"x", EVM_AS_AUTO}, {"y", EVM_AS_AUTO}};
    evm_frame *f = read_ok(path, req, 2);
    if (!f) return;
    const double *x = evm_frame_numeric(f, 0), *y = evm_frame_numeric(f, 1);
    CHECK(x && y);
    if (x && y) {
        CHECK(x[0] == 7 && x[1] == 0 && signbit(x[1]) && x[2] == 100);
        CHECK(y[0] == 0.5 && y[1] == 5 && y[2] == 0.2);
    }
    evm_frame_destroy(&f);
}

static void test_missing(void)
{
    /* empty, NA, "NA" and "" are missing, quoted or not; " NA " unquoted too */
    const char *path = TMP("a,b,c\nNA,\"x\",1\n\"NA\",\"\",\"2\"\n,NA, NA \n\"\",y,\n");
    evm_colreq req[] = {{"a", EVM_AS_AUTO}, {"b", EVM_AS_AUTO}, {"c", EVM_AS_FACTOR}};
    evm_frame *f = read_ok(path, req, 3);
    if (!f) return;
    CHECK_INT(evm_frame_nrows(f), 4);
    CHECK_INT(evm_frame_type(f, 0), EVM_COL_NUMERIC);
    for (int i = 0; i < 4; i++) CHECK(isnan(evm_frame_numeric(f, 0)[i]));
    CHECK_STR(levels_str(f, 1), "x|y");
    const int32_t *b = evm_frame_codes(f, 1);
    CHECK(b[0] == 0 && b[1] == -1 && b[2] == -1 && b[3] == 1);
    CHECK_STR(levels_str(f, 2), "1|2");
    const int32_t *c = evm_frame_codes(f, 2);
    CHECK(c[0] == 0 && c[1] == 1 && c[2] == -1 && c[3] == -1);
    evm_frame_destroy(&f);
}

/* ---------------------------------------------------------------- quoting, lines */

static void test_quoting(void)
{
    const char *path = TMP("\"id\",\"full name\",note\n"
                           "1,\"Smith, Jo\",\"say \"\"hi\"\"\"\n"
                           "2,\"two\nlines\",\"\"\"\"\n"
                           "3,plain,\"a\"\"b\"\"c\"  \n");
    evm_colreq req[] = {{"full name", EVM_AS_AUTO}, {"note", EVM_AS_AUTO},
                        {"id", EVM_AS_AUTO}};
    evm_frame *f = read_ok(path, req, 3);
    if (!f) return;
    CHECK_INT(evm_frame_nrows(f), 3);
    CHECK_STR(levels_str(f, 0), "Smith, Jo|plain|two\nlines");
    CHECK_STR(levels_str(f, 1), "\"|a\"b\"c|say \"hi\"");
    const double *id = evm_frame_numeric(f, 2);
    CHECK(id && id[0] == 1 && id[1] == 2 && id[2] == 3);
    evm_frame_destroy(&f);

    /* quoted values keep their spaces (and so are text) */
    path = TMP("a\n\" x \"\nx\n");
    evm_colreq ra = {"a", EVM_AS_AUTO};
    f = read_ok(path, &ra, 1);
    if (f) CHECK_STR(levels_str(f, 0), " x |x");
    evm_frame_destroy(&f);
}

static void test_line_ends(void)
{
    /* CRLF, BOM, quoted field before CRLF, last line without newline */
    const char *path = TMP("\xef\xbb\xbfx,g\r\n1,\"a\"\r\n2,b\r\n3,c");
    evm_colreq req[] = {{"x", EVM_AS_AUTO}, {"g", EVM_AS_AUTO}};
    evm_frame *f = read_ok(path, req, 2);
    if (!f) return;
    CHECK_INT(evm_frame_nrows(f), 3);
    CHECK(evm_frame_numeric(f, 0)[2] == 3);
    CHECK_STR(levels_str(f, 1), "a|b|c");
    evm_frame_destroy(&f);

    /* blank lines at the end are ignored, also CRLF ones */
    path = TMP("x\r\n1\r\n2\r\n\r\n\r\n");
    evm_colreq rx = {"x", EVM_AS_AUTO};
    f = read_ok(path, &rx, 1);
    if (f) CHECK_INT(evm_frame_nrows(f), 2);
    evm_frame_destroy(&f);

    /* in a one-column file a blank line inside the data is a missing value */
    path = TMP("x\n1\n\n3\n\n");
    f = read_ok(path, &rx, 1);
    if (f) {
        CHECK_INT(evm_frame_nrows(f), 3);
        CHECK(isnan(evm_frame_numeric(f, 0)[1]) && evm_frame_numeric(f, 0)[2] == 3);
    }
    evm_frame_destroy(&f);

    /* more blank lines than a batch holds (small files get small batches) */
    char many[400];
    size_t nm = (size_t)sprintf(many, "x\n1\n");
    memset(many + nm, '\n', 300);
    nm += 300;
    nm += (size_t)sprintf(many + nm, "2\n\n");
    f = read_ok(tmp_file(many, nm), &rx, 1);
    if (f) {
        CHECK_INT(evm_frame_nrows(f), 302);
        CHECK(evm_frame_numeric(f, 0)[0] == 1 && isnan(evm_frame_numeric(f, 0)[300]) &&
              evm_frame_numeric(f, 0)[301] == 2);
    }
    evm_frame_destroy(&f);

    /* header only: an error naming the file (every model needs rows); a trailing empty
     * field */
    evm_colreq rab[] = {{"a", EVM_AS_AUTO}, {"b", EVM_AS_FACTOR}};
    EXPECT_ERR("a,b\n", rab, 2, EVM_ERR_CSV, "%s: no data rows (only a header)");
    EXPECT_ERR("a,b", rab, 2, EVM_ERR_CSV, "%s: no data rows (only a header)");
    EXPECT_ERR("a\r\n\r\n\n", rab, 1, EVM_ERR_CSV, "%s: no data rows (only a header)");
    EXPECT_ERR("a,b\n", rab, 0, EVM_ERR_CSV, "%s: no data rows (only a header)");
    /* CR-only line ends (classic Mac): said at line 1, not as a header of odd names */
    EXPECT_ERR("y,x,g\r1,1,a\r2,2,b\r", rab, 1, EVM_ERR_CSV,
               "%s:1: line ends are CR only (classic Mac); convert them to LF or CRLF");
    EXPECT_ERR("a\r1\r2\r", rab, 1, EVM_ERR_CSV,
               "%s:1: line ends are CR only (classic Mac); convert them to LF or CRLF");
    /* ... also when only the data rows have them; a CR inside quotes is content */
    EXPECT_ERR("a,b\n1,2\r3,4\r", rab, 1, EVM_ERR_CSV,
               "%s:2: line ends are CR only (classic Mac); convert them to LF or CRLF");
    path = TMP("\"a\rb\",c\r\n1,2\r\n");
    evm_colreq rcr = {"a\rb", EVM_AS_AUTO};
    f = read_ok(path, &rcr, 1);
    if (f) CHECK(evm_frame_numeric(f, 0)[0] == 1);
    evm_frame_destroy(&f);
    path = TMP("a,b\n1,");
    f = read_ok(path, rab, 2);
    if (f) CHECK(evm_frame_codes(f, 1)[0] == -1);
    evm_frame_destroy(&f);
}

/* ---------------------------------------------------------------- factors */

static void test_factor_levels(void)
{
    /* numeric factor: numeric order, "01" == "1", R's labels */
    const char *path = TMP("g,h,t\n10,b,1\n2,B,x\n01,a,2\n1,_,1\n1e5,b,\n0.1,10,NaN\n"
                           "-3,a,Inf\n100000,B,1\n");
    evm_colreq req[] = {{"g", EVM_AS_FACTOR}, {"h", EVM_AS_FACTOR}, {"t", EVM_AS_FACTOR},
                        {"g", EVM_AS_AUTO}};
    evm_frame *f = read_ok(path, req, 4);
    if (!f) return;
    CHECK_STR(levels_str(f, 0), "-3|0.1|1|2|10|1e+05");
    const int32_t *g = evm_frame_codes(f, 0);
    CHECK(g[0] == 4 && g[1] == 3 && g[2] == 2 && g[3] == 2 && g[4] == 5 && g[5] == 1 &&
          g[6] == 0 && g[7] == 5);
    /* byte order (C locale): digits < upper case < '_' < lower case */
    CHECK_STR(levels_str(f, 1), "10|B|_|a|b");
    /* NaN and Inf are text in a factor column, so byte order applies */
    CHECK_STR(levels_str(f, 2), "1|2|Inf|NaN|x");
    /* the same name twice: two columns, found by type */
    CHECK_INT(evm_frame_ncols(f), 4);
    CHECK_INT(evm_frame_find(f, "g", EVM_COL_FACTOR), 0);
    CHECK_INT(evm_frame_find(f, "g", EVM_COL_NUMERIC), 3);
    CHECK_INT(evm_frame_find(f, "g", -1), 0);
    CHECK(evm_frame_numeric(f, 3)[4] == 1e5);
    evm_frame_destroy(&f);

    /* integers take a fast path; other spellings of the same number join them */
    path = TMP("a,b\n0,0\n-0,-0\n007,x\n7,7\n-12,-12\n123456789012345,1\n");
    evm_colreq rab[] = {{"a", EVM_AS_FACTOR}, {"b", EVM_AS_FACTOR}};
    f = read_ok(path, rab, 2);
    if (!f) return;
    CHECK_STR(levels_str(f, 0), "-12|0|7|123456789012345");
    const int32_t *a = evm_frame_codes(f, 0);
    CHECK(a[0] == 1 && a[1] == 1 && a[2] == 2 && a[3] == 2 && a[4] == 0 && a[5] == 3);
    CHECK_STR(levels_str(f, 1), "-0|-12|0|1|7|x");
    evm_frame_destroy(&f);

    /* the same column as number and as factor */
    path = TMP("cohort\n2019\n2018\n2019\n");
    evm_colreq r2[] = {{"cohort", EVM_AS_AUTO}, {"cohort", EVM_AS_FACTOR}};
    f = read_ok(path, r2, 2);
    if (!f) return;
    CHECK_INT(evm_frame_find(f, "cohort", EVM_COL_NUMERIC), 0);
    CHECK_INT(evm_frame_find(f, "cohort", EVM_COL_FACTOR), 1);
    CHECK_STR(levels_str(f, 1), "2018|2019");
    evm_frame_destroy(&f);
}

static void test_r_labels(void)
{
    /* as.character() in R 4.2.2 */
    static const struct { double x; const char *r; } tab[] = {
        {100000, "1e+05"}, {123456, "123456"}, {0.0001, "1e-04"}, {1e-5, "1e-05"},
        {1234567890123, "1234567890123"}, {0.1, "0.1"}, {1.0 / 3, "0.333333333333333"},
        {2, "2"}, {-0.0, "0"}, {1e15, "1e+15"}, {1e-20, "1e-20"}, {100000.1, "100000.1"},
        {0.001, "0.001"}, {123456789012345678.0, "123456789012345680"}, {1e300, "1e+300"},
        {0.1 + 0.2, "0.3"}, {-1.5e-7, "-1.5e-07"}, {1e5 + 1e-9, "100000.000000001"},
        {99999999999999.99, "1e+14"}, {5e-324, "4.94065645841247e-324"},
        {1234567.1, "1234567.1"}, {0.00012345, "0.00012345"}, {-3, "-3"},
        {1200000, "1200000"}, {1e7, "1e+07"}, {2.5e-10, "2.5e-10"}, {-1e5, "-1e+05"},
        {9.99999999999999e22, "9.99999999999999e+22"}, {1.7976931348623157e308,
        "1.79769313486232e+308"}, {999999999999999, "999999999999999"},
        {3.4180990117602051e-09, "3.4180990117602e-09"},
        {1.963677629362795e-09, "1.9636776293628e-09"}, {15000000, "1.5e+07"}};
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        char buf[64];
        evm__format_r_double(tab[i].x, buf, sizeof buf);
        CHECK_STR(buf, tab[i].r);
    }
}

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Many levels in random order: the radix sorts (strings with long shared prefixes,
 * beyond the 256 bytes the radix refinement looks at; numbers with duplicates spelled
 * differently) against qsort. */
static void test_many_levels(void)
{
    enum { N = 6000 };
    size_t cap = (size_t)N * 400, used = 0;
    char *data = malloc(cap);
    char **want = malloc(N * sizeof *want);
    double *val = malloc(N * sizeof *val);
    char prefix[301];
    memset(prefix, 'p', 300);
    prefix[300] = '\0';
    used += (size_t)sprintf(data, "s,v\n");
    uint64_t st = 12345;
    for (int i = 0; i < N; i++) {
        st = st * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned r = (unsigned)(st >> 33);
        char buf[400];
        switch (r % 5) {
        case 0: snprintf(buf, sizeof buf, "id_shared_prefix_%u", r % 3000); break;
        case 1: snprintf(buf, sizeof buf, "%s%u", prefix, r % 500); break;
        case 2: snprintf(buf, sizeof buf, "%c", 'A' + (int)(r % 50)); break;
        case 3: snprintf(buf, sizeof buf, "id_shared_prefix_%u_x", r % 700); break;
        default: snprintf(buf, sizeof buf, "Z%u", r % 100000); break;
        }
        want[i] = strdup(buf);
        int ip = (int)(r % 2000) - 1000;
        val[i] = ip / 8.0;
        /* the same number spelled three ways */
        const char *fmt = r % 3 == 0 ? "%g" : r % 3 == 1 ? "%.3f" : "%.6e";
        used += (size_t)snprintf(data + used, cap - used, "%s,", buf);
        used += (size_t)snprintf(data + used, cap - used, fmt, val[i]);
        data[used++] = '\n';
    }
    const char *path = tmp_file(data, used);
    evm_colreq req[] = {{"s", EVM_AS_AUTO}, {"v", EVM_AS_FACTOR}};
    evm_frame *f = read_ok(path, req, 2);
    if (f) {
        int ok = 1;
        for (int32_t k = 1; k < evm_frame_nlevels(f, 0); k++)
            ok &= strcmp(level(f, 0, k - 1), level(f, 0, k)) < 0;
        const int32_t *c0 = evm_frame_codes(f, 0), *c1 = evm_frame_codes(f, 1);
        for (int i = 0; i < N; i++) ok &= strcmp(level(f, 0, c0[i]), want[i]) == 0;
        CHECK(ok);
        /* distinct strings, sorted: the same list as qsort gives */
        qsort(want, N, sizeof *want, cmp_cstr);
        int nd = 0;
        for (int i = 0; i < N; i++)
            if (i == 0 || strcmp(want[i], want[i - 1])) {
                if (nd < evm_frame_nlevels(f, 0) && strcmp(want[i], level(f, 0, nd)) && ok)
                    fprintf(stderr, "  level %d: '%.40s' vs qsort '%.40s'\n", nd, level(f, 0, nd), want[i]);
                ok &= nd < evm_frame_nlevels(f, 0) && strcmp(want[i], level(f, 0, nd)) == 0;
                nd++;
            }
        CHECK_INT(nd, evm_frame_nlevels(f, 0));
        CHECK(ok);
        ok = 1;
        for (int32_t k = 1; k < evm_frame_nlevels(f, 1); k++)
            ok &= strtod(level(f, 1, k - 1), NULL) < strtod(level(f, 1, k), NULL);
        for (int i = 0; i < N; i++) ok &= strtod(level(f, 1, c1[i]), NULL) == val[i];
        CHECK(ok);
    }
    evm_frame_destroy(&f);
    for (int i = 0; i < N; i++) free(want[i]);
    free(want);
    free(val);
    free(data);
}

static void test_relevel(void)
{
    const char *path = TMP("s\nc\na\nb\n\nc\n");
    evm_colreq req = {"s", EVM_AS_AUTO};
    evm_frame *f = read_ok(path, &req, 1);
    if (!f) return;
    CHECK_INT(evm_frame_relevel(f, 0, "c", ctx), EVM_OK);
    CHECK_STR(levels_str(f, 0), "c|a|b");
    const int32_t *k = evm_frame_codes(f, 0);
    CHECK(k[0] == 0 && k[1] == 1 && k[2] == 2 && k[3] == -1 && k[4] == 0);
    CHECK_INT(evm_frame_relevel(f, 0, "c", ctx), EVM_OK);   /* already first */
    CHECK_STR(levels_str(f, 0), "c|a|b");
    CHECK_INT(evm_frame_relevel(f, 0, "z", ctx), EVM_ERR_VALUE);
    CHECK_STR(evm_ctx_message(ctx), "factor 's' has no level 'z' (levels: c, a, b)");
    evm_frame_destroy(&f);

    /* long level lists are cut after 10 */
    path = TMP("n\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n");
    evm_colreq rn = {"n", EVM_AS_FACTOR};
    f = read_ok(path, &rn, 1);
    if (!f) return;
    CHECK_INT(evm_frame_relevel(f, 0, "0", ctx), EVM_ERR_VALUE);
    CHECK_STR(evm_ctx_message(ctx),
              "factor 'n' has no level '0' (levels: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ...)");
    CHECK_INT(evm_frame_relevel(f, 0, "12", ctx), EVM_OK);
    CHECK_STR(level(f, 0, 0), "12");
    CHECK_STR(level(f, 0, 11), "11");
    CHECK_INT(evm_frame_codes(f, 0)[11], 0);
    CHECK_INT(evm_frame_codes(f, 0)[0], 1);
    evm_frame_destroy(&f);
}

/* ---------------------------------------------------------------- errors */

static void test_value_errors(void)
{
    evm_colreq rx = {"x", EVM_AS_AUTO};
    EXPECT_ERR("id,x\n1,3\n2,\n3,abc\n4,5\n", &rx, 1, EVM_ERR_TYPE,
               "%s:4:2: column 'x' mixes numbers and text: 'abc' (first number at line 2)");
    /* a column typed by text: the text cell is named first, then the first number */
    EXPECT_ERR("x\nNA\nabc\ndef\n12\n", &rx, 1, EVM_ERR_TYPE,
               "%s:3:1: column 'x' mixes numbers and text: 'abc' (first number at line 5: "
               "'12')");
    EXPECT_ERR("x\nabc\nInf\n", &rx, 1, EVM_ERR_TYPE,
               "%s:2:1: column 'x' mixes numbers and text: 'abc' (first number at line 3: "
               "'Inf')");
    EXPECT_ERR("y,x,g\n1,abc,a\n2,2,b\n3,3,a\n", &rx, 1, EVM_ERR_TYPE,
               "%s:2:2: column 'x' mixes numbers and text: 'abc' (first number at line 3: "
               "'2')");
    EXPECT_ERR("x\n\"a\nb\"\n7\n", &rx, 1, EVM_ERR_TYPE,
               "%s:2:1: column 'x' mixes numbers and text: 'a b' (first number at line 4: "
               "'7')");
    EXPECT_ERR("x\n" "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopq\n1\n",
               &rx, 1, EVM_ERR_TYPE,
               "%s:2:1: column 'x' mixes numbers and text: "
               "'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefgh...' (first "
               "number at line 3: '1')");
    /* the same in a second batch, and on two threads (the text row is in the first) */
    {
        char *d = malloc(64 << 10);
        size_t n = (size_t)sprintf(d, "x\nfoo\n");
        for (int i = 0; i < 5000; i++) n += (size_t)sprintf(d + n, "NA\n");
        n += (size_t)sprintf(d + n, "42\n");
        const char *p = tmp_file(d, n);
        char want[512];
        snprintf(want, sizeof want, "%s:2:1: column 'x' mixes numbers and text: 'foo' "
                 "(first number at line 5003: '42')", p);
        for (int t = 1; t <= 2; t++) {
            evm_frame *f = NULL;
            evm_ctx_set_threads(ctx, t);
            CHECK_INT(evm_csv_read(p, &rx, 1, &f, ctx), EVM_ERR_TYPE);
            CHECK_STR(evm_ctx_message(ctx), want);
        }
        evm_ctx_set_threads(ctx, 0);
        free(d);
    }
    EXPECT_ERR("x,y\n1,2\n\"a\nb\",NaN\n", &rx, 1, EVM_ERR_TYPE,
               "%s:3:1: column 'x' mixes numbers and text: 'a b' (first number at line 2)");
    EXPECT_ERR("x\n1\nNaN\n", &rx, 1, EVM_ERR_VALUE,
               "%s:3:1: column 'x': value 'NaN' is not a finite number");
    EXPECT_ERR("x\n-Inf\n", &rx, 1, EVM_ERR_VALUE,
               "%s:2:1: column 'x': value '-Inf' is not a finite number");
    EXPECT_ERR("x\n1\n\"Infinity\"\n", &rx, 1, EVM_ERR_VALUE,
               "%s:3:1: column 'x': value 'Infinity' is not a finite number");
    EXPECT_ERR("x\n1\n1e400\n", &rx, 1, EVM_ERR_VALUE,
               "%s:3:1: column 'x': value '1e400' is not a finite number");
    EXPECT_ERR("x\n-2e308\n", &rx, 1, EVM_ERR_VALUE,
               "%s:2:1: column 'x': value '-2e308' is not a finite number");
    /* line numbers are physical lines, after a multi-line quoted field too */
    EXPECT_ERR("n,x\n\"a\nb\nc\",1\nz,oops\n", &rx, 1, EVM_ERR_TYPE,
               "%s:5:2: column 'x' mixes numbers and text: 'oops' (first number at line 4)");
    /* escaped quotes in a multi-line field do not disturb the line count */
    EXPECT_ERR("n,x\n\"a\"\"\n\"\"\n\",1\nz,oops\n", &rx, 1, EVM_ERR_TYPE,
               "%s:5:2: column 'x' mixes numbers and text: 'oops' (first number at line 4)");
    /* the field's own line inside a multi-line row */
    EXPECT_ERR("n,x\n\"a\nb\",1\n\"c\nd\",zz\n", &rx, 1, EVM_ERR_TYPE,
               "%s:5:2: column 'x' mixes numbers and text: 'zz' (first number at line 3)");
}

static void test_csv_errors(void)
{
    evm_colreq rx = {"x", EVM_AS_AUTO};
    EXPECT_ERR("a,x,c,d\n1,2,3,4\n1,2,3\n", &rx, 1, EVM_ERR_CSV,
               "%s:3:3: row has 3 fields, the header has 4");
    EXPECT_ERR("a,x\n1,2\n1,2,3,4\n", &rx, 1, EVM_ERR_CSV,
               "%s:3:3: row has 4 fields, the header has 2");
    EXPECT_ERR("a,x\n\"multi\nline\",2\n\"x\ny\nz\",2\n5\n", &rx, 1, EVM_ERR_CSV,
               "%s:7:1: row has 1 field, the header has 2");
    EXPECT_ERR("a,x\r\n1,2\r\n\r\n3,4\r\n", &rx, 1, EVM_ERR_CSV,
               "%s:3:1: blank line, the header has 2 fields");
    EXPECT_ERR("a,x\n1,2\n3,\"open\n4,5\n6,7\n", &rx, 1, EVM_ERR_CSV,
               "%s:3:2: unterminated quoted field (no closing '\"' before the end of the "
               "file)");
    EXPECT_ERR("x\n\"ab\"c\n", &rx, 1, EVM_ERR_CSV,
               "%s:2:1: unexpected 'c' after a closing quote");
    EXPECT_ERR("x,y\n1,\"a\nb\"\rz\n", &rx, 1, EVM_ERR_CSV,
               "%s:3:2: unexpected byte 0x0d after a closing quote");
    EXPECT_ERR("", &rx, 1, EVM_ERR_CSV, "%s: empty file (no header row)");
    EXPECT_ERR("\xef\xbb\xbf", &rx, 1, EVM_ERR_CSV, "%s: empty file (no header row)");
    EXPECT_ERR("\n1\n", &rx, 1, EVM_ERR_CSV, "%s:1: the header row is blank");
    EXPECT_ERR("\"x\n", &rx, 1, EVM_ERR_CSV,
               "%s:1:1: unterminated quoted field (no closing '\"' before the end of the "
               "file)");
    /* a NUL byte in a value: numeric, first value, text, quoted; unread columns do not
     * matter */
    evm_colreq rxf = {"x", EVM_AS_FACTOR};
    EXPECT_ERR("y,x\n1,1\n2,2\0\n", &rx, 1, EVM_ERR_CSV,
               "%s:3:2: NUL byte in the field (column 'x'; a binary file?)");
    EXPECT_ERR("x\n2\0\n1\n", &rx, 1, EVM_ERR_CSV,
               "%s:2:1: NUL byte in the field (column 'x'; a binary file?)");
    EXPECT_ERR("x\na\nb\0c\n", &rx, 1, EVM_ERR_CSV,
               "%s:3:1: NUL byte in the field (column 'x'; a binary file?)");
    EXPECT_ERR("x\na\n\"\0\"\n", &rxf, 1, EVM_ERR_CSV,
               "%s:3:1: NUL byte in the field (column 'x'; a binary file?)");
    const char *path = TMP("x,y\n1,\0\n");
    evm_frame *f = read_ok(path, &rx, 1);
    evm_frame_destroy(&f);
}

/* Files that are not CSV text: known signatures, control bytes in the header line. */
static void test_not_text(void)
{
    evm_colreq rx = {"x", EVM_AS_AUTO};
    EXPECT_ERR("\x89HDF\r\n\x1a\n\0\0\0\0\0\x08\x08\0\x04\0\x10\0", &rx, 1, EVM_ERR_CSV,
               "%s: not a CSV text file (an HDF5 file?)");
    EXPECT_ERR("\x1f\x8b\x08\0", &rx, 1, EVM_ERR_CSV,
               "%s: not a CSV text file (a gzip-compressed file? decompress it first)");
    EXPECT_ERR("PK\x03\x04\x14\0", &rx, 1, EVM_ERR_CSV,
               "%s: not a CSV text file (a ZIP archive or an Excel .xlsx workbook? export "
               "the sheet as CSV)");
    EXPECT_ERR("\xff\xfex\0\n\0001\0\n\0", &rx, 1, EVM_ERR_CSV,
               "%s: not a CSV text file (UTF-16 text? save it as UTF-8)");
    EXPECT_ERR("x\0,\0y\0\n1,2\n", &rx, 1, EVM_ERR_CSV,
               "%s: not a CSV text file (a NUL byte in the header line)");
    EXPECT_ERR("x,\x01y\n1,2\n", &rx, 1, EVM_ERR_CSV,
               "%s: not a CSV text file (a control byte in the header line)");
    /* the header alone (evm_csv_header) says the same */
    char **names = NULL;
    int n = 0;
    const char *path = TMP("\x89HDF\r\n\x1a\n\0\0\0");
    CHECK_INT(evm_csv_header(path, &names, &n, ctx), EVM_ERR_CSV);
    CHECK(names == NULL && n == 0);
    char want[256];
    snprintf(want, sizeof want, "%s: not a CSV text file (an HDF5 file?)", path);
    CHECK_STR(evm_ctx_message(ctx), want);
    path = TMP("a,b\rc\r1,2,3\r");
    CHECK_INT(evm_csv_header(path, &names, &n, ctx), EVM_ERR_CSV);
    snprintf(want, sizeof want, "%s:1: line ends are CR only (classic Mac); convert them to "
             "LF or CRLF", path);
    CHECK_STR(evm_ctx_message(ctx), want);
    /* tabs, UTF-8 and a CR LF are text; "GCOL" or "PK" further on is nothing special */
    path = TMP("x,\tn\xc3\xa9,PK\r\n1,2,3\r\n");
    evm_frame *f = read_ok(path, &rx, 1);
    evm_frame_destroy(&f);
}

static void test_column_errors(void)
{
    evm_colreq rq = {"score", EVM_AS_AUTO};
    EXPECT_ERR("id,school,\"pre score\"\n1,2,3\n", &rq, 1, EVM_ERR_COLUMN,
               "%s:1: no column 'score' in the header (columns: id, school, pre score)");
    EXPECT_ERR("c1,c2,c3,c4,c5,c6,c7,c8,c9,c10,c11,c12,c13,c14,c15,c16,c17,c18,c19,c20,"
               "c21,c22\n", &rq, 1, EVM_ERR_COLUMN,
               "%s:1: no column 'score' in the header (columns: c1, c2, c3, c4, c5, c6, "
               "c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20, ...)");
    EXPECT_ERR("score,x,score\n1,2,3\n", &rq, 1, EVM_ERR_COLUMN,
               "%s:1: column 'score' is ambiguous: the header has it 2 times (fields 1 "
               "and 3)");
    /* duplicates are fine when not asked for */
    const char *path = TMP("a,x,a\n1,2,3\n");
    evm_colreq rx = {"x", EVM_AS_AUTO};
    evm_frame *f = read_ok(path, &rx, 1);
    evm_frame_destroy(&f);

    /* missing file, directory */
    f = (evm_frame *)&f;
    CHECK_INT(evm_csv_read("/nonexistent/evm.csv", &rx, 1, &f, ctx), EVM_ERR_IO);
    CHECK(f == NULL);
    CHECK_STR(evm_ctx_message(ctx), "/nonexistent/evm.csv: cannot open: No such file or "
              "directory");
    CHECK_INT(evm_csv_read("/tmp", &rx, 1, &f, ctx), EVM_ERR_IO);
    CHECK_STR(evm_ctx_message(ctx), "/tmp: cannot open: Is a directory");
    CHECK_INT(evm_csv_read(NULL, &rx, 1, &f, ctx), EVM_ERR_ARG);
}

static void test_header(void)
{
    const char *path = TMP("\xef\xbb\xbf id ,\"b,c\",\"\"\"q\"\"\",\nrest\n");
    char **names = NULL;
    int n = 0;
    CHECK_INT(evm_csv_header(path, &names, &n, ctx), EVM_OK);
    CHECK_INT(n, 4);
    if (n == 4) {
        CHECK_STR(names[0], "id");
        CHECK_STR(names[1], "b,c");
        CHECK_STR(names[2], "\"q\"");
        CHECK_STR(names[3], "");
    }
    evm_strv_free(&names, n);
    CHECK(names == NULL);
    evm_strv_free(&names, 0);
    CHECK_INT(evm_csv_header("/nonexistent/h.csv", &names, &n, ctx), EVM_ERR_IO);
    CHECK(names == NULL && n == 0);
}

/* ---------------------------------------------------------------- SHA-256 */

static void sha_hex(const unsigned char *data, size_t n, char hex[65])
{
    unsigned char md[32];
    unsigned int len = 0;
    EVP_Digest(data, n, md, &len, EVP_sha256(), NULL);
    for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void test_sha256(void)
{
    /* a file needs a data row, so the FIPS 180-2 "abc" vector checks the helper */
    char hex[65];
    sha_hex((const unsigned char *)"abc", 3, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *path = TMP("abc\n1");
    evm_frame *f = read_ok(path, NULL, 0);
    if (f) {
        sha_hex((const unsigned char *)"abc\n1", 5, hex);
        CHECK_STR(evm_frame_sha256(f), hex);
        CHECK_INT(evm_frame_nrows(f), 1);
    }
    evm_frame_destroy(&f);
    evm_frame *g = evm_frame_create(2, ctx);
    CHECK_STR(evm_frame_sha256(g), "");
    CHECK_STR(evm_frame_path(g), "");
    CHECK_INT(evm_frame_rows_read(g), 0);
    evm_frame_destroy(&g);
}

/* ---------------------------------------------------------------- large files */

/* A generated file of about `bytes` bytes that crosses many chunk boundaries, with
 * quoted multi-line fields, CRLF rows and long fields. */
static char *gen_big(size_t bytes, size_t *n, unsigned seed)
{
    size_t cap = bytes + 4096, used = 0;
    char *buf = malloc(cap);
    used += (size_t)snprintf(buf, cap, "id,school,score,note,grp\n");
    uint64_t s = seed * 2654435761u + 1;
    char longnote[210];
    longnote[0] = '"';
    memset(longnote + 1, 'z', 200);
    strcpy(longnote + 201, "\"");
    for (long row = 0; used + 300 < bytes; row++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned r = (unsigned)(s >> 33);
        const char *note = r % 1000 == 0 ? longnote
                           : r % 7 == 0  ? "\"multi\nline, \"\"quoted\"\"\""
                           : r % 5       ? "plain"
                                         : "";
        const char *eol = r % 3 == 0 ? "\r\n" : "\n";
        used += (size_t)snprintf(buf + used, cap - used, "%ld,S%03u,%u.%02u,%s,%u%s", row,
                                 r % 977, r % 1000, (r >> 10) % 100, note, (r >> 4) % 40,
                                 eol);
    }
    *n = used;
    return buf;
}

static int frames_equal(const evm_frame *a, const evm_frame *b)
{
    if (evm_frame_nrows(a) != evm_frame_nrows(b) || evm_frame_ncols(a) != evm_frame_ncols(b))
        return 0;
    int64_t n = evm_frame_nrows(a);
    for (int j = 0; j < evm_frame_ncols(a); j++) {
        if (evm_frame_type(a, j) != evm_frame_type(b, j)) return 0;
        if (evm_frame_type(a, j) == EVM_COL_NUMERIC) {
            if (memcmp(evm_frame_numeric(a, j), evm_frame_numeric(b, j), (size_t)n * 8)) return 0;
            continue;
        }
        if (evm_frame_nlevels(a, j) != evm_frame_nlevels(b, j)) return 0;
        if (memcmp(evm_frame_codes(a, j), evm_frame_codes(b, j), (size_t)n * 4)) return 0;
        for (int32_t k = 0; k < evm_frame_nlevels(a, j); k++)
            if (strcmp(evm_frame_level(a, j, k), evm_frame_level(b, j, k))) return 0;
    }
    return strcmp(evm_frame_sha256(a), evm_frame_sha256(b)) == 0;
}

static void test_threads_and_chunks(void)
{
    size_t n;
    char *data = gen_big((size_t)20 << 20, &n, 7);
    const char *path = tmp_file(data, n);
    char want[65];
    sha_hex((const unsigned char *)data, n, want);
    evm_colreq req[] = {{"grp", EVM_AS_FACTOR}, {"score", EVM_AS_AUTO},
                        {"school", EVM_AS_AUTO}, {"note", EVM_AS_AUTO}, {"id", EVM_AS_AUTO}};
    evm_ctx_set_threads(ctx, 1);
    evm_frame *f1 = read_ok(path, req, 5);
    evm_ctx_set_threads(ctx, 2);
    evm_frame *f2 = read_ok(path, req, 5);
    evm_ctx_set_threads(ctx, 4);
    evm_frame *f4 = read_ok(path, req, 5);
    if (f1 && f2 && f4) {
        CHECK(frames_equal(f1, f2));
        CHECK(frames_equal(f1, f4));
        CHECK_STR(evm_frame_sha256(f1), want);
        int64_t rows = evm_frame_nrows(f1);
        CHECK(rows > 100000);
        const double *id = evm_frame_numeric(f1, 4);
        int ok = 1;
        for (int64_t i = 0; i < rows; i++) ok &= id[i] == (double)i;
        CHECK(ok);
        CHECK_INT(evm_frame_nlevels(f1, 0), 40);
        CHECK_STR(level(f1, 0, 39), "39");
        CHECK_INT(evm_frame_nlevels(f1, 3), 3);
        CHECK_STR(level(f1, 3, 0), "multi\nline, \"quoted\"");
    }
    evm_frame_destroy(&f1);
    evm_frame_destroy(&f2);
    evm_frame_destroy(&f4);
    free(data);
}

/* With columns stored in parallel, the error reported is still the first in the file:
 * the earliest row, then the first request. */
static void test_parallel_errors(void)
{
    size_t cap = (size_t)16 << 20, n = 0;
    char *data = malloc(cap);
    n += (size_t)sprintf(data, "a,b,c\n");
    for (int i = 0; i < 400000; i++) {
        if (i == 370000) n += (size_t)sprintf(data + n, "oops,1,1\n");
        else if (i == 260000) n += (size_t)sprintf(data + n, "1,Inf,x\n");
        else if (i == 260001) n += (size_t)sprintf(data + n, "1,2\n");
        else n += (size_t)sprintf(data + n, "%d,%d.5,1\n", i, i % 1000);
    }
    const char *path = tmp_file(data, n);
    char want[256];
    evm_colreq req[] = {{"a", EVM_AS_AUTO}, {"c", EVM_AS_AUTO}, {"b", EVM_AS_AUTO}};
    for (int t = 1; t <= 2; t++) {
        evm_ctx_set_threads(ctx, t);
        evm_frame *f = NULL;
        /* row 260000 (line 260002): 'Inf' in b and text in c; c is asked for first */
        snprintf(want, sizeof want, "%s:260002:3: column 'c' mixes numbers and text: 'x' "
                 "(first number at line 2)", path);
        CHECK_INT(evm_csv_read(path, req, 3, &f, ctx), EVM_ERR_TYPE);
        CHECK_STR(evm_ctx_message(ctx), want);
        CHECK(f == NULL);
        snprintf(want, sizeof want, "%s:260002:2: column 'b': value 'Inf' is not a finite "
                 "number", path);
        CHECK_INT(evm_csv_read(path, req + 2, 1, &f, ctx), EVM_ERR_VALUE);
        CHECK_STR(evm_ctx_message(ctx), want);
        /* only a: the ragged row comes before its error */
        snprintf(want, sizeof want, "%s:260003:2: row has 2 fields, the header has 3", path);
        CHECK_INT(evm_csv_read(path, req, 1, &f, ctx), EVM_ERR_CSV);
        CHECK_STR(evm_ctx_message(ctx), want);
    }
    /* a value error in one batch and a ragged row in the next, which is tokenized while
     * the first is stored: the value error still wins */
    n = (size_t)sprintf(data, "a,b\n");
    for (int i = 0; i < 100000; i++)
        n += (size_t)sprintf(data + n, i == 32760 ? "x,1\n" : i == 40000 ? "1\n" : "%d,1\n", i);
    path = tmp_file(data, n);
    for (int t = 1; t <= 2; t++) {
        evm_ctx_set_threads(ctx, t);
        evm_frame *f = NULL;
        snprintf(want, sizeof want, "%s:32762:1: column 'a' mixes numbers and text: 'x' "
                 "(first number at line 2)", path);
        CHECK_INT(evm_csv_read(path, req, 1, &f, ctx), EVM_ERR_TYPE);
        CHECK_STR(evm_ctx_message(ctx), want);
    }
    evm_ctx_set_threads(ctx, 0);
    free(data);
}

/* Fields longer than the carry area (1 MB) and a row past the 64 MB limit. */
static void test_long_rows(void)
{
    size_t big = (size_t)3 << 20, n = 0;
    char *data = malloc(big * 4 + 100);
    n += (size_t)sprintf(data, "a,b\n1,\"");
    for (int rep = 0; rep < 3; rep++) {      /* three long rows crossing chunk ends */
        memset(data + n, 'q', big);
        n += big;
        n += (size_t)sprintf(data + n, "\"\n%d,\"", rep + 2);
    }
    n += (size_t)sprintf(data + n, "end\"\n");
    const char *path = tmp_file(data, n);
    evm_colreq req[] = {{"a", EVM_AS_AUTO}, {"b", EVM_AS_AUTO}};
    for (int t = 1; t <= 2; t++) {
        evm_ctx_set_threads(ctx, t);
        evm_frame *f = read_ok(path, req, 2);
        if (f) {
            CHECK_INT(evm_frame_nrows(f), 4);
            CHECK_INT(evm_frame_nlevels(f, 1), 2);
            CHECK_INT((int64_t)strlen(level(f, 1, 1)), (int64_t)big);
            CHECK_STR(level(f, 1, 0), "end");
        }
        evm_frame_destroy(&f);
    }
    free(data);

    size_t huge = ((size_t)73 << 20);
    data = malloc(huge + 100);
    n = (size_t)sprintf(data, "a\n1\n\"");
    memset(data + n, 'x', huge);
    n += huge;
    path = tmp_file(data, n);
    free(data);
    char want[256];
    snprintf(want, sizeof want, "%s:3: row longer than 64 MB (an unterminated quoted "
             "field?)", path);
    evm_frame *f = NULL;
    CHECK_INT(evm_csv_read(path, req, 1, &f, ctx), EVM_ERR_CSV);
    CHECK_STR(evm_ctx_message(ctx), want);
    CHECK(f == NULL);
    evm_ctx_set_threads(ctx, 0);
}

/* ---------------------------------------------------------------- number parser */

static uint64_t rng_state = 88172645463325252ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A random decimal string: sign, 1..25 digits with a point somewhere, an exponent. */
static size_t random_decimal(char *buf)
{
    size_t n = 0;
    uint64_t r = rnd();
    if (r & 1) buf[n++] = (r & 2) ? '-' : '+';
    int ndig = 1 + (int)((r >> 2) % (r & 4 ? 25 : 17));
    int point = (int)((r >> 8) % (unsigned)(ndig + 2)) - 1;   /* -1: none */
    for (int i = 0; i < ndig; i++) {
        if (i == point) buf[n++] = '.';
        buf[n++] = (char)('0' + rnd() % 10);
    }
    if (point == ndig) buf[n++] = '.';
    if ((r >> 16) % 3) {
        buf[n++] = (r >> 20) & 1 ? 'e' : 'E';
        int range = (r >> 21) % 4 == 0 ? 700 : 60;
        int e = (int)(rnd() % (unsigned)(2 * range + 1)) - range;
        n += (size_t)sprintf(buf + n, "%s%d", e >= 0 && (r >> 24) % 3 == 0 ? "+" : "", e);
    }
    buf[n] = '\0';
    return n;
}

static void test_number_parser(void)
{
    char buf[128];
    long bad = 0, total = 0;
    for (int i = 0; i < 2000000; i++) {
        size_t n = random_decimal(buf);
        double got = 0, want = strtod(buf, NULL);
        int r = evm__parse_number(buf, n, &got);
        total++;
        if (r != 1 || memcmp(&got, &want, sizeof got) != 0) {
            if (bad++ < 5) fprintf(stderr, "  parse %s: %d %.17g vs strtod %.17g\n", buf, r, got, want);
        }
    }
    CHECK_INT(bad, 0);
    /* the inline fast path: whenever it answers, it agrees */
    long simple = 0;
    bad = 0;
    for (int i = 0; i < 1000000; i++) {
        uint64_t mod = 10;
        for (int d = (int)(rnd() % 16); d > 0; d--) mod *= 10;
        size_t n = (size_t)sprintf(buf, "%s%llu", rnd() & 1 ? "-" : "",
                                   (unsigned long long)(rnd() % mod));
        int point = (int)(rnd() % (n + 2)) - 1;
        if (point >= 0 && point <= (int)n && buf[point] != '-') {
            memmove(buf + point + 1, buf + point, n - (size_t)point + 1);
            buf[point] = '.';
            n++;
        }
        double got = 0, want = strtod(buf, NULL);
        if (!evm__parse_simple(buf, n, &got)) continue;
        simple++;
        if (memcmp(&got, &want, sizeof got)) {
            if (bad++ < 5) fprintf(stderr, "  simple %s: %.17g vs strtod %.17g\n", buf, got, want);
        }
    }
    CHECK_INT(bad, 0);
    CHECK(simple > 500000);
    double sv;
    CHECK(!evm__parse_simple("+5", 2, &sv) && !evm__parse_simple("1e5", 3, &sv) &&
          !evm__parse_simple(".", 1, &sv) && !evm__parse_simple("-", 1, &sv) &&
          !evm__parse_simple("1.2.3", 5, &sv) &&
          !evm__parse_simple("1234567890123456", 16, &sv));
    CHECK(evm__parse_simple("-0", 2, &sv) && sv == 0 && signbit(sv));
    CHECK(evm__parse_simple("5.", 2, &sv) && sv == 5);
    CHECK(evm__parse_simple(".25", 3, &sv) && sv == 0.25);
    /* hard cases: halfway points, long mantissas, denormals, limits */
    static const char *hard[] = {
        "9007199254740993", "9007199254740992.5", "2.2250738585072011e-308",
        "2.2250738585072012e-308", "4.9406564584124654e-324", "2.4703282292062327e-324",
        "1.7976931348623157e308", "1.7976931348623158e308", "0.1", "1e23", "8.5e-321",
        "123456789012345678901234567890", "0.000000000000000000000000000001e30",
        "1e-400", "-0.0", "00000000000000000000000000123.4500000000000000000000",
        "7.2057594037927933e16", "1e22", "1e37", "123456789e30", "4503599627370497.5"};
    for (size_t i = 0; i < sizeof hard / sizeof hard[0]; i++) {
        double got = 0, want = strtod(hard[i], NULL);
        CHECK_INT(evm__parse_number(hard[i], strlen(hard[i]), &got), 1);
        if (memcmp(&got, &want, sizeof got)) {
            fprintf(stderr, "  hard case %s: %.17g vs %.17g\n", hard[i], got, want);
            CHECK(0);
        }
    }
    static const char *not_numbers[] = {"", "+", "-", ".", "e5", "1e", "1e+", "1.2.3",
                                        "0x10", " 1", "1 ", "1,5", "NaN", "inf", "1e5x",
                                        "--1", "+-1", ".e1"};
    for (size_t i = 0; i < sizeof not_numbers / sizeof not_numbers[0]; i++) {
        double v;
        CHECK_INT(evm__parse_number(not_numbers[i], strlen(not_numbers[i]), &v), 0);
    }
    CHECK(evm__is_nonfinite_word("-Infinity", 9) && evm__is_nonfinite_word("nan", 3) &&
          !evm__is_nonfinite_word("nana", 4) && !evm__is_nonfinite_word("", 0));
    /* a very long number still parses (heap scratch) */
    char *longnum = malloc(5000);
    memset(longnum, '1', 4999);
    longnum[4999] = '\0';
    double got, want = strtod(longnum, NULL);
    CHECK_INT(evm__parse_number(longnum, 4999, &got), 1);
    CHECK(got == want);
    free(longnum);
    printf("number parser: %ld random strings agree with strtod (%ld via the inline path)\n",
           total, simple);
}

/* ---------------------------------------------------------------- in-memory frames */

static void test_in_memory(void)
{
    double x[3] = {1, NAN, 3};
    int32_t codes[3] = {1, -1, 0};
    const char *levels[2] = {"lo", "hi"};
    evm_frame *f = evm_frame_create(3, ctx);
    CHECK(f != NULL);
    if (!f) return;
    CHECK_INT(evm_frame_add_numeric(f, "x", x, ctx), EVM_OK);
    CHECK_INT(evm_frame_add_factor(f, "g", codes, levels, 2, ctx), EVM_OK);
    x[0] = 99;                /* inputs were copied */
    codes[0] = 0;
    char lab[3] = "lo";
    levels[0] = lab;
    lab[0] = 'X';
    CHECK(evm_frame_numeric(f, 0)[0] == 1);
    CHECK_INT(evm_frame_codes(f, 1)[0], 1);
    CHECK_STR(level(f, 1, 0), "lo");
    CHECK_INT(evm_frame_nrows(f), 3);
    CHECK_INT(evm_frame_relevel(f, 1, "hi", ctx), EVM_OK);
    CHECK_INT(evm_frame_codes(f, 1)[0], 0);
    CHECK_INT(evm_frame_codes(f, 1)[2], 1);
    CHECK_INT(evm_frame_relevel(f, 0, "hi", ctx), EVM_ERR_ARG);

    int32_t bad[3] = {0, 2, 0};
    CHECK_INT(evm_frame_add_factor(f, "b", bad, levels, 2, ctx), EVM_ERR_ARG);
    CHECK_STR(evm_ctx_message(ctx), "factor 'b': row 2 has code 2 outside -1..1");
    const char *dup[2] = {"a", "a"};
    CHECK_INT(evm_frame_add_factor(f, "d", codes, dup, 2, ctx), EVM_ERR_ARG);
    CHECK_STR(evm_ctx_message(ctx), "factor 'd': duplicate level 'a'");
    double inf[3] = {1, INFINITY, 0};
    CHECK_INT(evm_frame_add_numeric(f, "i", inf, ctx), EVM_ERR_VALUE);
    CHECK_STR(evm_ctx_message(ctx), "column 'i': row 2 is not a finite number");
    CHECK_INT(evm_frame_ncols(f), 2);
    evm_frame_destroy(&f);

    CHECK(evm_frame_create(-1, ctx) == NULL);
    CHECK_INT(evm_ctx_status(ctx), EVM_ERR_ARG);
    f = evm_frame_create(0, ctx);
    CHECK_INT(evm_frame_add_numeric(f, "empty", NULL, ctx), EVM_OK);
    CHECK_INT(evm_frame_add_factor(f, "nolev", NULL, NULL, 0, ctx), EVM_OK);
    CHECK_INT(evm_frame_nlevels(f, 1), 0);
    evm_frame_destroy(&f);
}

int main(void)
{
    ctx = evm_ctx_create();
    test_basic();
    test_numbers_in_text();
    test_missing();
    test_quoting();
    test_line_ends();
    test_factor_levels();
    test_r_labels();
    test_many_levels();
    test_relevel();
    test_value_errors();
    test_csv_errors();
    test_not_text();
    test_column_errors();
    test_header();
    test_sha256();
    test_in_memory();
    test_number_parser();
    test_threads_and_chunks();
    test_parallel_errors();
    test_long_rows();
    for (int i = 0; i < ntmp; i++) unlink(tmp_paths[i]);
    evm_ctx_destroy(&ctx);
    return check_summary("test_csv");
}
