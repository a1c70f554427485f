/* Drivers of the FMA-peak and memory-bandwidth probes (see probe.h). */
#define _POSIX_C_SOURCE 200112L
#include <stdlib.h>
#include <time.h>
#include "probe/probe.h"
#include "tier.h"
#ifdef FC_HAVE_OPENMP
#include <omp.h>
#endif

static double fc_probe_now(void)
{
#ifdef FC_HAVE_OPENMP
    return omp_get_wtime();
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
}

typedef double (*fc_probe_kernel)(int64_t);

fc_status fc_probe_fma(int itemsize, int threads, int64_t iters, double *flops,
                       double *seconds)
{
    const fc_tier *t = fc_tier_current();
    const fc_probe_desc *pd = itemsize == 4 ? &t->probe_f32 : &t->probe_f64;
    fc_probe_kernel k = pd->fn;
    const double per_iter = pd->flops_per_iter;
    if (threads < 1)
        threads = 1;
    int ran = 1;
    double checksum = 0.0;
    double t0 = fc_probe_now();
#ifdef FC_HAVE_OPENMP
#pragma omp parallel num_threads(threads) reduction(+:checksum)
    {
#pragma omp single
        ran = omp_get_num_threads();
        checksum += k(iters);
    }
#else
    checksum = k(iters);
#endif
    double t1 = fc_probe_now();
    /* The checksum is finite by construction; testing it keeps the calls alive. */
    if (!(checksum == checksum))
        return FC_ERR_ARG;
    *flops = per_iter * (double)iters * (double)ran;
    *seconds = t1 - t0;
    return FC_OK;
}

fc_status fc_probe_scale(int64_t nbytes, int threads, int reps, double *bytes,
                         double *seconds)
{
    int64_t n = nbytes / (int64_t)sizeof(double);
    if (n < 1)
        n = 1;
    if (threads < 1)
        threads = 1;
    double *a = malloc((size_t)n * sizeof(double));
    double *b = malloc((size_t)n * sizeof(double));
    if (!a || !b) {
        free(a);
        free(b);
        return FC_ERR_NOMEM;
    }
    /* First touch with the same static schedule as the timed loop, so each thread's pages
     * are local to it. */
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int64_t i = 0; i < n; i++) {
        a[i] = (double)(i & 1023);
        b[i] = 0.0;
    }
    double best = -1.0;
    for (int r = 0; r < reps; r++) {
        double t0 = fc_probe_now();
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int64_t i = 0; i < n; i++)
            b[i] = 3.0 * a[i];
        double t = fc_probe_now() - t0;
        if (best < 0.0 || t < best)
            best = t;
    }
    /* Read a result back so the stores are observable. */
    volatile double sink = b[n / 2];
    (void)sink;
    free(a);
    free(b);
    *bytes = 2.0 * (double)n * (double)sizeof(double);
    *seconds = best;
    return FC_OK;
}
