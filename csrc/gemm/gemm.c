/* GEMM layer: the tier's kernel and blocking, packers, plain driver. */
#include <stdlib.h>
#include <string.h>
#include "gemm.h"
#include "tier.h"

/* Kernel and blocking of the tier in use (csrc/tier.h; each tier's tier.c sets them). */
const fc_gemm_desc_f32 *fc_gemm_select_f32(void) { return &fc_tier_current()->gemm_f32; }
const fc_gemm_desc_f64 *fc_gemm_select_f64(void) { return &fc_tier_current()->gemm_f64; }

#define FC_T float
#define FC_DT f32
#include "gemm_impl.h"
#undef FC_T
#undef FC_DT

#define FC_T double
#define FC_DT f64
#include "gemm_impl.h"
#undef FC_T
#undef FC_DT
