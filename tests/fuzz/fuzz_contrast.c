/* fuzz_contrast.c — libFuzzer target: arbitrary bytes as a --contrast expression over a
 * fixed list of coefficient names (docs/contrasts.md).  evm_contrast_parse may not crash,
 * read out of bounds or leak; on success the weights are finite and not all zero, on
 * failure the status is EVM_ERR_ARG with a message and a caret inside it.
 *
 *   cmake -S . -B build-fuzz -DEVM_FUZZ=ON -DCMAKE_C_COMPILER=clang
 *   cmake --build build-fuzz --target fuzz_contrast && build-fuzz/tests/fuzz_contrast -max_len=128
 */
#include "evalmix/evalmix.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static char *names[] = {"(Intercept)", "treat", "year2", "treat:year2", "factor(year)2",
                        "I(x^2)", "poly(x, 2)1", "RaceBlack, non-Hispanic", "a-b", "a"};
#define P ((int)(sizeof names / sizeof names[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    evm_ctx *c = evm_ctx_create();
    char *text = malloc(size + 1);
    double w[P];
    if (!c || !text) goto done;
    memcpy(text, data, size);
    text[size] = '\0';   /* an embedded NUL ends the expression, as in a C string */
    int st = evm_contrast_parse(text, names, P, w, c);
    if (st == EVM_OK) {
        int nonzero = 0;
        for (int k = 0; k < P; k++) {
            if (!isfinite(w[k])) abort();
            nonzero |= w[k] != 0;
        }
        if (!nonzero) abort();
    } else {
        const char *msg = evm_ctx_message(c);
        int caret = evm_ctx_caret(c);
        if (st != EVM_ERR_ARG && st != EVM_ERR_NOMEM) abort();
        if (st == EVM_ERR_ARG && (!msg || strncmp(msg, "--contrast: ", 12) != 0)) abort();
        if (st == EVM_ERR_ARG && caret < 0) abort();
    }
done:
    free(text);
    evm_ctx_destroy(&c);
    return 0;
}
