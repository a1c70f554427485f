/* Vector vocabulary of the 256-bit tier (AVX2 + FMA, 16 ymm registers) for the ISA-neutral
 * kernel bodies in this folder.  Per dtype DT (f32 / f64): V_DT the vector type, L_DT its
 * lanes, MASK_DT a lane mask for the first n lanes (MAKE_MASK_DT(n), 0 <= n < L_DT),
 * MLOAD_DT(p, mask) a load that touches only the masked lanes, HSUM_DT a horizontal sum. */
#ifndef FC_VEC_AVX2_H
#define FC_VEC_AVX2_H
#include <immintrin.h>
#include <stdint.h>

#define FC_NREGS 16

#define V_f32 __m256
#define L_f32 8
#define LOAD_f32 _mm256_loadu_ps
#define BCAST_f32 _mm256_broadcast_ss
#define FMA_f32 _mm256_fmadd_ps
#define ADD_f32 _mm256_add_ps
#define STORE_f32 _mm256_storeu_ps
#define ZERO_f32 _mm256_setzero_ps
#define MASK_f32 __m256i
#define MAKE_MASK_f32(n) _mm256_loadu_si256((const __m256i *)(fc_vec_mask32 + 8 - (n)))
#define MLOAD_f32(p, m) _mm256_maskload_ps((p), (m))
#define HSUM_f32 fc_hsum_ps

#define V_f64 __m256d
#define L_f64 4
#define LOAD_f64 _mm256_loadu_pd
#define BCAST_f64 _mm256_broadcast_sd
#define FMA_f64 _mm256_fmadd_pd
#define ADD_f64 _mm256_add_pd
#define STORE_f64 _mm256_storeu_pd
#define ZERO_f64 _mm256_setzero_pd
#define MASK_f64 __m256i
#define MAKE_MASK_f64(n) _mm256_loadu_si256((const __m256i *)(fc_vec_mask64 + 4 - (n)))
#define MLOAD_f64(p, m) _mm256_maskload_pd((p), (m))
#define HSUM_f64 fc_hsum_pd

/* -1 in the first n lanes when read from index L - n. */
static const int32_t fc_vec_mask32[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static const int64_t fc_vec_mask64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

static inline float fc_hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline double fc_hsum_pd(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}

#endif
