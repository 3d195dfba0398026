/* par.c — fork-join with dynamic task claiming, on persistent helper threads.
 *
 * A dense Cholesky step or a triangular solve is a few hundred microseconds of work; a
 * fit makes thousands of such calls, so starting threads per call (~30 µs each on a
 * virtual machine) would cost more than the work it splits.  Helpers are started once,
 * on first use, and sleep on a condition variable between rounds.  The pool serves one
 * round at a time: a call made while it is busy (from a task, or from another thread)
 * starts its own threads for that call, as a plain fork-join would.  Between rounds a
 * fit's calls come a few microseconds apart, while a wake-up through the condition
 * variable costs tens of microseconds on a virtual machine; so a helper first polls for
 * the next round, and the caller for the helpers' end, for up to EVM__SPIN pause
 * instructions (some tens of µs) before sleeping. */
#include "par.h"

#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define EVM__POOL_MAX 64
#define EVM__SPIN 2000

static inline void cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

typedef struct {
    void (*fn)(void *, int);
    void *arg;
    int ntasks;
    atomic_int next;
} job;

static void run_job(job *j)
{
    for (int t; (t = atomic_fetch_add(&j->next, 1)) < j->ntasks;) j->fn(j->arg, t);
}

static void *oneshot(void *p)
{
    run_job(p);
    return NULL;
}

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_flag busy;     /* a round is being served */
    int nhelpers;         /* started so far (they never exit) */
    atomic_long round;    /* incremented by each round (under mu) */
    int want;             /* helpers taking part in the current round: ids 0..want-1 */
    atomic_int pending;   /* of those, how many have not finished yet (changed under mu) */
    job *cur;
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
          ATOMIC_FLAG_INIT, 0, 0, 0, 0, NULL};

static void *helper(void *p)
{
    const int id = (int)(intptr_t)p;
    long seen = 0;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        if (pool.round == seen) {
            pthread_mutex_unlock(&pool.mu);
            for (int s = 0; s < EVM__SPIN && atomic_load(&pool.round) == seen; s++) cpu_pause();
            pthread_mutex_lock(&pool.mu);
        }
        while (pool.round == seen) pthread_cond_wait(&pool.wake, &pool.mu);
        seen = pool.round;
        if (id >= pool.want) continue;
        job *j = pool.cur;
        pthread_mutex_unlock(&pool.mu);
        run_job(j);
        pthread_mutex_lock(&pool.mu);
        if (--pool.pending == 0) pthread_cond_signal(&pool.done);
    }
    return NULL;
}

/* Plain fork-join: threads started for this call only. */
static int fork_join(job *j, int threads)
{
    pthread_t *tid = evm__malloc((size_t)threads - 1, sizeof *tid);
    int started = 0;
    if (tid)
        for (; started < threads - 1; started++)
            if (pthread_create(&tid[started], NULL, oneshot, j)) break;
    run_job(j);
    for (int i = 0; i < started; i++) pthread_join(tid[i], NULL);
    free(tid);
    return started == threads - 1 ? EVM_OK : EVM_ERR_NOMEM;
}

int evm__parallel_for(int ntasks, int threads, void (*fn)(void *arg, int task), void *arg)
{
    job j = {fn, arg, ntasks, 0};
    if (threads > ntasks) threads = ntasks;
    if (threads <= 1) {
        run_job(&j);
        return EVM_OK;
    }
    if (threads - 1 > EVM__POOL_MAX || atomic_flag_test_and_set(&pool.busy))
        return fork_join(&j, threads);
    pthread_mutex_lock(&pool.mu);
    while (pool.nhelpers < threads - 1) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int bad = pthread_create(&t, &at, helper, (void *)(intptr_t)pool.nhelpers);
        pthread_attr_destroy(&at);
        if (bad) break;
        pool.nhelpers++;
    }
    const int want = pool.nhelpers < threads - 1 ? pool.nhelpers : threads - 1;
    pool.cur = &j;
    pool.want = want;
    pool.pending = want;
    pool.round++;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    run_job(&j);
    for (int s = 0; s < EVM__SPIN && atomic_load(&pool.pending) > 0; s++) cpu_pause();
    pthread_mutex_lock(&pool.mu);
    while (pool.pending > 0) pthread_cond_wait(&pool.done, &pool.mu);
    pool.cur = NULL;
    pthread_mutex_unlock(&pool.mu);
    atomic_flag_clear(&pool.busy);
    return want == threads - 1 ? EVM_OK : EVM_ERR_NOMEM;
}
