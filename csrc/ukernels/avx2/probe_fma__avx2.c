/*
 * FMA throughput probe.  Zen 3 has 2 FMA pipes with 4-cycle latency, so at least 8
 * independent accumulators are needed to keep both pipes busy every cycle; 12 leaves
 * headroom (cores with 5-cycle latency) while staying within the 16 ymm registers
 * together with the two broadcast operands.
 */
#include <immintrin.h>
#include "probe/probe.h"

#define FC_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

/* acc = acc * b + c with b just below 1 converges to c / (1 - b): no overflow, no
 * denormals, so every iteration runs at full speed whatever `iters` is.  One body for
 * both widths; V is the vector type, S the intrinsic suffix (ps / pd), L the lanes. */
#define FC_PROBE_AVX2(NAME, T, V, S, L)                                                       \
double NAME(int64_t iters)                                                                    \
{                                                                                             \
    const V b = _mm256_set1_##S((T)0.999), c = _mm256_set1_##S((T)0.001);                    \
    FC_CHAINS(FC_INIT_##S)                                                                    \
    for (int64_t i = 0; i < iters; i++) {                                                     \
        FC_CHAINS(FC_STEP_##S)                                                                \
    }                                                                                         \
    V s = _mm256_setzero_##S();                                                               \
    FC_CHAINS(FC_SUM_##S)                                                                     \
    T lanes[L];                                                                               \
    _mm256_storeu_##S(lanes, s);                                                              \
    double r = 0.0;                                                                           \
    for (int l = 0; l < L; l++)                                                               \
        r += (double)lanes[l];                                                                \
    return r;                                                                                 \
}

#define FC_INIT_ps(k) __m256 a##k = _mm256_set1_ps(0.5f + 0.01f * (float)(k));
#define FC_STEP_ps(k) a##k = _mm256_fmadd_ps(a##k, b, c);
#define FC_SUM_ps(k) s = _mm256_add_ps(s, a##k);
#define FC_INIT_pd(k) __m256d a##k = _mm256_set1_pd(0.5 + 0.01 * (double)(k));
#define FC_STEP_pd(k) a##k = _mm256_fmadd_pd(a##k, b, c);
#define FC_SUM_pd(k) s = _mm256_add_pd(s, a##k);

FC_PROBE_AVX2(fc_f32_fma_probe_12x8__avx2, float, __m256, ps, 8)
FC_PROBE_AVX2(fc_f64_fma_probe_12x4__avx2, double, __m256d, pd, 4)
