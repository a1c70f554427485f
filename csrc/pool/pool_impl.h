/*
 * Pooling kernels, written once for one element type and included by pool_f32.c and
 * pool_f64.c with T (element type) and SFX (f32 / f64) defined.
 *
 * Parallel structure: forward passes and gather-style backward passes (average) are
 * independent per output (resp. input) row, so they split the flat (plane, row) range;
 * scatter-style backward passes (max) split planes so that overlapping windows never
 * race.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pool_internal.h"

#define FC_CAT_(a, b) a##_##b
#define FC_CAT(a, b) FC_CAT_(a, b)
#define FN(name) FC_CAT(name, SFX)

/* The element at plane offset xp[ih*W+iw] beats the running max m: larger, or NaN
 * (PyTorch's rule, so a NaN anywhere in the window propagates). */
#define FC_BEATS(v, m) ((v) > (m) || isnan(v))

static void FN(max_fwd_tables)(int64_t P, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                               const fc_pool_win *rw, const fc_pool_win *cw, int64_t dh,
                               int64_t dw, const T *x, T *y, int64_t *ind)
{
    int nt = fc_get_num_threads();
    int64_t rows = P * Ho;
    (void)nt;
    FC_OMP_FOR(nt, rows * Wo > FC_POOL_PAR_MIN)
    for (int64_t t = 0; t < rows; ++t) {
        const T *xp = x + (t / Ho) * H * W;
        const fc_pool_win r = rw[t % Ho];
        T *yr = y + t * Wo;
        int64_t *ir = ind ? ind + t * Wo : NULL;
        for (int64_t ow = 0; ow < Wo; ++ow) {
            const fc_pool_win c = cw[ow];
            T m = -INFINITY;
            int64_t mi = (r.lo < r.hi && c.lo < c.hi) ? r.lo * W + c.lo : -1;
            for (int64_t ih = r.lo; ih < r.hi; ih += dh)
                for (int64_t iw = c.lo; iw < c.hi; iw += dw) {
                    T v = xp[ih * W + iw];
                    if (FC_BEATS(v, m)) {
                        m = v;
                        mi = ih * W + iw;
                    }
                }
            yr[ow] = m;
            if (ir)
                ir[ow] = mi;
        }
    }
}

/* Zero each plane of gx, then add every gy to its argmax (given or recomputed). */
static void FN(max_bwd_tables)(int64_t P, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                               const fc_pool_win *rw, const fc_pool_win *cw, int64_t dh,
                               int64_t dw, const T *gy, const int64_t *ind, const T *x,
                               T *gx)
{
    int nt = fc_get_num_threads();
    (void)nt;
    FC_OMP_FOR(nt, P * (H * W + Ho * Wo) > FC_POOL_PAR_MIN)
    for (int64_t p = 0; p < P; ++p) {
        T *gp = gx + p * H * W;
        const T *gyp = gy + p * Ho * Wo;
        memset(gp, 0, (size_t)(H * W) * sizeof(T));
        if (ind) {
            const int64_t *ip = ind + p * Ho * Wo;
            for (int64_t k = 0; k < Ho * Wo; ++k)
                gp[ip[k]] += gyp[k];
            continue;
        }
        const T *xp = x + p * H * W;
        for (int64_t oh = 0; oh < Ho; ++oh) {
            const fc_pool_win r = rw[oh];
            for (int64_t ow = 0; ow < Wo; ++ow) {
                const fc_pool_win c = cw[ow];
                T m = -INFINITY;
                int64_t mi = (r.lo < r.hi && c.lo < c.hi) ? r.lo * W + c.lo : -1;
                for (int64_t ih = r.lo; ih < r.hi; ih += dh)
                    for (int64_t iw = c.lo; iw < c.hi; iw += dw) {
                        T v = xp[ih * W + iw];
                        if (FC_BEATS(v, m)) {
                            m = v;
                            mi = ih * W + iw;
                        }
                    }
                if (mi >= 0)   /* a window entirely in the padding passes nothing back */
                    gp[mi] += gyp[oh * Wo + ow];
            }
        }
    }
}

/* y = (sum of the in-bounds taps) / divisor, contiguous windows. */
static void FN(avg_fwd_tables)(int64_t P, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                               const fc_pool_win *rw, const fc_pool_win *cw, int64_t divisor,
                               const T *x, T *y)
{
    int nt = fc_get_num_threads();
    int64_t rows = P * Ho;
    (void)nt;
    FC_OMP_FOR(nt, rows * Wo > FC_POOL_PAR_MIN)
    for (int64_t t = 0; t < rows; ++t) {
        const T *xp = x + (t / Ho) * H * W;
        const fc_pool_win r = rw[t % Ho];
        T *yr = y + t * Wo;
        for (int64_t ow = 0; ow < Wo; ++ow) {
            const fc_pool_win c = cw[ow];
            T s = 0;
            for (int64_t ih = r.lo; ih < r.hi; ++ih)
                for (int64_t iw = c.lo; iw < c.hi; ++iw)
                    s += xp[ih * W + iw];
            yr[ow] = s / (T)(divisor != 0 ? divisor : r.div * c.div);
        }
    }
}

/* gx[ih, iw] = sum over the windows covering it of gy / divisor, gathered per input row
 * (no two threads write the same element; windows are visited in PyTorch's scatter
 * order, so the sums round the same way). */
static void FN(avg_bwd_tables)(int64_t P, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                               const fc_pool_win *rw, const fc_pool_win *cw,
                               const fc_pool_inv *ir, const fc_pool_inv *ic, int64_t divisor,
                               const T *gy, T *gx)
{
    int nt = fc_get_num_threads();
    int64_t rows = P * H;
    (void)nt;
    FC_OMP_FOR(nt, rows * W > FC_POOL_PAR_MIN)
    for (int64_t t = 0; t < rows; ++t) {
        const T *gyp = gy + (t / H) * Ho * Wo;
        const fc_pool_inv r = ir[t % H];
        T *gr = gx + t * W;
        for (int64_t iw = 0; iw < W; ++iw) {
            const fc_pool_inv c = ic[iw];
            T s = 0;
            for (int64_t oh = r.first; oh < r.last; ++oh)
                for (int64_t ow = c.first; ow < c.last; ++ow)
                    s += gyp[oh * Wo + ow] /
                         (T)(divisor != 0 ? divisor : rw[oh].div * cw[ow].div);
            gr[iw] = s;
        }
    }
}

/* ------------------------------------------------------------------ entry points -- */

/* Row and column window tables in one allocation. */
static fc_pool_win *FN(alloc_tables)(int64_t Ho, int64_t Wo)
{
    return (fc_pool_win *)malloc((size_t)(Ho + Wo + 1) * sizeof(fc_pool_win));
}

fc_status FN(fc_max_pool2d_forward)(const fc_pool_geom *g, const T *x, T *y, int64_t *indices)
{
    fc_pool_win *rw = FN(alloc_tables)(g->H_out, g->W_out);
    if (!rw)
        return FC_ERR_NOMEM;
    fc_pool_win *cw = rw + g->H_out;
    fc_pool_win_table(g->H, g->H_out, g->kH, g->sH, g->pH, g->dH, 1, rw);
    fc_pool_win_table(g->W, g->W_out, g->kW, g->sW, g->pW, g->dW, 1, cw);
    FN(max_fwd_tables)(g->P, g->H, g->W, g->H_out, g->W_out, rw, cw, g->dH, g->dW, x, y,
                       indices);
    free(rw);
    return FC_OK;
}

fc_status FN(fc_max_pool2d_backward)(const fc_pool_geom *g, const T *gy,
                                     const int64_t *indices, const T *x, T *gx)
{
    fc_pool_win *rw = FN(alloc_tables)(g->H_out, g->W_out);
    if (!rw)
        return FC_ERR_NOMEM;
    fc_pool_win *cw = rw + g->H_out;
    fc_pool_win_table(g->H, g->H_out, g->kH, g->sH, g->pH, g->dH, 1, rw);
    fc_pool_win_table(g->W, g->W_out, g->kW, g->sW, g->pW, g->dW, 1, cw);
    FN(max_bwd_tables)(g->P, g->H, g->W, g->H_out, g->W_out, rw, cw, g->dH, g->dW, gy,
                       indices, x, gx);
    free(rw);
    return FC_OK;
}

fc_status FN(fc_adaptive_max_pool2d_forward)(const fc_pool_geom *g, const T *x, T *y,
                                             int64_t *indices)
{
    fc_pool_win *rw = FN(alloc_tables)(g->H_out, g->W_out);
    if (!rw)
        return FC_ERR_NOMEM;
    fc_pool_win *cw = rw + g->H_out;
    fc_pool_adaptive_table(g->H, g->H_out, rw);
    fc_pool_adaptive_table(g->W, g->W_out, cw);
    FN(max_fwd_tables)(g->P, g->H, g->W, g->H_out, g->W_out, rw, cw, 1, 1, x, y, indices);
    free(rw);
    return FC_OK;
}

fc_status FN(fc_adaptive_max_pool2d_backward)(const fc_pool_geom *g, const T *gy,
                                              const int64_t *indices, const T *x, T *gx)
{
    fc_pool_win *rw = FN(alloc_tables)(g->H_out, g->W_out);
    if (!rw)
        return FC_ERR_NOMEM;
    fc_pool_win *cw = rw + g->H_out;
    fc_pool_adaptive_table(g->H, g->H_out, rw);
    fc_pool_adaptive_table(g->W, g->W_out, cw);
    FN(max_bwd_tables)(g->P, g->H, g->W, g->H_out, g->W_out, rw, cw, 1, 1, gy, indices, x,
                       gx);
    free(rw);
    return FC_OK;
}

fc_status FN(fc_avg_pool2d_forward)(const fc_pool_geom *g, int count_include_pad,
                                    int64_t divisor_override, const T *x, T *y)
{
    fc_pool_win *rw = FN(alloc_tables)(g->H_out, g->W_out);
    if (!rw)
        return FC_ERR_NOMEM;
    fc_pool_win *cw = rw + g->H_out;
    fc_pool_win_table(g->H, g->H_out, g->kH, g->sH, g->pH, 1, count_include_pad, rw);
    fc_pool_win_table(g->W, g->W_out, g->kW, g->sW, g->pW, 1, count_include_pad, cw);
    FN(avg_fwd_tables)(g->P, g->H, g->W, g->H_out, g->W_out, rw, cw, divisor_override, x, y);
    free(rw);
    return FC_OK;
}

/* Shared tail of the two average backward passes: build the inverse tables, gather. */
static fc_status FN(avg_bwd_with)(const fc_pool_geom *g, const fc_pool_win *rw,
                                  const fc_pool_win *cw, int64_t divisor, const T *gy, T *gx)
{
    fc_pool_inv *ir = (fc_pool_inv *)malloc((size_t)(g->H + g->W) * sizeof(fc_pool_inv));
    if (!ir)
        return FC_ERR_NOMEM;
    fc_pool_inv *ic = ir + g->H;
    fc_pool_inverse_table(g->H, g->H_out, rw, ir);
    fc_pool_inverse_table(g->W, g->W_out, cw, ic);
    FN(avg_bwd_tables)(g->P, g->H, g->W, g->H_out, g->W_out, rw, cw, ir, ic, divisor, gy, gx);
    free(ir);
    return FC_OK;
}

fc_status FN(fc_avg_pool2d_backward)(const fc_pool_geom *g, int count_include_pad,
                                     int64_t divisor_override, const T *gy, T *gx)
{
    fc_pool_win *rw = FN(alloc_tables)(g->H_out, g->W_out);
    if (!rw)
        return FC_ERR_NOMEM;
    fc_pool_win *cw = rw + g->H_out;
    fc_pool_win_table(g->H, g->H_out, g->kH, g->sH, g->pH, 1, count_include_pad, rw);
    fc_pool_win_table(g->W, g->W_out, g->kW, g->sW, g->pW, 1, count_include_pad, cw);
    fc_status st = FN(avg_bwd_with)(g, rw, cw, divisor_override, gy, gx);
    free(rw);
    return st;
}

fc_status FN(fc_adaptive_avg_pool2d_forward)(const fc_pool_geom *g, const T *x, T *y)
{
    fc_pool_win *rw = FN(alloc_tables)(g->H_out, g->W_out);
    if (!rw)
        return FC_ERR_NOMEM;
    fc_pool_win *cw = rw + g->H_out;
    fc_pool_adaptive_table(g->H, g->H_out, rw);
    fc_pool_adaptive_table(g->W, g->W_out, cw);
    FN(avg_fwd_tables)(g->P, g->H, g->W, g->H_out, g->W_out, rw, cw, 0, x, y);
    free(rw);
    return FC_OK;
}

fc_status FN(fc_adaptive_avg_pool2d_backward)(const fc_pool_geom *g, const T *gy, T *gx)
{
    fc_pool_win *rw = FN(alloc_tables)(g->H_out, g->W_out);
    if (!rw)
        return FC_ERR_NOMEM;
    fc_pool_win *cw = rw + g->H_out;
    fc_pool_adaptive_table(g->H, g->H_out, rw);
    fc_pool_adaptive_table(g->W, g->W_out, cw);
    fc_status st = FN(avg_bwd_with)(g, rw, cw, 0, gy, gx);
    free(rw);
    return st;
}
