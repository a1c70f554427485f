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
#include "tier.h"

#define FC_CAT_(a, b) a##_##b
#define FC_CAT(a, b) FC_CAT_(a, b)
#define FN(name) FC_CAT(name, SFX)

/* The element at plane offset xp[ih*W+iw] beats the running max m: larger, or NaN
 * (PyTorch's rule, so a NaN anywhere in the window propagates). */
#define FC_BEATS(v, m) ((v) > (m) || isnan(v))

/* The row micro-kernels of the tier in use (csrc/tier.h), picked once per call. */
static const FN(fc_pool_uk) *FN(pick_ukernels)(void)
{
    return &fc_tier_current()->FN(pool);
}

/* ------------------------------------------------- separable forward (values only) -- */

/*
 * Max without indices, average and adaptive average are separable: for each output row,
 * a vertical pass combines the window's input rows into one scratch row, then a
 * horizontal pass reduces it along the columns.  Fixed windows: the scratch row carries
 * the left/right padding (pad value) so every column window is a plain strided run;
 * adaptive windows: the scratch row is the bare input row, read through the column table.
 * (Splitting the max into rows-then-columns keeps the value; the index needs the scan
 * order and is computed elsewhere.)
 */
typedef struct {
    int64_t H, W, Ho, Wo;
    const fc_pool_win *rw, *cw;
    int64_t dh;
    int fixed;                  /* 1: fixed windows kw, sw, dw on a pw-padded row */
    int64_t kw, sw, dw, pw;
    int64_t kh, sh, ph;
    int64_t lbuf, wc;           /* scratch row length; input columns copied into it */
    int64_t tstride;            /* per-thread scratch, in elements (see fwd_prepare) */
    int64_t oa, ob;             /* fixed windows: outputs whose column taps are all inside */
    int is_max;
    T padval;
    const T *cdiv;              /* average: column divisor factors */
    int64_t divisor;            /* average: override, 0 for none */
    const FN(fc_pool_uk) *uk;
} FN(fc_pool_fwd);

static void FN(fwd_values_row)(const FN(fc_pool_fwd) *c, const T *xp, int64_t oh, T *yr,
                               T *tmp)
{
    const int64_t W = c->W, Wo = c->Wo, wc = c->wc;
    void (*vop)(T *, const T *, const T *, int64_t) = c->is_max ? c->uk->vmax : c->uk->vsum;
    T *mid = tmp + c->pw;
    const fc_pool_win r = c->rw[oh];
    if (r.lo >= r.hi) {   /* not produced by valid arguments; keep it defined */
        for (int64_t ow = 0; ow < Wo; ++ow)
            yr[ow] = c->is_max ? -INFINITY : 0;
        return;
    }
    const T *row = xp + r.lo * W;
    if (r.lo + c->dh >= r.hi) {
        memcpy(mid, row, (size_t)wc * sizeof(T));
    } else {
        vop(mid, row, row + c->dh * W, wc);
        for (int64_t ih = r.lo + 2 * c->dh; ih < r.hi; ih += c->dh)
            vop(mid, mid, xp + ih * W, wc);
    }
    if (c->fixed) {
        if (c->is_max)
            c->uk->hmax(yr, tmp, Wo, c->kw, c->sw, c->dw);
        else
            c->uk->hsum(yr, tmp, Wo, c->kw, c->sw);
    } else {
        for (int64_t ow = 0; ow < Wo; ++ow) {
            const fc_pool_win w = c->cw[ow];
            T acc = tmp[w.lo];
            if (c->is_max) {
                for (int64_t iw = w.lo + 1; iw < w.hi; ++iw)
                    if (FC_BEATS(tmp[iw], acc))
                        acc = tmp[iw];
            } else {
                for (int64_t iw = w.lo + 1; iw < w.hi; ++iw)
                    acc += tmp[iw];
            }
            yr[ow] = acc;
        }
    }
    if (!c->is_max) {
        if (c->divisor != 0) {
            const T dv = (T)c->divisor;
            for (int64_t ow = 0; ow < Wo; ++ow)
                yr[ow] /= dv;
        } else {
            /* both factors are exact small integers: the product rounds once, as
             * PyTorch's integer divisor does */
            c->uk->vdiv(yr, yr, (T)r.div, c->cdiv, Wo);
        }
    }
}

/*
 * The flat index of the window's maximum m (a value the window holds): the first tap in
 * scan order equal to m, or for a NaN m the last NaN tap -- exactly PyTorch's sequential
 * rule (nothing after the first maximal tap is strictly greater; a NaN beats everything).
 */
static inline int64_t FN(locate)(const T *xp, int64_t W, fc_pool_win r, int64_t dh,
                                 fc_pool_win c, int64_t dw, T m)
{
    if (isnan(m)) {
        int64_t lr = r.lo + (r.hi - 1 - r.lo) / dh * dh;
        int64_t lc = c.lo + (c.hi - 1 - c.lo) / dw * dw;
        for (int64_t ih = lr; ih >= r.lo; ih -= dh)
            for (int64_t iw = lc; iw >= c.lo; iw -= dw)
                if (isnan(xp[ih * W + iw]))
                    return ih * W + iw;
    } else {
        for (int64_t ih = r.lo; ih < r.hi; ih += dh)
            for (int64_t iw = c.lo; iw < c.hi; iw += dw)
                if (xp[ih * W + iw] == m)
                    return ih * W + iw;
    }
    return r.lo * W + c.lo;   /* unreachable when m comes from the window */
}

/*
 * Per-thread scratch (tstride elements, wo2 = Wo rounded up to even): the padded row of
 * fwd_values_row (lbuf), a row of Wo values (wo2), Wo int64 positions (2 * wo2, room for
 * float), Wo int32 tap numbers (wo2).  Then the shared column divisors.
 */
static T *FN(fwd_prepare)(FN(fc_pool_fwd) *c, int nt)
{
    const int64_t W = c->W, Wo = c->Wo;
    if (c->fixed) {
        int64_t lp = (Wo - 1) * c->sw + (c->kw - 1) * c->dw + 1;
        c->wc = lp - c->pw < W ? lp - c->pw : W;
        c->lbuf = (lp > c->pw + W ? lp : c->pw + W) + FC_POOL_SLACK;
        c->oa = (c->pw + c->sw - 1) / c->sw;
        int64_t num = W - 1 - (c->kw - 1) * c->dw + c->pw;
        c->ob = num < 0 ? 0 : num / c->sw + 1;
        if (c->ob > Wo)
            c->ob = Wo;
        if (c->ob < c->oa)
            c->ob = c->oa;
    } else {
        c->pw = 0;
        c->wc = W;
        c->lbuf = W + FC_POOL_SLACK;
    }
    c->lbuf = (c->lbuf + 15) / 16 * 16;   /* keeps the int64 part aligned */
    int64_t wo2 = (Wo + 1) / 2 * 2;
    c->tstride = c->lbuf + 4 * wo2;
    c->uk = FN(pick_ukernels)();
    T *scratch = (T *)malloc((size_t)(nt * c->tstride + Wo + 1) * sizeof(T));
    if (!scratch)
        return NULL;
    T *cdiv = scratch + nt * c->tstride;
    for (int64_t ow = 0; ow < Wo; ++ow)
        cdiv[ow] = (T)c->cw[ow].div;
    c->cdiv = cdiv;
    /* the pads of every thread's row never change: fill them once */
    for (int t = 0; t < nt; ++t)
        for (int64_t i = 0; i < c->lbuf; ++i)
            if (i < c->pw || i >= c->pw + c->wc)
                scratch[t * c->tstride + i] = c->padval;
    return scratch;
}

/* Largest number of taps the vector scan handles (tap numbers stay exact, small tables). */
#define FC_POOL_SCAN_MAX 64

/* PyTorch's sequential scan of one window: the running max is replaced by a tap that is
 * greater or NaN, so ties keep the first tap and NaN the last NaN.  -1 for a window with
 * no tap in the input (which the arguments rule out). */
static inline int64_t FN(scan)(const T *xp, int64_t W, fc_pool_win r, int64_t dh,
                               fc_pool_win c, int64_t dw)
{
    if (r.lo >= r.hi || c.lo >= c.hi)
        return -1;
    int64_t best = r.lo * W + c.lo;
    T m = xp[best];
    for (int64_t ih = r.lo; ih < r.hi; ih += dh)
        for (int64_t iw = c.lo; iw < c.hi; iw += dw) {
            const T v = xp[ih * W + iw];
            const int gt = v > m || isnan(v);
            m = gt ? v : m;
            best = gt ? ih * W + iw : best;
        }
    return best;
}

/*
 * Values yr and flat argmax at of every window of output row oh in one scan.  Interior
 * windows of fixed pooling go through the hargmax micro-kernel; border and adaptive
 * windows through the scalar scan.
 */
static void FN(argmax_row)(const FN(fc_pool_fwd) *c, const T *xp, int64_t oh, T *yr,
                           int64_t *at, int32_t *taps)
{
    const int64_t W = c->W, Wo = c->Wo;
    const fc_pool_win r = c->rw[oh];
    int64_t oa = 0, ob = 0;
    if (c->fixed && r.lo < r.hi) {
        int64_t nr = (r.hi - 1 - r.lo) / c->dh + 1;
        if (nr * c->kw <= FC_POOL_SCAN_MAX && c->ob > c->oa) {
            oa = c->oa;
            ob = c->ob;
            const T *rows[FC_POOL_SCAN_MAX];
            int64_t off[FC_POOL_SCAN_MAX];
            for (int64_t i = 0; i < nr; ++i) {
                rows[i] = xp + (r.lo + i * c->dh) * W + oa * c->sw - c->pw;
                for (int64_t j = 0; j < c->kw; ++j)
                    off[i * c->kw + j] = (r.lo + i * c->dh) * W + j * c->dw - c->pw;
            }
            c->uk->hargmax(yr + oa, taps + oa, rows, nr, ob - oa, c->kw, c->sw, c->dw);
            for (int64_t ow = oa; ow < ob; ++ow)
                at[ow] = off[taps[ow]] + ow * c->sw;
        }
    }
    const int64_t dw = c->fixed ? c->dw : 1;
    /* the outputs outside [oa, ob): skip that range in both places it can start */
    for (int64_t ow = oa == 0 ? ob : 0; ow < Wo; ow = (ow + 1 == oa) ? ob : ow + 1) {
        const int64_t a = FN(scan)(xp, W, r, c->dh, c->cw[ow], dw);
        at[ow] = a;
        yr[ow] = a >= 0 ? xp[a] : -INFINITY;
    }
}

/* Values (and, when ind is not NULL, indices) of output rows [oh0, oh1) of one plane. */
static void FN(fwd_rows)(const FN(fc_pool_fwd) *c, const T *xp, T *yp, int64_t *ip,
                         int64_t oh0, int64_t oh1, T *tmp)
{
    int32_t *taps = (int32_t *)(tmp + c->lbuf + 3 * ((c->Wo + 1) / 2 * 2));
    for (int64_t oh = oh0; oh < oh1; ++oh) {
        T *yr = yp + oh * c->Wo;
        if (ip)
            FN(argmax_row)(c, xp, oh, yr, ip + oh * c->Wo, taps);
        else
            FN(fwd_values_row)(c, xp, oh, yr, tmp);
    }
}

/* One window covering each whole plane (global pooling): a contiguous reduction. */
static fc_status FN(fwd_global)(const FN(fc_pool_fwd) *c, int64_t P, const T *x, T *y,
                                int64_t *ind)
{
    const int64_t n = c->H * c->W;
    const FN(fc_pool_uk) *uk = FN(pick_ukernels)();
    const T dv = (T)(c->divisor != 0 ? c->divisor : c->rw[0].div * c->cw[0].div);
    fc_pool_split sp;
    fc_pool_split_init(&sp, P, 1, P * n, 0);
    (void)uk;
    (void)dv;
    if (!c->is_max) {
        /* blocks of planes: small planes (7x7 before a classifier) cost more in per-plane
         * calls and horizontal sums than in arithmetic; rsums shares both */
        const int64_t blk = 256, nb = (P + blk - 1) / blk;
        (void)nb;
        FC_OMP_PARALLEL(sp.nt)
        {
            FC_OMP_LOOP_DYNAMIC
            for (int64_t b = 0; b < nb; ++b) {
                const int64_t p0 = b * blk, np = P - p0 < blk ? P - p0 : blk;
                uk->rsums(y + p0, x + p0 * n, np, n, dv);
            }
        }
        return FC_OK;
    }
    FC_OMP_PARALLEL(sp.nt)
    {
        FC_OMP_LOOP
        for (int64_t p = 0; p < P; ++p) {
            const T *xp = x + p * n;
            T m = uk->rmax(xp, n);
            if (ind) {
                fc_pool_win r = {0, c->H, 0}, w = {0, c->W, 0};
                ind[p] = FN(locate)(xp, c->W, r, 1, w, 1, m);
                m = xp[ind[p]];
            }
            y[p] = m;
        }
    }
    return FC_OK;
}

static fc_status FN(fwd_values)(FN(fc_pool_fwd) *c, int64_t P, const T *x, T *y,
                                int64_t *ind)
{
    const int64_t H = c->H, W = c->W, Ho = c->Ho, Wo = c->Wo;
    if (P == 0 || Ho == 0 || Wo == 0)
        return FC_OK;
    if (Ho == 1 && Wo == 1 && c->rw[0].lo == 0 && c->rw[0].hi == H && c->cw[0].lo == 0 &&
        c->cw[0].hi == W && c->dh == 1 && (!c->fixed || c->dw == 1))
        return FN(fwd_global)(c, P, x, y, ind);
    fc_pool_split sp;
    fc_pool_split_init(&sp, P, Ho, P * (H * W + Ho * Wo), 0);
    T *scratch = FN(fwd_prepare)(c, sp.nt);
    if (!scratch)
        return FC_ERR_NOMEM;
    const FN(fc_pool_fwd) *cc = c;
    (void)cc;
    FC_OMP_PARALLEL(sp.nt)
    {
        T *tmp = scratch + fc_thread_id() * cc->tstride;
        FC_OMP_LOOP
        for (int64_t i = 0; i < sp.items; ++i) {
            int64_t p, r0, r1;
            fc_pool_split_item(&sp, i, &p, &r0, &r1);
            FN(fwd_rows)(cc, x + p * H * W, y + p * Ho * Wo, ind ? ind + p * Ho * Wo : NULL,
                         r0, r1, tmp);
        }
    }
    free(scratch);
    return FC_OK;
}

/*
 * Max backward of the 2x2 / stride 2 windows without padding that tile the plane: each
 * input element is written exactly once (no zero fill, no read-modify-write).  Returns 0
 * when given indices point outside their own window (which also catches any index out of
 * range); the caller then checks and scatters, overwriting the whole plane.
 */
static int FN(max_bwd_2x2_plane)(const FN(fc_pool_fwd) *c, const T *gyp, const int64_t *ip,
                                 const T *xp, T *gp, T *tmp)
{
    const int64_t H = c->H, W = c->W, Ho = c->Ho, Wo = c->Wo;
    const int64_t wo2 = (Wo + 1) / 2 * 2;
    T *yr = tmp + c->lbuf;
    int32_t *taps = (int32_t *)(tmp + c->lbuf + 3 * wo2);
    for (int64_t oh = 0; oh < Ho; ++oh) {
        T *r0 = gp + 2 * oh * W, *r1 = r0 + W;
        if (ip) {
            if (!c->uk->bwd2x2i(r0, r1, ip + oh * Wo, 2 * oh * W, W, gyp + oh * Wo, Wo))
                return 0;
        } else {
            const T *rows[2] = {xp + 2 * oh * W, xp + (2 * oh + 1) * W};
            c->uk->hargmax(yr, taps, rows, 2, Wo, 2, 2, 1);
        }
        if (!ip)
            c->uk->bwd2x2(r0, r1, taps, gyp + oh * Wo, Wo);
        for (int64_t iw = 2 * Wo; iw < W; ++iw)
            r0[iw] = r1[iw] = 0;
    }
    if (2 * Ho < H)
        memset(gp + 2 * Ho * W, 0, (size_t)((H - 2 * Ho) * W) * sizeof(T));
    return 1;
}

/* Planes up to this size are scattered in a per-thread copy that stays in L2, then written
 * to gx in one pass; larger ones are zeroed and scattered in place. */
#define FC_POOL_PLANE_SCRATCH_BYTES (256 * 1024)
/* From this much gx on, the write-out uses non-temporal stores: gx will not fit in the
 * last-level cache beside the inputs, so fetching its lines first only doubles traffic. */
#define FC_POOL_STREAM_BYTES (16 * 1024 * 1024)

/*
 * Max backward: per plane (overlapping windows add up, so planes are the unit of work),
 * add each gy at its window's argmax -- the given index, or the one recomputed as in the
 * forward pass -- into a zeroed plane.  Given indices are checked per plane before
 * anything is written through them; any out-of-range index fails the call with
 * FC_ERR_INDEX (gx is then partly written).
 */
static fc_status FN(max_bwd)(FN(fc_pool_fwd) *c, int64_t P, const T *gy,
                             const int64_t *ind, const T *x, T *gx)
{
    const int64_t H = c->H, W = c->W, Ho = c->Ho, Wo = c->Wo;
    const int64_t HW = H * W, HoWo = Ho * Wo;
    if (P == 0)
        return FC_OK;
    fc_pool_split sp;
    fc_pool_split_init(&sp, P, 1, P * (HW + HoWo), 0);
    const int k2s2 = c->fixed && c->kh == 2 && c->kw == 2 && c->sh == 2 && c->sw == 2 &&
                     c->dh == 1 && c->dw == 1 && c->ph == 0 && c->pw == 0 &&
                     2 * Ho <= H && 2 * Wo <= W && Ho > 0 && Wo > 0;
    c->uk = FN(pick_ukernels)();
    T *scratch = NULL;
    if ((!ind || k2s2) && Ho > 0 && Wo > 0) {
        scratch = FN(fwd_prepare)(c, sp.nt);
        if (!scratch)
            return FC_ERR_NOMEM;
    }
    void *planes_mem = NULL;
    T *planes = NULL;
    int64_t pstride = 0;
    const int stream = P * HW * (int64_t)sizeof(T) >= FC_POOL_STREAM_BYTES;
    if (HoWo > 0 && HW * (int64_t)sizeof(T) <= FC_POOL_PLANE_SCRATCH_BYTES) {
        pstride = (HW + 31) / 32 * 32;   /* whole cache lines per thread */
        planes_mem = malloc((size_t)(sp.nt * pstride) * sizeof(T) + 64);
        if (!planes_mem) {
            free(scratch);
            return FC_ERR_NOMEM;
        }
        planes = (T *)(((uintptr_t)planes_mem + 63) & ~(uintptr_t)63);
        /* zero once: every plane is handed back zeroed (copyz) */
        memset(planes, 0, (size_t)(sp.nt * pstride) * sizeof(T));
    }
    int bad = 0;
    const FN(fc_pool_fwd) *cc = c;
    (void)cc;
    FC_OMP_PARALLEL(sp.nt)
    {
        const int tid = fc_thread_id();
        T *tmp = scratch ? scratch + tid * cc->tstride : NULL;
        T *pl = planes ? planes + tid * pstride : NULL;
        FC_OMP_LOOP
        for (int64_t p = 0; p < P; ++p) {
            T *gp = gx + p * HW;
            const T *gyp = gy + p * HoWo;
            const int64_t *ip = ind ? ind + p * HoWo : NULL;
            if (k2s2 && FN(max_bwd_2x2_plane)(cc, gyp, ip, x ? x + p * HW : NULL, gp, tmp))
                continue;
            /* Small planes gather in the private copy pl and are written out once. */
            T *dst = pl ? pl : gp;
            if (!pl)
                memset(dst, 0, (size_t)HW * sizeof(T));
            if (ip) {
                /* One pass over the indices, checked as they are used: the plane of a bad
                 * one is dropped (the call fails) */
                if (!cc->uk->scatter(dst, ip, gyp, HoWo, HW)) {
                    if (pl)
                        memset(pl, 0, (size_t)HW * sizeof(T));
                    FC_OMP_ATOMIC_WRITE
                    bad = 1;
                    continue;
                }
            } else if (tmp) {
                const T *xp = x + p * HW;
                const int64_t wo2 = (Wo + 1) / 2 * 2;
                T *yr = tmp + cc->lbuf;
                int64_t *at = (int64_t *)(tmp + cc->lbuf + wo2);
                int32_t *taps = (int32_t *)(tmp + cc->lbuf + 3 * wo2);
                for (int64_t oh = 0; oh < Ho; ++oh) {
                    FN(argmax_row)(cc, xp, oh, yr, at, taps);
                    const T *g = gyp + oh * Wo;
                    for (int64_t ow = 0; ow < Wo; ++ow)
                        dst[at[ow]] += g[ow];
                }
            }
            if (pl)
                cc->uk->copyz(gp, pl, HW, stream);
        }
        if (stream)
            cc->uk->fence();   /* streamed planes complete before the region ends */
    }
    free(planes_mem);
    free(scratch);
    return bad ? FC_ERR_INDEX : FC_OK;
}

/* ------------------------------------------------------- average backward (gather) -- */

/*
 * gx[ih, iw] = sum over the windows (oh, ow) covering it of gy[oh, ow] / divisor(oh, ow),
 * gathered per input row so that no two threads write the same element.  Separable: each
 * needed gy row is scaled and spread along the columns once (u[oh, iw] = sum over ow
 * covering iw), then an input row is the sum of the u rows of the windows covering it.
 */
typedef struct {
    int64_t H, W, Ho, Wo;
    const fc_pool_win *rw, *cw;
    const fc_pool_inv *ir, *ic;
    const T *cdiv;
    int64_t divisor;
    int64_t urows;              /* u rows an item needs at most */
    int fixed;                  /* fixed windows kw, sw, pw along the columns (not adaptive) */
    int64_t kw, sw, pw;
    int64_t tlen;               /* the scaled gy row buffer (see avg_bwd_rows) */
    const FN(fc_pool_uk) *uk;
} FN(fc_pool_bwd);

static void FN(avg_bwd_rows)(const FN(fc_pool_bwd) *c, const T *gyp, T *gxp, int64_t ih0,
                             int64_t ih1, T *u, T *t)
{
    const int64_t W = c->W, Wo = c->Wo;
    /* Stride 1: t sits at offset kw - 1 of zeros, so the column spread is a plain window
     * sum u[iw] = t[iw + pw - kw + 1] + ... + t[iw + pw] (hsum); zeros stand for the
     * windows that do not exist. */
    const int s1 = c->fixed && c->sw == 1;
    T *tt = s1 ? t + c->kw - 1 : t;
    int64_t a = c->ir[ih0].first, b = c->ir[ih1 - 1].last;
    for (int64_t oh = a; oh < b; ++oh) {
        const T *g = gyp + oh * Wo;
        if (c->divisor != 0) {
            const T dv = (T)c->divisor;
            for (int64_t ow = 0; ow < Wo; ++ow)
                tt[ow] = g[ow] / dv;
        } else {
            c->uk->vdiv(tt, g, (T)c->rw[oh].div, c->cdiv, Wo);
        }
        T *ur = u + (oh - a) * W;
        if (s1) {
            c->uk->hsum(ur, t + c->pw, W, c->kw, 1);
        } else if (c->fixed && c->sw >= c->kw) {
            /* disjoint windows: each input column gets at most one share */
            memset(ur, 0, (size_t)W * sizeof(T));
            for (int64_t ow = 0; ow < Wo; ++ow) {
                const fc_pool_win w = c->cw[ow];
                for (int64_t iw = w.lo; iw < w.hi; ++iw)
                    ur[iw] = tt[ow];
            }
        } else {
            for (int64_t iw = 0; iw < W; ++iw) {
                const fc_pool_inv q = c->ic[iw];
                T acc = 0;
                for (int64_t ow = q.first; ow < q.last; ++ow)
                    acc += tt[ow];
                ur[iw] = acc;
            }
        }
    }
    for (int64_t ih = ih0; ih < ih1; ++ih) {
        const fc_pool_inv q = c->ir[ih];
        T *gr = gxp + ih * W;
        if (q.first >= q.last)
            memset(gr, 0, (size_t)W * sizeof(T));
        else if (q.first + 1 == q.last)
            memcpy(gr, u + (q.first - a) * W, (size_t)W * sizeof(T));
        else {
            c->uk->vsum(gr, u + (q.first - a) * W, u + (q.first + 1 - a) * W, W);
            for (int64_t oh = q.first + 2; oh < q.last; ++oh)
                c->uk->vsum(gr, gr, u + (oh - a) * W, W);
        }
    }
}

static fc_status FN(avg_bwd)(FN(fc_pool_bwd) *c, int64_t P, const T *gy, T *gx)
{
    const int64_t H = c->H, W = c->W, Ho = c->Ho, Wo = c->Wo;
    if (P == 0)
        return FC_OK;
    c->uk = FN(pick_ukernels)();
    if (Ho == 1 && Wo == 1 && c->ir[0].first == 0 && c->ir[H - 1].last == 1 &&
        c->ic[0].first == 0 && c->ic[W - 1].last == 1 && c->rw[0].lo == 0 &&
        c->rw[0].hi == H && c->cw[0].lo == 0 && c->cw[0].hi == W) {
        /* global pooling: every element of a plane gets the same share */
        const T dv = (T)(c->divisor != 0 ? c->divisor : c->rw[0].div * c->cw[0].div);
        fc_pool_split sp;
        fc_pool_split_init(&sp, P, 1, P * H * W, 0);
        (void)dv;
        FC_OMP_PARALLEL(sp.nt)
        {
            FC_OMP_LOOP
            for (int64_t p = 0; p < P; ++p) {
                const T v = gy[p] / dv;
                T *gp = gx + p * H * W;
                for (int64_t i = 0; i < H * W; ++i)
                    gp[i] = v;
            }
        }
        return FC_OK;
    }
    fc_pool_split sp;
    /* bounded chunks keep the u scratch small for large planes */
    fc_pool_split_init(&sp, P, H, P * (H * W + Ho * Wo), 64);
    int64_t urows = 0;
    for (int64_t ch = 0; ch < sp.chunks; ++ch) {
        int64_t r0 = ch * sp.per, r1 = r0 + sp.per < H ? r0 + sp.per : H;
        int64_t n = c->ir[r1 - 1].last - c->ir[r0].first;
        if (n > urows)
            urows = n;
    }
    /* stride 1 reads t (zero-padded) up to pw + W + kw - 1 + FC_POOL_SLACK */
    c->tlen = Wo + 2 * c->kw + c->pw + W + FC_POOL_SLACK;
    int64_t per_thread = urows * W + c->tlen;
    T *scratch = (T *)malloc((size_t)(sp.nt * per_thread + Wo + 1) * sizeof(T));
    if (!scratch)
        return FC_ERR_NOMEM;
    T *cdiv = scratch + sp.nt * per_thread;
    for (int64_t ow = 0; ow < Wo; ++ow)
        cdiv[ow] = (T)c->cw[ow].div;
    c->cdiv = cdiv;
    const FN(fc_pool_bwd) *cc = c;
    (void)cc;
    FC_OMP_PARALLEL(sp.nt)
    {
        T *u = scratch + fc_thread_id() * per_thread;
        T *t = u + urows * W;
        for (int64_t i = 0; i < cc->tlen; ++i)
            t[i] = 0;
        FC_OMP_LOOP
        for (int64_t i = 0; i < sp.items; ++i) {
            int64_t p, r0, r1;
            fc_pool_split_item(&sp, i, &p, &r0, &r1);
            FN(avg_bwd_rows)(cc, gy + p * Ho * Wo, gx + p * H * W, r0, r1, u, t);
        }
    }
    free(scratch);
    return FC_OK;
}

/* ------------------------------------------------------------------ entry points -- */

/* Forward context; tables rw (H_out rows) then the column tables. */
static void FN(make_ctx)(FN(fc_pool_fwd) *c, const fc_pool_geom *g, const fc_pool_win *rw,
                         int adaptive, int is_max, int64_t divisor)
{
    memset(c, 0, sizeof(*c));
    c->H = g->H; c->W = g->W; c->Ho = g->H_out; c->Wo = g->W_out;
    c->rw = rw; c->cw = rw + g->H_out;
    c->is_max = is_max;
    c->padval = is_max ? -INFINITY : 0;
    c->divisor = divisor;
    c->dh = 1;
    if (adaptive)
        return;
    c->fixed = 1;
    c->dh = g->dH;
    c->kw = g->kW; c->sw = g->sW; c->dw = g->dW; c->pw = g->pW;
    c->kh = g->kH; c->sh = g->sH; c->ph = g->pH;
    if (!is_max)   /* average pooling has no dilation (as the tables) */
        c->dh = c->dw = 1;
}

/* Forward of every kind: tables, context, the separable pass (+ indices). */
static fc_status FN(run_fwd)(const fc_pool_geom *g, int adaptive, int is_max, int cip,
                             int64_t divisor, const T *x, T *y, int64_t *indices)
{
    fc_pool_win *rw = fc_pool_tables(g, adaptive, !is_max, cip);
    if (!rw)
        return FC_ERR_NOMEM;
    FN(fc_pool_fwd) c;
    FN(make_ctx)(&c, g, rw, adaptive, is_max, divisor);
    fc_status st = FN(fwd_values)(&c, g->P, x, y, indices);
    free(rw);
    return st;
}

static fc_status FN(run_max_bwd)(const fc_pool_geom *g, int adaptive, const T *gy,
                                 const int64_t *indices, const T *x, T *gx)
{
    fc_pool_win *rw = fc_pool_tables(g, adaptive, 0, 1);
    if (!rw)
        return FC_ERR_NOMEM;
    FN(fc_pool_fwd) c;
    FN(make_ctx)(&c, g, rw, adaptive, 1, 0);
    fc_status st = FN(max_bwd)(&c, g->P, gy, indices, x, gx);
    free(rw);
    return st;
}

/* Average backward of both kinds: tables, inverse tables, then the gather. */
static fc_status FN(run_avg_bwd)(const fc_pool_geom *g, int adaptive, int cip,
                                 int64_t divisor, const T *gy, T *gx)
{
    fc_pool_win *rw = fc_pool_tables(g, adaptive, 1, cip);
    fc_pool_inv *ir = (fc_pool_inv *)malloc((size_t)(g->H + g->W) * sizeof(fc_pool_inv));
    fc_status st = FC_ERR_NOMEM;
    if (rw && ir) {
        fc_pool_inv *ic = ir + g->H;
        fc_pool_inverse_table(g->H, g->H_out, rw, ir);
        fc_pool_inverse_table(g->W, g->W_out, rw + g->H_out, ic);
        FN(fc_pool_bwd) c;
        memset(&c, 0, sizeof(c));
        c.H = g->H; c.W = g->W; c.Ho = g->H_out; c.Wo = g->W_out;
        c.rw = rw; c.cw = rw + g->H_out; c.ir = ir; c.ic = ic;
        c.divisor = divisor;
        if (!adaptive) {
            c.fixed = 1;
            c.kw = g->kW; c.sw = g->sW; c.pw = g->pW;
        }
        st = FN(avg_bwd)(&c, g->P, gy, gx);
    }
    free(ir);
    free(rw);
    return st;
}

fc_status FN(fc_max_pool2d_forward)(const fc_pool_geom *g, const T *x, T *y, int64_t *indices)
{
    return FN(run_fwd)(g, 0, 1, 1, 0, x, y, indices);
}

fc_status FN(fc_max_pool2d_backward)(const fc_pool_geom *g, const T *gy,
                                     const int64_t *indices, const T *x, T *gx)
{
    return FN(run_max_bwd)(g, 0, gy, indices, x, gx);
}

fc_status FN(fc_adaptive_max_pool2d_forward)(const fc_pool_geom *g, const T *x, T *y,
                                             int64_t *indices)
{
    return FN(run_fwd)(g, 1, 1, 1, 0, x, y, indices);
}

fc_status FN(fc_adaptive_max_pool2d_backward)(const fc_pool_geom *g, const T *gy,
                                              const int64_t *indices, const T *x, T *gx)
{
    return FN(run_max_bwd)(g, 1, gy, indices, x, gx);
}

fc_status FN(fc_avg_pool2d_forward)(const fc_pool_geom *g, int count_include_pad,
                                    int64_t divisor_override, const T *x, T *y)
{
    return FN(run_fwd)(g, 0, 0, count_include_pad, divisor_override, x, y, NULL);
}

fc_status FN(fc_adaptive_avg_pool2d_forward)(const fc_pool_geom *g, const T *x, T *y)
{
    return FN(run_fwd)(g, 1, 0, 1, 0, x, y, NULL);
}

fc_status FN(fc_avg_pool2d_backward)(const fc_pool_geom *g, int count_include_pad,
                                     int64_t divisor_override, const T *gy, T *gx)
{
    return FN(run_avg_bwd)(g, 0, count_include_pad, divisor_override, gy, gx);
}

fc_status FN(fc_adaptive_avg_pool2d_backward)(const fc_pool_geom *g, const T *gy, T *gx)
{
    return FN(run_avg_bwd)(g, 1, 1, 0, gy, gx);
}
