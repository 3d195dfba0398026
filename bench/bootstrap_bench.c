/* bootstrap_bench.c — time evalmix's parametric bootstrap (engine/infer/bootstrap.c) on a
 * CSV, the evalmix half of bench/bootstrap_bench.sh.
 * Usage: bootstrap_bench FILE.csv 'FORMULA' NBOOT THREADS [SEED]
 * Prints one line: "evalmix <wall seconds> <CPU seconds, all threads> <nboot> <nok> <threads>"
 * for the bootstrap alone (the model is read and fitted before the clock starts).
 * Links the static engine library and calls its internal evm__bootstrap directly. */
#include "evalmix/evalmix.h"
#include "infer/infer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s FILE.csv FORMULA NBOOT THREADS [SEED]\n", argv[0]);
        return 2;
    }
    const char *csv = argv[1], *formula = argv[2];
    const int64_t nboot = atoll(argv[3]);
    const int threads = atoi(argv[4]);
    const int64_t seed = argc > 5 ? atoll(argv[5]) : 1;
    evm_ctx *c = evm_ctx_create();
    evm_colreq *req = NULL;
    int nreq = 0, npar = 0, status = 1;
    evm_frame *f = NULL;
    evm_lmm *m = NULL;
    char **names = NULL;
    double *est = NULL;
    int64_t nok = 0;
    evm_ctx_set_threads(c, threads);
    if (evm_formula_columns(formula, NULL, &req, &nreq, c) || evm_csv_read(csv, req, nreq, &f, c) ||
        evm_lmm_create(formula, f, NULL, &m, c) < 0 || evm_lmm_fit(m, c) < 0)
        goto cleanup;
    const double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    if (evm__bootstrap(m, nboot, seed, threads, NULL, NULL, &npar, &names, &est, &nok, c))
        goto cleanup;
    printf("evalmix %.3f %.3f %lld %lld %d\n", clock_s(CLOCK_MONOTONIC) - t0,
           clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0, (long long)nboot, (long long)nok, threads);
    status = 0;
cleanup:
    if (status) fprintf(stderr, "bootstrap_bench: %s\n", evm_ctx_message(c));
    free(est);
    evm_strv_free(&names, npar);
    evm_lmm_destroy(&m);
    evm_frame_destroy(&f);
    evm_colreq_free(&req, nreq);
    evm_ctx_destroy(&c);
    return status;
}
