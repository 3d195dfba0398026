/* test_json.c — the strict JSON reader used by the reference tests (tests/support/json.c):
 * a table of documents that must parse, with their values, and of documents that must
 * fail at a stated line/column. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json.h"

static json_value *parse(const char *s)
{
    char *err = NULL;
    json_value *v = json_parse(s, strlen(s), &err);
    if (!v) fprintf(stderr, "unexpected parse error for %s: %s\n", s, err ? err : "?");
    free(err);
    return v;
}

/* The document must fail with a message that starts with `where` ("line L, column C"). */
static void must_fail(const char *s, size_t len, const char *where)
{
    char *err = NULL;
    json_value *v = json_parse(s, len, &err);
    CHECK(v == NULL);
    CHECK(err != NULL);
    if (err && strncmp(err, where, strlen(where)) != 0) {
        fprintf(stderr, "for %s: message \"%s\" does not start with \"%s\"\n", s, err, where);
        CHECK(0);
    }
    free(err);
    json_free(&v);
}
#define MUST_FAIL(s, where) must_fail(s, strlen(s), where)

static void test_scalars(void)
{
    json_value *v = parse(" 42 ");
    CHECK_INT(json_type_of(v), JSON_NUMBER);
    CHECK_ABS(json_num(v), 42.0, 0.0);
    json_free(&v);
    CHECK(v == NULL);

    v = parse("-0.5e-3");
    CHECK_ABS(json_num(v), -0.5e-3, 0.0);
    json_free(&v);

    /* 17 significant digits read back exactly */
    v = parse("0.33333333333333331");
    CHECK(json_num(v) == 1.0 / 3.0);
    json_free(&v);
    v = parse("1743.628271959952");
    CHECK(json_num(v) == 1743.628271959952);
    json_free(&v);
    v = parse("1e-320");  /* underflow to a subnormal is fine */
    CHECK(json_num(v) > 0 && json_num(v) < 1e-300);
    json_free(&v);

    v = parse("true");
    CHECK_INT(json_bool(v), 1);
    json_free(&v);
    v = parse("false");
    CHECK_INT(json_bool(v), 0);
    json_free(&v);
    v = parse("null");
    CHECK_INT(json_type_of(v), JSON_NULL);
    CHECK(json_is_na(v));
    CHECK(isnan(json_num(v)));
    CHECK_INT(json_bool(v), -1);
    json_free(&v);
}

static void test_na_spellings(void)
{
    json_value *v = parse("[null, \"NA\", \"NaN\", \"Inf\", \"-Inf\", \"x\", 1.5]");
    CHECK_INT(json_len(v), 7);
    CHECK(json_is_na(json_at(v, 0)) && isnan(json_num(json_at(v, 0))));
    CHECK(json_is_na(json_at(v, 1)) && isnan(json_num(json_at(v, 1))));
    CHECK(json_is_na(json_at(v, 2)) && isnan(json_num(json_at(v, 2))));
    CHECK(isinf(json_num(json_at(v, 3))) && json_num(json_at(v, 3)) > 0);
    CHECK(isinf(json_num(json_at(v, 4))) && json_num(json_at(v, 4)) < 0);
    CHECK(!json_is_na(json_at(v, 3)));
    CHECK(json_is_num(json_at(v, 3)));
    CHECK(!json_is_num(json_at(v, 5)));
    CHECK(isnan(json_num(json_at(v, 5))));
    CHECK(json_is_num(json_at(v, 6)));
    CHECK_ABS(json_num(json_at(v, 6)), 1.5, 0.0);
    json_free(&v);
}

static void test_strings(void)
{
    json_value *v = parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"");
    CHECK_STR(json_str(v), "a\"b\\c/d\b\f\n\r\t");
    json_free(&v);

    v = parse("\"caf\\u00e9 \\u20AC \\ud83d\\ude00\"");  /* é € 😀 */
    CHECK_STR(json_str(v), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    json_free(&v);

    v = parse("\"raw UTF-8: \xc3\xa9\xe2\x82\xac\"");
    CHECK_STR(json_str(v), "raw UTF-8: \xc3\xa9\xe2\x82\xac");
    json_free(&v);

    v = parse("\"a\\u0000b\"");
    CHECK_INT(json_str_len(v), 3);
    CHECK(memcmp(json_str(v), "a\0b", 3) == 0);
    json_free(&v);

    v = parse("\"\"");
    CHECK_STR(json_str(v), "");
    CHECK_INT(json_str_len(v), 0);
    json_free(&v);
}

static void test_containers(void)
{
    json_value *v = parse("{\"id\": \"sleepstudy_reml\", \"theta\": [0.96, 0.015, 0.23],"
                          " \"vcov\": [[1, 2], [3, 4]], \"empty\": [], \"obj\": {},"
                          " \"weights\": null, \"reml\": true}");
    CHECK_INT(json_type_of(v), JSON_OBJECT);
    CHECK_INT(json_len(v), 7);
    CHECK_STR(json_key(v, 0), "id");
    CHECK_STR(json_key(v, 6), "reml");
    CHECK(json_key(v, 7) == NULL);
    CHECK_STR(json_str(json_get(v, "id")), "sleepstudy_reml");
    CHECK_INT(json_len(json_get(v, "theta")), 3);
    CHECK_ABS(json_num(json_at(json_get(v, "theta"), 1)), 0.015, 0.0);
    CHECK_ABS(json_num(json_at(json_at(json_get(v, "vcov"), 1), 0)), 3.0, 0.0);
    CHECK_INT(json_type_of(json_get(v, "empty")), JSON_ARRAY);
    CHECK_INT(json_len(json_get(v, "empty")), 0);
    CHECK_INT(json_type_of(json_get(v, "obj")), JSON_OBJECT);
    CHECK_INT(json_type_of(json_get(v, "weights")), JSON_NULL);
    CHECK(json_get(v, "weights") != NULL);          /* present, and null */
    CHECK(json_get(v, "absent") == NULL);
    CHECK_INT(json_bool(json_get(v, "reml")), 1);
    /* lookups through missing or wrong-typed values are safe */
    CHECK(json_at(json_get(v, "theta"), 3) == NULL);
    CHECK(json_get(json_get(v, "theta"), "x") == NULL);
    CHECK(json_at(json_get(v, "id"), 0) == NULL);
    CHECK(isnan(json_num(json_get(v, "absent"))));
    CHECK(json_str(json_get(v, "theta")) == NULL);
    CHECK_INT(json_len(NULL), 0);
    CHECK_INT(json_len(json_get(v, "id")), 0);
    json_free(&v);
    json_free(&v);  /* second free of a NULL pointer is a no-op */
    json_free(NULL);

    /* deep but allowed nesting */
    char deep[2 * JSON_MAX_DEPTH + 1];
    for (int i = 0; i < JSON_MAX_DEPTH; i++) {
        deep[i] = '[';
        deep[2 * JSON_MAX_DEPTH - 1 - i] = ']';
    }
    deep[2 * JSON_MAX_DEPTH] = '\0';
    v = parse(deep);
    CHECK(v != NULL);
    json_free(&v);

    /* a large array grows correctly */
    size_t n = 10000, cap = n * 8 + 3, len = 0;
    char *big = malloc(cap);
    big[len++] = '[';
    for (size_t i = 0; i < n; i++) len += (size_t)snprintf(big + len, cap - len, "%s%zu", i ? "," : "", i);
    big[len++] = ']';
    big[len] = '\0';
    v = parse(big);
    CHECK_INT(json_len(v), n);
    CHECK_ABS(json_num(json_at(v, n - 1)), (double)(n - 1), 0.0);
    json_free(&v);
    free(big);
}

static void test_errors(void)
{
    MUST_FAIL("", "line 1, column 1");
    MUST_FAIL("   ", "line 1, column 4");
    MUST_FAIL("[1, 2,]", "line 1, column 7");            /* trailing comma */
    MUST_FAIL("{\"a\": 1,}", "line 1, column 9");
    MUST_FAIL("{\"a\" 1}", "line 1, column 6");
    MUST_FAIL("{a: 1}", "line 1, column 2");             /* unquoted key */
    MUST_FAIL("{\"a\": 1, \"a\": 2}", "line 1, column 10");  /* duplicate key */
    MUST_FAIL("[1]\n[2]", "line 2, column 1");           /* trailing value */
    MUST_FAIL("[1 2]", "line 1, column 4");
    MUST_FAIL("01", "line 1, column 1");                 /* leading zero */
    MUST_FAIL("-", "line 1, column 1");
    MUST_FAIL("1.", "line 1, column 3");
    MUST_FAIL(".5", "line 1, column 1");
    MUST_FAIL("1e", "line 1, column 3");
    MUST_FAIL("+1", "line 1, column 1");
    MUST_FAIL("1e999", "line 1, column 1");              /* overflow */
    MUST_FAIL("NaN", "line 1, column 1");
    MUST_FAIL("NA", "line 1, column 1");
    MUST_FAIL("Infinity", "line 1, column 1");
    MUST_FAIL("tru", "line 1, column 1");
    MUST_FAIL("nulls", "line 1, column 5");
    MUST_FAIL("'a'", "line 1, column 1");
    MUST_FAIL("\"abc", "line 1, column 1");              /* unterminated */
    MUST_FAIL("\"a\tb\"", "line 1, column 3");           /* raw control character */
    MUST_FAIL("\"a\\x\"", "line 1, column 3");           /* bad escape */
    MUST_FAIL("\"\\u12G4\"", "line 1, column 2");
    MUST_FAIL("\"\\ud800\"", "line 1, column 2");        /* lone high surrogate */
    MUST_FAIL("\"\\ud800\\u0041\"", "line 1, column 2");
    MUST_FAIL("\"\\udc00\"", "line 1, column 2");        /* lone low surrogate */
    MUST_FAIL("\"\xc3\"", "line 1, column 2");           /* truncated UTF-8 */
    MUST_FAIL("\"\xc0\xaf\"", "line 1, column 2");       /* overlong */
    MUST_FAIL("\"\xed\xa0\x80\"", "line 1, column 2");   /* encoded surrogate */
    MUST_FAIL("\"\xf4\x90\x80\x80\"", "line 1, column 2");  /* above U+10FFFF */
    MUST_FAIL("[1] // comment", "line 1, column 5");
    MUST_FAIL("{\n  \"a\": [1,\n  2,,]}", "line 3, column 5");
    must_fail("[1,\0 2]", 7, "line 1, column 4");         /* NUL byte */
    must_fail("\"a\0b\"", 5, "line 1, column 3");

    char deep[2 * (JSON_MAX_DEPTH + 1) + 1];
    for (int i = 0; i <= JSON_MAX_DEPTH; i++) {
        deep[i] = '[';
        deep[2 * (JSON_MAX_DEPTH + 1) - 1 - i] = ']';
    }
    deep[2 * (JSON_MAX_DEPTH + 1)] = '\0';
    char where[40];
    snprintf(where, sizeof where, "line 1, column %d", JSON_MAX_DEPTH + 1);
    MUST_FAIL(deep, where);

    /* the parser does not read past len */
    must_fail("[1, 2]", 4, "line 1, column 5");
}

static void test_file(void)
{
    char path[] = "/tmp/evm_test_json_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd < 0) return;
    FILE *f = fdopen(fd, "w");
    fputs("{\"cases\": [\n  {\"id\": \"x\", \"v\": [1, 2]}\n]}\n", f);
    fclose(f);
    char *err = NULL;
    json_value *v = json_parse_file(path, &err);
    CHECK(v != NULL);
    CHECK(err == NULL);
    CHECK_STR(json_str(json_get(json_at(json_get(v, "cases"), 0), "id")), "x");
    json_free(&v);

    f = fopen(path, "w");
    fputs("{\"cases\": [\n  {\"id\": \"x\",}\n]}\n", f);
    fclose(f);
    v = json_parse_file(path, &err);
    CHECK(v == NULL);
    char want[64];
    snprintf(want, sizeof want, "%s:2:14: ", path);
    CHECK(err && strncmp(err, want, strlen(want)) == 0);
    if (err && strncmp(err, want, strlen(want)) != 0) fprintf(stderr, "got \"%s\"\n", err);
    free(err);
    remove(path);

    v = json_parse_file("/nonexistent/evm.json", &err);
    CHECK(v == NULL);
    CHECK(err && strstr(err, "/nonexistent/evm.json: ") == err);
    free(err);
    v = json_parse_file("/nonexistent/evm.json", NULL);  /* err may be NULL */
    CHECK(v == NULL);
}

int main(void)
{
    test_scalars();
    test_na_spellings();
    test_strings();
    test_containers();
    test_errors();
    test_file();
    return check_summary("test_json");
}
