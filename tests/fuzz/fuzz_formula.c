/* fuzz_formula.c — libFuzzer target: arbitrary bytes as a formula.  Each input is parsed
 * (evm_formula_columns) and built against a small frame (evm__modelframe_build); neither
 * may crash, read out of bounds or leak, whatever the input.
 *
 *   cmake -S . -B build-fuzz -DEVM_FUZZ=ON -DCMAKE_C_COMPILER=clang \
 *         -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link,address
 *   cmake --build build-fuzz --target fuzz_formula && build-fuzz/tests/fuzz_formula -max_len=256
 */
#include "evalmix/evalmix.h"
#include "formula/modelframe.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { NROW = 12 };

static evm_frame *frame(evm_ctx *c)
{
    static evm_frame *f;   /* built once, reachable until exit */
    if (f) return f;
    double y[NROW], x[NROW], z[NROW], w[NROW];
    int32_t g[NROW], a[NROW], b[NROW];
    static const char *const gl[] = {"g1", "g2", "g3"}, *const al[] = {"a", "b"},
                             *const bl[] = {"u", "v", "w", "x"};
    for (int i = 0; i < NROW; i++) {
        y[i] = i * 0.5 + (i % 3);
        x[i] = i % 4 == 3 ? 0.0 / 0.0 : (double)(i * i % 7);
        z[i] = (double)(i % 5);
        w[i] = 1 + i % 2;
        g[i] = i % 3;
        a[i] = i == 5 ? -1 : i % 2;
        b[i] = i % 4;
    }
    f = evm_frame_create(NROW, c);
    evm_frame_add_numeric(f, "y", y, c);
    evm_frame_add_numeric(f, "x", x, c);
    evm_frame_add_numeric(f, "z", z, c);
    evm_frame_add_numeric(f, "my var", w, c);
    evm_frame_add_factor(f, "g", g, gl, 3, c);
    evm_frame_add_factor(f, "a", a, al, 2, c);
    evm_frame_add_factor(f, "b", b, bl, 4, c);
    return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    evm_ctx *c = evm_ctx_create();
    char *text = malloc(size + 1);
    if (!c || !text) goto done;
    memcpy(text, data, size);
    text[size] = '\0';

    evm_colreq *req = NULL;
    int nreq = 0;
    if (evm_formula_columns(text, NULL, &req, &nreq, c) == EVM_OK) {
        for (int i = 0; i < nreq; i++)
            if (!req[i].name) abort();
        evm_colreq_free(&req, nreq);
    } else {
        /* A formula error carries a caret inside the message (or none). */
        int caret = evm_ctx_caret(c);
        if (caret >= 0 && (size_t)caret > strlen(evm_ctx_message(c))) abort();
    }

    evm__modelframe *mf = NULL;
    evm_ctx_clear(c);
    int st = evm__modelframe_build(text, frame(c), NULL, &mf, c);
    if ((st < 0) != (mf == NULL)) abort();
    evm__modelframe_free(&mf);
done:
    free(text);
    evm_ctx_destroy(&c);
    return 0;
}
