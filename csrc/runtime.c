/* Thread-count policy shared by every parallel region. */
#include <stdint.h>
#include <stdlib.h>
#include "fastconv.h"
#include "parallel.h"
#include "tier.h"
#ifdef FC_HAVE_OPENMP
#include <omp.h>
#endif
#if defined(FC_HAVE_OPENMP) && defined(__unix__)
#define FC_FORK_GUARD 1
#include <pthread.h>
#endif

static int g_num_threads = 0;   /* 0: not set, use the OpenMP default */
static int g_default_threads = 0; /* omp_get_max_threads() of the importing thread */

#ifdef FC_HAVE_OPENMP
/* More threads than this only adds overhead, and a huge request (OMP_NUM_THREADS=65536 or
 * set_num_threads(65536)) makes libgomp fail to create them and crash. */
static int max_useful_threads(void)
{
    int procs = omp_get_num_procs();
    return 4 * (procs > 0 ? procs : 1);
}
#endif

void fc_set_num_threads(int n)
{
    if (n < 1)
        n = 1;
#ifdef FC_HAVE_OPENMP
    if (n > max_useful_threads())
        n = max_useful_threads();
#endif
    g_num_threads = n;
#ifdef FC_HAVE_OPENMP
    /* Raise the calling thread's own limit too, so a larger n takes effect. */
    omp_set_num_threads(n);
#endif
}

#ifdef FC_FORK_GUARD
/*
 * Fork safety.  libgomp keeps a pool of worker threads per master thread and does not
 * survive fork(): the child inherits a pool whose threads do not exist, and its next
 * parallel region waits for them forever.  So before any fork we take the forking
 * thread's pool down (omp_pause_resource_all, OpenMP 5.0); the parent and the child each
 * start a fresh pool at their next region, with the thread count they ask for.
 *
 * A fork while another thread is inside a kernel would copy a half-used runtime, so every
 * kernel call is bracketed by fc_call_enter/fc_call_leave and the fork waits until no call
 * is in flight (and holds new calls back until it is done).
 */
static pthread_mutex_t g_fork_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_fork_cv = PTHREAD_COND_INITIALIZER;
static int64_t g_in_flight = 0;
static int g_forking = 0;
static int64_t g_forks_seen = 0;

static void fork_prepare(void)
{
    pthread_mutex_lock(&g_fork_mu);
    g_forking = 1;
    while (g_in_flight > 0)
        pthread_cond_wait(&g_fork_cv, &g_fork_mu);
    pthread_mutex_unlock(&g_fork_mu);
    /* Returns nonzero when the forking thread is itself inside a parallel region (fork
     * from inside a kernel cannot happen through fastconv); nothing else to do then. */
    (void)omp_pause_resource_all(omp_pause_hard);
    fc_workspace_fork_prepare();
}

static void fork_parent(void)
{
    fc_workspace_fork_parent();
    pthread_mutex_lock(&g_fork_mu);
    g_forking = 0;
    g_forks_seen++;
    pthread_cond_broadcast(&g_fork_cv);
    pthread_mutex_unlock(&g_fork_mu);
}

static void fork_child(void)
{
    fc_workspace_fork_child();
    /* Threads that waited on these in the parent do not exist here. */
    pthread_mutex_init(&g_fork_mu, NULL);
    pthread_cond_init(&g_fork_cv, NULL);
    g_in_flight = 0;
    g_forking = 0;
    g_forks_seen++;
}
#endif

void fc_call_enter(void)
{
#ifdef FC_FORK_GUARD
    pthread_mutex_lock(&g_fork_mu);
    while (g_forking)
        pthread_cond_wait(&g_fork_cv, &g_fork_mu);
    g_in_flight++;
    pthread_mutex_unlock(&g_fork_mu);
#endif
}

void fc_call_leave(void)
{
#ifdef FC_FORK_GUARD
    pthread_mutex_lock(&g_fork_mu);
    if (--g_in_flight == 0)
        pthread_cond_broadcast(&g_fork_cv);
    pthread_mutex_unlock(&g_fork_mu);
#endif
}

int64_t fc_forks_seen(void)
{
#ifdef FC_FORK_GUARD
    return g_forks_seen;
#else
    return -1;
#endif
}

int fc_fork_safe(void)
{
#ifdef FC_FORK_GUARD
    return 1;
#else
    /* Without OpenMP there is no pool to lose; elsewhere we cannot tell. */
#ifdef FC_HAVE_OPENMP
    return 0;
#else
    return 1;
#endif
#endif
}

void fc_runtime_init(void)
{
#ifdef FC_HAVE_OPENMP
    if (g_default_threads == 0)
        g_default_threads = omp_get_max_threads();
#endif
#ifdef FC_FORK_GUARD
    static int registered = 0;
    if (!registered) {
        registered = 1;
        pthread_atfork(fork_prepare, fork_parent, fork_child);
    }
#endif
}

int fc_thread_limit(int n)
{
#ifdef FC_HAVE_OPENMP
    int old = omp_get_max_threads();
    omp_set_num_threads(n < 1 ? 1 : n);
    return old;
#else
    (void)n;
    return 1;
#endif
}

int fc_team_size(void)
{
#ifdef FC_HAVE_OPENMP
    int nt = fc_get_num_threads(), ran = 0;
#pragma omp parallel num_threads(nt)
    {
#pragma omp single
        ran = omp_get_num_threads();
    }
    return ran;
#else
    return 1;
#endif
}

int fc_get_num_threads(void)
{
#ifdef FC_HAVE_OPENMP
    /* omp_get_max_threads() is per calling thread: set_num_threads() must reach every
     * Python thread, yet a limit the caller put on its own thread (threadpoolctl,
     * omp_set_num_threads) must still win. */
    int omp = omp_get_max_threads();
    int cap = max_useful_threads();
    int n = omp;
    if (g_num_threads > 0) {
        n = g_num_threads;
        if (g_default_threads > 0 && omp < g_default_threads && omp < n)
            n = omp;
    }
    return n < cap ? n : cap;
#else
    return 1;
#endif
}

int fc_threads_for(double work, double min_work)
{
    return work < min_work ? 1 : fc_get_num_threads();
}

int fc_have_openmp(void)
{
#ifdef FC_HAVE_OPENMP
    return 1;
#else
    return 0;
#endif
}
