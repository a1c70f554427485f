/* The 512-bit vocabulary (vec_avx512.h: 16 floats / 8 doubles per vector, lane masks, 32
 * registers) emulated with pairs of 256-bit AVX2 vectors.  The avx512emu tier compiles the
 * avx512 tier's kernel bodies with it, so that their tiles, loop orders and masked tails run
 * and are tested on CPUs without AVX-512.  Only correctness matters here: the 24-accumulator
 * tiles spill on 16 ymm registers.  FC_NREGS is the emulated 32, so that the bodies take the
 * same branches as on a real AVX-512 CPU. */
#ifndef FC_VEC_AVX512EMU_H
#define FC_VEC_AVX512EMU_H
#include <immintrin.h>
#include <stdint.h>

#define FC_NREGS 32

typedef struct { __m256 lo, hi; } fc_v16f;
typedef struct { __m256d lo, hi; } fc_v8d;

/* 2H lanes of -1 then 2H of 0 (H lanes per half): the halves of an n-lane mask are read
 * at 2H - n and 3H - n, both inside the table for every 0 <= n <= 2H. */
static const int32_t fc_emu_mask32[32] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                          -1, -1, -1, -1};
static const int64_t fc_emu_mask64[16] = {-1, -1, -1, -1, -1, -1, -1, -1};

/* One 512-bit operation = the same 256-bit operation on each half (H lanes each). */
#define FC_EMU_OPS(VT, T, S, H, MASKTAB)                                                     \
static inline VT fc_emu_load_##S(const T *p)                                                 \
{                                                                                            \
    VT r = {_mm256_loadu_##S(p), _mm256_loadu_##S(p + H)};                                   \
    return r;                                                                                \
}                                                                                            \
static inline VT fc_emu_bcast_##S(const T *p)                                                \
{                                                                                            \
    VT r = {_mm256_set1_##S(*p), _mm256_set1_##S(*p)};                                       \
    return r;                                                                                \
}                                                                                            \
static inline VT fc_emu_fma_##S(VT a, VT b, VT c)                                            \
{                                                                                            \
    VT r = {_mm256_fmadd_##S(a.lo, b.lo, c.lo), _mm256_fmadd_##S(a.hi, b.hi, c.hi)};        \
    return r;                                                                                \
}                                                                                            \
static inline VT fc_emu_add_##S(VT a, VT b)                                                  \
{                                                                                            \
    VT r = {_mm256_add_##S(a.lo, b.lo), _mm256_add_##S(a.hi, b.hi)};                         \
    return r;                                                                                \
}                                                                                            \
static inline void fc_emu_store_##S(T *p, VT v)                                              \
{                                                                                            \
    _mm256_storeu_##S(p, v.lo);                                                              \
    _mm256_storeu_##S(p + H, v.hi);                                                          \
}                                                                                            \
static inline VT fc_emu_zero_##S(void)                                                       \
{                                                                                            \
    VT r = {_mm256_setzero_##S(), _mm256_setzero_##S()};                                     \
    return r;                                                                                \
}                                                                                            \
/* A mask is the lane count n (0 <= n < 2H): the first n lanes. */                          \
static inline VT fc_emu_mload_##S(const T *p, int n)                                         \
{                                                                                            \
    const __m256i m0 = _mm256_loadu_si256((const __m256i *)(MASKTAB + 2 * H - n));           \
    const __m256i m1 = _mm256_loadu_si256((const __m256i *)(MASKTAB + 3 * H - n));           \
    VT r = {_mm256_maskload_##S(p, m0), _mm256_maskload_##S(p + H, m1)};                     \
    return r;                                                                                \
}
FC_EMU_OPS(fc_v16f, float, ps, 8, fc_emu_mask32)
FC_EMU_OPS(fc_v8d, double, pd, 4, fc_emu_mask64)

static inline float fc_emu_hsum_ps(fc_v16f v)
{
    __m256 s8 = _mm256_add_ps(v.lo, v.hi);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline double fc_emu_hsum_pd(fc_v8d v)
{
    __m256d s4 = _mm256_add_pd(v.lo, v.hi);
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}

#define V_f32 fc_v16f
#define L_f32 16
#define LOAD_f32 fc_emu_load_ps
#define BCAST_f32 fc_emu_bcast_ps
#define FMA_f32 fc_emu_fma_ps
#define ADD_f32 fc_emu_add_ps
#define STORE_f32 fc_emu_store_ps
#define ZERO_f32 fc_emu_zero_ps
#define MASK_f32 int
#define MAKE_MASK_f32(n) ((int)(n))
#define MLOAD_f32(p, m) fc_emu_mload_ps((p), (m))
#define HSUM_f32 fc_emu_hsum_ps

#define V_f64 fc_v8d
#define L_f64 8
#define LOAD_f64 fc_emu_load_pd
#define BCAST_f64 fc_emu_bcast_pd
#define FMA_f64 fc_emu_fma_pd
#define ADD_f64 fc_emu_add_pd
#define STORE_f64 fc_emu_store_pd
#define ZERO_f64 fc_emu_zero_pd
#define MASK_f64 int
#define MAKE_MASK_f64(n) ((int)(n))
#define MLOAD_f64(p, m) fc_emu_mload_pd((p), (m))
#define HSUM_f64 fc_emu_hsum_pd

#endif
