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
 * The unfolded input is kD/sD times the input; images go through in chunks of about
 * FC_CONV3D_CHUNK_BYTES of buffers, a count that depends on the geometry only, so the
 * weight gradient's sum over chunks (in chunk order) does not depend on the thread count.
 * The copies are plane memcpys on the library's threads, a few percent of a layer's time.
 */
#include <string.h>
#include "conv_internal.h"
#include "gemm/gemm.h"
#include "tier.h"

#define FC_CONV3D_CHUNK_BYTES (64.0 * 1024 * 1024)
/* below this many elements a copy runs on the calling thread */
#define FC_CONV3D_PAR_COPY 65536.0

static fc_conv_geom plane_geom(const fc_conv3d_geom *g, int64_t nb)
{
    fc_conv_geom h = {.N = nb * g->D_out, .C_in = g->C_in * g->kD, .H = g->H, .W = g->W,
                      .C_out = g->C_out, .kH = g->kH, .kW = g->kW, .H_out = g->H_out,
                      .W_out = g->W_out, .sH = g->sH, .sW = g->sW, .pH = g->pH, .pW = g->pW,
                      .dH = g->dH, .dW = g->dW, .groups = g->groups};
    return h;
}

/* Images per chunk: buffers (unfolded input + one output-sized array) near the budget. */
static int64_t chunk_images(const fc_conv3d_geom *g, size_t es)
{
    const double per = (double)g->D_out * ((double)g->C_in * (double)g->kD * (double)g->H *
                                           (double)g->W +
                                           (double)g->C_out * (double)g->H_out *
                                           (double)g->W_out) * (double)es;
    double nb = per > 0 ? FC_CONV3D_CHUNK_BYTES / per : (double)g->N;
    if (nb < 1)
        nb = 1;
    return nb >= (double)g->N ? fc_max64(g->N, 1) : (int64_t)nb;
}

/* The unfold is the identity (xu is x) when one output depth covers the whole, unpadded,
 * undilated depth: channel (c, kd) is then plane d = kd of channel c, already at c*kD + kd. */
static int unfold_is_identity(const fc_conv3d_geom *g)
{
    return g->D_out == 1 && g->pD == 0 && (g->dD == 1 || g->kD == 1) && g->kD == g->D;
}

static int copy_threads(double elements)
{
    int nt = fc_threads_for(elements, FC_CONV3D_PAR_COPY);
    return nt < 1 ? 1 : nt;
}

/* xu[(n*D_out + od), c*kD + kd] = x[n, c, od*sD - pD + kd*dD] (zeros outside the depth),
 * images [0, nb) of the chunk starting at x. */
static void unfold(const fc_conv3d_geom *g, int64_t nb, const void *x, void *xu, size_t es)
{
    const int64_t HW = g->H * g->W, C = g->C_in, kD = g->kD, items = nb * g->D_out * C;
    const size_t plane = (size_t)HW * es;
    const int nt = copy_threads((double)items * (double)kD * (double)HW);
FC_OMP_FOR(nt, nt > 1)
    for (int64_t it = 0; it < items; it++) {
        const int64_t n = it / (g->D_out * C), od = (it / C) % g->D_out, c = it % C;
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

/* Between the 3-D layout (n, c, od, HWo) and the 2-D one (n*D_out + od, c, HWo), for
 * images [0, nb): to_planes 1 copies 3-D -> 2-D, 0 the other way. */
static void swap_depth(const fc_conv3d_geom *g, int64_t nb, int64_t C, const void *src,
                       void *dst, size_t es, int to_planes)
{
    const int64_t Do = g->D_out, HWo = g->H_out * g->W_out, items = nb * C * Do;
    const size_t plane = (size_t)HWo * es;
    const int nt = copy_threads((double)items * (double)HWo);
FC_OMP_FOR(nt, nt > 1)
    for (int64_t it = 0; it < items; it++) {
        const int64_t n = it / (C * Do), c = (it / Do) % C, od = it % Do;
        const size_t a = (size_t)it * plane, b = (size_t)((n * Do + od) * C + c) * plane;
        if (to_planes)
            memcpy((char *)dst + b, (const char *)src + a, plane);
        else
            memcpy((char *)dst + a, (const char *)src + b, plane);
    }
}

#define FC_CONV3D_DTYPE(SFX, T)                                                              \
/* gx[n, c, d] = sum over (od, kd) with od*sD - pD + kd*dD = d of gxu[n*D_out + od,          \
 * c*kD + kd], added in (od, kd) order: the adjoint of unfold. */                            \
static void fold_##SFX(const fc_conv3d_geom *g, int64_t nb, const T *gxu, T *gx)              \
{                                                                                             \
    const int64_t HW = g->H * g->W, C = g->C_in, kD = g->kD, Do = g->D_out, items = nb * C; \
    const int nt = copy_threads((double)items * (double)Do * (double)kD * (double)HW);       \
FC_OMP_FOR(nt, nt > 1)                                                                        \
    for (int64_t it = 0; it < items; it++) {                                                  \
        const int64_t n = it / C, c = it % C;                                                 \
        T *out = gx + it * g->D * HW;                                                         \
        memset(out, 0, sizeof(T) * (size_t)(g->D * HW));                                      \
        for (int64_t od = 0; od < Do; od++)                                                   \
            for (int64_t kd = 0; kd < kD; kd++) {                                             \
                const int64_t d = od * g->sD - g->pD + kd * g->dD;                            \
                if (d < 0 || d >= g->D)                                                       \
                    continue;                                                                 \
                const T *src = gxu + (((n * Do + od) * C + c) * kD + kd) * HW;                \
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
    return fc_conv2d_choose_algo_nowino(&h, pass, (int)sizeof(T));                            \
}                                                                                             \
                                                                                              \
fc_status fc_conv3d_forward_##SFX(const fc_conv3d_geom *g, fc_conv_algo algo, const T *x,    \
                                  const T *w, const T *bias, T *y)                            \
{                                                                                             \
    if (g->N == 0 || g->C_out == 0 || g->D_out == 0 || g->H_out == 0 || g->W_out == 0)        \
        return FC_OK;                                                                         \
    algo = resolve_##SFX(g, algo, 0);                                                         \
    const int64_t nbc = chunk_images(g, sizeof(T)), HWo = g->H_out * g->W_out;               \
    const int ident_in = unfold_is_identity(g), ident_out = g->D_out == 1;                    \
    const int64_t xs = g->C_in * g->D * g->H * g->W, ys = g->C_out * g->D_out * HWo;         \
    const int64_t xus = g->D_out * g->C_in * g->kD * g->H * g->W;                            \
    T *xu = ident_in ? NULL : (T *)fc_malloc(sizeof(T) * (size_t)(nbc * xus));               \
    T *yu = ident_out ? NULL : (T *)fc_malloc(sizeof(T) * (size_t)(nbc * ys));               \
    fc_status st = FC_OK;                                                                     \
    if ((!ident_in && !xu) || (!ident_out && !yu))                                            \
        st = FC_ERR_NOMEM;                                                                    \
    for (int64_t n0 = 0; st == FC_OK && n0 < g->N; n0 += nbc) {                               \
        const int64_t nb = fc_min64(nbc, g->N - n0);                                          \
        const fc_conv_geom h = plane_geom(g, nb);                                             \
        if (!ident_in)                                                                        \
            unfold(g, nb, x + n0 * xs, xu, sizeof(T));                                        \
        st = fc_conv2d_forward_##SFX(&h, algo, ident_in ? x + n0 * xs : xu, w, bias,          \
                                     ident_out ? y + n0 * ys : yu);                           \
        if (st == FC_OK && !ident_out)                                                        \
            swap_depth(g, nb, g->C_out, yu, y + n0 * ys, sizeof(T), 0);                       \
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
    const int64_t ys = g->C_out * g->D_out * HWo, xus = g->D_out * g->C_in * g->kD * g->H * g->W; \
    if (g->N == 0)                                                                            \
        return FC_OK;                                                                         \
    if (g->C_out == 0 || g->D_out == 0 || g->H_out == 0 || g->W_out == 0) {                   \
        memset(gx, 0, sizeof(T) * (size_t)(g->N * xs));                                       \
        return FC_OK;                                                                         \
    }                                                                                         \
    algo = resolve_##SFX(g, algo, 1);                                                         \
    const int64_t nbc = chunk_images(g, sizeof(T));                                           \
    const int ident_in = unfold_is_identity(g), ident_out = g->D_out == 1;                    \
    T *gxu = ident_in ? NULL : (T *)fc_malloc(sizeof(T) * (size_t)(nbc * xus));              \
    T *gyu = ident_out ? NULL : (T *)fc_malloc(sizeof(T) * (size_t)(nbc * ys));              \
    fc_status st = FC_OK;                                                                     \
    if ((!ident_in && !gxu) || (!ident_out && !gyu))                                          \
        st = FC_ERR_NOMEM;                                                                    \
    for (int64_t n0 = 0; st == FC_OK && n0 < g->N; n0 += nbc) {                               \
        const int64_t nb = fc_min64(nbc, g->N - n0);                                          \
        const fc_conv_geom h = plane_geom(g, nb);                                             \
        if (!ident_out)                                                                       \
            swap_depth(g, nb, g->C_out, gy + n0 * ys, gyu, sizeof(T), 1);                     \
        st = fc_conv2d_backward_data_##SFX(&h, algo, ident_out ? gy + n0 * ys : gyu, w,       \
                                           ident_in ? gx + n0 * xs : gxu);                    \
        if (st == FC_OK && !ident_in)                                                         \
            fold_##SFX(g, nb, gxu, gx + n0 * xs);                                             \
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
    const int64_t xs = g->C_in * g->D * g->H * g->W, HWo = g->H_out * g->W_out;              \
    const int64_t ys = g->C_out * g->D_out * HWo, xus = g->D_out * g->C_in * g->kD * g->H * g->W; \
    const int64_t nw = g->C_out * (g->C_in / g->groups) * g->kD * g->kH * g->kW;             \
    if (g->N == 0 || g->D_out == 0 || g->H_out == 0 || g->W_out == 0) {                       \
        fc_conv_geom h = plane_geom(g, 0);                                                    \
        return fc_conv2d_backward_weight_##SFX(&h, algo == FC_ALGO_AUTO ? FC_ALGO_DIRECT      \
                                                                        : algo, gy, x, gw, gb); \
    }                                                                                         \
    algo = resolve_##SFX(g, algo, 2);                                                         \
    const int64_t nbc = chunk_images(g, sizeof(T));                                           \
    const int ident_in = unfold_is_identity(g), ident_out = g->D_out == 1;                    \
    const int more = nbc < g->N;   /* partial sums of later chunks */                         \
    T *xu = ident_in ? NULL : (T *)fc_malloc(sizeof(T) * (size_t)(nbc * xus));               \
    T *gyu = ident_out ? NULL : (T *)fc_malloc(sizeof(T) * (size_t)(nbc * ys));              \
    T *part = more ? (T *)fc_malloc(sizeof(T) * (size_t)(nw + g->C_out)) : NULL;             \
    fc_status st = FC_OK;                                                                     \
    if ((!ident_in && !xu) || (!ident_out && !gyu) || (more && !part))                        \
        st = FC_ERR_NOMEM;                                                                    \
    for (int64_t n0 = 0; st == FC_OK && n0 < g->N; n0 += nbc) {                               \
        const int64_t nb = fc_min64(nbc, g->N - n0);                                          \
        const fc_conv_geom h = plane_geom(g, nb);                                             \
        if (!ident_in)                                                                        \
            unfold(g, nb, x + n0 * xs, xu, sizeof(T));                                        \
        if (!ident_out)                                                                       \
            swap_depth(g, nb, g->C_out, gy + n0 * ys, gyu, sizeof(T), 1);                     \
        const int first = n0 == 0;                                                            \
        T *pw = first || !gw ? gw : part, *pb = first || !gb ? gb : part + nw;                \
        st = fc_conv2d_backward_weight_##SFX(&h, algo, ident_out ? gy + n0 * ys : gyu,        \
                                             ident_in ? x + n0 * xs : xu, pw, pb);            \
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
    const fc_conv_geom h = plane_geom(g, chunk_images(g, (size_t)itemsize));
    return fc_conv2d_choose_algo_nowino(&h, pass, itemsize);
}
