/*
 * Portable multiply-add throughput probe: what the generic build can reach.  The chains live
 * in a fixed-size array that the compiler vectorises with the baseline ISA (SSE2 on
 * x86-64: 12 xmm registers of chains cover the 6-cycle multiply-then-add latency on two
 * multiply and two add pipes).
 */
#include "probe/probe.h"

/* acc = acc * b + c with b just below 1 converges to c / (1 - b): no overflow, no
 * denormals, so every iteration runs at full speed whatever `iters` is. */
#define FC_PROBE_GENERIC(NAME, T, CHAINS)                                                     \
double NAME(int64_t iters)                                                                    \
{                                                                                             \
    T a[CHAINS];                                                                              \
    const T b = (T)0.999, c = (T)0.001;                                                       \
    for (int k = 0; k < CHAINS; k++)                                                          \
        a[k] = (T)0.5 + (T)0.01 * (T)k;                                                       \
    for (int64_t i = 0; i < iters; i++)                                                       \
        for (int k = 0; k < CHAINS; k++)                                                      \
            a[k] = a[k] * b + c;                                                              \
    double r = 0.0;                                                                           \
    for (int k = 0; k < CHAINS; k++)                                                          \
        r += (double)a[k];                                                                    \
    return r;                                                                                 \
}

FC_PROBE_GENERIC(fc_f32_fma_probe_48__generic, float, 48)
FC_PROBE_GENERIC(fc_f64_fma_probe_24__generic, double, 24)
