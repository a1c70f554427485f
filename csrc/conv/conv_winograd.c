/*
 * Winograd F(MxM, 3x3) conv2d at stride 1, dilation 1 (Lavin & Gray, arXiv:1509.09308), for
 * the forward pass and, as the full correlation of grad_output with the flipped filters, for
 * backward-data.  M = 2 (4x4 tiles) or 4 (6x6 tiles).
 *
 * Per call: the filters are transformed once (U = G w G^T, in float64, rounded once; the
 * tier's wino_wt, across output channels) into the packed-A layout of the tier's GEMM
 * micro-kernel, in the same parallel region as the rest.  The output tiles of all images are then
 * cut into blocks of Tb tiles (a multiple of the GEMM's NR) sized so that one block's
 * transformed input V (A*A x Cig x Tb) and products (A*A x Cog x Tb) stay in L2; a thread takes
 * a (group, block) item, transforms the input patches straight into packed-B panels (the
 * tier's wino_in), runs the A*A products U[e] V[e] on the GEMM micro-kernel, and writes the
 * output tiles with the bias (wino_out).  Every output element is computed by one item in a
 * fixed order, so results do not depend on the thread count.
 *
 * A tile mixes its inputs, so an Inf or NaN would reach outputs its taps never meet: the
 * dispatcher (conv.c) sends calls with non-finite data to the direct algorithm.
 */
#include <string.h>
#include "conv_internal.h"
#include "gemm/gemm.h"
#include "fastconv_ukernel.h"
#include "tier.h"

typedef struct {
    int M, A;
    int64_t G, Cig, Cog, Cog_pad;   /* per group: transform input / output channels */
    int64_t N, Hi, Wi, Ho, Wo;      /* transform input and output planes */
    int64_t pt, pl;                 /* top / left padding of the transform's input */
    int64_t th, tw, T;              /* tiles down, across, and in all N images */
    int64_t mr, nr, Tb;             /* GEMM tile, tiles per block */
    int deep;                       /* 1: wino_run_deep's schedule, else wino_run's */
    int64_t co_panels;              /* deep: output-channel panels (of mr) per work item */
    int64_t u_panels;               /* deep, one tile block: panels of filters transformed at once */
    int threads;
} wino_plan;

static int g_schedule;   /* fc_wino_set_schedule */

int fc_wino_set_schedule(int schedule)
{
    const int old = g_schedule;
    if (schedule >= 0 && schedule <= 2)
        g_schedule = schedule;
    return old;
}

int fc_wino_serves(const fc_conv_geom *g)
{
    return g->kH == 3 && g->kW == 3 && g->sH == 1 && g->sW == 1 && g->dH == 1 && g->dW == 1;
}

static int wino_plan_init(wino_plan *p, const fc_conv_geom *g, int tile, int bwd)
{
    if (!fc_wino_serves(g) || (tile != 2 && tile != 4))
        return -1;
    p->M = tile;
    p->A = tile + 2;
    p->G = g->groups;
    p->N = g->N;
    if (!bwd) {
        p->Cig = g->C_in / g->groups;
        p->Cog = g->C_out / g->groups;
        p->Hi = g->H, p->Wi = g->W, p->Ho = g->H_out, p->Wo = g->W_out;
        p->pt = g->pH, p->pl = g->pW;
    } else {
        p->Cig = g->C_out / g->groups;
        p->Cog = g->C_in / g->groups;
        p->Hi = g->H_out, p->Wi = g->W_out, p->Ho = g->H, p->Wo = g->W;
        p->pt = 2 - g->pH, p->pl = 2 - g->pW;
    }
    p->th = fc_ceil_div(p->Ho, p->M);
    p->tw = fc_ceil_div(p->Wo, p->M);
    p->T = p->N * p->th * p->tw;
    return 0;
}

static void wino_plan_finish(wino_plan *p, int64_t mr, int64_t nr, int64_t itemsize,
                             int64_t l2_bytes)
{
    p->mr = mr;
    p->nr = nr;
    p->Cog_pad = fc_round_up(p->Cog, mr);
    const double flops = 2.0 * 9 * (double)p->G * p->Cig * p->Cog * p->N * p->Ho * p->Wo;
    p->threads = fc_threads_for(flops, fc_tier_current()->par_min_im2col_flops);
    if (p->threads < 1)
        p->threads = 1;
    /* Deep layers with few tiles: the filters' transform U of one group passes L2 and would
     * be streamed once per tile block, so the blocks take all tiles, up to 8 panels (about
     * 100-300 KiB of V and of products per GEMM step in L2), and the output channels are
     * split among the threads instead (wino_run_deep). */
    const int64_t l2 = l2_bytes > 0 ? l2_bytes : (512 << 10);
    const int64_t u_bytes = (int64_t)p->A * p->A * p->Cog_pad * p->Cig * itemsize;
    const int64_t Tp = fc_round_up(p->T, nr), npan = p->Cog_pad / mr;
    p->deep = g_schedule ? g_schedule == 2 : u_bytes > 8 * l2 && p->T <= 8 * nr;
    if (p->deep) {
        p->Tb = fc_min64(Tp, 4 * nr);
        const int64_t nblk = fc_ceil_div(p->T, p->Tb);
        const int64_t nco = fc_min64(npan, fc_ceil_div(2 * (int64_t)p->threads, p->G * nblk));
        p->co_panels = fc_ceil_div(npan, fc_max64(1, nco));
        /* the transformed filters of up to 4 panels in L2 (Xeon, 8x512x7x7 F(2x2), ms at
         * 1 / 2 / 3 / 4 / 6 / 8 panels: 8.1 / 7.7 / 7.4 / 7.3 / 7.2 / 7.3) */
        const int64_t panel_bytes = (int64_t)p->A * p->A * (mr * p->Cig + FC_WINO_WT_NT) * itemsize;
        p->u_panels = fc_max64(1, fc_min64(4, l2 / panel_bytes));
        return;
    }
    /* V and the products of one block in half of L2 (the other half for U[e] and y) */
    const int64_t per_tile = (int64_t)p->A * p->A * (p->Cig + p->Cog) * itemsize;
    int64_t tb = l2 / 2 / (per_tile > 0 ? per_tile : 1);
    tb = fc_max64(nr, tb / nr * nr);
    tb = fc_min64(tb, 8 * nr);
    /* enough items for every thread to get a few */
    while (tb > nr && p->G * fc_ceil_div(p->T, tb) < 4 * (int64_t)p->threads)
        tb -= nr;
    p->Tb = fc_min64(tb, Tp);
    if (p->Tb < nr)
        p->Tb = nr;
}

#define FC_T float
#define FC_DT f32
#include "conv/winograd_impl.h"
#undef FC_T
#undef FC_DT

#define FC_T double
#define FC_DT f64
#include "conv/winograd_impl.h"
#undef FC_T
#undef FC_DT
