/*
 * Threads and scratch: the one set of parallel-loop macros, thread id, worth-threading rule
 * and aligned allocator that every driver (gemm/, conv/, pool/) uses.  Without OpenMP the
 * macros vanish and every loop runs on the calling thread.
 */
#ifndef FC_PARALLEL_H
#define FC_PARALLEL_H
#include <stddef.h>
#include "fastconv.h"
#ifdef FC_HAVE_OPENMP
#include <omp.h>
#define FC_PRAGMA(x) _Pragma(#x)
#else
#define FC_PRAGMA(x)
#endif

/* A region of nt threads (nt == 1 runs it on the calling thread without waking a team). */
#define FC_OMP_PARALLEL(nt) FC_PRAGMA(omp parallel num_threads(nt) if ((nt) > 1))
/* Static schedule: contiguous chunks keep each thread on its own rows/planes (cache, no
 * false sharing except at chunk edges). */
#define FC_OMP_FOR(nt, cond) FC_PRAGMA(omp parallel for schedule(static) num_threads(nt) if(cond))
#define FC_OMP_LOOP FC_PRAGMA(omp for schedule(static))
#define FC_OMP_LOOP_NOWAIT FC_PRAGMA(omp for schedule(static) nowait)
/* Uneven or few items whose threads may start late (woken from sleep, or a core busy with
 * another runtime's spinning threads): whoever is running takes the next item. */
#define FC_OMP_FOR_DYNAMIC(nt) FC_PRAGMA(omp parallel for schedule(dynamic, 1) num_threads(nt))
#define FC_OMP_LOOP_DYNAMIC FC_PRAGMA(omp for schedule(dynamic, 1))
#define FC_OMP_ATOMIC_WRITE FC_PRAGMA(omp atomic write)

/* Index of the calling thread in the current parallel region (0 outside one). */
static inline int fc_thread_id(void)
{
#ifdef FC_HAVE_OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* The worth-threading rule: fc_get_num_threads() when `work` reaches `min_work` (the tier's
 * threshold for that kind of work, csrc/tier.h: below it waking a team costs more than it
 * saves), else 1. */
int fc_threads_for(double work, double min_work);

/* Heap blocks aligned for the widest vector of any tier (FC_VEC_MAX_BYTES, csrc/tier.h):
 * scratch panels and bands; fc_free(NULL) is a no-op.  Their contents are undefined: a
 * large block may come back from an earlier call (csrc/workspace.c). */
void *fc_malloc(size_t bytes);
void fc_free(void *p);
/* csrc/workspace.c's pthread_atfork handlers, called from runtime.c's */
void fc_workspace_fork_prepare(void);
void fc_workspace_fork_parent(void);
void fc_workspace_fork_child(void);

#endif
