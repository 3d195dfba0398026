/* kr_bench.c — time evalmix's Kenward-Roger (engine/infer/kenward_roger.c) on a CSV, the
 * evalmix half of bench/kr_bench.sh.
 * Usage: kr_bench FILE.csv 'FORMULA' 'COEF1,COEF2' [REPS]
 * Fits by REML (not timed), then times REPS times: evm__kr_create (the adjusted Var(β),
 * pbkrtest's vcovAdj) followed by evm__kr_ftest for the joint test of the named
 * coefficients (pbkrtest's KRmodcomp).  Prints one line:
 *   "evalmix <best seconds of create + ftest> <median seconds> <F> <ddf>" */
#include "evalmix/evalmix.h"
#include "infer/infer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s FILE.csv FORMULA COEF1,COEF2 [REPS]\n", argv[0]);
        return 2;
    }
    const char *csv = argv[1], *formula = argv[2];
    const int reps = argc > 4 ? atoi(argv[4]) : 200;
    evm_ctx *c = evm_ctx_create();
    evm_colreq *req = NULL;
    int nreq = 0, status = 1, k = 0;
    evm_frame *f = NULL;
    evm_lmm *m = NULL;
    evm_result *r = NULL;
    double *L = NULL, *times = calloc((size_t)(reps > 0 ? reps : 1), sizeof(double));
    double F = 0, ndf = 0, ddf = 0;
    evm_ctx_set_threads(c, 1);
    if (!times || reps < 1) goto cleanup;
    if (evm_formula_columns(formula, NULL, &req, &nreq, c) || evm_csv_read(csv, req, nreq, &f, c) ||
        evm_lmm_create(formula, f, NULL, &m, c) < 0 || evm_lmm_fit(m, c) < 0 ||
        evm_lmm_result(m, &r, c) < 0)
        goto cleanup;
    const int p = r->p;
    L = calloc((size_t)p * 16, sizeof *L);
    char *list = strdup(argv[3]);
    for (char *tok = strtok(list, ","); tok && k < 16; tok = strtok(NULL, ","), k++) {
        int j = 0;
        while (j < p && strcmp(r->fixef_name[j], tok) != 0) j++;
        if (j == p) {
            fprintf(stderr, "kr_bench: no coefficient '%s'\n", tok);
            free(list);
            goto cleanup;
        }
        L[k * p + j] = 1.0;
    }
    free(list);
    for (int i = 0; i < reps; i++) {
        evm__kr *kr = NULL;
        const double t0 = now();
        if (evm__kr_create(m, &kr, c) || evm__kr_ftest(kr, m->beta, L, k, &F, &ndf, &ddf, c)) {
            evm__kr_destroy(&kr);
            goto cleanup;
        }
        times[i] = now() - t0;
        evm__kr_destroy(&kr);
    }
    qsort(times, (size_t)reps, sizeof *times, cmp_double);
    printf("evalmix %.6f %.6f %.10g %.10g\n", times[0], times[reps / 2], F, ddf);
    status = 0;
cleanup:
    if (status) fprintf(stderr, "kr_bench: %s\n", evm_ctx_message(c));
    free(L);
    free(times);
    evm_result_free(&r);
    evm_lmm_destroy(&m);
    evm_frame_destroy(&f);
    evm_colreq_free(&req, nreq);
    evm_ctx_destroy(&c);
    return status;
}
