/* json.h — a small, strict JSON (RFC 8259) reader for the tests.
 *
 * Test support, not part of libevalmix.  The parser accepts exactly RFC 8259 JSON:
 * one value surrounded by optional whitespace; no comments, trailing commas, single
 * quotes, leading zeros, bare NaN/Infinity, unescaped control characters, invalid
 * UTF-8, lone surrogates or duplicate object keys.  \uXXXX escapes (with surrogate
 * pairs) become UTF-8.  Numbers are converted with strtod; a number too large for a
 * double is an error.  Nesting is limited to JSON_MAX_DEPTH.
 *
 * Missing values as R's jsonlite writes them are null, or the strings "NA" / "NaN" /
 * "Inf" / "-Inf" (na = "string"): json_num() maps all of those to NaN or ±Inf, and
 * json_is_na() is true for null, "NA" and "NaN".
 *
 * Accessors accept NULL and wrong types and then return NULL / 0 / NaN, so a lookup
 * chain such as json_num(json_at(json_get(root, "theta"), 2)) never crashes; check the
 * type with json_type() where it matters.
 */
#ifndef EVM_TEST_JSON_H
#define EVM_TEST_JSON_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JSON_MAX_DEPTH 512

typedef enum {
    JSON_NULL = 0,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING,
    JSON_ARRAY,
    JSON_OBJECT
} json_type;

typedef struct json_value json_value;

/* Parse `len` bytes of `text` (need not be NUL-terminated).  On error returns NULL and,
 * when err != NULL, sets *err to a malloc'd message "line L, column C: what" (column in
 * bytes, 1-based) that the caller frees with free(); out of memory gives NULL with
 * *err = NULL or a message. */
json_value *json_parse(const char *text, size_t len, char **err);

/* Read and parse a whole file.  Errors as json_parse, the message prefixed with the
 * path ("path:L:C: what", or "path: <strerror>" when the file cannot be read). */
json_value *json_parse_file(const char *path, char **err);

/* Free a tree and set *v to NULL.  json_free(NULL) and *v == NULL are no-ops. */
void json_free(json_value **v);

/* The type of v; JSON_NULL when v is NULL. */
json_type json_type_of(const json_value *v);

/* The member `key` of an object (NULL if absent or v is not an object). */
const json_value *json_get(const json_value *v, const char *key);

/* Number of elements of an array or members of an object; 0 for anything else. */
size_t json_len(const json_value *v);

/* Element i of an array, or the value of member i of an object (in file order);
 * NULL when out of range or not an array/object. */
const json_value *json_at(const json_value *v, size_t i);

/* The key of member i of an object; NULL when out of range or not an object. */
const char *json_key(const json_value *v, size_t i);

/* A number's value.  null, "NA", "NaN" -> NaN; "Inf" -> +inf, "-Inf" -> -inf;
 * NaN for anything else (missing, other strings, arrays, ...). */
double json_num(const json_value *v);

/* 1 for a number or one of the NA/NaN/Inf spellings above (or null), else 0.  Useful to
 * tell a JSON null (missing, NaN) from a value of the wrong type. */
int json_is_num(const json_value *v);

/* 1 for null and the strings "NA" and "NaN". */
int json_is_na(const json_value *v);

/* A string's bytes, NUL-terminated (NULL if v is not a string).  A string may contain
 * NUL bytes (from \u0000); json_str_len gives its true length. */
const char *json_str(const json_value *v);
size_t json_str_len(const json_value *v);

/* 1 for true, 0 for false, -1 for anything else. */
int json_bool(const json_value *v);

#ifdef __cplusplus
}
#endif
#endif
