/* AVX2 pooling row micro-kernels (contracts in pool/pool_internal.h).  Vector paths for the
 * strides that dominate real networks (1 and 2, any kernel and dilation); everything else,
 * and the tails, go to the portable kernels. */
#include <immintrin.h>
#include <string.h>
#include "ukernels/generic/pool_generic.h"

/* PyTorch's rule, b being the later tap: MAXPS(b, a) is b > a ? b : a, and a NaN b wins. */
static inline __m256 nanmax_ps(__m256 a, __m256 b)
{
    return _mm256_blendv_ps(_mm256_max_ps(b, a), b, _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
}

static inline __m256d nanmax_pd(__m256d a, __m256d b)
{
    return _mm256_blendv_pd(_mm256_max_pd(b, a), b, _mm256_cmp_pd(b, b, _CMP_UNORD_Q));
}

/* p[0], p[2], ..., p[14] in the lane order (0 1 4 5 2 3 6 7); elementwise operations keep
 * that order, and unshuffle_ps restores it once per output vector. */
static inline __m256 even_ps(const float *p)
{
    return _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8),
                             _MM_SHUFFLE(2, 0, 2, 0));
}

/* even_ps without reading past p[14]: the second load starts at p[7], its odd lanes are
 * p[8], p[10], ... */
static inline __m256 even_exact_ps(const float *p)
{
    return _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 7),
                             _MM_SHUFFLE(3, 1, 2, 0));
}

static inline __m256 unshuffle_ps(__m256 v)
{
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(v),
                                                  _MM_SHUFFLE(3, 1, 2, 0)));
}

/* p[0], p[2], p[4], p[6] in the lane order (0 2 1 3). */
static inline __m256d even_pd(const double *p)
{
    return _mm256_unpacklo_pd(_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4));
}

/* even_pd without reading past p[6]. */
static inline __m256d even_exact_pd(const double *p)
{
    return _mm256_blend_pd(_mm256_loadu_pd(p), _mm256_loadu_pd(p + 3), 0xA);
}

static inline __m256d unshuffle_pd(__m256d v)
{
    return _mm256_permute4x64_pd(v, _MM_SHUFFLE(3, 1, 2, 0));
}

void fc_f32_pool_vmax__avx2(float *out, const float *a, const float *b, int64_t n)
{
    int64_t c = 0;
    for (; c + 8 <= n; c += 8)
        _mm256_storeu_ps(out + c, nanmax_ps(_mm256_loadu_ps(a + c), _mm256_loadu_ps(b + c)));
    if (c < n)
        fc_f32_pool_vmax__generic(out + c, a + c, b + c, n - c);
}

void fc_f64_pool_vmax__avx2(double *out, const double *a, const double *b, int64_t n)
{
    int64_t c = 0;
    for (; c + 4 <= n; c += 4)
        _mm256_storeu_pd(out + c, nanmax_pd(_mm256_loadu_pd(a + c), _mm256_loadu_pd(b + c)));
    if (c < n)
        fc_f64_pool_vmax__generic(out + c, a + c, b + c, n - c);
}

void fc_f32_pool_vsum__avx2(float *out, const float *a, const float *b, int64_t n)
{
    int64_t c = 0;
    for (; c + 8 <= n; c += 8)
        _mm256_storeu_ps(out + c, _mm256_add_ps(_mm256_loadu_ps(a + c), _mm256_loadu_ps(b + c)));
    if (c < n)
        fc_f32_pool_vsum__generic(out + c, a + c, b + c, n - c);
}

void fc_f64_pool_vsum__avx2(double *out, const double *a, const double *b, int64_t n)
{
    int64_t c = 0;
    for (; c + 4 <= n; c += 4)
        _mm256_storeu_pd(out + c, _mm256_add_pd(_mm256_loadu_pd(a + c), _mm256_loadu_pd(b + c)));
    if (c < n)
        fc_f64_pool_vsum__generic(out + c, a + c, b + c, n - c);
}

void fc_f32_pool_hmax__avx2(float *out, const float *in, int64_t n_out, int64_t k, int64_t s,
                            int64_t d)
{
    int64_t o = 0;
    if (s == 1) {
        for (; o + 8 <= n_out; o += 8) {
            const float *w = in + o;
            __m256 m = _mm256_loadu_ps(w);
            for (int64_t j = 1; j < k; ++j)
                m = nanmax_ps(m, _mm256_loadu_ps(w + j * d));
            _mm256_storeu_ps(out + o, m);
        }
    } else if (s == 2) {
        for (; o + 8 <= n_out; o += 8) {
            const float *w = in + 2 * o;
            __m256 m = even_ps(w);
            for (int64_t j = 1; j < k; ++j)
                m = nanmax_ps(m, even_ps(w + j * d));
            _mm256_storeu_ps(out + o, unshuffle_ps(m));
        }
    }
    if (o < n_out)
        fc_f32_pool_hmax__generic(out + o, in + o * s, n_out - o, k, s, d);
}

void fc_f64_pool_hmax__avx2(double *out, const double *in, int64_t n_out, int64_t k,
                            int64_t s, int64_t d)
{
    int64_t o = 0;
    if (s == 1) {
        for (; o + 4 <= n_out; o += 4) {
            const double *w = in + o;
            __m256d m = _mm256_loadu_pd(w);
            for (int64_t j = 1; j < k; ++j)
                m = nanmax_pd(m, _mm256_loadu_pd(w + j * d));
            _mm256_storeu_pd(out + o, m);
        }
    } else if (s == 2) {
        for (; o + 4 <= n_out; o += 4) {
            const double *w = in + 2 * o;
            __m256d m = even_pd(w);
            for (int64_t j = 1; j < k; ++j)
                m = nanmax_pd(m, even_pd(w + j * d));
            _mm256_storeu_pd(out + o, unshuffle_pd(m));
        }
    }
    if (o < n_out)
        fc_f64_pool_hmax__generic(out + o, in + o * s, n_out - o, k, s, d);
}

void fc_f32_pool_hsum__avx2(float *out, const float *in, int64_t n_out, int64_t k, int64_t s)
{
    int64_t o = 0;
    if (s == 1) {
        for (; o + 8 <= n_out; o += 8) {
            const float *w = in + o;
            __m256 acc = _mm256_loadu_ps(w);
            for (int64_t j = 1; j < k; ++j)
                acc = _mm256_add_ps(acc, _mm256_loadu_ps(w + j));
            _mm256_storeu_ps(out + o, acc);
        }
    } else if (s == 2) {
        for (; o + 8 <= n_out; o += 8) {
            const float *w = in + 2 * o;
            __m256 acc = even_ps(w);
            for (int64_t j = 1; j < k; ++j)
                acc = _mm256_add_ps(acc, even_ps(w + j));
            _mm256_storeu_ps(out + o, unshuffle_ps(acc));
        }
    }
    if (o < n_out)
        fc_f32_pool_hsum__generic(out + o, in + o * s, n_out - o, k, s);
}

void fc_f64_pool_hsum__avx2(double *out, const double *in, int64_t n_out, int64_t k,
                            int64_t s)
{
    int64_t o = 0;
    if (s == 1) {
        for (; o + 4 <= n_out; o += 4) {
            const double *w = in + o;
            __m256d acc = _mm256_loadu_pd(w);
            for (int64_t j = 1; j < k; ++j)
                acc = _mm256_add_pd(acc, _mm256_loadu_pd(w + j));
            _mm256_storeu_pd(out + o, acc);
        }
    } else if (s == 2) {
        for (; o + 4 <= n_out; o += 4) {
            const double *w = in + 2 * o;
            __m256d acc = even_pd(w);
            for (int64_t j = 1; j < k; ++j)
                acc = _mm256_add_pd(acc, even_pd(w + j));
            _mm256_storeu_pd(out + o, unshuffle_pd(acc));
        }
    }
    if (o < n_out)
        fc_f64_pool_hsum__generic(out + o, in + o * s, n_out - o, k, s);
}

/* The sequential scan, 8 (float) or 4 (double) windows per vector: "greater or NaN" is
 * one ordered compare OR one unordered self-compare, and the tap number rides along in a
 * blended vector.  Stride 2 works in the even_exact lane order and restores it once. */
static inline void hargmax8_ps(float *m, int32_t *tap, const float *const *rows, int64_t nr,
                               int64_t o, int64_t k, int64_t s, int64_t d)
{
    __m256 mv = s == 1 ? _mm256_loadu_ps(rows[0] + o) : even_exact_ps(rows[0] + 2 * o);
    __m256 t = _mm256_setzero_ps();   /* tap numbers as int32 bits */
    for (int64_t i = 0; i < nr; ++i)
        for (int64_t j = (i == 0); j < k; ++j) {
            const float *p = rows[i] + s * o + j * d;
            const __m256 v = s == 1 ? _mm256_loadu_ps(p) : even_exact_ps(p);
            const __m256 gt = _mm256_or_ps(_mm256_cmp_ps(v, mv, _CMP_GT_OQ),
                                           _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
            mv = _mm256_blendv_ps(mv, v, gt);
            t = _mm256_blendv_ps(t, _mm256_castsi256_ps(_mm256_set1_epi32((int)(i * k + j))),
                                 gt);
        }
    if (s == 2) {
        mv = unshuffle_ps(mv);
        t = unshuffle_ps(t);
    }
    _mm256_storeu_ps(m + o, mv);
    _mm256_storeu_si256((__m256i *)(tap + o), _mm256_castps_si256(t));
}

static inline void hargmax4_pd(double *m, int32_t *tap, const double *const *rows, int64_t nr,
                               int64_t o, int64_t k, int64_t s, int64_t d)
{
    __m256d mv = s == 1 ? _mm256_loadu_pd(rows[0] + o) : even_exact_pd(rows[0] + 2 * o);
    __m256d t = _mm256_setzero_pd();   /* tap numbers as exact doubles */
    for (int64_t i = 0; i < nr; ++i)
        for (int64_t j = (i == 0); j < k; ++j) {
            const double *p = rows[i] + s * o + j * d;
            const __m256d v = s == 1 ? _mm256_loadu_pd(p) : even_exact_pd(p);
            const __m256d gt = _mm256_or_pd(_mm256_cmp_pd(v, mv, _CMP_GT_OQ),
                                            _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
            mv = _mm256_blendv_pd(mv, v, gt);
            t = _mm256_blendv_pd(t, _mm256_set1_pd((double)(i * k + j)), gt);
        }
    if (s == 2) {
        mv = unshuffle_pd(mv);
        t = unshuffle_pd(t);
    }
    _mm256_storeu_pd(m + o, mv);
    _mm_storeu_si128((__m128i *)(tap + o), _mm256_cvtpd_epi32(t));
}

/* A ragged end redoes the last full vector of windows (same results) instead of a scalar
 * tail, whose data-dependent selects cost more than the vector. */
#define FC_HARGMAX_AVX2(SFX, T, L, BODY)                                                     \
    void fc_##SFX##_pool_hargmax__avx2(T *m, int32_t *tap, const T *const *rows, int64_t nr, \
                                       int64_t n_out, int64_t k, int64_t s, int64_t d)       \
    {                                                                                        \
        if ((s != 1 && s != 2) || n_out < L) {                                               \
            fc_##SFX##_pool_hargmax__generic(m, tap, rows, nr, n_out, k, s, d);              \
            return;                                                                          \
        }                                                                                    \
        int64_t o = 0;                                                                       \
        for (; o + L <= n_out; o += L)                                                       \
            BODY(m, tap, rows, nr, o, k, s, d);                                              \
        if (o < n_out)                                                                       \
            BODY(m, tap, rows, nr, n_out - L, k, s, d);                                      \
    }

FC_HARGMAX_AVX2(f32, float, 8, hargmax8_ps)
FC_HARGMAX_AVX2(f64, double, 4, hargmax4_pd)

/* (a[o], b[o]) pairs for o < 8, in order, as two vectors. */
static inline void interleave_store_ps(float *out, __m256 a, __m256 b)
{
    __m256 lo = _mm256_unpacklo_ps(a, b), hi = _mm256_unpackhi_ps(a, b);
    _mm256_storeu_ps(out, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(out + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}

static inline void interleave_store_pd(double *out, __m256d a, __m256d b)
{
    __m256d lo = _mm256_unpacklo_pd(a, b), hi = _mm256_unpackhi_pd(a, b);
    _mm256_storeu_pd(out, _mm256_permute2f128_pd(lo, hi, 0x20));
    _mm256_storeu_pd(out + 4, _mm256_permute2f128_pd(lo, hi, 0x31));
}

void fc_f32_pool_bwd2x2__avx2(float *r0, float *r1, const int32_t *tap, const float *g,
                              int64_t n)
{
    int64_t o = 0;
    for (; o + 8 <= n; o += 8) {
        const __m256i t = _mm256_loadu_si256((const __m256i *)(tap + o));
        const __m256 v = _mm256_loadu_ps(g + o);
        __m256 m0 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(t, _mm256_set1_epi32(0)));
        __m256 m1 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(t, _mm256_set1_epi32(1)));
        __m256 m2 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(t, _mm256_set1_epi32(2)));
        __m256 m3 = _mm256_castsi256_ps(_mm256_cmpeq_epi32(t, _mm256_set1_epi32(3)));
        interleave_store_ps(r0 + 2 * o, _mm256_and_ps(m0, v), _mm256_and_ps(m1, v));
        interleave_store_ps(r1 + 2 * o, _mm256_and_ps(m2, v), _mm256_and_ps(m3, v));
    }
    if (o < n)
        fc_f32_pool_bwd2x2__generic(r0 + 2 * o, r1 + 2 * o, tap + o, g + o, n - o);
}

void fc_f64_pool_bwd2x2__avx2(double *r0, double *r1, const int32_t *tap, const double *g,
                              int64_t n)
{
    int64_t o = 0;
    for (; o + 4 <= n; o += 4) {
        /* widen the 4 int32 tap numbers to 64-bit lanes for the double masks */
        const __m256i t = _mm256_cvtepi32_epi64(_mm_loadu_si128((const __m128i *)(tap + o)));
        const __m256d v = _mm256_loadu_pd(g + o);
        __m256d m0 = _mm256_castsi256_pd(_mm256_cmpeq_epi64(t, _mm256_set1_epi64x(0)));
        __m256d m1 = _mm256_castsi256_pd(_mm256_cmpeq_epi64(t, _mm256_set1_epi64x(1)));
        __m256d m2 = _mm256_castsi256_pd(_mm256_cmpeq_epi64(t, _mm256_set1_epi64x(2)));
        __m256d m3 = _mm256_castsi256_pd(_mm256_cmpeq_epi64(t, _mm256_set1_epi64x(3)));
        interleave_store_pd(r0 + 2 * o, _mm256_and_pd(m0, v), _mm256_and_pd(m1, v));
        interleave_store_pd(r1 + 2 * o, _mm256_and_pd(m2, v), _mm256_and_pd(m3, v));
    }
    if (o < n)
        fc_f64_pool_bwd2x2__generic(r0 + 2 * o, r1 + 2 * o, tap + o, g + o, n - o);
}

/* Global reductions: four independent accumulators hide the add/max latency. */
float fc_f32_pool_rmax__avx2(const float *x, int64_t n)
{
    if (n < 32)
        return fc_f32_pool_rmax__generic(x, n);
    __m256 a0 = _mm256_loadu_ps(x), a1 = _mm256_loadu_ps(x + 8);
    __m256 a2 = _mm256_loadu_ps(x + 16), a3 = _mm256_loadu_ps(x + 24);
    int64_t i = 32;
    for (; i + 32 <= n; i += 32) {
        a0 = nanmax_ps(a0, _mm256_loadu_ps(x + i));
        a1 = nanmax_ps(a1, _mm256_loadu_ps(x + i + 8));
        a2 = nanmax_ps(a2, _mm256_loadu_ps(x + i + 16));
        a3 = nanmax_ps(a3, _mm256_loadu_ps(x + i + 24));
    }
    a0 = nanmax_ps(nanmax_ps(a0, a1), nanmax_ps(a2, a3));
    float lanes[8];
    _mm256_storeu_ps(lanes, a0);
    float m = fc_f32_pool_rmax__generic(lanes, 8);
    if (i < n) {
        float t = fc_f32_pool_rmax__generic(x + i, n - i);
        m = (t > m || t != t) ? t : m;
    }
    return m;
}

double fc_f64_pool_rmax__avx2(const double *x, int64_t n)
{
    if (n < 16)
        return fc_f64_pool_rmax__generic(x, n);
    __m256d a0 = _mm256_loadu_pd(x), a1 = _mm256_loadu_pd(x + 4);
    __m256d a2 = _mm256_loadu_pd(x + 8), a3 = _mm256_loadu_pd(x + 12);
    int64_t i = 16;
    for (; i + 16 <= n; i += 16) {
        a0 = nanmax_pd(a0, _mm256_loadu_pd(x + i));
        a1 = nanmax_pd(a1, _mm256_loadu_pd(x + i + 4));
        a2 = nanmax_pd(a2, _mm256_loadu_pd(x + i + 8));
        a3 = nanmax_pd(a3, _mm256_loadu_pd(x + i + 12));
    }
    a0 = nanmax_pd(nanmax_pd(a0, a1), nanmax_pd(a2, a3));
    double lanes[4];
    _mm256_storeu_pd(lanes, a0);
    double m = fc_f64_pool_rmax__generic(lanes, 4);
    if (i < n) {
        double t = fc_f64_pool_rmax__generic(x + i, n - i);
        m = (t > m || t != t) ? t : m;
    }
    return m;
}

float fc_f32_pool_rsum__avx2(const float *x, int64_t n)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    a0 = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h) + fc_f32_pool_rsum__generic(x + i, n - i);
}

double fc_f64_pool_rsum__avx2(const double *x, int64_t n)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    __m256d a2 = _mm256_setzero_pd(), a3 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_add_pd(a0, _mm256_loadu_pd(x + i));
        a1 = _mm256_add_pd(a1, _mm256_loadu_pd(x + i + 4));
        a2 = _mm256_add_pd(a2, _mm256_loadu_pd(x + i + 8));
        a3 = _mm256_add_pd(a3, _mm256_loadu_pd(x + i + 12));
    }
    for (; i + 4 <= n; i += 4)
        a0 = _mm256_add_pd(a0, _mm256_loadu_pd(x + i));
    a0 = _mm256_add_pd(_mm256_add_pd(a0, a1), _mm256_add_pd(a2, a3));
    __m128d h = _mm_add_pd(_mm256_castpd256_pd128(a0), _mm256_extractf128_pd(a0, 1));
    h = _mm_add_sd(h, _mm_unpackhi_pd(h, h));
    return _mm_cvtsd_f64(h) + fc_f64_pool_rsum__generic(x + i, n - i);
}

/* Max backward of 2x2 / stride 2 windows straight from flat indices.  The offset a of an
 * index from its window's corner must be 0, 1, W or W + 1; one 64-bit compare per
 * candidate gives both the validity and the (r0 | r1, even | odd) masks.  float: a pair of
 * lanes per output, so the masks of taps 0 and 1 interleave with one blend. */
int fc_f32_pool_bwd2x2i__avx2(float *r0, float *r1, const int64_t *idx, int64_t base,
                              int64_t W, const float *g, int64_t n)
{
    const __m256i one = _mm256_set1_epi64x(1), wv = _mm256_set1_epi64x(W);
    const __m256i w1 = _mm256_set1_epi64x(W + 1), step = _mm256_set1_epi64x(8);
    const __m256i dup = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3);
    __m256i pos = _mm256_setr_epi64x(base, base + 2, base + 4, base + 6);
    __m256i ok = _mm256_set1_epi64x(-1);
    int64_t o = 0;
    for (; o + 4 <= n; o += 4) {
        const __m256i a = _mm256_sub_epi64(_mm256_loadu_si256((const __m256i *)(idx + o)),
                                           pos);
        pos = _mm256_add_epi64(pos, step);
        const __m256i e0 = _mm256_cmpeq_epi64(a, _mm256_setzero_si256());
        const __m256i e1 = _mm256_cmpeq_epi64(a, one);
        const __m256i e2 = _mm256_cmpeq_epi64(a, wv);
        const __m256i e3 = _mm256_cmpeq_epi64(a, w1);
        ok = _mm256_and_si256(ok, _mm256_or_si256(_mm256_or_si256(e0, e1),
                                                  _mm256_or_si256(e2, e3)));
        const __m256 v = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_loadu_ps(g + o)),
                                                  dup);
        const __m256 m01 = _mm256_castsi256_ps(_mm256_blend_epi32(e0, e1, 0xAA));
        const __m256 m23 = _mm256_castsi256_ps(_mm256_blend_epi32(e2, e3, 0xAA));
        _mm256_storeu_ps(r0 + 2 * o, _mm256_and_ps(m01, v));
        _mm256_storeu_ps(r1 + 2 * o, _mm256_and_ps(m23, v));
    }
    int good = _mm256_movemask_epi8(ok) == -1;
    if (o < n)
        good &= fc_f32_pool_bwd2x2i__generic(r0 + 2 * o, r1 + 2 * o, idx + o, base + 2 * o,
                                             W, g + o, n - o);
    return good;
}

int fc_f64_pool_bwd2x2i__avx2(double *r0, double *r1, const int64_t *idx, int64_t base,
                              int64_t W, const double *g, int64_t n)
{
    const __m256i one = _mm256_set1_epi64x(1), wv = _mm256_set1_epi64x(W);
    const __m256i w1 = _mm256_set1_epi64x(W + 1), step = _mm256_set1_epi64x(8);
    __m256i pos = _mm256_setr_epi64x(base, base + 2, base + 4, base + 6);
    __m256i ok = _mm256_set1_epi64x(-1);
    int64_t o = 0;
    for (; o + 4 <= n; o += 4) {
        const __m256i a = _mm256_sub_epi64(_mm256_loadu_si256((const __m256i *)(idx + o)),
                                           pos);
        pos = _mm256_add_epi64(pos, step);
        const __m256i e0 = _mm256_cmpeq_epi64(a, _mm256_setzero_si256());
        const __m256i e1 = _mm256_cmpeq_epi64(a, one);
        const __m256i e2 = _mm256_cmpeq_epi64(a, wv);
        const __m256i e3 = _mm256_cmpeq_epi64(a, w1);
        ok = _mm256_and_si256(ok, _mm256_or_si256(_mm256_or_si256(e0, e1),
                                                  _mm256_or_si256(e2, e3)));
        const __m256d v = _mm256_loadu_pd(g + o);
        interleave_store_pd(r0 + 2 * o, _mm256_and_pd(_mm256_castsi256_pd(e0), v),
                            _mm256_and_pd(_mm256_castsi256_pd(e1), v));
        interleave_store_pd(r1 + 2 * o, _mm256_and_pd(_mm256_castsi256_pd(e2), v),
                            _mm256_and_pd(_mm256_castsi256_pd(e3), v));
    }
    int good = _mm256_movemask_epi8(ok) == -1;
    if (o < n)
        good &= fc_f64_pool_bwd2x2i__generic(r0 + 2 * o, r1 + 2 * o, idx + o, base + 2 * o,
                                             W, g + o, n - o);
    return good;
}

void fc_f32_pool_vdiv__avx2(float *out, const float *a, float r, const float *b, int64_t n)
{
    const __m256 rv = _mm256_set1_ps(r);
    int64_t c = 0;
    for (; c + 8 <= n; c += 8)
        _mm256_storeu_ps(out + c, _mm256_div_ps(_mm256_loadu_ps(a + c),
                                                _mm256_mul_ps(rv, _mm256_loadu_ps(b + c))));
    if (c < n)
        fc_f32_pool_vdiv__generic(out + c, a + c, r, b + c, n - c);
}

void fc_f64_pool_vdiv__avx2(double *out, const double *a, double r, const double *b,
                            int64_t n)
{
    const __m256d rv = _mm256_set1_pd(r);
    int64_t c = 0;
    for (; c + 4 <= n; c += 4)
        _mm256_storeu_pd(out + c, _mm256_div_pd(_mm256_loadu_pd(a + c),
                                                _mm256_mul_pd(rv, _mm256_loadu_pd(b + c))));
    if (c < n)
        fc_f64_pool_vdiv__generic(out + c, a + c, r, b + c, n - c);
}

/* Streaming stores: a backward plane is written once and not read again by this call, so
 * it need not be fetched into the cache first (half the memory traffic of a plain store
 * to a line that is not cached).  The source is zeroed behind the copy while its lines
 * are still in L1; the caller fences once after its last plane.  Bits are bits: both element types go through 4-byte units. */
static void copyz_u32(char *dst, char *src, int64_t units, int stream)
{
    const __m256i z = _mm256_setzero_si256();
    int64_t i = 0;
    if (stream)
        for (; i < units && ((uintptr_t)(dst + 4 * i) & 31) != 0; ++i) {
            memcpy(dst + 4 * i, src + 4 * i, 4);
            memset(src + 4 * i, 0, 4);
        }
    for (; i + 16 <= units; i += 16) {
        __m256i *d = (__m256i *)(dst + 4 * i), *s = (__m256i *)(src + 4 * i);
        const __m256i v0 = _mm256_loadu_si256(s), v1 = _mm256_loadu_si256(s + 1);
        if (stream) {
            _mm256_stream_si256(d, v0);
            _mm256_stream_si256(d + 1, v1);
        } else {
            _mm256_storeu_si256(d, v0);
            _mm256_storeu_si256(d + 1, v1);
        }
        _mm256_storeu_si256(s, z);
        _mm256_storeu_si256(s + 1, z);
    }
    if (i < units) {
        memcpy(dst + 4 * i, src + 4 * i, (size_t)(units - i) * 4);
        memset(src + 4 * i, 0, (size_t)(units - i) * 4);
    }
}

void fc_pool_fence__avx2(void)
{
    _mm_sfence();
}

void fc_f32_pool_copyz__avx2(float *dst, float *src, int64_t n, int stream)
{
    copyz_u32((char *)dst, (char *)src, n, stream);
}

void fc_f64_pool_copyz__avx2(double *dst, double *src, int64_t n, int stream)
{
    copyz_u32((char *)dst, (char *)src, 2 * n, stream);
}

/* Global average of many small planes: 8 (float) or 4 (double) planes at a time, each
 * summed in one vector (a masked load takes the ragged end), then one transposing
 * reduction yields all their sums in one vector. */
static inline __m256 plane_sum8_ps(const float *x, int64_t nf, __m256i tail, int has_tail)
{
    __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= nf; i += 16) {
        a = _mm256_add_ps(a, _mm256_loadu_ps(x + i));
        b = _mm256_add_ps(b, _mm256_loadu_ps(x + i + 8));
    }
    if (i < nf)
        a = _mm256_add_ps(a, _mm256_loadu_ps(x + i));
    if (has_tail)
        b = _mm256_add_ps(b, _mm256_maskload_ps(x + nf, tail));
    return _mm256_add_ps(a, b);
}

void fc_f32_pool_rsums__avx2(float *y, const float *x, int64_t np, int64_t n, float dv)
{
    const int64_t nf = n / 8 * 8;
    const int r = (int)(n - nf);
    const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(r),
                                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    const __m256 dvv = _mm256_set1_ps(dv);
    int64_t p = 0;
    for (; p + 8 <= np; p += 8) {
        const float *b = x + p * n;
        __m256 a0 = plane_sum8_ps(b, nf, tail, r), a1 = plane_sum8_ps(b + n, nf, tail, r);
        __m256 a2 = plane_sum8_ps(b + 2 * n, nf, tail, r);
        __m256 a3 = plane_sum8_ps(b + 3 * n, nf, tail, r);
        __m256 a4 = plane_sum8_ps(b + 4 * n, nf, tail, r);
        __m256 a5 = plane_sum8_ps(b + 5 * n, nf, tail, r);
        __m256 a6 = plane_sum8_ps(b + 6 * n, nf, tail, r);
        __m256 a7 = plane_sum8_ps(b + 7 * n, nf, tail, r);
        __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
        __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
        __m256 v = _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20),
                                 _mm256_permute2f128_ps(u0, u1, 0x31));
        _mm256_storeu_ps(y + p, _mm256_div_ps(v, dvv));
    }
    for (; p < np; ++p)
        y[p] = fc_f32_pool_rsum__avx2(x + p * n, n) / dv;
}

static inline __m256d plane_sum4_pd(const double *x, int64_t nf, __m256i tail, int has_tail)
{
    __m256d a = _mm256_setzero_pd();
    for (int64_t i = 0; i < nf; i += 4)
        a = _mm256_add_pd(a, _mm256_loadu_pd(x + i));
    if (has_tail)
        a = _mm256_add_pd(a, _mm256_maskload_pd(x + nf, tail));
    return a;
}

void fc_f64_pool_rsums__avx2(double *y, const double *x, int64_t np, int64_t n, double dv)
{
    const int64_t nf = n / 4 * 4;
    const int r = (int)(n - nf);
    const __m256i tail = _mm256_cmpgt_epi64(_mm256_set1_epi64x(r),
                                            _mm256_setr_epi64x(0, 1, 2, 3));
    const __m256d dvv = _mm256_set1_pd(dv);
    int64_t p = 0;
    for (; p + 4 <= np; p += 4) {
        const double *b = x + p * n;
        __m256d a0 = plane_sum4_pd(b, nf, tail, r), a1 = plane_sum4_pd(b + n, nf, tail, r);
        __m256d a2 = plane_sum4_pd(b + 2 * n, nf, tail, r);
        __m256d a3 = plane_sum4_pd(b + 3 * n, nf, tail, r);
        __m256d t0 = _mm256_hadd_pd(a0, a1), t1 = _mm256_hadd_pd(a2, a3);
        __m256d v = _mm256_add_pd(_mm256_permute2f128_pd(t0, t1, 0x20),
                                  _mm256_permute2f128_pd(t0, t1, 0x31));
        _mm256_storeu_pd(y + p, _mm256_div_pd(v, dvv));
    }
    for (; p < np; ++p)
        y[p] = fc_f64_pool_rsum__avx2(x + p * n, n) / dv;
}

/* Scatter-add with the range test done 8 indices at a time in vectors; the adds stay
 * scalar and in order (repeated indices must add in scan order). */
#define FC_SCATTER_AVX2(SFX, T)                                                              \
    int fc_##SFX##_pool_scatter__avx2(T *pl, const int64_t *idx, const T *g, int64_t n,      \
                                      int64_t limit)                                         \
    {                                                                                        \
        if (limit <= 0)                                                                      \
            return n == 0;                                                                   \
        const __m256i sign = _mm256_set1_epi64x(INT64_MIN);                                  \
        const __m256i lim = _mm256_set1_epi64x((limit - 1) ^ INT64_MIN);                     \
        int64_t k = 0;                                                                       \
        for (; k + 8 <= n; k += 8) {                                                         \
            __m256i a = _mm256_loadu_si256((const __m256i *)(idx + k));                      \
            __m256i b = _mm256_loadu_si256((const __m256i *)(idx + k + 4));                  \
            __m256i bad = _mm256_or_si256(                                                   \
                _mm256_cmpgt_epi64(_mm256_xor_si256(a, sign), lim),                          \
                _mm256_cmpgt_epi64(_mm256_xor_si256(b, sign), lim));                         \
            if (!_mm256_testz_si256(bad, bad))                                               \
                return 0;                                                                    \
            pl[idx[k]] += g[k];                                                              \
            pl[idx[k + 1]] += g[k + 1];                                                      \
            pl[idx[k + 2]] += g[k + 2];                                                      \
            pl[idx[k + 3]] += g[k + 3];                                                      \
            pl[idx[k + 4]] += g[k + 4];                                                      \
            pl[idx[k + 5]] += g[k + 5];                                                      \
            pl[idx[k + 6]] += g[k + 6];                                                      \
            pl[idx[k + 7]] += g[k + 7];                                                      \
        }                                                                                    \
        return fc_##SFX##_pool_scatter__generic(pl, idx + k, g + k, n - k, limit);           \
    }

FC_SCATTER_AVX2(f32, float)
FC_SCATTER_AVX2(f64, double)
