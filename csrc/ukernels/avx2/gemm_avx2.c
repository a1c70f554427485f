/* AVX2 + FMA GEMM micro-kernels (contract: fastconv_ukernel.h).
 *
 * Tile 6 x (2 vectors): 12 accumulator registers + 2 for the B row + 1 broadcast of A
 * = 15 of the 16 ymm registers.  Per step p: 2 loads of B, 6 broadcasts of A, 12 FMAs,
 * which keeps both FMA pipes of Zen 3 / Haswell busy.  Edge tiles (m < 6 or n < 2 vectors)
 * are computed whole and then copied through a small buffer, so that a given element's
 * arithmetic is the same wherever its tile sits. */
#include <immintrin.h>
#include "fastconv_ukernel.h"

#define FC_GEMM_AVX2(DT, T, V, VW, SFXV, BCAST)                                                     \
void fc_##DT##_gemm_6x##VW##__avx2(int64_t k, const T *a, const T *b, T *c, int64_t ldc,      \
                                     int64_t m, int64_t n, int acc)                          \
{                                                                                            \
    enum { NRV = VW / 2 };                                                                   \
    V c00 = _mm256_setzero_##SFXV(), c01 = _mm256_setzero_##SFXV();                          \
    V c10 = c00, c11 = c00, c20 = c00, c21 = c00;                                            \
    V c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;                      \
    for (int64_t p = 0; p < k; p++) {                                                        \
        const V b0 = _mm256_loadu_##SFXV(b), b1 = _mm256_loadu_##SFXV(b + NRV);             \
        V ai;                                                                                \
        ai = BCAST(a + 0);                                             \
        c00 = _mm256_fmadd_##SFXV(ai, b0, c00); c01 = _mm256_fmadd_##SFXV(ai, b1, c01);      \
        ai = BCAST(a + 1);                                             \
        c10 = _mm256_fmadd_##SFXV(ai, b0, c10); c11 = _mm256_fmadd_##SFXV(ai, b1, c11);      \
        ai = BCAST(a + 2);                                             \
        c20 = _mm256_fmadd_##SFXV(ai, b0, c20); c21 = _mm256_fmadd_##SFXV(ai, b1, c21);      \
        ai = BCAST(a + 3);                                             \
        c30 = _mm256_fmadd_##SFXV(ai, b0, c30); c31 = _mm256_fmadd_##SFXV(ai, b1, c31);      \
        ai = BCAST(a + 4);                                             \
        c40 = _mm256_fmadd_##SFXV(ai, b0, c40); c41 = _mm256_fmadd_##SFXV(ai, b1, c41);      \
        ai = BCAST(a + 5);                                             \
        c50 = _mm256_fmadd_##SFXV(ai, b0, c50); c51 = _mm256_fmadd_##SFXV(ai, b1, c51);      \
        a += 6;                                                                              \
        b += VW;                                                                             \
    }                                                                                        \
    T tile[6 * VW];                                                                          \
    T *dst = c;                                                                              \
    int64_t ld = ldc;                                                                        \
    const int full = (m == 6 && n == VW);                                                    \
    if (!full) {                                                                             \
        dst = tile;                                                                          \
        ld = VW;                                                                             \
    } else if (acc) {                                                                        \
        c00 = _mm256_add_##SFXV(_mm256_loadu_##SFXV(c + 0 * ldc), c00);                     \
        c01 = _mm256_add_##SFXV(_mm256_loadu_##SFXV(c + 0 * ldc + NRV), c01);               \
        c10 = _mm256_add_##SFXV(_mm256_loadu_##SFXV(c + 1 * ldc), c10);                     \
        c11 = _mm256_add_##SFXV(_mm256_loadu_##SFXV(c + 1 * ldc + NRV), c11);               \
        c20 = _mm256_add_##SFXV(_mm256_loadu_##SFXV(c + 2 * ldc), c20);                     \
        c21 = _mm256_add_##SFXV(_mm256_loadu_##SFXV(c + 2 * ldc + NRV), c21);               \
        c30 = _mm256_add_##SFXV(_mm256_loadu_##SFXV(c + 3 * ldc), c30);                     \
        c31 = _mm256_add_##SFXV(_mm256_loadu_##SFXV(c + 3 * ldc + NRV), c31);               \
        c40 = _mm256_add_##SFXV(_mm256_loadu_##SFXV(c + 4 * ldc), c40);                     \
        c41 = _mm256_add_##SFXV(_mm256_loadu_##SFXV(c + 4 * ldc + NRV), c41);               \
        c50 = _mm256_add_##SFXV(_mm256_loadu_##SFXV(c + 5 * ldc), c50);                     \
        c51 = _mm256_add_##SFXV(_mm256_loadu_##SFXV(c + 5 * ldc + NRV), c51);               \
    }                                                                                        \
    _mm256_storeu_##SFXV(dst + 0 * ld, c00); _mm256_storeu_##SFXV(dst + 0 * ld + NRV, c01);  \
    _mm256_storeu_##SFXV(dst + 1 * ld, c10); _mm256_storeu_##SFXV(dst + 1 * ld + NRV, c11);  \
    _mm256_storeu_##SFXV(dst + 2 * ld, c20); _mm256_storeu_##SFXV(dst + 2 * ld + NRV, c21);  \
    _mm256_storeu_##SFXV(dst + 3 * ld, c30); _mm256_storeu_##SFXV(dst + 3 * ld + NRV, c31);  \
    _mm256_storeu_##SFXV(dst + 4 * ld, c40); _mm256_storeu_##SFXV(dst + 4 * ld + NRV, c41);  \
    _mm256_storeu_##SFXV(dst + 5 * ld, c50); _mm256_storeu_##SFXV(dst + 5 * ld + NRV, c51);  \
    if (!full)                                                                               \
        for (int64_t i = 0; i < m; i++)                                                      \
            for (int64_t j = 0; j < n; j++)                                                  \
                c[i * ldc + j] = acc ? c[i * ldc + j] + tile[i * VW + j] : tile[i * VW + j]; \
}

FC_GEMM_AVX2(f32, float, __m256, 16, ps, _mm256_broadcast_ss)
FC_GEMM_AVX2(f64, double, __m256d, 8, pd, _mm256_broadcast_sd)
