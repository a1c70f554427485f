/*
 * 3-D pooling (max, average, adaptive max/average; forward and backward) over P = N*C
 * volumes.  Same rules as the 2-D kernels (fastconv.h): the window tables of
 * pool_common.c per axis, first-maximum / last-NaN argmax, padding never wins, the
 * PyTorch divisors.
 *
 * Forward work items are (volume, run of output depths); backward items are whole volumes
 * (overlapping windows add into the same input element, in output scan order), so results
 * do not depend on the thread count.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "pool_internal.h"
#include "tier.h"

/* Per-axis window tables of one call: depth, then rows, then columns. */
typedef struct {
    fc_pool_win *d, *h, *w;
    int64_t sd, sh, sw;       /* tap step per axis (dilation; 1 for avg and adaptive) */
    /* fixed windows: column tap kw of output column ow reads input column ow*sW + off[kw],
     * inside the input for ow in [lo[kw], hi[kw]) */
    int64_t *off, *lo, *hi;
} win3;

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static int64_t floor_div(int64_t a, int64_t b)   /* b > 0 */
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int win3_init(win3 *t, const fc_pool3d_geom *g, int adaptive, int avg, int cip)
{
    fc_pool_win *a = (fc_pool_win *)malloc(sizeof(fc_pool_win) *
                                           (size_t)(g->D_out + g->H_out + g->W_out + 1) +
                                           sizeof(int64_t) * (size_t)(3 * g->kW + 3));
    if (!a)
        return -1;
    t->off = (int64_t *)(a + g->D_out + g->H_out + g->W_out + 1);
    t->lo = t->off + g->kW + 1;
    t->hi = t->lo + g->kW + 1;
    t->d = a;
    t->h = a + g->D_out;
    t->w = t->h + g->H_out;
    if (adaptive) {
        fc_pool_adaptive_table(g->D, g->D_out, t->d);
        fc_pool_adaptive_table(g->H, g->H_out, t->h);
        fc_pool_adaptive_table(g->W, g->W_out, t->w);
        t->sd = t->sh = t->sw = 1;
    } else {
        t->sd = avg ? 1 : g->dD;
        t->sh = avg ? 1 : g->dH;
        t->sw = avg ? 1 : g->dW;
        fc_pool_win_table(g->D, g->D_out, g->kD, g->sD, g->pD, g->qD, t->sd, cip, t->d);
        fc_pool_win_table(g->H, g->H_out, g->kH, g->sH, g->pH, g->qH, t->sh, cip, t->h);
        fc_pool_win_table(g->W, g->W_out, g->kW, g->sW, g->pW, g->qW, t->sw, cip, t->w);
        for (int64_t kw = 0; kw < g->kW; kw++) {
            const int64_t off = kw * t->sw - g->pW;
            const int64_t lo = max64(0, -floor_div(off, g->sW));
            const int64_t hi = min64(g->W_out, floor_div(g->W - 1 - off, g->sW) + 1);
            t->off[kw] = off;
            t->lo[kw] = lo;
            t->hi[kw] = hi > lo ? hi : lo;
        }
    }
    return 0;
}

static int pool3d_threads(double work, int64_t items)
{
    int nt = fc_threads_for(work, fc_tier_current()->par_min_pool_elems);
    if (nt > items)
        nt = items > 0 ? (int)items : 1;
    return nt < 1 ? 1 : nt;
}

/* Every index within [0, plane) (before anything is written through one). */
static int indices_ok(const int64_t *ind, int64_t n, int64_t plane)
{
    int ok = 1;
    for (int64_t i = 0; i < n; i++)
        ok &= ind[i] >= 0 && ind[i] < plane;
    return ok;
}

#define FC_POOL3D_DTYPE(SFX, T)                                                               \
/* Flat index of the window's maximum: taps in scan order, a larger value or a NaN replaces  \
 * (ties keep the first, NaN the last); the first in-bounds tap starts it, so padding never  \
 * wins; -1 for a window without in-bounds taps. */                                          \
static int64_t argmax_##SFX(const T *xp, const fc_pool3d_geom *g, const win3 *t, int64_t od, \
                            int64_t oh, int64_t ow)                                           \
{                                                                                             \
    const fc_pool_win *a = &t->d[od], *b = &t->h[oh], *c = &t->w[ow];                         \
    int64_t best = -1;                                                                        \
    T m = 0;                                                                                  \
    for (int64_t d = a->lo; d < a->hi; d += t->sd)                                            \
        for (int64_t h = b->lo; h < b->hi; h += t->sh) {                                      \
            const int64_t row = (d * g->H + h) * g->W;                                        \
            for (int64_t w = c->lo; w < c->hi; w += t->sw) {                                  \
                const T v = xp[row + w];                                                      \
                if (best < 0 || v > m || isnan(v)) {                                          \
                    m = v;                                                                    \
                    best = row + w;                                                           \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
    return best;                                                                              \
}                                                                                             \
                                                                                              \
/* Sum of n contiguous elements in 16 lanes (independent partial sums the compiler keeps in \
 * vector registers: one running sum's add latency would bound a large window), combined in  \
 * a fixed order, so results are reproducible. */                                            \
static T run_sum_##SFX(const T *r, int64_t n)                                                 \
{                                                                                             \
    if (n < 32) {                                                                             \
        T s = 0;                                                                              \
        for (int64_t i = 0; i < n; i++)                                                       \
            s += r[i];                                                                        \
        return s;                                                                             \
    }                                                                                         \
    T acc[16] = {0};                                                                          \
    int64_t i = 0;                                                                            \
    for (; i + 16 <= n; i += 16)                                                              \
        for (int j = 0; j < 16; j++)                                                          \
            acc[j] += r[i + j];                                                               \
    for (int j = 0; i < n; i++, j++)                                                          \
        acc[j] += r[i];                                                                       \
    for (int w = 8; w >= 1; w /= 2)                                                           \
        for (int j = 0; j < w; j++)                                                           \
            acc[j] += acc[j + w];                                                             \
    return acc[0];                                                                            \
}                                                                                             \
                                                                                              \
/* Sum of a window as contiguous runs: a row segment, whole rows merged when the window      \
 * spans the width, whole planes when it also spans the height. */                           \
static T wsum_##SFX(const T *xp, const fc_pool3d_geom *g, const win3 *t, int64_t od,          \
                    int64_t oh, int64_t ow)                                                   \
{                                                                                             \
    const fc_pool_win *a = &t->d[od], *b = &t->h[oh], *c = &t->w[ow];                         \
    const int full_w = c->lo == 0 && c->hi == g->W;                                           \
    const int full_h = full_w && b->lo == 0 && b->hi == g->H;                                 \
    if (full_h)                                                                               \
        return run_sum_##SFX(xp + a->lo * g->H * g->W, (a->hi - a->lo) * g->H * g->W);        \
    T s = 0;                                                                                  \
    for (int64_t d = a->lo; d < a->hi; d++) {                                                 \
        if (full_w) {                                                                         \
            s += run_sum_##SFX(xp + (d * g->H + b->lo) * g->W, (b->hi - b->lo) * g->W);       \
            continue;                                                                         \
        }                                                                                     \
        for (int64_t h = b->lo; h < b->hi; h++)                                               \
            s += run_sum_##SFX(xp + (d * g->H + h) * g->W + c->lo, c->hi - c->lo);            \
    }                                                                                         \
    return s;                                                                                 \
}                                                                                             \
                                                                                              \
static void wadd_##SFX(T *gp, const fc_pool3d_geom *g, const win3 *t, int64_t od, int64_t oh, \
                       int64_t ow, T v)                                                       \
{                                                                                             \
    const fc_pool_win *a = &t->d[od], *b = &t->h[oh], *c = &t->w[ow];                         \
    const int full_w = c->lo == 0 && c->hi == g->W;   /* the rows are one run */              \
    for (int64_t d = a->lo; d < a->hi; d++) {                                                 \
        if (full_w) {                                                                         \
            T *r = gp + (d * g->H + b->lo) * g->W;                                            \
            for (int64_t i = 0, n = (b->hi - b->lo) * g->W; i < n; i++)                       \
                r[i] += v;                                                                    \
            continue;                                                                         \
        }                                                                                     \
        for (int64_t h = b->lo; h < b->hi; h++) {                                             \
            T *r = gp + (d * g->H + h) * g->W;                                                \
            for (int64_t w = c->lo; w < c->hi; w++)                                           \
                r[w] += v;                                                                    \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
                                                                                              \
static T divisor_##SFX(const win3 *t, int64_t od, int64_t oh, int64_t ow, int64_t dov)       \
{                                                                                             \
    return dov ? (T)dov : (T)(t->d[od].div * t->h[oh].div * t->w[ow].div);                    \
}                                                                                             \
                                                                                              \
/* One output row (volume xp, output depth od, row oh) of a fixed-window max pooling with    \
 * indices: the taps in scan order (depth, row, then column tap kw across the row), each       \
 * replacing the running maximum when larger or NaN -- the rule of argmax_, so the same values \
 * and indices. */                                                                            \
static void maxrow_##SFX(const T *xp, const fc_pool3d_geom *g, const win3 *t, int64_t od,     \
                         int64_t oh, T *restrict yr, int64_t *restrict ir)                    \
{                                                                                             \
    const fc_pool_win *a = &t->d[od], *b = &t->h[oh];                                         \
    const int64_t Wo = g->W_out, sW = g->sW;                                                  \
    for (int64_t ow = 0; ow < Wo; ow++) {                                                     \
        yr[ow] = (T)-INFINITY;                                                                \
        ir[ow] = -1;                                                                          \
    }                                                                                         \
    for (int64_t d = a->lo; d < a->hi; d += t->sd)                                            \
        for (int64_t h = b->lo; h < b->hi; h += t->sh) {                                      \
            const int64_t row = (d * g->H + h) * g->W;                                        \
            for (int64_t kw = 0; kw < g->kW; kw++) {                                          \
                const T *src = xp + row + t->off[kw];                                         \
                for (int64_t ow = t->lo[kw]; ow < t->hi[kw]; ow++) {                          \
                    const T v = src[ow * sW];                                                 \
                    if (ir[ow] < 0 || v > yr[ow] || isnan(v)) {                               \
                        yr[ow] = v;                                                           \
                        ir[ow] = row + t->off[kw] + ow * sW;                                  \
                    }                                                                         \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
}                                                                                             \
                                                                                              \
/* Fixed windows on the tier's registered row micro-kernels (pool_internal.h): the rows of  \
 * a window's rows of its depth plane (tierplane_) combined elementwise (vmax / vsum) into a row\
 * padded to the windows' extent, then the column windows across it (hmax / hsum) and, for     \
 * the average, the divisors (vdiv). */                                                        \
static void tierrow_##SFX(const fc_pool_uk_##SFX *uk, int avg, const T *pl,                   \
                          const fc_pool3d_geom *g, const win3 *t, int64_t od, int64_t oh,     \
                          int64_t dov, const T *divw, T *buf, int64_t blen, T *yr)            \
{                                                                                             \
    const fc_pool_win *a = &t->d[od], *b = &t->h[oh];                                         \
    const T pad = avg ? (T)0 : (T)-INFINITY;                                                  \
    T *mid = buf + g->pW;                                                                     \
    for (int64_t i = 0; i < g->pW; i++)                                                       \
        buf[i] = pad;                                                                         \
    for (int64_t i = g->pW + g->W; i < blen; i++)                                             \
        buf[i] = pad;                                                                         \
    int first = 1;                                                                            \
    for (int64_t h = b->lo; pl && h < b->hi; h += t->sh) {                                    \
        const T *row = pl + h * g->W;                                                         \
        if (first)                                                                            \
            memcpy(mid, row, sizeof(T) * (size_t)g->W);                                       \
        else if (avg)                                                                         \
            uk->vsum(mid, mid, row, g->W);                                                    \
        else                                                                                  \
            uk->vmax(mid, mid, row, g->W);                                                    \
        first = 0;                                                                            \
    }                                                                                         \
    if (first)   /* no tap inside the input (refused by the Python layer) */                  \
        for (int64_t i = 0; i < g->W; i++)                                                    \
            mid[i] = pad;                                                                     \
    if (!avg) {                                                                               \
        uk->hmax(yr, buf, g->W_out, g->kW, g->sW, t->sw);                                     \
        return;                                                                               \
    }                                                                                         \
    uk->hsum(yr, buf, g->W_out, g->kW, g->sW);                                                \
    uk->vdiv(yr, yr, dov ? (T)dov : (T)(a->div * b->div), divw, g->W_out);                    \
}                                                                                             \
                                                                                              \
/* The (H, W) plane that output depth od's windows read: the volume's plane itself for one   \
 * depth tap, else the taps' planes reduced into pb (whole planes per call: row by row, a    \
 * 28-wide 2x2x2 pooling spent its time in the calls); NULL when no tap is inside. */        \
static const T *tierplane_##SFX(const fc_pool_uk_##SFX *uk, int avg, const T *xp,              \
                                const fc_pool3d_geom *g, const win3 *t, int64_t od, T *pb)    \
{                                                                                             \
    const fc_pool_win *a = &t->d[od];                                                         \
    const int64_t HW = g->H * g->W;                                                           \
    if (a->lo >= a->hi)                                                                       \
        return NULL;                                                                          \
    if (a->lo + t->sd >= a->hi)                                                               \
        return xp + a->lo * HW;                                                               \
    memcpy(pb, xp + a->lo * HW, sizeof(T) * (size_t)HW);                                      \
    for (int64_t d = a->lo + t->sd; d < a->hi; d += t->sd) {                                  \
        if (avg)                                                                              \
            uk->vsum(pb, pb, xp + d * HW, HW);                                                \
        else                                                                                  \
            uk->vmax(pb, pb, xp + d * HW, HW);                                                \
    }                                                                                         \
    return pb;                                                                                \
}                                                                                             \
                                                                                              \
/* The padded row tierrow_ reads: every window's extent plus the kernels' read slack. */     \
static int64_t tierrow_len_##SFX(const fc_pool3d_geom *g, const win3 *t)                      \
{                                                                                             \
    const int64_t need = (g->W_out - 1) * g->sW + (g->kW - 1) * t->sw + 1;                    \
    return g->pW + g->W + max64(0, need - g->pW - g->W) + FC_POOL_SLACK;                      \
}                                                                                             \
                                                                                              \
/* max (adaptive or not): y and indices (either may be NULL) */                               \
static fc_status maxfwd_##SFX(const fc_pool3d_geom *g, int adaptive, const T *x, T *y,       \
                              int64_t *ind)                                                   \
{                                                                                             \
    win3 t;                                                                                   \
    if (g->P == 0 || g->D_out == 0 || g->H_out == 0 || g->W_out == 0)                         \
        return FC_OK;                                                                         \
    if (win3_init(&t, g, adaptive, 0, 0))                                                     \
        return FC_ERR_NOMEM;                                                                  \
    const int64_t vol = g->D * g->H * g->W, HWo = g->H_out * g->W_out;                        \
    const int64_t items = g->P * g->D_out;                                                    \
    const int nt = pool3d_threads((double)g->P * (double)vol, items);                        \
    const fc_pool_uk_##SFX *uk = &fc_tier_current()->pool_##SFX;                              \
    if (adaptive && !ind && y && g->D_out == 1 && g->H_out == 1 && g->W_out == 1) {           \
FC_OMP_FOR(nt, nt > 1)                                                                        \
        for (int64_t p = 0; p < g->P; p++)   /* global: one window per volume */              \
            y[p] = uk->rmax(x + p * vol, vol);                                                \
        free(t.d);                                                                            \
        return FC_OK;                                                                         \
    }                                                                                         \
    const int tier_rows = !adaptive && !ind && y;                                             \
    /* per thread: the padded row, then the depth plane */                                    \
    const int64_t rlen = tier_rows ? tierrow_len_##SFX(g, &t) : 0;                            \
    const int64_t blen = tier_rows ? rlen + g->H * g->W : 0;                                  \
    T *bufs = tier_rows ? (T *)malloc(sizeof(T) * (size_t)(nt * blen)) : NULL;               \
    if (tier_rows && !bufs) {                                                                 \
        free(t.d);                                                                            \
        return FC_ERR_NOMEM;                                                                  \
    }                                                                                         \
FC_OMP_FOR(nt, nt > 1)                                                                        \
    for (int64_t it = 0; it < items; it++) {                                                  \
        const int64_t p = it / g->D_out, od = it % g->D_out;                                  \
        const T *xp = x + p * vol;                                                            \
        const int64_t o0 = it * HWo;                                                          \
        if (tier_rows) {                                                                      \
            T *buf = bufs + (int64_t)fc_thread_id() * blen, *pb = buf + rlen;                 \
            const T *pl = tierplane_##SFX(uk, 0, xp, g, &t, od, pb);                          \
            for (int64_t oh = 0; oh < g->H_out; oh++)                                         \
                tierrow_##SFX(uk, 0, pl, g, &t, od, oh, 0, NULL, buf, rlen,                  \
                              y + o0 + oh * g->W_out);                                        \
            continue;                                                                         \
        }                                                                                     \
        if (!adaptive && y && ind) {                                                          \
            for (int64_t oh = 0; oh < g->H_out; oh++)                                         \
                maxrow_##SFX(xp, g, &t, od, oh, y + o0 + oh * g->W_out,                       \
                             ind + o0 + oh * g->W_out);                                       \
            continue;                                                                         \
        }                                                                                     \
        for (int64_t oh = 0; oh < g->H_out; oh++)                                             \
            for (int64_t ow = 0; ow < g->W_out; ow++) {                                       \
                const int64_t a = argmax_##SFX(xp, g, &t, od, oh, ow);                        \
                const int64_t o = o0 + oh * g->W_out + ow;                                    \
                if (y)                                                                        \
                    y[o] = a >= 0 ? xp[a] : (T)-INFINITY;                                     \
                if (ind)                                                                      \
                    ind[o] = a;                                                               \
            }                                                                                 \
    }                                                                                         \
    free(bufs);                                                                               \
    free(t.d);                                                                                \
    return FC_OK;                                                                             \
}                                                                                             \
                                                                                              \
/* scatter-add gy at the given indices, or at the argmax recomputed from x */                 \
static fc_status maxbwd_##SFX(const fc_pool3d_geom *g, int adaptive, const T *gy,            \
                              const int64_t *ind, const T *x, T *gx)                          \
{                                                                                             \
    win3 t;                                                                                   \
    const int64_t vol = g->D * g->H * g->W, ovol = g->D_out * g->H_out * g->W_out;           \
    if (win3_init(&t, g, adaptive, 0, 0))                                                     \
        return FC_ERR_NOMEM;                                                                  \
    const int nt = pool3d_threads((double)g->P * (double)(vol + ovol), g->P);                \
    int bad = 0;                                                                              \
FC_OMP_FOR(nt, nt > 1)                                                                        \
    for (int64_t p = 0; p < g->P; p++) {                                                      \
        T *gp = gx + p * vol;                                                                 \
        const T *gyp = gy + p * ovol;                                                         \
        const int64_t *ip = ind ? ind + p * ovol : NULL;                                      \
        memset(gp, 0, sizeof(T) * (size_t)vol);                                               \
        if (ip) {                                                                             \
            /* every run of indices checked before any is written through, while it is in    \
             * L1 (a whole volume's check first read them twice from memory: 64x16x112x112    \
             * (1,2,2) spent half its time there); after a bad one the call fails and gx,    \
             * a fresh array, is dropped */                                                  \
            for (int64_t o0 = 0; o0 < ovol; o0 += 2048) {                                     \
                const int64_t n = ovol - o0 < 2048 ? ovol - o0 : 2048;                        \
                if (!indices_ok(ip + o0, n, vol)) {                                           \
FC_OMP_ATOMIC_WRITE                                                                           \
                    bad = 1;                                                                  \
                    break;                                                                    \
                }                                                                             \
                for (int64_t o = o0; o < o0 + n; o++)                                         \
                    gp[ip[o]] += gyp[o];                                                      \
            }                                                                                 \
            continue;                                                                         \
        }                                                                                     \
        const T *xp = x + p * vol;                                                            \
        for (int64_t od = 0, o = 0; od < g->D_out; od++)                                      \
            for (int64_t oh = 0; oh < g->H_out; oh++)                                         \
                for (int64_t ow = 0; ow < g->W_out; ow++, o++) {                              \
                    const int64_t a = argmax_##SFX(xp, g, &t, od, oh, ow);                    \
                    if (a >= 0)                                                               \
                        gp[a] += gyp[o];                                                      \
                }                                                                             \
    }                                                                                         \
    free(t.d);                                                                                \
    return bad ? FC_ERR_INDEX : FC_OK;                                                        \
}                                                                                             \
                                                                                              \
                                                                                              \
static fc_status avgfwd_##SFX(const fc_pool3d_geom *g, int adaptive, int cip, int64_t dov,    \
                              const T *x, T *y)                                               \
{                                                                                             \
    win3 t;                                                                                   \
    if (g->P == 0 || g->D_out == 0 || g->H_out == 0 || g->W_out == 0)                         \
        return FC_OK;                                                                         \
    if (win3_init(&t, g, adaptive, 1, cip))                                                   \
        return FC_ERR_NOMEM;                                                                  \
    const int64_t vol = g->D * g->H * g->W, HWo = g->H_out * g->W_out;                        \
    const int64_t items = g->P * g->D_out;                                                    \
    const int nt = pool3d_threads((double)g->P * (double)vol, items);                        \
    const fc_pool_uk_##SFX *uk = &fc_tier_current()->pool_##SFX;                              \
    if (adaptive && g->D_out == 1 && g->H_out == 1 && g->W_out == 1) {                        \
        /* global: one window per volume, the volumes split among the threads (each        \
         * volume's sum is one call's, whatever the split) */                                  \
        int64_t c;                                                                            \
FC_OMP_FOR(nt, nt > 1)                                                                        \
        for (c = 0; c < nt; c++) {                                                            \
            const int64_t p0 = g->P * c / nt, p1 = g->P * (c + 1) / nt;                       \
            if (p1 > p0) uk->rsums(y + p0, x + p0 * vol, p1 - p0, vol, (T)vol);               \
        }                                                                                     \
        free(t.d);                                                                            \
        return FC_OK;                                                                         \
    }                                                                                         \
    const int64_t rlen = adaptive ? 0 : tierrow_len_##SFX(g, &t);                             \
    const int64_t blen = adaptive ? 0 : rlen + g->H * g->W;   /* the row, then the plane */   \
    T *bufs = adaptive ? NULL : (T *)malloc(sizeof(T) * (size_t)(nt * blen + g->W_out));     \
    if (!adaptive && !bufs) {                                                                 \
        free(t.d);                                                                            \
        return FC_ERR_NOMEM;                                                                  \
    }                                                                                         \
    T *divw = bufs ? bufs + nt * blen : NULL;   /* the column factors of the divisors */      \
    for (int64_t ow = 0; divw && ow < g->W_out; ow++)                                         \
        divw[ow] = dov ? (T)1 : (T)t.w[ow].div;                                               \
FC_OMP_FOR(nt, nt > 1)                                                                        \
    for (int64_t it = 0; it < items; it++) {                                                  \
        const int64_t p = it / g->D_out, od = it % g->D_out;                                  \
        const T *xp = x + p * vol;                                                            \
        T *yo = y + it * HWo;                                                                 \
        if (!adaptive) {                                                                      \
            T *buf = bufs + (int64_t)fc_thread_id() * blen, *pb = buf + rlen;                 \
            const T *pl = tierplane_##SFX(uk, 1, xp, g, &t, od, pb);                          \
            for (int64_t oh = 0; oh < g->H_out; oh++)                                         \
                tierrow_##SFX(uk, 1, pl, g, &t, od, oh, dov, divw, buf, rlen,                \
                              yo + oh * g->W_out);                                            \
            continue;                                                                         \
        }                                                                                     \
        for (int64_t oh = 0; oh < g->H_out; oh++)                                             \
            for (int64_t ow = 0; ow < g->W_out; ow++)                                         \
                yo[oh * g->W_out + ow] = wsum_##SFX(xp, g, &t, od, oh, ow) /                  \
                                         divisor_##SFX(&t, od, oh, ow, dov);                  \
    }                                                                                         \
    free(bufs);                                                                               \
    free(t.d);                                                                                \
    return FC_OK;                                                                             \
}                                                                                             \
                                                                                              \
/* One volume's gradient when the windows tile it (kernel = stride per axis): input element  \
 * (d, h, w) belongs to window (floor((d + pD) / sD), ...) when that is an output, else it is  \
 * padding-only and its gradient 0.  sh: H_out*W_out scratch. */                              \
static void tiled_avgbwd_##SFX(const fc_pool3d_geom *g, const win3 *t, int64_t dov,          \
                               const T *gyp, T *gp, T *sh)                                    \
{                                                                                             \
    const int64_t HW = g->H * g->W, HWo = g->H_out * g->W_out;                                \
    int64_t od_done = -1;                                                                     \
    for (int64_t d = 0; d < g->D; d++) {                                                      \
        const int64_t od = floor_div(d + g->pD, g->sD);                                       \
        if (od < 0 || od >= g->D_out) {                                                       \
            memset(gp + d * HW, 0, sizeof(T) * (size_t)HW);                                   \
            continue;                                                                         \
        }                                                                                     \
        if (od != od_done) {                                                                  \
            for (int64_t oh = 0; oh < g->H_out; oh++)                                         \
                for (int64_t ow = 0; ow < g->W_out; ow++)                                     \
                    sh[oh * g->W_out + ow] = gyp[od * HWo + oh * g->W_out + ow] /            \
                                             divisor_##SFX(t, od, oh, ow, dov);               \
            od_done = od;                                                                     \
        }                                                                                     \
        for (int64_t h = 0; h < g->H; h++) {                                                  \
            T *row = gp + d * HW + h * g->W;                                                  \
            const int64_t oh = floor_div(h + g->pH, g->sH);                                   \
            if (oh < 0 || oh >= g->H_out) {                                                   \
                memset(row, 0, sizeof(T) * (size_t)g->W);                                     \
                continue;                                                                     \
            }                                                                                 \
            const T *s = sh + oh * g->W_out;                                                  \
            int64_t w = 0;                                                                    \
            for (int64_t ow = 0; ow < g->W_out; ow++) {                                       \
                const int64_t lo = ow * g->sW - g->pW, hi = min64(lo + g->sW, g->W);          \
                for (; w < lo; w++) row[w] = 0;                                               \
                for (; w < hi; w++) row[w] = s[ow];                                           \
            }                                                                                 \
            for (; w < g->W; w++) row[w] = 0;                                                 \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
                                                                                              \
static fc_status avgbwd_##SFX(const fc_pool3d_geom *g, int adaptive, int cip, int64_t dov,    \
                              const T *gy, T *gx)                                             \
{                                                                                             \
    win3 t;                                                                                   \
    if (win3_init(&t, g, adaptive, 1, cip))                                                   \
        return FC_ERR_NOMEM;                                                                  \
    const int64_t vol = g->D * g->H * g->W, ovol = g->D_out * g->H_out * g->W_out;           \
    const int nt = pool3d_threads((double)g->P * (double)(vol + ovol), g->P);                \
    /* Windows that tile the volume (kernel = stride on every axis: 2x2x2 stride 2 and the   \
     * like) give each input element at most one share, so gx is written once, without the   \
     * clearing pass and the read-modify-write of the general scatter; the shares of one     \
     * output depth are divided once for its kD input depths. */                             \
    const int tiles = !adaptive && g->kD == g->sD && g->kH == g->sH && g->kW == g->sW;       \
    /* other fixed windows a row at a time, as the forward: each row's shares, then every    \
     * tap's column run */                                                                   \
    const int rows = !tiles && !adaptive && g->W_out >= 8 && g->kW <= 8;                      \
    const int64_t per = tiles ? g->H_out * g->W_out : rows ? g->W_out : 0;                    \
    T *shr = per ? (T *)malloc(sizeof(T) * (size_t)(nt * per)) : NULL;                       \
    if (per && !shr) {                                                                        \
        free(t.d);                                                                            \
        return FC_ERR_NOMEM;                                                                  \
    }                                                                                         \
FC_OMP_FOR(nt, nt > 1)                                                                        \
    for (int64_t p = 0; p < g->P; p++) {                                                      \
        T *gp = gx + p * vol;                                                                 \
        const T *gyp = gy + p * ovol;                                                         \
        if (tiles) {                                                                          \
            tiled_avgbwd_##SFX(g, &t, dov, gyp, gp, shr + (int64_t)fc_thread_id() * per);     \
            continue;                                                                         \
        }                                                                                     \
        memset(gp, 0, sizeof(T) * (size_t)vol);                                               \
        if (rows) {                                                                           \
            T *sh = shr + (int64_t)fc_thread_id() * g->W_out;                                 \
            for (int64_t od = 0; od < g->D_out; od++)                                         \
                for (int64_t oh = 0; oh < g->H_out; oh++) {                                   \
                    const T *gr = gyp + (od * g->H_out + oh) * g->W_out;                      \
                    for (int64_t ow = 0; ow < g->W_out; ow++)                                 \
                        sh[ow] = gr[ow] / divisor_##SFX(&t, od, oh, ow, dov);                 \
                    for (int64_t d = t.d[od].lo; d < t.d[od].hi; d++)                         \
                        for (int64_t h = t.h[oh].lo; h < t.h[oh].hi; h++) {                   \
                            T *row = gp + (d * g->H + h) * g->W;                              \
                            for (int64_t kw = 0; kw < g->kW; kw++) {                          \
                                T *dst = row + t.off[kw];                                     \
                                for (int64_t ow = t.lo[kw]; ow < t.hi[kw]; ow++)              \
                                    dst[ow * g->sW] += sh[ow];                                \
                            }                                                                 \
                        }                                                                     \
                }                                                                             \
            continue;                                                                         \
        }                                                                                     \
        for (int64_t od = 0, o = 0; od < g->D_out; od++)                                      \
            for (int64_t oh = 0; oh < g->H_out; oh++)                                         \
                for (int64_t ow = 0; ow < g->W_out; ow++, o++)                                \
                    wadd_##SFX(gp, g, &t, od, oh, ow,                                         \
                               gyp[o] / divisor_##SFX(&t, od, oh, ow, dov));                  \
    }                                                                                         \
    free(shr);                                                                                \
    free(t.d);                                                                                \
    return FC_OK;                                                                             \
}                                                                                             \
                                                                                              \
fc_status fc_max_pool3d_forward_##SFX(const fc_pool3d_geom *g, const T *x, T *y,             \
                                      int64_t *indices)                                       \
{                                                                                             \
    return maxfwd_##SFX(g, 0, x, y, indices);                                                 \
}                                                                                             \
fc_status fc_max_pool3d_backward_##SFX(const fc_pool3d_geom *g, const T *gy,                 \
                                       const int64_t *indices, const T *x, T *gx)             \
{                                                                                             \
    return maxbwd_##SFX(g, 0, gy, indices, x, gx);                                            \
}                                                                                             \
fc_status fc_avg_pool3d_forward_##SFX(const fc_pool3d_geom *g, int count_include_pad,        \
                                      int64_t divisor_override, const T *x, T *y)             \
{                                                                                             \
    return avgfwd_##SFX(g, 0, count_include_pad, divisor_override, x, y);                     \
}                                                                                             \
fc_status fc_avg_pool3d_backward_##SFX(const fc_pool3d_geom *g, int count_include_pad,       \
                                       int64_t divisor_override, const T *gy, T *gx)          \
{                                                                                             \
    return avgbwd_##SFX(g, 0, count_include_pad, divisor_override, gy, gx);                   \
}                                                                                             \
fc_status fc_adaptive_avg_pool3d_forward_##SFX(const fc_pool3d_geom *g, const T *x, T *y)    \
{                                                                                             \
    return avgfwd_##SFX(g, 1, 1, 0, x, y);                                                    \
}                                                                                             \
fc_status fc_adaptive_avg_pool3d_backward_##SFX(const fc_pool3d_geom *g, const T *gy, T *gx) \
{                                                                                             \
    return avgbwd_##SFX(g, 1, 1, 0, gy, gx);                                                  \
}                                                                                             \
fc_status fc_adaptive_max_pool3d_forward_##SFX(const fc_pool3d_geom *g, const T *x, T *y,    \
                                               int64_t *indices)                              \
{                                                                                             \
    return maxfwd_##SFX(g, 1, x, y, indices);                                                 \
}                                                                                             \
fc_status fc_adaptive_max_pool3d_backward_##SFX(const fc_pool3d_geom *g, const T *gy,        \
                                                const int64_t *indices, const T *x, T *gx)    \
{                                                                                             \
    return maxbwd_##SFX(g, 1, gy, indices, x, gx);                                            \
}

FC_POOL3D_DTYPE(f32, float)
FC_POOL3D_DTYPE(f64, double)
