/* par.c — a minimal fork-join over pthreads with dynamic task claiming. */
#include "par.h"

#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct {
    void (*fn)(void *, int);
    void *arg;
    int ntasks;
    atomic_int next;
} job;

static void *worker(void *p)
{
    job *j = p;
    for (int t; (t = atomic_fetch_add(&j->next, 1)) < j->ntasks;) j->fn(j->arg, t);
    return NULL;
}

int evm__parallel_for(int ntasks, int threads, void (*fn)(void *arg, int task), void *arg)
{
    job j = {fn, arg, ntasks, 0};
    if (threads > ntasks) threads = ntasks;
    if (threads <= 1) {
        worker(&j);
        return EVM_OK;
    }
    pthread_t *tid = evm__malloc((size_t)threads - 1, sizeof *tid);
    int started = 0;
    if (tid)
        for (; started < threads - 1; started++)
            if (pthread_create(&tid[started], NULL, worker, &j)) break;
    worker(&j);
    for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
    free(tid);
    return EVM_OK;
}
