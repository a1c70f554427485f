/* conv2d dispatch: picks the algorithm, then calls it. */
#include <string.h>
#include "conv_internal.h"
#include "direct_exact.h"
#include "tier.h"

/*
 * "auto": chosen from measurements (2026-11-23, Zen 3, 2 cores shared with other jobs;
 * float32; GFLOP/s of direct / im2col; 1 thread = median CPU time of 5-7 interleaved runs,
 * 2 threads = median wall time of 7; torch 2.13 in the same process for scale):
 *
 *                   forward                 backward-data           backward-weight
 *                   1 thr        2 thr      1 thr        2 thr      1 thr        2 thr
 *   lenet_c1        30 / 14    1.3 / 0.6    18 / 14    1.3 / 0.8    21 / 8     0.5 / 0.6
 *   lenet_c3        35 / 18    2.6 / 1.1    23 / 20    2.6 / 1.3    25 / 16    1.0 / 1.1
 *   cifar_in        45 / 33    7.4 / 3.8    35 / 26    9.5 / 3.5    35 / 17    3.4 / 3.9
 *   cifar_32        70 / 43     32 / 16     72 / 52     38 / 25     72 / 44     30 / 22
 *   cifar_64        76 / 55     39 / 20     75 / 57     34 / 29     61 / 54     24 / 25
 *   resnet_64       67 / 60     36 / 29     67 / 63     37 / 34     75 / 60     33 / 26
 *   resnet_128      64 / 66     52 / 47     64 / 70     54 / 42     49 / 48     48 / 50
 *   resnet_256      67 / 68     52 / 52     62 / 75     47 / 46     27 / 59     16 / 27
 *   resnet_512      50 / 50     30 / 28     46 / 51     26 / 30     20 / 49     12 / 22
 *   stem            72 / 45     38 / 23     39 / 31     27 / 20     58 / 43     27 / 21
 *   pointwise       38 / 45     23 / 23     55 / 61     24 / 23     46 / 50     16 / 19
 *   depthwise       14 / 2.3   4.8 / 0.9    15 / 3.5   3.5 / 1.2    11 / 1.2   1.6 / 1.0
 *   strided         59 / 68     26 / 25     58 / 65     23 / 25     24 / 56     11 / 16
 *   dilated         67 / 61     31 / 27     68 / 65     31 / 31     74 / 59     27 / 23
 *
 * (Tiny layers at 2 threads are dominated by scheduling on the busy machine.)  Direct wins
 * or ties wherever the reduction per output is short; im2col + GEMM wins for 1x1 kernels,
 * for strided layers with many input channels, for long backward-data reductions, and for
 * backward-weight with a large weight gradient, where direct's per-range partial sums grow.
 */
/*
 * Winograd F(2x2, 3x3) in 'auto', forward and backward-data (its error there is 0.25-1.4x
 * direct's over the suite's layers, tests/data/winograd_error.json; F(4x4)'s is 3-39x, over
 * the contract's 4x bound, so 'auto' never picks it; backward-weight's F(2x2) is 2-5.7x, and
 * slower than im2col, so the weight gradient keeps the rule below).  Measured 2026-12-01 on an AMD Zen 5, 2 threads, float32, effective
 * GFLOP/s (direct-conv FLOPs / time), forward / backward-data, each tier on its own kernels:
 *
 *                  avx2 tier                        avx512 tier
 *                  direct     im2col    F(2x2)      direct     im2col    F(2x2)
 *   cifar_in        -          -          -         106/93     86/97     70/32
 *   cifar_32       182/182   110/133   196/200      228/222   102/132   218/227
 *   cifar_64       190/190   138/148   290/287      209/227   129/185   227/248
 *   resnet_64      179/175   160/157   277/286      248/288   174/232   328/350
 *   resnet_128      -          -          -         256/255   223/248   439/450
 *   resnet_256     178/164   184/183   361/338      258/228   230/260   380/394
 *   resnet_512     135/108   134/132   136/138      161/116   198/226   170/191
 *   depthwise       -          -          -          52/48     10/10      7/7
 *
 * It wins from 32 channels each side with enough tiles to share among the threads; with few
 * tiles (resnet_512: 128) the filter transform, 16/9 the size of the filters, is not repaid on
 * the 32-register tier.
 */
static fc_conv_algo choose_direct_im2col_16reg(const fc_conv_geom *g, int pass, int itemsize);

static int wino_pays(const fc_conv_geom *g, int pass, int64_t min_tiles)
{
    const int64_t Cig = g->C_in / g->groups, Cog = g->C_out / g->groups;
    if (pass > 1 || !fc_wino_serves(g) || Cig < 32 || Cog < 32)
        return 0;
    const int64_t H = pass == 1 ? g->H : g->H_out, W = pass == 1 ? g->W : g->W_out;
    return g->N * ((H + 1) / 2) * ((W + 1) / 2) >= min_tiles;
}

fc_conv_algo fc_conv2d_choose_algo_16reg(const fc_conv_geom *g, int pass, int itemsize,
                                         int allow_wino)
{
    if (allow_wino && wino_pays(g, pass, 128))
        return FC_ALGO_WINOGRAD;
    return choose_direct_im2col_16reg(g, pass, itemsize);
}

/* direct or im2col, from the table above this one */
static fc_conv_algo choose_direct_im2col_16reg(const fc_conv_geom *g, int pass, int itemsize)
{
    const int64_t Cig = g->C_in / g->groups, Cog = g->C_out / g->groups;
    const int64_t KK = g->kH * g->kW;
    const int strided = g->sH > 1 || g->sW > 1;
    (void)itemsize;
    if (g->groups > 1 && (Cig < 8 || Cog < 8))
        return FC_ALGO_DIRECT;     /* depthwise-like: im2col's GEMMs degenerate */
    switch (pass) {
    case 0:
        if (KK == 1 || (strided && Cig * KK >= 512)) return FC_ALGO_IM2COL;
        /* quiet-machine re-measure (2 threads): im2col ahead on resnet_128/256/512 fwd */
        if (Cig * KK >= 1152 && Cog >= 128) return FC_ALGO_IM2COL;
        return FC_ALGO_DIRECT;
    case 1:
        /* few gradient channels (the stem's 3): direct's phase-split gather wins */
        if (Cig < 32) return FC_ALGO_DIRECT;
        if (KK == 1 || (strided && Cog * KK >= 512) || Cog * KK >= 1152) return FC_ALGO_IM2COL;
        return FC_ALGO_DIRECT;
    default:
        if (KK == 1 || g->C_out * Cig * KK >= 100000) return FC_ALGO_IM2COL;
        return FC_ALGO_DIRECT;
    }
}

/*
 * 'auto' for 32-register tiers, measured 2026-12-01 on an AMD Zen 5 (its 32-register tier, 2 threads,
 * float32, ms, median of 3 alternating blocks of 3; the forward keeps the 16-register rule):
 *
 *                backward-data          backward-weight
 *                direct   im2col        direct   im2col
 *   cifar_32      3.79     5.40          6.88     9.95
 *   cifar_64      3.97     5.11          6.88     5.87
 *   resnet_64     5.40     6.15          8.66     7.59
 *   resnet_128    5.73     5.59         11.88     7.10
 *   resnet_256    6.30     5.71         18.69     6.63
 *   stem          6.97     9.02         10.96    12.04
 *   pointwise     3.46     2.55          5.60     3.97
 *   depthwise     1.10     4.52          1.64    18.05
 *   strided       3.96     3.17         10.04     3.84
 *   dilated       5.98     6.31          8.81     7.86
 *
 * With 16-lane tiles the direct weight gradient's per-range partial sums lose to the GEMM
 * from a fifth of the weight size the 16-register rule allows, and a 1x1 backward-data goes
 * to the GEMM even with few gradient channels.
 */
/*
 * Winograd on the 32-register tier, re-measured 2026-12-02 on an AMD Zen 4 (2 threads,
 * float32, ms) after its transforms lost their staging stalls and deep layers got their own
 * schedule (conv_winograd.c):
 *
 *   forward             tiles   F(2x2)  im2col  direct
 *   8x512x7x7            128    12.5    17.6    25.9
 *   4x512x7x7             64     8.4    11.1    13.7
 *   2x256x14x14           98     2.7     4.5     4.4
 *   1x256x16x16           64     1.7     2.7     3.9
 *   2x64x16x16           128     0.24    0.45    0.39
 *
 *   backward-weight     tiles   F(2x2)  im2col
 *   64x64x16x16 cifar_64  4096   11.7    13.6
 *   8x64x56x56 resnet_64  6272   16.4    18.6    (error 4.15x direct's: over the bound)
 *   8x128x28x28          1568   12.6    15.4
 *   16x64x16x16          1024    2.6     4.6
 *   8x256x14x14           392   13.4    13.7
 *   8x512x7x7             128   39.2    21.2
 *   64x32x32x32 cifar_32 16384   19.0    16.1
 *
 * So the forward and backward-data take F(2x2) from 64 tiles.
 *
 * The weight gradient again after its few-chunk split (products shared among threads), its
 * final transform on the tier's kernels and the workspace cache (csrc/workspace.c), same CPU,
 * ms, Winograd / im2col / direct, C -> C channels:
 *
 *   C = 32   4x16x16 (256 tiles)   0.33 / 0.36 / 0.31     16x32x32 (4096)  2.31 / 2.67 / 1.81
 *   C = 64   4x8x8 (64)            0.33 / 0.34 / 0.85     4x16x16 (256)    0.76 / 1.01 / 1.14
 *            8x32x32 (2048)        3.24 / 4.50 / 3.85     64x16x16 (4096)  6.60 / 9.91 / 8.42
 *   C = 128  4x8x8 (64)            0.77 / 0.64 / 3.38     8x16x16 (512)    3.44 / 4.06 / 5.97
 *   C = 256  4x16x16 (256)         4.86 / 7.54 / 16.0     8x512x7x7 (128)  9.05 / 13.7
 *
 * With the A panels packed by register transposes (packa), 32 output channels from 64 input
 * ones pay too (2026-12-02, Zen 4, ms, direct / Winograd / im2col; 96 -> 32 is unet3d_32's
 * unfolded 3-D layer):
 *
 *   4x96x64x64 (4096)  7.92 / 6.89 / 8.73     4x64x64x64 (4096)   5.32 / 5.02 / 5.97
 *   8x128x32x32 (2048) 6.34 / 5.61 / 6.42     16x64x32x32 (4096)  4.67 / 4.73 / 6.71
 *   4x96x32x32 (1024)  2.36 / 1.63 / 2.67     8x64x28x28 (1568)   2.68 / 1.91 / 4.52
 *
 * So the float32 weight gradient takes F(2x2) from 128 to 4096 tiles with 64 input and 32
 * output channels or more: its error grows with the tiles it sums
 * (tests/data/winograd_error.json: 2.0-3.4x direct's up to 4096 tiles, unet3d_32 2.9x;
 * 4.2-5.3x past them, over the contract's 4x).
 */
static int wino_weight_pays(const fc_conv_geom *g, int itemsize)
{
    const int64_t Cig = g->C_in / g->groups, Cog = g->C_out / g->groups;
    if (itemsize != 4 || !fc_wino_serves(g) || Cig < 64 || Cog < 32)
        return 0;
    const int64_t tiles = g->N * ((g->H_out + 1) / 2) * ((g->W_out + 1) / 2);
    return tiles >= 128 && tiles <= 4096;
}

fc_conv_algo fc_conv2d_choose_algo_32reg(const fc_conv_geom *g, int pass, int itemsize,
                                         int allow_wino)
{
    if (allow_wino && wino_pays(g, pass, 64))
        return FC_ALGO_WINOGRAD;
    if (allow_wino && pass == 2 && wino_weight_pays(g, itemsize))
        return FC_ALGO_WINOGRAD;
    const int64_t Cig = g->C_in / g->groups, Cog = g->C_out / g->groups;
    const int64_t KK = g->kH * g->kW;
    if (!(g->groups > 1 && (Cig < 8 || Cog < 8))) {
        if (pass == 1 && KK == 1) return FC_ALGO_IM2COL;
        /* at full rate the direct weight gradient vectorised along output channels beats
         * the GEMM where it runs (Xeon, 2026-12-03, ms, direct / im2col: resnet_64 7.8 /
         * 9.9, dilated 8.0 / 10.0, cifar_64 5.5 / 7.2, resnet_128 8.0 / 9.4) */
        if (pass == 2 && fc_tier_current()->fma_full_rate && fc_direct_chanvec_weight_pays(g))
            return FC_ALGO_DIRECT;
        /* and its forward the GEMM's for strided layers, which im2col gathers element by
         * element (Xeon, strided 128 -> 256 s2 14x14, ms, direct / im2col: 3.76 / 3.95 alone,
         * 4.0 / 4.9 in the bench's alternation) */
        if (pass == 0 && fc_tier_current()->fma_full_rate && (g->sH > 1 || g->sW > 1) &&
            fc_direct_chanvec_pays(g))
            return FC_ALGO_DIRECT;
        /* the weight gradient's GEMM gains the most from full-rate 512-bit FMAs (the table
         * above, Zen 5); at half rate (Zen 4, 2026-12-02, ms, direct / im2col) direct's
         * per-range sums keep 64 -> 64 channels: resnet_64 13.1 / 17.8, dilated 14.8 / 16.4,
         * resnet_128 19.7 / 14.0 */
        if (pass == 2 && g->C_out * Cig * KK >= (fc_tier_current()->fma_full_rate ? 20000 : 65536))
            return FC_ALGO_IM2COL;
        /* 1-D problems (conv1d: H = 1): the direct kernel's bands of output rows hold one
         * row, and the GEMM wins from fewer channels than in 2-D (2026-12-02, Zen 5, ms,
         * direct / im2col, forward / backward-data): 64->64 k3 3.0/3.7, 3.3/3.8;
         * 128->128 k3 12.9/13.4, 13.1/10.3; 256->256 k3 d8 11.8/9.0, 12.7/9.2. */
        const int one_d = g->H == 1 && g->kH == 1 && g->H_out == 1;
        if (one_d && pass == 0 && Cig * KK >= 512) return FC_ALGO_IM2COL;
        if (one_d && pass == 1 && Cig >= 32 && Cog * KK >= 384) return FC_ALGO_IM2COL;
        /* A column kernel over very long rows: a (kD,1,1) 3-D kernel runs as the 2-D (kD,1)
         * convolution of the (D, H*W) image (conv3d.c), whose im2col forward packs each input
         * row once for all taps (im2col_impl.h: fwd_im2col_rows, from 32 channels; its
         * backward-data is that forward on gy).  Xeon, 2026-12-03, 2x16x56x56 volumes, k 3,
         * ms, direct / im2col, forward / backward-data / backward-weight: 16->16 1.04/1.16,
         * 0.94/2.07, 1.58/1.68; 32->32 3.13/2.53, 3.14/2.57, 5.47/4.54; 32->64 6.08/5.11,
         * 11.5/5.31, 9.05/7.75; 64->32 11.1/5.26, 6.07/5.19, 12.8/8.04; 48->48 9.00/5.32,
         * 8.95/5.32, 12.8/7.88; 64->64 20.7/9.50, 21.7/9.42, 22.4/13.4.  (At the 256-bit rate,
         * Zen 4, before that path: forward 28.4 / 21.1 ms on 64->64, the backward-data then
         * direct at 29.6 / 37.3; it is now the forward's path.) */
        if (g->kW == 1 && g->kH > 1 && g->W >= 1024 &&
            (pass == 0 ? Cig >= 32 : pass == 1 ? Cog >= 32 : Cig >= 32 && Cog >= 32))
            return FC_ALGO_IM2COL;
    }
    return choose_direct_im2col_16reg(g, pass, itemsize);
}

fc_conv_algo fc_conv2d_choose_algo(const fc_conv_geom *g, int pass, int itemsize)
{
    const fc_tier *t = fc_tier_current();
    fc_conv_geom ph;
    /* a dilated layer whose phase images Winograd pays on runs as them (conv_phases.c);
     * the weight gradient only when there is one to compute (its rule above) */
    if (fc_conv2d_phases_geom(g, &ph) && t->choose_algo(&ph, pass, itemsize, 1) == FC_ALGO_WINOGRAD)
        return FC_ALGO_WINOGRAD_PHASES;
    return t->choose_algo(g, pass, itemsize, 1);
}

fc_conv_algo fc_conv2d_choose_algo_nowino(const fc_conv_geom *g, int pass, int itemsize)
{
    return fc_tier_current()->choose_algo(g, pass, itemsize, 0);
}

/* A NaN or Inf weight (forward, backward-data) or grad_output value (backward-weight) must
 * reach exactly the outputs whose real taps meet it.  im2col multiplies it by the zeros of its
 * padded columns (0 * Inf = NaN), and a Winograd tile mixes all its inputs, so such calls go
 * to the direct algorithm, whose border-exact path handles them (an O(weights) /
 * O(grad_output) scan, negligible next to the conv; Winograd scans its data input too). */
/* FC_ALGO_WINOGRAD is F(2x2): the tile whose error stays within the contract's 4x direct's
 * (tests/data/winograd_error.json); F(4x4) only when asked for by name. */
static int wino_tile_of(fc_conv_algo algo)
{
    return algo == FC_ALGO_WINOGRAD_4 ? 4 : 2;
}
static int is_wino(fc_conv_algo algo)
{
    return algo == FC_ALGO_WINOGRAD || algo == FC_ALGO_WINOGRAD_2 || algo == FC_ALGO_WINOGRAD_4;
}
#define FC_CONV_DISPATCH(SFX, T)                                                              \
static int finite_weights_##SFX(const fc_conv_geom *g, const T *w)                            \
{                                                                                             \
    return fc_direct_all_finite_##SFX(w, g->C_out * (g->C_in / g->groups) * g->kH * g->kW);  \
}                                                                                             \
fc_status fc_conv2d_forward_scanned_##SFX(const fc_conv_geom *g, fc_conv_algo algo,           \
                                          const T *x, const T *w, const T *bias, T *y,       \
                                          int scanned)                                        \
{                                                                                             \
    if (algo == FC_ALGO_AUTO) algo = fc_conv2d_choose_algo(g, 0, (int)sizeof(T));             \
    if (algo == FC_ALGO_WINOGRAD_PHASES)                                                      \
        return fc_conv2d_fwd_phases_##SFX(g, FC_ALGO_WINOGRAD, x, w, bias, y);                \
    if (is_wino(algo)) {                                                                      \
        if (!fc_wino_serves(g)) return FC_ERR_ARG;                                            \
        if (scanned || (finite_weights_##SFX(g, w) &&                                        \
                        fc_direct_all_finite_##SFX(x, g->N * g->C_in * g->H * g->W)))         \
            return fc_conv2d_fwd_winograd_##SFX(g, wino_tile_of(algo), x, w, bias, y);  \
        algo = FC_ALGO_DIRECT;                                                                \
    }                                                                                         \
    if (algo == FC_ALGO_IM2COL && !scanned && !finite_weights_##SFX(g, w))                   \
        algo = FC_ALGO_DIRECT;                                                                \
    return algo == FC_ALGO_IM2COL ? fc_conv2d_fwd_im2col_##SFX(g, x, w, bias, y)              \
                                  : fc_conv2d_fwd_direct_##SFX(g, x, w, bias, y);             \
}                                                                                             \
fc_status fc_conv2d_backward_data_scanned_##SFX(const fc_conv_geom *g, fc_conv_algo algo,     \
                                                const T *gy, const T *w, T *gx, int scanned)  \
{                                                                                             \
    if (algo == FC_ALGO_AUTO) algo = fc_conv2d_choose_algo(g, 1, (int)sizeof(T));             \
    if (algo == FC_ALGO_WINOGRAD_PHASES)                                                      \
        return fc_conv2d_bwd_data_phases_##SFX(g, FC_ALGO_WINOGRAD, gy, w, gx);               \
    if (is_wino(algo)) {                                                                      \
        if (!fc_wino_serves(g)) return FC_ERR_ARG;                                            \
        if (scanned || (finite_weights_##SFX(g, w) &&                                        \
                        fc_direct_all_finite_##SFX(gy, g->N * g->C_out * g->H_out * g->W_out))) \
            return fc_conv2d_bwd_data_winograd_##SFX(g, wino_tile_of(algo), gy, w, gx); \
        algo = FC_ALGO_DIRECT;                                                                \
    }                                                                                         \
    if (algo == FC_ALGO_IM2COL && !scanned && !finite_weights_##SFX(g, w))                   \
        algo = FC_ALGO_DIRECT;                                                                \
    return algo == FC_ALGO_IM2COL ? fc_conv2d_bwd_data_im2col_##SFX(g, gy, w, gx)             \
                                  : fc_conv2d_bwd_data_direct_##SFX(g, gy, w, gx);            \
}                                                                                             \
fc_status fc_conv2d_backward_weight_scanned_##SFX(const fc_conv_geom *g, fc_conv_algo algo,   \
                                                  const T *gy, const T *x, T *gw, T *gb,      \
                                                  int scanned)                                \
{                                                                                             \
    if (algo == FC_ALGO_AUTO) algo = fc_conv2d_choose_algo(g, 2, (int)sizeof(T));             \
    if (algo == FC_ALGO_WINOGRAD_PHASES)                                                      \
        return gw ? fc_conv2d_bwd_weight_phases_##SFX(g, FC_ALGO_WINOGRAD, gy, x, gw, gb)     \
                  : fc_conv2d_bwd_weight_im2col_##SFX(g, gy, x, NULL, gb);                    \
    if (is_wino(algo)) {                                                                      \
        if (!fc_wino_serves(g)) return FC_ERR_ARG;                                            \
        if (!gw) return gb ? fc_conv2d_grad_bias_##SFX(g, gy, gb) : FC_OK;                    \
        if (scanned || (fc_direct_all_finite_##SFX(gy, g->N * g->C_out * g->H_out * g->W_out) && \
                        fc_direct_all_finite_##SFX(x, g->N * g->C_in * g->H * g->W))) {       \
            fc_status st = fc_conv2d_bwd_weight_winograd_##SFX(g, wino_tile_of(algo), gy, x, gw); \
            if (st != FC_OK || !gb) return st;                                                \
            return fc_conv2d_grad_bias_##SFX(g, gy, gb);                                      \
        }                                                                                     \
        algo = FC_ALGO_DIRECT;                                                                \
    }                                                                                         \
    if (algo == FC_ALGO_IM2COL && !scanned &&                                                 \
        !fc_direct_all_finite_##SFX(gy, g->N * g->C_out * g->H_out * g->W_out))               \
        algo = FC_ALGO_DIRECT;                                                                \
    return algo == FC_ALGO_IM2COL ? fc_conv2d_bwd_weight_im2col_##SFX(g, gy, x, gw, gb)       \
                                  : fc_conv2d_bwd_weight_direct_##SFX(g, gy, x, gw, gb);      \
}                                                                                             \
fc_status fc_conv2d_forward_##SFX(const fc_conv_geom *g, fc_conv_algo algo, const T *x,       \
                                  const T *w, const T *bias, T *y)                            \
{                                                                                             \
    return fc_conv2d_forward_scanned_##SFX(g, algo, x, w, bias, y, 0);                        \
}                                                                                             \
fc_status fc_conv2d_backward_data_##SFX(const fc_conv_geom *g, fc_conv_algo algo,             \
                                        const T *gy, const T *w, T *gx)                       \
{                                                                                             \
    return fc_conv2d_backward_data_scanned_##SFX(g, algo, gy, w, gx, 0);                      \
}                                                                                             \
fc_status fc_conv2d_backward_weight_##SFX(const fc_conv_geom *g, fc_conv_algo algo,           \
                                          const T *gy, const T *x, T *gw, T *gb)              \
{                                                                                             \
    return fc_conv2d_backward_weight_scanned_##SFX(g, algo, gy, x, gw, gb, 0);                \
}

FC_CONV_DISPATCH(f32, float)
FC_CONV_DISPATCH(f64, double)

/* Copies between a strided (N, C, H, W) array and a contiguous one, (image, channel) planes
 * shared among the threads. */
#define FC_CONV_STRIDED(SFX, T)                                                               \
static void restride_##SFX(int64_t N, int64_t C, int64_t H, int64_t W, T *strided,         \
                           const int64_t *ss, T *dense, int to_strided)                       \
{                                                                                             \
    const int64_t P = N * C;                                                                  \
    const int nt = fc_threads_for((double)P * (double)(H * W), 1 << 20);                      \
    int64_t p;                                                                                \
    FC_OMP_FOR(nt, nt > 1)                                                                    \
    for (p = 0; p < P; p++) {                                                                 \
        const int64_t n = p / C, c = p % C;                                                   \
        for (int64_t h = 0; h < H; h++) {                                                     \
            T *a = strided + n * ss[0] + c * ss[1] + h * ss[2];                               \
            T *b = dense + (p * H + h) * W;                                                   \
            if (to_strided) memcpy(a, b, (size_t)W * sizeof(T));                              \
            else memcpy(b, a, (size_t)W * sizeof(T));                                         \
        }                                                                                     \
    }                                                                                         \
}                                                                                             \
fc_status fc_conv2d_forward_strided_##SFX(const fc_conv_geom *g, fc_conv_algo algo,         \
                                          const T *x, const int64_t xs[3], const T *w,      \
                                          const T *bias, T *y, const int64_t ys[3])         \
{                                                                                             \
    if (g->N == 0) return FC_OK;                                                              \
    if (algo == FC_ALGO_AUTO) algo = fc_conv2d_choose_algo(g, 0, (int)sizeof(T));             \
    const int x_dense = xs[2] == g->W && xs[1] == g->H * g->W && xs[0] == g->C_in * xs[1];    \
    const int y_dense = ys[2] == g->W_out && ys[1] == g->H_out * g->W_out &&                  \
                        ys[0] == g->C_out * ys[1];                                            \
    if (x_dense && y_dense) return fc_conv2d_forward_##SFX(g, algo, x, w, bias, y);          \
    if (algo == FC_ALGO_DIRECT && finite_weights_##SFX(g, w))                                 \
        return fc_conv2d_fwd_direct_strided_##SFX(g, x, xs, w, bias, y, ys);                  \
    /* Every other algorithm reads and writes whole planes: run it on dense copies. */        \
    T *xc = NULL, *yc = NULL;                                                                 \
    if (!x_dense) {                                                                           \
        xc = (T *)fc_malloc((size_t)(g->N * g->C_in * g->H * g->W) * sizeof(T));             \
        if (!xc) return FC_ERR_NOMEM;                                                         \
        restride_##SFX(g->N, g->C_in, g->H, g->W, (T *)x, xs, xc, 0);   /* reads x */      \
    }                                                                                         \
    if (!y_dense) {                                                                           \
        yc = (T *)fc_malloc((size_t)(g->N * g->C_out * g->H_out * g->W_out) * sizeof(T));    \
        if (!yc) {                                                                            \
            fc_free(xc);                                                                      \
            return FC_ERR_NOMEM;                                                              \
        }                                                                                     \
    }                                                                                         \
    fc_status st = fc_conv2d_forward_##SFX(g, algo, xc ? xc : x, w, bias, yc ? yc : y);     \
    if (st == FC_OK && yc)                                                                    \
        restride_##SFX(g->N, g->C_out, g->H_out, g->W_out, y, ys, yc, 1);                       \
    fc_free(xc);                                                                              \
    fc_free(yc);                                                                              \
    return st;                                                                                \
}

FC_CONV_STRIDED(f32, float)
FC_CONV_STRIDED(f64, double)
