/* GEMM layer: the tier's kernel and blocking, packers, plain driver. */
#include <stdlib.h>
#include "gemm.h"
#include "tier.h"

/* Kernel and blocking of the tier in use (csrc/tier.h; each tier's tier.c sets them). */
const fc_gemm_desc_f32 *fc_gemm_select_f32(void) { return &fc_tier_current()->gemm_f32; }
const fc_gemm_desc_f64 *fc_gemm_select_f64(void) { return &fc_tier_current()->gemm_f64; }

void *fc_malloc(size_t bytes)
{
    /* Keep the original pointer just below the aligned block. */
    if (bytes > SIZE_MAX - 64 - sizeof(void *))
        return NULL;
    unsigned char *raw = (unsigned char *)malloc(bytes + 64 + sizeof(void *));
    if (!raw)
        return NULL;
    uintptr_t p = ((uintptr_t)(raw + sizeof(void *)) + 63) & ~(uintptr_t)63;
    ((void **)p)[-1] = raw;
    return (void *)p;
}

void fc_free(void *p)
{
    if (p)
        free(((void **)p)[-1]);
}

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
