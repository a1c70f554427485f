/*
 * Direct conv2d: forward, backward-data (the transposed direct conv, in gather form, one
 * stride phase at a time) and backward-weight, for every geometry, float32 and float64.
 *
 * Where it wins: few input channels per group (input layers, LeNet) and depthwise, where an
 * im2col matrix would be tall and thin and mostly copying.  Register blocking: MR output
 * channels x NR consecutive output grid points per micro-kernel call
 * (csrc/conv/direct_ukernels.h), weights packed once per call, the input copied once per call
 * into zero-padded stride-phase planes so that the kernels never test borders.
 *
 * Threads: one OpenMP region per call.  Forward and backward-data split over images x groups
 * x channel blocks x tiles of output rows (so batch 1 uses every core); every output element
 * is computed by exactly one micro-kernel call, in a fixed order.  Backward-weight reduces
 * over fixed ranges of batch rows into partial sums that are added in a fixed order.  Results
 * are therefore identical for any thread count.
 */
#include <stdlib.h>
#include <string.h>
#include "conv_internal.h"
#include "direct_ukernels.h"
#include "direct_exact.h"
#include "tier.h"
#include "gemm/gemm.h"

/* Input rows are copied one band (of output rows) at a time, about the tier's
 * direct_band_bytes, so that the copy is still in L2 when the micro-kernels read it; packed
 * weights up to its direct_l1_weights stay in L1 next to a tile's inputs (tier.h). */
/* Upper bound on the backward-weight partial sums. */
#define FC_DIRECT_PARTIAL_BYTES (32.0 * 1024 * 1024)

/* Zero-padded, stride-phase-split copy of (a band of rows of) an input: for each source
 * channel nph_h*nph_w planes, `plane` elements apart, of rows of Wq; plane (rh, rw) element
 * (r, s) holds src[r*sH + rh - offH][s*sW + rw - offW] (zero outside the Hs x Ws source,
 * whose rows are ld elements apart: a block of a larger array reads in place).
 * A band for grid rows [i0, i0 + R) holds plane rows [i0, i0 + R + halo). */
typedef struct {
    int64_t sH, sW, nph_h, nph_w, offH, offW, Wq, halo, plane, Hs, Ws, ld;
} planes_t;

/* Parallel regions cost tens of microseconds (milliseconds on a busy machine): problems
 * below ~1 MFLOP run on the calling thread. */
static int threads_for(const fc_conv_geom *g)
{
    const double flops = 2.0 * (double)g->N * (double)g->C_out * (double)g->H_out *
                         (double)g->W_out * (double)(g->C_in / g->groups) * (double)g->kH *
                         (double)g->kW;
    return fc_threads_for(flops, fc_tier_current()->par_min_direct_flops);
}

/* Channels per micro-kernel call: the MR whose padding to a multiple wastes least, counting
 * that MR = 1 runs at ~70% (load-bound) and MR = 2 at ~95% of the others' speed. */
static int fc_direct_pick_mr(int64_t cg)
{
    static const double eff[5] = {0, 0.7, 0.95, 1.0, 1.0};
    int best = 4;
    double best_cost = 0;
    for (int mr = 4; mr >= 1; mr--) {
        const double cost = (double)((cg + mr - 1) / mr * mr) / eff[mr];
        if (mr == 4 || cost < best_cost) {
            best = mr;
            best_cost = cost;
        }
    }
    return best;
}

/* Forward (and backward-weight) input planes.  Tap (kh, kw) of output (i, j) reads padded
 * input row i*sH + kh*dH = (i + qh)*sH + rh with kh*dH = qh*sH + rh: row i + qh of phase
 * plane rh.  Only residues rh <= (kH-1)*dH occur, hence nph_h. */
static void fwd_planes(const fc_conv_geom *g, planes_t *P)
{
    const int64_t eh = (g->kH - 1) * g->dH, ew = (g->kW - 1) * g->dW;
    P->sH = g->sH;
    P->sW = g->sW;
    P->nph_h = g->sH < eh + 1 ? g->sH : eh + 1;
    P->nph_w = g->sW < ew + 1 ? g->sW : ew + 1;
    P->offH = g->pH;
    P->offW = g->pW;
    P->halo = eh / g->sH;
    P->Wq = g->W_out + ew / g->sW;
    P->plane = 0;   /* set with the band height */
    P->Hs = g->H;
    P->Ws = g->W;
    P->ld = g->W;
}

/* off[t], t = (icg*kH + kh)*kW + kw (w's own inner order), relative to the group's first
 * plane. */
static void fwd_offsets(const fc_conv_geom *g, const planes_t *P, int64_t *off)
{
    const int64_t Cig = g->C_in / g->groups;
    int64_t t = 0;
    for (int64_t icg = 0; icg < Cig; icg++)
        for (int64_t kh = 0; kh < g->kH; kh++)
            for (int64_t kw = 0; kw < g->kW; kw++, t++) {
                const int64_t u = kh * g->dH, v = kw * g->dW;
                const int64_t plane = (icg * P->nph_h + u % g->sH) * P->nph_w + v % g->sW;
                off[t] = plane * P->plane + (u / g->sH) * P->Wq + v / g->sW;
            }
}

/* Backward-data: grad_output planes (no phase split) padded by PH rows / PW columns. */
typedef struct {
    planes_t P;
    int64_t PH, PW;
} bwd_data_shape;

/* Taps k of phase a along one axis: input index a + s*i receives from output index
 * i + c, c = (a + p - k*d)/s, for every k making that division exact.  out[2n] = k,
 * out[2n+1] = c + pad (the row/column of the padded plane read at i = 0).  Returns n. */
static int64_t phase_taps(int64_t a, int64_t p, int64_t k, int64_t d, int64_t s, int64_t pad,
                          int64_t *out)
{
    int64_t n = 0;
    for (int64_t kk = 0; kk < k; kk++) {
        const int64_t num = a + p - kk * d;
        if (num % s == 0) {
            out[2 * n] = kk;
            out[2 * n + 1] = num / s + pad;
            n++;
        }
    }
    return n;
}

/* Padding so that every phase's taps read at index >= 0 (pad >= -c for every tap), the
 * plane extent they need (size >= grid extent + c + pad) and the largest c + pad (the band
 * halo). */
static void bwd_data_axis(int64_t L, int64_t p, int64_t k, int64_t d, int64_t s,
                          int64_t *pad, int64_t *size, int64_t *halo)
{
    const int64_t nph = s < L ? s : L;
    int64_t pd = 0, sz = 1, hl = 0;
    for (int64_t a = 0; a < nph; a++)
        for (int64_t kk = 0; kk < k; kk++) {
            const int64_t num = a + p - kk * d;
            if (num % s == 0 && -(num / s) > pd) pd = -(num / s);
        }
    for (int64_t a = 0; a < nph; a++) {
        const int64_t ext = (L - a + s - 1) / s;
        if (ext > sz) sz = ext;
        for (int64_t kk = 0; kk < k; kk++) {
            const int64_t num = a + p - kk * d;
            if (num % s != 0) continue;
            if (ext + num / s + pd > sz) sz = ext + num / s + pd;
            if (num / s + pd > hl) hl = num / s + pd;
        }
    }
    *pad = pd;
    *size = sz;
    *halo = hl;
}

static void bwd_data_planes(const fc_conv_geom *g, bwd_data_shape *S)
{
    planes_t *P = &S->P;
    int64_t unused;
    bwd_data_axis(g->H, g->pH, g->kH, g->dH, g->sH, &S->PH, &unused, &P->halo);
    bwd_data_axis(g->W, g->pW, g->kW, g->dW, g->sW, &S->PW, &P->Wq, &unused);
    P->sH = P->sW = P->nph_h = P->nph_w = 1;
    P->offH = S->PH;
    P->offW = S->PW;
    P->plane = 0;   /* set with the band height */
    P->Hs = g->H_out;
    P->Ws = g->W_out;
    P->ld = g->W_out;
}

/* Throughput of an MR x NV tile relative to peak, per tap: MR*NV FMAs need MR*NV >= 8
 * independent accumulators to hide the FMA latency, and NV + MR loads (vectors and weight
 * broadcasts) share two load ports with... themselves, against two FMA ports. */
static double tile_eff(int mr, int nv)
{
    const double acc = mr * nv;
    const double lat = acc >= 8 ? 1.0 : acc / 8.0;
    const double ld = acc >= mr + nv ? 1.0 : acc / (double)(mr + nv);
    return lat < ld ? lat : ld;
}

/* 32-register tiers, at least one full NR panel of channels and min_taps taps: where the
 * kernels vectorised along output channels fit. */
static int chanvec_fits(const fc_conv_geom *g, int64_t min_taps)
{
    const fc_tier *t = fc_tier_current();
    const int64_t Cig = g->C_in / g->groups, Cog = g->C_out / g->groups;
    return t->nregs >= 32 && Cog >= t->gemm_f32.nr && Cig * g->kH * g->kW >= min_taps;
}

/* The forward pass vectorised along output channels (direct_impl.h: fwd_chanvec). */
int fc_direct_chanvec_pays(const fc_conv_geom *g)
{
    /* 32-register tiers, at least one full NR panel of channels and 256 taps (Xeon,
     * 2026-12-03, ms, grid kernels / this: resnet_64 9.4 / 7.1, resnet_512 19.1 / 10.4,
     * strided 7.2 / 3.8, dilated 10.5 / 7.0, cifar_32 6.6 / 5.5; 3-channel stem 7.5 / 13.2).
     * At 16 registers the grid kernels keep the 16x16 64-channel case (6.6 / 7.2). */
    return chanvec_fits(g, 256);
}

/* Its weight gradient also wants long runs per band (the grid's points are the sum's
 * length per kernel call): from 256 output points per image (Xeon, 2026-12-03, ms, grid
 * kernels / this: resnet_64 12.4 / 7.8, dilated 12.5 / 8.0, cifar_64 (16x16) 8.4 / 5.5;
 * resnet_512 (7x7) 42 / 86); in 1-D from 128 taps rather than the forward's 256 (64 -> 64 k3
 * over 2048 points, 192 taps: 5.1 / 3.7, im2col 3.7; a temporal (3,1,1) 3-D layer with as
 * many taps stays on im2col: 15.3 / 14.0).  Not 1x1, whose columns im2col reads as x
 * itself (pointwise 256 -> 64: 6.8 against im2col's 4.8). */
int fc_direct_chanvec_weight_pays(const fc_conv_geom *g)
{
    const int one_d = g->H == 1 && g->kH == 1;
    return chanvec_fits(g, one_d ? 128 : 256) && g->H_out * g->W_out >= 256 &&
           g->kH * g->kW > 1;
}

/* ---- float32 ---- */
#define T float
#define SFX f32
#include "direct_impl.h"
#undef T
#undef SFX

/* ---- float64 ---- */
#define T double
#define SFX f64
#include "direct_impl.h"
#undef T
#undef SFX
