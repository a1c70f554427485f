/*
 * conv3d on the 2-D kernels: the depth taps are unfolded into channels.
 *
 * Output depth od of image n reads input depths d = od*sD - pD + kd*dD (kd < kD).  Copying
 * those kD planes of every input channel c to channel c*kD + kd of a 2-D image (n, od) gives
 * a 2-D problem of N*D_out images with C_in*kD channels, whose weight is the 3-D weight read
 * as (C_out, C_in/groups * kD, kH, kW) -- the same memory, channel (c, kd) at c*kD + kd, and
 * a group's channels stay contiguous.  Every 2-D algorithm, tier and micro-kernel then serves
 * the 3-D convolution unchanged:
 *
 *   forward      yu = conv2d(xu, w)              y[n, :, od]  = yu[n*D_out + od]
 *   bwd data     gxu = conv2d_bwd_data(gyu, w)   gx[n, c, d] += gxu[n*D_out + od, c*kD + kd]
 *   bwd weight   gw = conv2d_bwd_weight(gyu, xu) (the 2-D weight gradient is the 3-D one)
 *
 * The unfolded input is kD/sD times the input; the (n, od) images go through in chunks of
 * about FC_CONV3D_CHUNK_BYTES of buffers, a count that depends on the geometry only, so the
 * weight gradient's sum over chunks (in chunk order) and the input gradient's fold (chunk,
 * then od, then kd order) do not depend on the thread count.
 * The copies are plane memcpys on the library's threads (5-15% of a layer's time).
 *
 * A kernel pointwise in the plane ((kD, 1, 1), e.g. a temporal convolution) needs no unfold:
 * see plane_pointwise.
 *
 * 'auto' is the 2-D rule on the unfolded problem, Winograd included: a 3-D convolution with a
 * 3x3 spatial kernel at spatial stride and dilation 1 is Winograd F(2x2, 3x3) over (H, W) with
 * the depth taps summed as channels, and its error on the suite's 3-D layers is in
 * tests/data/winograd_error.json beside the 2-D layers'.
 */
#include <string.h>
#include "conv_internal.h"
#include "gemm/gemm.h"
#include "tier.h"
#include "direct_exact.h"

/* Buffers per chunk: small enough to stay in the last-level cache between the unfold, the
 * 2-D pass and the copy back (fresh pages of a large buffer cost more than the copies). */
#define FC_CONV3D_CHUNK_BYTES (8.0 * 1024 * 1024)
/* below this many elements a copy runs on the calling thread */
#define FC_CONV3D_PAR_COPY 65536.0

/* The 2-D problem's images are the (n, od) pairs, flat q = n*D_out + od; a chunk is a run
 * [q0, q0 + nq) of them. */
static fc_conv_geom plane_geom(const fc_conv3d_geom *g, int64_t nq)
{
    fc_conv_geom h = {.N = nq, .C_in = g->C_in * g->kD, .H = g->H, .W = g->W,
                      .C_out = g->C_out, .kH = g->kH, .kW = g->kW, .H_out = g->H_out,
                      .W_out = g->W_out, .sH = g->sH, .sW = g->sW, .pH = g->pH, .pW = g->pW,
                      .dH = g->dH, .dW = g->dW, .groups = g->groups};
    return h;
}

/* 2-D images per chunk (a function of the geometry only). */
static int64_t chunk_images(const fc_conv3d_geom *g, size_t es)
{
    const int64_t total = g->N * g->D_out;
    const double per = ((double)g->C_in * (double)g->kD * (double)g->H * (double)g->W +
                        (double)g->C_out * (double)g->H_out * (double)g->W_out) * (double)es;
    double nq = per > 0 ? FC_CONV3D_CHUNK_BYTES / per : (double)total;
    if (nq < 1)
        nq = 1;
    return nq >= (double)total ? fc_max64(total, 1) : (int64_t)nq;
}

/* A kernel pointwise in the plane (1x1, spatial stride 1, no spatial padding) sees each
 * (D, H, W) volume as a (D, H*W) image: the 3-D convolution is then the 2-D one with a
 * (kD, 1) kernel on the same memory, for input, output and weight alike -- no copies. */
static int plane_pointwise(const fc_conv3d_geom *g)
{
    return g->kH == 1 && g->kW == 1 && g->sH == 1 && g->sW == 1 && g->pH == 0 &&
           g->pW == 0 && g->H_out == g->H && g->W_out == g->W;
}

static fc_conv_geom depth_geom(const fc_conv3d_geom *g)
{
    fc_conv_geom h = {.N = g->N, .C_in = g->C_in, .H = g->D, .W = g->H * g->W,
                      .C_out = g->C_out, .kH = g->kD, .kW = 1, .H_out = g->D_out,
                      .W_out = g->H * g->W, .sH = g->sD, .sW = 1, .pH = g->pD, .pW = 0,
                      .dH = g->dD, .dW = 1, .groups = g->groups};
    return h;
}

/* The unfold is the identity (xu is x) when one output depth covers the whole, unpadded,
 * undilated depth: channel (c, kd) is then plane d = kd of channel c, already at c*kD + kd. */
static int unfold_is_identity(const fc_conv3d_geom *g)
{
    return g->D_out == 1 && g->pD == 0 && (g->dD == 1 || g->kD == 1) && g->kD == g->D;
}

/* Output depths [*lo, *hi) whose tap kd reads an input depth inside the volume. */
static void depth_range(const fc_conv3d_geom *g, int64_t kd, int64_t *lo, int64_t *hi)
{
    const int64_t off = kd * g->dD - g->pD;   /* d = od*sD + off */
    int64_t a = off >= 0 ? 0 : (-off + g->sD - 1) / g->sD;
    int64_t b = g->D - 1 - off < 0 ? 0 : (g->D - 1 - off) / g->sD + 1;
    if (b > g->D_out) b = g->D_out;
    *lo = a < b ? a : b;
    *hi = b;
}

/* Some output depth has a tap on depth padding, which the unfold materialises as zero
 * planes. */
static int depth_padded(const fc_conv3d_geom *g)
{
    for (int64_t kd = 0; kd < g->kD; kd++) {
        int64_t lo, hi;
        depth_range(g, kd, &lo, &hi);
        if (lo > 0 || hi < g->D_out)
            return 1;
    }
    return 0;
}

static int64_t nweights(const fc_conv3d_geom *g)
{
    return g->C_out * (g->C_in / g->groups) * g->kD * g->kH * g->kW;
}

static int copy_threads(double elements)
{
    int nt = fc_threads_for(elements, FC_CONV3D_PAR_COPY);
    return nt < 1 ? 1 : nt;
}

/* xu[q - q0, c*kD + kd] = x[n, c, od*sD - pD + kd*dD] for q = n*D_out + od in the chunk
 * (zeros outside the depth). */
static void unfold(const fc_conv3d_geom *g, int64_t q0, int64_t nq, const void *x, void *xu,
                   size_t es)
{
    const int64_t HW = g->H * g->W, C = g->C_in, kD = g->kD, items = nq * C;
    const size_t plane = (size_t)HW * es;
    const int nt = copy_threads((double)items * (double)kD * (double)HW);
FC_OMP_FOR(nt, nt > 1)
    for (int64_t it = 0; it < items; it++) {
        const int64_t q = q0 + it / C, n = q / g->D_out, od = q % g->D_out, c = it % C;
        char *dst = (char *)xu + (size_t)((it * kD) * HW) * es;
        for (int64_t kd = 0; kd < kD; kd++, dst += plane) {
            const int64_t d = od * g->sD - g->pD + kd * g->dD;
            if (d < 0 || d >= g->D)
                memset(dst, 0, plane);
            else
                memcpy(dst, (const char *)x + (size_t)(((n * C + c) * g->D + d) * HW) * es,
                       plane);
        }
    }
}

/* Between the 3-D layout (n, c, od, HWo) of a whole array and the chunk's 2-D one
 * (q - q0, c, HWo): to_planes 1 copies 3-D -> chunk, 0 the other way. */
static void swap_depth(const fc_conv3d_geom *g, int64_t q0, int64_t nq, int64_t C,
                       const void *src, void *dst, size_t es, int to_planes)
{
    const int64_t Do = g->D_out, HWo = g->H_out * g->W_out, items = nq * C;
    const size_t plane = (size_t)HWo * es;
    const int nt = copy_threads((double)items * (double)HWo);
FC_OMP_FOR(nt, nt > 1)
    for (int64_t it = 0; it < items; it++) {
        const int64_t q = q0 + it / C, n = q / Do, od = q % Do, c = it % C;
        const size_t a = (size_t)((n * C + c) * Do + od) * plane, b = (size_t)it * plane;
        if (to_planes)
            memcpy((char *)dst + b, (const char *)src + a, plane);
        else
            memcpy((char *)dst + a, (const char *)src + b, plane);
    }
}

#define FC_CONV3D_DTYPE(SFX, T)                                                              \
/* gx[n, c, d] += gxu[q - q0, c*kD + kd] for the chunk's q = n*D_out + od and every kd with     \
 * od*sD - pD + kd*dD = d, in (od, kd) order: the adjoint of unfold.  Items are (n, c): the    \
 * planes one item writes are its own. */                                                      \
static void fold_##SFX(const fc_conv3d_geom *g, int64_t q0, int64_t nq, const T *gxu, T *gx)   \
{                                                                                             \
    const int64_t HW = g->H * g->W, C = g->C_in, kD = g->kD, Do = g->D_out;                  \
    const int64_t n0 = q0 / Do, n1 = (q0 + nq - 1) / Do + 1, items = (n1 - n0) * C;          \
    const int nt = copy_threads((double)nq * (double)C * (double)kD * (double)HW);            \
FC_OMP_FOR(nt, nt > 1)                                                                        \
    for (int64_t it = 0; it < items; it++) {                                                  \
        const int64_t n = n0 + it / C, c = it % C;                                            \
        T *out = gx + (n * C + c) * g->D * HW;                                                \
        const int64_t qa = fc_max64(q0, n * Do), qb = fc_min64(q0 + nq, (n + 1) * Do);        \
        for (int64_t q = qa; q < qb; q++)                                                     \
            for (int64_t kd = 0; kd < kD; kd++) {                                             \
                const int64_t d = (q - n * Do) * g->sD - g->pD + kd * g->dD;                  \
                if (d < 0 || d >= g->D)                                                       \
                    continue;                                                                 \
                const T *src = gxu + (((q - q0) * C + c) * kD + kd) * HW;                     \
                T *o = out + d * HW;                                                          \
                for (int64_t i = 0; i < HW; i++)                                              \
                    o[i] += src[i];                                                           \
            }                                                                                 \
    }                                                                                         \
}                                                                                             \
                                                                                              \
static fc_conv_algo resolve_##SFX(const fc_conv3d_geom *g, fc_conv_algo algo, int pass)      \
{                                                                                             \
    if (algo != FC_ALGO_AUTO)                                                                 \
        return algo;                                                                          \
    const fc_conv_geom h = plane_geom(g, chunk_images(g, sizeof(T)));                        \
    return fc_conv2d_choose_algo(&h, pass, (int)sizeof(T));                                   \
}                                                                                             \
                                                                                              \
/* Winograd and im2col run on finite values only (conv.c): found once here on the 3-D arrays,   \
 * not per chunk on unfolded copies kD times their size.  a is needed by both, b by Winograd   \
 * only; a non-finite value sends every chunk to the direct algorithm, as the 2-D dispatch     \
 * would (a geometry Winograd does not serve keeps its error). */                              \
static fc_conv_algo scan_##SFX(const fc_conv3d_geom *g, fc_conv_algo algo, const T *a,       \
                               int64_t na, const T *b, int64_t nb, int *scanned)              \
{                                                                                             \
    const int wino = algo == FC_ALGO_WINOGRAD || algo == FC_ALGO_WINOGRAD_2 ||               \
                     algo == FC_ALGO_WINOGRAD_4;                                              \
    *scanned = 0;                                                                             \
    if (!wino && algo != FC_ALGO_IM2COL)                                                      \
        return algo;                                                                          \
    if (wino) {                                                                               \
        const fc_conv_geom h = plane_geom(g, 1);                                              \
        if (!fc_wino_serves(&h))                                                              \
            return algo;                                                                      \
    }                                                                                         \
    if (!fc_direct_all_finite_##SFX(a, na) || (wino && !fc_direct_all_finite_##SFX(b, nb)))  \
        return FC_ALGO_DIRECT;                                                                \
    *scanned = 1;                                                                             \
    return algo;                                                                              \
}                                                                                             \
                                                                                              \
/* A NaN or Inf weight (forward) or grad_output value (backward-weight) must reach only the   \
 * outputs whose real taps meet it, but the unfold's zero planes for depth padding would meet \
 * it too (0 * Inf = NaN).  Then each depth tap runs on its own, over the output depths whose \
 * input depth is real: per (image, kd), the 2-D direct algorithm (exact at the H, W borders) \
 * on those depth planes gathered, added up in kd order.  A rare path: clarity over speed. */ \
static fc_status exact_fwd_##SFX(const fc_conv3d_geom *g, const T *x, const T *w,            \
                                 const T *bias, T *y)                                         \
{                                                                                             \
    const int64_t C = g->C_in, Co = g->C_out, Cg = C / g->groups, KK = g->kH * g->kW;        \
    const int64_t HW = g->H * g->W, HWo = g->H_out * g->W_out, Do = g->D_out;                \
    T *wk = (T *)fc_malloc(sizeof(T) * (size_t)(Co * Cg * KK));                               \
    T *xs = (T *)fc_malloc(sizeof(T) * (size_t)(Do * C * HW));                                \
    T *ys = (T *)fc_malloc(sizeof(T) * (size_t)(Do * Co * HWo));                              \
    fc_status st = wk && xs && ys ? FC_OK : FC_ERR_NOMEM;                                     \
    for (int64_t n = 0; st == FC_OK && n < g->N; n++) {                                       \
        T *yn = y + n * Co * Do * HWo;                                                        \
        for (int64_t co = 0; co < Co; co++)                                                   \
            for (int64_t i = 0; i < Do * HWo; i++)                                            \
                yn[co * Do * HWo + i] = bias ? bias[co] : (T)0;                               \
        for (int64_t kd = 0; st == FC_OK && kd < g->kD; kd++) {                               \
            int64_t lo, hi;                                                                   \
            depth_range(g, kd, &lo, &hi);                                                     \
            if (lo >= hi)                                                                     \
                continue;                                                                     \
            for (int64_t i = 0; i < Co * Cg; i++)                                             \
                memcpy(wk + i * KK, w + (i * g->kD + kd) * KK, sizeof(T) * (size_t)KK);       \
            for (int64_t od = lo; od < hi; od++)                                              \
                for (int64_t c = 0; c < C; c++)                                               \
                    memcpy(xs + ((od - lo) * C + c) * HW,                                     \
                           x + ((n * C + c) * g->D + od * g->sD - g->pD + kd * g->dD) * HW,   \
                           sizeof(T) * (size_t)HW);                                           \
            fc_conv_geom h = plane_geom(g, hi - lo);                                          \
            h.C_in = C;                                                                       \
            st = fc_conv2d_forward_##SFX(&h, FC_ALGO_DIRECT, xs, wk, NULL, ys);               \
            for (int64_t od = lo; st == FC_OK && od < hi; od++)                               \
                for (int64_t co = 0; co < Co; co++) {                                         \
                    T *o = yn + (co * Do + od) * HWo;                                         \
                    const T *src = ys + ((od - lo) * Co + co) * HWo;                          \
                    for (int64_t i = 0; i < HWo; i++)                                         \
                        o[i] += src[i];                                                       \
                }                                                                             \
        }                                                                                     \
    }                                                                                         \
    fc_free(wk);                                                                              \
    fc_free(xs);                                                                              \
    fc_free(ys);                                                                              \
    return st;                                                                                \
}                                                                                             \
                                                                                              \
static fc_status exact_bwd_weight_##SFX(const fc_conv3d_geom *g, const T *gy, const T *x,    \
                                        T *gw, T *gb)                                         \
{                                                                                             \
    const int64_t C = g->C_in, Co = g->C_out, Cg = C / g->groups, KK = g->kH * g->kW;        \
    const int64_t HW = g->H * g->W, HWo = g->H_out * g->W_out, Do = g->D_out;                \
    T *gk = (T *)fc_malloc(sizeof(T) * (size_t)(Co * Cg * KK + Co));                          \
    T *xs = (T *)fc_malloc(sizeof(T) * (size_t)(Do * C * HW));                                \
    T *gs = (T *)fc_malloc(sizeof(T) * (size_t)(Do * Co * HWo));                              \
    fc_status st = gk && xs && gs ? FC_OK : FC_ERR_NOMEM;                                     \
    if (gw)                                                                                   \
        memset(gw, 0, sizeof(T) * (size_t)nweights(g));                                       \
    if (gb)                                                                                   \
        memset(gb, 0, sizeof(T) * (size_t)Co);                                                \
    for (int64_t n = 0; st == FC_OK && n < g->N; n++) {                                       \
        for (int64_t co = 0; gb && co < Co; co++)                                             \
            for (int64_t i = 0; i < Do * HWo; i++)                                            \
                gb[co] += gy[(n * Co + co) * Do * HWo + i];                                   \
        for (int64_t kd = 0; gw && st == FC_OK && kd < g->kD; kd++) {                         \
            int64_t lo, hi;                                                                   \
            depth_range(g, kd, &lo, &hi);                                                     \
            if (lo >= hi)                                                                     \
                continue;                                                                     \
            for (int64_t od = lo; od < hi; od++) {                                            \
                for (int64_t c = 0; c < C; c++)                                               \
                    memcpy(xs + ((od - lo) * C + c) * HW,                                     \
                           x + ((n * C + c) * g->D + od * g->sD - g->pD + kd * g->dD) * HW,   \
                           sizeof(T) * (size_t)HW);                                           \
                for (int64_t co = 0; co < Co; co++)                                           \
                    memcpy(gs + ((od - lo) * Co + co) * HWo, gy + ((n * Co + co) * Do + od) * HWo, \
                           sizeof(T) * (size_t)HWo);                                          \
            }                                                                                 \
            fc_conv_geom h = plane_geom(g, hi - lo);                                          \
            h.C_in = C;                                                                       \
            st = fc_conv2d_backward_weight_##SFX(&h, FC_ALGO_DIRECT, gs, xs, gk, NULL);       \
            for (int64_t i = 0; st == FC_OK && i < Co * Cg; i++)                              \
                for (int64_t t = 0; t < KK; t++)                                              \
                    gw[(i * g->kD + kd) * KK + t] += gk[i * KK + t];                          \
        }                                                                                     \
    }                                                                                         \
    fc_free(gk);                                                                              \
    fc_free(xs);                                                                              \
    fc_free(gs);                                                                              \
    return st;                                                                                \
}                                                                                             \
                                                                                              \
fc_status fc_conv3d_forward_##SFX(const fc_conv3d_geom *g, fc_conv_algo algo, const T *x,    \
                                  const T *w, const T *bias, T *y)                            \
{                                                                                             \
    if (g->N == 0 || g->C_out == 0 || g->D_out == 0 || g->H_out == 0 || g->W_out == 0)        \
        return FC_OK;                                                                         \
    if (plane_pointwise(g)) {                                                                 \
        const fc_conv_geom h = depth_geom(g);                                                 \
        return fc_conv2d_forward_##SFX(&h, algo, x, w, bias, y);                              \
    }                                                                                         \
    if (depth_padded(g) && !fc_direct_all_finite_##SFX(w, nweights(g)))                       \
        return exact_fwd_##SFX(g, x, w, bias, y);                                             \
    int scanned;                                                                              \
    algo = scan_##SFX(g, resolve_##SFX(g, algo, 0), w, nweights(g), x,                        \
                      g->N * g->C_in * g->D * g->H * g->W, &scanned);                          \
    const int ident_in = unfold_is_identity(g), ident_out = g->D_out == 1;                    \
    const int64_t total = g->N * g->D_out, nqc = chunk_images(g, sizeof(T));                 \
    const int64_t HWo = g->H_out * g->W_out, xi = g->C_in * g->kD * g->H * g->W;             \
    T *xu = ident_in ? NULL : (T *)fc_malloc(sizeof(T) * (size_t)(nqc * xi));                \
    T *yu = ident_out ? NULL : (T *)fc_malloc(sizeof(T) * (size_t)(nqc * g->C_out * HWo));   \
    fc_status st = FC_OK;                                                                     \
    if ((!ident_in && !xu) || (!ident_out && !yu))                                            \
        st = FC_ERR_NOMEM;                                                                    \
    for (int64_t q0 = 0; st == FC_OK && q0 < total; q0 += nqc) {                              \
        const int64_t nq = fc_min64(nqc, total - q0);                                         \
        const fc_conv_geom h = plane_geom(g, nq);                                             \
        if (!ident_in)                                                                        \
            unfold(g, q0, nq, x, xu, sizeof(T));                                              \
        st = fc_conv2d_forward_scanned_##SFX(&h, algo, ident_in ? x + q0 * xi : xu, w, bias,  \
                                             ident_out ? y + q0 * g->C_out * HWo : yu,        \
                                             scanned);                                        \
        if (st == FC_OK && !ident_out)                                                        \
            swap_depth(g, q0, nq, g->C_out, yu, y, sizeof(T), 0);                             \
    }                                                                                         \
    fc_free(xu);                                                                              \
    fc_free(yu);                                                                              \
    return st;                                                                                \
}                                                                                             \
                                                                                              \
fc_status fc_conv3d_backward_data_##SFX(const fc_conv3d_geom *g, fc_conv_algo algo,           \
                                        const T *gy, const T *w, T *gx)                       \
{                                                                                             \
    const int64_t xs = g->C_in * g->D * g->H * g->W, HWo = g->H_out * g->W_out;              \
    const int64_t xi = g->C_in * g->kD * g->H * g->W;                                         \
    if (g->N == 0)                                                                            \
        return FC_OK;                                                                         \
    if (plane_pointwise(g)) {                                                                 \
        const fc_conv_geom h = depth_geom(g);                                                 \
        return fc_conv2d_backward_data_##SFX(&h, algo, gy, w, gx);                            \
    }                                                                                         \
    const int ident_in = unfold_is_identity(g), ident_out = g->D_out == 1;                    \
    if (!ident_in || g->C_out == 0 || g->D_out == 0 || g->H_out == 0 || g->W_out == 0) {      \
        const int nt = copy_threads((double)(g->N * xs));                                     \
FC_OMP_FOR(nt, nt > 1)                                                                        \
        for (int64_t i = 0; i < g->N * g->C_in; i++)                                          \
            memset(gx + i * (xs / g->C_in), 0, sizeof(T) * (size_t)(xs / g->C_in));           \
    }                                                                                         \
    if (g->C_out == 0 || g->D_out == 0 || g->H_out == 0 || g->W_out == 0)                     \
        return FC_OK;                                                                         \
    int scanned;                                                                              \
    algo = scan_##SFX(g, resolve_##SFX(g, algo, 1), w, nweights(g), gy,                       \
                      g->N * g->C_out * g->D_out * HWo, &scanned);                            \
    const int64_t total = g->N * g->D_out, nqc = chunk_images(g, sizeof(T));                 \
    T *gxu = ident_in ? NULL : (T *)fc_malloc(sizeof(T) * (size_t)(nqc * xi));               \
    T *gyu = ident_out ? NULL : (T *)fc_malloc(sizeof(T) * (size_t)(nqc * g->C_out * HWo));  \
    fc_status st = FC_OK;                                                                     \
    if ((!ident_in && !gxu) || (!ident_out && !gyu))                                          \
        st = FC_ERR_NOMEM;                                                                    \
    for (int64_t q0 = 0; st == FC_OK && q0 < total; q0 += nqc) {                              \
        const int64_t nq = fc_min64(nqc, total - q0);                                         \
        const fc_conv_geom h = plane_geom(g, nq);                                             \
        if (!ident_out)                                                                       \
            swap_depth(g, q0, nq, g->C_out, gy, gyu, sizeof(T), 1);                           \
        st = fc_conv2d_backward_data_scanned_##SFX(&h, algo,                                  \
                                                   ident_out ? gy + q0 * g->C_out * HWo : gyu, \
                                                   w, ident_in ? gx + q0 * xi : gxu, scanned); \
        if (st == FC_OK && !ident_in)                                                         \
            fold_##SFX(g, q0, nq, gxu, gx);                                                   \
    }                                                                                         \
    fc_free(gxu);                                                                             \
    fc_free(gyu);                                                                             \
    return st;                                                                                \
}                                                                                             \
                                                                                              \
fc_status fc_conv3d_backward_weight_##SFX(const fc_conv3d_geom *g, fc_conv_algo algo,         \
                                          const T *gy, const T *x, T *gw, T *gb)              \
{                                                                                             \
    if (!gw && !gb)                                                                           \
        return FC_OK;                                                                         \
    if (plane_pointwise(g)) {                                                                 \
        const fc_conv_geom h = depth_geom(g);                                                 \
        return fc_conv2d_backward_weight_##SFX(&h, algo, gy, x, gw, gb);                      \
    }                                                                                         \
    const int64_t HWo = g->H_out * g->W_out, xi = g->C_in * g->kD * g->H * g->W;             \
    const int64_t nw = g->C_out * (g->C_in / g->groups) * g->kD * g->kH * g->kW;             \
    if (g->N == 0 || g->D_out == 0 || g->H_out == 0 || g->W_out == 0) {                       \
        fc_conv_geom h = plane_geom(g, 0);                                                    \
        return fc_conv2d_backward_weight_##SFX(&h, algo == FC_ALGO_AUTO ? FC_ALGO_DIRECT      \
                                                                        : algo, gy, x, gw, gb); \
    }                                                                                         \
    if (depth_padded(g) && !fc_direct_all_finite_##SFX(gy, g->N * g->C_out * g->D_out * HWo)) \
        return exact_bwd_weight_##SFX(g, gy, x, gw, gb);                                      \
    int scanned;                                                                              \
    algo = scan_##SFX(g, resolve_##SFX(g, algo, 2), gy, g->N * g->C_out * g->D_out * HWo, x,  \
                      g->N * g->C_in * g->D * g->H * g->W, &scanned);                          \
    const int ident_in = unfold_is_identity(g), ident_out = g->D_out == 1;                    \
    const int64_t total = g->N * g->D_out, nqc = chunk_images(g, sizeof(T));                 \
    const int more = nqc < total;   /* partial sums of later chunks */                        \
    T *xu = ident_in ? NULL : (T *)fc_malloc(sizeof(T) * (size_t)(nqc * xi));                \
    T *gyu = ident_out ? NULL : (T *)fc_malloc(sizeof(T) * (size_t)(nqc * g->C_out * HWo));  \
    T *part = more ? (T *)fc_malloc(sizeof(T) * (size_t)(nw + g->C_out)) : NULL;             \
    fc_status st = FC_OK;                                                                     \
    if ((!ident_in && !xu) || (!ident_out && !gyu) || (more && !part))                        \
        st = FC_ERR_NOMEM;                                                                    \
    for (int64_t q0 = 0; st == FC_OK && q0 < total; q0 += nqc) {                              \
        const int64_t nq = fc_min64(nqc, total - q0);                                         \
        const fc_conv_geom h = plane_geom(g, nq);                                             \
        if (!ident_in)                                                                        \
            unfold(g, q0, nq, x, xu, sizeof(T));                                              \
        if (!ident_out)                                                                       \
            swap_depth(g, q0, nq, g->C_out, gy, gyu, sizeof(T), 1);                           \
        const int first = q0 == 0;                                                            \
        T *pw = first || !gw ? gw : part, *pb = first || !gb ? gb : part + nw;                \
        st = fc_conv2d_backward_weight_scanned_##SFX(&h, algo,                                \
                                                     ident_out ? gy + q0 * g->C_out * HWo     \
                                                               : gyu,                         \
                                                     ident_in ? x + q0 * xi : xu, pw, pb,     \
                                                     scanned);                                \
        if (st != FC_OK || first)                                                             \
            continue;                                                                         \
        for (int64_t i = 0; gw && i < nw; i++)                                                \
            gw[i] += part[i];                                                                 \
        for (int64_t i = 0; gb && i < g->C_out; i++)                                          \
            gb[i] += part[nw + i];                                                            \
    }                                                                                         \
    fc_free(xu);                                                                              \
    fc_free(gyu);                                                                             \
    fc_free(part);                                                                            \
    return st;                                                                                \
}

FC_CONV3D_DTYPE(f32, float)
FC_CONV3D_DTYPE(f64, double)

fc_conv_algo fc_conv3d_choose_algo(const fc_conv3d_geom *g, int pass, int itemsize)
{
    if (plane_pointwise(g)) {
        const fc_conv_geom h = depth_geom(g);
        return fc_conv2d_choose_algo(&h, pass, itemsize);
    }
    const fc_conv_geom h = plane_geom(g, chunk_images(g, (size_t)itemsize));
    return fc_conv2d_choose_algo(&h, pass, itemsize);
}
