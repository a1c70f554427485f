/* Thread-count policy shared by every parallel region. */
#include "fastconv.h"
#ifdef FC_HAVE_OPENMP
#include <omp.h>
#endif

static int g_num_threads = 0;   /* 0: not set, use the OpenMP default */

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

int fc_get_num_threads(void)
{
#ifdef FC_HAVE_OPENMP
    /* omp_get_max_threads() is per calling thread and is what threadpoolctl lowers. */
    int omp = omp_get_max_threads();
    int cap = max_useful_threads();
    if (g_num_threads > 0 && g_num_threads < omp)
        omp = g_num_threads;
    return omp < cap ? omp : cap;
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
