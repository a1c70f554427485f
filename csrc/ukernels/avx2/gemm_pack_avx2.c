/* AVX2 transposing B-panel packers (contract: fastconv_ukernel.h): register transposes of
 * 8x8 float / 4x4 double blocks instead of one scalar store per element. */
#include <immintrin.h>
#include "fastconv_ukernel.h"

/* dst[i*ld + 0..7] = (r[0][i], ..., r[7][i]) for i < 8. */
static inline void transpose8_ps(const float *const *r, int64_t p, float *dst, int64_t ld)
{
    __m256 a0 = _mm256_loadu_ps(r[0] + p), a1 = _mm256_loadu_ps(r[1] + p);
    __m256 a2 = _mm256_loadu_ps(r[2] + p), a3 = _mm256_loadu_ps(r[3] + p);
    __m256 a4 = _mm256_loadu_ps(r[4] + p), a5 = _mm256_loadu_ps(r[5] + p);
    __m256 a6 = _mm256_loadu_ps(r[6] + p), a7 = _mm256_loadu_ps(r[7] + p);
    __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1);
    __m256 t2 = _mm256_unpacklo_ps(a2, a3), t3 = _mm256_unpackhi_ps(a2, a3);
    __m256 t4 = _mm256_unpacklo_ps(a4, a5), t5 = _mm256_unpackhi_ps(a4, a5);
    __m256 t6 = _mm256_unpacklo_ps(a6, a7), t7 = _mm256_unpackhi_ps(a6, a7);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(dst + 0 * ld, _mm256_permute2f128_ps(s0, s4, 0x20));
    _mm256_storeu_ps(dst + 1 * ld, _mm256_permute2f128_ps(s1, s5, 0x20));
    _mm256_storeu_ps(dst + 2 * ld, _mm256_permute2f128_ps(s2, s6, 0x20));
    _mm256_storeu_ps(dst + 3 * ld, _mm256_permute2f128_ps(s3, s7, 0x20));
    _mm256_storeu_ps(dst + 4 * ld, _mm256_permute2f128_ps(s0, s4, 0x31));
    _mm256_storeu_ps(dst + 5 * ld, _mm256_permute2f128_ps(s1, s5, 0x31));
    _mm256_storeu_ps(dst + 6 * ld, _mm256_permute2f128_ps(s2, s6, 0x31));
    _mm256_storeu_ps(dst + 7 * ld, _mm256_permute2f128_ps(s3, s7, 0x31));
}

/* dst[i*ld + 0..3] = (r[0][i], ..., r[3][i]) for i < 4. */
static inline void transpose4_pd(const double *const *r, int64_t p, double *dst, int64_t ld)
{
    __m256d a0 = _mm256_loadu_pd(r[0] + p), a1 = _mm256_loadu_pd(r[1] + p);
    __m256d a2 = _mm256_loadu_pd(r[2] + p), a3 = _mm256_loadu_pd(r[3] + p);
    __m256d t0 = _mm256_unpacklo_pd(a0, a1), t1 = _mm256_unpackhi_pd(a0, a1);
    __m256d t2 = _mm256_unpacklo_pd(a2, a3), t3 = _mm256_unpackhi_pd(a2, a3);
    _mm256_storeu_pd(dst + 0 * ld, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(dst + 1 * ld, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(dst + 2 * ld, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(dst + 3 * ld, _mm256_permute2f128_pd(t1, t3, 0x31));
}

void fc_f32_gemm_packt_16__avx2(int64_t kc, const float *const *rows, float *dst)
{
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
        transpose8_ps(rows, p, dst + p * 16, 16);
        transpose8_ps(rows + 8, p, dst + p * 16 + 8, 16);
    }
    for (; p < kc; p++)
        for (int j = 0; j < 16; j++)
            dst[p * 16 + j] = rows[j][p];
}

void fc_f64_gemm_packt_8__avx2(int64_t kc, const double *const *rows, double *dst)
{
    int64_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        transpose4_pd(rows, p, dst + p * 8, 8);
        transpose4_pd(rows + 4, p, dst + p * 8 + 4, 8);
    }
    for (; p < kc; p++)
        for (int j = 0; j < 8; j++)
            dst[p * 8 + j] = rows[j][p];
}
