/* GEMM layer: kernel selection and blocking per ISA, packers, plain driver. */
#include <stdlib.h>
#include "gemm.h"

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#define FC_X86 1
#endif

/* Blocking, in elements.  KC: an MR x KC and a KC x NR panel together use about half of
 * the 32 KiB L1d; MC x KC of A about a third of the 512 KiB L2; NC x KC of B fits in L2
 * next to it (for conv, B is the im2col panel, packed per thread). */
static const fc_gemm_desc_f32 k_f32_generic = {
    "f32_gemm_4x16__generic", 4, 16, 128, 256, 512,
    fc_f32_gemm_4x16__generic, fc_f32_gemm_packt_16__generic};
static const fc_gemm_desc_f64 k_f64_generic = {
    "f64_gemm_4x8__generic", 4, 8, 64, 256, 256,
    fc_f64_gemm_4x8__generic, fc_f64_gemm_packt_8__generic};
#ifdef FC_X86
static const fc_gemm_desc_f32 k_f32_avx2 = {
    "f32_gemm_6x16__avx2", 6, 16, 144, 256, 512,
    fc_f32_gemm_6x16__avx2, fc_f32_gemm_packt_16__avx2};
static const fc_gemm_desc_f64 k_f64_avx2 = {
    "f64_gemm_6x8__avx2", 6, 8, 72, 256, 256,
    fc_f64_gemm_6x8__avx2, fc_f64_gemm_packt_8__avx2};
#endif

const fc_gemm_desc_f32 *fc_gemm_select_f32(void)
{
    switch (fc_get_isa()) {
#ifdef FC_X86
    case FC_ISA_AVX2: return &k_f32_avx2;
#endif
    default: return &k_f32_generic;
    }
}

const fc_gemm_desc_f64 *fc_gemm_select_f64(void)
{
    switch (fc_get_isa()) {
#ifdef FC_X86
    case FC_ISA_AVX2: return &k_f64_avx2;
#endif
    default: return &k_f64_generic;
    }
}

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
