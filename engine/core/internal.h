/* internal.h — helpers shared inside libevalmix (not installed). */
#ifndef EVM_INTERNAL_H
#define EVM_INTERNAL_H

#include "evalmix/evalmix.h"

#include <stdarg.h>
#include <stdint.h>

#if defined(__GNUC__)
#define EVM__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define EVM__PRINTF(a, b)
#endif

/* Record an error (status < 0) with a printf-style message on the context and return
 * the status, so that callers can write `return evm__fail(c, EVM_ERR_IO, "...")`. */
int evm__fail(evm_ctx *c, int status, const char *fmt, ...) EVM__PRINTF(3, 4);
/* Same, and put the caret under byte `caret` of the formatted message. */
int evm__fail_caret(evm_ctx *c, int status, int caret, const char *fmt, ...)
    EVM__PRINTF(4, 5);
/* Append a warning line; returns EVM_OK or EVM_ERR_NOMEM. */
int evm__warn(evm_ctx *c, const char *fmt, ...) EVM__PRINTF(2, 3);

/* Allocation helpers (mem.c): NULL on overflow or failure; count * size checked.  Blocks
 * of 512 KB and more are backed by transparent huge pages.  Freed with free().
 * evm__grow moves [old_count] elements to a block of new_count and frees the old one
 * (as realloc; NULL with the old block untouched on failure). */
void *evm__malloc(size_t count, size_t size);
void *evm__calloc(size_t count, size_t size);
void *evm__grow(void *p, size_t old_count, size_t new_count, size_t size);
char *evm__strdup(const char *s);
/* Minimum, quartiles and maximum of x[0..n) as R's quantile(x, type = 7) (quartiles.c);
 * x is reordered.  NaN for n == 0.  Returns 1 when the histogram pass found them, 0
 * when full selection did (the numbers are the same; tests check both paths). */
int evm__quartiles(double *x, int64_t n, double q[5]);
/* printf into a fresh string. */
char *evm__asprintf(const char *fmt, ...) EVM__PRINTF(1, 2);

#endif
