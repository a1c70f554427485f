/* AVX2+FMA direct-conv micro-kernels (contracts in csrc/conv/direct_ukernels.h).
 * Bodies are macros so that every accumulator array has its exact compile-time size: GCC then
 * keeps the arrays in ymm registers (with larger, partly unused arrays it spills them). */
#include <immintrin.h>
#include "conv/direct_ukernels.h"

/* Per-dtype vector operations. */
#define V_f32 __m256
#define L_f32 8
#define LOAD_f32 _mm256_loadu_ps
#define BCAST_f32 _mm256_broadcast_ss
#define FMA_f32 _mm256_fmadd_ps
#define STORE_f32 _mm256_storeu_ps
#define ZERO_f32 _mm256_setzero_ps
#define MLOAD_f32 _mm256_maskload_ps
#define HSUM_f32 hsum_ps
#define V_f64 __m256d
#define L_f64 4
#define LOAD_f64 _mm256_loadu_pd
#define BCAST_f64 _mm256_broadcast_sd
#define FMA_f64 _mm256_fmadd_pd
#define STORE_f64 _mm256_storeu_pd
#define ZERO_f64 _mm256_setzero_pd
#define MLOAD_f64 _mm256_maskload_pd
#define HSUM_f64 hsum_pd

static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline double hsum_pd(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}

/* ---------------------------------------------------------------- tap kernels -- */

#define AVX2_DCONV(T, DT, MR, NV)                                                             \
void fc_##DT##_dconv_##MR##x##NV##v__avx2(int64_t ntaps, const int64_t *off, const T *x,      \
                                          const T *w, const T *bias, T *y, int64_t ldy,       \
                                          int64_t mr)                                         \
{                                                                                             \
    V_##DT acc[MR][NV];                                                                       \
    _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) {                                                            \
        const V_##DT b = bias ? BCAST_##DT(bias + m) : ZERO_##DT();                           \
        _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) acc[m][v] = b;                                           \
    }                                                                                         \
    for (int64_t t = 0; t < ntaps; t++) {                                                     \
        const T *xt = x + off[t];                                                             \
        const T *wt = w + t * MR;                                                             \
        if (MR * NV + NV + 1 <= 16) {                                                         \
            /* x first: NV + 1 + MR*NV <= 16 registers */                                      \
            V_##DT xv[NV];                                                                    \
            _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                             \
                xv[v] = LOAD_##DT(xt + L_##DT * v);                                           \
            _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) {                           \
                const V_##DT wv = BCAST_##DT(wt + m);                                         \
                _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++)                         \
                    acc[m][v] = FMA_##DT(wv, xv[v], acc[m][v]);                               \
            }                                                                                 \
        } else {                                                                              \
            /* weights first: MR + 1 + MR*NV <= 16 registers */                               \
            V_##DT wv[MR];                                                                    \
            _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) wv[m] = BCAST_##DT(wt + m); \
            _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) {                           \
                const V_##DT xv = LOAD_##DT(xt + L_##DT * v);                                 \
                _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++)                         \
                    acc[m][v] = FMA_##DT(wv[m], xv, acc[m][v]);                               \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
    _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++)                                                              \
        if (m < mr)                                                                           \
            _Pragma("GCC unroll 16") for (int v = 0; v < NV; v++) STORE_##DT(y + m * ldy + L_##DT * v, acc[m][v]);     \
}

#define AVX2_DCONV_BOTH(MR, NV) AVX2_DCONV(float, f32, MR, NV) AVX2_DCONV(double, f64, MR, NV)
FC_DCONV_SHAPES(AVX2_DCONV_BOTH)

/* ------------------------------------------------------ weight-gradient kernels -- */

/* -1 in the first `rem` lanes: masked loads never touch the lanes past the row end. */
static const int32_t g_mask_f32[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
static const int64_t g_mask_f64[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

/* Rows m >= mr and taps t >= tb alias row 0 / tap 0: computed, never stored. */
#define AVX2_DCONVGW(T, DT, MR, TB)                                                           \
void fc_##DT##_dconvgw_##MR##x##TB##__avx2(int64_t nrows, int64_t len, const T *gy,           \
                                           int64_t ldm, int64_t ldr, const T *x, int64_t ldx, \
                                           const int64_t *off, T *gw, int64_t ldgw,           \
                                           int64_t mr, int64_t tb)                            \
{                                                                                             \
    V_##DT acc[MR][TB];                                                                       \
    const T *gm[MR];                                                                          \
    int64_t ot[TB];                                                                           \
    _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) gm[m] = gy + (m < mr ? m : 0) * ldm;                         \
    _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++) ot[t] = off[t < tb ? t : 0];                                 \
    _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++)                                                              \
        _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++) acc[m][t] = ZERO_##DT();                                 \
    const int64_t rem = len % L_##DT, lv = len - rem;                                         \
    const __m256i mask =                                                                      \
        _mm256_loadu_si256((const __m256i *)(g_mask_##DT + L_##DT - rem));                    \
    for (int64_t r = 0; r < nrows; r++) {                                                     \
        const T *gr[MR], *xt[TB];                                                             \
        _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) gr[m] = gm[m] + r * ldr;        \
        _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++) xt[t] = x + r * ldx + ot[t];    \
        for (int64_t p = 0; p < lv; p += L_##DT) {                                            \
            /* x first: TB + 1 + MR*TB <= 16 registers */                                     \
            V_##DT xv[TB];                                                                    \
            _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++) xv[t] = LOAD_##DT(xt[t] + p);\
            _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) {                           \
                const V_##DT g = LOAD_##DT(gr[m] + p);                                        \
                _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++)                         \
                    acc[m][t] = FMA_##DT(g, xv[t], acc[m][t]);                                \
            }                                                                                 \
        }                                                                                     \
        if (rem) {                                                                            \
            V_##DT xv[TB];                                                                    \
            _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++)                             \
                xv[t] = MLOAD_##DT(xt[t] + lv, mask);                                         \
            _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++) {                           \
                const V_##DT g = MLOAD_##DT(gr[m] + lv, mask);                                \
                _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++)                         \
                    acc[m][t] = FMA_##DT(g, xv[t], acc[m][t]);                                \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
    _Pragma("GCC unroll 16") for (int m = 0; m < MR; m++)                                                              \
        _Pragma("GCC unroll 16") for (int t = 0; t < TB; t++)                                                          \
            if (m < mr && t < tb) gw[m * ldgw + t] += HSUM_##DT(acc[m][t]);                   \
}

AVX2_DCONVGW(float, f32, 4, 3)
AVX2_DCONVGW(float, f32, 1, 9)
AVX2_DCONVGW(double, f64, 4, 3)
AVX2_DCONVGW(double, f64, 1, 9)
