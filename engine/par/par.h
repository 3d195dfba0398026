/* par.h — run independent tasks on a few threads.  Tasks are numbered 0..ntasks-1 and
 * must write only their own outputs, so results never depend on the thread count or on
 * which thread ran which task. */
#ifndef EVM_PAR_H
#define EVM_PAR_H

/* Run fn(arg, task) for every task on up to `threads` threads (the caller's thread is
 * one of them).  Returns 0, or EVM_ERR_NOMEM if threads could not be started (then the
 * tasks have all been run on the caller's thread instead). */
int evm__parallel_for(int ntasks, int threads, void (*fn)(void *arg, int task), void *arg);

#endif
