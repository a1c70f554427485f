/* im2col + GEMM conv2d (forward, backward-data, backward-weight), float32 and float64.
 * The algorithms live in csrc/gemm/im2col_impl.h, instantiated here once per dtype. */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "gemm/gemm.h"
#include "tier.h"

/* Geometry shared by the packers of both dtypes. */
typedef struct {
    const fc_conv_geom *g;
    int64_t Cgi, Cgo;   /* channels per group */
    int64_t KK, K;      /* kH*kW, and the GEMM depth C_in/groups * kH * kW */
    int64_t HW, HWo;    /* input / output plane sizes */
    int identity;       /* 1x1 taps at output pixel offsets: col row c is plane c of x */
    /* For tap row kh (col kw): the output rows oh in [oh_lo, oh_hi) (cols ow in
     * [ow_lo, ow_hi)) whose input tap lies inside the image; all other taps read zero. */
    int64_t *oh_lo, *oh_hi, *ow_lo, *ow_hi;
} im2col_ctx;

static int64_t floor_div(int64_t a, int64_t b)   /* b > 0 */
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Output positions o in [0, n_out) with 0 <= o*s + off < n_in. */
static void valid_range(int64_t off, int64_t s, int64_t n_in, int64_t n_out, int64_t *lo,
                        int64_t *hi)
{
    int64_t l = -floor_div(off, s);                  /* ceil(-off / s) */
    int64_t h = floor_div(n_in - 1 - off, s) + 1;
    l = fc_max64(l, 0);
    h = fc_min64(h, n_out);
    *lo = l;
    *hi = fc_max64(h, l);
}

static int ctx_init(im2col_ctx *cx, const fc_conv_geom *g)
{
    cx->g = g;
    cx->Cgi = g->C_in / g->groups;
    cx->Cgo = g->C_out / g->groups;
    cx->KK = g->kH * g->kW;
    cx->K = cx->Cgi * cx->KK;
    cx->HW = g->H * g->W;
    cx->HWo = g->H_out * g->W_out;
    cx->identity = g->kH == 1 && g->kW == 1 && g->sH == 1 && g->sW == 1 && g->pH == 0 &&
                   g->pW == 0 && g->W_out == g->W && g->H_out <= g->H;
    cx->oh_lo = (int64_t *)malloc(sizeof(int64_t) * (size_t)(2 * (g->kH + g->kW)));
    if (!cx->oh_lo)
        return -1;
    cx->oh_hi = cx->oh_lo + g->kH;
    cx->ow_lo = cx->oh_hi + g->kH;
    cx->ow_hi = cx->ow_lo + g->kW;
    for (int64_t kh = 0; kh < g->kH; kh++)
        valid_range(kh * g->dH - g->pH, g->sH, g->H, g->H_out, &cx->oh_lo[kh], &cx->oh_hi[kh]);
    for (int64_t kw = 0; kw < g->kW; kw++)
        valid_range(kw * g->dW - g->pW, g->sW, g->W, g->W_out, &cx->ow_lo[kw], &cx->ow_hi[kw]);
    return 0;
}

static void ctx_free(im2col_ctx *cx)
{
    free(cx->oh_lo);
}

static int threads_for(double flops)
{
    int nt = fc_threads_for(flops, fc_tier_current()->par_min_im2col_flops);
    return nt < 1 ? 1 : nt;
}

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

#define FC_T float
#define FC_DT f32
#include "gemm/im2col_impl.h"
#undef FC_T
#undef FC_DT

#define FC_T double
#define FC_DT f64
#include "gemm/im2col_impl.h"
#undef FC_T
#undef FC_DT
