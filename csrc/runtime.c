/* Thread-count policy shared by every parallel region. */
#include "fastconv.h"
#ifdef FC_HAVE_OPENMP
#include <omp.h>
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

void fc_runtime_init(void)
{
#ifdef FC_HAVE_OPENMP
    if (g_default_threads == 0)
        g_default_threads = omp_get_max_threads();
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

int fc_have_openmp(void)
{
#ifdef FC_HAVE_OPENMP
    return 1;
#else
    return 0;
#endif
}
