/* The avx512 tier (AVX-512 F/BW/DQ/VL, 32 zmm registers): starts from avx2's descriptor and
 * overrides the GEMM, the direct-conv kernels, the blocking and the probe (csrc/tier.h).
 * Pooling keeps avx2's kernels: they already run at memory speed. */
#include <string.h>
#include "tier.h"
#include "conv/conv_internal.h"
#include "ukernels/avx512/shapes.h"
#include "ukernels/avx512/tier_name.h"

#define FC_X(M, ...) M(__VA_ARGS__)
FC_X(FC_GEMM_UKERNEL_DECL, f32, float, 12x32, FC_512)
FC_X(FC_GEMM_UKERNEL_DECL, f64, double, 12x16, FC_512)
FC_X(FC_GEMM_PACKT_DECL, f32, float, 32, FC_512)
FC_X(FC_GEMM_PACKT_DECL, f64, double, 16, FC_512)
FC_X(FC_GEMM_PACKA_DECL, f32, float, 12, FC_512)
FC_X(FC_GEMM_PACKA_DECL, f64, double, 12, FC_512)
FC_X(FC_GEMMX_UKERNEL_DECL, f32, float, 12x32, FC_512)
FC_X(FC_GEMMX_UKERNEL_DECL, f64, double, 12x16, FC_512)
FC_X(FC_GEMMR_UKERNEL_DECL, f32, float, 12x32, FC_512)
FC_X(FC_GEMMR_UKERNEL_DECL, f64, double, 12x16, FC_512)
#define FC_DCONV_ISA FC_512
FC_DCONV_SHAPES_32(FC_DCONV_TAP_DECL_BOTH)
FC_X(FC_DCONV_GW, f64, double, 4, 3, FC_512) FC_X(FC_DCONV_GW, f64, double, 1, 9, FC_512)
#ifndef FC_512_EMULATED
FC_WINO_DECL_ALL(avx512)
#endif
#ifndef FC_512_EMULATED
double fc_f32_fma_probe_16x16__avx512(int64_t iters);   /* 16 * 16 * 2 flops / iteration */
double fc_f64_fma_probe_16x8__avx512(int64_t iters);    /* 16 * 8 * 2 flops / iteration */
#endif

void FC_512_NAME(fc_tier_setup__)(fc_tier *t)
{
    t->vec_bytes = 64;
    t->nregs = 32;
    /* KC: a 12 x KC panel of A and a KC x NR panel of B in a 48 KiB L1d (f32: 44 KiB);
     * MC x KC of A a sixth of a 1 MiB L2. */
    t->gemm_f32 = (fc_gemm_desc_f32){FC_512_STR(FC_512_NAME(f32_gemm_12x32__)), 12, 32, 168,
                                     256, 512, FC_512_NAME(fc_f32_gemm_12x32__),
                                     FC_512_NAME(fc_f32_gemm_packt_32__),
                                     FC_512_NAME(fc_f32_gemm_packa_12__),
                                     FC_512_NAME(fc_f32_gemmx_12x32__),
                                     FC_512_NAME(fc_f32_gemmr_12x32__)};
    t->gemm_f64 = (fc_gemm_desc_f64){FC_512_STR(FC_512_NAME(f64_gemm_12x16__)), 12, 16, 84,
                                     256, 256, FC_512_NAME(fc_f64_gemm_12x16__),
                                     FC_512_NAME(fc_f64_gemm_packt_16__),
                                     FC_512_NAME(fc_f64_gemm_packa_12__),
                                     FC_512_NAME(fc_f64_gemmx_12x16__),
                                     FC_512_NAME(fc_f64_gemmr_12x16__)};
    /* the tap tables are the tier's own; f32's weight-gradient kernels stay avx2's, whose 12
     * accumulators do more per horizontal sum at 8 lanes (bench --ukernels: 70 vs 62 GFLOP/s) */
    memset(t->dconv_f32.tap, 0, sizeof t->dconv_f32.tap);
    memset(t->dconv_f64.tap, 0, sizeof t->dconv_f64.tap);
    t->dconv_f32.lanes = 16;
    t->dconv_f64.lanes = 8;
    fc_tier *const fc_setup_tier = t;
    FC_DCONV_SHAPES_32(FC_DCONV_FILL_TAP_BOTH)
    FC_DCONV_FILL_GW(t->dconv_f64, f64, FC_512);
    t->choose_algo = fc_conv2d_choose_algo_32reg;
#ifndef FC_512_EMULATED
    /* (an emulating tier keeps its parent's transforms: they are plain C at its width) */
    FC_WINO_FILL(t, avx512);
#endif
#ifndef FC_512_EMULATED
    /* (an emulating tier keeps its parent's probe: its peak is the 256-bit one) */
    t->probe_f32 = (fc_probe_desc){fc_f32_fma_probe_16x16__avx512, 16.0 * 16 * 2};
    t->probe_f64 = (fc_probe_desc){fc_f64_fma_probe_16x8__avx512, 16.0 * 8 * 2};
#endif
}
