/* Direct conv2d: straightforward row-wise loops (first, correct version). */
#include <string.h>
#include "conv_internal.h"
#ifdef FC_HAVE_OPENMP
#include <omp.h>
#endif

/* Parallel regions cost tens of microseconds (milliseconds on a busy machine): problems
 * below ~1 MFLOP run on the calling thread. */
static int threads_for(const fc_conv_geom *g)
{
    const double flops = 2.0 * (double)g->N * (double)g->C_out * (double)g->H_out *
                         (double)g->W_out * (double)(g->C_in / g->groups) * (double)g->kH *
                         (double)g->kW;
    return flops < 1e6 ? 1 : fc_get_num_threads();
}

/* Output columns ow in [*lo, *hi) whose input column ow*s + off lies in [0, W). */
static void col_range(int64_t off, int64_t s, int64_t W, int64_t W_out, int64_t *lo,
                      int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = (W - 1 - off) < 0 ? 0 : (W - 1 - off) / s + 1;
    if (b > W_out) b = W_out;
    *lo = a;
    *hi = b < a ? a : b;
}

#define FC_DIRECT_SIMPLE(SFX, T)                                                              \
fc_status fc_conv2d_fwd_direct_##SFX(const fc_conv_geom *g, const T *x, const T *w,           \
                                     const T *bias, T *y)                                     \
{                                                                                             \
    const int64_t Cig = g->C_in / g->groups, Cog = g->C_out / g->groups;                      \
    const int64_t HWo = g->H_out * g->W_out, HW = g->H * g->W;                                \
    const int64_t jobs = g->N * g->C_out;                                                     \
    int64_t job;                                                                              \
    _Pragma("omp parallel for schedule(static) num_threads(threads_for(g))")           \
    for (job = 0; job < jobs; job++) {                                                        \
        const int64_t n = job / g->C_out, oc = job % g->C_out, gi = oc / Cog;                 \
        T *yp = y + job * HWo;                                                                \
        for (int64_t oh = 0; oh < g->H_out; oh++) {                                           \
            T *yr = yp + oh * g->W_out;                                                       \
            const T b0 = bias ? bias[oc] : (T)0;                                              \
            for (int64_t ow = 0; ow < g->W_out; ow++) yr[ow] = b0;                            \
            for (int64_t icg = 0; icg < Cig; icg++) {                                         \
                const T *xp = x + (n * g->C_in + gi * Cig + icg) * HW;                        \
                const T *wp = w + (oc * Cig + icg) * g->kH * g->kW;                           \
                for (int64_t kh = 0; kh < g->kH; kh++) {                                      \
                    const int64_t ih = oh * g->sH - g->pH + kh * g->dH;                       \
                    if (ih < 0 || ih >= g->H) continue;                                       \
                    const T *xr = xp + ih * g->W;                                             \
                    for (int64_t kw = 0; kw < g->kW; kw++) {                                  \
                        const int64_t off = kw * g->dW - g->pW;                               \
                        const T wv = wp[kh * g->kW + kw];                                     \
                        int64_t lo, hi;                                                       \
                        col_range(off, g->sW, g->W, g->W_out, &lo, &hi);                      \
                        for (int64_t ow = lo; ow < hi; ow++)                                  \
                            yr[ow] += wv * xr[ow * g->sW + off];                              \
                    }                                                                         \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
    return FC_OK;                                                                             \
}                                                                                             \
                                                                                              \
fc_status fc_conv2d_bwd_data_direct_##SFX(const fc_conv_geom *g, const T *gy, const T *w,     \
                                          T *gx)                                              \
{                                                                                             \
    const int64_t Cig = g->C_in / g->groups, Cog = g->C_out / g->groups;                      \
    const int64_t HWo = g->H_out * g->W_out, HW = g->H * g->W;                                \
    const int64_t jobs = g->N * g->C_in;                                                      \
    int64_t job;                                                                              \
    _Pragma("omp parallel for schedule(static) num_threads(threads_for(g))")           \
    for (job = 0; job < jobs; job++) {                                                        \
        const int64_t n = job / g->C_in, ic = job % g->C_in, gi = ic / Cig, icg = ic % Cig;   \
        T *gxp = gx + job * HW;                                                               \
        for (int64_t i = 0; i < HW; i++) gxp[i] = (T)0;                                       \
        for (int64_t ocg = 0; ocg < Cog; ocg++) {                                             \
            const int64_t oc = gi * Cog + ocg;                                                \
            const T *gyp = gy + (n * g->C_out + oc) * HWo;                                    \
            const T *wp = w + (oc * Cig + icg) * g->kH * g->kW;                               \
            for (int64_t oh = 0; oh < g->H_out; oh++) {                                       \
                const T *gyr = gyp + oh * g->W_out;                                           \
                for (int64_t kh = 0; kh < g->kH; kh++) {                                      \
                    const int64_t ih = oh * g->sH - g->pH + kh * g->dH;                       \
                    if (ih < 0 || ih >= g->H) continue;                                       \
                    T *gxr = gxp + ih * g->W;                                                 \
                    for (int64_t kw = 0; kw < g->kW; kw++) {                                  \
                        const int64_t off = kw * g->dW - g->pW;                               \
                        const T wv = wp[kh * g->kW + kw];                                     \
                        int64_t lo, hi;                                                       \
                        col_range(off, g->sW, g->W, g->W_out, &lo, &hi);                      \
                        for (int64_t ow = lo; ow < hi; ow++)                                  \
                            gxr[ow * g->sW + off] += wv * gyr[ow];                            \
                    }                                                                         \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
    return FC_OK;                                                                             \
}                                                                                             \
                                                                                              \
fc_status fc_conv2d_bwd_weight_direct_##SFX(const fc_conv_geom *g, const T *gy, const T *x,   \
                                            T *gw, T *gb)                                     \
{                                                                                             \
    const int64_t Cig = g->C_in / g->groups, Cog = g->C_out / g->groups;                      \
    const int64_t HWo = g->H_out * g->W_out, HW = g->H * g->W, KK = g->kH * g->kW;            \
    const int64_t jobs = gw ? g->C_out * Cig : 0;                                             \
    int64_t job;                                                                              \
    _Pragma("omp parallel num_threads(threads_for(g))")                                \
    {                                                                                         \
        _Pragma("omp for schedule(static) nowait")                                           \
        for (job = 0; job < jobs; job++) {                                                    \
            const int64_t oc = job / Cig, icg = job % Cig, gi = oc / Cog;                     \
            T *gwp = gw + job * KK;                                                           \
            for (int64_t k = 0; k < KK; k++) gwp[k] = (T)0;                                   \
            for (int64_t n = 0; n < g->N; n++) {                                              \
                const T *gyp = gy + (n * g->C_out + oc) * HWo;                                \
                const T *xp = x + (n * g->C_in + gi * Cig + icg) * HW;                        \
                for (int64_t kh = 0; kh < g->kH; kh++) {                                      \
                    for (int64_t kw = 0; kw < g->kW; kw++) {                                  \
                        const int64_t off = kw * g->dW - g->pW;                               \
                        int64_t lo, hi;                                                       \
                        T s = (T)0;                                                           \
                        col_range(off, g->sW, g->W, g->W_out, &lo, &hi);                      \
                        for (int64_t oh = 0; oh < g->H_out; oh++) {                           \
                            const int64_t ih = oh * g->sH - g->pH + kh * g->dH;               \
                            if (ih < 0 || ih >= g->H) continue;                               \
                            const T *xr = xp + ih * g->W, *gyr = gyp + oh * g->W_out;         \
                            for (int64_t ow = lo; ow < hi; ow++)                              \
                                s += gyr[ow] * xr[ow * g->sW + off];                          \
                        }                                                                     \
                        gwp[kh * g->kW + kw] += s;                                            \
                    }                                                                         \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        if (gb) {                                                                             \
            int64_t oc;                                                                       \
            _Pragma("omp for schedule(static)")                                              \
            for (oc = 0; oc < g->C_out; oc++) {                                               \
                T s = (T)0;                                                                   \
                for (int64_t n = 0; n < g->N; n++) {                                          \
                    const T *gyp = gy + (n * g->C_out + oc) * HWo;                            \
                    for (int64_t i = 0; i < HWo; i++) s += gyp[i];                            \
                }                                                                             \
                gb[oc] = s;                                                                   \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
    return FC_OK;                                                                             \
}

FC_DIRECT_SIMPLE(f32, float)
FC_DIRECT_SIMPLE(f64, double)
