/* The avx2 tier (AVX2 + FMA, 16 ymm registers): every kernel of its own (csrc/tier.h). */
#include "tier.h"

FC_GEMM_UKERNEL_DECL(f32, float, 6x16, avx2)
FC_GEMM_UKERNEL_DECL(f64, double, 6x8, avx2)
FC_GEMM_PACKT_DECL(f32, float, 16, avx2)
FC_GEMM_PACKT_DECL(f64, double, 8, avx2)
FC_GEMM_PACKA_DECL(f32, float, 6, avx2)
FC_GEMM_PACKA_DECL(f64, double, 6, avx2)
FC_GEMMX_UKERNEL_DECL(f32, float, 6x16, avx2)
FC_GEMMX_UKERNEL_DECL(f64, double, 6x8, avx2)
FC_GEMMR_UKERNEL_DECL(f32, float, 6x16, avx2)
FC_GEMMR_UKERNEL_DECL(f64, double, 6x8, avx2)
FC_WINO_DECL_ALL(avx2)
#define FC_DCONV_ISA avx2
FC_DCONV_SHAPES(FC_DCONV_TAP_DECL_BOTH)
FC_DCONV_DECLARE(avx2)
FC_POOL_UKERNELS(f32, float, avx2)
FC_POOL_UKERNELS(f64, double, avx2)
void fc_pool_fence__avx2(void);
double fc_f32_fma_probe_12x8__avx2(int64_t iters);   /* 12 * 8 * 2 flops / iteration */
double fc_f64_fma_probe_12x4__avx2(int64_t iters);   /* 12 * 4 * 2 flops / iteration */

void fc_tier_setup__avx2(fc_tier *t)
{
    t->vec_bytes = 32;
    t->nregs = 16;
    t->gemm_f32 = (fc_gemm_desc_f32){"f32_gemm_6x16__avx2", 6, 16, 144, 256, 512,
                                     fc_f32_gemm_6x16__avx2, fc_f32_gemm_packt_16__avx2,
                                     fc_f32_gemm_packa_6__avx2, fc_f32_gemmx_6x16__avx2,
                                     fc_f32_gemmr_6x16__avx2};
    t->gemm_f64 = (fc_gemm_desc_f64){"f64_gemm_6x8__avx2", 6, 8, 72, 256, 256,
                                     fc_f64_gemm_6x8__avx2, fc_f64_gemm_packt_8__avx2,
                                     fc_f64_gemm_packa_6__avx2, fc_f64_gemmx_6x8__avx2,
                                     fc_f64_gemmr_6x8__avx2};
    t->dconv_f32.lanes = 8;
    t->dconv_f64.lanes = 4;
    fc_tier *const fc_setup_tier = t;
    FC_DCONV_SHAPES(FC_DCONV_FILL_TAP_BOTH)
    FC_DCONV_FILL_GW(t->dconv_f32, f32, avx2);
    FC_DCONV_FILL_GW(t->dconv_f64, f64, avx2);
    FC_WINO_FILL(t, avx2);
    FC_POOL_FILL(t->pool_f32, f32, avx2);
    FC_POOL_FILL(t->pool_f64, f64, avx2);
    t->probe_f32 = (fc_probe_desc){fc_f32_fma_probe_12x8__avx2, 12.0 * 8 * 2};
    t->probe_f64 = (fc_probe_desc){fc_f64_fma_probe_12x4__avx2, 12.0 * 4 * 2};
}
