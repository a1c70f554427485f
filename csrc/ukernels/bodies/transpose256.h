/* 256-bit register transposes shared by the transposing B-panel packers of the tiers that
 * have AVX2 (avx2, avx512): 8x8 floats and 4x4 doubles per call. */
#ifndef FC_TRANSPOSE256_H
#define FC_TRANSPOSE256_H
#include <immintrin.h>
#include <stdint.h>

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

/* dst[p*NR + j] = rows[j][p] for p < kc, j < NR (NR a multiple of 8 floats / 4 doubles). */
#define FC_PACKT_BODY(NAME, T, NR, BLK, TRANSPOSE)                                            \
void NAME(int64_t kc, const T *const *rows, T *dst)                                          \
{                                                                                             \
    int64_t p = 0;                                                                            \
    for (; p + BLK <= kc; p += BLK)                                                           \
        for (int j = 0; j < NR; j += BLK)                                                     \
            TRANSPOSE(rows + j, p, dst + p * NR + j, NR);                                     \
    for (; p < kc; p++)                                                                       \
        for (int j = 0; j < NR; j++)                                                          \
            dst[p * NR + j] = rows[j][p];                                                     \
}

/* dst[p*MR + i] = rows[i][p] for p < kc, i < MR, any MR: the A-panel twin of
 * FC_PACKT_BODY.  Whole groups of BLK rows transpose straight into the panel; a last, partial
 * group (MR not a multiple of BLK: avx2's 6, avx512's 12 floats) transposes into a block on
 * the stack (its missing rows read row 0 again) and only its MR % BLK columns are copied. */
#define FC_PACKA_BODY(NAME, T, MR, BLK, TRANSPOSE)                                            \
void NAME(int64_t kc, const T *const *rows, T *dst)                                          \
{                                                                                             \
    enum { FULL = MR / BLK * BLK, REST = MR - MR / BLK * BLK };                              \
    const T *last[BLK];                                                                       \
    T blk[BLK * BLK];                                                                         \
    for (int j = 0; j < BLK; j++)                                                             \
        last[j] = rows[FULL + j < MR ? FULL + j : 0];                                         \
    int64_t p = 0;                                                                            \
    for (; p + BLK <= kc; p += BLK) {                                                         \
        for (int i = 0; i < FULL; i += BLK)                                                   \
            TRANSPOSE(rows + i, p, dst + p * MR + i, MR);                                     \
        if (REST) {                                                                           \
            TRANSPOSE(last, p, blk, BLK);                                                     \
            for (int q = 0; q < BLK; q++)                                                     \
                for (int j = 0; j < REST; j++)                                                \
                    dst[(p + q) * MR + FULL + j] = blk[q * BLK + j];                          \
        }                                                                                     \
    }                                                                                         \
    for (; p < kc; p++)                                                                       \
        for (int i = 0; i < MR; i++)                                                          \
            dst[p * MR + i] = rows[i][p];                                                     \
}

#endif
