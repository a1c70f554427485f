/* Direct conv2d: straightforward row-wise loops (first, correct version). */
#include <string.h>
#include "conv_internal.h"

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

/* Tap (kh, kw) for output row oh: input row *ih, and the output columns [*lo, *hi) whose input
 * column ow*sW + *off is inside the input.  0 when the row is outside. */
static int tap_span(const fc_conv_geom *g, int64_t oh, int64_t kh, int64_t kw, int64_t *ih,
                    int64_t *off, int64_t *lo, int64_t *hi)
{
    *ih = oh * g->sH - g->pH + kh * g->dH;
    if (*ih < 0 || *ih >= g->H) return 0;
    *off = kw * g->dW - g->pW;
    col_range(*off, g->sW, g->W, g->W_out, lo, hi);
    return 1;
}

#define FC_DIRECT_EXACT(SFX, T)                                                              \
static int finite_run_##SFX(const T *p, int64_t n)                                           \
{                                                                                             \
    T z[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                        \
    int64_t i = 0;                                                                            \
    /* v * 0 is NaN exactly for NaN and Inf; eight lanes so that it vectorises */             \
    for (; i + 8 <= n; i += 8)                                                                \
        for (int l = 0; l < 8; l++) z[l] += p[i + l] * (T)0;                                  \
    for (; i < n; i++) z[0] += p[i] * (T)0;                                                   \
    int ok = 1;                                                                               \
    for (int l = 0; l < 8; l++) ok &= z[l] == (T)0;                                           \
    return ok;                                                                                \
}                                                                                             \
                                                                                              \
/* Shared among the threads from a few MiB: it runs before the convolution's parallel        \
 * region, the other threads idle otherwise (4% of a 512-channel 7x7 Winograd layer) */      \
int fc_direct_all_finite_##SFX(const T *p, int64_t n)                                         \
{                                                                                             \
    const int64_t CH = (int64_t)1 << 16, nch = (n + CH - 1) / CH;                             \
    const int nt = fc_threads_for((double)n, (double)(1 << 19));                              \
    int bad = 0;                                                                              \
    int64_t c;                                                                                \
    FC_OMP_FOR(nt, nt > 1)                                                                    \
    for (c = 0; c < nch; c++)                                                                 \
        if (!finite_run_##SFX(p + c * CH, n - c * CH < CH ? n - c * CH : CH)) {               \
            FC_OMP_ATOMIC_WRITE                                                               \
            bad = 1;                                                                          \
        }                                                                                     \
    return !bad;                                                                              \
}                                                                                             \
                                                                                              \
fc_status fc_direct_exact_fwd_##SFX(const fc_conv_geom *g, const T *x, const T *w,           \
                                     const T *bias, T *y)                                     \
{                                                                                             \
    const int64_t Cig = g->C_in / g->groups, Cog = g->C_out / g->groups;                      \
    const int64_t HWo = g->H_out * g->W_out, HW = g->H * g->W;                                \
    const int64_t jobs = g->N * g->C_out;                                                     \
    int64_t job;                                                                              \
    FC_OMP_FOR(fc_get_num_threads(), 1)                        \
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
                for (int64_t kh = 0; kh < g->kH; kh++)                                        \
                    for (int64_t kw = 0; kw < g->kW; kw++) {                                  \
                        int64_t ih, off, lo, hi;                                              \
                        if (!tap_span(g, oh, kh, kw, &ih, &off, &lo, &hi)) break;             \
                        const T wv = wp[kh * g->kW + kw], *xr = xp + ih * g->W;               \
                        for (int64_t ow = lo; ow < hi; ow++)                                  \
                            yr[ow] += wv * xr[ow * g->sW + off];                              \
                    }                                                                         \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
    return FC_OK;                                                                             \
}                                                                                             \
                                                                                              \
fc_status fc_direct_exact_bwd_data_##SFX(const fc_conv_geom *g, const T *gy, const T *w,     \
                                          T *gx)                                              \
{                                                                                             \
    const int64_t Cig = g->C_in / g->groups, Cog = g->C_out / g->groups;                      \
    const int64_t HWo = g->H_out * g->W_out, HW = g->H * g->W;                                \
    const int64_t jobs = g->N * g->C_in;                                                      \
    int64_t job;                                                                              \
    FC_OMP_FOR(fc_get_num_threads(), 1)                        \
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
                for (int64_t kh = 0; kh < g->kH; kh++)                                        \
                    for (int64_t kw = 0; kw < g->kW; kw++) {                                  \
                        int64_t ih, off, lo, hi;                                              \
                        if (!tap_span(g, oh, kh, kw, &ih, &off, &lo, &hi)) break;             \
                        const T wv = wp[kh * g->kW + kw];                                     \
                        T *gxr = gxp + ih * g->W;                                             \
                        for (int64_t ow = lo; ow < hi; ow++)                                  \
                            gxr[ow * g->sW + off] += wv * gyr[ow];                            \
                    }                                                                         \
            }                                                                                 \
        }                                                                                     \
    }                                                                                         \
    return FC_OK;                                                                             \
}                                                                                             \
                                                                                              \
fc_status fc_direct_exact_bwd_weight_##SFX(const fc_conv_geom *g, const T *gy, const T *x,   \
                                            T *gw, T *gb)                                     \
{                                                                                             \
    const int64_t Cig = g->C_in / g->groups, Cog = g->C_out / g->groups;                      \
    const int64_t HWo = g->H_out * g->W_out, HW = g->H * g->W, KK = g->kH * g->kW;            \
    const int64_t jobs = gw ? g->C_out * Cig : 0;                                             \
    int64_t job;                                                                              \
    FC_OMP_PARALLEL(fc_get_num_threads())                                                    \
    {                                                                                         \
        FC_OMP_LOOP_NOWAIT                                                                   \
        for (job = 0; job < jobs; job++) {                                                    \
            const int64_t oc = job / Cig, icg = job % Cig, gi = oc / Cog;                     \
            T *gwp = gw + job * KK;                                                           \
            for (int64_t k = 0; k < KK; k++) gwp[k] = (T)0;                                   \
            for (int64_t n = 0; n < g->N; n++) {                                              \
                const T *gyp = gy + (n * g->C_out + oc) * HWo;                                \
                const T *xp = x + (n * g->C_in + gi * Cig + icg) * HW;                        \
                for (int64_t kh = 0; kh < g->kH; kh++) {                                      \
                    for (int64_t kw = 0; kw < g->kW; kw++) {                                  \
                        T s = (T)0;                                                           \
                        for (int64_t oh = 0; oh < g->H_out; oh++) {                           \
                            int64_t ih, off, lo, hi;                                          \
                            if (!tap_span(g, oh, kh, kw, &ih, &off, &lo, &hi)) continue;      \
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
            FC_OMP_LOOP                                                                      \
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

FC_DIRECT_EXACT(f32, float)
FC_DIRECT_EXACT(f64, double)
