/* fuzz_csv.c — libFuzzer target for the CSV reader: the input bytes become a file that
 * is read with every header column requested (as AUTO and as FACTOR), on one or two
 * threads.  Any outcome is fine except a crash, a leak or an inconsistent frame.
 *
 *   cmake -DEVM_FUZZ=ON -DCMAKE_C_COMPILER=clang ...; ./fuzz_csv corpus/ */
#include "evalmix/evalmix.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_COLS 32

static void check_frame(const evm_frame *f, evm_ctx *c)
{
    int64_t n = evm_frame_nrows(f);
    for (int j = 0; j < evm_frame_ncols(f); j++) {
        if (evm_frame_type(f, j) == EVM_COL_NUMERIC) {
            const double *x = evm_frame_numeric(f, j);
            for (int64_t i = 0; i < n; i++)
                if (x[i] - x[i] != 0 && x[i] == x[i]) abort();   /* +-Inf stored */
            continue;
        }
        const int32_t *k = evm_frame_codes(f, j);
        int32_t nlev = evm_frame_nlevels(f, j);
        for (int64_t i = 0; i < n; i++)
            if (k[i] < -1 || k[i] >= nlev) abort();
        for (int32_t l = 0; l < nlev; l++)
            if (!evm_frame_level(f, j, l)) abort();
        if (nlev > 0) {
            char *last = strdup(evm_frame_level(f, j, nlev - 1));
            if (last && evm_frame_relevel((evm_frame *)f, j, last, c) != EVM_OK) abort();
            free(last);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/evm_fuzz_csv_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 0;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) break;
        done += (size_t)w;
    }
    close(fd);

    evm_ctx *c = evm_ctx_create();
    if (!c) goto out;
    evm_ctx_set_threads(c, 1 + (int)(size % 2));
    char **names = NULL;
    int n = 0;
    if (evm_csv_header(path, &names, &n, c) == EVM_OK) {
        int m = n < MAX_COLS ? n : MAX_COLS;
        evm_colreq req[2 * MAX_COLS];
        for (int i = 0; i < m; i++) {
            req[2 * i] = (evm_colreq){names[i], EVM_AS_AUTO};
            req[2 * i + 1] = (evm_colreq){names[i], EVM_AS_FACTOR};
        }
        evm_frame *f = NULL;
        int st = evm_csv_read(path, req, 2 * m, &f, c);
        if ((st == EVM_OK) != (f != NULL)) abort();
        if (st != EVM_OK && evm_ctx_message(c)[0] == '\0') abort();
        if (f) check_frame(f, c);
        evm_frame_destroy(&f);
        /* again with a single factor request */
        st = evm_csv_read(path, req + 1, m > 0 ? 1 : 0, &f, c);
        if ((st == EVM_OK) != (f != NULL)) abort();
        evm_frame_destroy(&f);
    }
    evm_strv_free(&names, n);
    evm_ctx_destroy(&c);
out:
    unlink(path);
    return 0;
}
