/* pool.c — persistent helper threads for rounds of independent tasks, started
 * asynchronously: the caller starts a round, does other work (the CSV reader tokenizes
 * the next batch of rows), then joins in and waits for the round to end.
 *
 * Tasks are claimed in index order, so callers list the slowest first.  Which thread
 * runs a task never matters: tasks write only their own outputs. */
#include "data_internal.h"

#include <pthread.h>
#include <stdlib.h>

struct evm__pool {
    int nhelpers;
    pthread_t *tid;
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* helpers: a round started or stop */
    pthread_cond_t idle;    /* caller: a task finished */
    int stop;
    long round;             /* incremented by each start */
    void (*fn)(void *, int);
    void *arg;
    int ntasks, next, done;
};

/* Claim and run tasks of the current round until none is left.  Called with mu held;
 * returns with mu held. */
static void run_tasks(evm__pool *p)
{
    while (p->next < p->ntasks) {
        int t = p->next++;
        pthread_mutex_unlock(&p->mu);
        p->fn(p->arg, t);
        pthread_mutex_lock(&p->mu);
        if (++p->done == p->ntasks) pthread_cond_broadcast(&p->idle);
    }
}

static void *helper(void *arg)
{
    evm__pool *p = arg;
    long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (p->round == seen && !p->stop) pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop) break;
        seen = p->round;
        run_tasks(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

evm__pool *evm__pool_create(int helpers)
{
    if (helpers < 1) return NULL;
    evm__pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->tid = calloc((size_t)helpers, sizeof *p->tid);
    if (!p->tid || pthread_mutex_init(&p->mu, NULL)) goto fail_mem;
    if (pthread_cond_init(&p->wake, NULL)) goto fail_mutex;
    if (pthread_cond_init(&p->idle, NULL)) goto fail_wake;
    for (; p->nhelpers < helpers; p->nhelpers++)
        if (pthread_create(&p->tid[p->nhelpers], NULL, helper, p)) break;
    if (p->nhelpers > 0) return p;
    pthread_cond_destroy(&p->idle);
fail_wake:
    pthread_cond_destroy(&p->wake);
fail_mutex:
    pthread_mutex_destroy(&p->mu);
fail_mem:
    free(p->tid);
    free(p);
    return NULL;   /* callers run everything on their own thread instead */
}

void evm__pool_destroy(evm__pool **pp)
{
    if (!pp || !*pp) return;
    evm__pool *p = *pp;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nhelpers; i++) pthread_join(p->tid[i], NULL);
    pthread_cond_destroy(&p->idle);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->tid);
    free(p);
    *pp = NULL;
}

void evm__pool_start(evm__pool *p, int ntasks, void (*fn)(void *, int), void *arg)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->ntasks = ntasks;
    p->next = 0;
    p->done = 0;
    p->round++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
}

void evm__pool_finish(evm__pool *p, int ntasks, void (*fn)(void *, int), void *arg)
{
    if (!p) {
        for (int t = 0; t < ntasks; t++) fn(arg, t);
        return;
    }
    pthread_mutex_lock(&p->mu);
    run_tasks(p);
    while (p->done < p->ntasks) pthread_cond_wait(&p->idle, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
