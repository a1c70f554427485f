/* The avx512 tier's FMA throughput probe: 16 independent zmm chains (2 FMA pipes x 4-5 cycles
 * latency need 8-10; 16 leave headroom).  acc = acc * b + c with b just below 1 converges: no
 * overflow, no denormals. */
#include <immintrin.h>
#include <stdint.h>

#define FC_PROBE_AVX512(NAME, T, V, S, L)                                                     \
double NAME(int64_t iters)                                                                    \
{                                                                                             \
    const V b = _mm512_set1_##S((T)0.999), c = _mm512_set1_##S((T)0.001);                    \
    V a[16];                                                                                  \
    _Pragma("GCC unroll 16") for (int k = 0; k < 16; k++)                                     \
        a[k] = _mm512_set1_##S((T)0.5 + (T)0.01 * (T)k);                                      \
    for (int64_t i = 0; i < iters; i++) {                                                     \
        _Pragma("GCC unroll 16") for (int k = 0; k < 16; k++)                                 \
            a[k] = _mm512_fmadd_##S(a[k], b, c);                                              \
    }                                                                                         \
    V s = _mm512_setzero_##S();                                                               \
    _Pragma("GCC unroll 16") for (int k = 0; k < 16; k++) s = _mm512_add_##S(s, a[k]);        \
    return (double)_mm512_reduce_add_##S(s);                                                  \
}

FC_PROBE_AVX512(fc_f32_fma_probe_16x16__avx512, float, __m512, ps, 16)
FC_PROBE_AVX512(fc_f64_fma_probe_16x8__avx512, double, __m512d, pd, 8)
