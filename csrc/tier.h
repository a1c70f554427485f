/*
 * Instruction-set tiers: one descriptor per tier holding every micro-kernel the drivers call
 * and the data that goes with them (vector width, registers, blocking, cache budgets, the
 * 'auto' algorithm rule).  In the spirit of ONNX Runtime's MLAS platform table and BLIS's
 * contexts: the drivers (gemm/, conv/, pool/, probe/) read only fc_tier_current() and never
 * name an instruction set.
 *
 * The tiers are the lines of csrc/tiers.h, parent before child.  A tier's descriptor starts
 * as a copy of its parent's and its folder's setup function, fc_tier_setup__<name>() in
 * csrc/ukernels/<name>/tier.c, overrides what the tier has.  Setup functions are compiled
 * with the tier's flags, so they only run once the CPU is known to have the tier.
 */
#ifndef FC_TIER_H
#define FC_TIER_H
#include <stdint.h>
#include "fastconv.h"
#include "gemm/gemm.h"
#include "conv/direct_ukernels.h"
#include "pool/pool_internal.h"

/* The widest vector of any tier, in bytes: sizes the drivers' stack buffers. */
#define FC_VEC_MAX_BYTES 64

/* CPU capabilities (cpuid, and for vector registers the OS's XSAVE state in XCR0). */
enum {
    FC_CAP_AVX2 = 1 << 0,      /* AVX2, with the OS saving ymm state */
    FC_CAP_FMA = 1 << 1,
    FC_CAP_AVX512F = 1 << 2,   /* AVX-512 foundation, with the OS saving zmm and k state */
    FC_CAP_AVX512BW = 1 << 3,
    FC_CAP_AVX512DQ = 1 << 4,
    FC_CAP_AVX512VL = 1 << 5
};

/* A measured-peak probe: fn(iters) runs iters iterations of flops_per_iter flops. */
typedef struct {
    double (*fn)(int64_t iters);
    double flops_per_iter;
} fc_probe_desc;

/* The per-tier 'auto' rule (conv.c has the measured table of the generic/avx2 tiers);
 * allow_wino 0 keeps it to direct/im2col (shapes outside the Winograd error table). */
typedef fc_conv_algo (*fc_conv_choose_fn)(const fc_conv_geom *g, int pass, int itemsize,
                                          int allow_wino);

/* Winograd tile transforms (fastconv_ukernel.h), [0] for F(2x2,3x3), [1] for F(4x4,3x3). */
typedef struct {
    fc_f32_wino_in in[2];
    fc_f32_wino_out out[2];
    fc_f32_wino_wt wt[2];
    fc_f32_wino_gy gy[2];
    fc_f32_wino_gw gw[2];
} fc_wino_desc_f32;
typedef struct {
    fc_f64_wino_in in[2];
    fc_f64_wino_out out[2];
    fc_f64_wino_wt wt[2];
    fc_f64_wino_gy gy[2];
    fc_f64_wino_gw gw[2];
} fc_wino_desc_f64;
#define FC_WINO_FILL(t, ISA)                                                                 \
    do {                                                                                     \
        (t)->wino_f32 = (fc_wino_desc_f32){{fc_f32_wino_in_2__##ISA, fc_f32_wino_in_4__##ISA}, \
                                           {fc_f32_wino_out_2__##ISA,                        \
                                            fc_f32_wino_out_4__##ISA},                       \
                                           {fc_f32_wino_wt_2__##ISA, fc_f32_wino_wt_4__##ISA},    \
                                           {fc_f32_wino_gy_2__##ISA, fc_f32_wino_gy_4__##ISA},    \
                                           {fc_f32_wino_gw_2__##ISA, fc_f32_wino_gw_4__##ISA}};   \
        (t)->wino_f64 = (fc_wino_desc_f64){{fc_f64_wino_in_2__##ISA, fc_f64_wino_in_4__##ISA}, \
                                           {fc_f64_wino_out_2__##ISA,                        \
                                            fc_f64_wino_out_4__##ISA},                       \
                                           {fc_f64_wino_wt_2__##ISA, fc_f64_wino_wt_4__##ISA},    \
                                           {fc_f64_wino_gy_2__##ISA, fc_f64_wino_gy_4__##ISA},    \
                                           {fc_f64_wino_gw_2__##ISA, fc_f64_wino_gw_4__##ISA}};   \
    } while (0)

typedef struct fc_tier {
    const char *name;
    int index, parent;          /* positions in the tier list (the generic tier is its own) */
    uint64_t requires;          /* FC_CAP_* bits that must all be present */
    int vec_bytes;              /* widest vector register */
    int nregs;                  /* vector registers */
    int64_t l1d_bytes, l2_bytes;    /* per core: from the CPU where it reports them */
    int64_t direct_band_bytes;      /* direct conv: input band copy kept in L2 */
    int64_t direct_l1_weights;      /* direct conv: packed weights kept in L1 next to a tile */
    /* Worth-threading thresholds (parallel.h, fc_threads_for): below these a call runs on
     * the calling thread; a parallel region costs tens of microseconds to wake. */
    double par_min_direct_flops;    /* direct conv (and its weight gradient) */
    double par_min_im2col_flops;    /* im2col + GEMM conv */
    double par_min_pool_elems;      /* pooling: input + output elements touched */
    fc_gemm_desc_f32 gemm_f32;
    fc_gemm_desc_f64 gemm_f64;
    fc_dconv_desc_f32 dconv_f32;
    fc_dconv_desc_f64 dconv_f64;
    fc_wino_desc_f32 wino_f32;
    fc_wino_desc_f64 wino_f64;
    fc_pool_uk_f32 pool_f32;
    fc_pool_uk_f64 pool_f64;
    fc_probe_desc probe_f32, probe_f64;
    /* 1 when this tier's float32 FMA probe runs at least 1.5x its parent's on this CPU
     * (measured once when the tiers are built): a 512-bit tier on a core with full-width
     * 512-bit FMA units (Zen 5) rather than two 256-bit halves (Zen 4) */
    int fma_full_rate;
    fc_conv_choose_fn choose_algo;
} fc_tier;

/* The descriptor of the tier in use (never NULL).  Drivers read it once per call. */
const fc_tier *fc_tier_current(void);
/* The descriptor of tier i when it is supported, else NULL. */
const fc_tier *fc_tier_get_desc(int i);

/* The capabilities this CPU and OS have. */
uint64_t fc_cpu_caps(void);

#endif
