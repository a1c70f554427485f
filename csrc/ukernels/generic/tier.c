/* The generic tier: portable C, the root every other tier starts from (csrc/tier.h). */
#include "tier.h"
#include "conv/conv_internal.h"
#include "ukernels/generic/pool_generic.h"

FC_GEMM_UKERNEL_DECL(f32, float, 4x16, generic)
FC_GEMM_UKERNEL_DECL(f64, double, 4x8, generic)
FC_GEMM_PACKT_DECL(f32, float, 16, generic)
FC_GEMM_PACKT_DECL(f64, double, 8, generic)
FC_GEMM_PACKA_DECL(f32, float, 4, generic)
FC_GEMM_PACKA_DECL(f64, double, 4, generic)
FC_GEMMX_UKERNEL_DECL(f32, float, 4x16, generic)
FC_GEMMX_UKERNEL_DECL(f64, double, 4x8, generic)
FC_GEMMR_UKERNEL_DECL(f32, float, 4x16, generic)
FC_GEMMR_UKERNEL_DECL(f64, double, 4x8, generic)
FC_WINO_DECL_ALL(generic)
#define FC_DCONV_ISA generic
FC_DCONV_SHAPES(FC_DCONV_TAP_DECL_BOTH)
FC_DCONV_DECLARE(generic)
double fc_f32_fma_probe_48__generic(int64_t iters);   /* 48 * 2 flops / iteration */
double fc_f64_fma_probe_24__generic(int64_t iters);   /* 24 * 2 flops / iteration */

void fc_tier_setup__generic(fc_tier *t)
{
    t->vec_bytes = 16;   /* what the compiler may use for the portable loops (SSE2 on x86-64) */
    t->nregs = 16;
    t->direct_band_bytes = 128 << 10;
    t->direct_l1_weights = 16 << 10;
    t->par_min_direct_flops = 1e6;
    t->par_min_im2col_flops = 4e6;
    t->par_min_pool_elems = 32768;
    /* Blocking, in elements.  KC: an MR x KC and a KC x NR panel together use about half of
     * a 32 KiB L1d; MC x KC of A about a third of a 512 KiB L2; NC x KC of B fits in L2
     * next to it (for conv, B is the im2col panel, packed per thread). */
    t->gemm_f32 = (fc_gemm_desc_f32){"f32_gemm_4x16__generic", 4, 16, 128, 256, 512,
                                     fc_f32_gemm_4x16__generic, fc_f32_gemm_packt_16__generic,
                                     fc_f32_gemm_packa_4__generic, fc_f32_gemmx_4x16__generic,
                                     fc_f32_gemmr_4x16__generic};
    t->gemm_f64 = (fc_gemm_desc_f64){"f64_gemm_4x8__generic", 4, 8, 64, 256, 256,
                                     fc_f64_gemm_4x8__generic, fc_f64_gemm_packt_8__generic,
                                     fc_f64_gemm_packa_4__generic, fc_f64_gemmx_4x8__generic,
                                     fc_f64_gemmr_4x8__generic};
    /* the portable tap kernels count their tiles in 8 (f32) / 4 (f64) lanes */
    t->dconv_f32.lanes = 8;
    t->dconv_f64.lanes = 4;
    fc_tier *const fc_setup_tier = t;
    FC_DCONV_SHAPES(FC_DCONV_FILL_TAP_BOTH)
    FC_DCONV_FILL_GW(t->dconv_f32, f32, generic);
    FC_DCONV_FILL_GW(t->dconv_f64, f64, generic);
    FC_WINO_FILL(t, generic);
    FC_POOL_FILL(t->pool_f32, f32, generic);
    FC_POOL_FILL(t->pool_f64, f64, generic);
    t->probe_f32 = (fc_probe_desc){fc_f32_fma_probe_48__generic, 48.0 * 2};
    t->probe_f64 = (fc_probe_desc){fc_f64_fma_probe_24__generic, 24.0 * 2};
    t->choose_algo = fc_conv2d_choose_algo_16reg;
}
