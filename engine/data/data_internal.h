/* data_internal.h — shared inside engine/data: number parsing and printing, factor
 * coding (string table, level set, level ordering), the chunked hashing file reader,
 * helper threads, the CSV column state, and the frame calls the reader uses to hand
 * over columns without copying.  Not installed. */
#ifndef EVM_DATA_INTERNAL_H
#define EVM_DATA_INTERNAL_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Equal bytes?  Inline for the short strings ids are made of (a libc call costs more
 * than the compare). */
static inline int evm__same_bytes(const char *a, const char *b, size_t n)
{
    uint64_t x, y, u, v;
    if (n > 16) return memcmp(a, b, n) == 0;
    if (n >= 8) {
        memcpy(&x, a, 8), memcpy(&y, b, 8), memcpy(&u, a + n - 8, 8), memcpy(&v, b + n - 8, 8);
        return x == y && u == v;
    }
    if (n >= 4) {
        uint32_t p, q, r, t;
        memcpy(&p, a, 4), memcpy(&q, b, 4), memcpy(&r, a + n - 4, 4), memcpy(&t, b + n - 4, 4);
        return p == q && r == t;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* ---------------------------------------------------------------- numparse.c */
/* Parse exactly the bytes [s, s+n) as a decimal number:
 *   [+-] digits [. digits] [(e|E) [+-] digits]   (at least one mantissa digit)
 * No spaces, no hex, no NaN/Inf words.  The result is correctly rounded (identical to
 * strtod in the C locale); overflow gives ±Inf, underflow ±0.
 * Returns 1 (number, *out set), 0 (not a number) or EVM_ERR_NOMEM (a very long number
 * needed a scratch copy that could not be allocated). */
int evm__parse_number(const char *s, size_t n, double *out);
/* The common case inline: [-]digits[.digits] with at most 15 digits in all, so the
 * digits make an exact integer m < 2^53 and the value m / 10^k (k <= 15) is correctly
 * rounded by one IEEE division.  Returns 1 with *out, or 0: use evm__parse_number. */
static inline int evm__parse_simple(const char *s, size_t n, double *out)
{
    static const double p10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    const size_t neg = n && s[0] == '-';
    if (n - neg == 0 || n - neg > 16) return 0;
    uint64_t m = 0;
    size_t dot = 0;   /* 1 + the position of the '.', 0 if none */
    for (size_t i = neg; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d < 10) m = m * 10 + d;
        else if (s[i] == '.' && !dot) dot = i + 1;
        else return 0;
    }
    const size_t digits = n - neg - (dot != 0);
    if (digits == 0 || digits > 15) return 0;
    double v = (double)m / p10[dot ? n - dot : 0];
    *out = s[0] == '-' ? -v : v;
    return 1;
}

/* 1 if [s, s+n) is NaN, Inf or Infinity (any case) with an optional sign. */
int evm__is_nonfinite_word(const char *s, size_t n);

/* ---------------------------------------------------------------- numformat.c */
/* Format a finite double as R's as.character() does (15 significant digits, fixed
 * notation unless scientific is narrower: 1e+05, 123456, 0.1, 1e-20).  -0 prints "0".
 * Writes at most size bytes including the NUL (fixed notation is only chosen when it is
 * no wider than scientific, so 32 bytes always suffice).  Returns the length. */
int evm__format_r_double(double x, char *buf, size_t size);

/* ---------------------------------------------------------------- strtab.c */
/* A string -> int32 code table (open addressing); codes in order of first appearance.
 * Strings are stored NUL-terminated in one arena. */
typedef struct evm__strtab evm__strtab;

evm__strtab *evm__strtab_create(void);      /* NULL when out of memory */
void evm__strtab_destroy(evm__strtab **t);
/* Code of [s, s+n), inserting it if new (*is_new = 1).  Returns -1 when out of memory
 * or past EVM__MAX_LEVELS. */
int32_t evm__strtab_intern(evm__strtab *t, const char *s, size_t n, int *is_new);
/* The same in two steps, so a caller can prefetch the slots of values it will look up a
 * little later (lookups in a table of millions of ids are memory bound). */
uint64_t evm__strtab_hash(const char *s, size_t n);
void evm__strtab_prefetch(const evm__strtab *t, uint64_t hash);
int32_t evm__strtab_intern_hashed(evm__strtab *t, const char *s, size_t n, uint64_t hash,
                                  int *is_new);
int32_t evm__strtab_count(const evm__strtab *t);
const char *evm__strtab_str(const evm__strtab *t, int32_t code, size_t *len);

#define EVM__MAX_LEVELS (INT32_MAX / 2)

/* ---------------------------------------------------------------- levels.c */
/* Factor levels in their final order.  `codes` [n] hold codes 0..k-1 (-1 missing) and
 * are rewritten in place to the final level order.
 * output: *labels (one block holding every label), *levels [*nlevels] pointers into it.
 * Errors: EVM_ERR_NOMEM (nothing allocated is left). */
/* values[code]: levels are the distinct values in increasing order (equal values, as
 * "01" and "1", share a level), labelled as R prints them. */
int evm__levels_numeric(int32_t k, const double *values, int32_t *codes, int64_t n,
                        char **labels, char ***levels, int32_t *nlevels);
/* str[code] (len[code] bytes): levels are the strings in byte order (strcmp, C locale). */
int evm__levels_bytes(int32_t k, const char *const *str, const uint32_t *len, int32_t *codes,
                      int64_t n, char **labels, char ***levels, int32_t *nlevels);

/* ---------------------------------------------------------------- levelset.c */
/* The distinct values of a factor column while it is read: value -> code (first
 * appearance), with an integer fast path; then the levels.  numeric != 0: levels are
 * numeric when every value is a finite number (EVM_AS_FACTOR). */
typedef struct evm__levelset evm__levelset;

evm__levelset *evm__levelset_create(int numeric);     /* NULL when out of memory */
void evm__levelset_destroy(evm__levelset **ls);
int32_t evm__levelset_count(const evm__levelset *ls);
/* A value's hint (its hash and which table), to prefetch its slot and then code it.
 * Bit 0 of a hint is never set: callers may use it as a mark. */
uint64_t evm__levelset_hint(const evm__levelset *ls, const char *s, size_t n);
void evm__levelset_prefetch(const evm__levelset *ls, uint64_t hint);
/* Code of [s, s+n) (not a missing value); *is_new for a value seen the first time.
 * Returns -1 when out of memory or past EVM__MAX_LEVELS. */
int32_t evm__levelset_code(evm__levelset *ls, const char *s, size_t n, uint64_t hint,
                           int *is_new);
/* Levels and codes in their final order (see levels.c).  Errors: EVM_ERR_NOMEM. */
int evm__levelset_finish(const evm__levelset *ls, int32_t *codes, int64_t n, char **labels,
                         char ***levels, int32_t *nlevels);

/* ---------------------------------------------------------------- chunkread.c */
/* Streams a file in large chunks and computes its SHA-256 on the way.  With threads >= 2
 * a second thread reads ahead and hashes while the caller parses. */
typedef struct evm__chunkrd evm__chunkrd;

#define EVM__CHUNK_BYTES ((size_t)1 << 20)
#define EVM__MAX_CARRY ((size_t)64 << 20)   /* longest row (bytes) the reader accepts */

#define EVM__HEADER_CHUNK_BYTES ((size_t)64 << 10)   /* pieces when only the header is read */

/* Pieces of `chunk` bytes (at most the file size + 1).
 * Errors: EVM_ERR_IO "FILE: cannot open: <strerror>", EVM_ERR_NOMEM. */
int evm__chunkrd_open(const char *path, int threads, size_t chunk, evm__chunkrd **out,
                      evm_ctx *c);
#define EVM__PIECE_SPARE 16   /* writable bytes after every piece */

/* The next piece of the file.  The last `keep` bytes of the previous piece (an
 * incomplete row) come first, then new data: [*buf, *buf + *len).  EVM__PIECE_SPARE
 * writable bytes follow it (room for a sentinel), and the caller may modify the piece.  *eof is set on the piece
 * that ends the file.  keep must be <= EVM__MAX_CARRY.
 * Errors: EVM_ERR_IO "FILE: cannot read: <strerror>", EVM_ERR_NOMEM. */
int evm__chunkrd_next(evm__chunkrd *r, size_t keep, char **buf, size_t *len, int *eof,
                      evm_ctx *c);
/* Size of the file in bytes (fstat), -1 when not a regular file. */
int64_t evm__chunkrd_size(const evm__chunkrd *r);
/* SHA-256 of every byte read so far as 64 lowercase hex digits (after the last piece:
 * of the whole file). */
int evm__chunkrd_sha256(evm__chunkrd *r, char hex[65], evm_ctx *c);
void evm__chunkrd_close(evm__chunkrd **r);

/* ---------------------------------------------------------------- frame.c */
/* Append a column that takes ownership of its arrays (freed even on failure).
 * Numeric: x [nrows].  Factor: codes [nrows], levels [nlevels] pointing into labels. */
int evm__frame_adopt_numeric(evm_frame *f, const char *name, double *x, evm_ctx *c);
int evm__frame_adopt_factor(evm_frame *f, const char *name, int32_t *codes, char *labels,
                            char **levels, int32_t nlevels, evm_ctx *c);
int evm__frame_set_source(evm_frame *f, const char *path, const char *sha256,
                          int64_t rows_read, evm_ctx *c);

/* ---------------------------------------------------------------- pool.c */
/* Helper threads for rounds of independent tasks fn(arg, 0..ntasks-1), claimed in index
 * order.  evm__pool_start returns at once; evm__pool_finish (same arguments) lets the
 * caller run tasks too and returns when the round is over.  A NULL pool (one thread, or
 * threads could not be started) runs the whole round inside evm__pool_finish. */
typedef struct evm__pool evm__pool;

evm__pool *evm__pool_create(int helpers);     /* NULL when helpers < 1 or on failure */
void evm__pool_destroy(evm__pool **p);
void evm__pool_start(evm__pool *p, int ntasks, void (*fn)(void *arg, int task), void *arg);
void evm__pool_finish(evm__pool *p, int ntasks, void (*fn)(void *arg, int task), void *arg);

/* ---------------------------------------------------------------- csvcol.c */
/* One requested CSV column while a file is read: typing, storage and value errors.
 * Rows arrive in batches: the reader tokenizes a batch of rows into spans, then every
 * column stores its fields of the batch (columns are independent, so they may run on
 * different threads; each column sees its rows in file order). */
enum { EVM__KIND_UNDECIDED, EVM__KIND_NUMERIC, EVM__KIND_FACTOR };

typedef struct {
    uint32_t off;           /* field start: offset in the piece */
    uint32_t len;           /* length; bit 31 set when the field was quoted */
} evm__span;

#define EVM__SPAN_QUOTED 0x80000000u

typedef struct {
    const char *piece;      /* the bytes the offsets point into */
    int64_t n;              /* rows in the batch */
    int64_t row0;           /* frame row of the first */
    const uint32_t *row_off;    /* [n] offset of each row's first byte in the piece */
    const int64_t *row_line;    /* [n] physical line where each row starts */
} evm__batch;

typedef struct {
    const char *path;       /* for messages */
    const char *name;       /* as requested */
    int field;              /* 0-based field index in the header */
    evm_as as;
    int kind;               /* EVM__KIND_* */
    int64_t cap;            /* rows the arrays hold */
    double *num;            /* numeric storage */
    int32_t *codes;         /* factor storage (first-appearance codes while reading) */
    evm__levelset *ls;      /* factor: the distinct values */
    int32_t last_code;      /* code of the previous value (runs of equal ids) */
    uint32_t last_n;        /* and its bytes, when at most 16 */
    char last[16];
    uint64_t *hash;         /* [hash_cap] hashes of a batch's values (factor columns) */
    int64_t hash_cap;
    char *labels;           /* finished factor: level labels, pointers to them */
    char **levels;
    int32_t nlevels;
    int64_t first_line;     /* line of the value that fixed an AUTO column's type */
    uint32_t first_n;       /* a text one: its length, and its first bytes (messages) */
    char first[64];
} evm__csvcol;

void evm__csvcol_init(evm__csvcol *col, const char *path, const char *name, int field,
                      evm_as as);
/* Make room for `cap` rows.  Errors: EVM_ERR_NOMEM. */
int evm__csvcol_reserve(evm__csvcol *col, int64_t cap, evm_ctx *c);
/* Store the column's fields of batch b (spans[k] is the field of row k; the column may
 * rewrite its spans).  Unquoted fields are trimmed of spaces and tabs here.  On error
 * *bad_row is the batch row.
 * Errors: EVM_ERR_TYPE (mix: the message names the text value's line, which comes first
 * when the column was typed by text), EVM_ERR_VALUE (NaN/Inf/overflow), EVM_ERR_CSV (a
 * NUL byte in a value), EVM_ERR_NOMEM. */
int evm__csvcol_put_batch(evm__csvcol *col, const evm__batch *b, evm__span *spans,
                          int64_t *bad_row, evm_ctx *c);
/* After the last row: final arrays of nrows rows and, for factors, the levels in their
 * final order (codes remapped).  Columns may finish in parallel.  Errors: NOMEM. */
int evm__csvcol_finish(evm__csvcol *col, int64_t nrows, evm_ctx *c);
/* Hand a finished column to the frame; the column is emptied either way. */
int evm__csvcol_adopt(evm__csvcol *col, evm_frame *f, evm_ctx *c);
void evm__csvcol_free(evm__csvcol *col);

#endif
